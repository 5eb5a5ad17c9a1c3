"""flowproof.modes: every mode of p_Y, against an independent plain-numpy search written here from the formula.

The reference (``reference_critical_points``) knows only the chapter's formula, f_k(z) = z + a sin(w z + phi_k),
a = 0.32, w = 2, phases 0.3, 1.1, 2.0, 2.9, 4.1, 5.3 (a partial layer K = n + t has amplitude t a). It evaluates
L(x) = log p_X(x) - log F'(x) = log p_Y(F(x)) on a fine x grid over the whole range where a critical point can be
(|x| <= B_hand, the textbook bound |(log f')'| <= a w^2 / (1 - a w), f' <= 1 + a w, derived by hand below), takes
the grid's local maxima and minima, and refines each by bisection on a central-difference derivative of L. Modes
of p_Y are the images of the maxima of L since F is increasing.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from functools import cache

import mpmath
import numpy as np
import pytest
import sympy as sp
from broken_layers import NotIncreasing

from flowproof import Flow, PartialLayer, SineLayer, chapter_flow
from flowproof import modes as M

A, W = 0.32, 2.0
PHASES = (0.3, 1.1, 2.0, 2.9, 4.1, 5.3)
DEPTHS = (0, 1, 2, "2.5", 3, 4, 5, 6)
GRID_STEP = 2e-4
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


# ---------------------------------------------------------------------------------------------------------------
# the independent reference
# ---------------------------------------------------------------------------------------------------------------


def chapter_layers(K):
    """[(amplitude, phase)] for depth K (int or decimal string), from the chapter's constants."""
    k = Fraction(str(K))
    full = math.floor(k)
    layers = [(A, PHASES[i]) for i in range(full)]
    if k - full:
        layers.append((float(k - full) * A, PHASES[full]))
    return layers


def ref_forward_and_L(x, layers):
    """(F(x), L(x)) for an array x: L = -x^2/2 - log sqrt(2 pi) - sum_k log(1 + a w cos(w z_{k-1} + phi_k))."""
    z = np.array(x, dtype=float)
    log_det = np.zeros_like(z)
    for a, phi in layers:
        u = W * z + phi
        log_det += np.log1p(a * W * np.cos(u))
        z = z + a * np.sin(u)
    return z, -0.5 * x * x - HALF_LOG_2PI - log_det


def hand_bound(layers):
    """sum_k sup|(log f_k')'| prod_{j<k} sup f_j', with sup|(log f')'| <= a w^2/(1 - a w) and f' <= 1 + a w."""
    total, product = 0.0, 1.0
    for a, _ in layers:
        total += a * W * W / (1 - a * W) * product
        product *= 1 + a * W
    return total


def _refine(xl, xr, layers, want_max):
    """Bisection on the central-difference derivative of L, vectorised over brackets."""
    h = 1e-5

    def dL(x):
        return (ref_forward_and_L(x + h, layers)[1] - ref_forward_and_L(x - h, layers)[1]) / (2 * h)

    for _ in range(45):
        mid = 0.5 * (xl + xr)
        d = dL(mid)
        go_right = d > 0 if want_max else d < 0
        xl, xr = np.where(go_right, mid, xl), np.where(go_right, xr, mid)
    return 0.5 * (xl + xr)


@cache
def reference_critical_points(layers):
    """Sorted (x, y, L, kind) of every critical point of p_Y, and the hand bound used for the search range."""
    layers = tuple(layers)
    bound = hand_bound(layers) + 0.5
    x = np.arange(-bound, bound + GRID_STEP, GRID_STEP)
    _, L = ref_forward_and_L(x, layers)
    inner = np.arange(1, x.size - 1)
    is_max = (L[inner] > L[inner - 1]) & (L[inner] >= L[inner + 1])
    is_min = (L[inner] < L[inner - 1]) & (L[inner] <= L[inner + 1])
    out = []
    for mask, kind in ((is_max, "max"), (is_min, "min")):
        i = inner[mask]
        xs = _refine(x[i - 1], x[i + 1], layers, kind == "max")
        ys, Ls = ref_forward_and_L(xs, layers)
        out += [(float(a), float(b), float(c), kind) for a, b, c in zip(xs, ys, Ls)]
    return sorted(out), bound


