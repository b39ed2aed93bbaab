"""`cnnkernels bench`: which convolution algorithm, for which layer, on this machine, and by how much.

Runs named layers (LeNet, AlexNet, VGG) and sweeps (kernel size, image size, channels) through every
algorithm, and optionally pooling and LCN, and reports per case: each algorithm's median time, GFLOP/s
(direct-equivalent FLOPs), speed-up over direct, workspace bytes and max relative error against float64,
with PyTorch's F.conv2d (and SciPy's fftconvolve for single-channel cases) as extra columns when installed.
Output: a table on the terminal, --json FILE with every record and the machine facts, --plot FILE.png with
the crossover of the kernel-size sweep.

The package, by concern: cases (named layers, sweeps, pooling and LCN cases), timing (median and
interleaved timing), machine (machine facts, GEMM peak, BLAS, memory bandwidth, optional PyTorch), conv
(running a convolution case), ops (running a pooling or LCN case), report (tables, auto regret, progress),
plot (the kernel-size sweep's plot) and cli (the options and main).
"""

from .cases import DEFAULT_LAYERS, LAYERS, OP_CASES, QUICK_LAYERS, sweep_cases
from .cli import main, parse_args
from .conv import available_algos, conv_flops, run_conv_case
from .machine import blas_info, gemm_peak, machine_facts, memory_bandwidth
from .ops import run_op_case, torch_lcn
from .plot import plot_sweep
from .report import Progress, auto_regret, print_conv_table, print_op_table
from .timing import interleaved_times, median_time

__all__ = ["main", "parse_args", "LAYERS", "QUICK_LAYERS", "DEFAULT_LAYERS", "OP_CASES", "sweep_cases",
           "median_time", "interleaved_times", "available_algos", "conv_flops", "run_conv_case", "run_op_case",
           "torch_lcn", "machine_facts", "gemm_peak", "blas_info", "memory_bandwidth", "print_conv_table",
           "print_op_table", "auto_regret", "plot_sweep", "Progress"]
