"""Arrays of other libraries: PyTorch tensors (CPU or CUDA) and any DLPack array, in and out.

Every operation of functional.py is wrapped by `same_kind`: an argument that is neither a NumPy array nor a
CUDA array with __cuda_array_interface__, but has __dlpack__, is viewed without a copy (np.from_dlpack for
CPU memory, cupy.from_dlpack for CUDA memory), and the results are handed back as the first such argument's
kind: a PyTorch tensor in, PyTorch tensors out (torch.from_dlpack, no copy). NumPy and CuPy arrays pass
through untouched.
"""

import functools

import numpy as np

_DLPACK_CPU, _DLPACK_CUDA, _DLPACK_CUDA_MANAGED = 1, 2, 13


def _is_torch(a):
    return type(a).__module__.split(".")[0] == "torch"


def _foreign(a):
    """(the array as NumPy/CuPy, its kind) for a DLPack array or tensor; (a, None) for anything else."""
    if isinstance(a, np.ndarray) or not hasattr(a, "__dlpack__"):
        return a, None
    kind = "torch" if _is_torch(a) else None
    if hasattr(a, "__cuda_array_interface__") and kind is None:
        return a, None  # CuPy, Numba: used as they are
    device = a.__dlpack_device__()[0] if hasattr(a, "__dlpack_device__") else _DLPACK_CPU
    try:
        if device == _DLPACK_CPU:
            return np.from_dlpack(a), kind or "dlpack"
        if device in (_DLPACK_CUDA, _DLPACK_CUDA_MANAGED):
            import cupy
            return cupy.from_dlpack(a), kind or "dlpack"
    except (BufferError, RuntimeError, TypeError) as e:  # e.g. a tensor that requires grad
        raise TypeError(f"cannot view {type(a).__name__} through DLPack: {e}") from None
    return a, None


def _to_kind(r, kind):
    if r is None or kind != "torch":
        return r  # other DLPack producers: NumPy / CuPy results (any DLPack consumer takes them)
    if isinstance(r, tuple):
        return tuple(_to_kind(v, kind) for v in r)
    import torch
    return torch.from_dlpack(r)


def same_kind(fn):
    """Wraps an operation so that DLPack arrays (PyTorch tensors) go in and come out as themselves."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        kind = None
        converted = []
        for a in args:
            a, k = _foreign(a)
            kind = kind or k
            converted.append(a)
        for name, v in kwargs.items():
            kwargs[name], k = _foreign(v)
            kind = kind or k
        return _to_kind(fn(*converted, **kwargs), kind)
    return wrapper
