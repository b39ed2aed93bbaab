// conv2d_direct.cpp: direct 2-D convolution (cross-correlation) on the CPU.
//
//   y[n, k, p, q] = bias[k] + sum over c, r, s of w[k, c, r, s] * x[n, c, p*sh + r*dh - pt, q*sw + s*dw - pl]
//
// Two kernels, chosen by the number of output channels per group:
// - K/g of at least one SIMD vector: the kernel of conv2d_direct_simd.hpp, vectorised over output channels
//   with a register tile of 2 vectors of channels x QB columns, compiled for each ISA (scalar, avx2,
//   avx512) and picked at run time (isa_dispatch.hpp); weights are repacked once per call for it.
// - fewer (depthwise and thin groups), stride_w 1: the thin kernel of conv2d_direct_simd.hpp (per ISA), tasks
//   of (image, block of up to 8 output channels of one group), one output row at a time, vectorised along it.
// - fewer, stride_w > 1: tasks of (image n, block of KB output channels of one group)
//   computing one output row p at a time into a KB x Q accumulator that stays in L1: for each tap (c, r, s)
//   it loads the input row once and updates all KB accumulator rows with it (KB multiply-adds per load),
//   the q loop innermost and branch-free, so the compiler vectorises it. Zero padding is never materialised: rows
// outside the image are skipped and, per tap, only the range of q whose input column lies inside the image
// is visited.
#include <algorithm>
#include <vector>

#include "cnnkernels/kernels.hpp"
#include "conv2d_plan.hpp"
#include "threads.hpp"
#include "conv2d_direct_kernels.hpp"
#include "isa_dispatch.hpp"

namespace ck {

namespace {

// The active ISA's SIMD kernels, for element type T (isa_dispatch.hpp).
template <typename T>
struct DirectSimd {
  int64_t block_channels;
  DirectTask<T> task;
  ThinRow<T> thin;
};

template <typename T>
DirectSimd<T> direct_simd() {
  const DirectKernels& k = isa_table<DirectKernels>(
      {conv2d_direct_kernels_scalar(), conv2d_direct_kernels_avx2(), conv2d_direct_kernels_avx512()});
  if constexpr (sizeof(T) == 4) {
    return {k.block_channels_f32, k.task_f32, k.thin_f32};
  } else {
    return {k.block_channels_f64, k.task_f64, k.thin_f64};
  }
}

DirectPlan make_direct_plan(const Conv2dShape& s) {
  DirectPlan plan;
  for (int64_t p = 0; p < s.P; ++p) {
    const int64_t ih0 = p * s.stride_h - s.pad_top;
    const bool rows_inside = ih0 >= 0 && ih0 + (s.R - 1) * s.dil_h < s.H;
    for (int64_t q = 0; q < s.Q; ++q) {
      const int64_t iw0 = q * s.stride_w - s.pad_left;
      if (rows_inside && iw0 >= 0 && iw0 + (s.S - 1) * s.dil_w < s.W) {
        plan.interior.push_back({p * s.Q + q, ih0 * s.W + iw0});
      } else {
        plan.border.push_back(p * s.Q + q);
      }
    }
  }
  for (int64_t c = 0; c < s.C_per_group(); ++c) {
    for (int64_t r = 0; r < s.R; ++r) {
      for (int64_t t = 0; t < s.S; ++t) plan.tap_offset.push_back(c * s.H * s.W + r * s.dil_h * s.W + t * s.dil_w);
    }
  }
  return plan;
}

// wp[((g * blocks + b) * C/g + c) * R*S + r*S + t][KV] = w[g*K/g + b*KV + lane, c, r, t], 0 past K/g.
template <typename T>
std::vector<T> pack_direct_weights(const Conv2dShape& s, const T* w, int64_t KV) {
  const int64_t Cg = s.C_per_group(), Kg = s.K_per_group(), RS = s.R * s.S, blocks = (Kg + KV - 1) / KV;
  std::vector<T> wp(s.groups * blocks * Cg * RS * KV, T(0));
  for (int64_t g = 0; g < s.groups; ++g) {
    for (int64_t k = 0; k < Kg; ++k) {
      const int64_t b = k / KV, lane = k % KV;
      for (int64_t c = 0; c < Cg; ++c) {
        for (int64_t rs = 0; rs < RS; ++rs) {
          wp[(((g * blocks + b) * Cg + c) * RS + rs) * KV + lane] = w[((g * Kg + k) * Cg + c) * RS + rs];
        }
      }
    }
  }
  return wp;
}

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
        inside_range(off, s.stride_w, s.W, Q, &q_lo, &q_hi);
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

int64_t conv2d_direct_block_channels(int64_t elem_bytes) {
  return elem_bytes == 4 ? direct_simd<float>().block_channels : direct_simd<double>().block_channels;
}

namespace cpu {

template <typename T>
void conv2d_direct(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const DirectSimd<T> simd = direct_simd<T>();
  const int64_t KV = simd.block_channels;
  if (s.K_per_group() >= KV / 2) {  // at least half of each weight block holds real channels
    const std::vector<T> wp = pack_direct_weights(s, w, KV);
    const DirectPlan plan = make_direct_plan(s);
    const int64_t blocks = (s.K_per_group() + KV - 1) / KV;
    constexpr int64_t kPixelsPerTask = 240;  // a multiple of every ISA's register tile width
    const int64_t chunks = (s.P * s.Q + kPixelsPerTask - 1) / kPixelsPerTask;
    // Tasks (n, g, chunk of pixels, b): the weight blocks of one chunk run one after the other, on both
    // threads at once, while the chunk's input is in cache (chunk-major order was 7-14% slower on 2 threads
    // for AlexNet conv1 and VGG conv1_2, in an A/B within one process).
    const int64_t tasks = s.N * s.groups * chunks * blocks;
#pragma omp parallel for schedule(dynamic) num_threads(threads_for(tasks))
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t b = task % blocks, chunk = task / blocks % chunks, g = task / (blocks * chunks) % s.groups;
      const int64_t n = task / (blocks * chunks * s.groups);
      const int64_t i0 = chunk * kPixelsPerTask, i1 = std::min(s.P * s.Q, i0 + kPixelsPerTask);
      simd.task(s, plan, x, wp.data(), bias, y, n, g, b, i0, i1);
    }
    return;
  }
  const int64_t Kg = s.K_per_group(), Cg = s.C_per_group();
  if (s.stride_w == 1) {  // the SIMD thin kernel: tasks (image, group, block of kThinBlock channels)
    const int64_t blocks = (Kg + kThinBlock - 1) / kThinBlock, tasks = s.N * s.groups * blocks;
#pragma omp parallel for schedule(dynamic) num_threads(threads_for(tasks))
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n = task / (s.groups * blocks), g = task / blocks % s.groups;
      const int64_t k0 = g * Kg + task % blocks * kThinBlock, kb = std::min<int64_t>(kThinBlock, (g + 1) * Kg - k0);
      for (int64_t p = 0; p < s.P; ++p) {
        simd.thin(s, x + n * s.C * s.H * s.W, w, bias, k0, kb, g * Cg, p, y + n * s.K * s.P * s.Q);
      }
    }
    return;
  }
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

}  // namespace cpu
}  // namespace ck
