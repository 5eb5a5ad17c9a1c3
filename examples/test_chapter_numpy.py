"""Check the hand-written numpy flow of ``chapter_numpy.py`` against flowproof's exact oracle.

Run with ``pytest examples/``. The correct implementation passes every helper; each broken variant is caught by
the helpers that look at what it breaks, and the ``pytest.raises`` blocks show the messages you would get.
"""

import numpy as np
import pytest
from chapter_numpy import PHASES, ChapterFlow, FixedBracket, SignFlipped
from hypothesis import given, settings

import flowproof as fp
from flowproof.testing import (
    assert_flow_close,
    assert_forward_close,
    assert_inverse_close,
    assert_log_det_close,
    assert_log_prob_close,
)
from flowproof.testing import strategies as fst


# -- the correct implementation passes ---------------------------------------------------------------------------
def test_forward(flowproof_flow):
    assert_forward_close(ChapterFlow().forward, flowproof_flow)


def test_log_det(flowproof_flow):
    assert_log_det_close(ChapterFlow().log_det, flowproof_flow)


def test_inverse(flowproof_flow):
    assert_inverse_close(ChapterFlow().inverse, flowproof_flow)


def test_log_prob(flowproof_flow):
    assert_log_prob_close(ChapterFlow().log_prob, flowproof_flow)


def test_everything_at_once(flowproof_flow):
    assert_flow_close(ChapterFlow(), flowproof_flow)


@pytest.mark.parametrize("flowproof_flow", [1, 3], indirect=True)
def test_shallower_flows(flowproof_flow):
    assert_flow_close(ChapterFlow(PHASES[:len(flowproof_flow)]), flowproof_flow)


@settings(max_examples=10, deadline=None)
@given(fst.sine_parameters())
def test_any_valid_sine_layer(params):
    # the numpy code computes with doubles, so the oracle gets the same doubles (a float is taken exactly)
    a, w, phi = (float(params[k]) for k in ("amplitude", "frequency", "phase"))
    flow = fp.Flow([fp.SineLayer(a, w, phi)])
    assert_log_det_close(ChapterFlow([phi], amplitude=a, frequency=w).log_det, flow)


# -- the log-determinant with its sign flipped ---------------------------------------------------------------------
def test_sign_flipped_log_det_is_caught(flowproof_flow):
    with pytest.raises(AssertionError, match=r"log_det: SignFlipped\.log_det differs from flowproof's oracle at "
                                             r"46 of 46 points"):
        assert_log_det_close(SignFlipped().log_det, flowproof_flow)


def test_sign_flipped_log_prob_is_caught(flowproof_flow):
    with pytest.raises(AssertionError, match=r"log_prob: SignFlipped\.log_prob differs .* at 46 of 46 points"):
        assert_log_prob_close(SignFlipped().log_prob, flowproof_flow)


def test_sign_flipped_forward_and_inverse_are_right(flowproof_flow):
    assert_forward_close(SignFlipped().forward, flowproof_flow)
    assert_inverse_close(SignFlipped().inverse, flowproof_flow)


# -- the inverse searching a fixed bracket [-10, 10] ---------------------------------------------------------------
def test_fixed_bracket_inverse_is_caught_in_the_tails(flowproof_flow):
    with pytest.raises(AssertionError, match=r"(?s)at 16 of 46 points.*worst at y = 39\.40\d* \[F\(tail\)\]:\n"
                                             r"    yours  x = 10\.0\n    oracle x = 40\.0000"):
        assert_inverse_close(FixedBracket().inverse, flowproof_flow)


def test_fixed_bracket_log_prob_is_caught(flowproof_flow):
    with pytest.raises(AssertionError, match=r"log_prob: FixedBracket\.log_prob differs .* at 16 of 46 points"):
        assert_log_prob_close(FixedBracket().log_prob, flowproof_flow)


def test_fixed_bracket_looks_right_where_samples_fall(flowproof_flow):
    # why the default points reach the tails: on |x| <= 8 the broken inverse is as good as the correct one
    assert_inverse_close(FixedBracket().inverse, flowproof_flow, points=flowproof_flow.forward(np.linspace(-8, 8, 33)))


def test_everything_at_once_names_each_broken_method(flowproof_flow):
    with pytest.raises(AssertionError, match=r"2 of 4 methods of FixedBracket differ") as caught:
        assert_flow_close(FixedBracket(), flowproof_flow)
    assert "inverse: FixedBracket.inverse" in str(caught.value) and "log_prob:" in str(caught.value)
