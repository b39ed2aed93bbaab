"""The operations of cnnkernels on NCHW arrays, with torch.nn.functional's names and conventions.

Each function finds the backend that runs it (the one owning the arrays, or the one named by `backend`),
has it check the arrays, normalises and checks the other arguments (see _args.py), then calls the
backend's kernel of the same name. The result has the input's dtype and array kind (a PyTorch tensor or
other DLPack array in, viewed without a copy, comes back as its kind: _interop.py); inputs are never
modified.
"""

import math

import numpy as np

from . import _args, _autotune
from ._interop import same_kind
from ._backend import backend_for, get_backend


@same_kind
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, algo="auto", backend=None):
    """2-D cross-correlation, as torch.nn.functional.conv2d.

    x: (N, C, H, W); weight: (K, C/groups, R, S); bias: (K,) or None. Returns (N, K, P, Q) with
    P = floor((H + pad_top + pad_bottom - dilation*(R-1) - 1) / stride) + 1 (Q likewise).
    padding: int, (ph, pw), ((top, bottom), (left, right)), "same" or "valid".
    algo: "auto" (a cost model picks, or autotuning: see cnnkernels.autotune) or one of the backend's
    algorithms: "direct", "im2col" (+ GEMM), "fft", "winograd" (3x3 kernels, stride 1, dilation 1 only: a
    ValueError otherwise; its float32 error is larger than the others', see the README). backend: None (the
    one owning x) or "cpu".
    """
    op = "conv2d"
    b = backend_for(x, op, backend)
    x = b.check_array(x, op, "x", 4)
    weight = b.check_array(weight, op, "weight", 4, like=x)
    if bias is not None:
        bias = b.check_array(bias, op, "bias", 1, like=x)
    stride, padding, dilation, groups = _conv_args(op, weight.shape, stride, padding, dilation, groups)
    algo = _conv_algo(op, b, algo)
    return _autotune.conv2d(b, x, weight, bias, stride, padding, dilation, groups, algo)


def _conv_args(op, weight_shape, stride, padding, dilation, groups):
    stride = _args.positive_pair(stride, op, "stride")
    dilation = _args.positive_pair(dilation, op, "dilation")
    padding = _args.conv_padding(padding, weight_shape[2:], dilation, stride, op)
    groups = _args.to_int(groups, op, "groups")
    if groups < 1:
        raise ValueError(f"{op}: groups must be positive, got {groups}")
    return stride, padding, dilation, groups


def _conv_algo(op, backend, algo):
    choices = ("auto",) + backend.algorithms
    if isinstance(algo, str) and algo not in choices and algo in get_backend("cpu").algorithms:
        raise NotImplementedError(f"{op}: algo={algo!r} is not implemented on backend {backend.name!r} yet "
                                  f"(it has {choices})")
    if not isinstance(algo, str) or algo not in choices:
        raise ValueError(f"{op}: algo must be one of {choices} on backend {backend.name!r}, got {algo!r}")
    return algo


