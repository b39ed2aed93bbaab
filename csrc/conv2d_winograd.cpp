// conv2d_winograd.cpp: 2-D convolution of 3 x 3 stride-1 layers by Winograd's F(m x m, 3 x 3) on the CPU
// (conv2d_winograd.hpp; the transforms in conv2d_winograd_kernels.hpp and conv2d_winograd_simd.hpp).
//
// Per group, with alpha = m + 2 and E = alpha^2 transformed points, tiles t of m x m outputs over the batch
// (N x ceil(P/m) x ceil(Q/m), tile t reading the alpha x alpha input window at (p0 - pad_top, q0 - pad_left),
// zero outside the image):
//   U[e][k][c] = (G w[k, c] G^T)[e]                     packed as GEMM A panels, once per call (or kept from
//                                                       the thread's last call when its weights were equal);
//   V[e][c][t] = (B^T d[c, t] B)[e]                     written by the input transform straight into
//                                                       packed GEMM B strips (nr tiles wide);
//   M[e][k][t] = sum over c of U[e][k][c] V[e][c][t]     E matrix products on the GEMM's micro-kernel;
//   y[k, tile t] = A^T M[.][k][t] A + bias[k]            the output transform, cropped at the image edge.
// Tiles go in chunks of whole tile rows (as many as a memory bound allows, since each chunk reads all of U),
// one group at a time; all threads share each of the three steps of a chunk: the input transform by input
// channel (its tile rows first copied, zero-padded, so that every tile is gathered the same way), the
// products by point e (so each U[e] is read by one thread), the output transform by (output channel, L tiles).
//
// Threads: each output element is computed by one thread in a fixed order (the chunking does not depend on
// the thread count), so results are identical for any thread count.
#include "conv2d_winograd.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
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

// The tile grid and its chunks, decided in one place for the kernel and its workspace estimate. A chunk is
// a run of whole tile rows (over the batch: tile row r is row r % TH of image r / TH); each input channel of
// it comes as a zero-padded copy XP[row][i][Wp] of the alpha input rows of each tile row, so every tile is
// read the same way, without a check.
struct Tiling {
  int64_t m, alpha, E;   // output tile, input tile, transformed points
  int64_t TH, TW;        // tiles per image
  int64_t tiles;         // N x TH x TW
  int64_t Wp;            // a padded input row: TW * m + 2
  int64_t rows;          // tile rows per chunk
  int64_t chunks;
  int64_t cols;          // columns of V and M: a chunk's tiles, rounded up to whole strips
  int64_t xp;            // elements of one thread's XP (one channel's tile rows)
  int64_t per_thread;    // elements of one thread's XP and output tile buffer
};

Tiling make_tiling(const Conv2dShape& s, int m, int64_t nr, int64_t lanes, int64_t elem_bytes) {
  Tiling t;
  t.m = m;
  t.alpha = m + 2;
  t.E = t.alpha * t.alpha;
  t.TH = ceil_div(s.P, m);
  t.TW = ceil_div(s.Q, m);
  t.tiles = s.N * t.TH * t.TW;
  t.Wp = t.TW * m + 2;
  const int64_t Cg = s.C_per_group(), Kg = s.K_per_group();
  const int64_t per_row = t.E * (Cg + Kg) * t.TW * elem_bytes;
  t.rows = std::min(s.N * t.TH, std::max<int64_t>(1, kChunkBytes / std::max<int64_t>(1, per_row)));
  t.chunks = ceil_div(s.N * t.TH, t.rows);
  t.cols = round_up(t.rows * t.TW, nr);
  t.xp = t.rows * t.alpha * t.Wp;
  t.per_thread = t.xp + t.m * t.m * lanes;
  return t;
}

// Where tile t's outputs go: y[base + i * Q + j] of output channel 0 for i < rows, j < cols (cropped at the
// image's edge), base = n * K * P * Q + p0 * Q + q0.
struct TilePlace {
  int64_t base;
  int32_t rows, cols;
};

