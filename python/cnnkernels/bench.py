"""`cnnkernels bench`: which convolution algorithm, for which layer, on this machine, and by how much.

Runs named layers (LeNet, AlexNet, VGG) and sweeps (kernel size, image size, channels) through every
algorithm, and optionally pooling and LCN, and reports per case: each algorithm's median time, GFLOP/s
(direct-equivalent FLOPs), speed-up over direct, workspace bytes and max relative error against float64,
with PyTorch's F.conv2d (and SciPy's fftconvolve for single-channel cases) as extra columns when installed.
Output: a table on the terminal, --json FILE with every record and the machine facts, --plot FILE.png with
the crossover of the kernel-size sweep.
"""

import argparse
import contextlib
import json
import math
import os
import platform
import sys
import time

import numpy as np

from . import _cpu
from . import functional as F

# ---------------------------------------------------------------------------------------------------------
# Cases

# name: (N, C, H, W, K, R, S, stride, padding)
LAYERS = {
    "lenet-conv1": (64, 1, 32, 32, 6, 5, 5, 1, 0),
    "lenet-conv2": (64, 6, 14, 14, 16, 5, 5, 1, 0),
    "alexnet-conv1": (8, 3, 227, 227, 96, 11, 11, 4, 0),
    "alexnet-conv2": (8, 96, 27, 27, 256, 5, 5, 1, 2),
    "alexnet-conv3": (8, 256, 13, 13, 384, 3, 3, 1, 1),
    "vgg-conv1_2": (1, 64, 224, 224, 64, 3, 3, 1, 1),
    "vgg-conv3_2": (4, 256, 56, 56, 256, 3, 3, 1, 1),
    "pointwise-512": (4, 512, 32, 32, 512, 1, 1, 1, 0),
    "odd-prime-s2": (3, 7, 61, 59, 13, 5, 5, 2, 2),
    "large-kernel-11": (8, 32, 64, 64, 32, 11, 11, 1, 5),
    "large-kernel-15": (4, 16, 128, 128, 16, 15, 15, 1, 7),
    "image-1024-31": (1, 1, 1024, 1024, 1, 31, 31, 1, 15),
}
QUICK_LAYERS = ["lenet-conv2", "alexnet-conv3", "large-kernel-11"]
DEFAULT_LAYERS = ["lenet-conv2", "alexnet-conv1", "alexnet-conv2", "alexnet-conv3", "vgg-conv3_2",
                  "large-kernel-11", "large-kernel-15", "odd-prime-s2"]


