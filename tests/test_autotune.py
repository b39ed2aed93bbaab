"""algo="auto" with autotuning (ck.autotune): correct results, one timing per geometry, the bounded cache,
the tuning budget, the on-disk cache and the environment variable."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import cnnkernels as ck
import reference
from reference import assert_close


@pytest.fixture
def tuning(tmp_path):
    from cnnkernels import _autotune
    _autotune._tuner.cache_file = None  # no file left over from another test
    ck.clear_autotune_cache()
    previous = ck.autotune(True, max_entries=512, max_tunings=256)
    yield tmp_path
    ck.autotune(previous)
    ck.clear_autotune_cache()


def _case(rng, n, c, h, k, r, dtype=np.float32):
    x = rng.standard_normal((n, c, h, h)).astype(dtype)
    w = rng.standard_normal((k, c, r, r)).astype(dtype)
    return x, w


def test_tuned_results_are_correct_and_remembered(tuning):
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        x, w = _case(rng, 2, 5, 11, 7, 3, dtype)
        b = rng.standard_normal(7).astype(dtype)
        for _ in range(2):  # the first call times the candidates, the second reuses the choice
            y = ck.conv2d(x, w, b, padding=1)
            assert_close(y, reference.conv2d(x, w, b, 1, 1), dtype)
    choices = ck.autotune_choices()
    assert len(choices) == 2
    assert set(choices.values()) <= set(ck.get_backend("cpu").algorithms)


def test_cache_is_bounded_and_tuning_budget_runs_out(tuning):
    ck.autotune(True, max_entries=3, max_tunings=5)
    rng = np.random.default_rng(1)
    for h in range(6, 14):  # 8 geometries
        x, w = _case(rng, 1, 3, h, 4, 3)
        assert_close(ck.conv2d(x, w), reference.conv2d(x, w), np.float32)
    assert len(ck.autotune_choices()) == 3      # LRU bound
    # Past the budget, new geometries are not timed and not remembered: the cost model decides.
    before = ck.autotune_choices()
    x, w = _case(rng, 1, 3, 20, 4, 3)
    assert_close(ck.conv2d(x, w), reference.conv2d(x, w), np.float32)
    assert ck.autotune_choices() == before


def test_choices_persist_on_disk(tuning):
    path = tuning / "tune.json"
    ck.autotune(True, cache_file=path)
    rng = np.random.default_rng(2)
    x, w = _case(rng, 1, 4, 9, 6, 3)
    ck.conv2d(x, w)
    saved = json.loads(path.read_text())["choices"]
    assert len(saved) == 1
    key = next(iter(saved))
    # Another process with the same cache file starts from the saved choice.
    code = ("import cnnkernels as ck; print(len(ck.autotune_choices())); "
            "print(list(ck.autotune_choices().values())[0])")
    env = dict(os.environ, CNNKERNELS_AUTOTUNE="1", CNNKERNELS_AUTOTUNE_CACHE=str(path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    count, algo = out.stdout.split()
    assert count == "1" and algo == saved[key]


def test_corrupt_cache_file_is_ignored(tuning):
    path = tuning / "bad.json"
    path.write_text("{not json")
    ck.autotune(True, cache_file=path)
    rng = np.random.default_rng(3)
    x, w = _case(rng, 1, 2, 5, 3, 3)
    assert_close(ck.conv2d(x, w), reference.conv2d(x, w), np.float32)
    assert len(json.loads(path.read_text())["choices"]) == 1


def test_off_by_default_remembers_nothing():
    ck.clear_autotune_cache()
    previous = ck.autotune(False)
    try:
        rng = np.random.default_rng(4)
        x, w = _case(rng, 1, 2, 5, 3, 3)
        ck.conv2d(x, w)
        assert ck.autotune_choices() == {}
    finally:
        ck.autotune(previous)