@same_kind
def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1, algo="auto",
                    needs=("input", "weight", "bias"), backend=None):
    """The gradients of conv2d(x, weight, bias, stride, padding, dilation, groups) given grad_out, the
    gradient of its output (N, K, P, Q).

    Returns (grad_input, grad_weight, grad_bias) of the shapes of x, weight and bias, with None for each
    that `needs` (a subset of "input", "weight", "bias") leaves out. algo: "auto" (chosen per gradient by
    the cost model, or by autotuning) or one algorithm for both gradients: "direct", "im2col", "fft"; or
    "winograd" for the data gradient, the weight gradient then as "auto" chooses (Winograd has none). The
    data gradient runs as one stride-1 convolution of grad_out with the flipped weight, its taps split by
    the input phase they reach when stride > 1 (so a stride costs no zero-stuffed work); the weight
    gradient as a correlation of x with grad_out (conv2d_plan(direction=...) says what runs).
    """
    op = "conv2d_backward"
    b = backend_for(x, op, backend)
    x = b.check_array(x, op, "x", 4)
    weight = b.check_array(weight, op, "weight", 4, like=x)
    needs = _needs(op, needs)
    stride, padding, dilation, groups = _conv_args(op, weight.shape, stride, padding, dilation, groups)
    algo = _conv_algo(op, b, algo)
    out_shape = tuple(b.plan_conv2d(x.shape, weight.shape, stride, padding, dilation, groups, x.dtype,
                                    "direct").info()["output_shape"])
    grad_out = _grad_out(op, b, grad_out, x, out_shape)
    gx = gw = gb = None
    if "input" in needs:
        gx = _autotune.conv2d_backward_input(b, grad_out, x.shape, weight, stride, padding, dilation, groups, algo)
    if "weight" in needs:
        gw = _autotune.conv2d_backward_weight(b, grad_out, x, weight.shape, stride, padding, dilation, groups,
                                              "auto" if algo == "winograd" else algo)
    if "bias" in needs:
        gb = b.run("conv2d_backward_bias", grad_out)
    return gx, gw, gb


_NEEDS = ("input", "weight", "bias")


def _needs(op, needs):
    if isinstance(needs, str):
        needs = (needs,)
    try:
        needs = tuple(needs)
    except TypeError:
        raise TypeError(f"{op}: needs must be a subset of {_NEEDS}, got {needs!r}") from None
    for n in needs:
        if not isinstance(n, str) or n not in _NEEDS:
            raise ValueError(f"{op}: needs must be a subset of {_NEEDS}, got {needs!r}")
    return needs


def _grad_out(op, backend, grad_out, x, expected_shape=None):
    """grad_out checked: x's array kind and dtype, and the forward output's shape (when given here; the
    pooling backward passes leave the shape to the C++ layer, which first checks the geometry as the
    forward does). A wrong shape, of any rank, is a ValueError naming the expected one."""
    if not backend.owns(grad_out):
        return backend.check_array(grad_out, op, "grad_out", 4, like=x)  # raises the TypeError
    shape = tuple(grad_out.shape)
    if expected_shape is not None and shape != tuple(expected_shape):
        raise ValueError(f"{op}: grad_out must have the forward output's shape {tuple(expected_shape)}, "
                         f"got {shape}")
    return backend.check_array(grad_out, op, "grad_out", len(shape), like=x)


def conv2d_plan(x_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1, dtype="float32",
                algo="auto", backend=None, direction="forward"):
    """What conv2d (or one gradient of conv2d_backward) would do for these shapes, without running it.

    direction: "forward", "backward_input" (the gradient with respect to x) or "backward_weight".
    Returns a dict: "algo" (the algorithm run, with "auto" resolved by the cost model), "direction",
    "output_shape" (of what is computed: y, grad_input or grad_weight) and "workspace_bytes" (extra memory
    the algorithm allocates with the current thread count; None on the CUDA backends, which do not estimate it:
    their workspace comes from the call's allocator, CuPy's memory pool). When the algorithm is "fft" it also holds the
    FFT plan, as fft_plan_info describes (for a gradient: of the FFT convolution it runs, see
    conv2d_backward). backend: None ("cpu") or a backend name ("cuda", "cuda-emu": direct and im2col).
    """
    op = "conv2d_plan"
    b = get_backend("cpu" if backend is None else backend)
    x_shape = _shape4(x_shape, op, "x_shape")
    weight_shape = _shape4(weight_shape, op, "weight_shape")
    dtype = np.dtype(dtype)
    if dtype not in b.dtypes:
        raise TypeError(f"{op}: dtype must be float32 or float64, got {dtype}")
    stride, padding, dilation, groups = _conv_args(op, weight_shape, stride, padding, dilation, groups)
    algo = _conv_algo(op, b, algo)
    if direction not in _DIRECTIONS:
        raise ValueError(f"{op}: direction must be one of {_DIRECTIONS}, got {direction!r}")
    return b.plan_conv2d(x_shape, weight_shape, stride, padding, dilation, groups, dtype, algo,
                         direction=direction).info()


