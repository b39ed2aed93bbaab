"""Tests of the pooling gradients: ck.max_pool2d_backward, ck.avg_pool2d_backward, ck.lp_pool2d_backward
and ck.feature_lp_pool_backward.

Each gradient is checked in float64 against central finite differences of the float64 forward in
reference.py (reference.numerical_grad; max pooling on distinct values, so no argmax moves), and in
float32 and float64 against the explicit references reference.<op>_backward, on edge geometries: 1x1
inputs, kernel equal to the (padded) input, stride larger than the kernel or the input, overlapping
windows (which accumulate), dilation, ceil_mode partial windows, odd sizes, batch 9 (more than the
threads), channel counts off the vector widths. Max pooling also: ties (first maximum), NaN (the last
NaN), infinities, windows entirely in the padding, given `indices` (used as given), constant inputs.
Avg: count_include_pad and divisor_override. Lp: norm types 1, 2, 3, 1.5, sums <= 0 (gradient 0),
partial windows summing what they have. Avg and Lp also on rows wide enough for the gather row pass's
vector blocks (column strides 1 and 2) and its edges, max on those rows through its one-pass 2x2 / 3x3
argmax. Every op: the same bits for 1, 2 and 3 threads.
Then batch 0, non-contiguous / read-only inputs, torch autograd for every option (skipped without torch),
and the bad arguments (grad_out's shape and dtype, indices, the forward's own checks).
"""

import re
import zlib

import numpy as np
import pytest

import reference
from pool_cases import LP_P_KINDS, MAX_CASES, make
from reference import LAYOUTS, assert_close, assert_unchanged, has_empty_max_window, snapshot

F64 = np.dtype(np.float64)
FD_TOL_LINEAR = 1e-7  # max / avg pooling are (piecewise) linear: central differences are exact up to rounding
FD_TOL = 1e-6  # lp pooling, with h = 1e-6


def run(backend, op, go, x, *args, **kw):
    """ck.<op>(grad_out, x, ...) through the backend; checks that no input was modified."""
    arrays = [go, x] + ([kw["indices"]] if isinstance(kw.get("indices"), np.ndarray) else [])
    before = snapshot(*arrays)
    gb, xb = backend.asarray(go), backend.asarray(x)
    if isinstance(kw.get("indices"), np.ndarray):
        kw = dict(kw, indices=backend.asarray(kw["indices"]))
    out = getattr(backend.ck, op)(gb, xb, *args, **kw)
    after = [backend.to_numpy(gb), backend.to_numpy(xb)]
    if len(arrays) == 3:
        after.append(backend.to_numpy(kw["indices"]))
    assert_unchanged(before, after)
    return backend.to_numpy(out)


def distinct(rng, shape, dtype=F64):
    """Distinct values 0.25 apart (exact in float32): no ties, and a step of 1e-3 moves no argmax."""
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.25).reshape(shape).astype(dtype)


def seeded(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


def check(got, expected, dtype, tol=None, what="gradient"):
    try:
        assert_close(got, expected, dtype, tol)
    except AssertionError as e:
        raise AssertionError(f"{what}: {e}") from None


# ==========================================================================
# max_pool2d_backward
# ==========================================================================

MAX_BW_CASES = dict(MAX_CASES)
MAX_BW_CASES.update({
    "batch9_channels5": ((9, 5, 4, 5), dict(kernel_size=3, stride=2, padding=1)),
    "overlap_k3_s1": ((2, 3, 6, 5), dict(kernel_size=3, stride=1)),
    "overlap_rect_dilated": ((1, 3, 8, 7), dict(kernel_size=(2, 3), stride=1, padding=(1, 1), dilation=(2, 1))),
    "ceil_dilated_strided": ((1, 2, 8, 7), dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)),
    "k1_s2": ((1, 3, 5, 5), dict(kernel_size=1, stride=2)),
    "channels_17": ((1, 17, 4, 4), dict(kernel_size=2, stride=1)),
})
# shapes for the (slow) finite differences: the big ones shrunk
MAX_BW_CASES["odd_batch5"] = ((5, 3, 5, 4), MAX_CASES["odd_batch5"][1])


def max_grad_out(rng, shape, kw, dtype=F64):
    P_Q = reference.max_pool2d(np.zeros(shape), **kw)[0].shape
    return rng.standard_normal(P_Q).astype(dtype)


_MAX_FD = {}


def max_fd_problem(case):
    if case not in _MAX_FD:
        shape, kw = MAX_BW_CASES[case]
        rng = seeded(case)
        x = distinct(rng, shape)
        go = max_grad_out(rng, shape, kw)
        fd = reference.numerical_grad(lambda v: reference.max_pool2d(v, **kw)[0], x, go, h=1e-3, independent=(0, 1))
        _MAX_FD[case] = (x, go, fd)
    return _MAX_FD[case]


@pytest.mark.parametrize("case", list(MAX_BW_CASES))
def test_max_pool2d_backward_matches_finite_differences(backend, case):
    shape, kw = MAX_BW_CASES[case]
    x, go, fd = max_fd_problem(case)
    check(reference.max_pool2d_backward(go, x, **kw), fd, F64, FD_TOL_LINEAR, "reference.max_pool2d_backward")
    check(run(backend, "max_pool2d_backward", go, x, **kw), fd, F64, FD_TOL_LINEAR)


@pytest.mark.parametrize("use_indices", [False, True], ids=["argmax", "indices"])
@pytest.mark.parametrize("kind", ["normal", "ties"])
@pytest.mark.parametrize("case", list(MAX_BW_CASES))
def test_max_pool2d_backward_matches_reference(backend, dtype, rng, case, kind, use_indices):
    shape, kw = MAX_BW_CASES[case]
    x = make(rng, shape, dtype, kind)
    go = max_grad_out(rng, shape, kw, dtype)
    extra = {}
    if use_indices:
        extra["indices"] = backend.to_numpy(backend.ck.max_pool2d(backend.asarray(x), return_indices=True, **kw)[1])
    out = run(backend, "max_pool2d_backward", go, x, **kw, **extra)
    check(out, reference.max_pool2d_backward(go, x, **kw), dtype)


