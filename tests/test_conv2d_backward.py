"""Tests of ck.conv2d_backward (gradients of conv2d with respect to x, weight and bias) and of
ck.conv2d_plan(direction=...).

Every gradient is checked in float64 against central finite differences of the float64 forward
reference.conv2d (reference.numerical_grad), and in float32 and float64 against the explicit adjoint
loops reference.conv2d_backward, for every algorithm (the `algo` fixture) on edge geometries: 1x1
inputs, kernel equal to the (padded) input, stride larger than the kernel or the input, dilation,
groups (K/groups = 1, depthwise, depthwise with multiplier), every padding form (int, pair,
((top, bottom), (left, right)) incl. ((1, 0), (2, 1)), "same" with odd and even kernels, "valid"),
odd sizes, batch 1 and 9 (more than the threads), channel counts off the vector widths. Then: each
`needs` subset (None where left out), batch 0, non-contiguous / read-only inputs, positional
arguments, fresh results, thread counts, the plans of each direction, torch autograd (skipped without
torch) and the bad arguments (grad_out's shape and dtype, `needs`, and the forward's own checks).
"""

import itertools
import re
import zlib

import numpy as np
import pytest

import cnnkernels as ck
import conv_cases
import reference
from reference import LAYOUTS, TOL, assert_close, assert_unchanged, snapshot

F64 = np.dtype(np.float64)
FD_TOL = 1e-7  # conv2d is linear in x, weight and bias: central differences are exact up to rounding
NEEDS_ALL = ("input", "weight", "bias")

# name -> (x shape, weight shape, kwargs): the forward's edge geometries (conv_cases.CASES, small enough
# for finite differences of every element) and those the gradients need besides
CASES = {
    **conv_cases.CASES,
    "groups_one_filter_each": ((1, 4, 5, 5), (2, 2, 3, 3), dict(groups=2, padding=1)),  # K/groups = 1
    "asym_padding_1020": ((1, 2, 6, 7), (3, 2, 3, 3), dict(padding=((1, 0), (2, 1)))),
    "asym_padding_strided": ((1, 2, 6, 7), (3, 2, 3, 2), dict(padding=((1, 0), (2, 1)), stride=2)),
    "asym_padding_wide": ((1, 2, 5, 6), (3, 2, 3, 3), dict(padding=((1, 2), (0, 3)))),
    "batch9": ((9, 3, 4, 5), (4, 3, 3, 3), dict(padding=1, stride=2)),
    "channels_7_5": ((2, 7, 4, 5), (5, 7, 3, 3), dict(padding=1)),
    "channels_17_9": ((1, 17, 4, 4), (9, 17, 2, 3), dict(padding=(1, 0))),
}

# larger problems (no finite differences): FFT tiles, the direct kernel's interior register tiles and
# border outputs, im2col's cache blocks
LARGE_CASES = {
    "fft_tiles_5x5": ((2, 3, 26, 23), (4, 3, 5, 5), dict(padding=2)),
    "large_image_pad1": ((1, 3, 40, 37), (16, 3, 3, 3), dict(padding=1)),
    "large_asym_dilated_strided": ((2, 4, 33, 29), (9, 4, 3, 4), dict(padding=((2, 0), (1, 3)), dilation=2, stride=(2, 3))),
    "many_channels_groups": ((3, 24, 9, 9), (36, 8, 3, 3), dict(groups=3, padding="same")),
    "large_kernel": ((1, 2, 20, 20), (3, 2, 9, 7), dict(padding=(4, 2))),
    # direct's weight gradient runs the forward direct kernel on the traded problem for K/g >= 16 and
    # windows of 16 taps or more (the others take its dot products)
    "direct_traded_weight_gradient": ((2, 3, 12, 11), (16, 3, 5, 4), dict(padding=(2, 1))),
    "direct_traded_grouped_strided": ((2, 4, 15, 14), (32, 2, 4, 5),
                                      dict(groups=2, stride=(2, 1), dilation=(1, 2), padding=((1, 0), (2, 1)))),
    # im2col's weight gradient builds its column matrix in blocks of 2**21 / depth pixels: with depth
    # 20*11*11 a block ends inside an output row, where a tap's inside columns may begin past its end.
    "column_blocks_split_rows": ((2, 20, 24, 24), (3, 20, 11, 11), dict(padding=5)),
}