def reference_modes(layers):
    """[(y, x, height, relative_height, relative_prominence)] by the 1D definition, written out here."""
    points, _ = reference_critical_points(tuple(layers))
    heights = [math.exp(p[2]) for p in points]
    peaks = [i for i, p in enumerate(points) if p[3] == "max"]
    tallest = max(heights[i] for i in peaks)
    result = []
    for i in peaks:
        cols = []
        for step in (-1, 1):
            j, col = i + step, heights[i]
            while 0 <= j < len(points) and not (points[j][3] == "max" and heights[j] >= heights[i] * (1 - 1e-12)):
                col = min(col, heights[j])
                j += step
            cols.append(0.0 if not 0 <= j < len(points) else col)
        result.append((points[i][1], points[i][0], heights[i], heights[i] / tallest,
                       (heights[i] - max(cols)) / tallest))
    return result


@cache
def found(K, dps=30):
    return M.find_modes(chapter_flow(K), dps=dps)


# ---------------------------------------------------------------------------------------------------------------
# against the reference
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("K", DEPTHS)
def test_every_mode_matches_independent_fine_grid_search(K):
    ref = reference_modes(chapter_layers(K))
    report = found(K)
    assert len(report.modes) == len(ref), ([float(m.y) for m in report.modes], [r[0] for r in ref])
    for mode, (y, x, height, rel_height, rel_prom) in zip(report.modes, ref):
        assert abs(float(mode.y) - y) < 1e-6
        assert abs(float(mode.x) - x) < 1e-6
        assert abs(float(mode.height) / height - 1) < 1e-8
        assert abs(float(mode.relative_height) - rel_height) < 1e-8
        assert abs(float(mode.relative_prominence) - rel_prom) < 1e-7


@pytest.mark.parametrize("K", DEPTHS)
def test_every_minimum_matches_reference(K):
    points, _ = reference_critical_points(tuple(chapter_layers(K)))
    minima = [p for p in points if p[3] == "min"]
    report = found(K)
    assert len(report.minima) == len(minima)
    for point, (x, y, L, _) in zip(report.minima, minima):
        assert point.kind == "min"
        assert abs(float(point.x) - x) < 1e-6 and abs(float(point.y) - y) < 1e-6
        assert abs(float(point.log_density) - L) < 1e-8


def test_the_tiny_k6_maxima_are_found():
    ref = reference_modes(chapter_layers(6))
    tiny_ref = [r for r in ref if r[3] < 0.01]
    assert len(ref) == 8 and len(tiny_ref) >= 3  # 2.6112 (0.0076) and the two tail modes
    tiny = [m for m in found(6).modes if m.relative_height < 0.01]
    assert len(tiny) == len(tiny_ref)
    assert min(float(m.relative_height) for m in tiny) < 1e-7  # the y = 5.16 tail mode, 4e-8 of the tallest


def test_the_close_k4_pair_is_found_as_two_modes():
    points, _ = reference_critical_points(tuple(chapter_layers(4)))
    # the two maxima near y = 3.3 and 3.4 and the minimum between them
    near = [p for p in points if 3.2 < p[1] < 3.5]
    assert [p[3] for p in near] == ["max", "min", "max"]
    lower = min(math.exp(near[0][2]), math.exp(near[2][2]))
    dip = (lower - math.exp(near[1][2])) / lower
    assert 0 < dip < 0.02
    pair = [m for m in found(4).modes if 3.2 < m.y < 3.5]
    assert len(pair) == 2
    assert abs(float(pair[0].y) - near[0][1]) < 1e-6 and abs(float(pair[1].y) - near[2][1]) < 1e-6


# ---------------------------------------------------------------------------------------------------------------
# hand-derived facts
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dps", [15, 30, 60])
def test_depth_zero_has_one_mode_at_zero_of_height_one_over_sqrt_2pi(dps):
    report = M.find_modes(chapter_flow(0), dps=dps)
    assert len(report.modes) == 1 and report.minima == ()
    (mode,) = report.modes
    with mpmath.workdps(dps + 10):
        assert mode.y == 0 and mode.x == 0
        assert abs(mode.height - 1 / mpmath.sqrt(2 * mpmath.pi)) <= mpmath.mpf(10) ** -dps
    assert mode.relative_height == 1 and mode.relative_prominence == 1
    assert report.search_range == (0.0, 0.0)


