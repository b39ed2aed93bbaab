"""The CUDA backends: "cuda" (cnnkernels._cuda) and "cuda-emu" (cnnkernels._cuda_emu, the same kernels emulated
on the CPU).

Both modules take DeviceArray objects (a device pointer, a shape, a dtype and the object owning the memory)
plus an allocator for their outputs and workspace and a stream. This file turns the arrays of the Python API
into DeviceArrays and the results back:

- a CUDA array (CuPy, or anything with __cuda_array_interface__ or a CUDA __dlpack__) is used in place, on
  CuPy's current stream, with outputs from CuPy's memory pool, returned as CuPy arrays;
- a NumPy array is copied to device memory (DeviceMemory: cudaMalloc, or malloc in the emulation) and the
  results copied back into NumPy arrays: what backend="cuda" does on NumPy input, and all that
  backend="cuda-emu" does.
"""

import numpy as np

from . import _args
from ._backend import Backend, is_cuda_array


class DeviceView:
    """A checked C-contiguous CUDA array: shape, NumPy dtype, device pointer, and the array it views."""

    def __init__(self, array, shape, dtype, ptr):
        self.array = array
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.ptr = int(ptr)
        self.ndim = len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))


def cuda_view(a, op, name):
    """A DeviceView of the CUDA array `a` (C-contiguous; TypeError/ValueError naming the argument else)."""
    iface = getattr(a, "__cuda_array_interface__", None)
    if iface is None:
        raise TypeError(f"{op}: {name} must expose __cuda_array_interface__ (a CuPy, Numba or PyTorch CUDA "
                        f"array), got {type(a).__name__}")
    dtype = np.dtype(iface["typestr"])
    shape = tuple(iface["shape"])
    strides = iface.get("strides")
    if strides is not None:
        expected, step = [], dtype.itemsize
        for d in reversed(shape):
            expected.append(step)
            step *= max(int(d), 1)
        if tuple(strides) != tuple(reversed(expected)) and int(np.prod(shape)) > 1:
            raise ValueError(f"{op}: {name} must be C-contiguous (got strides {tuple(strides)})")
    return DeviceView(a, shape, dtype, iface["data"][0])


def _cupy():
    try:
        import cupy
    except ImportError:
        raise RuntimeError("CUDA arrays need CuPy for outputs: pip install cnnkernels[cuda13] (or cuda12)") from None
    return cupy


class CupyArrays:
    """Where the results of a call on CUDA arrays go: CuPy arrays from CuPy's memory pool, on CuPy's current
    stream (what a CUDA array in gives back)."""

    def stream(self):
        return _cupy().cuda.get_current_stream().ptr

    def alloc(self, nbytes):
        return _cupy().cuda.alloc(nbytes)

    def wrap(self, device_array):
        """A CuPy array over a result (its memory: an allocation of alloc)."""
        return _cupy().ndarray(device_array.shape, dtype=device_array.dtype, memptr=device_array.owner)


