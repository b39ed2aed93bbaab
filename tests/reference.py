"""Slow, obvious float64 NumPy references for every cnnkernels operation, plus
the comparison helpers the tests use.

Nothing here imports cnnkernels: the package is always checked against these
functions, and these functions are checked against torch.nn.functional in
test_torch_compare.py (skipped when torch is missing) and against even more
naive per-pixel loops in test_reference.py.  Each reference is named after the
operation it mirrors: reference.conv2d for ck.conv2d, reference.max_pool2d for
ck.max_pool2d, and so on.

Conventions: NCHW arrays; every reference converts its inputs to float64 and
returns float64 (max_pool2d also returns int64 indices).  Argument
normalisation (ints or pairs, conv padding strings) assumes valid arguments:
validation is the package's job and is tested by the bad-argument tests in
each test_<op>.py (the checks of x shared by every op are in op_checks.py).
"""

import numpy as np
from hypothesis import strategies as st

# --------------------------------------------------------------------------
# Argument helpers
# --------------------------------------------------------------------------


def pair(v):
    """An int or a 2-sequence of ints -> tuple of 2 ints."""
    if isinstance(v, (tuple, list)):
        assert len(v) == 2
        return int(v[0]), int(v[1])
    return int(v), int(v)


def conv_padding(padding, kernel_hw, dilation, stride):
    """Normalise conv2d padding to (top, bottom, left, right).

    Accepts an int, a pair (ph, pw), a pair of pairs ((top, bottom),
    (left, right)), "valid" or "same".  For "same" the total padding per dim is
    dilation*(k-1); top/left gets total//2 and bottom/right the rest (so the
    extra pixel of an even effective kernel goes bottom/right, like PyTorch).
    """
    R, S = kernel_hw
    dh, dw = pair(dilation)
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding == "same":
            if pair(stride) != (1, 1):
                raise ValueError("padding='same' needs stride 1")
            th, tw = dh * (R - 1), dw * (S - 1)
            return th // 2, th - th // 2, tw // 2, tw - tw // 2
        raise ValueError(f"unknown padding {padding!r}")
    if isinstance(padding, (tuple, list)) and isinstance(padding[0], (tuple, list)):
        (t, b), (l, r) = padding
        return int(t), int(b), int(l), int(r)
    ph, pw = pair(padding)
    return ph, ph, pw, pw


def conv_out_size(n, pad_lo, pad_hi, k, stride, dilation):
    """floor((n + pads - dilation*(k-1) - 1) / stride) + 1."""
    return (n + pad_lo + pad_hi - dilation * (k - 1) - 1) // stride + 1


