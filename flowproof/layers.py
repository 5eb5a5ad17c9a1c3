r"""Layers: the contract every invertible 1D layer meets, and the built-in families.

A layer is a strictly increasing bijection :math:`f:\mathbb{R}\to\mathbb{R}` given by an exact SymPy
expression (the single source of truth: numeric code is derived from it in :mod:`flowproof.numeric`). Each layer
also states what makes its inverse cheap and safe:

* ``derivative_lower_bound()``: an exact :math:`m > 0` with :math:`f'(z) \ge m` for all real :math:`z`
  (its validity condition, proven from its parameters); so :math:`|f(z) - f(0)| \ge m |z|` and :math:`f` maps
  :math:`\mathbb{R}` onto :math:`\mathbb{R}`;
* ``displacement_bound()``: an exact :math:`D` with :math:`|f(z) - z| \le D`, or ``sympy.oo`` when
  :math:`f(z) - z` is unbounded (e.g. :math:`a z + b` with :math:`a \ne 1`);
* ``bracket(y)``: an interval that contains :math:`f^{-1}(y)`: :math:`[y - D, y + D]` when :math:`D` is finite,
  else the growth bracket between :math:`0` and :math:`(y - f(0))/m`; a family may override it with a tighter
  one (the affine and sinh-arcsinh families do, from their exact inverses);
* ``inverse_expr(y)``: an optional closed-form :math:`f^{-1}(y)` (``None`` where there is none);
* ``partial(t)``: the layer taken a fraction :math:`t \in [0, 1]` of the way,
  :math:`(1 - t)\,z + t\,f(z)` (fractional depth).

Families here: :class:`SineLayer` (the sine ripple), :class:`AffineLayer`, :class:`TanhLayer` and
:class:`SinhArcsinhLayer`; :class:`flowproof.ExprLayer` takes any SymPy expression and proves the contract.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

import mpmath
import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import log1p

from .exact import exact, show, to_mpf

__all__ = ["AffineLayer", "Layer", "PartialLayer", "SineLayer", "SinhArcsinhLayer", "TanhLayer"]


class Layer(ABC):
    """Contract of an invertible 1D layer (immutable and hashable; compare by parameters)."""

    @abstractmethod
    def expr(self, z: sp.Symbol) -> sp.Expr:
        """The exact expression :math:`f(z)`."""

    @abstractmethod
    def derivative_lower_bound(self) -> sp.Expr:
        """Exact :math:`m > 0` with :math:`f'(z) \\ge m` on all of :math:`\\mathbb{R}`."""

    @abstractmethod
    def displacement_bound(self) -> sp.Expr:
        """Exact :math:`D \\ge 0` with :math:`|f(z) - z| \\le D` on all of :math:`\\mathbb{R}`, or ``sympy.oo``
        if there is none (then ``bracket`` falls back on the growth bound, or the family overrides it)."""

    def parameter_scale(self) -> sp.Expr:
        """The largest absolute value among the layer's numeric parameters (sets guard digits)."""
        values = [abs(getattr(self, f.name)) for f in fields(self)  # type: ignore[arg-type]
                  if isinstance(getattr(self, f.name), sp.Expr)]
        return sp.Max(1, *values)

    def derivative_expr(self, z: sp.Symbol) -> sp.Expr:
        """:math:`f'(z)`; a family may return an equal form that evaluates more accurately in floating point
        (the equality is checked in :mod:`flowproof.verify`)."""
        return sp.diff(self.expr(z), z)

    def bracket(self, y: Any) -> tuple[Any, Any]:
        r"""An interval that contains :math:`f^{-1}(y)` (for floats, numpy arrays and mpf at the current precision).

        :math:`[y - D, y + D]` when :math:`D` is finite. Otherwise, from :math:`f' \ge m` and :math:`c = f(0)`:
        :math:`|y - c| = |f(x) - f(0)| \ge m |x|` with :math:`x` of the sign of :math:`y - c`, so :math:`x` lies
        between 0 and :math:`q = (y - c)/m`. Ends are widened by :math:`2^{-45} (|y| + |c|)/m`.
        """
        d = self.displacement_bound()
        if d.is_finite:  # rounded outwards: in a tail the root can sit at y -+ D itself (the tanh family)
            if isinstance(y, mpmath.mpf):
                width = to_mpf(d)
                width += mpmath.ldexp(abs(y) + width, -mpmath.mp.prec + 2)
                return y - width, y + width
            width = float(d) * (1 + 2.0**-50) + 2.0**-52 * np.abs(y)
            return y - width, y + width
        c, m = _anchor(self)
        if isinstance(y, mpmath.mpf):
            c_mp, m_mp = to_mpf(c), to_mpf(m)
            q = (y - c_mp) / m_mp
            pad = _pad(y, (abs(y) + abs(c_mp)) / m_mp)
            return min(q, 0) - pad, max(q, 0) + pad
        c_f, m_f = _anchor_floats(self)
        with np.errstate(over="ignore"):
            q = (y - c_f) / m_f
            pad = _pad(y, (np.abs(y) + abs(c_f)) / m_f)
        return np.minimum(q, 0.0) - pad, np.maximum(q, 0.0) + pad

    def log_derivative_form(self, z: sp.Symbol) -> sp.Expr | None:
        r"""An optional form of :math:`\log f'(z)` that stays finite where :math:`f'` itself overflows (``None``:
        :func:`flowproof.numeric.log_derivative_expr` chooses one; the contract test checks either against an
        independent derivative)."""
        return None

    def inverse_expr(self, y: sp.Symbol) -> sp.Expr | None:
        """A closed-form :math:`f^{-1}(y)` as an exact SymPy expression, or ``None`` (then the bracketed root finder
        of :mod:`flowproof.inverse` serves)."""
        return None

    def partial(self, t: sp.Rational) -> Layer:
        """The layer taken a fraction ``t`` of the way: :math:`(1 - t) z + t f(z)`."""
        if t == 1:
            return self
        return PartialLayer(self, t)

    def latex(self, z: sp.Symbol, out: str = "f(z)") -> str:
        """``out = <f(z) in LaTeX>``."""
        return f"{out} = {sp.latex(self.expr(z))}"