std::vector<TilePlace> tile_places(const Conv2dShape& s, int64_t m, int64_t TH, int64_t TW) {
  std::vector<TilePlace> places(s.N * TH * TW);
  for (int64_t t = 0; t < int64_t(places.size()); ++t) {
    const int64_t n = t / (TH * TW), p0 = t % (TH * TW) / TW * m, q0 = t % TW * m;
    places[t] = {n * s.K * s.P * s.Q + p0 * s.Q + q0, int32_t(std::min(m, s.P - p0)), int32_t(std::min(m, s.Q - q0))};
  }
  return places;
}

// Stores the output tiles of `lanes` lanes, yt[(i * M + j) * L + l] for tile place[l], into y_k (y at output
// channel k).
template <typename T, int M>
void store_tiles(const T* yt, int64_t L, int64_t lanes, const TilePlace* place, T* y_k, int64_t Q) {
  for (int64_t l = 0; l < lanes; ++l) {
    T* o = y_k + place[l].base;
    if (place[l].rows == M && place[l].cols == M) {
#pragma GCC unroll 4
      for (int i = 0; i < M; ++i) {
#pragma GCC unroll 4
        for (int j = 0; j < M; ++j) o[i * Q + j] = yt[(i * M + j) * L + l];
      }
      continue;
    }
    for (int i = 0; i < place[l].rows; ++i) {
      for (int j = 0; j < place[l].cols; ++j) o[i * Q + j] = yt[(i * M + j) * L + l];
    }
  }
}

// U's layout: U[(g * E + e) * u_stride + (p * Cg + c) * mr + i] = (G w[k, c] G^T)[e] for output channel
// k = g * Kg + p * mr + i (0 past Kg): per point e, the GEMM's A panels of mr output channels. Its E matrices
// lie one cache line further apart than their size (a transform writes all E at once: see V and M in run).
int64_t u_stride(const Conv2dShape& s, int64_t mr, int64_t elem_bytes) {
  return round_up(s.K_per_group(), mr) * s.C_per_group() + 64 / elem_bytes;
}

// Packs U. The filters are first laid out as wt[g][tap][c][k], k padded with zeros to the panels and one
// vector more, so that the transform runs on a panel's output channels at once, in vectors, each panel row
// of U written whole.
template <typename T>
void transform_weights(const Conv2dShape& s, const Transforms<T>& tr, const T* w, int64_t mr, T* U) {
  const int64_t Cg = s.C_per_group(), Kg = s.K_per_group(), panels = ceil_div(Kg, mr), L = tr.lanes;
  const int64_t Kp = panels * mr + L, E = (tr.m + 2) * (tr.m + 2), us = u_stride(s, mr, sizeof(T));
  Workspace<T> wt(s.groups * 9 * Cg * Kp);
  const int threads = threads_for(s.K * Cg / 256);
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(static)
    for (int64_t item = 0; item < s.groups * Cg; ++item) {  // wt[((g * 9 + tap) * Cg + c) * Kp + kl]
      const int64_t g = item / Cg, c = item % Cg;
      T* w_c = wt.get() + (g * 9 * Cg + c) * Kp;
      for (int64_t kl = 0; kl < Kg; ++kl) {
        const T* f = w + ((g * Kg + kl) * Cg + c) * 9;
        for (int64_t tap = 0; tap < 9; ++tap) w_c[tap * Cg * Kp + kl] = f[tap];
      }
      for (int64_t tap = 0; tap < 9; ++tap) std::fill(w_c + tap * Cg * Kp + Kg, w_c + tap * Cg * Kp + Kp, T(0));
    }
#pragma omp for schedule(static)
    for (int64_t item = 0; item < s.groups * panels; ++item) {
      const int64_t g = item / panels, p = item % panels;
      tr.tf.weights(wt.get() + g * 9 * Cg * Kp + p * mr, Cg * Kp, Kp, Cg, mr, U + g * E * us + p * Cg * mr, us);
    }
  }
}

// The transformed weights of the calling thread's last call, reused when the next call's weights are equal
// (compared byte for byte, so the result is what transforming them again would give) with the same
// geometry and SIMD path: a layer at inference runs again and again with the same weights, and for a deep
// layer on a small image the transform costs about as much as the products. In training the weights change
// every step, and the comparison stops at their first element. At most kMaxCachedWeightBytes of U is kept.
constexpr int64_t kMaxCachedWeightBytes = int64_t(64) << 20;

