r"""Normalisation proven: the theorem, and a rigorous y-space enclosure of :math:`\int p_Y\,dy` that contains 1.

**Theorem.** Let every layer satisfy :math:`f_k' \ge m_k > 0` on :math:`\mathbb{R}` (proven per layer by
:func:`flowproof.certified.certify_invertibility`) and :math:`|f_k(z) - z| \le D_k`. Then
:math:`F' \ge m = \prod_k m_k > 0` and :math:`|F(x) - x| \le D = \sum_k D_k`, so :math:`F` is a strictly increasing
:math:`C^1` bijection of :math:`\mathbb{R}` with :math:`C^1` inverse :math:`G` (:math:`G' = 1/F'(G) > 0`); by the
change of variables :math:`x = G(y)`, :math:`\int_{\mathbb{R}} p_Y\,dy = \int \varphi(G(y))\,G'(y)\,dy =
\int_{\mathbb{R}} \varphi(x)\,dx = 1`.

**The enclosure** (:func:`integral`) checks the computed density against that theorem, in y-space and with every
error bounded:

* Tails: :math:`G(y) \ge y - D`, so :math:`P(Y > b) = P(X > G(b)) \le \Phi_c(b - D)` and likewise
  :math:`P(Y < a) \le \Phi(a + D)`: :math:`[a, b]` is chosen so these are tiny (a finite :math:`D` is needed;
  a flow whose displacement is unbounded is refused, saying so).
* Panels :math:`[c - h, c + h]` of :math:`[a, b]`: Taylor models. With python-flint's ``arb_series`` (Taylor
  arithmetic on balls), :math:`F`'s series at an enclosure :math:`X \ni G(y)` is composed layer by layer, its
  constant term dropped (:math:`F(G(y)) = y` exactly) and reverted, giving :math:`G`'s series at :math:`y`; then
  :math:`p_Y = \varphi(G)\,G'`. At the centre this encloses the coefficients :math:`p_j(c)`; evaluated at a ball
  :math:`X \supseteq G([c - h, c + h])` it encloses the :math:`n`-th coefficient at every point of the panel, so by
  Taylor's theorem (Lagrange remainder)

  .. math::

      \int_{c-h}^{c+h} p_Y \in \sum_{j < n,\ j \text{ even}} p_j(c) \frac{2h^{j+1}}{j + 1}
      + [-1, 1]\,\sup_{\text{panel}} |p_n| \frac{2 h^{n+1}}{n + 1}.

  Panels whose enclosure is too wide for their share of the tolerance are halved.
* Enclosures of :math:`G` at panel ends and centres are proven by a sign check of :math:`F` (increasing) around
  the float inverse, :math:`F(\tilde x - \delta) \le y \le F(\tilde x + \delta)`, with the certified inverse of
  :mod:`flowproof.certified` as the fallback.

``flint.ctx.prec`` and ``flint.ctx.cap`` are restored afterwards.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import flint
import mpmath
import numpy as np
import sympy as sp
from flint import arb, arb_series

from . import certified, intervals
from .certified import CertificationError, Enclosure, InvertibilityCertificate
from .intervals import Interval
from .layers import Layer

__all__ = ["NormalisationCertificate", "integral", "theorem"]

_Z = sp.Symbol("z", real=True)
#: Taylor order of the panel rule (the remainder term is the ``ORDER``-th coefficient).
ORDER = 16


@dataclass(frozen=True)
class NormalisationCertificate:
    r"""The normalisation theorem for a flow and a proven enclosure of :math:`\int_{\mathbb{R}} p_Y\,dy`.

    Attributes:
        enclosure: the integral over :math:`\mathbb{R}` (core plus ``[0, tail_bound]``).
        core: the integral over ``y_range``.
        y_range: ``(a, b)``, exact.
        tail_bound: an upper bound on the mass outside ``y_range`` (Gaussian tails through :math:`D`).
        displacement: :math:`D = \sum_k D_k`.
        invertibility: the per-layer certificate behind the theorem.
        panels: Taylor-model panels used; ``order`` their Taylor order; ``prec`` the bits.
        theorem: the argument in words.
        seconds: wall time.
    """

    enclosure: Enclosure
    core: Enclosure
    y_range: tuple[Fraction, Fraction]
    tail_bound: mpmath.mpf
    displacement: sp.Expr
    invertibility: InvertibilityCertificate
    panels: int
    order: int
    prec: int
    theorem: tuple[str, ...]
    seconds: float

    @property
    def contains_one(self) -> bool:
        return self.enclosure.contains(1)


def theorem(layers: Sequence[Layer], invertibility: InvertibilityCertificate | None = None) -> tuple[str, ...]:
    """The normalisation argument for ``layers`` in words (empty bounds say what is missing)."""
    cert = certified.certify_invertibility(layers) if invertibility is None else invertibility
    d = sp.Add(*(layer.displacement_bound() for layer in layers))
    steps = list(cert.steps)
    if not cert.proven:
        return (*steps, f"NOT proven: {cert.reason}")
    steps.append(f"|F(x) - x| <= D = sum_k D_k = {d}" if d.is_finite else
                 "F(x) - x is not shown bounded (D = oo): the tail bound below needs a finite D")
    steps += ["F is a strictly increasing C^1 bijection of R (|F(x) - F(0)| >= m |x|), with C^1 inverse G, "
              "G' = 1 / F'(G) > 0",
              "p_Y(y) = phi(G(y)) G'(y) (CDF route: P(Y <= y) = Phi(G(y)))",
              "change of variables x = G(y): integral of p_Y over R = integral of phi over R = 1"]
    return tuple(steps)


# -- Taylor arithmetic on SymPy expressions ------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def _constant_at(value: sp.Expr, prec: int) -> arb:
    return intervals.enclose(value, _Z, 0, prec=prec).ball()


def _constant(value: sp.Expr) -> arb:
    """An exact SymPy number as a ball at the current precision (cached per precision)."""
    return _constant_at(value, flint.ctx.prec)


@lru_cache(maxsize=1024)
def _series_fn(expr: sp.Expr, var: sp.Symbol) -> Callable[[arb_series], Any]:
    """``expr`` as a function of an ``arb_series`` (Taylor arithmetic on balls), or TypeError."""
    if expr == var:
        return lambda s: s
    if expr.is_number:
        return lambda s: _constant(expr)  # a scalar ball: arb_series arithmetic takes it as it is
    if expr.is_Add or expr.is_Mul:
        parts = [_series_fn(arg, var) for arg in expr.args]
        add = expr.is_Add

        def fold(s: arb_series) -> arb_series:
            out = parts[0](s)
            for part in parts[1:]:
                out = out + part(s) if add else out * part(s)
            return out

        return fold
    if expr.is_Pow:
        base = _series_fn(expr.base, var)
        e = expr.exp
        if expr.base == sp.E:
            inner = _series_fn(e, var)
            return lambda s: inner(s).exp()
        if e.is_Integer and e >= 0:
            return lambda s: base(s) ** int(e)
        if e.is_Integer:
            return lambda s: 1 / (base(s) ** int(-e))
        if e == sp.Rational(1, 2):
            return lambda s: base(s).sqrt()
        if e == sp.Rational(-1, 2):
            return lambda s: base(s).rsqrt()
        exponent = _series_fn(e, var)
        return lambda s: (exponent(s) * base(s).log()).exp()
    unary: dict[type, Callable[[Any], Any]] = {
        sp.sin: lambda u: u.sin(), sp.cos: lambda u: u.cos(), sp.exp: lambda u: u.exp(), sp.log: lambda u: u.log(),
        sp.atan: lambda u: u.atan(), sp.erf: lambda u: u.erf(),
        sp.tanh: lambda u: 1 - 2 / ((2 * u).exp() + 1),
        sp.sinh: lambda u: (u.exp() - (-u).exp()) / 2, sp.cosh: lambda u: (u.exp() + (-u).exp()) / 2,
        sp.asinh: lambda u: (u + (u * u + 1).sqrt()).log(),
    }
    fn = unary.get(expr.func)
    if fn is not None and len(expr.args) == 1:
        return _unary(fn, _series_fn(expr.args[0], var))
    raise TypeError(f"no Taylor arithmetic for {sp.sstr(expr)} ({type(expr).__name__}): the panel rule needs an "
                    "analytic layer built from + * ** sin cos exp log atan erf tanh sinh cosh asinh")


def _unary(fn: Callable[[Any], Any], inner: Callable[[arb_series], Any]) -> Callable[[arb_series], Any]:
    return lambda s: fn(inner(s))


@lru_cache(maxsize=4096)
def _layer_series(layer: Layer) -> Callable[[arb_series], Any]:
    return _series_fn(layer.expr(_Z), _Z)


def _density_series(layers: Sequence[Layer], x: arb, length: int) -> list[arb]:
    r"""Enclosures of the Taylor coefficients :math:`p_0, \dots, p_{L-2}` of :math:`p_Y` at every :math:`y` with
    :math:`G(y) \in x` (a ball), from :math:`F`'s series at ``x``, reverted."""
    z = arb_series([x, arb(1)], prec=length)
    for layer in layers:
        z = _layer_series(layer)(z)
    coeffs = z.coeffs() + [arb(0)] * length
    if not coeffs[1] > 0:  # F' enclosed over a wide ball may reach 0: no reversion (the panel is halved)
        return [arb(0, float("inf"))] * (length - 1)
    shifted = arb_series([arb(0), *coeffs[1:length]], prec=length)
    g = shifted.reversion().coeffs() + [arb(0)] * length
    big_g = arb_series([x, *g[1:length]], prec=length)
    p = (-(big_g * big_g) / 2).exp() * big_g.derivative() / (2 * arb.pi()).sqrt()
    return (p.coeffs() + [arb(0)] * length)[: length - 1]


