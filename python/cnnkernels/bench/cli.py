"""The command line of `cnnkernels bench`: its options (parse_args) and main, which picks the backend
(--device) once and passes it down to the cases, the machine facts and the GEMM peak."""

import argparse
import json
import sys

import numpy as np

from .._backend import BACKEND_NAMES, get_backend
from .backward import (OP_BACKWARD_CASES, print_conv_backward_table, print_simple_table, run_conv_backward_case,
                       run_op_backward_case, run_train_case)
from .cases import DEFAULT_LAYERS, LAYERS, OP_CASES, QUICK_LAYERS, SWEEPS, sweep_cases
from .conv import available_algos, run_conv_case
from .machine import DEFAULT_DEVICE, blas_info, gemm_peak, machine_facts, memory_bandwidth, optional_torch
from .ops import run_op_case
from .plot import plot_sweep
from .report import Progress, auto_regret, print_conv_table, print_op_table


def parse_args(argv):
    description = sys.modules[__package__].__doc__.split("\n\n")[0]  # the bench package's first paragraph
    p = argparse.ArgumentParser(prog="cnnkernels bench", description=description)
    p.add_argument("--layer", action="append", choices=sorted(LAYERS), help="named layer (repeatable)")
    p.add_argument("--sweep", action="append", choices=list(SWEEPS), help="sweep (repeatable)")
    p.add_argument("--algos", default=None, help="comma-separated algorithms (default: all available)")
    p.add_argument("--threads", type=int, default=None, help="threads (default: ck.get_num_threads())")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--device", default=DEFAULT_DEVICE, metavar="NAME",
                   help=f"backend to run on: {', '.join(BACKEND_NAMES)} (default {DEFAULT_DEVICE}; "
                        "only those this build has)")
    p.add_argument("--quick", action="store_true", help="a few-second run")
    p.add_argument("--min-time", type=float, default=None, metavar="S",
                   help="seconds of timed calls per algorithm and case (default 0.2, --quick 0.05); more "
                        "gives steadier ratios on a noisy machine")
    p.add_argument("--json", metavar="FILE", help="write every record and the machine facts as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="plot time against kernel size")
    p.add_argument("--ops", action="store_true", help="also benchmark pooling and LCN (GB/s)")
    p.add_argument("--backward", action="store_true",
                   help="benchmark the backward passes instead: conv2d's gradients per algorithm on the cases, "
                        "then pooling and LCN backward, each against PyTorch autograd")
    p.add_argument("--train", action="store_true",
                   help="benchmark one LeNet-5 training step (batch 64) against the same model in PyTorch")
    p.add_argument("--python-threads", type=int, default=None, metavar="N",
                   help="benchmark scaling over Python threads instead: N freshly started threads each running "
                        "conv2d with set_num_threads(1), against one")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch column even when installed")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from .. import set_num_threads
    try:
        backend = get_backend(args.device)
    except ValueError as e:
        print(f"cnnkernels bench: --device {args.device}: {e}", file=sys.stderr)
        return 2
    if args.threads is not None:
        if args.threads < 1:
            print("cnnkernels bench: --threads must be positive", file=sys.stderr)
            return 2
        try:
            set_num_threads(args.threads)
        except ValueError as e:  # above the backend's limit
            print(f"cnnkernels bench: --threads {args.threads}: {e}", file=sys.stderr)
            return 2
    threads = backend.num_threads()
    torch, _ = optional_torch()
    if torch is not None:
        torch.set_num_threads(threads)
    algos = available_algos(backend)
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

    if backend.name in ("cuda", "cuda-emu"):  # the device's own run (bench/device.py)
        from .device import run_device_bench
        layer_cases = [(n, LAYERS[n]) for n in args.layer] if args.layer else None
        records = run_device_bench(backend, np.dtype(args.dtype), args.quick, min_time, layer_cases)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"device": backend.device_info(), "records": records}, f, indent=1, default=str)
        return 0

    cases = []
    if args.layer:
        cases += [(n, LAYERS[n]) for n in args.layer]
    for kind in args.sweep or []:
        cases += sweep_cases(kind, args.quick)
    if not cases:
        cases = [(n, LAYERS[n]) for n in (QUICK_LAYERS if args.quick else DEFAULT_LAYERS)]
        cases += sweep_cases("kernel", args.quick)

    dtype = np.dtype(args.dtype)
    if args.python_threads is not None:
        if args.python_threads < 2:
            print("cnnkernels bench: --python-threads must be at least 2", file=sys.stderr)
            return 2
        from .pythreads import print_python_threads_table, run_python_threads_case
        records = [run_python_threads_case(name, geom, dtype, min_time, args.python_threads, backend)
                   for name, geom in cases]
        print(f"cnnkernels bench: {machine_facts(threads, backend)['cpu']}, {dtype.name}")
        print_python_threads_table(records)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"machine": machine_facts(1, backend), "records": records}, f, indent=1)
        return 0
    if args.backward or args.train:
        return _main_backward(args, cases, algos, dtype, min_time, backend, threads)
    progress = Progress(len(cases))
    records = []
    for name, geom in cases:
        records.append(run_conv_case(name, geom, algos, dtype, min_time, with_torch=not args.no_torch,
                                     backend=backend))
        progress.step(name)

    facts = machine_facts(threads, backend)
    peak = gemm_peak(dtype, backend=backend)
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
            op_records.append(run_op_case(name, kind, shape, op_args, dtype, min_time, not args.no_torch,
                                          backend=backend))
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


def _main_backward(args, cases, algos, dtype, min_time, backend, threads):
    """--backward and --train: the backward tables, against PyTorch autograd."""
    facts = machine_facts(threads, backend)
    print(f"cnnkernels bench: {facts['cpu']}, {threads} threads, {dtype.name}"
          + (f", ISA {facts['isa']}" if "isa" in facts else "") + "; backward passes")
    with_torch = not args.no_torch
    out = {"machine": facts}
    if args.backward:
        progress = Progress(len(cases) + len(OP_BACKWARD_CASES))
        records, op_records = [], []
        for name, geom in cases:
            records.append(run_conv_backward_case(name, geom, algos, dtype, min_time, with_torch, backend))
            progress.step(name)
        for name, op, shape, a in OP_BACKWARD_CASES:
            op_records.append(run_op_backward_case(name, op, shape, a, dtype, min_time, with_torch, backend))
            progress.step(name)
        print("conv2d_backward (data + weight gradients; torch: autograd of both)")
        print_conv_backward_table(records, algos)
        print()
        print_simple_table(op_records, "pooling / LCN backward")
        out["backward_records"] = records
        out["op_backward_records"] = op_records
    if args.train:
        rec = run_train_case(dtype, max(min_time, 0.5), with_torch=with_torch, backend=backend)
        print()
        print_simple_table([rec], "training")
        out["train_records"] = [rec]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {args.json}")
    return 0
