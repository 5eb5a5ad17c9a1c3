r"""Assertion helpers that check *your* flow code against flowproof's high-precision oracle.

You wrote a flow by hand (numpy, torch, jax) and want to know that its log-determinant, inverse and
log-density are right, not merely plausible. Build the same flow in flowproof (the chapter's is
:func:`flowproof.chapter_flow`) and hand your vectorised functions to the helpers::

    from flowproof.testing import assert_inverse_close, assert_log_det_close, assert_log_prob_close

    assert_log_det_close(my_flow.log_det, flow)      # x -> log F'(x)
    assert_inverse_close(my_flow.inverse, flow)      # y -> F^{-1}(y)
    assert_log_prob_close(my_flow.log_prob, flow)    # y -> log p_Y(y)

Each helper calls your function **once**, on a 1-D float64 array of well-chosen points (see :func:`oracle_points`:
the bulk of the base, the tails out to :math:`|x| = 40`, the points where :math:`F'` is smallest, seeded random
points), converts what it returns with :func:`numpy.asarray` (torch and jax arrays work; pass ``convert=`` to turn
the points into your framework's arrays first), and compares it point by point with flowproof's value at
``dps`` digits (mpmath, :meth:`flowproof.Flow.forward_and_log_det`, :meth:`~flowproof.Flow.inverse` and
:meth:`~flowproof.Flow.log_prob` with ``dps=N``). A point passes when

.. math::

    |\text{yours} - \text{oracle}| \le \text{atol} + \text{rtol}\,|\text{oracle}|,

with the oracle's exact value on the right (so the tolerance is in your terms, like :func:`numpy.isclose`). For
the inverse, the oracle is the exact preimage :math:`F^{-1}(y)` of each float ``y``, and the error is measured in
:math:`x`, not in :math:`y`. Errors are also reported in ulp: units of the spacing of your output's float type at
:math:`\max(|\text{oracle}|, 1)` (the floor of 1 keeps values that cross zero, such as :math:`\log F'`, from
reporting a huge relative error for an absolute error of a few ulp of 1).

A failure raises :class:`OracleMismatch`, an :class:`AssertionError` (pytest shows its message) that names the
worst point, your value, the oracle's value and the error in ulp, how many points failed, and the next worst.
NaN or infinity where the oracle is finite, a wrong shape, a non-real dtype and a function that raises fail too,
with a message saying so.

>>> import numpy as np, flowproof as fp
>>> flow = fp.chapter_flow(2)
>>> def log_det(x):
...     total = np.zeros_like(x)
...     for phi in (0.3, 1.1):
...         total += np.log1p(0.64 * np.cos(2 * x + phi))
...         x = x + 0.32 * np.sin(2 * x + phi)
...     return total
>>> assert_log_det_close(log_det, flow)
>>> assert_log_det_close(lambda x: -log_det(x), flow)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
flowproof.testing.OracleMismatch: log_det: <lambda> differs from flowproof's oracle at ... points ...
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np

from ..flow import Flow

__all__ = ["DEFAULT_DPS", "OracleMismatch", "OraclePoints", "assert_flow_close", "assert_forward_close",
           "assert_inverse_close", "assert_log_det_close", "assert_log_prob_close", "oracle_points"]

#: Digits of the oracle unless ``dps`` is given (or the mpmath precision in force is higher).
DEFAULT_DPS = 40

#: Default tolerances, in the user's terms: ``|yours - oracle| <= atol + rtol * |oracle|``.
DEFAULT_RTOL = 1e-10
DEFAULT_ATOL = 1e-12

_BULK = (0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 5.0, -5.0)
_TAILS = (8.0, 12.0, 20.0)
_SHOWN = 5  # failing points listed after the worst


@dataclass(frozen=True)
class OraclePoints:
    """Points to test at, each with a label saying why it was chosen (shown in failure messages).

    ``numpy.asarray(points)`` gives the float64 values; ``space`` is ``"x"`` (base) or ``"y"`` (data).
    """

    values: np.ndarray
    labels: tuple[str, ...]
    space: str

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.values if dtype is None else self.values.astype(dtype)

    def __len__(self) -> int:
        return len(self.values)


class OracleMismatch(AssertionError):
    """Raised when a user's function disagrees with flowproof's oracle (an :class:`AssertionError`).

    Besides the message it carries the comparison: ``points`` (float64), ``actual`` (your values as float64),
    ``expected`` (the oracle's mpmath values), ``errors`` (absolute, float) and ``failed`` (boolean mask).
    """

    def __init__(self, message: str, points: np.ndarray | None = None, actual: np.ndarray | None = None,
                 expected: list[Any] | None = None, errors: np.ndarray | None = None,
                 failed: np.ndarray | None = None) -> None:
        super().__init__(message)
        self.points, self.actual, self.expected, self.errors, self.failed = points, actual, expected, errors, failed


# -- points ------------------------------------------------------------------------------------------------------
def oracle_points(flow: Flow, space: str = "x", *, n_random: int = 24, seed: int = 0, tail: float = 40.0,
                  n_minima: int = 4, dtype: Any = np.float64) -> OraclePoints:
    r"""The points the helpers test at by default, labelled.

    In base space (``space="x"``): the bulk of the standard normal (0, ±0.5, ±1, ±2, ±3, ±5); the tails ±8, ±12,
    ±20 and ±``tail``; the ``n_minima`` lowest distinct local minima of :math:`F'` on :math:`[-8, 8]` (dense
    sampling, then golden-section refinement: where :math:`F'` is smallest, :math:`\log F'` is most negative and
    the inverse is worst conditioned); ``n_random`` seeded points, half standard normal, half uniform on
    :math:`[-\text{tail}, \text{tail}]`. In data space (``space="y"``): the images :math:`F(x)` of those points.
    Every value is representable in ``dtype`` (default float64), so a float32 implementation gets points it can
    hold exactly.

    >>> import flowproof as fp
    >>> points = oracle_points(fp.chapter_flow(1), n_random=2)
    >>> sorted(set(points.labels))
    ['bulk', "min F'", 'random', 'tail']
    >>> float(max(points.values)), oracle_points(fp.chapter_flow(1), "y").labels[0]
    (40.0, 'F(bulk)')
    """
    _check_flow(flow)
    if space not in ("x", "y"):
        raise ValueError(f"space must be 'x' (base) or 'y' (data), got {space!r}")
    tail = float(tail)
    if not (math.isfinite(tail) and tail > 0):
        raise ValueError(f"tail must be a positive finite number, got {tail}")
    rng = np.random.default_rng(seed)
    groups: list[tuple[str, Iterable[float]]] = [
        ("bulk", _BULK),
        ("tail", [s * t for t in (*(t for t in _TAILS if t < tail), tail) for s in (1.0, -1.0)]),
        ("min F'", _derivative_minima(flow, n_minima)),
        ("random", np.concatenate([rng.standard_normal(n_random - n_random // 2),
                                   rng.uniform(-tail, tail, n_random // 2)])),
    ]
    values: list[float] = []
    labels: list[str] = []
    seen: set[float] = set()
    for label, group in groups:
        for v in group:
            v = float(np.asarray(v, dtype=dtype))
            if v not in seen:
                seen.add(v)
                values.append(v)
                labels.append(label)
    x = np.array(values, dtype=np.float64)
    if space == "x":
        return OraclePoints(x, tuple(labels), "x")
    y = np.asarray(flow.forward(x), dtype=dtype).astype(np.float64)
    return OraclePoints(y, tuple(f"F({label})" for label in labels), "y")


def _derivative_minima(flow: Flow, n: int, lo: float = -8.0, hi: float = 8.0, samples: int = 8001) -> list[float]:
    """The ``n`` lowest distinct local minima of ``log F'`` on ``[lo, hi]`` (one point each, nearest 0)."""
    if n <= 0 or len(flow) == 0:
        return []
    x = np.linspace(lo, hi, samples)
    ld = flow.log_det(x)
    i = np.flatnonzero((ld[1:-1] <= ld[:-2]) & (ld[1:-1] <= ld[2:])) + 1
    if i.size == 0 or np.ptp(ld) == 0:
        return []
    a, b = x[i - 1], x[i + 1]
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(40):  # golden section on each bracket at once: width 2*0.002*0.618**40, below 1e-10
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        left = flow.log_det(c) <= flow.log_det(d)
        a, b = np.where(left, a, c), np.where(left, d, b)
    xm = (a + b) / 2
    values = flow.log_det(xm)
    chosen: list[tuple[float, float]] = []
    for k in np.lexsort((np.abs(xm), values)):
        if all(abs(values[k] - v) > 1e-9 for v, _ in chosen):
            chosen.append((float(values[k]), float(xm[k])))
        if len(chosen) == n:
            break
    return [x_ for _, x_ in chosen]


# -- the helpers -------------------------------------------------------------------------------------------------
def assert_forward_close(user_forward: Callable[[Any], Any], flow: Flow, points: Any = None, *,
                         rtol: float | None = None, atol: float | None = None, dps: int | None = None,
                         convert: Callable[[np.ndarray], Any] | None = None, dtype: Any = np.float64) -> None:
    r"""Assert ``user_forward(x)`` :math:`= F(x)` at ``points`` (base space; default :func:`oracle_points`).

    Args:
        user_forward: your vectorised :math:`x \mapsto F(x)`, called once on an array of points.
        flow: the flowproof flow it should equal.
        points: base-space points (array-like or :class:`OraclePoints`); default ``oracle_points(flow, "x")``.
        rtol, atol: a point passes when ``|yours - oracle| <= atol + rtol * |oracle|``; default
            :data:`DEFAULT_RTOL`, :data:`DEFAULT_ATOL`, widened to 64 ulp of ``dtype`` when it is coarser.
        dps: the oracle's digits; default :data:`DEFAULT_DPS` or the mpmath precision in force, if higher.
        convert: applied to the points before the call (e.g. ``torch.as_tensor``); results go through
            :func:`numpy.asarray` (after ``.detach()`` for a torch tensor that needs it).
        dtype: the float type of the points passed to you (``numpy.float32`` for a float32 implementation).

    Raises:
        OracleMismatch: at the first helper call whose values disagree (an ``AssertionError``).
    """
    _check_and_compare("forward", user_forward, flow, points, "x", "y", rtol, atol, dps, convert, dtype,
                       lambda v, n: flow.forward(v, dps=n))


def assert_log_det_close(user_log_det: Callable[[Any], Any], flow: Flow, points: Any = None, *,
                         rtol: float | None = None, atol: float | None = None, dps: int | None = None,
                         convert: Callable[[np.ndarray], Any] | None = None, dtype: Any = np.float64) -> None:
    r"""Assert ``user_log_det(x)`` :math:`= \log F'(x)`, the forward map's log-derivative, at base-space
    ``points``. A log-determinant of the wrong sign (the inverse map's) fails at every point where
    :math:`F' \ne 1`. Arguments as for :func:`assert_forward_close`."""
    _check_and_compare("log_det", user_log_det, flow, points, "x", "log F'", rtol, atol, dps, convert, dtype,
                       lambda v, n: flow.log_det(v, dps=n))


def assert_inverse_close(user_inverse: Callable[[Any], Any], flow: Flow, points: Any = None, *,
                         rtol: float | None = None, atol: float | None = None, dps: int | None = None,
                         convert: Callable[[np.ndarray], Any] | None = None, dtype: Any = np.float64) -> None:
    r"""Assert ``user_inverse(y)`` :math:`= F^{-1}(y)` at data-space ``points`` (default ``oracle_points(flow,
    "y")``, which reach :math:`F(\pm 40)`): the error is measured in :math:`x` against the exact preimage of
    each float ``y``. An inverse that searches a fixed bracket fails beyond it. Arguments as for
    :func:`assert_forward_close`."""
    _check_and_compare("inverse", user_inverse, flow, points, "y", "x", rtol, atol, dps, convert, dtype,
                       lambda v, n: flow.inverse(v, dps=n).x)


def assert_log_prob_close(user_log_prob: Callable[[Any], Any], flow: Flow, points: Any = None, *,
                          rtol: float | None = None, atol: float | None = None, dps: int | None = None,
                          convert: Callable[[np.ndarray], Any] | None = None, dtype: Any = np.float64) -> None:
    r"""Assert ``user_log_prob(y)`` :math:`= \log p_Y(y) = \log p_X(x) - \log F'(x)`, :math:`x = F^{-1}(y)`, with
    a standard normal base, at data-space ``points``. Catches both a wrong log-determinant and a wrong inverse.
    Arguments as for :func:`assert_forward_close`."""
    _check_and_compare("log_prob", user_log_prob, flow, points, "y", "log p", rtol, atol, dps, convert, dtype,
                       lambda v, n: flow.log_prob(v, dps=n))


def assert_flow_close(model: Any, flow: Flow, *, rtol: float | None = None, atol: float | None = None,
                      dps: int | None = None, convert: Callable[[np.ndarray], Any] | None = None,
                      dtype: Any = np.float64) -> None:
    """Run every helper for which ``model`` has a method: ``forward``, ``log_det``, ``inverse``, ``log_prob``
    (each at its default points), and raise one :class:`OracleMismatch` listing every method that failed."""
    _check_flow(flow)
    helpers = {"forward": assert_forward_close, "log_det": assert_log_det_close,
               "inverse": assert_inverse_close, "log_prob": assert_log_prob_close}
    found = {name: getattr(model, name) for name in helpers if callable(getattr(model, name, None))}
    if not found:
        raise TypeError(f"{type(model).__name__} has none of the methods {', '.join(helpers)}")
    failures = []
    for name, method in found.items():
        try:
            helpers[name](method, flow, rtol=rtol, atol=atol, dps=dps, convert=convert, dtype=dtype)
        except AssertionError as err:
            failures.append(str(err))
    if failures:
        raise OracleMismatch(f"{len(failures)} of {len(found)} methods of {type(model).__name__} differ from "
                             "flowproof's oracle:\n\n" + "\n\n".join(failures))


# -- the comparison ----------------------------------------------------------------------------------------------
def _check_flow(flow: Any) -> None:
    if not isinstance(flow, Flow):
        raise TypeError(f"flow must be a flowproof Flow (e.g. flowproof.chapter_flow() or Flow([...])), "
                        f"got {type(flow).__name__}")


def _name(fn: Any) -> str:
    owner, func = getattr(fn, "__self__", None), getattr(fn, "__func__", None)
    if owner is not None and func is not None:  # a bound method: name the instance's class, not the base's
        return f"{type(owner).__name__}.{func.__name__}"
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _to_numpy(value: Any) -> np.ndarray:
    try:
        return np.asarray(value)
    except Exception:
        detach = getattr(value, "detach", None)  # a torch tensor that requires grad, or lives on a GPU
        if detach is None:
            raise
        return np.asarray(detach().cpu().numpy())


def _default_tolerances(rtol: float | None, atol: float | None, dtype: Any) -> tuple[float, float]:
    """:data:`DEFAULT_RTOL`/:data:`DEFAULT_ATOL`, widened to 64 ulp of a coarser ``dtype`` (float32: ~8e-6)."""
    floor = 0.0
    if dtype is not None and np.issubdtype(np.dtype(dtype), np.floating):
        floor = 64 * float(np.finfo(dtype).eps)
    return (max(DEFAULT_RTOL, floor) if rtol is None else rtol, max(DEFAULT_ATOL, floor) if atol is None else atol)


def _check_and_compare(what: str, fn: Callable[[Any], Any], flow: Flow, points: Any, space: str, out: str,
                       rtol: float | None, atol: float | None, dps: int | None,
                       convert: Callable[[np.ndarray], Any] | None, dtype: Any,
                       oracle: Callable[[float, int], Any]) -> None:
    _check_flow(flow)
    rtol, atol = _default_tolerances(rtol, atol, dtype)
    if not callable(fn):
        raise TypeError(f"the function to check must be callable, got {type(fn).__name__}")
    for tol_name, tol in (("rtol", rtol), ("atol", atol)):
        if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol >= 0):
            raise ValueError(f"{tol_name} must be a finite number >= 0, got {tol!r}")
    digits = max(DEFAULT_DPS, mpmath.mp.dps) if dps is None else int(dps)
    if points is None:
        points = oracle_points(flow, space, dtype=dtype)
    if isinstance(points, OraclePoints):
        labels: tuple[str, ...] = points.labels
        values = np.asarray(points.values, dtype=dtype)
    else:
        values = np.asarray(points, dtype=dtype)
        labels = ("yours",) * values.size
    if values.size == 0:
        raise ValueError("points is empty")
    name = f"{what}: {_name(fn)}"
    inputs = convert(values.copy()) if convert is not None else values.copy()
    try:
        result = fn(inputs)
    except Exception as err:
        raise OracleMismatch(f"{name} raised {type(err).__name__}: {err}\n  when called on {values.size} points "
                             f"of dtype {values.dtype} ({space} from {values.min():.6g} to {values.max():.6g})"
                             ) from err
    if isinstance(result, tuple):
        raise OracleMismatch(f"{name} returned a tuple of {len(result)}, expected one array of {what} values "
                             f"(for a function returning (y, log_det), pass e.g. lambda x: f(x)[1])")
    try:
        actual = _to_numpy(result)
    except Exception as err:
        raise OracleMismatch(f"{name} returned {type(result).__name__}, which numpy.asarray cannot convert: "
                             f"{err}") from err
    if actual.shape != values.shape:
        raise OracleMismatch(f"{name} returned shape {actual.shape}, expected {values.shape} (one value per "
                             f"point of the input)")
    if actual.dtype.kind not in "biuf":
        raise OracleMismatch(f"{name} returned dtype {actual.dtype}, expected real numbers")
    ulp_type = actual.dtype.type if actual.dtype.kind == "f" else np.dtype(dtype).type
    x = values.astype(np.float64).ravel()
    a = actual.astype(np.float64).ravel()
    expected = [oracle(float(v), digits) for v in x]
    errors = np.empty(x.size)
    ulps = np.empty(x.size)
    failed = np.zeros(x.size, dtype=bool)
    with mpmath.workdps(digits + 10):
        for k, (u, r) in enumerate(zip(a, expected, strict=True)):
            if not mpmath.isfinite(r):
                same = (math.isnan(u) and mpmath.isnan(r)) or (not math.isnan(u) and mpmath.mpf(u) == r)
                errors[k] = ulps[k] = 0.0 if same else math.inf
                failed[k] = not same
                continue
            if not math.isfinite(u):
                errors[k] = ulps[k] = math.inf
                failed[k] = True
                continue
            e = abs(mpmath.mpf(u) - r)
            errors[k] = float(e)
            ulps[k] = float(e / float(np.spacing(ulp_type(max(abs(float(r)), 1.0)))))
            failed[k] = e > atol + rtol * abs(r)
    if failed.any():
        message = _message(name, out, space, x, a, expected, errors, ulps, failed, labels, rtol, atol, digits,
                           np.dtype(ulp_type).name)
        raise OracleMismatch(message, x, a, expected, errors, failed)


