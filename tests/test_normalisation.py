"""The proven normalisation (flowproof.normalisation): the enclosure of the integral of p_Y contains 1, is at
most 1e-8 wide, and is refused with a reason where the tail argument does not hold."""

from __future__ import annotations

import time

import flint
import pytest

import flowproof as fp
from flowproof import normalisation
from flowproof.certified import CertificationError


def test_chapter_k6_contains_one_within_1e8_in_seconds():
    start = time.perf_counter()
    cert = normalisation.integral(fp.chapter_flow(6))
    assert time.perf_counter() - start < 15
    assert cert.contains_one and cert.enclosure.width <= 1e-8
    assert cert.core.lo <= 1 and 0 < cert.tail_bound < 1e-9  # the core misses only the (tiny) tails
    assert cert.enclosure.contains(cert.core.lo) and cert.panels > 100
    assert any("change of variables" in step for step in cert.theorem)
    assert cert.invertibility.proven and cert.displacement == 6 * fp.SineLayer().amplitude


def test_near_limit_and_mixed_families():
    flow = fp.Flow([fp.TanhLayer("0.5", 1, "0.2"), fp.SineLayer("0.4995", 2, "0.3")])
    cert = normalisation.integral(flow)
    assert cert.contains_one and cert.enclosure.width <= 1e-8


def test_a_wrong_density_is_caught(monkeypatch):
    # p_Y scaled by 1 + 1e-6 (a wrong Jacobian) gives an enclosure that does not contain 1
    real = normalisation._density_series

    def scaled(layers, x, length):
        return [c * (1 + flint.arb(10) ** -6) for c in real(layers, x, length)]

    monkeypatch.setattr(normalisation, "_density_series", scaled)
    assert not normalisation.integral(fp.chapter_flow(1)).contains_one


def test_unbounded_displacement_is_refused():
    with pytest.raises(CertificationError, match="finite displacement bound D"):
        normalisation.integral(fp.Flow([fp.AffineLayer(2, 1)]))
    assert any("D = oo" in step for step in normalisation.theorem(fp.Flow([fp.AffineLayer(2, 1)])))


def test_precision_and_series_length_restored():
    before = (flint.ctx.prec, flint.ctx.cap)
    normalisation.integral(fp.chapter_flow(1), tol=1e-6)
    assert (flint.ctx.prec, flint.ctx.cap) == before


def test_bad_tolerance():
    with pytest.raises(ValueError):
        normalisation.integral(fp.chapter_flow(1), tol=0)
