"""Optional comparisons with PyTorch (the whole file is skipped without torch).

1. Validates every float64 reference in reference.py against
   torch.nn.functional (fixed edge cases and hypothesis random geometries);
   local_contrast_norm, which torch lacks, against the same formula composed
   from torch.nn.functional.conv2d.
2. Compares cnnkernels itself with torch (computed in float64) on a few cases
   per operation.

lp_pool2d is only compared where no partial window exists: PyTorch rescales
partial ceil_mode windows, the spec sums only the elements present.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import cnnkernels as ck  # noqa: E402
import reference  # noqa: E402
from reference import (  # noqa: E402
    assert_close,
    conv_geometries,
    has_empty_max_window,
    pool_geometries,
)

F64 = np.float64
HYP = settings(max_examples=40, deadline=None)


def T(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))


def torch_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    xt = T(x)
    if isinstance(padding, (tuple, list)) and isinstance(padding[0], (tuple, list)):
        (t, bt), (l, r) = padding
        xt = F.pad(xt, (l, r, t, bt))
        padding = 0
    bt_ = None if b is None else T(b)
    return F.conv2d(xt, T(w), bt_, stride, padding, dilation, groups).numpy()


def torch_max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    out, idx = F.max_pool2d(
        T(x), kernel_size, stride, padding, dilation, ceil_mode=ceil_mode, return_indices=True
    )
    return out.numpy(), idx.numpy()


def torch_avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return F.avg_pool2d(T(x), kernel_size, stride, padding, ceil_mode, count_include_pad).numpy()


def torch_lp_pool2d(x, p, kernel_size, stride=None, ceil_mode=False):
    return F.lp_pool2d(T(x), p, kernel_size, stride, ceil_mode).numpy()


def torch_feature_lp_pool(x, p, width, stride=None):
    N, C, H, W = x.shape
    xt = T(x).permute(0, 2, 3, 1).reshape(N * H * W, 1, C)
    y = F.lp_pool1d(xt, p, width, stride if stride is not None else width)
    K = y.shape[-1]
    return y.reshape(N, H, W, K).permute(0, 3, 1, 2).numpy()


def torch_lcn(x, kernel_size=9, sigma=2.0, eps=1e-4):
    """LCN written independently with torch conv2d (zero padding R//2)."""
    xt = T(x)
    N, C, H, W = xt.shape
    R = kernel_size
    c = (R - 1) / 2.0
    u = torch.arange(R, dtype=torch.float64)
    uu, vv = torch.meshgrid(u, u, indexing="ij")
    g = torch.exp(-((uu - c) ** 2 + (vv - c) ** 2) / (2 * sigma * sigma))
    g = g / g.sum()
    wC = (g / C).expand(1, C, R, R).contiguous()
    pad = R // 2
    coef = F.conv2d(torch.ones(1, 1, H, W, dtype=torch.float64), g[None, None], padding=pad)
    mean = F.conv2d(xt, wC, padding=pad) / coef
    v = xt - mean
    sd = torch.sqrt(F.conv2d(v * v, wC, padding=pad) / coef)
    sd_mean = sd.mean(dim=(2, 3), keepdim=True)
    denom = torch.clamp_min(torch.maximum(sd, sd_mean), eps)
    return (v / denom).numpy()


# --------------------------------------------------------------------------
# 1. references vs torch
# --------------------------------------------------------------------------

# (x shape, weight shape, kwargs)
CONV_CASES = [
    ((2, 3, 7, 6), (4, 3, 3, 3), dict(padding=1)),
    ((1, 1, 1, 1), (1, 1, 1, 1), dict()),
    ((1, 2, 1, 1), (3, 2, 3, 3), dict(padding=1)),
    ((2, 2, 5, 5), (3, 2, 5, 5), dict()),
    ((1, 2, 9, 8), (2, 2, 2, 2), dict(stride=3)),
    ((1, 2, 9, 8), (2, 2, 3, 2), dict(stride=(2, 3), padding=(1, 2), dilation=(2, 1))),
    ((2, 4, 6, 6), (6, 2, 3, 3), dict(groups=2, padding=1)),
    ((2, 4, 6, 6), (4, 1, 3, 3), dict(groups=4, padding=1)),
    ((1, 3, 6, 5), (6, 1, 2, 3), dict(groups=3, stride=2)),
    ((1, 2, 6, 7), (3, 2, 3, 3), dict(padding=((1, 2), (0, 3)))),
    ((1, 2, 6, 7), (3, 2, 3, 3), dict(padding="same")),
    ((1, 2, 6, 7), (3, 2, 4, 2), dict(padding="same", dilation=(1, 3))),
    ((1, 2, 6, 7), (3, 2, 2, 4), dict(padding="same", dilation=2)),
    ((1, 2, 6, 7), (3, 2, 3, 3), dict(padding="valid", stride=2)),
    ((5, 3, 5, 7), (2, 3, 1, 1), dict(stride=2)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("xs,ws,kw", CONV_CASES)
@pytest.mark.parametrize("bias", [False, True])
def test_conv2d_reference_vs_torch(rng, xs, ws, kw, bias):
    x = rng.standard_normal(xs)
    w = rng.standard_normal(ws)
    b = rng.standard_normal(ws[0]) if bias else None
    ref = reference.conv2d(x, w, b, **kw)
    assert_close(ref, torch_conv2d(x, w, b, **kw), F64)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@HYP
@given(geo=conv_geometries(), seed=st.integers(0, 2**32 - 1))
def test_conv2d_reference_vs_torch_random(geo, seed):
    rng = np.random.default_rng(seed)
    g = dict(geo)
    x = rng.standard_normal((g["N"], g["C"], g["H"], g["W"]))
    w = rng.standard_normal((g["K"], g["C"] // g["groups"], g["R"], g["S"]))
    b = rng.standard_normal(g["K"]) if g["bias"] else None
    kw = {k: g[k] for k in ("stride", "padding", "dilation", "groups")}
    assert_close(reference.conv2d(x, w, b, **kw), torch_conv2d(x, w, b, **kw), F64)


POOL_CASES = [
    ((2, 2, 6, 6), dict(kernel_size=2)),
    ((1, 1, 1, 1), dict(kernel_size=1)),
    ((1, 2, 5, 5), dict(kernel_size=5)),
    ((1, 2, 5, 5), dict(kernel_size=3, stride=1, padding=1)),
    ((1, 2, 9, 8), dict(kernel_size=2, stride=3)),
    ((1, 2, 7, 5), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))),
    ((1, 2, 5, 5), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 7, 6), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ((1, 2, 8, 8), dict(kernel_size=(3, 4), stride=(3, 3), padding=(1, 2), ceil_mode=True)),
    ((5, 3, 4, 4), dict(kernel_size=3, stride=2, padding=1)),
]

MAX_ONLY_CASES = [
    ((1, 2, 7, 7), dict(kernel_size=3, stride=1, padding=1, dilation=2)),
    ((1, 2, 9, 8), dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 1), dilation=(3, 2), ceil_mode=True)),
]


def _pool_data(rng, shape, ties):
    if ties:  # small integers: many ties inside windows
        return rng.integers(-2, 3, size=shape).astype(np.float64)
    return rng.standard_normal(shape)


@pytest.mark.parametrize("shape,kw", POOL_CASES + MAX_ONLY_CASES)
@pytest.mark.parametrize("ties", [False, True])
def test_max_pool2d_reference_vs_torch(rng, shape, kw, ties):
    x = _pool_data(rng, shape, ties)
    out, idx = reference.max_pool2d(x, **kw)
    tout, tidx = torch_max_pool2d(x, **kw)
    assert_close(out, tout, F64)
    np.testing.assert_array_equal(idx, tidx)


def test_max_pool2d_reference_vs_torch_nan_and_inf(rng):
    x = rng.integers(-2, 3, size=(2, 2, 7, 7)).astype(np.float64)
    x[rng.random(x.shape) < 0.15] = np.nan
    x[rng.random(x.shape) < 0.15] = -np.inf
    x[0, 0] = -np.inf
    for kw in [dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)]:
        out, idx = reference.max_pool2d(x, **kw)
        tout, tidx = torch_max_pool2d(x, **kw)
        assert_close(out, tout, F64)
        np.testing.assert_array_equal(idx, tidx)