def test_one_layer_with_phase_zero_is_symmetric():
    """f(-z) = -f(z) when phi = 0, so p_Y is even: its modes come in pairs y, -y of equal height."""
    report = M.find_modes(Flow([SineLayer("0.32", 2, 0)]), dps=40)
    ys = [m.y for m in report.modes]
    assert len(ys) % 2 == 0 and len(ys) >= 2
    with mpmath.workdps(40):
        for m, other in zip(report.modes, reversed(report.modes)):
            assert abs(m.y + other.y) <= mpmath.mpf(10) ** -35
            assert abs(m.height - other.height) <= mpmath.mpf(10) ** -35 * m.height
            assert m.y != 0
    # equally high peaks count as "higher" for each other: the same prominence for both
    assert report.modes[0].relative_prominence == report.modes[-1].relative_prominence < 1


@pytest.mark.parametrize("dps", [20, 50, 100])
def test_brackets_are_sign_changes_of_an_independent_mpmath_derivative(dps):
    """At each reported bracket, L'(x) written here in plain mpmath from the formula changes sign the right way."""
    report = found(3, dps)

    def slope(x):
        z, product, total = x, mpmath.mpf(1), mpmath.mpf(0)
        for phase in (Fraction(3, 10), Fraction(11, 10), Fraction(2)):
            a, w, phi = mpmath.mpf(8) / 25, mpmath.mpf(2), mpmath.mpf(phase.numerator) / phase.denominator
            u = w * z + phi
            total += -a * w * w * mpmath.sin(u) / (1 + a * w * mpmath.cos(u)) * product
            product *= 1 + a * w * mpmath.cos(u)
            z += a * mpmath.sin(u)
        return -x - total

    with mpmath.workdps(dps + 20):
        for p in report.critical_points:
            lo, hi = p.bracket
            assert lo <= p.x <= hi
            assert hi - lo <= mpmath.mpf(10) ** -dps * max(1, abs(p.x)) * (1 + mpmath.mpf(10) ** -10)
            left, right = slope(lo), slope(hi)
            assert (left > 0 > right) if p.kind == "max" else (left < 0 < right)
            assert p.y_bracket[0] <= p.y <= p.y_bracket[1]


def test_mode_values_agree_across_precisions():
    low, high = found(6, 30), found(6, 80)
    with mpmath.workdps(90):
        for a, b in zip(low.modes, high.modes):
            assert abs(a.y - b.y) <= mpmath.mpf(10) ** -29 * max(1, abs(b.y))
            assert abs(a.height - b.height) <= mpmath.mpf(10) ** -29 * b.height


# ---------------------------------------------------------------------------------------------------------------
# the bounds that make the search complete
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("a, w", [(0.32, 2.0), (-0.45, 2.0), (0.05, 3.0), (0.3, -3.0), (0.99, 1.0), (0.2, 1.0)])
def test_layer_bounds_are_the_suprema(a, w):
    """sup |(log f')'| and sup |(log f')''| are attained (to grid accuracy); the rest are upper bounds."""
    bounds = M.layer_bounds(SineLayer(a, w, "0.7"))
    c = a * w
    u = np.linspace(0, 2 * np.pi, 2_000_001)
    dlog = np.abs(c * w * np.sin(u) / (1 + c * np.cos(u)))
    d2log = np.abs(c * w * w * (c + np.cos(u)) / (1 + c * np.cos(u)) ** 2)
    for value, exact in ((dlog.max(), bounds.dlog), (d2log.max(), bounds.d2log)):
        assert value <= float(exact) * (1 + 1e-12)
        assert value >= float(exact) * (1 - 1e-6)
    # (log f')''' by central differences of (log f')'' on the grid
    d3 = np.abs(np.gradient(c * w * w * (c + np.cos(u)) / (1 + c * np.cos(u)) ** 2, u)) * abs(w)
    assert d3.max() <= float(bounds.d3log)
    assert float(bounds.df) == pytest.approx(1 + abs(c))