template <typename T>
struct TransformedWeights {
  int64_t K = 0, Cg = 0, groups = 0, m = 0, mr = 0;
  WinogradWeights<T> transform = nullptr;  // identifies the SIMD path
  std::vector<T> w, U;
};

// U for w: the cached one when w and the geometry match, else transformed (into the cache when it fits,
// else into `scratch`).
template <typename T>
const T* transformed_weights(const Conv2dShape& s, const Transforms<T>& tr, const T* w, int64_t mr, int64_t size,
                             std::optional<Workspace<T>>* scratch) {
  TransformedWeights<T>& c = thread_state<TransformedWeights<T>>();
  const int64_t n = s.K * s.C_per_group() * 9;
  if (c.K == s.K && c.Cg == s.C_per_group() && c.groups == s.groups && c.m == tr.m && c.mr == mr &&
      c.transform == tr.tf.weights && std::memcmp(c.w.data(), w, sizeof(T) * n) == 0) {
    return c.U.data();
  }
  if (size * int64_t(sizeof(T)) > kMaxCachedWeightBytes) {
    scratch->emplace(size);
    transform_weights<T>(s, tr, w, mr, (*scratch)->get());
    return (*scratch)->get();
  }
  c = TransformedWeights<T>{};  // nothing stale survives a failure below
  std::vector<T> U(size), copy(w, w + n);
  transform_weights<T>(s, tr, w, mr, U.data());
  c.U = std::move(U);
  c.w = std::move(copy);
  c.K = s.K, c.Cg = s.C_per_group(), c.groups = s.groups, c.m = tr.m, c.mr = mr, c.transform = tr.tf.weights;
  return c.U.data();
}

template <typename T>
void run(const Conv2dShape& s, int m, const T* x, const T* w, const T* bias, T* y) {
  const GemmMicroKernel<T> mk = gemm_micro_kernel<T>();
  const Transforms<T> tr = transforms<T>(m);
  const int64_t L = tr.lanes, nr = mk.nr, mr = mk.mr;
  if (nr % L != 0) throw std::logic_error("conv2d_winograd: GEMM strip not a whole number of vectors");
  const Tiling tl = make_tiling(s, m, nr, L, sizeof(T));
  const int64_t Cg = s.C_per_group(), Kg = s.K_per_group(), E = tl.E, alpha = tl.alpha;
  const int64_t panels = ceil_div(Kg, mr), HW = s.H * s.W, PQ = s.P * s.Q;

  const int64_t us = u_stride(s, mr, sizeof(T));
  std::optional<Workspace<T>> scratch;
  const T* const U = transformed_weights<T>(s, tr, w, mr, s.groups * E * us, &scratch);
  // Depth blocks of the products: Cg split evenly into blocks of at most the micro-kernel's kc.
  const int64_t depth_blocks = ceil_div(Cg, mk.kc), kcb = ceil_div(Cg, depth_blocks);

  if (tl.rows * tl.alpha * tl.Wp >= (int64_t(1) << 31)) {
    throw ArgumentError("conv2d: algo='winograd' cannot run an output row of " + std::to_string(s.Q) +
                        " pixels (use 'im2col')");
  }
  const int threads = threads_for(s.groups * tl.chunks * std::max(E, Cg) * tl.cols / 64);
  constexpr int64_t kLine = 64 / sizeof(T);
  Workspace<T> work(E * (Cg + Kg) * tl.cols + 2 * E * kLine + threads * tl.per_thread);
  T* const V = work.get();  // each part written before it is read
  T* const Mb = V + E * (Cg * tl.cols + kLine);
  T* const XP = Mb + E * (Kg * tl.cols + kLine);
  const int64_t xp_row = tl.alpha * tl.Wp;
  const std::vector<TilePlace> places = tile_places(s, m, tl.TH, tl.TW);
  // Each lane's tile in XP, for a full chunk then for the last one: lanes past its tiles point at tile 0.
  const int64_t last_count = (s.N * tl.TH - (tl.chunks - 1) * tl.rows) * tl.TW;
  std::vector<int32_t> offsets(2 * tl.cols);
  for (int64_t j = 0; j < tl.cols; ++j) {
    const int32_t o = int32_t(j / tl.TW * xp_row + j % tl.TW * m);
    offsets[j] = j < tl.rows * tl.TW ? o : 0;
    offsets[tl.cols + j] = j < last_count ? o : 0;
  }
#pragma omp parallel num_threads(threads)
  {
    T* const xp = XP + int64_t(omp_get_thread_num()) * tl.per_thread;  // this thread's rows * alpha * Wp
    T* const yt = xp + tl.xp;                                           // and m x m x L
    for (int64_t g = 0; g < s.groups; ++g) {
      for (int64_t chunk = 0; chunk < tl.chunks; ++chunk) {
        const int64_t r0 = chunk * tl.rows, rows = std::min(tl.rows, s.N * tl.TH - r0);
        const int64_t t0 = r0 * tl.TW, count = rows * tl.TW;
        const int64_t strips = ceil_div(count, nr), cols = strips * nr;  // columns of V and M
        // The E matrices of V (and of M) one cache line further apart than their size: a transform touches
        // all E at once, and sizes that are multiples of 4 KiB would put those E lines in the same L1 set.
        const int64_t v_stride = Cg * cols + kLine, m_stride = Kg * cols + kLine;
        const int64_t groups_of_lanes = cols / L;

        // 1. Input transform, one input channel per item: its tile rows copied zero-padded into the
        //    thread's XP[row][i][u] = x[n, g*Cg + c, th*m + i - pad_top, u - pad_left] (tile row r0 + row =
        //    n*TH + th), then transformed L tiles (one group of lanes) at a time into V[e] as strips of nr
        //    tiles, V[e][strip][c][j], each lane gathering its tile from XP (lanes past the chunk's tiles
        //    read tile 0: their columns of the products are computed and never stored).
        const int32_t* offset = rows == tl.rows ? offsets.data() : offsets.data() + tl.cols;
#pragma omp for schedule(dynamic, 1)
        for (int64_t c = 0; c < Cg; ++c) {
          const int64_t u0 = std::min(tl.Wp, s.pad_left), u1 = std::min(tl.Wp, s.pad_left + s.W);
          for (int64_t row = 0; row < rows; ++row) {
            const int64_t n = (r0 + row) / tl.TH, th = (r0 + row) % tl.TH;
            const T* x_c = x + (n * s.C + g * Cg + c) * HW;
            for (int64_t i = 0; i < alpha; ++i) {
              T* dst = xp + row * xp_row + i * tl.Wp;
              const int64_t ih = th * m + i - s.pad_top;
              if (ih < 0 || ih >= s.H) {
                std::fill(dst, dst + tl.Wp, T(0));
                continue;
              }
              std::fill(dst, dst + u0, T(0));
              if (u1 > u0) std::copy(x_c + ih * s.W, x_c + ih * s.W + (u1 - u0), dst + u0);
              std::fill(dst + u1, dst + tl.Wp, T(0));
            }
          }
          for (int64_t j0 = 0; j0 < cols; j0 += L) {
            tr.tf.input(xp, offset + j0, tl.Wp, V + (j0 / nr * Cg + c) * nr + j0 % nr, v_stride);
          }
        }

        // 2. M[e][k][j] = U[e] . V[e], a point e per item: per depth block, B strip (L1) and A panel (L2).
        const T* U_g = U + g * E * us;
#pragma omp for schedule(static)
        for (int64_t e = 0; e < E; ++e) {
          const T* U_e = U_g + e * us;
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
          const TilePlace* place = places.data() + t0 + j0;
          if (m == 2) {
            store_tiles<T, 2>(yt, L, std::min(L, count - j0), place, y + kk * PQ, s.Q);
          } else {
            store_tiles<T, 4>(yt, L, std::min(L, count - j0), place, y + kk * PQ, s.Q);
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
  const int64_t U = s.groups * t.E * u_stride(s, b.mr, elem_bytes);
  const int64_t wt = s.groups * 9 * s.C_per_group() * (round_up(s.K_per_group(), b.mr) + lanes);
  const int64_t threads = threads_for(s.groups * t.chunks * std::max(t.E, s.C_per_group()) * t.cols / 64);
  return elem_bytes * (U + wt + t.E * (s.C_per_group() + s.K_per_group()) * t.cols + 2 * t.E * 64 / elem_bytes +
                       threads * t.per_thread);
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