def make(rng, xs, ws, dtype):
    """Random x and weight of `dtype` (make_grad_out draws grad_out)."""
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    return x, w


def out_shape(xs, ws, kw):
    return reference.conv2d(np.zeros(xs), np.zeros(ws), **kw).shape


def make_grad_out(rng, xs, ws, kw, dtype):
    return rng.standard_normal(out_shape(xs, ws, kw)).astype(dtype)


def run_backward(backend, go, x, w, **kw):
    """ck.conv2d_backward through the backend; checks that no input was modified."""
    gb_, xb, wb = backend.asarray(go), backend.asarray(x), backend.asarray(w)
    before = snapshot(go, x, w)
    res = backend.ck.conv2d_backward(gb_, xb, wb, **kw)
    assert_unchanged(before, [backend.to_numpy(gb_), backend.to_numpy(xb), backend.to_numpy(wb)])
    assert isinstance(res, tuple) and len(res) == 3, f"expected a 3-tuple, got {type(res).__name__}"
    return tuple(None if r is None else backend.to_numpy(r) for r in res)


def check_grads(res, ref, dtype, tol=None):
    for name, got, exp in zip(("grad_input", "grad_weight", "grad_bias"), res, ref):
        assert got is not None, f"{name} is None"
        try:
            assert_close(got, exp, dtype, tol)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from None


# --------------------------------------------------------------------------
# finite differences (float64)
# --------------------------------------------------------------------------

_FD_CACHE = {}


def fd_problem(case):
    """Fixed float64 data of a case and the finite-difference gradients of sum(grad_out * conv2d)."""
    if case not in _FD_CACHE:
        xs, ws, kw = CASES[case]
        rng = np.random.default_rng(zlib.crc32(case.encode()))
        x, w = make(rng, xs, ws, F64)
        b = rng.standard_normal(ws[0])
        go = make_grad_out(rng, xs, ws, kw, F64)
        # samples are independent; so are filters (output channel k depends on weight[k] only: with the
        # output's N and K axes swapped, the K axes line up) and bias entries
        swap = lambda a: np.swapaxes(a, 0, 1)  # noqa: E731
        fd = (
            reference.numerical_grad(lambda v: reference.conv2d(v, w, b, **kw), x, go, h=1e-3, independent=(0,)),
            reference.numerical_grad(lambda v: swap(reference.conv2d(x, v, b, **kw)), w, swap(go), h=1e-3, independent=(0,)),
            reference.numerical_grad(lambda v: swap(reference.conv2d(x, w, v, **kw)), b, swap(go), h=1e-3, independent=(0,)),
        )
        _FD_CACHE[case] = (x, w, go, fd)
    return _FD_CACHE[case]


@pytest.mark.parametrize("case", list(CASES))
def test_reference_conv2d_backward_matches_finite_differences(case):
    x, w, go, fd = fd_problem(case)
    kw = CASES[case][2]
    ref = reference.conv2d_backward(go, x, w, **kw)
    check_grads(ref, fd, F64, FD_TOL)


@pytest.mark.parametrize("case", list(CASES))
def test_conv2d_backward_matches_finite_differences(backend, algo, case):
    x, w, go, fd = fd_problem(case)
    kw = CASES[case][2]
    res = run_backward(backend, go, x, w, algo=algo, **kw)
    check_grads(res, fd, F64, FD_TOL)


