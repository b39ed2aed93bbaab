// shapes.hpp: shape arithmetic and argument checks shared by every kernel, CPU and CUDA alike.
//
// Each operation has a small struct holding its full geometry, built by one make_* function that checks
// every argument and computes the output size with PyTorch's formulas. The Python layer checks the same
// arguments first; these checks stand behind it, since the extension module is reachable from Python.
//
// Dimension names used throughout cnnkernels:
//   N batch, C input channels, K output channels, H W input height/width,
//   R S kernel height/width, P Q output height/width.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>

namespace ck {

// A bad argument: becomes a Python ValueError naming the argument.
struct ArgumentError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// An output or workspace too large to allocate: becomes a Python MemoryError.
struct AllocationError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {

inline std::string pair_str(int64_t a, int64_t b) {
  return "(" + std::to_string(a) + ", " + std::to_string(b) + ")";
}

inline void require_positive(const char* op, const char* name, int64_t h, int64_t w) {
  if (h < 1 || w < 1) {
    throw ArgumentError(std::string(op) + ": " + name + " must be positive, got " + pair_str(h, w));
  }
}

inline void require_non_negative(const char* op, const char* name, int64_t a, int64_t b) {
  if (a < 0 || b < 0) {
    throw ArgumentError(std::string(op) + ": " + name + " must be non-negative, got " + pair_str(a, b));
  }
}

// a * b, or AllocationError when the product of sizes overflows int64.
inline int64_t checked_mul(const char* op, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) {
    throw AllocationError(std::string(op) + ": output or workspace size overflows (cannot be allocated)");
  }
  return r;
}

// a + b for sizes (padding added to an image size), or AllocationError on overflow.
inline int64_t checked_add(const char* op, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    throw AllocationError(std::string(op) + ": padded size overflows (cannot be allocated)");
  }
  return r;
}

// Elements of an N x C x H x W tensor, checked for overflow and for a byte size that cannot exist.
inline int64_t checked_numel(const char* op, int64_t n, int64_t c, int64_t h, int64_t w, int64_t elem_bytes) {
  int64_t numel = checked_mul(op, checked_mul(op, checked_mul(op, n, c), h), w);
  checked_mul(op, numel, elem_bytes);  // the byte count must fit too
  return numel;
}

// PyTorch's pooling/convolution output size along one dimension:
//   out = floor_or_ceil((in + pad_before + pad_after - dil*(k-1) - 1) / stride) + 1,
// and with ceil_mode the last window must start inside the input or the leading padding.
inline int64_t output_size(int64_t in, int64_t k, int64_t stride, int64_t pad_before, int64_t pad_after,
                           int64_t dil, bool ceil_mode) {
  const int64_t span = in + pad_before + pad_after - dil * (k - 1) - 1;  // >= 0, checked by the caller
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad_before) --out;
  return out;
}