class DeviceBackend(Backend):
    """A CUDA module, on NumPy arrays (staged through device memory) and, for real CUDA, on CUDA arrays.

    cuda_arrays: how results on CUDA arrays are made (CupyArrays; tests pass fakes to check the rules
    without a GPU); takes_cuda_arrays: whether CUDA arrays are accepted (not by the emulator)."""

    def __init__(self, name, module, cuda_arrays=None, takes_cuda_arrays=None):
        super().__init__(name, module, np.ndarray)
        self.emulated = not takes_cuda_arrays if takes_cuda_arrays is not None else bool(module.EMULATED)
        self.cuda_arrays = cuda_arrays or CupyArrays()

    def owns(self, a):
        return isinstance(a, (np.ndarray, DeviceView)) or (not self.emulated and is_cuda_array(a))

    def check_array(self, a, op, name, ndim, like=None):
        if isinstance(a, DeviceView):
            return a
        if not self.owns(a):
            kinds = "a numpy.ndarray" if self.emulated else "a numpy.ndarray or a CUDA array"
            raise TypeError(f"{op}: {name} must be {kinds} for backend {self.name!r}, got {type(a).__name__}")
        if isinstance(a, np.ndarray):
            if isinstance(like, DeviceView):
                raise TypeError(f"{op}: {name} is a NumPy array but x is a CUDA array: pass arrays of one kind")
            return _args.check_array(a, op, name, ndim, like)
        view = cuda_view(a, op, name)
        if like is not None and not isinstance(like, DeviceView):
            raise TypeError(f"{op}: {name} is a CUDA array but x is a NumPy array: pass arrays of one kind")
        if view.ndim != ndim:
            raise ValueError(f"{op}: {name} must be {ndim}-D, got {view.ndim}-D")
        if view.dtype not in self.dtypes:
            raise TypeError(f"{op}: {name} must be float32 or float64, got dtype {view.dtype}")
        if like is not None and view.dtype != like.dtype:
            raise TypeError(f"{op}: {name} must have the same dtype as x ({like.dtype}), got {view.dtype}")
        return view

    def check_indices(self, a, op, name, shape):
        if isinstance(a, np.ndarray) or not is_cuda_array(a):
            return super().check_indices(a, op, name, shape)
        view = cuda_view(a, op, name)
        if view.dtype != np.int64:
            raise TypeError(f"{op}: {name} must be int64 (as max_pool2d returns them), got dtype {view.dtype}")
        if view.shape != tuple(shape):
            raise ValueError(f"{op}: {name} must have the forward output's shape {tuple(shape)}, got {view.shape}")
        return view

    def plan_conv2d(self, x_shape, w_shape, stride, padding, dilation, groups, dtype, algo, direction="forward",
                    **force):
        if force:
            raise ValueError(f"conv2d_plan: {sorted(force)} are FFT plan options; backend {self.name!r} has no fft")
        return self.module.conv2d_plan(x_shape, w_shape, stride, padding, dilation, groups, algo,
                                       np.dtype(dtype).itemsize, direction=direction)

    def run(self, op, *args):
        """The module's kernel `op`: NumPy arrays staged through device memory and the results copied back,
        CUDA arrays used in place and the results returned as CuPy arrays."""
        on_device = any(isinstance(a, DeviceView) for a in args)
        if on_device:
            stream = self.cuda_arrays.stream()
            alloc = self.cuda_arrays.alloc
        else:
            stream = 0
            alloc = self.module.DeviceMemory
        dargs = [self._to_device(a, stream) for a in args]
        result = getattr(self.module, op)(*dargs, alloc=alloc, stream=stream)
        return self._from_device(result, on_device, stream)

    def _to_device(self, a, stream):
        m = self.module
        if isinstance(a, np.ndarray):
            mem = m.DeviceMemory(a.nbytes)
            m.copy_to_device(mem.ptr, a, stream)
            return m.DeviceArray(mem.ptr, a.shape, a.dtype.name, mem)
        if isinstance(a, DeviceView):
            return m.DeviceArray(a.ptr, a.shape, a.dtype.name, a.array)
        return a

    def _from_device(self, r, on_device, stream):
        m = self.module
        if isinstance(r, tuple):
            return tuple(self._from_device(v, on_device, stream) for v in r)
        if not isinstance(r, m.DeviceArray):
            return r
        if on_device:
            return self.cuda_arrays.wrap(r)
        out = np.empty(r.shape, dtype=r.dtype)
        m.copy_to_host(out, r.ptr, stream)
        return out

    # -- the machine -------------------------------------------------------------------------------------
    def num_threads(self):
        return 1

    def device_info(self):
        return self.module.device_info()

    def tuner_facts(self):
        return (self.name, self.module.device_info()["name"])


def _load_module_file(name, path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:
        raise ImportError(f"CNNKERNELS_EMU_MODULE={path!r} is not an extension module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def device_backends():
    """The CUDA backends this build and machine can run: "cuda-emu" always, "cuda" when cnnkernels._cuda is
    built and a device answers. The environment variable CNNKERNELS_EMU_MODULE, a path to another build of
    _cuda_emu (tools/sanitize builds one with a sanitizer), replaces the installed emulated module."""
    import os

    backends = []
    override = os.environ.get("CNNKERNELS_EMU_MODULE")
    try:
        if override:
            _cuda_emu = _load_module_file("cnnkernels._cuda_emu", override)
        else:
            from . import _cuda_emu
    except ImportError:
        if override:
            raise
        _cuda_emu = None
    if _cuda_emu is not None:
        backends.append(DeviceBackend("cuda-emu", _cuda_emu))
    try:
        from . import _cuda
    except ImportError:
        _cuda = None
    if _cuda is not None and _cuda.device_count() > 0:
        backends.append(DeviceBackend("cuda", _cuda))
    return backends
