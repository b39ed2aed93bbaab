"""Every SIMD path this machine supports (scalar, AVX2, AVX-512), run against the float64 references:
the GEMM on edge shapes, and im2col/direct convolution, with the path forced through cnnkernels._cpu.set_isa.
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
