"""Bad-input tests: every op raises TypeError / ValueError (MemoryError for
astronomically large outputs) whose message names the offending argument.

Covers non-array and wrongly typed arrays, dtype mismatches, wrong ranks,
zero-sized C/H/W/K, non-int geometry arguments (floats, strings, bools),
zero/negative/mis-sized stride, kernel_size, dilation and padding, kernels
larger than the padded input, pooling padding > kernel_size/2, bad groups,
weight/bias shape mismatches, unknown algo / padding strings, "same" with
stride > 1, and the float parameters of lp pooling and LCN.  All arrays are tiny.
"""

import re

import numpy as np
import pytest

import cnnkernels as ck

X = r"\bx\b"
WEIGHT = r"weight"
BIAS = r"bias"
KERNEL = r"kernel"

_rng = np.random.default_rng(7)
X32 = _rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
W32 = _rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
B32 = _rng.standard_normal(3).astype(np.float32)


def case(id, exc, match, fn):
    return pytest.param(fn, exc, match, id=id)


def expect(backend, fn, exc, match):
    with pytest.raises(exc, match=match):
        fn(backend)


# --------------------------------------------------------------------------
# x checks shared by every op: op(backend, x) calls the op with valid other args
# --------------------------------------------------------------------------

OPS = {
    "conv2d": lambda B, x: ck.conv2d(x, B.asarray(np.ones((1, 2, 1, 1), getattr(x, "dtype", np.float32)))),
    "max_pool2d": lambda B, x: ck.max_pool2d(x, 2),
    "avg_pool2d": lambda B, x: ck.avg_pool2d(x, 2),
    "lp_pool2d": lambda B, x: ck.lp_pool2d(x, 2, 2),
    "feature_lp_pool": lambda B, x: ck.feature_lp_pool(x, 2, 2),
    "local_contrast_norm": lambda B, x: ck.local_contrast_norm(x, 3),
}


@pytest.mark.parametrize("op", list(OPS))
def test_x_not_an_array(backend, op):
    for bad in (X32.tolist(), None, 3.0):
        with pytest.raises(TypeError, match=X):
            OPS[op](backend, bad)


@pytest.mark.parametrize("bad_dtype", [np.int32, np.int64, np.complex64, np.float16, np.bool_])
@pytest.mark.parametrize("op", list(OPS))
def test_x_bad_dtype(backend, op, bad_dtype):
    x = np.ones((1, 2, 4, 4), bad_dtype)
    with pytest.raises(TypeError, match=X):
        if op == "conv2d":  # weight of the same bad dtype, so only x's dtype is at fault first
            ck.conv2d(backend.asarray(x), backend.asarray(np.ones((1, 2, 1, 1), bad_dtype)))
        else:
            OPS[op](backend, backend.asarray(x))


@pytest.mark.parametrize("shape", [(2, 4, 4), (1, 1, 2, 4, 4), (4, 4), ()])
@pytest.mark.parametrize("op", list(OPS))
def test_x_wrong_rank(backend, op, shape):
    with pytest.raises(ValueError, match=X):
        OPS[op](backend, backend.asarray(np.ones(shape, np.float32)))


# shapes chosen so only the zero-sized dimension is wrong
ZERO_DIM_X = {
    "conv2d": [
        lambda B: ck.conv2d(B.asarray(np.ones((1, 0, 4, 4), np.float32)), B.asarray(np.ones((3, 0, 1, 1), np.float32))),
        lambda B: ck.conv2d(B.asarray(np.ones((1, 2, 0, 4), np.float32)), B.asarray(np.ones((3, 2, 1, 1), np.float32)), padding=1),
        lambda B: ck.conv2d(B.asarray(np.ones((1, 2, 4, 0), np.float32)), B.asarray(np.ones((3, 2, 1, 1), np.float32)), padding=1),
    ],
    "max_pool2d": [
        lambda B: ck.max_pool2d(B.asarray(np.ones((1, 0, 4, 4), np.float32)), 2),
        lambda B: ck.max_pool2d(B.asarray(np.ones((1, 2, 0, 4), np.float32)), 2, padding=1),
        lambda B: ck.max_pool2d(B.asarray(np.ones((1, 2, 4, 0), np.float32)), 2, padding=1),
    ],
    "avg_pool2d": [
        lambda B: ck.avg_pool2d(B.asarray(np.ones((1, 0, 4, 4), np.float32)), 2),
        lambda B: ck.avg_pool2d(B.asarray(np.ones((1, 2, 0, 4), np.float32)), 2, padding=1),
        lambda B: ck.avg_pool2d(B.asarray(np.ones((1, 2, 4, 0), np.float32)), 2, padding=1),
    ],
    "lp_pool2d": [lambda B: ck.lp_pool2d(B.asarray(np.ones((1, 0, 4, 4), np.float32)), 2, 2)],
    "feature_lp_pool": [
        lambda B: ck.feature_lp_pool(B.asarray(np.ones((1, 2, 0, 4), np.float32)), 2, 1),
        lambda B: ck.feature_lp_pool(B.asarray(np.ones((1, 2, 4, 0), np.float32)), 2, 1),
    ],
    "local_contrast_norm": [
        lambda B: ck.local_contrast_norm(B.asarray(np.ones((1, 0, 4, 4), np.float32)), 3),
        lambda B: ck.local_contrast_norm(B.asarray(np.ones((1, 2, 0, 4), np.float32)), 3),
        lambda B: ck.local_contrast_norm(B.asarray(np.ones((1, 2, 4, 0), np.float32)), 3),
    ],
}


