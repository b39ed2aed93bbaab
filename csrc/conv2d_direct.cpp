// conv2d_direct.cpp: direct 2-D convolution (cross-correlation) on the CPU.
//
//   y[n, k, p, q] = bias[k] + sum over c, r, s of w[k, c, r, s] * x[n, c, p*sh + r*dh - pt, q*sw + s*dw - pl]
//
// Two kernels, both in conv2d_direct_simd.hpp, compiled for each ISA (scalar, avx2, avx512) and picked at
// run time (isa_dispatch.hpp), chosen by the number of output channels per group (direct_simd_path):
// - the tiles: vectorised over output channels, register tiles of 2 vectors of channels (1 for the last
//   block of a group with an odd number of vectors) x a run of consecutive output pixels; weights are
//   repacked once per call for it. A padded layer reads, per task, a zero-padded copy of the input rows its
//   chunk of pixels needs (DirectPlan), so the border runs in the same tiles as the interior.
// - the thin kernel, at stride_w 1 for K/g below a vector with one input channel per group (depthwise,
//   LeNet conv1: a tile's taps would be just the R x S window, too few to pay for its stores): tasks of
//   (image, block of up to 8 output channels of one group), one output row at a time, vectorised along it.
// Measured, 1 thread, the tiles against the thin kernel (below 1: tiles faster), AVX-512 / AVX2: LeNet
// conv1 (C 1, K 6, 5x5) 1.33 / 1.44, K 4 1.65 / 1.77; C 3 64x64 3x3 K 6 0.74 / 0.86; C 5 97x89 3x3 K 5
// 0.78 / 1.08; C 16 64x64 3x3 K 6 0.55 / 0.67, 5x5 K 4 0.52 / 0.65. AVX-512, stride 1: depthwise 3x3
// 2.0-3.3; C 16 3x3 K 2/3/4: 1.0/0.8/1.3. At stride 2 the tiles run any K/g: C 7 61x59 5x5 K 1/2/4/6
// 0.72/0.39/0.36/0.20 (the scalar row kernel they replaced: 0.23-0.72 likewise); depthwise 3x3 stride 2
// (C 32, 56 x 56): 0.95.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "cnnkernels/kernels.hpp"
#include "conv2d_plan.hpp"
#include "threads.hpp"
#include "conv2d_direct_kernels.hpp"
#include "isa_dispatch.hpp"
#include "workspace.hpp"

