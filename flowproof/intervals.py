r"""Rigorous enclosures of SymPy expressions with python-flint ``arb`` arithmetic, and branch and bound.

An :class:`Interval` :math:`[\ell, h]` has exact ``arb`` end points, either of which may be infinite, so a whole
tail :math:`[R, \infty)` is one interval. :func:`enclose` translates a SymPy expression tree (Add, Mul, Pow,
sin, cos, tanh, sinh, cosh, asinh, exp, log, atan, sqrt, erf, Abs, sign, Max, Min; Integer,
Rational, pi and E exactly) into interval operations whose end points are rounded outwards by arb, so

.. math::

    x \in X \implies e(x) \in \operatorname{enclose}(e, X).

An interval that leaves a function's domain (``log`` of a non-positive part, division by exactly zero) raises
:class:`DomainError`. Precision is explicit: every public function takes ``prec`` (bits) and restores
``flint.ctx.prec`` afterwards (:func:`precision`).

:func:`minimize` bounds :math:`\inf_X e` from both sides by best-first bisection (unbounded pieces are split
geometrically, and a piece :math:`[a, \infty)` with :math:`a > 0` is also enclosed through :math:`z = 1/s`,
:math:`s \in [0, 1/a]`, which removes the dependency problem of rational tails); :func:`prove_lower_bound` turns
that into a proof of :math:`e > c` on :math:`X` or a counterexample point where :math:`e \le c`.

>>> import sympy as sp
>>> z = sp.Symbol("z", real=True)
>>> enclose(1 + sp.tanh(z) ** 2, z, Interval.of(0, "inf"))
Interval(1, 2)
>>> prove_lower_bound(1 + 2 * sp.cos(z), z, 0).counterexample is not None
True
"""

from __future__ import annotations

import functools
import heapq
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import flint
import sympy as sp
from flint import arb, fmpq

__all__ = ["DEFAULT_PREC", "BoundCheck", "DomainError", "Interval", "Minimum", "compile_expr", "enclose",
           "minimize", "precision", "prove_lower_bound", "to_rational"]

#: Working precision in bits, unless a caller asks for another.
DEFAULT_PREC = 96


class DomainError(ValueError):
    """An interval reaches outside a function's domain: ``log`` of a part that is not > 0, or division by 0."""


@contextmanager
def precision(bits: int) -> Iterator[None]:
    """Set ``flint.ctx.prec`` to ``bits`` inside the block; always restored (it is global in python-flint)."""
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 2:
        raise ValueError(f"prec must be a whole number of bits >= 2, got {bits!r}")
    old = flint.ctx.prec
    flint.ctx.prec = bits
    try:
        yield
    finally:
        flint.ctx.prec = old


_POS_INF, _NEG_INF = arb.pos_inf(), arb.neg_inf()


def _finite(x: arb) -> bool:
    return bool(x.is_finite())


def _down(ball: arb) -> arb:
    """Exact lower end of a ball (``-inf`` for NaN: unknown is unbounded)."""
    return _NEG_INF if ball.is_nan() else ball.lower()


def _up(ball: arb) -> arb:
    return _POS_INF if ball.is_nan() else ball.upper()


def _point(value: Any, up: bool | None = None) -> arb:
    """An exact arb point from an int, a float, a decimal string, a SymPy number, an arb or ``"inf"``; a value
    that is not exact at the current precision (``"0.1"``, a ball) gives its lower end, its upper end (``up``)
    or its midpoint (``up=None``)."""
    if isinstance(value, str) and value.strip().lstrip("+-").lower() in {"inf", "oo"}:
        return _NEG_INF if value.strip().startswith("-") else _POS_INF
    if isinstance(value, sp.Basic):
        if value in (sp.oo, -sp.oo):
            return _POS_INF if value == sp.oo else _NEG_INF
        value = _constant(value)
    ball = value if isinstance(value, arb) else arb(value)
    if ball.is_exact():
        return ball
    return ball.mid() if up is None else (_up(ball) if up else _down(ball))


