"""The backend layer: every operation takes backend=None (the backend owning the arrays) or a name; the
array's kind is found before it is checked; unknown or unavailable backends and arrays of no backend are
clear errors; the algorithm names come from one list in the library."""

import types

import numpy as np
import pytest

import cnnkernels as ck
from conftest import OPS

X = np.ones((1, 2, 6, 6), np.float32)
W = np.ones((3, 2, 3, 3), np.float32)

CALLS = {
    "conv2d": lambda x, **kw: ck.conv2d(x, W, **kw),
    "max_pool2d": lambda x, **kw: ck.max_pool2d(x, 2, **kw),
    "avg_pool2d": lambda x, **kw: ck.avg_pool2d(x, 2, **kw),
    "lp_pool2d": lambda x, **kw: ck.lp_pool2d(x, 2, 2, **kw),
    "feature_lp_pool": lambda x, **kw: ck.feature_lp_pool(x, 2, 2, **kw),
    "local_contrast_norm": lambda x, **kw: ck.local_contrast_norm(x, 3, **kw),
    # The backward passes find their backend from x, the forward's input (grad_out must then match it).
    "conv2d_backward": lambda x, **kw: ck.conv2d_backward(np.ones((1, 3, 4, 4), np.float32), x, W, **kw),
    "max_pool2d_backward": lambda x, **kw: ck.max_pool2d_backward(np.ones((1, 2, 3, 3), np.float32), x, 2, **kw),
    "avg_pool2d_backward": lambda x, **kw: ck.avg_pool2d_backward(np.ones((1, 2, 3, 3), np.float32), x, 2, **kw),
    "lp_pool2d_backward": lambda x, **kw: ck.lp_pool2d_backward(np.ones((1, 2, 3, 3), np.float32), x, 2, 2, **kw),
    "feature_lp_pool_backward":
        lambda x, **kw: ck.feature_lp_pool_backward(np.ones((1, 1, 6, 6), np.float32), x, 2, 2, **kw),
    "local_contrast_norm_backward": lambda x, **kw: ck.local_contrast_norm_backward(X, x, 3, **kw),
}


class FakeCudaArray:
    """What a CuPy array looks like to the dispatch (no GPU is needed to make one)."""

    shape, dtype = X.shape, X.dtype

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": "<f4", "data": (0, False), "version": 3, "strides": None}


class FakeDlpackCudaArray:
    def __dlpack_device__(self):
        return (2, 0)  # kDLCUDA, device 0


def test_every_op_is_tested_here():
    assert set(CALLS) == set(OPS)


@pytest.mark.parametrize("op", OPS)
def test_cpu_by_name_and_by_default_agree(op):
    a, b = CALLS[op](X), CALLS[op](X, backend="cpu")
    for u, v in zip(a, b) if isinstance(a, tuple) else [(a, b)]:  # conv2d_backward: (gx, gw, gb)
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("name", ["gpu", "CPU", "", 3])
def test_unknown_backend_is_a_value_error(op, name):
    with pytest.raises(ValueError, match="backend"):
        CALLS[op](X, backend=name)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("name", ["cuda", "cuda-emu"])
def test_unavailable_backend_is_a_value_error(op, name):
    if name in ck.available_backends():
        pytest.skip(f"{name} is available in this build")
    with pytest.raises(ValueError, match=f"backend '{name}' is not available"):
        CALLS[op](X, backend=name)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("fake", [FakeCudaArray, FakeDlpackCudaArray])
def test_cuda_array_without_cuda_backend_is_a_value_error_naming_x(op, fake):
    assert not ck.cuda_available()
    with pytest.raises(ValueError, match="x is a CUDA array"):
        CALLS[op](fake())


@pytest.mark.parametrize("op", OPS)
def test_array_of_no_backend_is_a_type_error(op):
    with pytest.raises(TypeError, match="x must be a numpy.ndarray"):
        CALLS[op](X.tolist())


def test_cpu_backend_refuses_a_foreign_weight():
    with pytest.raises(TypeError, match="weight must be a numpy.ndarray"):
        ck.conv2d(X, FakeCudaArray())