def test_max_pool2d_backward_reference_indices_agree(rng):
    # the reference's own window scan against reference.max_pool2d's indices (ties, NaN)
    for case in ("k3_s1_p1", "dilation_rect_ceil", "ceil_rect_pad"):
        shape, kw = MAX_BW_CASES[case]
        x = make(rng, shape, F64, "ties")
        x[rng.random(shape) < 0.1] = np.nan
        go = max_grad_out(rng, shape, kw)
        idx = reference.max_pool2d(x, **kw)[1]
        np.testing.assert_array_equal(reference.max_pool2d_backward(go, x, **kw),
                                      reference.max_pool2d_backward(go, x, **kw, indices=idx))


def test_max_pool2d_backward_ties_go_to_first_maximum(backend, dtype):
    x = np.array([[0, 5, 5], [5, 1, 5]], dtype).reshape(1, 1, 2, 3)
    go = np.full((1, 1, 1, 1), 2.0, dtype)
    out = run(backend, "max_pool2d_backward", go, x, (2, 3))
    assert out.tolist() == [[[[0, 2, 0], [0, 0, 0]]]]


def test_max_pool2d_backward_constant_input(backend, dtype):
    # every window's first in-bounds tap takes the gradient; overlapping windows add up
    x = np.full((2, 3, 5, 6), 1.5, dtype)
    kw = dict(kernel_size=3, stride=1, padding=1)
    go = np.ones((2, 3, 5, 6), dtype)
    out = run(backend, "max_pool2d_backward", go, x, **kw)
    check(out, reference.max_pool2d_backward(go, x, **kw), dtype)
    # first taps: row max(p-1, 0), column max(q-1, 0): rows/cols 0 get 2 windows, the last gets none
    rows = np.array([2, 1, 1, 1, 0])
    cols = np.array([2, 1, 1, 1, 1, 0])
    assert out[0, 0].tolist() == np.outer(rows, cols).tolist()
    assert out.sum() == go.sum()


def test_max_pool2d_backward_nan_goes_to_last_nan(backend, dtype):
    x = np.array([1.0, np.nan, 3.0, np.nan, 2.0], dtype).reshape(1, 1, 1, 5)
    go = np.full((1, 1, 1, 1), 3.0, dtype)
    out = run(backend, "max_pool2d_backward", go, x, (1, 5))
    assert out.tolist() == [[[[0, 0, 0, 3, 0]]]]
    out = run(backend, "max_pool2d_backward", go, x[..., :3], (1, 3))  # one NaN beats a larger later value
    assert out.tolist() == [[[[0, 3, 0]]]]


@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1))], ids=["k3s1p1", "k2s2p1_ceil", "rect_dilated"])
def test_max_pool2d_backward_nans(backend, dtype, rng, kw):
    x = make(rng, (2, 3, 7, 7), dtype, "ties")
    x[rng.random(x.shape) < 0.1] = np.nan
    x[0, 0, 1, :] = np.nan  # windows with several NaNs
    go = max_grad_out(rng, x.shape, kw, dtype)
    for extra in ({}, {"indices": backend.to_numpy(backend.ck.max_pool2d(backend.asarray(x), return_indices=True, **kw)[1])}):
        out = run(backend, "max_pool2d_backward", go, x, **kw, **extra)
        assert np.isfinite(out).all()
        check(out, reference.max_pool2d_backward(go, x, **kw), dtype)


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_max_pool2d_backward_wide_rows_ties_nans(backend, dtype, rng, stride):
    # rows wide enough for vectorised passes, with ties, NaNs, infinities and padding
    x = make(rng, (2, 3, 9, 37), dtype, "ties")
    x[rng.random(x.shape) < 0.05] = np.nan
    x[rng.random(x.shape) < 0.05] = -np.inf
    for kw in (dict(kernel_size=3, stride=stride, padding=1), dict(kernel_size=(2, 4), stride=stride)):
        go = max_grad_out(rng, x.shape, kw, dtype)
        check(run(backend, "max_pool2d_backward", go, x, **kw), reference.max_pool2d_backward(go, x, **kw), dtype)


def test_max_pool2d_backward_all_minus_infinity(backend, dtype, rng):
    x = np.full((1, 2, 3, 4), -np.inf, dtype)
    kw = dict(kernel_size=3, stride=1, padding=1)
    go = max_grad_out(rng, x.shape, kw, dtype)
    out = run(backend, "max_pool2d_backward", go, x, **kw)
    check(out, reference.max_pool2d_backward(go, x, **kw), dtype)


def test_max_pool2d_backward_windows_entirely_in_padding(backend, dtype, rng):
    # W = 1, kernel width 2, padding 1, dilation 2: every window's taps are columns -1 and 1, outside
    # the image (max_pool2d gives -inf and index -1); they pass no gradient
    x = rng.standard_normal((1, 2, 3, 1)).astype(dtype)
    kw = dict(kernel_size=(1, 2), stride=1, padding=(0, 1), dilation=(1, 2))
    _, idx = backend.ck.max_pool2d(backend.asarray(x), return_indices=True, **kw)
    idx = backend.to_numpy(idx)
    assert (idx == -1).all()
    go = np.ones(idx.shape, dtype)
    assert (run(backend, "max_pool2d_backward", go, x, **kw) == 0).all()
    assert (run(backend, "max_pool2d_backward", go, x, **kw, indices=idx) == 0).all()


def test_max_pool2d_backward_uses_given_indices(backend, dtype, rng):
    # indices of another input (valid window positions, not x's argmax) are followed as given
    shape, kw = MAX_BW_CASES["k3_s1_p1"]
    x = distinct(rng, shape, dtype)
    other = distinct(rng, shape, dtype)
    idx = backend.to_numpy(backend.ck.max_pool2d(backend.asarray(other), return_indices=True, **kw)[1])
    assert (idx != reference.max_pool2d(x, **kw)[1]).any()
    go = max_grad_out(rng, shape, kw, dtype)
    out = run(backend, "max_pool2d_backward", go, x, **kw, indices=idx)
    check(out, reference.max_pool2d_backward(go, x, **kw, indices=idx), dtype)
    # all gradients to one element per plane
    idx0 = np.zeros_like(idx)
    out = run(backend, "max_pool2d_backward", go, x, **kw, indices=idx0)
    expected = np.zeros(shape)
    expected[:, :, 0, 0] = go.astype(np.float64).sum(axis=(2, 3))
    check(out, expected, dtype)


# ==========================================================================
# avg_pool2d_backward
# ==========================================================================

