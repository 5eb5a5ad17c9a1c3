r"""Every check of a flow as a small function returning a :class:`Check`, and the report over depths.

Checks per depth :math:`K` (each says how it was established):

* ``chain rule`` and ``log-density``: proved in SymPy (:mod:`flowproof.symbolic`), plus the float form of each
  :math:`f_k'` proved equal to the derivative;
* ``expression vs evaluation``: the lambdified mpmath chain against SymPy's own ``evalf`` of the nested
  :math:`F_K` and :math:`F_K'` at ``dps`` digits (small :math:`K`);
* ``float64 vs mpmath``: the numpy functions against ``dps``-digit mpmath, errors in units of
  :math:`2^{-52}\max(1, |v|)`; the inverse against the exact preimage of each float;
* ``inverse round trip``: :math:`F(F^{-1}(y)) = y` at ``dps`` digits with a sign-checked bracket;
* ``density by the CDF route``: :math:`\frac{d}{dy}\Phi(F^{-1}(y))` by numerical differentiation at ``dps``
  digits equals :math:`\exp(\log p_Y(y))`;
* ``invertibility``: :math:`F' \ge \prod_k (1 - |a_k w_k|) > 0`, exact, and the bound checked on a grid;
* ``normalisation``: :math:`\int p_Y\,dy = 1` to ``1e-12``: Gauss-Legendre panels in :math:`y` through the
  inverse, the panel error estimated by halving, the tails bounded analytically,
  :math:`\int_{|y| > T} p_Y \le 2\Phi(-(T - D))` since :math:`|F(x) - x| \le D`.

With ``certify=True`` (``flowproof verify --certify``) three proven checks follow, their numbers marked proven
(an enclosure) or computed (floating): ``certified values`` (enclosures of the inverse, log-det and log-density,
:mod:`flowproof.certified`, against the mp and float64 values widened by their own claimed errors),
``invertibility (proven)`` and ``normalisation (proven)`` (the theorem and a y-space enclosure of
:math:`\int p_Y` of width at most ``1e-8`` that holds 1, :mod:`flowproof.normalisation`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from . import density, symbolic
from .exact import exact_depth
from .flow import Flow
from .inverse import check_dps, conditioning, forward_chain_mp
from .numeric import EXTENDED, layer_functions

__all__ = ["Check", "DepthReport", "Report", "default_depths", "verify_depth", "verify_flow"]

ULP = 2.0**-52
NORMALISATION_TOL = 1e-12
FLOAT_TOL_ULP = 16.0
#: Where the float64 and high-precision paths are compared: the bulk, and the tails.
SAMPLE_X = (*np.linspace(-4.0, 4.0, 17), 1e3, -1e8, 1e12)


@dataclass
class Check:
    """One check: its name, whether it passed, how it was established, and the evidence."""

    name: str
    passed: bool
    method: str
    evidence: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    seconds: float = 0.0


@dataclass
class DepthReport:
    depth: str
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


@dataclass
class Report:
    flow: str
    dps: int
    depths: list[DepthReport]

    @property
    def passed(self) -> bool:
        return all(d.passed for d in self.depths)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["passed"] = self.passed
        for depth, entry in zip(self.depths, out["depths"], strict=True):
            entry["passed"] = depth.passed
        return out


def _timed(fn: Callable[..., Check]) -> Callable[..., Check]:
    """Time a check; an exception inside it becomes a failed check that says what went wrong."""

    def run(*args: Any, **kwargs: Any) -> Check:
        start = time.perf_counter()
        try:
            check = fn(*args, **kwargs)
        except Exception as err:  # reported, not raised: the rest of the report still runs
            name = fn.__name__.removeprefix("check_").replace("_", " ")
            check = Check(name, False, "raised an error", {"error": f"{type(err).__name__}: {err}"},
                          f"error: {type(err).__name__}: {err}")
        check.seconds = round(time.perf_counter() - start, 4)
        return check

    run.__name__, run.__doc__ = fn.__name__, fn.__doc__
    return run


@_timed
def check_chain_rule(flow: Flow) -> Check:
    """The chain rule, proved symbolically."""
    proof = symbolic.prove_chain_rule(flow)
    return Check("chain rule", proof.holds, proof.method, {"steps": list(proof.steps)},
                 "proved" if proof.holds else "NOT proved")


@_timed
def check_log_density(flow: Flow) -> Check:
    """The summed log-density, proved symbolically, and each float form of f' proved equal to f'."""
    proof = symbolic.prove_log_density(flow)
    forms = [symbolic.prove_derivative_form(layer) for layer in flow]
    holds = proof.holds and all(forms)
    steps = [*proof.steps, f"float forms of f_k' equal d/dz f_k for all {len(forms)} layers: "
             f"{'shown' if all(forms) else 'FAILED'}"]
    return Check("log-density", holds, proof.method, {"steps": steps}, "proved" if holds else "NOT proved")


@_timed
def check_expression_evaluation(flow: Flow, dps: int, max_depth: int = 6) -> Check:
    """Lambdified mpmath chain vs SymPy evalf of the nested expression and its derivative."""
    if len(flow) > max_depth:
        return Check("expression vs evaluation", True, "skipped (nested form too large)",
                     {"skipped": True}, f"skipped for K > {max_depth}")
    d = symbolic.derivation(flow)
    worst = mpmath.mpf(0)
    points = ("-2.5", "-0.7", "0", "0.3", "1.9")
    with mpmath.workdps(dps + 10):
        for text in points:
            exact_x = sp.Rational(text)
            y_ref = mpmath.mpf(sp.N(d.composed.xreplace({d.x: exact_x}), dps + 10))
            ld_ref = mpmath.log(mpmath.mpf(sp.N(d.derivative.xreplace({d.x: exact_x}), dps + 10)))
            y, ld = flow.forward_and_log_det(text, dps=dps)
            worst = max(worst, abs(y - y_ref) / max(1, abs(y_ref)), abs(ld - ld_ref) / max(1, abs(ld_ref)))
        agreed = _digits(worst, dps)
    passed = agreed >= dps - 2
    return Check("expression vs evaluation", passed, f"SymPy evalf of nested F and F' at {dps} digits",
                 {"points": list(points), "digits_agreed": agreed, "max_relative_error": mpmath.nstr(worst, 3)},
                 f"{agreed} of {dps} digits agree (max rel. error {mpmath.nstr(worst, 2)})")


@_timed
def check_float_vs_mp(flow: Flow, dps: int) -> Check:
    r"""float64 forward, log_det, inverse and log_prob against dps-digit mpmath, against a condition-number budget.

    For a quantity :math:`v(t)` of input :math:`t` (``x`` for forward and log_det, ``y`` for inverse and
    log_prob) the error is measured in units of
    :math:`2^{-52}\,\kappa\,\bigl(\max(1, |v|) + |v'(t)| \max(1, |t|)\bigr)`: the rounding of the result itself,
    plus the rounding of the input and of every intermediate :math:`z_k` (none can be held closer than an ulp of
    its size: at :math:`x = 10^{12}` that alone moves :math:`\log F'` by about :math:`10^{-4}`) propagated by the
    derivative; :math:`\kappa \ge 1` is the amplification along the chain
    (:func:`flowproof.inverse.conditioning`). No float64 method with a plain residual does better.
    """
    x = np.array(SAMPLE_X)
    y, ld = flow.forward_and_log_det(x)
    x_back = flow.inverse(y)
    lp = flow.log_prob(y)
    errors = {"forward": 0.0, "log_det": 0.0, "inverse": 0.0, "log_prob": 0.0}
    worst_kappa = 1.0
    for i in range(x.size):
        xi, yi = float(x[i]), float(y[i])
        ref_y, ref_ld = flow.forward_and_log_det(xi, dps=dps)
        ref_x = flow.inverse(yi, dps=dps).x  # the exact preimage of the float y
        ref_lp = flow.log_prob(yi, dps=dps)
        with mpmath.workdps(20):
            kappa = max(float(conditioning(forward_chain_mp(flow, mpmath.mpf(xi))[1])), 1.0)
            slopes = {"forward": mpmath.exp(ref_ld), "inverse": mpmath.exp(-flow.log_det(ref_x, dps=20)),
                      "log_det": mpmath.diff(lambda t: flow.log_det(t, dps=mpmath.mp.dps), mpmath.mpf(xi)),
                      "log_prob": mpmath.diff(lambda t: flow.log_prob(t, dps=mpmath.mp.dps), mpmath.mpf(yi))}
        worst_kappa = max(worst_kappa, kappa)
        for key, got, ref, t in (("forward", y[i], ref_y, xi), ("log_det", ld[i], ref_ld, xi),
                                 ("inverse", x_back[i], ref_x, yi), ("log_prob", lp[i], ref_lp, yi)):
            scale = kappa * (max(1, abs(ref)) + abs(slopes[key]) * max(1, abs(t)))
            errors[key] = max(errors[key], float(abs(mpmath.mpf(float(got)) - ref) / scale) / ULP)
    passed = all(e <= FLOAT_TOL_ULP for e in errors.values())
    text = ", ".join(f"{k} {v:.2g}" for k, v in errors.items())
    return Check("float64 vs mpmath", passed, f"numpy lambdified vs {dps}-digit mpmath at {x.size} points "
                 f"(tails to 1e12); error / condition-number budget <= {FLOAT_TOL_ULP:g} ulp",
                 {"max_budget_ulp": errors, "max_kappa": worst_kappa, "points": x.size},
                 f"max ulp: {text} (kappa <= {worst_kappa:.3g})")


@_timed
def check_inverse_round_trip(flow: Flow, dps: int) -> Check:
    """F(F^{-1}(y)) = y at dps digits; each preimage bracketed by a sign change of F - y."""
    points = ("-3.1", "-0.4", "0", "0.25", "1.7", "1e3", "-1e8")
    worst_residual, worst_width, steps = mpmath.mpf(0), mpmath.mpf(0), 0
    ok = True
    for text in points:
        result = flow.inverse(text, dps=dps)
        lo, hi = result.bracket
        with mpmath.workdps(result.working_dps):
            y = mpmath.mpf(text)
            back = flow.forward(result.x, dps=result.working_dps)
            scale = max(1, abs(y))
            ok &= lo <= result.x <= hi and abs(back - y) <= scale * mpmath.mpf(10) ** (5 - dps)
            worst_residual = max(worst_residual, abs(back - y) / scale)
            worst_width = max(worst_width, (hi - lo) / max(1, abs(result.x)))
        steps += result.steps
    evidence = {"points": list(points), "max_relative_residual": mpmath.nstr(worst_residual, 3),
                "max_relative_bracket_width": mpmath.nstr(worst_width, 3), "steps": steps}
    return Check(f"inverse round trip ({dps} digits)", bool(ok), "safeguarded Newton per layer, sign-checked bracket",
                 evidence, f"residual <= {mpmath.nstr(worst_residual, 2)}, bracket width <= "
                           f"{mpmath.nstr(worst_width, 2)}, {steps} steps")


@_timed
def check_cdf_route_density(flow: Flow, dps: int) -> Check:
    """p_Y = d/dy Phi(F^{-1}(y)) by numerical differentiation vs exp(log_prob)."""
    points = ("-1.3", "0.2", "2.1")
    work = max(30, dps // 2)
    worst = mpmath.mpf(0)
    for text in points:
        with mpmath.workdps(work):
            numeric = mpmath.diff(lambda v: mpmath.ncdf(flow.inverse(v, dps=mpmath.mp.dps + 5).x), mpmath.mpf(text))
            formula = mpmath.exp(flow.log_prob(text, dps=work))
            worst = max(worst, abs(numeric / formula - 1))
    agreed = _digits(worst, work)
    return Check("density by the CDF route", agreed >= work - 8, f"mpmath.diff of Phi(F^-1(y)) at {work} digits",
                 {"points": list(points), "digits_agreed": agreed, "max_relative_error": mpmath.nstr(worst, 3)},
                 f"{agreed} of {work} digits agree (max rel. error {mpmath.nstr(worst, 2)})")


@_timed
def check_invertibility(flow: Flow) -> Check:
    """F' >= prod_k m_k > 0 exactly; the per-layer bound is checked (and nearly attained) on a grid."""
    proof = symbolic.prove_invertibility(flow)
    z = np.linspace(-8.0, 8.0, 20001)
    slack = []
    for layer in flow:
        lowest = float(np.min(layer_functions(layer).df(z)))
        bound = float(layer.derivative_lower_bound())
        slack.append(lowest - bound)
    grid_ok = all(s >= -1e-12 for s in slack)
    bound = flow.derivative_lower_bound()
    evidence = {"bound": str(bound), "bound_float": float(bound), "steps": list(proof.steps),
                "grid_min_minus_bound": slack}
    return Check("invertibility", proof.holds and grid_ok, proof.method + "; grid check of each f'", evidence,
                 f"F' >= {bound} = {float(bound):.4g} > 0")