// The outputs q in [lo, hi) whose input coordinate q*stride + offset lies inside [0, in), clipped to
// [0, out). Lets kernels skip zero padding without materialising it.
inline void inside_range(int64_t offset, int64_t stride, int64_t in, int64_t out, int64_t* lo, int64_t* hi) {
  const int64_t first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const int64_t last = in - 1 - offset < 0 ? -1 : (in - 1 - offset) / stride;  // may be >= out
  *lo = first < out ? first : out;
  const int64_t end = last + 1 < out ? last + 1 : out;
  *hi = end > *lo ? end : *lo;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------------------
// Convolution (cross-correlation, as torch.nn.functional.conv2d)

struct Conv2dShape {
  int64_t N, C, H, W;              // input x: N x C x H x W
  int64_t K, R, S;                 // weight:  K x C/groups x R x S
  int64_t groups;                  // C and K split into `groups` independent convolutions
  int64_t stride_h, stride_w;
  int64_t pad_top, pad_bottom, pad_left, pad_right;
  int64_t dil_h, dil_w;
  int64_t P, Q;                    // output y: N x K x P x Q

  int64_t C_per_group() const { return C / groups; }
  int64_t K_per_group() const { return K / groups; }
  // 1x1, stride 1, no padding: each image is a plain matrix product with x itself.
  bool is_pointwise() const {
    return R == 1 && S == 1 && stride_h == 1 && stride_w == 1 && pad_top == 0 && pad_bottom == 0 &&
           pad_left == 0 && pad_right == 0;
  }
};

// weight_c is weight.shape[1] (in-channels per group).
inline Conv2dShape make_conv2d_shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t weight_c,
                                     int64_t R, int64_t S, int64_t stride_h, int64_t stride_w, int64_t pad_top,
                                     int64_t pad_bottom, int64_t pad_left, int64_t pad_right, int64_t dil_h,
                                     int64_t dil_w, int64_t groups, int64_t elem_bytes) {
  const char* op = "conv2d";
  if (N < 0) throw ArgumentError("conv2d: x batch size must be >= 0, got " + std::to_string(N));
  if (C < 1 || H < 1 || W < 1) {
    throw ArgumentError("conv2d: x must have positive C, H and W, got shape (" + std::to_string(N) + ", " +
                        std::to_string(C) + ", " + std::to_string(H) + ", " + std::to_string(W) + ")");
  }
  if (K < 1 || weight_c < 1 || R < 1 || S < 1) {
    throw ArgumentError("conv2d: weight must have positive sizes (K, C/groups, R, S), got (" +
                        std::to_string(K) + ", " + std::to_string(weight_c) + ", " + std::to_string(R) + ", " +
                        std::to_string(S) + ")");
  }
  detail::require_positive(op, "stride", stride_h, stride_w);
  detail::require_positive(op, "dilation", dil_h, dil_w);
  detail::require_non_negative(op, "padding (top, bottom)", pad_top, pad_bottom);
  detail::require_non_negative(op, "padding (left, right)", pad_left, pad_right);
  if (groups < 1) throw ArgumentError("conv2d: groups must be positive, got " + std::to_string(groups));
  if (C % groups != 0) {
    throw ArgumentError("conv2d: groups=" + std::to_string(groups) + " must divide the input channels C=" +
                        std::to_string(C));
  }
  if (K % groups != 0) {
    throw ArgumentError("conv2d: groups=" + std::to_string(groups) +
                        " must divide the output channels weight.shape[0]=" + std::to_string(K));
  }
  if (weight_c != C / groups) {
    throw ArgumentError("conv2d: weight.shape[1] must be C/groups=" + std::to_string(C / groups) + ", got " +
                        std::to_string(weight_c));
  }
  const int64_t eff_r = detail::checked_add(op, detail::checked_mul(op, dil_h, R - 1), 1);
  const int64_t eff_s = detail::checked_add(op, detail::checked_mul(op, dil_w, S - 1), 1);
  const int64_t padded_h = detail::checked_add(op, detail::checked_add(op, H, pad_top), pad_bottom);
  const int64_t padded_w = detail::checked_add(op, detail::checked_add(op, W, pad_left), pad_right);
  if (eff_r > padded_h || eff_s > padded_w) {
    throw ArgumentError("conv2d: weight kernel (dilated) " + detail::pair_str(eff_r, eff_s) +
                        " is larger than the padded input " + detail::pair_str(padded_h, padded_w) +
                        "; expected a kernel that fits in the input plus padding");
  }
  Conv2dShape s{N, C, H, W, K, R, S, groups, stride_h, stride_w, pad_top, pad_bottom, pad_left, pad_right,
                dil_h, dil_w, 0, 0};
  s.P = detail::output_size(H, R, stride_h, pad_top, pad_bottom, dil_h, false);
  s.Q = detail::output_size(W, S, stride_w, pad_left, pad_right, dil_w, false);
  detail::checked_numel(op, N, K, s.P, s.Q, elem_bytes);
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// Spatial pooling (max, average, Lp): one window of R x S taps per output pixel, per channel.

struct Pool2dShape {
  int64_t N, C, H, W;        // input and output channels are the same: N x C x H x W -> N x C x P x Q
  int64_t R, S;              // window
  int64_t stride_h, stride_w;
  int64_t pad_h, pad_w;      // symmetric padding
  int64_t dil_h, dil_w;
  int64_t P, Q;
};

inline Pool2dShape make_pool2d_shape(const char* op, int64_t N, int64_t C, int64_t H, int64_t W, int64_t R,
                                     int64_t S, int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                     int64_t dil_h, int64_t dil_w, bool ceil_mode, int64_t elem_bytes) {
  const std::string o(op);
  if (N < 0) throw ArgumentError(o + ": x batch size must be >= 0, got " + std::to_string(N));
  if (C < 1 || H < 1 || W < 1) {
    throw ArgumentError(o + ": x must have positive C, H and W, got shape (" + std::to_string(N) + ", " +
                        std::to_string(C) + ", " + std::to_string(H) + ", " + std::to_string(W) + ")");
  }
  detail::require_positive(op, "kernel_size", R, S);
  detail::require_positive(op, "stride", stride_h, stride_w);
  detail::require_positive(op, "dilation", dil_h, dil_w);
  detail::require_non_negative(op, "padding", pad_h, pad_w);
  if (pad_h > R / 2 || pad_w > S / 2) {
    throw ArgumentError(o + ": padding " + detail::pair_str(pad_h, pad_w) +
                        " must be at most half of kernel_size " + detail::pair_str(R, S));
  }
  const int64_t eff_r = detail::checked_add(op, detail::checked_mul(op, dil_h, R - 1), 1);
  const int64_t eff_s = detail::checked_add(op, detail::checked_mul(op, dil_w, S - 1), 1);
  if (eff_r > H + 2 * pad_h || eff_s > W + 2 * pad_w) {
    throw ArgumentError(o + ": kernel_size (dilated) " + detail::pair_str(eff_r, eff_s) +
                        " is larger than the padded input " + detail::pair_str(H + 2 * pad_h, W + 2 * pad_w));
  }
  Pool2dShape s{N, C, H, W, R, S, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, 0, 0};
  s.P = detail::output_size(H, R, stride_h, pad_h, pad_h, dil_h, ceil_mode);
  s.Q = detail::output_size(W, S, stride_w, pad_w, pad_w, dil_w, ceil_mode);
  detail::checked_numel(op, N, C, s.P, s.Q, elem_bytes);
  return s;
}

// The exponent of Lp pooling: positive and finite.
inline void check_norm_type(const char* op, double p) {
  if (!(p > 0.0) || !std::isfinite(p)) {
    throw ArgumentError(std::string(op) + ": norm_type must be a positive finite number, got " +
                        std::to_string(p));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Lp pooling across feature maps: output channel k pools input channels k*stride .. k*stride + width - 1.

struct FeaturePoolShape {
  int64_t N, C, H, W;   // input
  int64_t width, stride;
  int64_t K;            // output channels: N x K x H x W
};

inline FeaturePoolShape make_feature_pool_shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t width,
                                                int64_t stride, int64_t elem_bytes) {
  const char* op = "feature_lp_pool";
  if (N < 0) throw ArgumentError("feature_lp_pool: x batch size must be >= 0, got " + std::to_string(N));
  if (C < 1 || H < 1 || W < 1) {
    throw ArgumentError("feature_lp_pool: x must have positive C, H and W, got C=" + std::to_string(C) +
                        " H=" + std::to_string(H) + " W=" + std::to_string(W));
  }
  if (width < 1 || width > C) {
    throw ArgumentError("feature_lp_pool: width must be in [1, C=" + std::to_string(C) + "], got " +
                        std::to_string(width));
  }
  if (stride < 1) throw ArgumentError("feature_lp_pool: stride must be positive, got " + std::to_string(stride));
  FeaturePoolShape s{N, C, H, W, width, stride, (C - width) / stride + 1};
  detail::checked_numel(op, N, s.K, H, W, elem_bytes);
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// Local contrast normalization: output has the input's shape.

struct LcnShape {
  int64_t N, C, H, W;
  int64_t R;          // odd Gaussian window size
  double sigma, eps;
};

inline LcnShape make_lcn_shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t R, double sigma, double eps,
                               int64_t elem_bytes) {
  const char* op = "local_contrast_norm";
  if (N < 0) throw ArgumentError("local_contrast_norm: x batch size must be >= 0, got " + std::to_string(N));
  if (C < 1 || H < 1 || W < 1) {
    throw ArgumentError("local_contrast_norm: x must have positive C, H and W, got C=" + std::to_string(C) +
                        " H=" + std::to_string(H) + " W=" + std::to_string(W));
  }
  if (R < 1 || R % 2 == 0) {
    throw ArgumentError("local_contrast_norm: kernel_size must be a positive odd integer, got " +
                        std::to_string(R));
  }
  if (!(sigma > 0.0) || !std::isfinite(sigma)) {
    throw ArgumentError("local_contrast_norm: sigma must be a positive finite number, got " + std::to_string(sigma));
  }
  if (!(eps >= 0.0) || !std::isfinite(eps)) {
    throw ArgumentError("local_contrast_norm: eps must be a non-negative finite number, got " + std::to_string(eps));
  }
  detail::checked_numel(op, N, C, H, W, elem_bytes);
  return LcnShape{N, C, H, W, R, sigma, eps};
}

}  // namespace ck
