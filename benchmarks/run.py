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
from collections.abc import Callable

import mpmath
import numpy as np

import flowproof as fp
from flowproof import symbolic

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
    rows: list[tuple[str, float, float, str]] = []

    def case(name: str, ours: Callable[[], object], base: Callable[[], object], note: str = "") -> None:
        print(f"... {name}", flush=True)
        t_ours, t_base = best(ours, args.repeat), best(base, args.repeat)
        rows.append((name, t_ours, t_base, note))

    flow = fp.chapter_flow()
    x = np.random.default_rng(0).standard_normal(n)
    y = flow.forward(x)
    case(f"forward+log_det, {n:.0e} points, K=6 (baseline: fused numpy loop)",
         lambda: flow.forward_and_log_det(x), lambda: fused_forward(x, PHASES))
    x_back = flow.inverse(y)
    errs = ulp_errors(x_back, y, 2000)
    case(f"inverse, {n:.0e} points, K=6 (baseline: vectorised bisection)", lambda: flow.inverse(y),
         lambda: vectorised_bisection(y, PHASES),
         f"ulp vs exact preimage: median {np.median(errs):.2f}, p99 {np.percentile(errs, 99):.2f}, "
         f"max {errs.max():.2f}")
    small = y[:2000]
    case("inverse, 2e3 points, K=6 (baseline: per-point Python bisection)", lambda: flow.inverse(small),
         lambda: point_bisection(small, PHASES))
    for dps in (100, 1000):
        case(f"mp inverse, dps {dps} (baseline: plain bisection)", lambda d=dps: flow.inverse("0.5", dps=d),
             lambda d=dps: mp_bisection("0.5", d))
    deep = fp.Flow([fp.SineLayer("0.32", 2, fp.CHAPTER_PHASES[k % 6]) for k in range(1000)])
    xd = np.random.default_rng(1).standard_normal(deep_n)
    start = time.perf_counter()
    deep.log_prob(xd)
    t_deep = time.perf_counter() - start
    rows.append((f"log_prob, K=1000, {deep_n:.0e} points", t_deep, float("nan"),
                 f"{t_deep / 1000 * 1e3:.2f} ms per layer"))
    for depth in (50, 1000):
        layers = fp.Flow([fp.SineLayer("0.32", 2, fp.CHAPTER_PHASES[k % 6]) for k in range(depth)])
        print(f"... symbolic proofs, K={depth}", flush=True)
        start = time.perf_counter()
        ok = symbolic.prove_chain_rule(layers).holds and symbolic.prove_log_density(layers).holds
        rows.append((f"prove chain rule + log-density, K={depth}", time.perf_counter() - start, float("nan"),
                     "proved" if ok else "NOT proved"))

    print(f"\nmachine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}, "
          f"numpy {np.__version__}, mpmath {mpmath.__version__}\n")
    print("| case | flowproof (s) | baseline (s) | baseline / flowproof | note |\n|---|---|---|---|---|")
    for name, ours, base, note in rows:
        ratio = "" if math.isnan(base) else f"{base / ours:.2f}x"
        base_text = "" if math.isnan(base) else f"{base:.4f}"
        print(f"| {name} | {ours:.4f} | {base_text} | {ratio} | {note} |")


if __name__ == "__main__":
    main()
