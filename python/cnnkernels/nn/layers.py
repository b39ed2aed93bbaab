"""The layers of cnnkernels.nn, with torch.nn's constructor arguments, defaults and reprs.

Conv2d and the pooling and normalisation layers run the cnnkernels kernels, forward and backward; the
simple layers (Linear, ReLU, Tanh, Sigmoid, Flatten, Dropout) are NumPy. Images are NCHW:
N images, C channels, H x W pixels; a conv weight is (K out channels, C/groups, R, S kernel rows, columns).
"""

import numpy as np

import cnnkernels as ck
from cnnkernels._backend import get_backend

from .. import _args
from . import init
from .module import Module, Parameter, array_module, check_dtype, check_input


class Conv2d(Module):
    """2-D convolution (cross-correlation), as torch.nn.Conv2d: x (N, C, H, W) -> (N, K, P, Q).

    weight (K, C/groups, R, S) and bias (K,) are drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    fan_in = C/groups * R * S (torch's default), from the generator that nn.manual_seed seeds.
    padding: as cnnkernels.conv2d (int, pair, ((top, bottom), (left, right)), "same", "valid"); zeros only.
    algo: the kernel's algorithm, "auto", "direct", "im2col", "fft" or "winograd" (3x3 stride 1: its data
    gradient; the weight gradient then as "auto" picks), forward and backward.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, algo="auto", dtype=np.float32):
        super().__init__()
        op = "Conv2d"
        self.in_channels = _args.to_int(in_channels, op, "in_channels")
        self.out_channels = _args.to_int(out_channels, op, "out_channels")
        self.groups = _args.to_int(groups, op, "groups")
        if self.in_channels < 1 or self.out_channels < 1 or self.groups < 1:
            raise ValueError(f"{op}: in_channels, out_channels and groups must be positive")
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"{op}: groups={self.groups} must divide in_channels={self.in_channels} and "
                             f"out_channels={self.out_channels}")
        self.kernel_size = _args.positive_pair(kernel_size, op, "kernel_size")
        self.stride = _args.positive_pair(stride, op, "stride")
        self.dilation = _args.positive_pair(dilation, op, "dilation")
        self.padding = padding if isinstance(padding, str) else _padding_form(padding, op)
        _args.conv_padding(self.padding, self.kernel_size, self.dilation, self.stride, op)  # checks it
        self.algo = algo
        dtype = check_dtype(dtype, op)
        R, S = self.kernel_size
        fan_in = self.in_channels // self.groups * R * S
        self.weight = Parameter(init.default_uniform((self.out_channels, self.in_channels // self.groups, R, S),
                                                     fan_in, dtype))
        self.bias = Parameter(init.default_uniform((self.out_channels,), fan_in, dtype)) if bias else None

    def _kw(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation, groups=self.groups,
                    algo=self.algo)

    def forward(self, x):
        check_input(x, "Conv2d", self.weight.dtype)
        b = None if self.bias is None else self.bias.data
        y = ck.conv2d(x, self.weight.data, b, **self._kw())
        self._save(y, x=x)
        return y

    def backward(self, grad_out):
        return self._backward(grad_out, input_grad=True)

    def backward_parameters(self, grad_out):
        self._backward(grad_out, input_grad=False)

    def _backward(self, grad_out, input_grad):
        ctx = self._saved(grad_out)
        needs = (("input",) if input_grad else ()) + ("weight",) + (("bias",) if self.bias is not None else ())
        gx, gw, gb = ck.conv2d_backward(grad_out, ctx["x"], self.weight.data, needs=needs, **self._kw())
        self.weight.accumulate(gw)
        if self.bias is not None:
            self.bias.accumulate(gb)
        return gx

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.algo != "auto":
            s += f", algo={self.algo!r}"
        return s


def _padding_form(padding, op):
    """An int or 1-tuple padding as a pair (as torch stores it); pairs and ((t, b), (l, r)) as tuples."""
    if isinstance(padding, (tuple, list)) and padding and isinstance(padding[0], (tuple, list)):
        return tuple(tuple(p) for p in padding)
    return _args.non_negative_pair(padding, op, "padding")


class _KernelOp(Module):
    """A layer of one cnnkernels operation whose backward needs only the input: forward caches x."""

    op = None      # the cnnkernels function name, e.g. "avg_pool2d"
    args = ()      # the attribute names passed to it, in its argument order

    def _kw(self):
        return {a: getattr(self, a) for a in self.args}

    def forward(self, x):
        check_input(x, type(self).__name__)
        y = getattr(ck, self.op)(x, **self._kw())
        self._save(y, x=x)
        return y

    def backward(self, grad_out):
        ctx = self._saved(grad_out)
        return getattr(ck, self.op + "_backward")(grad_out, ctx["x"], **self._kw())

    def extra_repr(self):
        return ", ".join(f"{a}={getattr(self, a)}" for a in self.args)


class MaxPool2d(_KernelOp):
    """Max pooling, as torch.nn.MaxPool2d (stride defaults to kernel_size). In train mode forward keeps
    the argmax indices for backward, which sends each output's gradient to its maximum."""

    args = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.dilation = dilation
        self.ceil_mode = ceil_mode

    def forward(self, x):
        check_input(x, "MaxPool2d")
        if not self.training:
            self._ctx = None
            return ck.max_pool2d(x, **self._kw())
        y, indices = ck.max_pool2d(x, **self._kw(), return_indices=True)
        self._save(y, x=x, indices=indices)
        return y

    def backward(self, grad_out):
        ctx = self._saved(grad_out)
        return ck.max_pool2d_backward(grad_out, ctx["x"], **self._kw(), indices=ctx["indices"])


