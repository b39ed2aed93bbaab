"""Tests of ck.local_contrast_norm_backward: the exact gradient of ck.local_contrast_norm's forward
through whichever branch of max(sigma_map, mean of sigma_map, eps) the forward takes.

Checked in float64 against central finite differences of reference.local_contrast_norm
(reference.numerical_grad), and in float32 and float64 against reference.local_contrast_norm_backward
(the forward's steps' adjoints in reverse), on: kernel sizes 1..11 (also larger than the image), 1x1
images, single rows, one or many channels (off the vector widths), batch 9 (more than the threads),
each branch of the divisor alone and mixed in one image (sigma_map, its per-sample mean, eps; eps = 0),
samples of very different contrast, zero and constant images (sigma_map = 0: no gradient through the
square root), kernel 1 with one channel (y = 0 whatever x is). Then batch 0, non-contiguous / read-only
inputs, default and positional arguments, torch autograd (skipped without torch), and the bad
arguments (grad_out's shape and dtype, the forward's own checks).
"""

import re
import zlib

import numpy as np
import pytest

import reference
from reference import LAYOUTS, assert_close, assert_unchanged, snapshot

F64 = np.dtype(np.float64)
FD_TOL = 1e-6
GRAD_TOL = reference.TOL  # relative: 1e-5 in float32, 1e-12 in float64 (measured: 2e-7 and 1e-15)


def run(backend, go, x, *args, **kw):
    before = snapshot(go, x)
    gb, xb = backend.asarray(go), backend.asarray(x)
    out = backend.ck.local_contrast_norm_backward(gb, xb, *args, **kw)
    assert_unchanged(before, [backend.to_numpy(gb), backend.to_numpy(xb)])
    return backend.to_numpy(out)


def check(got, expected, dtype, tol=None, what="gradient"):
    try:
        assert_close(got, expected, dtype, GRAD_TOL[np.dtype(dtype)] if tol is None else tol)
    except AssertionError as e:
        raise AssertionError(f"{what}: {e}") from None