@lru_cache(maxsize=4096)
def _displacement_mpf(layer: Layer, prec: int) -> mpmath.mpf:
    with mpmath.workprec(prec):
        return to_mpf(layer.displacement_bound())


@lru_cache(maxsize=4096)
def _anchor(layer: Layer) -> tuple[sp.Expr, sp.Expr]:
    """Exact :math:`(f(0), m)`: the anchor and slope of the growth bracket."""
    z = sp.Symbol("z", real=True)
    return layer.expr(z).xreplace({z: sp.Integer(0)}), layer.derivative_lower_bound()


@lru_cache(maxsize=4096)
def _anchor_floats(layer: Layer) -> tuple[float, float]:
    c, m = _anchor(layer)
    return float(c), float(m)


@dataclass(frozen=True)
class PartialLayer(Layer):
    r"""A layer taken a fraction :math:`t \in [0, 1)` of the way: :math:`g(z) = (1 - t) z + t f(z)`.

    :math:`g' = (1 - t) + t f' \ge (1 - t) + t m > 0` and :math:`|g(z) - z| = t |f(z) - z| \le t D`.
    """

    layer: Layer
    t: sp.Rational

    def __post_init__(self) -> None:
        if not (0 <= self.t <= 1):
            raise ValueError(f"t must lie in [0, 1], got {self.t}")

    def expr(self, z: sp.Symbol) -> sp.Expr:
        return (1 - self.t) * z + self.t * self.layer.expr(z)

    def derivative_lower_bound(self) -> sp.Expr:
        return (1 - self.t) + self.t * self.layer.derivative_lower_bound()

    def displacement_bound(self) -> sp.Expr:
        return sp.Integer(0) if self.t == 0 else self.t * self.layer.displacement_bound()

    def parameter_scale(self) -> sp.Expr:
        return self.layer.parameter_scale()


