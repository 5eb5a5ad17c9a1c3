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

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import mpmath
import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import log1p
from sympy.printing.numpy import NumPyPrinter

from .layers import Layer

__all__ = ["FloatKernel", "LayerFunctions", "MpKernel", "Z", "affine_sincos", "as_float_array", "layer_functions",
           "log_derivative_expr"]

#: The symbol every layer expression is written in.
Z = sp.Symbol("z", real=True)

@dataclass(frozen=True)
class LayerFunctions:
    r"""A layer's :math:`f, f', \log f'` as numpy (float64) and mpmath callables.

    ``f_and_slope`` returns :math:`(f, f')` with :math:`f'` as plain ``diff`` (for Newton steps, sharing one
    sin/cos evaluation with :math:`f`); ``f_and_derivatives`` returns :math:`(f, f', f'')` (for Halley steps);
    ``f_ext`` evaluates :math:`f` in ``numpy.longdouble`` (for residuals); ``f_and_log_df`` returns
    :math:`(f, \log f')`; ``derivatives_mp`` returns :math:`(f, f', f'')` in mpmath, with common
    subexpressions shared; ``displacement_and_log_df`` returns :math:`(f - z, \log f')` and takes an unevaluated
    sum ``z + lo`` (see :class:`FloatKernel`); ``forward_terms`` returns the displacement :math:`g = f - z`,
    :math:`\log f'` and their first two derivatives (halved second), for the compensated forward pass of
    :meth:`flowproof.Flow.forward_and_log_det`.
    """

    f: Callable[[np.ndarray], np.ndarray]
    df: Callable[[np.ndarray], np.ndarray]
    log_df: Callable[[np.ndarray], np.ndarray]
    f_and_slope: Callable[[np.ndarray], tuple[np.ndarray, ...]]
    f_and_derivatives: Callable[[np.ndarray], tuple[np.ndarray, ...]]
    f_and_log_df: Callable[[np.ndarray], tuple[np.ndarray, ...]]
    displacement_and_log_df: FloatKernel
    forward_terms: Callable[[np.ndarray], tuple[np.ndarray, ...]]
    f_ext: Callable[[np.ndarray], np.ndarray]
    f_and_slope_scalar: Callable[[float], tuple[float, float]]
    f_mp: Callable[[Any], Any]
    derivatives_mp: Callable[[Any], tuple[Any, Any, Any]]
    df_mp: Callable[[Any], Any]
    log_df_mp: Callable[[Any], Any]


@lru_cache(maxsize=4096)
def layer_functions(layer: Layer) -> LayerFunctions:
    r"""Lambdify ``layer``'s :math:`f, f', \log f'` (cached per layer; layers are immutable)."""
    f = layer.expr(Z)
    slope = sp.diff(f, Z)
    df = layer.derivative_expr(Z)
    log_df = log_derivative_expr(layer)
    single = lambda expr: _unpack(FloatKernel((expr,)))  # noqa: E731
    return LayerFunctions(
        f=single(f),
        df=single(df),
        log_df=single(log_df),
        f_and_slope=FloatKernel((f, slope)),
        f_and_derivatives=FloatKernel((f, slope, sp.diff(slope, Z))),
        f_and_log_df=FloatKernel((f, log_df)),
        displacement_and_log_df=FloatKernel((sp.expand(f - Z), log_df)),
        forward_terms=FloatKernel(_taylor(sp.expand(f - Z)) + _taylor(log_df)),
        f_ext=sp.lambdify(Z, _reduce_phases(f), printer=_ExtendedPrinter),
        f_and_slope_scalar=sp.lambdify(Z, (f, slope), modules="math"),
        f_mp=sp.lambdify(Z, f, modules="mpmath"),
        derivatives_mp=MpKernel((f, slope, sp.diff(slope, Z))),
        df_mp=sp.lambdify(Z, df, modules="mpmath"),
        log_df_mp=sp.lambdify(Z, log_df, modules="mpmath"),
    )