def pool_out_size(n, k, stride, pad, dilation, ceil_mode):
    """PyTorch's pooling output size (pooling_output_shape)."""
    num = n + 2 * pad - dilation * (k - 1) - 1
    if ceil_mode:
        out = -(-num // stride) + 1  # ceil division
        # the last window must start inside the input or the left padding
        if (out - 1) * stride >= n + pad:
            out -= 1
    else:
        out = num // stride + 1
    return out


def pool_geometry(kernel_size, stride, padding, dilation):
    """Normalise pool args to ((kh, kw), (sh, sw), (ph, pw), (dh, dw))."""
    k = pair(kernel_size)
    s = k if stride is None else pair(stride)
    return k, s, pair(padding), pair(dilation)


# --------------------------------------------------------------------------
# conv2d
# --------------------------------------------------------------------------


def conv_geometry(x_shape, w_shape, stride, padding, dilation):
    """(stride pair, dilation pair, (top, bottom, left, right) padding, (P, Q)) of a conv2d."""
    (_, _, H, W), (_, _, R, S) = x_shape, w_shape
    sh, sw = pair(stride)
    dh, dw = pair(dilation)
    pt, pb, pl, pr = conv_padding(padding, (R, S), dilation, stride)
    P, Q = conv_out_size(H, pt, pb, R, sh, dh), conv_out_size(W, pl, pr, S, sw, dw)
    return (sh, sw), (dh, dw), (pt, pb, pl, pr), (P, Q)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Grouped, strided, dilated 2-D cross-correlation (torch.nn.functional.conv2d).

    Loops over groups and kernel taps (r, s); for each tap the whole strided
    slab of the zero-padded input is multiplied by weight[:, :, r, s].
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    assert C == Cg * groups and K % groups == 0
    Kg = K // groups
    (sh, sw), (dh, dw), (pt, pb, pl, pr), (P, Q) = conv_geometry(x.shape, w.shape, stride, padding, dilation)
    assert P >= 1 and Q >= 1
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    out = np.zeros((N, K, P, Q))
    for g in range(groups):
        xg = xp[:, g * Cg:(g + 1) * Cg]
        wg = w[g * Kg:(g + 1) * Kg]
        for r in range(R):
            for s in range(S):
                h0, w0 = r * dh, s * dw
                slab = xg[:, :, h0:h0 + sh * (P - 1) + 1:sh, w0:w0 + sw * (Q - 1) + 1:sw]
                out[:, g * Kg:(g + 1) * Kg] += np.einsum("nchw,kc->nkhw", slab, wg[:, :, r, s])
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return out


def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Per-output-pixel loops straight from the definition (tiny shapes only).

    Used to cross-check conv2d without torch.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    Kg = K // groups
    (sh, sw), (dh, dw), (pt, pb, pl, pr), (P, Q) = conv_geometry(x.shape, w.shape, stride, padding, dilation)
    out = np.zeros((N, K, P, Q))
    for n in range(N):
        for k in range(K):
            g = k // Kg
            for p in range(P):
                for q in range(Q):
                    acc = 0.0 if bias is None else float(bias[k])
                    for c in range(Cg):
                        for r in range(R):
                            for s in range(S):
                                h = p * sh - pt + r * dh
                                v = q * sw - pl + s * dw
                                if 0 <= h < H and 0 <= v < W:
                                    acc += x[n, g * Cg + c, h, v] * w[k, c, r, s]
                    out[n, k, p, q] = acc
    return out


# --------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------


def _tap_positions(out, stride, pad, dilation, tap):
    """Input coordinates touched by kernel tap `tap` for every output index."""
    return np.arange(out) * stride - pad + tap * dilation


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max pooling with PyTorch-CPU indices.  Returns (out float64, indices int64).

    For each window the in-bounds taps are scanned in row-major order; the
    running max starts at the first in-bounds tap and is replaced when a value
    is > the current max or is NaN (ties keep the first max, NaNs the last NaN).
    Indices are h*W + w in the unpadded input.  Assumes every window has at
    least one in-bounds tap (see has_empty_max_window).
    """
    x = np.asarray(x, dtype=np.float64)
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = pool_geometry(kernel_size, stride, padding, dilation)
    P = pool_out_size(H, kh, sh, ph, dh, ceil_mode)
    Q = pool_out_size(W, kw, sw, pw, dw, ceil_mode)
    best = np.full((N, C, P, Q), np.nan)
    idx = np.full((N, C, P, Q), -1, dtype=np.int64)
    seen = np.zeros((P, Q), dtype=bool)
    for i in range(kh):
        hs = _tap_positions(P, sh, ph, dh, i)
        for j in range(kw):
            ws = _tap_positions(Q, sw, pw, dw, j)
            inb = ((hs >= 0) & (hs < H))[:, None] & ((ws >= 0) & (ws < W))[None, :]
            hc = np.clip(hs, 0, H - 1)
            wc = np.clip(ws, 0, W - 1)
            val = x[:, :, hc[:, None], wc[None, :]]  # (N, C, P, Q)
            flat = (hc[:, None] * W + wc[None, :]) * np.ones((N, C, 1, 1), dtype=np.int64)
            first = inb & ~seen
            better = inb & seen & ((val > best) | np.isnan(val))
            take = first | better  # broadcasts (P, Q) against (N, C, P, Q)
            best = np.where(take, val, best)
            idx = np.where(take, flat, idx)
            seen |= inb
    assert seen.all(), "a window has no in-bounds tap"
    return best, idx


def has_empty_max_window(H, W, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """True when some max-pool window has no in-bounds tap (behaviour unspecified)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = pool_geometry(kernel_size, stride, padding, dilation)

    def empty(n, k, s, p, d, cm):
        out = pool_out_size(n, k, s, p, d, cm)
        taps = np.arange(out)[:, None] * s - p + np.arange(k)[None, :] * d
        return not ((taps >= 0) & (taps < n)).any(axis=1).all()

    return empty(H, kh, sh, ph, dh, ceil_mode) or empty(W, kw, sw, pw, dw, ceil_mode)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average pooling like torch.nn.functional.avg_pool2d.

    Sum over the in-bounds part of the window.  Divisor: divisor_override when
    given; else with count_include_pad, the window clipped to the *padded*
    input (so positions that ceil_mode adds beyond the padding are not
    counted); otherwise the number of in-bounds positions.
    """
    x = np.asarray(x, dtype=np.float64)
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw), _ = pool_geometry(kernel_size, stride, padding, 1)
    P = pool_out_size(H, kh, sh, ph, 1, ceil_mode)
    Q = pool_out_size(W, kw, sw, pw, 1, ceil_mode)
    total = np.zeros((N, C, P, Q))
    for i in range(kh):
        hs = _tap_positions(P, sh, ph, 1, i)
        for j in range(kw):
            ws = _tap_positions(Q, sw, pw, 1, j)
            inb = ((hs >= 0) & (hs < H))[:, None] & ((ws >= 0) & (ws < W))[None, :]
            val = x[:, :, np.clip(hs, 0, H - 1)[:, None], np.clip(ws, 0, W - 1)[None, :]]
            total += np.where(inb, val, 0.0)

    def counts(out, n, k, s, p):
        start = np.arange(out) * s - p
        end = np.minimum(start + k, n + p)
        with_pad = end - start
        inside = np.minimum(end, n) - np.maximum(start, 0)
        return with_pad, inside

    hp, hi = counts(P, H, kh, sh, ph)
    wp, wi = counts(Q, W, kw, sw, pw)
    divisor = np.outer(hp, wp) if count_include_pad else np.outer(hi, wi)
    if divisor_override is not None:
        divisor = divisor_override
    return total / divisor


def _lp_finish(s, norm_type):
    """max(s, 0) ** (1/p)."""
    return np.maximum(s, 0.0) ** (1.0 / norm_type)


def lp_pool2d(x, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over the in-bounds part of each window of x**p) clamped at 0, ** (1/p).

    No padding.  With ceil_mode a partial window sums only the elements it has
    (no rescaling, unlike PyTorch).
    """
    x = np.asarray(x, dtype=np.float64)
    N, C, H, W = x.shape
    p = float(norm_type)
    (kh, kw), (sh, sw), _, _ = pool_geometry(kernel_size, stride, 0, 1)
    P = pool_out_size(H, kh, sh, 0, 1, ceil_mode)
    Q = pool_out_size(W, kw, sw, 0, 1, ceil_mode)
    xpow = x ** p
    total = np.zeros((N, C, P, Q))
    for i in range(kh):
        hs = _tap_positions(P, sh, 0, 1, i)
        for j in range(kw):
            ws = _tap_positions(Q, sw, 0, 1, j)
            inb = (hs < H)[:, None] & (ws < W)[None, :]
            val = xpow[:, :, np.minimum(hs, H - 1)[:, None], np.minimum(ws, W - 1)[None, :]]
            total += np.where(inb, val, 0.0)
    return _lp_finish(total, p)


def feature_lp_pool(x, norm_type, width, stride=None):
    """Lp pooling across channels: out[:, k] = (sum_{c in window k} x[:, c]**p)^(1/p)."""
    x = np.asarray(x, dtype=np.float64)
    N, C, H, W = x.shape
    p = float(norm_type)
    stride = width if stride is None else stride
    K = (C - width) // stride + 1
    out = np.zeros((N, K, H, W))
    for k in range(K):
        out[:, k] = (x[:, k * stride:k * stride + width] ** p).sum(axis=1)
    return _lp_finish(out, p)


# --------------------------------------------------------------------------
# Local contrast normalisation
# --------------------------------------------------------------------------


def gaussian_window(kernel_size, sigma):
    """R x R Gaussian centred at (R-1)/2, normalised to sum 1."""
    u = np.arange(kernel_size, dtype=np.float64) - (kernel_size - 1) / 2.0
    g = np.exp(-(u[:, None] ** 2 + u[None, :] ** 2) / (2.0 * sigma ** 2))
    return g / g.sum()


def _correlate_same(a, k):
    """Correlate the last two axes of `a` with square odd kernel k, zero padding R//2."""
    R = k.shape[0]
    H, W = a.shape[-2:]
    pad = R // 2
    ap = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(pad, pad), (pad, pad)])
    out = np.zeros(a.shape)
    for u in range(R):
        for v in range(R):
            out += k[u, v] * ap[..., u:u + H, v:v + W]
    return out


