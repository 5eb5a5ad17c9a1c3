"""flowproof.testing: the helpers pass a correct hand-written flow and catch the broken ones, with messages that
show the worst point; every expected value here comes from the plain-mpmath reference (tests/reference.py)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import mpmath
import numpy as np
import pytest
import reference as ref

import flowproof as fp
from flowproof.testing import (
    OracleMismatch,
    OraclePoints,
    assert_flow_close,
    assert_forward_close,
    assert_inverse_close,
    assert_log_det_close,
    assert_log_prob_close,
    oracle_points,
)

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
PHASES = (0.3, 1.1, 2.0, 2.9, 4.1, 5.3)


# A researcher's numpy flow, written here independently of flowproof (and of examples/).
def forward(x):
    z = np.asarray(x, dtype=float)
    for phi in PHASES:
        z = z + 0.32 * np.sin(2 * z + phi)
    return z


def log_det(x):
    z, total = np.asarray(x, dtype=float), 0.0
    for phi in PHASES:
        total = total + np.log1p(0.64 * np.cos(2 * z + phi))
        z = z + 0.32 * np.sin(2 * z + phi)
    return total


def inverse(y, lo_hi=None):
    z = np.asarray(y, dtype=float)
    for phi in reversed(PHASES):
        lo, hi = (z - 0.32, z + 0.32) if lo_hi is None else (np.full_like(z, lo_hi[0]), np.full_like(z, lo_hi[1]))
        target = z
        for _ in range(70):
            mid = (lo + hi) / 2
            below = mid + 0.32 * np.sin(2 * mid + phi) < target
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        z = (lo + hi) / 2
    return z


def clamped_inverse(y):
    """Broken: every layer searched in the fixed bracket [-10, 10]."""
    return inverse(y, lo_hi=(-10.0, 10.0))


def log_prob(y, inv=inverse, sign=1.0):
    x = inv(y)
    return -0.5 * x**2 - 0.5 * math.log(2 * math.pi) - sign * log_det(x)


@pytest.fixture(scope="module")
def flow():
    return fp.chapter_flow()


# -- the correct flow passes; each broken variant is caught by the helpers that look at it ---------------------
def test_correct_flow_passes_every_helper(flow):
    assert_forward_close(forward, flow)
    assert_log_det_close(log_det, flow)
    assert_inverse_close(inverse, flow)
    assert_log_prob_close(log_prob, flow)


def test_flipped_log_det_sign_is_caught_with_the_worst_point_and_both_values(flow):
    with pytest.raises(OracleMismatch) as caught:
        assert_log_det_close(lambda x: -log_det(x), flow)
    err = caught.value
    assert isinstance(err, AssertionError)
    message = str(err)
    assert re.search(r"log_det: .*<lambda> differs from flowproof's oracle at (\d+) of \1 points", message)
    worst = int(np.argmax(err.errors))
    x = float(err.points[worst])
    exact = ref.log_det(x)
    assert ref.err(err.expected[worst], exact) < 1e-35  # the oracle shown is the exact value
    assert f"worst at x = {x!r}" in message
    assert f"yours  log F' = {-float(log_det(x))!r}" in message
    assert f"oracle log F' = {mpmath.nstr(exact, 20)}" in message
    ulps = float(abs(2 * exact) / math.ulp(max(1.0, abs(float(exact)))))
    assert f"error      = {abs(2 * float(exact)):.3g} ({ulps:.3g} ulp)" in message


def test_flipped_log_det_sign_is_caught_by_log_prob(flow):
    with pytest.raises(AssertionError, match=r"log_prob: .* differs from flowproof's oracle at (\d+) of \1 points"):
        assert_log_prob_close(lambda y: log_prob(y, sign=-1.0), flow)


def test_fixed_bracket_inverse_is_caught_in_the_tails_against_the_exact_preimage(flow):
    with pytest.raises(OracleMismatch, match=r"inverse: clamped_inverse differs .*the exact preimage") as caught:
        assert_inverse_close(clamped_inverse, flow)
    err = caught.value
    worst = int(np.argmax(err.errors))
    y = float(err.points[worst])
    assert abs(y) > 30 and "[F(tail)]" in str(err)
    assert ref.err(err.expected[worst], ref.inverse(y)) < 1e-35
    assert abs(err.actual[worst]) <= 10.0
    assert all(abs(float(ref.inverse(float(p)))) > 9.9 for p in err.points[err.failed])  # only beyond the bracket


def test_fixed_bracket_inverse_is_caught_by_log_prob(flow):
    with pytest.raises(AssertionError, match=r"log_prob: .* differs"):
        assert_log_prob_close(lambda y: log_prob(y, inv=clamped_inverse), flow)


def test_assert_flow_close_reports_every_broken_method(flow):
    class Broken:
        forward = staticmethod(forward)
        inverse = staticmethod(clamped_inverse)

        @staticmethod
        def log_det(x):
            return -log_det(x)

    with pytest.raises(OracleMismatch, match=r"2 of 3 methods of Broken differ") as caught:
        assert_flow_close(Broken(), flow)
    assert "log_det:" in str(caught.value) and "inverse:" in str(caught.value) and "forward:" not in str(caught.value)
    with pytest.raises(TypeError, match="none of the methods"):
        assert_flow_close(object(), flow)


# -- tolerances and ulp, against reference values ----------------------------------------------------------------
def test_tolerance_is_atol_plus_rtol_times_the_exact_value(flow):
    points = np.array([-3.0, 0.5, 2.0])
    exact = [ref.log_det(float(x)) for x in points]
    shifted = lambda x: np.array([float(v) for v in exact]) + 1e-9  # noqa: E731
    assert_log_det_close(shifted, flow, points, rtol=0, atol=2e-9)
    with pytest.raises(AssertionError, match="at 3 of 3 points"):
        assert_log_det_close(shifted, flow, points, rtol=0, atol=5e-10)
    scale = max(abs(float(v)) for v in exact)
    assert_log_det_close(shifted, flow, points, rtol=1.01e-9 / min(abs(float(v)) for v in exact), atol=0)
    assert scale > 0


def test_error_is_reported_in_ulp_of_the_exact_value():
    flow = fp.chapter_flow(2)
    exact = ref.forward(5.0, K=2)
    value = float(exact) + 3 * math.ulp(float(exact))
    with pytest.raises(OracleMismatch) as caught:
        assert_forward_close(lambda x: np.full_like(x, value), flow, [5.0], rtol=0, atol=0)
    ulps = float(caught.value.errors[0] / math.ulp(float(exact)))
    assert 2.5 <= ulps <= 3.5
    assert f"({ulps:.3g} ulp)" in str(caught.value) and "spacing of float64 at max(|oracle|, 1)" in str(caught.value)


def test_float32_results_are_measured_in_float32_ulp():
    flow = fp.chapter_flow(2)
    f32 = lambda x: forward_k2(x).astype(np.float32)  # noqa: E731
    assert_forward_close(f32, flow, rtol=1e-6, atol=1e-6, dtype=np.float32)
    with pytest.raises(AssertionError, match=r"spacing of float32"):
        assert_forward_close(f32, flow, rtol=0, atol=0, dtype=np.float32)


def forward_k2(x):
    z = np.asarray(x, dtype=float)
    for phi in PHASES[:2]:
        z = z + 0.32 * np.sin(2 * z + phi)
    return z


# -- what else fails, and how -------------------------------------------------------------------------------------
def test_nan_where_the_oracle_is_finite_fails():
    def holey(x):
        out = forward_k2(x)
        out[x > 10] = np.nan
        return out

    with pytest.raises(AssertionError, match=r"(?s)yours  y = nan.*yours is not finite where the oracle is"):
        assert_forward_close(holey, fp.chapter_flow(2))


def test_wrong_shape_fails():
    with pytest.raises(AssertionError, match=r"returned shape \(3, 1\), expected \(3,\)"):
        assert_forward_close(lambda x: forward_k2(x)[:, None], fp.chapter_flow(2), [0.0, 1.0, 2.0])


def test_a_tuple_return_fails_with_a_hint():
    with pytest.raises(AssertionError, match=r"returned a tuple of 2.*lambda x: f\(x\)\[1\]"):
        assert_log_det_close(lambda x: (x, x), fp.chapter_flow(2), [0.0])


def test_a_function_that_raises_fails_and_chains_the_error():
    def broken(x):
        raise ValueError("no tails please")

    with pytest.raises(AssertionError, match=r"broken raised ValueError: no tails please") as caught:
        assert_log_det_close(broken, fp.chapter_flow(2), [0.0, 1.0])
    assert isinstance(caught.value.__cause__, ValueError)


def test_non_real_results_fail():
    with pytest.raises(AssertionError, match="returned dtype complex128"):
        assert_forward_close(lambda x: x + 0j, fp.chapter_flow(2), [0.0])


def test_convert_is_applied_and_results_go_through_asarray():
    class Tensor:  # a stand-in for a torch tensor that requires grad: asarray fails until .detach()
        def __init__(self, values):
            self.values = np.asarray(values)

        def __array__(self, *args, **kwargs):
            raise RuntimeError("Can't call numpy() on Tensor that requires grad")

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return self.values

    seen = []

    def fn(t):
        seen.append(type(t))
        return Tensor(forward_k2(t.values))

    assert_forward_close(fn, fp.chapter_flow(2), [0.0, 1.5], convert=Tensor)
    assert seen == [Tensor]


def test_bad_arguments_raise_type_or_value_errors():
    with pytest.raises(TypeError, match="flow must be a flowproof Flow"):
        assert_forward_close(forward, [fp.SineLayer()])
    with pytest.raises(ValueError, match="rtol must be"):
        assert_forward_close(forward, fp.chapter_flow(1), rtol=-1)
    with pytest.raises(ValueError, match="points is empty"):
        assert_forward_close(forward, fp.chapter_flow(1), [])


def test_the_precision_in_force_raises_the_oracle_digits_and_is_left_unchanged():
    with mpmath.workdps(60), pytest.raises(AssertionError, match="at 60 digits"):
        assert_log_det_close(lambda x: -log_det(x), fp.chapter_flow(), [0.5])
    with pytest.raises(AssertionError, match="at 40 digits"):
        assert_log_det_close(lambda x: -log_det(x), fp.chapter_flow(), [0.5])


# -- the points ---------------------------------------------------------------------------------------------------
def test_default_points_cover_bulk_tails_minima_of_the_derivative_and_random_ones(flow):
    points = oracle_points(flow)
    assert isinstance(points, OraclePoints) and points.space == "x"
    labelled = dict(zip(points.labels, points.values))  # one of each label
    assert set(labelled) == {"bulk", "tail", "min F'", "random"}
    assert {40.0, -40.0, 8.0, -8.0} <= set(points.values)
    assert np.array_equal(oracle_points(flow).values, points.values)  # seeded
    assert not np.array_equal(oracle_points(flow, seed=1).values, points.values)
    # F' is pi-periodic for the chapter's flow (every w = 2): its minimum over one period, on a grid, by reference
    x_min = points.values[points.labels.index("min F'")]
    grid_min = min(ref.log_det(float(t), dps=10) for t in np.linspace(0, math.pi, 400))
    assert ref.log_det(float(x_min), dps=10) <= grid_min + 1e-12


def test_data_space_points_are_the_images_of_the_base_points(flow):
    x, y = oracle_points(flow, "x"), oracle_points(flow, "y")
    assert y.labels[0] == "F(bulk)" and y.space == "y"
    for xi, yi in zip(x.values[::7], y.values[::7]):
        assert ref.scaled_ulps(yi, ref.forward(float(xi))) <= 4


def test_points_in_float32_are_representable_in_float32(flow):
    values = oracle_points(flow, dtype=np.float32).values
    assert np.array_equal(values, values.astype(np.float32).astype(np.float64))


def test_the_identity_flow_has_no_minima_points():
    assert "min F'" not in oracle_points(fp.Flow([])).labels
    assert_log_prob_close(lambda y: -0.5 * np.asarray(y) ** 2 - 0.5 * math.log(2 * math.pi), fp.Flow([]))


# -- the worked example cannot rot ---------------------------------------------------------------------------------
def test_the_worked_example_passes(pytester, pytestconfig):
    args = [] if pytestconfig.pluginmanager.has_plugin("flowproof") else ["-p", "flowproof.pytest_plugin"]
    result = pytester.runpytest(str(ROOT / "examples"), "-q", "-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=15)