def test_partial_sine_layer_has_the_bounds_and_modes_of_the_sine_layer_with_t_times_the_amplitude():
    partial = PartialLayer(SineLayer("0.32", 2, "2"), sp.Rational(1, 2))
    assert M.layer_bounds(partial) == M.layer_bounds(SineLayer("0.16", 2, "2"))
    a = M.find_modes(Flow([SineLayer("0.32", 2, "0.3"), SineLayer("0.32", 2, "1.1"), partial]))
    b = found("2.5")
    assert [mpmath.nstr(m.y, 25) for m in a.modes] == [mpmath.nstr(m.y, 25) for m in b.modes]


@pytest.mark.parametrize("K", [1, 3, 6])
def test_flow_bounds_hold_on_a_fine_grid(K):
    """|(log F')'| <= B and |L''| <= M, with L'' by central differences of the reference's L."""
    layers = chapter_layers(K)
    bounds = M.flow_bounds(chapter_flow(K))
    x = np.linspace(-8, 8, 400_001)
    _, L = ref_forward_and_L(x, layers)
    d1 = np.gradient(L, x)
    d2 = np.gradient(d1, x)
    assert np.abs(d1 + x).max() <= float(bounds.slope)
    assert np.abs(d2[2:-2]).max() <= float(bounds.curvature) * (1 + 1e-5)  # M is attained at K = 1
    assert float(bounds.slope) <= hand_bound(layers)  # the library's bound is the tighter one


def test_every_critical_point_lies_in_the_search_range_and_they_alternate():
    report = found(6)
    lo, hi = report.search_range
    assert report.scanned[0] <= lo and hi <= report.scanned[1]
    kinds = [p.kind for p in report.critical_points]
    assert kinds[0] == kinds[-1] == "max"
    assert all(k1 != k2 for k1, k2 in zip(kinds, kinds[1:]))
    assert all(lo <= p.x <= hi for p in report.critical_points)
    assert [m.y for m in report.modes] == sorted(m.y for m in report.modes)
    assert report.intervals_checked == report.root_free + report.monotone > 1000
    assert report.float_error < 0.01
    assert "root-free" in report.certificate and "monotone" in report.certificate
    assert max(m.relative_height for m in report.modes) == 1


# ---------------------------------------------------------------------------------------------------------------
# errors, precision and speed
# ---------------------------------------------------------------------------------------------------------------


def test_layer_without_known_bounds_is_rejected():
    with pytest.raises(TypeError, match="SineLayer"):
        M.find_modes(Flow([NotIncreasing()]))
    with pytest.raises(TypeError, match="Flow"):
        M.find_modes([SineLayer()])


def test_mpmath_precision_is_unchanged():
    before = mpmath.mp.prec
    M.find_modes(chapter_flow(2), dps=70)
    M.log_density_derivatives(chapter_flow(2), "0.5", dps=40)
    assert mpmath.mp.prec == before


def test_log_density_derivatives_float_and_mp_agree_with_the_reference():
    x = np.linspace(-3, 3, 13)
    d1, d2 = M.log_density_derivatives(chapter_flow(6), x)
    _, L = ref_forward_and_L(x, chapter_layers(6))
    h = 1e-4
    ref_d1 = (ref_forward_and_L(x + h, chapter_layers(6))[1] - ref_forward_and_L(x - h, chapter_layers(6))[1]) / (2 * h)
    assert np.allclose(d1, ref_d1, atol=1e-5)
    e1, e2 = M.log_density_derivatives(chapter_flow(6), float(x[3]), dps=30)
    assert abs(float(e1) - d1[3]) < 1e-12 and abs(float(e2) - d2[3]) < 1e-10


@pytest.mark.parametrize("K", [0, 1, 2, "2.5", 3, 4, 5, 6])
def test_find_modes_is_fast(K):
    flow = chapter_flow(K)
    M.find_modes(flow)  # warm the per-layer caches
    start = time.perf_counter()
    M.find_modes(flow)
    assert time.perf_counter() - start < 2.0
