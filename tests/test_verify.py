"""flowproof.verify: the report over depths, its checks, progress, JSON, and that failures are reported.

Expected numbers come from the formula f_k(z) = z + a sin(w z + phi_k), a = 8/25, w = 2, by hand or in plain
mpmath, or from published facts (a density integrates to one), never from flowproof's own output.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import reference as ref
import sympy as sp
from broken_layers import NotIncreasing

from flowproof import Flow, SineLayer, chapter_flow
from flowproof import verify as V
from flowproof.layers import Layer

CHECK_NAMES_30 = ["chain rule", "log-density", "expression vs evaluation", "float64 vs mpmath",
                  "inverse round trip (30 digits)", "density by the CDF route", "invertibility", "normalisation"]
DEPTHS = [0, 1, "2.5"]


@pytest.fixture(scope="module")
def run():
    calls = []
    report = V.verify_flow(chapter_flow(6), depths=DEPTHS, dps=30, progress=lambda d, c: calls.append((d, c)))
    return report, calls


def hand_bound(K):
    """prod_k (1 - |a_k w|) from the formula: 9/25 per full layer, 1 - 8/25 = 17/25 for the half layer."""
    k = Fraction(K)
    full = math.floor(k)
    t = k - full
    bound = Fraction(9, 25) ** full
    if t:
        bound *= 1 - t * Fraction(16, 25)
    return sp.Rational(bound.numerator, bound.denominator)


# ---------------------------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------------------------


def test_report_passes(run):
    report, _ = run
    assert report.passed is True
    assert all(d.passed for d in report.depths)
    assert report.dps == 30
    failed = [(d.depth, c.name, c.summary) for d in report.depths for c in d.checks if not c.passed]
    assert failed == []


def test_report_depth_labels_and_check_names(run):
    report, _ = run
    assert [d.depth for d in report.depths] == ["0", "1", "2.5"]
    for depth in report.depths:
        assert [c.name for c in depth.checks] == CHECK_NAMES_30
        for check in depth.checks:
            assert isinstance(check, V.Check)
            assert check.method and check.summary
            assert check.seconds >= 0


def test_progress_called_once_per_check_in_order(run):
    report, calls = run
    flat = [(d.depth, c) for d in report.depths for c in d.checks]
    assert len(calls) == len(DEPTHS) * 8 == len(flat)
    for (label, check), (want_label, want_check) in zip(calls, flat):
        assert label == want_label
        assert check is want_check


def test_to_dict_is_json_serialisable(run):
    report, _ = run
    text = json.dumps(report.to_dict(), default=str)
    back = json.loads(text)
    assert back["passed"] is True
    assert back["dps"] == 30
    assert [d["depth"] for d in back["depths"]] == ["0", "1", "2.5"]
    assert all(d["passed"] is True for d in back["depths"])
    assert [c["name"] for c in back["depths"][2]["checks"]] == CHECK_NAMES_30
    assert all(c["passed"] is True for d in back["depths"] for c in d["checks"])


def test_normalisation_integral_is_one(run):
    """A density integrates to one: the evidence integral is within 1e-12 of 1 at every depth."""
    report, _ = run
    for depth in report.depths:
        check = next(c for c in depth.checks if c.name == "normalisation")
        assert abs(check.evidence["integral"] - 1.0) <= 1e-12
        assert 0 <= check.evidence["tail_bound"] <= 1e-12
        assert check.evidence["quadrature_error_estimate"] <= 1e-12


def test_normalisation_tail_bound_covers_the_true_tail():
    """P(|Y| > T') for the reported outer edges, computed in plain mpmath from the formula, is <= the bound."""
    check = V.check_normalisation(chapter_flow(6))
    lo_x, hi_x = check.evidence["x_range"]
    with mpmath.workdps(30):
        # the edges in y are F(+-t); P(Y > F(t)) = P(X > t) exactly since F is increasing
        true_tail = mpmath.ncdf(-mpmath.mpf(hi_x)) + mpmath.ncdf(mpmath.mpf(lo_x))
    assert float(true_tail) <= check.evidence["tail_bound"] * (1 + 1e-9)


def test_invertibility_evidence_is_the_exact_product_bound(run):
    report, _ = run
    for depth, K in zip(report.depths, DEPTHS):
        check = next(c for c in depth.checks if c.name == "invertibility")
        assert sp.Rational(check.evidence["bound"]) == hand_bound(K)
        assert check.evidence["bound_float"] == pytest.approx(float(hand_bound(K)), rel=1e-15)


def test_invertibility_bound_for_six_layers():
    check = V.check_invertibility(chapter_flow(6))
    assert check.passed
    assert sp.Rational(check.evidence["bound"]) == sp.Rational(9, 25) ** 6


def test_expression_evaluation_agrees_to_the_requested_digits(run):
    report, _ = run
    for depth in report.depths:
        check = next(c for c in depth.checks if c.name == "expression vs evaluation")
        assert check.evidence["digits_agreed"] >= 28


def test_verify_depth_returns_the_eight_checks():
    checks = V.verify_depth(chapter_flow(1), dps=20)
    assert [c.name for c in checks] == [n.replace("30", "20") for n in CHECK_NAMES_30]
    assert all(c.passed for c in checks)


def test_default_depths():
    assert V.default_depths(6) == [0, 1, 2, 3, 4, 5, 6, sp.Rational(5, 2)]
    assert V.default_depths(1) == [0, 1, sp.Rational(1, 2)]
    assert V.default_depths(0) == [0]


def test_report_passed_is_false_when_one_check_fails():
    ok = V.Check("a", True, "m")
    bad = V.Check("b", False, "m")
    report = V.Report("flow", 20, [V.DepthReport("0", [ok]), V.DepthReport("1", [ok, bad])])
    assert report.depths[0].passed is True
    assert report.depths[1].passed is False
    assert report.passed is False
    out = report.to_dict()
    assert out["passed"] is False
    assert [d["passed"] for d in out["depths"]] == [True, False]


# ---------------------------------------------------------------------------------------------------------------
# bad input and failing checks
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("amplitude, frequency", [("0.6", 2), ("0.5", 2), ("-0.6", 2), ("0.2", 5)])
def test_non_invertible_layer_cannot_be_built(amplitude, frequency):
    with pytest.raises(ValueError):
        SineLayer(amplitude, frequency)


def test_verify_flow_rejects_too_deep_and_bad_dps():
    with pytest.raises(ValueError):
        V.verify_flow(chapter_flow(6), depths=[7], dps=20)
    with pytest.raises(ValueError):
        V.verify_flow(chapter_flow(6), depths=[0], dps=0)
    with pytest.raises(TypeError):
        V.verify_flow(chapter_flow(6), depths=[0], dps="30")


@dataclass(frozen=True)
class ClaimsTooMuch(Layer):
    """f(z) = z + 9/20 sin(2z), so f' >= 1/10, but claims f' >= 1/2: the grid check must catch the lie."""

    def expr(self, z):
        return z + sp.Rational(9, 20) * sp.sin(2 * z)

    def derivative_lower_bound(self):
        return sp.Rational(1, 2)

    def displacement_bound(self):
        return sp.Rational(9, 20)




def test_invertibility_check_fails_for_a_wrong_bound_claim():
    check = V.check_invertibility(Flow([ClaimsTooMuch()]))
    assert check.passed is False
    # the true minimum of f' is 1 - 9/10 = 1/10, so the slack is about 1/10 - 1/2
    assert check.evidence["grid_min_minus_bound"][0] == pytest.approx(-0.4, abs=1e-6)


def test_invertibility_check_fails_for_a_non_increasing_layer():
    check = V.check_invertibility(Flow([NotIncreasing()]))
    assert check.passed is False


def test_log_density_check_fails_for_a_non_increasing_layer():
    assert V.check_log_density(Flow([NotIncreasing()])).passed is False


# ---------------------------------------------------------------------------------------------------------------
# a valid high-frequency flow: the float64 path is as accurate as its conditioning allows
# ---------------------------------------------------------------------------------------------------------------


def test_float64_check_passes_for_a_valid_high_frequency_flow():
    """f(z) = z + 9/10000 sin(1000 z): |a w| = 9/10 < 1, a valid layer.

    log p_Y(y) = L(x) at x = F^{-1}(y), L(x) = log phi(x) - log F'(x), L'(x) = -x + a w^2 sin(w x) / F'(x).
    Merely holding x as a double (error ulp(x)/2, amplified by 1/F' through the inverse) moves L by
    |L'(x)| ulp(x) / F'(x), about 900 ulp(x) here: no float64 pipeline through a double preimage avoids it.
    The float64 log_prob is within that floor (checked first, in plain mpmath), so the float64 check should pass.
    """
    a, w = Fraction(9, 10000), Fraction(1000)
    flow = Flow([SineLayer("0.0009", 1000, 0)])
    xs = np.linspace(-4.0, 4.0, 17)
    ys = flow.forward(xs)
    lps = flow.log_prob(ys)
    for y, lp in zip(ys, lps):
        x_star = ref.inverse(float(y), layers=[(a, w, Fraction(0))], dps=30)
        with mpmath.workdps(40):
            A, Wm = mpmath.mpf(9) / 10000, mpmath.mpf(1000)
            Fp = 1 + A * Wm * mpmath.cos(Wm * x_star)
            Lp = -x_star + A * Wm**2 * mpmath.sin(Wm * x_star) / Fp
            exact = ref.log_normal_pdf(x_star) - mpmath.log(Fp)
            floor = abs(Lp) * math.ulp(float(x_star)) / Fp + 2.0**-52 * max(1, abs(exact))
            assert abs(mpmath.mpf(float(lp)) - exact) <= 4 * floor
    check = V.check_float_vs_mp(flow, 20)
    assert check.passed, check.summary