def _forward_ball(layers: Sequence[Layer], x: arb) -> arb:
    """A ball holding :math:`F(x)` (Taylor arithmetic of length 1 is plain ball arithmetic)."""
    z = arb_series([x], prec=1)
    for layer in layers:
        z = _layer_series(layer)(z)
    return z.coeffs()[0] if z.coeffs() else arb(0)


# -- preimages ---------------------------------------------------------------------------------------------------
def _preimages(layers: Sequence[Layer], ys: Sequence[Fraction]) -> list[Interval]:
    r"""Proven enclosures of :math:`G(y)` for exact dyadic ``ys``: around the float inverse, by the sign check
    :math:`F(\tilde x - \delta) \le y \le F(\tilde x + \delta)` (:math:`F` increasing), widening :math:`\delta`;
    the certified inverse where that fails."""
    from .flow import Flow

    flow = Flow(layers)
    approx = np.asarray(flow.inverse(np.array([float(y) for y in ys])), dtype=float)
    out = []
    for y, guess in zip(ys, approx, strict=True):
        target = arb(flint.fmpq(y.numerator, y.denominator))
        found = None
        if math.isfinite(guess):
            centre = arb(float(guess))
            delta = arb(2) ** -48 * (abs(centre) + 1)
            for _ in range(3):
                lo, hi = intervals._down(centre - delta), intervals._up(centre + delta)
                if _forward_ball(layers, lo).upper() <= target.lower() and \
                        _forward_ball(layers, hi).lower() >= target.upper():
                    found = Interval(lo, hi)
                    break
                delta *= 2**12
        if found is None:
            e = certified.inverse(layers, y, 12)
            found = Interval(arb(e.lo), arb(e.hi))
        out.append(found)
    return out