# --------------------------------------------------------------------------
# against the adjoint loops, both dtypes
# --------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES) + list(LARGE_CASES))
def test_conv2d_backward_matches_reference(backend, algo, dtype, rng, case):
    xs, ws, kw = CASES[case] if case in CASES else LARGE_CASES[case]
    x, w = make(rng, xs, ws, dtype)
    go = make_grad_out(rng, xs, ws, kw, dtype)
    res = run_backward(backend, go, x, w, algo=algo, **kw)
    ref = reference.conv2d_backward(go, x, w, **kw)
    check_grads(res, ref, dtype)
    assert res[0].shape == x.shape and res[1].shape == w.shape and res[2].shape == (ws[0],)


def test_conv2d_backward_default_arguments(backend, dtype, rng):
    x, w = make(rng, (2, 3, 5, 6), (4, 3, 2, 3), dtype)
    go = make_grad_out(rng, x.shape, w.shape, {}, dtype)
    res = backend.ck.conv2d_backward(backend.asarray(go), backend.asarray(x), backend.asarray(w))
    check_grads(tuple(backend.to_numpy(r) for r in res), reference.conv2d_backward(go, x, w), dtype)


def test_conv2d_backward_positional_arguments_in_forward_order(backend, dtype, rng):
    # (grad_out, x, weight, stride, padding, dilation, groups, algo, needs)
    kw = dict(stride=2, padding=((1, 0), (2, 1)), dilation=(1, 2), groups=2)
    x, w = make(rng, (2, 4, 7, 8), (6, 2, 3, 2), dtype)
    go = make_grad_out(rng, x.shape, w.shape, kw, dtype)
    ref = reference.conv2d_backward(go, x, w, **kw)
    B = backend
    res = B.ck.conv2d_backward(B.asarray(go), B.asarray(x), B.asarray(w), 2, ((1, 0), (2, 1)), (1, 2), 2, "auto", NEEDS_ALL)
    check_grads(tuple(B.to_numpy(r) for r in res), ref, dtype)


def test_conv2d_backward_bias_gradient_is_sum_of_grad_out(backend, algo, dtype, rng):
    x, w = make(rng, (3, 2, 6, 5), (5, 2, 3, 3), dtype)
    go = make_grad_out(rng, x.shape, w.shape, dict(stride=2), dtype)
    _, _, gb = run_backward(backend, go, x, w, stride=2, algo=algo, needs=("bias",))
    assert_close(gb, go.astype(np.float64).sum(axis=(0, 2, 3)), dtype)


def test_conv2d_backward_untouched_inputs_get_exact_zeros(backend, algo, dtype, rng):
    # stride 3 with a 2x2 kernel skips every third row and column; with H = 10 (P = 3 windows, rows
    # 0-1, 3-4, 6-7) also the last two rows
    x, w = make(rng, (2, 2, 10, 8), (3, 2, 2, 2), dtype)
    go = make_grad_out(rng, x.shape, w.shape, dict(stride=3), dtype)
    gx, _, _ = run_backward(backend, go, x, w, stride=3, algo=algo)
    assert (gx[:, :, 2::3, :] == 0).all() and (gx[:, :, :, 2::3] == 0).all()
    assert (gx[:, :, 8:, :] == 0).all()
    touched = np.ones((10, 8), bool)
    touched[2::3] = touched[:, 2::3] = touched[8:] = False
    assert (gx[:, :, touched] != 0).all()


def test_conv2d_backward_identity_kernel(backend, algo, dtype, rng):
    # 1x1 identity conv: grad_input is grad_out itself, but a fresh array
    x = rng.standard_normal((2, 3, 4, 4)).astype(dtype)
    w = np.eye(3, dtype=dtype).reshape(3, 3, 1, 1)
    go = rng.standard_normal((2, 3, 4, 4)).astype(dtype)
    gx, gw, gb = run_backward(backend, go, x, w, algo=algo)
    assert_close(gx, go.astype(np.float64), dtype)
    assert not np.shares_memory(gx, go) and not np.shares_memory(gx, x)
    assert_close(gw, np.einsum("nkhw,nchw->kc", go.astype(np.float64), x.astype(np.float64))[:, :, None, None], dtype)


# --------------------------------------------------------------------------
# needs
# --------------------------------------------------------------------------

