"""flowproof.symbolic: exact composed expressions, the derivation, and the proofs.

Every expected value is built here by hand from the formula f_k(z) = z + a sin(w z + phi_k), with
a = 8/25, w = 2 and the phases 3/10, 11/10, 2, 29/10, 41/10, 53/10 (a fractional depth n + t takes layer n + 1
with amplitude t a), in plain SymPy or plain mpmath -- never from flowproof's own output.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import mpmath
import pytest
import sympy as sp
from broken_layers import NotIncreasing

from flowproof import CHAPTER_PHASES, Flow, SineLayer, chapter_flow, symbolic
from flowproof.layers import Layer
from flowproof.symbolic import (
    Proof,
    composed,
    derivation,
    prove_chain_rule,
    prove_derivative_form,
    prove_invertibility,
    prove_log_density,
)

# ---------------------------------------------------------------------------------------------------------------
# the hand-written reference (SymPy, from the formula only)
# ---------------------------------------------------------------------------------------------------------------

x = sp.Symbol("x", real=True)
A = sp.Rational(8, 25)
W = sp.Integer(2)
PHASES = (sp.Rational(3, 10), sp.Rational(11, 10), sp.Integer(2), sp.Rational(29, 10), sp.Rational(41, 10),
          sp.Rational(53, 10))
DEPTHS = [0, 1, 2, 3, 4, 5, 6, "2.5"]


def hand_layers(K):
    """[(a_k, w, phi_k)] for depth K, exactly (K an int or a decimal string)."""
    k = sp.Rational(K)
    full = int(sp.floor(k))
    t = k - full
    layers = [(A, W, PHASES[i]) for i in range(full)]
    if t:
        layers.append((t * A, W, PHASES[full]))
    return layers


def hand_f(a, w, phi, z):
    return z + a * sp.sin(w * z + phi)


def hand_nested(K, var=x):
    expr = var
    for a, w, phi in hand_layers(K):
        expr = hand_f(a, w, phi, expr)
    return expr


def chain_symbols(n):
    return [sp.Symbol(f"z_{k}", real=True) for k in range(n + 1)]


def hand_factors(K):
    """1 + a_k w cos(w z_{k-1} + phi_k) in the chain symbols."""
    layers = hand_layers(K)
    z = chain_symbols(len(layers))
    return [1 + a * w * sp.cos(w * z[k] + phi) for k, (a, w, phi) in enumerate(layers)]


def hand_bound(K):
    """F' >= prod_k (1 - |a_k w|)."""
    return sp.Mul(*(1 - abs(a * w) for a, w, _ in hand_layers(K)))


def mp_chain(K, x0):
    """(F(x0), F'(x0), log F'(x0)) in plain mpmath at the current precision, constants as mpf(p)/q."""
    z, deriv, logdet = x0, mpmath.mpf(1), mpmath.mpf(0)
    for a, w, phi in hand_layers(K):
        a_mp = mpmath.mpf(int(a.p)) / int(a.q)
        w_mp = mpmath.mpf(int(w))
        phi_mp = mpmath.mpf(int(phi.p)) / int(phi.q)
        arg = w_mp * z + phi_mp
        factor = 1 + a_mp * w_mp * mpmath.cos(arg)
        deriv *= factor
        logdet += mpmath.log(factor)
        z = z + a_mp * mpmath.sin(arg)
    return z, deriv, logdet


DECIMAL = re.compile(r"\d\.\d|\d\.(?!\d)|\.\d")


# ---------------------------------------------------------------------------------------------------------------
# composed
# ---------------------------------------------------------------------------------------------------------------


def test_composed_depth_two_is_the_hand_nested_expression():
    inner = x + sp.Rational(8, 25) * sp.sin(2 * x + sp.Rational(3, 10))
    expected = inner + sp.Rational(8, 25) * sp.sin(2 * inner + sp.Rational(11, 10))
    got = composed(chapter_flow(2))
    assert got == expected
    assert sp.simplify(got - expected) == 0


@pytest.mark.parametrize("K", DEPTHS)
def test_composed_matches_hand_nesting_and_is_exact(K):
    got = composed(chapter_flow(K))
    assert got == hand_nested(K)
    assert got.atoms(sp.Float) == set()
    assert got.free_symbols == {x}


def test_composed_depth_zero_is_x():
    assert composed(chapter_flow(0)) == x
    assert composed(Flow([])) == x


def test_composed_fractional_depth_uses_amplitude_t_times_a():
    got = composed(chapter_flow("2.5"))
    two = hand_nested(2)
    expected = two + sp.Rational(4, 25) * sp.sin(2 * two + 2)  # t = 1/2: amplitude 4/25, phase 2
    assert got == expected
    # the float depth 2.5 is exactly 5/2 as well
    assert composed(chapter_flow(2.5)) == expected


