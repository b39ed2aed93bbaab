"""Tests of ck.conv2d against the float64 NumPy reference (reference.conv2d_ref).

Fixed edge-case geometries (1x1 input, kernel == input, stride > kernel,
dilation, groups incl. depthwise, asymmetric / "same" / "valid" padding, odd
sizes, batch 1 and 5), batch 0, non-contiguous / Fortran / read-only inputs,
hypothesis random geometries; every conv test runs for each backend, each algo
in conftest.ALGOS and float32/float64.  Also a self-check of conv2d_ref
against per-pixel loops.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnkernels as ck
from reference import (
    assert_close,
    assert_unchanged,
    conv2d_naive,
    conv2d_ref,
    LAYOUTS,
    conv_geometries,
    snapshot,
)

# name -> (x shape, weight shape, kwargs)
CASES = {
    "basic_3x3_pad1": ((2, 3, 7, 6), (4, 3, 3, 3), dict(padding=1)),
    "1x1_input_1x1_kernel": ((1, 1, 1, 1), (1, 1, 1, 1), dict()),
    "1x1_input_3x3_kernel_pad1": ((1, 2, 1, 1), (3, 2, 3, 3), dict(padding=1)),
    "kernel_equals_input": ((2, 2, 5, 4), (3, 2, 5, 4), dict()),
    "kernel_equals_padded_input": ((1, 2, 3, 3), (2, 2, 5, 5), dict(padding=1)),
    "stride_gt_kernel": ((1, 2, 9, 8), (2, 2, 2, 2), dict(stride=3)),
    "stride_gt_input": ((1, 2, 4, 4), (2, 2, 2, 2), dict(stride=5)),
    "rect_stride_pad_dilation": ((1, 2, 9, 8), (2, 2, 3, 2), dict(stride=(2, 3), padding=(1, 2), dilation=(2, 1))),
    "dilation2": ((1, 3, 8, 8), (2, 3, 3, 3), dict(dilation=2, padding=2)),
    "dilation_gt_input_with_pad": ((1, 1, 2, 2), (1, 1, 2, 2), dict(dilation=3, padding=1)),
    "groups2": ((2, 4, 6, 6), (6, 2, 3, 3), dict(groups=2, padding=1)),
    "depthwise": ((2, 4, 6, 6), (4, 1, 3, 3), dict(groups=4, padding=1)),
    "depthwise_multiplier": ((1, 3, 6, 5), (6, 1, 2, 3), dict(groups=3, stride=2)),
    "groups_dilation_stride": ((2, 6, 9, 9), (4, 3, 3, 2), dict(groups=2, dilation=2, stride=2, padding=(1, 2))),
    "asym_padding": ((1, 2, 6, 7), (3, 2, 3, 3), dict(padding=((1, 2), (0, 3)))),
    "asym_padding_lists": ((1, 2, 5, 5), (3, 2, 2, 2), dict(padding=[[0, 1], [2, 0]], stride=[1, 2])),
    "pair_padding": ((1, 2, 5, 6), (3, 2, 3, 3), dict(padding=(2, 0))),
    "same_odd": ((1, 2, 6, 7), (3, 2, 3, 5), dict(padding="same")),
    "same_even": ((1, 2, 6, 7), (3, 2, 4, 2), dict(padding="same")),
    "same_even_dilated": ((1, 2, 6, 7), (3, 2, 2, 4), dict(padding="same", dilation=(3, 2))),
    "same_1x1_input": ((1, 2, 1, 1), (2, 2, 4, 4), dict(padding="same")),
    "valid": ((1, 2, 6, 7), (3, 2, 3, 3), dict(padding="valid")),
    "valid_strided": ((1, 2, 7, 7), (3, 2, 3, 3), dict(padding="valid", stride=2)),
    "odd_sizes": ((3, 3, 7, 5), (5, 3, 3, 2), dict(stride=(2, 1), padding=(0, 1))),
    "pointwise_strided": ((5, 3, 5, 7), (2, 3, 1, 1), dict(stride=2)),
    "batch5": ((5, 3, 6, 6), (4, 3, 3, 3), dict(padding=1, stride=2)),
    "more_channels": ((2, 16, 6, 6), (8, 16, 3, 3), dict(padding=1)),
}


def run_conv(backend, x, w, b=None, **kw):
    """ck.conv2d through the backend; checks that no input was modified."""
    xb, wb = backend.asarray(x), backend.asarray(w)
    bb = None if b is None else backend.asarray(b)
    before = snapshot(x, w, b)
    out = ck.conv2d(xb, wb, bb, **kw)
    assert_unchanged(
        before, [backend.to_numpy(xb), backend.to_numpy(wb), None if bb is None else backend.to_numpy(bb)]
    )
    return backend.to_numpy(out)


def make(rng, xs, ws, dtype, bias=True):
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype) if bias else None
    return x, w, b


@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("case", list(CASES))
def test_conv2d_matches_reference(backend, algo, dtype, rng, case, bias):
    xs, ws, kw = CASES[case]
    x, w, b = make(rng, xs, ws, dtype, bias)
    out = run_conv(backend, x, w, b, algo=algo, **kw)
    assert_close(out, conv2d_ref(x, w, b, **kw), dtype)


def test_conv2d_default_algo_and_defaults(backend, dtype, rng):
    x, w, _ = make(rng, (2, 3, 5, 6), (4, 3, 2, 3), dtype)
    out = backend.to_numpy(ck.conv2d(backend.asarray(x), backend.asarray(w)))
    assert_close(out, conv2d_ref(x, w), dtype)


@pytest.mark.parametrize(
    "xs,ws,kw,expected",
    [
        ((0, 3, 5, 5), (4, 3, 3, 3), dict(), (0, 4, 3, 3)),
        ((0, 4, 6, 7), (2, 2, 2, 3), dict(groups=2, stride=2, padding=((1, 0), (2, 1))), (0, 2, 3, 4)),
        ((0, 2, 6, 7), (3, 2, 4, 2), dict(padding="same"), (0, 3, 6, 7)),
    ],
)
def test_conv2d_batch_zero(backend, algo, dtype, xs, ws, kw, expected):
    x = np.zeros(xs, dtype)
    w = np.ones(ws, dtype)
    b = np.ones(ws[0], dtype)
    out = run_conv(backend, x, w, b, algo=algo, **kw)
    assert isinstance(out, np.ndarray)
    assert out.shape == expected
    assert out.dtype == dtype


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_conv2d_noncontiguous_x(backend, algo, dtype, rng, layout):
    x = LAYOUTS[layout](rng, (3, 4, 7, 6), dtype)
    assert not x.flags.c_contiguous
    w = rng.standard_normal((4, 2, 3, 2)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    kw = dict(padding=(1, 0), stride=(1, 2), groups=2)
    out = run_conv(backend, x, w, b, algo=algo, **kw)
    assert_close(out, conv2d_ref(x, w, b, **kw), dtype)


@pytest.mark.parametrize("layout", ["fortran", "transposed_hw", "negative_strides", "strided_h"])
def test_conv2d_noncontiguous_weight_and_bias(backend, algo, dtype, rng, layout):
    x = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    # LAYOUTS build (n, c, h, w); the weight is (K, C, R, S) = (5, 3, 3, 3)
    w = LAYOUTS[layout](rng, (5, 3, 3, 3), dtype)
    assert not w.flags.c_contiguous
    b = rng.standard_normal(10).astype(dtype)[::2]
    out = run_conv(backend, x, w, b, algo=algo, padding=1)
    assert_close(out, conv2d_ref(x, w, b, padding=1), dtype)


def test_conv2d_readonly_inputs(backend, algo, dtype, rng):
    x, w, b = make(rng, (2, 3, 5, 5), (2, 3, 3, 3), dtype)
    for a in (x, w, b):
        a.setflags(write=False)
    out = run_conv(backend, x, w, b, algo=algo, padding=1)
    assert_close(out, conv2d_ref(x, w, b, padding=1), dtype)


def test_conv2d_result_is_fresh_array(backend, algo, dtype, rng):
    # identity 1x1 conv: a result aliasing x would still "look" right
    x = rng.standard_normal((2, 3, 4, 4)).astype(dtype)
    w = np.eye(3, dtype=dtype).reshape(3, 3, 1, 1)
    out = run_conv(backend, x, w, algo=algo)
    assert_close(out, x.astype(np.float64), dtype)
    assert not np.shares_memory(out, x)


def test_conv2d_list_and_tuple_arguments_agree(backend, algo, dtype, rng):
    x, w, b = make(rng, (1, 2, 7, 6), (3, 2, 3, 2), dtype)
    ref = conv2d_ref(x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    for kw in (
        dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
        dict(stride=[2, 1], padding=[1, 0], dilation=[1, 2]),
        dict(stride=(2, 1), padding=((1, 1), (0, 0)), dilation=(1, 2)),
    ):
        assert_close(run_conv(backend, x, w, b, algo=algo, **kw), ref, dtype)


@settings(max_examples=50, deadline=None)
@given(geo=conv_geometries(), use_f64=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_conv2d_random_geometry(backend, algo, geo, use_f64, seed):
    dtype = np.dtype(np.float64 if use_f64 else np.float32)
    rng = np.random.default_rng(seed)
    g = geo
    x, w, b = make(rng, (g["N"], g["C"], g["H"], g["W"]), (g["K"], g["C"] // g["groups"], g["R"], g["S"]), dtype, g["bias"])
    kw = {k: g[k] for k in ("stride", "padding", "dilation", "groups")}
    out = run_conv(backend, x, w, b, algo=algo, **kw)
    assert_close(out, conv2d_ref(x, w, b, **kw), dtype)


# ---- direct: outputs that border the padding ----------------------------------
# The SIMD direct kernel runs interior outputs in register tiles and border outputs one at a time with
# checks: large and small padded images, asymmetric, dilated and strided, both kinds in one call.
DIRECT_BORDER_CASES = {
    "large_image_pad1": ((1, 3, 96, 90), (16, 3, 3, 3), dict(padding=1)),
    "large_asym_dilated": ((2, 2, 131, 151), (17, 2, 3, 3), dict(padding=((2, 0), (1, 3)), dilation=2)),
    "small_image_pad2": ((2, 5, 11, 9), (16, 5, 5, 5), dict(padding=2)),
    "small_asym_strided": ((3, 4, 13, 10), (9, 4, 3, 4), dict(padding=((0, 2), (3, 1)), stride=(2, 3))),
}


@pytest.mark.parametrize("case", sorted(DIRECT_BORDER_CASES))
def test_conv2d_direct_border_outputs(backend, dtype, rng, case):
    xs, ws, kw = DIRECT_BORDER_CASES[case]
    x, w, b = make(rng, xs, ws, dtype, True)
    assert_close(run_conv(backend, x, w, b, algo="direct", **kw), conv2d_ref(x, w, b, **kw), dtype)


# ---- self-check of the reference (no cnnkernels involved) -----------------
@pytest.mark.parametrize(
    "case", ["basic_3x3_pad1", "rect_stride_pad_dilation", "depthwise_multiplier", "asym_padding", "same_even_dilated", "groups_dilation_stride"]
)
def test_reference_conv_matches_naive_loops(rng, case):
    xs, ws, kw = CASES[case]
    x, w, b = make(rng, xs, ws, np.float64)
    np.testing.assert_allclose(conv2d_ref(x, w, b, **kw), conv2d_naive(x, w, b, **kw), rtol=1e-12, atol=1e-12)
