"""`cnnkernels bench --device cuda` (and `--device cuda-emu`, a smoke run of the same code on the emulator):
our CUDA convolutions per algorithm on the bench's layers, pooling and LCN, with the GPU's anchors.

On "cuda" the arrays are CuPy arrays and every time is a median of CUDA-event times (after warm-up calls),
shown as GFLOP/s and % of the device's FP32 (or FP64) peak for convolutions, GB/s and % of its memory
bandwidth for pooling and LCN (both peaks from the device's properties). Anchors, where installed: PyTorch
CUDA (cuDNN) for the convolutions and pooling, and cupyx.scipy.signal.fftconvolve for single-channel cases.
On "cuda-emu" the arrays are NumPy arrays and times are wall-clock medians: only a check that it all runs.
"""

import math
import time

import numpy as np

from .. import functional as F
from .cases import LAYERS, QUICK_LAYERS, DEFAULT_LAYERS

# FP32 lanes per SM by compute capability major.minor (the CUDA programming guide's throughput table).
_FP32_PER_SM = {(7, 5): 64, (8, 0): 64, (8, 6): 128, (8, 7): 128, (8, 9): 128, (9, 0): 128, (10, 0): 128,
                (12, 0): 128}
_FP64_RATIO = {(8, 0): 0.5, (9, 0): 0.5}  # FP64 / FP32 rate of the data-centre parts (others 1/32 or 1/64)

# Small cases for the emulator's smoke run (N, C, H, W, K, R, S, stride, pad).
_EMU_CASES = [("tiny-3x3", (1, 3, 12, 12, 4, 3, 3, 1, 1)), ("tiny-5x5-s2", (2, 2, 11, 9, 3, 5, 5, 2, 2))]


def device_peaks(info, dtype):
    """(GFLOP/s, GB/s) peaks of the device from its properties (None where unknown, e.g. the emulator)."""
    if info.get("emulated"):
        return None, None
    cc = tuple(info["compute_capability"])
    lanes = _FP32_PER_SM.get(cc, 128)
    gflops = 2 * lanes * info["multiprocessors"] * info["clock_khz"] * 1e3 / 1e9
    if np.dtype(dtype) == np.float64:
        gflops *= _FP64_RATIO.get(cc, 1 / 32)
    gbs = 2 * info["memory_clock_khz"] * 1e3 * info["memory_bus_width"] / 8 / 1e9
    return gflops, gbs


class _Timer:
    """Median seconds of fn(): CUDA events on a GPU, perf_counter on the emulator; warm-up calls first."""

    def __init__(self, on_gpu, min_time):
        self.on_gpu, self.min_time = on_gpu, min_time
        if on_gpu:
            import cupy
            self.cupy = cupy

    def __call__(self, fn):
        for _ in range(2):
            fn()
        times, spent = [], 0.0
        while spent < self.min_time or len(times) < 3:
            if self.on_gpu:
                start, stop = self.cupy.cuda.Event(), self.cupy.cuda.Event()
                start.record()
                fn()
                stop.record()
                stop.synchronize()
                t = self.cupy.cuda.get_elapsed_time(start, stop) / 1e3
            else:
                t0 = time.perf_counter()
                fn()
                t = time.perf_counter() - t0
            times.append(t)
            spent += t
            if len(times) >= 200:
                break
        return float(np.median(times))


def _torch_cuda():
    try:
        import torch
        import torch.nn.functional as tF
    except ImportError:
        return None, None
    return (torch, tF) if torch.cuda.is_available() else (None, None)