@dataclass(frozen=True, init=False)
class SineLayer(Layer):
    r"""Sine ripple :math:`f(z) = z + a \sin(w z + \varphi)`.

    .. math::

        f'(z) = 1 + a w \cos(w z + \varphi) = (1 - |a w|) + 2 |a w| \,c^2\!\left(\tfrac{w z + \varphi}{2}\right),
        \qquad \log f'(z) = \log\bigl(1 + a w \cos(w z + \varphi)\bigr),

    with :math:`c = \cos` when :math:`a w \ge 0` and :math:`c = \sin` otherwise (the second form has no
    cancellation near the minimum of :math:`f'`). Validity: :math:`|a w| < 1`, so
    :math:`f' \ge 1 - |a w| > 0` and :math:`f` is strictly increasing; :math:`|f(z) - z| \le |a|`, so
    :math:`f^{-1}(y) \in [y - |a|, y + |a|]`. There is no closed-form inverse: it is found by bracketed
    root finding (:mod:`flowproof.inverse`).

    Parameters are held exactly (see :func:`flowproof.exact.exact`).

    >>> layer = SineLayer("0.32", 2, "0.3")
    >>> layer
    SineLayer(amplitude=8/25, frequency=2, phase=3/10)
    >>> layer.derivative_lower_bound()
    9/25
    >>> SineLayer(amplitude="0.5", frequency=2)
    Traceback (most recent call last):
    ...
    ValueError: SineLayer needs |amplitude * frequency| < 1 so that f' >= 1 - |a w| > 0, got |1/2 * 2| = 1
    """

    amplitude: sp.Expr
    frequency: sp.Expr
    phase: sp.Expr

    def __init__(self, amplitude: Any = "0.32", frequency: Any = 2, phase: Any = 0) -> None:
        a = exact(amplitude, "amplitude")
        w = exact(frequency, "frequency")
        phi = exact(phase, "phase")
        aw = sp.Abs(a * w)
        if not bool(aw < 1):
            raise ValueError(f"SineLayer needs |amplitude * frequency| < 1 so that f' >= 1 - |a w| > 0, "
                             f"got |{show(a)} * {show(w)}| = {show(aw)}")
        object.__setattr__(self, "amplitude", a)
        object.__setattr__(self, "frequency", w)
        object.__setattr__(self, "phase", phi)

    def __repr__(self) -> str:
        return f"SineLayer(amplitude={self.amplitude}, frequency={self.frequency}, phase={self.phase})"

    def expr(self, z: sp.Symbol) -> sp.Expr:
        return z + self.amplitude * sp.sin(self.frequency * z + self.phase)

    def derivative_expr(self, z: sp.Symbol) -> sp.Expr:
        c = self.amplitude * self.frequency
        half = (self.frequency * z + self.phase) / 2
        square = sp.cos(half) ** 2 if c >= 0 else sp.sin(half) ** 2
        return (1 - sp.Abs(c)) + 2 * sp.Abs(c) * square

    def derivative_lower_bound(self) -> sp.Expr:
        return 1 - sp.Abs(self.amplitude * self.frequency)

    def displacement_bound(self) -> sp.Expr:
        return sp.Abs(self.amplitude)

    def partial(self, t: sp.Rational) -> Layer:
        """:math:`(1 - t) z + t f(z) = z + t a \\sin(w z + \\varphi)`: again a sine layer."""
        if not (0 <= t <= 1):
            raise ValueError(f"t must lie in [0, 1], got {t}")
        return SineLayer(t * self.amplitude, self.frequency, self.phase)