def sweep_cases(kind, quick=False):
    """Cases of one sweep: 'kernel' (R = S = 1..15), 'image' (H = W), 'channels' (C = K) or 'odd' (untuned
    shapes: primes, strides)."""
    cases = []
    if kind == "kernel":
        sizes = [1, 3, 5, 7, 9, 11, 13, 15] if not quick else [1, 5, 11]
        for k in sizes:
            cases.append((f"kernel-{k}", (4, 16, 64, 64, 16, k, k, 1, k // 2)))
    elif kind == "image":
        sizes = [16, 32, 64, 128, 256] if not quick else [32, 128]
        for n in sizes:
            cases.append((f"image-{n}", (2, 16, n, n, 16, 7, 7, 1, 3)))
    elif kind == "channels":
        sizes = [4, 16, 64, 128] if not quick else [8, 64]
        for c in sizes:
            cases.append((f"channels-{c}", (4, c, 32, 32, c, 5, 5, 1, 2)))
    elif kind == "odd":  # shapes no one tuned for: prime sizes and channel counts, strides, dilation
        shapes = [(3, 7, 61, 59, 13, 5, 5, 2, 2), (2, 5, 97, 89, 11, 3, 3, 1, 1), (1, 13, 53, 53, 29, 7, 7, 1, 3),
                  (5, 17, 31, 37, 19, 3, 3, 2, 1), (2, 3, 101, 103, 7, 9, 9, 1, 4), (4, 29, 23, 23, 31, 5, 5, 1, 2),
                  (1, 11, 127, 113, 5, 13, 13, 1, 6), (2, 41, 19, 17, 43, 3, 3, 1, 0)]
        if quick:
            shapes = shapes[:3]
        for g in shapes:
            cases.append((f"odd-{g[1]}c{g[2]}x{g[3]}k{g[5]}s{g[7]}", g))
    else:
        raise ValueError(f"bench: --sweep must be 'kernel', 'image', 'channels' or 'odd', got {kind!r}")
    return cases


# ---------------------------------------------------------------------------------------------------------
# Timing


def median_time(fn, min_time=0.2, min_repeats=3, max_repeats=50):
    """Median wall time of fn() over repeats, after one warm-up call; repeats until min_time has passed."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < max_repeats and (len(times) < min_repeats or time.perf_counter() - start < min_time):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def interleaved_times(fns, min_time=0.2, rounds=3, settle=0.01):
    """Median wall time of each of fns (name -> callable), timed in `rounds` rounds that visit each fn in
    turn, so that a drift of the machine's speed (other processes, clock boost) weighs on all of them alike
    and their ratios hold. In each visit the fn first runs untimed for `settle` seconds (at least once): an
    OpenMP runtime keeps its threads spinning for some milliseconds after a parallel region, and PyTorch
    brings its own runtime, so the first calls after a switch compete with the other one's spinning
    threads. Then it is timed for min_time / rounds (at least one call)."""
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            while time.perf_counter() - start < settle:
                fn()
            start = time.perf_counter()
            while True:
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
                if time.perf_counter() - start >= min_time / rounds:
                    break
    return {name: float(np.median(t)) for name, t in times.items()}


def conv_flops(geom):
    N, C, H, W, K, R, S, stride, pad = geom
    P = (H + 2 * pad - R) // stride + 1
    Q = (W + 2 * pad - S) // stride + 1
    return 2.0 * N * K * P * Q * C * R * S


def _torch():
    try:
        import torch
        import torch.nn.functional as tF
    except ImportError:
        return None, None
    return torch, tF


def machine_facts(threads):
    facts = {"cpu": _cpu_model(), "threads": threads, "python": platform.python_version(),
             "numpy": np.__version__, "platform": platform.platform()}
    if hasattr(_cpu, "cpu_info"):
        facts.update(_cpu.cpu_info())
    torch, _ = _torch()
    if torch is not None:
        facts["torch"] = torch.__version__
    try:
        import scipy
        facts["scipy"] = scipy.__version__
    except ImportError:
        pass
    from . import __version__
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


# ---------------------------------------------------------------------------------------------------------
# Running


def available_algos():
    """The conv2d algorithms this build runs (fft only once implemented)."""
    algos = ["direct", "im2col"]
    try:
        F.conv2d(np.ones((1, 1, 2, 2), np.float32), np.ones((1, 1, 1, 1), np.float32), algo="fft")
        algos.append("fft")
    except NotImplementedError:
        pass
    return algos


def run_conv_case(name, geom, algos, dtype, min_time, with_torch=True):
    N, C, H, W, K, R, S, stride, pad = geom
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = (rng.standard_normal((K, C, R, S)) / math.sqrt(C * R * S)).astype(dtype)
    ref = F.conv2d(x.astype(np.float64), w.astype(np.float64), stride=stride, padding=pad, algo="direct")
    scale = max(float(np.abs(ref).max()), 1e-30)
    flops = conv_flops(geom)
    rec = {"case": name, "N": N, "C": C, "H": H, "W": W, "K": K, "R": R, "S": S, "stride": stride,
           "padding": pad, "dtype": np.dtype(dtype).name, "flops": flops, "algos": {}}
    fns = {}
    for algo in algos:
        y = F.conv2d(x, w, stride=stride, padding=pad, algo=algo)
        err = float(np.abs(y.astype(np.float64) - ref).max() / scale)
        fns[algo] = lambda algo=algo: F.conv2d(x, w, stride=stride, padding=pad, algo=algo)
        rec["algos"][algo] = {"max_rel_err": err, "workspace_bytes": _workspace(x, w, stride, pad, algo)}
    # The anchors, timed in the same rounds as our algorithms.
    torch, tF = _torch()
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
    rec["auto_pick"] = _auto_pick(x, w, stride, pad)
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


def gemm_peak(dtype, n=1024):
    """GFLOP/s of the library's own GEMM on an n x n x n product: the roof for im2col convolution."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    return 2.0 * n ** 3 / median_time(lambda: _cpu.gemm(a, b), min_time=0.3) / 1e9


def blas_info():
    """NumPy's BLAS as threadpoolctl sees it (library, kernel, threads), or None without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [{k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for d in threadpool_info() if d.get("user_api") == "blas"]


def _workspace(x, w, stride, pad, algo):
    if hasattr(_cpu, "conv2d_plan"):
        from . import conv2d_plan
        return conv2d_plan(x.shape, w.shape, stride=stride, padding=pad, dtype=x.dtype, algo=algo)[
            "workspace_bytes"]
    return None


def _auto_pick(x, w, stride, pad):
    if hasattr(_cpu, "conv2d_plan"):
        from . import conv2d_plan
        return conv2d_plan(x.shape, w.shape, stride=stride, padding=pad, dtype=x.dtype, algo="auto")["algo"]
    return None


# ---------------------------------------------------------------------------------------------------------
# Pooling and LCN (--ops): memory-bound, so reported in GB/s against the measured memory bandwidth.

# name: (op, input shape, arguments)
OP_CASES = [
    ("max_pool2d 3x3 s2", "pool", (8, 96, 55, 55), dict(kind="max", k=3, s=2)),
    ("avg_pool2d 3x3 s2", "pool", (8, 96, 55, 55), dict(kind="avg", k=3, s=2)),
    ("lp_pool2d p2 3x3 s2", "pool", (8, 96, 55, 55), dict(kind="lp", k=3, s=2)),
    ("max_pool2d 2x2 s2", "pool", (16, 64, 112, 112), dict(kind="max", k=2, s=2)),
    ("avg_pool2d 2x2 s2", "pool", (16, 64, 112, 112), dict(kind="avg", k=2, s=2)),
    ("lp_pool2d p2 2x2 s2", "pool", (16, 64, 112, 112), dict(kind="lp", k=2, s=2)),
    ("feature_lp_pool w2", "feature", (8, 64, 56, 56), dict(width=2)),
    ("local_contrast_norm 9x9", "lcn", (8, 32, 64, 64), dict(k=9, sigma=2.0)),
]


def memory_bandwidth(nbytes=1 << 28):
    """Copy bandwidth in GB/s (bytes read + bytes written), NumPy copying a large array."""
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    t = median_time(lambda: np.copyto(dst, src), min_time=0.3)
    return 2 * src.nbytes / t / 1e9


def torch_lcn(torch, tF, x, k, sigma, eps=1e-4):
    """The LCN formula composed of PyTorch ops (conv2d with the Gaussian window over all channels)."""
    C = x.shape[1]
    u = torch.arange(k, dtype=x.dtype) - (k - 1) / 2
    g1 = torch.exp(-u * u / (2 * sigma * sigma))
    g = torch.outer(g1, g1)
    g = g / g.sum()
    w = (g / C).expand(1, C, k, k).contiguous()
    ones = torch.ones(1, 1, *x.shape[2:], dtype=x.dtype)
    coef = tF.conv2d(ones, g.view(1, 1, k, k), padding=k // 2)
    mean = tF.conv2d(x, w, padding=k // 2) / coef
    v = x - mean
    sigma_map = torch.sqrt(tF.conv2d(v * v, w, padding=k // 2) / coef)
    floor = sigma_map.mean(dim=(1, 2, 3), keepdim=True).clamp(min=eps)
    return v / torch.maximum(sigma_map, floor)


def run_op_case(name, kind, shape, args, dtype, min_time, with_torch=True):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    torch, tF = _torch() if with_torch else (None, None)
    xt = torch.from_numpy(x) if torch is not None else None
    if kind == "pool":
        k, s = args["k"], args["s"]
        ours = {"max": lambda: F.max_pool2d(x, k, s), "avg": lambda: F.avg_pool2d(x, k, s),
                "lp": lambda: F.lp_pool2d(x, 2, k, s)}[args["kind"]]
        theirs = None if torch is None else {
            "max": lambda: tF.max_pool2d(xt, k, s), "avg": lambda: tF.avg_pool2d(xt, k, s),
            "lp": lambda: tF.lp_pool2d(xt, 2, k, s)}[args["kind"]]
    elif kind == "feature":
        wd = args["width"]
        ours = lambda: F.feature_lp_pool(x, 2, wd)  # noqa: E731
        theirs = None if torch is None else (
            lambda: tF.lp_pool1d(xt.permute(0, 2, 3, 1).reshape(-1, 1, shape[1]), 2, wd))
    else:
        k, sg = args["k"], args["sigma"]
        ours = lambda: F.local_contrast_norm(x, k, sg)  # noqa: E731
        theirs = None if torch is None else (lambda: torch_lcn(torch, tF, xt, k, sg))
    y = ours()
    fns = {"ours": ours} if theirs is None else {"ours": ours, "torch": theirs}
    with torch.no_grad() if theirs is not None else contextlib.nullcontext():
        times = interleaved_times(fns, min_time)
    t = times["ours"]
    rec = {"case": name, "shape": list(shape), "dtype": np.dtype(dtype).name, "time_s": t,
           "bytes": x.nbytes + y.nbytes}
    rec["gbps"] = rec["bytes"] / t / 1e9
    if "torch" in times:
        rec["torch_time_s"] = times["torch"]
    return rec


def print_op_table(records, bandwidth, out=None):
    out = out or sys.stdout
    header = f"{'op':<26} {'ms':>9} {'GB/s':>7} {'of bw':>6} {'torch ms':>9} {'torch/us':>8}"
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in records:
        tt = r.get("torch_time_s")
        ratio = f"{tt / r['time_s']:8.2f}" if tt else f"{'-':>8}"
        print(f"{r['case']:<26} {r['time_s'] * 1e3:9.3f} {r['gbps']:7.2f} {r['gbps'] / bandwidth:6.0%}"
              f" {_fmt_time(tt)} {ratio}", file=out)


# ---------------------------------------------------------------------------------------------------------
# Output


def _fmt_time(t):
    return f"{t * 1e3:9.3f}" if t is not None else f"{'-':>9}"


def print_conv_table(records, algos, peak=None, out=None):
    out = out or sys.stdout
    cols = [f"{a + ' ms':>10} {'GF/s':>6} {'xdir':>5}" for a in algos]
    header = f"{'case':<17} " + " ".join(cols) + f" {'best':>6} {'%peak':>5} {'auto':>6} {'torch ms':>9}" \
             f" {'tch/best':>8} {'tch/spat':>8} {'max err':>8}"
    print(header, file=out)
    print("-" * len(header), file=out)
    for rec in records:
        parts = []
        for a in algos:
            r = rec["algos"].get(a)
            if r is None:
                parts.append(f"{'-':>10} {'-':>6} {'-':>5}")
            else:
                parts.append(f"{r['time_s'] * 1e3:10.3f} {r['gflops']:6.1f} {r.get('speedup_vs_direct', 1):5.2f}")
        best = min(rec["algos"], key=lambda a: rec["algos"][a]["time_s"])
        t_best = rec["algos"][best]["time_s"]
        torch_t = rec.get("torch_time_s")
        ratio = f"{torch_t / t_best:8.2f}" if torch_t else f"{'-':>8}"
        # torch / best spatial algorithm (direct or im2col): the CPU-speed issue's measure
        spatial = [rec["algos"][a]["time_s"] for a in ("direct", "im2col") if a in rec["algos"]]
        ratio += f" {torch_t / min(spatial):8.2f}" if torch_t and spatial else f" {'-':>8}"
        err = max(r["max_rel_err"] for r in rec["algos"].values())
        frac = f"{rec['algos'][best]['gflops'] / peak:5.0%}" if peak else f"{'-':>5}"
        print(f"{rec['case']:<17} " + " ".join(parts) + f" {best:>6} {frac} {str(rec.get('auto_pick') or '-'):>6}"
              f" {_fmt_time(torch_t)} {ratio} {err:8.1e}", file=out)
    for rec in records:
        if "numpy_matmul_time_s" in rec:
            t_np = rec["numpy_matmul_time_s"]
            t_best = min(r["time_s"] for r in rec["algos"].values())
            print(f"{rec['case']}: NumPy matmul of the same product {t_np * 1e3:.3f} ms; "
                  f"NumPy time / ours = {t_np / t_best:.2f}", file=out)
        if "scipy_fftconvolve_time_s" in rec:
            t_sp = rec["scipy_fftconvolve_time_s"]
            t_best = min(r["time_s"] for r in rec["algos"].values())
            print(f"{rec['case']}: scipy.signal.fftconvolve(mode='same') {t_sp * 1e3:.3f} ms; "
                  f"SciPy time / ours = {t_sp / t_best:.2f}", file=out)


def auto_regret(records):
    """(fraction of cases where auto's pick is within 10% of the fastest, worst pick time / fastest)."""
    ratios = []
    for rec in records:
        pick = rec.get("auto_pick")
        if pick is None or pick not in rec["algos"]:
            continue
        best = min(r["time_s"] for r in rec["algos"].values())
        ratios.append(rec["algos"][pick]["time_s"] / best)
    if not ratios:
        return None, None
    return sum(r <= 1.10 for r in ratios) / len(ratios), max(ratios)


def plot_sweep(records, algos, path, key="R"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sweep = [r for r in records if r["case"].startswith("kernel-")]
    if not sweep:
        sweep = records
    xs = [r[key] for r in sweep]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for a in algos:
        ax.plot(xs, [r["algos"][a]["time_s"] * 1e3 for r in sweep], marker="o", label=a)
    if all("torch_time_s" in r for r in sweep):
        ax.plot(xs, [r["torch_time_s"] * 1e3 for r in sweep], marker="x", linestyle="--", label="PyTorch")
    ax.set_xlabel("kernel size R = S")
    ax.set_ylabel("time (ms, median)")
    ax.set_yscale("log")
    g = sweep[0]
    ax.set_title(f"conv2d N{g['N']} C{g['C']} {g['H']}x{g['W']} K{g['K']}, {g['dtype']}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


class Progress:
    """A one-line progress bar on stderr (only when stderr is a terminal)."""

    def __init__(self, total):
        self.total, self.done = total, 0
        self.enabled = sys.stderr.isatty()

    def step(self, label):
        self.done += 1
        if self.enabled:
            width = 30
            filled = int(width * self.done / self.total)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {label:<20}")
            sys.stderr.flush()
            if self.done == self.total:
                sys.stderr.write("\r" + " " * (width + 50) + "\r")


# ---------------------------------------------------------------------------------------------------------
# Command line


def parse_args(argv):
    p = argparse.ArgumentParser(prog="cnnkernels bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--layer", action="append", choices=sorted(LAYERS), help="named layer (repeatable)")
    p.add_argument("--sweep", action="append", choices=["kernel", "image", "channels", "odd"], help="sweep (repeatable)")
    p.add_argument("--algos", default=None, help="comma-separated algorithms (default: all available)")
    p.add_argument("--threads", type=int, default=None, help="threads (default: ck.get_num_threads())")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--quick", action="store_true", help="a few-second run")
    p.add_argument("--min-time", type=float, default=None, metavar="S",
                   help="seconds of timed calls per algorithm and case (default 0.2, --quick 0.05); more "
                        "gives steadier ratios on a noisy machine")
    p.add_argument("--json", metavar="FILE", help="write every record and the machine facts as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="plot time against kernel size")
    p.add_argument("--ops", action="store_true", help="also benchmark pooling and LCN (GB/s)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch column even when installed")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from . import get_num_threads, set_num_threads
    if args.device != "cpu":
        print("cnnkernels bench: --device cuda needs the CUDA module, which this build does not have",
              file=sys.stderr)
        return 2
    if args.threads is not None:
        if args.threads < 1:
            print("cnnkernels bench: --threads must be positive", file=sys.stderr)
            return 2
        set_num_threads(args.threads)
    threads = get_num_threads()
    torch, _ = _torch()
    if torch is not None:
        torch.set_num_threads(threads)
    algos = available_algos()
    if args.algos:
        wanted = [a.strip() for a in args.algos.split(",") if a.strip()]
        unknown = [a for a in wanted if a not in algos]
        if unknown:
            print(f"cnnkernels bench: unknown or unavailable algorithms {unknown}; available: {algos}",
                  file=sys.stderr)
            return 2
        algos = wanted
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("cnnkernels bench: --plot needs matplotlib: pip install 'cnnkernels[bench]'", file=sys.stderr)
            return 2
    min_time = args.min_time if args.min_time is not None else (0.05 if args.quick else 0.2)
    if not min_time > 0:  # also NaN
        print(f"cnnkernels bench: --min-time must be a positive number of seconds, got {min_time}", file=sys.stderr)
        return 2

    cases = []
    if args.layer:
        cases += [(n, LAYERS[n]) for n in args.layer]
    for kind in args.sweep or []:
        cases += sweep_cases(kind, args.quick)
    if not cases:
        cases = [(n, LAYERS[n]) for n in (QUICK_LAYERS if args.quick else DEFAULT_LAYERS)]
        cases += sweep_cases("kernel", args.quick)

    dtype = np.dtype(args.dtype)
    progress = Progress(len(cases))
    records = []
    for name, geom in cases:
        records.append(run_conv_case(name, geom, algos, dtype, min_time, with_torch=not args.no_torch))
        progress.step(name)

    facts = machine_facts(threads)
    peak = gemm_peak(dtype)
    facts["gemm_peak_gflops"] = peak
    facts["blas"] = blas_info()
    print(f"cnnkernels bench: {facts['cpu']}, {threads} threads, {dtype.name}"
          + (f", ISA {facts['isa']}" if "isa" in facts else "") + f"; our GEMM peak {peak:.1f} GFLOP/s")
    print_conv_table(records, algos, peak)
    within, worst = auto_regret(records)
    if within is not None:
        print(f"auto regret: pick within 10% of the fastest on {within:.0%} of cases; worst {worst:.2f}x")
    op_records = []
    if args.ops:
        bandwidth = memory_bandwidth()
        facts["memory_bandwidth_gbps"] = bandwidth
        for name, kind, shape, op_args in OP_CASES:
            op_records.append(run_op_case(name, kind, shape, op_args, dtype, min_time, not args.no_torch))
        print(f"\nmemory bandwidth (NumPy copy, read + write): {bandwidth:.1f} GB/s")
        print_op_table(op_records, bandwidth)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": facts, "records": records, "op_records": op_records}, f, indent=1)
        print(f"wrote {args.json}")
    if args.plot:
        plot_sweep(records, algos, args.plot)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
