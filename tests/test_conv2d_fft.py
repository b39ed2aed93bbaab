"""Tests of conv2d(..., algo="fft") beyond the shared geometry tests of test_conv2d.py (which run every
algorithm in conftest.ALGOS, fft included).

Large kernels (up to 31x31) and a 1024x1024 image against float64 references (the large image against
scipy.signal.correlate in float64, never against the package itself); strides by polyphase, dilation,
groups, asymmetric padding; every tiling and code path, forced through the test hook
a plan of cnnkernels._cpu.conv2d_plan with choices imposed (transform sizes from 1-pixel tiles to one tile per image, odd and prime
sizes, both orders of the pipeline, a memory bound that forces several passes, batching across tiles for
few channels); outputs that see only padding; the SIMD paths; results independent of the thread count and
of other Python threads; fft_plan_info's report and the workspace bound of the issue's layers.

Accuracy (the issue's bound): max|ours - float64 reference| / max|reference| <= 1e-4 in float32 and
<= 1e-10 in float64.
"""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import cnnkernels as ck
from cnnkernels import _cpu
import reference
from reference import assert_close, rel_err

FFT_TOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]


@pytest.fixture
def restore_threads():
    before = ck.get_num_threads()
    yield
    ck.set_num_threads(before)


def make(rng, xs, ws, dtype, bias=True):
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype) if bias else None
    return x, w, b


def pads4(padding):
    """(top, bottom, left, right) from an int, a pair or a pair of pairs."""
    if isinstance(padding, int):
        return (padding,) * 4
    if isinstance(padding[0], (tuple, list)):
        return tuple(padding[0]) + tuple(padding[1])
    return (padding[0], padding[0], padding[1], padding[1])


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def forced(x, w, b, stride=1, padding=0, dilation=1, groups=1, fft_size=(0, 0), order=0, budget_bytes=0):
    """conv2d with algo="fft" and plan choices imposed (0: the cost model's)."""
    plan = _forced_plan(x, w, stride, padding, dilation, groups, fft_size, order, budget_bytes)
    return _cpu.conv2d_fft(x, w, b, pair(stride), pads4(padding), pair(dilation), groups, plan)


def _forced_plan(x, w, stride, padding, dilation, groups, fft_size, order, budget_bytes):
    return _cpu.conv2d_plan(x.shape, w.shape, pair(stride), pads4(padding), pair(dilation), groups, "fft",
                            x.dtype.itemsize, fft_size, order, budget_bytes)


def forced_plan(x, w, stride=1, padding=0, dilation=1, groups=1, fft_size=(0, 0), order=0, budget_bytes=0):
    return _forced_plan(x, w, stride, padding, dilation, groups, fft_size, order, budget_bytes).info()


