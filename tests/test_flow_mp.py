"""The high-precision path (dps=N) against the independent plain-mpmath reference at N + 20 digits."""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import mpmath
import pytest
import reference as ref

from flowproof import Flow, SineLayer, chapter_flow

SWEEP_DPS = [15, 30, 50, 100, 300]
SWEEP_K = [1, 3, 6, "2.5"]
SWEEP_Y = ["0.7", "-2.25", "1e3", "-1e8"]


@functools.cache
def ref_inverse(y, K, dps):
    return ref.inverse(y, K=K, dps=dps)


def tol(dps, lost=0):
    """10**-(dps - lost) as an mpf at dps + 20 digits (call inside workdps)."""
    return mpmath.mpf(10) ** (-(dps - lost))


def check_inverse_result(result, y, K, dps, method="halley"):
    exact = ref_inverse(y, K, dps)
    assert isinstance(result.x, mpmath.mpf)
    assert result.method == method
    assert isinstance(result.steps, int) and result.steps > 0
    with mpmath.workdps(dps + ref.GUARD):
        scale = max(mpmath.mpf(1), abs(exact))
        assert abs(result.x - exact) <= tol(dps, 5) * scale, f"error {mpmath.nstr(abs(result.x - exact), 5)}"
        lo, hi = result.bracket
        assert lo <= result.x <= hi
        assert lo <= exact <= hi, "the bracket does not contain the true preimage"
        assert hi - lo <= 2 * tol(dps, 5) * scale, "the bracket is too wide to be evidence of dps digits"
        true_residual = abs(ref.forward(result.x, K=K, dps=dps) - ref.mp(y))
        y_scale = max(mpmath.mpf(1), abs(ref.mp(y)))
        assert result.residual >= 0
        assert abs(result.residual - true_residual) <= tol(dps, -5) * y_scale
    return exact


# ---------------------------------------------------------------------------------------------------------------
# the precision sweep
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("y", SWEEP_Y)
@pytest.mark.parametrize("K", SWEEP_K)
@pytest.mark.parametrize("dps", SWEEP_DPS)
def test_mp_inverse_precision_sweep_matches_independent_reference(dps, K, y):
    result = chapter_flow(K).inverse(y, dps=dps)
    exact = check_inverse_result(result, y, K, dps)
    if dps >= 30:  # well beyond double precision: float() must give the double nearest the preimage
        assert abs(float(result) - float(exact)) <= math.ulp(float(exact))


@pytest.mark.parametrize("y", ["0.7", "1e3"])
@pytest.mark.parametrize("K", [1, "2.5"])
def test_float_of_inverse_result_is_a_python_float(K, y):
    value = float(chapter_flow(K).inverse(y, dps=40))
    assert type(value) is float
    assert value == float(ref_inverse(y, K, 40))  # 40 correct digits round to the same double


def test_bisect_at_dps50_is_not_capped_at_100_steps():
    """mpmath.findroot(solver='bisect') stops after 100 halvings (~30 digits); the chapter's bisection must not."""
    result = chapter_flow(1).inverse("0.7", dps=50, method="bisect")
    check_inverse_result(result, "0.7", 1, 50, method="bisect")
    assert result.steps > 100  # a width-0.64 bracket needs > 160 halvings for 50 digits
    with mpmath.workdps(70):
        assert abs(result.x - ref_inverse("0.7", 1, 50)) <= mpmath.mpf(10) ** -45


def test_bisect_at_dps300_reaches_300_digits():
    result = chapter_flow(3).inverse("-2.25", dps=300, method="bisect")
    check_inverse_result(result, "-2.25", 3, 300, method="bisect")


