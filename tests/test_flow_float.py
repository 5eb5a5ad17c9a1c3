"""The float64 path (dps=None): values against the plain-mpmath reference, tails, density, cdf, icdf, sampling."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

from flowproof import Flow, SineLayer, chapter_flow
from flowproof.numeric import EXTENDED

DEPTHS = [1, 3, 6, "2.5"]
EPS = 2.0**-52
X_GRID = np.concatenate([np.linspace(-10, 10, 41), [0.0, -0.0, 1e-300, -3e-9, 0.123456789, 7.5, -12.25]])
Y_GRID = np.concatenate([np.linspace(-6, 6, 49), [0.7, -2.25, 1e-200, 12.5, -30.0]])


def ulp_scale(v) -> float:
    """One ulp of max(1, |v|)."""
    return math.ulp(max(1.0, abs(float(v))))


def condition(x_ref, K) -> float:
    r"""max_k prod_{j<=k} 1/f_j'(z_{j-1}) at the exact preimage: how much layer-wise rounding is amplified."""
    with mpmath.workdps(30):
        z, prefix, worst = mpmath.mpf(x_ref), mpmath.mpf(1), mpmath.mpf(1)
        for a, w, phi in ref.chapter_layers(K):
            a, w, phi = ref.mp(a), ref.mp(w), ref.mp(phi)
            prefix /= 1 + a * w * mpmath.cos(w * z + phi)
            worst = max(worst, prefix)
            z = z + a * mpmath.sin(w * z + phi)
        return float(worst)


# ---------------------------------------------------------------------------------------------------------------
# hand-derived identities
# ---------------------------------------------------------------------------------------------------------------


def test_depth_zero_flow_is_the_identity():
    flow = chapter_flow(0)
    assert len(flow) == 0
    x = np.array([-1e12, -3.5, -0.0, 0.0, 1e-300, 0.7, 42.0])
    np.testing.assert_array_equal(flow.forward(x), x)
    np.testing.assert_array_equal(flow.inverse(x), x)
    np.testing.assert_array_equal(flow.log_det(x), np.zeros_like(x))


def test_depth_zero_log_prob_is_standard_normal_log_pdf():
    flow = chapter_flow(0)
    for y in [-7.5, -1.0, 0.0, 0.3, 2.0, 10.0]:
        expected = -0.5 * y * y - 0.5 * math.log(2 * math.pi)
        assert math.isclose(flow.log_prob(y), expected, rel_tol=4 * EPS, abs_tol=4 * EPS)


def test_depth_zero_cdf_is_standard_normal_cdf():
    flow = Flow([])
    for y in [-30.0, -5.0, -1.0, 0.0, 0.5, 3.0]:
        with mpmath.workdps(30):  # Phi(y) = erfc(-y / sqrt 2) / 2, by hand at 30 digits
            expected = float(mpmath.erfc(-mpmath.mpf(y) / mpmath.sqrt(2)) / 2)
        assert math.isclose(flow.cdf(y), expected, rel_tol=1e-13)  # scipy's ndtr(-30) is ~6e-14 off


def test_one_layer_at_phase_zero_log_det_at_origin_is_log_of_1_64():
    flow = Flow([SineLayer("0.32", 2, 0)])
    expected = math.log(1 + 0.32 * 2)  # f'(0) = 1 + a w = 1.64
    assert math.isclose(flow.log_det(0.0), expected, rel_tol=2 * EPS)
    assert math.isclose(float(mpmath.log(mpmath.mpf(41) / 25)), flow.log_det(0.0), rel_tol=2 * EPS)
    assert flow.forward(0.0) == 0.0  # f(0) = a sin(0) = 0
    y, ld = flow.forward_and_log_det(0.0)
    assert y == 0.0 and math.isclose(math.exp(ld), 1.64, rel_tol=4 * EPS)


