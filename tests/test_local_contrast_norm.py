"""Tests of ck.local_contrast_norm against the float64 NumPy reference
reference.local_contrast_norm.

Kernel sizes 1..11 (also larger than the image), several sigma/eps, the three
branches of the divisor max(sd, per-sample mean sd, eps), border handling
(coef), per-sample normalisation, zero / constant images, batch 0, 1x1
images, non-contiguous and read-only inputs, float32 (rel. tol. 1e-4) and
float64 (1e-12).  Then the bad arguments: the generic checks of x
(op_checks.BAD_X_CASES), bad kernel_size / sigma / eps, and eps = 0 allowed.
"""

import numpy as np
import pytest

import cnnkernels as ck
import reference
from op_checks import BAD_X_CASES, X32, case, expect
from reference import LAYOUTS, LCN_TOL, assert_close, assert_unchanged, snapshot


def run_lcn(backend, x, *args, **kw):
    xb = backend.asarray(x)
    before = snapshot(x)
    out = backend.ck.local_contrast_norm(xb, *args, **kw)
    assert_unchanged(before, [backend.to_numpy(xb)])
    return backend.to_numpy(out)


def check(backend, x, dtype, kernel_size=9, sigma=2.0, eps=1e-4):
    out = run_lcn(backend, x, kernel_size, sigma, eps)
    assert_close(out, reference.local_contrast_norm(x, kernel_size, sigma, eps), dtype, LCN_TOL[np.dtype(dtype)])
    return out


# (shape, kernel_size, sigma, eps)
CASES = {
    "defaults_like": ((2, 3, 10, 11), 9, 2.0, 1e-4),
    "kernel_larger_than_image": ((2, 2, 3, 4), 9, 2.0, 1e-4),
    "1x1_image_multichannel": ((1, 3, 1, 1), 9, 2.0, 1e-4),
    "single_row": ((1, 2, 1, 7), 5, 1.5, 1e-4),
    "kernel_1": ((2, 4, 4, 3), 1, 1.0, 1e-4),
    "kernel_3": ((1, 2, 5, 7), 3, 1.0, 1e-4),
    "kernel_5_large_eps": ((2, 2, 6, 6), 5, 0.7, 0.5),
    "kernel_7_eps0": ((2, 1, 12, 9), 7, 3.0, 0.0),
    "kernel_11_wide_sigma": ((1, 2, 12, 9), 11, 10.0, 1e-4),
    "odd_batch5": ((5, 2, 7, 5), 9, 2.0, 1e-4),
    "many_channels": ((1, 8, 6, 6), 3, 1.0, 1e-4),
    "single_channel": ((3, 1, 8, 8), 5, 2.0, 1e-4),
}


@pytest.mark.parametrize("case", list(CASES))
def test_lcn_matches_reference(backend, dtype, rng, case):
    shape, ks, sigma, eps = CASES[case]
    x = rng.standard_normal(shape).astype(dtype)
    check(backend, x, dtype, ks, sigma, eps)


def test_lcn_default_arguments(backend, dtype, rng):
    x = rng.standard_normal((2, 3, 11, 10)).astype(dtype)
    out = run_lcn(backend, x)
    assert_close(out, reference.local_contrast_norm(x, 9, 2.0, 1e-4), dtype, LCN_TOL[dtype])
    out = run_lcn(backend, x, kernel_size=5)
    assert_close(out, reference.local_contrast_norm(x, 5, 2.0, 1e-4), dtype, LCN_TOL[dtype])
    out = run_lcn(backend, x, sigma=1.0, eps=0.3)
    assert_close(out, reference.local_contrast_norm(x, 9, 1.0, 0.3), dtype, LCN_TOL[dtype])


def test_lcn_nonzero_mean_and_structure(backend, dtype, rng):
    # offset, gradient and a bright square: the local mean and sd vary a lot,
    # so both max(sd, mean sd) branches are taken
    N, C, H, W = 2, 2, 12, 13
    yy, xx = np.mgrid[0:H, 0:W]
    x = 3.0 + 0.2 * xx + 0.1 * yy + 0.3 * rng.standard_normal((N, C, H, W))
    x[:, :, 3:7, 4:9] += 5.0
    x = x.astype(dtype)
    check(backend, x, dtype, 5, 1.5, 1e-4)


def test_lcn_per_sample_sd_mean(backend, dtype, rng):
    # samples with very different contrast: the mean of sd must be per sample
    x = rng.standard_normal((3, 2, 8, 8)) * np.array([0.01, 1.0, 100.0])[:, None, None, None]
    x = x.astype(dtype)
    out = check(backend, x, dtype, 5, 2.0, 1e-6)
    for n in range(3):  # each sample alone gives the same result
        alone = run_lcn(backend, np.ascontiguousarray(x[n:n + 1]), 5, 2.0, 1e-6)
        assert_close(alone, out[n:n + 1].astype(np.float64), dtype, LCN_TOL[dtype])


def test_lcn_eps_branch(backend, dtype, rng):
    # low-contrast image: sd and its mean are far below eps, so y = v / eps
    x = (1e-6 * rng.standard_normal((2, 2, 7, 7))).astype(dtype)
    out = check(backend, x, dtype, 5, 2.0, 1e-2)
    assert np.abs(out).max() < 1e-2


def test_lcn_zero_image_is_zero(backend, dtype):
    x = np.zeros((2, 3, 5, 4), dtype)
    out = run_lcn(backend, x)
    assert out.dtype == dtype and out.shape == x.shape
    assert (out == 0).all()


def test_lcn_constant_image_is_nearly_zero(backend, dtype):
    # v is rounding noise only; without the eps floor it would be O(1)
    x = np.full((2, 3, 6, 5), 3.0, dtype)
    out = run_lcn(backend, x, 5, 2.0, 1e-4)
    assert out.dtype == dtype and out.shape == x.shape
    assert np.isfinite(out).all()
    assert np.abs(out).max() < (0.05 if dtype == np.float32 else 1e-8)


def test_lcn_batch_zero(backend, dtype):
    x = np.zeros((0, 3, 5, 4), dtype)
    out = run_lcn(backend, x, 3)
    assert isinstance(out, np.ndarray) and out.shape == (0, 3, 5, 4) and out.dtype == dtype


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_lcn_noncontiguous(backend, dtype, rng, layout):
    x = LAYOUTS[layout](rng, (2, 3, 7, 6), dtype)
    check(backend, x, dtype, 5, 1.0, 1e-4)


def test_lcn_readonly(backend, dtype, rng):
    x = rng.standard_normal((2, 2, 6, 6)).astype(dtype)
    x.setflags(write=False)
    check(backend, x, dtype, 3, 1.0, 1e-4)


# --------------------------------------------------------------------------
# bad arguments
# --------------------------------------------------------------------------


def lcn(**kw):
    return lambda B: B.ck.local_contrast_norm(B.asarray(X32), **kw)


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


@pytest.mark.parametrize("check_x", BAD_X_CASES)
def test_lcn_bad_x(backend, check_x):
    check_x(backend, "local_contrast_norm")


@pytest.mark.parametrize("fn,exc,match", LCN_ERRORS)
def test_lcn_bad_arguments(backend, fn, exc, match):
    expect(backend, fn, exc, match)


def test_lcn_eps_zero_is_allowed(backend):
    out = backend.to_numpy(backend.ck.local_contrast_norm(backend.asarray(X32), 3, 1.0, 0.0))
    assert out.shape == X32.shape and np.isfinite(out).all()