# ---- large kernels, large images -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("R", [7, 11, 15, 21, 31])
def test_large_kernels(rng, dtype, R):
    x, w, b = make(rng, (2, 3, 40, 37), (4, 3, R, R - 2), dtype)
    kw = dict(padding=(R // 2, 3))
    out = ck.conv2d(x, w, b, algo="fft", **kw)
    assert_close(out, reference.conv2d(x, w, b, **kw), dtype, FFT_TOL[dtype])


def scipy_correlate_same(image, kernel):
    """float64 cross-correlation with zero padding, output the size of the image (odd kernel)."""
    from scipy.signal import correlate
    return correlate(image.astype(np.float64), kernel.astype(np.float64), mode="same", method="fft")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_image_1024_kernel_31(rng, dtype):
    pytest.importorskip("scipy")
    x = rng.standard_normal((1, 1, 1024, 1024)).astype(dtype)
    w = rng.standard_normal((1, 1, 31, 31)).astype(dtype)
    out = ck.conv2d(x, w, padding=15, algo="fft")
    assert_close(out[0, 0], scipy_correlate_same(x[0, 0], w[0, 0]), dtype, FFT_TOL[dtype])


def test_image_1024_kernel_31_same_padding_and_bias(rng):
    pytest.importorskip("scipy")
    x = rng.random((2, 1, 1024, 1000)).astype(np.float32)  # all-positive data: a large mean, small details
    w = rng.standard_normal((1, 1, 31, 31)).astype(np.float32)
    b = np.array([0.5], np.float32)
    out = ck.conv2d(x, w, b, padding="same", algo="fft")
    for n in range(2):
        assert_close(out[n, 0], scipy_correlate_same(x[n, 0], w[0, 0]) + 0.5, np.float32, 1e-4)


# ---- strides (polyphase), dilation, groups, padding --------------------------------------------------------

POLYPHASE_CASES = [
    ((2, 3, 31, 29), (5, 3, 7, 7), dict(stride=2, padding=3)),
    ((1, 2, 40, 33), (3, 2, 11, 11), dict(stride=3, padding=(5, 2))),
    ((2, 4, 30, 31), (6, 2, 5, 6), dict(stride=(2, 3), padding=((2, 1), (0, 3)), groups=2)),
    ((1, 3, 57, 57), (4, 3, 11, 11), dict(stride=4)),                             # AlexNet conv1-like
    ((1, 2, 23, 25), (3, 2, 3, 3), dict(stride=2, dilation=2, padding=2)),        # dilation a multiple of the stride
    ((1, 2, 23, 25), (3, 2, 4, 3), dict(stride=3, dilation=(2, 1), padding=1)),
    ((2, 3, 12, 13), (2, 3, 2, 2), dict(stride=4, padding=1)),                    # stride > kernel: unused phases
    ((3, 4, 9, 10), (5, 4, 1, 1), dict(stride=2)),                                # pointwise, strided
    ((2, 3, 9, 8), (4, 3, 3, 2), dict(stride=10**9, padding=1)),                  # a huge stride: one output
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("case", range(len(POLYPHASE_CASES)))
def test_strides_by_polyphase(rng, dtype, case):
    xs, ws, kw = POLYPHASE_CASES[case]
    x, w, b = make(rng, xs, ws, dtype)
    out = ck.conv2d(x, w, b, algo="fft", **kw)
    assert_close(out, reference.conv2d(x, w, b, **kw), dtype, FFT_TOL[dtype])
    info = ck.fft_plan_info(xs, ws, dtype=dtype, **kw)
    assert info["polyphase"]
    sh, sw = pair(kw["stride"])
    assert 1 <= info["phases"][0] <= sh and 1 <= info["phases"][1] <= sw
    assert info["fft_channels"] == xs[1] // kw.get("groups", 1) * info["phases"][0] * info["phases"][1]


def test_polyphase_leaves_out_phases_without_taps():
    # dilation 2 at stride 2: every tap falls on phase 0, so the phase kernels are the undilated kernel
    info = ck.fft_plan_info((1, 3, 40, 40), (4, 3, 5, 5), stride=2, dilation=2, padding=4)
    assert info["phases"] == (1, 1) and info["fft_kernel"] == (5, 5)
    # a 2x2 kernel at stride 4 has taps on phases 0 and 1 only
    info = ck.fft_plan_info((1, 3, 40, 40), (4, 3, 2, 2), stride=4)
    assert info["phases"] == (2, 2) and info["fft_kernel"] == (1, 1)
    assert not ck.fft_plan_info((1, 3, 40, 40), (4, 3, 5, 5), padding=2)["polyphase"]


GEOMETRY_CASES = [
    ((2, 4, 25, 22), (6, 4, 5, 3), dict(dilation=(3, 2), padding=(6, 2))),
    ((1, 6, 20, 21), (9, 2, 7, 5), dict(groups=3, padding=((0, 5), (4, 1)))),
    ((2, 8, 16, 16), (8, 1, 9, 9), dict(groups=8, padding="same")),               # depthwise
    ((1, 4, 18, 19), (8, 1, 4, 6), dict(groups=4, padding="same", dilation=2)),   # depthwise x2, even kernel
    ((1, 2, 30, 7), (3, 2, 13, 7), dict(padding=((6, 0), (3, 3)))),
    ((3, 1, 11, 12), (2, 1, 11, 12), dict()),                                     # kernel == image
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("case", range(len(GEOMETRY_CASES)))
def test_dilation_groups_padding(rng, dtype, case):
    xs, ws, kw = GEOMETRY_CASES[case]
    x, w, b = make(rng, xs, ws, dtype)
    out = ck.conv2d(x, w, b, algo="fft", **kw)
    assert_close(out, reference.conv2d(x, w, b, **kw), dtype, FFT_TOL[dtype])


def test_outputs_that_see_only_padding_are_exactly_the_bias(rng):
    x, w, b = make(rng, (2, 3, 6, 7), (4, 3, 3, 3), np.float32)
    out = ck.conv2d(x, w, b, padding=4, algo="fft")  # 2 rows and columns on each side see only padding
    assert out.shape == (2, 4, 12, 13)
    for edge in (out[:, :, :2], out[:, :, -2:], out[:, :, :, :2], out[:, :, :, -2:]):
        np.testing.assert_array_equal(edge, np.broadcast_to(b[None, :, None, None], edge.shape))
    assert_close(out, reference.conv2d(x, w, b, padding=4), np.float32, 1e-4)


# ---- every tiling and code path ----------------------------------------------------------------------------

# (x shape, weight shape, kwargs, transform sizes to force)
TILING_CASES = [
    # many channels, groups, stride, dilation, asymmetric padding: batches over channels
    ((3, 6, 21, 19), (10, 3, 4, 5), dict(stride=(2, 1), padding=((1, 2), (0, 3)), dilation=(1, 2), groups=2),
     [(2, 9), (3, 10), (4, 9), (5, 16), (7, 11), (8, 12), (12, 20), (15, 16), (16, 27), (13, 40)]),
    # one channel, many tiles per row: batches over runs of tiles (left / right edge windows differ)
    ((2, 1, 37, 70), (2, 1, 5, 5), dict(padding=(2, 3)),
     [(5, 5), (6, 6), (8, 8), (9, 10), (12, 12), (16, 16), (20, 24), (41, 76), (64, 128)]),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("case", range(len(TILING_CASES)))
def test_every_transform_size(rng, dtype, case):
    xs, ws, kw, sizes = TILING_CASES[case]
    x, w, b = make(rng, xs, ws, dtype)
    ref = reference.conv2d(x, w, b, **kw)
    for size in sizes:
        info = forced_plan(x, w, fft_size=size, **kw)
        assert info["fft_size"] == size
        assert info["tile"] == (size[0] - info["fft_kernel"][0] + 1, size[1] - info["fft_kernel"][1] + 1)
        out = forced(x, w, b, fft_size=size, **kw)
        err = rel_err(out, ref)
        assert err <= FFT_TOL[dtype], f"fft_size {size}: relative error {err:.3g}"


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("order", [1, 2], ids=["kernels_first", "tiles_first"])
@pytest.mark.parametrize("budget", [0, 1], ids=["one_pass", "min_memory"])
@pytest.mark.parametrize("case", range(len(TILING_CASES)))
def test_both_orders_and_passes(rng, dtype, order, budget, case):
    xs, ws, kw, sizes = TILING_CASES[case]
    x, w, b = make(rng, xs, ws, dtype)
    ref = reference.conv2d(x, w, b, **kw)
    for size in [(0, 0), sizes[2]]:
        info = forced_plan(x, w, fft_size=size, order=order, budget_bytes=budget, **kw)
        assert info["order"] == ("kernels_first" if order == 1 else "tiles_first")
        if budget:  # nothing fits one byte: the smallest footprint, the shared spectra in several passes
            assert info["passes"] > 1
        out = forced(x, w, b, fft_size=size, order=order, budget_bytes=budget, **kw)
        err = rel_err(out, ref)
        assert err <= FFT_TOL[dtype], f"{info['order']} passes {info['passes']}: relative error {err:.3g}"


def test_kernel_too_large_to_transform(backend):
    # legal (one output), but the dilated kernel has 2e9 + 1 rows: fft refuses it clearly, auto goes elsewhere
    x, w = np.ones((1, 1, 1, 1)), np.ones((1, 1, 3, 1))
    kw = dict(padding=((10**9, 10**9), (0, 0)), dilation=(10**9, 1))
    with pytest.raises(ValueError, match="fft"):
        ck.conv2d(x, w, algo="fft", **kw)
    assert ck.conv2d_plan(x.shape, w.shape, **kw)["algo"] != "fft"
    np.testing.assert_array_equal(ck.conv2d(x, w, **kw), np.ones((1, 1, 1, 1)))


def test_forced_size_smaller_than_kernel_is_refused(rng):
    x, w, b = make(rng, (1, 2, 10, 10), (2, 2, 5, 5), np.float32)
    with pytest.raises(ValueError, match="kernel"):
        forced(x, w, b, fft_size=(4, 8))


# ---- SIMD paths, threads ---------------------------------------------------------------------------------


ISA_SCRIPT = r"""
import sys
import numpy as np
import cnnkernels as ck
sys.path.insert(0, {tests!r})
import reference
from reference import rel_err
rng = np.random.default_rng(7)
cases = [((2, 5, 30, 33), (6, 5, 9, 7), dict(padding=(4, 3), stride=(1, 2))),
         ((1, 1, 200, 190), (1, 1, 15, 15), dict(padding=7))]
for dtype in (np.float32, np.float64):
    for xs, ws, kw in cases:
        x = rng.standard_normal(xs).astype(dtype)
        w = rng.standard_normal(ws).astype(dtype)
        y = ck.conv2d(x, w, algo="fft", **kw)
        print(np.dtype(dtype).name, rel_err(y, reference.conv2d(x, w, **kw)), y.astype(np.float64).sum().hex())
"""


def cpu_has_avx2_fma():
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return " avx2" in flags and " fma" in flags


def run_isa(isa):
    """Errors and result checksums of ISA_SCRIPT in a fresh process, with CNNKERNELS_ISA=isa (None: default)."""
    env = dict(os.environ)
    env.pop("CNNKERNELS_ISA", None)
    if isa:
        env["CNNKERNELS_ISA"] = isa
    tests = os.path.dirname(os.path.abspath(__file__))
    # the child with this interpreter's -S, so that it imports the same package (a PYTHONPATH checkout, not an
    # editable install that site.py would put first)
    flags = ["-S"] if sys.flags.no_site else []
    out = subprocess.run([sys.executable, *flags, "-c", ISA_SCRIPT.format(tests=tests)], env=env,
                         capture_output=True, text=True, check=True).stdout.split("\n")
    return [line.split() for line in out if line.strip()]


def test_simd_paths():
    """The portable path (CNNKERNELS_ISA=scalar: the scalar FFT kernels and SSE2 pointwise product) and the
    default one (AVX2 + FMA where the CPU has it) both meet the bound, and really are different code. In fresh
    processes: the environment variable is read once per process."""
    scalar, default = run_isa("scalar"), run_isa(None)
    for rows in (scalar, default):
        for dtype, err, _ in rows:
            assert float(err) <= FFT_TOL[np.dtype(dtype)], (dtype, err)
    if cpu_has_avx2_fma():  # FMA rounds differently: the checksums tell the paths apart
        assert [r[2] for r in scalar] != [r[2] for r in default]


def test_simd_paths_avx512():
    """CNNKERNELS_ISA=avx2 and avx512, where the CPU has AVX-512: both meet the bound, and the AVX-512 path
    (64-byte FFT lanes, the line-vector pointwise product) is its own code: its product rounds differently."""
    if "avx512" not in ck.cpu_info()["supported_isas"]:
        pytest.skip("this CPU has no avx512 path")
    avx2, avx512 = run_isa("avx2"), run_isa("avx512")
    for rows in (avx2, avx512):
        for dtype, err, _ in rows:
            assert float(err) <= FFT_TOL[np.dtype(dtype)], (dtype, err)
    assert [r[2] for r in avx2] != [r[2] for r in avx512]


@pytest.mark.skipif(not hasattr(_cpu, "set_isa"), reason="this build has no run-time ISA switch")
def test_simd_paths_switched_at_run_time(rng):
    info = getattr(_cpu, "cpu_info", lambda: {"isa": "avx2", "supported_isas": ["scalar"]})()
    before = info["isa"]
    x, w, b = make(rng, (2, 4, 24, 26), (5, 4, 7, 7), np.float32)
    ref = reference.conv2d(x, w, b, padding=3)
    try:
        for isa in info.get("supported_isas", ["scalar"]):
            _cpu.set_isa(isa)
            assert_close(ck.conv2d(x, w, b, padding=3, algo="fft"), ref, np.float32, 1e-4)
    finally:
        _cpu.set_isa(before)


@pytest.mark.parametrize("order", [1, 2], ids=["kernels_first", "tiles_first"])
def test_results_identical_for_any_thread_count(rng, restore_threads, order):
    x, w, b = make(rng, (3, 5, 33, 40), (7, 5, 6, 5), np.float32)
    kw = dict(padding=(2, 3), stride=(1, 2))
    outs = []
    for n in (1, 2, 3, 5):
        ck.set_num_threads(n)
        outs.append(forced(x, w, b, order=order, **kw))
        assert forced_plan(x, w, order=order, **kw)["fft_size"] == forced_plan(x, w, order=order, **kw)["fft_size"]
    for o in outs[1:]:
        assert o.tobytes() == outs[0].tobytes()
    assert_close(outs[0], reference.conv2d(x, w, b, **kw), np.float32, 1e-4)


def test_concurrent_python_threads(rng, restore_threads):
    ck.set_num_threads(2)
    jobs = []
    for xs, ws, kw in POLYPHASE_CASES[:3] + GEOMETRY_CASES[:3]:
        x, w, b = make(rng, xs, ws, np.float32)
        jobs.append((x, w, b, kw))
    expected = [ck.conv2d(x, w, b, algo="fft", **kw) for x, w, b, kw in jobs]
    failures = []

    def worker(k):
        for rep in range(3):
            for i in list(range(len(jobs)))[k % 2::2] + list(range(len(jobs)))[(k + 1) % 2::2]:
                x, w, b, kw = jobs[i]
                if ck.conv2d(x, w, b, algo="fft", **kw).tobytes() != expected[i].tobytes():
                    failures.append((k, i))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


# ---- the plan report, the workspace bound, auto ------------------------------------------------------------

# The issue's layers: (x shape, weight shape, padding).
ISSUE_LAYERS = {
    "large-kernel-11": ((8, 32, 64, 64), (32, 32, 11, 11), 5),
    "large-kernel-15": ((4, 16, 128, 128), (16, 16, 15, 15), 7),
    "alexnet-conv2": ((8, 96, 27, 27), (256, 96, 5, 5), 2),
    "image-1024-31": ((1, 1, 1024, 1024), (1, 1, 31, 31), 15),
}


@pytest.mark.parametrize("layer", list(ISSUE_LAYERS))
def test_workspace_within_twice_the_tensors(restore_threads, layer):
    xs, ws, pad = ISSUE_LAYERS[layer]
    ck.set_num_threads(2)
    info = ck.fft_plan_info(xs, ws, padding=pad)
    tensors = 4 * (np.prod(xs) + np.prod(info["output_shape"]) + np.prod(ws))
    assert 0 < info["workspace_bytes"] <= 2 * tensors


def test_fft_plan_info_report(restore_threads):
    xs, ws = (2, 6, 50, 41), (8, 3, 7, 5)
    info = ck.fft_plan_info(xs, ws, stride=1, padding=(3, 2), dilation=(2, 1), groups=2, dtype="float64")
    assert info["algo"] == "fft" and info["output_shape"] == (2, 8, 44, 41)
    assert info == ck.conv2d_plan(xs, ws, padding=(3, 2), dilation=(2, 1), groups=2, dtype=np.float64, algo="fft")
    kh, kw = info["fft_kernel"]
    assert (kh, kw) == (13, 5) and not info["polyphase"] and info["phases"] == (1, 1)
    fh, fw = info["fft_size"]
    assert info["tile"] == (fh - kh + 1, fw - kw + 1)
    th, tw = info["tile"]
    nh, nw = info["tiles"]
    assert (nh - 1) * th < 44 <= nh * th and (nw - 1) * tw < 41 <= nw * tw
    assert info["tiles_total"] == 2 * nh * nw * 2
    n_in, n_ker, n_out = info["transforms"]
    assert n_out == info["tiles_total"] * 4 and n_in >= info["tiles_total"] * 3 and n_ker >= 8 * 3
    assert info["order"] in ("kernels_first", "tiles_first") and info["passes"] >= 1
    assert info["complex_macs"] >= info["tiles_total"] * 4 * 3 * fh * (fw // 2 + 1)
    # the plan does not depend on the thread count (only the workspace does)
    ck.set_num_threads(1)
    one = ck.fft_plan_info(xs, ws, padding=(3, 2), dilation=(2, 1), groups=2, dtype="float64")
    ck.set_num_threads(3)
    three = ck.fft_plan_info(xs, ws, padding=(3, 2), dilation=(2, 1), groups=2, dtype="float64")
    one.pop("workspace_bytes"), three.pop("workspace_bytes")
    assert one == three


def test_fft_plan_info_checks_arguments():
    with pytest.raises(ValueError):
        ck.fft_plan_info((1, 3, 8, 8), (4, 2, 3, 3))
    with pytest.raises(TypeError):
        ck.fft_plan_info((1, 3, 8, 8), (4, 3, 3, 3), dtype="int32")


# The weight gradient's FFT runs grad_weight_problem: whole images correlated with whole grad_outs for a few
# R x S outputs. Its plan must cover those outputs with one tile and transform each image and each grad_out
# about once: with the forward's 4 MiB floor the 9x9 layer re-transformed its images in 8-16 passes, the
# 128 x 128 one (the whole-output width 135 is odd) ran 7 tiles of one column, and the 256 x 256 one, whose
# FFT buffers fit no budget, fell back to 1-pixel tiles: 25088 transforms, 3.3 s for a 0.05 s gradient.
@pytest.mark.parametrize("xs,ws,pad", [((4, 16, 64, 64), (16, 16, 9, 9), 4), ((2, 16, 128, 128), (16, 16, 7, 7), 3),
                                        ((2, 16, 256, 256), (16, 16, 7, 7), 3)], ids=["64", "128", "256"])
def test_weight_gradient_plan_one_tile_few_transforms(xs, ws, pad):
    info = ck.conv2d_plan(xs, ws, padding=pad, algo="fft", direction="backward_weight")
    assert info["output_shape"] == ws and info["tiles"] == (1, 1)
    n_in, n_ker, n_out = info["transforms"]
    (N, C), K = xs[:2], ws[0]
    assert n_out == K * C  # one inverse transform per (k, c) pair
    assert n_in + n_ker <= 4 * N * (C + K), info["transforms"]  # each image and grad_out at most a few times
    if xs[2] == 64:
        assert info["passes"] == 1


def test_auto_picks_fft_for_large_kernels():
    for layer in ("large-kernel-11", "image-1024-31"):
        xs, ws, pad = ISSUE_LAYERS[layer]
        assert ck.conv2d_plan(xs, ws, padding=pad)["algo"] == "fft"
    assert ck.conv2d_plan((4, 512, 32, 32), (512, 512, 1, 1))["algo"] != "fft"


def test_non_finite_inputs_spread_over_a_tile_as_documented():
    # README semantics: fft mixes every input of a tile into every output of it, so one NaN makes NaN of
    # more outputs than the 3x3 it touches, and an all-inf image gives NaN; direct follows IEEE per output.
    w = np.ones((1, 1, 3, 3), np.float32)
    x = np.zeros((1, 1, 16, 16), np.float32)
    x[0, 0, 3, 3] = np.nan
    assert np.isnan(ck.conv2d(x, w, algo="direct")).sum() == 9
    assert np.isnan(ck.conv2d(x, w, algo="fft")).sum() > 9
    inf = np.full((1, 1, 8, 8), np.inf, np.float32)
    assert np.isposinf(ck.conv2d(inf, w, algo="direct")).all()
    assert np.isnan(ck.conv2d(inf, w, algo="fft")).all()