AVG_BW_CASES = {
    "k2": ((2, 3, 6, 6), dict(kernel_size=2)),
    "1x1_input": ((1, 2, 1, 1), dict(kernel_size=1)),
    "1x1_input_k3_pad1": ((1, 2, 1, 1), dict(kernel_size=3, padding=1, stride=1)),
    "kernel_equals_input": ((2, 2, 5, 4), dict(kernel_size=(5, 4))),
    "kernel_equals_padded_input": ((1, 2, 3, 3), dict(kernel_size=5, padding=2)),
    "k3_s1_p1": ((1, 2, 5, 5), dict(kernel_size=3, stride=1, padding=1)),
    "stride_gt_kernel": ((1, 2, 9, 8), dict(kernel_size=2, stride=3)),
    "stride_gt_input": ((1, 2, 4, 4), dict(kernel_size=2, stride=5)),
    "rect": ((1, 2, 7, 5), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1))),
    "ceil_partial_window": ((1, 2, 7, 6), dict(kernel_size=3, stride=2, ceil_mode=True)),
    "ceil_window_past_padding": ((1, 2, 6, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    "ceil_last_window_dropped": ((1, 2, 5, 5), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),
    "ceil_rect_pad": ((1, 2, 8, 8), dict(kernel_size=(3, 4), stride=(3, 3), padding=(1, 2), ceil_mode=True)),
    "batch9_channels5": ((9, 5, 4, 5), dict(kernel_size=3, stride=2, padding=1)),
    "channels_17_overlap": ((1, 17, 4, 4), dict(kernel_size=2, stride=1)),
}
AVG_OPTIONS = [
    dict(count_include_pad=True),
    dict(count_include_pad=False),
    dict(count_include_pad=True, divisor_override=5),
    dict(count_include_pad=False, divisor_override=1),
]
AVG_OPTION_IDS = ["cip", "nocip", "cip_div5", "nocip_div1"]


def pool_grad_out(fwd, x_shape, rng, dtype=F64, *args, **kw):
    return rng.standard_normal(fwd(np.zeros(x_shape), *args, **kw).shape).astype(dtype)


@pytest.mark.parametrize("opts", AVG_OPTIONS, ids=AVG_OPTION_IDS)
@pytest.mark.parametrize("case", list(AVG_BW_CASES))
def test_avg_pool2d_backward_matches_finite_differences(backend, case, opts):
    shape, kw = AVG_BW_CASES[case]
    rng = seeded(case)
    x = rng.standard_normal(shape)
    kw = dict(kw, **opts)
    go = pool_grad_out(reference.avg_pool2d, shape, rng, **kw)
    fd = reference.numerical_grad(lambda v: reference.avg_pool2d(v, **kw), x, go, h=1e-3, independent=(0, 1))
    check(reference.avg_pool2d_backward(go, x, **kw), fd, F64, FD_TOL_LINEAR, "reference.avg_pool2d_backward")
    check(run(backend, "avg_pool2d_backward", go, x, **kw), fd, F64, FD_TOL_LINEAR)


@pytest.mark.parametrize("opts", AVG_OPTIONS, ids=AVG_OPTION_IDS)
@pytest.mark.parametrize("case", list(AVG_BW_CASES))
def test_avg_pool2d_backward_matches_reference(backend, dtype, rng, case, opts):
    shape, kw = AVG_BW_CASES[case]
    kw = dict(kw, **opts)
    x = rng.standard_normal(shape).astype(dtype)
    go = pool_grad_out(reference.avg_pool2d, shape, rng, dtype, **kw)
    check(run(backend, "avg_pool2d_backward", go, x, **kw), reference.avg_pool2d_backward(go, x, **kw), dtype)


def test_avg_pool2d_backward_exact_divisors(backend, dtype):
    # ones as grad_out: each input gets the sum over its windows of 1 / divisor
    x = np.zeros((1, 1, 6, 6), dtype)
    kw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)  # 4 windows per dim: [-1,2) [1,4) [3,6) [5,7)
    go = np.ones((1, 1, 4, 4), dtype)
    # inputs 0..5 lie in windows {0}, {0, 1}, {1}, {1, 2}, {2}, {2, 3} per dim
    # count_include_pad: divisors 3, 3, 3, 2 per dim
    per_dim = np.array([1 / 3, 1 / 3 + 1 / 3, 1 / 3, 1 / 3 + 1 / 3, 1 / 3, 1 / 3 + 1 / 2])
    out = run(backend, "avg_pool2d_backward", go, x, **kw, count_include_pad=True)
    check(out, np.outer(per_dim, per_dim)[None, None], dtype)
    # without: in-bounds counts 2, 3, 3, 1
    per_dim = np.array([1 / 2, 1 / 2 + 1 / 3, 1 / 3, 1 / 3 + 1 / 3, 1 / 3, 1 / 3 + 1])
    out = run(backend, "avg_pool2d_backward", go, x, **kw, count_include_pad=False)
    check(out, np.outer(per_dim, per_dim)[None, None], dtype)
    out = run(backend, "avg_pool2d_backward", go, x, **kw, divisor_override=4)
    cover = np.array([1, 2, 1, 2, 1, 2])  # windows covering each input per dim
    check(out, np.outer(cover, cover)[None, None] / 4, dtype)


def test_avg_pool2d_backward_defaults(backend, dtype, rng):
    # stride defaults to the kernel, padding 0, count_include_pad on
    x = rng.standard_normal((2, 2, 6, 7)).astype(dtype)
    go = rng.standard_normal((2, 2, 3, 3)).astype(dtype)
    out = backend.to_numpy(backend.ck.avg_pool2d_backward(backend.asarray(go), backend.asarray(x), 2))
    check(out, reference.avg_pool2d_backward(go, x, 2), dtype)
    # positional, in the forward's order
    kw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False, divisor_override=None)
    go = pool_grad_out(reference.avg_pool2d, x.shape, rng, dtype, **kw)
    out = backend.to_numpy(backend.ck.avg_pool2d_backward(backend.asarray(go), backend.asarray(x), 3, 2, 1, True, False, None))
    check(out, reference.avg_pool2d_backward(go, x, **kw), dtype)


# ==========================================================================
# lp_pool2d_backward
# ==========================================================================