@pytest.mark.parametrize("phase", ref.PHASES)
def test_one_layer_at_origin_is_a_sin_phi_and_log_1_plus_aw_cos_phi(phase):
    flow = Flow([SineLayer("0.32", 2, phase)])
    with mpmath.workdps(30):
        phi = ref.mp(phase)
        f0 = mpmath.mpf(8) / 25 * mpmath.sin(phi)
        ld0 = mpmath.log(1 + mpmath.mpf(16) / 25 * mpmath.cos(phi))
    assert abs(flow.forward(0.0) - float(f0)) <= 2 * math.ulp(float(f0))
    assert abs(flow.log_det(0.0) - float(ld0)) <= 4 * EPS


def test_inverse_and_log_det_returns_the_forward_log_derivative_not_its_negative():
    flow = Flow([SineLayer("0.32", 2, 0)])
    x, ld = flow.inverse_and_log_det(0.0)
    assert x == 0.0
    assert math.isclose(ld, math.log(1.64), rel_tol=2 * EPS)  # +log(1.64) > 0, not -log(1.64)


# ---------------------------------------------------------------------------------------------------------------
# forward / log_det against the reference
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("K", DEPTHS)
def test_float_forward_matches_reference_within_8_ulp(K):
    flow = chapter_flow(K)
    y = flow.forward(X_GRID)
    worst = max(float(ref.err(yi, ref.forward(float(xi), K=K, dps=30))) / ulp_scale(yi)
                for xi, yi in zip(X_GRID, y, strict=True))
    assert worst <= 8, f"forward off by {worst:.2f} ulp of max(1,|y|)"


@pytest.mark.parametrize("K", DEPTHS)
def test_float_log_det_matches_reference(K):
    flow = chapter_flow(K)
    ld = flow.log_det(X_GRID)
    worst = max(float(ref.err(li, ref.log_det(float(xi), K=K, dps=30))) for xi, li in zip(X_GRID, ld, strict=True))
    assert worst <= 1e-14


TAIL_X = [1e8, -1e8, 987654321.987654321, 1e9, -1e10, 3.3e10, 1e11, -123456789012.345, 1e12, -1e12,
          2.0**40 + 0.5]
RANDOM_TAIL_X = list(10 ** np.random.default_rng(5).uniform(8, 12, 60) * np.random.default_rng(6).choice([-1, 1], 60))


@pytest.mark.parametrize("K", [1, 3, 6, "2.5"])
def test_float_forward_in_tail_within_few_ulp_of_exact_decimal_flow(K):
    """At |x| = 1e8..1e12 F(x) must match the exact-decimal flow at the exact double x to a few ulp of y.

    Each layer's z + a sin(.) is one rounded addition (<= 1/2 ulp), so K/2 + 1 ulp is the honest bound.
    """
    flow = chapter_flow(K)
    xs = TAIL_X + RANDOM_TAIL_X
    y = flow.forward(np.array(xs))
    bound = 0.5 * len(flow) + 1
    for x, yi in zip(xs, y, strict=True):
        exact = ref.forward(x, K=K, dps=50)
        assert ref.ulps(yi, exact) <= bound, f"F({x!r}) off by {ref.ulps(yi, exact):.2f} ulp"


@pytest.mark.parametrize("phase", ref.PHASES)
def test_float_sin_not_rounded_in_tail(phase):
    """Rounding w x + phi to a double is off by up to ulp(2e12)/2 ~ 1.2e-4 rad at |x| = 1e12.

    After the first layer that is hidden by the rounding of z itself, so the visible symptom is log f'(x) of one
    layer at an exact double x: it must be accurate to ~1e-15, not ~1e-4.
    """
    flow = Flow([SineLayer("0.32", 2, phase)])
    layers = [(ref.AMPLITUDE, ref.FREQUENCY, phase)]
    xs = TAIL_X + RANDOM_TAIL_X[:20]
    ld = flow.log_det(np.array(xs))
    y = flow.forward(np.array(xs))
    for x, li, yi in zip(xs, ld, y, strict=True):
        assert float(ref.err(li, ref.log_det(x, layers=layers, dps=50))) <= 1e-14, f"log f'({x!r})"
        assert ref.ulps(yi, ref.forward(x, layers=layers, dps=50)) <= 1, f"f({x!r})"


