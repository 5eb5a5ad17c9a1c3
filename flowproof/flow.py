r"""Composition: a flow :math:`F = f_K \circ \cdots \circ f_1` of invertible 1D layers on a standard normal base.

Direction, fixed once and used everywhere:

.. math::

    y = F(x), \qquad z_0 = x,\quad z_k = f_k(z_{k-1}),\qquad
    \log F'(x) = \sum_{k=1}^K \log f_k'(z_{k-1}),\qquad
    \log p_Y(y) = \log p_X\bigl(F^{-1}(y)\bigr) - \log F'\bigl(F^{-1}(y)\bigr).

Every method has two paths:

* **float64** (``dps=None``): scalars or arrays of any shape and real dtype; float64 out, same shape, a scalar
  for a scalar; vectorised over points (a Python loop over layers only). NaN in gives NaN out; :math:`F(\pm\infty)
  = \pm\infty` and :math:`F^{-1}(\pm\infty) = \pm\infty` (a layer moves points by at most :math:`D`).
* **mpmath** (``dps=N``): one scalar (int, float, decimal string read exactly, ``mpf``), computed at ``N`` digits
  plus guard digits; arrays raise ``TypeError``. ``inverse`` then returns an :class:`~flowproof.inverse.InverseResult`
  with its evidence. mpmath's global precision is never changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, overload

import mpmath
import numpy as np
import sympy as sp

from . import density
from .exact import Real, exact_depth, show, to_mpf
from .inverse import (
    check_dps,
    check_method,
    conditioning_digits,
    forward_chain_mp,
    invert_float,
    invert_mp,
    working_dps,
)
from .layers import Layer, SineLayer
from .numeric import as_float_array, layer_functions

__all__ = ["CHAPTER_AMPLITUDE", "CHAPTER_FREQUENCY", "CHAPTER_PHASES", "Flow", "chapter_flow"]

#: The chapter's constants, as the exact decimals it prints.
CHAPTER_AMPLITUDE = "0.32"
CHAPTER_FREQUENCY = 2
CHAPTER_PHASES = ("0.3", "1.1", "2.0", "2.9", "4.1", "5.3")


class Flow(Sequence[Layer]):
    """An ordered composition of layers; layer 0 is applied first. ``Flow([])`` is the identity.

    >>> flow = chapter_flow(3)
    >>> len(flow), len(flow[:2]), type(flow[:2]).__name__
    (3, 2, 'Flow')
    >>> float(flow.inverse(flow.forward(0.5)))  # doctest: +ELLIPSIS
    0.5...
    >>> r = flow.inverse("1.5", dps=30)
    >>> r.bracket[0] <= r.x <= r.bracket[1]
    True
    """

    def __init__(self, layers: Iterable[Layer] = ()) -> None:
        if isinstance(layers, Layer):
            raise TypeError("Flow takes a sequence of layers, e.g. Flow([layer]), not a single layer")
        try:
            self._layers: tuple[Layer, ...] = tuple(layers)
        except TypeError:
            raise TypeError(f"Flow takes a sequence of layers, got {type(layers).__name__}") from None
        for i, layer in enumerate(self._layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} must be a flowproof Layer, got {type(layer).__name__}")

    # -- the sequence ------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self._layers)

    @overload
    def __getitem__(self, index: int) -> Layer: ...

    @overload
    def __getitem__(self, index: slice) -> Flow: ...

    def __getitem__(self, index: int | slice) -> Layer | Flow:
        if isinstance(index, slice):
            return Flow(self._layers[index])
        return self._layers[index]

    def __add__(self, other: Flow) -> Flow:
        r"""``a + b`` applies the layers of ``a`` first, then those of ``b``: :math:`F_b \circ F_a`."""
        if not isinstance(other, Flow):
            return NotImplemented
        return Flow(self._layers + other._layers)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Flow) and self._layers == other._layers

    def __hash__(self) -> int:
        return hash(self._layers)

    def __repr__(self) -> str:
        inner = ",\n  ".join(map(repr, self._layers))
        return f"Flow([\n  {inner},\n])" if self._layers else "Flow([])"

    def truncate(self, depth: Real) -> Flow:
        r"""The first :math:`\lfloor K \rfloor` layers plus the next one taken a fraction :math:`t = K -
        \lfloor K \rfloor` of the way, :math:`(1 - t) z + t f(z)`. ``"2.3"`` means exactly :math:`2 + 3/10`."""
        k = exact_depth(depth, "depth")
        if k > len(self):
            raise ValueError(f"depth must be at most {len(self)} (the number of layers), got {show(k)}")
        full = int(sp.floor(k))
        t = k - full
        layers = list(self._layers[:full])
        if t > 0:
            layers.append(self._layers[full].partial(t))
        return Flow(layers)

    # -- bounds that make the flow a bijection of R ------------------------------------------------------------
    def derivative_lower_bound(self) -> sp.Expr:
        """Exact :math:`m` with :math:`F' \\ge m = \\prod_k m_k > 0`."""
        return sp.Mul(*(layer.derivative_lower_bound() for layer in self._layers))

    def displacement_bound(self) -> sp.Expr:
        """Exact :math:`D` with :math:`|F(x) - x| \\le D = \\sum_k D_k`."""
        return sp.Add(*(layer.displacement_bound() for layer in self._layers))

    # -- forward -----------------------------------------------------------------------------------------------
    def forward(self, x: Any, dps: int | None = None) -> Any:
        """:math:`y = F(x)`."""
        if dps is not None:
            return self._chain_mp(x, dps)[0]
        return _elementwise(x, "x", lambda v: self._forward_float(v)[0], nonfinite=lambda v: v)

    def log_det(self, x: Any, dps: int | None = None, certify: bool = False) -> Any:
        """:math:`\\log F'(x) = \\sum_k \\log f_k'(z_{k-1})` (NaN at :math:`\\pm\\infty`).

        ``certify=True`` (one finite scalar, read exactly): a proven :class:`~flowproof.certified.Enclosure` of
        width ``<= 10**-N * max(1, |log F'(x)|)``, ``N = dps`` (16 if not given); see :mod:`flowproof.certified`.
        """
        if certify:
            return _certified().log_det(self, x, 16 if dps is None else dps)
        if dps is not None:
            return self._chain_mp(x, dps)[1]
        return _elementwise(x, "x", lambda v: self._forward_float(v)[1], nonfinite=_nan_like)

    def forward_and_log_det(self, x: Any, dps: int | None = None) -> tuple[Any, Any]:
        """``(forward(x), log_det(x))`` in one pass over the layers."""
        if dps is not None:
            return self._chain_mp(x, dps)
        if _is_dask(x):
            return self.forward(x), self.log_det(x)
        arr = as_float_array(x, "x")
        flat = arr.ravel()
        y, ld = flat.copy(), np.full_like(flat, np.nan)
        finite = np.isfinite(flat)
        y[finite], ld[finite] = self._forward_float(flat[finite])
        return _shaped(y, arr), _shaped(ld, arr)

    def _forward_float(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""``(F(x), log F'(x))`` for finite float64 ``x``: a plain chain where :math:`w |x| \le 16` for every
        frequency :math:`w` of the layers' sines (:math:`|x| \le 8` for the chapter's :math:`w = 2`), a compensated
        one (:meth:`_forward_compensated`) beyond, where rounding :math:`z_k` would move :math:`w z_k` by more
        than a few ulp of 1 (for :math:`w = 10^{14}` that is every point)."""
        frequency = max((layer_functions(layer).displacement_and_log_df.max_frequency for layer in self._layers),
                        default=0.0)
        tail = np.abs(x) > 16.0 / max(frequency, 2.0)
        if not tail.any():
            return self._forward_plain(x)
        y, total = np.empty_like(x), np.empty_like(x)
        y[~tail], total[~tail] = self._forward_plain(x[~tail])
        y[tail], total[tail] = self._forward_compensated(x[tail])
        return y, total

    def _forward_plain(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z, total = x, np.zeros_like(x)
        for layer in self._layers:
            z, log_df = layer_functions(layer).f_and_log_df(z)
            total = total + log_df
        return z, total

    def _forward_compensated(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""The chain with each :math:`z_k` carried as an unevaluated sum ``hi + lo``.

        A plain float chain rounds every :math:`z_k` to an ulp of its size, which moves the next layer's
        :math:`\sin(w z_k + \varphi)` by :math:`w\,\mathrm{ulp}(z_k)`: :math:`10^{-4}` at :math:`|x| = 10^{12}`.
        Here :math:`z_k = hi + lo` exactly (``two_sum``). Where a layer's displacement :math:`g = f - z` and
        :math:`\log f'` depend on :math:`z` only through sines and cosines of affine arguments (the sine ripple),
        they are evaluated at ``hi + lo`` exactly by angle addition, at any :math:`|x|`; otherwise they are taken at
        ``hi`` and moved to ``hi + lo`` by their Taylor terms to second order.
        """
        hi, lo, total = x, np.zeros_like(x), np.zeros_like(x)
        for layer in self._layers:
            fns = layer_functions(layer)
            with np.errstate(all="ignore"):  # far out, Taylor terms may overflow; they are then not used
                if fns.displacement_and_log_df.atoms_only:  # exact at hi + lo, however large lo is
                    g, ld = fns.displacement_and_log_df(hi, lo)
                else:
                    g, g1, g2, ld, ld1, ld2 = fns.forward_terms(hi)
                    moved = lo != 0
                    g = np.where(moved, g + lo * (g1 + lo * g2), g)
                    ld = np.where(moved, ld + lo * (ld1 + lo * ld2), ld)
            with np.errstate(all="ignore"):  # an overflow shows as inf/nan in hi, handled below
                total = total + ld
                s = hi + g  # two_sum(hi, g) + lo, renormalised
                b = s - hi
                lo = ((hi - (s - b)) + (g - b)) + lo
                hi = s + lo
                lo = lo - (hi - s)
        overflowed = ~np.isfinite(hi)
        if overflowed.any():  # F(x) beyond the float range: the plain chain gives its infinity
            with np.errstate(all="ignore"):
                hi[overflowed], total[overflowed] = self._forward_plain(x[overflowed])
        return hi, total

    def _chain_mp(self, x: Any, dps: int) -> tuple[mpmath.mpf, mpmath.mpf]:
        """``(F(x), log F'(x))`` at ``dps`` digits, guard digits grown until the conditioning is covered."""
        dps = check_dps(dps)
        with mpmath.workdps(dps + 10):
            start = to_mpf(x, "x")
        if not mpmath.isfinite(start):
            return start, mpmath.mpf("nan")
        bound = self.displacement_bound()  # may be oo (affine layers): then the loop below grows the guard digits
        work = working_dps(dps, abs(start) + (_mp(bound) if bound.is_finite else 0), self._layers)
        while True:
            with mpmath.workdps(work):
                chain, logs = forward_chain_mp(self._layers, to_mpf(x, "x"))
                needed = working_dps(dps, max(abs(v) for v in chain), self._layers) + conditioning_digits(logs)
                if needed <= work:
                    return chain[-1], mpmath.fsum(logs)
            work = needed

    # -- inverse -----------------------------------------------------------------------------------------------
    def inverse(self, y: Any, dps: int | None = None, method: str = "halley", certify: bool = False) -> Any:
        """:math:`x = F^{-1}(y)`, layer by layer in reverse order (:mod:`flowproof.inverse`).

        With ``dps=N`` (one scalar), returns an :class:`~flowproof.inverse.InverseResult`: ``.x`` within
        ``10**-N * max(1, |x|)`` of the true preimage, shown by ``.bracket``, with ``.residual`` and ``.steps``;
        ``float(result)`` converts. ``method`` is ``"halley"`` (default) or ``"newton"``, both safeguarded in the
        layer's bracket, or the chapter's ``"bisect"``.

        ``certify=True`` (one finite scalar): a proven :class:`~flowproof.certified.Enclosure` ``[lo, hi]`` that
        contains :math:`F^{-1}(y)`, of width ``<= 10**-N * max(1, |x|)``, ``N = dps`` (16 if not given), by
        interval Newton per layer with each layer's proof status (:mod:`flowproof.certified`).
        """
        method = check_method(method)
        if certify:
            return _certified().inverse(self, y, 16 if dps is None else dps, method)
        if dps is not None:
            return invert_mp(self._layers, y, dps, method)
        return _elementwise(y, "y", lambda v: self._inverse_float(v, method), nonfinite=lambda v: v)

    def _inverse_float(self, y: np.ndarray, method: str = "halley") -> np.ndarray:
        if method == "bisect":
            with mpmath.workdps(17):  # the chapter's method, one point at a time: for reference, not speed
                return np.array([float(invert_mp(self._layers, float(v), 17, "bisect").x) for v in y])
        return invert_float(self._layers, y)

    def inverse_and_log_det(self, y: Any, dps: int | None = None) -> tuple[Any, Any]:
        """``(x, log_det(x))`` with :math:`x = F^{-1}(y)`: the forward map's log-derivative at the preimage."""
        if dps is not None:
            result = self.inverse(y, dps=dps)
            return result, self._chain_mp(result.x, dps)[1]
        x = self.inverse(y)
        return x, self.log_det(x)

    # -- density -----------------------------------------------------------------------------------------------
    def log_prob(self, y: Any, dps: int | None = None, certify: bool = False) -> Any:
        """:math:`\\log p_Y(y) = \\log p_X(x) - \\log F'(x)` at :math:`x = F^{-1}(y)`; :math:`-\\infty` at
        :math:`\\pm\\infty`.

        ``certify=True`` (one finite scalar): a proven :class:`~flowproof.certified.Enclosure` of width
        ``<= 10**-N * max(1, |log p_Y(y)|)``, ``N = dps`` (16 if not given)."""
        if certify:
            return _certified().log_prob(self, y, 16 if dps is None else dps)
        if dps is not None:
            x = self.inverse(y, dps=dps).x
            if not mpmath.isfinite(x):
                return x if mpmath.isnan(x) else mpmath.mpf("-inf")
            log_det = self._chain_mp(x, dps)[1]
            with mpmath.workdps(dps + 10):
                return density.normal_log_pdf_mp(x) - log_det

        def finite(v: np.ndarray) -> np.ndarray:
            x = invert_float(self._layers, v)
            return density.normal_log_pdf(x) - self._forward_float(x)[1]

        return _elementwise(y, "y", finite, nonfinite=lambda v: np.where(np.isnan(v), v, -np.inf))

    def cdf(self, y: Any, dps: int | None = None) -> Any:
        """:math:`P(Y \\le y) = \\Phi(F^{-1}(y))` (:math:`F` is increasing)."""
        if dps is not None:
            x = self.inverse(y, dps=dps).x
            with mpmath.workdps(dps + 10):
                return density.normal_cdf_mp(x) if not mpmath.isnan(x) else x
        if _is_dask(y):
            return _blockwise(y, "y", self.cdf)
        return density.normal_cdf(self.inverse(y))

    def icdf(self, u: Any, dps: int | None = None) -> Any:
        """Quantile :math:`F(\\Phi^{-1}(u))` for :math:`u \\in [0, 1]` (float path: NaN outside)."""
        if dps is not None:
            dps = check_dps(dps)
            with mpmath.workdps(dps + 10):
                p = to_mpf(u, "u")
                if mpmath.isnan(p):
                    return p
                if not 0 <= p <= 1:
                    raise ValueError(f"u must lie in [0, 1], got {mpmath.nstr(p, 10)}")
            with mpmath.workdps(dps + 10 + max(0, -int(mpmath.log10(min(p, 1 - p) or 1)))):
                p = to_mpf(u, "u")
            return self.forward(density.normal_icdf_mp(p, dps + 10), dps=dps)
        if _is_dask(u):
            return _blockwise(u, "u", self.icdf)
        return self.forward(density.normal_icdf(as_float_array(u, "u")))

    def sample(self, n: int, seed: Any = None) -> np.ndarray:
        """``n`` draws of :math:`Y = F(X)`, :math:`X \\sim \\mathcal{N}(0, 1)`, as float64
        (``seed`` goes to :func:`numpy.random.default_rng`)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"n must be a whole number of samples, got {type(n).__name__} {n!r}")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        try:
            rng = np.random.default_rng(seed)
        except (TypeError, ValueError) as err:
            raise type(err)(f"seed must be None, a non-negative int or a numpy Generator/SeedSequence: {err}") from None
        return self.forward(rng.standard_normal(int(n)))

    # -- export ------------------------------------------------------------------------------------------------
    def lambdify(self, modules: str = "numpy") -> Any:
        """The flow as plain functions of ``"numpy"``, ``"mpmath"``, ``"jax"`` or ``"torch"``, printed by SymPy
        from the exact layer expressions: an :class:`~flowproof.export.ExportedFlow` with ``forward``,
        ``log_det``, ``forward_and_log_det`` and a numeric ``inverse`` and ``log_prob`` (:mod:`flowproof.export`)."""
        from .export import lambdify

        return lambdify(self, modules)


def chapter_flow(K: Real = 6) -> Flow:
    """The chapter's flow: :math:`f_k(z) = z + 0.32 \\sin(2 z + \\varphi_k)`, phases 0.3, 1.1, 2.0, 2.9, 4.1, 5.3,
    all exact decimals, truncated to depth ``K`` in :math:`[0, 6]` (fractional ``K`` takes the next layer
    partially).

    >>> chapter_flow(2.5)[-1]
    SineLayer(amplitude=4/25, frequency=2, phase=2)
    """
    full = Flow(SineLayer(CHAPTER_AMPLITUDE, CHAPTER_FREQUENCY, phase) for phase in CHAPTER_PHASES)
    return full.truncate(K)


def _certified() -> Any:
    """:mod:`flowproof.certified`, imported on first use (``certify=True``)."""
    from . import certified

    return certified


def _mp(value: sp.Expr) -> mpmath.mpf:
    return to_mpf(value)


def _nan_like(v: np.ndarray) -> np.ndarray:
    return np.full_like(v, np.nan)


def _shaped(flat: np.ndarray, like: np.ndarray) -> Any:
    out = flat.reshape(like.shape)
    return out[()] if out.ndim == 0 else out


def _is_dask(values: Any) -> bool:
    return type(values).__module__.split(".")[0] == "dask" and hasattr(values, "map_blocks")


def _blockwise(values: Any, name: str, fn: Callable[[np.ndarray], Any]) -> Any:
    """A dask array mapped block by block (lazily, nothing materialised) after its dtype is checked up front."""
    if np.dtype(values.dtype).kind not in "biuf":
        raise TypeError(f"{name} must be real numbers (bool, int or float), got dtype {values.dtype}")
    return values.map_blocks(fn, dtype=np.float64, meta=np.empty((0,) * values.ndim, dtype=np.float64))


def _elementwise(values: Any, name: str, finite: Callable[[np.ndarray], np.ndarray],
                 nonfinite: Callable[[np.ndarray], np.ndarray]) -> Any:
    """Apply ``finite`` to the finite entries (vectorised) and ``nonfinite`` to the rest; keep the shape.

    A dask array is processed chunk by chunk, lazily (``map_blocks``), so it can run on a dask cluster."""
    if _is_dask(values):
        return _blockwise(values, name, lambda block: _elementwise(block, name, finite, nonfinite))
    arr = as_float_array(values, name)
    flat = arr.ravel()
    is_finite = np.isfinite(flat)
    out = np.empty_like(flat)
    if is_finite.any():
        out[is_finite] = finite(flat[is_finite])
    if not is_finite.all():
        out[~is_finite] = nonfinite(flat[~is_finite])
    return _shaped(out, arr)


