r"""Rigorous enclosures: the inverse, log-determinant and log-density of a flow with every digit proven.

A floating result is only as good as its method's stopping rule. Here each number is an :class:`Enclosure`
:math:`[\ell, h]` with exact end points, computed in python-flint ``arb`` ball arithmetic (every operation rounded
outwards; :mod:`flowproof.intervals`), that provably contains the true value, of width at most
:math:`10^{-N}\max(1, |v|)` for the ``dps = N`` asked.

Inverse (:func:`inverse`): the target :math:`y` is enclosed first (an exact decimal such as ``"0.1"`` is not a
binary number, so its enclosure is the exact rational rounded outwards). Layer by layer, from :math:`f_K` down,
the target is an interval :math:`[a, b] \ni z_k`; since :math:`f_k` is increasing,
:math:`f_k^{-1}([a, b]) = [f_k^{-1}(a), f_k^{-1}(b)]`, so each end preimage is enclosed by **interval Newton**

.. math::

    N(X) = m - \frac{f(m) - a}{f'(X)}, \qquad X \leftarrow N(X) \cap X,

with :math:`m` the midpoint of :math:`X` and :math:`f'(X)` an interval enclosure of the layer's
``derivative_expr`` over the whole box (:math:`0 \notin f'(X)`). Every root of :math:`f - a` in :math:`X` lies in
:math:`N(X)` (mean value theorem), and :math:`N(X)` strictly inside :math:`X` proves that :math:`X` holds exactly
one root (existence by the interval Newton theorem; uniqueness since :math:`f' > 0` on :math:`X`). The hull of
the two end enclosures is the next target, so the uncertainty of every intermediate value is carried down to
:math:`x`. Boxes start tiny, around the intermediate values of the plain mp inverse
(:func:`flowproof.inverse.invert_mp`, which only supplies guesses: a wrong guess just costs a wider box), and fall
back on the layer's bracket. The precision starts at :math:`N` digits plus guard bits for the size of :math:`y`,
the parameters and the depth, and is raised until the width is met; the bits used are in the result.

Forward quantities (:func:`log_det`) take an exact :math:`x` (a float is its exact binary value) and enclose
:math:`z_k = f_k(z_{k-1})` as monotone images :math:`[f_k(\ell), f_k(h)]` and
:math:`\sum_k \log f_k'(Z_{k-1})` over those enclosures; :func:`log_prob` encloses
:math:`\log\varphi(X) - \log F'(X)` on the (tiny) certified inverse enclosure :math:`X`.

:func:`certify_invertibility` collects per layer a proven lower bound :math:`f_k' \ge m_k > 0` on all of
:math:`\mathbb{R}` and how it was proven, so :math:`F' \ge \prod_k m_k > 0`.

Precision is explicit: ``flint.ctx.prec`` and mpmath's precision are restored after every call.

>>> import flowproof as fp, mpmath
>>> e = fp.chapter_flow().inverse("0.5", dps=30, certify=True)
>>> mpmath.nstr(e.lo, 30), mpmath.nstr(e.hi, 30)
('1.91974275449665260402246971212', '1.91974275449665260402246971212')
>>> e.width <= 10**-30 * max(1, abs(e.mid)), e.contains("1.9197427544966526")
(True, False)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import mpmath
import numpy as np
import sympy as sp
from flint import arb

from . import intervals
from .exact import exact, show
from .intervals import Interval
from .inverse import check_dps, check_method, digits, invert_mp
from .layers import AffineLayer, Layer, PartialLayer, SineLayer, SinhArcsinhLayer, TanhLayer
from .numeric import layer_functions

__all__ = ["CertificationError", "Enclosure", "InvertibilityCertificate", "LayerBound", "LayerRoot",
           "certify_invertibility", "image", "inverse", "log_det", "log_prob"]

_Z = sp.Symbol("z", real=True)
_LOG2_10 = math.log2(10)
#: How many times the precision is raised before giving up.
MAX_ATTEMPTS = 6
#: Status of a layer root once interval Newton has proven it.
UNIQUE_ROOT = "unique root: N(X) strictly inside X"


class CertificationError(ArithmeticError):
    """An enclosure could not be proven (or not to the width asked) within the precision allowed."""


# -- results ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerRoot:
    r"""How one layer's inverse was enclosed.

    Attributes:
        layer: the layer's position :math:`k` (1-based; layer 1 is applied first, so inverted last).
        target: ``(a, b)``, an enclosure of :math:`z_k` (exact mpf ends).
        root: ``(lo, hi)``, the proven enclosure of :math:`z_{k-1} = f_k^{-1}(z_k)`.
        iterations: interval Newton (and bisection) steps over both end preimages.
        start: where the boxes started (``"box around the mp inverse"`` or ``"layer bracket"``).
        status: the proof, e.g. ``"unique root: N(X) strictly inside X"``.
    """

    layer: int
    target: tuple[mpmath.mpf, mpmath.mpf]
    root: tuple[mpmath.mpf, mpmath.mpf]
    iterations: int
    start: str
    status: str


@dataclass(frozen=True)
class Enclosure:
    r"""A proven enclosure :math:`\ell \le v \le h` of a real number :math:`v`.

    Attributes:
        lo: the exact lower end (an ``mpmath.mpf``, exact whatever mpmath's precision).
        hi: the exact upper end.
        quantity: what is enclosed, e.g. ``"F^-1(0.5)"``.
        dps: the digits asked for: ``width <= 10**-dps * max(1, |mid|)``.
        prec: bits of the ball arithmetic that proved it.
        iterations: interval Newton steps (0 for forward quantities).
        status: how it is proven.
        layers: for an inverse, one :class:`LayerRoot` per layer, in the order they ran (layer K first).

    ``float(e)`` is the midpoint rounded to the nearest double; ``e.contains(v)`` compares exactly (a decimal
    string is its exact decimal, a float its exact binary value).
    """

    lo: mpmath.mpf
    hi: mpmath.mpf
    quantity: str
    dps: int
    prec: int
    iterations: int = 0
    status: str = ""
    layers: tuple[LayerRoot, ...] = ()

    @property
    def mid(self) -> mpmath.mpf:
        """The exact midpoint."""
        return _exact_mpf((_fraction(self.lo) + _fraction(self.hi)) / 2)

    @property
    def width(self) -> mpmath.mpf:
        """The exact width ``hi - lo``."""
        return _exact_mpf(_fraction(self.hi) - _fraction(self.lo))

    @property
    def proven(self) -> bool:
        """Always true for a returned enclosure (a failed proof raises :class:`CertificationError`)."""
        return True

    def contains(self, value: Any) -> bool:
        """Whether ``lo <= value <= hi``, exactly."""
        v = _fraction(value)
        return _fraction(self.lo) <= v <= _fraction(self.hi)

    def __float__(self) -> float:
        return float(self.mid)

    def __repr__(self) -> str:
        n = self.dps + 3
        return (f"Enclosure({self.quantity} in [{mpmath.nstr(self.lo, n)}, {mpmath.nstr(self.hi, n)}], "
                f"width={mpmath.nstr(self.width, 3)}, dps={self.dps}, prec={self.prec})")


# -- exact conversions -----------------------------------------------------------------------------------------
def _fraction(value: Any) -> Fraction:
    if isinstance(value, mpmath.mpf):
        if not mpmath.isfinite(value):
            raise ValueError(f"not a finite number: {value}")
        sign, man, exp, _ = value._mpf_  # (mpf.man_exp drops the sign in mpmath 1.3)
        return (-1) ** sign * Fraction(int(man)) * Fraction(2) ** int(exp)
    if isinstance(value, arb):
        if not value.is_exact() or not value.is_finite():
            raise ValueError(f"not an exact finite point: {value}")
        q = intervals.to_rational(value)
        return Fraction(int(q.p), int(q.q))
    q = exact(value, "value")
    if not q.is_Rational:
        raise ValueError(f"can only compare exact rational values, got {show(q)}")
    return Fraction(int(q.p), int(q.q))


def _exact_mpf(q: Fraction) -> mpmath.mpf:
    """A dyadic rational as an exact mpf (the precision is taken from its size, so nothing rounds)."""
    num, den = q.numerator, q.denominator
    shift = den.bit_length() - 1
    if den != 1 << shift:
        raise ValueError(f"{q} is not a dyadic rational")
    with mpmath.workprec(max(53, num.bit_length() + 1)):
        return mpmath.ldexp(mpmath.mpf(num), -shift)


def _mpf(x: arb) -> mpmath.mpf:
    """An exact finite arb point as an exact mpf."""
    mantissa, exp = x.man_exp()
    man = int(mantissa)
    with mpmath.workprec(max(53, man.bit_length() + 1)):
        return mpmath.ldexp(mpmath.mpf(man), int(exp))


def _ends(box: Interval) -> tuple[mpmath.mpf, mpmath.mpf]:
    return _mpf(box.lo), _mpf(box.hi)


def _scalar(value: Any, name: str) -> sp.Rational:
    """One finite real scalar, read exactly."""
    if isinstance(value, (np.ndarray, list, tuple)) and not (isinstance(value, np.ndarray) and value.ndim == 0):
        raise TypeError(f"{name}: certified enclosures take one scalar (like dps=N), got {type(value).__name__}; "
                        "loop over the points")
    if isinstance(value, np.ndarray):
        value = value[()]
    if isinstance(value, mpmath.mpf) and mpmath.isfinite(value):
        f = _fraction(value)
        return sp.Rational(f.numerator, f.denominator)
    q = exact(value, name)
    if not q.is_Rational:  # e.g. sympy.pi: enclosable, but keep inputs rational so ends are exact
        raise TypeError(f"{name} must be a rational number (int, float, decimal string, Fraction, mpf), got {q}")
    return q


# -- compiled layer functions ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _LayerIntervals:
    f: Callable[[Interval], Interval]
    df: Callable[[Interval], Interval]
    log_df: Callable[[Interval], Interval]
    displacement: sp.Expr


@lru_cache(maxsize=4096)
def _layer_intervals(layer: Layer) -> _LayerIntervals:
    """The layer's :math:`f`, :math:`f'` (its ``derivative_expr``, written without cancellation) and
    :math:`\\log f'` as interval functions (compiled once per layer)."""
    df = layer.derivative_expr(_Z)
    return _LayerIntervals(intervals.compile_expr(layer.expr(_Z), _Z), intervals.compile_expr(df, _Z),
                           intervals.compile_expr(sp.log(df), _Z), layer.displacement_bound())


def _image(fns: _LayerIntervals, box: Interval) -> Interval:
    """:math:`f([\\ell, h]) = [f(\\ell), f(h)]` for increasing :math:`f`, rounded outwards."""
    if box.lo == box.hi:
        return fns.f(box)
    return Interval(fns.f(Interval(box.lo, box.lo)).lo, fns.f(Interval(box.hi, box.hi)).hi)


# -- interval Newton -------------------------------------------------------------------------------------------
def _newton(fns: _LayerIntervals, a: arb, box: Interval, floor: arb) -> tuple[Interval | None, int, bool]:
    r"""Shrink ``box`` around the root of :math:`f = a` (``a`` exact) by interval Newton.

    Returns ``(box, iterations, proven)``; ``box`` is None when :math:`N(X) \cap X` is empty (no root in the box).
    A step that neither proves nor halves the box is replaced by a sign-checked bisection (:math:`f` increasing).
    Stops once proven and the box no longer halves (the rounding floor) or is below ``floor``.
    """
    proven = False
    limit = 4 * intervals.flint.ctx.prec + 64
    for iteration in range(1, limit + 1):
        m = box.split_point()
        fm = fns.f(Interval(m, m)).ball() - a
        slope = fns.df(box)
        if not slope.lo > 0:
            return box, iteration, False  # f' not proven > 0 on the box: give up on it
        q_lo, q_hi = _quotient(fm, slope)
        if not (q_lo.is_finite() and q_hi.is_finite()):
            return box, iteration, False
        lo, hi = intervals._down(m - q_hi), intervals._up(m - q_lo)
        proven = proven or (lo > box.lo and hi < box.hi)
        new_lo = lo if lo > box.lo else box.lo
        new_hi = hi if hi < box.hi else box.hi
        if new_hi < new_lo:
            return None, iteration, False
        width, new_width = box.hi - box.lo, new_hi - new_lo
        new = Interval(new_lo, new_hi)
        if not proven and 2 * new_width > width:  # a slow step: bisect instead (sign of f(m) - a)
            if fm > 0 and new.lo <= m < new.hi:  # f(m) > a: the root is below m
                new = Interval(new.lo, m)
            elif fm < 0 and new.lo < m <= new.hi:
                new = Interval(m, new.hi)
            new_width = new.hi - new.lo
        box = new
        if proven and (2 * new_width > width or new_width <= floor):
            return box, iteration, True
        if not proven and new_width == width:
            return box, iteration, False
    return box, limit, proven


def _quotient(numerator: arb, slope: Interval) -> tuple[arb, arb]:
    r"""Exact ends of an interval holding :math:`\{r / d : r \in \text{numerator}, d \in \text{slope}\}` for
    ``slope > 0`` (end by end: a ball around a wide positive interval would reach 0)."""
    ends = [numerator.lower(), numerator.upper()]
    quotients = [e / d for e in ends for d in (slope.lo, slope.hi) if d.is_finite()]
    if not slope.hi.is_finite():
        quotients.append(arb(0))  # r / d -> 0 as d -> oo
    lo = quotients[0].lower()
    hi = quotients[0].upper()
    for q in quotients[1:]:
        lo = q.lower() if q.lower() < lo else lo
        hi = q.upper() if q.upper() > hi else hi
    return lo, hi


def _solve_end(fns: _LayerIntervals, a: arb, guess: arb | None, fallback: Callable[[], Interval],
               floor: arb) -> tuple[Interval, int, str]:
    """A proven enclosure of :math:`f^{-1}(a)`: boxes around ``guess`` (growing), then the bracket."""
    total = 0
    if guess is not None:
        radius = floor * 2**20
        for _ in range(3):
            box = Interval(intervals._down(guess - radius), intervals._up(guess + radius))
            found, n, proven = _newton(fns, a, box, floor)
            total += n
            if proven and found is not None:
                return found, total, "box around the mp inverse"
            radius *= 2**32
    found, n, proven = _newton(fns, a, fallback(), floor)
    total += n
    if not proven or found is None:
        raise CertificationError(f"interval Newton could not prove a unique root of f(z) = {a} in the layer's "
                                 "bracket")
    return found, total, "layer bracket"


def _fallback(layer: Layer, fns: _LayerIntervals, a: arb) -> Callable[[], Interval]:
    """The bracket of :func:`_bracket`, computed only if the boxes around the guess fail."""
    return lambda: _bracket(layer, fns, a)


def _bracket(layer: Layer, fns: _LayerIntervals, a: arb) -> Interval:
    r"""A box holding :math:`f^{-1}(a)`: :math:`[a - D, a + D]` (rounded outwards) when :math:`D` is finite, else
    the layer's own bracket, widened (interval Newton proves the root is inside, or fails)."""
    if fns.displacement.is_finite:
        d = Interval.of(fns.displacement).hi * (1 + arb(2) ** -20) + arb(2) ** -40
        return Interval(intervals._down(a - d), intervals._up(a + d))
    with mpmath.workprec(intervals.flint.ctx.prec + 20):
        lo, hi = layer.bracket(_mpf(a))
        pad = (hi - lo) * mpmath.ldexp(1, -10) + mpmath.ldexp(1, -40)
        return Interval.of(arb(lo - pad), arb(hi + pad))


# -- precision -------------------------------------------------------------------------------------------------
def _start_bits(dps: int, size: Any, layers: Sequence[Layer]) -> int:
    """``dps`` digits in bits plus guards for the size of the numbers, the parameters and the depth."""
    params = max((digits(float(min(layer.parameter_scale(), 10**300))) for layer in layers), default=0)
    return int(math.ceil((dps + 4 + digits(size) + params) * _LOG2_10)) + 16 + 2 * len(layers).bit_length()


def _tolerance(dps: int, value: arb) -> arb:
    """:math:`10^{-N} \\max(1, |v|)`, rounded down (so meeting it is meeting the claim)."""
    magnitude = abs(value)
    scale = magnitude if magnitude > 1 else arb(1)
    return intervals._down(scale * arb(10) ** (-dps)) if dps > 0 else intervals._down(scale)


def _smaller_abs(box: Interval) -> arb:
    lo, hi = abs(box.lo), abs(box.hi)
    return lo if lo < hi else hi


def _restoring(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` with mpmath's precision restored afterwards (flint's is restored by ``intervals.precision``)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with mpmath.workprec(mpmath.mp.prec):  # saves the precision and puts it back on exit
            return fn(*args, **kwargs)

    return run


# -- the certified inverse -------------------------------------------------------------------------------------
def _inverse_at(layers: Sequence[Layer], y: sp.Rational, bits: int, method: str,
                seed_dps: int) -> tuple[Interval, list[LayerRoot], int]:
    """The certified inverse at ``bits`` (inside ``intervals.precision(bits)``)."""
    target = Interval.of(y)
    guesses: list[arb | None] = [None] * len(layers)
    try:
        seed = invert_mp(layers, Fraction(int(y.p), int(y.q)), seed_dps, method)
        with mpmath.workdps(seed.working_dps):
            z = seed.x
            chain = [z]
            for layer in layers:
                z = layer_functions(layer).f_mp(z)
                chain.append(z)
        guesses = [arb(v) for v in chain[:-1]]
    except (ArithmeticError, ValueError):  # the guesses are only a fast start
        pass
    roots: list[LayerRoot] = []
    iterations = 0
    for k in range(len(layers), 0, -1):
        layer = layers[k - 1]
        fns = _layer_intervals(layer)
        guess = guesses[k - 1]
        ends, steps, starts = [], 0, []
        for a in ((target.lo,) if target.lo == target.hi else (target.lo, target.hi)):
            scale = abs(a) if abs(a) > 1 else arb(1)
            floor = intervals._up(scale * arb(2) ** (-bits + 8))
            box, n, start = _solve_end(fns, a, guess, _fallback(layer, fns, a), floor)
            ends.append(box)
            steps += n
            starts.append(start)
        root = Interval(ends[0].lo, ends[-1].hi)
        status = UNIQUE_ROOT + ("" if len(ends) == 1 else
                                "; f increasing, so f^-1([a, b]) = [f^-1(a), f^-1(b)]")
        roots.append(LayerRoot(k, _ends(target), _ends(root), steps,
                               starts[0] if len(set(starts)) == 1 else " / ".join(starts), status))
        iterations += steps
        target = root
    return target, roots, iterations


@_restoring
def inverse(layers: Sequence[Layer], y: Any, dps: int, method: str = "halley") -> Enclosure:
    r"""A proven enclosure of :math:`F^{-1}(y)`, as narrow as ``dps`` digits ask.

    Its width is at most :math:`10^{-N}\max(1, |x|)` with ``N = dps``.

    ``layers`` is a :class:`flowproof.Flow` or a sequence of layers. ``y`` is one finite scalar read exactly.
    ``method`` is the plain mp inverse's, which only supplies the starting guesses.

    Raises:
        TypeError: ``y`` is an array or not a rational number.
        ValueError: ``y`` is not finite, or ``dps`` is out of range.
        CertificationError: no proof within the precision allowed (the message says which layer).
    """
    dps, method = check_dps(dps), check_method(method)
    layers = list(layers)
    q = _scalar(y, "y")
    bits = _start_bits(dps, abs(q), layers)

    def attempt(bits: int) -> Enclosure | None:
        box, roots, iterations = _inverse_at(layers, q, bits, method, int(bits / _LOG2_10) + 1)
        if not box.hi - box.lo <= _tolerance(dps, _smaller_abs(box)):  # ball comparison: True only if sure
            return None
        return Enclosure(*_ends(box), f"F^-1({show(q)})", dps, bits, iterations,
                         f"interval Newton on each of {len(layers)} layers ({UNIQUE_ROOT}); end preimages carried "
                         "down as intervals", tuple(roots))

    return _with_more_bits(attempt, bits, f"F^-1({show(q)})", dps)


def _with_more_bits(attempt: Callable[[int], Enclosure | None], bits: int, what: str, dps: int) -> Enclosure:
    """``attempt(bits)`` at ``bits`` and then 1.5x more each time, until it returns an enclosure narrow enough.

    ``None`` means too wide; a :class:`CertificationError` (a proof that failed) is retried too, since a proof
    that fails at some bits may hold at more. Raises the last failure after :data:`MAX_ATTEMPTS`."""
    failure: CertificationError | None = None
    for _ in range(MAX_ATTEMPTS):
        with intervals.precision(bits):
            try:
                result = attempt(bits)
            except CertificationError as err:
                failure = err
            else:
                if result is not None:
                    return result
        bits += bits // 2 + 32
    raise CertificationError(f"could not enclose {what} to {dps} digits even at {bits} bits"
                             + (f" ({failure})" if failure else "")) from failure


def image(layers: Sequence[Layer], box: Interval) -> Interval:
    """A proven enclosure of :math:`F(X)` for a box ``X`` (monotone images layer by layer, rounded outwards), at
    the current ``flint.ctx.prec``."""
    for layer in layers:
        box = _image(_layer_intervals(layer), box)
    return box


def _forward(layers: Sequence[Layer], box: Interval) -> tuple[Interval, arb]:
    """The enclosures of :math:`F(X)` and of :math:`\\log F'` over ``box`` (an arb ball)."""
    total = arb(0)
    for layer in layers:
        fns = _layer_intervals(layer)
        total += fns.log_df(box).ball()
        box = _image(fns, box)
    return box, total


@_restoring
def log_det(layers: Sequence[Layer], x: Any, dps: int) -> Enclosure:
    r"""A proven enclosure of :math:`\log F'(x) = \sum_k \log f_k'(z_{k-1})` at the exact ``x``.

    Its width is at most :math:`10^{-N}\max(1, |\log F'(x)|)`; forward enclosures :math:`Z_k = [f_k(\ell), f_k(h)]` and
    :math:`\log f_k'` of the layer's ``derivative_expr`` enclosed over :math:`Z_{k-1}`."""
    dps = check_dps(dps)
    layers = list(layers)
    q = _scalar(x, "x")
    bits = _start_bits(dps, abs(q) + float(min(_displacement(layers), 10**300)), layers)

    def attempt(bits: int) -> Enclosure | None:
        _, total = _forward(layers, Interval.of(q))
        box = Interval.of(total)
        if not box.hi - box.lo <= _tolerance(dps, _smaller_abs(box)):  # ball comparison: True only if sure
            return None
        return Enclosure(*_ends(box), f"log F'({show(q)})", dps, bits, 0,
                         "ball arithmetic: z_k as monotone images [f_k(lo), f_k(hi)], sum of log f_k' enclosed over "
                         "them")

    return _with_more_bits(attempt, bits, f"log F'({show(q)})", dps)


@_restoring
def log_prob(layers: Sequence[Layer], y: Any, dps: int, method: str = "halley") -> Enclosure:
    r"""A proven enclosure of :math:`\log p_Y(y) = \log\varphi(x) - \log F'(x)` at :math:`x = F^{-1}(y)`.

    Its width is at most :math:`10^{-N}\max(1, |\log p_Y(y)|)`.

    Both terms are enclosed over the certified inverse enclosure :math:`X` (a box of a few ulps at the working
    precision, so evaluating them separately on :math:`X` costs a small factor of its width, not digits).
    """
    dps, method = check_dps(dps), check_method(method)
    layers = list(layers)
    q = _scalar(y, "y")
    bits = _start_bits(dps, abs(q), layers)
    size = abs(q) + _displacement(layers)  # exact; its bit length, not float(q), which overflows past 1e308
    bits += 2 * max(1, int(abs(size.p).bit_length() - int(size.q).bit_length() + 1))

    def attempt(bits: int) -> Enclosure | None:
        x, roots, iterations = _inverse_at(layers, q, bits, method, int(bits / _LOG2_10) + 1)
        ball = x.ball()
        _, total = _forward(layers, x)
        box = Interval.of(-ball * ball / 2 - (2 * arb.pi()).log() / 2 - total)
        if not box.hi - box.lo <= _tolerance(dps, _smaller_abs(box)):  # ball comparison: True only if sure
            return None
        return Enclosure(*_ends(box), f"log p_Y({show(q)})", dps, bits, iterations,
                         "log phi(X) - log F'(X) in ball arithmetic on the certified inverse enclosure X", tuple(roots))

    return _with_more_bits(attempt, bits, f"log p_Y({show(q)})", dps)


def _displacement(layers: Sequence[Layer]) -> sp.Expr:
    total = sp.Add(*(layer.displacement_bound() for layer in layers))
    return total if total.is_finite else sp.Integer(0)


# -- invertibility ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerBound:
    """A proven lower bound :math:`f_k' \\ge m_k` on all of :math:`\\mathbb{R}`, and how it was proven."""

    layer: int
    description: str
    bound: sp.Expr | None
    proven: bool
    method: str


@dataclass(frozen=True)
class InvertibilityCertificate:
    r""":math:`F' \ge \prod_k m_k > 0` on :math:`\mathbb{R}` (so :math:`F` is strictly increasing), per layer.

    ``proven`` is false when some layer's bound could not be proven; ``reason`` then says which and why.
    """

    layers: tuple[LayerBound, ...]
    bound: sp.Expr | None
    proven: bool
    reason: str = ""

    @property
    def steps(self) -> tuple[str, ...]:
        lines = [f"layer {b.layer}: f' >= {b.bound} ({b.method})" if b.proven else
                 f"layer {b.layer}: NOT proven ({b.method})" for b in self.layers]
        if self.proven:
            lines.append(f"F' = prod_k f_k'(z_(k-1)) >= {self.bound} > 0 on R: F is strictly increasing")
        return tuple(lines)


def _family_bound(layer: Layer) -> tuple[sp.Expr, str] | None:
    """The exact bound of a built-in family from its validity condition, with the argument in words."""
    if isinstance(layer, SineLayer):
        c = sp.Abs(layer.amplitude * layer.frequency)
        return 1 - c, f"exact: f' = 1 + a w cos(w z + phi) >= 1 - |a w| and |a w| = {show(c)} < 1"
    if isinstance(layer, TanhLayer):
        c = layer.amplitude * layer.frequency
        return sp.Min(1, 1 + c), (f"exact: f' = 1 + a w sech^2(w z + b), sech^2 in (0, 1], so f' >= min(1, 1 + a w) "
                                  f"and a w = {show(c)} > -1")
    if isinstance(layer, AffineLayer):
        return layer.scale, f"exact: f' = a = {show(layer.scale)} > 0"
    if isinstance(layer, SinhArcsinhLayer):
        return layer.derivative_lower_bound(), ("exact: cosh bounds with tailweight b = "
                                                f"{show(layer.tailweight)} >= 1 (see SinhArcsinhLayer)")
    return None


def _layer_bound(k: int, layer: Layer, prec: int) -> LayerBound:
    from .expr_layer import ExprLayer

    description = repr(layer)
    if isinstance(layer, PartialLayer):
        inner = _layer_bound(k, layer.layer, prec)
        if not inner.proven or inner.bound is None:
            return LayerBound(k, description, None, False, f"the partial layer's base is not proven: {inner.method}")
        t = layer.t
        return LayerBound(k, description, (1 - t) + t * inner.bound, bool((1 - t) + t * inner.bound > 0),
                          f"g' = (1 - t) + t f' >= (1 - t) + t m with t = {t}; {inner.method}")
    family = _family_bound(layer)
    if family is not None:
        bound, method = family
        return LayerBound(k, description, bound, bool(bound > 0), method)
    if isinstance(layer, ExprLayer):  # proven when it was built: reuse that proof
        return LayerBound(k, description, layer.bound, bool(layer.bound > 0), "; ".join(layer.proof[:1]))
    # any other Layer subclass: prove f' > 0 on R from its expression by interval arithmetic over a covering of R
    df = layer.derivative_expr(_Z)
    try:
        check = intervals.prove_lower_bound(df, _Z, 0, prec=prec)
    except (intervals.DomainError, TypeError) as err:
        return LayerBound(k, description, None, False, f"could not enclose f'(z) = {sp.sstr(df)}: {err}")
    if check.counterexample is not None:
        return LayerBound(k, description, None, False,
                          f"f'(z) = {sp.sstr(df)} <= 0 at z = {check.counterexample[0]} (a counterexample)")
    if not check.proven:
        return LayerBound(k, description, None, False,
                          f"no positive lower bound on f'(z) = {sp.sstr(df)} found on {check.unresolved} (f' may "
                          "tend to 0 there, or interval arithmetic is too coarse)")
    bound = intervals.to_rational(check.lower)
    return LayerBound(k, description, bound, True,
                      f"arb interval arithmetic ({prec} bits) on {check.pieces} pieces covering R")


def certify_invertibility(layers: Sequence[Layer], prec: int = intervals.DEFAULT_PREC) -> InvertibilityCertificate:
    r"""Per layer a proven :math:`f_k' \ge m_k > 0` on :math:`\mathbb{R}`, combined into
    :math:`F' \ge \prod_k m_k > 0`.

    The built-in families from their exact validity conditions (for the sine family :math:`|a w| < 1`, exactly);
    an :class:`flowproof.ExprLayer` by the interval proof it passed when it was built; any other layer by interval
    evaluation of its ``derivative_expr`` over a covering of :math:`\mathbb{R}`, or a refusal saying what could
    not be proven.

    >>> import flowproof as fp
    >>> certify_invertibility(fp.chapter_flow()).bound
    531441/244140625
    """
    bounds = tuple(_layer_bound(k, layer, prec) for k, layer in enumerate(layers, start=1))
    failed = [b for b in bounds if not b.proven]
    if failed:
        return InvertibilityCertificate(bounds, None, False,
                                        "; ".join(f"layer {b.layer} ({b.description}): {b.method}" for b in failed))
    product = sp.Mul(*(b.bound for b in bounds))
    return InvertibilityCertificate(bounds, product, bool(product > 0))
