r"""The chapter's claims about its flow, as measured statements that hold or do not.

Each :class:`Claim` quotes the chapter's ``words``, says in ``statement`` what was measured and against which
threshold, and records whether it ``holds`` with the ``evidence``. Mode counts come from
:func:`flowproof.modes.find_modes` (every strict local maximum of :math:`p_Y`, certified complete). Some maxima
are tiny (at :math:`K = 6` several are below 1% of the tallest; at :math:`K = 4` two maxima are separated by a
dip of under 2%), so every count is given twice: *raw* (all strict local maxima) and *counted* (relative
prominence at least ``threshold``, default 1% of the tallest peak). A claim that does not hold for the
chapter's phases is reported with ``holds=False``: that is a measurement, not an error.

Measured, with the chapter's words (``[f']`` marks mathematics lost from the chapter's text):

* K = 0: the composition is the identity (SymPy) and :math:`p_Y = p_X` (float64 exactly, mpmath to ``dps``).
* K = 1: "bimodal": exactly 2 counted modes; "peaks where that single layer's [f'] is small": every counted
  mode's :math:`x^*` is within a quarter period :math:`\pi / (2|w|)` of a local minimum of :math:`f_1'` (for a
  sine ripple, equivalently :math:`f_1'(x^*) \le 1`: the lower half of the ripple).
* K = 3: "multiple peaks": at least 3 counted modes; "aren't at the simple locations from one layer alone":
  every counted mode is more than :data:`POSITION_TOL` from every counted :math:`K = 1` mode, in y.
* K = 6: "half a dozen peaks": 5 to 7 counted modes; "of varying height": tallest over shortest counted
  height at least :data:`VARYING_RATIO`; "No layer alone could produce this": each layer alone has fewer raw
  modes than the full flow.
* "The composed inverse is K sequential root-finds": ``len(flow.inverse(y, dps).layer_steps)`` equals the number
  of layers (:math:`K`, or :math:`\lceil K \rceil` with a partial layer) at every depth and a few y.
* "a perfectly legal flow": the density integrates to one (:func:`flowproof.verify.check_normalisation`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import mpmath
import numpy as np

from . import density, symbolic
from .flow import Flow, chapter_flow
from .inverse import check_dps
from .layers import Layer
from .modes import ModeReport, _slope_functions, find_modes, sine_parameters
from .numeric import layer_functions
from .verify import check_normalisation, default_depths, depth_label

__all__ = ["POSITION_TOL", "VARYING_RATIO", "Claim", "check_claims", "claims_table", "mode_lines"]

#: Two modes at least this far apart in y are "not at the same location".
POSITION_TOL = 0.05
#: "Varying height": the tallest counted peak is at least this many times the shortest.
VARYING_RATIO = 1.5
#: The y at which the inverse and the identity are checked.
SAMPLE_Y = ("-1.5", "0.3", "2")


@dataclass(frozen=True)
class Claim:
    """One claim of the chapter, measured.

    Attributes:
        depth: the depth (or depths) the claim is about, as printed (``"1"``, ``"0, 1, 2.5"``).
        words: the chapter's words.
        statement: what was measured, and by which threshold.
        holds: whether the measurement bears the words out for this flow.
        evidence: the numbers.
    """

    depth: str
    words: str
    statement: str
    holds: bool
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (mpf values as strings)."""
        return _plain(asdict(self))


@lru_cache(maxsize=64)
def _modes(flow: Flow, dps: int) -> ModeReport:
    return find_modes(flow, dps=dps)


