"""Shared pytest configuration for the cnnkernels tests.

Holds the `backend` fixture (how input arrays are made and results converted
back; the API is always the same `ck.*` functions), the `algo` fixture for
conv2d algorithms, a `dtype` fixture, a per-test seeded `rng`, and the `gpu`
marker.

To add a backend, add an entry to BACKENDS (needs_gpu=True gives it the `gpu`
marker and skips it when no GPU is available).  To add a conv algorithm,
append it to ALGOS.
"""

import os
import zlib

import numpy as np
import pytest

# conv2d algorithms every conv test is run with.
ALGOS = ["direct", "im2col", "auto", "fft"]

DTYPES = [np.float32, np.float64]


class Backend:
    """How a backend makes input arrays and turns results back into NumPy."""

    def __init__(self, name, asarray, to_numpy, needs_gpu=False):
        self.name = name
        self._asarray = asarray
        self._to_numpy = to_numpy
        self.needs_gpu = needs_gpu

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
    # Future, e.g.:
    # "cuda-emulated": Backend("cuda-emulated", asarray=..., to_numpy=...),
    # "cuda": Backend("cuda", asarray=..., to_numpy=..., needs_gpu=True),
}


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
def algo(request):
    return request.param


@pytest.fixture(scope="session", params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return np.dtype(request.param)


@pytest.fixture
def rng(request):
    """A Generator seeded from the test id, so every test gets its own fixed data."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
