"""Backends: which compiled module runs a kernel, chosen by the kind of array or by name.

A backend wraps one compiled module: "cpu" (`_cpu`, NumPy arrays), "cuda-emu" (`_cuda_emu`: the CUDA kernels
emulated on the CPU, on NumPy arrays copied through emulated device memory; always built) and "cuda"
(`_cuda`, when built and a CUDA device answers: CUDA arrays, or NumPy arrays copied to the device and back;
see _device.py). Every module
has the same operation names (conv2d_<algo>, conv2d_plan, max_pool2d, avg_pool2d, lp_pool2d,
feature_lp_pool, local_contrast_norm; conv2d_backward_input_<algo>, conv2d_backward_weight_<algo>,
conv2d_backward_bias and <pool or lcn>_backward), and each backend says what it has: its convolution algorithms,
its dtypes, its array kind, and the facts that key an autotuning choice.

Every public function takes backend=None (the backend that owns the arrays) or a backend name. The
array's kind is found first, then the array is checked by its backend.
"""

import numpy as np

from . import _args, _cpu

# Every backend name the package knows, available or not ("cuda" and "cuda-emu" come with the CUDA module).
BACKEND_NAMES = ("cpu", "cuda", "cuda-emu")


class Backend:
    """One compiled module, and the kind of array it takes and returns."""

    def __init__(self, name, module, array_kind):
        self.name = name
        self.module = module
        self.array_kind = array_kind
        self.algorithms = tuple(module.CONV2D_ALGOS)  # conv2d algorithms it runs ("auto" picks among them)
        self.dtypes = _args.FLOAT_DTYPES

    def __repr__(self):
        return f"<cnnkernels backend {self.name!r}: {', '.join(self.algorithms)}>"

    def owns(self, a):
        """Whether `a` is an array of this backend's kind."""
        return isinstance(a, self.array_kind)

    def check_array(self, a, op, name, ndim, like=None):
        """`a` as a float32/float64 C-contiguous array of this backend's kind and rank ndim (copied if need
        be); `like`: an already checked array whose dtype `a` must share."""
        if not self.owns(a):
            raise TypeError(f"{op}: {name} must be a {_kind_name(self.array_kind)} for backend {self.name!r}, "
                            f"got {type(a).__name__}")
        return _args.check_array(a, op, name, ndim, like)

    def check_indices(self, a, op, name, shape):
        """`a` as max_pool2d's indices: an int64 C-contiguous array of this backend's kind and of `shape`."""
        if not self.owns(a):
            raise TypeError(f"{op}: {name} must be a {_kind_name(self.array_kind)} for backend {self.name!r}, "
                            f"got {type(a).__name__}")
        if a.dtype != np.int64:
            raise TypeError(f"{op}: {name} must be int64 (as max_pool2d returns them), got dtype {a.dtype}")
        if tuple(a.shape) != tuple(shape):
            raise ValueError(f"{op}: {name} must have the forward output's shape {tuple(shape)}, "
                             f"got {tuple(a.shape)}")
        return np.ascontiguousarray(a)

    def run(self, op, *args):
        """The module's kernel `op` on checked arrays and normalised arguments."""
        return getattr(self.module, op)(*args)

    # -- convolution -------------------------------------------------------------------------------------
    def plan_conv2d(self, x_shape, w_shape, stride, padding, dilation, groups, dtype, algo, direction="forward",
                    **force):
        """The module's plan for this geometry and direction ("forward", "backward_input" or
        "backward_weight"): what runs ("auto": the cost model's pick)."""
        return self.module.conv2d_plan(x_shape, w_shape, stride, padding, dilation, groups, algo,
                                       np.dtype(dtype).itemsize, direction=direction, **force)

    def conv2d(self, plan, x, weight, bias, stride, padding, dilation, groups):
        """Runs a forward plan of plan_conv2d on checked arrays."""
        return self.run("conv2d_" + plan.algo, x, weight, bias, stride, padding, dilation, groups, plan)

    def conv2d_backward_input(self, plan, grad_out, weight, x_shape, stride, padding, dilation, groups):
        """Runs a backward_input plan: the gradient with respect to x."""
        return self.run("conv2d_backward_input_" + plan.algo, grad_out, weight, x_shape, stride, padding, dilation,
                        groups, plan)

    def conv2d_backward_weight(self, plan, grad_out, x, w_shape, stride, padding, dilation, groups):
        """Runs a backward_weight plan: the gradient with respect to weight."""
        return self.run("conv2d_backward_weight_" + plan.algo, grad_out, x, w_shape, stride, padding, dilation,
                        groups, plan)

    # -- the machine -------------------------------------------------------------------------------------
    def num_threads(self):
        return self.module.get_num_threads()

    def tuner_facts(self):
        """What besides the geometry an autotuning choice depends on: backend, SIMD path, threads."""
        info = self.module.cpu_info()
        return (self.name, info["isa"], info["threads"])


def _kind_name(kind):
    return f"{kind.__module__}.{kind.__name__}"


_BACKENDS = {"cpu": Backend("cpu", _cpu, np.ndarray)}


def _load_device_backends():
    from . import _device

    for backend in _device.device_backends():
        _BACKENDS[backend.name] = backend


def cuda_available():
    """True when cnnkernels._cuda is built and a CUDA device answers (False on a machine without a GPU or
    driver, and in a build without nvcc)."""
    return "cuda" in _BACKENDS


def get_backend(name):
    """The backend called `name`; ValueError for an unknown or unavailable one."""
    if isinstance(name, Backend):
        return name
    if not isinstance(name, str) or name not in BACKEND_NAMES:
        raise ValueError(f"backend must be None or one of {BACKEND_NAMES}, got {name!r}")
    if name not in _BACKENDS:
        raise ValueError(f"backend {name!r} is not available in this build (available: {tuple(_BACKENDS)})")
    return _BACKENDS[name]


def available_backends():
    """The names of the backends this build can run."""
    return tuple(_BACKENDS)


def is_cuda_array(a):
    """Whether `a` is a CUDA array: __cuda_array_interface__, or a __dlpack__ on a CUDA device."""
    if hasattr(a, "__cuda_array_interface__"):
        return True
    device = getattr(a, "__dlpack_device__", None)
    if callable(device):
        try:
            return device()[0] in (2, 13)  # kDLCUDA, kDLCUDAManaged
        except Exception:
            return False
    return False


def backend_for(x, op, backend=None):
    """The backend that runs `op` on x: the one named, or the one owning x's kind of array."""
    if backend is not None:
        return get_backend(backend)
    if isinstance(x, np.ndarray):
        return _BACKENDS["cpu"]
    if is_cuda_array(x):
        if not cuda_available():
            raise ValueError(f"{op}: x is a CUDA array, but no CUDA backend is available in this build "
                             f"(cnnkernels.cuda_available() is False)")
        return _BACKENDS["cuda"]
    raise TypeError(f"{op}: x must be a numpy.ndarray (or a CUDA array with a CUDA backend), "
                    f"got {type(x).__name__}")


_load_device_backends()
