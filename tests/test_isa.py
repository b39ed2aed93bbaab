"""Every SIMD path this machine supports (scalar, AVX2, AVX-512), run against the float64 references:
the GEMM on edge shapes, and im2col/direct/fft convolution, with the path forced through cnnkernels._cpu.set_isa.
Also the CNNKERNELS_ISA environment variable and ck.cpu_info()."""

import os
import subprocess
import sys

import numpy as np
import pytest

import cnnkernels as ck
from cnnkernels import _cpu
import reference
from reference import assert_close

SUPPORTED = ck.cpu_info()["supported_isas"]
ALL_ISAS = ["scalar", "avx2", "avx512"]


@pytest.fixture(params=ALL_ISAS)
def isa(request):
    if request.param not in SUPPORTED:
        pytest.skip(f"this CPU has no {request.param} path")
    before = ck.cpu_info()["isa"]
    _cpu.set_isa(request.param)
    yield request.param
    _cpu.set_isa(before)


# M, K, N: edge tiles, primes, sizes around the micro-tile and cache blocks, and K = 0.
GEMM_SHAPES = [(1, 1, 1), (1, 7, 1), (5, 3, 17), (6, 16, 16), (7, 17, 33), (13, 257, 31), (14, 32, 32),
               (29, 300, 97), (97, 31, 413), (150, 600, 130), (3, 0, 5), (64, 1, 4100)]


