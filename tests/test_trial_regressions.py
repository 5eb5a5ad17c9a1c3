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