LP_BW_CASES = {
    "k2": ((2, 3, 4, 6), dict(kernel_size=2)),
    "1x1_input": ((1, 2, 1, 1), dict(kernel_size=1)),
    "kernel_equals_input": ((2, 2, 5, 4), dict(kernel_size=(5, 4))),
    "k3_s1_overlap": ((1, 2, 5, 6), dict(kernel_size=3, stride=1)),
    "stride_gt_kernel": ((1, 2, 9, 8), dict(kernel_size=2, stride=3)),
    "rect": ((1, 2, 7, 5), dict(kernel_size=(3, 2), stride=(2, 1))),
    "ceil_partial_windows": ((1, 2, 7, 6), dict(kernel_size=3, stride=2, ceil_mode=True)),
    "ceil_partial_rect": ((2, 1, 5, 7), dict(kernel_size=(2, 3), stride=(2, 3), ceil_mode=True)),
    "batch9_channels5": ((9, 5, 3, 4), dict(kernel_size=2, stride=1)),
}
# finite differences: non-negative data shifted from 0 (x**(p-1) is smooth there); p = 2 also mixed sign
LP_FD_KINDS = [(1, "nonneg"), (2, "nonneg"), (2, "normal"), (3, "nonneg"), (1.5, "nonneg")]


def lp_data(rng, shape, kind, dtype=F64):
    x = make(rng, shape, dtype, kind)
    if kind == "nonneg":
        x = (x + np.asarray(0.1, dtype)).astype(dtype)
    return x


@pytest.mark.parametrize("p,kind", LP_FD_KINDS, ids=[f"p{p}-{k}" for p, k in LP_FD_KINDS])
@pytest.mark.parametrize("case", list(LP_BW_CASES))
def test_lp_pool2d_backward_matches_finite_differences(backend, case, p, kind):
    shape, kw = LP_BW_CASES[case]
    rng = seeded(case + kind)
    x = lp_data(rng, shape, kind)
    go = pool_grad_out(reference.lp_pool2d, shape, rng, F64, p, **kw)
    fd = reference.numerical_grad(lambda v: reference.lp_pool2d(v, p, **kw), x, go, independent=(0, 1))
    check(reference.lp_pool2d_backward(go, x, p, **kw), fd, F64, FD_TOL, "reference.lp_pool2d_backward")
    check(run(backend, "lp_pool2d_backward", go, x, p, **kw), fd, F64, FD_TOL)


@pytest.mark.parametrize("p,kind", LP_P_KINDS, ids=[f"p{p}-{k}" for p, k in LP_P_KINDS])
@pytest.mark.parametrize("case", list(LP_BW_CASES))
def test_lp_pool2d_backward_matches_reference(backend, dtype, rng, case, p, kind):
    shape, kw = LP_BW_CASES[case]
    x = lp_data(rng, shape, kind, dtype)
    go = pool_grad_out(reference.lp_pool2d, shape, rng, dtype, p, **kw)
    check(run(backend, "lp_pool2d_backward", go, x, p, **kw), reference.lp_pool2d_backward(go, x, p, **kw), dtype)


def test_lp_pool2d_backward_zero_where_sum_not_positive(backend, dtype):
    # p = 1 and 3: negative sums, sums exactly 0; p = 2: all zeros
    go = np.full((1, 1, 1, 1), 1.0, dtype)
    x = np.array([[-1, -2], [0.5, -0.25]], dtype).reshape(1, 1, 2, 2)
    assert (run(backend, "lp_pool2d_backward", go, x, 1, 2) == 0).all()
    x = np.array([[1, -2], [1, 0]], dtype).reshape(1, 1, 2, 2)  # 1 - 8 + 1 + 0 < 0
    assert (run(backend, "lp_pool2d_backward", go, x, 3, 2) == 0).all()
    x = np.array([[1, -1], [2, -2]], dtype).reshape(1, 1, 2, 2)  # sums to exactly 0
    for p in (1, 3):
        out = run(backend, "lp_pool2d_backward", go, x, p, 2)
        assert np.isfinite(out).all() and (out == 0).all(), out
    x = np.zeros((1, 1, 2, 2), dtype)  # p = 2, all zeros: the sum is 0
    out = run(backend, "lp_pool2d_backward", go, x, 2, 2)
    assert np.isfinite(out).all() and (out == 0).all(), out
    # a positive sum: 1 - 8 + 1 + 8 = 2, gradient x**2 * 2**(1/3 - 1)
    x = np.array([[1, -2], [1, 2]], dtype).reshape(1, 1, 2, 2)
    out = run(backend, "lp_pool2d_backward", go, x, 3, 2)
    check(out, x.astype(np.float64) ** 2 * 2.0 ** (1 / 3 - 1), dtype)


def test_lp_pool2d_backward_partial_window_uses_present_elements(backend, dtype):
    # ones, kernel 2 with ceil_mode on 3x3: windows of 4, 2, 2, 1 elements, no rescaling
    x = np.ones((1, 1, 3, 3), dtype)
    go = np.ones((1, 1, 2, 2), dtype)
    out = run(backend, "lp_pool2d_backward", go, x, 1, 2, ceil_mode=True)
    assert_close(out, np.ones((1, 1, 3, 3)), dtype)  # p = 1: the gradient of a positive sum is 1
    out = run(backend, "lp_pool2d_backward", go, x, 2, 2, ceil_mode=True)
    s = np.array([[4, 2], [2, 1]], float) ** -0.5  # x / sqrt(sum) per window
    expected = np.array([[s[0, 0], s[0, 0], s[0, 1]], [s[0, 0], s[0, 0], s[0, 1]], [s[1, 0], s[1, 0], s[1, 1]]])
    assert_close(out, expected[None, None], dtype)


# ==========================================================================
# feature_lp_pool_backward
# ==========================================================================

# (C, width, stride): default stride, overlapping, gaps, width == C, width 1, odd C
FEATURE_CASES = [(4, 2, None), (5, 2, 1), (7, 2, 3), (3, 3, None), (3, 1, None), (6, 4, 2), (5, 1, 2), (17, 5, 3)]
FEATURE_IDS = [f"C{c}-w{w}-s{s}" for c, w, s in FEATURE_CASES]


@pytest.mark.parametrize("p,kind", LP_FD_KINDS, ids=[f"p{p}-{k}" for p, k in LP_FD_KINDS])
@pytest.mark.parametrize("C,width,stride", FEATURE_CASES, ids=FEATURE_IDS)
def test_feature_lp_pool_backward_matches_finite_differences(backend, C, width, stride, p, kind):
    rng = seeded(f"{C}{width}{stride}{kind}")
    x = lp_data(rng, (2, C, 2, 3), kind)
    go = pool_grad_out(reference.feature_lp_pool, x.shape, rng, F64, p, width, stride)
    fd = reference.numerical_grad(lambda v: reference.feature_lp_pool(v, p, width, stride), x, go, independent=(0, 2, 3))
    check(reference.feature_lp_pool_backward(go, x, p, width, stride), fd, F64, FD_TOL, "reference.feature_lp_pool_backward")
    check(run(backend, "feature_lp_pool_backward", go, x, p, width, stride), fd, F64, FD_TOL)


