"""flowproof.plots: valid images, all-or-nothing writes, lazy matplotlib, and the numbers each figure draws checked
against references computed here from the chapter's formula, not from flowproof."""

from __future__ import annotations

import io
import math
import os
import re
import subprocess
import sys
import time
from fractions import Fraction

import mpmath
import numpy as np
import pytest

pytest.importorskip("matplotlib")

import matplotlib.image as mpimg  # noqa: E402
import reference  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from flowproof import Flow, SineLayer, chapter_flow, plots  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NAMES = ["chapter.png", "sample_paths.png", "log_density_terms.png", "histogram.png"]

# The chapter's flow, written out here: f_k(z) = z + 0.32 sin(2 z + phi_k), layer 1 applied first.
AMPLITUDE = 0.32
PHASES = (0.3, 1.1, 2.0, 2.9, 4.1, 5.3)


@pytest.fixture(scope="module")
def flow6():
    return chapter_flow(6)


@pytest.fixture(scope="module")
def written(tmp_path_factory, flow6):
    """One full run of write_figures into a directory that does not exist yet (two levels deep)."""
    out = tmp_path_factory.mktemp("figures") / "new" / "figs"
    seen: list[str] = []
    start = time.perf_counter()
    paths = plots.write_figures(flow6, out, progress=seen.append)
    return out, paths, seen, time.perf_counter() - start


def listing(directory):
    return sorted(os.listdir(directory))


# -- the written files ------------------------------------------------------------------------------------------
def test_write_figures_creates_exactly_the_listed_files(written):
    out, paths, seen, elapsed = written
    assert paths == [out / name for name in NAMES]
    assert listing(out) == sorted(NAMES)  # nothing else: no temporary files left behind
    assert seen == [str(path) for path in paths]
    assert elapsed < 20


@pytest.mark.parametrize("name", NAMES)
def test_every_written_figure_is_a_valid_non_flat_image(written, name):
    out = written[0]
    data = (out / name).read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 10_000
    image = mpimg.imread(out / name)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    height, width = image.shape[:2]
    assert height > 100 and width > 100
    assert width > height  # every figure is landscape
    rgb = image[..., :3].reshape(-1, 3)
    assert rgb.std(axis=0).max() > 0.05, "a single flat colour"
    codes = np.round(rgb * 255).astype(np.int64) @ np.array([1, 256, 65536])
    assert len(np.unique(codes)) > 50, "too few colours for a real figure"


def test_dpi_sets_the_pixel_size(tmp_path, written, flow6):
    small = plots.write_figures(flow6, tmp_path, dpi=55)  # the default is 110
    for a, b in zip(small, written[1]):
        ha, wa = mpimg.imread(a).shape[:2]
        hb, wb = mpimg.imread(b).shape[:2]
        assert abs(hb - 2 * ha) <= 2 and abs(wb - 2 * wa) <= 2


def test_svg_format(tmp_path, flow6):
    svg = plots.write_figures(flow6, tmp_path, depths=(6,), fmt="svg")
    assert [p.name for p in svg] == [n.replace(".png", ".svg") for n in NAMES]
    assert all(b"<svg" in p.read_bytes()[:2000] for p in svg)