_DIRECTIONS = ("forward", "backward_input", "backward_weight")


def fft_plan_info(x_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1, dtype="float32", backend=None):
    """How conv2d(..., algo="fft") would run for these shapes, without running it.

    Returns conv2d_plan(..., algo="fft"): besides "algo", "output_shape" and "workspace_bytes" (all the
    extra memory of a call with the current thread count):

    - "fft_size" (h, w): the real 2-D transform size; "tile" (h, w): output pixels per transform
      (overlap-save: fft_size - fft_kernel + 1); "tiles" (rows, cols): tiles per image; "tiles_total":
      tiles of the whole call (images x tiles x groups);
    - "polyphase": True when stride > 1 is computed as a sum over "phases" (h, w) of stride-1
      correlations of subsampled images; "fft_kernel" (h, w) and "fft_input" (h, w): kernel and input of
      that stride-1 problem (the dilated kernel, split into phases); "fft_channels": its input channels
      per group (C/groups x phases);
    - "order": "kernels_first" (all kernel spectra computed once and shared; work items are runs of
      "tile_batch" tiles) or "tiles_first" (the tile spectra shared; work items are blocks of "k_block"
      output channels); "passes": how many parts the shared spectra come in (more than 1 only when they
      would exceed the memory bound, max(2 x (x + y + weight) bytes, 4 MiB), 16 MiB for the weight
      gradient);
    - "transforms" (input tiles, kernels, inverse): transform counts; "complex_macs": pointwise complex
      multiply-adds; "spectra_bytes": spectra buffers as planned (per-thread parts for 4 threads);
      "cost_estimate": the cost model's estimate, about nanoseconds of one core.

    The plan depends on the shapes and dtype only, never on the thread count.
    """
    return conv2d_plan(x_shape, weight_shape, stride=stride, padding=padding, dilation=dilation, groups=groups,
                       dtype=dtype, algo="fft", backend=backend)


def _shape4(shape, op, name):
    if not isinstance(shape, (tuple, list)) or len(shape) != 4:
        raise ValueError(f"{op}: {name} must be a 4-tuple of ints, got {shape!r}")
    return tuple(_args.to_int(v, op, name) for v in shape)


def _pool_args(op, kernel_size, stride, padding, dilation):
    kernel = _args.positive_pair(kernel_size, op, "kernel_size")
    stride = kernel if stride is None else _args.positive_pair(stride, op, "stride")
    padding = _args.non_negative_pair(padding, op, "padding")
    dilation = _args.positive_pair(dilation, op, "dilation")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {padding} must be at most half of kernel_size {kernel}")
    return kernel, stride, padding, dilation


@same_kind
def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False,
               backend=None):
    """Max pooling, as torch.nn.functional.max_pool2d (padding is -inf; NaN propagates).

    With return_indices=True returns (out, indices): int64 indices of the maxima flattened over the
    input's H*W (first maximum in window order, or the last NaN), as PyTorch's.
    """
    op = "max_pool2d"
    b = backend_for(x, op, backend)
    x = b.check_array(x, op, "x", 4)
    kernel, stride, padding, dilation = _pool_args(op, kernel_size, stride, padding, dilation)
    return b.run(op, x, kernel, stride, padding, dilation, bool(ceil_mode), bool(return_indices))


@same_kind
def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, backend=None):
    """Average pooling, as torch.nn.functional.avg_pool2d.

    divisor_override: None, or a positive int that every window's sum is divided by instead of its size.
    """
    op = "avg_pool2d"
    b = backend_for(x, op, backend)
    x = b.check_array(x, op, "x", 4)
    kernel, stride, padding, _ = _pool_args(op, kernel_size, stride, padding, 1)
    divisor_override = _divisor_override(op, divisor_override)
    return b.run(op, x, kernel, stride, padding, bool(ceil_mode), bool(count_include_pad), divisor_override)


