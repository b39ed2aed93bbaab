"""Helpers and case tables shared by the pooling test files.

make() builds test data (normal, small-integer "ties", non-negative), call()
runs an op through the backend and checks the input is unchanged; MAX_CASES
(max_pool2d geometries, also used by the reference self-check in
test_reference.py) and LP_P_KINDS (norm types and data kinds for lp_pool2d
and feature_lp_pool).
"""

from reference import assert_unchanged, snapshot


def make(rng, shape, dtype, kind="normal"):
    if kind == "normal":
        x = rng.standard_normal(shape)
    elif kind == "ties":  # small integers: many ties inside windows
        x = rng.integers(-2, 3, size=shape)
    elif kind == "nonneg":
        x = rng.random(shape)
    else:
        raise AssertionError(kind)
    return x.astype(dtype)


def call(backend, fn, x, *args, **kw):
    """fn(backend x, ...) -> result converted to NumPy; checks x is unchanged."""
    xb = backend.asarray(x)
    before = snapshot(x)
    out = getattr(backend.ck, fn.__name__)(xb, *args, **kw)  # the op on this backend
    assert_unchanged(before, [backend.to_numpy(xb)])
    if isinstance(out, tuple):
        return tuple(backend.to_numpy(o) for o in out)
    return backend.to_numpy(out)


# max_pool2d: name -> (x shape, kwargs)
MAX_CASES = {
    "k2": ((2, 3, 6, 6), dict(kernel_size=2)),
    "1x1_input": ((1, 2, 1, 1), dict(kernel_size=1)),
    "1x1_input_k2_pad1": ((1, 2, 1, 1), dict(kernel_size=2, padding=1)),
    "kernel_equals_input": ((2, 2, 5, 4), dict(kernel_size=(5, 4))),
    "kernel_equals_padded_input": ((1, 2, 3, 3), dict(kernel_size=5, padding=1)),
    "k3_s1_p1": ((1, 2, 5, 5), dict(kernel_size=3, stride=1, padding=1)),
    "stride_gt_kernel": ((1, 2, 9, 8), dict(kernel_size=2, stride=3)),
    "stride_gt_input": ((1, 2, 4, 4), dict(kernel_size=2, stride=5)),
    "rect": ((1, 2, 7, 5), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))),
    "lists": ((1, 1, 6, 6), dict(kernel_size=[2, 3], stride=[1, 2], padding=[1, 1])),
    "dilation": ((1, 2, 7, 7), dict(kernel_size=3, stride=1, padding=1, dilation=2)),
    "dilation_rect_ceil": ((1, 2, 9, 8), dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 1), dilation=(3, 2), ceil_mode=True)),
    "ceil_partial_window": ((1, 2, 7, 6), dict(kernel_size=3, stride=2, ceil_mode=True)),
    "ceil_last_window_dropped": ((1, 2, 5, 5), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),
    "ceil_rect_pad": ((1, 2, 8, 8), dict(kernel_size=(3, 4), stride=(3, 3), padding=(1, 2), ceil_mode=True)),
    "odd_batch5": ((5, 3, 5, 7), dict(kernel_size=3, stride=2, padding=1)),
}

# lp_pool2d / feature_lp_pool: (norm_type, data kind): p=1.5 only on
# non-negative data; p=3 mixed-sign on small integers so that sums that cancel
# are exactly 0 (the cube root is ill-conditioned near 0)
LP_P_KINDS = [(1, "nonneg"), (1, "normal"), (2, "nonneg"), (2, "normal"), (3, "nonneg"), (3, "ties"), (1.5, "nonneg")]