# -- atomic, all-or-nothing writes ------------------------------------------------------------------------------
def failing_savefig(monkeypatch, fail_at, exc=None, partial=True):
    """Make the ``fail_at``-th call of Figure.savefig (1-based) write some bytes, then raise ``exc``."""
    real = Figure.savefig
    calls = {"n": 0}

    def savefig(self, fname, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == fail_at:
            if partial:
                fname.write(PNG_SIGNATURE + b"half a figure")
            raise exc if exc is not None else RuntimeError("disk full")
        return real(self, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return calls


@pytest.mark.parametrize("fail_at", [1, 4])
def test_interrupted_write_leaves_no_new_file_no_temporaries_and_old_figures_intact(tmp_path, monkeypatch, flow6,
                                                                                     fail_at):
    old = tmp_path / "chapter.png"
    old.write_bytes(b"an older figure")
    seen: list[str] = []
    calls = failing_savefig(monkeypatch, fail_at)
    with pytest.raises(RuntimeError, match="disk full"):
        plots.write_figures(flow6, tmp_path, progress=seen.append)
    assert calls["n"] == fail_at
    assert listing(tmp_path) == ["chapter.png"]  # no new figure, no temporary file
    assert old.read_bytes() == b"an older figure"
    assert seen == []


def test_keyboard_interrupt_while_saving_cleans_up(tmp_path, monkeypatch, flow6):
    failing_savefig(monkeypatch, 2, exc=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        plots.write_figures(flow6, tmp_path)
    assert listing(tmp_path) == []


def test_failure_while_drawing_removes_the_directory_it_created(tmp_path, monkeypatch, flow6):
    def broken(*args, **kwargs):
        raise ValueError("drawing failed")

    monkeypatch.setattr(plots, "log_density_terms_figure", broken)
    with pytest.raises(ValueError, match="drawing failed"):
        plots.write_figures(flow6, tmp_path / "made" / "here")
    assert listing(tmp_path) == []


def test_failure_while_moving_into_place_leaves_only_whole_figures(tmp_path, monkeypatch, flow6):
    """Past the rendering, os.replace itself failing on the third file: two figures are in place (whole), the
    rest untouched, and no temporary file is left."""
    (tmp_path / "histogram.png").write_bytes(b"older histogram")
    real = os.replace
    calls = {"n": 0}

    def replace(src, dst):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("device went away")
        return real(src, dst)

    monkeypatch.setattr(plots.os, "replace", replace)
    with pytest.raises(OSError, match="device went away"):
        plots.write_figures(flow6, tmp_path)
    assert listing(tmp_path) == sorted(["chapter.png", "sample_paths.png", "histogram.png"])
    assert (tmp_path / "histogram.png").read_bytes() == b"older histogram"
    for name in ("chapter.png", "sample_paths.png"):
        assert mpimg.imread(tmp_path / name).shape[0] > 100


def test_rewriting_replaces_old_figures_and_keeps_other_files(tmp_path, flow6):
    (tmp_path / "chapter.pdf").write_bytes(b"old")
    (tmp_path / "notes.txt").write_text("keep me")
    before = (mpmath.mp.prec, mpmath.mp.dps)
    paths = plots.write_figures(flow6, tmp_path, depths=("2.5",), fmt="pdf")
    assert (mpmath.mp.prec, mpmath.mp.dps) == before
    assert all(p.read_bytes().startswith(b"%PDF") for p in paths)
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    assert listing(tmp_path) == sorted([n.replace(".png", ".pdf") for n in NAMES] + ["notes.txt"])


# -- bad arguments: raised before anything is created ------------------------------------------------------------
def test_outdir_that_is_a_file_raises_value_error(tmp_path, flow6):
    target = tmp_path / "figures"
    target.write_text("not a directory")
    with pytest.raises(ValueError, match="exists and is not a directory"):
        plots.write_figures(flow6, target)
    assert target.read_text() == "not a directory"
    assert listing(tmp_path) == ["figures"]


@pytest.mark.parametrize("depths, error, message", [
    ((0, 7), ValueError, "at most 6"),
    ((0, -1), ValueError, ">= 0"),
    ((0, "two"), ValueError, "decimal number"),
    ((0, float("nan")), ValueError, "finite"),
    ((True,), TypeError, "bool"),
    ((None,), TypeError, "real number"),
    ("2.5", TypeError, "sequence of depths"),
    (2.5, TypeError, "sequence of depths"),
    ((), ValueError, "at least one depth"),
])
def test_bad_depths_raise_and_write_nothing(tmp_path, flow6, depths, error, message):
    out = tmp_path / "out"
    with pytest.raises(error, match=message):
        plots.write_figures(flow6, out, depths=depths)
    assert not out.exists()


@pytest.mark.parametrize("kwargs, error", [
    ({"fmt": "gif"}, ValueError),
    ({"fmt": None}, ValueError),
    ({"dpi": 0}, ValueError),
    ({"dpi": float("inf")}, ValueError),
    ({"dpi": "110"}, TypeError),
    ({"progress": "print"}, TypeError),
])
def test_bad_options_raise_and_write_nothing(tmp_path, flow6, kwargs, error):
    out = tmp_path / "out"
    with pytest.raises(error):
        plots.write_figures(flow6, out, **kwargs)
    assert not out.exists()


def test_not_a_flow_raises_type_error(tmp_path):
    with pytest.raises(TypeError, match="Flow"):
        plots.write_figures([0.3, 1.1], tmp_path / "out")
    with pytest.raises(TypeError, match="Flow"):
        plots.chapter_figure("chapter")
    assert not (tmp_path / "out").exists()


# -- matplotlib stays lazy and global state stays untouched ------------------------------------------------------
def run_python(code):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("MPLBACKEND", None)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_flowproof_does_not_import_matplotlib():
    out = run_python("import sys, flowproof, flowproof.plots, flowproof.cli\n"
                     "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))")
    assert out.strip() == "[]"


def test_figures_keep_the_users_backend_and_never_touch_pyplot():
    out = run_python(
        "import io, sys, matplotlib\n"
        "matplotlib.use('svg')\n"
        "from flowproof import chapter_flow, plots\n"
        "fig = plots.histogram_figure(chapter_flow(2), n=2000, bins=20)\n"
        "fig.savefig(io.BytesIO(), format='png')\n"
        "print('matplotlib.pyplot' in sys.modules, matplotlib.rcParams['backend'])\n")
    assert out.split() == ["False", "svg"]


@pytest.mark.parametrize("make", [
    lambda f: plots.chapter_figure(f),
    lambda f: plots.sample_paths_figure(f),
    lambda f: plots.log_density_terms_figure(f),
    lambda f: plots.histogram_figure(f),
], ids=["chapter", "sample_paths", "log_density_terms", "histogram"])
def test_each_figure_is_fast(flow6, make):
    flow6.forward(0.0)  # the one-off lambdify of the six layers is not the figure's cost
    start = time.perf_counter()
    make(flow6).savefig(io.BytesIO(), format="png", dpi=110)
    assert time.perf_counter() - start < 3


# -- the numbers drawn, against references written here -----------------------------------------------------------
def forward_np(x, K=6):
    """F_K(x) from the formula (fractional K: the next layer with amplitude t * 0.32)."""
    full, t = int(K), K - int(K)
    z = np.asarray(x, dtype=float)
    for k in range(full):
        z = z + AMPLITUDE * np.sin(2 * z + PHASES[k])
    if t:
        z = z + t * AMPLITUDE * np.sin(2 * z + PHASES[full])
    return z


def inverse_np(y, K=6, iterations=80):
    """F_K^{-1}(y) by bisection per layer, in reverse order: f_k(z) = z + a sin(2 z + phi) is increasing and the
    root lies in [y - a, y + a]."""
    z = np.asarray(y, dtype=float)
    layers = [(AMPLITUDE, PHASES[k]) for k in range(int(K))]
    if K - int(K):
        layers.append(((K - int(K)) * AMPLITUDE, PHASES[int(K)]))
    for a, phi in reversed(layers):
        lo, hi = z - a, z + a
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            below = mid + a * np.sin(2 * mid + phi) < z
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        z = 0.5 * (lo + hi)
    return z


def bin_probabilities(edges, K=6):
    """P(a < Y <= b) = Phi(F^{-1}(b)) - Phi(F^{-1}(a)), Phi from mpmath at 30 digits."""
    x = inverse_np(edges, K)
    with mpmath.workdps(30):
        cdf = [mpmath.ncdf(mpmath.mpf(float(v))) for v in x]
        return np.array([float(b - a) for a, b in zip(cdf[:-1], cdf[1:])])


def max_standard_error(counts, probabilities, n, min_expected=10.0):
    tested = n * probabilities >= min_expected
    p = probabilities[tested]
    return float(np.max(np.abs(counts[tested] - n * p) / np.sqrt(n * p * (1 - p)))), int(tested.sum())


def test_reference_inverse_undoes_the_reference_forward():
    y = np.linspace(-4.5, 4.5, 101)
    assert np.max(np.abs(forward_np(inverse_np(y)) - y)) < 1e-13
    assert np.max(np.abs(forward_np(inverse_np(y, 2.5), 2.5) - y)) < 1e-13


def title_number(fig, pattern):
    titles = " ".join(ax.get_title() for ax in fig.axes)
    match = re.search(pattern, titles)
    assert match, titles
    return float(match.group(1))


def test_histogram_check_in_the_title_passes_against_exact_bin_probabilities(flow6):
    n, bins = 100_000, 200
    fig = plots.histogram_figure(flow6, n=n, seed=0, bins=bins)
    shown = title_number(fig, r"= ([\d.]+) binomial standard errors")
    assert "consistent" in fig.axes[0].get_title()

    edges = np.linspace(-4.5, 4.5, bins + 1)
    probabilities = bin_probabilities(edges)
    counts = np.histogram(flow6.sample(n, seed=0), bins=edges)[0]
    expected, tested = max_standard_error(counts, probabilities, n)
    assert shown == pytest.approx(expected, abs=0.006)  # the title rounds to 2 decimals
    assert shown < 5
    assert tested > 120
    assert f"over {tested} of {bins} bins" in fig.axes[0].get_title()

    check = plots.histogram_check(flow6, n=n, seed=0, bins=bins)
    assert np.array_equal(check.counts, counts)
    assert np.max(np.abs(check.probabilities - probabilities)) < 1e-13
    assert check.passed


def test_histogram_check_has_the_power_to_see_a_wrong_density(flow6):
    """The same samples against the exact bins of a slightly different depth (5.9) fail by far."""
    n, edges = 100_000, np.linspace(-4.5, 4.5, 201)
    counts = np.histogram(flow6.sample(n, seed=0), bins=edges)[0]
    wrong = plots.HistogramCheck(edges, counts, bin_probabilities(edges, K=5.9), n, 10.0)
    assert wrong.max_z > plots.Z_LIMIT and not wrong.passed


def test_histogram_at_fractional_depth(flow6):
    fig = plots.histogram_figure(flow6, K="2.5", n=20_000, bins=60)
    assert "K = 2.5 (two full layers plus half of the third)" in fig.axes[0].get_title()
    shown = title_number(fig, r"= ([\d.]+) binomial standard errors")
    edges = np.linspace(-4.5, 4.5, 61)
    counts = np.histogram(flow6.truncate("2.5").sample(20_000, seed=0), bins=edges)[0]
    assert shown == pytest.approx(max_standard_error(counts, bin_probabilities(edges, 2.5), 20_000)[0], abs=0.006)


def test_chapter_figure_draws_the_pushed_samples_and_the_exact_densities(flow6):
    depths = (0, 1, 3, 6, 2.5)
    fig = plots.chapter_figure(flow6, depths=depths, n_samples=40, seed=0)
    axes = np.array(fig.axes).reshape(2, len(depths))
    x = np.sort(np.random.default_rng(0).standard_normal(40))
    for col, K in enumerate(depths):
        upper, lower = axes[:, col]
        on_curve = lower.collections[-2].get_offsets()  # the dots on p_Y
        assert np.max(np.abs(on_curve[:, 0] - forward_np(x, K))) < 1e-12
        for y in (-1.3, 0.2, 2.0):
            exact = float(mpmath.exp(reference.log_prob(y, K=Fraction(K).limit_denominator(10), dps=20)))
            curve = lower.lines[0]
            assert np.interp(y, curve.get_xdata(), curve.get_ydata()) == pytest.approx(exact, rel=2e-3)
        base = upper.collections[-2].get_offsets()
        assert np.allclose(base[:, 0], x)
        assert np.allclose(base[:, 1], np.exp(-x**2 / 2) / math.sqrt(2 * math.pi))
        # the same colour for the same sample, top and bottom
        assert np.array_equal(upper.collections[-2].get_facecolors(), lower.collections[-2].get_facecolors())
    assert axes[0, 4].get_title() == "K = 2.5\ntwo full layers plus half of the third"
    assert axes[0, 0].get_title() == "K = 0\nno layers (the identity)"
    assert {ax.get_xlim() for ax in fig.axes} == {(-4.5, 4.5)}
    assert len({ax.get_ylim() for ax in fig.axes}) == 1


def test_sample_paths_are_the_truncated_flows_at_every_step(flow6):
    """The figure draws F_{m+t} as (1 - t) F_m + t F_{m+1}; that is exactly flow.truncate(K) at fractional K."""
    steps = 121
    fig = plots.sample_paths_figure(flow6, n_samples=12, steps=steps, seed=0)
    main = fig.axes[1]
    paths = [line for line in main.lines if len(line.get_xdata()) == steps]
    assert len(paths) == 12
    x = np.sort(np.random.default_rng(0).standard_normal(12))
    for index in (0, 7, 50, 63, 111, 120):  # K = 0, 0.35, 2.5, 3.15, 5.55, 6
        K = Fraction(6 * index, steps - 1)
        assert paths[0].get_xdata()[index] == pytest.approx(float(K))
        drawn = np.array([line.get_ydata()[index] for line in paths])
        assert np.max(np.abs(drawn - flow6.truncate(K).forward(x))) < 1e-12
        assert np.max(np.abs(drawn - forward_np(x, float(K)))) < 1e-12
    # the colours are those of the chapter figure: the first 12 of its 40 samples are these 12
    chapter = plots.chapter_figure(flow6, depths=(0,), n_samples=40, seed=0)
    dots = chapter.axes[0].collections[-2]
    by_position = dict(zip(np.round(dots.get_offsets()[:, 0], 12), map(tuple, dots.get_facecolors())))
    for xi, line in zip(x, paths):
        assert tuple(np.asarray(matplotlib_rgba(line.get_color()))) == by_position[round(xi, 12)]


def matplotlib_rgba(colour):
    from matplotlib.colors import to_rgba

    return to_rgba(colour)


@pytest.mark.parametrize("K", [6, "2.5", 1])
def test_log_density_terms_add_up_to_the_reference_log_density(flow6, K):
    fig = plots.log_density_terms_figure(flow6, K=K)
    upper, lower = fig.axes[:2]
    assert title_number(fig, r"largest \|stacked terms \$-\$ log_prob\| = ([\d.e+-]+)") < 1e-12
    kf = float(Fraction(K))
    total = next(line for line in upper.lines if "log_prob" in line.get_label())
    base = upper.lines[0]
    terms = [line for line in lower.lines if line.get_label().startswith("$-\\log f_")]
    assert len(terms) == math.ceil(kf)
    y = total.get_xdata()
    x = inverse_np(y, kf)
    assert np.max(np.abs(base.get_ydata() - (-x**2 / 2 - 0.5 * math.log(2 * math.pi)))) < 1e-9
    # each term is -log f_k'(z_{k-1}) along the chain from the formula
    z = x
    layers = [(AMPLITUDE, PHASES[k]) for k in range(int(kf))]
    if kf % 1:
        layers.append(((kf % 1) * AMPLITUDE, PHASES[int(kf)]))
    for (a, phi), line in zip(layers, terms):
        assert np.max(np.abs(line.get_ydata() + np.log1p(2 * a * np.cos(2 * z + phi)))) < 1e-9
        z = z + a * np.sin(2 * z + phi)
    for point in (-3.0, 0.25, 2.2):
        exact = float(reference.log_prob(point, K=Fraction(K), dps=20))
        assert np.interp(point, y, total.get_ydata()) == pytest.approx(exact, abs=2e-3)


@pytest.mark.parametrize("depth, label", [
    (0, "K = 0: no layers (the identity)"),
    (1, "K = 1: one layer"),
    (3, "K = 3: three layers"),
    (6, "K = 6: six layers"),
    (2.5, "K = 2.5: two full layers plus half of the third"),
    ("2.5", "K = 2.5: two full layers plus half of the third"),
    (Fraction(5, 2), "K = 2.5: two full layers plus half of the third"),
    ("0.5", "K = 0.5: half of the first layer"),
    ("1.25", "K = 1.25: one full layer plus a quarter of the second"),
    ("2.3", "K = 2.3: two full layers plus 0.3 of the third"),
    (0.1, "K = 0.1: 0.1 of the first layer"),
    ("1/3", "K = 1/3: a third of the first layer"),
])
def test_depth_labels_read_like_the_chapter(depth, label):
    assert plots.depth_label(depth) == label


def test_identity_flow_draws_with_its_default_depth(tmp_path):
    """A flow with no layers draws (its only depth is 0)."""
    paths = plots.write_figures(Flow([]), tmp_path)
    assert [p.name for p in paths] == NAMES


@pytest.mark.parametrize("layers, depths", [(6, (0, 1, 3, 6, 2.5)), (3, (0, 1, 3, 2.5)), (2, (0, 1, 2)),
                                            (8, (0, 1, 3, 6, 2.5, 8))])
def test_default_depths_are_the_chapters_that_fit_plus_full_depth(layers, depths):
    flow = Flow(SineLayer("0.32", 2, phase) for phase in range(layers))
    assert plots.default_depths(flow) == depths
    fig = plots.chapter_figure(flow, n_samples=5)
    assert len(fig.axes) == 2 * len(depths)