@dataclass(frozen=True)
class Interval:
    r"""A closed interval :math:`[\ell, h]` of the extended reals with exact ``arb`` end points."""

    lo: arb
    hi: arb

    def __post_init__(self) -> None:
        if self.lo.is_nan() or self.hi.is_nan() or not self.lo.is_exact() or not self.hi.is_exact():
            raise ValueError(f"interval end points must be exact arb numbers, got {self.lo!r}, {self.hi!r}")
        if self.hi < self.lo:
            raise ValueError(f"empty interval: {self.lo} > {self.hi}")

    @classmethod
    def of(cls, lo: Any, hi: Any | None = None) -> Interval:
        """``Interval.of(1, "inf")``, ``Interval.of(2)`` (a point), ``Interval.of("0.1", "0.2")`` or from an arb
        ball (its enclosure): end points that are not exact are rounded outwards."""
        hi = lo if hi is None else hi
        return cls(_point(lo, up=False), _point(hi, up=True))

    @classmethod
    def whole(cls) -> Interval:
        r""":math:`(-\infty, \infty)`."""
        return cls(_NEG_INF, _POS_INF)

    @property
    def bounded(self) -> bool:
        return _finite(self.lo) and _finite(self.hi)

    def ball(self) -> arb:
        """The smallest arb ball holding the interval (radius ``inf`` if unbounded)."""
        if not self.bounded:
            return arb(0, float("inf"))
        return self.lo.union(self.hi)

    def split_point(self) -> arb:
        """Where to bisect: the midpoint, 0 across an unbounded piece, else geometrically (``2a + 1``)."""
        lo, hi = self.lo, self.hi
        if self.bounded:
            return ((lo + hi) / 2).mid()
        if not _finite(lo) and not _finite(hi) or (not _finite(hi) and lo < 0) or (not _finite(lo) and hi > 0):
            return arb(0)
        return (2 * lo + 1).mid() if _finite(lo) else (2 * hi - 1).mid()

    def __repr__(self) -> str:
        return f"Interval({_show(self.lo)}, {_show(self.hi)})"


def _show(x: arb) -> str:
    if not _finite(x):
        return "inf" if x > 0 else "-inf"
    man, exp = x.man_exp()
    value = sp.Integer(int(man)) * sp.Integer(2) ** int(exp)
    return str(value) if value.is_Integer and abs(value) < 10**12 else str(sp.Float(value, 15))


def to_rational(x: arb) -> sp.Rational:
    """The exact value of an exact, finite arb point as a SymPy Rational."""
    if not x.is_exact() or not _finite(x):
        raise ValueError(f"not an exact finite point: {x}")
    man, exp = x.man_exp()
    return sp.Integer(int(man)) * sp.Integer(2) ** int(exp)


# -- interval operations ---------------------------------------------------------------------------------------
def _add(a: Interval, b: Interval) -> Interval:
    lo = _NEG_INF if not (_finite(a.lo) and _finite(b.lo)) and (a.lo < 0 or b.lo < 0) else None
    hi = _POS_INF if not (_finite(a.hi) and _finite(b.hi)) and (a.hi > 0 or b.hi > 0) else None
    return Interval(lo if lo is not None else _down(a.lo + b.lo), hi if hi is not None else _up(a.hi + b.hi))


def _neg(a: Interval) -> Interval:
    return Interval(-a.hi, -a.lo)


def _product(x: arb, y: arb) -> tuple[arb, arb]:
    """``x * y`` of two end points as (lower, upper), with ``0 * inf = 0`` (interval convention)."""
    if x == 0 or y == 0:
        return arb(0), arb(0)
    if not (_finite(x) and _finite(y)):
        inf = _POS_INF if (x > 0) == (y > 0) else _NEG_INF
        return inf, inf
    p = x * y
    return _down(p), _up(p)


def _key(x: arb) -> tuple[int, int, Fraction]:
    """An exactly ordered key for an arb end point, cheap at any exponent: (sign, signed top exponent, signed
    mantissa in [1/2, 1)). A float key tied at 0 for 1e-445 and 1e-889, which put the wrong piece on top of the
    heap and reported its bound as the minimum."""
    if not _finite(x):
        return (2, 0, Fraction(0)) if x > 0 else (-2, 0, Fraction(0))
    man_exp = (x if x.is_exact() else x.lower()).man_exp()
    man, exp = int(man_exp[0]), int(man_exp[1])
    if man == 0:
        return (0, 0, Fraction(0))
    top = exp + abs(man).bit_length()
    fraction = Fraction(abs(man), 1 << abs(man).bit_length())
    return (1, top, fraction) if man > 0 else (-1, -top, -fraction)


def _min(xs: list[arb]) -> arb:
    out = xs[0]
    for x in xs[1:]:
        out = x if x < out else out
    return out


