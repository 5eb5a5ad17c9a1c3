r"""Export a flow to plain functions of numpy, mpmath, jax or torch, printed by SymPy from the exact expressions.

``flow.lambdify(modules)`` (or :func:`lambdify`) returns an :class:`ExportedFlow` whose functions use only the
chosen module, so the flow flowproof proved can be used in your own code (inside ``jax.jit``, on torch tensors,
at 100 digits with mpmath):

* ``forward(x)`` :math:`= F(x)` and ``log_det(x)`` :math:`= \log F'(x) = \sum_k \log f_k'(z_{k-1})`, and
  ``forward_and_log_det(x)``: the proven closed forms, one lambdified :math:`f_k` and :math:`\log f_k'` per layer
  (:func:`flowproof.numeric.log_derivative_expr`'s accurate form), composed in a Python loop. The fully nested
  expression of a deep flow is never built: it grows about 2.2 times per layer.
* ``inverse(y)`` and ``log_prob(y)`` :math:`= \log \mathcal{N}(x) - \log F'(x)`, :math:`x = F^{-1}(y)`: the
  inverse has no closed form in general, so it is the family's closed form where it has one
  (``Layer.inverse_expr``) and otherwise *numeric*: bisection in the layer's proven bracket
  :math:`[y - D_k, y + D_k]` (or, where :math:`D_k = \infty`, between 0 and :math:`(y - f_k(0))/m_k`),
  with enough halvings for float64 (or, for mpmath, for the working precision at the call). Vectorised with
  the module's ``where``; no data-dependent Python control flow, so it traces under jit.

Constants stay exact: the mpmath functions print rationals as ``mpf(p)/mpf(q)`` and :math:`\pi` as
``mpmath.pi``, evaluated at the caller's precision (SymPy's mpmath printer would turn a ``Float`` into a 53-bit
number; flowproof's parameters are rationals, so this never happens). The numpy, jax and torch functions are
SymPy's printing as it is: accurate to a few ulp in the bulk; in the far tails (:math:`|x| \gtrsim 10^3`) the
rounding of :math:`w z + \varphi` costs digits that flowproof's own float path (:meth:`flowproof.Flow.forward`)
keeps. jax and torch are not dependencies of flowproof: exporting to them needs them installed.

>>> import mpmath, flowproof as fp
>>> exported = fp.chapter_flow(2).lambdify("mpmath")
>>> with mpmath.workdps(30):
...     print(exported.forward(mpmath.mpf(1) / 2))
0.940256609729324400676268513088
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp
from sympy.printing.numpy import JaxPrinter, NumPyPrinter
from sympy.printing.pycode import MpmathPrinter

from .layers import Layer
from .numeric import Z, log_derivative_expr

__all__ = ["MODULES", "ExportedFlow", "ExportedLayer", "lambdify"]

#: The modules a flow exports to, and the package each needs.
MODULES = {"numpy": "numpy", "mpmath": "mpmath", "jax": "jax", "torch": "torch"}

#: Bisection halvings per layer for the float backends: from a bracket of width 2 D to below 2**-64 * 2 D.
_FLOAT_HALVINGS = 64

Y = sp.Symbol("y", real=True)


@dataclass(frozen=True)
class ExportedLayer:
    r"""One layer's exported :math:`f`, :math:`\log f'`, closed-form ``inverse`` (``None`` where the family has
    none), displacement bound :math:`D` and derivative bound :math:`m` (callables ``bound()``, ``slope()``
    returning them in the module's numbers), with the generated ``source``."""

    f: Callable[[Any], Any]
    log_df: Callable[[Any], Any]
    inverse: Callable[[Any], Any] | None
    bound: Callable[[], Any]
    slope: Callable[[], Any]
    source: str


@dataclass(frozen=True)
class ExportedFlow:
    """A flow as functions of one module (see :mod:`flowproof.export`): ``forward``, ``log_det``,
    ``forward_and_log_det``, and the numeric ``inverse`` and ``log_prob``."""

    modules: str
    layers: tuple[ExportedLayer, ...]
    _where: Callable[[Any, Any, Any], Any]
    _log_normal: Callable[[Any], Any]

    @property
    def source(self) -> str:
        """The generated code of every layer, in order (layer 0 first)."""
        return "\n".join(f"# layer {k}\n{layer.source}" for k, layer in enumerate(self.layers))

    def _input(self, x: Any) -> Any:
        """Lists and tuples become float arrays for the numpy export (the printed code does arithmetic on them)."""
        return np.asarray(x, dtype=float) if self.modules == "numpy" and isinstance(x, (list, tuple)) else x

    def forward(self, x: Any) -> Any:
        r""":math:`F(x)`."""
        x = self._input(x)
        for layer in self.layers:
            x = layer.f(x)
        return x

    def log_det(self, x: Any) -> Any:
        r""":math:`\log F'(x)`."""
        return self.forward_and_log_det(x)[1]

    def forward_and_log_det(self, x: Any) -> tuple[Any, Any]:
        r""":math:`(F(x), \log F'(x))` in one pass over the layers."""
        x = self._input(x)
        total = 0 * x
        for layer in self.layers:
            total = total + layer.log_df(x)
            x = layer.f(x)
        return x, total

    def inverse(self, y: Any) -> Any:
        r""":math:`F^{-1}(y)` by per-layer bisection in :math:`[y - D_k, y + D_k]` (numeric, not a closed form)."""
        y = self._input(y)
        for layer in reversed(self.layers):
            y = self._invert_layer(layer, y)
        return y

    def log_prob(self, y: Any) -> Any:
        r""":math:`\log p_Y(y) = \log \mathcal{N}(x) - \log F'(x)` at :math:`x = F^{-1}(y)` (numeric inverse)."""
        x = self.inverse(y)
        return self._log_normal(x) - self.log_det(x)

    def _invert_layer(self, layer: ExportedLayer, y: Any) -> Any:
        if layer.inverse is not None:  # the family's closed form
            return layer.inverse(y)
        d, c, m = layer.bound(), layer.f(0 * y), layer.slope()
        if self.modules == "mpmath":
            import mpmath

            y, eps = mpmath.mpf(y), mpmath.mpf(2) ** (8 - mpmath.mp.prec)
            if mpmath.isinf(d):  # x lies between 0 and q = (y - f(0)) / m
                q = (y - c) / m
                lo, hi = min(q, 0) - eps * (abs(q) + 1), max(q, 0) + eps * (abs(q) + 1)
            else:
                lo, hi = y - d * (1 + eps), y + d * (1 + eps)
            halvings = mpmath.mp.prec + 8 + max(0, int(mpmath.ceil(mpmath.log(hi - lo + 1, 2))))
        else:
            if math.isinf(float(d)):
                q = (y - c) / float(m)
                pad = (abs(q) + 1) * 2.0**-45
                lo, hi = self._where(q < 0, q, 0 * q) - pad, self._where(q < 0, 0 * q, q) + pad
                halvings = 2 * _FLOAT_HALVINGS
            else:
                d = float(d) * (1 + 2.0**-50)
                lo, hi = y - d, y + d
                halvings = _FLOAT_HALVINGS + max(0, math.ceil(math.log2(2 * d + 1)))
        for _ in range(halvings):
            mid = (lo + hi) / 2
            below = layer.f(mid) < y
            lo, hi = self._where(below, mid, lo), self._where(below, hi, mid)
        return (lo + hi) / 2