class AvgPool2d(_KernelOp):
    """Average pooling, as torch.nn.AvgPool2d (stride defaults to kernel_size)."""

    op = "avg_pool2d"
    args = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class LPPool2d(_KernelOp):
    """Power-average pooling (sum of x**p over the window) ** (1/p), as torch.nn.LPPool2d; norm_type=2
    is L2 pooling. With ceil_mode=True a partial edge window sums only what it has (PyTorch rescales)."""

    op = "lp_pool2d"
    args = ("norm_type", "kernel_size", "stride", "ceil_mode")

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode


class FeatureLPPool(_KernelOp):
    """Lp pooling across feature maps (cnnkernels.feature_lp_pool): output channel k is the Lp norm of
    input channels k*stride .. k*stride+width-1 at each pixel; (N, C, H, W) -> (N, (C-width)//stride+1, H, W)."""

    op = "feature_lp_pool"
    args = ("norm_type", "width", "stride")

    def __init__(self, norm_type, width, stride=None):
        super().__init__()
        self.norm_type = norm_type
        self.width = width
        self.stride = stride


class LocalContrastNorm(_KernelOp):
    """Local contrast normalization across channels (Jarrett et al. 2009; cnnkernels.local_contrast_norm):
    subtract the Gaussian-weighted local mean, divide by the local deviation. Output has x's shape."""

    op = "local_contrast_norm"
    args = ("kernel_size", "sigma", "eps")

    def __init__(self, kernel_size=9, sigma=2.0, eps=1e-4):
        super().__init__()
        self.kernel_size = kernel_size
        self.sigma = sigma
        self.eps = eps


def _matmul(a, b):
    """a @ b (2-D, same dtype) by the library's GEMM, on the threads of the kernels: NumPy's BLAS would bring
    a second thread pool, and on 2 cores the two pools' waiting threads slow each other down (a LeNet-5 step,
    2 threads: 32 ms with NumPy's matmul, 10 ms with this)."""
    if not isinstance(a, np.ndarray):  # CuPy arrays (a model on "cuda"): CuPy's matmul
        return a @ b
    return get_backend("cpu").module.gemm(np.ascontiguousarray(a), np.ascontiguousarray(b))