# -- the integral ------------------------------------------------------------------------------------------------
def _tail(upper_end: Fraction, d: arb) -> arb:
    r"""Upper end of :math:`\Phi_c(b - D) = \tfrac12 \operatorname{erfc}((b - D)/\sqrt 2)`."""
    t = arb(flint.fmpq(upper_end.numerator, upper_end.denominator)) - d
    return intervals._up((t / arb(2).sqrt()).erfc() / 2)


def _dyadic(value: float, up: bool, grid: int = 8) -> Fraction:
    scaled = value * grid
    return Fraction(math.ceil(scaled) if up else math.floor(scaled), grid)


def integral(layers: Sequence[Layer], tol: float = 1e-8, prec: int = 80, order: int = ORDER,
             max_panels: int = 20_000) -> NormalisationCertificate:
    r"""A proven enclosure of :math:`\int_{\mathbb{R}} p_Y\,dy` of width at most ``tol``, with the theorem.

    Raises:
        CertificationError: invertibility is not proven, the displacement is unbounded (the tail argument needs
            a finite :math:`D`), a layer has no Taylor arithmetic here, or ``max_panels`` would not suffice.

    >>> import flowproof as fp
    >>> cert = integral(fp.chapter_flow(2))
    >>> cert.contains_one, cert.enclosure.width <= 1e-8
    (True, True)
    """
    start = time.perf_counter()
    layers = list(layers)
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    cert = certified.certify_invertibility(layers)
    if not cert.proven:
        raise CertificationError(f"normalisation needs invertibility, which is not proven: {cert.reason}")
    d_exact = sp.Add(*(layer.displacement_bound() for layer in layers))
    if not d_exact.is_finite:
        raise CertificationError("the Gaussian tail bound P(Y > b) <= Phi_c(b - D) needs a finite displacement "
                                 "bound D = sum_k D_k, and some layer's f(z) - z is not shown bounded")
    for layer in layers:
        try:
            _layer_series(layer)
        except TypeError as err:
            raise CertificationError(f"{layer!r}: {err}") from None
    old_cap = flint.ctx.cap
    try:
        with intervals.precision(prec):
            flint.ctx.cap = order + 2
            d = Interval.of(d_exact).hi
            reach = 1.0
            while math.erfc(reach / math.sqrt(2)) / 2 > tol / 16:
                reach += 0.25
            a = _dyadic(-(reach + float(d_exact)), up=False)
            b = _dyadic(reach + float(d_exact), up=True)
            tail = _tail(b, d) + _tail(-a, d)  # Phi(a + D) = Phi_c(-a - D)
            budget = (tol - float(tail.upper().mid())) * 0.9
            if budget <= 0:
                raise CertificationError(f"the tail bound {tail} alone exceeds tol = {tol}")
            total, panels = _integrate(layers, a, b, budget, order, max_panels)
            core = Interval.of(total)
            whole = Interval(core.lo, intervals._up(core.hi + tail))
            digits = max(1, int(math.floor(-math.log10(tol))))
            status = (f"Taylor models of order {order} on {panels} y-panels ({prec}-bit arb series), Gaussian tails "
                      "through D")
            inside = Enclosure(*certified._ends(core), f"integral of p_Y over [{float(a)}, {float(b)}]", digits, prec,
                               0, status)
            full = Enclosure(*certified._ends(whole), "integral of p_Y over R", digits, prec, 0, status)
            if not whole.hi - whole.lo <= arb(tol):
                raise CertificationError(f"the enclosure {full} is wider than tol = {tol}")
            tail_mpf = certified._mpf(intervals._up(tail))
    finally:
        flint.ctx.cap = old_cap
    return NormalisationCertificate(full, inside, (a, b), tail_mpf, d_exact, cert, panels, order, prec,
                                    theorem(layers, cert), round(time.perf_counter() - start, 3))


