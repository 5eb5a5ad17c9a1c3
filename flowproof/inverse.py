r"""Inverting a flow layer by layer, in reverse order: :math:`x = f_1^{-1}(\cdots f_K^{-1}(y))`.

Each layer inverse is a 1D root find of :math:`f(z) = y` for strictly increasing :math:`f`, inside the layer's
own bracket :math:`[y - D, y + D]` (:math:`|f(z) - z| \le D`). Three methods, the same evidence:

* ``"bisect"``: the chapter's method; the number of halvings is derived from the precision asked,
  :math:`\lceil \log_2(2D / \text{tol}) \rceil`, never a fixed cap (``mpmath.findroot(solver='bisect')`` stops
  after 100 steps, ~30 digits);
* ``"halley"`` (default) and ``"newton"``: Halley's step :math:`x - 2 r f' / (2 f'^2 - r f'')` (cubic) or
  Newton's :math:`x - r / f'` (quadratic) from a float64 seed, with the precision raised step by step
  (:func:`_precision_ladder`) so only the last step runs at full precision; at full precision each step is
  safeguarded inside the shrinking bisection bracket (a step that would leave it, or that does not halve, is
  replaced by a bisection), so it can never escape the bracket.

In float64 (:func:`invert_float`), three Halley rounds run on all points at once, with the safeguarded loop for
any point they leave unconverged, and an error recurrence with residuals in extended precision corrects the
rounding amplified along the chain.

At high precision the result carries its evidence: a bracket :math:`[\ell, h] \ni F^{-1}(y)` checked by the
sign change :math:`F(\ell) \le y \le F(h)` (valid since :math:`F` is increasing), the residual
:math:`|F(x) - y|` and the number of steps. The working precision adds guard digits for the size of
:math:`y`, the depth, and the conditioning :math:`\max_k \prod_{j \le k} 1/f_j'` measured along the chain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import mpmath
import numpy as np
import sympy as sp

from .exact import to_mpf
from .numeric import EXTENDED, layer_functions

if TYPE_CHECKING:
    from .layers import Layer

__all__ = ["InverseResult", "METHODS", "check_dps", "invert_float", "invert_mp", "working_dps"]

METHODS = ("halley", "newton", "bisect")
MAX_DPS = 100_000


@dataclass(frozen=True)
class InverseResult:
    """A high-precision preimage :math:`x = F^{-1}(y)` with its evidence.

    Attributes:
        x: the preimage (an ``mpmath.mpf``).
        bracket: ``(lo, hi)`` with ``lo <= F^{-1}(y) <= hi``, shown by ``F(lo) <= y <= F(hi)``.
        residual: :math:`|F(x) - y|` at the working precision.
        steps: root-finding iterations summed over the layers.
        layer_steps: the iterations of each layer's root find, in the order they ran (layer K first): the
            composed inverse is ``len(layer_steps) = K`` sequential 1D root finds.
        dps: the digits asked for; ``hi - lo <= 2 * 10**-dps * max(1, |x|)``.
        working_dps: the digits the computation used (``dps`` plus guard digits).
        method: ``"newton"`` or ``"bisect"``.
    """

    x: mpmath.mpf
    bracket: tuple[mpmath.mpf, mpmath.mpf]
    residual: mpmath.mpf
    steps: int
    dps: int
    working_dps: int
    method: str
    layer_steps: tuple[int, ...] = ()

    def __float__(self) -> float:
        return float(self.x)

    @property
    def error_bound(self) -> mpmath.mpf:
        """:math:`\\max(x - \\ell, h - x)`: the distance from ``x`` to the true preimage is at most this."""
        lo, hi = self.bracket
        return max(self.x - lo, hi - self.x)

    def __repr__(self) -> str:
        lo, hi = self.bracket
        digits = self.dps + 2
        return (f"InverseResult(x={mpmath.nstr(self.x, digits)}, bracket=({mpmath.nstr(lo, digits)}, "
                f"{mpmath.nstr(hi, digits)}), residual={mpmath.nstr(self.residual, 3)}, steps={self.steps}, "
                f"dps={self.dps}, method={self.method!r})")


def check_dps(dps: Any) -> int:
    """Validate a requested number of decimal digits."""
    if isinstance(dps, bool) or not isinstance(dps, (int, np.integer)):
        raise TypeError(f"dps must be a whole number of decimal digits, got {type(dps).__name__} {dps!r}")
    if not 1 <= dps <= MAX_DPS:
        raise ValueError(f"dps must be between 1 and {MAX_DPS}, got {dps}")
    return int(dps)


def check_method(method: Any) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    return str(method)


def digits(value: Any) -> int:
    """Decimal digits before the point of ``|value|`` (0 for ``|value| <= 1``)."""
    magnitude = abs(value)
    if not magnitude > 1:
        return 0
    with mpmath.workprec(53):  # a digit count needs no more
        return int(mpmath.log10(magnitude)) + 1


def working_dps(dps: int, size: Any, layers: Sequence[Layer]) -> int:
    r"""Digits to work at: ``dps`` plus guard digits.

    Guards cover the size of the numbers, the size of the layers' parameters (an argument :math:`w z + \varphi`
    with :math:`\varphi = 10^{17}` needs 17 more digits) and the depth.
    """
    return dps + 10 + digits(size) + max((_parameter_digits(layer) for layer in layers), default=0) + len(
        str(len(layers)))


@lru_cache(maxsize=4096)
def _parameter_digits(layer: Layer) -> int:
    return digits(to_mpf(layer.parameter_scale()))


def invert_float(layers: Sequence[Layer], y: np.ndarray) -> np.ndarray:
    r"""Vectorised float64 inverse of finite values ``y`` (1D), layer by layer in reverse order, then corrected.

    Layer by layer, each rounding of an intermediate :math:`z_k` is amplified by :math:`1/f_j'` of the layers
    below (about 20 ulp at worst for the chapter's flow). So the sweep also carries the error of the current
    float iterate, :math:`\delta_{k-1} = (\delta_k + r_k) / f_k'(z_{k-1})` with :math:`\delta_K = 0` and the
    residual :math:`r_k = f_k(z_{k-1}) - z_k` computed in ``numpy.longdouble`` (where it is wider than float64),
    and returns :math:`z_0 - \delta_0`: to first order the Newton step on the whole composition, within about
    half an ulp of the exact preimage. No ``K x N`` array is kept.
    """
    z = y
    error = np.zeros_like(y) if EXTENDED else None
    for layer in reversed(layers):
        below, slope, residual = _solve_layer_float(layer, z)
        if error is not None:
            with np.errstate(all="ignore"):
                error = (error + residual) / slope
        z = below
    if error is None or not layers:
        return z
    corrected = z - error
    return np.where(np.isfinite(corrected), corrected, z)


#: Halley rounds run on every point before the convergence test (from ``x = y``, three reach the rounding
#: level for all but about one point in 10^5 of the chapter's layers; those go on in the safeguarded loop).
HALLEY_ROUNDS = 3


def _solve_layer_float(layer: Layer, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Roots :math:`x` of :math:`f(x) = y`, with :math:`f'(x)` and the residual :math:`f(x) - y`.

    A fast path first: :data:`HALLEY_ROUNDS` unguarded Halley steps
    :math:`x \leftarrow x - 2 r f' / (2 f'^2 - r f'')` on all points (cubic convergence; :math:`f''` shares the
    trig atoms of :math:`f` and :math:`f'`). A point is accepted only when it lies in the layer's bracket and its
    residual is at the rounding level of :math:`f(x)`; any other point (or a non-finite one) is solved again
    by the safeguarded Newton-bisection loop, which cannot leave the bracket. The slope returned for an accepted
    point is :math:`f'` at the previous iterate (relative error about :math:`|f''/f'|` times the last step,
    below :math:`10^{-4}` there, which is all the error recurrence of :func:`invert_float` needs).
    """
    fns = layer_functions(layer)
    x = y
    seed = closed_form_inverse(layer)
    with np.errstate(all="ignore"):
        if seed is not None:  # a closed form is only a start: the same acceptance test follows
            x = seed(y)
            x = np.where(np.isfinite(x), x, y) if isinstance(x, np.ndarray) else np.full_like(y, x)
        for _ in range(HALLEY_ROUNDS):
            fx, d, dd = fns.f_and_derivatives(x)
            r = fx - y
            step = 2 * r * d / (2 * d * d - r * dd)
            x = x - step
        residual = _residual(fns, x, y)
        lo, hi = layer.bracket(y)
        shift = (y - x) + residual  # f(x) - x, to the few bits the rounding level needs
        ok = np.isfinite(shift) & (np.abs(residual) <= 2.0**-51 * (np.abs(x) + np.abs(shift)))
        ok &= (x >= lo) & (x <= hi) & (d > 0)
        ok &= np.abs(step) <= 2.0**-14 * (1 + np.abs(x))  # so f' at the previous iterate serves
    if not ok.all():
        bad = np.flatnonzero(~ok)
        x, d, residual = x.copy(), d.copy(), residual.copy()
        x[bad] = _solve_layer_safeguarded(layer, y[bad])
        with np.errstate(all="ignore"):
            d[bad] = fns.f_and_slope(x[bad])[1]
            residual[bad] = _residual(fns, x[bad], y[bad])
    return x, d, residual


def _residual(fns: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:math:`f(x) - y`, from :math:`f` in extended precision where there is one."""
    if not EXTENDED:
        return fns.f(x) - y
    return (fns.f_ext(x.astype(np.longdouble)) - y.astype(np.longdouble)).astype(np.float64)


def _solve_layer_safeguarded(layer: Layer, y: np.ndarray) -> np.ndarray:
    """Newton's method safeguarded inside the shrinking bisection bracket, vectorised, with early retirement."""
    fns = layer_functions(layer)
    lo, hi = layer.bracket(y)
    x = np.where((y >= lo) & (y <= hi), y, lo + 0.5 * (hi - lo))  # a tight (exact-inverse) bracket may not hold y
    step_old = hi - lo
    lo_seen = np.zeros(y.shape, dtype=bool)  # has f been evaluated at lo (resp. hi)?
    hi_seen = np.zeros(y.shape, dtype=bool)
    out = np.empty_like(y)
    active = np.arange(y.size)
    # Each bisection halves the bracket and each accepted Newton step at least halves the step, so 2 * 1100
    # rounds (the bits between the widest bracket and the smallest subnormal, twice) always suffice.
    for _ in range(2200):
        if active.size == 0:
            break
        with np.errstate(all="ignore"):  # an overflowing f far out compares as +-inf, which is what we need
            fx, d = fns.f_and_slope(x)
            r = fx - y
        lo, lo_seen = np.where(r < 0, x, lo), lo_seen | (r < 0)
        hi, hi_seen = np.where(r > 0, x, hi), hi_seen | (r > 0)
        with np.errstate(all="ignore"):
            step = r / d
            newton = x - step
        x_new = _safeguard(newton, step, step_old, lo, hi, lo_seen, hi_seen)
        step_old = np.abs(x_new - x)
        # Converged: the residual is at the rounding level of f(x) = x + (f(x) - x), the step is below half
        # an ulp, or the bracket holds no double between its ends.
        with np.errstate(invalid="ignore"):
            quiet = np.isfinite(fx) & (np.abs(r) <= 2.0**-51 * (np.abs(x) + np.abs(fx - x)))
        mid = lo + 0.5 * (hi - lo)
        done = quiet | (step_old <= 2.0**-53 * np.abs(x_new)) | (mid == lo) | (mid == hi)
        if not done.any():  # early rounds: nothing to retire, so no copies
            x = x_new
            continue
        x_new = np.where(quiet, np.where((newton >= lo) & (newton <= hi), newton, x), x_new)
        out[active[done]] = x_new[done]
        keep = ~done
        active, x, y, lo, hi = active[keep], x_new[keep], y[keep], lo[keep], hi[keep]
        step_old, lo_seen, hi_seen = step_old[keep], lo_seen[keep], hi_seen[keep]
    out[active] = x
    return out


def _safeguard(candidate: Any, step: Any, step_old: Any, lo: Any, hi: Any, lo_seen: Any, hi_seen: Any) -> Any:
    """The next iterate: ``candidate = x - step``, unless it leaves the bracket or fails to halve the step.

    A step past an end of the bracket where ``f`` was never evaluated goes to that end (the root is often close
    to it: ``|f(z) - z| = D`` there); otherwise a rejected step bisects. Works on numpy arrays and, elementwise,
    on mpf scalars.
    """
    mid = lo + (hi - lo) / 2
    if isinstance(candidate, np.ndarray):
        below, above = candidate <= lo, candidate >= hi
        slow = (np.abs(2 * step) > np.abs(step_old)) | ~np.isfinite(candidate)  # inf/inf far out: bisect
        return np.where(below & ~lo_seen, lo, np.where(above & ~hi_seen, hi,
                        np.where(below | above | slow, mid, candidate)))
    if not mpmath.isfinite(candidate):
        return mid
    if candidate <= lo:
        return lo if not lo_seen else mid
    if candidate >= hi:
        return hi if not hi_seen else mid
    return mid if abs(2 * step) > abs(step_old) else candidate


#: Order of convergence of each method's step (bisection gains one bit a step).
ORDER = {"halley": 3, "newton": 2}


def _solve_layer_mp(layer: Layer, y: mpmath.mpf, method: str) -> tuple[mpmath.mpf, int, mpmath.mpf]:
    r"""Root of ``f(z) = y`` in the layer's bracket to the current working precision, the steps taken and
    :math:`f'` there (at the last iterate evaluated).

    Halley's (:math:`x - 2 r f' / (2 f'^2 - r f'')`) or Newton's (:math:`x - r / f'`) step from a float64 seed,
    with the precision raised as the digits grow (order :math:`p` triples or doubles the good bits, so each
    step runs at about :math:`p` times the bits of the last): only the last one or two steps run at the full
    working precision. At full precision every step is safeguarded inside the shrinking bisection bracket.
    The bisection method is the chapter's, with its number of halvings from the precision asked.
    """
    fns = layer_functions(layer)
    lo, hi = layer.bracket(y)
    full = mpmath.mp.prec
    scale = max(mpmath.mpf(1), abs(y))
    tol = mpmath.ldexp(scale, -full + 2)
    if method == "bisect":
        x, steps = _bisect(fns, y, lo, hi, tol)
        return x, steps, fns.df_mp(x)
    if hi - lo <= tol:
        return (lo + hi) / 2, 0, fns.df_mp((lo + hi) / 2)
    order = ORDER[method]
    x, seed_bits = _float_seed(layer, y, lo, hi)
    ladder = _precision_ladder(full, seed_bits, order)
    step_old, lo_seen, hi_seen, d, steps = hi - lo, False, False, mpmath.mpf(1), 0
    for _ in range(2 * int(mpmath.mag(hi - lo) - mpmath.mag(tol)) + 16):  # twice the halvings, and more
        steps += 1
        prec = min(full, ladder.pop(0) + 16) if ladder else full
        with mpmath.workprec(prec):
            fx, d, dd = fns.derivatives_mp(x)
            r = fx - y
            step = 2 * r * d / (2 * d * d - r * dd) if order == 3 else r / d
            quiet = abs(r) <= mpmath.ldexp(abs(x) + abs(fx - x), -prec + 3)
        if not quiet:  # the sign of r is trustworthy above the rounding level
            if r < 0:
                lo, lo_seen = x, True
            else:
                hi, hi_seen = x, True
        candidate = x - step
        if prec < full:  # a cheap step: keep it if it stays inside the bracket, else go on at full precision
            if lo < candidate < hi:
                x = candidate
            else:
                ladder = []
            continue
        if quiet:  # at the rounding level of f(x) = x + (f(x) - x): one last step and stop
            return (candidate if lo <= candidate <= hi else x), steps, d
        x_new = _safeguard(candidate, step, step_old, lo, hi, lo_seen, hi_seen)
        step_old = abs(x_new - x)
        x = x_new
        # Converged: the bracket or the step is below tol, or the next step (|step|^p up to a factor 2^12) is.
        predicted = (step_old / scale) ** order * 2**12 * scale
        if step_old <= tol or hi - lo <= tol or (x_new == candidate and predicted <= tol):
            return x, steps, d
    x, more = _bisect(fns, y, lo, hi, tol)  # the rest of a bracket that Newton-type steps did not close
    return x, steps + more, d


def _precision_ladder(full: int, seed_bits: int, order: int) -> list[int]:
    """Bits each step must reach, rising to ``full``: a step of order :math:`p` from :math:`b` good bits gives
    about :math:`p b`, so working back from ``full`` each rung needs a :math:`1/p` of the next (plus 4 bits).
    Empty without a trusted seed: then every step runs at full precision."""
    if not seed_bits:
        return []
    rungs = [full]
    while (below := -(-rungs[-1] // order) + 4) > seed_bits and below < rungs[-1]:
        rungs.append(below)
    return rungs[::-1]


def _bisect(fns: Any, y: mpmath.mpf, lo: mpmath.mpf, hi: mpmath.mpf, tol: mpmath.mpf) -> tuple[mpmath.mpf, int]:
    """The chapter's bisection: :func:`_halvings` steps take ``[lo, hi]`` below ``tol``."""
    steps = _halvings(lo, hi, tol)
    for _ in range(steps):
        mid = (lo + hi) / 2
        if fns.f_mp(mid) < y:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2, steps


def _float_seed(layer: Layer, y: mpmath.mpf, lo: mpmath.mpf, hi: mpmath.mpf) -> tuple[mpmath.mpf, int]:
    r"""A start for the high-precision iteration and the bits it is trusted to: a few scalar float64 Newton steps
    from the closed-form inverse where the layer has one, else from ``y`` (or the bracket's middle when ``y`` is
    outside the bracket), kept inside ``[lo, hi]``; good to ~16 digits where float64 can resolve the root (trusted
    to 48 bits where the layer's :math:`f' \ge 1/16`, else 40: a float root's error is its residual over
    :math:`f'`); anywhere else that start itself (trusted to none)."""
    start = y if lo <= y <= hi else lo + (hi - lo) / 2
    if not abs(y) < 1e15:
        return start, 0
    target, x = float(y), float(start)
    low, high = float(lo), float(hi)
    seed = closed_form_inverse(layer)
    if seed is not None:
        with np.errstate(all="ignore"):
            guess = float(seed(np.array([target]))[0])
        x = guess if low <= guess <= high else x
    try:
        x, fx, _ = _scalar_newton(layer, target, x, low, high)
        converged = abs(fx - target) <= 2.0**-40 * (abs(target) + abs(fx - x) + 1)
    except (ArithmeticError, ValueError):
        return start, 0
    found = mpmath.mpf(x)
    return (found, _trusted_seed_bits(layer) if converged else 0) if lo <= found <= hi else (start, 0)


def _scalar_newton(layer: Layer, target: float, x: float, low: float, high: float) -> tuple[float, float, float]:
    """Eight scalar float64 Newton steps on ``f(x) = target`` from ``x``, kept in ``[low, high]``:
    ``(x, f(x), f'(x))`` at the last point evaluated (math-module lambdified, no numpy overhead)."""
    f_and_slope = layer_functions(layer).f_and_slope_scalar
    for _ in range(8):
        fx, d = f_and_slope(x)
        x = min(max(x - (fx - target) / d, low), high)
    return x, fx, d


@lru_cache(maxsize=4096)
def closed_form_inverse(layer: Layer) -> Any:
    """The layer's closed-form inverse (:meth:`~flowproof.layers.Layer.inverse_expr`) as a numpy function, or
    ``None``. Used only as a start: every root is still accepted by its bracket and residual."""
    y = sp.Symbol("y", real=True)
    inverse = layer.inverse_expr(y)
    return None if inverse is None else sp.lambdify(y, inverse, modules="numpy")


@lru_cache(maxsize=4096)
def _trusted_seed_bits(layer: Layer) -> int:
    return 48 if layer.derivative_lower_bound() >= sp.Rational(1, 16) else 40


def _halvings(lo: mpmath.mpf, hi: mpmath.mpf, tol: mpmath.mpf) -> int:
    r"""Bisection steps that take ``[lo, hi]`` below ``tol``: :math:`\lceil \log_2((h - \ell)/\text{tol}) \rceil`."""
    width = hi - lo
    return 0 if width <= tol else int(mpmath.ceil(mpmath.log(width / tol, 2)))


def forward_chain_mp(layers: Sequence[Layer], x: mpmath.mpf) -> tuple[list[mpmath.mpf], list[mpmath.mpf]]:
    r"""The chain :math:`z_0, \dots, z_K` and the terms :math:`\log f_k'(z_{k-1})`, at the current precision."""
    chain, logs = [x], []
    for layer in layers:
        fns = layer_functions(layer)
        logs.append(fns.log_df_mp(chain[-1]))
        chain.append(fns.f_mp(chain[-1]))
    return chain, logs


def conditioning(logs: Sequence[mpmath.mpf]) -> mpmath.mpf:
    r"""Error amplification along a chain with terms :math:`\log f_k'(z_{k-1})`: the larger of
    :math:`\max_k \prod_{j \le k} 1/f_j'` (inverse direction) and :math:`\max_k \prod_{j > k} f_j'` (forward)."""
    with mpmath.workprec(53):  # a few digits of it are all anyone needs
        prefix = [mpmath.mpf(0)]
        for term in logs:
            prefix.append(prefix[-1] + term)
        return mpmath.exp(max(-min(prefix), max(prefix[-1] - p for p in prefix)))


def conditioning_digits(logs: Sequence[mpmath.mpf]) -> int:
    """Decimal digits lost to :func:`conditioning`."""
    return max(0, int(mpmath.ceil(mpmath.log10(conditioning(logs)))))


def invert_mp(layers: Sequence[Layer], y_value: Any, dps: int, method: str = "halley") -> InverseResult:
    """High-precision inverse of one scalar with its evidence (see :class:`InverseResult`)."""
    dps, method = check_dps(dps), check_method(method)
    with mpmath.workdps(dps + 10):
        size = to_mpf(y_value, "y")
    if not mpmath.isfinite(size):
        return InverseResult(size, (size, size), mpmath.mpf(0) if mpmath.isinf(size) else size, 0, dps, dps,
                             method)
    work = working_dps(dps, size, layers) + _float_conditioning_digits(layers, size)
    for _ in range(6):
        with mpmath.workdps(work):
            y = to_mpf(y_value, "y")
            z, layer_steps, sizes, logs = y, [], [abs(y)], []
            for layer in reversed(layers):
                z, n, slope = _solve_layer_mp(layer, z, method)
                layer_steps.append(n)
                sizes.append(abs(z))
                with mpmath.workprec(30):  # a few digits of log f' are all the guard count needs
                    logs.append(mpmath.log(max(slope, mpmath.ldexp(1, -mpmath.mp.prec))))
            x = z
            # Guard digits for the sizes met and the conditioning along the chain (from the slopes found).
            needed = working_dps(dps, max(sizes), layers) + conditioning_digits(logs[::-1])
            if needed > work:
                work = needed
                continue
            half = max(mpmath.mpf(1), abs(x)) * mpmath.mpf(10) ** (-dps)
            lo, hi = x - half, x + half
            if forward_mp(layers, lo) <= y <= forward_mp(layers, hi):
                return InverseResult(x, (lo, hi), abs(forward_mp(layers, x) - y), sum(layer_steps), dps, work,
                                     method, tuple(layer_steps))
            work += 10 + (work - dps)
    raise ArithmeticError(f"could not bracket F^-1({y_value!r}) to {dps} digits even at {work} working digits")


def _float_conditioning_digits(layers: Sequence[Layer], y: mpmath.mpf) -> int:
    """A float64 estimate of :func:`conditioning_digits` along the inverse chain of ``y`` (scalar Newton steps
    per layer), so the first attempt at high precision usually has all the guard digits it needs."""
    if not abs(y) < 1e15:
        return 0
    z, logs = float(y), []
    try:
        for layer in reversed(layers):
            low, high = layer.bracket(z)
            z, _, d = _scalar_newton(layer, z, z if low <= z <= high else (low + high) / 2, low, high)
            logs.append(math.log(d))
    except (ArithmeticError, ValueError):
        return 0
    if not all(math.isfinite(v) for v in logs):
        return 0
    return conditioning_digits([mpmath.mpf(v) for v in logs[::-1]])


def forward_mp(layers: Sequence[Layer], x: mpmath.mpf) -> mpmath.mpf:
    """:math:`F(x)` at the current working precision."""
    for layer in layers:
        x = layer_functions(layer).f_mp(x)
    return x