NEEDS_SUBSETS = [s for n in range(4) for s in itertools.combinations(NEEDS_ALL, n)]


@pytest.mark.parametrize("needs", NEEDS_SUBSETS, ids=lambda s: "+".join(s) or "none")
def test_conv2d_backward_needs_subsets(backend, algo, dtype, rng, needs):
    kw = dict(stride=(2, 1), padding=((1, 0), (2, 1)), groups=2)
    x, w = make(rng, (2, 4, 7, 6), (4, 2, 3, 3), dtype)
    go = make_grad_out(rng, x.shape, w.shape, kw, dtype)
    ref = reference.conv2d_backward(go, x, w, **kw)
    res = run_backward(backend, go, x, w, algo=algo, needs=needs, **kw)
    for name, got, exp in zip(NEEDS_ALL, res, ref):
        if name in needs:
            assert got is not None, f"{name} requested, got None"
            assert_close(got, exp, dtype)
        else:
            assert got is None, f"{name} not requested, got {type(got).__name__}"


@pytest.mark.parametrize("needs", [["bias", "input"], ("weight", "input"), ("bias", "weight", "input"), ("input",)],
                         ids=["list_bias_input", "weight_input", "reversed", "input"])
def test_conv2d_backward_needs_order_and_kind(backend, dtype, rng, needs):
    # the result is always (grad_input, grad_weight, grad_bias), whatever the order of `needs`
    x, w = make(rng, (1, 2, 5, 5), (3, 2, 3, 3), dtype)
    go = make_grad_out(rng, x.shape, w.shape, dict(padding=1), dtype)
    ref = reference.conv2d_backward(go, x, w, padding=1)
    res = run_backward(backend, go, x, w, padding=1, needs=needs)
    for name, got, exp in zip(NEEDS_ALL, res, ref):
        if name in needs:
            assert_close(got, exp, dtype)
        else:
            assert got is None


# --------------------------------------------------------------------------
# batch 0, layouts, read-only, threads
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "xs,ws,kw",
    [
        ((0, 3, 5, 5), (4, 3, 3, 3), dict()),
        ((0, 4, 6, 7), (2, 2, 2, 3), dict(groups=2, stride=2, padding=((1, 0), (2, 1)))),
        ((0, 2, 6, 7), (3, 2, 4, 2), dict(padding="same")),
    ],
)
def test_conv2d_backward_batch_zero(backend, algo, dtype, xs, ws, kw):
    x = np.zeros(xs, dtype)
    w = np.ones(ws, dtype)
    go = np.zeros(out_shape(xs, ws, kw), dtype)
    gx, gw, gb = run_backward(backend, go, x, w, algo=algo, **kw)
    assert gx.shape == xs and gx.dtype == dtype
    assert gw.shape == ws and gw.dtype == dtype and (gw == 0).all()
    assert gb.shape == (ws[0],) and gb.dtype == dtype and (gb == 0).all()


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_conv2d_backward_noncontiguous(backend, dtype, rng, layout):
    kw = dict(padding=(1, 0), stride=(1, 2), groups=2)
    x = LAYOUTS[layout](rng, (3, 4, 7, 6), dtype)
    w = LAYOUTS[layout](rng, (4, 2, 3, 2), dtype)
    go = LAYOUTS[layout](rng, out_shape(x.shape, w.shape, kw), dtype)
    assert not x.flags.c_contiguous and not go.flags.c_contiguous
    res = run_backward(backend, go, x, w, **kw)
    check_grads(res, reference.conv2d_backward(go, x, w, **kw), dtype)


def test_conv2d_backward_readonly_inputs(backend, algo, dtype, rng):
    x, w = make(rng, (2, 3, 5, 5), (2, 3, 3, 3), dtype)
    go = make_grad_out(rng, x.shape, w.shape, dict(padding=1), dtype)
    for a in (x, w, go):
        a.setflags(write=False)
    res = run_backward(backend, go, x, w, algo=algo, padding=1)
    check_grads(res, reference.conv2d_backward(go, x, w, padding=1), dtype)