@pytest.mark.parametrize("p,kind", LP_P_KINDS, ids=[f"p{p}-{k}" for p, k in LP_P_KINDS])
@pytest.mark.parametrize("C,width,stride", FEATURE_CASES, ids=FEATURE_IDS)
def test_feature_lp_pool_backward_matches_reference(backend, dtype, rng, C, width, stride, p, kind):
    x = lp_data(rng, (3, C, 3, 5), kind, dtype)
    go = pool_grad_out(reference.feature_lp_pool, x.shape, rng, dtype, p, width, stride)
    out = run(backend, "feature_lp_pool_backward", go, x, p, width, stride)
    check(out, reference.feature_lp_pool_backward(go, x, p, width, stride), dtype)


def test_feature_lp_pool_backward_uncovered_channels_and_default_stride(backend, dtype, rng):
    # C = 7, width 2, stride 3: channels 2, 5, 6 are in no window
    x = lp_data(rng, (2, 7, 3, 2), "nonneg", dtype)
    go = rng.standard_normal((2, 2, 3, 2)).astype(dtype)
    out = run(backend, "feature_lp_pool_backward", go, x, 2, 2, 3)
    assert (out[:, [2, 5, 6]] == 0).all() and (out[:, [0, 1, 3, 4]] != 0).all()
    # default stride = width
    go = rng.standard_normal((2, 3, 3, 2)).astype(dtype)
    out = backend.to_numpy(backend.ck.feature_lp_pool_backward(backend.asarray(go), backend.asarray(x), 2, 2))
    check(out, reference.feature_lp_pool_backward(go, x, 2, 2, 2), dtype)


def test_feature_lp_pool_backward_zero_where_sum_not_positive(backend, dtype):
    x = np.array([1, -1, 2, -2], dtype).reshape(1, 4, 1, 1)  # p = 1 sums: 0 and 0
    go = np.ones((1, 2, 1, 1), dtype)
    for p in (1, 3):
        out = run(backend, "feature_lp_pool_backward", go, x, p, 2)
        assert np.isfinite(out).all() and (out == 0).all(), out


# ==========================================================================
# avg / lp: the gather row pass (pool2d_rows.hpp: gather_row) on rows wide enough for its vector blocks
# ==========================================================================

# Column stride 1 and 2 take 16-byte vector blocks (4 floats, 2 doubles; at stride 2 each block is 2 x that
# many pixels) between scalar edges; other strides are scalar. Widths put the interior below, at and around
# one and two blocks, with odd remainders; kernels 1..5 (stride 2: 1, 1..3 covering outputs per pixel),
# padding (avg), ceil_mode partial windows, rows no window covers (stride 3 > kernel 2).
GATHER_WIDTHS = [5, 6, 7, 9, 10, 11, 12, 13, 17, 18, 19, 21, 26, 33, 40]
GATHER_GEOMS = [
    dict(kernel_size=3, stride=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, stride=2),
    dict(kernel_size=(3, 5), stride=(2, 2), padding=(1, 2), ceil_mode=True), dict(kernel_size=(2, 4), stride=(3, 2)),
    dict(kernel_size=(1, 1), stride=(1, 2)), dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=(2, 5), stride=1),
    dict(kernel_size=(3, 4), stride=(1, 1), padding=(0, 2), ceil_mode=True), dict(kernel_size=(2, 3), stride=(2, 3)),
]
GATHER_IDS = ["k3s2", "k3s2p1", "k2s2", "k35s2p12_ceil", "k24_s32", "k1s12", "k3s1p1", "k25s1", "k34s1p02_ceil", "k23s23"]


def _gather_cases(geom, lp):
    for w in GATHER_WIDTHS:
        kw = dict(geom)
        if lp:
            kw.pop("padding", None)
        k = kw["kernel_size"]
        kh, kw_ = (k, k) if isinstance(k, int) else k
        if w < kw_ or 5 < kh:
            continue
        yield w, kw


@pytest.mark.parametrize("geom", GATHER_GEOMS, ids=GATHER_IDS)
def test_avg_pool2d_backward_gather_wide_rows(backend, dtype, rng, geom):
    for w, kw in _gather_cases(geom, lp=False):
        for opts in AVG_OPTIONS[:3]:
            x = rng.standard_normal((2, 3, 5, w)).astype(dtype)
            kwo = dict(kw, **opts)
            go = pool_grad_out(reference.avg_pool2d, x.shape, rng, dtype, **kwo)
            check(run(backend, "avg_pool2d_backward", go, x, **kwo), reference.avg_pool2d_backward(go, x, **kwo), dtype,
                  what=f"W={w} {kwo}")


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("geom", GATHER_GEOMS, ids=GATHER_IDS)
def test_lp_pool2d_backward_gather_wide_rows(backend, dtype, rng, geom, p):
    for w, kw in _gather_cases(geom, lp=True):
        x = lp_data(rng, (2, 3, 5, w), "nonneg", dtype)
        go = pool_grad_out(reference.lp_pool2d, x.shape, rng, dtype, p, **kw)
        check(run(backend, "lp_pool2d_backward", go, x, p, **kw), reference.lp_pool2d_backward(go, x, p, **kw), dtype,
              what=f"W={w} {kw}")


# max: the one-pass argmax of 2x2 / 3x3 windows (max_pool2d.cpp: argmax_plane_small; float groups of 4 outputs,
# the last overlapping) on the same widths, with ties, NaNs and infinities; the indices it finds (the
# forward's, and those the backward without saved indices finds again) against the reference's.
@pytest.mark.parametrize("k,stride", [(2, 1), (2, 2), (3, 1), (3, 2)])
def test_max_pool2d_backward_one_pass_wide_rows(backend, dtype, rng, k, stride):
    for w in GATHER_WIDTHS:
        for pad, ceil in ((0, False), (1, False), (1, True), (0, True)):
            kw = dict(kernel_size=k, stride=stride, padding=pad, ceil_mode=ceil)
            x = make(rng, (2, 2, 7, w), dtype, "ties")
            x[rng.random(x.shape) < 0.05] = np.nan
            x[rng.random(x.shape) < 0.05] = -np.inf
            x[0, 0, 2] = x[0, 0, 2, 0]  # a constant row: ties across whole windows
            what = f"W={w} {kw}"
            _, idx = backend.ck.max_pool2d(backend.asarray(x), return_indices=True, **kw)
            np.testing.assert_array_equal(backend.to_numpy(idx), reference.max_pool2d(x, **kw)[1], err_msg=what)
            go = max_grad_out(rng, x.shape, kw, dtype)
            expected = reference.max_pool2d_backward(go, x, **kw)
            check(run(backend, "max_pool2d_backward", go, x, **kw), expected, dtype, what=what)
            check(run(backend, "max_pool2d_backward", go, x, **kw, indices=backend.to_numpy(idx)), expected, dtype,
                  what=what)


