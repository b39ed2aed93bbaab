"""Bad-input helpers shared by the test_<op>.py files (every op raises
TypeError / ValueError whose message names the offending argument).

Holds the tiny standard inputs X32 / W32 / B32, `case` / `expect` for tables
of bad-argument cases, the per-op callables OPS and ZERO_DIM_X, the generic
checks of x that apply to every op (BAD_X_CASES: not an array, bad dtype,
wrong rank, zero-sized C/H/W/K), and the kernel_size / stride / padding error
tables shared by the 2-D pools.  Each op file runs BAD_X_CASES for its own op
through one parametrised test:

    @pytest.mark.parametrize("check_x", BAD_X_CASES)
    def test_<op>_bad_x(backend, check_x):
        check_x(backend, "<op>")
"""

import numpy as np
import pytest

import cnnkernels as ck

X = r"\bx\b"
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
# x checks shared by every op: OPS[op](backend, x) calls the op with valid other args
# --------------------------------------------------------------------------

OPS = {
    "conv2d": lambda B, x: B.ck.conv2d(x, B.asarray(np.ones((1, 2, 1, 1), getattr(x, "dtype", np.float32)))),
    "max_pool2d": lambda B, x: B.ck.max_pool2d(x, 2),
    "avg_pool2d": lambda B, x: B.ck.avg_pool2d(x, 2),
    "lp_pool2d": lambda B, x: B.ck.lp_pool2d(x, 2, 2),
    "feature_lp_pool": lambda B, x: B.ck.feature_lp_pool(x, 2, 2),
    "local_contrast_norm": lambda B, x: B.ck.local_contrast_norm(x, 3),
}

# shapes chosen so only the zero-sized dimension is wrong
ZERO_DIM_X = {
    "conv2d": [
        lambda B: B.ck.conv2d(B.asarray(np.ones((1, 0, 4, 4), np.float32)), B.asarray(np.ones((3, 0, 1, 1), np.float32))),
        lambda B: B.ck.conv2d(B.asarray(np.ones((1, 2, 0, 4), np.float32)), B.asarray(np.ones((3, 2, 1, 1), np.float32)), padding=1),
        lambda B: B.ck.conv2d(B.asarray(np.ones((1, 2, 4, 0), np.float32)), B.asarray(np.ones((3, 2, 1, 1), np.float32)), padding=1),
    ],
    "max_pool2d": [
        lambda B: B.ck.max_pool2d(B.asarray(np.ones((1, 0, 4, 4), np.float32)), 2),
        lambda B: B.ck.max_pool2d(B.asarray(np.ones((1, 2, 0, 4), np.float32)), 2, padding=1),
        lambda B: B.ck.max_pool2d(B.asarray(np.ones((1, 2, 4, 0), np.float32)), 2, padding=1),
    ],
    "avg_pool2d": [
        lambda B: B.ck.avg_pool2d(B.asarray(np.ones((1, 0, 4, 4), np.float32)), 2),
        lambda B: B.ck.avg_pool2d(B.asarray(np.ones((1, 2, 0, 4), np.float32)), 2, padding=1),
        lambda B: B.ck.avg_pool2d(B.asarray(np.ones((1, 2, 4, 0), np.float32)), 2, padding=1),
    ],
    "lp_pool2d": [lambda B: B.ck.lp_pool2d(B.asarray(np.ones((1, 0, 4, 4), np.float32)), 2, 2)],
    "feature_lp_pool": [
        lambda B: B.ck.feature_lp_pool(B.asarray(np.ones((1, 2, 0, 4), np.float32)), 2, 1),
        lambda B: B.ck.feature_lp_pool(B.asarray(np.ones((1, 2, 4, 0), np.float32)), 2, 1),
    ],
    "local_contrast_norm": [
        lambda B: B.ck.local_contrast_norm(B.asarray(np.ones((1, 0, 4, 4), np.float32)), 3),
        lambda B: B.ck.local_contrast_norm(B.asarray(np.ones((1, 2, 0, 4), np.float32)), 3),
        lambda B: B.ck.local_contrast_norm(B.asarray(np.ones((1, 2, 4, 0), np.float32)), 3),
    ],
}


def x_not_an_array(backend, op):
    for bad in (X32.tolist(), None, 3.0):
        with pytest.raises(TypeError, match=X):
            OPS[op](backend, bad)


def x_bad_dtype(bad_dtype):
    def check(backend, op):
        x = np.ones((1, 2, 4, 4), bad_dtype)
        with pytest.raises(TypeError, match=X):
            if op == "conv2d":  # weight of the same bad dtype, so only x's dtype is at fault first
                backend.ck.conv2d(backend.asarray(x), backend.asarray(np.ones((1, 2, 1, 1), bad_dtype)))
            else:
                OPS[op](backend, backend.asarray(x))
    return check


def x_wrong_rank(shape):
    def check(backend, op):
        with pytest.raises(ValueError, match=X):
            OPS[op](backend, backend.asarray(np.ones(shape, np.float32)))
    return check


def x_zero_sized_dims(backend, op):
    for fn in ZERO_DIM_X[op]:
        with pytest.raises(ValueError, match=X):
            fn(backend)


# check(backend, op) for every op
BAD_X_CASES = (
    [pytest.param(x_not_an_array, id="not_an_array")]
    + [pytest.param(x_bad_dtype(d), id=f"dtype_{np.dtype(d).name}") for d in (np.int32, np.int64, np.complex64, np.float16, np.bool_)]
    + [pytest.param(x_wrong_rank(s), id=f"rank{len(s)}") for s in ((2, 4, 4), (1, 1, 2, 4, 4), (4, 4), ())]
    + [pytest.param(x_zero_sized_dims, id="zero_sized_dims")]
)


# --------------------------------------------------------------------------
# max_pool2d / avg_pool2d / lp_pool2d (pool() also serves feature_lp_pool)
# --------------------------------------------------------------------------


def pool(op, *args, x=X32, **kw):
    return lambda B: getattr(B.ck, op)(B.asarray(x), *args, **kw)


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
        case("kernel_len0", ValueError, "kernel_size", pool(op, *e, ())),
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
    """Errors in padding shared by max_pool2d and avg_pool2d."""
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
