"""The CUDA GEMM (cuda/gemm.cuh), tested through the im2col convolution and its gradients.

The GEMM has no entry point of its own in Python, so each case below is a conv2d geometry chosen for the
GEMM sizes it produces (M, N, K of 1, sizes off the tiles, several tiles, both tile configurations, split
K, batches over images and groups, sums over images, chunks of images). Per group g, with Kg = K/groups,
depth = (C/groups)*R*S and PQ = P*Q:

  forward          y = w_g * col        NN   M = Kg     N = PQ     K = depth   batch images x groups
  grad_input       dcol = w_g^T * gy    TN   M = depth  N = PQ     K = Kg      batch images x groups
  grad_weight      gw = gy * col^T      NT   M = Kg     N = depth  K = PQ      summed over the images

Tiles (gemm.cuh): float big 64x64, double big 32x64, small 16x32 for both, BK 16; the big tile when
M > 16 and N > 32. K splits when a grid of fewer than 256 blocks has 16 steps of BK or more. Columns are
built for as many images as fit 16 MB (at least one). A pointwise convolution (1x1, stride 1, no
padding) reads x, writes gx directly. Every backend runs these (the CPU's im2col too); the cuda-emu and
cuda backends are the ones they are written for.
"""

import numpy as np
import pytest

import reference
from reference import assert_close

# name -> (x shape, weight shape, kwargs); the GEMM edges each case reaches, per direction
GEMM_CASES = {
    # pointwise: every GEMM 1 x 1 x 1, x and gx themselves as the column matrix
    "m1_n1_k1": ((1, 1, 1, 1), (1, 1, 1, 1), dict()),
    # depthwise 1x1 strided (not pointwise): forward and grad_input M = 1, K = 1, N = 9; grad_weight
    # M = N = 1, K = 9 summed over 2 images; batch of 2 images x 3 groups
    "m1_k1_depthwise_strided": ((2, 3, 5, 5), (3, 1, 1, 1), dict(groups=3, stride=2)),
    # kernel = input: N = PQ = 1; forward M = 20 (two small tiles in M), K = 252 split in 2 (16 steps of
    # 16, a grid of 2 blocks); grad_input M = 252 (small tile, N = 1), K = 20; grad_weight K = 1, 2 terms
    "n1_kernel_equals_input": ((2, 6, 7, 6), (20, 6, 7, 6), dict()),
    # big tiles with ragged edges: forward M = 70 (2 tiles), N = 437 (7 tiles), K = 45 (2 steps + 13);
    # grad_input M = 45, N = 437, K = 70; grad_weight M = 70, N = 45, K = 437 x 2 images in 7 splits whose
    # boundaries fall inside an image's steps
    "big_tiles_ragged": ((2, 5, 23, 19), (70, 5, 3, 3), dict(padding=1)),
    # batch 3 images x 3 groups (item = image * 3 + group), strided, dilated, asymmetric padding
    "batch_images_groups": ((3, 6, 9, 10), (9, 2, 3, 2), dict(groups=3, stride=(2, 1), dilation=(1, 2),
                                                              padding=((1, 0), (2, 1)))),
    # forward split K with bias in the reduction: M = 24, N = 36 (one big tile), K = 360 (23 steps)
    "split_k_forward_bias": ((2, 40, 6, 6), (24, 40, 3, 3), dict(padding=1)),
    # grad_input split K: M = 12, N = 30, K = 260 (17 steps, a grid of 2 blocks) in 2 splits; forward
    # M = 260 in 17 small tiles, N = 30, K = 12
    "split_k_grad_input": ((2, 3, 4, 5), (260, 3, 2, 2), dict(padding=1)),
    # pointwise with groups: B = x, C = gx with group strides; grad_weight sums 3 images of x
    "pointwise_groups": ((3, 6, 5, 7), (10, 3, 1, 1), dict(groups=2)),
    # pointwise big tiles; grad_weight M = 48, N = 40, K = 81 x 4 images (24 steps) in 3 splits
    "pointwise_big_split_terms": ((4, 40, 9, 9), (48, 40, 1, 1), dict()),
    # columns of 2.3M elements per image (9.2 MB in float): two images exceed the 16 MB of a chunk in
    # either dtype, so 2 chunks of one image; forward K = 1444 in 6 splits; grad_weight M = 3, N = 1444,
    # K = 1600 in 6 splits, the second chunk added with beta = 1 by the split-K reduction
    "chunks_of_images": ((2, 4, 40, 40), (3, 4, 19, 19), dict(padding=9)),
}


