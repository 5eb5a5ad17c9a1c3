"""Benchmarks: flowproof against a baseline run side by side in one process; prints a table of ratios.

    python3 benchmarks/run.py            # quick sizes (about a minute)
    python3 benchmarks/run.py --full     # the sizes of issue 4 (10^6 points, K = 1000 on 10^5 points)

Times are the best of ``--repeat`` runs (default 3) of each side; the best of several runs is what a noisy machine
spoils least.
Baselines are written here by hand on purpose (they are the yardsticks, not library code).
"""

from __future__ import annotations

import argparse
import math
import platform
import time
import tracemalloc
from collections.abc import Callable

import mpmath
import numpy as np

import flowproof as fp
from flowproof import symbolic
from flowproof.inverse import forward_mp

A, W = 0.32, 2.0
PHASES = [float(p) for p in fp.CHAPTER_PHASES]


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def fused_forward(x: np.ndarray, phases: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """The practical floor: one sin and one cos per layer and point."""
    z, log_det = x.copy(), np.zeros_like(x)
    for phi in phases:
        u = W * z + phi
        log_det += np.log1p(A * W * np.cos(u))
        z += A * np.sin(u)
    return z, log_det


def vectorised_bisection(y: np.ndarray, phases: list[float], steps: int = 60) -> np.ndarray:
    """The chapter's method, vectorised: bisection per layer in [y - a, y + a], 60 halvings (to full precision)."""
    z = y
    for phi in reversed(phases):
        lo, hi = z - A, z + A
        for _ in range(steps):
            mid = 0.5 * (lo + hi)
            below = mid + A * np.sin(W * mid + phi) < z
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        z = 0.5 * (lo + hi)
    return z


def point_bisection(y: np.ndarray, phases: list[float], steps: int = 60) -> np.ndarray:
    """The chapter's method one point at a time in Python."""
    out = np.empty_like(y)
    for i, value in enumerate(y):
        z = float(value)
        for phi in reversed(phases):
            lo, hi = z - A, z + A
            for _ in range(steps):
                mid = 0.5 * (lo + hi)
                if mid + A * math.sin(W * mid + phi) < z:
                    lo = mid
                else:
                    hi = mid
            z = 0.5 * (lo + hi)
        out[i] = z
    return out


def mp_bisection(y: str, dps: int) -> mpmath.mpf:
    """Plain bisection at dps digits, step count from the precision (the baseline for the mp inverse)."""
    with mpmath.workdps(dps + 20):
        a, z = mpmath.mpf(8) / 25, mpmath.mpf(y)
        for phase in reversed(fp.CHAPTER_PHASES):
            phi = mpmath.mpf(phase)
            lo, hi = z - a, z + a
            for _ in range(int((dps + 20) * 3.33) + 2):
                mid = (lo + hi) / 2
                if mid + a * mpmath.sin(2 * mid + phi) < z:
                    lo = mid
                else:
                    hi = mid
            z = (lo + hi) / 2
        return z


def ulp_errors(x: np.ndarray, y: np.ndarray, sample: int) -> np.ndarray:
    """Error of x against the exact preimage of each float y (40 digits), in ulp of max(|x|, 1)."""
    flow = fp.chapter_flow()
    idx = np.random.default_rng(3).choice(y.size, size=min(sample, y.size), replace=False)
    errs = []
    for i in idx:
        exact = flow.inverse(float(y[i]), dps=40).x
        errs.append(float(abs(mpmath.mpf(float(x[i])) - exact)) / np.spacing(max(abs(float(x[i])), 1.0)))
    return np.array(errs)


def forward_ulp_errors(x: np.ndarray, y: np.ndarray, log_det: np.ndarray, sample: int) -> tuple[np.ndarray, ...]:
    """Errors of F(x) and log F'(x) against 40-digit values at each float x, in ulp of max(|value|, 1)."""
    flow = fp.chapter_flow()
    idx = np.random.default_rng(4).choice(x.size, size=min(sample, x.size), replace=False)
    e_y, e_ld = [], []
    for i in idx:
        exact_y, exact_ld = flow.forward_and_log_det(float(x[i]), dps=40)
        e_y.append(float(abs(mpmath.mpf(float(y[i])) - exact_y)) / np.spacing(max(abs(float(exact_y)), 1.0)))
        e_ld.append(float(abs(mpmath.mpf(float(log_det[i])) - exact_ld)) / np.spacing(max(abs(float(exact_ld)), 1.0)))
    return np.array(e_y), np.array(e_ld)


def summary(errs: np.ndarray) -> str:
    return f"median {np.median(errs):.2f}, p99 {np.percentile(errs, 99):.2f}, max {errs.max():.2f}"


def scientific(count: int) -> str:
    """An integer of any size as ``d.dd x 10^e``."""
    digits = str(count)
    return f"{digits[0]}.{digits[1:3]} x 10^{len(digits) - 1}" if len(digits) > 3 else digits


def peak_memory(fn: Callable[[], object]) -> float:
    """Peak bytes allocated (numpy arrays included: they report to tracemalloc) while ``fn`` runs."""
    tracemalloc.start()
    try:
        fn()
        return float(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


def repeated(depth: int) -> fp.Flow:
    return fp.Flow([fp.SineLayer("0.32", 2, fp.CHAPTER_PHASES[k % 6]) for k in range(depth)])


def scaling_figure(path: str) -> None:
    """Time against depth K, number of points N and digits (the mp inverse), on log-log axes, with fitted slopes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 3.4), layout="constrained")
    axes = fig.subplots(1, 3)
    x = np.random.default_rng(0).standard_normal(10**4)
    ks = [6, 25, 100, 400, 1000]
    t_k = []
    for k in ks:
        print(f"... scaling: forward+log_det, K={k}", flush=True)
        deep = fp.Flow([fp.SineLayer("0.32", 2, fp.CHAPTER_PHASES[j % 6]) for j in range(k)])
        deep.forward_and_log_det(x[:10])  # lambdify outside the timing
        t_k.append(best(lambda d=deep: d.forward_and_log_det(x), 3))
    ns = [10**3, 10**4, 10**5, 10**6]
    flow = fp.chapter_flow()
    t_n, t_inv = [], []
    for n in ns:
        print(f"... scaling: N={n}", flush=True)
        xs = np.random.default_rng(1).standard_normal(n)
        t_n.append(best(lambda v=xs: flow.forward_and_log_det(v), 3))
        t_inv.append(best(lambda v=xs: flow.inverse(v), 2))
    digits = [30, 100, 300, 1000, 3000]
    t_d = []
    for d in digits:
        print(f"... scaling: mp inverse, dps={d}", flush=True)
        t_d.append(best(lambda dd=d: flow.inverse("0.5", dps=dd), 2))
    for ax, xs_, series, xlabel in (
            (axes[0], ks, [("forward + log_det, 1e4 points", t_k)], "depth K"),
            (axes[1], ns, [("forward + log_det, K = 6", t_n), ("inverse, K = 6", t_inv)], "points N"),
            (axes[2], digits, [("inverse(y, dps)", t_d)], "digits (dps)")):
        for label, ts in series:
            slope = np.polyfit(np.log(xs_[1:]), np.log(ts[1:]), 1)[0]
            ax.loglog(xs_, ts, "o-", label=f"{label} (slope {slope:.2f})")
        ax.set(xlabel=xlabel, ylabel="seconds")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle("flowproof scaling (best of repeated runs; slopes fitted past the first point)", fontsize=10)
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the sizes of issue 4 (slow)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plot", metavar="PNG", help="also draw the scaling figure (time vs K, N, dps) to PNG")
    args = parser.parse_args()
    if args.plot:
        scaling_figure(args.plot)
    n = 10**6 if args.full else 2 * 10**5
    deep_n = 10**5 if args.full else 10**4
    memory_n = 10**6 if args.full else 10**5
    dask_n = 10**8 if args.full else 10**7
    rows: list[tuple[str, float, float, str]] = []

    def case(name: str, ours: Callable[[], object], base: Callable[[], object], note: str = "",
             base_scale: float = 1.0) -> None:
        print(f"... {name}", flush=True)
        t_ours, t_base = best(ours, args.repeat), best(base, args.repeat) * base_scale
        rows.append((name, t_ours, t_base, note))

    def single(name: str, fn: Callable[[], object], note: Callable[[float], str]) -> None:
        print(f"... {name}", flush=True)
        t = best(fn, 1)
        rows.append((name, t, float("nan"), note(t)))

    flow = fp.chapter_flow()
    x = np.random.default_rng(0).standard_normal(n)
    y, log_det = flow.forward_and_log_det(x)
    e_y, e_ld = forward_ulp_errors(x, y, log_det, 2000)
    case(f"forward+log_det, {n:.0e} points, K=6 (baseline: fused numpy loop)",
         lambda: flow.forward_and_log_det(x), lambda: fused_forward(x, PHASES),
         f"ulp vs 40 digits: forward {summary(e_y)}; log_det {summary(e_ld)}")
    deep = repeated(1000)
    xd = np.random.default_rng(1).standard_normal(deep_n)
    deep.forward_and_log_det(xd[:10])  # lambdify outside the timing
    case(f"forward+log_det, {deep_n:.0e} points, K=1000 (baseline: fused numpy loop)",
         lambda: deep.forward_and_log_det(xd), lambda: fused_forward(xd, (PHASES * 167)[:1000]))
    ks, t_k = [10, 100, 1000], []
    for k in ks:
        flow_k = repeated(k)
        flow_k.forward(xd[:10])
        t_k.append(best(lambda f=flow_k: f.forward_and_log_det(xd), 1))
    exponent = np.polyfit(np.log(ks), np.log(t_k), 1)[0]
    rows.append((f"forward+log_det, {deep_n:.0e} points, K=10, 100, 1000", t_k[-1], float("nan"),
                 f"time ~ K^{exponent:.2f} (fitted)"))

    x_back = flow.inverse(y)
    errs = ulp_errors(x_back, y, 2000)
    case(f"inverse, {n:.0e} points, K=6 (baseline: vectorised bisection)", lambda: flow.inverse(y),
         lambda: vectorised_bisection(y, PHASES), f"ulp vs exact preimage: {summary(errs)}")
    sample = y[:2000]
    case(f"inverse, {n:.0e} points, K=6 (baseline: per-point Python bisection, timed on 2e3 points, x{n // 2000})",
         lambda: flow.inverse(y), lambda: point_bisection(sample, PHASES), base_scale=n / sample.size)
    for dps in (100, 1000):
        with mpmath.workdps(flow.inverse("0.5", dps=dps).working_dps):
            t_forward = best(lambda: forward_mp(list(flow), mpmath.mpf("0.5")), args.repeat)
        t_mp = best(lambda d=dps: flow.inverse("0.5", dps=d), args.repeat)
        case(f"mp inverse, dps {dps} (baseline: plain bisection)", lambda d=dps: flow.inverse("0.5", dps=d),
             lambda d=dps: mp_bisection("0.5", d),
             f"{t_mp / dps * 1e6:.1f} us per digit; {t_mp / t_forward:.1f} forward evaluations at that precision")

    y_deep = deep.forward(xd)
    single(f"log_prob, K=1000, {deep_n:.0e} points", lambda: deep.log_prob(y_deep),
           lambda t: f"{t / 1000 * 1e3:.2f} ms per layer")
    back = deep.inverse(y_deep)
    idx = np.random.default_rng(6).choice(deep_n, size=10, replace=False)
    deep_errs = []
    for i in idx:  # the exact preimage of each float y, at 40 digits
        exact = deep.inverse(float(y_deep[i]), dps=40).x
        deep_errs.append(float(abs(mpmath.mpf(float(back[i])) - exact)) / np.spacing(max(abs(float(exact)), 1.0)))
    rows.append((f"inverse, K=1000, {deep_n:.0e} points (round trip)", float("nan"), float("nan"),
                 f"ulp vs exact preimage (10 points): {summary(np.array(deep_errs))}; "
                 f"largest round-trip error {np.max(np.abs(back - xd)):.1e} (the rounding of y over F')"))

    xm = np.random.default_rng(2).standard_normal(memory_n)
    peak_fwd = peak_memory(lambda: deep.forward_and_log_det(xm))
    peak_inv = peak_memory(lambda: repeated(100).inverse(xm))
    rows.append((f"peak memory, {memory_n:.0e} points (input {xm.nbytes / 1e6:.0f} MB)", float("nan"), float("nan"),
                 f"forward+log_det K=1000: {peak_fwd / xm.nbytes:.1f}x the input; inverse K=100: "
                 f"{peak_inv / xm.nbytes:.1f}x (no K x N arrays)"))

    try:
        import dask.array as da
    except ImportError:
        print("... dask not installed: skipping the dask case")
    else:
        xs = da.random.default_rng(5).standard_normal(dask_n, chunks=10**6)
        total = flow.log_det(flow.forward(xs)).sum()
        peak = peak_memory(total.compute)
        single(f"dask: sum of log_det(forward(x)), {dask_n:.0e} points in chunks of 1e6", total.compute,
               lambda t: f"{dask_n / t / 1e6:.1f} M points/s; peak memory {peak / 1e6:.0f} MB for "
                         f"{dask_n * 8 / 1e6:.0f} MB of points (never materialised)")

    for depth in (50, 1000):
        layers = repeated(depth)
        print(f"... symbolic proofs, K={depth}", flush=True)
        start = time.perf_counter()
        ok = symbolic.prove_chain_rule(layers).holds and symbolic.prove_log_density(layers).holds
        size = symbolic.nested_sizes(layers)[-1].derivative_operations
        rows.append((f"prove chain rule + log-density, K={depth}", time.perf_counter() - start, float("nan"),
                     f"{'proved' if ok else 'NOT proved'}; the nested F' would have {scientific(size)} operations "
                     "(by recurrence)"))

    # -- certified inverse vs the plain mp inverse (issue 6; self-contained block) --------------------------------
    from flowproof import normalisation

    flow.inverse("0.5", dps=20, certify=True)  # compile the interval functions outside the timing
    for dps in (50, 100):
        print(f"... certified inverse, dps {dps}", flush=True)
        t_cert = best(lambda d=dps: flow.inverse("0.5", dps=d, certify=True), args.repeat)
        t_plain = best(lambda d=dps: flow.inverse("0.5", dps=d), args.repeat)
        enclosure = flow.inverse("0.5", dps=dps, certify=True)
        rows.append((f"certified inverse, dps {dps}, K=6 (baseline: plain mp inverse, same dps)", t_cert, t_plain,
                     f"certification costs {t_cert / t_plain:.1f}x the plain inverse; enclosure width "
                     f"{mpmath.nstr(enclosure.width, 2)} at {enclosure.prec} bits, {enclosure.iterations} interval "
                     "Newton steps"))
    print("... normalisation enclosure, K=6", flush=True)
    start = time.perf_counter()
    cert = normalisation.integral(flow, tol=1e-8)
    rows.append(("proven normalisation, K=6, width <= 1e-8", time.perf_counter() - start, float("nan"),
                 f"integral of p_Y in [{mpmath.nstr(cert.enclosure.lo, 11)}, {mpmath.nstr(cert.enclosure.hi, 11)}] "
                 f"on {cert.panels} Taylor-model panels; holds 1: {cert.contains_one}"))
    # -- end of the certified block -------------------------------------------------------------------------------

    print(f"\nmachine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}, "
          f"numpy {np.__version__}, mpmath {mpmath.__version__}\n")
    print("| case | flowproof (s) | baseline (s) | baseline / flowproof | accuracy / note |\n|---|---|---|---|---|")
    for name, ours, base, note in rows:
        ratio = "" if math.isnan(base) else f"{base / ours:.2f}x"
        base_text = "" if math.isnan(base) else f"{base:.4f}"
        ours_text = "" if math.isnan(ours) else f"{ours:.4f}"
        print(f"| {name} | {ours_text} | {base_text} | {ratio} | {note} |")


if __name__ == "__main__":
    main()
