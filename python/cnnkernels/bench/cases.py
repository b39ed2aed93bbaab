"""The benchmark's cases: named convolution layers, the sweeps, and the pooling and LCN cases (--ops).

A convolution case is (name, geom) with geom = (N, C, H, W, K, R, S, stride, padding); an op case is
(name, kind, input shape, arguments).
"""

# name: (N, C, H, W, K, R, S, stride, padding)
LAYERS = {
    "lenet-conv1": (64, 1, 32, 32, 6, 5, 5, 1, 0),
    "lenet-conv2": (64, 6, 14, 14, 16, 5, 5, 1, 0),
    "alexnet-conv1": (8, 3, 227, 227, 96, 11, 11, 4, 0),
    "alexnet-conv2": (8, 96, 27, 27, 256, 5, 5, 1, 2),
    "alexnet-conv3": (8, 256, 13, 13, 384, 3, 3, 1, 1),
    "vgg-conv1_2": (1, 64, 224, 224, 64, 3, 3, 1, 1),
    "vgg-conv3_2": (4, 256, 56, 56, 256, 3, 3, 1, 1),
    "pointwise-512": (4, 512, 32, 32, 512, 1, 1, 1, 0),
    "odd-prime-s2": (3, 7, 61, 59, 13, 5, 5, 2, 2),
    "large-kernel-11": (8, 32, 64, 64, 32, 11, 11, 1, 5),
    "large-kernel-15": (4, 16, 128, 128, 16, 15, 15, 1, 7),
    "image-1024-31": (1, 1, 1024, 1024, 1, 31, 31, 1, 15),
}
QUICK_LAYERS = ["lenet-conv2", "alexnet-conv3", "large-kernel-11"]
DEFAULT_LAYERS = ["lenet-conv2", "alexnet-conv1", "alexnet-conv2", "alexnet-conv3", "vgg-conv3_2",
                  "large-kernel-11", "large-kernel-15", "odd-prime-s2"]

SWEEPS = ("kernel", "image", "channels", "odd")


def sweep_cases(kind, quick=False):
    """Cases of one sweep: 'kernel' (R = S = 1..15), 'image' (H = W), 'channels' (C = K) or 'odd' (untuned
    shapes: primes, strides)."""
    cases = []
    if kind == "kernel":
        sizes = [1, 3, 5, 7, 9, 11, 13, 15] if not quick else [1, 5, 11]
        for k in sizes:
            cases.append((f"kernel-{k}", (4, 16, 64, 64, 16, k, k, 1, k // 2)))
    elif kind == "image":
        sizes = [16, 32, 64, 128, 256] if not quick else [32, 128]
        for n in sizes:
            cases.append((f"image-{n}", (2, 16, n, n, 16, 7, 7, 1, 3)))
    elif kind == "channels":
        sizes = [4, 16, 64, 128] if not quick else [8, 64]
        for c in sizes:
            cases.append((f"channels-{c}", (4, c, 32, 32, c, 5, 5, 1, 2)))
    elif kind == "odd":  # shapes no one tuned for: prime sizes and channel counts, strides, dilation
        shapes = [(3, 7, 61, 59, 13, 5, 5, 2, 2), (2, 5, 97, 89, 11, 3, 3, 1, 1), (1, 13, 53, 53, 29, 7, 7, 1, 3),
                  (5, 17, 31, 37, 19, 3, 3, 2, 1), (2, 3, 101, 103, 7, 9, 9, 1, 4), (4, 29, 23, 23, 31, 5, 5, 1, 2),
                  (1, 11, 127, 113, 5, 13, 13, 1, 6), (2, 41, 19, 17, 43, 3, 3, 1, 0)]
        if quick:
            shapes = shapes[:3]
        for g in shapes:
            cases.append((f"odd-{g[1]}c{g[2]}x{g[3]}k{g[5]}s{g[7]}", g))
    else:
        raise ValueError(f"bench: --sweep must be 'kernel', 'image', 'channels' or 'odd', got {kind!r}")
    return cases


# Pooling and LCN (--ops): memory-bound, so reported in GB/s against the measured memory bandwidth.
# name: (op, input shape, arguments)
OP_CASES = [
    ("max_pool2d 3x3 s2", "pool", (8, 96, 55, 55), dict(kind="max", k=3, s=2)),
    ("avg_pool2d 3x3 s2", "pool", (8, 96, 55, 55), dict(kind="avg", k=3, s=2)),
    ("lp_pool2d p2 3x3 s2", "pool", (8, 96, 55, 55), dict(kind="lp", k=3, s=2)),
    ("max_pool2d 2x2 s2", "pool", (16, 64, 112, 112), dict(kind="max", k=2, s=2)),
    ("avg_pool2d 2x2 s2", "pool", (16, 64, 112, 112), dict(kind="avg", k=2, s=2)),
    ("lp_pool2d p2 2x2 s2", "pool", (16, 64, 112, 112), dict(kind="lp", k=2, s=2)),
    ("feature_lp_pool w2", "feature", (8, 64, 56, 56), dict(width=2)),
    ("local_contrast_norm 9x9", "lcn", (8, 32, 64, 64), dict(k=9, sigma=2.0)),
]