def _divisor_override(op, divisor_override):
    if divisor_override is None:
        return None
    divisor_override = _args.to_int(divisor_override, op, "divisor_override")
    if divisor_override < 1:
        raise ValueError(f"{op}: divisor_override must be a positive integer or None, got {divisor_override}")
    return divisor_override


@same_kind
def lp_pool2d(x, norm_type, kernel_size, stride=None, ceil_mode=False, backend=None):
    """Power-average pooling: (sum over the window of x**p) ** (1/p), a negative sum clamped to 0.

    norm_type=2 is L2 pooling. No padding, as torch.nn.functional.lp_pool2d. Unlike PyTorch, with
    ceil_mode=True a partial window at the edge sums only the elements it has (PyTorch rescales it by
    kernel area / elements present).
    """
    op = "lp_pool2d"
    b = backend_for(x, op, backend)
    x = b.check_array(x, op, "x", 4)
    p = _args.positive_finite(norm_type, op, "norm_type")
    kernel, stride, _, _ = _pool_args(op, kernel_size, stride, 0, 1)
    return b.run(op, x, p, kernel, stride, bool(ceil_mode))


@same_kind
def feature_lp_pool(x, norm_type, width, stride=None, backend=None):
    """Lp pooling across feature maps: output channel k pools input channels k*stride .. k*stride+width-1.

    y[n, k] = (sum over those channels c of x[n, c]**p) ** (1/p) at every pixel (a negative sum clamped to
    0); stride defaults to width. Returns (N, (C - width) // stride + 1, H, W).
    """
    op = "feature_lp_pool"
    b = backend_for(x, op, backend)
    x = b.check_array(x, op, "x", 4)
    p, width, stride = _feature_args(op, x, norm_type, width, stride)
    return b.run(op, x, p, width, stride)


def _feature_args(op, x, norm_type, width, stride):
    p = _args.positive_finite(norm_type, op, "norm_type")
    width = _args.to_int(width, op, "width")
    if not 1 <= width <= x.shape[1]:
        raise ValueError(f"{op}: width must be in [1, C={x.shape[1]}], got {width}")
    stride = width if stride is None else _args.to_int(stride, op, "stride")
    if stride < 1:
        raise ValueError(f"{op}: stride must be positive, got {stride}")
    return p, width, stride


@same_kind
def local_contrast_norm(x, kernel_size=9, sigma=2.0, eps=1e-4, backend=None):
    """Local contrast normalization (Jarrett et al. 2009): subtractive then divisive, across channels.

    With w the kernel_size² Gaussian window (std sigma) normalised to sum 1 over the window and the C
    channels, zero padding and coef(i, j) the weight of the window inside the image:
    mean = sum_c (w * x_c) / coef, v = x - mean, sigma_map = sqrt(sum_c (w * v²) / coef),
    y = v / max(sigma_map, mean of sigma_map over the image, eps). Returns an array of x's shape.
    """
    op = "local_contrast_norm"
    b = backend_for(x, op, backend)
    x = b.check_array(x, op, "x", 4)
    kernel_size, sigma, eps = _lcn_args(op, kernel_size, sigma, eps)
    return b.run(op, x, kernel_size, sigma, eps)


def _lcn_args(op, kernel_size, sigma, eps):
    kernel_size = _args.to_int(kernel_size, op, "kernel_size")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"{op}: kernel_size must be a positive odd integer, got {kernel_size}")
    sigma = _args.positive_finite(sigma, op, "sigma")
    eps = _args.to_real(eps, op, "eps")
    if not (eps >= 0 and math.isfinite(eps)):
        raise ValueError(f"{op}: eps must be a non-negative finite number, got {eps!r}")
    return kernel_size, sigma, eps