def _message(name: str, out: str, space: str, x: np.ndarray, a: np.ndarray, expected: list[Any],
             errors: np.ndarray, ulps: np.ndarray, failed: np.ndarray, labels: tuple[str, ...], rtol: float,
             atol: float, digits: int, ulp_name: str) -> str:
    order = [int(k) for k in np.argsort(-errors, kind="stable") if failed[k]]
    worst = order[0]
    what = "the exact preimage" if out == "x" else f"{out} at {digits} digits"
    lines = [
        f"{name} differs from flowproof's oracle at {failed.sum()} of {x.size} points "
        f"(rtol={rtol:g}, atol={atol:g}; oracle: {what})",
        f"  worst at {space} = {float(x[worst])!r} [{labels[worst]}]:",
        f"    yours  {out} = {float(a[worst])!r}",
        f"    oracle {out} = {mpmath.nstr(expected[worst], 20)}",
        f"    error      = {_show_error(errors[worst], ulps[worst], expected[worst])}",
    ]
    if len(order) > 1:
        lines.append(f"  next worst (of {len(order) - 1} more):")
        for k in order[1:1 + _SHOWN]:
            lines.append(f"    {space} = {float(x[k])!r} [{labels[k]}]: yours {float(a[k])!r}, oracle "
                         f"{mpmath.nstr(expected[k], 17)}, error {_show_error(errors[k], ulps[k], expected[k])}")
    lines.append(f"  (ulp: spacing of {ulp_name} at max(|oracle|, 1))")
    return "\n".join(lines)


def _show_error(error: float, ulp: float, oracle: Any) -> str:
    if not math.isfinite(error):
        return "yours is not the oracle's non-finite value" if not mpmath.isfinite(oracle) else \
            "yours is not finite where the oracle is"
    return f"{error:.3g} ({ulp:.3g} ulp)"