def check_claims(flow6: Flow | None = None, threshold: float = 0.01, dps: int = 30) -> list[Claim]:
    """Measure the chapter's claims for ``flow6`` (default: :func:`~flowproof.chapter_flow` ``(6)``).

    Args:
        flow6: the full flow; the claims at depth :math:`K` use ``flow6.truncate(K)``, and a claim about a depth
            beyond ``len(flow6)`` is left out.
        threshold: a mode is *counted* when its relative prominence is at least this.
        dps: digits for the modes and the high-precision inverse.

    Returns:
        The claims, in the chapter's order.

    >>> claims = check_claims()
    >>> [(c.depth, c.holds) for c in claims][:3]
    [('0', True), ('1', True), ('1', True)]
    """
    flow6 = chapter_flow(6) if flow6 is None else flow6
    if not isinstance(flow6, Flow):
        raise TypeError(f"check_claims takes a flowproof.Flow, got {type(flow6).__name__}")
    dps = check_dps(dps)
    threshold = float(threshold)
    n = len(flow6)
    claims = [_identity_claim(flow6, dps)]
    if n >= 1:
        claims += _one_layer_claims(flow6, threshold, dps)
    if n >= 3:
        claims += _three_layer_claims(flow6, threshold, dps)
    if n >= 6:
        claims += _six_layer_claims(flow6, threshold, dps)
    depths = default_depths(n)
    claims.append(_inverse_claim(flow6, depths, dps))
    claims.append(_normalisation_claim(flow6, depths))
    return claims


# -- K = 0 -----------------------------------------------------------------------------------------------------
def _identity_claim(flow6: Flow, dps: int) -> Claim:
    flow = flow6.truncate(0)
    composed = symbolic.composed(flow)
    ys = np.linspace(-5.0, 5.0, 41)
    float_equal = bool(np.array_equal(flow.log_prob(ys), density.normal_log_pdf(ys))
                       and np.array_equal(flow.forward(ys), ys))
    mp_errors = []
    for y in SAMPLE_Y:
        with mpmath.workdps(dps + 10):
            base = density.normal_log_pdf_mp(mpmath.mpf(y))
            mp_errors.append(abs(flow.log_prob(y, dps=dps) - base))
    worst = max(mp_errors)
    report = _modes(flow, dps)
    with mpmath.workdps(dps + 10):
        peak = 1 / mpmath.sqrt(2 * mpmath.pi)
        mode_ok = (len(report.modes) == 1 and report.modes[0].y == 0
                   and abs(report.modes[0].height - peak) <= mpmath.mpf(10) ** -dps * peak)
        mp_ok = worst <= mpmath.mpf(10) ** -dps
    holds = bool(composed == symbolic.X and float_equal and mp_ok and mode_ok)
    return Claim(
        "0", "No layers — the composition is the identity. Output equals input, density equals base.",
        f"SymPy: F_0(x) == x exactly; float64: F_0(y) == y and log p_Y(y) == log p_X(y) exactly at 41 points in "
        f"[-5, 5]; mpmath: |log p_Y(y) - log p_X(y)| <= 1e-{dps} at y = {', '.join(SAMPLE_Y)}; p_Y has one mode, "
        f"at 0, of height 1/sqrt(2 pi) to {dps} digits",
        holds,
        {"composed": str(composed), "float_equal": float_equal, "mp_max_error": worst,
         "modes": [_mode_summary(m) for m in report.modes]})


# -- K = 1 -----------------------------------------------------------------------------------------------------
def _one_layer_claims(flow6: Flow, threshold: float, dps: int) -> list[Claim]:
    report = _modes(flow6.truncate(1), dps)
    counted = report.significant(threshold)
    bimodal = Claim(
        "1", "One layer. Same kind of bimodal output you saw in the previous chapter",
        f"exactly 2 modes with relative prominence >= {threshold:g}: found {len(counted)} (raw count of strict "
        f"local maxima: {len(report.modes)})",
        len(counted) == 2, _count_evidence(report, threshold))
    layer = flow6[0]
    a, w, _ = sine_parameters(layer)
    if a * w == 0:  # f_1' is constant: it has no minima for the peaks to sit at
        return [bimodal, Claim("1", "with peaks where that single layer's [f'] is small",
                               "not applicable: a w = 0, so f_1' is constant and has no minima", False,
                               {"applicable": False})]
    quarter = math.pi / (2 * abs(float(w)))
    rows = []
    for mode in counted:
        x = float(mode.x)
        minimum = _nearest_slope_minimum(layer, x)
        rows.append({"y": float(mode.y), "x": x, "nearest_min_of_f1_slope": minimum, "distance": abs(x - minimum),
                     "f1_slope_at_x": float(_slope_float(layer)(np.array([x]))[0])})
    near = bool(rows) and all(r["distance"] <= quarter for r in rows)
    peaks = Claim(
        "1", "with peaks where that single layer's [f'] is small",
        f"each of the {len(counted)} counted modes has its preimage x* within a quarter period pi/(2|w|) = "
        f"{quarter:.4g} of a local minimum of f_1' (the lower half of the ripple, f_1'(x*) <= 1); distances "
        + ", ".join(f"{r['distance']:.3g}" for r in rows),
        near, {"quarter_period": quarter, "modes": rows})
    return [bimodal, peaks]