class Linear(Module):
    """y = x @ weight.T + bias, as torch.nn.Linear: x (..., in_features) -> (..., out_features);
    weight (out_features, in_features) and bias drawn from U(-1/sqrt(in_features), 1/sqrt(in_features))."""

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32):
        super().__init__()
        self.in_features = _args.to_int(in_features, "Linear", "in_features")
        self.out_features = _args.to_int(out_features, "Linear", "out_features")
        dtype = check_dtype(dtype, "Linear")
        fan_in = self.in_features
        self.weight = Parameter(init.default_uniform((self.out_features, fan_in), fan_in, dtype))
        self.bias = Parameter(init.default_uniform((self.out_features,), fan_in, dtype)) if bias else None

    def forward(self, x):
        check_input(x, "Linear", self.weight.dtype)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear: input's last dimension must be in_features={self.in_features}, "
                             f"got shape {x.shape}")
        rows = x.reshape(-1, self.in_features)
        y = _matmul(rows, np.ascontiguousarray(self.weight.data.T)).reshape(x.shape[:-1] + (self.out_features,))
        if self.bias is not None:
            y += self.bias.data
        self._save(y, x=x)
        return y

    def backward(self, grad_out):
        x = self._saved(grad_out)["x"]
        g2 = grad_out.reshape(-1, self.out_features)                 # (rows, out)
        self.weight.accumulate(_matmul(np.ascontiguousarray(g2.T), x.reshape(-1, self.in_features)))  # (out, in)
        if self.bias is not None:
            self.bias.accumulate(g2.sum(axis=0))
        return _matmul(g2, self.weight.data).reshape(grad_out.shape[:-1] + (self.in_features,))

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class _Elementwise(Module):
    """An element-wise function: forward caches what its derivative needs (f(x) or x)."""

    def forward(self, x):
        check_input(x, type(self).__name__)
        y = self.f(x)
        self._save(y, saved=self.keep(x, y))
        return y

    def backward(self, grad_out):
        ctx = self._saved(grad_out)
        return self.df(grad_out, ctx["saved"])


class ReLU(_Elementwise):
    """max(x, 0); the gradient at 0 is 0, as PyTorch's."""

    def f(self, x):
        return np.maximum(x, 0)

    def keep(self, x, y):
        return x > 0

    def df(self, g, positive):
        return g * positive


class Tanh(_Elementwise):
    def f(self, x):
        return np.tanh(x)

    def keep(self, x, y):
        return y

    def df(self, g, y):  # g * (1 - y*y), in one buffer
        d = np.multiply(y, y)
        np.subtract(1, d, out=d)
        d *= g
        return d


class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x)), computed without overflow for either sign of x."""

    def f(self, x):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))

    def keep(self, x, y):
        return y

    def df(self, g, y):
        return g * y * (1 - y)


class Flatten(Module):
    """Joins dimensions start_dim..end_dim into one, as torch.nn.Flatten: (N, C, H, W) -> (N, C*H*W)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = _args.to_int(start_dim, "Flatten", "start_dim")
        self.end_dim = _args.to_int(end_dim, "Flatten", "end_dim")

    def forward(self, x):
        check_input(x, "Flatten")
        s, e = (d % x.ndim if x.ndim else 0 for d in (self.start_dim, self.end_dim))
        if s > e:
            raise ValueError(f"Flatten: start_dim={self.start_dim} comes after end_dim={self.end_dim} "
                             f"for an input of rank {x.ndim}")
        y = x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1:])
        self._save(y, in_shape=x.shape)
        return y

    def backward(self, grad_out):
        ctx = self._saved(grad_out)
        return grad_out.reshape(ctx["in_shape"])

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Inverted dropout, as torch.nn.Dropout: in train mode each element is zeroed with probability p and
    the rest scaled by 1/(1-p) (masks from the generator nn.manual_seed seeds); the identity in eval mode."""

    def __init__(self, p=0.5):
        super().__init__()
        p = _args.to_real(p, "Dropout", "p")
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        check_input(x, "Dropout")
        if not self.training:
            self._ctx = None
            return x
        if self.p == 1:
            mask = np.zeros_like(x)
        else:
            mask = (init.generator().random(x.shape) >= self.p).astype(x.dtype) / x.dtype.type(1 - self.p)
            mask = array_module(x).asarray(mask)
        self._save(x, mask=mask)
        return x * mask

    def backward(self, grad_out):
        ctx = self._saved(grad_out)
        return grad_out * ctx["mask"]

    def extra_repr(self):
        return f"p={self.p}"