def test_composed_in_another_variable():
    u = sp.Symbol("u", real=True)
    assert composed(chapter_flow(3), u) == hand_nested(3, u)


def test_composed_depth_one_at_a_point_numerically():
    # F_1(1/2) = 1/2 + 8/25 sin(13/10), evaluated independently in mpmath
    value = sp.N(composed(chapter_flow(1)).xreplace({x: sp.Rational(1, 2)}), 40)
    with mpmath.workdps(50):
        ref = mpmath.mpf(1) / 2 + mpmath.mpf(8) / 25 * mpmath.sin(mpmath.mpf(13) / 10)
        assert abs(mpmath.mpf(value) - ref) < mpmath.mpf(10) ** -38


# ---------------------------------------------------------------------------------------------------------------
# derivation
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("K", DEPTHS)
def test_derivation_steps_are_the_chain_equations(K):
    d = derivation(chapter_flow(K))
    layers = hand_layers(K)
    z = chain_symbols(len(layers))
    assert len(d.steps) == len(layers)
    for k, (a, w, phi) in enumerate(layers):
        step = d.steps[k]
        assert isinstance(step, sp.Equality)
        assert step.lhs == z[k + 1]
        assert step.rhs == hand_f(a, w, phi, z[k])
        assert sp.simplify(step.rhs - hand_f(a, w, phi, z[k])) == 0


@pytest.mark.parametrize("K", DEPTHS)
def test_derivation_product_and_log_det(K):
    d = derivation(chapter_flow(K))
    factors = hand_factors(K)
    product = sp.Mul(*factors)
    log_det = sp.Add(*(sp.log(f) for f in factors))
    assert sp.expand(d.product - product) == 0
    assert sp.expand(d.log_det - log_det) == 0
    assert d.product.atoms(sp.Float) == set()
    z0 = sp.Symbol("z_0", real=True)
    assert sp.expand(d.log_density - (-z0**2 / 2 - sp.log(2 * sp.pi) / 2 - log_det)) == 0


def test_derivation_product_depth_two_by_hand():
    z0, z1, _ = chain_symbols(2)
    expected = ((1 + sp.Rational(16, 25) * sp.cos(2 * z0 + sp.Rational(3, 10)))
                * (1 + sp.Rational(16, 25) * sp.cos(2 * z1 + sp.Rational(11, 10))))
    assert derivation(chapter_flow(2)).product == expected


def test_derivation_depth_zero_is_empty():
    d = derivation(chapter_flow(0))
    assert d.steps == ()
    assert d.product == 1
    assert d.log_det == 0
    assert d.derivative == 1
    assert d.latex_chain() == []


@pytest.mark.parametrize("K", [0, 1, 2, 3, "2.5", 6])
def test_derivation_derivative_is_diff_of_the_hand_nested_expression(K):
    d = derivation(chapter_flow(K))
    mine = sp.diff(hand_nested(K), x)
    assert d.derivative == mine
    assert d.composed == hand_nested(K)


def test_chain_values_substitute_back_to_the_nested_form():
    d = derivation(chapter_flow(3))
    z = chain_symbols(3)
    values = d.chain_values()
    assert values[z[0]] == x
    for k in range(1, 4):
        assert values[z[k]] == hand_nested(k)


@pytest.mark.parametrize("K", [1, 2, "2.5", 6])
def test_latex_chain_one_exact_line_per_layer(K):
    d = derivation(chapter_flow(K))
    lines = d.latex_chain()
    layers = hand_layers(K)
    z = chain_symbols(len(layers))
    assert len(lines) == len(layers)
    for k, (line, (a, w, phi)) in enumerate(zip(lines, layers), start=1):
        assert line.startswith(f"z_{{{k}}} = ")
        assert line == f"z_{{{k}}} = " + sp.latex(hand_f(a, w, phi, z[k - 1]))
        assert not DECIMAL.search(line), line
        assert "0.32" not in line
        assert f"z_{{{k - 1}}}" in line


def test_latex_chain_shows_eight_twenty_fifths_and_exact_phases():
    lines = derivation(chapter_flow(6)).latex_chain()
    for line in lines:
        assert r"\frac{8 \sin" in line and "}{25}" in line
    assert r"\frac{3}{10}" in lines[0]
    assert r"\frac{11}{10}" in lines[1]
    assert r"2 z_{2} + 2 \right" in lines[2]
    assert r"\frac{29}{10}" in lines[3]
    assert r"\frac{41}{10}" in lines[4]
    assert r"\frac{53}{10}" in lines[5]


def test_latex_fractional_layer_shows_four_twenty_fifths():
    line = derivation(chapter_flow("2.5")).latex_chain()[2]
    assert r"\frac{4 \sin" in line and "}{25}" in line


