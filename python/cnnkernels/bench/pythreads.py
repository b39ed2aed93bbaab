"""Scaling over Python threads (--python-threads N): N freshly started Python threads each running conv2d
(algo="auto") on its own arrays with set_num_threads(1), against one such thread, in alternating rounds.
What a server calling the kernels from a thread pool gets: ideally N times one thread's rate. Each round
starts new threads, so per-thread state (the kernels' workspace cache, OpenMP's team) starts empty."""

import math
import threading
import time

import numpy as np

from .. import functional as F
from .._backend import get_backend


def _run_threads(k, fns, calls):
    """Wall time of k new threads, thread i calling fns[i] `calls` times, all starting together."""
    barrier = threading.Barrier(k + 1)
    done = []

    def body(fn):
        barrier.wait()
        for _ in range(calls):
            fn()
        done.append(time.perf_counter())

    threads = [threading.Thread(target=body, args=(fns[i],)) for i in range(k)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return max(done) - start


def run_python_threads_case(name, geom, dtype, min_time, n, backend, rounds=5):
    """The record of one case: calls a second for one thread and for n threads (medians over alternating
    rounds), and their ratio ("scaling", ideally n)."""
    from .. import get_num_threads, set_num_threads
    b = get_backend(backend)
    N, C, H, W, K, R, S, stride, pad = geom
    rng = np.random.default_rng(0)
    fns = []
    for _ in range(n):
        x = rng.standard_normal((N, C, H, W)).astype(dtype)
        w = (rng.standard_normal((K, C, R, S)) / math.sqrt(C * R * S)).astype(dtype)
        fns.append(lambda x=x, w=w: F.conv2d(x, w, stride=stride, padding=pad, backend=b.name))
    before = get_num_threads()
    set_num_threads(1)
    try:
        fns[0]()
        t0 = time.perf_counter()
        fns[0]()
        calls = max(3, int(min_time / rounds / max(time.perf_counter() - t0, 1e-6)))
        one, many = [], []
        for _ in range(rounds):
            one.append(calls / _run_threads(1, fns, calls))
            many.append(n * calls / _run_threads(n, fns, calls))
    finally:
        set_num_threads(before)
    r1, rn = float(np.median(one)), float(np.median(many))
    return {"case": name, "python_threads": n, "calls_per_thread": calls, "rate_1": r1, "rate_n": rn,
            "scaling": rn / r1, "algo": F.conv2d_plan((N, C, H, W), (K, C, R, S), stride=stride, padding=pad,
                                                      dtype=dtype, backend=b.name)["algo"]}


def print_python_threads_table(records, out=None):
    import sys
    out = out or sys.stdout
    n = records[0]["python_threads"] if records else 0
    header = f"{'case':<17} {'algo':>8} {'1 thread ms':>12} {f'{n} threads ms':>13} {'scaling':>8}"
    print(f"Python threads, set_num_threads(1) each, freshly started each round (ideal scaling {n}):", file=out)
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in records:
        print(f"{r['case']:<17} {r['algo']:>8} {1e3 / r['rate_1']:12.3f} {n * 1e3 / r['rate_n']:13.3f}"
              f" {r['scaling']:8.2f}", file=out)