def test_backend_declares_its_algorithms_and_dtypes():
    b = ck.get_backend("cpu")
    assert b.algorithms == b.module.CONV2D_ALGOS and "auto" not in b.algorithms
    assert len(set(b.algorithms)) == len(b.algorithms) and "fft" in b.algorithms
    assert [d.name for d in b.dtypes] == ["float32", "float64"]
    assert ck.available_backends()[:2] == ("cpu", "cuda-emu") and ("cuda" in ck.available_backends()) == ck.cuda_available()


def test_algo_error_lists_the_backends_algorithms():
    listed = ", ".join(repr(a) for a in ("auto",) + ck.get_backend("cpu").algorithms)
    with pytest.raises(ValueError, match=listed):
        ck.conv2d(X, W, algo="gemm")


@pytest.mark.parametrize("shape", [(2, 4, 9, 9), (2, 16, 33, 31), (1, 3, 64, 64)])
def test_plan_says_what_auto_runs(shape):
    # conv2d_plan(..., algo="auto") names the algorithm; running it gives auto's result bit for bit.
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((8, shape[1], 5, 5)).astype(np.float32)
    algo = ck.conv2d_plan(x.shape, w.shape, padding=2)["algo"]
    assert algo in ck.get_backend("cpu").algorithms
    np.testing.assert_array_equal(ck.conv2d(x, w, padding=2), ck.conv2d(x, w, padding=2, algo=algo))


# -- the rules of CUDA arrays, without a GPU: a "cuda" backend over the emulated module, taking fake CUDA
# arrays (__cuda_array_interface__ over emulated device memory) and giving back fake CUDA arrays.

class FakeDeviceArray:
    """A CUDA array as a CuPy array presents itself: __cuda_array_interface__ over (emulated) device memory."""

    def __init__(self, mem, shape, dtype, strides=None):
        self.mem, self.shape, self.dtype, self.strides = mem, tuple(shape), np.dtype(dtype), strides

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": self.dtype.str, "data": (self.mem.ptr, False), "version": 3,
                "strides": self.strides}


class FakeCudaArrays:
    def __init__(self, module):
        self.module, self.streams = module, []

    def stream(self):
        self.streams.append(7)
        return 0

    def alloc(self, nbytes):
        return self.module.DeviceMemory(nbytes)

    def wrap(self, r):
        return FakeDeviceArray(r.owner, r.shape, r.dtype)


@pytest.fixture
def fake_cuda(monkeypatch):
    from cnnkernels import _backend, _device

    module = ck.get_backend("cuda-emu").module
    backend = _device.DeviceBackend("cuda", module, cuda_arrays=FakeCudaArrays(module), takes_cuda_arrays=True)
    monkeypatch.setitem(_backend._BACKENDS, "cuda", backend)

    def to_device(a):
        a = np.ascontiguousarray(a)
        mem = module.DeviceMemory(a.nbytes)
        module.copy_to_device(mem.ptr, a)
        return FakeDeviceArray(mem, a.shape, a.dtype)

    def to_host(d):
        out = np.empty(d.shape, d.dtype)
        module.copy_to_host(out, d.mem.ptr)
        return out
    return types.SimpleNamespace(backend=backend, to_device=to_device, to_host=to_host)


def test_cuda_arrays_in_give_cuda_arrays_out_on_the_current_stream(fake_cuda):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 3, 6, 6)).astype(np.float32), rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    y = ck.conv2d(fake_cuda.to_device(x), fake_cuda.to_device(w), padding=1, algo="direct")
    assert isinstance(y, FakeDeviceArray) and y.shape == (2, 4, 6, 6)
    np.testing.assert_allclose(fake_cuda.to_host(y), ck.conv2d(x, w, padding=1), rtol=1e-5, atol=1e-5)
    assert fake_cuda.backend.cuda_arrays.streams  # the stream was asked for
    out, idx = ck.max_pool2d(fake_cuda.to_device(x), 2, return_indices=True)
    assert isinstance(out, FakeDeviceArray) and isinstance(idx, FakeDeviceArray) and idx.dtype == np.int64