@_timed
def check_normalisation(flow: Flow, max_panels: int = 400_000) -> Check:
    r"""The integral of p_Y over R is 1 to 1e-12 (y-space adaptive Gauss-Legendre through the inverse, tails bounded).

    The first panels are the images :math:`F(x_j)` of an even grid in :math:`x` (width 1/8), so they are already
    narrow where :math:`F'` is small, i.e. where :math:`p_Y` peaks. Each panel gets a 16- and an 8-point
    Gauss-Legendre rule with nodes in :math:`y` (:math:`p_Y` evaluated through the float64 inverse); a panel whose
    two rules differ by more than :math:`10^{-16} + 10^{-14} \times` its mass is halved, until every panel is
    settled. The error estimate is the sum of :math:`|Q_{16} - Q_8|` (pessimistic: it bounds the cruder rule).
    Beyond the outer edges :math:`[\ell, h] = [F(-t), F(t)]`, :math:`P(Y > h) = P(X > F^{-1}(h))` and
    :math:`P(Y < \ell) = P(X < F^{-1}(\ell))` (:math:`F` is increasing), with the float64 preimages of the
    edges moved outwards by :math:`10^{-9}(1 + |x|)`. The tolerance adds the float64 rounding budget of
    :func:`_log_prob_rounding`, stated in the evidence.
    """
    t = 9.0
    edges = flow.forward(np.linspace(-t, t, int(math.ceil(16 * t)) + 1))
    x_lo, x_hi = (float(v) for v in flow.inverse(edges[[0, -1]]))
    x_lo, x_hi = x_lo + 1e-9 * (1 + abs(x_lo)), x_hi - 1e-9 * (1 + abs(x_hi))
    tail = 0.5 * math.erfc(x_hi / math.sqrt(2)) + 0.5 * math.erfc(-x_lo / math.sqrt(2))
    rules = [np.polynomial.legendre.leggauss(n) for n in (16, 8)]

    def panel_sums(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        half = ((hi - lo) / 2)[:, None]
        out = []
        for u, w in rules:
            ys = ((lo[:, None] + half) + half * u[None, :]).ravel()
            x, log_det = flow.inverse_and_log_det(ys)
            log_p = density.normal_log_pdf(x) - log_det
            mass = (np.exp(log_p) * (half * w[None, :]).ravel()).reshape(lo.size, -1)
            out.append((mass, (mass.ravel() * _log_prob_rounding(flow, x, ys, log_p)).reshape(lo.size, -1)))
        (m16, r16), (m8, _) = out
        return m16.sum(axis=1), np.abs(m16.sum(axis=1) - m8.sum(axis=1)), r16.sum(axis=1)

    lo, hi = edges[:-1], edges[1:]
    total = estimate = budget = 0.0
    panels = 0
    while lo.size:
        q, err, rounding = panel_sums(lo, hi)
        settled = (err <= 1e-16 + 1e-14 * q) | (panels + 2 * lo.size > max_panels) | (hi - lo <= 4 * ULP * np.abs(lo))
        total += float(q[settled].sum())
        estimate += float(err[settled].sum())
        budget += float(rounding[settled].sum())
        panels += int(settled.sum())
        mid = lo[~settled] + (hi[~settled] - lo[~settled]) / 2
        lo, hi = np.concatenate([lo[~settled], mid]), np.concatenate([mid, hi[~settled]])
    tolerance = NORMALISATION_TOL + budget
    passed = abs(total - 1.0) + tail <= tolerance and estimate <= tolerance
    evidence = {"integral": total, "minus_one": total - 1.0, "quadrature_error_estimate": estimate,
                "tail_bound": tail, "float64_rounding_budget": budget, "tolerance": tolerance, "panels": panels,
                "x_range": [-t, t]}
    extra = f", float64 rounding budget {budget:.0e}" if budget > 0.1 * NORMALISATION_TOL else ""
    return Check("normalisation", passed, f"adaptive 16/8-point Gauss-Legendre on {panels} y-panels through the "
                 "float64 inverse; tails bounded analytically; tolerance 1e-12 plus the float64 rounding budget",
                 evidence, f"integral - 1 = {total - 1.0:.1e} (quadrature error <= {estimate:.0e}, tails <= "
                           f"{tail:.0e}{extra})")


def _log_prob_rounding(flow: Flow, x: np.ndarray, y: np.ndarray, log_p: np.ndarray) -> np.ndarray:
    r"""A first-order bound on the float64 rounding error of :math:`\log p_Y(y)`, per point.

    The preimage is off by about :math:`\delta x = \epsilon\,\max_k |z_k|\,\kappa` (:math:`\kappa = \max_k
    \prod_{j \le k} 1/f_j'`; with the longdouble polish :math:`\epsilon = 2^{-63}`, plus half an ulp of
    :math:`x`), which moves :math:`\log p_Y = \log p_X(x) - \log F'(x)` by :math:`|x + (\log F')'(x)|\,\delta x`;
    the rest is a few roundings of :math:`\log p` itself.
    """
    z, slope, kappa, d_log_det = x, np.ones_like(x), np.ones_like(x), np.zeros_like(x)
    size = np.maximum(np.abs(x), np.abs(y))
    for layer in flow:
        g, g1, _, _, ld1, _ = layer_functions(layer).forward_terms(z)
        d_log_det += ld1 * slope
        slope = slope * (1 + g1)
        kappa = np.maximum(kappa, 1 / slope)
        z = z + g
        size = np.maximum(size, np.abs(z))
    residual_eps = 2.0**-63 if EXTENDED else 2.0**-52
    dx = 4 * residual_eps * size * kappa + ULP * np.abs(x)
    return np.abs(x + d_log_det) * dx + 8 * ULP * (np.abs(log_p) + 1)


# -- proven checks (verify --certify; flowproof.certified and flowproof.normalisation) ------------------------
#: Where ``--certify`` encloses the inverse, log_det and log_prob: floats, so every path sees the same exact input.
CERTIFY_POINTS = (-3.1, -0.4, 0.0, 0.25, 1.7, 1e3)


def _float_claim(value: Any, t: float, kappa: float) -> mpmath.mpf:
    r"""The float64 path's own claimed error: :data:`FLOAT_TOL_ULP` ulp of :math:`\max(1, |v|) + \max(1, |t|)`
    (the value and the input's size), times the chain's conditioning :math:`\kappa`."""
    return mpmath.mpf(FLOAT_TOL_ULP * ULP * kappa) * (max(1, abs(value)) + max(1.0, abs(t)))


@_timed
def check_certified_values(flow: Flow, dps: int) -> Check:
    r"""Proven enclosures of :math:`F^{-1}`, :math:`\log F'` and :math:`\log p_Y` at ``dps`` digits against the
    computed values (mp at ``dps`` digits, float64), each widened by its own claimed error: the check fails when
    an enclosure misses a computed value's claimed interval."""
    numbers: list[dict[str, Any]] = []
    misses: list[str] = []
    widest = mpmath.mpf(0)
    floats = {"inverse": flow.inverse(np.array(CERTIFY_POINTS)), "log_det": flow.log_det(np.array(CERTIFY_POINTS)),
              "log_prob": flow.log_prob(np.array(CERTIFY_POINTS))}
    for i, t in enumerate(CERTIFY_POINTS):
        with mpmath.workdps(20):
            kappa = max(float(conditioning(forward_chain_mp(flow, mpmath.mpf(t))[1])), 1.0)
        proven = {"inverse": flow.inverse(t, dps=dps, certify=True), "log_det": flow.log_det(t, dps=dps, certify=True),
                  "log_prob": flow.log_prob(t, dps=dps, certify=True)}
        inverse = flow.inverse(t, dps=dps)
        with mpmath.workdps(dps + 20):
            computed = {"inverse": (inverse.x, inverse.error_bound)}
            for key in ("log_det", "log_prob"):
                value = getattr(flow, key)(t, dps=dps)
                computed[key] = (value, mpmath.mpf(10) ** -dps * max(1, abs(value)))
            for key, enclosure in proven.items():
                widest = max(widest, enclosure.width / max(1, abs(enclosure.mid)))
                numbers.append({"at": t, "quantity": key, "kind": "proven (enclosure)",
                                "lo": mpmath.nstr(enclosure.lo, dps + 3), "hi": mpmath.nstr(enclosure.hi, dps + 3),
                                "bits": enclosure.prec})
                value, claim = computed[key]
                fvalue = float(floats[key][i])
                fclaim = _float_claim(fvalue, t, kappa)
                for kind, v, err in ((f"computed (mp, {dps} digits)", value, claim),
                                     ("computed (float64)", mpmath.mpf(fvalue), fclaim)):
                    numbers.append({"at": t, "quantity": key, "kind": kind, "value": mpmath.nstr(v, dps + 3),
                                    "claimed_error": mpmath.nstr(err, 3)})
                    if v + err < enclosure.lo or v - err > enclosure.hi:
                        gap = max(enclosure.lo - v, v - enclosure.hi)
                        misses.append(f"{key} at {t:g}: {kind} value outside its enclosure by {mpmath.nstr(gap, 3)} "
                                      f"(claimed error {mpmath.nstr(err, 3)})")
    passed = not misses
    summary = (f"proven enclosures of inverse, log_det, log_prob at {len(CERTIFY_POINTS)} points hold the computed "
               f"mp and float64 values (widest relative enclosure {mpmath.nstr(widest, 2)})" if passed else
               "; ".join(misses[:3]) + (f" (+{len(misses) - 3} more)" if len(misses) > 3 else ""))
    return Check("certified values", passed, "interval Newton per layer on arb balls (proven) vs mp and float64 "
                 "(computed), each widened by its claimed error", {"numbers": numbers, "misses": misses}, summary)


@_timed
def check_certified_invertibility(flow: Flow) -> Check:
    """F' >= prod_k m_k > 0 with every m_k proven (exact validity conditions, or interval proofs)."""
    from .certified import certify_invertibility

    cert = certify_invertibility(flow)
    summary = (f"proven: F' >= {cert.bound} = {float(sp.sympify(cert.bound)):.4g} > 0" if cert.proven else
               f"NOT proven: {cert.reason}")
    return Check("invertibility (proven)", cert.proven, "per-layer proven lower bounds on f' over R",
                 {"steps": list(cert.steps), "bound": str(cert.bound), "kind": "proven"}, summary)


@_timed
def check_certified_normalisation(flow: Flow) -> Check:
    """The normalisation theorem, and a proven y-space enclosure of the integral of p_Y (width <= 1e-8) holding 1."""
    from .normalisation import integral

    cert = integral(flow, tol=1e-8)
    e = cert.enclosure
    passed = cert.contains_one and e.width <= mpmath.mpf("1e-8")
    summary = (f"proven: integral of p_Y in [{mpmath.nstr(e.lo, 12)}, {mpmath.nstr(e.hi, 12)}] (width "
               f"{mpmath.nstr(e.width, 2)}) {'holds' if cert.contains_one else 'does NOT hold'} 1; tails <= "
               f"{mpmath.nstr(cert.tail_bound, 2)}")
    return Check("normalisation (proven)", bool(passed), f"theorem (bijection + change of variables); {e.status}",
                 {"theorem": list(cert.theorem), "lo": mpmath.nstr(e.lo, 15), "hi": mpmath.nstr(e.hi, 15),
                  "width": mpmath.nstr(e.width, 3), "tail_bound": mpmath.nstr(cert.tail_bound, 3),
                  "y_range": [str(v) for v in cert.y_range], "panels": cert.panels, "kind": "proven"}, summary)
# -- end of the proven checks ----------------------------------------------------------------------------------


def _runs(flow: Flow, dps: int, certify: bool = False) -> list[Callable[[], Check]]:
    runs = [lambda: check_chain_rule(flow), lambda: check_log_density(flow),
            lambda: check_expression_evaluation(flow, dps), lambda: check_float_vs_mp(flow, dps),
            lambda: check_inverse_round_trip(flow, dps), lambda: check_cdf_route_density(flow, dps),
            lambda: check_invertibility(flow), lambda: check_normalisation(flow)]
    if certify:
        runs += [lambda: check_certified_values(flow, dps), lambda: check_certified_invertibility(flow),
                 lambda: check_certified_normalisation(flow)]
    return runs


def verify_depth(flow: Flow, dps: int = 50, certify: bool = False) -> list[Check]:
    """All checks for one (already truncated) flow; ``certify`` adds the proven ones."""
    return [run() for run in _runs(flow, dps, certify)]


def default_depths(n_layers: int) -> list[sp.Rational]:
    """``0, 1, ..., n`` and one fractional depth (2.5 for six layers)."""
    depths = [sp.Integer(k) for k in range(n_layers + 1)]
    if n_layers >= 1:
        depths.append(min(sp.Rational(5, 2), sp.Rational(2 * n_layers - 1, 2)))
    return depths


def verify_flow(flow: Flow, depths: Sequence[Any] | None = None, dps: int = 50,
                progress: Callable[[str, Check], None] | None = None, certify: bool = False) -> Report:
    """Verify ``flow.truncate(K)`` for each depth; ``progress(depth, check)`` is called as each check finishes.
    ``certify`` adds the proven checks (enclosures, invertibility and normalisation certificates)."""
    dps = check_dps(dps)
    depths = default_depths(len(flow)) if depths is None else list(depths)
    truncated = [(depth_label(k), flow.truncate(k)) for k in depths]
    reports = []
    for label, sub in truncated:
        checks = []
        for run in _runs(sub, dps, certify):
            checks.append(run())
            if progress is not None:
                progress(label, checks[-1])
        reports.append(DepthReport(label, checks))
    return Report(repr(flow), dps, reports)


def depth_label(depth: Any) -> str:
    """How a depth is printed: as the user wrote it, or as a terminating decimal (``5/2`` is ``2.5``)."""
    if isinstance(depth, str):
        return depth.strip()
    k = exact_depth(depth, "depth")
    q = int(k.q)
    while q % 2 == 0:
        q //= 2
    while q % 5 == 0:
        q //= 5
    if q != 1:
        return str(k)
    text = mpmath.nstr(mpmath.mpf(int(k.p)) / int(k.q), 60)
    return text[:-2] if text.endswith(".0") else text


def _digits(relative_error: Any, compared: int) -> int:
    """Decimal digits of agreement, at most the ``compared`` digits (an exact match agrees to all of them)."""
    if relative_error == 0:
        return compared
    return min(compared, max(0, int(-mpmath.log10(relative_error))))