def _needs_im2col(backend):
    if "im2col" not in backend.algorithms:
        pytest.skip(f"backend {backend.name!r} has no im2col")


@pytest.mark.parametrize("case", list(GEMM_CASES))
def test_gemm_through_conv2d_im2col(backend, dtype, rng, case):
    _needs_im2col(backend)
    xs, ws, kw = GEMM_CASES[case]
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    # with bias (added in the GEMM's epilogue, or in the split-K reduction); test_conv2d runs without
    out = backend.ck.conv2d(backend.asarray(x), backend.asarray(w), backend.asarray(b), algo="im2col", **kw)
    assert_close(backend.to_numpy(out), reference.conv2d(x, w, b, **kw), dtype)


@pytest.mark.parametrize("case", list(GEMM_CASES))
def test_gemm_through_conv2d_backward_im2col(backend, dtype, rng, case):
    _needs_im2col(backend)
    xs, ws, kw = GEMM_CASES[case]
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    go = rng.standard_normal(reference.conv2d(np.zeros(xs), np.zeros(ws), **kw).shape).astype(dtype)
    gx, gw, gb = backend.ck.conv2d_backward(backend.asarray(go), backend.asarray(x), backend.asarray(w),
                                            algo="im2col", needs=("input", "weight"), **kw)
    assert gb is None
    ref_gx, ref_gw, _ = reference.conv2d_backward(go, x, w, **kw)
    assert_close(backend.to_numpy(gx), ref_gx, dtype)
    assert_close(backend.to_numpy(gw), ref_gw, dtype)


def test_gemm_beta1_in_epilogue_over_chunks(backend, rng):
    # float64 columns of 4900 x 225 per image (8.8 MB): one image per chunk; grad_weight M = 2, N = 4900
    # (154 small tiles), K = 225 (15 steps: no split), the second chunk added with beta = 1 by the GEMM
    # kernel's own epilogue (not the split-K reduction)
    _needs_im2col(backend)
    xs, ws = (2, 49, 24, 24), (2, 49, 10, 10)
    x = rng.standard_normal(xs)
    w = rng.standard_normal(ws)
    go = rng.standard_normal((2, 2, 15, 15))
    _, gw, _ = backend.ck.conv2d_backward(backend.asarray(go), backend.asarray(x), backend.asarray(w),
                                          algo="im2col", needs=("weight",))
    assert_close(backend.to_numpy(gw), reference.conv2d_backward(go, x, w)[1], np.float64)


@pytest.mark.parametrize("case", ["big_tiles_ragged", "pointwise_big_split_terms"])
def test_gemm_sums_are_deterministic(backend, rng, case):
    # split K and chunks sum in a fixed order: repeated calls agree bit for bit
    _needs_im2col(backend)
    xs, ws, kw = GEMM_CASES[case]
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    go = rng.standard_normal(reference.conv2d(np.zeros(xs), np.zeros(ws), **kw).shape).astype(np.float32)
    runs = [backend.ck.conv2d_backward(backend.asarray(go), backend.asarray(x), backend.asarray(w),
                                       algo="im2col", needs=("weight",), **kw)[1] for _ in range(2)]
    np.testing.assert_array_equal(backend.to_numpy(runs[0]), backend.to_numpy(runs[1]))
