r"""A layer from any SymPy expression, admitted only once it is proven to be an increasing bijection of R.

``ExprLayer("z + a*tanh(w*z)", a="0.5", w=1)`` reads the expression (a string is parsed by SymPy with every
decimal literal as its exact decimal; parameters are symbols whose values are read by
:func:`flowproof.exact.exact`), then proves, with arb interval arithmetic over a covering of
:math:`\mathbb{R}` (:mod:`flowproof.intervals`: bisection of a bounded part, geometric pieces and the change of
variable :math:`z = \pm 1/s` for the tails):

* :math:`f'(z) \ge m > 0` for every real :math:`z`, with an exact :math:`m` (rounded down from the proven bound);
  so :math:`|f(z) - f(0)| \ge m |z|`: :math:`f` is strictly increasing and maps :math:`\mathbb{R}` onto
  :math:`\mathbb{R}`;
* :math:`|f(z) - z| \le D` where such a :math:`D` exists and is found (rounded up), else :math:`D = \infty` and
  ``bracket(y)`` uses the growth bound :math:`|f^{-1}(y)| \le |y - f(0)|/m` (:meth:`flowproof.Layer.bracket`).

It refuses anything else with a :class:`ValueError` that gives a counterexample point where :math:`f' \le 0`, or
says what could not be proven. :meth:`ExprLayer.inverse_expr` looks for a closed-form inverse with
:func:`sympy.solve` on first use and keeps a branch only after checking it is real and inverts :math:`f` to 30
digits at points from :math:`-10^6` to :math:`10^6`.

Strings are parsed with :func:`sympy.parse_expr` (which evaluates Python): pass only trusted text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import mpmath
import sympy as sp
from sympy.parsing.sympy_parser import convert_xor, parse_expr, rationalize, standard_transformations

from . import intervals
from .exact import exact, show
from .layers import Layer

__all__ = ["ExprLayer"]

#: Points (exact decimals) at which a closed-form inverse from ``sympy.solve`` must hold before it is kept.
INVERSE_CHECK_POINTS = ("-1e6", "-1000", "-7.5", "-2", "-1", "-0.3", "0", "0.3", "1", "2", "7.5", "1000", "1e6")

_TRANSFORMS = (*standard_transformations, convert_xor, rationalize)


@dataclass(frozen=True, init=False)
class ExprLayer(Layer):
    r"""The layer :math:`f(z)` given by a SymPy expression or a string, proven to satisfy the layer contract.

    Args:
        expression: a string such as ``"z + 0.5*tanh(z)"`` or a SymPy expression in the variable ``var``.
        var: the name of the variable.
        prec: bits of the interval arithmetic of the proofs.
        **parameters: a value for every other symbol (int, decimal string, Fraction, ...; read exactly).

    Raises:
        TypeError: ``expression`` is neither a string nor a SymPy expression, or a parameter is not a number.
        ValueError: the expression does not parse, has a symbol without a value, is not increasing (with a
            counterexample point), or could not be proven increasing on all of R (saying where).

    >>> layer = ExprLayer("z + a*tanh(w*z)", a="0.5", w=1)
    >>> layer.expr(sp.Symbol("z")), layer.derivative_lower_bound(), layer.displacement_bound()
    (z + tanh(z)/2, 1, 1/2)
    >>> ExprLayer("z + z**3").inverse_expr(sp.Symbol("y")) is not None
    True
    >>> ExprLayer("z + 2*sin(z)")
    Traceback (most recent call last):
    ...
    ValueError: z + 2*sin(z) is not increasing: f'(z) = 2*cos(z) + 1 is -0.979985 <= 0 at z = -3 (a counterexample)
    """

    source: sp.Expr
    var: str
    parameters: tuple[tuple[str, sp.Expr], ...]
    function: sp.Expr = field(compare=False, repr=False)
    bound: sp.Expr = field(compare=False, repr=False)
    displacement: sp.Expr = field(compare=False, repr=False)
    proof: tuple[str, ...] = field(compare=False, repr=False)

    def __init__(self, expression: Any, var: str = "z", *, prec: int = intervals.DEFAULT_PREC,
                 **parameters: Any) -> None:
        if not isinstance(var, str) or not var.isidentifier():
            raise TypeError(f"var must be the variable's name as a string such as 'z', got {var!r}")
        symbols = {name: sp.Symbol(name, real=True) for name in (var, *parameters)}
        source = _parse(expression, symbols)
        z = symbols[var]
        by_name = {s.name: s for s in source.free_symbols}
        missing = sorted(set(by_name) - set(symbols))
        if missing:
            raise ValueError(f"the expression {sp.sstr(source)} has symbol(s) {', '.join(missing)} with no value: "
                             f"pass them as parameters (e.g. {missing[0]}=1), or set var (now {var!r})")
        unused = sorted(name for name in parameters if name not in by_name)
        if unused:
            raise ValueError(f"parameter(s) {', '.join(unused)} do not appear in {sp.sstr(source)}")
        source = source.xreplace({s: symbols[s.name] for s in source.free_symbols})
        values = tuple(sorted((name, exact(value, name)) for name, value in parameters.items()))
        f = source.xreplace({symbols[name]: value for name, value in values})
        if f.has(sp.I, sp.zoo, sp.nan, sp.oo):
            raise ValueError(f"{sp.sstr(f)} is not a finite real expression")
        bound, displacement, proof = _prove(f, z, prec)
        for name, value in (("source", source), ("var", var), ("parameters", values), ("function", f),
                            ("bound", bound), ("displacement", displacement), ("proof", proof)):
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        params = "".join(f", {name}={value}" for name, value in self.parameters)
        var = "" if self.var == "z" else f", var={self.var!r}"
        return f"ExprLayer({sp.sstr(self.source)!r}{var}{params})"

    @property
    def symbol(self) -> sp.Symbol:
        return sp.Symbol(self.var, real=True)

    def expr(self, z: sp.Symbol) -> sp.Expr:
        return self.function.xreplace({self.symbol: z})

    def derivative_lower_bound(self) -> sp.Expr:
        return self.bound

    def displacement_bound(self) -> sp.Expr:
        return self.displacement

    def parameter_scale(self) -> sp.Expr:
        """The largest absolute rational constant in :math:`f` (at least 1)."""
        return sp.Max(1, *(abs(q) for q in self.function.atoms(sp.Rational)))

    def inverse_expr(self, y: sp.Symbol) -> sp.Expr | None:
        r"""A closed-form :math:`f^{-1}(y)` from :func:`sympy.solve`, or ``None``.

        A candidate is kept only if, at every point of :data:`INVERSE_CHECK_POINTS`, it evaluates (at 60 digits)
        to a real number :math:`x` with :math:`|f(x) - y| \le 10^{-30} \max(1, |y|)` (``solve`` returns complex
        Cardano branches for :math:`z + z^3`; the real one is kept). Found once per layer (``solve`` can be slow);
        the form may lose digits to cancellation in a tail, so evaluate it with guard digits.
        """
        inverse = _closed_form(self)
        return None if inverse is None else inverse.xreplace({_Y: y})


def _parse(expression: Any, symbols: dict[str, sp.Symbol]) -> sp.Expr:
    if isinstance(expression, str):
        if "__" in expression or any(c in expression for c in ";\n'\"`@[]{}:"):
            raise ValueError(f"the expression {expression!r} has characters a formula does not need (dunder names, "
                             "quotes, brackets, ';', ':'); SymPy evaluates the text as Python, so they are refused")
        try:
            parsed = parse_expr(expression, local_dict=dict(symbols), transformations=_TRANSFORMS)
        except (SyntaxError, TypeError, ValueError, AttributeError, NameError) as err:  # tokenize errors too
            raise ValueError(f"could not parse the expression {expression!r}: {err}") from None
        except Exception as err:  # noqa: BLE001 - SymPy's parser raises many kinds (e.g. TokenError)
            raise ValueError(f"could not parse the expression {expression!r}: {type(err).__name__}: {err}") from None
    elif isinstance(expression, sp.Basic):
        parsed = expression
    else:
        raise TypeError(f"expression must be a string or a SymPy expression, got {type(expression).__name__} "
                        f"{expression!r}")
    if not isinstance(parsed, sp.Expr):
        raise TypeError(f"expression must be a SymPy expression, got {type(parsed).__name__} {parsed!r}")
    return parsed.xreplace({x: exact(x) for x in parsed.atoms(sp.Float)})  # a 53-bit Float as its exact value


def _prove(f: sp.Expr, z: sp.Symbol, prec: int) -> tuple[sp.Expr, sp.Expr, tuple[str, ...]]:
    """``(m, D, steps)``: the proven bounds, or a ValueError saying why not."""
    df = sp.diff(f, z)
    name = sp.sstr(f)
    try:
        check = intervals.prove_lower_bound(df, z, 0, prec=prec)
    except intervals.DomainError as err:
        raise ValueError(f"cannot use {name}: f'(z) = {sp.sstr(df)} is not defined on all of R ({err})") from None
    except TypeError as err:
        raise ValueError(f"cannot prove {name} increasing: {err}") from None
    if check.counterexample is not None:
        x, value = check.counterexample
        raise ValueError(f"{name} is not increasing: f'({z}) = {sp.sstr(df)} is {_number(value)} <= 0 at "
                         f"{z} = {_number(x)} (a counterexample)")
    if not check.proven:
        x, upper = check.smallest
        piece = check.unresolved
        raise ValueError(f"could not prove {name} increasing on all of R: no positive lower bound on f'({z}) = "
                         f"{sp.sstr(df)} was found on {piece} (the smallest value seen is {_number(upper)} at "
                         f"{z} = {_number(x)}; f' may vanish or tend to 0 there, or interval arithmetic is too "
                         "coarse for this form of f')")
    m = _round(intervals.to_rational(check.lower), up=False)
    steps = [f"f'({z}) = {sp.sstr(df)} >= {m} > 0 on R: arb interval arithmetic ({prec} bits) on "
             f"{check.pieces} pieces covering R",
             f"|f(z) - f(0)| >= {m} |z|: f is strictly increasing and maps R onto R"]
    displacement = _displacement(f - z, z, prec)
    steps.append(f"|f(z) - z| <= {displacement}" if displacement.is_finite else
                 "f(z) - z not shown bounded: brackets from the growth bound |f^-1(y)| <= |y - f(0)| / m")
    return m, displacement, tuple(steps)


def _displacement(g: sp.Expr, z: sp.Symbol, prec: int) -> sp.Expr:
    r"""An exact :math:`D \ge \sup |g|` (rounded up), or ``oo`` if none is found."""
    if g == 0:
        return sp.Integer(0)
    bounds = []
    for sign in (1, -1):
        try:
            result = intervals.minimize(sign * g, z, rel_tol=2.0**-8, abs_tol=2.0**-40, max_pieces=600, prec=prec)
        except (intervals.DomainError, TypeError):
            return sp.oo
        if not result.lower.is_finite():
            return sp.oo
        bounds.append(-intervals.to_rational(result.lower))
    return _round(max(0, *bounds), up=True)


def _round(q: sp.Rational, up: bool, digits: int = 6) -> sp.Rational:
    """``q`` rounded to ``digits`` significant decimals, up or down (exact)."""
    if q == 0:
        return sp.Integer(0)
    magnitude = len(str(abs(q.p))) - len(str(q.q))  # floor(log10 |q|) to within 1, at any size (float underflows)
    k = digits - 1 - magnitude
    scaled = q * sp.Integer(10) ** k
    return (sp.ceiling(scaled) if up else sp.floor(scaled)) / sp.Integer(10) ** k


def _number(x: Any) -> str:
    """A point for a message: exact and short where it is modest, else arb's 6 digits (an exponent like
    10^-(10^57) from a far tail must never become an exact Rational)."""
    value = x.mid() if hasattr(x, "mid") else x
    if not value.is_finite():
        return str(value)
    if value == 0 or 1e-12 <= abs(float(value)) <= 1e12:
        return show(sp.Rational(intervals.to_rational(value)))
    return value.str(6, radius=False)


_Y = sp.Symbol("y", real=True)


@lru_cache(maxsize=256)
def _closed_form(layer: ExprLayer) -> sp.Expr | None:
    f, z = layer.function, layer.symbol
    try:
        candidates = sp.solve(sp.Eq(f, _Y), z)
    except Exception:  # noqa: BLE001 - "where SymPy finds one": any failure of solve means none
        return None
    for candidate in candidates if isinstance(candidates, list) else []:
        if isinstance(candidate, sp.Expr) and candidate.free_symbols <= {_Y} and _inverts(f, z, candidate):
            return candidate
    return None


def _inverts(f: sp.Expr, z: sp.Symbol, candidate: sp.Expr) -> bool:
    forward = sp.lambdify(z, f, modules="mpmath")
    inverse = sp.lambdify(_Y, candidate, modules="mpmath")
    with mpmath.workdps(60):
        for text in INVERSE_CHECK_POINTS:
            y = mpmath.mpf(text)
            try:
                x = inverse(y)
                if isinstance(x, mpmath.mpc):
                    if abs(x.imag) > mpmath.mpf(10) ** -40 * max(1, abs(x.real)):
                        return False
                    x = x.real
                x = mpmath.mpf(x)
                if not mpmath.isfinite(x) or abs(forward(x) - y) > mpmath.mpf(10) ** -30 * max(1, abs(y)):
                    return False
            except (ArithmeticError, ValueError, TypeError):
                return False
    return True
