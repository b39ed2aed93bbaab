// lp_pool2d.cpp: power-average (Lp) pooling on the CPU: y = (sum over the window of x**p) ** (1/p).
//
// No padding (as PyTorch). With ceil_mode a partial window at the bottom/right edge sums the elements it
// has; PyTorch instead rescales such a window by R*S / (elements it has). The sums run through the
// separable passes of pool2d_rows.hpp with x**p loaded per tap; p = 1 and p = 2 get their own
// instantiations so the power is a plain multiply in the vectorised loops.
#include <cmath>
#include <vector>

#include "cnnkernels/kernels.hpp"
#include "cnnkernels/lp.hpp"
#include "threads.hpp"
#include "pool2d_rows.hpp"

namespace ck {
namespace {

// y_c = its sums' roots, one plane (P x Q) in place.
template <typename T>
void lp_roots(const Pool2dShape& s, const LpNorm& norm, T* y_c) {
  if (norm.kind == LpNorm::two) {  // norm.root spelled out without branches, so that it vectorises
    for (int64_t i = 0; i < s.P * s.Q; ++i) {
      const T sum = y_c[i], root = std::sqrt(sum > T(0) ? sum : T(0));
      y_c[i] = sum != sum ? sum : root;
    }
  } else {
    for (int64_t i = 0; i < s.P * s.Q; ++i) y_c[i] = norm.root(y_c[i]);
  }
}

template <typename T, typename Power>
void lp_pool2d_with(const Pool2dShape& s, const LpNorm& norm, Power power, const T* x, T* y) {
  const pool::Taps rows(s.P, s.H, s.R, s.stride_h, 0, 1), cols(s.Q, s.W, s.S, s.stride_w, 0, 1);
  pool::pool_planes(pool::SumReducer<T, Power>{power}, s, rows, cols, x, y, [&](T* y_c) { lp_roots(s, norm, y_c); });
}

// gx[i] = sum over the windows o holding x[i] of gy[o] * (x[i] / y[o])^(p-1) (lp.hpp), per plane: y from the
// forward, gy[o] / y[o]^(p-1) (0 where y[o] is 0), gathered by scatter_sum, times x[i]^(p-1), all in cache.
template <typename T, typename Power>
void lp_pool2d_backward_with(const Pool2dShape& s, const LpNorm& norm, Power power, const T* gy, const T* x,
                             T* gx) {
  const pool::Taps rows(s.P, s.H, s.R, s.stride_h, 0, 1), cols(s.Q, s.W, s.S, s.stride_w, 0, 1);
  const int64_t HW = s.H * s.W, PQ = s.P * s.Q;
  const bool two = norm.kind == LpNorm::two;  // (p = 2, the L2 pooling of the notes, spelled out to vectorise)
  pool::scatter_sum(
      s, gx,
      [&](int64_t plane, T* y, T* work) {
        pool::pool_plane(pool::SumReducer<T, Power>{power}, s, rows, cols, x + plane * HW, work, y);
        lp_roots(s, norm, y);
        const T* d = gy + plane * PQ;
        if (two) {
          for (int64_t o = 0; o < PQ; ++o) y[o] = y[o] > T(0) ? d[o] / y[o] : y[o] != y[o] ? y[o] : T(0);
        } else {
          for (int64_t o = 0; o < PQ; ++o) y[o] = d[o] * norm.output_factor(y[o]);
        }
        return static_cast<const T*>(y);
      },
      [&](int64_t plane, T* g) {  // times x^(p-1)
        if (norm.kind == LpNorm::one) return;
        const T* x_c = x + plane * HW;
        if (two) {
          for (int64_t i = 0; i < HW; ++i) g[i] *= x_c[i];
        } else {
          for (int64_t i = 0; i < HW; ++i) {  // (an untouched 0 stays 0 even where x^(p-1) is inf)
            g[i] = g[i] != T(0) ? g[i] * norm.input_factor(x_c[i]) : T(0);
          }
        }
      });
}

}  // namespace

namespace cpu {

template <typename T>
void lp_pool2d(const Pool2dShape& s, double norm_type, const T* x, T* y) {
  const LpNorm norm(norm_type);
  switch (norm.kind) {
    case LpNorm::one: lp_pool2d_with(s, norm, pool::Identity<T>{}, x, y); break;
    case LpNorm::two: lp_pool2d_with(s, norm, pool::Square<T>{}, x, y); break;
    default: lp_pool2d_with(s, norm, [norm](T v) { return norm.power(v); }, x, y); break;
  }
}

template void lp_pool2d<float>(const Pool2dShape&, double, const float*, float*);
template void lp_pool2d<double>(const Pool2dShape&, double, const double*, double*);

template <typename T>
void lp_pool2d_backward(const Pool2dShape& s, double norm_type, const T* gy, const T* x, T* gx) {
  const LpNorm norm(norm_type);
  switch (norm.kind) {
    case LpNorm::one: lp_pool2d_backward_with(s, norm, pool::Identity<T>{}, gy, x, gx); break;
    case LpNorm::two: lp_pool2d_backward_with(s, norm, pool::Square<T>{}, gy, x, gx); break;
    default: lp_pool2d_backward_with(s, norm, [norm](T v) { return norm.power(v); }, gy, x, gx); break;
  }
}

template void lp_pool2d_backward<float>(const Pool2dShape&, double, const float*, const float*, float*);
template void lp_pool2d_backward<double>(const Pool2dShape&, double, const double*, const double*, double*);

}  // namespace cpu
}  // namespace ck