def test_numpy_arrays_on_the_cuda_backend_come_back_as_numpy(fake_cuda):
    y = ck.avg_pool2d(X, 2, backend="cuda")
    assert isinstance(y, np.ndarray)
    np.testing.assert_allclose(y, ck.avg_pool2d(X, 2), rtol=1e-6)


def test_mixing_cuda_and_numpy_arrays_is_an_error_naming_the_argument(fake_cuda):
    w = np.ones((3, 2, 3, 3), np.float32)
    with pytest.raises(TypeError, match="weight is a NumPy array but x is a CUDA array"):
        ck.conv2d(fake_cuda.to_device(X), w)
    with pytest.raises(TypeError, match="weight is a CUDA array but x is a NumPy array"):
        ck.conv2d(X, fake_cuda.to_device(w), backend="cuda")


def test_a_strided_cuda_array_is_a_value_error_naming_it(fake_cuda):
    d = fake_cuda.to_device(X)
    d.strides = (400, 200, 40, 8)  # every other element of a row: not C-contiguous
    with pytest.raises(ValueError, match="x must be C-contiguous"):
        ck.avg_pool2d(d, 2)


def test_a_cuda_array_of_another_dtype_is_a_type_error(fake_cuda):
    with pytest.raises(TypeError, match="x must be float32 or float64"):
        ck.avg_pool2d(fake_cuda.to_device(X.astype(np.float16)), 2)


@pytest.mark.parametrize("call", [
    lambda: ck.conv2d(X, W, algo="fft", backend="cuda-emu"),
    lambda: ck.conv2d_backward(np.ones((1, 3, 3, 3), np.float32), X, W, algo="fft", backend="cuda-emu"),
    lambda: ck.conv2d_plan(X.shape, W.shape, algo="fft", backend="cuda-emu"),
], ids=["conv2d", "conv2d_backward", "conv2d_plan"])
def test_fft_on_cuda_is_not_implemented_yet(call):
    with pytest.raises(NotImplementedError, match="fft"):
        call()


def test_auto_on_cuda_never_picks_fft():
    for shape, ws in [((1, 1, 64, 64), (1, 1, 15, 15)), ((2, 16, 32, 32), (32, 16, 11, 11))]:
        for direction in ("forward", "backward_input", "backward_weight"):
            info = ck.conv2d_plan(shape, ws, backend="cuda-emu", direction=direction)
            assert info["algo"] in ("direct", "im2col")


# -- PyTorch tensors and DLPack arrays on the CPU: the same kind out, no copy in.

def test_torch_cpu_tensors_in_give_torch_tensors_out():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.standard_normal((2, 3, 8, 8)).astype(np.float32))
    w = torch.from_numpy(rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    y = ck.conv2d(x, w, padding=1)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32
    np.testing.assert_allclose(y.numpy(), torch.nn.functional.conv2d(x, w, padding=1).numpy(), rtol=1e-4,
                               atol=1e-4)
    out, idx = ck.max_pool2d(x, 2, return_indices=True)
    assert isinstance(out, torch.Tensor) and idx.dtype == torch.int64
    gx, gw, gb = ck.conv2d_backward(torch.ones_like(y), x, w, padding=1)
    assert all(isinstance(g, torch.Tensor) for g in (gx, gw, gb))


def test_dlpack_input_is_viewed_without_a_copy():
    torch = pytest.importorskip("torch")
    from cnnkernels._interop import _foreign
    x = torch.ones((1, 2, 4, 4))
    view, kind = _foreign(x)
    assert kind == "torch" and isinstance(view, np.ndarray) and view.ctypes.data == x.data_ptr()


def test_a_tensor_that_requires_grad_is_a_clear_type_error():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="DLPack"):
        ck.avg_pool2d(torch.ones((1, 1, 4, 4), requires_grad=True), 2)


def test_cuda_plan_says_what_runs_and_does_not_estimate_workspace():
    info = ck.conv2d_plan((2, 16, 12, 12), (32, 16, 3, 3), padding=1, backend="cuda-emu")
    assert info["algo"] == "im2col" and info["output_shape"] == (2, 32, 12, 12) and info["workspace_bytes"] is None
    assert ck.conv2d_plan((2, 3, 12, 12), (4, 3, 3, 3), backend="cuda-emu")["algo"] == "direct"
