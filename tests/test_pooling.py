"""Tests of the pooling ops against the float64 NumPy references in reference.py.

ck.max_pool2d (values and PyTorch-CPU int64 indices: ties -> first max, NaN
propagation -> last NaN, -inf padding), ck.avg_pool2d (count_include_pad,
ceil_mode divisors), ck.lp_pool2d (p = 1, 2, 3, 1.5, clamp of negative sums,
partial ceil_mode windows summing only the elements present) and
ck.feature_lp_pool (Lp pooling across channels).  Edge geometries, batch 0,
non-contiguous / read-only inputs, float32/float64, and hypothesis random
geometries for max and avg pooling.  Also a self-check of the pooling
references against per-pixel loops.
"""

import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import cnnkernels as ck
from reference import (
    LAYOUTS,
    assert_close,
    assert_unchanged,
    avg_pool2d_ref,
    feature_lp_pool_ref,
    has_empty_max_window,
    lp_pool2d_ref,
    max_pool2d_ref,
    pool_geometries,
    pool_out_size,
    snapshot,
)


def make(rng, shape, dtype, kind="normal"):
    if kind == "normal":
        x = rng.standard_normal(shape)
    elif kind == "ties":  # small integers: many ties inside windows
        x = rng.integers(-2, 3, size=shape)
    elif kind == "nonneg":
        x = rng.random(shape)
    else:
        raise AssertionError(kind)
    return x.astype(dtype)


def call(backend, fn, x, *args, **kw):
    """fn(backend x, ...) -> result converted to NumPy; checks x is unchanged."""
    xb = backend.asarray(x)
    before = snapshot(x)
    out = fn(xb, *args, **kw)
    assert_unchanged(before, [backend.to_numpy(xb)])
    if isinstance(out, tuple):
        return tuple(backend.to_numpy(o) for o in out)
    return backend.to_numpy(out)


def check_max(backend, x, dtype, **kw):
    """Values and indices against the reference; the values-only path (a different kernel) too."""
    out, idx = call(backend, ck.max_pool2d, x, return_indices=True, **kw)
    ref, ref_idx = max_pool2d_ref(x, **kw)
    assert_close(out, ref, dtype)
    assert_close(call(backend, ck.max_pool2d, x, **kw), ref, dtype)
    assert isinstance(idx, np.ndarray) and idx.dtype == np.int64
    assert idx.shape == ref_idx.shape
    np.testing.assert_array_equal(idx, ref_idx)


# ==========================================================================
# max_pool2d
# ==========================================================================

# name -> (x shape, kwargs)
MAX_CASES = {
    "k2": ((2, 3, 6, 6), dict(kernel_size=2)),
    "1x1_input": ((1, 2, 1, 1), dict(kernel_size=1)),
    "1x1_input_k2_pad1": ((1, 2, 1, 1), dict(kernel_size=2, padding=1)),
    "kernel_equals_input": ((2, 2, 5, 4), dict(kernel_size=(5, 4))),
    "kernel_equals_padded_input": ((1, 2, 3, 3), dict(kernel_size=5, padding=1)),
    "k3_s1_p1": ((1, 2, 5, 5), dict(kernel_size=3, stride=1, padding=1)),
    "stride_gt_kernel": ((1, 2, 9, 8), dict(kernel_size=2, stride=3)),
    "stride_gt_input": ((1, 2, 4, 4), dict(kernel_size=2, stride=5)),
    "rect": ((1, 2, 7, 5), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))),
    "lists": ((1, 1, 6, 6), dict(kernel_size=[2, 3], stride=[1, 2], padding=[1, 1])),
    "dilation": ((1, 2, 7, 7), dict(kernel_size=3, stride=1, padding=1, dilation=2)),
    "dilation_rect_ceil": ((1, 2, 9, 8), dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 1), dilation=(3, 2), ceil_mode=True)),
    "ceil_partial_window": ((1, 2, 7, 6), dict(kernel_size=3, stride=2, ceil_mode=True)),
    "ceil_last_window_dropped": ((1, 2, 5, 5), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),
    "ceil_rect_pad": ((1, 2, 8, 8), dict(kernel_size=(3, 4), stride=(3, 3), padding=(1, 2), ceil_mode=True)),
    "odd_batch5": ((5, 3, 5, 7), dict(kernel_size=3, stride=2, padding=1)),
}


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
    assert_close(out, max_pool2d_ref(x, **kw)[0], dtype)
    out2 = call(backend, ck.max_pool2d, x, return_indices=False, **kw)
    assert_close(out2, max_pool2d_ref(x, **kw)[0], dtype)


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
    ref, ref_idx = max_pool2d_ref(x, 2, 1, 1)
    assert_close(out, ref, dtype)
    np.testing.assert_array_equal(idx, ref_idx)


