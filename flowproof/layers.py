r"""Layers: the contract every invertible 1D layer meets, and the sine-ripple family.

A layer is a strictly increasing bijection :math:`f:\mathbb{R}\to\mathbb{R}` given by an exact SymPy
expression (the single source of truth: numeric code is derived from it in :mod:`flowproof.numeric`). Each layer
also states what makes its inverse cheap and safe:

* ``derivative_lower_bound()``: an exact :math:`m > 0` with :math:`f'(z) \ge m` for all real :math:`z`
  (its validity condition, proven from its parameters);
* ``displacement_bound()``: an exact :math:`D` with :math:`|f(z) - z| \le D`, so the root of
  :math:`f(z) = y` lies in ``bracket(y)`` :math:`= [y - D, y + D]`;
* ``partial(t)``: the layer taken a fraction :math:`t \in [0, 1]` of the way,
  :math:`(1 - t)\,z + t\,f(z)` (fractional depth).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import Any

import mpmath
import sympy as sp

from .exact import exact, show, to_mpf

__all__ = ["Layer", "PartialLayer", "SineLayer"]


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
        """Exact :math:`D \\ge 0` with :math:`|f(z) - z| \\le D` on all of :math:`\\mathbb{R}`."""

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
        """Interval :math:`[y - D, y + D]` that contains :math:`f^{-1}(y)` (works for floats, arrays, mpf)."""
        d = self.displacement_bound()
        if isinstance(y, mpmath.mpf):
            width = to_mpf(d)
            return y - width, y + width
        width = float(d) * (1 + 2.0**-50)  # rounded outwards
        return y - width, y + width

    def partial(self, t: sp.Rational) -> Layer:
        """The layer taken a fraction ``t`` of the way: :math:`(1 - t) z + t f(z)`."""
        if t == 1:
            return self
        return PartialLayer(self, t)

    def latex(self, z: sp.Symbol, out: str = "f(z)") -> str:
        """``out = <f(z) in LaTeX>``."""
        return f"{out} = {sp.latex(self.expr(z))}"



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
        return self.t * self.layer.displacement_bound()

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
