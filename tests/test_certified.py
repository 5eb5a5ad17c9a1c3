"""Certified enclosures (flowproof.certified): each contains an independent plain-mpmath reference at N + 20
digits, meets its width, and a wrong value (a perturbed root, mpmath's 100-step bisection) lies outside."""

from __future__ import annotations

from fractions import Fraction

import flint
import mpmath
import numpy as np
import pytest
import reference as ref
import sympy as sp

import flowproof as fp
from flowproof import certified
from flowproof.certified import Enclosure, certify_invertibility
from flowproof.layers import Layer

NEAR_LIMIT = (Fraction("0.4995"), Fraction(2))  # |a w| = 0.999
NEAR_PHASES = ("0.3", "1.1", "2.0")


def near_limit_flow() -> fp.Flow:
    return fp.Flow([fp.SineLayer("0.4995", 2, phase) for phase in NEAR_PHASES])


def near_limit_layers() -> list[tuple[Fraction, Fraction, Fraction]]:
    return [(*NEAR_LIMIT, Fraction(phase)) for phase in NEAR_PHASES]


def ref_dps(e: Enclosure) -> int:
    """Digits for the reference: N + 20, and at least 20 beyond the enclosure's own width (it is often far
    tighter than asked, and a reference must be more accurate than the width it is checked against)."""
    return max(e.dps + 20, int(e.prec * 0.302) + 20)


def meets(e: Enclosure, dps: int) -> bool:
    with mpmath.workdps(dps + 40):
        return e.width <= mpmath.mpf(10) ** -dps * max(1, abs(e.mid))


@pytest.mark.parametrize("K", [1, 2, 3, 4, 5, 6])
def test_inverse_contains_reference_for_the_chapter_at_every_depth(K):
    flow = fp.chapter_flow(K)
    for y in ("-2.7", "0.1", "0.5", "1.9"):
        e = flow.inverse(y, dps=30, certify=True)
        assert e.contains(ref.inverse(y, K=K, dps=ref_dps(e))), (K, y, e)
        assert meets(e, 30)
        assert len(e.layers) == K and all(r.status.startswith(certified.UNIQUE_ROOT) for r in e.layers)


@pytest.mark.parametrize("y", ["1e6", "1e12", "-1e12"])
def test_inverse_far_tail(y):
    e = fp.chapter_flow().inverse(y, dps=30, certify=True)
    assert e.contains(ref.inverse(y, dps=ref_dps(e)))
    assert meets(e, 30)


@pytest.mark.parametrize("dps", [50, 200])
def test_inverse_high_precision(dps):
    e = fp.chapter_flow().inverse("0.5", dps=dps, certify=True)
    assert e.contains(ref.inverse("0.5", dps=ref_dps(e)))
    assert meets(e, dps)
    assert e.prec >= dps * 3.32


def test_inverse_near_limit():
    flow = near_limit_flow()
    for y in ("-1.2345", "0.1", "2.9"):
        e = flow.inverse(y, dps=40, certify=True)
        assert e.contains(ref.inverse(y, dps=ref_dps(e), layers=near_limit_layers()))
        assert meets(e, 40)


def test_a_perturbed_root_and_mpmaths_capped_bisection_lie_outside():
    flow = fp.chapter_flow()
    e = flow.inverse("0.5", dps=50, certify=True)
    exact = ref.inverse("0.5", dps=ref_dps(e))
    with mpmath.workdps(90):
        assert not e.contains(exact + 10 * e.width) and not e.contains(exact - 10 * e.width)
    with mpmath.workdps(50):  # findroot(solver='bisect') stops after 100 steps: about 30 correct digits
        chain = [(mpmath.mpf(8) / 25, mpmath.mpf(2), mpmath.mpf(p.numerator) / p.denominator) for p in ref.PHASES]

        def residual(x):
            for a, w, phi in chain:
                x = x + a * mpmath.sin(w * x + phi)
            return x - mpmath.mpf("0.5")

        capped = mpmath.findroot(residual, (mpmath.mpf(-2), mpmath.mpf(4)), solver="bisect")
    assert not e.contains(capped)
    assert e.contains(exact)


