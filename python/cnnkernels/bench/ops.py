"""Running one pooling or LCN case (--ops): ours against PyTorch's (LCN composed of PyTorch ops), timed in
interleaved rounds; memory-bound, so the record carries the bytes moved and GB/s."""

import contextlib

import numpy as np

from .. import functional as F
from .._backend import get_backend
from .machine import DEFAULT_DEVICE, optional_torch
from .timing import interleaved_times


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


def run_op_case(name, kind, shape, args, dtype, min_time, with_torch=True, backend=DEFAULT_DEVICE):
    """The record of one op case (kind "pool", "feature" or "lcn"): time, bytes read + written, GB/s, and
    PyTorch's time. backend: a Backend or its name."""
    bn = get_backend(backend).name
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    torch, tF = optional_torch() if with_torch else (None, None)
    xt = torch.from_numpy(x) if torch is not None else None
    if kind == "pool":
        k, s = args["k"], args["s"]
        ours = {"max": lambda: F.max_pool2d(x, k, s, backend=bn),
                "avg": lambda: F.avg_pool2d(x, k, s, backend=bn),
                "lp": lambda: F.lp_pool2d(x, 2, k, s, backend=bn)}[args["kind"]]
        theirs = None if torch is None else {
            "max": lambda: tF.max_pool2d(xt, k, s), "avg": lambda: tF.avg_pool2d(xt, k, s),
            "lp": lambda: tF.lp_pool2d(xt, 2, k, s)}[args["kind"]]
    elif kind == "feature":
        wd = args["width"]
        ours = lambda: F.feature_lp_pool(x, 2, wd, backend=bn)  # noqa: E731
        theirs = None if torch is None else (
            lambda: tF.lp_pool1d(xt.permute(0, 2, 3, 1).reshape(-1, 1, shape[1]), 2, wd))
    else:
        k, sg = args["k"], args["sigma"]
        ours = lambda: F.local_contrast_norm(x, k, sg, backend=bn)  # noqa: E731
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
