"""flowproof.intervals: enclosures checked against plain mpmath at sampled points, branch and bound, precision."""

from __future__ import annotations

import flint
import mpmath
import pytest
import sympy as sp
from flint import arb
from hypothesis import given, settings
from hypothesis import strategies as st

from flowproof.intervals import (
    DomainError,
    Interval,
    compile_expr,
    enclose,
    minimize,
    precision,
    prove_lower_bound,
    to_rational,
)

z = sp.Symbol("z", real=True)
mpf = mpmath.mpf

#: (SymPy expression, the same function in plain mpmath), covering every supported node.
EXPRESSIONS = [
    (z**3 - 2 * z + sp.Rational(1, 3), lambda x: x**3 - 2 * x + mpf(1) / 3),
    (sp.sin(3 * z) * sp.cos(z / 2), lambda x: mpmath.sin(3 * x) * mpmath.cos(x / 2)),
    (sp.tanh(z) ** 2 + sp.sinh(z / 4), lambda x: mpmath.tanh(x) ** 2 + mpmath.sinh(x / 4)),
    (sp.cosh(z - 1) / (1 + z**2), lambda x: mpmath.cosh(x - 1) / (1 + x**2)),
    (sp.asinh(z) + sp.atan(2 * z) * sp.pi, lambda x: mpmath.asinh(x) + mpmath.atan(2 * x) * mpmath.pi),
    (sp.exp(-z**2) + sp.log(1 + z**2), lambda x: mpmath.exp(-x**2) + mpmath.log(1 + x**2)),
    (sp.sqrt(z**2 + 1) - sp.Abs(z) + sp.E, lambda x: mpmath.sqrt(x**2 + 1) - abs(x) + mpmath.e),
    ((z**2 + 1) ** sp.Rational(-3, 2) + sp.erf(z), lambda x: (x**2 + 1) ** mpf(-1.5) + mpmath.erf(x)),
    (sp.Max(z, sp.sin(z)) + (z**4 + 1) ** sp.Rational(1, 3), lambda x: max(x, mpmath.sin(x)) + mpmath.cbrt(x**4 + 1)),
]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(range(len(EXPRESSIONS))), st.floats(-20, 20), st.floats(0, 5), st.floats(0, 1))
def test_enclosure_contains_every_sampled_value(index, left, width, where):
    expr, plain = EXPRESSIONS[index]
    box = enclose(expr, z, Interval.of(arb(left), arb(left) + arb(width)))  # the sum is rounded outwards
    with mpmath.workdps(40):
        x = mpf(left) + mpf(width) * mpf(where)  # exact at 40 digits
        value = plain(x)
        assert to_rational(box.lo) - sp.Rational(1, 10**30) <= sp.Rational(str(value)) <= \
            to_rational(box.hi) + sp.Rational(1, 10**30)


def test_unbounded_intervals():
    assert repr(enclose(1 + sp.tanh(z) ** 2, z, Interval.of(0, "inf"))) == "Interval(1, 2)"
    tail = enclose(1 + 3 * z**2, z, Interval.of(10, "inf"))
    assert tail.lo == 301 and not tail.hi.is_finite()
    assert repr(enclose(sp.atan(z), z, Interval.whole())).startswith("Interval(-1.57")
    assert repr(enclose(sp.exp(z), z, Interval.of("-inf", 0))) == "Interval(0, 1)"


def test_point_enclosures_are_tight():
    box = enclose(sp.sin(z) + sp.Rational(1, 3), z, Interval.of(1), prec=200)
    with mpmath.workdps(60):
        exact = mpmath.sin(1) + mpf(1) / 3
        assert abs(mpf(str(to_rational(box.lo).evalf(60))) - exact) < mpf(10) ** -55
        assert to_rational(box.hi) - to_rational(box.lo) < sp.Rational(1, 10**55)


def test_domain_errors_and_unsupported_functions():
    with pytest.raises(DomainError, match="log"):
        enclose(sp.log(z), z, Interval.of(-1, 1))
    with pytest.raises(DomainError, match="sqrt"):
        enclose(sp.sqrt(z - 2), z, Interval.of(0, 1))
    with pytest.raises(DomainError, match="division by zero"):
        enclose(1 / z, z, Interval.of(0))
    assert enclose(1 / z, z, Interval.of(-1, 1)) == Interval.whole()
    with pytest.raises(TypeError, match="no interval extension for tan"):
        compile_expr(sp.tan(z), z)
    with pytest.raises(TypeError, match="free symbol"):
        compile_expr(z + sp.Symbol("a"), z)


def test_interval_validation():
    with pytest.raises(ValueError, match="empty"):
        Interval.of(2, 1)
    with pytest.raises(ValueError, match="exact"):
        Interval(arb(1, 0.5), arb(2))
    assert Interval.of(arb(1, 0.25)).lo < 1 < Interval.of(arb(1, 0.25)).hi


def test_precision_is_restored_even_after_an_error():
    before = flint.ctx.prec
    with pytest.raises(ZeroDivisionError), precision(300):
        assert flint.ctx.prec == 300
        raise ZeroDivisionError
    assert flint.ctx.prec == before
    with pytest.raises(DomainError):
        enclose(sp.log(z), z, Interval.of(-1), prec=500)
    assert flint.ctx.prec == before
    with pytest.raises(ValueError, match="prec"):
        with precision(0):
            pass


def test_prove_lower_bound_proves_or_gives_a_counterexample():
    check = prove_lower_bound(1 - sp.Rational(9, 10) / sp.cosh(z) ** 2, z, 0)
    assert check.proven and sp.Rational(99, 1000) <= to_rational(check.lower) <= sp.Rational(1, 10)
    bad = prove_lower_bound(1 + 2 * sp.cos(z), z, 0)
    assert not bad.proven and bad.counterexample is not None
    point, value = bad.counterexample
    assert value < 0 and 1 + 2 * mpmath.cos(mpf(str(to_rational(point)))) <= 0
    touching = prove_lower_bound(1 + sp.cos(z), z, 0, max_pieces=300)
    assert not touching.proven and touching.counterexample is None and touching.unresolved is not None


def test_minimize_brackets_the_minimum_of_a_rational_tail():
    expr = sp.diff(z + z / (1 + z**2), z)  # min 7/8 at z = +-sqrt(3)
    result = minimize(expr, z, rel_tol=1e-4)
    assert result.settled
    assert to_rational(result.lower) <= sp.Rational(7, 8) <= to_rational(result.upper)
    assert to_rational(result.upper) - to_rational(result.lower) <= sp.Rational(1, 10**4)


def test_minimize_on_a_bounded_domain():
    result = minimize(z**2 - z, z, Interval.of(2, 3))
    assert to_rational(result.lower) <= 2 <= to_rational(result.upper)
