"""Shared pytest configuration for the cnnkernels tests.

Holds the `backend` fixture (how input arrays are made and results converted back, and the ck
operations bound to that backend: `backend.ck.conv2d(...)` is `ck.conv2d(..., backend=name)`), the
`algo` fixture for conv2d algorithms (each backend declares which it has; an algorithm a backend lacks
is skipped there), a `dtype` fixture, a per-test seeded `rng`, the `gpu` marker, and
`compiled_modules()` for the tests of the C++ layer itself.

To add a backend, add an entry to BACKENDS (needs_gpu=True gives it the `gpu` marker and skips it when
no GPU is available). The algorithm names come from the library (cnnkernels.get_backend(name).algorithms),
never from a list here.
"""

import functools
import os
import types
import zlib

import numpy as np
import pytest

import cnnkernels as ck

OPS = ("conv2d", "max_pool2d", "avg_pool2d", "lp_pool2d", "feature_lp_pool", "local_contrast_norm",
       "conv2d_backward", "max_pool2d_backward", "avg_pool2d_backward", "lp_pool2d_backward",
       "feature_lp_pool_backward", "local_contrast_norm_backward")

DTYPES = [np.float32, np.float64]


class Backend:
    """A backend under test: how it makes input arrays and turns results back into NumPy, what it has
    (conv2d algorithms, dtypes), and the ck operations bound to it (`.ck`)."""

    def __init__(self, name, asarray, to_numpy, needs_gpu=False):
        self.name = name
        self._asarray = asarray
        self._to_numpy = to_numpy
        self.needs_gpu = needs_gpu
        self.ck = types.SimpleNamespace(**{op: functools.partial(getattr(ck, op), backend=name) for op in OPS})

    @property
    def available(self):
        return self.name in ck.available_backends()

    @property
    def algorithms(self):
        """The conv2d algorithms this backend runs ("auto" picks among them)."""
        return ck.get_backend(self.name).algorithms

    @property
    def dtypes(self):
        return ck.get_backend(self.name).dtypes

    def asarray(self, a):
        """Backend array holding the NumPy array `a` (for cpu: `a` itself, views kept)."""
        return self._asarray(a)

    def to_numpy(self, y):
        """NumPy array for a backend result (for cpu: checks it already is one)."""
        return self._to_numpy(y)

    def __repr__(self):
        return f"Backend({self.name!r})"


def _cpu_to_numpy(y):
    assert isinstance(y, np.ndarray), f"cpu backend returned {type(y).__name__}, not numpy.ndarray"
    return y


BACKENDS = {
    "cpu": Backend("cpu", asarray=lambda a: a, to_numpy=_cpu_to_numpy),
    # With the CUDA module: "cuda-emu" (NumPy arrays, backend="cuda-emu") and "cuda" (needs_gpu=True).
}

# Every algorithm name of every backend under test, "auto" first.
ALGOS = ["auto"] + sorted({a for b in BACKENDS.values() if b.available for a in b.algorithms})


def compiled_modules():
    """The compiled modules of this build (the C++ layer's own checks run for each)."""
    return [ck.get_backend(name).module for name in ck.available_backends()]


def gpu_available():
    """True when a CUDA device can be used (override with CNNKERNELS_TEST_GPU=0/1)."""
    env = os.environ.get("CNNKERNELS_TEST_GPU")
    if env is not None:
        return env == "1"
    try:
        import cnnkernels

        probe = getattr(cnnkernels, "cuda_is_available", None)
        return bool(probe()) if probe is not None else False
    except Exception:
        return False


def _backend_params():
    return [
        pytest.param(name, id=name, marks=[pytest.mark.gpu] if b.needs_gpu else [])
        for name, b in BACKENDS.items()
    ]


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU; skipped when none is available")


# Session scope so the fixtures can be used by hypothesis tests.
@pytest.fixture(scope="session", params=_backend_params())
def backend(request):
    b = BACKENDS[request.param]
    if b.needs_gpu and not gpu_available():
        pytest.skip(f"backend {b.name!r} needs a GPU")
    return b


@pytest.fixture(scope="session", params=ALGOS)
def algo(request, backend):
    if request.param != "auto" and request.param not in backend.algorithms:
        pytest.skip(f"backend {backend.name!r} has no algorithm {request.param!r}")
    return request.param


@pytest.fixture(scope="session", params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return np.dtype(request.param)


@pytest.fixture
def rng(request):
    """A Generator seeded from the test id, so every test gets its own fixed data."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
