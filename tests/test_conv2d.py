"""Tests of ck.conv2d against the float64 NumPy reference reference.conv2d.

Fixed edge-case geometries (conv_cases.CASES: 1x1 input, kernel == input,
stride > kernel, dilation, groups incl. depthwise, asymmetric / "same" /
"valid" padding, odd sizes, batch 1 and 5), batch 0, non-contiguous / Fortran
/ read-only inputs, hypothesis random geometries, the direct kernel's border
outputs; every conv test runs for each backend, each algo in conftest.ALGOS
and float32/float64.  Then the bad arguments: the generic checks of x
(op_checks.BAD_X_CASES), bad weight / bias arrays, kernels larger than the
padded input, bad stride / dilation / padding / groups / algo, and
astronomically large outputs (MemoryError or ValueError).
"""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnkernels as ck
import reference
from conv_cases import CASES, make
from op_checks import B32, BAD_X_CASES, W32, X32, case, expect
from reference import LAYOUTS, assert_close, assert_unchanged, conv_geometries, snapshot


def run_conv(backend, x, w, b=None, **kw):
    """ck.conv2d through the backend; checks that no input was modified."""
    xb, wb = backend.asarray(x), backend.asarray(w)
    bb = None if b is None else backend.asarray(b)
    before = snapshot(x, w, b)
    out = backend.ck.conv2d(xb, wb, bb, **kw)
    assert_unchanged(
        before, [backend.to_numpy(xb), backend.to_numpy(wb), None if bb is None else backend.to_numpy(bb)]
    )
    return backend.to_numpy(out)


@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("case", list(CASES))
def test_conv2d_matches_reference(backend, algo, dtype, rng, case, bias):
    xs, ws, kw = CASES[case]
    x, w, b = make(rng, xs, ws, dtype, bias)
    out = run_conv(backend, x, w, b, algo=algo, **kw)
    assert_close(out, reference.conv2d(x, w, b, **kw), dtype)


def test_conv2d_default_algo_and_defaults(backend, dtype, rng):
    x, w, _ = make(rng, (2, 3, 5, 6), (4, 3, 2, 3), dtype)
    out = backend.to_numpy(backend.ck.conv2d(backend.asarray(x), backend.asarray(w)))
    assert_close(out, reference.conv2d(x, w), dtype)


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
    assert_close(out, reference.conv2d(x, w, b, **kw), dtype)


@pytest.mark.parametrize("layout", ["fortran", "transposed_hw", "negative_strides", "strided_h"])
def test_conv2d_noncontiguous_weight_and_bias(backend, algo, dtype, rng, layout):
    x = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    # LAYOUTS build (n, c, h, w); the weight is (K, C, R, S) = (5, 3, 3, 3)
    w = LAYOUTS[layout](rng, (5, 3, 3, 3), dtype)
    assert not w.flags.c_contiguous
    b = rng.standard_normal(10).astype(dtype)[::2]
    out = run_conv(backend, x, w, b, algo=algo, padding=1)
    assert_close(out, reference.conv2d(x, w, b, padding=1), dtype)


def test_conv2d_readonly_inputs(backend, algo, dtype, rng):
    x, w, b = make(rng, (2, 3, 5, 5), (2, 3, 3, 3), dtype)
    for a in (x, w, b):
        a.setflags(write=False)
    out = run_conv(backend, x, w, b, algo=algo, padding=1)
    assert_close(out, reference.conv2d(x, w, b, padding=1), dtype)


def test_conv2d_result_is_fresh_array(backend, algo, dtype, rng):
    # identity 1x1 conv: a result aliasing x would still "look" right
    x = rng.standard_normal((2, 3, 4, 4)).astype(dtype)
    w = np.eye(3, dtype=dtype).reshape(3, 3, 1, 1)
    out = run_conv(backend, x, w, algo=algo)
    assert_close(out, x.astype(np.float64), dtype)
    assert not np.shares_memory(out, x)