def _pad(y: Any, scale: Any) -> Any:
    """A few float64 roundings of ``scale``: generous at any precision, and wide enough that the float64 seed of
    the high-precision root finder (``float(lo) < float(hi)``) lands inside the bracket."""
    if isinstance(y, mpmath.mpf):
        return mpmath.ldexp(scale, -45)
    return 2.0**-45 * scale


@dataclass(frozen=True, init=False)
class AffineLayer(Layer):
    r"""Affine map :math:`f(z) = a z + b`.

    .. math::

        f'(z) = a, \qquad \log f'(z) = \log a, \qquad f^{-1}(y) = \frac{y - b}{a}.

    Validity: :math:`a > 0` (then :math:`f' = a` is its own lower bound). :math:`|f(z) - z| = |(a - 1) z + b|`
    is unbounded unless :math:`a = 1`, so ``displacement_bound()`` is ``oo`` and ``bracket(y)`` is the exact
    inverse widened by a few roundings.

    >>> layer = AffineLayer("1.5", "-0.25")
    >>> layer.expr(sp.Symbol("z")), layer.inverse_expr(sp.Symbol("y"))
    (3*z/2 - 1/4, 2*y/3 + 1/6)
    >>> AffineLayer(0, 1)
    Traceback (most recent call last):
    ...
    ValueError: AffineLayer needs scale > 0 so that f' = a > 0, got 0
    """

    scale: sp.Expr
    shift: sp.Expr

    def __init__(self, scale: Any = 1, shift: Any = 0) -> None:
        a, b = exact(scale, "scale"), exact(shift, "shift")
        if not bool(a > 0):
            raise ValueError(f"AffineLayer needs scale > 0 so that f' = a > 0, got {show(a)}")
        object.__setattr__(self, "scale", a)
        object.__setattr__(self, "shift", b)

    def __repr__(self) -> str:
        return f"AffineLayer(scale={self.scale}, shift={self.shift})"

    def expr(self, z: sp.Symbol) -> sp.Expr:
        return self.scale * z + self.shift

    def derivative_lower_bound(self) -> sp.Expr:
        return self.scale

    def displacement_bound(self) -> sp.Expr:
        return sp.Abs(self.shift) if self.scale == 1 else sp.oo

    def inverse_expr(self, y: sp.Symbol) -> sp.Expr:
        return (y - self.shift) / self.scale

    def bracket(self, y: Any) -> tuple[Any, Any]:
        """The exact inverse :math:`(y - b)/a`, widened by a few roundings of :math:`(|y| + |b|)/a`."""
        if isinstance(y, mpmath.mpf):
            a, b = to_mpf(self.scale), to_mpf(self.shift)
            q, scale = (y - b) / a, (abs(y) + abs(b)) / a
        else:
            a, b = float(self.scale), float(self.shift)
            with np.errstate(over="ignore"):
                q, scale = (y - b) / a, (np.abs(y) + abs(b)) / a
        pad = _pad(y, scale)
        return q - pad, q + pad

    def partial(self, t: sp.Rational) -> Layer:
        """:math:`(1 - t) z + t (a z + b) = (1 - t + t a) z + t b`: again affine."""
        if not (0 <= t <= 1):
            raise ValueError(f"t must lie in [0, 1], got {t}")
        return AffineLayer(1 - t + t * self.scale, t * self.shift)