def test_latex_product_and_log_density_are_exact():
    d = derivation(chapter_flow(6))
    product = d.latex_product()
    assert product == "F_{6}'(x) = " + sp.latex(sp.Mul(*hand_factors(6)))
    assert r"\frac{16 \cos" in product
    log_density = d.latex_log_density()
    assert log_density.startswith(r"\log p_Y(z_{6}) = ")
    for text in (product, log_density):
        assert not DECIMAL.search(text), text
    everything = d.latex()
    assert everything["chain"] == d.latex_chain()
    assert everything["product"] == product
    assert everything["log_density"] == log_density


# ---------------------------------------------------------------------------------------------------------------
# independent numeric cross-checks (plain mpmath)
# ---------------------------------------------------------------------------------------------------------------


def test_nested_derivative_at_three_sevenths_agrees_with_mpmath_chain_rule_to_45_digits():
    d = derivation(chapter_flow(6))
    value = sp.N(d.derivative.xreplace({x: sp.Rational(3, 7)}), 60)
    with mpmath.workdps(80):
        _, ref, _ = mp_chain(6, mpmath.mpf(3) / 7)
        assert abs(mpmath.mpf(value) - ref) < mpmath.mpf(10) ** -45
        assert abs(mpmath.mpf(value) / ref - 1) < mpmath.mpf(10) ** -45


def test_composed_and_log_det_at_a_point_agree_with_mpmath():
    K = "2.5"
    d = derivation(chapter_flow(K))
    point = sp.Rational(-1, 3)
    values = {s: v.xreplace({x: point}) for s, v in d.chain_values().items()}
    F = sp.N(d.composed.xreplace({x: point}), 50)
    log_det = sp.N(d.log_det.xreplace(values), 50)
    with mpmath.workdps(70):
        ref_F, _, ref_ld = mp_chain(K, mpmath.mpf(-1) / 3)
        assert abs(mpmath.mpf(F) - ref_F) < mpmath.mpf(10) ** -45
        assert abs(mpmath.mpf(log_det) - ref_ld) < mpmath.mpf(10) ** -45


# ---------------------------------------------------------------------------------------------------------------
# proofs
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("K", DEPTHS)
def test_chain_rule_proved(K):
    proof = prove_chain_rule(chapter_flow(K))
    assert isinstance(proof, Proof)
    assert proof.holds is True and bool(proof)
    assert "induction" in proof.method
    assert "expansion" in proof.method  # K <= 6: also expanded directly
    assert proof.steps


@pytest.mark.parametrize("K", DEPTHS)
def test_log_density_proved(K):
    proof = prove_log_density(chapter_flow(K))
    assert proof.holds is True and bool(proof)
    assert "CDF" in proof.method and "induction" in proof.method
    assert not any("FAILED" in s for s in proof.steps)


@pytest.mark.parametrize("K", DEPTHS)
def test_invertibility_proved_with_the_exact_bound(K):
    proof = prove_invertibility(chapter_flow(K))
    assert proof.holds is True and bool(proof)
    assert "bound" in proof.method
    assert any(f"F' >= {hand_bound(K)} " in s for s in proof.steps), proof.steps


def test_hand_bounds_are_the_expected_rationals():
    # (1 - 16/25)^K, and for 2.5 the partial layer has a w = 8/25
    assert hand_bound(6) == sp.Rational(9, 25) ** 6
    assert hand_bound("2.5") == sp.Rational(9, 25) ** 2 * sp.Rational(17, 25)


@pytest.mark.parametrize("K", [6, "2.5"])
def test_derivative_form_proved_for_every_layer(K):
    for layer in chapter_flow(K):
        proof = prove_derivative_form(layer)
        assert proof.holds is True and bool(proof)
        assert proof.method


def test_derivative_form_negative_amplitude_proved_and_numerically_right():
    layer = SineLayer("-0.3", 2, "0.7")
    assert prove_derivative_form(layer).holds
    z = sp.Symbol("z", real=True)
    form = sp.lambdify(z, layer.derivative_expr(z), modules="mpmath")
    with mpmath.workdps(40):
        for v in ("-2.1", "0", "0.35", "1.3"):
            zz = mpmath.mpf(v)
            ref = 1 + mpmath.mpf(-3) / 10 * 2 * mpmath.cos(2 * zz + mpmath.mpf(7) / 10)
            assert abs(form(zz) - ref) < mpmath.mpf(10) ** -35


def test_chain_rule_for_fifty_layers_is_fast():
    flow = Flow([SineLayer("0.32", 2, "0.3")] * 50)
    start = time.perf_counter()
    proof = prove_chain_rule(flow)
    elapsed = time.perf_counter() - start
    assert proof.holds is True
    assert "induction" in proof.method
    assert "expansion" not in proof.method  # too deep to expand
    assert elapsed < 5.0


