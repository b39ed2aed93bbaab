// conv2d_direct.cpp: direct 2-D convolution (cross-correlation) on the CPU.
//
// For each (image n, output channel k) plane, the kernel taps are the outer loops and a whole output row
// the inner one: y[k, p, q] += w[k, c, r, s] * x[c, p*sh + r*dh - pt, q*sw + s*dw - pl]. Zero padding is
// never materialised: for each tap the range of q whose input column lies inside the image is computed
// once, and rows outside the image are skipped. With stride 1 the inner loop is a unit-stride axpy that
// the compiler vectorises.
#include <omp.h>

#include <algorithm>

#include "cnnkernels/kernels.hpp"
#include "cnnkernels/threads.hpp"

namespace ck {
namespace {

template <typename T>
void conv_plane(const Conv2dShape& s, const T* x_n, const T* w_k, T bias, T* y_nk, int64_t c0) {
  const int64_t P = s.P, Q = s.Q, H = s.H, W = s.W, Cg = s.C_per_group();
  std::fill(y_nk, y_nk + P * Q, bias);
  for (int64_t c = 0; c < Cg; ++c) {
    const T* x_c = x_n + (c0 + c) * H * W;
    for (int64_t r = 0; r < s.R; ++r) {
      for (int64_t t = 0; t < s.S; ++t) {
        const T wv = w_k[(c * s.R + r) * s.S + t];
        const int64_t col_offset = t * s.dil_w - s.pad_left;  // input column of output q is q*sw + offset
        int64_t q_lo, q_hi;
        detail::inside_range(col_offset, s.stride_w, W, Q, &q_lo, &q_hi);
        if (q_lo >= q_hi) continue;
        for (int64_t p = 0; p < P; ++p) {
          const int64_t ih = p * s.stride_h + r * s.dil_h - s.pad_top;
          if (ih < 0 || ih >= H) continue;
          const T* x_row = x_c + ih * W;
          T* y_row = y_nk + p * Q;
          if (s.stride_w == 1) {
            for (int64_t q = q_lo; q < q_hi; ++q) y_row[q] += wv * x_row[q + col_offset];
          } else {
            for (int64_t q = q_lo; q < q_hi; ++q) y_row[q] += wv * x_row[q * s.stride_w + col_offset];
          }
        }
      }
    }
  }
}

}  // namespace

template <typename T>
void conv2d_direct(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t planes = s.N * s.K;  // one task per (n, k) output plane
  const int64_t Kg = s.K_per_group(), Cg = s.C_per_group();
#pragma omp parallel for schedule(dynamic) num_threads(threads_for(planes))
  for (int64_t nk = 0; nk < planes; ++nk) {
    const int64_t n = nk / s.K, k = nk % s.K;
    const int64_t g = k / Kg;
    conv_plane(s, x + n * s.C * s.H * s.W, w + k * Cg * s.R * s.S, bias ? bias[k] : T(0),
               y + nk * s.P * s.Q, g * Cg);
  }
}

template void conv2d_direct<float>(const Conv2dShape&, const float*, const float*, const float*, float*);
template void conv2d_direct<double>(const Conv2dShape&, const double*, const double*, const double*, double*);

}  // namespace ck
