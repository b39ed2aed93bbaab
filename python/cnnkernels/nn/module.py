"""Parameter, Module (the base of every layer) and Sequential, after torch.nn.

A Module's forward caches, in train mode only, what its backward needs; backward(grad_out) returns the
gradient of the input and adds each parameter's gradient to its .grad. The cache is dropped by backward
(as PyTorch frees its graph), so a second backward needs a new forward.
"""

from collections import OrderedDict, namedtuple

import numpy as np

from .._backend import cuda_available, is_cuda_array

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def check_dtype(dtype, where):
    """np.dtype of `dtype`, which must be float32 or float64 (else a TypeError); None is float32, as
    torch's default dtype (np.dtype(None) would be float64)."""
    if dtype is None:
        return DTYPES[0]
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in DTYPES:
        raise TypeError(f"{where}: dtype must be float32 or float64, got {dtype!r}")
    return dt


def array_module(x):
    """numpy for a NumPy array, cupy for a CUDA array (a model moved by .to("cuda") computes on CuPy)."""
    if isinstance(x, np.ndarray) or not is_cuda_array(x):
        return np
    import cupy
    return cupy


def to_device(a, device):
    """The array `a` on `device` ("cpu": a NumPy array, "cuda": a CuPy array), copied only when it moves."""
    if device == "cpu":
        return a if isinstance(a, np.ndarray) else array_module(a).asnumpy(a)
    import cupy
    return cupy.asarray(a)


def check_input(x, where, dtype=None):
    """x must be a float32/float64 NumPy array (or CuPy array, for a model on "cuda"), of `dtype` when
    given (the layer's weights): a TypeError otherwise, since nothing is cast silently."""
    if not isinstance(x, np.ndarray) and not is_cuda_array(x):
        raise TypeError(f"{where}: input must be a numpy.ndarray (or a CuPy array on 'cuda'), "
                        f"got {type(x).__name__}")
    if x.dtype not in DTYPES:
        raise TypeError(f"{where}: input dtype must be float32 or float64, got {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{where}: input dtype {x.dtype} differs from the weights' dtype {dtype}; "
                        f"convert one explicitly")
    return x


