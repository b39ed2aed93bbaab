"""Dispatch by array type: which compiled module runs a kernel for the given arrays.

NumPy arrays run on the CPU module `_cpu`. (A CUDA module for CuPy arrays plugs in here.)
"""

import numpy as np

from . import _cpu


def backend_for(x):
    """The kernel module for array x (already checked to be a NumPy array by the caller)."""
    if isinstance(x, np.ndarray):
        return _cpu
    raise TypeError(f"no cnnkernels backend for arrays of type {type(x).__name__}; expected numpy.ndarray")