@pytest.mark.parametrize("y", ["-2.25", "1e3", "-1e8"])
@pytest.mark.parametrize("K", [6, "2.5"])
@pytest.mark.parametrize("dps", [30, 100])
def test_halley_newton_and_bisect_give_the_same_evidence(dps, K, y):
    flow = chapter_flow(K)
    results = {method: flow.inverse(y, dps=dps, method=method) for method in ("halley", "newton", "bisect")}
    for method, result in results.items():
        check_inverse_result(result, y, K, dps, method=method)
    with mpmath.workdps(dps + 20):
        scale = max(mpmath.mpf(1), abs(results["bisect"].x))
        for method in ("halley", "newton"):
            assert abs(results[method].x - results["bisect"].x) <= 2 * tol(dps, 5) * scale


def test_explicit_halley_method_is_the_default():
    flow = chapter_flow(6)
    default, explicit = flow.inverse("0.7", dps=40), flow.inverse("0.7", dps=40, method="halley")
    assert default.method == explicit.method == "halley"
    check_inverse_result(explicit, "0.7", 6, 40)


@pytest.mark.parametrize("y", ["0.7", "1e3"])
def test_mp_inverse_of_depth_zero_is_y(y):
    result = Flow([]).inverse(y, dps=50)
    with mpmath.workdps(70):
        assert abs(result.x - ref.mp(y)) <= mpmath.mpf(10) ** -50 * max(1, abs(ref.mp(y)))
        lo, hi = result.bracket
        assert lo <= ref.mp(y) <= hi


@pytest.mark.parametrize("y", [0.1, 7, -3, "mpf"])
def test_mp_inverse_accepts_float_int_and_mpf(y):
    if y == "mpf":
        with mpmath.workdps(60):  # an mpf carrying 60 digits: all of them must be used
            y = mpmath.mpf(1) / 3
    result = chapter_flow(6).inverse(y, dps=40)
    exact = ref.inverse(y, dps=40)
    with mpmath.workdps(60):
        assert abs(result.x - exact) <= mpmath.mpf(10) ** -35 * max(1, abs(exact))


def test_mp_inverse_of_float_inverts_its_exact_binary_value_not_the_decimal():
    flow = chapter_flow(6)
    binary = flow.inverse(0.1, dps=40).x
    decimal = flow.inverse("0.1", dps=40).x
    with mpmath.workdps(60):
        assert abs(binary - ref.inverse(0.1, dps=40)) <= mpmath.mpf(10) ** -35
        assert abs(decimal - ref.inverse("0.1", dps=40)) <= mpmath.mpf(10) ** -35
        assert abs(binary - decimal) > mpmath.mpf(10) ** -20  # 0.1 - fl(0.1) ~ 5.6e-18


# ---------------------------------------------------------------------------------------------------------------
# forward, log_det, log_prob, cdf, icdf at dps
# ---------------------------------------------------------------------------------------------------------------

MP_X = ["0.7", "-2.25", "1e3", "-1e8", "1e12", 3, 0.1]


@pytest.mark.parametrize("dps", [15, 50, 100])
@pytest.mark.parametrize("K", [1, 6, "2.5"])
def test_mp_forward_and_log_det_match_reference_to_dps_digits(K, dps):
    flow = chapter_flow(K)
    for x in MP_X:
        y, ld = flow.forward(x, dps=dps), flow.log_det(x, dps=dps)
        both = flow.forward_and_log_det(x, dps=dps)
        assert isinstance(y, mpmath.mpf) and isinstance(ld, mpmath.mpf)
        assert isinstance(both, tuple) and len(both) == 2
        exact_y, exact_ld = ref.forward(x, K=K, dps=dps), ref.log_det(x, K=K, dps=dps)
        with mpmath.workdps(dps + 20):
            assert abs(y - exact_y) <= tol(dps) * max(1, abs(exact_y)), f"F({x!r})"
            assert abs(ld - exact_ld) <= tol(dps) * max(1, abs(exact_ld)), f"log F'({x!r})"
            assert abs(both[0] - exact_y) <= tol(dps) * max(1, abs(exact_y))
            assert abs(both[1] - exact_ld) <= tol(dps) * max(1, abs(exact_ld))


