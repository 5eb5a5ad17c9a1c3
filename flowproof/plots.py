r"""Figures of a flow: the chapter's picture, sample paths, the log-density terms, and a histogram check.

Every number drawn comes from the public :class:`~flowproof.Flow` API (``truncate``, ``forward``, ``log_det``,
``inverse``, ``log_prob``, ``cdf``, ``sample``; ``Flow([])`` is the identity, so ``Flow([]).log_prob`` is the base
log-density :math:`\log p_X` and ``Flow([]).sample`` draws the base samples). The pictures show

.. math::

    z_0 = x,\quad z_k = f_k(z_{k-1}),\quad y = F_K(x) = z_K,\qquad
    \log p_Y(y) = \log p_X(x) - \sum_{k=1}^K \log f_k'(z_{k-1}),\quad x = F_K^{-1}(y),

for depths :math:`K` that may be fractional: :math:`K = n + t` takes the first :math:`n` layers and the next one a
fraction :math:`t` of the way, :math:`(1 - t) z + t f_{n+1}(z)`.

matplotlib is imported only when a figure is made (``import flowproof`` does not import it). Figures are
:class:`matplotlib.figure.Figure` objects with an Agg canvas attached, never pyplot figures: no global state (the
current figure, the chosen backend) is touched, and nothing needs closing.

>>> from flowproof import chapter_flow
>>> fig = histogram_figure(chapter_flow(6), n=2_000, bins=40)
>>> type(fig).__name__
'Figure'
"""

from __future__ import annotations

import decimal
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp

from .exact import Real, exact_depth, show
from .flow import Flow

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["CHAPTER_DEPTHS", "FIGURE_NAMES", "HistogramCheck", "Y_RANGE", "chapter_figure", "default_depths",
           "depth_label",
           "histogram_check", "histogram_figure", "log_density_terms_figure", "sample_colours",
           "sample_paths_figure", "write_figures"]

#: The depths the chapter walks through, in its order: 0, 1, 3, 6, then the fractional 2.5.
CHAPTER_DEPTHS: tuple[Real, ...] = (0, 1, 3, 6, 2.5)
#: The interval of x and y shown in every figure.
Y_RANGE = (-4.5, 4.5)
#: The stems of the files :func:`write_figures` writes, in order.
FIGURE_NAMES = ("chapter", "sample_paths", "log_density_terms", "histogram")
#: Sample colour: a diverging colormap over the base position x in this range (clipped outside).
COLOUR_MAP = "Spectral"
COLOUR_RANGE = (-2.5, 2.5)
#: A histogram agrees with the exact density when every tested bin is within this many standard errors.
Z_LIMIT = 5.0

_FORMATS = ("png", "svg", "pdf")
_INK = "#1f2937"  # curves
_FILL = "#cbd5e1"  # area under curves
_HIST = "#93c5fd"
_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
             "eleventh", "twelfth")
_FRACTIONS = {Fraction(1, 2): "half", Fraction(1, 3): "a third", Fraction(2, 3): "two thirds",
              Fraction(1, 4): "a quarter", Fraction(3, 4): "three quarters"}


# -- labels and colours ----------------------------------------------------------------------------------------
def depth_label(depth: Real) -> str:
    """The chapter's words for a depth.

    >>> depth_label(0)
    'K = 0: no layers (the identity)'
    >>> depth_label(2.5)
    'K = 2.5: two full layers plus half of the third'
    >>> depth_label("0.3")
    'K = 0.3: 0.3 of the first layer'
    """
    return f"K = {_depth_text(depth)}: {_depth_words(exact_depth(depth, 'depth'))}"


def _depth_words(k: sp.Rational) -> str:
    full = int(sp.floor(k))
    t = Fraction(int((k - full).p), int((k - full).q))
    if t == 0:
        if full == 0:
            return "no layers (the identity)"
        return f"{_count(full)} layer{'s' if full > 1 else ''}"
    part = _FRACTIONS.get(t) or _short_decimal(t) or f"{float(t):.3g}"
    ordinal = _ORDINALS[full] if full < len(_ORDINALS) else f"{full + 1}th"
    if full == 0:
        return f"{part} of the first layer"
    return f"{_count(full)} full layer{'s' if full > 1 else ''} plus {part} of the {ordinal}"