def test_float_tail_displacement_is_the_reference_displacement():
    """F(x) - x in the tail is O(1); computing it from the double result must agree with the reference."""
    flow = chapter_flow(6)
    for x in [1e9, -1e10, 1e12]:
        shift = float(flow.forward(x)) - x  # exact subtraction (Sterbenz)
        with mpmath.workdps(50):
            expected = float(ref.forward(x, dps=50) - mpmath.mpf(x))
        assert abs(shift - expected) <= 2 * math.ulp(x)


def test_float_log_det_in_tail_limited_only_by_rounding_of_intermediate_points():
    flow = chapter_flow(6)
    for x in TAIL_X:
        got = flow.log_det(x)
        expected = ref.log_det(x, dps=50)
        assert float(ref.err(got, expected)) <= 1e-13 + 40 * math.ulp(abs(x))


# ---------------------------------------------------------------------------------------------------------------
# inverse against the reference
# ---------------------------------------------------------------------------------------------------------------

INVERSE_Y = np.concatenate([Y_GRID, [1e3, -1e3, 1e8, -1e8, 1e12, -0.3]])


# The few-ulp inverse rests on the longdouble residual of the final Newton step; where numpy.longdouble is just
# float64 (Windows, macOS arm64) the layer-by-layer rounding (~20 ulp at worst here) is all there is.
needs_extended = pytest.mark.skipif(not EXTENDED, reason="numpy.longdouble is no wider than float64 here")


@needs_extended
@pytest.mark.parametrize("K", DEPTHS)
def test_float_inverse_within_8_ulp_of_exact_preimage(K):
    flow = chapter_flow(K)
    x = flow.inverse(INVERSE_Y)
    errors = [float(ref.err(xi, ref.inverse(float(yi), K=K, dps=40), 40)) / ulp_scale(xi)
              for xi, yi in zip(x, INVERSE_Y, strict=True)]
    worst = int(np.argmax(errors))
    assert errors[worst] <= 8, f"F^-1({INVERSE_Y[worst]!r}) off by {errors[worst]:.2f} ulp of max(1,|x|)"


ILL_CONDITIONED_Y = [-2.9901565003676382, -3.011057818377306, -2.8987979170245923, -3.0531670171508716]


@needs_extended
def test_float_newton_inverse_within_8_ulp_where_layer_chain_is_ill_conditioned():
    """Near y = -3 the prefix products of 1/f_k' reach ~7; the exact preimage is still a well-defined double."""
    flow = chapter_flow(6)
    x = flow.inverse(np.array(ILL_CONDITIONED_Y))
    errors = [float(ref.err(xi, ref.inverse(yi, dps=40), 40)) / ulp_scale(xi)
              for xi, yi in zip(x, ILL_CONDITIONED_Y, strict=True)]
    assert max(errors) <= 8, f"errors in ulp: {[round(e, 2) for e in errors]}"


def test_float_bisect_inverse_is_within_one_ulp_of_exact_preimage():
    flow = chapter_flow(6)
    ys = np.array(ILL_CONDITIONED_Y + [0.7, -2.25, 1e3, -1e8, 5.5])
    x = flow.inverse(ys, method="bisect")
    for xi, yi in zip(x, ys, strict=True):
        assert float(ref.err(xi, ref.inverse(float(yi), dps=40), 40)) <= ulp_scale(xi)


@pytest.mark.parametrize("K", DEPTHS)
def test_float_inverse_error_is_bounded_by_conditioning_times_few_ulp(K):
    flow = chapter_flow(K)
    rng = np.random.default_rng(12345)
    ys = np.concatenate([rng.uniform(-6, 6, 60), ILL_CONDITIONED_Y])
    x = flow.inverse(ys)
    for xi, yi in zip(x, ys, strict=True):
        exact = ref.inverse(float(yi), K=K, dps=30)
        bound = 4 * ulp_scale(xi) * max(1.0, condition(exact, K))
        assert float(ref.err(xi, exact, 30)) <= bound, f"y={yi!r}"


HUGE_Y = [1.5 * 2.0**54, 1e100, 1e300, 2.0**1023, 1.7976931348623157e308]