def test_max_pool2d_all_minus_infinity(backend, dtype):
    # the running max starts at the first in-bounds tap, so all -inf windows
    # report that tap's index
    x = np.full((1, 2, 3, 4), -np.inf, dtype)
    kw = dict(kernel_size=3, stride=1, padding=1)
    out, idx = call(backend, ck.max_pool2d, x, return_indices=True, **kw)
    assert np.isneginf(out).all() and out.shape == (1, 2, 3, 4)
    np.testing.assert_array_equal(idx, max_pool2d_ref(x, **kw)[1])
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
    _, ref_idx = max_pool2d_ref(x, **kw)
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


# ==========================================================================
# avg_pool2d
# ==========================================================================

AVG_CASES = {
    "k2": ((2, 3, 6, 6), dict(kernel_size=2)),
    "1x1_input": ((1, 2, 1, 1), dict(kernel_size=1)),
    "1x1_input_k3_pad1": ((1, 2, 1, 1), dict(kernel_size=3, padding=1, stride=1)),
    "kernel_equals_input": ((2, 2, 5, 4), dict(kernel_size=(5, 4))),
    "k3_s1_p1": ((1, 2, 5, 5), dict(kernel_size=3, stride=1, padding=1)),
    "stride_gt_kernel": ((1, 2, 9, 8), dict(kernel_size=2, stride=3)),
    "rect": ((1, 2, 7, 5), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1))),
    "ceil_partial_window": ((1, 2, 7, 6), dict(kernel_size=3, stride=2, ceil_mode=True)),
    "ceil_window_past_padding": ((1, 2, 6, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    "ceil_last_window_dropped": ((1, 2, 5, 5), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),
    "ceil_rect_pad": ((1, 2, 8, 8), dict(kernel_size=(3, 4), stride=(3, 3), padding=(1, 2), ceil_mode=True)),
    "odd_batch5": ((5, 3, 5, 7), dict(kernel_size=3, stride=2, padding=1)),
}


@pytest.mark.parametrize("count_include_pad", [True, False], ids=["cip", "nocip"])
@pytest.mark.parametrize("case", list(AVG_CASES))
def test_avg_pool2d_matches_reference(backend, dtype, rng, case, count_include_pad):
    shape, kw = AVG_CASES[case]
    x = make(rng, shape, dtype)
    out = call(backend, ck.avg_pool2d, x, count_include_pad=count_include_pad, **kw)
    assert_close(out, avg_pool2d_ref(x, count_include_pad=count_include_pad, **kw), dtype)


def test_avg_pool2d_divisors_exact_example(backend, dtype):
    # ones in, so the output is (in-bounds count) / divisor
    x = np.ones((1, 1, 6, 6), dtype)
    kw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)  # 4 windows per dim
    cip = call(backend, ck.avg_pool2d, x, count_include_pad=True, **kw)
    # per dim: windows [-1,2) [1,4) [3,6) [5,8)->clipped to padded border [5,7)
    # in-bounds counts 2,3,3,1; divisors with padding 3,3,3,2
    r = np.array([2 / 3, 1, 1, 1 / 2])
    assert_close(cip, np.outer(r, r)[None, None], dtype)
    nocip = call(backend, ck.avg_pool2d, x, count_include_pad=False, **kw)
    assert_close(nocip, np.ones((1, 1, 4, 4)), dtype)


def test_avg_pool2d_defaults(backend, dtype, rng):
    x = make(rng, (2, 2, 6, 7), dtype)
    out = call(backend, ck.avg_pool2d, x, 3)  # stride = kernel_size, count_include_pad=True
    assert_close(out, avg_pool2d_ref(x, 3, 3), dtype)
    out = call(backend, ck.avg_pool2d, x, (2, 3), None, 1)
    assert_close(out, avg_pool2d_ref(x, (2, 3), (2, 3), 1, count_include_pad=True), dtype)


