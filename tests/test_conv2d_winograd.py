"""Tests of conv2d(..., algo="winograd"): F(4x4, 3x3) and F(2x2, 3x3) for 3x3 stride-1 layers, against the
float64 reference (reference.conv2d). The shared cases of conv_cases.CASES that it can run (3x3, stride 1,
dilation 1), geometries that reach each path of the kernel (tiles side by side in one row, tiles at the
image's edge, partial chunks and panels, depth blocks, groups), every SIMD path, both tiles, the data
gradient, thread-count independence, non-finite inputs, the plan, auto's choice and the errors.

Float32 tolerances: the error of F(4x4) is larger than direct's (conv2d_winograd.hpp); measured on these
shapes (normal data, unscaled weights) it stays below 1e-5 of max|y| up to C = 64 and below 2e-5 at C = 200."""

import numpy as np
import pytest

import cnnkernels as ck
from cnnkernels import _cpu
import reference
from conv_cases import CASES, make
from reference import assert_close, rel_err

SUPPORTED_ISAS = ck.cpu_info()["supported_isas"]


@pytest.fixture
def restore_threads():
    before = ck.get_num_threads()
    yield
    ck.set_num_threads(before)


def tol(dtype, tile=4, C=1):
    if np.dtype(dtype) == np.float64:
        return 1e-12
    return (1e-5 if C <= 64 else 3e-5) if tile == 4 else 1e-5


def winograd(x, w, b=None, padding=0, groups=1, tile=4):
    """The kernel itself through _cpu, with the tile imposed by the plan; padding (top, bottom, left, right)."""
    pad = (padding,) * 4 if isinstance(padding, int) else padding
    plan = _cpu.conv2d_plan(x.shape, w.shape, (1, 1), pad, (1, 1), groups, "winograd", x.dtype.itemsize,
                            winograd_tile=tile)
    assert plan.info()["winograd_tile"] == tile
    return _cpu.conv2d_winograd(x, w, b, (1, 1), pad, (1, 1), groups, plan)


def runs_winograd(ws, kw):
    return ws[2:] == (3, 3) and kw.get("stride", 1) in (1, (1, 1)) and kw.get("dilation", 1) in (1, (1, 1))


SHARED = sorted(name for name, (xs, ws, kw) in CASES.items() if runs_winograd(ws, kw))


@pytest.mark.parametrize("case", SHARED)
def test_shared_cases(dtype, rng, case):
    xs, ws, kw = CASES[case]
    x, w, b = make(rng, xs, ws, dtype)
    assert_close(ck.conv2d(x, w, b, algo="winograd", **kw), reference.conv2d(x, w, b, **kw), dtype, tol(dtype))


def test_shared_cases_cover_the_paths():
    assert len(SHARED) >= 8, SHARED


# (x shape, weight shape, padding (top, bottom, left, right), groups)
CASES_W = {
    "1x1_input": ((1, 2, 1, 1), (3, 2, 3, 3), (1, 1, 1, 1), 1),
    "kernel_equals_input": ((2, 3, 3, 3), (4, 3, 3, 3), (0, 0, 0, 0), 1),
    "output_not_whole_tiles": ((2, 3, 9, 7), (5, 3, 3, 3), (0, 0, 0, 0), 1),
    "asymmetric_padding": ((1, 4, 10, 11), (6, 4, 3, 3), (0, 3, 2, 1), 1),
    "padding_larger_than_tile": ((1, 2, 4, 5), (2, 2, 3, 3), (6, 5, 7, 4), 1),  # outputs seeing only padding
    "wide_rows": ((2, 3, 12, 150), (5, 3, 3, 3), (1, 1, 1, 1), 1),  # 16+ tiles side by side, interior rows
    "wide_rows_unpadded": ((1, 2, 14, 134), (3, 2, 3, 3), (0, 0, 0, 0), 1),
    "channels_not_whole_vectors": ((2, 19, 11, 13), (17, 19, 3, 3), (1, 1, 1, 1), 1),
    "panels_and_strips": ((3, 8, 40, 37), (31, 8, 3, 3), (1, 1, 1, 1), 1),  # K past 2 micro-panels
    "depth_blocks": ((1, 200, 6, 6), (3, 200, 3, 3), (1, 1, 1, 1), 1),  # C > the micro-kernel's kc
    "groups": ((2, 6, 9, 8), (9, 2, 3, 3), (1, 1, 1, 1), 3),
    "depthwise": ((2, 5, 10, 10), (5, 1, 3, 3), (1, 1, 1, 1), 5),
    "batch_larger_than_threads": ((7, 3, 6, 5), (4, 3, 3, 3), (1, 0, 0, 1), 1),
    "many_chunks": ((2, 64, 70, 70), (64, 64, 3, 3), (1, 1, 1, 1), 1),  # more tiles than one chunk holds
}


