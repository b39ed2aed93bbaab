"""Self-checks of the float64 references in reference.py against even more naive
per-pixel loops (no cnnkernels involved, no torch needed).

reference.conv2d against reference.conv2d_naive on conv_cases.CASES
geometries; reference.max_pool2d (values and first-max indices),
reference.avg_pool2d (both divisors) and reference.lp_pool2d (p = 3, no
padding) against _naive_pool on pool_cases.MAX_CASES geometries.
"""

import itertools

import numpy as np
import pytest

import conv_cases
import pool_cases
import reference
from reference import conv2d_naive, pool_out_size

# --------------------------------------------------------------------------
# conv2d
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case", ["basic_3x3_pad1", "rect_stride_pad_dilation", "depthwise_multiplier", "asym_padding", "same_even_dilated", "groups_dilation_stride"]
)
def test_reference_conv_matches_naive_loops(rng, case):
    xs, ws, kw = conv_cases.CASES[case]
    x, w, b = conv_cases.make(rng, xs, ws, np.float64)
    np.testing.assert_allclose(reference.conv2d(x, w, b, **kw), conv2d_naive(x, w, b, **kw), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------


def _naive_pool(x, k, s, p, d, ceil_mode, reduce):
    """reduce(list of (value, flat index) of in-bounds taps in row-major order, padded-window size)."""
    N, C, H, W = x.shape
    P = pool_out_size(H, k[0], s[0], p[0], d[0], ceil_mode)
    Q = pool_out_size(W, k[1], s[1], p[1], d[1], ceil_mode)
    out = np.zeros((N, C, P, Q))
    for n, c, i, j in itertools.product(range(N), range(C), range(P), range(Q)):
        taps = []
        for a, b in itertools.product(range(k[0]), range(k[1])):
            h, w = i * s[0] - p[0] + a * d[0], j * s[1] - p[1] + b * d[1]
            if 0 <= h < H and 0 <= w < W:
                taps.append((x[n, c, h, w], h * W + w))
        hs, ws = i * s[0] - p[0], j * s[1] - p[1]
        padded = (min(hs + k[0], H + p[0]) - hs) * (min(ws + k[1], W + p[1]) - ws)
        out[n, c, i, j] = reduce(taps, padded)
    return out


@pytest.mark.parametrize("case", ["k3_s1_p1", "rect", "ceil_partial_window", "ceil_last_window_dropped", "ceil_rect_pad", "dilation_rect_ceil"])
def test_reference_pools_match_naive_loops(rng, case):
    shape, kw = pool_cases.MAX_CASES[case]
    x = rng.integers(-2, 3, size=shape).astype(np.float64)
    k = np.broadcast_to(kw["kernel_size"], 2)
    s = np.broadcast_to(kw.get("stride", kw["kernel_size"]), 2)
    p = np.broadcast_to(kw.get("padding", 0), 2)
    d = np.broadcast_to(kw.get("dilation", 1), 2)
    cm = kw.get("ceil_mode", False)

    def first_max(taps, _):
        best = taps[0]
        for t in taps[1:]:
            if t[0] > best[0]:
                best = t
        return best[1]

    out, idx = reference.max_pool2d(x, **kw)
    np.testing.assert_array_equal(idx, _naive_pool(x, k, s, p, d, cm, first_max))
    np.testing.assert_array_equal(out, _naive_pool(x, k, s, p, d, cm, lambda t, _: max(v for v, _ in t)))
    if "dilation" not in kw:
        avg = _naive_pool(x, k, s, p, d, cm, lambda t, n: sum(v for v, _ in t) / n)
        np.testing.assert_allclose(reference.avg_pool2d(x, count_include_pad=True, **kw), avg, rtol=1e-12)
        avg = _naive_pool(x, k, s, p, d, cm, lambda t, n: sum(v for v, _ in t) / len(t))
        np.testing.assert_allclose(reference.avg_pool2d(x, count_include_pad=False, **kw), avg, rtol=1e-12)
    if not p.any():
        lp = _naive_pool(x, k, s, p, d, cm, lambda t, n: max(sum(v ** 3 for v, _ in t), 0) ** (1 / 3))
        lp_ref = reference.lp_pool2d(x, 3, k.tolist(), s.tolist(), cm)
        assert lp_ref.shape == lp.shape
        np.testing.assert_allclose(lp_ref, lp, rtol=1e-12)