@pytest.mark.parametrize("case", ["k2", "k3_s1_p1", "ceil_window_past_padding"])
def test_avg_pool2d_batch_zero(backend, dtype, case):
    shape, kw = AVG_CASES[case]
    x = np.zeros((0,) + shape[1:], dtype)
    out = call(backend, ck.avg_pool2d, x, **kw)
    assert out.shape == avg_pool2d_ref(x, **kw).shape and out.dtype == dtype


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_avg_pool2d_noncontiguous(backend, dtype, rng, layout):
    x = LAYOUTS[layout](rng, (2, 3, 7, 6), dtype)
    kw = dict(kernel_size=(3, 2), stride=(2, 1), padding=1, ceil_mode=True, count_include_pad=False)
    assert_close(call(backend, ck.avg_pool2d, x, **kw), avg_pool2d_ref(x, **kw), dtype)


def test_avg_pool2d_readonly(backend, dtype, rng):
    x = make(rng, (2, 2, 5, 5), dtype)
    x.setflags(write=False)
    assert_close(call(backend, ck.avg_pool2d, x, 3, 2, 1), avg_pool2d_ref(x, 3, 2, 1), dtype)


@settings(max_examples=50, deadline=None)
@given(geo=pool_geometries(dilation=False), cip=st.booleans(), use_f64=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_avg_pool2d_random_geometry(backend, geo, cip, use_f64, seed):
    shape, kw = geo
    dtype = np.dtype(np.float64 if use_f64 else np.float32)
    x = make(np.random.default_rng(seed), shape, dtype)
    out = call(backend, ck.avg_pool2d, x, count_include_pad=cip, **kw)
    assert_close(out, avg_pool2d_ref(x, count_include_pad=cip, **kw), dtype)


# ==========================================================================
# lp_pool2d
# ==========================================================================

LP_CASES = {
    "k2": ((2, 3, 6, 6), dict(kernel_size=2)),
    "1x1_input": ((1, 2, 1, 1), dict(kernel_size=1)),
    "kernel_equals_input": ((2, 2, 5, 4), dict(kernel_size=(5, 4))),
    "k3_s1": ((1, 2, 5, 6), dict(kernel_size=3, stride=1)),
    "stride_gt_kernel": ((1, 2, 9, 8), dict(kernel_size=2, stride=3)),
    "rect": ((1, 2, 7, 5), dict(kernel_size=(3, 2), stride=(2, 1))),
    "ceil_partial_windows": ((1, 2, 7, 6), dict(kernel_size=3, stride=2, ceil_mode=True)),
    "ceil_partial_rect": ((2, 1, 5, 7), dict(kernel_size=(2, 3), stride=(2, 3), ceil_mode=True)),
    "odd_batch5": ((5, 3, 5, 7), dict(kernel_size=3, stride=2)),
}

# (norm_type, data kind): p=1.5 only on non-negative data; p=3 mixed-sign on
# small integers so that sums that cancel are exactly 0 (the cube root is
# ill-conditioned near 0)
LP_P_KINDS = [(1, "nonneg"), (1, "normal"), (2, "nonneg"), (2, "normal"), (3, "nonneg"), (3, "ties"), (1.5, "nonneg")]


@pytest.mark.parametrize("p,kind", LP_P_KINDS, ids=[f"p{p}-{k}" for p, k in LP_P_KINDS])
@pytest.mark.parametrize("case", list(LP_CASES))
def test_lp_pool2d_matches_reference(backend, dtype, rng, case, p, kind):
    shape, kw = LP_CASES[case]
    x = make(rng, shape, dtype, kind)
    out = call(backend, ck.lp_pool2d, x, p, **kw)
    assert_close(out, lp_pool2d_ref(x, p, **kw), dtype)


def test_lp_pool2d_partial_window_sums_only_present_elements(backend, dtype):
    x = np.ones((1, 1, 3, 3), dtype)
    out = call(backend, ck.lp_pool2d, x, 1, 2, ceil_mode=True)
    # windows hold 4, 2, 2, 1 elements; no rescaling to the full window
    assert_close(out, np.array([[4.0, 2.0], [2.0, 1.0]])[None, None], dtype)
    out = call(backend, ck.lp_pool2d, x, 2, 2, ceil_mode=True)
    assert_close(out, np.sqrt(np.array([[4.0, 2.0], [2.0, 1.0]]))[None, None], dtype)


def test_lp_pool2d_negative_sums_clamped_to_zero(backend, dtype, rng):
    x = -make(rng, (2, 2, 4, 4), dtype, "nonneg") - 0.5
    for p in (1, 3):
        out = call(backend, ck.lp_pool2d, x, p, 2)
        assert_close(out, np.zeros((2, 2, 2, 2)), dtype)  # exact zeros
    x = np.array([[1, -2], [1, 0]], dtype).reshape(1, 1, 2, 2)
    assert_close(call(backend, ck.lp_pool2d, x, 3, 2), np.zeros((1, 1, 1, 1)), dtype)
    x[0, 0, 1, 1] = 2  # sum of cubes 1 - 8 + 1 + 8 = 2
    assert_close(call(backend, ck.lp_pool2d, x, 3, 2), np.full((1, 1, 1, 1), 2 ** (1 / 3)), dtype)


def test_lp_pool2d_int_and_float_norm_type_agree(backend, dtype, rng):
    x = make(rng, (1, 2, 6, 6), dtype)
    ref = lp_pool2d_ref(x, 2, 3)
    assert_close(call(backend, ck.lp_pool2d, x, 2, 3), ref, dtype)
    assert_close(call(backend, ck.lp_pool2d, x, 2.0, 3, None), ref, dtype)
    assert_close(call(backend, ck.lp_pool2d, x, 2.0, 3, 3, False), ref, dtype)


@pytest.mark.parametrize("case", ["k2", "ceil_partial_windows", "rect"])
def test_lp_pool2d_batch_zero(backend, dtype, case):
    shape, kw = LP_CASES[case]
    x = np.zeros((0,) + shape[1:], dtype)
    out = call(backend, ck.lp_pool2d, x, 2, **kw)
    assert out.shape == lp_pool2d_ref(x, 2, **kw).shape and out.dtype == dtype


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_lp_pool2d_noncontiguous(backend, dtype, rng, layout):
    x = LAYOUTS[layout](rng, (2, 3, 7, 6), dtype)
    np.abs(x, out=x)  # in place, keeps the layout
    kw = dict(kernel_size=(3, 2), stride=(2, 1), ceil_mode=True)
    assert_close(call(backend, ck.lp_pool2d, x, 1.5, **kw), lp_pool2d_ref(x, 1.5, **kw), dtype)


# ==========================================================================
# feature_lp_pool
# ==========================================================================

# (C, width, stride): default stride, overlapping, gaps, width == C, width 1
FEATURE_CASES = [(4, 2, None), (5, 2, 1), (7, 2, 3), (3, 3, None), (3, 1, None), (6, 4, 2), (5, 1, 2)]


@pytest.mark.parametrize("p,kind", LP_P_KINDS, ids=[f"p{p}-{k}" for p, k in LP_P_KINDS])
@pytest.mark.parametrize("C,width,stride", FEATURE_CASES)
def test_feature_lp_pool_matches_reference(backend, dtype, rng, C, width, stride, p, kind):
    x = make(rng, (2, C, 3, 4), dtype, kind)
    out = call(backend, ck.feature_lp_pool, x, p, width, stride)
    ref = feature_lp_pool_ref(x, p, width, stride)
    assert ref.shape == (2, (C - width) // (stride or width) + 1, 3, 4)
    assert_close(out, ref, dtype)


def test_feature_lp_pool_default_stride_is_width(backend, dtype, rng):
    x = make(rng, (2, 6, 2, 3), dtype, "nonneg")
    out = call(backend, ck.feature_lp_pool, x, 2, 3)
    x64 = x.astype(np.float64)
    expected = np.stack([np.sqrt((x64[:, 0:3] ** 2).sum(1)), np.sqrt((x64[:, 3:6] ** 2).sum(1))], axis=1)
    assert_close(out, expected, dtype)


def test_feature_lp_pool_shapes(backend, dtype):
    for (N, C, H, W), width, stride in itertools.product([(1, 1, 1, 1), (5, 7, 2, 1), (0, 4, 3, 3)], [1, 2, 4], [None, 1, 3]):
        if width > C:
            continue
        x = np.ones((N, C, H, W), dtype)
        out = call(backend, ck.feature_lp_pool, x, 2, width, stride)
        s = width if stride is None else stride
        assert out.shape == (N, (C - width) // s + 1, H, W) and out.dtype == dtype
        assert_close(out, np.full(out.shape, np.sqrt(width)), dtype)


def test_feature_lp_pool_negative_sums_clamped(backend, dtype):
    x = np.array([1, -2, 2, -1], dtype).reshape(1, 4, 1, 1)
    out = call(backend, ck.feature_lp_pool, x, 3, 2)  # sums of cubes: -7, 7
    assert_close(out, np.array([0.0, 7 ** (1 / 3)]).reshape(1, 2, 1, 1), dtype)
    out = call(backend, ck.feature_lp_pool, x, 1, 2, 1)  # sums: -1, 0, 1
    assert_close(out, np.array([0.0, 0.0, 1.0]).reshape(1, 3, 1, 1), dtype)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_feature_lp_pool_noncontiguous(backend, dtype, rng, layout):
    x = LAYOUTS[layout](rng, (2, 5, 4, 3), dtype)
    assert_close(call(backend, ck.feature_lp_pool, x, 2, 2, 1), feature_lp_pool_ref(x, 2, 2, 1), dtype)


def test_feature_lp_pool_readonly(backend, dtype, rng):
    x = make(rng, (2, 4, 3, 3), dtype)
    x.setflags(write=False)
    assert_close(call(backend, ck.feature_lp_pool, x, 2, 2), feature_lp_pool_ref(x, 2, 2), dtype)


# ==========================================================================
# self-check of the pooling references (no cnnkernels involved)
# ==========================================================================


def _naive_pool(x, k, s, p, d, ceil_mode, reduce):
    """reduce(list of (value, flat index) of in-bounds taps in row-major order, padded-window size)."""
    N, C, H, W = x.shape
    P = pool_out_size(H, k[0], s[0], p[0], d[0], ceil_mode)
    Q = pool_out_size(W, k[1], s[1], p[1], d[1], ceil_mode)
    out = np.zeros((N, C, P, Q))
    for n, c, i, j in itertools.product(range(N), range(C), range(P), range(Q)):
        taps = []
        for a, b in itertools.product(range(k[0]), range(k[1])):
            h, w = i * s[0] - p[0] + a * d[0], j * s[1] - p[1] + b * d[1]
            if 0 <= h < H and 0 <= w < W:
                taps.append((x[n, c, h, w], h * W + w))
        hs, ws = i * s[0] - p[0], j * s[1] - p[1]
        padded = (min(hs + k[0], H + p[0]) - hs) * (min(ws + k[1], W + p[1]) - ws)
        out[n, c, i, j] = reduce(taps, padded)
    return out


@pytest.mark.parametrize("case", ["k3_s1_p1", "rect", "ceil_partial_window", "ceil_last_window_dropped", "ceil_rect_pad", "dilation_rect_ceil"])
def test_reference_pools_match_naive_loops(rng, case):
    shape, kw = MAX_CASES[case]
    x = rng.integers(-2, 3, size=shape).astype(np.float64)
    k = np.broadcast_to(kw["kernel_size"], 2)
    s = np.broadcast_to(kw.get("stride", kw["kernel_size"]), 2)
    p = np.broadcast_to(kw.get("padding", 0), 2)
    d = np.broadcast_to(kw.get("dilation", 1), 2)
    cm = kw.get("ceil_mode", False)

    def first_max(taps, _):
        best = taps[0]
        for t in taps[1:]:
            if t[0] > best[0]:
                best = t
        return best[1]

    out, idx = max_pool2d_ref(x, **kw)
    np.testing.assert_array_equal(idx, _naive_pool(x, k, s, p, d, cm, first_max))
    np.testing.assert_array_equal(out, _naive_pool(x, k, s, p, d, cm, lambda t, _: max(v for v, _ in t)))
    if "dilation" not in kw:
        avg = _naive_pool(x, k, s, p, d, cm, lambda t, n: sum(v for v, _ in t) / n)
        np.testing.assert_allclose(avg_pool2d_ref(x, count_include_pad=True, **kw), avg, rtol=1e-12)
        avg = _naive_pool(x, k, s, p, d, cm, lambda t, n: sum(v for v, _ in t) / len(t))
        np.testing.assert_allclose(avg_pool2d_ref(x, count_include_pad=False, **kw), avg, rtol=1e-12)
    if not p.any():
        lp = _naive_pool(x, k, s, p, d, cm, lambda t, n: max(sum(v ** 3 for v, _ in t), 0) ** (1 / 3))
        lp_ref = lp_pool2d_ref(x, 3, k.tolist(), s.tolist(), cm)
        assert lp_ref.shape == lp.shape
        np.testing.assert_allclose(lp_ref, lp, rtol=1e-12)


def test_max_pool2d_window_entirely_in_padding_gives_minus_inf_and_index_minus_one():
    # W=1, k=2, padding 1, dilation 2: output column 0 taps columns -1 and 1, both outside the image.
    x = np.arange(3, dtype=np.float64).reshape(1, 1, 3, 1)
    y, idx = ck.max_pool2d(x, (1, 2), stride=1, padding=(0, 1), dilation=(1, 2), return_indices=True)
    assert y.shape == (1, 1, 3, 1)
    assert np.all(np.isneginf(y)) and np.all(idx == -1)
