"""The CUDA side's own tests: the emulator (cuda/emu/: barriers, warp operations, shared memory, launch checks,
deadlocks), the rules every .cu file follows (cuda/common.cuh), and a small pass of every CUDA kernel on
cuda-emu against the float64 reference: the set tools/sanitize runs under ThreadSanitizer and
AddressSanitizer + UBSan (fast enough for them; the op test files cover the options in depth)."""

import math
import pathlib
import re

import numpy as np
import pytest

import cnnkernels as ck
import reference

ROOT = pathlib.Path(__file__).resolve().parents[1]
CUDA_SOURCES = sorted((ROOT / "cuda").rglob("*.cu")) + sorted((ROOT / "cuda").rglob("*.cuh"))


@pytest.fixture(scope="module")
def emu():
    return ck.get_backend("cuda-emu").module


# -- the emulator -------------------------------------------------------------------------------------------

def test_block_barriers_order_a_shared_memory_reduction(emu):
    # 3 blocks of 128 threads over x[i] = i % 7, i < 1000: block b sums the i with (i // 128) % 3 == b.
    x = np.arange(1000) % 7
    totals = [float(x[(np.arange(1000) // 128) % 3 == b].sum()) for b in range(3)]
    assert emu.emu_selftest("block_sum") == totals


def test_warp_shuffles_and_votes(emu):
    r = emu.emu_selftest("warp")
    for w in range(3):
        lanes = range(32 * w, 32 * w + 32)
        total, b, lane5 = r[3 * w: 3 * w + 3]
        assert total == sum(lanes)
        # threadIdx.x % 3 counts across the block: lane l of warp w is thread 32w + l.
        assert b == sum(1 << (t - 32 * w) for t in lanes if t % 3 == 0)
        assert lane5 == 32 * w + 5


def test_unwritten_shared_memory_reads_nan(emu):
    assert all(math.isnan(v) for v in emu.emu_selftest("unwritten_shared"))


def test_threads_that_exit_count_as_arrived(emu):
    assert emu.emu_selftest("early_exit") == [39.0 - t for t in range(40)]


def test_thread_and_block_indices(emu):
    r = emu.emu_selftest("indices")
    assert r == [b * 1000 + t for b in range(12) for t in range(30)]


def test_a_deadlock_is_an_error_not_a_hang(emu):
    with pytest.raises(RuntimeError, match="deadlock"):
        emu.emu_selftest("deadlock")


def test_a_bad_launch_configuration_is_an_error(emu):
    with pytest.raises(RuntimeError, match="1024 threads"):
        emu.emu_selftest("too_many_threads")


# -- the rules of cuda/common.cuh ---------------------------------------------------------------------------

def _code(path):
    """The source without comments."""
    text = path.read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


@pytest.mark.parametrize("path", CUDA_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_shared_memory_and_launches_go_through_the_macros(path):
    code = _code(path)
    if path.name != "common.cuh":
        assert "__shared__" not in code, "declare shared memory with CK_SHARED / CK_DYNAMIC_SHARED"
        assert "<<<" not in code, "launch kernels with ck::cuda::launch"
    assert "__CUDA_ARCH__" not in code, "device code must not depend on __CUDA_ARCH__ (not defined in emulation)"


@pytest.mark.parametrize("path", sorted((ROOT / "cuda").glob("*.cu")), ids=lambda p: p.name)
def test_each_kernel_file_says_what_it_holds_and_splits_kernels_from_launchers(path):
    text = path.read_text()
    assert text.startswith(f"// {path.name}:")
    if "__global__" in text:
        assert text.index("// kernels") < text.index("// launchers")


# -- every CUDA kernel once, small, against the float64 reference (the sanitizers' set) --------------------

def _x(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("algo", ["direct", "im2col"])
@pytest.mark.parametrize("geometry", [
    dict(stride=1, padding=1, dilation=1, groups=1),
    dict(stride=2, padding=(0, 1), dilation=(1, 2), groups=2),
], ids=["plain", "strided_dilated_groups"])
def test_conv2d_and_gradients_on_the_emulator(algo, geometry):
    rng = np.random.default_rng(1)
    x, w, b = _x(rng, (2, 4, 7, 6)), _x(rng, (6, 4 // geometry["groups"], 3, 3)), _x(rng, 6)
    y = ck.conv2d(x, w, b, algo=algo, backend="cuda-emu", **geometry)
    np.testing.assert_allclose(y, reference.conv2d(x, w, b, **geometry), rtol=1e-10, atol=1e-10)
    gy = _x(rng, y.shape)
    got = ck.conv2d_backward(gy, x, w, algo=algo, backend="cuda-emu", **geometry)
    for g, r in zip(got, reference.conv2d_backward(gy, x, w, **geometry)):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_direct_conv_whose_tile_does_not_fit_shared_memory(dtype):
    # A 3x3 window dilated 100: one output's input patch (201 x 201) exceeds the tiles' shared memory, so the
    # direct kernel takes its global-memory path (cuda/conv2d_direct.cu: conv2d_direct_global_kernel).
    rng = np.random.default_rng(4)
    x, w, b = _x(rng, (1, 2, 205, 203), dtype), _x(rng, (3, 2, 3, 3), dtype), _x(rng, 3, dtype)
    kw = dict(dilation=100, stride=2)
    y = ck.conv2d(x, w, b, algo="direct", backend="cuda-emu", **kw)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(y, reference.conv2d(x, w, b, **kw), rtol=tol, atol=tol)


POOLS = [
    ("max_pool2d", dict(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)),
    ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("lp_pool2d", dict(norm_type=2.0, kernel_size=2, stride=2)),
]


@pytest.mark.parametrize("op, kw", POOLS, ids=[p[0] for p in POOLS])
def test_pooling_and_gradients_on_the_emulator(op, kw):
    rng = np.random.default_rng(2)
    x = np.abs(_x(rng, (2, 3, 7, 8))) + 0.1
    y = getattr(ck, op)(x, backend="cuda-emu", **kw)
    expected = getattr(reference, op)(x, **kw)
    if op == "max_pool2d":  # the reference returns (values, indices)
        expected, indices = expected
        got, got_indices = ck.max_pool2d(x, return_indices=True, backend="cuda-emu", **kw)
        np.testing.assert_array_equal(got_indices, indices)
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)
    gy = _x(rng, y.shape)
    g = getattr(ck, op + "_backward")(gy, x, backend="cuda-emu", **kw)
    np.testing.assert_allclose(g, getattr(reference, op + "_backward")(gy, x, **kw), rtol=1e-9, atol=1e-12)


def test_feature_pooling_and_lcn_on_the_emulator():
    rng = np.random.default_rng(3)
    x = _x(rng, (2, 6, 6, 5))
    y = ck.feature_lp_pool(x, 2.0, 2, backend="cuda-emu")
    np.testing.assert_allclose(y, reference.feature_lp_pool(x, 2.0, 2), rtol=1e-10)
    gy = _x(rng, y.shape)
    np.testing.assert_allclose(ck.feature_lp_pool_backward(gy, x, 2.0, 2, backend="cuda-emu"),
                               reference.feature_lp_pool_backward(gy, x, 2.0, 2), rtol=1e-9, atol=1e-12)
    y = ck.local_contrast_norm(x, 5, 1.5, backend="cuda-emu")
    np.testing.assert_allclose(y, reference.local_contrast_norm(x, 5, 1.5), rtol=1e-9, atol=1e-12)
    gy = _x(rng, y.shape)
    np.testing.assert_allclose(ck.local_contrast_norm_backward(gy, x, 5, 1.5, backend="cuda-emu"),
                               reference.local_contrast_norm_backward(gy, x, 5, 1.5), rtol=1e-8, atol=1e-10)
