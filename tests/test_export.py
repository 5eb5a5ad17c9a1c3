"""flow.lambdify / flowproof.export: the exported functions against the plain-mpmath reference, exact constants at
high precision, deep flows without the nested expression, and clear errors for missing backends."""

from __future__ import annotations

import importlib.util
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import reference as ref

import flowproof as fp
from flowproof import export

POINTS = [-40.0, -8.0, -1.3, 0.0, 0.25, 2.0, 8.0, 40.0]


def test_numpy_export_matches_the_reference():
    exported = fp.chapter_flow().lambdify("numpy")
    x = np.array(POINTS)
    y, log_det = exported.forward_and_log_det(x)
    for xi, yi, li in zip(POINTS, y, log_det):
        assert ref.scaled_err(yi, ref.forward(xi)) < 1e-14
        assert ref.err(li, ref.log_det(xi)) < 1e-13
    assert np.array_equal(exported.log_det(x), log_det) and np.array_equal(exported.forward(x), y)
    back = exported.inverse(y)
    for yi, xi in zip(y, back):
        assert ref.scaled_err(xi, ref.inverse(float(yi))) < 1e-14
    for yi, lp in zip(y, exported.log_prob(y)):
        assert ref.scaled_err(lp, ref.log_prob(float(yi))) < 1e-13


def test_mpmath_export_keeps_exact_constants_at_high_precision():
    flow = fp.Flow([fp.SineLayer("0.3", 2, "0.1"), fp.SineLayer("1/7", 3, 0)])  # 0.1 and 1/7 are not doubles
    layers = [(Fraction("0.3"), Fraction(2), Fraction("0.1")), (Fraction(1, 7), Fraction(3), Fraction(0))]
    exported = flow.lambdify("mpmath")
    with mpmath.workdps(60):
        x = mpmath.mpf(1) / 3
        y, log_det = exported.forward_and_log_det(x)
        back = exported.inverse(y)
        log_prob = exported.log_prob(y)
    assert ref.err(y, ref.forward(x, dps=60, layers=layers), dps=60) < 1e-55
    assert ref.err(log_det, ref.log_det(x, dps=60, layers=layers), dps=60) < 1e-55
    assert ref.err(back, x, dps=60) < 1e-55
    assert ref.err(log_prob, ref.log_prob(y, dps=60, layers=layers), dps=60) < 1e-55


def test_deep_flows_compose_per_layer_functions():
    flow = fp.Flow(fp.SineLayer("0.3", 2, k / 7) for k in range(24))
    exported = flow.lambdify("numpy")
    assert len(exported.layers) == 24 and exported.source.count("def f(z)") == 24
    layers = [(Fraction("0.3"), Fraction(2), Fraction(k, 7)) for k in range(24)]
    assert ref.scaled_err(exported.forward(0.5), ref.forward(0.5, layers=layers)) < 1e-13


def test_source_is_the_printed_expressions():
    source = fp.chapter_flow(1).lambdify("numpy").source
    assert "numpy.sin(2*z + 3/10)" in source and "def log_df(z)" in source


def test_the_identity_and_a_partial_layer_export():
    assert fp.Flow([]).lambdify("numpy").forward_and_log_det(1.5) == (1.5, 0.0)
    exported = fp.chapter_flow("0.5").lambdify("numpy")  # z + 0.16 sin(2z + 0.3)
    assert ref.scaled_err(exported.forward(1.0), ref.forward(1.0, K="0.5")) < 1e-15


def test_unknown_and_missing_backends_raise_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="modules must be one of 'numpy', 'mpmath', 'jax', 'torch'"):
        fp.chapter_flow().lambdify("tensorflow")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(ImportError, match=r"exporting to 'torch' needs torch installed \(pip install torch\)"):
        export.lambdify(fp.chapter_flow(), "torch")
    with pytest.raises(TypeError, match="layer 0 must be a flowproof Layer"):
        export.lambdify(["not a layer"])


def test_jax_export_traces_under_jit():
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    exported = fp.chapter_flow().lambdify("jax")
    x = jnp.asarray(np.array(POINTS[1:-1], dtype=np.float32))
    y = np.asarray(jax.jit(exported.forward)(x))
    for xi, yi in zip(np.asarray(x), y):
        assert ref.scaled_err(float(yi), ref.forward(float(xi))) < 1e-5  # float32 unless jax_enable_x64
    assert np.allclose(np.asarray(jax.jit(exported.inverse)(jnp.asarray(y))), np.asarray(x), atol=1e-5)


def test_torch_export_runs_on_tensors():
    torch = pytest.importorskip("torch")
    exported = fp.chapter_flow().lambdify("torch")
    x = torch.tensor(POINTS, dtype=torch.float64)
    y, log_det = exported.forward_and_log_det(x)
    for xi, yi, li in zip(POINTS, y.tolist(), log_det.tolist()):
        assert ref.scaled_err(yi, ref.forward(xi)) < 1e-14 and ref.err(li, ref.log_det(xi)) < 1e-13
    assert torch.allclose(exported.inverse(y), x, atol=1e-13)