def _count(n: int) -> str:
    return _WORDS[n] if n < len(_WORDS) else str(n)


def _depth_text(depth: Real) -> str:
    """A depth as written: its exact decimal if that is short (``"2.5"``, ``Fraction(5, 2)`` and ``2.5`` alike), a
    float's shortest repr (``0.1``), else ``p/q`` (or 6 significant digits if that is long)."""
    k = exact_depth(depth, "depth")
    value = Fraction(int(k.p), int(k.q))
    text = _short_decimal(value)
    if text is not None:
        return text
    if isinstance(depth, (float, np.floating)):
        return repr(float(depth))
    ratio = f"{value.numerator}/{value.denominator}"
    return ratio if len(ratio) <= 12 else show(sp.Float(k, 6))


def _short_decimal(value: Fraction, places: int = 6) -> str | None:
    """``value`` as an exact decimal with at most ``places`` decimal places, or None if it has none."""
    scaled = value * 10**places
    if scaled.denominator != 1:
        return None
    text = format(decimal.Decimal(scaled.numerator).scaleb(-places).normalize(), "f")
    return text


def sample_colours(x: Any) -> np.ndarray:
    """RGBA colours (shape ``(n, 4)``) for base positions ``x``: a diverging colormap over :data:`COLOUR_RANGE`.

    The colour is a function of the base position only, so a sample has the same colour in every figure.
    """
    import matplotlib

    lo, hi = COLOUR_RANGE
    u = np.clip((np.asarray(x, dtype=float) - lo) / (hi - lo), 0.0, 1.0)
    return np.asarray(matplotlib.colormaps[COLOUR_MAP](u))


# -- argument checks -------------------------------------------------------------------------------------------
def _check_flow(flow: Any) -> Flow:
    if not isinstance(flow, Flow):
        raise TypeError(f"expected a flowproof Flow (e.g. chapter_flow(6)), got {type(flow).__name__}")
    return flow


def _depth_list(flow: Flow, depths: Any) -> list[tuple[Real, Flow]]:
    """``[(depth, flow.truncate(depth))]``: the library's own checks name a bad depth (TypeError/ValueError)."""
    if isinstance(depths, (str, bytes)) or not isinstance(depths, Iterable):
        raise TypeError(f"depths must be a sequence of depths such as (0, 1, 2.5), got {type(depths).__name__} "
                        f"{depths!r}")
    items = list(depths)
    if not items:
        raise ValueError("depths must name at least one depth, got an empty sequence")
    return [(depth, flow.truncate(depth)) for depth in items]


def default_depths(flow: Flow) -> tuple[Real, ...]:
    """The chapter's depths 0, 1, 3, 6, 2.5 that the flow has, then its full depth if that is not among them.

    >>> from flowproof import chapter_flow
    >>> default_depths(chapter_flow(6)), default_depths(chapter_flow(3)), default_depths(chapter_flow(2))
    ((0, 1, 3, 6, 2.5), (0, 1, 3, 2.5), (0, 1, 2))
    """
    n = len(_check_flow(flow))
    fitting = tuple(k for k in CHAPTER_DEPTHS if exact_depth(k) <= n)
    return fitting if any(exact_depth(k) == n for k in fitting) else (*fitting, n)


def _full_depth(flow: Flow, K: Real | None) -> tuple[Real, Flow]:
    depth: Real = len(flow) if K is None else K
    return depth, flow.truncate(depth)


