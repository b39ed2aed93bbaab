"""The backward benchmarks (--backward, --train): conv2d's gradients per algorithm, pooling and LCN backward,
and one LeNet-5 training step, each timed in interleaved rounds with the same work in PyTorch autograd.

A conv case times the data gradient and the weight gradient of each algorithm alone, "auto" (both
gradients, each by the algorithm the cost model picks), and PyTorch's autograd computing both (the graph
of one forward kept and walked again: autograd's convolution_backward, no forward in the timing).
"""

import contextlib
import math

import numpy as np

from .. import functional as F
from .._backend import get_backend
from .conv import runs
from .machine import DEFAULT_DEVICE, optional_torch
from .ops import torch_lcn
from .timing import interleaved_times


def run_conv_backward_case(name, geom, algos, dtype, min_time, with_torch=True, backend=DEFAULT_DEVICE):
    """The record of one conv case's backward: per algorithm the data and weight gradient times, auto's
    time and picks, PyTorch's time for both gradients, and the error of auto's gradients against float64.
    A gradient an algorithm cannot compute for the case (winograd's weight gradient, or any of its gradients
    off 3x3 stride 1) has time None; an algorithm with neither is left out."""
    b = get_backend(backend)
    can = {(a, d): runs(b, geom, a, dtype, f"backward_{d}") for a in algos for d in ("input", "weight")}
    algos = [a for a in algos if can[(a, "input")] or can[(a, "weight")]]
    N, C, H, W, K, R, S, stride, pad = geom
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = (rng.standard_normal((K, C, R, S)) / math.sqrt(C * R * S)).astype(dtype)
    y_shape = F.conv2d_plan(x.shape, w.shape, stride=stride, padding=pad, dtype=dtype)["output_shape"]
    g = rng.standard_normal(y_shape).astype(dtype)
    args = dict(stride=stride, padding=pad, backend=b.name)
    rec = {"case": name, "N": N, "C": C, "H": H, "W": W, "K": K, "R": R, "S": S, "stride": stride,
           "padding": pad, "dtype": np.dtype(dtype).name, "flops_per_gradient": 2.0 * N * K * C * R * S *
           y_shape[2] * y_shape[3], "algos": {}}
    fns = {}
    for algo in algos:
        if can[(algo, "input")]:
            fns[f"input:{algo}"] = lambda algo=algo: F.conv2d_backward(g, x, w, algo=algo, needs="input", **args)
        if can[(algo, "weight")]:
            fns[f"weight:{algo}"] = lambda algo=algo: F.conv2d_backward(g, x, w, algo=algo, needs="weight",
                                                                        **args)
    fns["auto"] = lambda: F.conv2d_backward(g, x, w, needs=("input", "weight"), **args)
    torch, _ = optional_torch()
    if with_torch and torch is not None:
        xt = torch.from_numpy(x).requires_grad_()
        wt = torch.from_numpy(w).requires_grad_()
        yt = torch.nn.functional.conv2d(xt, wt, stride=stride, padding=pad)
        gt = torch.from_numpy(g)
        fns["torch"] = lambda: torch.autograd.grad(yt, (xt, wt), gt, retain_graph=True)
    times = interleaved_times(fns, min_time)
    for algo in algos:
        rec["algos"][algo] = {"input_time_s": times.get(f"input:{algo}"), "weight_time_s": times.get(f"weight:{algo}")}
    rec["auto_time_s"] = times["auto"]
    rec["auto_pick"] = {d: F.conv2d_plan(x.shape, w.shape, stride=stride, padding=pad, dtype=dtype,
                                         direction=f"backward_{d}", backend=b.name)["algo"]
                        for d in ("input", "weight")}
    rec["best_time_s"] = sum(min(a[f"{d}_time_s"] for a in rec["algos"].values() if a[f"{d}_time_s"] is not None)
                             for d in ("input", "weight"))
    if "torch" in times:
        rec["torch_time_s"] = times["torch"]
    gx, gw, _ = F.conv2d_backward(g, x, w, needs=("input", "weight"), **args)
    rx, rw, _ = F.conv2d_backward(g.astype(np.float64), x.astype(np.float64), w.astype(np.float64),
                                  algo="direct", needs=("input", "weight"), stride=stride, padding=pad)
    rec["max_rel_err"] = max(float(np.abs(gx - rx).max() / max(np.abs(rx).max(), 1e-30)),
                             float(np.abs(gw - rw).max() / max(np.abs(rw).max(), 1e-30)))
    return rec


