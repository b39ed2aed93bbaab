// checks.hpp: every argument check of the C++ layer, in one place (host only), shared by the CPU and CUDA
// modules.
//
// Each operation's geometry struct (shapes.hpp) is built by one make_* function here, which checks every
// argument and computes the output size with PyTorch's formulas. The Python layer checks the same arguments
// first; these checks stand behind it, since the extension modules are reachable from Python. A bad
// argument throws ArgumentError (Python: ValueError), a size that cannot be allocated AllocationError
// (Python: MemoryError); the message names the operation and the argument.
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cnnkernels/shapes.hpp"

namespace ck {

// A bad argument: becomes a Python ValueError naming the argument.
struct ArgumentError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// An output or workspace too large to allocate: becomes a Python MemoryError.
struct AllocationError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The arguments of conv2d besides its tensors.
struct Conv2dParams {
  Size2d stride{1, 1};
  Padding2d padding{0, 0, 0, 0};
  Size2d dilation{1, 1};
  int64_t groups = 1;
};

// The arguments of the spatial poolings besides their input (padding is symmetric: (pad_h, pad_w)).
struct Pool2dParams {
  Size2d kernel{1, 1};
  Size2d stride{1, 1};
  Size2d padding{0, 0};
  Size2d dilation{1, 1};
  bool ceil_mode = false;
};

namespace detail {

inline std::string pair_str(int64_t a, int64_t b) {
  return "(" + std::to_string(a) + ", " + std::to_string(b) + ")";
}

inline std::string dims_str(const Dims4& d) {
  return "(" + std::to_string(d.n) + ", " + std::to_string(d.c) + ", " + std::to_string(d.h) + ", " +
         std::to_string(d.w) + ")";
}

inline void require_positive(const std::string& op, const char* name, Size2d v) {
  if (v.h < 1 || v.w < 1) throw ArgumentError(op + ": " + name + " must be positive, got " + pair_str(v.h, v.w));
}

inline void require_non_negative(const std::string& op, const char* name, int64_t a, int64_t b) {
  if (a < 0 || b < 0) throw ArgumentError(op + ": " + name + " must be non-negative, got " + pair_str(a, b));
}

// a * b, or AllocationError when the product of sizes overflows int64.
inline int64_t checked_mul(const std::string& op, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) {
    throw AllocationError(op + ": output or workspace size overflows (cannot be allocated)");
  }
  return r;
}

// a + b for sizes (padding added to an image size), or AllocationError on overflow.
inline int64_t checked_add(const std::string& op, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) throw AllocationError(op + ": padded size overflows (cannot be allocated)");
  return r;
}

// Elements of a tensor of these dims, checked for overflow and for a byte size that cannot exist.
inline int64_t checked_numel(const std::string& op, const Dims4& d, int64_t elem_bytes) {
  const int64_t numel = checked_mul(op, checked_mul(op, checked_mul(op, d.n, d.c), d.h), d.w);
  checked_mul(op, numel, elem_bytes);  // the byte count must fit too
  return numel;
}

// An input x: batch >= 0 and positive C, H, W.
inline void check_input(const std::string& op, const Dims4& x) {
  if (x.n < 0) throw ArgumentError(op + ": x batch size must be >= 0, got " + std::to_string(x.n));
  if (x.c < 1 || x.h < 1 || x.w < 1) {
    throw ArgumentError(op + ": x must have positive C, H and W, got shape " + dims_str(x));
  }
}

