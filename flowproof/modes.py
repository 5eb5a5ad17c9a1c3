r"""Every mode of :math:`p_Y`, found with a certificate that none was missed.

A *mode* is a strict local maximum of :math:`p_Y`. The search works in the base variable :math:`x`. With

.. math::

    L(x) = \log p_X(x) - \log F'(x) = \log p_Y(F(x)), \qquad
    \frac{d}{dy} \log p_Y(y) \Big|_{y = F(x)} = \frac{L'(x)}{F'(x)},

and :math:`F' > 0`, the critical points of :math:`p_Y` are exactly the images :math:`y = F(x)` of the roots of

.. math::

    L'(x) = -x - (\log F')'(x), \qquad
    (\log F')'(x) = \sum_{k=1}^K (\log f_k')'(z_{k-1}) \prod_{j<k} f_j'(z_{j-1}),

with the same signs on either side (a maximum of :math:`L` is a maximum of :math:`p_Y`, since :math:`F` is an
increasing bijection). Each :math:`(\log f_k')'` and :math:`(\log f_k')''` is ``sympy.diff`` of the layer's own
expression, lambdified to numpy (the scan) and to mpmath (the verification), cached per layer.

**Completeness.** From exact per-layer suprema (:func:`layer_bounds`) the flow gets exact bounds
(:func:`flow_bounds`) :math:`|(\log F')'| \le B`, :math:`|L''| \le M`, :math:`|L'''| \le M_3` on all of
:math:`\mathbb{R}`. For :math:`|x| > B`, :math:`|L'(x)| \ge |x| - B > 0`: every critical point lies in
:math:`[-B, B]`. A grid over a range containing :math:`[-B, B]` only seeds intervals; each interval
:math:`[a, b]` is then settled by one of two tests, or halved (vectorised in numpy) until it is:

* **root-free** if :math:`|L'(a)| + |L'(b)| > M (b - a)`: a root :math:`p` of :math:`L'` in :math:`[a, b]` would
  give :math:`|L'(a)| \le M (p - a)` and :math:`|L'(b)| \le M (b - p)`, whose sum is :math:`\le M (b - a)`;
* **monotone** if :math:`|L''(m)| > M_3 (b - a) / 2` at the midpoint :math:`m`: then :math:`L''` has no zero on
  :math:`[a, b]`, :math:`L'` is strictly monotone there and has at most one root, exactly one when its ends differ
  in sign (a maximum where :math:`L' < 0` on the right, a minimum otherwise; never degenerate).

Both tests run in float64 with a margin (:data:`FLOAT_MARGIN` times the scale) far above the float64 rounding
error, which is measured against mpmath at sample points and reported. Every sign change is verified again at
``dps`` digits with the lambdified mpmath functions, and its root is refined inside the bracket by
``mpmath.findroot(solver='anderson')`` (bisection as the fallback, never capped at a fixed number of steps) to a
bracket :math:`[\ell, h]` of width :math:`10^{-\text{dps}} \max(1, |x|)` with :math:`L'(\ell)`, :math:`L'(h)` of
opposite signs.

**Prominence** (1D): walk from a peak to the left and to the right until a peak at least as high (or to
:math:`\pm\infty`, where :math:`p_Y \to 0`); the key col on each side is the lowest :math:`p_Y` passed; the
prominence is the height minus the higher of the two cols. Peaks whose heights agree to a relative
:math:`10^{-\max(\text{dps} - 5,\ \lfloor \text{dps}/2 \rfloor + 1)}` count as equally high (so two equally tall
peaks, as in a symmetric flow, each get the smaller prominence).

>>> from flowproof import chapter_flow
>>> report = find_modes(chapter_flow(0))
>>> [float(m.y) for m in report.modes], float(report.modes[0].height)  # doctest: +ELLIPSIS
([0.0], 0.398942280401432...)
>>> len(find_modes(chapter_flow(1)).modes)
2
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from . import density
from .exact import show, to_mpf
from .flow import Flow
from .inverse import check_dps, digits
from .layers import Layer, PartialLayer, SineLayer
from .numeric import FloatKernel, Z, as_float_array, layer_functions

__all__ = ["FLOAT_MARGIN", "CriticalPoint", "FlowBounds", "LayerBounds", "Mode", "ModeReport", "find_modes",
           "flow_bounds", "layer_bounds", "log_density_derivatives", "sine_parameters"]

#: Relative margin of the float64 tests over their rounding error (measured and reported for every search).
FLOAT_MARGIN = 1e-9
#: Width of the seeding grid's cells in x.
GRID_STEP = 1 / 32
#: The scanned range is shifted right by this many grid cells, so that neither a grid point nor a bisection
#: midpoint lands on a symmetric flow's critical point at x = 0 (an end with L' = 0 is still handled).
GRID_OFFSET = 0.3819660112501051
MAX_HALVINGS = 60
#: Intervals examined before giving up (a near-singular layer, a w close to 1 or -1, makes M and M3 blow up).
MAX_INTERVALS = 10_000_000


# -- per-layer and flow-level bounds ---------------------------------------------------------------------------
def sine_parameters(layer: Layer) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r"""Exact :math:`(a, w, \varphi)` with :math:`f(z) = z + a \sin(w z + \varphi)`, for a :class:`SineLayer` or a
    :class:`PartialLayer` of one (:math:`(1 - t) z + t f(z) = z + t a \sin(w z + \varphi)`).

    >>> from flowproof import SineLayer, PartialLayer
    >>> sine_parameters(PartialLayer(SineLayer("0.32", 2, "0.3"), sp.Rational(1, 2)))
    (4/25, 2, 3/10)

    Raises:
        TypeError: for any other layer (its derivative bounds are not known to this module).
    """
    if isinstance(layer, SineLayer):
        return layer.amplitude, layer.frequency, layer.phase
    if isinstance(layer, PartialLayer):
        try:
            a, w, phi = sine_parameters(layer.layer)
        except TypeError:
            pass
        else:
            return layer.t * a, w, phi
    raise TypeError(f"find_modes needs exact bounds on f', f'', f''' and (log f')', (log f')'', (log f')''' for "
                    f"every layer; they are known for SineLayer and PartialLayer of a SineLayer, got {layer!r}")


@dataclass(frozen=True)
class LayerBounds:
    r"""Exact suprema over :math:`z \in \mathbb{R}` for one layer.

    Attributes:
        df: :math:`\sup f'`.
        d2f: :math:`\sup |f''|`.
        d3f: :math:`\sup |f'''|`.
        dlog: :math:`\sup |(\log f')'|`.
        d2log: :math:`\sup |(\log f')''|`.
        d3log: an upper bound on :math:`\sup |(\log f')'''|`.
    """

    df: sp.Expr
    d2f: sp.Expr
    d3f: sp.Expr
    dlog: sp.Expr
    d2log: sp.Expr
    d3log: sp.Expr


@lru_cache(maxsize=4096)
def layer_bounds(layer: Layer) -> LayerBounds:
    r"""Exact derivative bounds of a sine layer :math:`f(z) = z + a \sin u`, :math:`u = w z + \varphi`,
    :math:`c = a w`, :math:`|c| < 1`.

    .. math::

        f' = 1 + c \cos u \le 1 + |c|, \qquad |f^{(n)}| \le |a|\,|w|^n \ (n \ge 2),

        (\log f')' = \frac{-c w \sin u}{1 + c \cos u}, \qquad \sup |(\log f')'| = \frac{|c|\,|w|}{\sqrt{1 - c^2}}
        \quad (\text{at } \cos u = -c),

        (\log f')'' = \frac{-c w^2 (c + \cos u)}{(1 + c \cos u)^2}, \qquad
        \sup |(\log f')''| = \frac{|c| w^2}{1 - |c|} \quad (\text{at } \cos u = -\operatorname{sign} c),

    (with :math:`v = \cos u`, :math:`|c + v|/(1 + c v)^2` is largest at :math:`v = -\operatorname{sign} c` for every
    :math:`|c| < 1`), and from :math:`(\log f')''' = f^{(4)}/f' - 3 f'' f'''/f'^2 + 2 (f''/f')^3` with
    :math:`f' \ge m = 1 - |c|`:

    .. math::

        |(\log f')'''| \le |c|\,|w|^3 \left(\frac1m + \frac{3 |c|}{m^2} + \frac{2 c^2}{m^3}\right).

    >>> from flowproof import SineLayer
    >>> b = layer_bounds(SineLayer("0.32", 2, "0.3"))
    >>> b.df, b.dlog, b.d2log
    (41/25, 32*sqrt(41)/123, 64/9)

    Raises:
        TypeError: for a layer that is not a sine layer (see :func:`sine_parameters`).
    """
    a, w, _ = sine_parameters(layer)
    a, w = sp.Abs(a), sp.Abs(w)
    c = a * w
    m = 1 - c
    return LayerBounds(df=1 + c, d2f=a * w**2, d3f=a * w**3, dlog=sp.radsimp(c * w / sp.sqrt(1 - c**2)),
                       d2log=c * w**2 / m, d3log=c * w**3 * (1 / m + 3 * c / m**2 + 2 * c**2 / m**3))


@dataclass(frozen=True)
class FlowBounds:
    r"""Exact bounds over :math:`x \in \mathbb{R}` for a flow (see :func:`flow_bounds`), and their floats rounded up.

    Attributes:
        slope: :math:`B \ge |(\log F')'|`; every critical point of :math:`p_Y` has :math:`|x| \le B`.
        curvature: :math:`M \ge |L''|`.
        third: :math:`M_3 \ge |L'''|`.
    """

    slope: sp.Expr
    curvature: sp.Expr
    third: sp.Expr

    @property
    def floats(self) -> tuple[float, float, float]:
        """``(B, M, M3)`` as floats, rounded upwards."""
        return tuple(_upper(v) for v in (self.slope, self.curvature, self.third))  # type: ignore[return-value]


def flow_bounds(flow: Flow) -> FlowBounds:
    r"""Exact :math:`B, M, M_3` for ``flow`` from the per-layer bounds of :func:`layer_bounds`.

    With :math:`Z_n^{(k)} \ge |d^n z_k / dx^n|` (:math:`Z^{(0)} = (1, 0, 0)`, since :math:`z_0 = x`), the chain
    rule for :math:`z_k = f_k(z_{k-1})` and for :math:`\log f_k'(z_{k-1})` (Faà di Bruno with every term bounded in
    absolute value), writing :math:`F_n, A_n` for the bounds on :math:`|f_k^{(n)}|, |(\log f_k')^{(n)}|`:

    .. math::

        Z_1^{(k)} &= F_1 Z_1, \quad Z_2^{(k)} = F_2 Z_1^2 + F_1 Z_2, \quad
        Z_3^{(k)} = F_3 Z_1^3 + 3 F_2 Z_1 Z_2 + F_1 Z_3, \\
        B &= \sum_k A_1 Z_1, \quad
        M = 1 + \sum_k \left(A_2 Z_1^2 + A_1 Z_2\right), \quad
        M_3 = \sum_k \left(A_3 Z_1^3 + 3 A_2 Z_1 Z_2 + A_1 Z_3\right),

    the :math:`Z` of layer :math:`k - 1` on the right; :math:`L'' = -1 - (\log F')''` and
    :math:`L''' = -(\log F')'''`.

    >>> from flowproof import chapter_flow
    >>> flow_bounds(chapter_flow(0))
    FlowBounds(slope=0, curvature=1, third=0)
    """
    z1, z2, z3 = sp.Integer(1), sp.Integer(0), sp.Integer(0)
    t1, t2, t3 = sp.Integer(0), sp.Integer(0), sp.Integer(0)
    for layer in flow:
        b = layer_bounds(layer)
        t1 += b.dlog * z1
        t2 += b.d2log * z1**2 + b.dlog * z2
        t3 += b.d3log * z1**3 + 3 * b.d2log * z1 * z2 + b.dlog * z3
        z1, z2, z3 = b.df * z1, b.d2f * z1**2 + b.df * z2, b.d3f * z1**3 + 3 * b.d2f * z1 * z2 + b.df * z3
    return FlowBounds(slope=t1, curvature=1 + t2, third=t3)


def _upper(value: sp.Expr) -> float:
    """A float at least ``value`` (30 digits, then rounded up by a relative 2**-40)."""
    v = float(sp.N(value, 30))
    return v + abs(v) * 2.0**-40


# -- L' and L'' from the layers' expressions -------------------------------------------------------------------
@dataclass(frozen=True)
class _SlopeFunctions:
    """Per layer: ``(f, f', f'', (log f')', (log f')'')`` in float64 and mpmath, and ``(f, f', (log f')')`` in
    mpmath (enough for ``L'``)."""

    float_all: Callable[[np.ndarray], tuple[np.ndarray, ...]]
    mp_all: Callable[[Any], Any]
    mp_first: Callable[[Any], Any]


@lru_cache(maxsize=4096)
def _slope_functions(layer: Layer) -> _SlopeFunctions:
    f = layer.expr(Z)
    df = layer.derivative_expr(Z)
    d2f = sp.diff(f, Z, 2)
    dlog = sp.diff(sp.log(df), Z)
    d2log = sp.diff(dlog, Z)
    exprs = (f, df, d2f, dlog, d2log)
    return _SlopeFunctions(float_all=FloatKernel(exprs),
                           mp_all=sp.lambdify(Z, exprs, modules="mpmath", cse=True),
                           mp_first=sp.lambdify(Z, (f, df, dlog), modules="mpmath", cse=True))


def _derivatives(x: Any, layers: Sequence[Layer], mp: bool) -> tuple[Any, Any]:
    r"""``(L'(x), L''(x))`` along the chain :math:`z_k`, :math:`p_k = dz_k/dx`, :math:`q_k = d^2 z_k/dx^2`:
    :math:`(\log F')' = \sum_k \ell_k' p_{k-1}`, :math:`(\log F')'' = \sum_k \ell_k'' p_{k-1}^2 + \ell_k' q_{k-1}`
    (numpy arrays, or one mpf at the current precision)."""
    z, p, q, s1, s2 = x, 1, 0, 0, 0  # type: Any, Any, Any, Any, Any
    for layer in layers:
        fns = _slope_functions(layer)
        f, df, d2f, dlog, d2log = fns.mp_all(z) if mp else fns.float_all(z)
        s1 = s1 + dlog * p
        s2 = s2 + d2log * p * p + dlog * q
        z, p, q = f, df * p, d2f * p * p + df * q
    if mp:
        return -x - s1, -1 - s2
    return -x - s1, np.broadcast_to(-1.0 - s2, np.shape(x)).copy()


def _slope_mp(x: Any, layers: Sequence[Layer]) -> Any:
    """:math:`L'(x)` at the current precision."""
    z, p, s = x, 1, 0
    for layer in layers:
        f, df, dlog = _slope_functions(layer).mp_first(z)
        s += dlog * p
        z, p = f, df * p
    return -x - s


def _value_mp(x: Any, layers: Sequence[Layer]) -> tuple[Any, Any]:
    """``(F(x), L(x))`` at the current precision."""
    z, total = x, 0
    for layer in layers:
        fns = layer_functions(layer)
        total += fns.log_df_mp(z)
        z = fns.f_mp(z)
    return z, density.normal_log_pdf_mp(x) - total


def log_density_derivatives(flow: Flow, x: Any, dps: int | None = None) -> tuple[Any, Any]:
    r""":math:`(L'(x), L''(x))` with :math:`L(x) = \log p_X(x) - \log F'(x) = \log p_Y(F(x))`.

    float64 arrays (``dps=None``), or one scalar at ``dps`` digits (returned as mpf).

    >>> from flowproof import chapter_flow
    >>> [float(v) for v in log_density_derivatives(chapter_flow(0), 0.5)]
    [-0.5, -1.0]
    """
    if dps is not None:
        dps = check_dps(dps)
        with mpmath.workdps(dps + 10):
            size = to_mpf(x, "x")
        with mpmath.workdps(dps + 10 + digits(size) + len(flow)):
            d1, d2 = _derivatives(to_mpf(x, "x"), list(flow), mp=True)
        with mpmath.workdps(dps):
            return +d1, +d2
    arr = as_float_array(x, "x")
    d1, d2 = _derivatives(arr.ravel(), list(flow), mp=False)
    d1, d2 = d1.reshape(arr.shape), d2.reshape(arr.shape)
    return (d1[()], d2[()]) if arr.ndim == 0 else (d1, d2)


# -- results ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CriticalPoint:
    r"""A critical point :math:`y = F(x)` of :math:`p_Y` (a root :math:`x` of :math:`L'`), at ``dps`` digits.

    Attributes:
        x: the root of :math:`L'`.
        y: :math:`F(x)`.
        log_density: :math:`\log p_Y(y) = L(x)`.
        kind: ``"max"`` (:math:`L'` goes from + to -) or ``"min"``.
        bracket: ``(lo, hi)`` in x with :math:`L'(lo)`, :math:`L'(hi)` of opposite signs at ``dps`` digits,
            ``hi - lo <= 10**-dps * max(1, |x|)`` (ends at the working precision, not rounded to ``dps``).
        y_bracket: ``(F(lo), F(hi))``, which contains ``y`` (:math:`F` is increasing).
        interval: the float64 interval on which :math:`L'` was certified strictly monotone.
    """

    x: mpmath.mpf
    y: mpmath.mpf
    log_density: mpmath.mpf
    kind: str
    bracket: tuple[mpmath.mpf, mpmath.mpf]
    y_bracket: tuple[mpmath.mpf, mpmath.mpf] = field(default=(mpmath.mpf(0), mpmath.mpf(0)))
    interval: tuple[float, float] = (0.0, 0.0)

    @property
    def density(self) -> mpmath.mpf:
        """:math:`p_Y(y) = \\exp L(x)`."""
        return mpmath.exp(self.log_density)


@dataclass(frozen=True)
class Mode:
    """A strict local maximum of :math:`p_Y` with its height and prominence (``relative_*``: over the tallest).

    Attributes:
        y: the mode.
        x: its preimage :math:`F^{-1}(y)`, a root of :math:`L'`.
        height: :math:`p_Y(y) = \\exp L(x)`.
        relative_height: ``height`` over the tallest mode's.
        prominence: ``height`` minus the higher of the key cols (see :mod:`flowproof.modes`).
        relative_prominence: ``prominence`` over the tallest mode's height.
        bracket: the x bracket of :class:`CriticalPoint`; ``y_bracket`` its image.
    """

    y: mpmath.mpf
    x: mpmath.mpf
    height: mpmath.mpf
    relative_height: mpmath.mpf
    prominence: mpmath.mpf
    relative_prominence: mpmath.mpf
    bracket: tuple[mpmath.mpf, mpmath.mpf]
    y_bracket: tuple[mpmath.mpf, mpmath.mpf] = field(default=(mpmath.mpf(0), mpmath.mpf(0)))

    def __repr__(self) -> str:
        return (f"Mode(y={mpmath.nstr(self.y, 12)}, x={mpmath.nstr(self.x, 12)}, height={mpmath.nstr(self.height, 8)}"
                f", relative_height={mpmath.nstr(self.relative_height, 4)}, relative_prominence="
                f"{mpmath.nstr(self.relative_prominence, 4)})")


@dataclass(frozen=True)
class ModeReport:
    r"""Every mode and minimum of :math:`p_Y` for one flow, and how completeness was certified.

    Attributes:
        modes: the strict local maxima, sorted by y.
        minima: the strict local minima (critical points of kind ``"min"``), sorted by y.
        critical_points: all critical points, sorted by y (maxima and minima alternate).
        search_range: :math:`(-B, B)` in x, proven to hold every critical point.
        scanned: the x range covered by the certified intervals (contains ``search_range``).
        bounds: the exact :class:`FlowBounds` used.
        intervals_checked: certified intervals covering ``scanned``: ``root_free + monotone``.
        root_free: intervals shown to hold no root of :math:`L'`.
        monotone: intervals on which :math:`L'` is strictly monotone (at most one root; ``len(critical_points)``
            of them show a sign change).
        float_error: the largest float64-vs-mpmath difference of :math:`(L', L'')` at the sample points, over the
            margins the float tests keep (must be far below 1).
        certificate: the argument in words, with the numbers.
        dps: digits of the critical points.
        seconds: wall time.
    """

    modes: tuple[Mode, ...]
    minima: tuple[CriticalPoint, ...]
    critical_points: tuple[CriticalPoint, ...]
    search_range: tuple[float, float]
    scanned: tuple[float, float]
    bounds: FlowBounds
    intervals_checked: int
    root_free: int
    monotone: int
    float_error: float
    certificate: str
    dps: int
    seconds: float

    def significant(self, threshold: float = 0.0) -> tuple[Mode, ...]:
        """The modes with ``relative_prominence >= threshold``, sorted by y."""
        return tuple(m for m in self.modes if m.relative_prominence >= threshold)

    def count(self, threshold: float = 0.0) -> int:
        """How many modes have ``relative_prominence >= threshold`` (all of them for 0)."""
        return len(self.significant(threshold))

    @property
    def tallest(self) -> Mode:
        """The highest mode (the first in y among equal heights)."""
        return max(self.modes, key=lambda m: m.height)


# -- the search ------------------------------------------------------------------------------------------------
def find_modes(flow: Flow, dps: int = 30) -> ModeReport:
    r"""Every mode (strict local maximum) of :math:`p_Y` for ``flow``, each to ``dps`` digits, with the
    certificate that there are no others (see :mod:`flowproof.modes` for the argument).

    Args:
        flow: a :class:`~flowproof.Flow` of sine layers (or partial sine layers).
        dps: decimal digits for the verification and the reported values.

    Returns:
        A :class:`ModeReport`; ``report.modes`` sorted by y.

    Raises:
        TypeError: for a layer without known derivative bounds.
        ArithmeticError: if an interval cannot be settled or a root cannot be bracketed (not expected).

    >>> from flowproof import chapter_flow
    >>> r = find_modes(chapter_flow(1))
    >>> [round(float(m.y), 6) for m in r.modes], r.count(0.01)
    ([-1.616299, 1.344895], 2)
    """
    start = time.perf_counter()
    dps = check_dps(dps)
    if not isinstance(flow, Flow):
        raise TypeError(f"find_modes takes a flowproof.Flow, got {type(flow).__name__}")
    layers = list(flow)
    bounds = flow_bounds(flow)
    b, m, m3 = bounds.floats
    half = b + 1.0
    lo, hi = -half + GRID_OFFSET * GRID_STEP, half + GRID_OFFSET * GRID_STEP + GRID_STEP
    cells = int(math.ceil((hi - lo) / GRID_STEP))
    edges = lo + (hi - lo) * np.arange(cells + 1) / cells
    tol1 = FLOAT_MARGIN * (1.0 + half + b)  # L' is a sum of terms of size up to |x| + B
    tol2 = FLOAT_MARGIN * m  # L'' is a sum of terms of size up to M

    slope_at_edges = _derivatives(edges, layers, mp=False)[0]
    a, c = edges[:-1], edges[1:]
    da, dc = slope_at_edges[:-1], slope_at_edges[1:]
    root_free = 0
    monotone: list[tuple[np.ndarray, ...]] = []
    samples: list[np.ndarray] = [edges[:: max(1, cells // 24)]]
    examined = 0
    for _ in range(MAX_HALVINGS):
        if a.size == 0:
            break
        examined += a.size
        if examined > MAX_INTERVALS:
            raise ArithmeticError(f"could not certify the modes: more than {MAX_INTERVALS} intervals needed "
                                  f"(the bounds M = {m:.3g}, M3 = {m3:.3g} are large; a layer is close to "
                                  "singular, |a w| near 1)")
        free = np.abs(da) + np.abs(dc) - 2 * tol1 > m * (c - a)
        root_free += int(free.sum())
        a, c, da, dc = a[~free], c[~free], da[~free], dc[~free]
        mid = a + (c - a) / 2
        dmid, ddmid = _derivatives(mid, layers, mp=False)
        mono = np.abs(ddmid) - tol2 > m3 * (c - a) / 2
        monotone.append((a[mono], c[mono], da[mono], dc[mono], ddmid[mono]))
        rest = ~mono
        a, c, da, dc, mid, dmid = a[rest], c[rest], da[rest], dc[rest], mid[rest], dmid[rest]
        a, c = np.concatenate([a, mid]), np.concatenate([mid, c])
        da, dc = np.concatenate([da, dmid]), np.concatenate([dmid, dc])
    if a.size:
        raise ArithmeticError(f"{a.size} intervals near x = {a[0]:.6g} could not be certified after "
                              f"{MAX_HALVINGS} halvings")
    ma, mc, mda, mdc, mdd = (np.concatenate(parts) for parts in zip(*monotone, strict=True))
    # Sign changes, and ends too close to zero for float64 to decide: both go to mpmath.
    sign_change = ((mda > tol1) & (mdc < -tol1)) | ((mda < -tol1) & (mdc > tol1))
    undecided = (np.abs(mda) <= tol1) | (np.abs(mdc) <= tol1)
    candidates = np.flatnonzero(sign_change | undecided)
    samples.append(ma[candidates])
    float_error = _float_error(np.concatenate(samples), layers, tol1, tol2)

    work = dps + 15 + digits(half + float(flow.displacement_bound()))
    points = _verify_roots(layers, ma[candidates], mc[candidates], mdd[candidates], dps, work)
    points.sort(key=lambda p: p.x)
    modes = _modes(points, dps)
    minima = tuple(p for p in points if p.kind == "min")
    n_mono = int(ma.size)
    certificate = (
        f"every critical point has |x| <= B = {show(bounds.slope)} ~ {b:.6g} (|L'(x)| >= |x| - B); "
        f"[{lo:.6g}, {hi:.6g}] split into {root_free + n_mono} intervals: {root_free} root-free by "
        f"|L'(a)| + |L'(b)| > M (b - a), M = {m:.6g}, and {n_mono} with L' strictly monotone by "
        f"|L''(mid)| > M3 (b - a)/2, M3 = {m3:.6g}; {len(points)} of those hold a root, each sign change "
        f"verified and the root bracketed at {dps} digits; float64 tests kept a margin {FLOAT_MARGIN:g} x scale, "
        f"measured float64 error {float_error:.1e} of that margin")
    return ModeReport(modes=modes, minima=minima, critical_points=tuple(points), search_range=(-b, b),
                      scanned=(float(lo), float(hi)), bounds=bounds, intervals_checked=root_free + n_mono,
                      root_free=root_free, monotone=n_mono, float_error=float_error, certificate=certificate,
                      dps=dps, seconds=round(time.perf_counter() - start, 4))


def _float_error(xs: np.ndarray, layers: Sequence[Layer], tol1: float, tol2: float) -> float:
    """Largest float64-vs-mpmath difference of ``L'`` and ``L''`` at ``xs``, in units of the tests' margins."""
    d1, d2 = _derivatives(xs, layers, mp=False)
    worst = 0.0
    with mpmath.workdps(25):
        for x, f1, f2 in zip(xs, d1, d2, strict=True):
            e1, e2 = _derivatives(mpmath.mpf(float(x)), layers, mp=True)
            worst = max(worst, abs(float(e1) - f1) / tol1, abs(float(e2) - f2) / tol2)
    if not worst < 0.01:
        raise ArithmeticError(f"float64 L', L'' differ from mpmath by {worst:.2g} of the certification margin")
    return worst


def _verify_roots(layers: Sequence[Layer], lo: np.ndarray, hi: np.ndarray, curvature: np.ndarray, dps: int,
                  work: int) -> list[CriticalPoint]:
    """The root of ``L'`` in each monotone interval whose ends differ in sign at high precision (or vanish)."""
    points: dict[Any, CriticalPoint] = {}
    for a, c, dd in zip(lo, hi, curvature, strict=True):
        with mpmath.workdps(work):
            left, right = mpmath.mpf(float(a)), mpmath.mpf(float(c))
            s_left, s_right = mpmath.sign(_slope_mp(left, layers)), mpmath.sign(_slope_mp(right, layers))
        if s_left * s_right > 0:
            continue  # float64 could not decide, mpmath says no root
        kind = "max" if dd < 0 else "min"
        bracket: tuple[Any, Any] | None = None
        for _ in range(4):
            with mpmath.workdps(work):
                if s_left == 0 or s_right == 0:
                    root = left if s_left == 0 else right
                    bracket = _bracket_around(root, dps)
                else:
                    root, bracket = _refine(left, right, s_left, layers, dps)
            if bracket is not None:
                break
            work += 10
        if bracket is None:
            raise ArithmeticError(f"could not bracket the root of L' in [{a!r}, {c!r}] to {dps} digits")
        with mpmath.workdps(work):
            y, log_p = _value_mp(root, layers)
            y_bracket = (_value_mp(bracket[0], layers)[0], _value_mp(bracket[1], layers)[0])
            _, curvature_mp = _derivatives(root, layers, mp=True)
        if (curvature_mp < 0) != (kind == "max"):
            raise ArithmeticError(f"L'' at the root in [{a!r}, {c!r}] disagrees in sign with the float64 test")
        with mpmath.workdps(dps):
            key = +root
            # the brackets keep their working-precision ends: rounding them could undo the sign change
            points.setdefault(key, CriticalPoint(+root, +y, +log_p, kind, bracket, y_bracket, (float(a), float(c))))
    return list(points.values())


def _refine(left: Any, right: Any, s_left: Any, layers: Sequence[Layer],
            dps: int) -> tuple[Any, tuple[Any, Any] | None]:
    """Root of ``L'`` in ``[left, right]`` (ends of opposite signs, ``s_left`` the left one's) at the current
    precision, and its verified bracket (None if the signs could not be confirmed at this precision)."""
    fn = lambda v: _slope_mp(v, layers)  # noqa: E731
    tol = mpmath.mpf(10) ** -(mpmath.mp.dps - 5)
    try:
        root = mpmath.findroot(fn, (left, right), solver="anderson", tol=tol, maxsteps=200, verify=False)
    except (ValueError, ZeroDivisionError):
        root = None
    if root is not None and left <= root <= right:
        bracket = _verified_bracket(root, dps, fn, s_left, left, right)
        if bracket is not None:
            return root, bracket
    # Bisection: as many halvings as the bracket needs, never a fixed cap.
    lo, hi = left, right
    target = mpmath.mpf(10) ** -dps * max(1, abs(left), abs(right)) / 4
    for _ in range(int(mpmath.ceil(mpmath.log((hi - lo) / target, 2))) + 1):
        mid = (lo + hi) / 2
        if mpmath.sign(fn(mid)) == s_left:
            lo = mid
        else:
            hi = mid
    root = (lo + hi) / 2
    return root, _verified_bracket(root, dps, fn, s_left, left, right)


def _bracket_around(root: Any, dps: int) -> tuple[Any, Any]:
    """``(root - d, root + d)`` with ``d = 10**-dps * max(1, |root|) / 2``."""
    d = mpmath.mpf(10) ** -dps * max(1, abs(root)) / 2
    return root - d, root + d


def _verified_bracket(root: Any, dps: int, fn: Callable[[Any], Any], s_left: Any, left: Any,
                      right: Any) -> tuple[Any, Any] | None:
    """:func:`_bracket_around` clipped to ``[left, right]``, if ``L'`` has the signs of the ends at its ends."""
    lo, hi = _bracket_around(root, dps)
    lo, hi = max(lo, left), min(hi, right)
    if mpmath.sign(fn(lo)) == s_left and mpmath.sign(fn(hi)) == -s_left:
        return lo, hi
    return None


def _modes(points: list[CriticalPoint], dps: int) -> tuple[Mode, ...]:
    """Heights and prominences of the maxima among ``points`` (sorted by x, equivalently by y)."""
    peaks = [i for i, p in enumerate(points) if p.kind == "max"]
    if not peaks:
        return ()
    with mpmath.workdps(dps + 5):
        heights = [mpmath.exp(p.log_density) for p in points]
        tallest = max(heights[i] for i in peaks)
        tie = mpmath.mpf(10) ** -max(dps - 5, dps // 2 + 1)
        out = []
        for i in peaks:
            h = heights[i]
            cols = []
            for step in (-1, 1):
                col, j = h, i + step
                while 0 <= j < len(points):
                    if points[j].kind == "max" and heights[j] >= h * (1 - tie):
                        break
                    col = min(col, heights[j])
                    j += step
                else:
                    col = mpmath.mpf(0)  # p_Y -> 0 at +-infinity
                cols.append(col)
            prominence = h - max(cols)
            p = points[i]
            out.append(Mode(y=p.y, x=p.x, height=+h, relative_height=h / tallest, prominence=+prominence,
                            relative_prominence=prominence / tallest, bracket=p.bracket, y_bracket=p.y_bracket))
    with mpmath.workdps(dps):
        return tuple(Mode(+m.y, +m.x, +m.height, +m.relative_height, +m.prominence, +m.relative_prominence,
                          m.bracket, m.y_bracket) for m in out)
