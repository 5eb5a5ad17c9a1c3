"""Test-only layers that break the layer contract on purpose, shared by the tests that must reject them."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from flowproof.layers import Layer


@dataclass(frozen=True)
class NotIncreasing(Layer):
    """f(z) = z + 3/5 sin(2z): f' = 1 + 6/5 cos(2z) goes down to -1/5, honestly reported; not a bijection."""

    def expr(self, z):
        return z + sp.Rational(3, 5) * sp.sin(2 * z)

    def derivative_lower_bound(self):
        return sp.Rational(-1, 5)

    def displacement_bound(self):
        return sp.Rational(3, 5)


# The docstring's claim, checked once at import so the fixture cannot drift from what it says it is.
_z = sp.Symbol("z", real=True)
assert sp.minimum(sp.diff(NotIncreasing().expr(_z), _z), _z) == NotIncreasing().derivative_lower_bound()
