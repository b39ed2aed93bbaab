"""The machine the benchmark runs on: its facts (CPU, threads, versions, the backend's cpu_info), the
library's GEMM peak, NumPy's BLAS, the memory bandwidth, and PyTorch when it is installed."""

import platform

import numpy as np

from .._backend import get_backend
from .timing import median_time

# The backend the benchmark runs on unless --device (or a `backend` argument) names another.
DEFAULT_DEVICE = "cpu"


def optional_torch():
    """(torch, torch.nn.functional), or (None, None) when PyTorch is not installed."""
    try:
        import torch
        import torch.nn.functional as tF
    except ImportError:
        return None, None
    return torch, tF


def machine_facts(threads, backend=DEFAULT_DEVICE):
    """What the results depend on: CPU model, threads, versions, and the backend module's cpu_info()
    (backend: a Backend or its name)."""
    facts = {"cpu": _cpu_model(), "threads": threads, "python": platform.python_version(),
             "numpy": np.__version__, "platform": platform.platform()}
    facts.update(get_backend(backend).module.cpu_info())
    torch, _ = optional_torch()
    if torch is not None:
        facts["torch"] = torch.__version__
    try:
        import scipy
        facts["scipy"] = scipy.__version__
    except ImportError:
        pass
    from .. import __version__
    facts["cnnkernels"] = __version__
    return facts


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def gemm_peak(dtype, n=1024, backend=DEFAULT_DEVICE):
    """GFLOP/s of the library's own GEMM (the backend module's) on an n x n x n product: the roof for im2col
    convolution."""
    gemm = get_backend(backend).module.gemm
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    return 2.0 * n ** 3 / median_time(lambda: gemm(a, b), min_time=0.3) / 1e9


def blas_info():
    """NumPy's BLAS as threadpoolctl sees it (library, kernel, threads), or None without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [{k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for d in threadpool_info() if d.get("user_api") == "blas"]


def memory_bandwidth(nbytes=1 << 28):
    """Copy bandwidth in GB/s (bytes read + bytes written), NumPy copying a large array."""
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    t = median_time(lambda: np.copyto(dst, src), min_time=0.3)
    return 2 * src.nbytes / t / 1e9
