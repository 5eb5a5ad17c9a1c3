"""The float path takes dask arrays chunk by chunk, lazily, and gives what the numpy path gives."""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref

from flowproof import chapter_flow

da = pytest.importorskip("dask.array")


@pytest.fixture
def x():
    return da.from_array(np.linspace(-4.0, 4.0, 1000), chunks=128)


def test_forward_is_lazy_and_keeps_the_chunks(x):
    y = chapter_flow().forward(x)
    assert type(y).__module__.startswith("dask")
    assert y.chunks == x.chunks
    assert y.dtype == np.float64


def test_forward_on_dask_matches_an_independent_mpmath_reference(x):
    y = chapter_flow().forward(x).compute()
    xs = np.linspace(-4.0, 4.0, 1000)
    for i in (0, 127, 128, 500, 999):  # across chunk boundaries
        exact = ref.forward(float(xs[i]), K=6, dps=30)
        assert abs(float(y[i]) - float(exact)) <= 8 * np.spacing(max(1.0, abs(float(exact))))


@pytest.mark.parametrize("method", ["log_det", "inverse", "log_prob", "cdf"])
def test_every_float_method_agrees_with_the_numpy_path(x, method):
    flow = chapter_flow()
    lazy = getattr(flow, method)(x)
    assert type(lazy).__module__.startswith("dask")
    np.testing.assert_array_equal(lazy.compute(), getattr(flow, method)(x.compute()))


def test_icdf_and_forward_and_log_det_on_dask():
    flow = chapter_flow()
    u = da.from_array(np.linspace(0.0, 1.0, 101), chunks=25)
    np.testing.assert_array_equal(flow.icdf(u).compute(), flow.icdf(np.linspace(0.0, 1.0, 101)))
    y, ld = flow.forward_and_log_det(u)
    assert type(y).__module__.startswith("dask") and type(ld).__module__.startswith("dask")


def test_a_non_real_dask_array_is_refused_before_anything_runs():
    with pytest.raises(TypeError, match="real numbers"):
        chapter_flow().forward(da.from_array(np.array(["a", "b"])))