@dataclass(frozen=True, init=False)
class TanhLayer(Layer):
    r"""Tanh step :math:`f(z) = z + a \tanh(w z + b)`.

    .. math::

        f'(z) = 1 + a w \operatorname{sech}^2 u = (1 + a w) + |a w| \tanh^2 u \quad (a w < 0), \qquad
        \log f'(z) = \log\bigl(1 + a w \operatorname{sech}^2 u\bigr), \qquad u = w z + b,

    the second form without cancellation near the minimum of :math:`f'` when :math:`a w` is close to :math:`-1`.
    Validity: :math:`a w > -1` (:math:`|a w| < 1` is the symmetric case), so
    :math:`f' \ge m = \min(1, 1 + a w) > 0`. :math:`|f(z) - z| \le |a|`, so
    :math:`f^{-1}(y) \in [y - |a|, y + |a|]`; there is no closed-form inverse.

    >>> TanhLayer("0.5", 1).derivative_lower_bound(), TanhLayer("-0.5", 1, "0.2").derivative_lower_bound()
    (1, 1/2)
    >>> TanhLayer(-2, "0.5")
    Traceback (most recent call last):
    ...
    ValueError: TanhLayer needs amplitude * frequency > -1 so that f' >= min(1, 1 + a w) > 0, got -2 * 1/2 = -1
    """

    amplitude: sp.Expr
    frequency: sp.Expr
    shift: sp.Expr

    def __init__(self, amplitude: Any = "0.5", frequency: Any = 1, shift: Any = 0) -> None:
        a, w, b = exact(amplitude, "amplitude"), exact(frequency, "frequency"), exact(shift, "shift")
        if not bool(a * w > -1):
            raise ValueError(f"TanhLayer needs amplitude * frequency > -1 so that f' >= min(1, 1 + a w) > 0, "
                             f"got {show(a)} * {show(w)} = {show(a * w)}")
        object.__setattr__(self, "amplitude", a)
        object.__setattr__(self, "frequency", w)
        object.__setattr__(self, "shift", b)

    def __repr__(self) -> str:
        return f"TanhLayer(amplitude={self.amplitude}, frequency={self.frequency}, shift={self.shift})"

    def expr(self, z: sp.Symbol) -> sp.Expr:
        return z + self.amplitude * sp.tanh(self.frequency * z + self.shift)

    def derivative_expr(self, z: sp.Symbol) -> sp.Expr:
        c = self.amplitude * self.frequency
        u = self.frequency * z + self.shift
        if c >= 0:
            return 1 + c / sp.cosh(u) ** 2
        return (1 + c) - c * sp.tanh(u) ** 2

    def derivative_lower_bound(self) -> sp.Expr:
        return sp.Min(1, 1 + self.amplitude * self.frequency)

    def displacement_bound(self) -> sp.Expr:
        return sp.Abs(self.amplitude)

    def partial(self, t: sp.Rational) -> Layer:
        """:math:`(1 - t) z + t f(z) = z + t a \\tanh(w z + b)`: again a tanh layer."""
        if not (0 <= t <= 1):
            raise ValueError(f"t must lie in [0, 1], got {t}")
        return TanhLayer(t * self.amplitude, self.frequency, self.shift)