def _check_whole(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a whole number, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_range(y_range: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in y_range)
    except (TypeError, ValueError):
        raise TypeError(f"y_range must be a pair of numbers (lo, hi), got {y_range!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"y_range must be finite with lo < hi, got {y_range!r}")
    return lo, hi


# -- figures ---------------------------------------------------------------------------------------------------
def _new_figure(**kwargs: Any) -> Figure:
    """A Figure on its own Agg canvas (no pyplot, no global backend change)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _base_samples(n_samples: int, seed: Any) -> np.ndarray:
    """``n`` draws of :math:`X \\sim \\mathcal{N}(0, 1)`, sorted (the identity flow's samples)."""
    return np.sort(Flow([]).sample(n_samples, seed=seed))


def _density(flow: Flow, y: np.ndarray) -> np.ndarray:
    return np.exp(flow.log_prob(y))


def _curve_grid(flow: Flow, lo: float, hi: float, n: int) -> np.ndarray:
    """An even grid on ``[lo, hi]`` merged with the images :math:`F(x_j)` of an even grid over the preimage: those
    crowd where :math:`F'` is small, i.e. at the peaks of :math:`p_Y`, so sharp peaks are drawn to their height."""
    x_lo, x_hi = flow.inverse(np.array([lo, hi]))
    images = flow.forward(np.linspace(x_lo, x_hi, n))
    return np.unique(np.concatenate([np.linspace(lo, hi, n), images[(images >= lo) & (images <= hi)]]))


def _draw_density(ax: Axes, grid: np.ndarray, p: np.ndarray, points: np.ndarray, p_points: np.ndarray,
                  colours: np.ndarray, rug: float) -> None:
    ax.fill_between(grid, p, color=_FILL, alpha=0.6, linewidth=0)
    ax.plot(grid, p, color=_INK, linewidth=1.3)
    ax.scatter(points, p_points, c=colours, s=20, edgecolors=_INK, linewidths=0.4, zorder=3)
    ax.scatter(points, np.full(len(points), rug), c=colours, s=12, edgecolors=_INK, linewidths=0.3, zorder=3,
               alpha=0.9)
    ax.axhline(0.0, color=_INK, linewidth=0.6)
    ax.grid(alpha=0.25, linewidth=0.5)


def chapter_figure(flow6: Flow, depths: Iterable[Real] | None = None, n_samples: int = 40, seed: Any = 0, *,
                   y_range: tuple[float, float] = Y_RANGE, grid: int = 1201) -> Figure:
    r"""The chapter's picture: a column per depth :math:`K`, the base on top, :math:`p_Y` after :math:`K` layers below.

    Top: :math:`p_X = \mathcal{N}(0, 1)` with ``n_samples`` base draws :math:`x_i` as dots on the curve,
    :math:`(x_i, p_X(x_i))`, and again in a row under the axis, coloured by :math:`x_i` (:func:`sample_colours`).
    Bottom: :math:`p_Y(y) = \exp(\texttt{flow.truncate(K).log\_prob}(y))` on a fine grid, and the same samples pushed
    through, :math:`y_i = F_K(x_i)`, drawn the same way at :math:`(y_i, p_Y(y_i))`. Every panel has the same
    axes, so heights compare across rows and columns.

    Args:
        flow6: the flow at full depth (the chapter's six layers).
        depths: one column per depth, in this order; fractional depths take the next layer partially.
            Default: :func:`default_depths` (the chapter's 0, 1, 3, 6, 2.5 for a six-layer flow).
        n_samples: how many coloured samples.
        seed: for :func:`numpy.random.default_rng`.
        y_range: the interval shown on the horizontal axes.
        grid: points of the density curves.
    """
    flow = _check_flow(flow6)
    stages = _depth_list(flow, default_depths(flow) if depths is None else depths)
    lo, hi = _check_range(y_range)
    ys = np.linspace(lo, hi, _check_whole(grid, "grid", 2))
    x = _base_samples(n_samples, seed)
    colours = sample_colours(x)
    identity = Flow([])
    p_base, p_x = _density(identity, ys), _density(identity, x)
    rows = []
    for _, truncated in stages:
        y = truncated.forward(x)
        curve = _curve_grid(truncated, lo, hi, ys.size)
        rows.append((curve, _density(truncated, curve), y, _density(truncated, y)))
    top = 1.08 * max([float(p_base.max())] + [float(p.max()) for _, p, _, _ in rows])
    rug = -0.05 * top

    fig = _new_figure(figsize=(2.9 * len(stages) + 0.4, 5.4), layout="constrained")
    axes = fig.subplots(2, len(stages), squeeze=False, sharey=True)
    for col, ((depth, _), (curve, p, y, p_y)) in enumerate(zip(stages, rows, strict=True)):
        upper, lower = axes[0, col], axes[1, col]
        _draw_density(upper, ys, p_base, x, p_x, colours, rug)
        _draw_density(lower, curve, p, y, p_y, colours, rug)
        head, _, words = depth_label(depth).partition(": ")
        upper.set_title(f"{head}\n{words}", fontsize=10)
        upper.text(0.03, 0.95, "base $p_X = \\mathcal{N}(0, 1)$", transform=upper.transAxes, va="top", fontsize=8)
        lower.text(0.03, 0.95, f"after $K = {_depth_text(depth)}$: $p_Y$", transform=lower.transAxes, va="top",
                   fontsize=8)
        upper.set_xlabel("$x$", labelpad=1)
        lower.set_xlabel("$y = F_K(x)$", labelpad=1)
        for ax in (upper, lower):
            ax.set_xlim(lo, hi)
            ax.set_ylim(1.6 * rug, top)
    axes[0, 0].set_ylabel("$p_X(x)$")
    axes[1, 0].set_ylabel("$p_Y(y)$")
    joint = "\n" if len(stages) < 3 else " "  # a narrow figure takes the title on three lines
    fig.suptitle(f"A standard normal through $K$ layers:{joint}the same {len(x)} samples in every column"
                 f"{joint}(colour = base position $x$)", fontsize=11 if len(stages) >= 3 else 9)
    return fig


def sample_paths_figure(flow6: Flow, n_samples: int = 12, steps: int = 121, seed: Any = 0, *,
                        y_range: tuple[float, float] = Y_RANGE) -> Figure:
    r"""Where a few coloured samples go as the depth sweeps from 0 to full: :math:`y = F_K(x)` against :math:`K`.

    ``steps`` depths :math:`K = 0, \dots, n` evenly spaced (exact rationals). By the definition of fractional depth,
    :math:`F_{m+t}(x) = (1 - t)\,F_m(x) + t\,f_{m+1}(F_m(x)) = (1 - t)\,F_m(x) + t\,F_{m+1}(x)`, so each path is
    straight between integer depths, and it is evaluated that way from ``flow[:m].forward`` (one pass per integer
    depth rather than one set of new layers per step; the test suite checks it against ``flow.truncate(K)``).
    The side panels show the base density (left) and :math:`p_Y` at full depth (right) on the same vertical axis.
    Colours are those of :func:`chapter_figure` (a function of the base position).
    """
    flow = _check_flow(flow6)
    steps = _check_whole(steps, "steps", 2)
    lo, hi = _check_range(y_range)
    x = _base_samples(n_samples, seed)
    colours = sample_colours(x)
    depth = len(flow)
    ks = [Fraction(i * depth, steps - 1) for i in range(steps)]
    integer = np.array([flow[:m].forward(x) for m in range(depth + 1)])  # (depth + 1, n)
    paths = np.empty((steps, len(x)))
    for i, k in enumerate(ks):
        m = min(int(k), depth - 1) if depth else 0
        t = float(k - m)
        paths[i] = integer[m] if t == 0 else (1 - t) * integer[m] + t * integer[m + 1]
    kf = np.array([float(k) for k in ks])
    ys = np.linspace(lo, hi, 801)

    fig = _new_figure(figsize=(9.5, 5.0), layout="constrained")
    left, main, right = fig.subplots(1, 3, sharey=True, gridspec_kw={"width_ratios": [1, 6, 1]})
    from matplotlib import patheffects

    outline = [patheffects.Stroke(linewidth=3.2, foreground=_INK, alpha=0.55), patheffects.Normal()]
    for j in range(len(x)):
        main.plot(kf, paths[:, j], color=colours[j], linewidth=2.0, path_effects=outline)
    main.scatter(np.repeat(np.arange(depth + 1), len(x)), integer.ravel(), c=np.tile(colours, (depth + 1, 1)),
                 s=22, edgecolors=_INK, linewidths=0.4, zorder=3)
    for m in range(1, depth + 1):
        main.axvline(m, color=_INK, alpha=0.15, linewidth=0.8)
    main.set_xticks(range(depth + 1))
    main.set_xlim(-0.1, depth + 0.1)
    main.set_xlabel("depth $K$ (integer depths marked; fractional $K$ takes the next layer partially)")
    main.set_title(f"{len(x)} samples as the depth grows: $y = F_K(x)$ for $K$ from 0 to {depth} in {steps - 1} "
                   "steps\n(colour = base position $x$; straight between integer depths)", fontsize=11)
    main.grid(axis="y", alpha=0.25, linewidth=0.5)
    for ax, flow_at, name, where in ((left, Flow([]), "$p_X$ (K = 0)", x), (right, flow, f"$p_Y$ (K = {depth})",
                                                                          integer[-1])):
        curve = _curve_grid(flow_at, lo, hi, ys.size)
        p = _density(flow_at, curve)
        ax.fill_betweenx(curve, p, color=_FILL, alpha=0.6, linewidth=0)
        ax.plot(p, curve, color=_INK, linewidth=1.2)
        ax.scatter(np.zeros(len(x)), where, c=colours, s=22, edgecolors=_INK, linewidths=0.4, zorder=3,
                   clip_on=False)
        ax.set_xlim(0, 1.1 * float(p.max()))
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
    left.invert_xaxis()
    left.set_ylabel("position $y = F_K(x)$")
    left.set_ylim(lo, hi)
    right.tick_params(labelleft=False)
    return fig


def log_density_terms_figure(flow6: Flow, K: Real | None = None, *, y_range: tuple[float, float] = Y_RANGE,
                             grid: int = 1201) -> Figure:
    r"""The log-density as a sum of one term per layer, along :math:`y`.

    .. math::

        \log p_Y(y) = \log p_X(x) + \sum_{k=1}^{K} \bigl(-\log f_k'(z_{k-1})\bigr), \qquad x = F_K^{-1}(y),
        \quad z_{k-1} = F_{k-1}(x),

    with :math:`x` from ``flow.truncate(K).inverse``, :math:`z_{k-1}` from ``truncated[:k-1].forward(x)``, each
    term from ``truncated[k-1:k].log_det(z_{k-1})`` and :math:`\log p_X` from ``Flow([]).log_prob``. Top: the
    terms stacked on :math:`\log p_X(x)` (each band one layer's term, above the running sum where it raises the
    density, below where it lowers it) ending at ``truncated.log_prob(y)``, drawn on top; the largest difference
    between the stack and ``log_prob`` is printed. Bottom: the terms one by one and their sum :math:`-\log F_K'(x)`.

    Args:
        flow6: the flow at full depth.
        K: the depth (default: all layers); fractional depths end with a partial layer.
    """
    flow = _check_flow(flow6)
    depth, truncated = _full_depth(flow, K)
    lo, hi = _check_range(y_range)
    ys = np.linspace(lo, hi, _check_whole(grid, "grid", 2))
    x = truncated.inverse(ys)
    base = Flow([]).log_prob(x)
    terms = [-truncated[k - 1:k].log_det(truncated[:k - 1].forward(x)) for k in range(1, len(truncated) + 1)]
    total = truncated.log_prob(ys)
    stack = base + np.sum(terms, axis=0) if terms else base
    residual = float(np.max(np.abs(stack - total)))

    import matplotlib

    palette = matplotlib.colormaps["tab10"]
    fig = _new_figure(figsize=(10.5, 6.6), layout="constrained")
    upper, lower = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    upper.plot(ys, base, color="#6b7280", linewidth=1.3, linestyle="--", label="$\\log p_X(x)$, $x = F_K^{-1}(y)$")
    running = base
    for k, term in enumerate(terms, start=1):
        colour = palette((k - 1) % 10)
        upper.fill_between(ys, running, running + term, color=colour, alpha=0.35, linewidth=0)
        running = running + term
        if k < len(terms):
            upper.plot(ys, running, color=colour, linewidth=0.9)
        partial = k == len(truncated) and truncated[k - 1] != flow[k - 1]
        lower.plot(ys, term, color=colour, linewidth=1.3, label=_term_label(k, partial))
    upper.plot(ys, total, color="black", linewidth=1.7, label="$\\log p_Y(y)$ (log_prob)")
    upper.set_ylabel("log density")
    head, _, words = depth_label(depth).partition(": ")
    upper.set_title(f"{head} ({words}): $\\log p_Y(y) = \\log p_X(x) - {{\\sum}}_k \\log f_k'(z_{{k-1}})$, "
                    "one band per layer\n"
                    f"largest |stacked terms $-$ log_prob| = {residual:.2g}", fontsize=11)
    upper.grid(alpha=0.25, linewidth=0.5)
    if terms:
        lower.plot(ys, np.sum(terms, axis=0), color="black", linewidth=1.2, linestyle="--",
                   label="sum $= -\\log F_K'(x)$")
    lower.axhline(0.0, color=_INK, linewidth=0.6)
    lower.set_ylabel("per-layer term")
    lower.set_xlabel("$y$")
    lower.set_xlim(lo, hi)
    lower.grid(alpha=0.25, linewidth=0.5)
    handles, labels = upper.get_legend_handles_labels()
    more_handles, more_labels = lower.get_legend_handles_labels()
    fig.legend(handles + more_handles, labels + more_labels, loc="outside right center", fontsize=8.5,
               title="bands and lines share colours", title_fontsize=8.5, frameon=False)
    return fig


def _term_label(k: int, partial: bool) -> str:
    return f"$-\\log f_{{{k}}}'(z_{{{k - 1}}})$" + (" (partial)" if partial else "")


@dataclass(frozen=True)
class HistogramCheck:
    r"""A histogram of ``n`` samples against the exact bin probabilities :math:`P_i = P(a_i < Y \le b_i)`.

    Each bin's standardised difference is :math:`z_i = (c_i - n P_i) / \sqrt{n P_i (1 - P_i)}`, the count
    :math:`c_i` against its binomial mean in units of its binomial standard error; equivalently the histogram
    density :math:`c_i / (n w)` against the exact bin average :math:`P_i / w` of :math:`p_Y`. Bins with fewer
    than ``min_expected`` expected counts (the far tails, where the normal approximation fails) are not tested.
    """

    edges: np.ndarray
    counts: np.ndarray
    probabilities: np.ndarray
    n: int
    min_expected: float

    @property
    def widths(self) -> np.ndarray:
        return np.diff(self.edges)

    @property
    def density(self) -> np.ndarray:
        """The histogram as a density, :math:`c_i / (n w_i)` (out-of-range samples count in :math:`n`)."""
        return self.counts / (self.n * self.widths)

    @property
    def exact_density(self) -> np.ndarray:
        """The exact bin averages of :math:`p_Y`, :math:`P_i / w_i`."""
        return self.probabilities / self.widths

    @property
    def tested(self) -> np.ndarray:
        """Which bins are tested: :math:`n P_i \\ge` ``min_expected``."""
        return self.n * self.probabilities >= self.min_expected

    @property
    def z(self) -> np.ndarray:
        """:math:`z_i` for the tested bins, NaN for the others."""
        p = self.probabilities
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (self.counts - self.n * p) / np.sqrt(self.n * p * (1 - p))
        return np.where(self.tested, z, np.nan)

    @property
    def max_z(self) -> float:
        """:math:`\\max_i |z_i|` over the tested bins (0 if none)."""
        z = np.abs(self.z[self.tested])
        return float(z.max()) if z.size else 0.0

    @property
    def passed(self) -> bool:
        return self.max_z < Z_LIMIT


def histogram_check(flow6: Flow, K: Real | None = None, n: int = 100_000, seed: Any = 0, bins: int = 200, *,
                    y_range: tuple[float, float] = Y_RANGE, min_expected: float = 10.0) -> HistogramCheck:
    """Histogram ``flow.truncate(K).sample(n, seed=seed)`` in ``bins`` equal bins over ``y_range`` and compare with
    the exact bin probabilities ``diff(truncated.cdf(edges))``; see :class:`HistogramCheck`."""
    flow = _check_flow(flow6)
    _, truncated = _full_depth(flow, K)
    lo, hi = _check_range(y_range)
    edges = np.linspace(lo, hi, _check_whole(bins, "bins", 1) + 1)
    samples = truncated.sample(n, seed=seed)
    counts = np.histogram(samples, bins=edges)[0]
    probabilities = np.clip(np.diff(truncated.cdf(edges)), 0.0, 1.0)
    return HistogramCheck(edges, counts, probabilities, int(n), float(min_expected))


def histogram_figure(flow6: Flow, K: Real | None = None, n: int = 100_000, seed: Any = 0, bins: int = 200, *,
                     y_range: tuple[float, float] = Y_RANGE) -> Figure:
    r"""A histogram of ``n`` pushed-through samples over the exact :math:`p_Y`, with the check in the title.

    Top: the histogram as a density, :math:`c_i / (n w)`, and :math:`p_Y = \exp(\texttt{log\_prob})`; the title
    gives :math:`\max_i |z_i|` (:class:`HistogramCheck`), the largest gap between histogram and exact bin average
    in binomial standard errors, and whether it is below :data:`Z_LIMIT`. Bottom: every :math:`z_i`.
    """
    flow = _check_flow(flow6)
    depth, truncated = _full_depth(flow, K)
    check = histogram_check(flow, depth, n, seed, bins, y_range=y_range)
    lo, hi = _check_range(y_range)
    ys = np.linspace(lo, hi, 1601)

    fig = _new_figure(figsize=(9.5, 6.0), layout="constrained")
    upper, lower = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    upper.stairs(check.density, check.edges, fill=True, color=_HIST, label=f"histogram of {check.n:,} samples")
    upper.stairs(check.exact_density, check.edges, color="#1d4ed8", linewidth=0.6, alpha=0.8,
                 label="exact bin averages $P_i / w$")
    curve = _curve_grid(truncated, lo, hi, ys.size)
    upper.plot(curve, _density(truncated, curve), color="black", linewidth=1.2, label="exact $p_Y(y)$")
    upper.set_ylabel("density")
    upper.set_ylim(bottom=0)
    upper.legend(fontsize=8, loc="upper right")
    upper.grid(alpha=0.25, linewidth=0.5)
    verdict = f"below {Z_LIMIT:g}: consistent" if check.passed else f"NOT below {Z_LIMIT:g}: INCONSISTENT"
    head, _, words = depth_label(depth).partition(": ")
    upper.set_title(f"{head} ({words}): {check.n:,} samples of $F_K(X)$ against the exact density\n"
                    f"largest |histogram \N{MINUS SIGN} exact bin average| = {check.max_z:.2f} binomial standard "
                    f"errors ({verdict}; over {int(check.tested.sum())} of {len(check.counts)} bins)", fontsize=11)
    centres = 0.5 * (check.edges[1:] + check.edges[:-1])
    lower.bar(centres, np.nan_to_num(check.z), width=check.widths, color=_HIST, edgecolor="#1d4ed8",
              linewidth=0.3)
    for level, style in ((2.0, ":"), (Z_LIMIT, "--")):
        for sign in (1, -1):
            lower.axhline(sign * level, color=_INK, linewidth=0.7, linestyle=style)
    for start, stop in _runs(~check.tested):
        left, right = max(check.edges[start], lo), min(check.edges[stop], hi)
        lower.axvspan(left, right, color="#e5e7eb", linewidth=0, zorder=0)
        if right - left > 0.06 * (hi - lo):
            lower.text(0.5 * (left + right), 0.0, f"not tested\n< {check.min_expected:g} expected", fontsize=7.5,
                       ha="center", va="center", color="#4b5563")
    lower.set_ylim(-1.15 * max(Z_LIMIT, check.max_z), 1.15 * max(Z_LIMIT, check.max_z))
    lower.set_ylabel("$z_i$ (std. errors)")
    lower.set_xlabel("$y$")
    lower.set_xlim(lo, hi)
    return fig


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[(start, stop)]`` of the runs of True in ``mask`` (``stop`` exclusive)."""
    padded = np.concatenate([[False], mask, [False]]).astype(int)
    change = np.flatnonzero(np.diff(padded))
    return list(zip(change[::2].tolist(), change[1::2].tolist(), strict=True))


# -- writing ---------------------------------------------------------------------------------------------------
def write_figures(flow6: Flow, outdir: str | os.PathLike[str], depths: Iterable[Real] | None = None,
                  dpi: float = 110, fmt: str = "png", progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write the four figures (:data:`FIGURE_NAMES`: ``chapter``, ``sample_paths``, ``log_density_terms``,
    ``histogram``, each ``.{fmt}``) into ``outdir`` and return their paths.

    All or nothing: every figure is first rendered to a hidden temporary file in ``outdir`` (``.name.fmt.XXXX.tmp``,
    flushed and synced), and only when all four are rendered is each moved into place with :func:`os.replace`
    (atomic on one file system). On any error or interruption the temporary files are removed, existing figures are
    left as they were, and a directory this call created is removed again if it stayed empty. Arguments are checked
    before anything is created: ``outdir`` that exists and is not a directory raises ``ValueError``; bad depths
    raise the library's ``TypeError``/``ValueError``. Prints nothing; ``progress`` is called with each written path
    (as a string) once it is in place.

    Args:
        flow6: the flow at full depth.
        outdir: the directory (created with its parents if missing).
        depths: the columns of the chapter figure (default: :func:`default_depths`).
        dpi: resolution for raster formats.
        fmt: ``"png"``, ``"svg"`` or ``"pdf"``.
        progress: called with each written path.
    """
    flow = _check_flow(flow6)
    depth_list = [depth for depth, _ in _depth_list(flow, default_depths(flow) if depths is None else depths)]
    if not isinstance(fmt, str) or fmt.lower().lstrip(".") not in _FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(_FORMATS)}, got {fmt!r}")
    fmt = fmt.lower().lstrip(".")
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float, np.integer, np.floating)):
        raise TypeError(f"dpi must be a number, got {type(dpi).__name__} {dpi!r}")
    if not (np.isfinite(dpi) and dpi > 0):
        raise ValueError(f"dpi must be a positive number, got {dpi!r}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable taking a path, got {type(progress).__name__}")
    if not isinstance(outdir, (str, os.PathLike)):
        raise TypeError(f"outdir must be a path, got {type(outdir).__name__} {outdir!r}")
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"outdir {str(out)!r} exists and is not a directory")
    builders: list[tuple[str, Callable[[], Figure]]] = [
        ("chapter", lambda: chapter_figure(flow, depth_list)),
        ("sample_paths", lambda: sample_paths_figure(flow)),
        ("log_density_terms", lambda: log_density_terms_figure(flow)),
        ("histogram", lambda: histogram_figure(flow)),
    ]
    created = _make_directory(out)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, build in builders:
            target = out / f"{name}.{fmt}"
            staged.append((_save_temporary(build(), target, float(dpi), fmt), target))
        for temporary, target in staged:
            os.replace(temporary, target)
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        for directory in reversed(created):
            try:
                directory.rmdir()
            except OSError:
                break
        raise
    written = [target for _, target in staged]
    if progress is not None:
        for path in written:
            progress(str(path))
    return written


def _make_directory(path: Path) -> list[Path]:
    """``mkdir -p path``; returns the directories it created, outermost first."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    path.mkdir(parents=True, exist_ok=True)
    return list(reversed(missing))


def _save_temporary(fig: Figure, target: Path, dpi: float, fmt: str) -> Path:
    """Save ``fig`` to a new hidden file beside ``target`` (permissions as for any new file) and return its path;
    the file is removed if saving fails."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            fig.savefig(handle, format=fmt, dpi=dpi)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary
