// conv2d_winograd.cpp: 2-D convolution of 3 x 3 stride-1 layers by Winograd's F(m x m, 3 x 3) on the CPU
// (conv2d_winograd.hpp; the transforms in conv2d_winograd_kernels.hpp and conv2d_winograd_simd.hpp).
//
// Per group, with alpha = m + 2 and E = alpha^2 transformed points, tiles t of m x m outputs over the batch
// (N x ceil(P/m) x ceil(Q/m), tile t reading the alpha x alpha input window at (p0 - pad_top, q0 - pad_left),
// zero outside the image):
//   U[e][k][c] = (G w[k, c] G^T)[e]                     once per call, packed as GEMM A panels;
//   V[e][c][t] = (B^T d[c, t] B)[e]                     written by the input transform straight into
//                                                       packed GEMM B strips (nr tiles wide);
//   M[e][k][t] = sum over c of U[e][k][c] V[e][c][t]     E matrix products on the GEMM's micro-kernel;
//   y[k, tile t] = A^T M[.][k][t] A + bias[k]            the output transform, cropped at the image edge.
// Tiles go in chunks of nt (a multiple of the micro-kernel's nr; as many as a memory bound allows, since each
// chunk reads all of U), one group at a time; all threads share each of the three steps of a chunk: input
// transform by (channel, L tiles), products by point e (so each U[e] is read by one thread), output transform
// by (output channel, L tiles).
//
// Threads: each output element is computed by one thread in a fixed order (the chunking does not depend on
// the thread count), so results are identical for any thread count.
#include "conv2d_winograd.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cnnkernels/checks.hpp"
#include "conv2d_winograd_kernels.hpp"
#include "gemm.hpp"
#include "isa_dispatch.hpp"
#include "threads.hpp"
#include "workspace.hpp"

namespace ck {
namespace {

// A chunk's V and M together take at most about this many bytes (in L3). Every chunk reads all of U, so
// chunks are as large as this allows.
constexpr int64_t kChunkBytes = int64_t(16) << 20;

// The active ISA's transforms for element type T and tile m, and its lanes.
template <typename T>
struct Transforms {
  int64_t m, lanes;
  WinogradTransforms<T> tf;
};

template <typename T>
Transforms<T> transforms(int m) {
  const WinogradKernels& k = isa_table<WinogradKernels>(
      {conv2d_winograd_kernels_scalar(), conv2d_winograd_kernels_avx2(), conv2d_winograd_kernels_avx512()});
  const int i = m == 2 ? 0 : 1;
  if constexpr (sizeof(T) == 4) {
    return {m, k.lanes_f32, k.f32[i]};
  } else {
    return {m, k.lanes_f64, k.f64[i]};
  }
}

// The tile grid and its chunks, decided in one place for the kernel and its workspace estimate.
struct Tiling {
  int64_t m, alpha, E;   // output tile, input tile, transformed points
  int64_t TH, TW;        // tiles per image
  int64_t tiles;         // N x TH x TW
  int64_t nt;            // tiles per chunk (a multiple of nr)
  int64_t chunks;
  int64_t per_thread;    // elements of one thread's gather buffers (V and M are shared)
};

Tiling make_tiling(const Conv2dShape& s, int m, int64_t nr, int64_t lanes, int64_t elem_bytes) {
  Tiling t;
  t.m = m;
  t.alpha = m + 2;
  t.E = t.alpha * t.alpha;
  t.TH = ceil_div(s.P, m);
  t.TW = ceil_div(s.Q, m);
  t.tiles = s.N * t.TH * t.TW;
  const int64_t per_tile = t.E * (s.C_per_group() + s.K_per_group()) * elem_bytes;
  const int64_t by_memory = kChunkBytes / std::max<int64_t>(1, per_tile) / nr * nr;
  t.nt = std::max(nr, std::min(by_memory, round_up(t.tiles, nr)));  // as few chunks as the bound allows
  t.chunks = ceil_div(t.tiles, t.nt);
  t.per_thread = t.E * lanes + t.m * t.m * lanes;
  return t;
}

// Packs U: U[((g * E + e) * panels + p) * Cg * mr + c * mr + i] = (G w[k, c] G^T)[e] for output channel
// k = g * Kg + p * mr + i (0 past Kg). The filters are first laid out tap-major, wt[g][tap][k][c] with c padded
// to whole vectors, so that the transform runs on L input channels at once.
template <typename T>
void transform_weights(const Conv2dShape& s, const Transforms<T>& tr, const T* w, int64_t mr, T* U) {
  const int64_t Cg = s.C_per_group(), Kg = s.K_per_group(), panels = ceil_div(Kg, mr), L = tr.lanes;
  const int64_t Cp = round_up(Cg, L), E = (tr.m + 2) * (tr.m + 2);
  Workspace<T> wt(s.groups * 9 * Kg * Cp);
  const int threads = threads_for(s.K * Cg / 256);
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(static)
    for (int64_t k = 0; k < s.K; ++k) {  // wt[((g * 9 + tap) * Kg + kl) * Cp + c]
      const int64_t g = k / Kg, kl = k % Kg;
      for (int64_t tap = 0; tap < 9; ++tap) {
        T* row = wt.get() + ((g * 9 + tap) * Kg + kl) * Cp;
        for (int64_t c = 0; c < Cg; ++c) row[c] = w[(k * Cg + c) * 9 + tap];
        std::fill(row + Cg, row + Cp, T(0));
      }
    }
#pragma omp for schedule(static)
    for (int64_t item = 0; item < s.groups * panels; ++item) {
      const int64_t g = item / panels, p = item % panels;
      T* U_p = U + g * E * panels * Cg * mr + p * Cg * mr;  // U_p[e * panels * Cg * mr + c * mr + i]
      // One block of L channels x the panel's mr rows at a time, staged in `block` ([e][c][i], contiguous per
      // point e) and copied out whole: U's E rows for one panel lie a multiple of 4 KiB apart, so writing them
      // one element at a time would keep E streams in the same few L1 sets.
      std::unique_ptr<T[]> block(new T[E * L * mr]);
      for (int64_t c0 = 0; c0 < Cg; c0 += L) {
        const int64_t cn = std::min(L, Cg - c0);
        for (int64_t i = 0; i < mr; ++i) {
          const int64_t kl = p * mr + i;
          if (kl < Kg) {
            tr.tf.weights(wt.get() + (g * 9 * Kg + kl) * Cp + c0, Kg * Cp, block.get() + i, L * mr, mr);
          } else {
            for (int64_t e = 0; e < E; ++e) {
              for (int64_t l = 0; l < L; ++l) block[(e * L + l) * mr + i] = T(0);
            }
          }
        }
        for (int64_t e = 0; e < E; ++e) {
          std::memcpy(U_p + e * panels * Cg * mr + c0 * mr, block.get() + e * L * mr, sizeof(T) * cn * mr);
        }
      }
    }
  }
}

template <typename T>
void run(const Conv2dShape& s, int m, const T* x, const T* w, const T* bias, T* y) {
  const GemmMicroKernel<T> mk = gemm_micro_kernel<T>();
  const Transforms<T> tr = transforms<T>(m);
  const int64_t L = tr.lanes, nr = mk.nr, mr = mk.mr;
  if (nr % L != 0) throw std::logic_error("conv2d_winograd: GEMM strip not a whole number of vectors");
  const Tiling tl = make_tiling(s, m, nr, L, sizeof(T));
  const int64_t Cg = s.C_per_group(), Kg = s.K_per_group(), E = tl.E, alpha = tl.alpha;
  const int64_t panels = ceil_div(Kg, mr), HW = s.H * s.W, PQ = s.P * s.Q, TT = tl.TH * tl.TW;

  Workspace<T> U(s.groups * E * panels * mr * Cg);  // every element written below
  transform_weights<T>(s, tr, w, mr, U.get());
  // Depth blocks of the products: Cg split evenly into blocks of at most the micro-kernel's kc.
  const int64_t depth_blocks = ceil_div(Cg, mk.kc), kcb = ceil_div(Cg, depth_blocks);

  const int threads = threads_for(s.groups * tl.chunks * std::max(E, Cg) * tl.nt / 64);
  Workspace<T> work(E * (Cg + Kg) * tl.nt + threads * tl.per_thread);  // written before read
  T* const V = work.get();
  T* const Mb = V + E * Cg * tl.nt;
#pragma omp parallel num_threads(threads)
  {
    T* d = Mb + E * Kg * tl.nt + int64_t(omp_get_thread_num()) * tl.per_thread;  // alpha x alpha x L
    T* yt = d + E * L;                                                             // m x m x L
    for (int64_t g = 0; g < s.groups; ++g) {
      for (int64_t chunk = 0; chunk < tl.chunks; ++chunk) {
        const int64_t t0 = chunk * tl.nt, count = std::min(tl.nt, tl.tiles - t0);
        const int64_t strips = ceil_div(count, nr), cols = strips * nr;  // columns of V and M
        const int64_t v_stride = Cg * cols, m_stride = Kg * cols;
        const int64_t groups_of_lanes = cols / L;

        // 1. Input transform: V[e] as strips of nr tiles, V[e][strip][c][j], L tiles (one group of lanes) at
        //    a time; lanes past the chunk's tiles are zero.
#pragma omp for schedule(dynamic, 4)
        for (int64_t item = 0; item < Cg * groups_of_lanes; ++item) {
          const int64_t c = item / groups_of_lanes, j0 = item % groups_of_lanes * L;
          const T* x_c = x + (g * Cg + c) * HW;
          T* v = V + (j0 / nr * Cg + c) * nr + j0 % nr;
          const int64_t t = t0 + j0;
          const int64_t n = t / TT, th = t % TT / tl.TW, tw = t % tl.TW;
          const int64_t ih0 = th * m - s.pad_top, iw0 = tw * m - s.pad_left;
          if (j0 + L <= count && tw + L <= tl.TW && ih0 >= 0 && ih0 + alpha <= s.H && iw0 >= 0 &&
              iw0 + (L - 1) * m + alpha <= s.W) {  // L tiles side by side in one row, inside the image
            tr.tf.input_row(x_c + n * s.C * HW + ih0 * s.W + iw0, s.W, v, v_stride);
            continue;
          }
          std::fill(d, d + E * L, T(0));  // lanes past the chunk, and the padding
          for (int64_t l = 0; l < L && j0 + l < count; ++l) {
            const int64_t tile = t + l;
            const int64_t ln = tile / TT, lh = tile % TT / tl.TW * m - s.pad_top, lw = tile % tl.TW * m - s.pad_left;
            const int64_t i0 = std::max<int64_t>(0, -lh), i1 = std::min<int64_t>(alpha, s.H - lh);
            const int64_t u0 = std::max<int64_t>(0, -lw), u1 = std::min<int64_t>(alpha, s.W - lw);
            const T* xt = x_c + ln * s.C * HW + lh * s.W + lw;  // the window's top-left, maybe outside
            for (int64_t i = i0; i < i1; ++i) {
              for (int64_t u = u0; u < u1; ++u) d[(i * alpha + u) * L + l] = xt[i * s.W + u];
            }
          }
          tr.tf.input_gathered(d, v, v_stride);
        }

        // 2. M[e][k][j] = U[e] . V[e], a point e per item: per depth block, B strip (L1) and A panel (L2).
        const T* U_g = U.get() + g * E * panels * mr * Cg;
#pragma omp for schedule(static)
        for (int64_t e = 0; e < E; ++e) {
          const T* U_e = U_g + e * panels * mr * Cg;
          const T* V_e = V + e * v_stride;
          T* M_e = Mb + e * m_stride;
          for (int64_t c0 = 0; c0 < Cg; c0 += kcb) {
            const int64_t kc = std::min(kcb, Cg - c0);
            for (int64_t st = 0; st < strips; ++st) {
              const T* b = V_e + (st * Cg + c0) * nr;
              const int64_t n = std::min(nr, count - st * nr);
              for (int64_t p = 0; p < panels; ++p) {
                mk.run(kc, U_e + (p * Cg + c0) * mr, b, nr, M_e + p * mr * cols + st * nr, cols,
                       std::min(mr, Kg - p * mr), n, c0 > 0);
              }
            }
          }
        }

        // 3. Output transform, cropped at the image's edge, with bias.
#pragma omp for schedule(dynamic, 4)
        for (int64_t item = 0; item < Kg * groups_of_lanes; ++item) {
          const int64_t k = item / groups_of_lanes, j0 = item % groups_of_lanes * L;
          if (j0 >= count) continue;
          const int64_t kk = g * Kg + k;
          tr.tf.output(Mb + k * cols + j0, m_stride, bias ? bias[kk] : T(0), yt);
          const int64_t lanes = std::min(L, count - j0);
          for (int64_t l = 0; l < lanes; ++l) {
            const int64_t t = t0 + j0 + l;
            const int64_t n = t / TT, p0 = t % TT / tl.TW * m, q0 = t % tl.TW * m;
            T* y_k = y + (n * s.K + kk) * PQ;
            const int64_t pe = std::min<int64_t>(m, s.P - p0), qe = std::min<int64_t>(m, s.Q - q0);
            for (int64_t i = 0; i < pe; ++i) {
              for (int64_t j = 0; j < qe; ++j) y_k[(p0 + i) * s.Q + q0 + j] = yt[(i * m + j) * L + l];
            }
          }
        }
      }
    }
  }
}

}  // namespace

