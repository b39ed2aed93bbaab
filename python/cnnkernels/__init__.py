"""cnnkernels: convolutional-network kernels in hand-written C++ with a NumPy API (NCHW).

    import cnnkernels as ck
    y = ck.conv2d(x, w, bias, stride=1, padding="same", algo="auto")
    gx, gw, gb = ck.conv2d_backward(grad_y, x, w, stride=1, padding="same")

Operations follow torch.nn.functional's names, argument forms and output sizes. Every operation takes
backend=None (the backend owning the arrays: "cpu" for NumPy arrays) or a backend name.
"""

from ._autotune import autotune, autotune_choices, clear_autotune_cache
from ._backend import available_backends, cuda_available, get_backend
from .functional import (avg_pool2d, avg_pool2d_backward, conv2d, conv2d_backward, conv2d_plan, feature_lp_pool,
                         feature_lp_pool_backward, fft_plan_info, local_contrast_norm, local_contrast_norm_backward,
                         lp_pool2d, lp_pool2d_backward, max_pool2d, max_pool2d_backward)

__version__ = "0.1.0"

__all__ = ["conv2d", "conv2d_plan", "fft_plan_info", "max_pool2d", "avg_pool2d", "lp_pool2d", "feature_lp_pool",
           "local_contrast_norm", "conv2d_backward", "max_pool2d_backward", "avg_pool2d_backward",
           "lp_pool2d_backward", "feature_lp_pool_backward", "local_contrast_norm_backward", "set_num_threads", "get_num_threads", "release_workspace", "cpu_info", "autotune",
           "autotune_choices", "clear_autotune_cache", "available_backends", "cuda_available"]


def set_num_threads(n):
    """Set the number of threads every CPU kernel uses: 1 <= n <= 4 x the cores (more only adds switching,
    so it is refused with a ValueError naming the limit); the default is the number of cores."""
    from ._args import to_int
    n = to_int(n, "set_num_threads", "n")
    limit = cpu_info()["max_threads"]
    if not 1 <= n <= limit:
        raise ValueError(f"set_num_threads: n must be a positive integer of at most {limit} (4 x the cores), "
                         f"got {n}")
    get_backend("cpu").module.set_num_threads(n)


def release_workspace():
    """Free the scratch memory the CPU kernels keep between calls on this thread.

    A kernel's large temporary buffers (the GEMM's packing blocks, the FFT's spectra, Winograd's transformed
    tiles) stay cached per calling thread, so that its next call reuses the same pages instead of faulting in
    fresh ones; at most 256 MiB per thread, freed when the thread ends or by this call (for the calling thread
    and the threads its kernels run on).
    """
    get_backend("cpu").module.release_workspace()


def cpu_info():
    """The CPU and the SIMD path the kernels take.

    Returns a dict: "cpu" (model), "isa" (active path: "scalar", "avx2" or "avx512"), "detected_isa",
    "supported_isas", "isa_note" (why the active path differs from the detected one, e.g. the
    CNNKERNELS_ISA environment variable), "threads", "max_threads" (what set_num_threads accepts), and the
    GEMM's float32 tile and cache blocks.
    """
    return get_backend("cpu").module.cpu_info()


def get_num_threads():
    """The number of threads every CPU kernel uses."""
    return get_backend("cpu").num_threads()