// The extent of a dilated window: dil * (k - 1) + 1, checked for overflow.
inline int64_t dilated(const std::string& op, int64_t k, int64_t dil) {
  return checked_add(op, checked_mul(op, dil, k - 1), 1);
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------------------
// Convolution

// x: (N, C, H, W); weight: (K, C/groups, R, S).
inline Conv2dShape make_conv2d_shape(const Dims4& x, const Dims4& weight, const Conv2dParams& p,
                                     int64_t elem_bytes) {
  const std::string op = "conv2d";
  detail::check_input(op, x);
  if (weight.n < 1 || weight.c < 1 || weight.h < 1 || weight.w < 1) {
    throw ArgumentError("conv2d: weight must have positive sizes (K, C/groups, R, S), got " +
                        detail::dims_str(weight));
  }
  detail::require_positive(op, "stride", p.stride);
  detail::require_positive(op, "dilation", p.dilation);
  detail::require_non_negative(op, "padding (top, bottom)", p.padding.top, p.padding.bottom);
  detail::require_non_negative(op, "padding (left, right)", p.padding.left, p.padding.right);
  if (p.groups < 1) throw ArgumentError("conv2d: groups must be positive, got " + std::to_string(p.groups));
  if (x.c % p.groups != 0) {
    throw ArgumentError("conv2d: groups=" + std::to_string(p.groups) + " must divide the input channels C=" +
                        std::to_string(x.c));
  }
  if (weight.n % p.groups != 0) {
    throw ArgumentError("conv2d: groups=" + std::to_string(p.groups) +
                        " must divide the output channels weight.shape[0]=" + std::to_string(weight.n));
  }
  if (weight.c != x.c / p.groups) {
    throw ArgumentError("conv2d: weight.shape[1] must be C/groups=" + std::to_string(x.c / p.groups) + ", got " +
                        std::to_string(weight.c));
  }
  const int64_t eff_r = detail::dilated(op, weight.h, p.dilation.h);
  const int64_t eff_s = detail::dilated(op, weight.w, p.dilation.w);
  const int64_t padded_h = detail::checked_add(op, detail::checked_add(op, x.h, p.padding.top), p.padding.bottom);
  const int64_t padded_w = detail::checked_add(op, detail::checked_add(op, x.w, p.padding.left), p.padding.right);
  if (eff_r > padded_h || eff_s > padded_w) {
    throw ArgumentError("conv2d: weight kernel (dilated) " + detail::pair_str(eff_r, eff_s) +
                        " is larger than the padded input " + detail::pair_str(padded_h, padded_w) +
                        "; expected a kernel that fits in the input plus padding");
  }
  Conv2dShape s{x.n, x.c, x.h, x.w, weight.n, weight.h, weight.w, p.groups, p.stride.h, p.stride.w,
                p.padding.top, p.padding.bottom, p.padding.left, p.padding.right, p.dilation.h, p.dilation.w,
                0, 0};
  s.P = output_size(s.H, s.R, s.stride_h, s.pad_top, s.pad_bottom, s.dil_h, false);
  s.Q = output_size(s.W, s.S, s.stride_w, s.pad_left, s.pad_right, s.dil_w, false);
  detail::checked_numel(op, s.output(), elem_bytes);
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// Spatial pooling

inline Pool2dShape make_pool2d_shape(const std::string& op, const Dims4& x, const Pool2dParams& p,
                                     int64_t elem_bytes) {
  detail::check_input(op, x);
  detail::require_positive(op, "kernel_size", p.kernel);
  detail::require_positive(op, "stride", p.stride);
  detail::require_positive(op, "dilation", p.dilation);
  detail::require_non_negative(op, "padding", p.padding.h, p.padding.w);
  if (p.padding.h > p.kernel.h / 2 || p.padding.w > p.kernel.w / 2) {
    throw ArgumentError(op + ": padding " + detail::pair_str(p.padding.h, p.padding.w) +
                        " must be at most half of kernel_size " + detail::pair_str(p.kernel.h, p.kernel.w));
  }
  const int64_t eff_r = detail::dilated(op, p.kernel.h, p.dilation.h);
  const int64_t eff_s = detail::dilated(op, p.kernel.w, p.dilation.w);
  if (eff_r > x.h + 2 * p.padding.h || eff_s > x.w + 2 * p.padding.w) {
    throw ArgumentError(op + ": kernel_size (dilated) " + detail::pair_str(eff_r, eff_s) +
                        " is larger than the padded input " +
                        detail::pair_str(x.h + 2 * p.padding.h, x.w + 2 * p.padding.w));
  }
  Pool2dShape s{x.n, x.c, x.h, x.w, p.kernel.h, p.kernel.w, p.stride.h, p.stride.w, p.padding.h, p.padding.w,
                p.dilation.h, p.dilation.w, 0, 0};
  s.P = output_size(s.H, s.R, s.stride_h, s.pad_h, s.pad_h, s.dil_h, p.ceil_mode);
  s.Q = output_size(s.W, s.S, s.stride_w, s.pad_w, s.pad_w, s.dil_w, p.ceil_mode);
  detail::checked_numel(op, s.output(), elem_bytes);
  return s;
}

// The exponent of Lp pooling: positive and finite.
inline void check_norm_type(const std::string& op, double p) {
  if (!(p > 0.0) || !std::isfinite(p)) {
    throw ArgumentError(op + ": norm_type must be a positive finite number, got " + std::to_string(p));
  }
}

// avg_pool2d's divisor_override, when one is given: a positive divisor (PyTorch refuses 0 as well).
inline void check_divisor_override(int64_t divisor_override) {
  if (divisor_override < 1) {
    throw ArgumentError("avg_pool2d: divisor_override must be a positive integer or None, got " +
                        std::to_string(divisor_override));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Lp pooling across feature maps

inline FeaturePoolShape make_feature_pool_shape(const Dims4& x, int64_t width, int64_t stride, int64_t elem_bytes) {
  const std::string op = "feature_lp_pool";
  detail::check_input(op, x);
  if (width < 1 || width > x.c) {
    throw ArgumentError(op + ": width must be in [1, C=" + std::to_string(x.c) + "], got " + std::to_string(width));
  }
  if (stride < 1) throw ArgumentError(op + ": stride must be positive, got " + std::to_string(stride));
  FeaturePoolShape s{x.n, x.c, x.h, x.w, width, stride, (x.c - width) / stride + 1};
  detail::checked_numel(op, s.output(), elem_bytes);
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// Local contrast normalization

inline LcnShape make_lcn_shape(const Dims4& x, int64_t R, double sigma, double eps, int64_t elem_bytes) {
  const std::string op = "local_contrast_norm";
  detail::check_input(op, x);
  if (R < 1 || R % 2 == 0) {
    throw ArgumentError(op + ": kernel_size must be a positive odd integer, got " + std::to_string(R));
  }
  if (!(sigma > 0.0) || !std::isfinite(sigma)) {
    throw ArgumentError(op + ": sigma must be a positive finite number, got " + std::to_string(sigma));
  }
  if (!(eps >= 0.0) || !std::isfinite(eps)) {
    throw ArgumentError(op + ": eps must be a non-negative finite number, got " + std::to_string(eps));
  }
  detail::checked_numel(op, x, elem_bytes);
  return LcnShape{x.n, x.c, x.h, x.w, R, sigma, eps};
}

// ---------------------------------------------------------------------------------------------------------
// Backward passes: the gradient of the output has the forward output's dims.

inline void check_grad_out(const std::string& op, const Dims4& grad_out, const Dims4& expected) {
  if (grad_out.n != expected.n || grad_out.c != expected.c || grad_out.h != expected.h ||
      grad_out.w != expected.w) {
    throw ArgumentError(op + ": grad_out must have the forward output's shape " + detail::dims_str(expected) +
                        ", got " + detail::dims_str(grad_out));
  }
}

}  // namespace ck
