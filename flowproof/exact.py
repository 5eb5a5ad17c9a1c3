"""Exact numbers: how user-given parameters and depths become SymPy numbers.

Every parameter of a layer is held exactly, so that evaluating a flow at 100 digits gives the flow of the
numbers the user wrote, not of their nearest doubles:

* a decimal string is the exact decimal (``"0.32"`` is ``8/25``); ``"1/3"`` is a third;
* a Python or numpy float is its exact binary value (``0.32`` is the nearest double to 0.32);
* ``int``, :class:`fractions.Fraction`, :class:`mpmath.mpf` and finite real SymPy numbers are exact already
  (``sympy.pi`` stays symbolic).

Non-numbers (``bool`` included) raise :class:`TypeError`; NaN, infinities and non-real values raise
:class:`ValueError`. Both messages name the parameter.
"""

from __future__ import annotations

import decimal
import math
import numbers
from fractions import Fraction
from typing import Any, Union

import mpmath
import numpy as np
import sympy as sp

__all__ = ["Real", "exact", "exact_depth", "show", "to_mpf"]

#: What a parameter may be given as.
Real = Union[int, float, str, Fraction, "mpmath.mpf", sp.Expr, np.number]


def exact(value: Any, name: str = "value") -> sp.Expr:
    """Return ``value`` as an exact, finite, real SymPy number.

    >>> exact("0.32")
    8/25
    >>> exact(0.5), exact(Fraction(1, 3)), exact(2)
    (1/2, 1/3, 2)
    >>> exact(float("nan"), "phase")
    Traceback (most recent call last):
    ...
    ValueError: phase must be finite, got nan
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, got the bool {value!r}")
    if isinstance(value, sp.Basic):
        return _exact_sympy(value, name)
    if isinstance(value, str):
        return _exact_string(value, name)
    if isinstance(value, mpmath.mpf):
        if not mpmath.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
        sign, man, exp, _ = value._mpf_  # man_exp drops the sign in mpmath 1.3
        return (-1 if sign else 1) * sp.Integer(man) * sp.Integer(2) ** exp
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise ValueError(f"{name} must be finite, got {value}")
        exact_value = Fraction(value)
        return sp.Rational(exact_value.numerator, exact_value.denominator)
    if isinstance(value, numbers.Integral):
        return sp.Integer(int(value))
    if isinstance(value, numbers.Real):
        f = float(value)
        if not math.isfinite(f):
            raise ValueError(f"{name} must be finite, got {f}")
        num, den = f.as_integer_ratio()
        return sp.Rational(num, den)
    raise TypeError(f"{name} must be a real number (int, float, decimal string, Fraction, Decimal, mpf or SymPy "
                    f"number), got {type(value).__name__} {value!r}")


def _exact_string(text: str, name: str) -> sp.Expr:
    stripped = text.strip().replace("_", "")
    try:
        if "/" in stripped:
            num, den = stripped.split("/")
            value = Fraction(num.strip()) / Fraction(den.strip())
        else:
            value = Fraction(stripped)
    except (ValueError, ZeroDivisionError):
        lowered = stripped.lower().lstrip("+-")
        if lowered in {"nan", "inf", "infinity"}:
            raise ValueError(f"{name} must be finite, got {text!r}") from None
        raise ValueError(f"{name} must be a decimal number such as '0.32' or a ratio such as '1/3', "
                         f"got {text!r}") from None
    return sp.Rational(value.numerator, value.denominator)


def _exact_sympy(value: sp.Basic, name: str) -> sp.Expr:
    if not isinstance(value, sp.Expr) or not value.is_number:
        raise TypeError(f"{name} must be a real number, got the SymPy object {value!r}")
    if isinstance(value, sp.Float):
        if not value.is_finite:
            raise ValueError(f"{name} must be finite, got {value}")
        return sp.Rational(value)
    if value.is_finite is False or value.has(sp.nan, sp.zoo):
        raise ValueError(f"{name} must be finite, got {value}")
    if value.is_extended_real is not True:
        raise ValueError(f"{name} must be real, got {value}")
    return value


def show(value: sp.Expr) -> str:
    """A number for a message: exact when short, else 6 significant digits (``1e400`` has 401 of them)."""
    text = str(value)
    return text if len(text) <= 24 else str(sp.N(value, 6))


def exact_depth(depth: Any, name: str = "K") -> sp.Rational:
    """Return a depth as an exact non-negative rational (``"2.3"`` is exactly ``23/10``)."""
    value = exact(depth, name)
    if not value.is_Rational:
        raise ValueError(f"{name} must be a rational depth such as 2 or '2.5', got {value}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {show(value)}")
    return value


def to_mpf(value: Any, name: str = "value") -> mpmath.mpf:
    """Convert a scalar to an mpf at the *current* mpmath precision (decimal strings exactly, then rounded).

    ``inf``, ``-inf`` and ``nan`` pass through as mpmath's own; strings naming them are accepted too.
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, got the bool {value!r}")
    if isinstance(value, mpmath.mpf):
        return +value
    if isinstance(value, np.ndarray) or isinstance(value, (list, tuple)):
        raise TypeError(f"{name}: the high-precision path (dps=N) takes one scalar, got {type(value).__name__}; "
                        "evaluate arrays with dps=None (float64) or loop over the points")
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        f = float(value)
        if not math.isfinite(f):
            return mpmath.mpf(f)
    if isinstance(value, str) and value.strip().lower().lstrip("+-") in {"nan", "inf", "infinity"}:
        return mpmath.mpf(value.strip().lower().replace("infinity", "inf"))
    if isinstance(value, sp.Basic) and value in (sp.oo, -sp.oo, sp.nan):
        return mpmath.mpf({sp.oo: "inf", -sp.oo: "-inf"}.get(value, "nan"))
    q = exact(value, name)
    if q.is_Rational:
        return mpmath.mpf(int(q.p)) / int(q.q)
    return mpmath.mpf(sp.N(q, mpmath.mp.dps + 5))
