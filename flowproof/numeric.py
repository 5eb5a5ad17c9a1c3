r"""Numeric backends derived from each layer's exact SymPy expression with :func:`sympy.lambdify`.

For every layer, :func:`layer_functions` lambdifies :math:`f`, :math:`f'` and :math:`\log f'` once (cached):

* into **numpy** functions on float64 arrays, after one rewrite that keeps the tails accurate: a
  :math:`\sin` or :math:`\cos` of an affine argument :math:`w z + \varphi` is evaluated by angle addition,
  :math:`\sin(w z)\cos\varphi + \cos(w z)\sin\varphi`, with :math:`\cos\varphi, \sin\varphi` rounded once from
  exact values and the rounding error of :math:`w z` (when :math:`w` is not a power of two) added back by an
  exact two-product. Rounding :math:`w z + \varphi` first would lose all accuracy at :math:`|z| \sim 10^{12}`.
* into **mpmath** functions that keep the exact constants (rationals print as ``mpf(p)/mpf(q)`` and are
  evaluated at the caller's working precision, never as 53-bit floats).

Nothing here is a second hand-written copy of a formula: change the expression and every backend follows.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp
from sympy.utilities.lambdify import implemented_function

from .layers import Layer

__all__ = ["LayerFunctions", "Z", "as_float_array", "float_form", "layer_functions"]

#: The symbol every layer expression is written in.
Z = sp.Symbol("z", real=True)

_names = itertools.count()


@dataclass(frozen=True)
class LayerFunctions:
    """A layer's :math:`f, f', \\log f'` as numpy (float64) and mpmath callables."""

    f: Callable[[np.ndarray], np.ndarray]
    df: Callable[[np.ndarray], np.ndarray]
    log_df: Callable[[np.ndarray], np.ndarray]
    f_mp: Callable[[Any], Any]
    df_mp: Callable[[Any], Any]
    log_df_mp: Callable[[Any], Any]


@lru_cache(maxsize=4096)
def layer_functions(layer: Layer) -> LayerFunctions:
    """Lambdify ``layer``'s :math:`f, f', \\log f'` (cached per layer; layers are immutable)."""
    f = layer.expr(Z)
    df = layer.derivative_expr(Z)
    log_df = sp.log(df)
    return LayerFunctions(
        f=_numpy(f),
        df=_numpy(df),
        log_df=_numpy(log_df),
        f_mp=sp.lambdify(Z, f, modules="mpmath"),
        df_mp=sp.lambdify(Z, df, modules="mpmath"),
        log_df_mp=sp.lambdify(Z, log_df, modules="mpmath"),
    )


def _numpy(expr: sp.Expr) -> Callable[[np.ndarray], np.ndarray]:
    fn = sp.lambdify(Z, float_form(expr, Z), modules="numpy")
    if not expr.has(Z):  # a constant: lambdify would return a scalar for an array
        return lambda z: np.full_like(z, fn(z), dtype=np.float64)
    return fn


def float_form(expr: sp.Expr, z: sp.Symbol) -> sp.Expr:
    """Rewrite ``sin``/``cos`` of affine arguments in ``z`` into accurate float64 implementations."""

    def affine(node: sp.Basic) -> tuple[sp.Expr, sp.Expr] | None:
        if not isinstance(node, (sp.sin, sp.cos)):
            return None
        poly = sp.Poly(node.args[0], z) if node.args[0].is_polynomial(z) else None
        if poly is None or poly.degree() != 1:
            return None
        w, phi = poly.all_coeffs()
        return (w, phi) if w.is_number and phi.is_number else None

    def rewrite(node: sp.Basic) -> sp.Expr:
        w, phi = affine(node)  # type: ignore[misc]
        impl = _affine_trig("sin" if isinstance(node, sp.sin) else "cos", w, phi)
        return implemented_function(f"_trig_affine_{next(_names)}", impl)(z)

    return expr.replace(lambda node: affine(node) is not None, rewrite)


def _affine_trig(kind: str, w: sp.Expr, phi: sp.Expr) -> Callable[[np.ndarray], np.ndarray]:
    r"""float64 :math:`\sin(w z + \varphi)` or :math:`\cos(w z + \varphi)` for exact :math:`w, \varphi`."""
    w_hi = float(w)
    w_lo = float(sp.N(w - sp.Rational(w_hi), 30))
    cos_phi, sin_phi = float(sp.N(sp.cos(phi), 30)), float(sp.N(sp.sin(phi), 30))
    exact_product = w_lo == 0.0 and (w_hi == 0.0 or math.frexp(abs(w_hi))[0] == 0.5)

    def trig(z: np.ndarray) -> np.ndarray:
        a = w_hi * z
        sin_a, cos_a = np.sin(a), np.cos(a)
        s = sin_a * cos_phi + cos_a * sin_phi
        c = cos_a * cos_phi - sin_a * sin_phi
        if not exact_product:  # sin(A + e) = sin A + e cos A for the tiny product error e
            e = _two_product_error(w_hi, z, a) + w_lo * z
            s, c = s + e * c, c - e * s
        return s if kind == "sin" else c

    return trig


def _two_product_error(a: float, b: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Exact ``a*b - p`` for ``p = fl(a*b)`` (Veltkamp/Dekker); 0 where the split would overflow."""
    split = 134217729.0  # 2**27 + 1
    with np.errstate(all="ignore"):
        ta = split * a
        a_hi = ta - (ta - a)
        a_lo = a - a_hi
        tb = split * b
        b_hi = tb - (tb - b)
        b_lo = b - b_hi
        err = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return np.where(np.isfinite(err), err, 0.0)


def as_float_array(x: Any, name: str = "x") -> np.ndarray:
    """``x`` as a float64 array; bool, int and float32 are promoted, anything not real raises ``TypeError``."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be real numbers, got the string {x!r}; pass dps=N to evaluate a decimal "
                        "string exactly")
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of real numbers: {err}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers (bool, int or float), got dtype {arr.dtype}"
                        + ("; pass a scalar with dps=N for mpmath values" if arr.dtype.kind == "O" else ""))
    return arr.astype(np.float64, copy=False)