# Pooling and LCN backward: (name, op, input shape, arguments)
OP_BACKWARD_CASES = [
    ("max_pool2d 2x2 s2", "max", (16, 64, 112, 112), dict(k=2, s=2)),
    ("max_pool2d 3x3 s2", "max", (8, 96, 55, 55), dict(k=3, s=2)),
    ("avg_pool2d 3x3 s2", "avg", (8, 96, 55, 55), dict(k=3, s=2)),
    ("lp_pool2d p2 3x3 s2", "lp", (8, 96, 55, 55), dict(k=3, s=2)),
    ("feature_lp_pool w2", "feature", (8, 64, 56, 56), dict(width=2)),
    ("local_contrast_norm 9x9", "lcn", (8, 32, 64, 64), dict(k=9, sigma=2.0)),
]


def run_op_backward_case(name, op, shape, a, dtype, min_time, with_torch=True, backend=DEFAULT_DEVICE):
    """The record of one pooling/LCN backward case: our time and PyTorch autograd's (the composite for
    LCN and feature pooling), for the gradient of x given grad_out."""
    bn = get_backend(backend).name
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    if op == "max":
        y, idx = F.max_pool2d(x, a["k"], a["s"], return_indices=True, backend=bn)
        ours = lambda: F.max_pool2d_backward(g, x, a["k"], a["s"], indices=idx, backend=bn)  # noqa: E731
    elif op == "avg":
        y = F.avg_pool2d(x, a["k"], a["s"], backend=bn)
        ours = lambda: F.avg_pool2d_backward(g, x, a["k"], a["s"], backend=bn)  # noqa: E731
    elif op == "lp":
        y = F.lp_pool2d(x, 2, a["k"], a["s"], backend=bn)
        ours = lambda: F.lp_pool2d_backward(g, x, 2, a["k"], a["s"], backend=bn)  # noqa: E731
    elif op == "feature":
        y = F.feature_lp_pool(x, 2, a["width"], backend=bn)
        ours = lambda: F.feature_lp_pool_backward(g, x, 2, a["width"], backend=bn)  # noqa: E731
    else:
        y = F.local_contrast_norm(x, a["k"], a["sigma"], backend=bn)
        ours = lambda: F.local_contrast_norm_backward(g, x, a["k"], a["sigma"], backend=bn)  # noqa: E731
    g = rng.standard_normal(y.shape).astype(dtype)
    fns = {"ours": ours}
    torch, tF = optional_torch() if with_torch else (None, None)
    if torch is not None:
        xt = torch.from_numpy(x).requires_grad_()
        if op == "max":
            yt = tF.max_pool2d(xt, a["k"], a["s"])
        elif op == "avg":
            yt = tF.avg_pool2d(xt, a["k"], a["s"])
        elif op == "lp":
            yt = tF.lp_pool2d(xt, 2, a["k"], a["s"])
        elif op == "feature":
            wd = a["width"]
            yt = torch.stack([xt[:, c:c + wd].pow(2).sum(1).sqrt() for c in range(0, shape[1] - wd + 1, wd)], 1)
        else:
            yt = torch_lcn(torch, tF, xt, a["k"], a["sigma"])
        gt = torch.from_numpy(g)
        fns["torch"] = lambda: torch.autograd.grad(yt, xt, gt, retain_graph=True)
    times = interleaved_times(fns, min_time)
    rec = {"case": name, "shape": list(shape), "dtype": np.dtype(dtype).name, "time_s": times["ours"],
           "bytes": x.nbytes * 2 + g.nbytes}
    rec["gbps"] = rec["bytes"] / times["ours"] / 1e9
    if "torch" in times:
        rec["torch_time_s"] = times["torch"]
    return rec