@pytest.mark.parametrize("op", ["avg_pool2d_backward", "lp_pool2d_backward", "max_pool2d_backward"])
def test_pool_backward_same_bits_for_any_thread_count(backend, dtype, op):
    # planes split across threads, each plane's sums in a fixed order: the bits do not depend on the count
    if backend.name != "cpu":
        pytest.skip("thread count of the cpu backend")
    import cnnkernels as ck
    rng = np.random.default_rng(11)
    x = np.abs(rng.standard_normal((3, 5, 23, 37))).astype(dtype) + dtype.type(0.1)
    args = (2,) if op.startswith("lp") else ()
    kw = dict(kernel_size=3, stride=2) if op.startswith("lp") else dict(kernel_size=3, stride=2, padding=1)
    fwd = {"avg_pool2d_backward": reference.avg_pool2d, "lp_pool2d_backward": reference.lp_pool2d,
           "max_pool2d_backward": lambda v, **k: reference.max_pool2d(v, **k)[0]}[op]
    go = rng.standard_normal(fwd(np.zeros(x.shape), *args, **kw).shape).astype(dtype)
    before = ck.get_num_threads()
    try:
        outs = []
        for n in (1, 2, 3):
            ck.set_num_threads(n)
            outs.append(run(backend, op, go, x, *args, **kw))
    finally:
        ck.set_num_threads(before)
    assert outs[0].tobytes() == outs[1].tobytes() == outs[2].tobytes()


# ==========================================================================
# shared: batch 0, layouts, read-only
# ==========================================================================

# op -> (positional args after x, keyword args, forward reference)
SHARED = {
    "max_pool2d_backward": ((3,), dict(stride=2, padding=1, ceil_mode=True), lambda x, *a, **k: reference.max_pool2d(x, *a, **k)[0]),
    "avg_pool2d_backward": ((3,), dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False), reference.avg_pool2d),
    "lp_pool2d_backward": ((2, 3), dict(stride=2, ceil_mode=True), reference.lp_pool2d),
    "feature_lp_pool_backward": ((2, 2), dict(stride=1), reference.feature_lp_pool),
}


def shared_ref(op, go, x, args, kw):
    return getattr(reference, op)(go, x, *args, **kw)


@pytest.mark.parametrize("op", list(SHARED))
def test_pool_backward_batch_zero(backend, dtype, op):
    args, kw, fwd = SHARED[op]
    x = np.zeros((0, 3, 7, 6), dtype)
    go = np.zeros(fwd(x, *args, **kw).shape, dtype)
    out = run(backend, op, go, x, *args, **kw)
    assert isinstance(out, np.ndarray) and out.shape == x.shape and out.dtype == dtype


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("op", list(SHARED))
def test_pool_backward_noncontiguous(backend, dtype, rng, op, layout):
    args, kw, fwd = SHARED[op]
    x = LAYOUTS[layout](rng, (2, 3, 7, 6), dtype)
    if op.startswith(("lp", "feature")):
        x[...] = np.abs(x) + dtype.type(0.1)  # positive, in the same layout
    go = LAYOUTS[layout](rng, fwd(np.zeros(x.shape), *args, **kw).shape, dtype)
    assert not x.flags.c_contiguous and not go.flags.c_contiguous
    out = run(backend, op, go, x, *args, **kw)
    check(out, shared_ref(op, go, x, args, kw), dtype)


@pytest.mark.parametrize("op", list(SHARED))
def test_pool_backward_readonly_and_fresh(backend, dtype, rng, op):
    args, kw, fwd = SHARED[op]
    x = np.abs(rng.standard_normal((2, 3, 7, 6))).astype(dtype) + dtype.type(0.1)
    go = rng.standard_normal(fwd(x, *args, **kw).shape).astype(dtype)
    for a in (x, go):
        a.setflags(write=False)
    out = run(backend, op, go, x, *args, **kw)
    check(out, shared_ref(op, go, x, args, kw), dtype)
    assert out.flags.writeable and not np.shares_memory(out, x) and not np.shares_memory(out, go)


# ==========================================================================
# torch autograd (skipped without torch)
# ==========================================================================


def torch_grad(fn, x, go):
    """d/dx of sum(go * fn(x)) by torch autograd in float64."""
    torch = pytest.importorskip("torch")
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny problems; torch's threads would wait on our spinning OpenMP threads
    try:
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)).requires_grad_(True)
        y = fn(xt)
        assert tuple(y.shape) == go.shape, (tuple(y.shape), go.shape)
        y.backward(torch.from_numpy(np.ascontiguousarray(go, dtype=np.float64)))
        return xt.grad.numpy()
    finally:
        torch.set_num_threads(old)


TORCH_MAX_CASES = [c for c in MAX_BW_CASES if not has_empty_max_window(*MAX_BW_CASES[c][0][2:], **MAX_BW_CASES[c][1])]


@pytest.mark.parametrize("kind", ["distinct", "ties", "constant", "nan"])
@pytest.mark.parametrize("case", TORCH_MAX_CASES)
def test_max_pool2d_backward_vs_torch(backend, rng, case, kind):
    F = pytest.importorskip("torch.nn.functional")
    dtype = F64  # float64 here (float32 against the references above)
    shape, kw = MAX_BW_CASES[case]
    if kind == "distinct":
        x = distinct(rng, shape, dtype)
    elif kind == "constant":
        x = np.full(shape, -0.5, dtype)
    else:
        x = make(rng, shape, dtype, "ties")
        if kind == "nan":
            x[rng.random(shape) < 0.15] = np.nan
    go = max_grad_out(rng, shape, kw, dtype)
    expected = torch_grad(lambda t: F.max_pool2d(t, **kw), x, go)
    check(run(backend, "max_pool2d_backward", go, x, **kw), expected, dtype)