bool conv2d_winograd_supported(const Conv2dShape& s) {
  return s.R == 3 && s.S == 3 && s.stride_h == 1 && s.stride_w == 1 && s.dil_h == 1 && s.dil_w == 1;
}

void check_conv2d_winograd(const Conv2dShape& s) {
  if (conv2d_winograd_supported(s)) return;
  throw ArgumentError("conv2d: algo='winograd' needs a 3x3 kernel with stride 1 and dilation 1, got kernel " +
                      std::to_string(s.R) + "x" + std::to_string(s.S) + ", stride (" + std::to_string(s.stride_h) +
                      ", " + std::to_string(s.stride_w) + "), dilation (" + std::to_string(s.dil_h) + ", " +
                      std::to_string(s.dil_w) + ")");
}

int64_t conv2d_winograd_workspace(const Conv2dShape& s, int tile, int64_t elem_bytes) {
  if (s.N == 0 || s.P <= 0 || s.Q <= 0 || s.K == 0) return 0;
  const bool f32 = elem_bytes == 4;
  const GemmBlocking b = f32 ? gemm_blocking<float>() : gemm_blocking<double>();
  const int64_t lanes = f32 ? transforms<float>(tile).lanes : transforms<double>(tile).lanes;
  const Tiling t = make_tiling(s, tile, b.nr, lanes, elem_bytes);
  const int64_t U = s.groups * t.E * round_up(s.K_per_group(), b.mr) * s.C_per_group();
  const int64_t threads = threads_for(s.groups * t.chunks * std::max(t.E, s.C_per_group()) * t.nt / 64);
  return elem_bytes * (U + t.E * (s.C_per_group() + s.K_per_group()) * t.nt + threads * t.per_thread);
}

namespace cpu {

template <typename T>
void conv2d_winograd(const Conv2dShape& s, int tile, const T* x, const T* w, const T* bias, T* y) {
  check_conv2d_winograd(s);
  if (tile != 2 && tile != 4) throw ArgumentError("conv2d: winograd tile must be 2 or 4, got " + std::to_string(tile));
  if (s.N == 0 || s.K == 0 || s.P <= 0 || s.Q <= 0) return;
  if (s.C_per_group() == 0) {  // no input channels: every output is its bias
    const int64_t PQ = s.P * s.Q;
    for (int64_t i = 0; i < s.N * s.K; ++i) std::fill(y + i * PQ, y + (i + 1) * PQ, bias ? bias[i % s.K] : T(0));
    return;
  }
  run<T>(s, tile, x, w, bias, y);
}

template void conv2d_winograd<float>(const Conv2dShape&, int, const float*, const float*, const float*, float*);
template void conv2d_winograd<double>(const Conv2dShape&, int, const double*, const double*, const double*,
                                      double*);

}  // namespace cpu
}  // namespace ck