class _TorchPrinter:
    """SymPy's torch printer with ``log1p`` (which it lacks), built on first use so torch is not imported early."""

    @staticmethod
    def make() -> type:
        from sympy.printing.pytorch import TorchPrinter

        class Printer(TorchPrinter):  # type: ignore[misc, valid-type]
            def _print_log1p(self, expr: sp.Expr) -> str:
                return f"{self._module_format('torch.log1p')}({self._print(expr.args[0])})"

        return Printer


def _printer_and_where(modules: str) -> tuple[Any, dict[str, Any], Callable[[Any, Any, Any], Any]]:
    """A printer instance that writes fully qualified names (``numpy.sin``), the namespace those names live in,
    and the module's ``where``."""
    if modules == "mpmath":
        import mpmath

        return MpmathPrinter(), {"mpmath": mpmath}, lambda c, a, b: a if c else b
    if modules == "jax":
        jax = importlib.import_module("jax")
        jnp = importlib.import_module("jax.numpy")
        return JaxPrinter(), {"jax": jax}, jnp.where
    if modules == "torch":
        torch = importlib.import_module("torch")
        return _TorchPrinter.make()(), {"torch": torch}, torch.where
    import numpy as np

    return NumPyPrinter(), {"numpy": np}, np.where


def lambdify(flow: Sequence[Layer], modules: str = "numpy") -> ExportedFlow:
    """Export ``flow`` (a :class:`~flowproof.Flow` or sequence of layers) to functions of ``modules``: one of
    ``"numpy"``, ``"mpmath"``, ``"jax"``, ``"torch"`` (the last two need the package installed).

    >>> import numpy as np, flowproof as fp
    >>> exported = fp.chapter_flow().lambdify("numpy")
    >>> y, log_det = exported.forward_and_log_det(np.array([-1.0, 0.0, 1.0]))
    >>> bool(np.allclose(y, fp.chapter_flow().forward([-1.0, 0.0, 1.0]), rtol=0, atol=1e-14))
    True
    >>> bool(np.allclose(exported.inverse(y), [-1.0, 0.0, 1.0], rtol=0, atol=1e-14))
    True
    """
    if not isinstance(modules, str) or modules not in MODULES:
        raise ValueError(f"modules must be one of {', '.join(map(repr, MODULES))}, got {modules!r}")
    package = MODULES[modules]
    if importlib.util.find_spec(package) is None:
        raise ImportError(f"exporting to {modules!r} needs {package} installed (pip install {package}); "
                          f"flowproof does not depend on it")
    layers = tuple(flow)
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"layer {i} must be a flowproof Layer, got {type(layer).__name__}")
    printer, namespace, where = _printer_and_where(modules)
    exported = []
    for layer in layers:
        f = sp.lambdify(Z, layer.expr(Z), modules=[namespace], printer=printer)
        log_df = sp.lambdify(Z, log_derivative_expr(layer), modules=[namespace], printer=printer)
        constants = "mpmath" if modules == "mpmath" else "math"
        bound = sp.lambdify((), layer.displacement_bound(), modules=constants)
        slope = sp.lambdify((), layer.derivative_lower_bound(), modules=constants)
        source = inspect.getsource(f).replace("_lambdifygenerated", "f") + \
            inspect.getsource(log_df).replace("_lambdifygenerated", "log_df")
        hook = getattr(layer, "inverse_expr", None)
        closed = hook(Y) if hook is not None else None
        inverse = None
        if closed is not None:
            inverse = sp.lambdify(Y, closed, modules=[namespace], printer=printer)
            source += inspect.getsource(inverse).replace("_lambdifygenerated", "inverse")
        exported.append(ExportedLayer(f, log_df, inverse, bound, slope, source))
    base = -Z**2 / 2 - sp.log(2 * sp.pi) / 2
    log_normal = sp.lambdify(Z, base, modules=[namespace], printer=printer)
    return ExportedFlow(modules, tuple(exported), where, log_normal)
