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

    @property
    def emulated(self):
        return self.name == "cuda-emu"

    def fits(self, *shapes):
        """Whether arrays of these shapes are small enough for this backend's tests (the emulator is slow)."""
        if not self.emulated:
            return True
        return all(int(np.prod(s)) <= EMU_MAX_ELEMENTS for s in shapes)

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


def _cupy_asarray(a):
    import cupy

    return cupy.asarray(a)


def _cupy_to_numpy(y):
    import cupy

    assert isinstance(y, cupy.ndarray), f"cuda backend returned {type(y).__name__}, not cupy.ndarray"
    return cupy.asnumpy(y)


BACKENDS = {
    "cpu": Backend("cpu", asarray=lambda a: a, to_numpy=_cpu_to_numpy),
    # The CUDA kernels emulated on the CPU: NumPy arrays in and out, through emulated device memory.
    "cuda-emu": Backend("cuda-emu", asarray=lambda a: a, to_numpy=_cpu_to_numpy),
    # The CUDA kernels on a GPU, on CuPy arrays.
    "cuda": Backend("cuda", asarray=_cupy_asarray, to_numpy=_cupy_to_numpy, needs_gpu=True),
}

# The largest problem (elements of x, grad_out or weight) a test runs on the emulator, which runs every CUDA
# thread as a fiber on the CPU: tests of large shapes skip there (tests use `backend.fits(...)`).
# (CNNKERNELS_TEST_EMU_MAX_ELEMENTS lowers it: tools/sanitize does, sanitized fibers being slower still.)
EMU_MAX_ELEMENTS = int(os.environ.get("CNNKERNELS_TEST_EMU_MAX_ELEMENTS", 200_000))

# Every algorithm name of every backend under test, "auto" first; except those that run only some geometries
# (winograd: 3x3 stride-1 kernels), which have their own test file running the shared cases they can.
GEOMETRY_RESTRICTED_ALGOS = ("winograd",)
ALGOS = ["auto"] + sorted({a for b in BACKENDS.values() if b.available for a in b.algorithms
                           if a not in GEOMETRY_RESTRICTED_ALGOS})


def compiled_modules():
    """The compiled modules of this build (the C++ layer's own checks run for each); the CUDA modules behind
    StagedModule, so that the tests call every module with NumPy arrays."""
    modules = []
    for name in ck.available_backends():
        m = ck.get_backend(name).module
        modules.append(StagedModule(m) if hasattr(m, "DeviceArray") else m)
    return modules


class StagedModule:
    """A CUDA module (_cuda or _cuda_emu) called as _cpu is: NumPy arrays copied into device memory (any
    dtype, so that the module's own dtype checks run), the results copied back."""

    def __init__(self, module):
        self.module = module
        self.__name__ = module.__name__

    def __getattr__(self, name):
        attr = getattr(self.module, name)
        if not callable(attr) or isinstance(attr, type) or name in ("conv2d_plan", "device_info", "device_count"):
            return attr

        def call(*args, **kwargs):
            dargs = [self._to_device(a) for a in args]
            dkwargs = {k: self._to_device(v) for k, v in kwargs.items()}
            return self._from_device(attr(*dargs, alloc=self.module.DeviceMemory, **dkwargs))
        return call

    def _to_device(self, a):
        if not isinstance(a, np.ndarray):
            return a
        mem = self.module.DeviceMemory(a.nbytes)
        self.module.copy_to_device(mem.ptr, a)
        return self.module.DeviceArray(mem.ptr, a.shape, a.dtype.name, mem)

    def _from_device(self, r):
        if isinstance(r, tuple):
            return tuple(self._from_device(v) for v in r)
        if not isinstance(r, self.module.DeviceArray):
            return r
        out = np.empty(r.shape, dtype=r.dtype)
        self.module.copy_to_host(out, r.ptr)
        return out


def gpu_available():
    """True when a CUDA device can be used (override with CNNKERNELS_TEST_GPU=0/1)."""
    env = os.environ.get("CNNKERNELS_TEST_GPU")
    if env is not None:
        return env == "1"
    try:
        import cnnkernels

        return bool(cnnkernels.cuda_available())
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
    if not b.available:
        pytest.skip(f"backend {b.name!r} is not built")
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

