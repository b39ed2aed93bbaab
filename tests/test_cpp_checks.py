"""The C++ layer's own checks: cnnkernels._cpu is reachable from Python, so it must refuse bad input with
a clear TypeError/ValueError/MemoryError itself, never crash, even without the Python layer's checks."""

import numpy as np
import pytest

from cnnkernels import _cpu

F32 = np.float32


def conv(x=None, w=None, b=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1, algo="direct"):
    x = np.ones((1, 2, 5, 5), F32) if x is None else x
    w = np.ones((3, 2, 3, 3), F32) if w is None else w
    return _cpu.conv2d(x, w, b, stride, padding, dilation, groups, algo)


def test_valid_call_works():
    y = conv()
    assert y.shape == (1, 3, 3, 3) and y.dtype == F32
    np.testing.assert_allclose(y, 18.0)


@pytest.mark.parametrize("dtype", [np.int32, np.float16, np.complex64])
def test_conv_wrong_dtype(dtype):
    with pytest.raises(TypeError, match="x"):
        conv(x=np.ones((1, 2, 5, 5), dtype))


def test_conv_mixed_dtype():
    with pytest.raises(TypeError, match="weight"):
        conv(w=np.ones((3, 2, 3, 3), np.float64))
    with pytest.raises(TypeError, match="bias"):
        conv(b=np.ones(3, np.float64))


def test_conv_wrong_rank_and_layout():
    with pytest.raises(ValueError, match="x must be 4-D"):
        conv(x=np.ones((2, 5, 5), F32))
    with pytest.raises(ValueError, match="bias must be 1-D"):
        conv(b=np.ones((3, 1), F32))
    with pytest.raises(ValueError, match="C-contiguous"):
        conv(x=np.ones((1, 2, 5, 10), F32)[..., ::2])
    with pytest.raises(ValueError, match="bias must have length"):
        conv(b=np.ones(4, F32))


@pytest.mark.parametrize("kwargs, match", [
    (dict(stride=(0, 1)), "stride"),
    (dict(stride=(1, -2)), "stride"),
    (dict(dilation=(0, 1)), "dilation"),
    (dict(padding=(-1, 0, 0, 0)), "padding"),
    (dict(groups=0), "groups"),
    (dict(groups=2), "groups"),            # K=3 not divisible
    (dict(w=np.ones((3, 2, 7, 3), F32)), "larger than the padded input"),
    (dict(w=np.ones((3, 1, 3, 3), F32)), "weight.shape\\[1\\]"),
    (dict(algo="winograd"), "algo"),
    (dict(x=np.ones((1, 0, 5, 5), F32), w=np.ones((3, 0, 3, 3), F32)), "positive C"),
])
def test_conv_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv(**kwargs)


def test_conv_output_too_large():
    with pytest.raises(MemoryError):
        conv(x=np.ones((1, 1, 1, 1), F32), w=np.ones((1, 1, 1, 1), F32), padding=(2**40, 2**40, 2**40, 2**40))


def test_conv_plan_checks():
    plan = _cpu.conv2d_plan((2, 4, 9, 9), (8, 4, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, "auto", 4)
    assert plan["output_shape"] == (2, 8, 9, 9) and plan["algo"] in ("direct", "im2col", "fft")
    with pytest.raises(TypeError):
        _cpu.conv2d_plan((2, 4, 9, 9), (8, 4, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, "auto", 2)


def pool(op="max_pool2d", x=None, k=(2, 2), s=(2, 2), p=(0, 0), d=(1, 1), ceil=False, idx=False, cip=True,
         norm=2.0):
    x = np.ones((1, 2, 6, 6), F32) if x is None else x
    return _cpu.pool2d(op, x, k, s, p, d, ceil, idx, cip, norm)


@pytest.mark.parametrize("kwargs, match", [
    (dict(op="median_pool2d"), "op"),
    (dict(k=(0, 2)), "kernel_size"),
    (dict(s=(2, 0)), "stride"),
    (dict(d=(0, 1)), "dilation"),
    (dict(p=(2, 0)), "padding"),            # more than half the kernel
    (dict(p=(-1, 0)), "padding"),
    (dict(k=(7, 2)), "kernel_size"),        # larger than the input
    (dict(op="lp_pool2d", norm=float("nan")), "norm_type"),
    (dict(op="lp_pool2d", norm=0.0), "norm_type"),
    (dict(x=np.ones((6, 6), F32)), "x must be 4-D"),
])
def test_pool_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pool(**kwargs)


def test_pool_wrong_dtype():
    with pytest.raises(TypeError, match="x"):
        pool(x=np.ones((1, 2, 6, 6), np.int64))


def test_feature_pool_and_lcn_checks():
    x = np.ones((1, 4, 5, 5), F32)
    with pytest.raises(ValueError, match="width"):
        _cpu.feature_lp_pool(x, 2.0, 5, 1)
    with pytest.raises(ValueError, match="stride"):
        _cpu.feature_lp_pool(x, 2.0, 2, 0)
    with pytest.raises(ValueError, match="norm_type"):
        _cpu.feature_lp_pool(x, float("inf"), 2, 2)
    with pytest.raises(ValueError, match="kernel_size"):
        _cpu.local_contrast_norm(x, 4, 2.0, 1e-4)
    with pytest.raises(ValueError, match="sigma"):
        _cpu.local_contrast_norm(x, 3, float("nan"), 1e-4)
    with pytest.raises(ValueError, match="eps"):
        _cpu.local_contrast_norm(x, 3, 1.0, -1.0)
    with pytest.raises(TypeError, match="x"):
        _cpu.local_contrast_norm(x.astype(np.int32), 3, 1.0, 1e-4)


def test_thread_count_checks():
    with pytest.raises(ValueError, match="n must be"):
        _cpu.set_num_threads(0)