@pytest.mark.parametrize("op", list(ZERO_DIM_X))
def test_x_zero_sized_dims(backend, op):
    for fn in ZERO_DIM_X[op]:
        with pytest.raises(ValueError, match=X):
            fn(backend)


# --------------------------------------------------------------------------
# conv2d
# --------------------------------------------------------------------------


def conv(**kw):
    """conv2d on the standard tiny X32/W32 with some arguments overridden."""
    def fn(B):
        args = dict(x=X32, weight=W32, bias=None)
        args.update(kw)
        arrs = {k: (B.asarray(v) if isinstance(v, np.ndarray) else v) for k, v in args.items() if k in ("x", "weight", "bias")}
        rest = {k: v for k, v in args.items() if k not in ("x", "weight", "bias")}
        return ck.conv2d(arrs["x"], arrs["weight"], arrs["bias"], **rest)
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
    case("stride_len1", ValueError, "stride", conv(stride=[1])),
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
        ck.conv2d(backend.asarray(x), backend.asarray(w), padding=padding)
    if info.type is ValueError:
        assert re.search(r"padding|output", str(info.value)), str(info.value)


def test_conv2d_valid_after_errors(backend):
    # the module is still usable after all that
    out = backend.to_numpy(ck.conv2d(backend.asarray(X32), backend.asarray(W32), backend.asarray(B32)))
    assert out.shape == (1, 3, 3, 3)


# --------------------------------------------------------------------------
# max_pool2d / avg_pool2d / lp_pool2d
# --------------------------------------------------------------------------


def pool(op, *args, x=X32, **kw):
    return lambda B: getattr(ck, op)(B.asarray(x), *args, **kw)


def geometry_errors(op, extra=()):
    """Errors in kernel_size / stride shared by the three 2-D pools; extra
    leading positional args (lp norm_type) in `extra`."""
    e = tuple(extra)
    return [
        case("kernel_float", TypeError, "kernel_size", pool(op, *e, 2.5)),
        case("kernel_str", TypeError, "kernel_size", pool(op, *e, "3")),
        case("kernel_bool", TypeError, "kernel_size", pool(op, *e, True)),
        case("kernel_None", TypeError, "kernel_size", pool(op, *e, None)),
        case("kernel_tuple_float", TypeError, "kernel_size", pool(op, *e, (2, 2.5))),
        case("kernel_zero", ValueError, "kernel_size", pool(op, *e, 0)),
        case("kernel_negative", ValueError, "kernel_size", pool(op, *e, -2)),
        case("kernel_pair_zero", ValueError, "kernel_size", pool(op, *e, (2, 0))),
        case("kernel_len3", ValueError, "kernel_size", pool(op, *e, (2, 2, 2))),
        case("kernel_len1", ValueError, "kernel_size", pool(op, *e, [2])),
        case("kernel_larger_than_input", ValueError, KERNEL, pool(op, *e, 6)),
        case("kernel_larger_than_input_rect", ValueError, KERNEL, pool(op, *e, (2, 6))),
        case("kernel_larger_than_input_ceil", ValueError, KERNEL, pool(op, *e, 6, 2, ceil_mode=True)),
        case("stride_float", TypeError, "stride", pool(op, *e, 2, 1.5)),
        case("stride_str", TypeError, "stride", pool(op, *e, 2, "2")),
        case("stride_bool", TypeError, "stride", pool(op, *e, 2, True)),
        case("stride_zero", ValueError, "stride", pool(op, *e, 2, 0)),
        case("stride_negative", ValueError, "stride", pool(op, *e, 2, -1)),
        case("stride_pair_zero", ValueError, "stride", pool(op, *e, 2, (0, 1))),
        case("stride_len3", ValueError, "stride", pool(op, *e, 2, (1, 1, 1))),
    ]


def padding_errors(op):
    return [
        case("padding_float", TypeError, "padding", pool(op, 3, 1, 0.5)),
        case("padding_str", TypeError, "padding", pool(op, 3, 1, "1")),
        case("padding_bool", TypeError, "padding", pool(op, 3, 1, True)),
        case("padding_negative", ValueError, "padding", pool(op, 3, 1, -1)),
        case("padding_pair_negative", ValueError, "padding", pool(op, 3, 1, (0, -1))),
        case("padding_gt_half_kernel", ValueError, "padding", pool(op, 3, 1, 2)),
        case("padding_gt_half_kernel_2", ValueError, "padding", pool(op, 2, 1, 2)),
        case("padding_gt_half_kernel_per_dim", ValueError, "padding", pool(op, (3, 2), 1, (1, 2))),
        case("padding_gt_half_kernel_1", ValueError, "padding", pool(op, 1, 1, 1)),
        case("padding_len3", ValueError, "padding", pool(op, 3, 1, (1, 1, 1))),
    ]