@pytest.mark.parametrize("threads", [1, 3, 4])
def test_conv2d_backward_thread_counts(backend, algo, dtype, rng, threads):
    # batch 9 over 1, 3 or 4 threads: each thread's share of grad_weight must be summed once
    kw = dict(padding=1, groups=3)
    x, w = make(rng, (9, 6, 6, 5), (9, 2, 3, 3), dtype)
    go = make_grad_out(rng, x.shape, w.shape, kw, dtype)
    old = ck.get_num_threads()
    try:
        ck.set_num_threads(min(threads, ck.cpu_info()["max_threads"]))
        res = run_backward(backend, go, x, w, algo=algo, **kw)
    finally:
        ck.set_num_threads(old)
    check_grads(res, reference.conv2d_backward(go, x, w, **kw), dtype)


# --------------------------------------------------------------------------
# conv2d_plan(direction=...)
# --------------------------------------------------------------------------

DIRECTIONS = ("forward", "backward_input", "backward_weight")
PLAN_CASES = ["basic_3x3_pad1", "rect_stride_pad_dilation", "depthwise_multiplier", "asym_padding_1020", "same_even"]


@pytest.mark.parametrize("case", PLAN_CASES + list(LARGE_CASES))
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_conv2d_plan_direction_auto_picks_an_algorithm(backend, dtype, case, direction):
    xs, ws, kw = CASES[case] if case in CASES else LARGE_CASES[case]
    plan = ck.conv2d_plan(xs, ws, dtype=dtype.name, direction=direction, backend=backend.name, **kw)
    assert isinstance(plan, dict)
    assert plan["algo"] in backend.algorithms, plan


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_conv2d_plan_direction_explicit_algo(backend, algo, direction):
    xs, ws, kw = CASES["groups_dilation_stride"]
    plan = ck.conv2d_plan(xs, ws, algo=algo, direction=direction, backend=backend.name, **kw)
    if algo == "auto":
        assert plan["algo"] in backend.algorithms
    else:
        assert plan["algo"] == algo


def test_conv2d_plan_default_direction_is_forward(backend):
    xs, ws, kw = LARGE_CASES["fft_tiles_5x5"]
    assert ck.conv2d_plan(xs, ws, backend=backend.name, **kw)["algo"] == \
        ck.conv2d_plan(xs, ws, direction="forward", backend=backend.name, **kw)["algo"]


@pytest.mark.parametrize("case", PLAN_CASES[:3] + ["fft_tiles_5x5"])
def test_conv2d_plans_of_each_gradient_run_and_agree(backend, dtype, rng, case):
    # each gradient with the algorithm its direction's plan names gives the same as algo="auto"
    xs, ws, kw = CASES[case] if case in CASES else LARGE_CASES[case]
    x, w = make(rng, xs, ws, dtype)
    go = make_grad_out(rng, xs, ws, kw, dtype)
    ref = reference.conv2d_backward(go, x, w, **kw)
    auto = run_backward(backend, go, x, w, **kw)
    check_grads(auto, ref, dtype)
    for direction, needs, i in (("backward_input", ("input",), 0), ("backward_weight", ("weight",), 1)):
        a = ck.conv2d_plan(xs, ws, dtype=dtype.name, direction=direction, backend=backend.name, **kw)["algo"]
        got = run_backward(backend, go, x, w, algo=a, needs=needs, **kw)[i]
        assert_close(got, ref[i], dtype)


@pytest.mark.parametrize("direction", ["backward", "input", "", None, 1])
def test_conv2d_plan_bad_direction(backend, direction):
    with pytest.raises((ValueError, TypeError), match="direction"):
        ck.conv2d_plan((1, 2, 5, 5), (3, 2, 3, 3), direction=direction, backend=backend.name)


# --------------------------------------------------------------------------
# torch autograd (skipped without torch)
# --------------------------------------------------------------------------