def log_derivative_expr(layer: Layer) -> sp.Expr:
    r""":math:`\log f'` in a form that keeps its accuracy for this layer, chosen once from its exact bound
    :math:`f' \ge m`: where :math:`m \ge 1/2`, :math:`\operatorname{log1p}(f' - 1)` with :math:`f' - 1` simplified
    symbolically (e.g. :math:`a w \cos(w z + \varphi)`), so a tiny amplitude gives a tiny, accurate
    :math:`\log f'` rather than :math:`\log(1 + u)` rounded to 0; where :math:`m < 1/2` (towards a near-singular
    layer), :math:`\log` of the layer's stable :math:`f'`, which has no cancellation where :math:`f'` is small."""
    custom = layer.log_derivative_form(Z)
    if custom is not None:
        return custom
    excess = sp.expand(sp.diff(layer.expr(Z), Z) - 1)
    if excess == 0:
        return sp.Integer(0)
    if layer.derivative_lower_bound() >= sp.Rational(1, 2):
        return log1p(excess)
    return sp.log(layer.derivative_expr(Z))


def _taylor(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """``(e, e', e''/2)``: enough to move ``e`` from ``z_hi`` to ``z_hi + z_lo`` for ``|z_lo| <= ulp(z_hi)``.
    (An ``Abs`` in ``e``, as in a stable log cosh, differentiates to ``sign`` and then ``DiracDelta``, which is 0
    away from its one point and is dropped.)"""
    first = sp.diff(expr, Z)
    second = sp.diff(first, Z).replace(sp.DiracDelta, lambda *args: sp.Integer(0))
    return expr, first, second / 2


def _unpack(kernel: FloatKernel) -> Callable[[np.ndarray], np.ndarray]:
    return lambda z: kernel(z)[0]


class FloatKernel:
    r"""float64 evaluation of several expressions in :math:`z` at once, for numpy arrays.

    Every :math:`\sin` or :math:`\cos` of an affine argument :math:`u = w z + \varphi` becomes a *trig atom*,
    evaluated once per call by angle addition (:func:`affine_sincos`) however many expressions use it. Where the
    half argument :math:`u/2` is an atom too, :math:`\sin u = 2 \sin\frac u2 \cos\frac u2` and
    :math:`\cos u = \cos^2\frac u2 - \sin^2\frac u2` reuse it (exact identities; the error stays within a few
    ulp of 1). The rest is ``sympy.lambdify(..., "numpy", cse=True)``.
    """

    def __init__(self, exprs: tuple[sp.Expr, ...]) -> None:
        self.exprs = exprs
        args = sorted({a for e in exprs for a in _affine_arguments(e)}, key=sp.default_sort_key)
        halves = {u: u / 2 for u in args if sp.expand(u / 2) in {sp.expand(v) for v in args}}
        atoms = [u for u in args if u not in halves]
        sines = sp.symbols(f"s0:{len(atoms)}", real=True)
        cosines = sp.symbols(f"c0:{len(atoms)}", real=True)
        table: dict[sp.Basic, sp.Expr] = {}
        for u, s, c in zip(atoms, sines, cosines, strict=True):
            table[sp.sin(u)], table[sp.cos(u)] = s, c
        for u, half in halves.items():
            s, c = table[sp.sin(sp.expand(half))], table[sp.cos(sp.expand(half))]
            table[sp.sin(u)], table[sp.cos(u)] = 2 * s * c, c**2 - s**2
        replaced = [_fold_constants(e.xreplace(table)) for e in exprs]  # other sin/cos are left to numpy
        #: Whether the expressions depend on z only through the trig atoms (then ``lo`` is exact, see __call__).
        self.atoms_only = not any(e.has(Z) for e in replaced)
        #: The largest |w| among the trig atoms' arguments w z + phi (0 if none): how fast a rounding of z turns
        #: into an error of the argument.
        self.max_frequency = max((abs(float(_coefficients(u)[0])) for u in atoms), default=0.0)  # type: ignore[index]
        self._trig = [affine_sincos(*_coefficients(u)) for u in atoms]  # type: ignore[misc]
        self._fn = sp.lambdify((Z, *sines, *cosines), replaced, modules=["scipy", "numpy"], cse=True)

    def __call__(self, z: np.ndarray, lo: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """The expressions at ``z``, or, with ``lo``, at the unevaluated sum ``z + lo`` in the trig atoms
        (exact however large ``lo`` is; elsewhere ``z`` alone, so use it where :attr:`atoms_only`)."""
        pairs = [trig(z, lo) for trig in self._trig]
        values: list[Any] = self._fn(z, *(s for s, _ in pairs), *(c for _, c in pairs))
        return tuple(v if np.shape(v) == np.shape(z) else np.full_like(z, v) for v in values)


def _fold_constants(expr: sp.Expr) -> sp.Expr:
    """Numeric subexpressions that float code cannot take as they are (``log(10**300)``, a rational with a
    huge numerator) become 30-digit Floats: float kernels only, the mpmath ones keep the exact form."""

    def foldable(node: sp.Basic) -> bool:
        if not isinstance(node, sp.Expr) or not node.is_number or node.is_Float:
            return False
        if node.is_Rational:
            return max(abs(int(node.p)), int(node.q)) > 2**60  # type: ignore[attr-defined]
        return not node.is_Atom and bool(node.is_real)

    return expr.replace(foldable, lambda node: sp.Float(sp.N(node, 30), 30))


class MpKernel:
    r"""mpmath evaluation of several expressions in :math:`z` at once, at the caller's precision.

    Each :math:`\sin`/:math:`\cos` pair of one affine argument is evaluated by one ``mpmath.cos_sin`` call (the
    cost of one of them); the rest is ``sympy.lambdify(..., "mpmath", cse=True)`` with exact constants.
    """

    def __init__(self, exprs: tuple[sp.Expr, ...]) -> None:
        args = sorted({a for e in exprs for a in _affine_arguments(e)}, key=sp.default_sort_key)
        sines = sp.symbols(f"s0:{len(args)}", real=True)
        cosines = sp.symbols(f"c0:{len(args)}", real=True)
        table: dict[sp.Basic, sp.Expr] = {}
        for u, s_, c_ in zip(args, sines, cosines, strict=True):
            table[sp.sin(u)], table[sp.cos(u)] = s_, c_
        replaced = [sp.expand(e).xreplace(table) if args else e for e in exprs]
        self._arguments = sp.lambdify(Z, list(args), modules="mpmath")
        self._fn = sp.lambdify((Z, *sines, *cosines), replaced, modules="mpmath", cse=True)
        self._count = len(args)

    def __call__(self, z: Any) -> tuple[Any, ...]:
        pairs = [mpmath.cos_sin(u) for u in self._arguments(z)] if self._count else []
        return tuple(self._fn(z, *(s_ for _, s_ in pairs), *(c_ for c_, _ in pairs)))


#: Whether ``numpy.longdouble`` carries more bits than float64 (x86-64 Linux: 64-bit mantissa).
EXTENDED = np.finfo(np.longdouble).nmant > np.finfo(np.float64).nmant


def _reduce_phases(expr: sp.Expr) -> sp.Expr:
    r""":math:`\sin(w z + \varphi) \to \sin(w z + \varphi_r)` with :math:`\varphi_r = \varphi - 2\pi n \in [-\pi, \pi]`
    evaluated to 30 digits (for the longdouble path), so a large phase is never rounded into the argument."""

    def reduce(node: sp.Basic) -> sp.Expr:
        w, phi = _coefficients(node.args[0])  # type: ignore[misc]
        turns = sp.floor(phi / (2 * sp.pi) + sp.Rational(1, 2))
        reduced = sp.Float(sp.N(phi - 2 * sp.pi * turns, 30), 30)
        return node.func(w * Z + reduced)

    def affine_with_phase(node: sp.Basic) -> bool:
        if not isinstance(node, (sp.sin, sp.cos)):
            return False
        coefficients = _coefficients(node.args[0])
        return coefficients is not None and coefficients[1] != 0

    return expr.replace(affine_with_phase, reduce)


class _ExtendedPrinter(NumPyPrinter):
    """numpy code whose constants are ``numpy.longdouble``, so a longdouble argument keeps its extra bits."""

    def _print_Rational(self, expr: sp.Rational) -> str:
        return f"numpy.longdouble({expr.p})/numpy.longdouble({expr.q})"

    def _print_Float(self, expr: sp.Float) -> str:
        return f"numpy.longdouble('{sp.Float(expr, 30)}')"

    def _print_NumberSymbol(self, expr: sp.Expr) -> str:
        return f"numpy.longdouble('{sp.N(expr, 30)}')"

    _print_Pi = _print_E = _print_Exp1 = _print_GoldenRatio = _print_EulerGamma = _print_NumberSymbol


def _affine_arguments(expr: sp.Expr) -> set[sp.Expr]:
    return {sp.expand(node.args[0]) for node in expr.atoms(sp.sin, sp.cos)
            if node.has(Z) and _coefficients(node.args[0]) is not None}


def _coefficients(u: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
    if not u.is_polynomial(Z):
        return None
    poly = sp.Poly(u, Z)
    if poly.degree() != 1:
        return None
    w, phi = poly.all_coeffs()
    return (w, phi) if w.is_number and phi.is_number else None


def affine_sincos(w: sp.Expr, phi: sp.Expr) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    r"""float64 :math:`(\sin(w z + \varphi), \cos(w z + \varphi))` for exact :math:`w, \varphi`.

    :math:`A = \mathrm{fl}(w_{hi} z)`, then :math:`\sin(A + \varphi) = \sin A \cos\varphi + \cos A \sin\varphi`
    with :math:`\cos\varphi, \sin\varphi` rounded once from exact values, and the product's rounding error
    :math:`e = w z - A` (exact two-product, plus :math:`w_{lo} z`) added to first order where it is tiny, by an
    exact rotation where it is not (:math:`|w z| > 2^{53}`). Exact when :math:`w` is a power of two, as for the
    chapter's :math:`w = 2`. With ``lo``, the argument is :math:`w (z + lo) + \varphi` for the unevaluated sum.
    """
    w_hi = float(w)
    w_lo = float(sp.N(w - sp.Rational(w_hi), 30))
    cos_phi, sin_phi = float(sp.N(sp.cos(phi), 30)), float(sp.N(sp.sin(phi), 30))
    exact_product = w_lo == 0.0 and (w_hi == 0.0 or math.frexp(abs(w_hi))[0] == 0.5)

    def sincos(z: np.ndarray, lo: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(over="ignore"):
            a = w_hi * z
        sin_a, cos_a = _sincos_of_product(w_hi, z, a)
        s = sin_a * cos_phi + cos_a * sin_phi
        c = cos_a * cos_phi - sin_a * sin_phi
        # Each small angle separately: the product error can be ~1e13 when w z > 2^53, and adding the offset
        # w lo (~0.1) to it first would round the offset away.
        if not exact_product:
            s, c = _rotate(s, c, _two_product_error(w_hi, z, a) + w_lo * z)
        if lo is not None:
            s, c = _rotate(s, c, w_hi * lo + w_lo * lo)
        return s, c

    return sincos


def _rotate(s: np.ndarray, c: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(sin, cos)`` of the angle plus ``e``: to first order where ``e`` is tiny, by an exact rotation elsewhere."""
    if (np.abs(e) <= 2.0**-26).all():  # sin(A + e) = sin A + e cos A to below an ulp
        return s + e * c, c - e * s
    sin_e, cos_e = np.sin(e), np.cos(e)
    return s * cos_e + c * sin_e, c * cos_e - s * sin_e


def _sincos_of_product(w: float, z: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sin(a), cos(a)`` for ``a = fl(w z)``; where ``w z`` overflows, halve ``w`` and double the angle back."""
    overflow = np.isinf(a) & np.isfinite(z)
    if not overflow.any():
        return np.sin(a), np.cos(a)
    sin_a, cos_a = np.sin(np.where(overflow, 0.0, a)), np.cos(np.where(overflow, 0.0, a))
    halvings = 0
    with np.errstate(over="ignore"):
        while True:
            halvings += 1
            part = (w * 2.0**-halvings) * z[overflow]
            if np.isfinite(part).all():
                break
    s, c = np.sin(part), np.cos(part)
    for _ in range(halvings):
        s, c = 2 * s * c, (c - s) * (c + s)
    sin_a[overflow], cos_a[overflow] = s, c
    return sin_a, cos_a


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