@pytest.mark.parametrize("opts", AVG_OPTIONS + [dict(count_include_pad=True, divisor_override=3)],
                         ids=AVG_OPTION_IDS + ["cip_div3"])
@pytest.mark.parametrize("case", list(AVG_BW_CASES))
def test_avg_pool2d_backward_vs_torch(backend, rng, case, opts):
    F = pytest.importorskip("torch.nn.functional")
    dtype = F64  # float64 here (float32 against the references above)
    shape, kw = AVG_BW_CASES[case]
    kw = dict(kw, **opts)
    x = rng.standard_normal(shape).astype(dtype)
    go = pool_grad_out(reference.avg_pool2d, shape, rng, dtype, **kw)
    expected = torch_grad(lambda t: F.avg_pool2d(t, **kw), x, go)
    check(run(backend, "avg_pool2d_backward", go, x, **kw), expected, dtype)


def _no_partial_windows(shape, kw):
    (kh, kw_), (sh, sw), _, _ = reference.pool_geometry(kw["kernel_size"], kw.get("stride"), 0, 1)
    P = reference.pool_out_size(shape[2], kh, sh, 0, 1, kw.get("ceil_mode", False))
    Q = reference.pool_out_size(shape[3], kw_, sw, 0, 1, kw.get("ceil_mode", False))
    return (P - 1) * sh + kh <= shape[2] and (Q - 1) * sw + kw_ <= shape[3]


# PyTorch rescales partial ceil_mode windows: compared only where there are none
TORCH_LP_CASES = dict((k, v) for k, v in LP_BW_CASES.items() if _no_partial_windows(*v))
TORCH_LP_CASES["ceil_without_partial_windows"] = ((1, 2, 7, 7), dict(kernel_size=3, stride=2, ceil_mode=True))


@pytest.mark.parametrize("p", [1, 2, 3, 1.5])
@pytest.mark.parametrize("case", list(TORCH_LP_CASES))
def test_lp_pool2d_backward_vs_torch(backend, rng, case, p):
    F = pytest.importorskip("torch.nn.functional")
    dtype = F64  # float64 here (float32 against the references above)
    shape, kw = TORCH_LP_CASES[case]
    assert _no_partial_windows(shape, kw)
    x = lp_data(rng, shape, "nonneg", dtype)  # positive sums: torch's gradient is NaN at a 0 sum
    go = pool_grad_out(reference.lp_pool2d, shape, rng, dtype, p, **kw)
    expected = torch_grad(lambda t: F.lp_pool2d(t, p, **kw), x, go)
    check(run(backend, "lp_pool2d_backward", go, x, p, **kw), expected, dtype)


@pytest.mark.parametrize("p", [1, 2, 3, 1.5])
@pytest.mark.parametrize("C,width,stride", FEATURE_CASES, ids=FEATURE_IDS)
def test_feature_lp_pool_backward_vs_torch(backend, rng, C, width, stride, p):
    F = pytest.importorskip("torch.nn.functional")
    dtype = F64  # float64 here (float32 against the references above)
    x = lp_data(rng, (2, C, 3, 4), "nonneg", dtype)
    go = pool_grad_out(reference.feature_lp_pool, x.shape, rng, dtype, p, width, stride)
    N, _, H, W = x.shape

    def fn(t):
        y = F.lp_pool1d(t.permute(0, 2, 3, 1).reshape(N * H * W, 1, C), p, width, stride or width)
        return y.reshape(N, H, W, -1).permute(0, 3, 1, 2)

    check(run(backend, "feature_lp_pool_backward", go, x, p, width, stride), torch_grad(fn, x, go), dtype)


# ==========================================================================
# bad arguments
# ==========================================================================

_rng = np.random.default_rng(5)
X = _rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
f32, f64 = np.float32, np.float64


def bwd(op, go, *args, x=X, **kw):
    def fn(B):
        conv = lambda a: B.asarray(a) if isinstance(a, np.ndarray) else a  # noqa: E731
        kw2 = {k: conv(v) for k, v in kw.items()}
        return getattr(B.ck, op)(conv(go), conv(x), *args, **kw2)
    return fn


def err(id, exc, patterns, fn):
    return pytest.param(fn, exc, patterns, id=id)


def grad_out_errors(op, args, kw, expected):
    """grad_out checks of one pool op on X: `expected` is the forward's output shape."""
    shp = re.escape(str(expected))
    good = np.ones(expected, f32)
    cases = [
        err(f"{op}-wrong_N", ValueError, ["grad_out", shp], bwd(op, good[:1], *args, **kw)),
        err(f"{op}-wrong_C", ValueError, ["grad_out", shp], bwd(op, good[:, :1], *args, **kw)),
        err(f"{op}-wrong_H", ValueError, ["grad_out", shp], bwd(op, np.ones(expected[:2] + (expected[2] + 1, expected[3]), f32), *args, **kw)),
        err(f"{op}-wrong_W", ValueError, ["grad_out", shp], bwd(op, good[..., :-1], *args, **kw)),
        err(f"{op}-rank3", ValueError, ["grad_out", shp], bwd(op, good[0], *args, **kw)),
        err(f"{op}-float64", TypeError, ["grad_out"], bwd(op, good.astype(f64), *args, **kw)),
        err(f"{op}-float32_x64", TypeError, ["grad_out"], bwd(op, good, *args, x=X.astype(f64), **kw)),
        err(f"{op}-int64", TypeError, ["grad_out"], bwd(op, good.astype(np.int64), *args, **kw)),
        err(f"{op}-list", TypeError, ["grad_out"], bwd(op, good.tolist(), *args, **kw)),
    ]
    if tuple(expected) != X.shape:
        cases.append(err(f"{op}-x_shape", ValueError, ["grad_out", shp], bwd(op, np.ones(X.shape, f32), *args, **kw)))
    return cases


def _idx(shape, value=0, dtype=np.int64):
    return np.full(shape, value, dtype)


