// lp.hpp: the power, root and derivative of Lp pooling, shared by lp_pool2d and feature_lp_pool (CPU and CUDA).
//
// out = (sum of x**p) ** (1/p), a negative sum clamped to 0 (as PyTorch). p = 1 and p = 2 take exact
// fast paths; any other p uses std::pow (so a negative x with a fractional p gives NaN, as x**p does).
#pragma once

#include <cmath>

#include "cnnkernels/config.hpp"

namespace ck {

struct LpNorm {
  enum Kind { one, two, general } kind;
  double p;

  CK_HD explicit LpNorm(double norm_type)
      : kind(norm_type == 1.0 ? one : norm_type == 2.0 ? two : general), p(norm_type) {}

  template <typename T>
  CK_HD T power(T x) const {
    switch (kind) {
      case one: return x;
      case two: return x * x;
      default: return static_cast<T>(std::pow(x, static_cast<T>(p)));
    }
  }

  template <typename T>
  CK_HD T root(T sum) const {
    if (!(sum > T(0))) return sum != sum ? sum : T(0);  // clamp negatives and -0 to 0; keep NaN
    switch (kind) {
      case one: return sum;
      case two: return std::sqrt(sum);
      default: return static_cast<T>(std::pow(sum, static_cast<T>(1.0 / p)));
    }
  }

  // d out / d x for an element x of a window whose output is out = root(sum): (x / out)^(p-1), as the
  // product input_factor(x) * output_factor(out) = x^(p-1) * out^(1-p); 0 where out is 0 (the sum clamped,
  // or all zeros: no direction increases it), NaN where out is NaN.
  template <typename T>
  CK_HD T input_factor(T x) const {
    switch (kind) {
      case one: return T(1);
      case two: return x;
      default: return static_cast<T>(std::pow(x, static_cast<T>(p - 1)));
    }
  }
  template <typename T>
  CK_HD T output_factor(T out) const {
    if (!(out > T(0))) return out != out ? out : T(0);
    switch (kind) {
      case one: return T(1);
      case two: return T(1) / out;
      default: return static_cast<T>(std::pow(out, static_cast<T>(1 - p)));
    }
  }
};

}  // namespace ck
