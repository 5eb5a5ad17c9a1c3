"""flowproof.claims: each claim's verdict agrees with a judgement made here from the independent reference.

The reference modes come from ``test_modes.reference_modes`` (plain numpy from the chapter's formula, never
flowproof's output); the judgements below read the chapter's words the way the claims module documents them, with
the thresholds restated here: counted = relative prominence >= threshold, "near a minimum of f_1'" = within a
quarter period pi/(2w), "not at the K = 1 locations" = more than 0.05 away in y, "varying" = tallest/shortest >= 1.5.
"""

from __future__ import annotations

import json
import math

import mpmath
import pytest
from test_modes import chapter_layers, reference_modes

from flowproof import Flow, SineLayer, chapter_flow
from flowproof import claims as C

W = 2.0
PHASE_1 = 0.3


def counted(K, threshold):
    return [r for r in reference_modes(chapter_layers(K)) if r[4] >= threshold]


def judge(threshold):
    """Our own verdict for each claim (in the module's order), from the reference alone."""
    one, three, six = counted(1, threshold), counted(3, threshold), counted(6, threshold)
    # minima of f_1' = 1 + a w cos(w x + phi_1): w x + phi_1 = pi (mod 2 pi)
    period = 2 * math.pi / W

    def distance_to_minimum(x):
        m0 = (math.pi - PHASE_1) / W
        return abs((x - m0 + period / 2) % period - period / 2)

    heights = [r[2] for r in six]
    single_raw = [len(reference_modes([(0.32, phase)])) for phase in (0.3, 1.1, 2.0, 2.9, 4.1, 5.3)]
    return [
        True,                                                                   # K = 0: identity, by hand
        len(one) == 2,                                                          # bimodal
        all(distance_to_minimum(r[1]) <= period / 4 for r in one),              # peaks where f_1' is small
        len(three) >= 3,                                                        # multiple peaks
        all(min(abs(r[0] - o[0]) for o in one) > 0.05 for r in three),          # not at the K = 1 locations
        5 <= len(six) <= 7,                                                     # half a dozen
        len(heights) >= 2 and max(heights) / min(heights) >= 1.5,               # varying height
        max(single_raw) < len(reference_modes(chapter_layers(6))),              # no layer alone
        True,                                                                   # inverse: K root finds
        True,                                                                   # integrates to one
    ]


@pytest.fixture(scope="module")
def default_claims():
    return C.check_claims()


def test_claims_are_in_the_chapters_order_with_its_words(default_claims):
    depths = [c.depth for c in default_claims]
    assert depths[:8] == ["0", "1", "1", "3", "3", "6", "6", "6"]
    assert default_claims[0].words.startswith("No layers")
    assert "bimodal" in default_claims[1].words
    assert "half a dozen" in default_claims[5].words
    assert "K sequential root-finds" in default_claims[8].words
    for claim in default_claims:
        assert claim.statement and isinstance(claim.holds, bool)


def test_default_verdicts_agree_with_our_own_judgement(default_claims):
    assert [c.holds for c in default_claims] == judge(0.01)


def test_which_words_hold_for_the_chapters_phases(default_claims):
    """Spelled out: at 1% relative prominence, K = 3 has 2 peaks (the third is 0.1% prominent) and K = 6 has 2
    (of 8 strict maxima), so 'multiple peaks' and 'half a dozen peaks' do not hold; the rest do."""
    verdicts = {(c.depth, c.words[:20]): c.holds for c in default_claims}
    failing = [key for key, holds in verdicts.items() if not holds]
    assert failing == [("3", "The output density n"), ("6", "The output is densel")]
    dense = default_claims[5]
    assert dense.evidence["raw_count"] == 8 and dense.evidence["counted"] == 2
    assert dense.evidence["count_by_height"] == 5
    assert "raw count of strict local maxima: 8" in dense.statement