@pytest.mark.parametrize("tile", [2, 4])
@pytest.mark.parametrize("case", sorted(CASES_W))
def test_geometries(dtype, rng, case, tile):
    xs, ws, pad, groups = CASES_W[case]
    x, w, b = make(rng, xs, ws, dtype)
    padding = ((pad[0], pad[1]), (pad[2], pad[3]))
    ref = reference.conv2d(x, w, b, padding=padding, groups=groups)
    assert_close(winograd(x, w, b, pad, groups, tile), ref, dtype, tol(dtype, tile, xs[1] // groups))


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
@pytest.mark.parametrize("tile", [2, 4])
def test_every_simd_path(isa, tile, dtype, rng):
    if isa not in SUPPORTED_ISAS:
        pytest.skip(f"this CPU has no {isa} path")
    before = ck.cpu_info()["isa"]
    _cpu.set_isa(isa)
    try:
        for case in ("wide_rows", "channels_not_whole_vectors", "groups", "panels_and_strips"):
            xs, ws, pad, groups = CASES_W[case]
            x, w, b = make(rng, xs, ws, dtype)
            ref = reference.conv2d(x, w, b, padding=((pad[0], pad[1]), (pad[2], pad[3])), groups=groups)
            assert_close(winograd(x, w, b, pad, groups, tile), ref, dtype, tol(dtype, tile))
    finally:
        _cpu.set_isa(before)


def test_f2_is_as_accurate_as_direct_and_f4_within_its_bound(rng):
    x = rng.standard_normal((2, 64, 28, 28)).astype(np.float32)
    w = (rng.standard_normal((32, 64, 3, 3)) / 24).astype(np.float32)
    ref = reference.conv2d(x, w, padding=1)
    direct = rel_err(ck.conv2d(x, w, padding=1, algo="direct").astype(np.float64), ref)
    f2 = rel_err(winograd(x, w, padding=1, tile=2).astype(np.float64), ref)
    f4 = rel_err(winograd(x, w, padding=1, tile=4).astype(np.float64), ref)
    assert f2 <= 2 * direct + 1e-7 and f2 < f4 <= 1e-5, (direct, f2, f4)


def test_results_identical_for_any_thread_count(rng, restore_threads):
    x, w, b = make(rng, (3, 24, 30, 29), (20, 24, 3, 3), np.float32)
    ck.set_num_threads(1)
    one = ck.conv2d(x, w, b, padding=1, algo="winograd")
    ck.set_num_threads(2)
    two = ck.conv2d(x, w, b, padding=1, algo="winograd")
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("xs, ws, kw", [
    ((2, 5, 9, 11), (7, 5, 3, 3), dict(padding=1)),
    ((1, 6, 13, 10), (4, 3, 3, 3), dict(padding=((0, 2), (3, 1)), groups=2)),
    ((3, 20, 7, 18), (18, 20, 3, 3), dict(padding=0)),
], ids=["pad1", "asym_groups", "unpadded"])
def test_data_gradient(dtype, rng, xs, ws, kw):
    x, w, _ = make(rng, xs, ws, dtype, bias=False)
    y_shape = reference.conv2d(x, w, **kw).shape
    gy = rng.standard_normal(y_shape).astype(dtype)
    gx, gw, gb = ck.conv2d_backward(gy, x, w, algo="winograd", **kw)
    assert ck.conv2d_plan(x.shape, w.shape, dtype=dtype, algo="winograd", direction="backward_input",
                          **kw)["algo"] == "winograd"
    rx, rw, rb = ck.conv2d_backward(gy.astype(np.float64), x.astype(np.float64), w.astype(np.float64),
                                    algo="direct", **kw)
    assert_close(gx, rx, dtype, tol(dtype))
    assert_close(gw, rw, dtype)  # the weight gradient runs as "auto" chooses
    assert_close(gb, rb, dtype)


def test_no_weight_gradient():
    with pytest.raises(ValueError, match="winograd.*weight gradient"):
        ck.conv2d_plan((1, 2, 5, 5), (3, 2, 3, 3), algo="winograd", direction="backward_weight")


def test_non_finite_inputs_spread_over_their_tiles(rng):
    # A NaN at input (5, 6) of a 12 x 12 image, padding 1: of the 3 x 3 tiles of 4 x 4 outputs, only tile
    # (1, 1) (outputs 4-7 x 4-7) has it in its 6 x 6 window (input rows and columns 3-8). Direct's NaN outputs
    # (4-6 x 5-7) lie inside it; the whole tile is NaN, every other output as direct computes it.
    x, w, _ = make(rng, (1, 2, 12, 12), (3, 2, 3, 3), np.float32, bias=False)
    x[0, 1, 5, 6] = np.nan
    y = ck.conv2d(x, w, padding=1, algo="winograd")
    direct = ck.conv2d(x, w, padding=1, algo="direct")
    tile = np.zeros(y.shape, bool)
    tile[..., 4:8, 4:8] = True
    assert (np.isnan(direct) <= tile).all()
    np.testing.assert_array_equal(np.isnan(y), tile)
    np.testing.assert_allclose(y[~tile], direct[~tile], rtol=1e-4, atol=1e-5)


def test_plan_and_auto():
    info = ck.conv2d_plan((4, 256, 56, 56), (256, 256, 3, 3), padding=1, algo="winograd")
    assert info["algo"] == "winograd" and info["winograd_tile"] == 4 and info["workspace_bytes"] > 0
    assert ck.conv2d_plan((4, 256, 56, 56), (256, 256, 3, 3), padding=1)["algo"] == "winograd"  # VGG conv3_2
    assert ck.conv2d_plan((8, 256, 13, 13), (384, 256, 3, 3), padding=1)["algo"] == "winograd"  # AlexNet conv3
    assert ck.conv2d_plan((2, 5, 97, 89), (11, 5, 3, 3), padding=1)["algo"] != "winograd"  # too few channels
    assert ck.conv2d_plan((4, 64, 32, 32), (64, 64, 3, 3), stride=2, padding=1)["algo"] != "winograd"
    assert ck.conv2d_plan((4, 64, 32, 32), (64, 64, 5, 5), padding=2)["algo"] != "winograd"
    with pytest.raises(ValueError, match="winograd_tile"):
        _cpu.conv2d_plan((1, 2, 5, 5), (3, 2, 3, 3), (1, 1), (0, 0, 0, 0), (1, 1), 1, "winograd", 4,
                         winograd_tile=3)


@pytest.mark.parametrize("kw, what", [(dict(stride=2), "stride"), (dict(dilation=2), "dilation"),
                                      (dict(w=(3, 2, 5, 5)), "3x3"), (dict(w=(3, 2, 3, 1)), "3x3")])
def test_unsupported_geometries_are_value_errors(kw, what):
    w = np.ones(kw.pop("w", (3, 2, 3, 3)), np.float32)
    x = np.ones((1, 2, 8, 8), np.float32)
    with pytest.raises(ValueError, match=f"winograd.*{what}|winograd.*3x3"):
        ck.conv2d(x, w, algo="winograd", **kw)
    with pytest.raises(ValueError, match="winograd"):
        ck.conv2d_plan(x.shape, w.shape, algo="winograd", **kw)


def test_batch_zero_and_no_channels(rng):
    assert ck.conv2d(np.ones((0, 2, 5, 5), np.float32), np.ones((3, 2, 3, 3), np.float32),
                     algo="winograd").shape == (0, 3, 3, 3)
    b = rng.standard_normal(4).astype(np.float32)
    y = ck.conv2d(np.ones((2, 4, 5, 5), np.float32), np.ones((4, 1, 3, 3), np.float32), b, padding=1, groups=4,
                  algo="winograd")
    assert_close(y, reference.conv2d(np.ones((2, 4, 5, 5)), np.ones((4, 1, 3, 3)), b, padding=1, groups=4),
                 np.float32)


def test_noncontiguous_and_readonly_inputs(rng):
    x, w, b = make(rng, (2, 6, 11, 13), (5, 6, 3, 3), np.float32)
    xt = np.asfortranarray(x)
    w.setflags(write=False)
    ref = reference.conv2d(x, w, b, padding=1)
    assert_close(ck.conv2d(xt, w, b, padding=1, algo="winograd"), ref, np.float32)
    assert_close(ck.conv2d(x[:, ::-1], w[:, ::-1], b, padding=1, algo="winograd"),
                 reference.conv2d(x[:, ::-1], w[:, ::-1], b, padding=1), np.float32)


def test_not_on_cuda_backends():
    x, w = np.ones((1, 2, 5, 5), np.float32), np.ones((3, 2, 3, 3), np.float32)
    for name in ("cuda-emu", "cuda"):
        if name in ck.available_backends():
            assert "winograd" not in ck.get_backend(name).algorithms
            with pytest.raises(NotImplementedError, match="winograd"):
                ck.conv2d(x, w, algo="winograd", backend=name)


def test_transformed_weights_are_reused_only_for_equal_weights(rng):
    # The kernel keeps the last call's transformed weights (per thread) and reuses them when the weights are
    # equal byte for byte: an in-place change, another dtype, tile, SIMD path or geometry transforms again.
    x, w, b = make(rng, (2, 16, 12, 12), (24, 16, 3, 3), np.float32)
    ck.release_workspace()
    first = winograd(x, w, b, 1)
    np.testing.assert_array_equal(winograd(x, w, b, 1), first)
    w[3, 5, 1, 2] += 1.0  # in place: same pointer, new values
    assert_close(winograd(x, w, b, 1), reference.conv2d(x, w, b, padding=1), np.float32, tol(np.float32))
    assert_close(winograd(x, w, b, 1, tile=2), reference.conv2d(x, w, b, padding=1), np.float32, tol(np.float32, 2))
    x2 = x[:, :8].copy()
    w2 = w.reshape(48, 8, 3, 3).copy()  # the same bytes, another geometry
    assert_close(winograd(x2, w2, None, 1), reference.conv2d(x2, w2, padding=1), np.float32, tol(np.float32))
    before = ck.cpu_info()["isa"]
    try:
        for isa in SUPPORTED_ISAS:
            _cpu.set_isa(isa)
            assert_close(winograd(x, w, b, 1), reference.conv2d(x, w, b, padding=1), np.float32, tol(np.float32))
    finally:
        _cpu.set_isa(before)
    ck.release_workspace()
    assert_close(winograd(x, w, b, 1), reference.conv2d(x, w, b, padding=1), np.float32, tol(np.float32))