def run_device_bench(backend, dtype, quick, min_time, cases=None):
    """Prints the tables and returns the records of a device run (backend: "cuda" or "cuda-emu")."""
    on_gpu = backend.name == "cuda"
    info = backend.device_info()
    peak_flops, peak_bw = device_peaks(info, dtype)
    timer = _Timer(on_gpu, min_time)
    xp = np
    if on_gpu:
        import cupy as xp
    torch, tF = _torch_cuda() if on_gpu else (None, None)
    if cases is None:
        cases = _EMU_CASES if not on_gpu else [(n, LAYERS[n]) for n in (QUICK_LAYERS if quick else DEFAULT_LAYERS)]
    print(f"cnnkernels bench --device {backend.name}: {info['name']}, {np.dtype(dtype).name}"
          + (f"; peaks {peak_flops:.0f} GFLOP/s, {peak_bw:.0f} GB/s (from the device's properties)"
             if peak_flops else "; emulated: times show only that everything runs"))
    records = []
    print(f"{'case':<16} {'algo':<8} {'ms':>9} {'GFLOP/s':>9} {'% peak':>7} {'torch ms':>9} {'max rel err':>12}")
    for name, (N, C, H, W, K, R, S, stride, pad) in cases:
        rng = np.random.default_rng(0)
        xh = rng.standard_normal((N, C, H, W)).astype(dtype)
        wh = (rng.standard_normal((K, C, R, S)) / math.sqrt(C * R * S)).astype(dtype)
        ref = F.conv2d(xh.astype(np.float64), wh.astype(np.float64), stride=stride, padding=pad, algo="direct")
        x, w = xp.asarray(xh), xp.asarray(wh)
        P, Q = ref.shape[2:]
        flops = 2.0 * N * K * P * Q * C * R * S
        t_torch = None
        if torch is not None:
            xt, wt = torch.as_tensor(x, device="cuda"), torch.as_tensor(w, device="cuda")
            t_torch = timer(lambda: tF.conv2d(xt, wt, stride=stride, padding=pad))
        for algo in backend.algorithms:
            y = F.conv2d(x, w, stride=stride, padding=pad, algo=algo, backend=backend.name)
            yh = xp.asnumpy(y) if on_gpu else y
            err = float(np.abs(yh - ref).max() / max(np.abs(ref).max(), 1e-30))
            t = timer(lambda: F.conv2d(x, w, stride=stride, padding=pad, algo=algo, backend=backend.name))
            gf = flops / t / 1e9
            rec = {"case": name, "algo": algo, "time_s": t, "gflops": gf, "max_rel_err": err,
                   "torch_time_s": t_torch, "peak_fraction": gf / peak_flops if peak_flops else None}
            records.append(rec)
            pct = f"{gf / peak_flops:7.1%}" if peak_flops else f"{'-':>7}"
            tt = f"{t_torch * 1e3:9.3f}" if t_torch else f"{'-':>9}"
            print(f"{name:<16} {algo:<8} {t * 1e3:9.3f} {gf:9.1f} {pct} {tt} {err:12.2e}")
        if on_gpu and C == 1 and K == 1 and N == 1:
            try:
                from cupyx.scipy.signal import fftconvolve
                t = timer(lambda: fftconvolve(x[0, 0], w[0, 0, ::-1, ::-1], mode="same"))
                print(f"{name:<16} {'cupyx fftconvolve':<18} {t * 1e3:9.3f} ms")
            except ImportError:
                pass
    # Pooling and LCN: bytes read + written per second.
    shape = (2, 4, 16, 16) if not on_gpu else (32, 64, 112, 112)
    xh = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    x = xp.asarray(xh)
    ops = [("max_pool2d 3x3/2", lambda: F.max_pool2d(x, 3, 2, backend=backend.name), 1 / 4),
           ("avg_pool2d 2x2", lambda: F.avg_pool2d(x, 2, backend=backend.name), 1 / 4),
           ("lp_pool2d 2x2", lambda: F.lp_pool2d(x, 2, 2, backend=backend.name), 1 / 4),
           ("local_contrast_norm", lambda: F.local_contrast_norm(x, 9, backend=backend.name), 1.0)]
    print(f"{'op':<22} {'ms':>9} {'GB/s':>8} {'% bandwidth':>12}")
    for name, fn, out_fraction in ops:
        t = timer(fn)
        gbs = xh.nbytes * (1 + out_fraction) / t / 1e9
        pct = f"{gbs / peak_bw:12.1%}" if peak_bw else f"{'-':>12}"
        print(f"{name:<22} {t * 1e3:9.3f} {gbs:8.2f} {pct}")
        records.append({"case": name, "time_s": t, "gbs": gbs, "bandwidth_fraction": gbs / peak_bw if peak_bw else None})
    return records