def test_expand_depth_controls_the_direct_expansion():
    assert "expansion" not in prove_chain_rule(chapter_flow(3), expand_depth=2).method
    assert "expansion" in prove_chain_rule(chapter_flow(3), expand_depth=3).method


# ---------------------------------------------------------------------------------------------------------------
# the proofs are not vacuous: deliberately wrong layers are rejected
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DependsOnX(Layer):
    """Not a function of z alone: f(z) = z + x/5, so d/dx f(g(x)) = g' + 1/5 != f'(g) g'."""

    def expr(self, z):
        return z + x / 5

    def derivative_lower_bound(self):
        return sp.Integer(1)

    def displacement_bound(self):
        return sp.Integer(0)


@dataclass(frozen=True)
class TimesZ0(Layer):
    """f(z) = z * z_0 with the chain symbol z_0 as a 'constant': the one-layer lemma holds, but the product
    with the chain substituted (z_0 -> x) is x while dF/dx = z_0, so the direct expansion must fail."""

    def expr(self, z):
        return z * sp.Symbol("z_0", real=True)

    def derivative_lower_bound(self):
        return sp.Integer(1)

    def displacement_bound(self):
        return sp.Integer(0)




class WrongDerivativeForm(SineLayer):
    """Claims f' = 1 + a w cos(w z - phi): wrong sign of the phase."""

    def derivative_expr(self, z):
        return 1 + self.amplitude * self.frequency * sp.cos(self.frequency * z - self.phase)


class PlainDerivativeForm(SineLayer):
    """The textbook form 1 + a w cos(w z + phi): correct, but not the library's own form."""

    def derivative_expr(self, z):
        return 1 + self.amplitude * self.frequency * sp.cos(self.frequency * z + self.phase)


def test_chain_rule_lemma_rejects_a_layer_that_is_not_a_function_of_z():
    proof = prove_chain_rule(Flow([DependsOnX()]))
    assert proof.holds is False and not proof
    assert "lemma" in proof.method


def test_chain_rule_expansion_rejects_a_wrong_identity():
    proof = prove_chain_rule(Flow([TimesZ0()]))
    assert proof.holds is False
    assert proof.method == "expansion"


def test_invertibility_and_log_density_rejected_without_a_positive_bound():
    flow = Flow([SineLayer("0.32", 2, "0.3"), NotIncreasing()])
    inv = prove_invertibility(flow)
    assert inv.holds is False
    assert "2" in inv.steps[0]  # names layer 2
    assert prove_log_density(flow).holds is False


def test_derivative_form_rejects_a_wrong_form_and_accepts_an_equal_one():
    assert prove_derivative_form(WrongDerivativeForm("0.32", 2, "0.3")).holds is False
    assert prove_derivative_form(PlainDerivativeForm("0.32", 2, "0.3")).holds is True


def test_non_invertible_sine_layer_cannot_be_built():
    with pytest.raises(ValueError):
        SineLayer("0.6", 2)
    with pytest.raises(ValueError):
        SineLayer("0.5", 2)  # |a w| = 1 exactly


# ---------------------------------------------------------------------------------------------------------------
# the size of the nested expression, by recurrence
# ---------------------------------------------------------------------------------------------------------------


def _built_sizes(flow, depth):
    """Build the nested F_k and its derivative with plain SymPy and count their operations."""
    z = sp.Symbol("z", real=True)
    nested, sizes = z, []
    for layer in list(flow)[:depth]:
        nested = layer.expr(z).subs(z, nested)
        sizes.append((sp.count_ops(nested), sp.count_ops(sp.diff(nested, z))))
    return sizes


@pytest.mark.parametrize("phases", [CHAPTER_PHASES, ("-1/7", 3, "0.25", "-2", "5/3", 0, 1, "0.5")])
def test_nested_size_recurrence_matches_the_built_expression(phases):
    flow = Flow([SineLayer("0.32", 2, phase) for phase in phases])
    depth = min(len(flow), 8)
    by_recurrence = [(s.operations, s.derivative_operations) for s in symbolic.nested_sizes(flow)[:depth]]
    assert by_recurrence == _built_sizes(flow, depth)


def test_nested_derivative_size_matches_the_published_growth():
    # Issue 4: "its derivative has ~1,400 operations at K = 6 and ~170,000 at K = 12" (about 2.2x a layer).
    flow = Flow([SineLayer("0.32", 2, CHAPTER_PHASES[k % 6]) for k in range(12)])
    sizes = symbolic.nested_sizes(flow)
    assert 1300 <= sizes[5].derivative_operations <= 1500
    assert 160_000 <= sizes[11].derivative_operations <= 180_000
    growth = (sizes[11].derivative_operations / sizes[5].derivative_operations) ** (1 / 6)
    assert 2.1 < growth < 2.3