def structured(rng, shape, dtype=F64):
    """Offset, ramps, a bright square and noise: sigma_map varies a lot, so both the sigma_map and the
    mean branch are taken in each image."""
    N, C, H, W = shape
    yy, xx = np.mgrid[0:H, 0:W]
    x = 3.0 + 0.2 * xx + 0.1 * yy + 0.3 * rng.standard_normal(shape)
    x[:, :, H // 4:H // 4 + max(1, H // 3), W // 4:W // 4 + max(1, W // 3)] += 5.0
    return x.astype(dtype)


def data(rng, kind, shape, dtype=F64):
    if kind == "normal":
        return rng.standard_normal(shape).astype(dtype)
    if kind == "structured":
        return structured(rng, shape, dtype)
    if kind == "low_contrast":  # sigma_map and its mean far below eps: y = v / eps
        return (1e-6 * rng.standard_normal(shape)).astype(dtype)
    if kind == "contrasts":  # samples of very different contrast
        scale = np.logspace(-2, 2, shape[0])[:, None, None, None]
        return (rng.standard_normal(shape) * scale).astype(dtype)
    raise AssertionError(kind)


# name -> (x shape, kernel_size, sigma, eps, data kind)
CASES = {
    "k5_normal": ((2, 3, 6, 7), 5, 2.0, 1e-4, "normal"),
    "k9_defaults_like": ((1, 2, 7, 6), 9, 2.0, 1e-4, "normal"),
    "kernel_larger_than_image": ((2, 2, 3, 4), 9, 2.0, 1e-4, "normal"),
    "1x1_image_multichannel": ((2, 3, 1, 1), 9, 2.0, 1e-4, "normal"),  # sigma_map = its mean: a tie
    "single_row": ((1, 2, 1, 7), 5, 1.5, 1e-4, "normal"),
    "single_column": ((1, 2, 6, 1), 3, 1.0, 1e-4, "normal"),
    "kernel_1": ((2, 4, 4, 3), 1, 1.0, 1e-4, "normal"),
    "kernel_3": ((1, 2, 5, 7), 3, 1.0, 1e-4, "normal"),
    "kernel_7_eps0": ((2, 1, 8, 7), 7, 3.0, 0.0, "structured"),
    "kernel_11_wide_sigma": ((1, 2, 8, 7), 11, 10.0, 1e-4, "normal"),
    "structured_sd_and_mean_branches": ((2, 2, 9, 10), 5, 1.5, 1e-4, "structured"),
    "eps_branch": ((2, 2, 6, 6), 5, 2.0, 1e-2, "low_contrast"),
    "eps_and_sd_branches": ((2, 2, 7, 6), 3, 1.0, 1.1, "normal"),  # mean sd < eps < some sd
    "per_sample_contrasts": ((3, 2, 6, 6), 5, 2.0, 1e-1, "contrasts"),
    "batch9": ((9, 2, 4, 5), 3, 1.0, 1e-4, "normal"),
    "channels_5": ((1, 5, 5, 4), 3, 1.0, 1e-4, "normal"),
    "channels_17": ((1, 17, 3, 3), 3, 1.0, 1e-4, "normal"),
    "single_channel": ((3, 1, 6, 6), 5, 2.0, 1e-4, "normal"),
}


def branches(x, kernel_size, sigma, eps):
    """Which divisor branch each pixel takes: 'sd', 'mean' or 'eps' counts over the batch."""
    x = np.asarray(x, np.float64)
    N, C, H, W = x.shape
    g = reference.gaussian_window(kernel_size, sigma)
    coef = reference._correlate_same(np.ones((H, W)), g)
    mean = reference._correlate_same(x, g / C).sum(axis=1) / coef
    v = x - mean[:, None]
    sd = np.sqrt(reference._correlate_same(v * v, g / C).sum(axis=1) / coef)
    m = sd.mean(axis=(1, 2), keepdims=True)
    floor = np.maximum(m, eps)
    use_sd = sd >= floor
    use_mean = ~use_sd & (m >= eps)
    return {"sd": int(use_sd.sum()), "mean": int(use_mean.sum()), "eps": int((~use_sd & ~use_mean).sum())}


def test_cases_take_the_branches_they_are_named_for():
    # the branch cases really exercise their branches (else their tests would prove less)
    def b(case):
        shape, ks, sigma, eps, kind = CASES[case]
        return branches(data(np.random.default_rng(zlib.crc32(case.encode())), kind, shape), ks, sigma, eps)

    s = b("structured_sd_and_mean_branches")
    assert s["sd"] > 0 and s["mean"] > 0 and s["eps"] == 0, s
    s = b("eps_branch")
    assert s["sd"] == 0 and s["mean"] == 0 and s["eps"] > 0, s
    s = b("eps_and_sd_branches")
    assert s["sd"] > 0 and s["mean"] == 0 and s["eps"] > 0, s
    s = b("per_sample_contrasts")
    assert s["sd"] > 0 and s["mean"] > 0 and s["eps"] > 0, s


_FD = {}


def fd_problem(case):
    if case not in _FD:
        shape, ks, sigma, eps, kind = CASES[case]
        rng = np.random.default_rng(zlib.crc32(case.encode()))
        x = data(rng, kind, shape)
        go = rng.standard_normal(shape)
        fd = reference.numerical_grad(lambda v: reference.local_contrast_norm(v, ks, sigma, eps), x, go,
                                      independent=(0,))
        _FD[case] = (x, go, fd)
    return _FD[case]


@pytest.mark.parametrize("case", list(CASES))
def test_lcn_backward_matches_finite_differences(backend, case):
    shape, ks, sigma, eps, kind = CASES[case]
    x, go, fd = fd_problem(case)
    check(reference.local_contrast_norm_backward(go, x, ks, sigma, eps), fd, F64, FD_TOL,
          "reference.local_contrast_norm_backward")
    check(run(backend, go, x, ks, sigma, eps), fd, F64, FD_TOL)


@pytest.mark.parametrize("case", list(CASES))
def test_lcn_backward_matches_reference(backend, dtype, rng, case):
    shape, ks, sigma, eps, kind = CASES[case]
    x = data(rng, kind, shape, dtype)
    go = rng.standard_normal(shape).astype(dtype)
    check(run(backend, go, x, ks, sigma, eps), reference.local_contrast_norm_backward(go, x, ks, sigma, eps), dtype)


@pytest.mark.parametrize("kind", ["normal", "structured"])
def test_lcn_backward_default_and_positional_arguments(backend, dtype, rng, kind):
    x = data(rng, kind, (2, 3, 11, 10), dtype)
    go = rng.standard_normal(x.shape).astype(dtype)
    B = backend
    out = B.to_numpy(B.ck.local_contrast_norm_backward(B.asarray(go), B.asarray(x)))
    check(out, reference.local_contrast_norm_backward(go, x, 9, 2.0, 1e-4), dtype)
    out = run(backend, go, x, 5, 1.0, 0.3)
    check(out, reference.local_contrast_norm_backward(go, x, 5, 1.0, 0.3), dtype)
    out = run(backend, go, x, kernel_size=3, eps=0.0)
    check(out, reference.local_contrast_norm_backward(go, x, 3, 2.0, 0.0), dtype)


def test_lcn_backward_samples_are_independent(backend, dtype, rng):
    # the mean of sigma_map is per sample: each sample alone gives the same gradient
    x = data(rng, "contrasts", (3, 2, 6, 6), dtype)
    go = rng.standard_normal(x.shape).astype(dtype)
    out = run(backend, go, x, 5, 2.0, 1e-1)
    for n in range(3):
        alone = run(backend, np.ascontiguousarray(go[n:n + 1]), np.ascontiguousarray(x[n:n + 1]), 5, 2.0, 1e-1)
        check(alone, out[n:n + 1].astype(np.float64), dtype)


def tie_image(rng, d, dtype):
    """kernel 1, two channels a + d and a - d with dyadic a and d: mean = a, v = +-d and sigma_map = |d|
    exactly (in float32 too), so exact ties between sigma_map, its mean and eps can be built."""
    a = rng.integers(-8, 8, size=d.shape) / 4.0
    return np.stack([a + d, a - d], axis=1).astype(dtype)


def test_lcn_backward_tie_sigma_map_and_mean_goes_to_sigma_map(backend, dtype, rng):
    # sigma_map = 0.5 everywhere = its mean > eps: the tie goes to sigma_map, y = v / sigma_map = +-1
    # whatever d is, so the gradient is 0 (through the mean it would be v / mean's: not 0)
    x = tie_image(rng, np.full((2, 2, 4), 0.5), dtype)
    go = rng.standard_normal(x.shape).astype(dtype)
    out = run(backend, go, x, 1, 1.0, 1e-4)
    ref = reference.local_contrast_norm_backward(go, x, 1, 1.0, 1e-4)
    assert np.abs(ref).max() < 1e-12
    assert np.abs(out).max() <= (1e-5 if dtype == np.float32 else 1e-12), np.abs(out).max()


def test_lcn_backward_tie_mean_and_eps_goes_to_mean(backend, dtype, rng):
    # sigma_map 0.25 or 0.75 (mean 0.5) and eps = 0.5: the pixels at 0.25 take the floor max(mean, eps),
    # whose tie goes to the mean, so their gradient flows into every pixel's sigma_map
    d = np.where(np.arange(8).reshape(2, 4) % 2 == 0, 0.25, 0.75)[None].repeat(2, axis=0)
    x = tie_image(rng, d, dtype)
    go = rng.standard_normal(x.shape).astype(dtype)
    out = run(backend, go, x, 1, 1.0, 0.5)
    ref = reference.local_contrast_norm_backward(go, x, 1, 1.0, 0.5)
    eps_wins = reference.local_contrast_norm_backward(go, x, 1, 1.0, 0.5 + 1e-9)  # just above the tie: eps
    assert reference.rel_err(eps_wins, ref) > 0.05  # the two rules differ
    check(out, ref, dtype)


def test_lcn_backward_zero_image(backend, dtype, rng):
    # sigma_map = 0 everywhere, the eps branch: y = v / eps, a linear map; no gradient through sqrt(0)
    x = np.zeros((2, 3, 5, 4), dtype)
    go = rng.standard_normal(x.shape).astype(dtype)
    out = run(backend, go, x, 3, 1.0, 1e-2)
    assert np.isfinite(out).all()
    check(out, reference.local_contrast_norm_backward(go, x, 3, 1.0, 1e-2), dtype)
    # the same as for any image in the eps branch everywhere
    check(out, reference.local_contrast_norm_backward(go, data(rng, "low_contrast", x.shape), 3, 1.0, 1e-2), dtype)


def test_lcn_backward_constant_image(backend, dtype, rng):
    x = np.full((2, 3, 6, 5), 3.0, dtype)
    go = rng.standard_normal(x.shape).astype(dtype)
    out = run(backend, go, x, 5, 2.0, 1e-4)
    assert np.isfinite(out).all()
    check(out, reference.local_contrast_norm_backward(go, np.zeros(x.shape), 5, 2.0, 1e-4), dtype)


def test_lcn_backward_output_independent_of_x_gives_zero(backend, dtype, rng):
    # kernel 1, one channel: mean = x, v = 0, y = 0 for every x, so the gradient is 0
    x = rng.standard_normal((2, 1, 4, 5)).astype(dtype)
    go = rng.standard_normal(x.shape).astype(dtype)
    out = run(backend, go, x, 1, 1.0, 1e-4)
    assert np.isfinite(out).all()
    assert np.abs(out).max() <= (1e-3 if dtype == np.float32 else 1e-9), np.abs(out).max()


def test_lcn_backward_batch_zero(backend, dtype):
    x = np.zeros((0, 3, 5, 4), dtype)
    out = run(backend, x.copy(), x, 3)
    assert isinstance(out, np.ndarray) and out.shape == x.shape and out.dtype == dtype


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_lcn_backward_noncontiguous(backend, dtype, rng, layout):
    x = LAYOUTS[layout](rng, (2, 3, 7, 6), dtype)
    go = LAYOUTS[layout](rng, (2, 3, 7, 6), dtype)
    assert not x.flags.c_contiguous and not go.flags.c_contiguous
    check(run(backend, go, x, 5, 1.0, 1e-4), reference.local_contrast_norm_backward(go, x, 5, 1.0, 1e-4), dtype)


def test_lcn_backward_readonly_and_fresh(backend, dtype, rng):
    x = rng.standard_normal((2, 2, 6, 6)).astype(dtype)
    go = rng.standard_normal(x.shape).astype(dtype)
    for a in (x, go):
        a.setflags(write=False)
    out = run(backend, go, x, 3, 1.0, 1e-4)
    check(out, reference.local_contrast_norm_backward(go, x, 3, 1.0, 1e-4), dtype)
    assert out.flags.writeable and not np.shares_memory(out, x) and not np.shares_memory(out, go)


# --------------------------------------------------------------------------
# torch autograd (skipped without torch)
# --------------------------------------------------------------------------


def torch_lcn_grad(x, go, kernel_size, sigma, eps):
    """The forward written with torch ops (divisor ties as the spec: sigma_map over the floor, the mean
    over eps) and differentiated by autograd, in float64."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny problems; torch's threads would wait on our spinning OpenMP threads
    try:
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)).requires_grad_(True)
        N, C, H, W = xt.shape
        R = kernel_size
        u = torch.arange(R, dtype=torch.float64) - (R - 1) / 2.0
        g = torch.exp(-(u[:, None] ** 2 + u[None, :] ** 2) / (2 * sigma * sigma))
        g = g / g.sum()
        wC = (g / C).expand(1, C, R, R).contiguous()
        pad = R // 2
        coef = F.conv2d(torch.ones(1, 1, H, W, dtype=torch.float64), g[None, None], padding=pad)
        mean = F.conv2d(xt, wC, padding=pad) / coef
        v = xt - mean
        sd = torch.sqrt(F.conv2d(v * v, wC, padding=pad) / coef)
        m = sd.mean(dim=(2, 3), keepdim=True)
        e = torch.tensor(eps, dtype=torch.float64)
        floor = torch.where(m >= e, m, e)
        denom = torch.where(sd >= floor, sd, floor)
        (v / denom).backward(torch.from_numpy(np.ascontiguousarray(go, dtype=np.float64)))
        return xt.grad.numpy()
    finally:
        torch.set_num_threads(old)


# sigma_map = 0 makes torch's sqrt gradient NaN (0 * inf) even where unused: those cases are left out
TORCH_CASES = [c for c in CASES if c not in ("eps_branch",)]


@pytest.mark.parametrize("case", TORCH_CASES)
def test_lcn_backward_vs_torch(backend, rng, case):
    pytest.importorskip("torch")
    shape, ks, sigma, eps, kind = CASES[case]
    x = data(rng, kind, shape)
    go = rng.standard_normal(shape)
    check(run(backend, go, x, ks, sigma, eps), torch_lcn_grad(x, go, ks, sigma, eps), F64)


# --------------------------------------------------------------------------
# bad arguments
# --------------------------------------------------------------------------

_rng = np.random.default_rng(3)
X = _rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
GO = _rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
f32, f64 = np.float32, np.float64


def bwd(go=GO, x=X, **kw):
    def fn(B):
        conv = lambda a: B.asarray(a) if isinstance(a, np.ndarray) else a  # noqa: E731
        return B.ck.local_contrast_norm_backward(conv(go), conv(x), **kw)
    return fn


SHP = re.escape("(2, 3, 4, 4)")
LCN_BW_ERRORS = {
    "grad_out_wrong_N": (bwd(go=GO[:1]), ValueError, ["grad_out", SHP]),
    "grad_out_wrong_C": (bwd(go=GO[:, :2]), ValueError, ["grad_out", SHP]),
    "grad_out_wrong_H": (bwd(go=GO[:, :, :3]), ValueError, ["grad_out", SHP]),
    "grad_out_wrong_W": (bwd(go=np.ones((2, 3, 4, 5), f32)), ValueError, ["grad_out", SHP]),
    "grad_out_rank3": (bwd(go=GO[0]), ValueError, ["grad_out", SHP]),
    "grad_out_float64": (bwd(go=GO.astype(f64)), TypeError, ["grad_out"]),
    "grad_out_float32_x64": (bwd(x=X.astype(f64)), TypeError, ["grad_out"]),
    "grad_out_int32": (bwd(go=GO.astype(np.int32)), TypeError, ["grad_out"]),
    "grad_out_list": (bwd(go=GO.tolist()), TypeError, ["grad_out"]),
    "grad_out_None": (bwd(go=None), TypeError, ["grad_out"]),
    "kernel_even": (bwd(kernel_size=4), ValueError, ["kernel_size"]),
    "kernel_zero": (bwd(kernel_size=0), ValueError, ["kernel_size"]),
    "kernel_float": (bwd(kernel_size=2.5), TypeError, ["kernel_size"]),
    "sigma_zero": (bwd(sigma=0.0), ValueError, ["sigma"]),
    "sigma_nan": (bwd(sigma=float("nan")), ValueError, ["sigma"]),
    "eps_negative": (bwd(eps=-1e-3), ValueError, ["eps"]),
    "eps_inf": (bwd(eps=float("inf")), ValueError, ["eps"]),
    "x_int32": (bwd(x=X.astype(np.int32)), TypeError, [r"\bx\b"]),
    "x_rank3": (bwd(x=X[0]), ValueError, [r"\bx\b"]),
    "x_list": (bwd(x=X.tolist()), TypeError, [r"\bx\b"]),
}


@pytest.mark.parametrize("fn,exc,patterns", list(LCN_BW_ERRORS.values()), ids=list(LCN_BW_ERRORS))
def test_lcn_backward_bad_arguments(backend, fn, exc, patterns):
    with pytest.raises(exc) as info:
        fn(backend)
    for pat in patterns:
        assert re.search(pat, str(info.value)), f"{pat!r} not in {str(info.value)!r}"


def test_lcn_backward_eps_zero_allowed_and_valid_after_errors(backend):
    out = backend.to_numpy(bwd(kernel_size=3, sigma=1.0, eps=0.0)(backend))
    check(out, reference.local_contrast_norm_backward(GO, X, 3, 1.0, 0.0), np.float32)
