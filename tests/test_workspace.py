"""Tests of the kernels' per-thread workspace cache (csrc/workspace.hpp, ck.release_workspace): results do not
depend on what a reused block held, the cache stays bounded and stops growing on repeated calls, each Python
thread has its own, and release_workspace frees it. Also the bench's --python-threads option runs."""

import threading

import numpy as np
import pytest

import cnnkernels as ck
from cnnkernels import _cpu, bench
import reference
from reference import assert_close

# Layers whose kernels take workspace: direct (padded rows), im2col (GEMM packing, batch buffer), fft (spectra),
# winograd.
LAYERS = {
    "direct": ((2, 5, 13, 11), (16, 5, 3, 3), 1),
    "im2col": ((3, 8, 12, 12), (16, 8, 5, 5), 2),
    "fft": ((2, 4, 24, 24), (6, 4, 9, 9), 4),
    "winograd": ((2, 16, 14, 14), (16, 16, 3, 3), 1),
}


@pytest.mark.parametrize("algo", sorted(LAYERS))
def test_reused_blocks_do_not_change_results(algo):
    rng = np.random.default_rng(3)
    xs, ws, pad = LAYERS[algo]
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    ck.release_workspace()
    fresh = ck.conv2d(x, w, padding=pad, algo=algo)
    # Fill the cache with blocks of garbage-holding sizes (other layers, NaN inputs), then run again.
    for other, (xo, wo, po) in LAYERS.items():
        ck.conv2d(np.full(xo, np.nan, np.float32), np.ones(wo, np.float32), padding=po, algo=other)
    np.testing.assert_array_equal(ck.conv2d(x, w, padding=pad, algo=algo), fresh)
    assert_close(fresh, reference.conv2d(x, w, padding=pad), np.float32, 3e-5)


def test_cache_is_bounded_reused_and_released():
    x, w = np.ones((2, 32, 40, 40), np.float32), np.ones((32, 32, 3, 3), np.float32)
    ck.release_workspace()
    assert _cpu.cached_workspace_bytes() == 0
    ck.conv2d(x, w, padding=1, algo="winograd")
    held = _cpu.cached_workspace_bytes()
    assert 0 < held <= 256 << 20
    for _ in range(3):
        ck.conv2d(x, w, padding=1, algo="winograd")
    assert _cpu.cached_workspace_bytes() == held  # the same blocks again, none added
    ck.release_workspace()
    assert _cpu.cached_workspace_bytes() == 0


@pytest.mark.parametrize("algo", sorted(LAYERS))
def test_plan_counts_the_workspace(algo):
    xs, ws, pad = LAYERS[algo]
    assert ck.conv2d_plan(xs, ws, padding=pad, algo=algo)["workspace_bytes"] > 0


def test_each_python_thread_has_its_own_cache():
    x, w = np.ones((2, 16, 20, 20), np.float32), np.ones((16, 16, 3, 3), np.float32)
    ck.release_workspace()
    seen = {}

    def body():
        seen["before"] = _cpu.cached_workspace_bytes()
        ck.conv2d(x, w, padding=1, algo="winograd")
        seen["after"] = _cpu.cached_workspace_bytes()

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert seen["before"] == 0 and seen["after"] > 0
    assert _cpu.cached_workspace_bytes() == 0  # this thread's stayed empty


def test_bench_python_threads_option(capsys):
    assert bench.main(["--python-threads", "2", "--layer", "lenet-conv2", "--min-time", "0.02"]) == 0
    out = capsys.readouterr().out
    assert "scaling" in out and "lenet-conv2" in out
    assert bench.main(["--python-threads", "1", "--layer", "lenet-conv2"]) == 2