def run_train_case(dtype, min_time, batch=64, with_torch=True, backend=DEFAULT_DEVICE):
    """One LeNet-5 training step (batch 64, 1 x 32 x 32 inputs: forward, cross-entropy, backward, SGD with
    momentum) with cnnkernels.nn, and the same model in PyTorch with the same weights."""
    from .. import nn as cnn
    if get_backend(backend).name != "cpu":
        raise ValueError("bench --train runs on the cpu backend only for now")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 1, 32, 32)).astype(dtype)
    labels = rng.integers(0, 10, batch)
    model = cnn.Sequential(cnn.Conv2d(1, 6, 5, dtype=dtype), cnn.Tanh(), cnn.MaxPool2d(2),
                           cnn.Conv2d(6, 16, 5, dtype=dtype), cnn.Tanh(), cnn.MaxPool2d(2), cnn.Flatten(),
                           cnn.Linear(400, 120, dtype=dtype), cnn.Tanh(), cnn.Linear(120, 84, dtype=dtype),
                           cnn.Tanh(), cnn.Linear(84, 10, dtype=dtype))
    loss_fn = cnn.CrossEntropyLoss()
    opt = cnn.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def ours():
        loss_fn(model(x), labels)
        model.backward(loss_fn.backward(), input_grad=False)
        opt.step()
        opt.zero_grad()

    fns = {"ours": ours}
    torch, _ = optional_torch() if with_torch else (None, None)
    if torch is not None:
        tnn = torch.nn
        tmodel = tnn.Sequential(tnn.Conv2d(1, 6, 5), tnn.Tanh(), tnn.MaxPool2d(2), tnn.Conv2d(6, 16, 5),
                                tnn.Tanh(), tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(400, 120), tnn.Tanh(),
                                tnn.Linear(120, 84), tnn.Tanh(), tnn.Linear(84, 10)).to(getattr(torch, dtype.name))
        with torch.no_grad():
            for (_, p), tp in zip(model.named_parameters(), tmodel.parameters()):
                tp.copy_(torch.from_numpy(p.data))
        topt = torch.optim.SGD(tmodel.parameters(), lr=0.01, momentum=0.9)
        tloss = tnn.CrossEntropyLoss()
        xt, lt = torch.from_numpy(x), torch.from_numpy(labels)

        def theirs():
            tloss(tmodel(xt), lt).backward()
            topt.step()
            topt.zero_grad()

        fns["torch"] = theirs
    with contextlib.nullcontext():
        times = interleaved_times(fns, min_time)
    rec = {"case": f"lenet5 train step, batch {batch}", "dtype": np.dtype(dtype).name, "time_s": times["ours"]}
    if "torch" in times:
        rec["torch_time_s"] = times["torch"]
    return rec


def print_conv_backward_table(records, algos):
    """One line per case: PyTorch's time for both gradients, ours per algorithm (data + weight), auto's
    time and picks, and the ratios PyTorch / auto and PyTorch / best (fastest data + fastest weight)."""
    head = f"{'case':18s} {'torch ms':>9s}"
    for a in algos:
        head += f" {a + ' in+w ms':>17s}"
    head += f" {'auto ms':>8s} {'picks (in, w)':>17s} {'tch/auto':>8s} {'tch/best':>8s} {'rel err':>8s}"
    print(head)
    for r in records:
        line = f"{r['case']:18s} {r.get('torch_time_s', float('nan')) * 1e3:9.2f}"
        for a in algos:
            t = r["algos"].get(a, {})
            ms = [f"{t[k] * 1e3:.2f}" if t.get(k) is not None else "-" for k in ("input_time_s", "weight_time_s")]
            line += f" {ms[0]:>7s}+{ms[1]:<9s}"
        picks = f"{r['auto_pick']['input']},{r['auto_pick']['weight']}"
        line += f" {r['auto_time_s'] * 1e3:8.2f} {picks:>17s}"
        if "torch_time_s" in r:
            line += f" {r['torch_time_s'] / r['auto_time_s']:8.2f} {r['torch_time_s'] / r['best_time_s']:8.2f}"
        else:
            line += f" {'':8s} {'':8s}"
        line += f" {r['max_rel_err']:8.1e}"
        print(line)


def print_simple_table(records, title):
    """Cases with our time, PyTorch's, and PyTorch / ours."""
    print(f"{title:28s} {'ours ms':>9s} {'torch ms':>9s} {'tch/ours':>9s}")
    for r in records:
        t = r.get("torch_time_s")
        print(f"{r['case']:28s} {r['time_s'] * 1e3:9.2f} "
              + (f"{t * 1e3:9.2f} {t / r['time_s']:9.2f}" if t is not None else f"{'-':>9s} {'-':>9s}"))
