// avg_pool2d.cpp: average pooling on the CPU, with PyTorch's count_include_pad and ceil_mode rules.
//
// Sums run through the separable row/column passes of pool2d_rows.hpp. A window covers rows
// [p*sh - ph, p*sh - ph + R) clipped to the padded input [-ph, H + ph) (ceil_mode can add windows that run
// past it); count_include_pad divides by that clipped window's area, otherwise by the number of input
// pixels it covers. The divisor is a product of a row count and a column count, computed once per call.
#include <algorithm>
#include <vector>

#include "cnnkernels/kernels.hpp"
#include "cnnkernels/threads.hpp"
#include "pool2d_rows.hpp"

namespace ck {
namespace {

// Per output index along one dimension: how many positions its window counts.
std::vector<int64_t> window_counts(int64_t out, int64_t in, int64_t k, int64_t stride, int64_t pad,
                                   bool count_include_pad) {
  std::vector<int64_t> n(out);
  for (int64_t o = 0; o < out; ++o) {
    const int64_t start = o * stride - pad, end = std::min(start + k, in + pad);
    n[o] = count_include_pad ? end - start : std::min(end, in) - std::max<int64_t>(start, 0);
  }
  return n;
}

}  // namespace

template <typename T>
void avg_pool2d(const Pool2dShape& s, bool count_include_pad, const T* x, T* y) {
  const pool::Taps rows(s.P, s.H, s.R, s.stride_h, s.pad_h, 1), cols(s.Q, s.W, s.S, s.stride_w, s.pad_w, 1);
  const std::vector<int64_t> count_h = window_counts(s.P, s.H, s.R, s.stride_h, s.pad_h, count_include_pad);
  const std::vector<int64_t> count_w = window_counts(s.Q, s.W, s.S, s.stride_w, s.pad_w, count_include_pad);
  std::vector<T> inv_w(s.Q);
  for (int64_t q = 0; q < s.Q; ++q) inv_w[q] = count_w[q] > 0 ? T(1) / T(count_w[q]) : T(0);
  std::vector<T> inv_h(s.P);
  for (int64_t p = 0; p < s.P; ++p) inv_h[p] = count_h[p] > 0 ? T(1) / T(count_h[p]) : T(0);
  pool::pool_planes(pool::SumReducer<T, pool::Identity<T>>{}, s, rows, cols, x, y, [&](T* y_c) {
    for (int64_t p = 0; p < s.P; ++p) {
      for (int64_t q = 0; q < s.Q; ++q) y_c[p * s.Q + q] *= inv_h[p] * inv_w[q];
    }
  });
}

template void avg_pool2d<float>(const Pool2dShape&, bool, const float*, float*);
template void avg_pool2d<double>(const Pool2dShape&, bool, const double*, double*);

}  // namespace ck