def test_mp_forward_reads_decimal_strings_exactly_and_floats_as_binary():
    flow = chapter_flow(6)
    decimal, binary = flow.forward("0.1", dps=50), flow.forward(0.1, dps=50)
    with mpmath.workdps(70):
        assert abs(decimal - ref.forward("0.1", dps=50)) <= mpmath.mpf(10) ** -50
        assert abs(binary - ref.forward(0.1, dps=50)) <= mpmath.mpf(10) ** -50
        assert abs(decimal - binary) > mpmath.mpf(10) ** -20


def test_mp_forward_of_mpf_uses_all_its_digits():
    with mpmath.workdps(80):
        x = mpmath.mpf(1) / 3
    y = chapter_flow(6).forward(x, dps=60)
    exact = ref.forward(Fraction(1, 3), dps=60)  # x agrees with 1/3 to 80 digits
    with mpmath.workdps(80):
        assert abs(y - exact) <= mpmath.mpf(10) ** -60


def test_mp_depth_zero_is_identity_with_standard_normal_log_prob():
    flow = chapter_flow(0)
    with mpmath.workdps(70):
        x = mpmath.mpf(7) / 10
        hand = -x * x / 2 - mpmath.log(2 * mpmath.pi) / 2
        assert abs(flow.forward("0.7", dps=50) - x) <= mpmath.mpf(10) ** -50
        assert flow.log_det("0.7", dps=50) == 0
        assert abs(flow.log_prob("0.7", dps=50) - hand) <= mpmath.mpf(10) ** -50


def test_mp_one_layer_phase_zero_derivative_at_origin_is_1_64():
    flow = Flow([SineLayer("0.32", 2, 0)])
    with mpmath.workdps(70):
        assert abs(flow.log_det(0, dps=50) - mpmath.log(mpmath.mpf(41) / 25)) <= mpmath.mpf(10) ** -50
        assert abs(flow.forward(0, dps=50)) <= mpmath.mpf(10) ** -60
        x, ld = flow.inverse_and_log_det(0, dps=50)
        assert abs(getattr(x, "x", x)) <= mpmath.mpf(10) ** -50
        assert abs(ld - mpmath.log(mpmath.mpf(41) / 25)) <= mpmath.mpf(10) ** -50


@pytest.mark.parametrize("phase", [Fraction(3, 10), Fraction(53, 10)])
def test_mp_one_layer_at_origin_is_a_sin_phi(phase):
    flow = Flow([SineLayer("0.32", 2, phase)])
    with mpmath.workdps(120):
        hand = mpmath.mpf(8) / 25 * mpmath.sin(ref.mp(phase))
        assert abs(flow.forward(0, dps=100) - hand) <= mpmath.mpf(10) ** -100


@pytest.mark.parametrize("dps", [30, 100])
@pytest.mark.parametrize("K", [3, "2.5"])
@pytest.mark.parametrize("y", ["0.7", "-2.25", "1e3"])
def test_mp_inverse_and_log_det_is_forward_log_derivative_at_preimage(y, K, dps):
    x, ld = chapter_flow(K).inverse_and_log_det(y, dps=dps)
    exact_x = ref_inverse(y, K, dps)
    exact_ld = ref.log_det(exact_x, K=K, dps=dps)
    with mpmath.workdps(dps + 20):
        assert abs(getattr(x, "x", x) - exact_x) <= tol(dps, 5) * max(1, abs(exact_x))
        assert isinstance(ld, mpmath.mpf)
        assert abs(ld - exact_ld) <= tol(dps, 5) * max(1, abs(exact_ld))


@pytest.mark.parametrize("dps", [15, 50, 100])
@pytest.mark.parametrize("K", [1, 6, "2.5"])
@pytest.mark.parametrize("y", ["0.7", "-2.25", "1e3", "-30"])
def test_mp_log_prob_matches_reference(y, K, dps):
    lp = chapter_flow(K).log_prob(y, dps=dps)
    exact = ref.log_prob(y, K=K, dps=dps)
    assert isinstance(lp, mpmath.mpf)
    with mpmath.workdps(dps + 20):
        assert abs(lp - exact) <= tol(dps, 5) * max(1, abs(exact))