def torch_conv2d_grads(go, x, w, stride=1, padding=0, dilation=1, groups=1):
    """(grad_x, grad_weight, grad_bias) by torch autograd in float64; asymmetric padding as F.pad."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional

    def T(a, grad=True):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64)).requires_grad_(grad)

    with torch_single_thread(torch):
        return _torch_conv2d_grads(torch, F, T, go, x, w, stride, padding, dilation, groups)


def torch_single_thread(torch):
    """torch on one thread for these tiny problems: alternating with our OpenMP threads, torch's own
    would wait for cores that ours keep spinning on (100x slower)."""
    import contextlib

    @contextlib.contextmanager
    def ctx():
        old = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(old)

    return ctx()


def _torch_conv2d_grads(torch, F, T, go, x, w, stride, padding, dilation, groups):
    xt, wt = T(x), T(w)
    bt = torch.zeros(w.shape[0], dtype=torch.float64, requires_grad=True)
    inp = xt
    if isinstance(padding, (tuple, list)) and isinstance(padding[0], (tuple, list)):
        (t, b), (l, r) = padding
        inp = F.pad(xt, (l, r, t, b))
        padding = 0
    elif isinstance(padding, list):
        padding = tuple(padding)
    stride = tuple(stride) if isinstance(stride, list) else stride
    y = F.conv2d(inp, wt, bt, stride, padding, dilation, groups)
    assert y.shape == go.shape
    y.backward(T(go, False))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", list(CASES) + ["fft_tiles_5x5", "large_asym_dilated_strided"])
def test_conv2d_backward_vs_torch(backend, algo, rng, case):
    # float64 (float32 against the reference above)
    pytest.importorskip("torch")
    xs, ws, kw = CASES[case] if case in CASES else LARGE_CASES[case]
    x, w = make(rng, xs, ws, F64)
    go = make_grad_out(rng, xs, ws, kw, F64)
    res = run_backward(backend, go, x, w, algo=algo, **kw)
    check_grads(res, torch_conv2d_grads(go, x, w, **kw), F64)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", ["same_even", "asym_padding_1020", "depthwise", "rect_stride_pad_dilation"])
def test_reference_conv2d_backward_vs_torch(rng, case):
    pytest.importorskip("torch")
    xs, ws, kw = CASES[case]
    x, w = make(rng, xs, ws, F64)
    go = make_grad_out(rng, xs, ws, kw, F64)
    check_grads(reference.conv2d_backward(go, x, w, **kw), torch_conv2d_grads(go, x, w, **kw), F64)


# --------------------------------------------------------------------------
# bad arguments
# --------------------------------------------------------------------------

_rng = np.random.default_rng(11)
X = _rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
W = _rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
GO = _rng.standard_normal((2, 4, 4, 4)).astype(np.float32)  # the forward's output (2, 4, 4, 4)


def bwd(go=GO, x=X, w=W, **kw):
    def fn(B):
        conv = lambda a: B.asarray(a) if isinstance(a, np.ndarray) else a  # noqa: E731
        return B.ck.conv2d_backward(conv(go), conv(x), conv(w), **kw)
    return fn


def shape_error(go, expected, **kw):
    """ValueError naming grad_out and the expected shape."""
    return (bwd(go=go, **kw), ValueError, [r"grad_out", re.escape(str(expected))])


f32, f64 = np.float32, np.float64
GRAD_OUT_ERRORS = {
    "wrong_N": shape_error(GO[:1], (2, 4, 4, 4)),
    "wrong_K": shape_error(GO[:, :3], (2, 4, 4, 4)),
    "wrong_P": shape_error(GO[:, :, :3], (2, 4, 4, 4)),
    "wrong_Q": shape_error(np.ones((2, 4, 4, 5), f32), (2, 4, 4, 4)),
    "input_shape_not_output_shape": shape_error(np.ones((2, 4, 6, 6), f32), (2, 4, 4, 4)),
    "stride_changes_output": shape_error(GO, (2, 4, 2, 2), stride=2),
    "padding_changes_output": shape_error(GO, (2, 4, 6, 6), padding=1),
    "asym_padding_changes_output": shape_error(GO, (2, 4, 5, 7), padding=((1, 0), (2, 1))),
    "rank3": shape_error(GO[0], (2, 4, 4, 4)),
    "rank5": shape_error(GO[None], (2, 4, 4, 4)),
    "float64_with_float32_x": (bwd(go=GO.astype(f64)), TypeError, [r"grad_out"]),
    "float32_with_float64_x": (bwd(go=GO, x=X.astype(f64), w=W.astype(f64)), TypeError, [r"grad_out"]),
    "int32": (bwd(go=GO.astype(np.int32)), TypeError, [r"grad_out"]),
    "float16": (bwd(go=GO.astype(np.float16)), TypeError, [r"grad_out"]),
    "list": (bwd(go=GO.tolist()), TypeError, [r"grad_out"]),
    "None": (bwd(go=None), TypeError, [r"grad_out"]),
    "needs_unknown": (bwd(needs=("input", "foo")), ValueError, [r"needs"]),
    "needs_plural": (bwd(needs=("inputs",)), ValueError, [r"needs"]),
    "needs_grad_prefix": (bwd(needs=("grad_weight",)), ValueError, [r"needs"]),
    "needs_not_a_string": (bwd(needs=("input", 1)), (ValueError, TypeError), [r"needs"]),
}

# the forward's own checks, through conv2d_backward
FORWARD_ERRORS = {
    "x_list": (bwd(x=X.tolist()), TypeError, [r"\bx\b"]),
    "x_int32": (bwd(x=X.astype(np.int32)), TypeError, [r"\bx\b"]),
    "x_rank3": (bwd(x=X[0]), ValueError, [r"\bx\b"]),
    "weight_float64": (bwd(w=W.astype(f64)), TypeError, [r"weight"]),
    "weight_C_mismatch": (bwd(w=W[:, :2]), ValueError, [r"weight"]),
    "kernel_larger_than_input": (bwd(w=np.ones((4, 3, 7, 3), f32)), ValueError, [r"kernel|weight"]),
    "stride_zero": (bwd(stride=0), ValueError, [r"stride"]),
    "stride_float": (bwd(stride=1.5), TypeError, [r"stride"]),
    "dilation_zero": (bwd(dilation=0), ValueError, [r"dilation"]),
    "padding_negative": (bwd(padding=-1), ValueError, [r"padding"]),
    "padding_pairs_negative": (bwd(padding=((0, 0), (-1, 0))), ValueError, [r"padding"]),
    "padding_unknown_string": (bwd(padding="full"), ValueError, [r"padding"]),
    "padding_same_stride2": (bwd(padding="same", stride=2), ValueError, [r"padding|stride"]),
    "groups_not_dividing": (bwd(groups=2), ValueError, [r"groups|weight"]),
    "groups_zero": (bwd(groups=0), ValueError, [r"groups"]),
    "algo_unknown": (bwd(algo="fast"), ValueError, [r"algo"]),
}


@pytest.mark.parametrize("fn,exc,patterns", list(GRAD_OUT_ERRORS.values()), ids=list(GRAD_OUT_ERRORS))
def test_conv2d_backward_bad_grad_out_and_needs(backend, fn, exc, patterns):
    with pytest.raises(exc) as info:
        fn(backend)
    for pat in patterns:
        assert re.search(pat, str(info.value)), f"{pat!r} not in {str(info.value)!r}"


@pytest.mark.parametrize("fn,exc,patterns", list(FORWARD_ERRORS.values()), ids=list(FORWARD_ERRORS))
def test_conv2d_backward_bad_forward_arguments(backend, fn, exc, patterns):
    with pytest.raises(exc) as info:
        fn(backend)
    for pat in patterns:
        assert re.search(pat, str(info.value)), f"{pat!r} not in {str(info.value)!r}"


def test_conv2d_backward_valid_after_errors(backend):
    res = bwd()(backend)
    ref = reference.conv2d_backward(GO, X, W)
    check_grads(tuple(backend.to_numpy(r) for r in res), ref, np.float32, TOL[np.dtype(np.float32)])
