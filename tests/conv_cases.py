"""conv2d geometries and test data shared by test_conv2d.py and the reference
self-check in test_reference.py.

CASES: name -> (x shape, weight shape, kwargs), fixed edge-case geometries
(1x1 input, kernel == input, stride > kernel, dilation, groups incl.
depthwise, asymmetric / "same" / "valid" padding, odd sizes, batch 1 and 5).
make() draws x, weight and (optionally) bias.
"""

# name -> (x shape, weight shape, kwargs)
CASES = {
    "basic_3x3_pad1": ((2, 3, 7, 6), (4, 3, 3, 3), dict(padding=1)),
    "1x1_input_1x1_kernel": ((1, 1, 1, 1), (1, 1, 1, 1), dict()),
    "1x1_input_3x3_kernel_pad1": ((1, 2, 1, 1), (3, 2, 3, 3), dict(padding=1)),
    "kernel_equals_input": ((2, 2, 5, 4), (3, 2, 5, 4), dict()),
    "kernel_equals_padded_input": ((1, 2, 3, 3), (2, 2, 5, 5), dict(padding=1)),
    "stride_gt_kernel": ((1, 2, 9, 8), (2, 2, 2, 2), dict(stride=3)),
    "stride_gt_input": ((1, 2, 4, 4), (2, 2, 2, 2), dict(stride=5)),
    "rect_stride_pad_dilation": ((1, 2, 9, 8), (2, 2, 3, 2), dict(stride=(2, 3), padding=(1, 2), dilation=(2, 1))),
    "dilation2": ((1, 3, 8, 8), (2, 3, 3, 3), dict(dilation=2, padding=2)),
    "dilation_gt_input_with_pad": ((1, 1, 2, 2), (1, 1, 2, 2), dict(dilation=3, padding=1)),
    "groups2": ((2, 4, 6, 6), (6, 2, 3, 3), dict(groups=2, padding=1)),
    "depthwise": ((2, 4, 6, 6), (4, 1, 3, 3), dict(groups=4, padding=1)),
    "depthwise_multiplier": ((1, 3, 6, 5), (6, 1, 2, 3), dict(groups=3, stride=2)),
    "groups_dilation_stride": ((2, 6, 9, 9), (4, 3, 3, 2), dict(groups=2, dilation=2, stride=2, padding=(1, 2))),
    "asym_padding": ((1, 2, 6, 7), (3, 2, 3, 3), dict(padding=((1, 2), (0, 3)))),
    "asym_padding_lists": ((1, 2, 5, 5), (3, 2, 2, 2), dict(padding=[[0, 1], [2, 0]], stride=[1, 2])),
    "pair_padding": ((1, 2, 5, 6), (3, 2, 3, 3), dict(padding=(2, 0))),
    "same_odd": ((1, 2, 6, 7), (3, 2, 3, 5), dict(padding="same")),
    "same_even": ((1, 2, 6, 7), (3, 2, 4, 2), dict(padding="same")),
    "same_even_dilated": ((1, 2, 6, 7), (3, 2, 2, 4), dict(padding="same", dilation=(3, 2))),
    "same_1x1_input": ((1, 2, 1, 1), (2, 2, 4, 4), dict(padding="same")),
    "valid": ((1, 2, 6, 7), (3, 2, 3, 3), dict(padding="valid")),
    "valid_strided": ((1, 2, 7, 7), (3, 2, 3, 3), dict(padding="valid", stride=2)),
    "odd_sizes": ((3, 3, 7, 5), (5, 3, 3, 2), dict(stride=(2, 1), padding=(0, 1))),
    "pointwise_strided": ((5, 3, 5, 7), (2, 3, 1, 1), dict(stride=2)),
    "batch5": ((5, 3, 6, 6), (4, 3, 3, 3), dict(padding=1, stride=2)),
    "more_channels": ((2, 16, 6, 6), (8, 16, 3, 3), dict(padding=1)),
}


def make(rng, xs, ws, dtype, bias=True):
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype) if bias else None
    return x, w, b
