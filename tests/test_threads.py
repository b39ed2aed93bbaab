"""Threading tests: ck.set_num_threads / ck.get_num_threads, bitwise-identical
results with 1, 2 and 4 worker threads (batch 5 and batch 1) for every op and
conv algo, and several Python threads calling the ops at once (results
compared with the references and with a sequential run; an erroring call in
the mix must not disturb the others).
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import cnnkernels as ck
import reference
from reference import (
    LCN_TOL,
    assert_close,
)


@pytest.fixture
def restore_threads():
    n = ck.get_num_threads()
    yield
    ck.set_num_threads(n)


def test_get_num_threads_default_is_positive_int():
    n = ck.get_num_threads()
    assert isinstance(n, int) and n >= 1


def test_set_get_roundtrip(restore_threads):
    for n in (1, 2, 3, 1, 8, 2):
        ck.set_num_threads(n)
        assert ck.get_num_threads() == n


@pytest.mark.parametrize("n", [0, -1, -64])
def test_set_num_threads_rejects_non_positive(restore_threads, n):
    ck.set_num_threads(2)
    with pytest.raises(ValueError, match=r"\bn\b|thread"):
        ck.set_num_threads(n)
    assert ck.get_num_threads() == 2


def test_set_num_threads_is_capped_at_four_per_core(restore_threads):
    limit = ck.cpu_info()["max_threads"]
    assert limit == 4 * os.cpu_count() or limit >= 4  # OpenMP's count of cores may differ from Python's
    ck.set_num_threads(limit)
    assert ck.get_num_threads() == limit
    for n in (limit + 1, 10000):
        with pytest.raises(ValueError, match=f"at most {limit}"):
            ck.set_num_threads(n)
    assert ck.get_num_threads() == limit


def workloads(backend, dtype, algo, rng, N):
    """name -> (call(), float64 reference(s), tolerance).  call() returns NumPy results."""
    B = backend
    x = rng.standard_normal((N, 4, 11, 10)).astype(dtype)
    w = rng.standard_normal((6, 2, 3, 3)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    w1 = rng.standard_normal((8, 4, 3, 2)).astype(dtype)
    xb, wb, bb, w1b = B.asarray(x), B.asarray(w), B.asarray(b), B.asarray(w1)
    tol = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}[np.dtype(dtype)]
    mp = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)

    def maxpool():
        o, i = B.ck.max_pool2d(xb, return_indices=True, **mp)
        return B.to_numpy(o), B.to_numpy(i)

    return {
        "conv_groups": (
            lambda: B.to_numpy(B.ck.conv2d(xb, wb, bb, stride=(1, 2), padding=1, groups=2, algo=algo)),
            reference.conv2d(x, w, b, stride=(1, 2), padding=1, groups=2),
            tol,
        ),
        "conv_same": (
            lambda: B.to_numpy(B.ck.conv2d(xb, w1b, None, padding="same", dilation=(1, 2), algo=algo)),
            reference.conv2d(x, w1, None, padding="same", dilation=(1, 2)),
            tol,
        ),
        "max_pool2d": (maxpool, reference.max_pool2d(x, **mp), tol),
        "avg_pool2d": (
            lambda: B.to_numpy(B.ck.avg_pool2d(xb, 3, 2, 1, True, False)),
            reference.avg_pool2d(x, 3, 2, 1, True, False),
            tol,
        ),
        "lp_pool2d": (
            lambda: B.to_numpy(B.ck.lp_pool2d(xb, 2, (3, 2), (2, 1), True)),
            reference.lp_pool2d(x, 2, (3, 2), (2, 1), True),
            tol,
        ),
        "feature_lp_pool": (
            lambda: B.to_numpy(B.ck.feature_lp_pool(xb, 2, 2, 1)),
            reference.feature_lp_pool(x, 2, 2, 1),
            tol,
        ),
        "lcn": (
            lambda: B.to_numpy(B.ck.local_contrast_norm(xb, 5, 1.5, 1e-4)),
            reference.local_contrast_norm(x, 5, 1.5, 1e-4),
            LCN_TOL[np.dtype(dtype)],
        ),
    }


def check_result(out, ref, dtype, tol):
    if isinstance(ref, tuple):  # max_pool2d: (values, indices)
        assert_close(out[0], ref[0], dtype, tol)
        assert out[1].dtype == np.int64
        np.testing.assert_array_equal(out[1], ref[1])
    else:
        assert_close(out, ref, dtype, tol)


def assert_identical(a, b):
    if isinstance(a, tuple):
        for u, v in zip(a, b):
            assert_identical(u, v)
        return
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes(), "results differ between thread counts"


@pytest.mark.parametrize("N", [5, 1])
def test_results_identical_for_1_2_4_threads(backend, algo, dtype, rng, restore_threads, N):
    for name, (fn, ref, tol) in workloads(backend, dtype, algo, rng, N).items():
        if algo != "auto" and not name.startswith("conv"):
            continue  # non-conv ops don't depend on algo: run them once
        outs = []
        for n in (1, 2, 4):
            ck.set_num_threads(n)
            out = fn()
            check_result(out, ref, dtype, tol)
            outs.append(out)
        assert_identical(outs[0], outs[1])
        assert_identical(outs[0], outs[2])


def test_concurrent_python_threads(backend, restore_threads):
    ck.set_num_threads(2)
    rng = np.random.default_rng(1234)
    tasks = []
    for dtype in (np.dtype(np.float32), np.dtype(np.float64)):
        for algo in ("direct", "im2col", "auto"):
            for name, (fn, ref, tol) in workloads(backend, dtype, algo, rng, 5).items():
                if algo != "auto" and not name.startswith("conv"):
                    continue
                tasks.append((fn, ref, dtype, tol))

    def bad_call():
        with pytest.raises(ValueError):
            backend.ck.conv2d(backend.asarray(np.ones((1, 2, 3, 3))), backend.asarray(np.ones((1, 2, 5, 5))))
        return "raised"

    sequential = [t[0]() for t in tasks]
    n_workers = 4
    barrier = threading.Barrier(n_workers)

    def worker(k):
        barrier.wait()  # start together
        results = []
        for rep in range(3):
            order = list(range(len(tasks)))[k::2] + list(range(len(tasks)))[(k + 1) % 2::2]
            for i in order:
                results.append((i, tasks[i][0]()))
            results.append((-1, bad_call()))
        return results

    with ThreadPoolExecutor(n_workers) as ex:
        all_results = list(ex.map(worker, range(n_workers)))

    for results in all_results:
        for i, out in results:
            if i < 0:
                assert out == "raised"
                continue
            _, ref, dtype, tol = tasks[i]
            check_result(out, ref, dtype, tol)
            assert_identical(out, sequential[i])
    assert ck.get_num_threads() == 2
