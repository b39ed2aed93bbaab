"""Tests of ck.feature_lp_pool (Lp pooling across channels) against the float64
NumPy reference reference.feature_lp_pool.

p = 1, 2, 3, 1.5 (pool_cases.LP_P_KINDS) with default, overlapping and gapped
channel windows, the default stride (= width), output shapes incl. batch 0,
clamp of negative sums to 0, non-contiguous / read-only inputs,
float32/float64.  Then the bad arguments: the generic checks of x
(op_checks.BAD_X_CASES) and bad width / stride / norm_type.
"""

import itertools

import numpy as np
import pytest

import cnnkernels as ck
import reference
from op_checks import BAD_X_CASES, case, expect, pool
from pool_cases import LP_P_KINDS, call, make
from reference import LAYOUTS, assert_close

# (C, width, stride): default stride, overlapping, gaps, width == C, width 1
FEATURE_CASES = [(4, 2, None), (5, 2, 1), (7, 2, 3), (3, 3, None), (3, 1, None), (6, 4, 2), (5, 1, 2)]


@pytest.mark.parametrize("p,kind", LP_P_KINDS, ids=[f"p{p}-{k}" for p, k in LP_P_KINDS])
@pytest.mark.parametrize("C,width,stride", FEATURE_CASES)
def test_feature_lp_pool_matches_reference(backend, dtype, rng, C, width, stride, p, kind):
    x = make(rng, (2, C, 3, 4), dtype, kind)
    out = call(backend, ck.feature_lp_pool, x, p, width, stride)
    ref = reference.feature_lp_pool(x, p, width, stride)
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
    assert_close(call(backend, ck.feature_lp_pool, x, 2, 2, 1), reference.feature_lp_pool(x, 2, 2, 1), dtype)


def test_feature_lp_pool_readonly(backend, dtype, rng):
    x = make(rng, (2, 4, 3, 3), dtype)
    x.setflags(write=False)
    assert_close(call(backend, ck.feature_lp_pool, x, 2, 2), reference.feature_lp_pool(x, 2, 2), dtype)


# --------------------------------------------------------------------------
# bad arguments
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


@pytest.mark.parametrize("check_x", BAD_X_CASES)
def test_feature_lp_pool_bad_x(backend, check_x):
    check_x(backend, "feature_lp_pool")


@pytest.mark.parametrize("fn,exc,match", FEATURE_ERRORS)
def test_feature_lp_pool_bad_arguments(backend, fn, exc, match):
    expect(backend, fn, exc, match)