def local_contrast_norm(x, kernel_size=9, sigma=2.0, eps=1e-4):
    """Local contrast normalisation (Jarrett et al. 2009), see the package spec.

    w = g / C; coef = sum of g over the in-image window; mean = sum_c (w * x_c)
    / coef; v = x - mean; sd = sqrt(sum_c (w * v_c^2) / coef);
    y = v / max(sd, mean_{H,W}(sd) per sample, eps).
    """
    x = np.asarray(x, dtype=np.float64)
    N, C, H, W = x.shape
    g = gaussian_window(kernel_size, sigma)
    w = g / C
    coef = _correlate_same(np.ones((H, W)), g)
    mean = _correlate_same(x, w).sum(axis=1) / coef  # (N, H, W)
    v = x - mean[:, None]
    sd = np.sqrt(_correlate_same(v * v, w).sum(axis=1) / coef)  # (N, H, W)
    sd_mean = sd.mean(axis=(1, 2), keepdims=True)  # per sample
    denom = np.maximum(np.maximum(sd, sd_mean), eps)
    return v / denom[:, None]


# --------------------------------------------------------------------------
# Comparison helpers
# --------------------------------------------------------------------------

TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
LCN_TOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-12}


def rel_err(actual, expected):
    """max|actual - expected| / max(max|expected|, tiny) over finite expected entries."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    fin = np.isfinite(e)
    if not fin.any():
        return 0.0
    scale = max(np.abs(e[fin]).max(), np.finfo(np.float64).tiny)
    return float(np.abs(a[fin] - e[fin]).max() / scale)


def assert_close(actual, expected, dtype, tol=None):
    """Check type, dtype, exact shape, NaN/inf placement and relative error.

    `expected` is a float64 reference; `dtype` is the dtype the result must
    have; `tol` defaults to TOL[dtype].
    """
    dtype = np.dtype(dtype)
    assert isinstance(actual, np.ndarray), f"result is {type(actual).__name__}, not ndarray"
    assert actual.dtype == dtype, f"dtype {actual.dtype}, expected {dtype}"
    assert actual.shape == expected.shape, f"shape {actual.shape}, expected {expected.shape}"
    a = actual.astype(np.float64)
    e = np.asarray(expected, dtype=np.float64)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(e), err_msg="NaN positions differ")
    np.testing.assert_array_equal(np.isposinf(a), np.isposinf(e), err_msg="+inf positions differ")
    np.testing.assert_array_equal(np.isneginf(a), np.isneginf(e), err_msg="-inf positions differ")
    if tol is None:
        tol = TOL[dtype]
    err = rel_err(a, e)
    assert err <= tol, f"relative error {err:.3g} > {tol:.1g}"


def snapshot(*arrays):
    """Copies of the given arrays (None stays None), to check inputs are unchanged."""
    return [None if a is None else np.array(a, copy=True) for a in arrays]


def assert_unchanged(before, after):
    """Every array in `after` is bitwise equal to its copy in `before`."""
    for b, a in zip(before, after):
        if b is None:
            assert a is None
            continue
        a = np.asarray(a)
        assert a.shape == b.shape and a.dtype == b.dtype
        assert a.tobytes() == b.tobytes(), "an input array was modified"


# --------------------------------------------------------------------------
# Non-contiguous test inputs: each function returns random data of the given
# logical shape (n, c, h, w) laid out in memory in some non-C-contiguous way.
# --------------------------------------------------------------------------


def _strided_h(rng, shape, dtype):  # every other row
    n, c, h, w = shape
    return rng.standard_normal((n, c, 2 * h, w)).astype(dtype)[:, :, ::2]


def _strided_w_offset(rng, shape, dtype):  # every third column, offset view
    n, c, h, w = shape
    return rng.standard_normal((n, c, h, 3 * w + 1)).astype(dtype)[:, :, :, 1::3]


def _fortran(rng, shape, dtype):
    return np.asfortranarray(rng.standard_normal(shape).astype(dtype))


def _transposed(rng, shape, dtype):  # H and W swapped in memory
    n, c, h, w = shape
    return rng.standard_normal((n, c, w, h)).astype(dtype).transpose(0, 1, 3, 2)


def _reversed(rng, shape, dtype):  # negative strides
    return rng.standard_normal(shape).astype(dtype)[:, ::-1, ::-1, :]


def _nchw_from_nhwc(rng, shape, dtype):  # channels-last memory
    n, c, h, w = shape
    return rng.standard_normal((n, h, w, c)).astype(dtype).transpose(0, 3, 1, 2)


def _channel_slice(rng, shape, dtype):
    n, c, h, w = shape
    return rng.standard_normal((n, c + 3, h, w)).astype(dtype)[:, 1:c + 1]


LAYOUTS = {
    "strided_h": _strided_h,
    "strided_w_offset": _strided_w_offset,
    "fortran": _fortran,
    "transposed_hw": _transposed,
    "negative_strides": _reversed,
    "channels_last": _nchw_from_nhwc,
    "channel_slice": _channel_slice,
}


# --------------------------------------------------------------------------
# Random geometries for hypothesis tests (valid by construction)
# --------------------------------------------------------------------------

def _maybe_int(draw, a, b):
    """(a, b) as a tuple, or as a plain int when a == b (half the time)."""
    if a == b and draw(st.booleans()):
        return a
    return (a, b)


@st.composite
def conv_geometries(draw):
    """kwargs for a conv2d problem: shapes plus stride/padding/dilation/groups."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    Cg = draw(st.integers(1, 3))
    Kg = draw(st.integers(1, 3))
    R, S = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["int", "pair", "asym", "same", "valid"]))
    if mode == "same":
        sh = sw = 1
    if mode == "int":
        p = draw(st.integers(0, 3))
        padding = p
        pads = (p, p, p, p)
    elif mode == "pair":
        ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
        padding = (ph, pw)
        pads = (ph, ph, pw, pw)
    elif mode == "asym":
        pads = tuple(draw(st.integers(0, 3)) for _ in range(4))
        padding = ((pads[0], pads[1]), (pads[2], pads[3]))
    else:
        padding = mode
        pads = conv_padding(mode, (R, S), (dh, dw), 1)
    eh, ew = dh * (R - 1) + 1, dw * (S - 1) + 1
    H = draw(st.integers(max(1, eh - pads[0] - pads[1]), max(1, eh - pads[0] - pads[1]) + 6))
    W = draw(st.integers(max(1, ew - pads[2] - pads[3]), max(1, ew - pads[2] - pads[3]) + 6))
    return dict(
        N=draw(st.sampled_from([0, 1, 2, 5])),
        C=Cg * groups,
        H=H,
        W=W,
        K=Kg * groups,
        R=R,
        S=S,
        stride=_maybe_int(draw, sh, sw),
        padding=padding,
        dilation=_maybe_int(draw, dh, dw),
        groups=groups,
        bias=draw(st.booleans()),
    )


