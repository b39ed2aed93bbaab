"""Tests of ck.max_pool2d against the float64 NumPy reference reference.max_pool2d.

Values and PyTorch-CPU int64 indices (ties -> first max, NaN propagation ->
last NaN, -inf padding, windows entirely in the padding), the values-only
path, ceil_mode shapes, edge geometries, batch 0, non-contiguous / read-only
inputs, float32/float64 and hypothesis random geometries.  Then the bad
arguments: the generic checks of x (op_checks.BAD_X_CASES) and bad
kernel_size / stride / padding / dilation.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import cnnkernels as ck
import reference
from op_checks import BAD_X_CASES, case, expect, geometry_errors, padding_errors, pool
from pool_cases import MAX_CASES, call, make
from reference import LAYOUTS, assert_close, has_empty_max_window, pool_geometries


def check_max(backend, x, dtype, **kw):
    """Values and indices against the reference; the values-only path (a different kernel) too."""
    out, idx = call(backend, ck.max_pool2d, x, return_indices=True, **kw)
    ref, ref_idx = reference.max_pool2d(x, **kw)
    assert_close(out, ref, dtype)
    assert_close(call(backend, ck.max_pool2d, x, **kw), ref, dtype)
    assert isinstance(idx, np.ndarray) and idx.dtype == np.int64
    assert idx.shape == ref_idx.shape
    np.testing.assert_array_equal(idx, ref_idx)


@pytest.mark.parametrize("kind", ["normal", "ties"])
@pytest.mark.parametrize("case", list(MAX_CASES))
def test_max_pool2d_matches_reference(backend, dtype, rng, case, kind):
    shape, kw = MAX_CASES[case]
    check_max(backend, make(rng, shape, dtype, kind), dtype, **kw)


@pytest.mark.parametrize("case", ["k3_s1_p1", "ceil_partial_window", "dilation"])
def test_max_pool2d_without_indices(backend, dtype, rng, case):
    shape, kw = MAX_CASES[case]
    x = make(rng, shape, dtype)
    out = call(backend, ck.max_pool2d, x, **kw)
    assert isinstance(out, np.ndarray)  # a plain array, not a tuple
    assert_close(out, reference.max_pool2d(x, **kw)[0], dtype)
    out2 = call(backend, ck.max_pool2d, x, return_indices=False, **kw)
    assert_close(out2, reference.max_pool2d(x, **kw)[0], dtype)


def test_max_pool2d_ceil_mode_shapes(backend, dtype):
    # shapes alone: partial window kept; window starting in the right padding dropped
    x = np.zeros((1, 1, 7, 6), dtype)
    assert call(backend, ck.max_pool2d, x, 3, 2, ceil_mode=True).shape == (1, 1, 3, 3)
    assert call(backend, ck.max_pool2d, x, 3, 2, ceil_mode=False).shape == (1, 1, 3, 2)
    x = np.zeros((1, 1, 5, 5), dtype)
    assert call(backend, ck.max_pool2d, x, 2, 2, 1, ceil_mode=True).shape == (1, 1, 3, 3)


def test_max_pool2d_padding_is_minus_infinity(backend, dtype, rng):
    # all-negative input: zero padding would give 0 at the borders
    x = (-1.0 - rng.random((2, 2, 5, 6))).astype(dtype)
    kw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)
    check_max(backend, x, dtype, **kw)
    out = call(backend, ck.max_pool2d, x, **kw)
    assert (out < 0).all()


def test_max_pool2d_nan_propagates_last_nan_index(backend, dtype, rng):
    x = make(rng, (2, 3, 7, 7), dtype, "ties")
    x[rng.random(x.shape) < 0.1] = np.nan
    x[0, 0, 1, :] = np.nan  # a whole row: windows with several NaNs
    for kw in (dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)):
        check_max(backend, x, dtype, **kw)


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_max_pool2d_wide_rows_ties_and_nans(backend, dtype, rng, stride):
    # rows wide enough for the vectorised argmax passes (4 columns at a time, stride-2 loads), with ties,
    # NaNs and padding
    x = make(rng, (2, 3, 19, 37), dtype, "ties")
    x[rng.random(x.shape) < 0.05] = np.nan
    for kw in (dict(kernel_size=3, stride=stride, padding=1), dict(kernel_size=(2, 4), stride=stride)):
        check_max(backend, x, dtype, **kw)


@pytest.mark.parametrize("shape", [(2, 3, 10, 19), (1, 2, 28, 28), (1, 1, 5, 7)])
def test_max_pool2d_plain_2x2_ties_and_nans_at_every_tap(backend, dtype, rng, shape):
    # 2x2 at stride 2 without padding (LeNet's) has its own path, 4 outputs at a time for float32 with a
    # scalar tail (odd sizes leave a last row and column out): ties, and NaNs on each of the four taps,
    # one or several per window
    x = make(rng, shape, dtype, "ties")
    for tap, (dh, dw) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        x[:, tap % shape[1], dh::4, dw::6] = np.nan
    x[0, 0, :2, :4] = np.nan  # whole windows of NaNs
    check_max(backend, x, dtype, kernel_size=2)
    check_max(backend, x, dtype, kernel_size=2, stride=2, ceil_mode=True)


def test_max_pool2d_nan_exact_example(backend, dtype):
    x = np.array([1.0, np.nan, 3.0, np.nan, 2.0], dtype).reshape(1, 1, 1, 5)
    out, idx = call(backend, ck.max_pool2d, x, (1, 5), return_indices=True)
    assert np.isnan(out).all() and out.shape == (1, 1, 1, 1)
    assert idx.tolist() == [[[[3]]]]  # the last NaN


def test_max_pool2d_ties_first_index_exact_example(backend, dtype):
    x = np.array([[0, 5, 5], [5, 1, 5]], dtype).reshape(1, 1, 2, 3)
    out, idx = call(backend, ck.max_pool2d, x, (2, 3), return_indices=True)
    assert out.tolist() == [[[[5.0]]]]
    assert idx.tolist() == [[[[1]]]]
    # index counts over the unpadded input: h*W + w with W = 3
    out, idx = call(backend, ck.max_pool2d, x, 2, 1, 1, return_indices=True)
    ref, ref_idx = reference.max_pool2d(x, 2, 1, 1)
    assert_close(out, ref, dtype)
    np.testing.assert_array_equal(idx, ref_idx)


def test_max_pool2d_all_minus_infinity(backend, dtype):
    # the running max starts at the first in-bounds tap, so all -inf windows
    # report that tap's index
    x = np.full((1, 2, 3, 4), -np.inf, dtype)
    kw = dict(kernel_size=3, stride=1, padding=1)
    out, idx = call(backend, ck.max_pool2d, x, return_indices=True, **kw)
    assert np.isneginf(out).all() and out.shape == (1, 2, 3, 4)
    np.testing.assert_array_equal(idx, reference.max_pool2d(x, **kw)[1])
    assert idx[0, 0].tolist() == [[0, 0, 1, 2], [0, 0, 1, 2], [4, 4, 5, 6]]


def test_max_pool2d_infinities(backend, dtype, rng):
    x = make(rng, (1, 2, 6, 6), dtype)
    x[rng.random(x.shape) < 0.2] = np.inf
    x[rng.random(x.shape) < 0.2] = -np.inf
    check_max(backend, x, dtype, kernel_size=2, stride=1, padding=1)


@pytest.mark.parametrize("case", ["k2", "k3_s1_p1", "dilation_rect_ceil"])
def test_max_pool2d_batch_zero(backend, dtype, case):
    shape, kw = MAX_CASES[case]
    x = np.zeros((0,) + shape[1:], dtype)
    _, ref_idx = reference.max_pool2d(x, **kw)
    out, idx = call(backend, ck.max_pool2d, x, return_indices=True, **kw)
    assert out.shape == ref_idx.shape and out.dtype == dtype
    assert idx.shape == ref_idx.shape and idx.dtype == np.int64
    assert call(backend, ck.max_pool2d, x, **kw).shape == ref_idx.shape


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_max_pool2d_noncontiguous(backend, dtype, rng, layout):
    x = LAYOUTS[layout](rng, (2, 3, 7, 6), dtype)
    check_max(backend, x, dtype, kernel_size=(3, 2), stride=(2, 1), padding=1, ceil_mode=True)


def test_max_pool2d_readonly(backend, dtype, rng):
    x = make(rng, (2, 2, 5, 5), dtype)
    x.setflags(write=False)
    check_max(backend, x, dtype, kernel_size=3, stride=2, padding=1)


@settings(max_examples=50, deadline=None)
@given(geo=pool_geometries(dilation=True), kind=st.sampled_from(["normal", "ties"]), use_f64=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_max_pool2d_random_geometry(backend, geo, kind, use_f64, seed):
    shape, kw = geo
    assume(not has_empty_max_window(shape[2], shape[3], **kw))
    dtype = np.dtype(np.float64 if use_f64 else np.float32)
    check_max(backend, make(np.random.default_rng(seed), shape, dtype, kind), dtype, **kw)


def test_max_pool2d_window_entirely_in_padding_gives_minus_inf_and_index_minus_one():
    # W=1, k=2, padding 1, dilation 2: output column 0 taps columns -1 and 1, both outside the image.
    x = np.arange(3, dtype=np.float64).reshape(1, 1, 3, 1)
    y, idx = ck.max_pool2d(x, (1, 2), stride=1, padding=(0, 1), dilation=(1, 2), return_indices=True)
    assert y.shape == (1, 1, 3, 1)
    assert np.all(np.isneginf(y)) and np.all(idx == -1)


# --------------------------------------------------------------------------
# bad arguments
# --------------------------------------------------------------------------

MAX_ERRORS = geometry_errors("max_pool2d") + padding_errors("max_pool2d") + [
    case("dilation_float", TypeError, "dilation", pool("max_pool2d", 2, dilation=1.5)),
    case("dilation_bool", TypeError, "dilation", pool("max_pool2d", 2, dilation=True)),
    case("dilation_zero", ValueError, "dilation", pool("max_pool2d", 2, dilation=0)),
    case("dilation_negative", ValueError, "dilation", pool("max_pool2d", 2, dilation=(1, -1))),
    case("dilation_len3", ValueError, "dilation", pool("max_pool2d", 2, dilation=(1, 1, 1))),
    case("dilated_kernel_larger_than_input", ValueError, r"kernel|dilation", pool("max_pool2d", 3, dilation=3)),
]


@pytest.mark.parametrize("check_x", BAD_X_CASES)
def test_max_pool2d_bad_x(backend, check_x):
    check_x(backend, "max_pool2d")


@pytest.mark.parametrize("fn,exc,match", MAX_ERRORS)
def test_max_pool2d_bad_arguments(backend, fn, exc, match):
    expect(backend, fn, exc, match)