@HYP
@given(geo=pool_geometries(dilation=True), ties=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_max_pool2d_reference_vs_torch_random(geo, ties, seed):
    shape, kw = geo
    if has_empty_max_window(shape[2], shape[3], **kw):
        return  # unspecified behaviour (torch gives -inf and an out-of-window index)
    x = _pool_data(np.random.default_rng(seed), shape, ties)
    out, idx = reference.max_pool2d(x, **kw)
    tout, tidx = torch_max_pool2d(x, **kw)
    assert_close(out, tout, F64)
    np.testing.assert_array_equal(idx, tidx)


@pytest.mark.parametrize("shape,kw", POOL_CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_reference_vs_torch(rng, shape, kw, count_include_pad):
    x = rng.standard_normal(shape)
    ref = reference.avg_pool2d(x, count_include_pad=count_include_pad, **kw)
    assert_close(ref, torch_avg_pool2d(x, count_include_pad=count_include_pad, **kw), F64)


@HYP
@given(geo=pool_geometries(dilation=False), cip=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_avg_pool2d_reference_vs_torch_random(geo, cip, seed):
    shape, kw = geo
    x = np.random.default_rng(seed).standard_normal(shape)
    assert_close(reference.avg_pool2d(x, count_include_pad=cip, **kw), torch_avg_pool2d(x, count_include_pad=cip, **kw), F64)


# geometries without partial windows (also with ceil_mode)
LP_CASES = [
    ((2, 2, 6, 6), dict(kernel_size=2)),
    ((1, 1, 1, 1), dict(kernel_size=1)),
    ((1, 2, 5, 5), dict(kernel_size=5)),
    ((1, 2, 9, 8), dict(kernel_size=(3, 2), stride=(3, 1))),
    ((1, 2, 9, 9), dict(kernel_size=2, stride=3)),
    ((1, 2, 7, 7), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ((5, 3, 6, 5), dict(kernel_size=(3, 2), stride=1)),
]


@pytest.mark.parametrize("shape,kw", LP_CASES)
@pytest.mark.parametrize("p", [1, 2, 3, 1.5])
def test_lp_pool2d_reference_vs_torch(rng, shape, kw, p):
    x = rng.random(shape) + 0.1  # non-negative: torch gives NaN for negative sums
    assert_close(reference.lp_pool2d(x, p, **kw), torch_lp_pool2d(x, p, **kw), F64)


def test_lp_pool2d_reference_vs_torch_mixed_sign_l2(rng):
    x = rng.standard_normal((2, 3, 6, 7))
    assert_close(reference.lp_pool2d(x, 2, (2, 3), 1), torch_lp_pool2d(x, 2, (2, 3), 1), F64)


@pytest.mark.parametrize(
    "C,width,stride", [(4, 2, None), (5, 2, 1), (7, 2, 3), (3, 3, None), (3, 1, None), (6, 4, 2)]
)
@pytest.mark.parametrize("p", [1, 2, 3, 1.5])
def test_feature_lp_pool_reference_vs_torch(rng, C, width, stride, p):
    x = rng.random((2, C, 3, 4)) + 0.1
    assert_close(reference.feature_lp_pool(x, p, width, stride), torch_feature_lp_pool(x, p, width, stride), F64)


@pytest.mark.parametrize(
    "shape,ks,sigma,eps",
    [
        ((2, 3, 10, 11), 9, 2.0, 1e-4),
        ((1, 1, 1, 1), 9, 2.0, 1e-4),
        ((1, 2, 5, 7), 3, 1.0, 1e-4),
        ((5, 2, 6, 6), 5, 0.7, 0.5),
        ((1, 4, 4, 3), 1, 1.0, 1e-4),
        ((2, 1, 12, 9), 7, 3.0, 0.0),
    ],
)
def test_lcn_reference_vs_torch(rng, shape, ks, sigma, eps):
    x = rng.standard_normal(shape) * np.arange(1, shape[0] + 1)[:, None, None, None]
    assert_close(reference.local_contrast_norm(x, ks, sigma, eps), torch_lcn(x, ks, sigma, eps), F64)


# --------------------------------------------------------------------------
# 2. cnnkernels vs torch
# --------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("xs,ws,kw", CONV_CASES[::2])
def test_conv2d_vs_torch(backend, algo, dtype, rng, xs, ws, kw):
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    out = backend.to_numpy(
        ck.conv2d(backend.asarray(x), backend.asarray(w), backend.asarray(b), algo=algo, **kw)
    )
    assert_close(out, torch_conv2d(x, w, b, **kw), dtype)


@pytest.mark.parametrize("shape,kw", POOL_CASES[::2] + MAX_ONLY_CASES)
def test_max_pool2d_vs_torch(backend, dtype, rng, shape, kw):
    x = _pool_data(rng, shape, ties=True).astype(dtype)
    out, idx = ck.max_pool2d(backend.asarray(x), return_indices=True, **kw)
    tout, tidx = torch_max_pool2d(x, **kw)
    assert_close(backend.to_numpy(out), tout, dtype)
    idx = backend.to_numpy(idx)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx, tidx)


@pytest.mark.parametrize("shape,kw", POOL_CASES[1::2])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_vs_torch(backend, dtype, rng, shape, kw, count_include_pad):
    x = rng.standard_normal(shape).astype(dtype)
    out = ck.avg_pool2d(backend.asarray(x), count_include_pad=count_include_pad, **kw)
    assert_close(backend.to_numpy(out), torch_avg_pool2d(x, count_include_pad=count_include_pad, **kw), dtype)


@pytest.mark.parametrize("shape,kw", LP_CASES[::2])
@pytest.mark.parametrize("p", [2, 1.5])
def test_lp_pool2d_vs_torch(backend, dtype, rng, shape, kw, p):
    x = (rng.random(shape) + 0.1).astype(dtype)
    out = ck.lp_pool2d(backend.asarray(x), p, **kw)
    assert_close(backend.to_numpy(out), torch_lp_pool2d(x, p, **kw), dtype)


@pytest.mark.parametrize("C,width,stride", [(4, 2, None), (7, 2, 3), (5, 3, 1)])
def test_feature_lp_pool_vs_torch(backend, dtype, rng, C, width, stride):
    x = (rng.random((2, C, 3, 4)) + 0.1).astype(dtype)
    out = ck.feature_lp_pool(backend.asarray(x), 2, width, stride)
    assert_close(backend.to_numpy(out), torch_feature_lp_pool(x, 2, width, stride), dtype)