MAXB = "max_pool2d_backward"
GO_MAX = np.ones((2, 3, 2, 2), f32)  # max_pool2d(X, 2)
POOL_ERRORS = (
    grad_out_errors(MAXB, (2,), {}, (2, 3, 2, 2))
    + grad_out_errors(MAXB, (3,), dict(stride=1, padding=1), (2, 3, 4, 4))
    + grad_out_errors("avg_pool2d_backward", (3, 2), dict(padding=1, ceil_mode=True), (2, 3, 3, 3))
    + grad_out_errors("lp_pool2d_backward", (2, 3, 1), {}, (2, 3, 2, 2))
    + grad_out_errors("feature_lp_pool_backward", (2, 2, 1), {}, (2, 2, 4, 4))
    + [
        # indices
        err("indices_wrong_shape", ValueError, ["indices"], bwd(MAXB, GO_MAX, 2, indices=_idx((2, 3, 2, 3)))),
        err("indices_wrong_rank", ValueError, ["indices"], bwd(MAXB, GO_MAX, 2, indices=_idx((2, 3, 4)))),
        err("indices_x_shape", ValueError, ["indices"], bwd(MAXB, GO_MAX, 2, indices=_idx((2, 3, 4, 4)))),
        err("indices_int32", TypeError, ["indices"], bwd(MAXB, GO_MAX, 2, indices=_idx((2, 3, 2, 2), 0, np.int32))),
        err("indices_float64", TypeError, ["indices"], bwd(MAXB, GO_MAX, 2, indices=_idx((2, 3, 2, 2), 0, np.float64))),
        err("indices_list", TypeError, ["indices"], bwd(MAXB, GO_MAX, 2, indices=_idx((2, 3, 2, 2)).tolist())),
        err("indices_too_large", ValueError, ["indices"], bwd(MAXB, GO_MAX, 2, indices=_idx((2, 3, 2, 2), 16))),
        err("indices_huge", ValueError, ["indices"], bwd(MAXB, GO_MAX, 2, indices=_idx((2, 3, 2, 2), 2**40))),
        err("indices_minus_two", ValueError, ["indices"], bwd(MAXB, GO_MAX, 2, indices=_idx((2, 3, 2, 2), -2))),
        # the forwards' own checks
        err("max_kernel_zero", ValueError, ["kernel_size"], bwd(MAXB, GO_MAX, 0)),
        err("max_kernel_float", TypeError, ["kernel_size"], bwd(MAXB, GO_MAX, 2.5)),
        err("max_stride_zero", ValueError, ["stride"], bwd(MAXB, GO_MAX, 2, 0)),
        err("max_padding_gt_half_kernel", ValueError, ["padding"], bwd(MAXB, GO_MAX, 2, 2, 2)),
        err("max_dilation_zero", ValueError, ["dilation"], bwd(MAXB, GO_MAX, 2, dilation=0)),
        err("max_kernel_larger_than_input", ValueError, ["kernel"], bwd(MAXB, GO_MAX, 5)),
        err("max_kernel_larger_than_input_ceil", ValueError, ["kernel"], bwd(MAXB, GO_MAX, 5, 2, ceil_mode=True)),
        err("max_dilated_kernel_larger_than_input", ValueError, ["kernel|dilation"], bwd(MAXB, GO_MAX, 2, dilation=4)),
        err("avg_kernel_larger_than_input", ValueError, ["kernel"], bwd("avg_pool2d_backward", GO_MAX, 5)),
        err("avg_kernel_larger_than_input_rect", ValueError, ["kernel"], bwd("avg_pool2d_backward", GO_MAX, (2, 5))),
        err("lp_kernel_larger_than_input", ValueError, ["kernel"], bwd("lp_pool2d_backward", GO_MAX, 2, 5)),
        err("lp_kernel_larger_than_input_ceil", ValueError, ["kernel"], bwd("lp_pool2d_backward", GO_MAX, 2, 5, 2, True)),
        err("max_x_int32", TypeError, [r"\bx\b"], bwd(MAXB, GO_MAX, 2, x=X.astype(np.int32))),
        err("max_x_rank3", ValueError, [r"\bx\b"], bwd(MAXB, GO_MAX, 2, x=X[0])),
        err("max_x_list", TypeError, [r"\bx\b"], bwd(MAXB, GO_MAX, 2, x=X.tolist())),
        err("avg_divisor_zero", ValueError, ["divisor_override"], bwd("avg_pool2d_backward", GO_MAX, 2, divisor_override=0)),
        err("avg_divisor_float", TypeError, ["divisor_override"], bwd("avg_pool2d_backward", GO_MAX, 2, divisor_override=1.5)),
        err("avg_padding_negative", ValueError, ["padding"], bwd("avg_pool2d_backward", GO_MAX, 2, 2, -1)),
        err("avg_stride_float", TypeError, ["stride"], bwd("avg_pool2d_backward", GO_MAX, 2, 1.5)),
        err("lp_norm_zero", ValueError, ["norm_type"], bwd("lp_pool2d_backward", GO_MAX, 0, 2)),
        err("lp_norm_negative", ValueError, ["norm_type"], bwd("lp_pool2d_backward", GO_MAX, -2, 2)),
        err("lp_norm_nan", ValueError, ["norm_type"], bwd("lp_pool2d_backward", GO_MAX, float("nan"), 2)),
        err("lp_norm_inf", ValueError, ["norm_type"], bwd("lp_pool2d_backward", GO_MAX, float("inf"), 2)),
        err("lp_kernel_zero", ValueError, ["kernel_size"], bwd("lp_pool2d_backward", GO_MAX, 2, 0)),
        err("lp_x_float16", TypeError, [r"\bx\b"], bwd("lp_pool2d_backward", GO_MAX, 2, 2, x=X.astype(np.float16))),
        err("feature_width_gt_C", ValueError, ["width"], bwd("feature_lp_pool_backward", np.ones((2, 1, 4, 4), f32), 2, 4)),
        err("feature_width_zero", ValueError, ["width"], bwd("feature_lp_pool_backward", np.ones((2, 1, 4, 4), f32), 2, 0)),
        err("feature_stride_zero", ValueError, ["stride"], bwd("feature_lp_pool_backward", np.ones((2, 1, 4, 4), f32), 2, 2, 0)),
        err("feature_norm_zero", ValueError, ["norm_type"], bwd("feature_lp_pool_backward", np.ones((2, 1, 4, 4), f32), 0, 2)),
    ]
)


@pytest.mark.parametrize("fn,exc,patterns", POOL_ERRORS)
def test_pool_backward_bad_arguments(backend, fn, exc, patterns):
    with pytest.raises(exc) as info:
        fn(backend)
    for pat in patterns:
        assert re.search(pat, str(info.value)), f"{pat!r} not in {str(info.value)!r}"


def test_pool_backward_valid_after_errors(backend):
    out = bwd(MAXB, GO_MAX, 2)(backend)
    check(backend.to_numpy(out), reference.max_pool2d_backward(GO_MAX, X, 2), np.float32)