@pytest.mark.parametrize("y", HUGE_Y + [-v for v in HUGE_Y])
def test_float_inverse_of_huge_finite_y_is_y(y):
    """|F(x) - x| <= D = 6 * 0.32 = 1.92 < half the spacing of doubles on both sides of each y here (>= 2), so
    the nearest double to F^-1(y) is y itself (a hand derivation from the displacement bound).

    Guards against overflow of w * y (2 * y is inf for |y| >= 2**1023) turning a finite y into NaN.
    """
    flow = chapter_flow(6)
    assert flow.inverse(y) == y
    assert flow.forward(y) == y
    x, _ = flow.inverse_and_log_det(np.array([y]))
    assert x[0] == y
    assert flow.cdf(y) == (1.0 if y > 0 else 0.0)
    # log p = -x^2/2 - log(2 pi)/2 - log F'(x) with |log F'| <= 6 log(25/9): -y^2/2 to 1e-12, or -inf on overflow
    half_square = 0.5 * y * y
    if math.isfinite(half_square):
        assert math.isclose(flow.log_prob(y), -half_square, rel_tol=1e-12)
    else:
        assert flow.log_prob(y) == -np.inf
    assert flow.inverse(y, method="bisect") == y


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False))
@settings(max_examples=150, deadline=None)
def test_float_inverse_undoes_forward(x):
    flow = chapter_flow(6)
    back = flow.inverse(flow.forward(x))
    assert abs(back - x) <= 5e-13 * max(1.0, abs(x))


@given(st.floats(min_value=-50, max_value=50), st.floats(min_value=0, max_value=1e-3))
@settings(max_examples=150, deadline=None)
def test_float_forward_is_non_decreasing(x, dx):
    flow = chapter_flow("2.5")
    assert flow.forward(x) <= flow.forward(x + dx)


@given(st.floats(min_value=-20, max_value=20, allow_nan=False))
@settings(max_examples=40, deadline=None)
def test_float_inverse_matches_reference_on_random_points(y):
    x = chapter_flow(6).inverse(y)
    exact = ref.inverse(y, dps=30)
    assert float(ref.err(x, exact, 30)) <= 4 * ulp_scale(x) * max(1.0, condition(exact, 6))


def test_inverse_and_log_det_is_inverse_and_forward_log_det_at_preimage():
    flow = chapter_flow(6)
    ys = np.array([-3.0, -0.4, 0.7, 2.25, 1e3])
    x, ld = flow.inverse_and_log_det(ys)
    np.testing.assert_array_equal(x, flow.inverse(ys))
    np.testing.assert_array_equal(ld, flow.log_det(flow.inverse(ys)))
    for yi, li in zip(ys, ld, strict=True):
        exact_x = ref.inverse(float(yi), dps=30)
        # |d log F'/dx| <= K a w^2 / (1 - a w) ~ 21, so one ulp of x moves log F' by up to ~21 ulp(x)
        assert float(ref.err(li, ref.log_det(exact_x, dps=30))) <= 1e-14 + 32 * math.ulp(abs(float(exact_x)))


# ---------------------------------------------------------------------------------------------------------------
# density, cdf, icdf
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("K", DEPTHS)
def test_float_log_prob_matches_reference(K):
    flow = chapter_flow(K)
    ys = np.array([-30.0, -6.0, -2.25, -1.0, -0.3, 0.0, 0.7, 1.9, 4.4, 8.0, 1e3])
    lp = flow.log_prob(ys)
    for yi, li in zip(ys, lp, strict=True):
        expected = ref.log_prob(float(yi), K=K, dps=30)
        assert float(ref.err(li, expected)) <= 1e-13 * max(1.0, abs(float(expected)))


@pytest.mark.parametrize("K", [1, 6, "2.5"])
def test_log_prob_integrates_to_one(K):
    y = np.linspace(-12.0, 12.0, 96001)
    total = np.trapezoid(np.exp(chapter_flow(K).log_prob(y)), y)
    assert abs(total - 1.0) <= 1e-8


def test_cdf_limits_are_zero_and_one():
    flow = chapter_flow(6)
    assert flow.cdf(-np.inf) == 0.0
    assert flow.cdf(np.inf) == 1.0
    np.testing.assert_array_equal(flow.cdf(np.array([-np.inf, np.inf])), [0.0, 1.0])