def _nearest_slope_minimum(layer: Layer, x: float) -> float:
    r"""The local minimum of :math:`f'` nearest to ``x``: sign changes of :math:`f''` from - to + on
    :math:`x \pm 2\pi/|w|` (one period each side), refined by bisection."""
    _, w, _ = sine_parameters(layer)
    period = 2 * math.pi / abs(float(w))
    curvature = _curvature_float(layer)
    z = np.linspace(x - period, x + period, 4001)
    c = curvature(z)
    starts = np.flatnonzero((c[:-1] < 0) & (c[1:] >= 0))
    lo, hi = z[starts], z[starts + 1]
    for _ in range(60):
        mid = lo + (hi - lo) / 2
        up = curvature(mid) >= 0
        lo, hi = np.where(up, lo, mid), np.where(up, mid, hi)
    minima = (lo + hi) / 2
    return float(minima[np.argmin(np.abs(minima - x))])


def _slope_float(layer: Layer) -> Any:
    """float64 :math:`f'`: the layer's own lambdified kernel."""
    return layer_functions(layer).df


def _curvature_float(layer: Layer) -> Any:
    """float64 :math:`f''`: from the kernel :mod:`flowproof.modes` already builds per layer."""
    kernel = _slope_functions(layer).float_all
    return lambda z: kernel(np.asarray(z, dtype=np.float64))[2]


# -- K = 3 -----------------------------------------------------------------------------------------------------
def _three_layer_claims(flow6: Flow, threshold: float, dps: int) -> list[Claim]:
    report = _modes(flow6.truncate(3), dps)
    counted = report.significant(threshold)
    multiple = Claim(
        "3", "The output density now has multiple peaks",
        f"at least 3 modes with relative prominence >= {threshold:g} ('multiple' read as more than the two of "
        f"K = 1): found {len(counted)} (raw count of strict local maxima: {len(report.modes)}"
        + (f"; the others' relative prominences: {_prominences(report, threshold)})" if report.modes != counted
           else ")"),
        len(counted) >= 3, _count_evidence(report, threshold))
    one = _modes(flow6.truncate(1), dps).significant(threshold)
    alone = {f"layer {k + 1} alone": [float(m.y) for m in _modes(Flow([flow6[k]]), dps).significant(threshold)]
             for k in range(3)}
    distances = [min((abs(float(m.y) - float(o.y)) for o in one), default=math.inf) for m in counted]
    raw_distances = [min((abs(float(m.y) - float(o.y)) for o in one), default=math.inf) for m in report.modes]
    elsewhere = Claim(
        "3", "that aren't at the simple locations from one layer alone",
        f"every counted K = 3 mode is more than {POSITION_TOL:g} in y from every counted K = 1 mode; nearest "
        "distances " + ", ".join(f"{d:.3g}" for d in distances),
        bool(counted) and all(d > POSITION_TOL for d in distances),
        {"k3_counted_y": [float(m.y) for m in counted], "k1_counted_y": [float(o.y) for o in one],
         "distances": distances, "raw_k3_y": [float(m.y) for m in report.modes], "raw_distances": raw_distances,
         "single_layer_counted_y": alone})
    return [multiple, elsewhere]