@dataclass(frozen=True, init=False)
class SinhArcsinhLayer(Layer):
    r"""Sinh-arcsinh map :math:`f(z) = \sinh(b \operatorname{asinh} z - e)` (tail weight :math:`b`, skew :math:`e`).

    .. math::

        f'(z) = \frac{b \cosh(b u - e)}{\cosh u} = \frac{b \cosh(b \operatorname{asinh} z - e)}{\sqrt{1 + z^2}},
        \qquad \log f'(z) = \log b + \log\cosh(b u - e) - \log\cosh u, \qquad
        f^{-1}(y) = \sinh\!\Bigl(\frac{\operatorname{asinh} y + e}{b}\Bigr),

    with :math:`u = \operatorname{asinh} z`. Validity: :math:`b \ge 1`. For :math:`b = 1`,
    :math:`f' = \cosh e - \tanh(u) \sinh e \ge e^{-|e|}`; for :math:`b > 1`, :math:`\cosh x \ge e^{|x|}/2` and
    :math:`\cosh u \le e^{|u|}` give :math:`f' \ge \frac b2 e^{(b - 1)|u| - |e|} \ge \frac b2 e^{-|e|}`. (For
    :math:`0 < b < 1`, :math:`f` is still an increasing bijection but :math:`f' \to 0` in the tails, so there is no
    positive lower bound :math:`m` as the layer contract requires: such layers are refused.) :math:`f(z) - z` is
    unbounded unless :math:`b = 1, e = 0`, so ``bracket(y)`` is the exact inverse widened by a few roundings.

    >>> layer = SinhArcsinhLayer("1.5", "0.5")
    >>> layer.derivative_lower_bound()
    3*exp(-1/2)/4
    >>> layer.inverse_expr(sp.Symbol("y"))
    sinh(2*asinh(y)/3 + 1/3)
    """

    tailweight: sp.Expr
    skewness: sp.Expr

    def __init__(self, tailweight: Any = 1, skewness: Any = 0) -> None:
        b, e = exact(tailweight, "tailweight"), exact(skewness, "skewness")
        if not bool(b >= 1):
            raise ValueError(f"SinhArcsinhLayer needs tailweight >= 1 so that f' >= m > 0 on all of R, got "
                             f"{show(b)} (for 0 < b < 1, f' -> 0 in the tails: no positive lower bound)")
        object.__setattr__(self, "tailweight", b)
        object.__setattr__(self, "skewness", e)

    def __repr__(self) -> str:
        return f"SinhArcsinhLayer(tailweight={self.tailweight}, skewness={self.skewness})"

    def expr(self, z: sp.Symbol) -> sp.Expr:
        return sp.sinh(self.tailweight * sp.asinh(z) - self.skewness)

    def derivative_lower_bound(self) -> sp.Expr:
        if self.tailweight == 1:
            return sp.exp(-sp.Abs(self.skewness))
        return self.tailweight * sp.exp(-sp.Abs(self.skewness)) / 2

    def displacement_bound(self) -> sp.Expr:
        return sp.Integer(0) if (self.tailweight, self.skewness) == (1, 0) else sp.oo

    def log_derivative_form(self, z: sp.Symbol) -> sp.Expr:
        r""":math:`\log b + \ell(b u - e) - \ell(u)` with :math:`\ell(t) = \log\cosh t = |t| + \operatorname{log1p}
        (e^{-2|t|}) - \log 2`: finite where :math:`\cosh` overflows (:math:`|z| \gtrsim 10^{154}` for :math:`b = 2`)."""
        u = sp.asinh(z)

        def log_cosh(t: sp.Expr) -> sp.Expr:
            return sp.Abs(t) + log1p(sp.exp(-2 * sp.Abs(t))) - sp.log(2)

        return sp.log(self.tailweight) + log_cosh(self.tailweight * u - self.skewness) - log_cosh(u)

    def inverse_expr(self, y: sp.Symbol) -> sp.Expr:
        return sp.sinh((sp.asinh(y) + self.skewness) / self.tailweight)

    def bracket(self, y: Any) -> tuple[Any, Any]:
        r"""The exact inverse :math:`q = \sinh(v)`, :math:`v = (\operatorname{asinh} y + e)/b`, widened by a few
        roundings of :math:`(1 + |q|)(1 + |\operatorname{asinh} y| + |e|)`: an error :math:`\delta` in :math:`v`
        moves :math:`q` by about :math:`\cosh(v)\,\delta \le (1 + |q|)\,\delta`."""
        if isinstance(y, mpmath.mpf):
            b, e = to_mpf(self.tailweight), to_mpf(self.skewness)
            s = mpmath.asinh(y)
            q = mpmath.sinh((s + e) / b)
            scale = (1 + abs(q)) * (1 + abs(s) + abs(e))
        else:
            b, e = float(self.tailweight), float(self.skewness)
            with np.errstate(over="ignore", invalid="ignore"):
                s = np.arcsinh(y)
                q = np.sinh((s + e) / b)
                scale = (1 + np.abs(q)) * (1 + np.abs(s) + abs(e))
        pad = _pad(y, scale)
        return q - pad, q + pad
