// conv2d_direct.cpp: direct 2-D convolution (cross-correlation) on the CPU.
//
//   y[n, k, p, q] = bias[k] + sum over c, r, s of w[k, c, r, s] * x[n, c, p*sh + r*dh - pt, q*sw + s*dw - pl]
//
// Work is split into tasks of (image n, block of KB output channels of one group). A task computes one
// output row p at a time into a KB x Q accumulator that stays in L1: for each tap (c, r, s) it loads the
// input row once and updates all KB accumulator rows with it (KB multiply-adds per load), the q loop
// innermost and branch-free, so the compiler vectorises it. Zero padding is never materialised: rows
// outside the image are skipped and, per tap, only the range of q whose input column lies inside the image
// is visited.
#include <algorithm>
#include <vector>

#include "cnnkernels/kernels.hpp"
#include "cnnkernels/threads.hpp"

namespace ck {
namespace {

constexpr int kBlockK = 4;  // output channels per task (accumulator rows)

// Output row p of channels [k0, k0 + kb) of image x_n (kb <= KB; KB a compile-time bound so the inner
// loop keeps KB multiply-adds per loaded input).
template <typename T, int KB>
void conv_row(const Conv2dShape& s, const T* x_n, const T* w, const T* bias, int64_t k0, int64_t c0, int64_t p,
              T* acc, T* y_n) {
  const int64_t Q = s.Q, Cg = s.C_per_group(), RS = s.R * s.S;
  for (int kb = 0; kb < KB; ++kb) std::fill(acc + kb * Q, acc + (kb + 1) * Q, bias ? bias[k0 + kb] : T(0));
  for (int64_t c = 0; c < Cg; ++c) {
    const T* x_c = x_n + (c0 + c) * s.H * s.W;
    for (int64_t r = 0; r < s.R; ++r) {
      const int64_t ih = p * s.stride_h + r * s.dil_h - s.pad_top;
      if (ih < 0 || ih >= s.H) continue;
      const T* x_row = x_c + ih * s.W;
      for (int64_t t = 0; t < s.S; ++t) {
        const int64_t off = t * s.dil_w - s.pad_left;  // input column of output q is q*sw + off
        int64_t q_lo, q_hi;
        detail::inside_range(off, s.stride_w, s.W, Q, &q_lo, &q_hi);
        T wk[KB];
        for (int kb = 0; kb < KB; ++kb) wk[kb] = w[((k0 + kb) * Cg + c) * RS + r * s.S + t];
        if (s.stride_w == 1) {
          for (int64_t q = q_lo; q < q_hi; ++q) {
            const T xv = x_row[q + off];
            for (int kb = 0; kb < KB; ++kb) acc[kb * Q + q] += wk[kb] * xv;
          }
        } else {
          for (int64_t q = q_lo; q < q_hi; ++q) {
            const T xv = x_row[q * s.stride_w + off];
            for (int kb = 0; kb < KB; ++kb) acc[kb * Q + q] += wk[kb] * xv;
          }
        }
      }
    }
  }
  for (int kb = 0; kb < KB; ++kb) std::copy(acc + kb * Q, acc + (kb + 1) * Q, y_n + ((k0 + kb) * s.P + p) * Q);
}

}  // namespace

template <typename T>
void conv2d_direct(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t Kg = s.K_per_group(), Cg = s.C_per_group();
  const int64_t blocks_per_group = (Kg + kBlockK - 1) / kBlockK;
  const int64_t tasks = s.N * s.groups * blocks_per_group;
#pragma omp parallel num_threads(threads_for(tasks))
  {
    std::vector<T> acc(kBlockK * s.Q);
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n = task / (s.groups * blocks_per_group), rest = task % (s.groups * blocks_per_group);
      const int64_t g = rest / blocks_per_group;
      const int64_t k0 = g * Kg + rest % blocks_per_group * kBlockK;
      const int64_t kb = std::min<int64_t>(kBlockK, (g + 1) * Kg - k0);
      const T* x_n = x + n * s.C * s.H * s.W;
      T* y_n = y + n * s.K * s.P * s.Q;
      for (int64_t p = 0; p < s.P; ++p) {
        if (kb == kBlockK) {
          conv_row<T, kBlockK>(s, x_n, w, bias, k0, g * Cg, p, acc.data(), y_n);
        } else {
          for (int64_t k = k0; k < k0 + kb; ++k) conv_row<T, 1>(s, x_n, w, bias, k, g * Cg, p, acc.data(), y_n);
        }
      }
    }
  }
}

template void conv2d_direct<float>(const Conv2dShape&, const float*, const float*, const float*, float*);
template void conv2d_direct<double>(const Conv2dShape&, const double*, const double*, const double*, double*);

}  // namespace ck
