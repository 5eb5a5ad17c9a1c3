"""ExprLayer: parsing with exact parameters, proofs of the contract, refusals, and the closed-form inverse."""

from __future__ import annotations

import flint
import mpmath
import pytest
import sympy as sp

import flowproof as fp
from flowproof.numeric import layer_functions

mpf = mpmath.mpf
z = sp.Symbol("z", real=True)


def test_the_issue_example_with_exact_parameters():
    layer = fp.ExprLayer("z + a*tanh(w*z)", var="z", a="0.5", w=1)
    assert layer.expr(z) == z + sp.tanh(z) / 2
    assert layer.derivative_lower_bound() == 1 and layer.displacement_bound() == sp.Rational(1, 2)
    assert layer == fp.ExprLayer("z + a*tanh(w*z)", a="1/2", w="1.0")
    assert layer_functions(layer) is layer_functions(fp.ExprLayer("z + a*tanh(w*z)", a="1/2", w=1))


def test_decimal_literals_and_float_atoms_are_exact():
    assert fp.ExprLayer("z + 0.32*tanh(z)").expr(z) == z + sp.Rational(8, 25) * sp.tanh(z)
    t = sp.Symbol("t")
    layer = fp.ExprLayer(t + sp.Float(0.5) * sp.atan(t), var="t")
    assert not layer.expr(z).atoms(sp.Float)


def test_another_variable_name_and_caret_power():
    layer = fp.ExprLayer("x + x^3", var="x")
    assert layer.expr(z) == z + z**3 and "var='x'" in repr(layer)


@pytest.mark.parametrize("text", ["z + 0.5*tanh(z)", "z + z**3", "z + 0.8*atan(z) + z/(4 + z**2)",
                                  "z + 0.3*sin(2*z + 1)", "2*z + 1", "z + sqrt(z**2 + 1)/2"])
def test_proven_bounds_hold_at_many_points(text):
    layer = fp.ExprLayer(text)
    f = sp.lambdify(z, layer.expr(z), modules="mpmath")
    m, d = layer.derivative_lower_bound(), layer.displacement_bound()
    assert m > 0
    with mpmath.workdps(30):
        for x in [mpf(k) / 7 for k in range(-70, 71)] + [mpf(10) ** 6, -mpf(10) ** 6]:
            assert mpmath.diff(f, x) >= mpf(sp.N(m, 30)) * (1 - mpf(10) ** -20)
            if d.is_finite:
                assert abs(f(x) - x) <= mpf(sp.N(d, 30))


def test_refusal_gives_a_counterexample_that_plain_mpmath_confirms():
    with pytest.raises(ValueError, match="not increasing") as info:
        fp.ExprLayer("z + 2*sin(z)")
    message = str(info.value)
    point = sp.Rational(message.split(" at z = ")[1].split(" ")[0])
    assert 1 + 2 * mpmath.cos(mpf(point.p) / point.q) <= 0
    assert "counterexample" in message


def test_a_derivative_that_touches_zero_is_reported_as_not_proven():
    with pytest.raises(ValueError, match="could not prove .* increasing on all of R") as info:
        fp.ExprLayer("z + sin(z)")  # f' = 1 + cos z >= 0, zero at pi: no positive lower bound
    assert "smallest value seen" in str(info.value)


def test_vanishing_slope_in_the_tails_is_not_proven():
    with pytest.raises(ValueError, match="could not prove"):
        fp.ExprLayer("asinh(z)")  # increasing onto R, but f' -> 0: no positive lower bound m


def test_a_tail_too_coarse_for_interval_arithmetic_is_refused_not_accepted():
    # f' = 1 - z exp(-z^2)/2 >= 0.57, but z * exp(-z^2) on [R, oo) encloses to [0, oo): not proven, so refused
    with pytest.raises(ValueError, match="too coarse"):
        fp.ExprLayer("z + 0.25*exp(-z**2)")


@pytest.mark.parametrize("text, message", [
    ("z**3", "not increasing"),
    ("z + log(z)", "not defined on all of R"),
    ("z + 0.5*tan(z)", "no interval extension for tan"),
    ("-z", "not increasing"),
    ("3", "not increasing"),
])
def test_other_refusals(text, message):
    with pytest.raises(ValueError, match=message):
        fp.ExprLayer(text)


@pytest.mark.parametrize("call, error, message", [
    (lambda: fp.ExprLayer(3), TypeError, "string or a SymPy expression"),
    (lambda: fp.ExprLayer("z + a*tanh(z)"), ValueError, "symbol.* a with no value"),
    (lambda: fp.ExprLayer("z + tanh(z)", a=1), ValueError, "do not appear"),
    (lambda: fp.ExprLayer("z + a*tanh(z)", a=[1]), TypeError, "a must be a real number"),
    (lambda: fp.ExprLayer("z + a*tanh(z)", a="half"), ValueError, "a must be a decimal number"),
    (lambda: fp.ExprLayer("z + a*tanh(z)", a=float("nan")), ValueError, "a must be finite"),
    (lambda: fp.ExprLayer("z + (", var="z"), ValueError, "could not parse"),
    (lambda: fp.ExprLayer("z + tanh(z)", var=1), TypeError, "var must be"),
    (lambda: fp.ExprLayer("z + I*z"), ValueError, "not a finite real"),
])
def test_bad_inputs_name_the_problem(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_flint_precision_is_restored_after_proofs_and_refusals():
    before = flint.ctx.prec
    fp.ExprLayer("z + 0.5*tanh(z)", prec=200)
    with pytest.raises(ValueError):
        fp.ExprLayer("z + 2*sin(z)", prec=150)
    assert flint.ctx.prec == before


def test_closed_form_inverse_of_the_cubic_is_the_real_cardano_branch():
    y = sp.Symbol("y", real=True)
    inverse = fp.ExprLayer("z + z**3").inverse_expr(y)
    assert inverse is not None and not inverse.has(sp.I)
    g = sp.lambdify(y, inverse, modules="mpmath")
    with mpmath.workdps(50):
        for v in ("-1e5", "-2", "0", "0.5", "1e5"):
            target = mpf(v)
            root = mpmath.sign(target) * mpmath.cbrt(abs(target))  # a start for Newton on t + t^3 = target
            for _ in range(60):
                root -= (root + root**3 - target) / (1 + 3 * root**2)
            assert abs(mpmath.re(g(target)) - root) <= mpf(10) ** -35 * max(1, abs(root))


def test_no_closed_form_for_the_tanh_layer():
    assert fp.ExprLayer("z + 0.5*tanh(z)").inverse_expr(sp.Symbol("y")) is None


def test_expr_layers_compose_with_families_in_a_flow():
    flow = fp.Flow([fp.ExprLayer("z + z**3"), fp.AffineLayer(2, 1), fp.ExprLayer("z + 0.5*tanh(z)")])
    y = flow.forward(0.7)
    assert abs(flow.inverse(y) - 0.7) < 1e-14
    assert abs(flow.inverse(y, dps=40).x - mpf("0.7")) < 1e-15
