"""One contract for every layer family, every PartialLayer of one, ExprLayers and a mixed-family flow.

Each registry entry is ``name -> (constructor, reference)``: the reference is the map written here in plain
mpmath from the formula (it does not import flowproof), evaluated at the caller's precision. Checks: the round
trip in float64 and at 30 and 60 digits (the returned bracket is checked against the reference map), log_det
against ``mpmath.diff`` of the reference, and the density integrating to one (Gauss-Legendre in y on panels
whose ends come from the reference map).
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy as sp

import flowproof as fp
from flowproof.layers import PartialLayer

mpf = mpmath.mpf


def q(text: str) -> mpmath.mpf:
    """An exact decimal or ratio as an mpf at the current precision."""
    fr = Fraction(text)
    return mpf(fr.numerator) / fr.denominator


def sine(z):
    return z + q("0.32") * mpmath.sin(2 * z + q("0.3"))


def affine(z):
    return q("1.5") * z - q("0.7")


def affine_contracting(z):
    return z / 4 + 3


def tanh(z):
    return z + q("0.8") * mpmath.tanh(q("1.1") * z + q("0.2"))


def tanh_near_singular(z):
    return z - q("0.95") * mpmath.tanh(z - q("0.5"))


def sinh_arcsinh(z):
    return mpmath.sinh(q("1.5") * mpmath.asinh(z) - q("0.4"))


def sinh_arcsinh_unit(z):
    return mpmath.sinh(mpmath.asinh(z) + q("0.7"))


def expr_tanh(z):
    return z + mpmath.tanh(z) / 2


def expr_cubic(z):
    return z + z**3


def expr_atan(z):
    return z + q("0.8") * mpmath.atan(z) + z / (4 + z**2)


def partial(f, t="1/3"):
    return lambda z: (1 - q(t)) * z + q(t) * f(z)


def chain(*fs):
    def composed(z):
        for f in fs:
            z = f(z)
        return z
    return composed


def third(layer):
    return PartialLayer(layer, sp.Rational(1, 3))


LAYERS = {
    "sine": (lambda: fp.SineLayer("0.32", 2, "0.3"), sine),
    "affine": (lambda: fp.AffineLayer("1.5", "-0.7"), affine),
    "affine-contracting": (lambda: fp.AffineLayer("0.25", 3), affine_contracting),
    "tanh": (lambda: fp.TanhLayer("0.8", "1.1", "0.2"), tanh),
    "tanh-near-singular": (lambda: fp.TanhLayer("-0.95", 1, "-0.5"), tanh_near_singular),
    "sinh-arcsinh": (lambda: fp.SinhArcsinhLayer("1.5", "0.4"), sinh_arcsinh),
    "sinh-arcsinh-unit": (lambda: fp.SinhArcsinhLayer(1, "-0.7"), sinh_arcsinh_unit),
    "expr-tanh": (lambda: fp.ExprLayer("z + a*tanh(w*z)", var="z", a="0.5", w=1), expr_tanh),
    "expr-cubic": (lambda: fp.ExprLayer("z + z**3"), expr_cubic),
    "expr-atan": (lambda: fp.ExprLayer("z + 0.8*atan(z) + z/(4 + z**2)"), expr_atan),
}
LAYERS.update({f"partial-{name}": ((lambda make=make: third(make())), partial(ref))
               for name, (make, ref) in list(LAYERS.items()) if name in
               {"sine", "affine", "tanh", "sinh-arcsinh", "expr-cubic"}})
MIXED = ("sine", "affine", "tanh-near-singular", "sinh-arcsinh", "expr-cubic", "expr-atan")
REGISTRY = {name: ((lambda make=make: fp.Flow([make()])), ref) for name, (make, ref) in LAYERS.items()}
REGISTRY["mixed-flow"] = (lambda: fp.Flow([LAYERS[n][0]() for n in MIXED]), chain(*(LAYERS[n][1] for n in MIXED)))
REGISTRY["mixed-bounded-flow"] = (lambda: fp.Flow([LAYERS[n][0]() for n in ("sine", "tanh", "expr-atan")]),
                                  chain(sine, tanh, expr_atan))

_BUILT: dict[str, fp.Flow] = {}


def build(name: str) -> fp.Flow:
    if name not in _BUILT:
        _BUILT[name] = REGISTRY[name][0]()
    return _BUILT[name]


def ref_slope(ref, x, dps=30):
    with mpmath.workdps(dps):
        return mpmath.diff(ref, mpf(x))


X = np.concatenate([np.linspace(-5.0, 5.0, 21), [-30.0, 30.0, -1e3, 1e3]])


@pytest.mark.parametrize("name", REGISTRY)
def test_round_trip_float64(name):
    flow, ref = build(name), REGISTRY[name][1]
    y = flow.forward(X)
    back = flow.inverse(y)
    with mpmath.workdps(40):
        for xi, yi, bi in zip(X, y, back, strict=True):
            assert abs(ref(mpf(xi)) - mpf(yi)) <= 1e-13 * max(1, abs(yi)), (name, xi)
            slope = ref_slope(ref, bi, 20)
            budget = 2.0**-44 * (abs(yi) + abs(slope * mpf(bi)) + 1)
            assert abs(ref(mpf(bi)) - mpf(yi)) <= budget, (name, xi, bi)


@pytest.mark.parametrize("name", REGISTRY)
@pytest.mark.parametrize("y", ["-1e12", "-1e6", "1e6", "1e12"])
def test_inverse_in_the_tails_float64(name, y):
    flow, ref = build(name), REGISTRY[name][1]
    x = float(flow.inverse(float(y)))
    with mpmath.workdps(40):
        slope = ref_slope(ref, x, 20)
        assert abs(ref(mpf(x)) - mpf(y)) <= 2.0**-44 * (abs(mpf(y)) + abs(slope * x) + 1)


@pytest.mark.parametrize("name", REGISTRY)
@pytest.mark.parametrize("dps", [30, 60])
def test_round_trip_high_precision(name, dps):
    flow, ref = build(name), REGISTRY[name][1]
    for y in ("-1e6", "-2.5", "0", "0.37", "4", "1e6"):
        result = flow.inverse(y, dps=dps)
        lo, hi = result.bracket
        with mpmath.workdps(dps + 20):
            assert ref(lo) <= q(y) <= ref(hi), (name, y)
            assert hi - lo <= 2 * mpf(10) ** -dps * max(1, abs(result.x)) * (1 + 1e-9)


@pytest.mark.parametrize("name", REGISTRY)
def test_log_det_against_mpmath_diff(name):
    flow, ref = build(name), REGISTRY[name][1]
    x = np.array([-3.0, -0.7, 0.0, 0.4, 2.2, 25.0])
    got = flow.log_det(x)
    for xi, gi in zip(x, got, strict=True):
        expected = mpmath.log(ref_slope(ref, xi))
        assert abs(gi - expected) <= 1e-12 * max(1, abs(expected)), (name, xi)


def _finite_displacement(flow: fp.Flow) -> bool:
    return bool(flow.displacement_bound().is_finite)


@pytest.mark.parametrize("name", REGISTRY)
def test_forward_and_log_det_high_precision(name):
    flow, ref = build(name), REGISTRY[name][1]
    for x in ("-2.5", "0.3", "40"):
        y, ld = flow.forward_and_log_det(x, dps=40)
        with mpmath.workdps(60):
            assert abs(y - ref(q(x))) <= mpf(10) ** -38 * max(1, abs(y))
            assert abs(ld - mpmath.log(mpmath.diff(ref, q(x)))) <= mpf(10) ** -38 * max(1, abs(ld))


def test_forward_high_precision_with_unbounded_displacement():
    # Regression: the guard digits were seeded from |x| + D, and D = oo for an affine layer raised ValueError.
    y = fp.Flow([fp.AffineLayer("1.5", "-0.7")]).forward("0.3", dps=30)
    with mpmath.workdps(50):
        assert abs(y - (mpf(3) / 2 * mpf(3) / 10 - mpf(7) / 10)) <= mpf(10) ** -29


def test_verify_passes_on_a_flow_with_unbounded_displacement():
    # Regression: verify's normalisation used |y| + D for its x range, tails and rounding budget (D = oo here).
    from flowproof.verify import verify_flow

    flow = fp.Flow([fp.AffineLayer("1.5", "-0.7"), fp.SineLayer("0.32", 2, "0.3"), fp.SinhArcsinhLayer("1.5", "0.4")])
    report = verify_flow(flow, depths=[len(flow)])
    failed = [(c.name, c.summary) for d in report.depths for c in d.checks if not c.passed]
    assert report.passed, failed


@pytest.mark.parametrize("name", REGISTRY)
def test_density_integrates_to_one(name):
    flow, ref = build(name), REGISTRY[name][1]
    with mpmath.workdps(30):
        edges = np.array([float(ref(mpf(x))) for x in np.linspace(-9.0, 9.0, 73)])
    nodes, weights = np.polynomial.legendre.leggauss(24)
    lo, hi = edges[:-1, None], edges[1:, None]
    y = (lo + hi) / 2 + (hi - lo) / 2 * nodes[None, :]
    total = float(np.sum(np.exp(flow.log_prob(y)) * (hi - lo) / 2 * weights[None, :]))
    outside = float(mpmath.erfc(9 / mpmath.sqrt(2)))  # P(|X| > 9)
    assert abs(total + outside - 1) <= 1e-10, (name, total)


@pytest.mark.parametrize("name", LAYERS)
def test_bracket_contains_the_root(name):
    layer, ref = LAYERS[name][0](), LAYERS[name][1]
    ys = np.array([-1e12, -1e6, -3.3, -0.2, 0.0, 0.9, 7.0, 1e6, 1e12])
    lo, hi = layer.bracket(ys)
    with mpmath.workdps(50):
        for y, a, b in zip(ys, lo, hi, strict=True):
            assert ref(mpf(a)) <= y <= ref(mpf(b)), (name, y, a, b)
    for dps in (20, 60):
        with mpmath.workdps(dps):
            pairs = [(mpf(y), layer.bracket(mpf(y))) for y in ys]
        with mpmath.workdps(dps + 30):
            for y, (a, b) in pairs:
                assert ref(a) <= y <= ref(b), (name, dps, y)


@pytest.mark.parametrize("name", LAYERS)
def test_closed_form_inverse_where_there_is_one(name):
    layer, ref = LAYERS[name][0](), LAYERS[name][1]
    y = sp.Symbol("y", real=True)
    inverse = layer.inverse_expr(y)
    expected = name in {"affine", "affine-contracting", "sinh-arcsinh", "sinh-arcsinh-unit", "expr-cubic"}
    assert (inverse is not None) == expected
    if inverse is None:
        return
    g = sp.lambdify(y, inverse, modules="mpmath")
    with mpmath.workdps(50):
        for v in ("-1e4", "-1.5", "0", "0.2", "3", "1e4"):
            x = g(q(v))
            assert isinstance(x, mpmath.mpf) or abs(mpmath.im(x)) < mpf(10) ** -40
            assert abs(ref(mpmath.re(x)) - q(v)) <= mpf(10) ** -35 * max(1, abs(q(v)))


@pytest.mark.parametrize("name", LAYERS)
def test_layers_are_immutable_and_hashable(name):
    make = LAYERS[name][0]
    a, b = make(), make()
    assert a == b and hash(a) == hash(b) and {a: 1}[b] == 1
    with pytest.raises(AttributeError):
        a.extra = 1  # frozen dataclasses refuse new and changed attributes alike