@st.composite
def pool_geometries(draw, dilation=True):
    """(x shape, kwargs) for max_pool2d (dilation=True) or avg_pool2d (dilation=False)."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    dh, dw = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if dilation else (1, 1)
    if draw(st.booleans()):
        stride = None
    else:
        stride = _maybe_int(draw, draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    ceil_mode = draw(st.booleans())
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    H = draw(st.integers(max(1, eh - 2 * ph), max(1, eh - 2 * ph) + 7))
    W = draw(st.integers(max(1, ew - 2 * pw), max(1, ew - 2 * pw) + 7))
    shape = (draw(st.sampled_from([0, 1, 2, 5])), draw(st.integers(1, 3)), H, W)
    kwargs = dict(
        kernel_size=_maybe_int(draw, kh, kw),
        stride=stride,
        padding=_maybe_int(draw, ph, pw),
        ceil_mode=ceil_mode,
    )
    if dilation:
        kwargs["dilation"] = _maybe_int(draw, dh, dw)
    return shape, kwargs


# --------------------------------------------------------------------------
# Backward references: float64 gradients with respect to the forward's input
# (and, for conv2d, weight and bias), written as the explicit adjoints of the
# forwards above.  Each <op>_backward(grad_out, x, ...) takes the forward's
# arguments in the same order.  test_<op>_backward.py checks them against
# central finite differences of the forwards (numerical_grad) and against
# torch autograd where torch is installed.
# --------------------------------------------------------------------------


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1):
    """(grad_x, grad_weight, grad_bias) of conv2d: the adjoint of its tap loops.

    For every group and tap (r, s), the strided slab of the padded input that
    the tap reads gets grad_out @ weight[:, :, r, s], and weight[:, :, r, s]
    gets grad_out @ slab; grad_x is the padded gradient cropped to the input;
    grad_bias sums grad_out over N, P, Q.
    """
    go = np.asarray(grad_out, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    Kg = K // groups
    (sh, sw), (dh, dw), (pt, pb, pl, pr), (P, Q) = conv_geometry(x.shape, w.shape, stride, padding, dilation)
    assert go.shape == (N, K, P, Q)
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    for g in range(groups):
        cs, ks = slice(g * Cg, (g + 1) * Cg), slice(g * Kg, (g + 1) * Kg)
        gog = go[:, ks]
        for r in range(R):
            for s in range(S):
                h0, w0 = r * dh, s * dw
                sl = (slice(None), cs, slice(h0, h0 + sh * (P - 1) + 1, sh), slice(w0, w0 + sw * (Q - 1) + 1, sw))
                gxp[sl] += np.einsum("nkhw,kc->nchw", gog, w[ks, :, r, s])
                gw[ks, :, r, s] += np.einsum("nkhw,nchw->kc", gog, xp[sl])
    gx = gxp[:, :, pt:pt + H, pl:pl + W]
    return np.ascontiguousarray(gx), gw, go.sum(axis=(0, 2, 3))


def max_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                        indices=None):
    """Gradient of max_pool2d: each grad_out element added to its window's argmax.

    Without `indices` the argmax is found by an explicit scan of each window
    (in-bounds taps in row-major order; the first tap starts the running max,
    a later one replaces it when it is > the max or NaN: the first maximum, or
    the last NaN).  A window with no in-bounds tap passes no gradient; so does
    an index of -1 in `indices` (flat h*W + w indices, as max_pool2d's).
    """
    go = np.asarray(grad_out, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = pool_geometry(kernel_size, stride, padding, dilation)
    P = pool_out_size(H, kh, sh, ph, dh, ceil_mode)
    Q = pool_out_size(W, kw, sw, pw, dw, ceil_mode)
    assert go.shape == (N, C, P, Q)
    if indices is None:
        indices = np.full((N, C, P, Q), -1, dtype=np.int64)
        for p in range(P):
            for q in range(Q):
                taps = [(h, v) for h in range(p * sh - ph, p * sh - ph + kh * dh, dh)
                        for v in range(q * sw - pw, q * sw - pw + kw * dw, dw)
                        if 0 <= h < H and 0 <= v < W]
                for n in range(N):
                    for c in range(C):
                        best, arg = None, -1
                        for h, v in taps:
                            val = x[n, c, h, v]
                            if best is None or val > best or np.isnan(val):
                                best, arg = val, h * W + v
                        indices[n, c, p, q] = arg
    indices = np.asarray(indices)
    gx = np.zeros((N, C, H * W))
    for n in range(N):
        for c in range(C):
            idx = indices[n, c].ravel()
            keep = idx >= 0
            np.add.at(gx[n, c], idx[keep], go[n, c].ravel()[keep])
    return gx.reshape(N, C, H, W)


def _avg_divisor(P, Q, H, W, kernel, stride, pad, count_include_pad, divisor_override):
    """avg_pool2d's divisor per output (P, Q), or the scalar override."""
    if divisor_override is not None:
        return float(divisor_override)

    def counts(out, n, k, s, p):
        start = np.arange(out) * s - p
        end = np.minimum(start + k, n + p)
        return end - start, np.minimum(end, n) - np.maximum(start, 0)

    hp, hi = counts(P, H, kernel[0], stride[0], pad[0])
    wp, wi = counts(Q, W, kernel[1], stride[1], pad[1])
    return np.outer(hp, wp) if count_include_pad else np.outer(hi, wi)


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                        divisor_override=None):
    """Gradient of avg_pool2d: grad_out / divisor added to every in-bounds element of the window."""
    go = np.asarray(grad_out, dtype=np.float64)
    N, C, H, W = np.shape(x)
    (kh, kw), (sh, sw), (ph, pw), _ = pool_geometry(kernel_size, stride, padding, 1)
    P = pool_out_size(H, kh, sh, ph, 1, ceil_mode)
    Q = pool_out_size(W, kw, sw, pw, 1, ceil_mode)
    assert go.shape == (N, C, P, Q)
    g = go / _avg_divisor(P, Q, H, W, (kh, kw), (sh, sw), (ph, pw), count_include_pad, divisor_override)
    gx = np.zeros((N, C, H, W))
    for i in range(kh):
        hs = _tap_positions(P, sh, ph, 1, i)
        hok = (hs >= 0) & (hs < H)
        for j in range(kw):
            ws = _tap_positions(Q, sw, pw, 1, j)
            wok = (ws >= 0) & (ws < W)
            # one tap of distinct windows touches distinct positions: no repeated index
            gx[:, :, hs[hok][:, None], ws[wok][None, :]] += g[:, :, hok][:, :, :, wok]
    return gx