class Parameter:
    """A trainable array: .data (the values) and .grad (None until a backward adds to it)."""

    def __init__(self, data):
        data = data if is_cuda_array(data) else np.asarray(data)
        check_dtype(data.dtype, "Parameter")
        self.data = data
        self.grad = None

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)

    def accumulate(self, g):
        """Adds g to .grad (which starts as g itself, as PyTorch's accumulation)."""
        if self.grad is None:
            self.grad = array_module(self.data).array(g, dtype=self.data.dtype, copy=True)
        else:
            self.grad += g

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class: subclasses set parameters and sub-modules as attributes (registered in that order, for
    named_parameters and state_dict) and define forward(x) and backward(grad_out)."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_ctx", None)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call Module.__init__() before setting attributes")
        for registry in (self._parameters, self._modules):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    # --- computing ---------------------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def backward(self, grad_out):
        raise NotImplementedError(f"{type(self).__name__} defines no backward")

    def backward_parameters(self, grad_out):
        """backward when the gradient of the input is not wanted (the first layer of a model fed with data):
        accumulates the parameters' gradients and returns None. Layers that can skip computing the input's
        gradient (Conv2d) do."""
        self.backward(grad_out)

    def _save(self, y, **ctx):
        """Caches what backward needs, and the output y's shape and dtype (to check grad_out against), in
        train mode only; in eval mode drops any older cache."""
        object.__setattr__(self, "_ctx", dict(ctx, out_=(y.shape, y.dtype)) if self.training else None)

    def _saved(self, grad_out):
        """The cache of the last train-mode forward (consumed), once grad_out is checked against the
        output's shape and dtype; a RuntimeError when there is none."""
        ctx, name = self._ctx, type(self).__name__
        if ctx is None:
            raise RuntimeError(f"{name}.backward: no cached forward; call the module in train mode "
                               f"(model.train()) before backward, once per backward")
        if not isinstance(grad_out, np.ndarray):
            raise TypeError(f"{name}.backward: grad_out must be a numpy.ndarray, got {type(grad_out).__name__}")
        shape, dtype = ctx["out_"]
        if grad_out.shape != shape:
            raise ValueError(f"{name}.backward: grad_out has shape {grad_out.shape}, the output had {shape}")
        if grad_out.dtype != dtype:
            raise TypeError(f"{name}.backward: grad_out dtype {grad_out.dtype} differs from the output's {dtype}")
        object.__setattr__(self, "_ctx", None)
        return ctx

    # --- modes and parameters ----------------------------------------------------------------------

    def train(self, mode=True):
        """Train mode (forward caches for backward; Dropout drops) or, with mode=False, eval mode."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
            if not mode:
                object.__setattr__(m, "_ctx", None)
        return self

    def eval(self):
        return self.train(False)

    def children(self):
        return iter(self._modules.values())

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix=""):
        """(dotted name, Parameter) pairs, as PyTorch's: "0.weight", "0.bias", "3.weight", ...; a Parameter
        reached twice (a shared module) is listed once."""
        seen = set()
        for mod_name, m in self.named_modules(prefix):
            for name, p in m._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def to(self, device):
        """Moves every parameter (and its .grad) to `device`: "cpu" (NumPy arrays) or "cuda" (CuPy arrays,
        when cnnkernels.cuda_available(); the layers then call the CUDA kernels). Returns self, as
        torch.nn.Module.to. Inputs must be on the same device. An optimizer made before the move keeps
        momentum buffers of the old device: make it after."""
        if device not in ("cpu", "cuda"):
            raise ValueError(f"{type(self).__name__}.to: device must be 'cpu' or 'cuda', got {device!r}")
        if device == "cuda" and not cuda_available():
            raise RuntimeError(f"{type(self).__name__}.to('cuda'): no CUDA backend is available "
                               f"(cnnkernels.cuda_available() is False)")
        for p in self.parameters():
            p.data = to_device(p.data, device)
            if p.grad is not None:
                p.grad = to_device(p.grad, device)
        return self

    def zero_grad(self, set_to_none=True):
        """Clears every parameter's .grad: None (the default, as PyTorch's), or zeros."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad[...] = 0

    # --- state -------------------------------------------------------------------------------------

    def state_dict(self):
        """OrderedDict of dotted name -> a copy of that parameter's array."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state_dict, strict=True):
        """Copies the arrays of `state_dict` into the parameters of the same names. Shapes and dtypes must
        match (a ValueError naming the key; nothing is cast); with strict=True, so must the key sets.
        Returns (missing_keys, unexpected_keys). Nothing is changed when an error is raised."""
        params = OrderedDict(self.named_parameters())
        missing = [k for k in params if k not in state_dict]
        unexpected = [k for k in state_dict if k not in params]
        if strict and (missing or unexpected):
            raise ValueError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        values = {}
        for name, p in params.items():
            if name not in state_dict:
                continue
            v = state_dict[name]
            v = v.data if isinstance(v, Parameter) else v
            v = v if is_cuda_array(v) else np.asarray(v)
            if v.shape != p.data.shape:
                raise ValueError(f"load_state_dict: {name!r} has shape {v.shape}, the parameter {p.data.shape}")
            if v.dtype != p.data.dtype:
                raise ValueError(f"load_state_dict: {name!r} has dtype {v.dtype}, the parameter {p.data.dtype}")
            values[name] = v
        for name, v in values.items():
            params[name].data[...] = to_device(v, "cpu" if isinstance(params[name].data, np.ndarray) else "cuda")
        return IncompatibleKeys(missing, unexpected)

    def save(self, path):
        """Writes state_dict() to a NumPy .npz file (np.savez adds ".npz" to a path without it)."""
        np.savez(path, **{k: to_device(v, "cpu") for k, v in self.state_dict().items()})

    def load(self, path, strict=True):
        """Loads a file written by save (load_state_dict's checks). Returns self."""
        with np.load(path, allow_pickle=False) as f:
            self.load_state_dict({k: f[k] for k in f.files}, strict=strict)
        return self

    # --- printing ----------------------------------------------------------------------------------

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied in order; named "0", "1", ...; indexing (a slice gives a Sequential), len and
    iteration as a list's. backward runs the modules' backward in reverse order."""

    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(m).__name__}, not a Module")
            setattr(self, str(i), m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def forward(self, x):
        for m in self:
            x = m(x)
        return x

    def backward(self, grad_out, input_grad=True):
        """Runs the modules' backward in reverse order and returns the gradient of the input; with
        input_grad=False (as for a PyTorch input that does not require grad) returns None and skips the work
        that only the input's gradient needs: the first module with parameters runs backward_parameters, and
        the parameterless modules before it run nothing."""
        mods = list(self)
        first = 0
        if not input_grad:
            first = next((i for i, m in enumerate(mods) if any(True for _ in m.parameters())), len(mods))
        for i in range(len(mods) - 1, first - 1, -1):
            if i == first and not input_grad:
                mods[i].backward_parameters(grad_out)
                return None
            grad_out = mods[i].backward(grad_out)
        return None if not input_grad else grad_out

    def backward_parameters(self, grad_out):
        self.backward(grad_out, input_grad=False)