@pytest.mark.parametrize("m, k, n", GEMM_SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_every_path(isa, m, k, n, dtype):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    c = _cpu.gemm(a, b)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    assert c.shape == (m, n) and c.dtype == dtype
    if k == 0:
        assert np.all(c == 0)
    else:
        tol = 1e-5 if dtype == np.float32 else 1e-12
        assert np.abs(c - expected).max() <= tol * max(1.0, np.abs(expected).max()) * np.sqrt(k)


CONV_CASES = [
    # N, C, H, W, K, R, S, stride, padding, dilation, groups
    (1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1),
    (3, 6, 14, 14, 16, 5, 5, 1, 0, 1, 1),
    (2, 3, 23, 19, 7, 11, 11, 4, 2, 1, 1),
    (2, 8, 9, 9, 12, 3, 3, 2, ((1, 0), (2, 1)), 2, 4),
    (5, 17, 7, 5, 19, 1, 1, 1, 0, 1, 1),
    (2, 32, 6, 6, 40, 3, 3, 1, 1, 1, 1),
    (1, 4, 50, 47, 3, 3, 4, (1, 2), 1, 1, 1),
    # the direct kernel's padded chunks (mid-row starts) and blocks of 2 + 1 vectors, 1 vector, K/g 3 at
    # stride 2, rows of whole 1-vector tiles (taps in pairs)
    (2, 3, 37, 29, 40, 5, 5, 1, ((2, 1), (0, 3)), 1, 1),
    (3, 6, 21, 19, 26, 3, 3, (2, 1), 1, (1, 2), 2),
    (2, 5, 19, 23, 3, 3, 3, 2, 1, 1, 1),
    (1, 3, 9, 61, 8, 3, 5, 1, (1, 2), 1, 1),
    (1, 3, 9, 61, 2, 3, 4, 1, (1, 2), 1, 1),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "x".join(map(str, c[:7])))
@pytest.mark.parametrize("algo", ["im2col", "direct"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_every_path(isa, case, algo, dtype):
    N, C, H, W, K, R, S, stride, padding, dilation, groups = case
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C // groups, R, S)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    y = ck.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups, algo=algo)
    assert_close(y, reference.conv2d(x, w, b, stride, padding, dilation, groups), dtype)


def test_set_isa_refuses_unknown_and_unsupported():
    with pytest.raises(ValueError, match="isa"):
        _cpu.set_isa("sse9")
    missing = [i for i in ALL_ISAS if i not in SUPPORTED]
    for name in missing:
        with pytest.raises(ValueError, match="does not support"):
            _cpu.set_isa(name)


def test_cpu_info_reports_a_supported_path():
    info = ck.cpu_info()
    assert info["isa"] in info["supported_isas"] and "scalar" in info["supported_isas"]
    assert info["detected_isa"] == info["supported_isas"][-1]


def _isa_in_subprocess(value):
    env = dict(os.environ, CNNKERNELS_ISA=value)
    out = subprocess.run([sys.executable, "-c", "import cnnkernels as ck; i = ck.cpu_info(); "
                          "print(i['isa']); print(i['isa_note'])"],
                         env=env, capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def test_environment_variable_forces_the_path():
    assert _isa_in_subprocess("scalar")[0] == "scalar"
    isa, note = _isa_in_subprocess("no-such-isa")
    assert isa == ck.cpu_info()["detected_isa"] and "no-such-isa" in note


# Pooling: the one-pass 2x2/3x3 kernels of each path, bit for bit against the scalar path (NaN payloads and
# signed zeros included). Widths put the interior rows below, at and around one vector of each path (4, 8
# and 16 floats; 2, 4 and 8 doubles) and leave tails; padding and ceil_mode add border outputs; the data
# holds ties, signed zeros, infinities and NaNs.
POOL_WIDTHS = [3, 4, 5, 6, 9, 10, 11, 17, 18, 34, 35, 37, 70, 71]


def _pool_data(w, dtype):
    rng = np.random.default_rng(w)
    x = rng.integers(-2, 3, size=(2, 3, 9, w)).astype(dtype)
    x[rng.random(x.shape) < 0.1] = -0.0
    x[rng.random(x.shape) < 0.02] = np.inf
    x[0, 1][rng.random(x.shape[2:]) < 0.05] = np.nan
    return x


def _pool(kind, x, k, s, pad, ceil):
    if kind == "max":
        return ck.functional.max_pool2d(x, k, s, padding=pad, ceil_mode=ceil)
    if kind == "avg":
        return ck.functional.avg_pool2d(x, k, s, padding=pad, ceil_mode=ceil)
    return ck.functional.lp_pool2d(x, float(kind[2:]), k, s, ceil_mode=ceil)


@pytest.mark.parametrize("kind", ["max", "avg", "lp1", "lp2", "lp3"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pool2d_every_path_matches_scalar(isa, kind, dtype):
    for w in POOL_WIDTHS:
        x = _pool_data(w, dtype)
        for k in (2, 3):
            for s in (1, 2):
                for pad in ((0, 1) if kind in ("max", "avg") else (0,)):
                    for ceil in (False, True):
                        if w < k:
                            continue
                        y = np.asarray(_pool(kind, x, k, s, pad, ceil))
                        _cpu.set_isa("scalar")
                        try:
                            expected = np.asarray(_pool(kind, x, k, s, pad, ceil))
                        finally:
                            _cpu.set_isa(isa)
                        case = f"W={w} k={k} s={s} pad={pad} ceil={ceil}"
                        np.testing.assert_array_equal(y, expected, err_msg=case)
                        assert y.tobytes() == expected.tobytes(), case


# FFT convolution (algo="fft") on each path: the FFT core (lane groups of 8 / 16 float and 4 / 8 double tiles
# per vector, a partial group that falls back to the narrower lanes or to row/column lanes, and the row/column
# strategy of large transforms) and the pointwise complex product (micro-tiles of 2 x 2, or 4 output channels
# x 3 tiles with AVX-512, and their edges; input channels in blocks of 64), with the plan's choices forced.
FFT_CASES = [
    # N, C, H, W, K, R, S, stride, padding, fft_size (0: the planner's), order (1 kernels first, 2 tiles first)
    (1, 1, 1, 1, 1, 1, 1, 1, 0, (0, 0), 0),
    (2, 3, 23, 19, 7, 11, 11, 4, 2, (0, 0), 0),           # polyphase: 3 x 9 phase channels
    (3, 13, 14, 15, 5, 3, 3, 1, 1, (8, 8), 1),            # 13 channels: a partial lane group
    (2, 20, 12, 12, 9, 3, 3, 1, 1, (8, 8), 2),            # 16 + 4 channels; K = 9 = 2 x 4 + 1
    (1, 70, 9, 9, 6, 3, 3, 1, 1, (0, 0), 1),              # two channel blocks of the product
    (4, 17, 20, 20, 11, 5, 5, 1, 2, (12, 12), 2),         # 16 tiles, 11 output channels
    (5, 6, 16, 16, 4, 16, 16, 1, 0, (0, 0), 0),           # kernel equal to the input: 1 x 1 outputs
    (1, 2, 40, 33, 3, 4, 6, (1, 2), ((2, 0), (1, 3)), (0, 0), 0),  # asymmetric padding, stride 2 in w
    (1, 1, 512, 1000, 2, 3, 3, 1, 1, (512, 1024), 0),     # row/column lanes (the group would be > 16 MiB)
]


@pytest.mark.parametrize("case", FFT_CASES, ids=lambda c: "x".join(map(str, c[:7])))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_fft_every_path(isa, case, dtype):
    N, C, H, W, K, R, S, stride, padding, fft_size, order = case
    assert ck.cpu_info()["isa"] == isa
    rng = np.random.default_rng(11)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C, R, S)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    stride2 = (stride, stride) if isinstance(stride, int) else stride
    pads = ((padding,) * 4 if isinstance(padding, int) else tuple(padding[0]) + tuple(padding[1]))
    plan = _cpu.conv2d_plan(x.shape, w.shape, stride2, pads, (1, 1), 1, "fft", x.itemsize, fft_size, order, 0)
    y = _cpu.conv2d_fft(x, w, b, stride2, pads, (1, 1), 1, plan)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert_close(y, reference.conv2d(x, w, b, stride, padding), dtype, tol)


def test_conv2d_fft_avx512_product_is_its_own_code():
    """The AVX-512 pointwise product sums a bin's re and im parts in two accumulators each (conv2d_fft_cgemm_
    kernel.hpp): its results differ in the last bits from the AVX2 path's, which tells the paths apart."""
    if "avx512" not in SUPPORTED:
        pytest.skip("this CPU has no avx512 path")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 24, 20, 20)).astype(np.float32)
    w = rng.standard_normal((10, 24, 5, 5)).astype(np.float32)
    before = ck.cpu_info()["isa"]
    outs = {}
    try:
        for isa in ("avx2", "avx512"):
            _cpu.set_isa(isa)
            outs[isa] = ck.conv2d(x, w, padding=2, algo="fft")
    finally:
        _cpu.set_isa(before)
    assert outs["avx2"].tobytes() != outs["avx512"].tobytes()
    np.testing.assert_allclose(outs["avx512"], outs["avx2"], rtol=0, atol=1e-4 * np.abs(outs["avx2"]).max())


def test_cost_model_counts_avx2_one_vector_blocks_at_their_rate():
    # conv2d_direct_simd.hpp's kOneVectorRate: on AVX2 a block of one vector of output channels runs at
    # 0.6 of a 2-vector block's rate per lane. LeNet conv2's data gradient (6 output channels: one vector)
    # then costs more than its FFT (measured 1 thread: direct 2.5 ms, fft 1.8), while the forward (16
    # channels, 2 vectors) stays direct.
    if "avx2" not in SUPPORTED:
        pytest.skip("this CPU has no avx2 path")
    before = ck.cpu_info()["isa"]
    _cpu.set_isa("avx2")
    try:
        xs, ws = (64, 6, 14, 14), (16, 6, 5, 5)
        assert ck.conv2d_plan(xs, ws, direction="backward_input")["algo"] == "fft"
        assert ck.conv2d_plan(xs, ws)["algo"] == "direct"
    finally:
        _cpu.set_isa(before)