def test_decimal_target_is_enclosed_not_rounded():
    # "0.1" is not a binary number: the layer-K target is an interval, and both ends are carried down
    e = fp.chapter_flow(2).inverse("0.1", dps=30, certify=True)
    top = e.layers[0]
    lo, hi = (certified._fraction(v) for v in top.target)
    assert lo < Fraction(1, 10) < hi
    assert "f^-1([a, b])" in top.status
    assert e.contains(ref.inverse("0.1", K=2, dps=ref_dps(e)))
    # the float 0.1 is another number, with another preimage
    assert not e.contains(ref.inverse(0.1, K=2, dps=ref_dps(e)))
    assert fp.chapter_flow(2).inverse(0.1, dps=30, certify=True).contains(ref.inverse(0.1, K=2, dps=ref_dps(e)))


def test_families_mixed_against_plain_findroot():
    flow = fp.Flow([fp.AffineLayer(2, 1), fp.TanhLayer("0.5", 1, "0.2"), fp.SinhArcsinhLayer("1.5", "0.5"),
                    fp.ExprLayer("z + z**3"), fp.SineLayer("0.3", 2)])
    e = flow.inverse("0.7", dps=40, certify=True)
    with mpmath.workdps(70):
        def F(x):
            x = 2 * x + 1
            x = x + mpmath.mpf(1) / 2 * mpmath.tanh(x + mpmath.mpf(2) / 10)
            x = mpmath.sinh(mpmath.mpf(3) / 2 * mpmath.asinh(x) - mpmath.mpf(1) / 2)
            x = x + x**3
            return x + mpmath.mpf(3) / 10 * mpmath.sin(2 * x)

        x = mpmath.findroot(lambda t: F(t) - mpmath.mpf(7) / 10, mpmath.mpf("-0.3"), tol=mpmath.mpf(10) ** -65)
    assert e.contains(x)
    assert meets(e, 40)


def test_wrong_or_missing_guesses_fall_back_on_the_bracket(monkeypatch):
    def broken(*args, **kwargs):
        raise ArithmeticError("no guesses today")

    monkeypatch.setattr(certified, "invert_mp", broken)
    e = fp.chapter_flow(3).inverse("0.5", dps=30, certify=True)
    assert {r.start for r in e.layers} == {"layer bracket"}
    assert e.contains(ref.inverse("0.5", K=3, dps=ref_dps(e)))
    # unbounded displacement (growth brackets, a wide box where f' spans [1, 3e12]): still proven
    flow = fp.Flow([fp.AffineLayer(2, 1), fp.ExprLayer("z + z**3"), fp.SineLayer("0.3", 2)])
    e = flow.inverse("-1e6", dps=30, certify=True)
    with mpmath.workdps(80):
        def F(x):
            x = 2 * x + 1
            x = x + x**3
            return x + mpmath.mpf(3) / 10 * mpmath.sin(2 * x)

        x = mpmath.findroot(lambda t: F(t) - 10**6 * -1, mpmath.mpf(e.mid), tol=mpmath.mpf(10) ** -75)
    assert e.contains(x) and {r.start for r in e.layers} == {"layer bracket"}

    from flowproof.inverse import InverseResult

    def off(layers, y, dps, method):  # a plausible but wrong start, 1e-3 away
        with mpmath.workdps(dps):
            x = mpmath.mpf(ref.inverse(Fraction(y), K=len(layers), dps=dps)) + mpmath.mpf("1e-3")
        return InverseResult(x, (x, x), mpmath.mpf(0), 0, dps, dps, method)

    monkeypatch.setattr(certified, "invert_mp", off)
    e = fp.chapter_flow(3).inverse("0.5", dps=30, certify=True)
    assert e.contains(ref.inverse("0.5", K=3, dps=ref_dps(e)))


