"""Argument normalisation and checks shared by every operation of cnnkernels.

Each helper takes the operation's name and the argument's name, so that an error says which argument was
wrong, what was given and what was expected: TypeError for a wrong type or dtype, ValueError for a wrong
value or shape. The C++ layer checks the same things again.
"""

import math
import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _is_int(v):
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def to_int(v, op, name):
    """A Python or NumPy integer (bool is refused) as an int."""
    if not _is_int(v):
        raise TypeError(f"{op}: {name} must be an int, got {type(v).__name__} {v!r}")
    return int(v)


def to_pair(v, op, name):
    """An int, a 1-tuple or a pair of ints (tuple or list) as a 2-tuple of ints: (height, width).

    As in PyTorch, a single value (2 or (2,)) serves both dimensions.
    """
    if _is_int(v):
        return (int(v), int(v))
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return (to_int(v[0], op, name),) * 2
        if len(v) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {len(v)} values {v!r}")
        return (to_int(v[0], op, name), to_int(v[1], op, name))
    raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {type(v).__name__} {v!r}")


def positive_pair(v, op, name):
    pair = to_pair(v, op, name)
    if min(pair) < 1:
        raise ValueError(f"{op}: {name} must be positive, got {v!r}")
    return pair


def non_negative_pair(v, op, name):
    pair = to_pair(v, op, name)
    if min(pair) < 0:
        raise ValueError(f"{op}: {name} must be non-negative, got {v!r}")
    return pair


def to_real(v, op, name):
    """A real number (int or float, bool refused) as a float; NaN is left for the caller to judge."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{op}: {name} must be a real number, got {type(v).__name__} {v!r}")
    return float(v)


def positive_finite(v, op, name):
    f = to_real(v, op, name)
    if not (f > 0 and math.isfinite(f)):
        raise ValueError(f"{op}: {name} must be a positive finite number, got {v!r}")
    return f


def conv_padding(padding, kernel_hw, dilation, stride, op="conv2d"):
    """conv2d's padding as (top, bottom, left, right).

    Accepts an int, a 1-tuple, a pair (symmetric per dimension), ((top, bottom), (left, right)), "valid"
    (no padding) or "same" (output size = input size; stride must be 1; the extra pixel of an even effective
    kernel goes bottom/right).
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' is not supported for stride {stride}; expected stride 1")
            pads = []
            for k, d in zip(kernel_hw, dilation):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            return tuple(pads)
        raise ValueError(f"{op}: padding must be an int, a pair, ((top, bottom), (left, right)), 'same' or "
                         f"'valid', got {padding!r}")
    if isinstance(padding, (tuple, list)) and len(padding) == 2 and all(
            isinstance(p, (tuple, list)) for p in padding):
        if any(len(p) != 2 for p in padding):
            raise ValueError(f"{op}: padding as ((top, bottom), (left, right)) needs two pairs, got {padding!r}")
        top, bottom = non_negative_pair(padding[0], op, "padding")
        left, right = non_negative_pair(padding[1], op, "padding")
        return (top, bottom, left, right)
    ph, pw = non_negative_pair(padding, op, "padding")
    return (ph, ph, pw, pw)


def check_array(a, op, name, ndim, like=None):
    """A float32/float64 NumPy array of rank ndim, C-contiguous in native byte order (copied if need be).

    `like` is an already checked array whose dtype `a` must share. (The backend has checked that `a` is a
    NumPy array.)
    """
    if a.dtype.kind != "f" or a.dtype.itemsize not in (4, 8):
        raise TypeError(f"{op}: {name} must have dtype float32 or float64, got {a.dtype}")
    dtype = np.dtype(np.float32) if a.dtype.itemsize == 4 else np.dtype(np.float64)
    if like is not None and dtype != like.dtype:
        raise TypeError(f"{op}: {name} has dtype {dtype} but x has dtype {like.dtype}; expected the same dtype")
    if a.ndim != ndim:
        raise ValueError(f"{op}: {name} must be {ndim}-D, got {a.ndim}-D with shape {a.shape}")
    return np.ascontiguousarray(a, dtype=dtype)
