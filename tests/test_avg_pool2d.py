"""Tests of ck.avg_pool2d against the float64 NumPy reference reference.avg_pool2d.

count_include_pad on and off, ceil_mode divisors (windows past the padding,
last window dropped), defaults, edge geometries, batch 0, non-contiguous /
read-only inputs, float32/float64 and hypothesis random geometries.  Then the
bad arguments: the generic checks of x (op_checks.BAD_X_CASES) and bad
kernel_size / stride / padding.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnkernels as ck
import reference
from op_checks import BAD_X_CASES, case, expect, geometry_errors, padding_errors, pool
from pool_cases import call, make
from reference import LAYOUTS, assert_close, pool_geometries

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
    assert_close(out, reference.avg_pool2d(x, count_include_pad=count_include_pad, **kw), dtype)


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
    assert_close(out, reference.avg_pool2d(x, 3, 3), dtype)
    out = call(backend, ck.avg_pool2d, x, (2, 3), None, 1)
    assert_close(out, reference.avg_pool2d(x, (2, 3), (2, 3), 1, count_include_pad=True), dtype)


@pytest.mark.parametrize("divisor", [1, 3, 7])
@pytest.mark.parametrize("count_include_pad", [True, False], ids=["cip", "nocip"])
def test_avg_pool2d_divisor_override(backend, dtype, rng, divisor, count_include_pad):
    # Every window's sum is divided by the override, padding and ceil_mode windows included.
    x = make(rng, (2, 3, 7, 6), dtype)
    kw = dict(kernel_size=(3, 2), stride=(2, 2), padding=(1, 1), ceil_mode=True, count_include_pad=count_include_pad)
    out = call(backend, ck.avg_pool2d, x, divisor_override=divisor, **kw)
    assert_close(out, reference.avg_pool2d(x, divisor_override=divisor, **kw), dtype)


def test_avg_pool2d_divisor_override_exact_example(backend, dtype):
    x = np.arange(16, dtype=dtype).reshape(1, 1, 4, 4)
    out = call(backend, ck.avg_pool2d, x, 2, divisor_override=2)
    np.testing.assert_array_equal(out, np.array([[[[10, 18], [42, 50]]]], dtype) / 2)  # window sums / 2


def test_avg_pool2d_one_tuples_serve_both_dimensions(backend, dtype, rng):
    x = make(rng, (1, 2, 9, 8), dtype)
    out = call(backend, ck.avg_pool2d, x, (3,), stride=(2,), padding=(1,))
    assert_close(out, reference.avg_pool2d(x, 3, 2, 1), dtype)


@pytest.mark.parametrize("case", ["k2", "k3_s1_p1", "ceil_window_past_padding"])
def test_avg_pool2d_batch_zero(backend, dtype, case):
    shape, kw = AVG_CASES[case]
    x = np.zeros((0,) + shape[1:], dtype)
    out = call(backend, ck.avg_pool2d, x, **kw)
    assert out.shape == reference.avg_pool2d(x, **kw).shape and out.dtype == dtype


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_avg_pool2d_noncontiguous(backend, dtype, rng, layout):
    x = LAYOUTS[layout](rng, (2, 3, 7, 6), dtype)
    kw = dict(kernel_size=(3, 2), stride=(2, 1), padding=1, ceil_mode=True, count_include_pad=False)
    assert_close(call(backend, ck.avg_pool2d, x, **kw), reference.avg_pool2d(x, **kw), dtype)


def test_avg_pool2d_readonly(backend, dtype, rng):
    x = make(rng, (2, 2, 5, 5), dtype)
    x.setflags(write=False)
    assert_close(call(backend, ck.avg_pool2d, x, 3, 2, 1), reference.avg_pool2d(x, 3, 2, 1), dtype)


@settings(max_examples=50, deadline=None)
@given(geo=pool_geometries(dilation=False), cip=st.booleans(), use_f64=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_avg_pool2d_random_geometry(backend, geo, cip, use_f64, seed):
    shape, kw = geo
    dtype = np.dtype(np.float64 if use_f64 else np.float32)
    x = make(np.random.default_rng(seed), shape, dtype)
    out = call(backend, ck.avg_pool2d, x, count_include_pad=cip, **kw)
    assert_close(out, reference.avg_pool2d(x, count_include_pad=cip, **kw), dtype)


# --------------------------------------------------------------------------
# bad arguments
# --------------------------------------------------------------------------

AVG_ERRORS = geometry_errors("avg_pool2d") + padding_errors("avg_pool2d") + [
    case("divisor_zero", ValueError, "divisor_override", pool("avg_pool2d", 2, divisor_override=0)),
    case("divisor_negative", ValueError, "divisor_override", pool("avg_pool2d", 2, divisor_override=-2)),
    case("divisor_float", TypeError, "divisor_override", pool("avg_pool2d", 2, divisor_override=2.0)),
    case("divisor_bool", TypeError, "divisor_override", pool("avg_pool2d", 2, divisor_override=True)),
]


@pytest.mark.parametrize("check_x", BAD_X_CASES)
def test_avg_pool2d_bad_x(backend, check_x):
    check_x(backend, "avg_pool2d")


@pytest.mark.parametrize("fn,exc,match", AVG_ERRORS)
def test_avg_pool2d_bad_arguments(backend, fn, exc, match):
    expect(backend, fn, exc, match)