@pytest.mark.parametrize("K", [1, 3, 6])
def test_log_det_contains_reference(K):
    flow = fp.chapter_flow(K)
    for x in ("0.3", "-2.5", 1e12, 7.25):
        e = flow.log_det(x, dps=30, certify=True)
        assert e.contains(ref.log_det(x, K=K, dps=ref_dps(e))), (K, x, e)
        assert meets(e, 30)


def test_log_det_near_limit_and_high_precision():
    e = near_limit_flow().log_det("0.7", dps=60, certify=True)
    assert e.contains(ref.log_det("0.7", dps=ref_dps(e), layers=near_limit_layers()))
    assert meets(e, 60)


@pytest.mark.parametrize("y", ["0.5", "-3.1", "1e12"])
def test_log_prob_contains_reference(y):
    e = fp.chapter_flow().log_prob(y, dps=30, certify=True)
    assert e.contains(ref.log_prob(y, dps=ref_dps(e)))
    assert meets(e, 30)
    assert e.iterations > 0 and len(e.layers) == 6


def test_log_prob_near_limit():
    e = near_limit_flow().log_prob("0.1", dps=30, certify=True)
    assert e.contains(ref.log_prob("0.1", dps=ref_dps(e), layers=near_limit_layers()))


def test_enclosure_api():
    e = fp.chapter_flow().inverse("0.5", dps=20, certify=True)
    assert isinstance(e, Enclosure) and e.proven and e.dps == 20 and e.prec > 60
    assert e.lo <= e.mid <= e.hi and e.width >= 0
    assert abs(float(e) - 1.9197427544966526) < 1e-15
    assert e.contains(e.lo) and e.contains(e.hi) and not e.contains("1.9")
    assert "F^-1(1/2)" in repr(e)
    assert fp.chapter_flow().log_det(0.3, certify=True).dps == 16  # certify without dps: 16 digits


def test_precision_restored_and_unchanged():
    flint_before, mp_before = flint.ctx.prec, mpmath.mp.prec
    fp.chapter_flow().inverse("1e12", dps=100, certify=True)
    fp.chapter_flow().log_prob("0.3", dps=40, certify=True)
    with pytest.raises(ValueError):
        fp.chapter_flow().inverse("nan", dps=30, certify=True)
    assert (flint.ctx.prec, mpmath.mp.prec) == (flint_before, mp_before)


@pytest.mark.parametrize("bad, error", [(np.array([0.1, 0.2]), TypeError), ([0.1], TypeError), ("nan", ValueError),
                                        (float("inf"), ValueError), ("abc", ValueError), (sp.pi, TypeError),
                                        (True, TypeError)])
def test_bad_input(bad, error):
    flow = fp.chapter_flow(2)
    with pytest.raises(error):
        flow.inverse(bad, dps=20, certify=True)
    with pytest.raises(error):
        flow.log_det(bad, dps=20, certify=True)


def test_bad_dps():
    with pytest.raises(ValueError):
        fp.chapter_flow(1).inverse("0.5", dps=0, certify=True)
    with pytest.raises(TypeError):
        fp.chapter_flow(1).log_prob("0.5", dps=2.5, certify=True)


def test_zero_d_array_is_one_scalar():
    e = fp.chapter_flow(1).inverse(np.array(0.25), dps=20, certify=True)
    assert e.contains(ref.inverse(0.25, K=1, dps=ref_dps(e)))


# -- invertibility -------------------------------------------------------------------------------------------
def test_invertibility_chapter_exact():
    cert = certify_invertibility(fp.chapter_flow())
    assert cert.proven and cert.bound == sp.Rational(9, 25) ** 6
    assert all("|a w| = 16/25 < 1" in b.method for b in cert.layers)
    assert "F' = prod_k" in cert.steps[-1]