MAX_ERRORS = geometry_errors("max_pool2d") + padding_errors("max_pool2d") + [
    case("dilation_float", TypeError, "dilation", pool("max_pool2d", 2, dilation=1.5)),
    case("dilation_bool", TypeError, "dilation", pool("max_pool2d", 2, dilation=True)),
    case("dilation_zero", ValueError, "dilation", pool("max_pool2d", 2, dilation=0)),
    case("dilation_negative", ValueError, "dilation", pool("max_pool2d", 2, dilation=(1, -1))),
    case("dilation_len3", ValueError, "dilation", pool("max_pool2d", 2, dilation=(1, 1, 1))),
    case("dilated_kernel_larger_than_input", ValueError, r"kernel|dilation", pool("max_pool2d", 3, dilation=3)),
]
AVG_ERRORS = geometry_errors("avg_pool2d") + padding_errors("avg_pool2d")
LP_ERRORS = geometry_errors("lp_pool2d", extra=(2,)) + [
    case(f"norm_type_{name}", ValueError, "norm_type", pool("lp_pool2d", p, 2))
    for name, p in [("nan", float("nan")), ("inf", float("inf")), ("-inf", -float("inf")), ("zero", 0), ("negative", -1.0)]
]


@pytest.mark.parametrize("fn,exc,match", MAX_ERRORS)
def test_max_pool2d_bad_arguments(backend, fn, exc, match):
    expect(backend, fn, exc, match)


@pytest.mark.parametrize("fn,exc,match", AVG_ERRORS)
def test_avg_pool2d_bad_arguments(backend, fn, exc, match):
    expect(backend, fn, exc, match)


@pytest.mark.parametrize("fn,exc,match", LP_ERRORS)
def test_lp_pool2d_bad_arguments(backend, fn, exc, match):
    expect(backend, fn, exc, match)


# --------------------------------------------------------------------------
# feature_lp_pool
# --------------------------------------------------------------------------

FEATURE_ERRORS = [
    case("width_zero", ValueError, "width", pool("feature_lp_pool", 2, 0)),
    case("width_negative", ValueError, "width", pool("feature_lp_pool", 2, -1)),
    case("width_gt_C", ValueError, "width", pool("feature_lp_pool", 2, 3)),
    case("width_float", TypeError, "width", pool("feature_lp_pool", 2, 1.5)),
    case("width_bool", TypeError, "width", pool("feature_lp_pool", 2, True)),
    case("stride_zero", ValueError, "stride", pool("feature_lp_pool", 2, 1, 0)),
    case("stride_negative", ValueError, "stride", pool("feature_lp_pool", 2, 1, -2)),
    case("stride_float", TypeError, "stride", pool("feature_lp_pool", 2, 1, 1.5)),
    case("stride_bool", TypeError, "stride", pool("feature_lp_pool", 2, 1, True)),
] + [
    case(f"norm_type_{name}", ValueError, "norm_type", pool("feature_lp_pool", p, 2))
    for name, p in [("nan", float("nan")), ("inf", float("inf")), ("zero", 0), ("negative", -2)]
]


@pytest.mark.parametrize("fn,exc,match", FEATURE_ERRORS)
def test_feature_lp_pool_bad_arguments(backend, fn, exc, match):
    expect(backend, fn, exc, match)


# --------------------------------------------------------------------------
# local_contrast_norm
# --------------------------------------------------------------------------


def lcn(**kw):
    return lambda B: ck.local_contrast_norm(B.asarray(X32), **kw)


LCN_ERRORS = [
    case("kernel_even", ValueError, "kernel_size", lcn(kernel_size=4)),
    case("kernel_zero", ValueError, "kernel_size", lcn(kernel_size=0)),
    case("kernel_negative", ValueError, "kernel_size", lcn(kernel_size=-3)),
    case("kernel_float", TypeError, "kernel_size", lcn(kernel_size=2.5)),
    case("kernel_str", TypeError, "kernel_size", lcn(kernel_size="9")),
    case("kernel_bool", TypeError, "kernel_size", lcn(kernel_size=True)),
    case("sigma_nan", ValueError, "sigma", lcn(sigma=float("nan"))),
    case("sigma_inf", ValueError, "sigma", lcn(sigma=float("inf"))),
    case("sigma_zero", ValueError, "sigma", lcn(sigma=0.0)),
    case("sigma_negative", ValueError, "sigma", lcn(sigma=-1.0)),
    case("eps_nan", ValueError, "eps", lcn(eps=float("nan"))),
    case("eps_negative", ValueError, "eps", lcn(eps=-1e-3)),
]


@pytest.mark.parametrize("fn,exc,match", LCN_ERRORS)
def test_lcn_bad_arguments(backend, fn, exc, match):
    expect(backend, fn, exc, match)


def test_lcn_eps_zero_is_allowed(backend):
    out = backend.to_numpy(ck.local_contrast_norm(backend.asarray(X32), 3, 1.0, 0.0))
    assert out.shape == X32.shape and np.isfinite(out).all()