namespace ck {

namespace {

// The active ISA's SIMD kernels, for element type T (isa_dispatch.hpp).
template <typename T>
struct DirectSimd {
  int64_t block_channels;
  double one_vector_rate;
  DirectTask<T> task;
  ThinRow<T> thin;
};

template <typename T>
DirectSimd<T> direct_simd() {
  const DirectKernels& k = isa_table<DirectKernels>(
      {conv2d_direct_kernels_scalar(), conv2d_direct_kernels_avx2(), conv2d_direct_kernels_avx512()});
  if constexpr (sizeof(T) == 4) {
    return {k.block_channels_f32, k.one_vector_rate, k.task_f32, k.thin_f32};
  } else {
    return {k.block_channels_f64, k.one_vector_rate, k.task_f64, k.thin_f64};
  }
}

// Output rows [p_first, p_last] of the pixels of chunk [i0, i1).
void chunk_rows(const Conv2dShape& s, int64_t i0, int64_t i1, int64_t* p_first, int64_t* p_last) {
  *p_first = i0 / s.Q;
  *p_last = (i1 - 1) / s.Q;
}

DirectPlan make_direct_plan(const Conv2dShape& s) {
  DirectPlan plan;
  plan.padded = s.pad_top > 0 || s.pad_left > 0 || (s.P - 1) * s.stride_h + (s.R - 1) * s.dil_h >= s.H ||
                (s.Q - 1) * s.stride_w + (s.S - 1) * s.dil_w >= s.W;
  plan.Wp = plan.padded ? (s.Q - 1) * s.stride_w + (s.S - 1) * s.dil_w + 1 : s.W;
  plan.rows = 0;
  for (int64_t i0 = 0; i0 < s.P * s.Q; i0 += kPixelsPerTask) {
    int64_t p_first, p_last;
    chunk_rows(s, i0, std::min(s.P * s.Q, i0 + kPixelsPerTask), &p_first, &p_last);
    plan.rows = std::max(plan.rows, (p_last - p_first) * s.stride_h + (s.R - 1) * s.dil_h + 1);
  }
  const int64_t plane = plan.padded ? plan.rows * plan.Wp : s.H * s.W;
  for (int64_t p = 0; p < s.P; ++p) {
    for (int64_t q = 0; q < s.Q; ++q) plan.pos.push_back(p * s.stride_h * plan.Wp + q * s.stride_w);
  }
  for (int64_t c = 0; c < s.C_per_group(); ++c) {
    for (int64_t r = 0; r < s.R; ++r) {
      for (int64_t t = 0; t < s.S; ++t) plan.tap_offset.push_back(c * plane + r * s.dil_h * plan.Wp + t * s.dil_w);
    }
  }
  return plan;
}

// The rows chunk [i0, i1) of group g of image x_n needs, zero-padded, into buf (DirectPlan's layout).
template <typename T>
void copy_padded_rows(const Conv2dShape& s, const DirectPlan& plan, const T* x_n, int64_t g, int64_t i0, int64_t i1,
                      T* buf) {
  int64_t p_first, p_last;
  chunk_rows(s, i0, i1, &p_first, &p_last);
  const int64_t rows = (p_last - p_first) * s.stride_h + (s.R - 1) * s.dil_h + 1, Wp = plan.Wp;
  const int64_t ih0 = p_first * s.stride_h - s.pad_top;
  const int64_t col_lo = std::min(Wp, s.pad_left), col_hi = std::max(col_lo, std::min(Wp, s.W + s.pad_left));
  for (int64_t c = 0; c < s.C_per_group(); ++c) {
    const T* x_c = x_n + (g * s.C_per_group() + c) * s.H * s.W;
    T* b_c = buf + c * plan.rows * Wp;
    for (int64_t r = 0; r < rows; ++r) {
      T* b_row = b_c + r * Wp;
      const int64_t ih = ih0 + r;
      if (ih < 0 || ih >= s.H) {
        std::fill(b_row, b_row + Wp, T(0));
        continue;
      }
      std::fill(b_row, b_row + col_lo, T(0));
      std::copy(x_c + ih * s.W + (col_lo - s.pad_left), x_c + ih * s.W + (col_hi - s.pad_left), b_row + col_lo);
      std::fill(b_row + col_hi, b_row + Wp, T(0));
    }
  }
}

// Packs wp (zero-filled first). Vectors of output channels per group (the SIMD kernel's weight blocks: 2
// vectors each, the last of 1 when odd). wp for group g, block b = wp + g * vectors * lanes * taps + b * 2 * lanes * taps, holding
// [tap][NV * lanes] with tap = (c*R + r)*S + t: w[g*K/g + b*2*lanes + lane, c, r, t], 0 past K/g.
template <typename T>
void pack_direct_weights(const Conv2dShape& s, const T* w, int64_t lanes, T* wp) {
  const int64_t Cg = s.C_per_group(), Kg = s.K_per_group(), RS = s.R * s.S, taps = Cg * RS;
  const int64_t vectors = (Kg + lanes - 1) / lanes;
  std::fill(wp, wp + s.groups * vectors * lanes * taps, T(0));
  for (int64_t g = 0; g < s.groups; ++g) {
    for (int64_t k = 0; k < Kg; ++k) {
      const int64_t b = k / (2 * lanes), nv = std::min<int64_t>(2, vectors - 2 * b), lane = k % (2 * lanes);
      T* wp_b = wp + (g * vectors * lanes + b * 2 * lanes) * taps;
      for (int64_t tap = 0; tap < taps; ++tap) wp_b[tap * nv * lanes + lane] = w[(g * Kg + k) * taps + tap];
    }
  }
}

// Elements of one thread's padded rows (0 for an unpadded layer, read in place).
int64_t padded_rows_elements(const Conv2dShape& s, const DirectPlan& plan) {
  return plan.padded ? s.C_per_group() * plan.rows * plan.Wp : 0;
}

// Whether the tiles run the layer (L lanes), else the thin kernel: see the file's header.
bool direct_simd_path(const Conv2dShape& s, int64_t L) {
  const int64_t Kg = s.K_per_group();
  const bool thin = s.stride_w == 1 && Kg < L && s.C_per_group() == 1;
  return !thin;
}

}  // namespace

int64_t conv2d_direct_workspace(const Conv2dShape& s, int64_t elem_bytes) {
  if (s.N == 0 || s.P * s.Q == 0) return 0;
  const int64_t L = conv2d_direct_block_channels(elem_bytes) / 2;
  if (!direct_simd_path(s, L)) return 0;
  const int64_t vectors = (s.K_per_group() + L - 1) / L, taps = s.C_per_group() * s.R * s.S;
  const int64_t chunks = (s.P * s.Q + kPixelsPerTask - 1) / kPixelsPerTask, blocks = (vectors + 1) / 2;
  const int threads = threads_for(s.N * s.groups * chunks * blocks);
  return elem_bytes * (s.groups * vectors * L * taps + threads * padded_rows_elements(s, make_direct_plan(s)));
}

double conv2d_direct_lane_use(const Conv2dShape& s, int64_t elem_bytes) {
  const int64_t block = conv2d_direct_block_channels(elem_bytes), L = block / 2, Kg = s.K_per_group();
  if (Kg == 0) return 1.0;
  const double rate = elem_bytes == 4 ? direct_simd<float>().one_vector_rate : direct_simd<double>().one_vector_rate;
  const int64_t vectors = (Kg + L - 1) / L;
  // The thin kernel's rows, and the tiles: 2-vector blocks at full rate, a last 1-vector block at `rate`.
  const double slots = direct_simd_path(s, L) ? double(vectors / 2 * 2) + double(vectors % 2) / rate : double(vectors);
  return double(Kg) / (slots * double(L));
}

int64_t conv2d_direct_block_channels(int64_t elem_bytes) {
  return elem_bytes == 4 ? direct_simd<float>().block_channels : direct_simd<double>().block_channels;
}

namespace cpu {

template <typename T>
void conv2d_direct(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const DirectSimd<T> simd = direct_simd<T>();
  const int64_t L = simd.block_channels / 2;  // SIMD lanes
  if (direct_simd_path(s, L)) {
    const DirectPlan plan = make_direct_plan(s);
    const int64_t Cg = s.C_per_group(), Kg = s.K_per_group(), PQ = s.P * s.Q, taps = Cg * s.R * s.S;
    const int64_t vectors = (Kg + L - 1) / L, blocks = (vectors + 1) / 2;
    Workspace<T> wp(s.groups * vectors * L * taps);
    pack_direct_weights(s, w, L, wp.get());
    const int64_t chunks = (PQ + kPixelsPerTask - 1) / kPixelsPerTask;
    // Tasks (n, g, chunk of pixels, b): the weight blocks of one chunk run one after the other, on both
    // threads at once, while the chunk's input is in cache (chunk-major order was 7-14% slower on 2 threads
    // for AlexNet conv1 and VGG conv1_2, in an A/B within one process). A thread copies a chunk's padded
    // rows once for the blocks it runs of that chunk in a row.
    const int64_t tasks = s.N * s.groups * chunks * blocks;
    const int threads = threads_for(tasks);
    const int64_t per_thread = padded_rows_elements(s, plan);
    Workspace<T> bufs(per_thread * threads);  // each thread's padded rows, written before they are read
#pragma omp parallel num_threads(threads)
    {
      T* const buf = bufs.get() + int64_t(omp_get_thread_num()) * per_thread;
      int64_t copied = -1;  // the (n, g, chunk) in buf
#pragma omp for schedule(dynamic)
      for (int64_t task = 0; task < tasks; ++task) {
        const int64_t b = task % blocks, ngc = task / blocks, chunk = ngc % chunks, g = ngc / chunks % s.groups;
        const int64_t n = ngc / (chunks * s.groups);
        const int64_t i0 = chunk * kPixelsPerTask, i1 = std::min(PQ, i0 + kPixelsPerTask);
        const T* src = x + (n * s.C + g * Cg) * s.H * s.W;
        int64_t shift = 0;
        if (plan.padded) {
          if (copied != ngc) copy_padded_rows(s, plan, x + n * s.C * s.H * s.W, g, i0, i1, buf);
          copied = ngc;
          src = buf;
          shift = i0 / s.Q * s.stride_h * plan.Wp;
        }
        const int64_t k0 = g * Kg + b * 2 * L, kb = std::min<int64_t>(2 * L, (g + 1) * Kg - k0);
        const int nv = static_cast<int>(std::min<int64_t>(2, vectors - 2 * b));
        simd.task(plan, src, shift, wp.get() + (g * vectors * L + b * 2 * L) * taps, nv, kb,
                  bias ? bias + k0 : nullptr, PQ, i0, i1, y + (n * s.K + k0) * PQ);
      }
    }
    return;
  }
  // The thin kernel: tasks (image, group, block of kThinBlock channels).
  const int64_t Kg = s.K_per_group(), Cg = s.C_per_group();
  const int64_t blocks = (Kg + kThinBlock - 1) / kThinBlock, tasks = s.N * s.groups * blocks;
#pragma omp parallel for schedule(dynamic) num_threads(threads_for(tasks))
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t n = task / (s.groups * blocks), g = task / blocks % s.groups;
    const int64_t k0 = g * Kg + task % blocks * kThinBlock, kb = std::min<int64_t>(kThinBlock, (g + 1) * Kg - k0);
    for (int64_t p = 0; p < s.P; ++p) {
      simd.thin(s, x + n * s.C * s.H * s.W, w, bias, k0, kb, g * Cg, p, y + n * s.K * s.P * s.Q);
    }
  }
}

template void conv2d_direct<float>(const Conv2dShape&, const float*, const float*, const float*, float*);
template void conv2d_direct<double>(const Conv2dShape&, const double*, const double*, const double*, double*);

}  // namespace cpu
}  // namespace ck
