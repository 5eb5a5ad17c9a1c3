"""Regressions found by new-user trials: flat layers in the claims, empty output paths, near-singular layers."""

from __future__ import annotations

import math

import pytest

from flowproof import Flow, SineLayer
from flowproof.cli import main


def test_claims_on_a_flow_without_ripple_say_not_applicable_instead_of_crashing(capsys):
    assert main(["verify", "--phases", "0,0.5,1", "--amplitude", "0", "--depth", "1", "--claims"]) == 0
    out = capsys.readouterr().out
    assert "not applicable" in out and "Traceback" not in out


def test_claims_with_frequency_zero_finish(capsys):
    assert main(["verify", "--phases", "0,0.5,1", "--frequency", "0", "--depth", "1", "--claims"]) == 0
    assert "not applicable" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["plot", "docs"])
def test_empty_outdir_is_bad_usage(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([command, ""]) == 2
    assert capsys.readouterr().err.startswith("flowproof: error:")
    assert list(tmp_path.iterdir()) == []


def test_near_singular_modes_give_up_quickly_with_a_reason():
    from flowproof.modes import find_modes

    flow = Flow([SineLayer("0.49995", 2, p) for p in ("0", "0.5", "1")])
    with pytest.raises(ArithmeticError, match="could not certify"):
        find_modes(flow)


def test_chapter_figure_draws_a_sharp_peak_to_its_height():
    pytest.importorskip("matplotlib")
    from flowproof import plots

    flow = Flow([SineLayer("0.4995", 2, 0)])  # f' = 1 + 0.999 cos 2x, smallest 1/1000 at x = pi/2
    fig = plots.chapter_figure(flow, depths=[1])
    lower = fig.axes[1]
    drawn = max(max(line.get_ydata()) for line in lower.get_lines())
    # by hand: p_Y(F(x)) = phi(x) / f'(x), and at x = pi/2 that is phi(pi/2) / 0.001
    peak = math.exp(-(math.pi / 2) ** 2 / 2) / math.sqrt(2 * math.pi) / 0.001
    assert drawn >= 0.8 * peak


@pytest.mark.parametrize("t", ["1e11", "1e50", "1e300"])
def test_cdf_far_in_the_tail_at_high_precision(t):
    """mpmath.ncdf overflows past ~1e154; by hand, log Phi(-t) = -t^2/2 - log(t sqrt(2 pi)) - 1/t^2 + O(t^-4)."""
    import mpmath

    with mpmath.workdps(40):
        value = Flow([]).cdf(f"-{t}", dps=30)
        tt = mpmath.mpf(t)
        expected = -tt * tt / 2 - mpmath.log(tt * mpmath.sqrt(2 * mpmath.pi)) - 1 / (tt * tt)
        assert abs(mpmath.log(value) - expected) <= abs(expected) * mpmath.mpf(10) ** -28
        assert Flow([]).cdf(t, dps=30) == 1


# ---------------------------------------------------------------------------------------------------------------
# second trial (session 2): far tails, high frequencies, overflow, huge constants
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("x", [1e16, -1e18, 1e20, -1e300, 5e12, -1e15])
def test_chapter_log_det_stays_accurate_beyond_1e12(x):
    # The compensated chain's second-order Taylor step broke once lo reached ~1 (|x| >~ 1e16): log_det(-1e300)
    # was 16.9, outside the possible range [6 log 0.36, 6 log 1.64]. Reference: plain mpmath at 400 digits.
    import numpy as np
    import reference as ref

    from flowproof import chapter_flow

    exact = ref.log_det(x, dps=400)
    assert abs(chapter_flow().log_det(x) - float(exact)) <= 8 * np.finfo(float).eps * max(1.0, abs(float(exact)))


def test_product_error_beyond_2_53_is_rotated_not_added():
    # w z = 1e30 has a rounding error e ~ 1e13: the first-order sin(A) + e cos(A) gave log_det 27.1 (bound 0.105).
    import mpmath

    layer = SineLayer("1e-15", "1e14", "0.3")
    with mpmath.workdps(80):
        x = mpmath.mpf(-1e16)
        exact = mpmath.log(1 + mpmath.mpf(1) / 10 * mpmath.cos(mpmath.mpf(10) ** 14 * x + mpmath.mpf(3) / 10))
    assert abs(Flow([layer]).log_det(-1e16) - float(exact)) <= 1e-12


def test_forward_that_overflows_gives_infinity_not_its_input():
    from flowproof import SinhArcsinhLayer

    flow = Flow([SinhArcsinhLayer(2, "0.5")])
    assert flow.forward(1e155) == math.inf and flow.forward(-1e300) == -math.inf


@pytest.mark.parametrize("y, expected", [(1e300, 1e100), (-1e300, -1e100)])
def test_inverse_where_f_overflows_near_y_still_bisects_to_the_root(y, expected):
    # f(1e300) = inf made the residual "quiet" (inf <= inf) and Newton's inf/inf a NaN candidate.
    from flowproof import ExprLayer

    x = Flow([ExprLayer("z + z**3")]).inverse(y)
    assert abs(x - expected) <= 4e-16 * abs(expected)


def test_sinh_arcsinh_inverse_in_the_far_tail():
    # The safeguarded loop started at y, outside the family's tight exact-inverse bracket.
    import mpmath

    from flowproof import SinhArcsinhLayer

    with mpmath.workdps(40):
        exact = mpmath.sinh((mpmath.asinh(mpmath.mpf(-1e300)) + mpmath.mpf(1) / 2) / 2)
    assert abs(Flow([SinhArcsinhLayer(2, "0.5")]).inverse(-1e300) - float(exact)) <= 4e-16 * abs(float(exact))


@pytest.mark.parametrize("scale", ["1e-300", "1e20", 2**64])
def test_affine_log_det_with_a_huge_or_tiny_scale(scale):
    # log(10**300) printed as numpy.log of a Python int raised TypeError; constants are folded to Floats now.
    from fractions import Fraction

    from flowproof import AffineLayer

    value = Fraction(scale) if isinstance(scale, str) else Fraction(scale)
    expected = math.log(value.numerator) - math.log(value.denominator)
    assert abs(Flow([AffineLayer(scale, 0)]).log_det(1.0) - expected) <= 1e-13 * abs(expected)


def test_expr_layer_with_erf_evaluates_in_float():
    import numpy as np

    from flowproof import ExprLayer

    out = Flow([ExprLayer("z + erf(z)")]).forward(np.array([0.3, -2.0]))
    assert np.allclose(out, [0.3 + math.erf(0.3), -2.0 + math.erf(-2.0)], rtol=1e-15)


def test_minimum_of_exp_over_r_is_not_claimed_positive():
    # The branch-and-bound heap was keyed by floats: 1e-445 and 1e-889 both keyed 0.0, the wrong piece came out on
    # top and exp(z) was "proven" >= 5.2e-445 on all of R (its infimum is 0).
    import sympy as sp

    from flowproof import intervals

    z = sp.Symbol("z", real=True)
    result = intervals.minimize(sp.exp(z), z, prove_above=0)
    assert result.lower <= 0 and not result.settled


@pytest.mark.parametrize("expression", ["exp(z)", "z + 0.5*exp(-z**2)"])
def test_expr_layer_refusals_are_value_errors_with_a_reason(expression):
    from flowproof import ExprLayer

    with pytest.raises(ValueError, match="could not prove"):
        ExprLayer(expression)


def test_expr_layer_admits_sinh():
    # f' = cosh z >= 1: an increasing bijection (its displacement is unbounded); it raised OverflowError.
    from flowproof import ExprLayer

    layer = ExprLayer("sinh(z)")
    assert layer.derivative_lower_bound() > 0
    assert abs(Flow([layer]).inverse(math.sinh(2.5)) - 2.5) <= 1e-15


def test_expr_layer_refuses_text_that_is_not_a_formula():
    # SymPy's parser evaluates Python: "__import__('os').system(...)" ran a shell command.
    from flowproof import ExprLayer

    with pytest.raises(ValueError, match="refused"):
        ExprLayer("__import__('os').system('echo pwned')")


def test_testing_helpers_default_tolerance_follows_a_float32_dtype():
    import numpy as np

    from flowproof import chapter_flow
    from flowproof.testing import assert_log_det_close

    flow = chapter_flow()
    assert_log_det_close(lambda x: flow.log_det(x.astype(np.float64)).astype(np.float32), flow, dtype=np.float32)


def test_numpy_export_takes_a_list():
    import numpy as np

    from flowproof import chapter_flow

    flow = chapter_flow()
    assert np.allclose(flow.lambdify("numpy").forward([0.7, 1.0]), flow.forward(np.array([0.7, 1.0])), rtol=1e-15)


@pytest.mark.parametrize("x", [1e155, -1e300, -1e6, 0.0, 3.0])
def test_sinh_arcsinh_log_det_is_finite_where_cosh_overflows(x):
    # log f' = log b + log cosh(b u - e) - log cosh u was evaluated through cosh, which overflows at |z| ~ 1e154.
    import mpmath

    from flowproof import SinhArcsinhLayer

    with mpmath.workdps(60):
        z = mpmath.mpf(x)
        u = mpmath.asinh(z)
        exact = mpmath.log(2) + mpmath.log(mpmath.cosh(2 * u - mpmath.mpf(1) / 2)) - mpmath.log(mpmath.cosh(u))
    value = Flow([SinhArcsinhLayer(2, "0.5")]).log_det(x)
    assert abs(value - float(exact)) <= 4e-16 * max(1.0, abs(float(exact)))


@pytest.mark.parametrize("x", [-3.0, 2.0, 0.5, -1e16, 1e20])
def test_high_frequency_layers_are_accurate_in_float(x):
    # w = 1e14: a plain float chain rounds z_k by ~1e-16, which moves w z_k by ~0.04 rad (log_det(-3) was off by
    # 1.2e-3); such flows take the compensated chain everywhere, and an offset w lo is rotated in on its own (added
    # to a product error of ~1e13 first, it was rounded away). Reference: plain mpmath at 120 digits.
    import mpmath

    with mpmath.workdps(120):
        z, a, w, phi, total = mpmath.mpf(x), mpmath.mpf(10) ** -15, mpmath.mpf(10) ** 14, mpmath.mpf(3) / 10, 0
        for _ in range(3):
            total += mpmath.log(1 + a * w * mpmath.cos(w * z + phi))
            z = z + a * mpmath.sin(w * z + phi)
    flow = Flow([SineLayer("1e-15", "1e14", "0.3")] * 3)
    assert abs(flow.log_det(x) - float(total)) <= 1e-15
