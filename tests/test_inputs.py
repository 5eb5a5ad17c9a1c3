"""Input handling: shapes, dtypes, NaN and infinities on the float path; argument validation on both paths."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import reference as ref

from flowproof import chapter_flow

FLOW = chapter_flow(6)

# name -> callable on the float path; icdf takes probabilities, the rest take reals
FLOAT_METHODS = {
    "forward": FLOW.forward,
    "log_det": FLOW.log_det,
    "inverse": FLOW.inverse,
    "log_prob": FLOW.log_prob,
    "cdf": FLOW.cdf,
    "icdf": FLOW.icdf,
}
PAIR_METHODS = {"forward_and_log_det": FLOW.forward_and_log_det, "inverse_and_log_det": FLOW.inverse_and_log_det}
ALL_FLOAT = {**FLOAT_METHODS, **PAIR_METHODS}


def sample_input(name, shape=(2, 3)):
    n = int(np.prod(shape))
    values = np.linspace(0.05, 0.95, n) if name == "icdf" else np.linspace(-3.0, 4.0, n)
    return values.reshape(shape)


def outputs(name, value):
    out = ALL_FLOAT[name](value)
    return out if isinstance(out, tuple) else (out,)


# ---------------------------------------------------------------------------------------------------------------
# shapes and dtypes
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ALL_FLOAT))
def test_float_path_keeps_a_2x3_shape_and_matches_pointwise_calls(name):
    x = sample_input(name)
    for k, out in enumerate(outputs(name, x)):
        assert isinstance(out, np.ndarray) and out.shape == (2, 3) and out.dtype == np.float64
        pointwise = np.array([outputs(name, float(v))[k] for v in x.ravel()]).reshape(2, 3)
        np.testing.assert_array_equal(out, pointwise)


@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0), (2, 0, 4)])
@pytest.mark.parametrize("name", list(ALL_FLOAT))
def test_float_path_empty_array_gives_empty_float64_of_same_shape(name, shape):
    for out in outputs(name, np.zeros(shape)):
        assert isinstance(out, np.ndarray) and out.shape == shape and out.dtype == np.float64


@pytest.mark.parametrize("name", list(ALL_FLOAT))
def test_float_path_empty_list_gives_empty_array(name):
    for out in outputs(name, []):
        assert out.shape == (0,) and out.dtype == np.float64


@pytest.mark.parametrize("scalar", [0.5, 1, np.float64(0.5), np.float32(0.5), np.int64(1), np.array(0.5)])
@pytest.mark.parametrize("name", list(ALL_FLOAT))
def test_float_path_scalar_gives_numpy_float64_scalar(name, scalar):
    for out in outputs(name, scalar):
        assert type(out) is np.float64


def test_forward_of_scalar_matches_reference():
    assert ref.scaled_ulps(FLOW.forward(0.7), ref.forward(0.7, dps=30)) <= 8
    assert ref.scaled_ulps(FLOW.forward(2), ref.forward(2, dps=30)) <= 8


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint64])
def test_integer_arrays_are_computed_as_float64(dtype):
    x = np.array([0, 1, 2, 7], dtype=dtype)
    y = FLOW.forward(x)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, FLOW.forward(x.astype(np.float64)))
    for xi, yi in zip(x, y, strict=True):
        assert ref.scaled_ulps(yi, ref.forward(int(xi), dps=30)) <= 8
    np.testing.assert_array_equal(FLOW.inverse(x), FLOW.inverse(x.astype(np.float64)))


def test_bool_arrays_are_zero_and_one():
    y = FLOW.forward(np.array([True, False]))
    assert y.dtype == np.float64
    assert ref.scaled_ulps(y[0], ref.forward(1, dps=30)) <= 8
    assert ref.scaled_ulps(y[1], ref.forward(0, dps=30)) <= 8
    np.testing.assert_array_equal(FLOW.log_prob(np.array([True, False])), FLOW.log_prob(np.array([1.0, 0.0])))
    np.testing.assert_array_equal(FLOW.icdf(np.array([False, True])), [-np.inf, np.inf])


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_low_precision_float_input_is_computed_in_float64(dtype):
    x32 = np.array([0.7, -2.25, 3.1, 1000.3], dtype=dtype)
    y = FLOW.forward(x32)
    assert y.dtype == np.float64
    for xi, yi in zip(x32, y, strict=True):
        # the exact low-precision value, mapped at float64 accuracy (float32 arithmetic would be ~1e-7 off)
        assert abs(yi - float(ref.forward(float(xi), dps=30))) <= 8 * math.ulp(max(1.0, abs(yi)))
    x = FLOW.inverse(x32)
    assert x.dtype == np.float64
    for yi, xi in zip(x32, x, strict=True):
        assert float(ref.err(xi, ref.inverse(float(yi), dps=30))) <= 1e-13 * max(1.0, abs(xi))


def test_python_list_is_accepted_like_an_array():
    np.testing.assert_array_equal(FLOW.forward([0.1, -2.0, 5.0]), FLOW.forward(np.array([0.1, -2.0, 5.0])))


# ---------------------------------------------------------------------------------------------------------------
# NaN and infinities
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ALL_FLOAT))
def test_nan_in_batch_gives_nan_without_spoiling_other_entries(name):
    clean = sample_input(name, (12,))
    dirty = clean.copy()
    dirty[[0, 5, 11]] = np.nan
    keep = ~np.isnan(dirty)
    for out_dirty, out_clean in zip(outputs(name, dirty), outputs(name, clean), strict=True):
        assert np.all(np.isnan(out_dirty[~keep]))
        np.testing.assert_array_equal(out_dirty[keep], out_clean[keep])


def test_nan_in_a_large_inverse_batch_does_not_stall_or_spoil_it():
    ys = np.linspace(-50, 50, 5001)
    ys_dirty = ys.copy()
    ys_dirty[::7] = np.nan
    x = FLOW.inverse(ys_dirty)
    assert np.all(np.isnan(x[::7]))
    mask = ~np.isnan(ys_dirty)
    np.testing.assert_array_equal(x[mask], FLOW.inverse(ys[mask]))


@pytest.mark.parametrize("name", list(ALL_FLOAT))
def test_scalar_nan_gives_nan(name):
    for out in outputs(name, float("nan")):
        assert type(out) is np.float64 and math.isnan(out)


def test_forward_and_inverse_of_infinities_are_the_same_infinities():
    for fn in (FLOW.forward, FLOW.inverse):
        assert fn(np.inf) == np.inf and fn(-np.inf) == -np.inf
        np.testing.assert_array_equal(fn(np.array([-np.inf, 0.0, np.inf]))[[0, 2]], [-np.inf, np.inf])


def test_log_prob_of_infinities_is_minus_infinity_and_log_det_is_nan():
    assert FLOW.log_prob(np.inf) == -np.inf and FLOW.log_prob(-np.inf) == -np.inf
    assert math.isnan(FLOW.log_det(np.inf)) and math.isnan(FLOW.log_det(-np.inf))
    lp = FLOW.log_prob(np.array([-np.inf, 0.3, np.inf, np.nan]))
    assert lp[0] == -np.inf and lp[2] == -np.inf and np.isfinite(lp[1]) and np.isnan(lp[3])
    ld = FLOW.log_det(np.array([-np.inf, 0.3, np.inf]))
    assert np.isnan(ld[0]) and np.isnan(ld[2]) and np.isfinite(ld[1])


def test_pair_methods_at_infinity():
    y, ld = FLOW.forward_and_log_det(np.array([np.inf, -np.inf]))
    np.testing.assert_array_equal(y, [np.inf, -np.inf])
    assert np.all(np.isnan(ld))
    x, ld = FLOW.inverse_and_log_det(np.array([np.inf, -np.inf]))
    np.testing.assert_array_equal(x, [np.inf, -np.inf])
    assert np.all(np.isnan(ld))


def test_infinities_in_a_batch_do_not_spoil_finite_entries():
    clean = np.array([-1.0, 0.25, 2.0])
    dirty = np.array([-np.inf, -1.0, 0.25, np.inf, 2.0])
    for name in ("forward", "log_det", "inverse", "log_prob", "cdf"):
        np.testing.assert_array_equal(FLOAT_METHODS[name](dirty)[[1, 2, 4]], FLOAT_METHODS[name](clean))


@pytest.mark.parametrize("K", [0, 1, 6, "2.5"])
def test_forward_and_log_det_equals_forward_and_log_det_separately(K):
    flow = chapter_flow(K)
    x = np.array([[-1e12, -3.0, -0.5, 0.0], [0.7, 2.5, np.nan, np.inf]])
    y, ld = flow.forward_and_log_det(x)
    np.testing.assert_array_equal(y, flow.forward(x))
    np.testing.assert_array_equal(ld, flow.log_det(x))
    y0, ld0 = flow.forward_and_log_det(0.7)
    assert type(y0) is np.float64 and type(ld0) is np.float64
    assert y0 == flow.forward(0.7) and ld0 == flow.log_det(0.7)


# ---------------------------------------------------------------------------------------------------------------
# invalid inputs on the float path
# ---------------------------------------------------------------------------------------------------------------

BAD_FLOAT_INPUTS = [
    "0.5",
    b"0.5",
    1 + 2j,
    np.complex128(1.0),
    np.array([1.0 + 0j]),
    np.array([0.5], dtype=object),
    np.array(["0.5"]),
    ["a", "b"],
    [0.5, "a"],
    None,
]


@pytest.mark.parametrize("bad", BAD_FLOAT_INPUTS, ids=repr)
@pytest.mark.parametrize("name", list(ALL_FLOAT))
def test_float_path_rejects_strings_complex_and_objects_with_type_error(name, bad):
    with pytest.raises(TypeError):
        ALL_FLOAT[name](bad)


# ---------------------------------------------------------------------------------------------------------------
# invalid inputs on the dps path
# ---------------------------------------------------------------------------------------------------------------

MP_METHODS = ["forward", "log_det", "forward_and_log_det", "inverse", "inverse_and_log_det", "log_prob", "cdf",
              "icdf"]


def mp_call(name, value, dps):
    return getattr(FLOW, name)(value, dps=dps)


@pytest.mark.parametrize("bad", [np.array([0.5]), np.array([[0.5, 0.6]]), [0.5], [0.5, 0.6], (0.5,)], ids=repr)
@pytest.mark.parametrize("name", MP_METHODS)
def test_arrays_and_lists_with_dps_are_type_errors(name, bad):
    with pytest.raises(TypeError):
        mp_call(name, bad, 30)


@pytest.mark.parametrize("dps", [0, -1, -50])
@pytest.mark.parametrize("name", MP_METHODS)
def test_dps_zero_or_negative_is_value_error(name, dps):
    with pytest.raises(ValueError):
        mp_call(name, "0.5", dps)


@pytest.mark.parametrize("dps", [1.5, 50.0, "50", [50]], ids=repr)
@pytest.mark.parametrize("name", MP_METHODS)
def test_dps_not_a_whole_number_is_type_error(name, dps):
    with pytest.raises(TypeError):
        mp_call(name, "0.5", dps)


@pytest.mark.parametrize("u", ["-0.1", "1.5", 2, -1, "-1e-30", "1.000000000000000000000000000001"])
def test_mp_icdf_outside_unit_interval_is_value_error(u):
    with pytest.raises(ValueError):
        FLOW.icdf(u, dps=30)


@pytest.mark.parametrize("name", MP_METHODS)
def test_mp_non_numeric_string_is_value_error(name):
    with pytest.raises(ValueError):
        mp_call(name, "abc", 30)


@pytest.mark.parametrize("bad", [None, object(), 1 + 2j], ids=repr)
@pytest.mark.parametrize("name", MP_METHODS)
def test_mp_non_number_is_type_error(name, bad):
    with pytest.raises(TypeError):
        mp_call(name, bad, 30)


def test_failing_calls_leave_global_mpmath_precision_unchanged():
    bad_calls = [
        (ValueError, lambda: FLOW.inverse("abc", dps=50)),
        (ValueError, lambda: FLOW.inverse("abc", dps=50, method="bisect")),
        (ValueError, lambda: FLOW.icdf("1.5", dps=40)),
        (ValueError, lambda: FLOW.icdf("-0.5", dps=40)),
        (ValueError, lambda: FLOW.forward("0.5", dps=0)),
        (TypeError, lambda: FLOW.forward([0.5], dps=40)),
        (TypeError, lambda: FLOW.log_prob(None, dps=40)),
        (TypeError, lambda: FLOW.cdf(np.array([1.0]), dps=40)),
        (TypeError, lambda: FLOW.inverse_and_log_det(object(), dps=40)),
        (TypeError, lambda: FLOW.log_det("0.5", dps="50")),
        (TypeError, lambda: FLOW.forward("0.5")),
    ]
    for global_dps in (15, 37):
        with mpmath.workdps(global_dps):
            prec = mpmath.mp.prec
            for exc, call in bad_calls:
                with pytest.raises(exc):
                    call()
                assert mpmath.mp.prec == prec


# ---------------------------------------------------------------------------------------------------------------
# sample arguments
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [-1, -100])
def test_sample_negative_n_is_value_error(n):
    with pytest.raises(ValueError):
        FLOW.sample(n, seed=0)


@pytest.mark.parametrize("n", [2.0, 2.5, "3", None, True, [3]], ids=repr)
def test_sample_non_integer_n_is_type_error(n):
    with pytest.raises(TypeError):
        FLOW.sample(n, seed=0)


def test_sample_accepts_numpy_integer_n():
    s = FLOW.sample(np.int64(4), seed=0)
    assert s.shape == (4,) and s.dtype == np.float64