def lp_pool2d_backward(grad_out, x, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Gradient of lp_pool2d: with s the window's sum of x**p, y = s**(1/p) gives
    dy/dx = x**(p-1) * s**(1/p - 1) for every element of the window, and 0
    where s <= 0 (the clamp)."""
    go = np.asarray(grad_out, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    N, C, H, W = x.shape
    p = float(norm_type)
    (kh, kw), (sh, sw), _, _ = pool_geometry(kernel_size, stride, 0, 1)
    P = pool_out_size(H, kh, sh, 0, 1, ceil_mode)
    Q = pool_out_size(W, kw, sw, 0, 1, ceil_mode)
    assert go.shape == (N, C, P, Q)
    s = np.zeros((N, C, P, Q))
    for pi in range(P):
        for qi in range(Q):
            win = x[:, :, pi * sh:pi * sh + kh, qi * sw:qi * sw + kw]  # slicing clips partial windows
            s[:, :, pi, qi] = (win ** p).sum(axis=(2, 3))
    pos = s > 0
    scale = np.where(pos, go * np.where(pos, s, 1.0) ** (1.0 / p - 1.0), 0.0)
    gx = np.zeros((N, C, H, W))
    xpm1 = x ** (p - 1.0)
    for pi in range(P):
        for qi in range(Q):
            hsl, wsl = slice(pi * sh, pi * sh + kh), slice(qi * sw, qi * sw + kw)
            gx[:, :, hsl, wsl] += scale[:, :, pi, qi][:, :, None, None] * xpm1[:, :, hsl, wsl]
    return gx


def feature_lp_pool_backward(grad_out, x, norm_type, width, stride=None):
    """Gradient of feature_lp_pool: as lp_pool2d_backward, over windows of channels."""
    go = np.asarray(grad_out, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    N, C, H, W = x.shape
    p = float(norm_type)
    stride = width if stride is None else stride
    K = (C - width) // stride + 1
    assert go.shape == (N, K, H, W)
    gx = np.zeros((N, C, H, W))
    xpm1 = x ** (p - 1.0)
    for k in range(K):
        cs = slice(k * stride, k * stride + width)
        s = (x[:, cs] ** p).sum(axis=1)
        pos = s > 0
        scale = np.where(pos, go[:, k] * np.where(pos, s, 1.0) ** (1.0 / p - 1.0), 0.0)
        gx[:, cs] += scale[:, None] * xpm1[:, cs]
    return gx


def _correlate_same_adjoint(g, k):
    """Adjoint of _correlate_same: every output's gradient spread back over its window, then cropped."""
    R = k.shape[0]
    H, W = g.shape[-2:]
    pad = R // 2
    gp = np.zeros(g.shape[:-2] + (H + 2 * pad, W + 2 * pad))
    for u in range(R):
        for v in range(R):
            gp[..., u:u + H, v:v + W] += k[u, v] * g
    return gp[..., pad:pad + H, pad:pad + W]


def local_contrast_norm_backward(grad_out, x, kernel_size=9, sigma=2.0, eps=1e-4):
    """Gradient of local_contrast_norm: its forward replayed, then each step's adjoint in reverse.

    The divisor d = max(sd, floor) with floor = max(mean of sd, eps) passes the
    gradient to sd where sd >= floor (ties go to sd), otherwise to floor, and
    floor passes it to the mean of sd where that mean >= eps (ties go to the
    mean), otherwise nowhere.  Where sd = 0 no gradient flows through sqrt
    (its input is then a minimum of a sum of squares).
    """
    gy = np.asarray(grad_out, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    N, C, H, W = x.shape
    assert gy.shape == x.shape
    g = gaussian_window(kernel_size, sigma)
    w = g / C
    coef = _correlate_same(np.ones((H, W)), g)
    # forward
    mean = _correlate_same(x, w).sum(axis=1) / coef
    v = x - mean[:, None]
    sd = np.sqrt(_correlate_same(v * v, w).sum(axis=1) / coef)
    sd_mean = sd.mean(axis=(1, 2))  # (N,)
    floor = np.maximum(sd_mean, eps)
    use_sd = sd >= floor[:, None, None]
    denom = np.where(use_sd, sd, floor[:, None, None])
    # backward
    gv = gy / denom[:, None]
    gdenom = -(gy * v).sum(axis=1) / denom ** 2  # (N, H, W)
    gsd = np.where(use_sd, gdenom, 0.0)
    gfloor = np.where(use_sd, 0.0, gdenom).sum(axis=(1, 2))  # (N,)
    gsd_mean = np.where(sd_mean >= eps, gfloor, 0.0)
    gsd = gsd + gsd_mean[:, None, None] / (H * W)
    gvar = np.divide(gsd, 2.0 * sd, out=np.zeros_like(sd), where=sd > 0)  # var = sd**2
    gvv = _correlate_same_adjoint(gvar / coef, w)  # the same for every channel
    gv = gv + 2.0 * v * gvv[:, None]
    gmean = -gv.sum(axis=1)
    return gv + _correlate_same_adjoint(gmean / coef, w)[:, None]


def numerical_grad(f, x, grad_out, h=1e-6, independent=()):
    """Central finite differences of sum(grad_out * f(x)) with respect to every element of x (float64).

    `independent`: axes along which f acts separately (output slice i along such an axis depends on
    input slice i only, e.g. the batch axis of every op, the channel axis of 2-D pooling). All slices
    along them are perturbed at once and their sums kept apart, so f runs 2 x (elements per slice)
    times instead of 2 x x.size.
    """
    x = np.array(x, dtype=np.float64)
    go = np.asarray(grad_out, dtype=np.float64)
    ind = tuple(independent)
    other = [a for a in range(x.ndim) if a not in ind]
    reduce = tuple(a for a in range(go.ndim) if a not in ind)
    assert all(go.shape[a] == x.shape[a] for a in ind)
    g = np.zeros_like(x)
    for pos in np.ndindex(*[x.shape[a] for a in other]):
        sel = [slice(None)] * x.ndim
        for a, v in zip(other, pos):
            sel[a] = v
        sel = tuple(sel)
        old = x[sel].copy()
        x[sel] = old + h
        up = np.sum(go * f(x), axis=reduce)
        x[sel] = old - h
        down = np.sum(go * f(x), axis=reduce)
        x[sel] = old
        g[sel] = (up - down) / (2 * h)
    return g