@pytest.mark.parametrize("threshold", [0.001, 0.003, 1e-9])
def test_verdicts_follow_the_threshold_like_our_judgement(threshold):
    claims = C.check_claims(threshold=threshold)
    assert [c.holds for c in claims] == judge(threshold)


def test_half_a_dozen_holds_at_a_tenth_of_a_percent():
    """Prominences at K = 6 (reference): 1, 0.21, 0.0039, 0.0032, 0.0012, then below 3e-4: five counted at 0.1%."""
    assert len(counted(6, 0.001)) == 5
    assert C.check_claims(threshold=0.001)[5].holds


def test_claim_evidence_matches_the_reference(default_claims):
    one = default_claims[2].evidence["modes"]
    for row, ref in zip(one, counted(1, 0.01)):
        assert abs(row["y"] - ref[0]) < 1e-6 and abs(row["x"] - ref[1]) < 1e-6
        assert row["distance"] <= default_claims[2].evidence["quarter_period"]
    three = default_claims[4].evidence
    assert three["k3_counted_y"] == pytest.approx([r[0] for r in counted(3, 0.01)], abs=1e-6)
    assert three["k1_counted_y"] == pytest.approx([r[0] for r in counted(1, 0.01)], abs=1e-6)
    raw = [r[0] for r in reference_modes(chapter_layers(6))]
    assert [m["y"] for m in default_claims[5].evidence["modes"]] == pytest.approx(raw, abs=1e-6)


def test_identity_claim_evidence(default_claims):
    identity = default_claims[0]
    assert identity.evidence["composed"] == "x"
    assert identity.evidence["float_equal"] is True
    (mode,) = identity.evidence["modes"]
    assert mode["y"] == 0 and mode["height"] == pytest.approx(1 / math.sqrt(2 * math.pi), rel=1e-15)


def test_inverse_claim_counts_one_root_find_per_layer(default_claims):
    inverse = default_claims[8]
    expected = {"0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "2.5": 3}  # 2.5: two full and a partial
    assert {k: v["layers"] for k, v in inverse.evidence.items()} == expected
    for label, row in inverse.evidence.items():
        assert all(len(steps) == expected[label] for steps in row["layer_steps"])
        assert all(n > 0 for steps in row["layer_steps"] for n in steps)


def test_normalisation_claim(default_claims):
    norm = default_claims[9]
    assert norm.holds
    assert all(abs(row["integral"] - 1) < 1e-10 for row in norm.evidence.values())


def test_a_flow_of_three_layers_leaves_out_the_claims_about_six():
    flow = Flow([SineLayer("0.32", 2, "0.3"), SineLayer("0.32", 2, "1.1"), SineLayer("0.32", 2, "2")])
    claims = C.check_claims(flow)
    assert [c.depth for c in claims][:5] == ["0", "1", "1", "3", "3"]
    assert all(c.depth != "6" for c in claims)
    assert [c.holds for c in claims[:5]] == judge(0.01)[:5]


def test_table_json_and_mode_lines(default_claims):
    table = C.claims_table(default_claims)
    assert table.count("DOES NOT HOLD") == 2 and table.count("HOLDS") == len(default_claims) - 2
    for claim in default_claims:
        assert claim.words in table
    json.dumps([c.to_dict() for c in default_claims])
    lines = C.mode_lines(chapter_flow(6), [0, 1, "2.5", 3, 4, 6])
    assert len(lines) == 6
    for line, K in zip(lines, [0, 1, "2.5", 3, 4, 6]):
        raw, above = len(reference_modes(chapter_layers(K))), len(counted(K, 0.01))
        assert line.startswith(f"K = {K}: {raw} mode")
        assert f", {above} with relative prominence >= 0.01" in line
    assert "3.6813 (0.00246)" in lines[3]


def test_mpmath_precision_is_unchanged():
    before = mpmath.mp.prec
    C.check_claims(dps=45)
    assert mpmath.mp.prec == before