@pytest.mark.parametrize("K", [1, 6, "2.5"])
def test_cdf_is_monotone(K):
    y = np.linspace(-8, 8, 20001)
    c = chapter_flow(K).cdf(y)
    assert np.all(np.diff(c) >= 0)
    assert c[0] < 1e-10 and c[-1] > 1 - 1e-10


@pytest.mark.parametrize("K", [1, 6, "2.5"])
def test_float_cdf_matches_reference_with_relative_accuracy_in_lower_tail(K):
    flow = chapter_flow(K)
    for y in [-30.0, -8.0, -2.25, 0.0, 0.7, 3.0, 7.0]:
        expected = ref.cdf(y, K=K, dps=30)
        # relative error of Phi(x) is ~|x| * (error of x) in the lower tail
        assert float(ref.err(flow.cdf(y), expected) / expected) <= 1e-13 * max(1.0, abs(y))


@pytest.mark.parametrize("K", [1, 6, "2.5"])
def test_icdf_of_cdf_returns_y(K):
    flow = chapter_flow(K)
    y = np.linspace(-5.0, 2.0, 141)
    np.testing.assert_allclose(flow.icdf(flow.cdf(y)), y, rtol=0, atol=1e-10)


@pytest.mark.parametrize("u", [1e-300, 1e-10, 0.01, 0.3, 0.5, 0.9, 1 - 1e-10])
def test_float_icdf_matches_reference(u):
    flow = chapter_flow(6)
    expected = ref.icdf(u, dps=30)
    assert float(ref.err(flow.icdf(u), expected)) <= 1e-13 * max(1.0, abs(float(expected)))


def test_icdf_at_zero_and_one_is_minus_and_plus_infinity():
    flow = chapter_flow(6)
    assert flow.icdf(0.0) == -np.inf and flow.icdf(1.0) == np.inf
    np.testing.assert_array_equal(flow.icdf(np.array([0.0, 1.0])), [-np.inf, np.inf])


def test_icdf_at_one_half_is_forward_of_zero():
    expected = ref.forward(0, dps=30)
    assert ref.scaled_ulps(chapter_flow(6).icdf(0.5), expected) <= 4


# ---------------------------------------------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------------------------------------------


def test_sample_returns_n_float64_values_reproducible_by_seed():
    flow = chapter_flow(6)
    a, b = flow.sample(1000, seed=7), flow.sample(1000, seed=7)
    assert isinstance(a, np.ndarray) and a.dtype == np.float64 and a.shape == (1000,)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, flow.sample(1000, seed=8))
    assert np.all(np.isfinite(a))


def test_sample_of_zero_is_empty():
    s = chapter_flow(6).sample(0, seed=1)
    assert s.shape == (0,) and s.dtype == np.float64


def test_sample_without_seed_works():
    s = chapter_flow(3).sample(5)
    assert s.shape == (5,) and s.dtype == np.float64


def test_sample_distribution_matches_reference_cdf():
    n = 20000
    s = np.sort(chapter_flow(6).sample(n, seed=2024))
    points = [-3.0, -2.0, -1.5, -1.0, -0.5, -0.2, 0.0, 0.3, 0.7, 1.0, 1.5, 2.0, 3.0]
    worst = max(abs(np.searchsorted(s, y, side="right") / n - float(ref.cdf(y, dps=15))) for y in points)
    assert worst < 1.63 / math.sqrt(n)  # the 1% Kolmogorov-Smirnov critical value bounds the sup over all y


def test_sample_mean_matches_reference_expectation():
    n = 20000
    s = chapter_flow(6).sample(n, seed=99)
    with mpmath.workdps(20):
        mean = mpmath.quad(lambda x: ref.forward(x, dps=5) * mpmath.npdf(x), [-mpmath.inf, -3, 0, 3, mpmath.inf])
        second = mpmath.quad(lambda x: ref.forward(x, dps=5) ** 2 * mpmath.npdf(x), [-mpmath.inf, -3, 0, 3,
                                                                                      mpmath.inf])
        sd = float(mpmath.sqrt(second - mean**2))
    assert abs(s.mean() - float(mean)) < 5 * sd / math.sqrt(n)
    assert abs(s.std() - sd) < 0.05 * sd