# -- K = 6 -----------------------------------------------------------------------------------------------------
def _six_layer_claims(flow6: Flow, threshold: float, dps: int) -> list[Claim]:
    report = _modes(flow6.truncate(6), dps)
    counted = report.significant(threshold)
    by_height = [m for m in report.modes if m.relative_height >= threshold]
    dense = Claim(
        "6", "The output is densely multimodal: half a dozen peaks",
        f"5 to 7 modes with relative prominence >= {threshold:g}: found {len(counted)} (raw count of strict local "
        f"maxima: {len(report.modes)}; with relative height >= {threshold:g} instead: {len(by_height)})",
        5 <= len(counted) <= 7, {**_count_evidence(report, threshold), "count_by_height": len(by_height)})
    heights = [float(m.height) for m in counted]
    ratio = max(heights) / min(heights) if len(heights) >= 2 else 1.0
    raw_heights = [float(m.height) for m in report.modes]
    varying = Claim(
        "6", "of varying height",
        f"tallest / shortest counted mode height >= {VARYING_RATIO:g}: {ratio:.3g} over {len(heights)} counted "
        f"modes (over all {len(raw_heights)} raw modes: {max(raw_heights) / min(raw_heights):.3g})",
        len(heights) >= 2 and ratio >= VARYING_RATIO,
        {"ratio": ratio, "counted_heights": heights, "raw_heights": raw_heights})
    single = {f"layer {k + 1} alone": len(_modes(Flow([flow6[k]]), dps).modes) for k in range(6)}
    alone = Claim(
        "6", "No layer alone could produce this; all six together can.",
        f"each of the 6 layers alone has fewer raw modes than the full flow's {len(report.modes)}: "
        f"at most {max(single.values())}",
        max(single.values()) < len(report.modes), {"raw_modes_single_layer": single,
                                                    "raw_modes_full": len(report.modes)})
    return [dense, varying, alone]


# -- every depth -----------------------------------------------------------------------------------------------
def _inverse_claim(flow6: Flow, depths: list[Any], dps: int) -> Claim:
    rows = {}
    holds = True
    for depth in depths:
        flow = flow6.truncate(depth)
        steps = [list(flow.inverse(y, dps=dps).layer_steps) for y in SAMPLE_Y]
        ok = all(len(s) == len(flow) for s in steps)
        holds = holds and ok
        rows[depth_label(depth)] = {"layers": len(flow), "layer_steps": steps, "ok": ok}
    return Claim(
        _depths_label(depths), "The composed inverse is K sequential root-finds",
        f"flow.inverse(y, dps={dps}) makes one root find per layer, in sequence: len(layer_steps) == number of "
        f"layers (K, or ceil(K) with a partial layer) at y = {', '.join(SAMPLE_Y)}",
        holds, rows)


def _normalisation_claim(flow6: Flow, depths: list[Any]) -> Claim:
    rows = {}
    for depth in depths:
        check = check_normalisation(flow6.truncate(depth))
        rows[depth_label(depth)] = {"passed": check.passed, "integral": check.evidence.get("integral"),
                                    "tolerance": check.evidence.get("tolerance")}
    worst = max(abs(r["integral"] - 1.0) for r in rows.values() if r["integral"] is not None)
    return Claim(
        _depths_label(depths), "a perfectly legal flow, and we can apply the change-of-variables formula to it",
        f"the density p_Y integrates to one at every depth: verify.check_normalisation (tolerance 1e-12 plus the "
        f"float64 rounding budget); worst |integral - 1| = {worst:.1e}",
        all(r["passed"] for r in rows.values()), rows)


