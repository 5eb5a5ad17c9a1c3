"""SineLayer: exact parameters, validity condition, bounds, bracket; Flow structure and truncation."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import reference as ref
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import flowproof
from flowproof import Flow, SineLayer, chapter_flow

# ---------------------------------------------------------------------------------------------------------------
# exact parameters
# ---------------------------------------------------------------------------------------------------------------


def test_decimal_string_amplitude_is_exactly_8_over_25():
    layer = SineLayer("0.32", 2, "0.3")
    assert layer.amplitude == sp.Rational(8, 25)
    assert layer.frequency == sp.Integer(2)
    assert layer.phase == sp.Rational(3, 10)


def test_float_amplitude_keeps_the_exact_binary_value_not_the_decimal():
    layer = SineLayer(0.32)
    assert layer.amplitude == sp.Rational(0.32)
    assert layer.amplitude == sp.Rational(*(0.32).as_integer_ratio())
    assert layer.amplitude != sp.Rational(8, 25)


@pytest.mark.parametrize(
    "value, expected",
    [
        (Fraction(8, 25), sp.Rational(8, 25)),
        ("8/25", sp.Rational(8, 25)),
        (sp.Rational(8, 25), sp.Rational(8, 25)),
        (mpmath.mpf(1) / 4, sp.Rational(1, 4)),
        (-mpmath.mpf(1) / 8, sp.Rational(-1, 8)),  # regression: man_exp drops the sign of an mpf
        (sp.Float("0.25"), sp.Rational(1, 4)),
        ("-0.125", sp.Rational(-1, 8)),
        (0, sp.Integer(0)),
        (np.float64(0.25), sp.Rational(1, 4)),
    ],
)
def test_amplitude_forms_are_held_exactly(value, expected):
    assert SineLayer(value).amplitude == expected


def test_mpf_amplitude_is_its_exact_binary_value():
    with mpmath.workdps(15):
        value = mpmath.mpf("0.32")
    assert SineLayer(value).amplitude == sp.Rational(0.32)  # 53-bit mpf of 0.32 is the double 0.32


def test_defaults_are_the_chapter_amplitude_and_frequency_at_phase_zero():
    layer = SineLayer()
    assert (layer.amplitude, layer.frequency, layer.phase) == (sp.Rational(8, 25), 2, 0)


def test_chapter_phases_are_exact_decimals():
    flow = chapter_flow()
    expected = [sp.Rational(p.numerator, p.denominator) for p in ref.PHASES]
    assert [layer.phase for layer in flow] == expected
    assert all(layer.amplitude == sp.Rational(8, 25) and layer.frequency == 2 for layer in flow)


def test_equal_parameters_make_equal_hashable_layers():
    a = SineLayer("0.32", 2, "0.3")
    b = SineLayer(Fraction(8, 25), 2.0, Fraction(3, 10))
    assert a == b and hash(a) == hash(b)
    assert a != SineLayer(0.32, 2, "0.3")  # float 0.32 is not 8/25


# ---------------------------------------------------------------------------------------------------------------
# validity and bad parameters
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, w",
    [("0.5", 2), ("-0.5", 2), ("0.5", -2), (1, 1), ("0.6", 2), (0.5, 2), ("1/3", 3), (-1, "-1")],
)
def test_amplitude_times_frequency_at_least_one_is_rejected(a, w):
    with pytest.raises(ValueError, match="amplitude"):
        SineLayer(a, w)


def test_amplitude_times_frequency_just_below_one_is_accepted():
    layer = SineLayer("0.4999999999999999999999", 2)
    assert layer.derivative_lower_bound() == sp.Rational(2, 10**22)


@pytest.mark.parametrize("name", ["amplitude", "frequency", "phase"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), mpmath.mpf("inf"), mpmath.mpf("nan"),
                                 "nan", "inf", "-inf", sp.oo, sp.nan])
def test_non_finite_parameter_is_value_error_naming_it(name, bad):
    kwargs = {"amplitude": "0.1", "frequency": 2, "phase": 0, name: bad}
    with pytest.raises(ValueError, match=name):
        SineLayer(**kwargs)


@pytest.mark.parametrize("name", ["amplitude", "frequency", "phase"])
@pytest.mark.parametrize("bad", ["abc", "", "0.3.2", "1/0"])
def test_unparseable_string_parameter_is_value_error_naming_it(name, bad):
    kwargs = {"amplitude": "0.1", "frequency": 2, "phase": 0, name: bad}
    with pytest.raises(ValueError, match=name):
        SineLayer(**kwargs)


@pytest.mark.parametrize("name", ["amplitude", "frequency", "phase"])
@pytest.mark.parametrize("bad", [[0.1], None, 0.1 + 0j, 1j, True, False, np.bool_(True), (0.1,), {}, object()])
def test_non_number_parameter_is_type_error_naming_it(name, bad):
    kwargs = {"amplitude": "0.1", "frequency": 2, "phase": 0, name: bad}
    with pytest.raises(TypeError, match=name):
        SineLayer(**kwargs)


# ---------------------------------------------------------------------------------------------------------------
# bounds and bracket
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, w, m, d",
    [
        ("0.32", 2, sp.Rational(9, 25), sp.Rational(8, 25)),
        ("-0.32", 2, sp.Rational(9, 25), sp.Rational(8, 25)),
        ("0.3", "-3", sp.Rational(1, 10), sp.Rational(3, 10)),
        (0, 5, sp.Integer(1), sp.Integer(0)),
        (Fraction(1, 7), Fraction(7, 2), sp.Rational(1, 2), sp.Rational(1, 7)),
    ],
)
def test_derivative_lower_bound_is_one_minus_abs_aw_and_displacement_is_abs_a(a, w, m, d):
    layer = SineLayer(a, w, "0.3")
    assert layer.derivative_lower_bound() == m
    assert layer.displacement_bound() == d


@given(
    p=st.integers(-99, 99),
    q=st.integers(1, 100),
    w=st.integers(-10, 10),
    phi=st.fractions(min_value=-10, max_value=10, max_denominator=1000),
)
@settings(max_examples=60, deadline=None)
def test_bounds_are_exact_and_tight_for_random_rational_layers(p, q, w, phi):
    a = Fraction(p, q)
    if abs(a * w) >= 1:
        with pytest.raises(ValueError):
            SineLayer(a, w, phi)
        return
    layer = SineLayer(a, w, phi)
    assert layer.derivative_lower_bound() == sp.Rational(1) - sp.Rational(abs(a * w))
    assert layer.displacement_bound() == sp.Rational(abs(a))


def test_bracket_of_a_float_is_y_plus_minus_abs_a():
    layer = SineLayer("-0.32", 2, "1.1")
    for y in [0.0, 0.7, -2.25, 1e3, -1e8]:
        lo, hi = layer.bracket(y)
        assert lo <= y - 0.32 and hi >= y + 0.32
        assert math.isclose(lo, y - 0.32, rel_tol=1e-15, abs_tol=1e-15)
        assert math.isclose(hi, y + 0.32, rel_tol=1e-15, abs_tol=1e-15)


def test_bracket_of_an_array_is_elementwise():
    layer = SineLayer("0.32", 2, "0.3")
    y = np.array([[0.0, 1.5], [-3.0, 1e6]])
    lo, hi = layer.bracket(y)
    assert lo.shape == hi.shape == y.shape
    np.testing.assert_allclose(lo, y - 0.32, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(hi, y + 0.32, rtol=1e-15, atol=1e-15)


def test_bracket_of_an_mpf_is_exact_decimal_width_at_working_precision():
    layer = SineLayer("0.32", 2, "0.3")
    with mpmath.workdps(60):
        y = mpmath.mpf(7) / 10
        lo, hi = layer.bracket(y)
        width = mpmath.mpf(8) / 25
        assert abs(lo - (y - width)) <= mpmath.mpf(10) ** -58
        assert abs(hi - (y + width)) <= mpmath.mpf(10) ** -58


@pytest.mark.parametrize("phase", ref.PHASES)
@pytest.mark.parametrize("y", ["0.7", "-2.25", "1e3", "-1e8"])
def test_bracket_contains_the_reference_layer_preimage(phase, y):
    layer = SineLayer("0.32", 2, phase)
    x = ref.inverse(y, layers=[(ref.AMPLITUDE, ref.FREQUENCY, phase)], dps=30)
    with mpmath.workdps(50):
        lo, hi = layer.bracket(ref.mp(y))
        assert lo <= x <= hi


# ---------------------------------------------------------------------------------------------------------------
# Flow structure and truncation
# ---------------------------------------------------------------------------------------------------------------


def test_chapter_flow_has_six_layers_in_order():
    flow = chapter_flow()
    assert len(flow) == 6
    assert len(list(flow)) == 6
    assert all(isinstance(layer, SineLayer) for layer in flow)
    assert flow[0].phase == sp.Rational(3, 10) and flow[-1].phase == sp.Rational(53, 10)


def test_empty_flow_is_identity_and_has_no_layers():
    flow = Flow([])
    assert len(flow) == 0
    assert list(flow) == []
    assert flow.forward(1.25) == 1.25
    assert flow.log_det(1.25) == 0.0


def test_slicing_gives_a_flow_of_the_first_layers():
    flow = chapter_flow()
    head = flow[:3]
    assert isinstance(head, Flow)
    assert len(head) == 3
    assert list(head) == list(flow)[:3]
    assert head == chapter_flow(3)
    assert isinstance(flow[2:], Flow) and len(flow[2:]) == 4


@pytest.mark.parametrize("K", [0, 1, 2, 3, 4, 5, 6, 2.5, "2.3", Fraction(7, 2), "0.25", 5.75, "6.0"])
def test_chapter_flow_K_equals_truncation_of_full_flow(K):
    assert chapter_flow(K) == chapter_flow(6).truncate(K)


def test_truncate_decimal_string_depth_is_exact():
    flow = chapter_flow(6).truncate("2.3")
    assert len(flow) == 3
    assert list(flow)[:2] == list(chapter_flow())[:2]
    last = flow[-1]
    assert isinstance(last, SineLayer)
    assert last.amplitude == sp.Rational(3, 10) * sp.Rational(8, 25)
    assert last.frequency == 2 and last.phase == 2


def test_truncate_float_depth_uses_its_exact_binary_fraction():
    last = chapter_flow(6).truncate(2.3)[-1]
    assert last.amplitude == (sp.Rational(2.3) - 2) * sp.Rational(8, 25)
    assert last.amplitude != sp.Rational(12, 125)


def test_fractional_depth_two_and_a_half_halves_the_third_amplitude():
    flow = chapter_flow("2.5")
    assert len(flow) == 3
    assert flow[-1] == SineLayer(Fraction(4, 25), 2, 2)


def test_truncate_zero_is_identity_and_full_depth_is_unchanged():
    full = chapter_flow()
    assert len(full.truncate(0)) == 0
    assert full.truncate(6) == full
    assert len(full.truncate("0.5")) == 1 and full.truncate("0.5")[0] == SineLayer("0.16", 2, "0.3")


@pytest.mark.parametrize("K", [7, 6.5, "6.01", -1, "-0.5", -1e-300, float("nan"), float("inf")])
def test_truncate_outside_zero_to_len_is_value_error(K):
    with pytest.raises(ValueError):
        chapter_flow().truncate(K)
    with pytest.raises(ValueError):
        chapter_flow(K)


def test_truncate_of_short_flow_beyond_len_is_value_error():
    with pytest.raises(ValueError):
        chapter_flow(6)[:2].truncate("2.5")


@pytest.mark.parametrize("K", [None, [2], (2,), 2 + 0j, object(), True])
def test_non_number_depth_is_type_error(K):
    with pytest.raises(TypeError):
        chapter_flow().truncate(K)
    with pytest.raises(TypeError):
        chapter_flow(K)


def test_chapter_constants_are_the_printed_decimals():
    assert flowproof.CHAPTER_AMPLITUDE == "0.32"
    assert flowproof.CHAPTER_FREQUENCY == 2
    assert [Fraction(p) for p in flowproof.CHAPTER_PHASES] == list(ref.PHASES)