def _max(xs: list[arb]) -> arb:
    out = xs[0]
    for x in xs[1:]:
        out = x if x > out else out
    return out


def _mul_exact(a: Interval, b: Interval) -> Interval:
    products = [_product(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
    return Interval(_min([p[0] for p in products]), _max([p[1] for p in products]))


def _reciprocal(a: Interval) -> Interval:
    if a.lo == 0 and a.hi == 0:
        raise DomainError("division by zero")
    if a.lo < 0 < a.hi:
        return Interval.whole()

    def inv(x: arb, up: bool) -> arb:
        if not _finite(x):
            return arb(0)
        if x == 0:
            return _POS_INF if up else _NEG_INF
        q = 1 / x
        return _up(q) if up else _down(q)

    if a.lo >= 0:  # [lo, hi] with lo >= 0: [1/hi, 1/lo]
        return Interval(inv(a.hi, False), inv(a.lo, True) if a.lo != 0 else _POS_INF)
    return Interval(inv(a.hi, False) if a.hi != 0 else _NEG_INF, inv(a.lo, True))


def _power_point(x: arb, n: int, up: bool) -> arb:
    if not _finite(x):
        return _POS_INF if (x > 0 or n % 2 == 0) else _NEG_INF
    p = x**n
    return _up(p) if up else _down(p)


def _int_power(a: Interval, n: int) -> Interval:
    if n == 0:
        return Interval.of(1)
    if n < 0:
        return _reciprocal(_int_power(a, -n))
    if n % 2 == 1 or a.lo >= 0:
        return Interval(_power_point(a.lo, n, False), _power_point(a.hi, n, True))
    if a.hi <= 0:
        return Interval(_power_point(a.hi, n, False), _power_point(a.lo, n, True))
    return Interval(arb(0), _max([_power_point(a.lo, n, True), _power_point(a.hi, n, True)]))


#: Increasing functions: (arb method, lowest point of the domain or None, value at -inf, value at +inf).
_MONOTONE: dict[type, tuple[str, Any, Callable[[], arb], Callable[[], arb]]] = {
    sp.exp: ("exp", None, lambda: arb(0), lambda: _POS_INF),
    sp.tanh: ("tanh", None, lambda: arb(-1), lambda: arb(1)),
    sp.atan: ("atan", None, lambda: -arb.pi() / 2, lambda: arb.pi() / 2),
    sp.asinh: ("asinh", None, lambda: _NEG_INF, lambda: _POS_INF),
    sp.sinh: ("sinh", None, lambda: _NEG_INF, lambda: _POS_INF),
    sp.erf: ("erf", None, lambda: arb(-1), lambda: arb(1)),
    sp.log: ("log", "open", lambda: _NEG_INF, lambda: _POS_INF),
}


def _monotone(kind: type, a: Interval) -> Interval:
    method, domain, at_minus, at_plus = _MONOTONE[kind]
    if domain == "open" and not a.lo > 0:
        if a.hi <= 0:
            raise DomainError(f"{method} of an argument <= 0")
        raise DomainError(f"{method} of an interval reaching {_show(a.lo)} <= 0")

    def at(x: arb, up: bool) -> arb:
        if not _finite(x):
            value = at_plus() if x > 0 else at_minus()
        else:
            value = getattr(x, method)()
        return _up(value) if up else _down(value)

    return Interval(at(a.lo, False), at(a.hi, True))


def _sqrt(a: Interval) -> Interval:
    if a.lo < 0:
        raise DomainError(f"sqrt of an interval reaching {_show(a.lo)} < 0")
    hi = _POS_INF if not _finite(a.hi) else _up(a.hi.sqrt())
    return Interval(_down(a.lo.sqrt()), hi)


def _abs(a: Interval) -> Interval:
    if a.lo >= 0:
        return a
    if a.hi <= 0:
        return _neg(a)
    return Interval(arb(0), _max([-a.lo, a.hi]))


def _cosh(a: Interval) -> Interval:
    m = _abs(a)
    hi = _POS_INF if not _finite(m.hi) else _up(m.hi.cosh())
    return Interval(_down(m.lo.cosh()) if _finite(m.lo) else _POS_INF, hi)


def _trig(method: str, a: Interval) -> Interval:
    if not a.bounded or (a.hi - a.lo) > 7:
        return Interval.of(-1, 1)
    value = getattr(a.ball(), method)()
    return Interval(_max([_down(value), arb(-1)]), _min([_up(value), arb(1)]))


def _sign(a: Interval) -> Interval:
    lo = arb(1) if a.lo > 0 else (arb(0) if a.lo == 0 else arb(-1))
    hi = arb(-1) if a.hi < 0 else (arb(0) if a.hi == 0 else arb(1))
    return Interval(lo, hi)


def _pow(base: Interval, exponent: sp.Expr, exponent_fn: Callable[[Interval], Interval] | None) -> Interval:
    if exponent_fn is None and exponent.is_Integer:
        return _int_power(base, int(exponent))
    if exponent_fn is None and exponent == sp.Rational(1, 2):
        return _sqrt(base)
    if exponent_fn is None and exponent == sp.Rational(-1, 2):
        return _reciprocal(_sqrt(base))
    if exponent_fn is None and exponent.is_Rational and exponent.q % 2 == 0:
        return _int_power(_sqrt(_power_root(base, exponent.q // 2)), int(exponent.p))
    # base**e = exp(e log(base)): base must be > 0 (SymPy's power of a negative base is complex)
    e = exponent_fn(base) if exponent_fn is not None else _constant_interval(exponent)
    return _monotone(sp.exp, _mul_exact(e, _monotone(sp.log, base)))


def _power_root(base: Interval, k: int) -> Interval:
    """``base**(1/k)`` for ``base >= 0`` (k odd or even), via exp(log(.)/k) away from 0."""
    if k == 1:
        return base
    if base.lo < 0:
        raise DomainError(f"root of an interval reaching {_show(base.lo)} < 0")
    lo = arb(0) if base.lo == 0 else _down((base.lo.log() / k).exp())
    hi = _POS_INF if not _finite(base.hi) else (arb(0) if base.hi == 0 else _up((base.hi.log() / k).exp()))
    return Interval(lo, hi)


def _constant(value: sp.Expr) -> arb:
    """An exact SymPy number as an arb ball at the current precision."""
    if value.is_Rational:
        return arb(fmpq(int(value.p), int(value.q)))
    if isinstance(value, sp.Float):
        q = sp.Rational(value)
        return arb(fmpq(int(q.p), int(q.q)))
    if value == sp.pi:
        return arb.pi()
    if value == sp.E:
        return arb.const_e()
    raise TypeError(f"cannot enclose the constant {value!r}")


def _constant_interval(value: sp.Expr) -> Interval:
    fn = compile_expr(value, sp.Dummy())
    return fn(Interval.whole())


_FUNCTIONS: dict[type, Callable[[Interval], Interval]] = {
    sp.sin: lambda a: _trig("sin", a),
    sp.cos: lambda a: _trig("cos", a),
    sp.cosh: _cosh,
    sp.Abs: _abs,
    sp.sign: _sign,
    **{kind: functools.partial(_monotone, kind) for kind in _MONOTONE},
}


@lru_cache(maxsize=2048)
def compile_expr(expr: sp.Expr, var: sp.Symbol) -> Callable[[Interval], Interval]:
    """Translate ``expr`` (a SymPy expression in ``var`` only) into a function ``Interval -> Interval``.

    Raises:
        TypeError: for a symbol other than ``var`` or a function with no interval extension here.
    """
    expr = sp.sympify(expr)
    if expr == var:
        return lambda x: x
    if expr.is_number and not expr.has(sp.I):
        if expr.is_Rational or isinstance(expr, sp.Float) or expr in (sp.pi, sp.E):
            return lambda x: Interval.of(_constant(expr))
    if isinstance(expr, sp.Symbol):
        raise TypeError(f"cannot enclose {expr}: it is a free symbol other than {var}; give it a value")
    if expr.is_Add or expr.is_Mul:
        parts = [compile_expr(arg, var) for arg in expr.args]
        op = _add if expr.is_Add else _mul_exact

        def fold(x: Interval) -> Interval:
            out = parts[0](x)
            for part in parts[1:]:
                out = op(out, part(x))
            return out

        return fold
    if expr.is_Pow:
        base_fn = compile_expr(expr.base, var)
        exponent = expr.exp
        exponent_fn = None if exponent.is_Rational else compile_expr(exponent, var)
        if expr.base == sp.E:
            return lambda x: _monotone(sp.exp, exponent_fn(x) if exponent_fn else Interval.of(_constant(exponent)))
        return lambda x: _pow(base_fn(x), exponent, exponent_fn)
    args: tuple[sp.Basic, ...] = expr.args
    if isinstance(expr, (sp.Max, sp.Min)):
        parts = [compile_expr(arg, var) for arg in args]
        pick = _max if isinstance(expr, sp.Max) else _min

        def extreme(x: Interval) -> Interval:
            values = [p(x) for p in parts]
            return Interval(pick([v.lo for v in values]), pick([v.hi for v in values]))

        return extreme
    for kind, fn in _FUNCTIONS.items():
        if isinstance(expr, kind) and len(args) == 1:
            return _composed(fn, compile_expr(args[0], var))
    raise TypeError(f"cannot enclose {sp.sstr(expr)}: no interval extension for {type(expr).__name__} "
                    "(supported: Add, Mul, Pow, sin, cos, tanh, sinh, cosh, asinh, exp, log, atan, sqrt, Abs, "
                    "sign, erf, Max, Min; rational numbers, pi, E)")


def _composed(outer: Callable[[Interval], Interval],
              inner: Callable[[Interval], Interval]) -> Callable[[Interval], Interval]:
    return lambda x: outer(inner(x))


def enclose(expr: sp.Expr, var: sp.Symbol, x: Any, prec: int = DEFAULT_PREC) -> Interval:
    """An interval holding ``expr`` at every point of ``x`` (an :class:`Interval`, an arb ball or a number)."""
    with precision(prec):
        box = x if isinstance(x, Interval) else Interval.of(x)
        return compile_expr(sp.sympify(expr), var)(box)


# -- branch and bound ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Minimum:
    r"""Two-sided bounds on :math:`\inf_X e`: ``lower <= e`` on all of ``X``, and ``e(point) <= upper``.

    Attributes:
        lower: proven lower bound (exact arb point, may be ``-inf``).
        upper: upper end of the enclosure of ``e(point)`` (so :math:`\inf_X e \le` ``upper``).
        point: the best point found.
        settled: the requested tolerance (or the stopping value) was reached.
        weakest: the piece whose enclosure gave ``lower`` when the search stopped.
        pieces: pieces enclosed.
    """

    lower: arb
    upper: arb
    point: arb
    settled: bool
    weakest: Interval
    pieces: int


@lru_cache(maxsize=512)
def _tail_forms(expr: sp.Expr, var: sp.Symbol) -> tuple[Callable[[Interval], Interval] | None, ...]:
    """``expr`` at ``z = 1/s`` and ``z = -1/s`` with fractions combined, compiled (None if not enclosable)."""
    s = sp.Symbol("s", positive=True)
    out: list[Callable[[Interval], Interval] | None] = []
    for sub in (1 / s, -1 / s):
        try:
            out.append(compile_expr(sp.together(expr.xreplace({var: sub})), s))
        except TypeError:
            out.append(None)
    return tuple(out)


def _enclosure(fn: Callable[[Interval], Interval], expr: sp.Expr, var: sp.Symbol, piece: Interval) -> Interval:
    """The enclosure on ``piece``, intersected on a tail piece with the one through ``z = +-1/s``."""
    try:
        out = fn(piece)
    except DomainError:
        out = Interval.whole()
    tail = None
    if not _finite(piece.hi) and _finite(piece.lo) and piece.lo > 0:
        tail = (0, Interval(arb(0), _up(1 / piece.lo)))
    elif not _finite(piece.lo) and _finite(piece.hi) and piece.hi < 0:
        tail = (1, Interval(arb(0), _up(-1 / piece.hi)))
    if tail is not None:
        form = _tail_forms(expr, var)[tail[0]]
        if form is not None:
            try:
                other = form(tail[1])
            except DomainError:
                other = None
            if other is not None and not (other.hi < out.lo or out.hi < other.lo):
                out = Interval(_max([out.lo, other.lo]), _min([out.hi, other.hi]))
    return out


def minimize(expr: sp.Expr, var: sp.Symbol, domain: Interval | None = None, *, rel_tol: float = 2.0**-10,
             abs_tol: float = 0.0, stop_below: Any = None, prove_above: Any = None, max_pieces: int = 4096,
             prec: int = DEFAULT_PREC) -> Minimum:
    r"""Bound :math:`\inf_{x \in X} e(x)` by best-first bisection over ``domain`` (default :math:`\mathbb{R}`).

    Stops when ``upper - lower <= rel_tol * |upper| + abs_tol`` (and ``lower > prove_above``, if given), when a
    point with ``e <= stop_below`` is proven, or after ``max_pieces`` pieces (then ``settled`` is False).

    Raises:
        DomainError: ``e`` is not defined at a sample point (the error names the point).
        TypeError: ``e`` has a part with no interval extension (see :func:`compile_expr`).
    """
    domain = Interval.whole() if domain is None else domain
    expr = sp.sympify(expr)
    with precision(prec):
        fn = compile_expr(expr, var)
        stop = None if stop_below is None else _point(sp.sympify(stop_below))
        above = None if prove_above is None else _point(sp.sympify(prove_above))
        counter = itertools.count()
        best_point, best = arb(0), _POS_INF

        def sample(x: arb) -> None:
            nonlocal best_point, best
            try:
                value = fn(Interval(x, x))
            except DomainError as err:
                raise DomainError(f"{sp.sstr(expr)} is not defined at {var} = {_show(x)}: {err}") from None
            if value.hi < best:
                best_point, best = x, value.hi

        def push(piece: Interval) -> None:
            enclosure = _enclosure(fn, expr, var, piece)
            heapq.heappush(heap, (_key(enclosure.lo), next(counter), piece, enclosure.lo))

        heap: list[tuple[tuple[int, int, Fraction], int, Interval, arb]] = []
        first = domain.split_point() if not domain.bounded else domain.lo
        sample(first if domain.lo <= first <= domain.hi else domain.lo)
        push(domain)
        pieces = 1
        while True:
            _, _, piece, lower = heap[0]
            tolerance = abs_tol + rel_tol * (abs(float(best.mid())) if _finite(best) else float("inf"))
            done = _finite(lower) and _finite(best) and float((best - lower).mid()) <= tolerance
            done = done and (above is None or lower > above)
            stopped = stop is not None and best <= stop
            if done or stopped or pieces >= max_pieces:
                return Minimum(lower, best, best_point, bool(done or stopped), piece, pieces)
            s = piece.split_point()
            if not (piece.lo < s < piece.hi):  # cannot split further at this precision
                return Minimum(lower, best, best_point, False, piece, pieces)
            heapq.heappop(heap)
            sample(s)
            push(Interval(piece.lo, s))
            push(Interval(s, piece.hi))
            pieces += 2


@dataclass(frozen=True)
class BoundCheck:
    r"""The outcome of :func:`prove_lower_bound`: a proof of :math:`e > c` on ``X``, a counterexample, or neither.

    Attributes:
        proven: :math:`e(x) \ge` ``lower`` :math:`> c` for every ``x`` in ``X``.
        lower: the proven lower bound (exact arb point; ``-inf`` when none).
        counterexample: ``(x, value)`` with ``value`` an arb ball, ``value <= c`` proven; else None.
        smallest: ``(x, upper)``: the smallest value seen and where.
        unresolved: the piece that could be settled neither way (when neither proof nor counterexample).
    """

    proven: bool
    lower: arb
    counterexample: tuple[arb, arb] | None
    smallest: tuple[arb, arb]
    unresolved: Interval | None
    pieces: int


def prove_lower_bound(expr: sp.Expr, var: sp.Symbol, bound: Any = 0, domain: Interval | None = None, *,
                      rel_tol: float = 2.0**-10, max_pieces: int = 4096, prec: int = DEFAULT_PREC) -> BoundCheck:
    r"""Prove :math:`e(x) > c` for all :math:`x` in ``domain`` (default :math:`\mathbb{R}`), or find a point where
    :math:`e \le c`. The proven lower bound is also tightened to ``rel_tol`` of the infimum where that is cheap.

    >>> z = sp.Symbol("z", real=True)
    >>> check = prove_lower_bound(1 + z**2, z, 0)
    >>> check.proven, check.lower
    (True, 1.00000000000000)
    """
    with precision(prec):
        c = _point(sp.sympify(bound))
        result = minimize(expr, var, domain, rel_tol=rel_tol, stop_below=c, prove_above=c, max_pieces=max_pieces,
                          prec=prec)
        if result.upper <= c:
            point = result.point
            value = compile_expr(sp.sympify(expr), var)(Interval(point, point)).ball()
            return BoundCheck(False, result.lower, (point, value), (point, result.upper), None, result.pieces)
        proven = result.lower > c
        return BoundCheck(bool(proven), result.lower, None, (result.point, result.upper),
                          None if proven else result.weakest, result.pieces)