# -- printing --------------------------------------------------------------------------------------------------
def claims_table(claims: list[Claim]) -> str:
    """The claims as a plain-text table: depth, HOLDS / DOES NOT HOLD, the words, then what was measured."""
    width = max((len(c.depth) for c in claims), default=1)
    lines = [f"{'K'.ljust(width)}  {'verdict':<13}  the chapter's words / what was measured"]
    for c in claims:
        verdict = "HOLDS" if c.holds else "DOES NOT HOLD"
        lines.append(f"{c.depth.ljust(width)}  {verdict:<13}  \"{c.words}\"")
        lines.append(f"{' ' * width}  {'':<13}  {c.statement}")
    return "\n".join(lines)


def mode_records(flow6: Flow, depths: Any = None, threshold: float = 0.01, dps: int = 30) -> list[dict[str, Any]]:
    """Per depth: every mode (y, x, height, relative height and prominence, whether it is counted at
    ``threshold``), or the reason the modes could not be certified (``"error"``). JSON-friendly."""
    depths = default_depths(len(flow6)) if depths is None else depths
    records = []
    for depth in depths:
        record: dict[str, Any] = {"depth": depth_label(depth), "threshold": float(threshold)}
        try:
            report = _modes(flow6.truncate(depth), check_dps(dps))
        except ArithmeticError as err:
            record["error"] = str(err)
        else:
            counted = report.significant(threshold)
            record["modes"] = [{**_mode_summary(m), "counted": m in counted} for m in report.modes]
        records.append(record)
    return records


def mode_lines(flow6: Flow, depths: Any = None, threshold: float = 0.01, dps: int = 30) -> list[str]:
    """One line per depth: K, the raw mode count, the count with relative prominence >= ``threshold``, and the
    modes' y with their relative heights (counted modes first, then the less prominent ones).

    >>> print(mode_lines(chapter_flow(1), [1])[0])
    K = 1: 2 modes, 2 with relative prominence >= 0.01: y = -1.6163 (relative height 0.669), 1.3449 (1)
    """
    lines = []
    for record in mode_records(flow6, depths, threshold, dps):
        if "error" in record:
            lines.append(f"K = {record['depth']}: modes not certified: {record['error']}")
            continue
        modes = record["modes"]
        counted = [m for m in modes if m["counted"]]
        below = [m for m in modes if not m["counted"]]
        line = (f"K = {record['depth']}: {len(modes)} mode{'s' if len(modes) != 1 else ''}, "
                f"{len(counted)} with relative prominence >= {threshold:g}")
        if counted:
            line += ": y = " + ", ".join(
                f"{m['y']:.4f} ({'relative height ' if i == 0 else ''}{m['relative_height']:.3g})"
                for i, m in enumerate(counted))
        if below:
            line += "; less prominent: " + ", ".join(f"{m['y']:.4f} ({m['relative_height']:.3g})" for m in below)
        lines.append(line)
    return lines


def _depths_label(depths: list[Any]) -> str:
    """``0..6, 2.5`` for the default depths, else the depths joined."""
    labels = [depth_label(d) for d in depths]
    whole = [str(k) for k in range(len(labels))]
    if len(labels) > 3 and labels[:len(labels) - 1] == whole[:len(labels) - 1]:
        return f"0..{len(labels) - 2}, {labels[-1]}"
    return ", ".join(labels)


def _prominences(report: ModeReport, threshold: float) -> str:
    return ", ".join(mpmath.nstr(m.relative_prominence, 2) for m in report.modes if m.relative_prominence < threshold)


def _count_evidence(report: ModeReport, threshold: float) -> dict[str, Any]:
    return {"raw_count": len(report.modes), "counted": report.count(threshold), "threshold": threshold,
            "modes": [_mode_summary(m) for m in report.modes], "search_range_x": list(report.search_range),
            "intervals_checked": report.intervals_checked}


def _mode_summary(mode: Any) -> dict[str, float]:
    return {"y": float(mode.y), "x": float(mode.x), "height": float(mode.height),
            "relative_height": float(mode.relative_height), "relative_prominence": float(mode.relative_prominence)}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, mpmath.mpf):
        return mpmath.nstr(value, 20)
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value
