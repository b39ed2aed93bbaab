"""Running one convolution case: every algorithm of the backend timed in interleaved rounds with the
anchors (PyTorch's F.conv2d, NumPy's matmul for a pointwise layer, SciPy's fftconvolve for one channel),
with FLOPs, workspace, the cost model's pick and the error against a float64 reference."""

import contextlib
import math

import numpy as np

from .. import functional as F
from .._backend import get_backend
from .machine import DEFAULT_DEVICE, optional_torch
from .timing import interleaved_times, median_time


def available_algos(backend=DEFAULT_DEVICE):
    """The conv2d algorithms the backend (a Backend or its name) runs."""
    return list(get_backend(backend).algorithms)


def runs(backend, geom, algo, dtype="float32", direction="forward"):
    """Whether `algo` can run a case (winograd runs only 3x3 stride-1 kernels, and no weight gradient)."""
    N, C, H, W, K, R, S, stride, pad = geom
    try:
        F.conv2d_plan((N, C, H, W), (K, C, R, S), stride=stride, padding=pad, dtype=dtype, algo=algo,
                      backend=get_backend(backend).name, direction=direction)
    except ValueError:
        return False
    return True


def output_shape(geom, dtype="float32"):
    """(N, K, P, Q): the output shape of a case, as conv2d_plan gives it."""
    N, C, H, W, K, R, S, stride, pad = geom
    return tuple(F.conv2d_plan((N, C, H, W), (K, C, R, S), stride=stride, padding=pad, dtype=dtype)["output_shape"])


def conv_flops(geom, dtype="float32"):
    """Direct-equivalent FLOPs of a case: 2 N K P Q C R S."""
    N, C, H, W, K, R, S, stride, pad = geom
    _, _, P, Q = output_shape(geom, dtype)
    return 2.0 * N * K * P * Q * C * R * S


def run_conv_case(name, geom, algos, dtype, min_time, with_torch=True, backend=DEFAULT_DEVICE):
    """The record of one case: geometry, FLOPs, per algorithm time, GFLOP/s, speed-up over direct,
    workspace and max relative error, the cost model's pick, and the anchors' times. backend: a Backend or
    its name; the float64 reference runs on the backend owning NumPy arrays. Algorithms that cannot run the
    case are left out of its record."""
    b = get_backend(backend)
    algos = [a for a in algos if runs(b, geom, a, dtype)]
    N, C, H, W, K, R, S, stride, pad = geom
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = (rng.standard_normal((K, C, R, S)) / math.sqrt(C * R * S)).astype(dtype)
    ref = F.conv2d(x.astype(np.float64), w.astype(np.float64), stride=stride, padding=pad, algo="direct")
    scale = max(float(np.abs(ref).max()), 1e-30)
    flops = conv_flops(geom, dtype)
    rec = {"case": name, "N": N, "C": C, "H": H, "W": W, "K": K, "R": R, "S": S, "stride": stride,
           "padding": pad, "dtype": np.dtype(dtype).name, "flops": flops, "algos": {}}
    fns = {}
    for algo in algos:
        y = F.conv2d(x, w, stride=stride, padding=pad, algo=algo, backend=b.name)
        err = float(np.abs(y.astype(np.float64) - ref).max() / scale)
        fns[algo] = lambda algo=algo: F.conv2d(x, w, stride=stride, padding=pad, algo=algo, backend=b.name)
        rec["algos"][algo] = {"max_rel_err": err, "workspace_bytes": _workspace(b, x, w, stride, pad, algo)}
    # The anchors, timed in the same rounds as our algorithms.
    torch, tF = optional_torch()
    if with_torch and torch is not None:
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)
        fns["torch"] = lambda: tF.conv2d(xt, wt, stride=stride, padding=pad)
    if R == 1 and S == 1 and stride == 1 and pad == 0:  # the same product through NumPy's BLAS
        xm = x.reshape(N, C, H * W)
        fns["numpy_matmul"] = lambda: np.matmul(w.reshape(K, C), xm)
    with torch.no_grad() if "torch" in fns else contextlib.nullcontext():
        times = interleaved_times(fns, min_time)
    for algo in algos:
        t = times[algo]
        rec["algos"][algo].update({"time_s": t, "gflops": flops / t / 1e9})
    if "direct" in rec["algos"]:
        for a in rec["algos"].values():
            a["speedup_vs_direct"] = rec["algos"]["direct"]["time_s"] / a["time_s"]
    rec["auto_pick"] = _auto_pick(b, x, w, stride, pad)
    if "torch" in times:
        rec["torch_time_s"] = times["torch"]
    if "numpy_matmul" in times:
        rec["numpy_matmul_time_s"] = times["numpy_matmul"]
    if N == 1 and C == 1 and K == 1 and stride == 1 and 2 * pad == R - 1 and R == S:
        try:
            from scipy.signal import fftconvolve
            img, ker = x[0, 0], w[0, 0, ::-1, ::-1].copy()
            rec["scipy_fftconvolve_time_s"] = median_time(lambda: fftconvolve(img, ker, mode="same"), min_time)
        except ImportError:
            pass
    return rec


def _workspace(b, x, w, stride, pad, algo):
    return F.conv2d_plan(x.shape, w.shape, stride=stride, padding=pad, dtype=x.dtype, algo=algo,
                       backend=b.name)["workspace_bytes"]


def _auto_pick(b, x, w, stride, pad):
    return F.conv2d_plan(x.shape, w.shape, stride=stride, padding=pad, dtype=x.dtype, algo="auto",
                       backend=b.name)["algo"]
