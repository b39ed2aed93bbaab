// avg_pool2d.cpp: average pooling on the CPU, with PyTorch's count_include_pad and ceil_mode rules.
//
// Sums run through the separable row/column passes of pool2d_rows.hpp, then each output is divided by its
// divisor (shapes.hpp: avg_pool_divisor, the rule the CUDA twin and the backward pass share): with
// count_include_pad the window's area clipped to the padded input, otherwise the input pixels it covers, or
// divisor_override when given. The divisors are a product of a row count and a column count, computed once
// per call.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "cnnkernels/kernels.hpp"
#include "threads.hpp"
#include "pool2d_rows.hpp"

namespace ck {
namespace {

// 1 / divisor of output (p, q) = h[p] * w[q]: the counts per row and per column, or the override (in h
// alone); 0 for a window with no pixel.
template <typename T>
struct Scales {
  std::vector<T> h, w;
  Scales(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override) : h(s.P), w(s.Q) {
    for (int64_t p = 0; p < s.P; ++p) {
      const int64_t n = divisor_override ? divisor_override
                                         : avg_pool_count(p, s.H, s.R, s.stride_h, s.pad_h, count_include_pad);
      h[p] = n > 0 ? T(1) / T(n) : T(0);
    }
    for (int64_t q = 0; q < s.Q; ++q) {
      const int64_t n = divisor_override ? 1 : avg_pool_count(q, s.W, s.S, s.stride_w, s.pad_w, count_include_pad);
      w[q] = n > 0 ? T(1) / T(n) : T(0);
    }
  }
};

template <typename T>
pool::ScaleInPlace<T> scale_kernel() {
  if constexpr (std::is_same_v<T, float>) return pool::active_pool_kernels().scale_f32;
  else return pool::active_pool_kernels().scale_f64;
}

}  // namespace

namespace cpu {

template <typename T>
void avg_pool2d(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override, const T* x, T* y) {
  const pool::Taps rows(s.P, s.H, s.R, s.stride_h, s.pad_h, 1), cols(s.Q, s.W, s.S, s.stride_w, s.pad_w, 1);
  const Scales<T> scale(s, count_include_pad, divisor_override);
  // The P x Q products h[p] * w[q], once per call; each plane is then scaled by the active ISA's kernel.
  std::vector<T> scale_pq(s.P * s.Q);
  for (int64_t p = 0; p < s.P; ++p) {
    for (int64_t q = 0; q < s.Q; ++q) scale_pq[p * s.Q + q] = scale.h[p] * scale.w[q];
  }
  const auto scale_plane = scale_kernel<T>();
  pool::pool_planes(pool::SumReducer<T, pool::Identity<T>>{}, s, rows, cols, x, y,
                    [&](T* y_c) { scale_plane(y_c, scale_pq.data(), s.P * s.Q); });
}

template void avg_pool2d<float>(const Pool2dShape&, bool, int64_t, const float*, float*);
template void avg_pool2d<double>(const Pool2dShape&, bool, int64_t, const double*, double*);

// gx: each gy spread over its window's taps inside the image, scaled as the forward scales the sum (gy times
// the output's 1 / divisor, in each plane's buffer), gathered by scatter_sum.
template <typename T>
void avg_pool2d_backward(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override, const T* gy,
                         T* gx) {
  const Scales<T> scale(s, count_include_pad, divisor_override);
  const int64_t PQ = s.P * s.Q;
  std::vector<T> scale_pq(PQ);
  for (int64_t p = 0; p < s.P; ++p) {
    for (int64_t q = 0; q < s.Q; ++q) scale_pq[p * s.Q + q] = scale.h[p] * scale.w[q];
  }
  pool::scatter_sum(
      s, gx,
      [&](int64_t plane, T* buf, T*) {
        const T* d = gy + plane * PQ;
        for (int64_t o = 0; o < PQ; ++o) buf[o] = d[o] * scale_pq[o];
        return static_cast<const T*>(buf);
      },
      [](int64_t, T*) {});
}

template void avg_pool2d_backward<float>(const Pool2dShape&, bool, int64_t, const float*, float*);
template void avg_pool2d_backward<double>(const Pool2dShape&, bool, int64_t, const double*, double*);

}  // namespace cpu
}  // namespace ck