def _integrate(layers: Sequence[Layer], a: Fraction, b: Fraction, budget: float, order: int,
               max_panels: int) -> tuple[arb, int]:
    """Sum of the panel enclosures over ``[a, b]``; panels too wide for their share of ``budget`` are halved."""
    length = b - a
    count = int(length * 8)  # a and b are on the grid of eighths: dyadic edges, exact as floats
    edges = [a + Fraction(i, 8) for i in range(count + 1)]
    pending = list(zip(edges[:-1], edges[1:], strict=True))
    total = arb(0)
    done = 0
    while pending:
        if done + len(pending) > max_panels:
            raise CertificationError(f"more than {max_panels} panels would be needed for the tolerance asked")
        points = sorted({p for lo, hi in pending for p in (lo, hi, (lo + hi) / 2)})
        where = dict(zip(points, _preimages(layers, points), strict=True))
        again = []
        for lo, hi in pending:
            value = _panel(layers, lo, hi, where, order)
            share = budget * float((hi - lo) / length)
            if float(value.rad()) * 2 > share and hi - lo > Fraction(1, 2**20):
                mid = (lo + hi) / 2
                again += [(lo, mid), (mid, hi)]
            else:
                total += value
                done += 1
        pending = again
    return total, done


def _panel(layers: Sequence[Layer], lo: Fraction, hi: Fraction, where: dict[Fraction, Interval],
           order: int) -> arb:
    """The Taylor-model enclosure of the integral of :math:`p_Y` over ``[lo, hi]``."""
    centre = (lo + hi) / 2
    h = arb(flint.fmpq((hi - lo).numerator, (hi - lo).denominator)) / 2
    at_centre = _density_series(layers, where[centre].ball(), order + 1)
    over = Interval(where[lo].lo, where[hi].hi).ball()
    remainder = _density_series(layers, over, order + 2)[order]
    value = arb(0)
    for j in range(0, order, 2):
        value += at_centre[j] * 2 * h ** (j + 1) / (j + 1)
    bound = intervals._up(abs(remainder) * 2 * h ** (order + 1) / (order + 1))
    return value + arb(0, bound) if bound.is_finite() else arb(0, float("inf"))
