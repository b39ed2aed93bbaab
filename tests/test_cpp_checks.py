"""The C++ layer's own checks: the compiled modules are reachable from Python, so each must refuse bad
input with a clear TypeError/ValueError/MemoryError itself, never crash, even without the Python layer's
checks. Every test runs for every compiled module (the `module` fixture), through its own entry points."""

import numpy as np
import pytest

from conftest import compiled_modules

F32 = np.float32


@pytest.fixture(params=compiled_modules(), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def module(request):
    return request.param


def call_conv(module, x=None, w=None, b=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1,
              algo="direct"):
    x = np.ones((1, 2, 5, 5), F32) if x is None else x
    w = np.ones((3, 2, 3, 3), F32) if w is None else w
    return getattr(module, "conv2d_" + algo)(x, w, b, stride, padding, dilation, groups)


@pytest.fixture
def conv(module):
    return lambda **kw: call_conv(module, **kw)


def test_valid_call_works(conv):
    y = conv()
    assert y.shape == (1, 3, 3, 3) and y.dtype == F32
    np.testing.assert_allclose(y, 18.0)


@pytest.mark.parametrize("dtype", [np.int32, np.float16, np.complex64])
def test_conv_wrong_dtype(conv, dtype):
    with pytest.raises(TypeError, match="x"):
        conv(x=np.ones((1, 2, 5, 5), dtype))


def test_conv_mixed_dtype(conv):
    with pytest.raises(TypeError, match="weight"):
        conv(w=np.ones((3, 2, 3, 3), np.float64))
    with pytest.raises(TypeError, match="bias"):
        conv(b=np.ones(3, np.float64))


def test_conv_wrong_rank_and_layout(conv):
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
    (dict(x=np.ones((1, 0, 5, 5), F32), w=np.ones((3, 0, 3, 3), F32)), "positive C"),
])
def test_conv_bad_values(conv, kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv(**kwargs)


def test_conv_output_too_large(conv):
    with pytest.raises(MemoryError):
        conv(x=np.ones((1, 1, 1, 1), F32), w=np.ones((1, 1, 1, 1), F32), padding=(2**40, 2**40, 2**40, 2**40))


def test_every_algorithm_has_its_kernel(module):
    assert module.CONV2D_ALGOS and len(set(module.CONV2D_ALGOS)) == len(module.CONV2D_ALGOS)
    for algo in module.CONV2D_ALGOS:
        np.testing.assert_allclose(call_conv(module, algo=algo), 18.0, rtol=1e-5)


def test_conv_plan_checks(module):
    plan = module.conv2d_plan((2, 4, 9, 9), (8, 4, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, "auto", 4)
    info = plan.info()
    assert info["output_shape"] == (2, 8, 9, 9) and plan.algo == info["algo"] in module.CONV2D_ALGOS
    with pytest.raises(TypeError):
        module.conv2d_plan((2, 4, 9, 9), (8, 4, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, "auto", 2)
    with pytest.raises(ValueError, match="algo"):
        module.conv2d_plan((2, 4, 9, 9), (8, 4, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, "gemm", 4)


def test_conv_kernel_refuses_a_plan_of_another_geometry_or_algorithm(module):
    x, w = np.ones((1, 2, 5, 5), F32), np.ones((3, 2, 3, 3), F32)
    algo = module.CONV2D_ALGOS[0]
    plan = module.conv2d_plan(x.shape, w.shape, (1, 1), (0, 0, 0, 0), (1, 1), 1, algo, 4)
    kernel = getattr(module, "conv2d_" + algo)
    np.testing.assert_allclose(kernel(x, w, None, (1, 1), (0, 0, 0, 0), (1, 1), 1, plan), 18.0, rtol=1e-5)
    with pytest.raises(ValueError, match="plan"):
        kernel(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1, plan)  # other padding
    with pytest.raises(ValueError, match="plan"):
        kernel(x.astype(np.float64), w.astype(np.float64), None, (1, 1), (0, 0, 0, 0), (1, 1), 1, plan)
    other = module.CONV2D_ALGOS[-1]
    if other != algo:
        with pytest.raises(ValueError, match="plan"):
            getattr(module, "conv2d_" + other)(x, w, None, (1, 1), (0, 0, 0, 0), (1, 1), 1, plan)


def call_pool(module, op="max_pool2d", x=None, k=(2, 2), s=(2, 2), p=(0, 0), d=(1, 1), ceil=False, idx=False,
              cip=True, divisor=None, norm=2.0):
    x = np.ones((1, 2, 6, 6), F32) if x is None else x
    if op == "max_pool2d":
        return module.max_pool2d(x, k, s, p, d, ceil, idx)
    if op == "avg_pool2d":
        return module.avg_pool2d(x, k, s, p, ceil, cip, divisor)
    return module.lp_pool2d(x, norm, k, s, ceil)


@pytest.fixture
def pool(module):
    return lambda **kw: call_pool(module, **kw)


@pytest.mark.parametrize("kwargs, match", [
    (dict(k=(0, 2)), "kernel_size"),
    (dict(s=(2, 0)), "stride"),
    (dict(d=(0, 1)), "dilation"),
    (dict(p=(2, 0)), "padding"),            # more than half the kernel
    (dict(p=(-1, 0)), "padding"),
    (dict(k=(7, 2)), "kernel_size"),        # larger than the input
    (dict(op="lp_pool2d", norm=float("nan")), "norm_type"),
    (dict(op="lp_pool2d", norm=0.0), "norm_type"),
    (dict(x=np.ones((6, 6), F32)), "x must be 4-D"),
    (dict(op="avg_pool2d", divisor=0), "divisor_override"),
    (dict(op="avg_pool2d", divisor=-3), "divisor_override"),
    (dict(op="avg_pool2d", k=(0, 2)), "kernel_size"),
    (dict(op="lp_pool2d", s=(0, 2)), "stride"),
])
def test_pool_bad_values(pool, kwargs, match):
    with pytest.raises(ValueError, match=match):
        pool(**kwargs)


def test_pool_wrong_dtype(pool):
    with pytest.raises(TypeError, match="x"):
        pool(x=np.ones((1, 2, 6, 6), np.int64))


def test_feature_pool_and_lcn_checks(module):
    x = np.ones((1, 4, 5, 5), F32)
    with pytest.raises(ValueError, match="width"):
        module.feature_lp_pool(x, 2.0, 5, 1)
    with pytest.raises(ValueError, match="stride"):
        module.feature_lp_pool(x, 2.0, 2, 0)
    with pytest.raises(ValueError, match="norm_type"):
        module.feature_lp_pool(x, float("inf"), 2, 2)
    with pytest.raises(ValueError, match="kernel_size"):
        module.local_contrast_norm(x, 4, 2.0, 1e-4)
    with pytest.raises(ValueError, match="sigma"):
        module.local_contrast_norm(x, 3, float("nan"), 1e-4)
    with pytest.raises(ValueError, match="eps"):
        module.local_contrast_norm(x, 3, 1.0, -1.0)
    with pytest.raises(TypeError, match="x"):
        module.local_contrast_norm(x.astype(np.int32), 3, 1.0, 1e-4)


def test_thread_count_checks(module):
    if not hasattr(module, "set_num_threads"):
        pytest.skip("this module has no thread count")
    before = module.get_num_threads()
    limit = module.cpu_info()["max_threads"]
    for n in (0, -1, limit + 1, 10000):
        with pytest.raises(ValueError, match="n must be in"):
            module.set_num_threads(n)
    assert module.get_num_threads() == before