def test_invertibility_near_limit_partial_and_expr_layers():
    cert = certify_invertibility(fp.Flow([fp.SineLayer("0.4995", 2, 0), fp.ExprLayer("z + a*tanh(w*z)", a="0.5", w=1),
                                          *fp.chapter_flow("2.5")[2:]]))
    assert cert.proven
    bounds = [b.bound for b in cert.layers]
    assert bounds[0] == sp.Rational(1, 1000) and bounds[1] == 1
    assert "arb interval arithmetic" in cert.layers[1].method  # the ExprLayer's own proof, reused
    assert cert.bound == sp.Rational(1, 1000) * (1 - sp.Rational(16, 50))


class _Wobble(Layer):
    """A user layer outside the families: f = z + sin(z) has f' = 1 + cos z, which touches 0."""

    def __hash__(self) -> int:
        return hash("wobble")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Wobble)

    def expr(self, z):
        return z + sp.sin(z)

    def derivative_lower_bound(self):
        return sp.Rational(1, 2)  # claimed, wrongly

    def displacement_bound(self):
        return sp.Integer(1)


class _Steep(_Wobble):
    def __hash__(self) -> int:
        return hash("steep")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Steep)

    def expr(self, z):
        return 2 * z + sp.sin(z)


def test_invertibility_of_user_layers_proven_or_refused():
    refused = certify_invertibility(fp.Flow([fp.SineLayer("0.3", 2), _Wobble()]))
    assert not refused.proven and refused.bound is None
    assert "layer 2" in refused.reason and "f'(z) = cos(z) + 1" in refused.reason
    proven = certify_invertibility(fp.Flow([_Steep()]))
    assert proven.proven and 0 < proven.bound <= 1


# -- verify --certify ----------------------------------------------------------------------------------------
def test_verify_certify_passes_on_the_chapter(capsys):
    from flowproof.cli import main

    assert main(["verify", "--certify", "--depth", "6", "--dps", "30"]) == 0
    out = capsys.readouterr().out
    assert "certified values" in out and "proven" in out and "computed" in out
    assert "normalisation (proven)" in out and "invertibility (proven)" in out


def test_verify_certify_fails_on_a_wrong_float_inverse(monkeypatch):
    from flowproof import flow as flow_module
    from flowproof import verify

    real = flow_module.invert_float
    monkeypatch.setattr(flow_module, "invert_float", lambda layers, y: real(layers, y) + 1e-9)
    check = verify.check_certified_values(fp.chapter_flow(2), 30)
    assert not check.passed
    assert "inverse" in check.summary and "outside" in check.summary


def test_verify_certify_fails_on_a_wrong_mp_value(monkeypatch):
    from flowproof import verify

    real = fp.Flow.log_det

    def wrong(self, x, dps=None, certify=False):
        value = real(self, x, dps=dps, certify=certify)
        return value if certify or dps is None else value + mpmath.mpf(10) ** (-dps + 3)

    monkeypatch.setattr(fp.Flow, "log_det", wrong)
    check = verify.check_certified_values(fp.chapter_flow(1), 30)
    assert not check.passed and "log_det" in check.summary


def test_certified_log_prob_beyond_the_float_range():
    # Regression: the guard bits were sized with float(y), which overflows for y = 1e400.
    e = fp.chapter_flow().log_prob("1e400", dps=15, certify=True)
    exact = ref.log_prob("1e400", dps=480)  # plain mpmath, 480 digits: x = F^-1(1e400) to ~80 decimals
    with mpmath.workdps(500):
        assert abs(e.mid - exact) <= mpmath.mpf(10) ** -15 * abs(exact)
        assert e.width <= mpmath.mpf(10) ** -15 * abs(exact)


def test_failed_proof_is_retried_at_more_bits():
    # f' has its minimum 1e-31 at the root: at the first bits interval Newton cannot prove it, at more it can.
    flow = fp.Flow([fp.SineLayer("0.49999999999999999999999999999995", 2, "0.3")])
    y = "1.42079632679489661923132169163975144209858469968755291048747"
    e = flow.inverse(y, dps=15, certify=True)
    assert e.width <= 1e-15 * max(1, abs(e.mid))