def test_conv2d_list_and_tuple_arguments_agree(backend, algo, dtype, rng):
    x, w, b = make(rng, (1, 2, 7, 6), (3, 2, 3, 2), dtype)
    ref = reference.conv2d(x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    for kw in (
        dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
        dict(stride=[2, 1], padding=[1, 0], dilation=[1, 2]),
        dict(stride=(2, 1), padding=((1, 1), (0, 0)), dilation=(1, 2)),
    ):
        assert_close(run_conv(backend, x, w, b, algo=algo, **kw), ref, dtype)


def test_conv2d_one_tuples_serve_both_dimensions(backend, algo, dtype, rng):
    # As PyTorch: stride=(2,), padding=(1,), dilation=[2] are (2, 2), (1, 1), (2, 2).
    x, w, b = make(rng, (2, 3, 9, 8), (4, 3, 3, 3), dtype)
    ref = reference.conv2d(x, w, b, stride=2, padding=1, dilation=2)
    assert_close(run_conv(backend, x, w, b, algo=algo, stride=(2,), padding=(1,), dilation=[2]), ref, dtype)


@settings(max_examples=50, deadline=None)
@given(geo=conv_geometries(), use_f64=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_conv2d_random_geometry(backend, algo, geo, use_f64, seed):
    dtype = np.dtype(np.float64 if use_f64 else np.float32)
    rng = np.random.default_rng(seed)
    g = geo
    x, w, b = make(rng, (g["N"], g["C"], g["H"], g["W"]), (g["K"], g["C"] // g["groups"], g["R"], g["S"]), dtype, g["bias"])
    kw = {k: g[k] for k in ("stride", "padding", "dilation", "groups")}
    out = run_conv(backend, x, w, b, algo=algo, **kw)
    ref = reference.conv2d(x, w, b, **kw)
    assert_close(out, ref, dtype, cancellation_tolerance(x, w, b, kw, ref, dtype))


def cancellation_tolerance(x, w, b, kw, ref, dtype):
    """TOL[dtype], grown where an output is mostly cancellation: rounding error scales with sum |w| |x|, not
    with |y| (hypothesis found fft at 1.2-1.6e-5 of max |y| for one output of 32 products, y = 0.06 and
    sum |w x| = 20; fft's transforms round every output to about 2e-8 of sum |w x| in float32)."""
    if not ref.size:
        return reference.TOL[dtype]
    magnitude = np.abs(reference.conv2d(np.abs(x), np.abs(w), None if b is None else np.abs(b), **kw)).max()
    return reference.TOL[dtype] * max(1.0, magnitude / (10 * max(np.abs(ref).max(), 1e-30)))


# ---- direct: outputs that border the padding ----------------------------------
# The SIMD direct kernel runs every output in register tiles; a padded layer's tiles read, per chunk of
# 240 consecutive outputs, a zero-padded copy of the input rows the chunk needs: large and small padded
# images, asymmetric, dilated and strided; chunks that start mid-row (37 x 29 outputs), an image one column
# wide (a chunk of 240 rows), padding on one side only (bottom, or right), stride above the kernel with
# padding, padding wider than a tap reaches.
DIRECT_BORDER_CASES = {
    "large_image_pad1": ((1, 3, 96, 90), (16, 3, 3, 3), dict(padding=1)),
    "large_asym_dilated": ((2, 2, 131, 151), (17, 2, 3, 3), dict(padding=((2, 0), (1, 3)), dilation=2)),
    "small_image_pad2": ((2, 5, 11, 9), (16, 5, 5, 5), dict(padding=2)),
    "small_asym_strided": ((3, 4, 13, 10), (9, 4, 3, 4), dict(padding=((0, 2), (3, 1)), stride=(2, 3))),
    "chunks_mid_row": ((2, 3, 37, 29), (20, 3, 5, 5), dict(padding=2)),
    "one_column": ((1, 2, 300, 1), (16, 2, 3, 3), dict(padding=1)),
    "pad_bottom_only": ((2, 3, 20, 18), (16, 3, 3, 3), dict(padding=((0, 3), (0, 0)))),
    "pad_right_only": ((2, 3, 18, 20), (16, 3, 3, 2), dict(padding=((0, 0), (0, 1)), dilation=(1, 4))),
    "stride_over_kernel": ((2, 4, 29, 31), (24, 4, 3, 3), dict(padding=2, stride=(5, 4))),
    "pad_past_taps": ((1, 3, 9, 8), (16, 3, 2, 2), dict(padding=((3, 4), (5, 2)), stride=3)),
}


@pytest.mark.parametrize("case", sorted(DIRECT_BORDER_CASES))
def test_conv2d_direct_border_outputs(backend, dtype, rng, case):
    xs, ws, kw = DIRECT_BORDER_CASES[case]
    x, w, b = make(rng, xs, ws, dtype, True)
    assert_close(run_conv(backend, x, w, b, algo="direct", **kw), reference.conv2d(x, w, b, **kw), dtype)


# ---- direct: blocks of output channels -----------------------------------------
# The tiles hold 2 vectors of output channels, or 1 for the last block of a group with an odd number of
# vectors (4, 8 or 16 lanes per ISA): K/g of 40 (AVX-512: 2 + 1 vectors, AVX2: 2 + 2 + 1), 24, 13 and 5
# (below a vector: one partly empty block) with groups; at stride_w > 1 any K/g runs the tiles, 1 to 3
# (depthwise included). Batch above the thread count. Rows wide enough for whole tiles inside one row at
# 1 vector, where taps side by side go in pairs: even and odd S (a tap left over), and dilation along w
# (no pairs).
DIRECT_BLOCK_CASES = {
    "k40_groups2": ((2, 6, 15, 17), (80, 3, 3, 3), dict(groups=2, padding=1)),
    "k24": ((5, 3, 12, 11), (24, 3, 4, 3), dict(padding=(2, 1))),
    "k13_stride2": ((3, 7, 21, 19), (13, 7, 5, 5), dict(stride=2, padding=2)),
    "k5_groups_stride2": ((2, 6, 16, 15), (10, 3, 3, 3), dict(groups=2, stride=(1, 2), padding=1)),
    "k1_stride2": ((2, 3, 13, 18), (1, 3, 3, 3), dict(stride=2, padding=(0, 1))),
    "k3_stride_w3_dilated": ((2, 2, 17, 25), (3, 2, 3, 3), dict(stride=(1, 3), dilation=2, padding=1)),
    "depthwise_stride2": ((5, 8, 14, 13), (8, 1, 3, 3), dict(groups=8, stride=2, padding=1)),
    "k8_wide_rows_even_s": ((2, 3, 9, 61), (8, 3, 3, 4), dict(padding=(1, 2))),
    "k16_wide_rows_odd_s": ((1, 4, 7, 50), (16, 4, 2, 5), dict(padding=2)),
    "k8_wide_rows_dilated_w": ((1, 2, 6, 60), (8, 2, 3, 3), dict(dilation=(1, 2))),
}


def check_direct_with_and_without_bias(backend, dtype, rng, xs, ws, kw):
    x, w, b = make(rng, xs, ws, dtype, True)
    assert_close(run_conv(backend, x, w, b, algo="direct", **kw), reference.conv2d(x, w, b, **kw), dtype)
    assert_close(run_conv(backend, x, w, None, algo="direct", **kw), reference.conv2d(x, w, None, **kw), dtype)


@pytest.mark.parametrize("case", sorted(DIRECT_BLOCK_CASES))
def test_conv2d_direct_channel_blocks(backend, dtype, rng, case):
    check_direct_with_and_without_bias(backend, dtype, rng, *DIRECT_BLOCK_CASES[case])


# ---- direct: the thin path (stride_w 1, one input and fewer output channels per group than a vector) --
# With stride_w 1, for fewer output channels than a vector and one input channel per group, it tiles each
# output row in vectors of up to 32 bytes (the last tile overlapping), and runs the columns next to the
# padding, and rows too short for a tile, one at a time; blocks of up to 8 channels (13 = 8 + 5). Rows of
# 28, 14 and 9 columns, padding, dilation along w, groups, stride along h.
DIRECT_THIN_CASES = {
    "lenet_conv1": ((3, 1, 32, 32), (6, 1, 5, 5), dict()),
    "k13_padded": ((2, 3, 17, 30), (39, 1, 3, 3), dict(padding=((1, 2), (2, 1)), groups=3)),
    "k1_dilated_w": ((2, 1, 12, 40), (1, 1, 3, 4), dict(dilation=(1, 3), padding=(1, 4))),
    "groups_k2_stride_h": ((2, 3, 19, 23), (6, 1, 3, 3), dict(groups=3, stride=(2, 1), padding=1)),
    "depthwise_wide": ((1, 4, 9, 37), (4, 1, 3, 5), dict(groups=4, padding=(1, 2))),
}


@pytest.mark.parametrize("case", sorted(DIRECT_THIN_CASES))
def test_conv2d_direct_thin_rows(backend, dtype, rng, case):
    check_direct_with_and_without_bias(backend, dtype, rng, *DIRECT_THIN_CASES[case])


# --------------------------------------------------------------------------
# bad arguments
# --------------------------------------------------------------------------

WEIGHT = r"weight"
BIAS = r"bias"


def conv(**kw):
    """conv2d on the standard tiny X32/W32 with some arguments overridden."""
    def fn(B):
        args = dict(x=X32, weight=W32, bias=None)
        args.update(kw)
        arrs = {k: (B.asarray(v) if isinstance(v, np.ndarray) else v) for k, v in args.items() if k in ("x", "weight", "bias")}
        rest = {k: v for k, v in args.items() if k not in ("x", "weight", "bias")}
        return B.ck.conv2d(arrs["x"], arrs["weight"], arrs["bias"], **rest)
    return fn


f32, f64 = np.float32, np.float64
CONV_ERRORS = [
    # arrays
    case("weight_list", TypeError, WEIGHT, conv(weight=W32.tolist())),
    case("bias_list", TypeError, BIAS, conv(bias=B32.tolist())),
    case("weight_int32", TypeError, WEIGHT, conv(weight=W32.astype(np.int32))),
    case("weight_float16", TypeError, WEIGHT, conv(weight=W32.astype(np.float16))),
    case("bias_int64", TypeError, BIAS, conv(bias=B32.astype(np.int64))),
    case("bias_complex64", TypeError, BIAS, conv(bias=B32.astype(np.complex64))),
    case("x32_weight64", TypeError, WEIGHT, conv(weight=W32.astype(f64))),
    case("x64_weight32", TypeError, WEIGHT, conv(x=X32.astype(f64))),
    case("x32_bias64", TypeError, BIAS, conv(bias=B32.astype(f64))),
    case("x64_weight64_bias32", TypeError, BIAS, conv(x=X32.astype(f64), weight=W32.astype(f64), bias=B32)),
    case("weight_3d", ValueError, WEIGHT, conv(weight=W32[0])),
    case("weight_5d", ValueError, WEIGHT, conv(weight=W32[None])),
    case("bias_2d", ValueError, BIAS, conv(bias=B32[None])),
    case("bias_0d", ValueError, BIAS, conv(bias=np.asarray(B32[0]))),
    case("weight_K0", ValueError, WEIGHT, conv(weight=np.ones((0, 2, 3, 3), f32))),
    case("weight_R0", ValueError, WEIGHT, conv(weight=np.ones((3, 2, 0, 3), f32))),
    case("weight_S0", ValueError, WEIGHT, conv(weight=np.ones((3, 2, 3, 0), f32))),
    case("weight_C_mismatch", ValueError, WEIGHT, conv(weight=np.ones((3, 1, 3, 3), f32))),
    case("weight_C_mismatch_groups", ValueError, WEIGHT, conv(x=np.ones((1, 4, 5, 5), f32), weight=np.ones((2, 4, 3, 3), f32), groups=2)),
    case("bias_too_short", ValueError, BIAS, conv(bias=B32[:2])),
    case("bias_too_long", ValueError, BIAS, conv(bias=np.ones(4, f32))),
    # kernel vs input
    case("kernel_larger_than_input", ValueError, r"kernel|weight", conv(weight=np.ones((3, 2, 6, 3), f32))),
    case("kernel_larger_than_padded_input", ValueError, r"kernel|weight", conv(weight=np.ones((3, 2, 3, 8), f32), padding=1)),
    case("dilated_kernel_larger_than_input", ValueError, r"kernel|weight|dilation", conv(dilation=3)),
    case("kernel_larger_asym_padding", ValueError, r"kernel|weight", conv(weight=np.ones((3, 2, 8, 3), f32), padding=((1, 1), (0, 0)))),
    # stride
    case("stride_float", TypeError, "stride", conv(stride=2.5)),
    case("stride_str", TypeError, "stride", conv(stride="3")),
    case("stride_bool", TypeError, "stride", conv(stride=True)),
    case("stride_tuple_float", TypeError, "stride", conv(stride=(1, 2.5))),
    case("stride_tuple_bool", TypeError, "stride", conv(stride=(1, True))),
    case("stride_zero", ValueError, "stride", conv(stride=0)),
    case("stride_negative", ValueError, "stride", conv(stride=-1)),
    case("stride_pair_zero", ValueError, "stride", conv(stride=(1, 0))),
    case("stride_len3", ValueError, "stride", conv(stride=(1, 1, 1))),
    case("stride_len0", ValueError, "stride", conv(stride=[])),
    # dilation
    case("dilation_float", TypeError, "dilation", conv(dilation=1.5)),
    case("dilation_bool", TypeError, "dilation", conv(dilation=True)),
    case("dilation_str", TypeError, "dilation", conv(dilation="1")),
    case("dilation_zero", ValueError, "dilation", conv(dilation=0)),
    case("dilation_negative", ValueError, "dilation", conv(dilation=(1, -2))),
    case("dilation_len0", ValueError, "dilation", conv(dilation=())),
    # padding
    case("padding_float", TypeError, "padding", conv(padding=0.5)),
    case("padding_bool", TypeError, "padding", conv(padding=True)),
    case("padding_tuple_float", TypeError, "padding", conv(padding=(1, 1.5))),
    case("padding_pairs_float", TypeError, "padding", conv(padding=((1, 1), (0, 0.5)))),
    case("padding_negative", ValueError, "padding", conv(padding=-1)),
    case("padding_pair_negative", ValueError, "padding", conv(padding=(0, -1))),
    case("padding_pairs_negative", ValueError, "padding", conv(padding=((0, 0), (-1, 0)))),
    case("padding_len3", ValueError, "padding", conv(padding=(1, 1, 1))),
    case("padding_len4", ValueError, "padding", conv(padding=(1, 1, 1, 1))),
    case("padding_pairs_short", ValueError, "padding", conv(padding=((1, 2), (3,)))),
    case("padding_pairs_len3", ValueError, "padding", conv(padding=((1, 2), (3, 4), (5, 6)))),
    case("padding_unknown_string", ValueError, "padding", conv(padding="full")),
    case("padding_numeric_string", ValueError, "padding", conv(padding="3")),
    case("padding_same_stride2", ValueError, r"padding|stride", conv(padding="same", stride=2)),
    case("padding_same_stride_1_2", ValueError, r"padding|stride", conv(padding="same", stride=(1, 2))),
    # groups
    case("groups_float", TypeError, "groups", conv(groups=1.0)),
    case("groups_str", TypeError, "groups", conv(groups="1")),
    case("groups_bool", TypeError, "groups", conv(groups=True)),
    case("groups_zero", ValueError, "groups", conv(groups=0)),
    case("groups_negative", ValueError, "groups", conv(groups=-1)),
    case("groups_not_dividing_C", ValueError, "groups", conv(weight=np.ones((3, 1, 3, 3), f32), groups=3)),
    case("groups_not_dividing_K", ValueError, "groups", conv(weight=np.ones((3, 1, 3, 3), f32), groups=2)),
    # algo
    case("algo_unknown", ValueError, "algo", conv(algo="fast")),
    case("algo_empty", ValueError, "algo", conv(algo="")),
]


@pytest.mark.parametrize("check_x", BAD_X_CASES)
def test_conv2d_bad_x(backend, check_x):
    check_x(backend, "conv2d")


@pytest.mark.parametrize("fn,exc,match", CONV_ERRORS)
def test_conv2d_bad_arguments(backend, fn, exc, match):
    expect(backend, fn, exc, match)


def test_conv2d_algo_not_a_string(backend):
    with pytest.raises((TypeError, ValueError), match="algo"):
        conv(algo=3)(backend)


@pytest.mark.parametrize("padding", [2**20, 2**31, 2**40, (2**40, 0), ((2**40, 0), (0, 0)), (0, 2**62)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_astronomical_output(backend, padding, dtype):
    x = np.ones((1, 1, 1, 1), dtype)
    w = np.ones((1, 1, 1, 1), dtype)
    with pytest.raises((MemoryError, ValueError)) as info:
        backend.ck.conv2d(backend.asarray(x), backend.asarray(w), padding=padding)
    if info.type is ValueError:
        assert re.search(r"padding|output", str(info.value)), str(info.value)


def test_conv2d_valid_after_errors(backend):
    # the module is still usable after all that
    out = backend.to_numpy(backend.ck.conv2d(backend.asarray(X32), backend.asarray(W32), backend.asarray(B32)))
    assert out.shape == (1, 3, 3, 3)
