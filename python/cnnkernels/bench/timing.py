"""Timing: the median wall time of one callable, and of several timed in interleaved rounds."""

import time

import numpy as np


def median_time(fn, min_time=0.2, min_repeats=3, max_repeats=50):
    """Median wall time of fn() over repeats, after one warm-up call; repeats until min_time has passed."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < max_repeats and (len(times) < min_repeats or time.perf_counter() - start < min_time):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def interleaved_times(fns, min_time=0.2, rounds=3, settle=0.01):
    """Median wall time of each of fns (name -> callable), timed in `rounds` rounds that visit each fn in
    turn, so that a drift of the machine's speed (other processes, clock boost) weighs on all of them alike
    and their ratios hold. In each visit the fn first runs untimed for `settle` seconds (at least once): an
    OpenMP runtime keeps its threads spinning for some milliseconds after a parallel region, and PyTorch
    brings its own runtime, so the first calls after a switch compete with the other one's spinning
    threads. Then it is timed for min_time / rounds (at least one call)."""
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            while time.perf_counter() - start < settle:
                fn()
            start = time.perf_counter()
            while True:
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
                if time.perf_counter() - start >= min_time / rounds:
                    break
    return {name: float(np.median(t)) for name, t in times.items()}
