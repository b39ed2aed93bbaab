"""Where conv2d's algo="auto" is resolved (for the forward and for each gradient of conv2d_backward):
autotuning times the candidates once per new geometry and direction and remembers the winner.

Off by default (then the backend's cost model, in C++, picks without timing anything). ck.autotune(True),
or the environment variable CNNKERNELS_AUTOTUNE=1, turns it on, as torch.backends.cudnn.benchmark does.
The first conv2d call of each new geometry then runs every algorithm of the backend, keeps the fastest and
returns its result; later calls reuse the choice. Choices are keyed by geometry, dtype, backend, ISA path
and thread count, held in memory in an LRU cache of `max_entries`, and optionally in a JSON file
(ck.autotune(True, cache_file=...) or CNNKERNELS_AUTOTUNE_CACHE=path) read when tuning is turned on and
rewritten after each new choice. A program whose input sizes keep changing does not re-tune for ever: after `max_tunings`
timings in one process, new geometries go back to the cost model.
"""

import json
import os
import threading
import time
from collections import OrderedDict


class _Tuner:
    def __init__(self):
        self.lock = threading.Lock()
        self.enabled = os.environ.get("CNNKERNELS_AUTOTUNE", "0") not in ("", "0", "false", "False")
        self.cache_file = os.environ.get("CNNKERNELS_AUTOTUNE_CACHE") or None
        self.max_entries = 512
        self.max_tunings = 256
        self.tunings = 0
        self.choices = OrderedDict()  # key -> algorithm name
        if self.enabled and self.cache_file:
            self._load()

    # -- persistence -----------------------------------------------------------------------------------
    def _load(self):
        try:
            with open(self.cache_file) as f:
                saved = json.load(f)
        except (OSError, ValueError):
            return
        for key, algo in saved.get("choices", {}).items():
            if isinstance(algo, str):  # a name no backend has any more fails its plan and is re-tuned
                self.choices[key] = algo
        while len(self.choices) > self.max_entries:
            self.choices.popitem(last=False)

    def _save(self):
        if not self.cache_file:
            return
        tmp = f"{self.cache_file}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            with open(tmp, "w") as f:
                json.dump({"choices": dict(self.choices)}, f, indent=0)
            os.replace(tmp, self.cache_file)
        except OSError:
            pass  # a cache that cannot be written only costs re-tuning next time

    # -- the choice ------------------------------------------------------------------------------------
    @staticmethod
    def key(backend, direction, x_shape, w_shape, dtype, stride, padding, dilation, groups):
        prefix = () if direction == "forward" else (direction,)  # forward keys as before: old caches stay valid
        return "|".join(map(str, prefix + (tuple(x_shape), tuple(w_shape), stride, padding, dilation, groups,
                                           dtype.name) + backend.tuner_facts()))

    def lookup(self, key):
        with self.lock:
            algo = self.choices.get(key)
            if algo is not None:
                self.choices.move_to_end(key)
            return algo

    def may_tune(self):
        with self.lock:
            return self.tunings < self.max_tunings

    def store(self, key, algo):
        with self.lock:
            self.tunings += 1
            self.choices[key] = algo
            self.choices.move_to_end(key)
            while len(self.choices) > self.max_entries:
                self.choices.popitem(last=False)
            self._save()


_tuner = _Tuner()


def autotune(enabled=True, cache_file=None, max_entries=None, max_tunings=None):
    """Turn autotuning of algo="auto" on or off (see the module's docstring); returns the previous state.

    cache_file: a JSON file to read the remembered choices from now and write them to after each new one.
    max_entries: how many geometries to remember (LRU); max_tunings: timings allowed per process.
    """
    from ._args import to_int
    with _tuner.lock:
        previous = _tuner.enabled
        _tuner.enabled = bool(enabled)
        if max_entries is not None:
            _tuner.max_entries = max(1, to_int(max_entries, "autotune", "max_entries"))
        if max_tunings is not None:
            _tuner.max_tunings = max(0, to_int(max_tunings, "autotune", "max_tunings"))
        if cache_file is not None:
            _tuner.cache_file = os.fspath(cache_file)
        if _tuner.enabled and _tuner.cache_file:
            _tuner._load()
    return previous


def autotune_choices():
    """The remembered choices: {geometry key: algorithm}."""
    with _tuner.lock:
        return dict(_tuner.choices)


def clear_autotune_cache():
    with _tuner.lock:
        _tuner.choices.clear()
        _tuner.tunings = 0


def conv2d(backend, x, w, bias, stride, padding, dilation, groups, algo):
    """conv2d on checked arguments: the algorithm asked for or, for "auto", the remembered or freshly timed
    winner (autotuning on) or the backend cost model's pick."""
    return _run(backend, "forward", x.shape, w.shape, x.dtype, stride, padding, dilation, groups, algo,
                lambda p: backend.conv2d(p, x, w, bias, stride, padding, dilation, groups))


def conv2d_backward_input(backend, grad_out, x_shape, w, stride, padding, dilation, groups, algo):
    """conv2d's data gradient on checked arguments, its algorithm chosen as conv2d's."""
    return _run(backend, "backward_input", x_shape, w.shape, w.dtype, stride, padding, dilation, groups, algo,
                lambda p: backend.conv2d_backward_input(p, grad_out, w, x_shape, stride, padding, dilation, groups))


def conv2d_backward_weight(backend, grad_out, x, w_shape, stride, padding, dilation, groups, algo):
    """conv2d's weight gradient on checked arguments, its algorithm chosen as conv2d's."""
    return _run(backend, "backward_weight", x.shape, w_shape, x.dtype, stride, padding, dilation, groups, algo,
                lambda p: backend.conv2d_backward_weight(p, grad_out, x, w_shape, stride, padding, dilation, groups))


def _run(backend, direction, x_shape, w_shape, dtype, stride, padding, dilation, groups, algo, run):
    """run(plan) with the plan of `algo`, or of the algorithm "auto" resolves to for this direction."""
    def plan(a):
        return backend.plan_conv2d(x_shape, w_shape, stride, padding, dilation, groups, dtype, a,
                                   direction=direction)

    if algo != "auto" or not _tuner.enabled:
        return run(plan(algo))
    key = _tuner.key(backend, direction, x_shape, w_shape, dtype, stride, padding, dilation, groups)
    remembered = _tuner.lookup(key)
    if remembered in backend.algorithms:
        return run(plan(remembered))
    if not _tuner.may_tune():
        return run(plan("auto"))
    best = None
    for a in backend.algorithms:
        try:
            p = plan(a)
        except ValueError:  # this algorithm cannot run the geometry (an FFT too large)
            continue
        run(p)  # warm-up: caches, pages
        t0 = time.perf_counter()
        y = run(p)
        t = time.perf_counter() - t0
        if best is None or t < best[0]:
            best = (t, a, y)
    _tuner.store(key, best[1])
    return best[2]