def test_mp_log_prob_at_infinity_is_minus_infinity():
    flow = chapter_flow(6)
    assert flow.log_prob(float("inf"), dps=30) == mpmath.mpf("-inf")
    assert flow.log_prob(float("-inf"), dps=30) == mpmath.mpf("-inf")


@pytest.mark.parametrize("dps", [15, 50])
@pytest.mark.parametrize("y", ["-30", "-2.25", "0.7", "5"])
def test_mp_cdf_matches_reference_with_relative_accuracy(y, dps):
    c = chapter_flow(6).cdf(y, dps=dps)
    exact = ref.cdf(y, dps=dps)
    assert isinstance(c, mpmath.mpf)
    with mpmath.workdps(dps + 20):
        assert abs(c - exact) <= tol(dps, 5) * exact


@pytest.mark.parametrize("dps", [15, 50, 100])
@pytest.mark.parametrize("u", ["0.3", "0.5", "0.999", "0.99999999999999999999", "1e-20", "1e-300",
                               0.25])
def test_mp_icdf_matches_reference(u, dps):
    q = chapter_flow(6).icdf(u, dps=dps)
    exact = ref.icdf(u, dps=dps)
    assert isinstance(q, mpmath.mpf)
    with mpmath.workdps(dps + 20):
        assert abs(q - exact) <= tol(dps, 5) * max(1, abs(exact))


def test_mp_icdf_at_zero_and_one_is_infinite():
    flow = chapter_flow(6)
    assert flow.icdf(0, dps=30) == mpmath.mpf("-inf")
    assert flow.icdf(1, dps=30) == mpmath.mpf("inf")


def test_mp_icdf_undoes_cdf():
    flow = chapter_flow(6)
    c = flow.cdf("-2.25", dps=60)
    with mpmath.workdps(60):
        back = flow.icdf(c, dps=50)
    with mpmath.workdps(70):
        assert abs(back - mpmath.mpf("-2.25")) <= mpmath.mpf(10) ** -45


# ---------------------------------------------------------------------------------------------------------------
# mpmath's global precision
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("global_dps", [5, 15, 200])
def test_mp_results_do_not_depend_on_global_mpmath_precision(global_dps):
    flow = chapter_flow(6)
    with mpmath.workdps(global_dps):
        prec = mpmath.mp.prec
        result = flow.inverse("-2.25", dps=50)
        y = flow.forward("-2.25", dps=50)
        assert mpmath.mp.prec == prec
    check_inverse_result(result, "-2.25", 6, 50)
    with mpmath.workdps(70):
        assert abs(y - ref.forward("-2.25", dps=50)) <= mpmath.mpf(10) ** -50


def test_every_mp_method_leaves_global_precision_unchanged():
    flow = chapter_flow("2.5")
    with mpmath.workdps(37):
        prec = mpmath.mp.prec
        calls = [lambda: flow.forward("0.7", dps=80), lambda: flow.log_det("0.7", dps=80),
                 lambda: flow.forward_and_log_det("0.7", dps=80), lambda: flow.inverse("0.7", dps=80),
                 lambda: flow.inverse("0.7", dps=80, method="bisect"), lambda: flow.inverse_and_log_det("0.7", dps=80),
                 lambda: flow.log_prob("0.7", dps=80), lambda: flow.cdf("0.7", dps=80),
                 lambda: flow.icdf("0.7", dps=80), lambda: flow.icdf("1e-40", dps=80),
                 lambda: flow.forward(0.7), lambda: flow.inverse(0.7, method="bisect")]
        for call in calls:
            call()
            assert mpmath.mp.prec == prec
