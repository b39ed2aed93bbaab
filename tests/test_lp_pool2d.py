"""Tests of ck.lp_pool2d against the float64 NumPy reference reference.lp_pool2d.

p = 1, 2, 3, 1.5 (pool_cases.LP_P_KINDS), clamp of negative sums to 0,
partial ceil_mode windows summing only the elements present, int and float
norm_type, edge geometries, batch 0, non-contiguous inputs, float32/float64.
Then the bad arguments: the generic checks of x (op_checks.BAD_X_CASES) and
bad kernel_size / stride / norm_type.
"""

import numpy as np
import pytest

import cnnkernels as ck
import reference
from op_checks import BAD_X_CASES, case, expect, geometry_errors, pool
from pool_cases import LP_P_KINDS, call, make
from reference import LAYOUTS, assert_close

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


@pytest.mark.parametrize("p,kind", LP_P_KINDS, ids=[f"p{p}-{k}" for p, k in LP_P_KINDS])
@pytest.mark.parametrize("case", list(LP_CASES))
def test_lp_pool2d_matches_reference(backend, dtype, rng, case, p, kind):
    shape, kw = LP_CASES[case]
    x = make(rng, shape, dtype, kind)
    out = call(backend, ck.lp_pool2d, x, p, **kw)
    assert_close(out, reference.lp_pool2d(x, p, **kw), dtype)


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
    ref = reference.lp_pool2d(x, 2, 3)
    assert_close(call(backend, ck.lp_pool2d, x, 2, 3), ref, dtype)
    assert_close(call(backend, ck.lp_pool2d, x, 2.0, 3, None), ref, dtype)
    assert_close(call(backend, ck.lp_pool2d, x, 2.0, 3, 3, False), ref, dtype)


@pytest.mark.parametrize("case", ["k2", "ceil_partial_windows", "rect"])
def test_lp_pool2d_batch_zero(backend, dtype, case):
    shape, kw = LP_CASES[case]
    x = np.zeros((0,) + shape[1:], dtype)
    out = call(backend, ck.lp_pool2d, x, 2, **kw)
    assert out.shape == reference.lp_pool2d(x, 2, **kw).shape and out.dtype == dtype


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_lp_pool2d_noncontiguous(backend, dtype, rng, layout):
    x = LAYOUTS[layout](rng, (2, 3, 7, 6), dtype)
    np.abs(x, out=x)  # in place, keeps the layout
    kw = dict(kernel_size=(3, 2), stride=(2, 1), ceil_mode=True)
    assert_close(call(backend, ck.lp_pool2d, x, 1.5, **kw), reference.lp_pool2d(x, 1.5, **kw), dtype)


# --------------------------------------------------------------------------
# bad arguments
# --------------------------------------------------------------------------

LP_ERRORS = geometry_errors("lp_pool2d", extra=(2,)) + [
    case(f"norm_type_{name}", ValueError, "norm_type", pool("lp_pool2d", p, 2))
    for name, p in [("nan", float("nan")), ("inf", float("inf")), ("-inf", -float("inf")), ("zero", 0), ("negative", -1.0)]
]


@pytest.mark.parametrize("check_x", BAD_X_CASES)
def test_lp_pool2d_bad_x(backend, check_x):
    check_x(backend, "lp_pool2d")


@pytest.mark.parametrize("fn,exc,match", LP_ERRORS)
def test_lp_pool2d_bad_arguments(backend, fn, exc, match):
    expect(backend, fn, exc, match)