# -- backward passes of pooling and LCN: f_backward(grad_out, x, <f's arguments>) -> grad of x ------------
#
# Each takes the forward's arguments in the same order and with the same keywords, checks them as the
# forward does, and checks grad_out against the forward output's shape (the C++ layer, after the geometry).

@same_kind
def max_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                        indices=None, backend=None):
    """The gradient of max_pool2d: each grad_out element goes to its window's maximum (the first in window
    order, or the last NaN, as PyTorch); overlapping windows add up.

    indices: the int64 array of max_pool2d(..., return_indices=True) (used as given), or None to find the
    maxima again from x.
    """
    op = "max_pool2d_backward"
    b = backend_for(x, op, backend)
    x = b.check_array(x, op, "x", 4)
    kernel, stride, padding, dilation = _pool_args(op, kernel_size, stride, padding, dilation)
    grad_out = _grad_out(op, b, grad_out, x)
    if indices is not None:
        indices = b.check_indices(indices, op, "indices", grad_out.shape)
    return b.run(op, grad_out, x, kernel, stride, padding, dilation, bool(ceil_mode), indices)


@same_kind
def avg_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True, divisor_override=None, backend=None):
    """The gradient of avg_pool2d: each grad_out element spread over its window, divided as the forward
    divides."""
    op = "avg_pool2d_backward"
    b = backend_for(x, op, backend)
    x = b.check_array(x, op, "x", 4)
    kernel, stride, padding, _ = _pool_args(op, kernel_size, stride, padding, 1)
    divisor_override = _divisor_override(op, divisor_override)
    grad_out = _grad_out(op, b, grad_out, x)
    return b.run(op, grad_out, x, kernel, stride, padding, bool(ceil_mode), bool(count_include_pad),
                 divisor_override)


@same_kind
def lp_pool2d_backward(grad_out, x, norm_type, kernel_size, stride=None, ceil_mode=False, backend=None):
    """The gradient of lp_pool2d: grad_out * (x / y) ** (p - 1) for each element x of a window with output
    y; 0 where y is 0 (a window whose sum is clamped or zero)."""
    op = "lp_pool2d_backward"
    b = backend_for(x, op, backend)
    x = b.check_array(x, op, "x", 4)
    p = _args.positive_finite(norm_type, op, "norm_type")
    kernel, stride, _, _ = _pool_args(op, kernel_size, stride, 0, 1)
    grad_out = _grad_out(op, b, grad_out, x)
    return b.run(op, grad_out, x, p, kernel, stride, bool(ceil_mode))


@same_kind
def feature_lp_pool_backward(grad_out, x, norm_type, width, stride=None, backend=None):
    """The gradient of feature_lp_pool, as lp_pool2d_backward's across channels."""
    op = "feature_lp_pool_backward"
    b = backend_for(x, op, backend)
    x = b.check_array(x, op, "x", 4)
    p, width, stride = _feature_args(op, x, norm_type, width, stride)
    out_shape = (x.shape[0], (x.shape[1] - width) // stride + 1, x.shape[2], x.shape[3])
    grad_out = _grad_out(op, b, grad_out, x, out_shape)
    return b.run(op, grad_out, x, p, width, stride)


@same_kind
def local_contrast_norm_backward(grad_out, x, kernel_size=9, sigma=2.0, eps=1e-4, backend=None):
    """The gradient of local_contrast_norm, through the branch of max(sigma_map, mean of sigma_map, eps)
    that the forward takes at each pixel (sigma_map on a tie; its mean over eps on a tie)."""
    op = "local_contrast_norm_backward"
    b = backend_for(x, op, backend)
    x = b.check_array(x, op, "x", 4)
    kernel_size, sigma, eps = _lcn_args(op, kernel_size, sigma, eps)
    grad_out = _grad_out(op, b, grad_out, x, x.shape)
    return b.run(op, grad_out, x, kernel_size, sigma, eps)
