"""flowproof.testing.strategies: only valid layers, exact parameters, a registry of families; checked against
hand computations and the plain-mpmath reference."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import reference as ref
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import flowproof as fp
from flowproof.testing import strategies as fst

ROOT = Path(__file__).resolve().parents[1]
FAST = settings(max_examples=25, deadline=None)


def _fraction(value: sp.Rational) -> Fraction:
    return Fraction(int(value.p), int(value.q))


@FAST
@given(fst.sine_parameters())
def test_sine_parameters_are_exact_and_valid(params):
    a, w, phi = params["amplitude"], params["frequency"], params["phase"]
    assert all(isinstance(v, Fraction) for v in (a, w, phi))
    assert Fraction(1, 4) <= w <= 4 and abs(a * w) <= Fraction(9, 10) and abs(phi) <= 7
    assert (a * w * 100).denominator == 1 and (phi * 100).denominator == 1
    layer = fp.SineLayer(**params)
    assert (_fraction(layer.amplitude), _fraction(layer.frequency), _fraction(layer.phase)) == (a, w, phi)


@FAST
@given(fst.sine_layers(max_slope="1/2", max_frequency=1))
def test_sine_layers_respect_the_bounds_given(layer):
    assert isinstance(layer, fp.SineLayer)
    assert layer.frequency <= 1 and abs(layer.amplitude * layer.frequency) <= sp.Rational(1, 2)


@settings(max_examples=10, deadline=None)  # each new layer is lambdified once: keep the draw small
@given(fst.flows(min_layers=1, max_layers=3, families=["sine"]))
def test_drawn_flows_match_the_reference_log_det(flow):
    assert 1 <= len(flow) <= 3
    layers = [(_fraction(la.amplitude), _fraction(la.frequency), _fraction(la.phase)) for la in flow]
    assert ref.err(flow.log_det(0.7, dps=30), ref.log_det(0.7, dps=30, layers=layers), dps=30) < 1e-28


@FAST
@given(fst.flows(min_layers=1, max_layers=4, families=["sine"], fractional=True))
def test_fractional_flows_take_the_last_layer_part_of_the_way(flow):
    last = flow[-1]
    assert isinstance(last, fp.SineLayer)  # a partial sine layer is a sine layer of smaller amplitude
    assert all(abs(layer.amplitude * layer.frequency) <= sp.Rational(9, 10) for layer in flow)


@FAST
@given(fst.flows(max_layers=6, families=["sine"], min_derivative="1/10"))
def test_min_derivative_keeps_only_well_conditioned_flows(flow):
    bound = Fraction(1)
    for layer in flow:
        bound *= 1 - abs(_fraction(layer.amplitude) * _fraction(layer.frequency))
    assert bound >= Fraction(1, 10)


@FAST
@given(st.data())
def test_data_points_are_images_of_base_points(data):
    flow = fp.chapter_flow(2)
    y = data.draw(fst.data_points(flow, max_abs=10))
    assert abs(y) <= 10 + 0.64 and abs(y - ref.forward(ref.inverse(y, K=2), K=2)) < 1e-12


@pytest.mark.parametrize("family", sorted(fst.LAYER_STRATEGIES))
def test_every_registered_family_draws_valid_layers(family):
    @settings(max_examples=10, deadline=None)
    @given(fst.layers([family]))
    def check(layer):
        assert layer.derivative_lower_bound() > 0  # the family's own proven bound, exact
        x = 0.3
        assert abs(float(layer.expr(sp.Float(x))) - x) <= float(layer.displacement_bound()) + 1e-12

    check()


def test_the_registry_takes_new_families():
    @st.composite
    def halves(draw):
        return fp.SineLayer("0.3", 2, draw(st.integers(0, 3))).partial(sp.Rational(1, 2))

    fst.register_layer_strategy("test-half-sine", lambda: halves())
    try:
        @FAST
        @given(fst.layers(["test-half-sine"]))
        def check(layer):
            assert layer.amplitude == sp.Rational(3, 20)

        check()
        assert "sine" in fst.LAYER_STRATEGIES
    finally:
        del fst.LAYER_STRATEGIES["test-half-sine"]


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="unknown layer families"):
        fst.layers(["no-such-family"])
    with pytest.raises(ValueError, match="max_slope must lie in"):
        fst.sine_parameters(max_slope=1)
    with pytest.raises(ValueError, match="min_layers <= max_layers"):
        fst.flows(min_layers=3, max_layers=2)
    with pytest.raises(TypeError, match="factory must be callable"):
        fst.register_layer_strategy("x", 3)


def test_flowproof_testing_does_not_import_hypothesis():
    code = "import sys, flowproof.testing; assert 'hypothesis' not in sys.modules, 'hypothesis imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
