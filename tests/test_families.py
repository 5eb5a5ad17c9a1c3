"""The affine, tanh and sinh-arcsinh families: validity conditions, bounds against plain mpmath, partial layers."""

from __future__ import annotations

import re

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import flowproof as fp
from flowproof.numeric import Z, layer_functions
from flowproof.symbolic import prove_derivative_form

mpf = mpmath.mpf
GRID = [mpf(x) / 8 for x in range(-80, 81)] + [mpf(10) ** k for k in range(2, 9)] + [-mpf(10) ** k for k in (3, 8)]


@pytest.mark.parametrize("make, message", [
    (lambda: fp.AffineLayer(0, 1), "scale > 0"),
    (lambda: fp.AffineLayer("-0.5"), "scale > 0"),
    (lambda: fp.TanhLayer(-2, "0.5"), "amplitude * frequency > -1"),
    (lambda: fp.TanhLayer("0.5", -2), "amplitude * frequency > -1"),
    (lambda: fp.SinhArcsinhLayer("0.5"), "tailweight >= 1"),
    (lambda: fp.SinhArcsinhLayer(0), "tailweight >= 1"),
])
def test_invalid_parameters_are_refused_naming_the_condition(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


@pytest.mark.parametrize("make", [lambda: fp.AffineLayer(True), lambda: fp.TanhLayer([1]),
                                  lambda: fp.SinhArcsinhLayer(1, "x")])
def test_bad_parameter_types_and_text(make):
    with pytest.raises((TypeError, ValueError), match="scale|amplitude|skewness"):
        make()


def test_parameters_are_exact_decimals():
    layer = fp.TanhLayer("0.32", "1.1", "-0.2")
    assert (layer.amplitude, layer.frequency, layer.shift) == (sp.Rational(8, 25), sp.Rational(11, 10),
                                                                 sp.Rational(-1, 5))
    assert not fp.SinhArcsinhLayer("1.5", "0.1").expr(Z).atoms(sp.Float)


def test_tanh_is_valid_for_any_positive_a_w():
    layer = fp.TanhLayer(3, 2)  # a w = 6: f' = 1 + 6 sech^2 >= 1
    assert layer.derivative_lower_bound() == 1


def fr(x):
    """A Fraction as an mpf at the current precision."""
    return mpf(x.numerator) / x.denominator


def _check_bounds(layer, f, df):
    m, d = layer.derivative_lower_bound(), layer.displacement_bound()
    with mpmath.workdps(30):
        m_mp = mpmath.mpf(sp.N(m, 40))
        for z in GRID:
            assert df(z) >= m_mp * (1 - mpf(10) ** -25), (layer, z)
            if d.is_finite:
                assert abs(f(z) - z) <= mpmath.mpf(sp.N(d, 40)) + mpf(10) ** -25 * max(1, abs(z)), (layer, z)


@settings(max_examples=25, deadline=None)
@given(st.fractions(-3, 3, max_denominator=20), st.fractions(-3, 3, max_denominator=20),
       st.fractions(-2, 2, max_denominator=10))
def test_tanh_bounds_hold_pointwise(a, w, b):
    if a * w <= -1:
        with pytest.raises(ValueError):
            fp.TanhLayer(a, w, b)
        return
    layer = fp.TanhLayer(a, w, b)
    _check_bounds(layer, lambda z: z + fr(a) * mpmath.tanh(fr(w) * z + fr(b)),
                  lambda z: 1 + fr(a) * fr(w) * mpmath.sech(fr(w) * z + fr(b)) ** 2)


@settings(max_examples=25, deadline=None)
@given(st.fractions(1, 4, max_denominator=8), st.fractions(-2, 2, max_denominator=8))
def test_sinh_arcsinh_bounds_hold_pointwise(b, e):
    layer = fp.SinhArcsinhLayer(b, e)
    _check_bounds(layer, lambda z: mpmath.sinh(fr(b) * mpmath.asinh(z) - fr(e)),
                  lambda z: fr(b) * mpmath.cosh(fr(b) * mpmath.asinh(z) - fr(e)) / mpmath.sqrt(1 + z * z))


@settings(max_examples=25, deadline=None)
@given(st.fractions(1, 4, max_denominator=8), st.fractions(-2, 2, max_denominator=8),
       st.floats(-1e9, 1e9, allow_nan=False))
def test_sinh_arcsinh_bracket_holds_the_root(b, e, y):
    layer = fp.SinhArcsinhLayer(b, e)
    lo, hi = layer.bracket(np.array([y]))
    with mpmath.workdps(40):
        f = lambda z: mpmath.sinh(fr(b) * mpmath.asinh(z) - fr(e))  # noqa: E731
        assert f(mpf(lo[0])) <= y <= f(mpf(hi[0]))


@pytest.mark.parametrize("layer", [fp.TanhLayer("0.8", "1.1", "0.2"), fp.TanhLayer("-0.95", 1, "-0.5"),
                                   fp.AffineLayer("1.5", 2), fp.SinhArcsinhLayer("1.5", "0.4")])
def test_float_derivative_form_is_proven_equal_to_the_derivative(layer):
    assert prove_derivative_form(layer)


def test_near_singular_tanh_derivative_has_no_cancellation():
    layer = fp.TanhLayer("-0.999999", 1)  # f'(0) = 1e-6
    df = layer_functions(layer).df(np.array([0.0, 1e-4]))
    with mpmath.workdps(30):
        exact = [1 - mpf("0.999999") * mpmath.sech(mpf(v)) ** 2 for v in (0.0, 1e-4)]
    np.testing.assert_allclose(df, [float(v) for v in exact], rtol=1e-14)


def test_partials_stay_in_their_family_and_partial_zero_is_the_identity():
    assert fp.AffineLayer(3, 1).partial(sp.Rational(1, 2)) == fp.AffineLayer(2, sp.Rational(1, 2))
    assert fp.TanhLayer("0.5", 2, 1).partial(sp.Rational(1, 2)) == fp.TanhLayer("0.25", 2, 1)
    half = fp.SinhArcsinhLayer(2, 1).partial(sp.Rational(1, 2))
    assert isinstance(half, fp.PartialLayer) and half.displacement_bound() == sp.oo
    zero = fp.PartialLayer(fp.SinhArcsinhLayer(2, 1), sp.Integer(0))
    assert zero.displacement_bound() == 0 and zero.bracket(2.0) == pytest.approx((2.0, 2.0))


def test_unbounded_layers_say_so_and_bounded_ones_give_d():
    assert fp.AffineLayer(2, 1).displacement_bound() == sp.oo
    assert fp.AffineLayer(1, "-0.5").displacement_bound() == sp.Rational(1, 2)
    assert fp.SinhArcsinhLayer(1, 0).displacement_bound() == 0
    assert fp.TanhLayer("-0.3", 2).displacement_bound() == sp.Rational(3, 10)


def test_find_modes_refuses_other_families_clearly():
    with pytest.raises(TypeError, match="SineLayer"):
        fp.find_modes(fp.Flow([fp.SineLayer("0.3", 2), fp.TanhLayer("0.5", 1)]))


def test_verify_flow_passes_for_a_mixed_flow_with_bounded_layers():
    from flowproof.verify import verify_flow
    flow = fp.Flow([fp.SineLayer("0.32", 2, "0.3"), fp.TanhLayer("0.8", "1.1", "0.2"),
                    fp.ExprLayer("z + 0.8*atan(z) + z/(4 + z**2)")])
    report = verify_flow(flow, depths=[3], dps=20)
    assert report.passed, [(c.name, c.summary) for d in report.depths for c in d.checks if not c.passed]
