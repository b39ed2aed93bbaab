// conv2d_direct_simd.hpp: the direct-convolution micro-kernel vectorised over output channels, written once
// and compiled once per ISA (isa_dispatch.hpp): conv2d_direct_{scalar,avx2,avx512}.cpp include this file with
// CK_VEC_BYTES set (16, 32, 64) and only the AVX files get AVX flags. Everything here sits in an anonymous
// namespace; the including file hands out kDirectTable.
//
// A register tile is NV vectors of output channels (NV = 2, or 1 for the last block of a group with an odd
// number of vectors: K/g = 16 on AVX-512 would otherwise leave half of a 2-vector block empty) x QB output
// pixels of one image (QB = kQB for 2 vectors, 2 kQB for 1: the same number of accumulators). Each tap
// (c, r, t) loads the NV weights w[k0.., c, r, t] once and broadcasts the QB input values under the tile's
// pixels against them: NV*QB multiply-adds per NV + QB loads (at 1 vector, taps side by side in a row go in
// pairs: tile_taps). This is what few-input-channel layers need (LeNet, AlexNet conv1), where im2col's
// GEMM is too thin.
//
// Every pixel goes through the tiles, QB consecutive pixels j = p*Q + q at a time (rows need not be whole):
// the input under tap k of pixel j is src[pos[j] - shift + tap_offset[k]] with no check, where src is the
// image itself (a layer without padding) or a zero-padded copy of the rows a chunk of pixels needs
// (DirectPlan, conv2d_direct.cpp).
// Weights come pre-packed, per group g, in blocks of 2 vectors of channels and a last block of 1 when the
// group's vectors are odd: block b of NV vectors holds wp_b[tap][NV * lanes] (zero past K/g).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cnnkernels/shapes.hpp"
#include "conv2d_direct_kernels.hpp"

namespace ck {
namespace {

#include "simd_vec.hpp"

template <typename T>
using Simd = SimdVec<T, CK_VEC_BYTES>;

constexpr int kQB = CK_VEC_BYTES == 64 ? 12 : 6;  // output pixels per register tile of 2 vectors

// Output channels per weight block of 2 vectors on this ISA.
template <typename T>
constexpr int64_t direct_block_channels() {
  return 2 * Simd<T>::lanes;
}

// acc[v][u] = the sum over taps k of the weights wp_b[k][v] times the input under tap k of tile pixel u,
// xb[u][tap_offset[k]], taken in tap order. Contiguous: the QB pixels' inputs lie side by side (xb[u] =
// xb[0] + u, a stretch of one row at stride_w 1), reached from one pointer instead of QB; then with one
// vector of channels, two taps side by side in the row (t and t + 1, dilation 1) go together: each of the
// QB + 1 inputs loaded serves pixel u at tap t and pixel u - 1 at tap t + 1, 2 multiply-adds per load
// instead of 1 (each accumulator still takes its taps in order, so the sums are the same to the bit).
template <typename T, int NV, int QB, bool Contiguous>
inline void tile_taps(const T* const* xb, const int64_t* tap_offset, int64_t taps, const T* wp_b,
                      typename Simd<T>::V (&acc)[NV][QB]) {
  using V = typename Simd<T>::V;
  constexpr int L = Simd<T>::lanes;
  for (int v = 0; v < NV; ++v) {
    for (int u = 0; u < QB; ++u) acc[v][u] = V{};
  }
  const T* x0 = xb[0];
  for (int64_t k = 0; k < taps; ++k) {
    if constexpr (Contiguous && NV == 1) {
      if (k + 1 < taps && tap_offset[k + 1] == tap_offset[k] + 1) {
        const V w0 = Simd<T>::load(wp_b + k * L), w1 = Simd<T>::load(wp_b + (k + 1) * L);
        const T* xk = x0 + tap_offset[k];
        acc[0][0] += w0 * xk[0];
#pragma GCC unroll 32
        for (int u = 1; u < QB; ++u) {
          const T xv = xk[u];
          acc[0][u] += w0 * xv;
          acc[0][u - 1] += w1 * xv;
        }
        acc[0][QB - 1] += w1 * xk[QB];
        ++k;
        continue;
      }
    }
    V wv[NV];
    for (int v = 0; v < NV; ++v) wv[v] = Simd<T>::load(wp_b + (k * NV + v) * L);
    const int64_t off = tap_offset[k];
#pragma GCC unroll 32
    for (int u = 0; u < QB; ++u) {
      const T xv = Contiguous ? x0[off + u] : xb[u][off];
      for (int v = 0; v < NV; ++v) acc[v][u] += wv[v] * xv;
    }
  }
}

// Pixels [i0, i1) of one channel block of NV vectors (its kb channels' outputs at y_k[k * PQ + j]) from the
// block's packed weights wp_b (plan: pixel positions and tap offsets in src).
template <typename T, int NV>
void direct_tiles(const DirectPlan& plan, const T* src, int64_t shift, const T* wp_b, int64_t kb, const T* bias_k,
                  int64_t PQ, int64_t i0, int64_t i1, T* y_k) {
  using V = typename Simd<T>::V;
  constexpr int L = Simd<T>::lanes, QB = NV == 2 ? kQB : 2 * kQB;
  const int64_t taps = static_cast<int64_t>(plan.tap_offset.size());
  const int64_t* tap_offset = plan.tap_offset.data();
  // QB pixels at a time (a short last tile repeats its last pixel and drops the copies).
  for (int64_t i = i0; i < i1; i += QB) {
    const int nq = static_cast<int>(std::min<int64_t>(QB, i1 - i));
    const T* xb[QB];
    for (int u = 0; u < QB; ++u) xb[u] = src + (plan.pos[i + std::min(u, nq - 1)] - shift);
    V acc[NV][QB];
    const bool contiguous = nq == QB && plan.pos[i + QB - 1] - plan.pos[i] == QB - 1;
    if (contiguous) {
      tile_taps<T, NV, QB, true>(xb, tap_offset, taps, wp_b, acc);
    } else {
      tile_taps<T, NV, QB, false>(xb, tap_offset, taps, wp_b, acc);
    }
    for (int64_t k = 0; k < kb; ++k) {
      const T bk = bias_k ? bias_k[k] : T(0);
      T* y_row = y_k + k * PQ + i;
      for (int u = 0; u < nq; ++u) y_row[u] = acc[k / L][u][k % L] + bk;
    }
  }
}

template <typename T>
void direct_task(const DirectPlan& plan, const T* src, int64_t shift, const T* wp_b, int vectors, int64_t kb,
                 const T* bias_k, int64_t PQ, int64_t i0, int64_t i1, T* y_k) {
  if (vectors == 2) {
    direct_tiles<T, 2>(plan, src, shift, wp_b, kb, bias_k, PQ, i0, i1, y_k);
  } else {
    direct_tiles<T, 1>(plan, src, shift, wp_b, kb, bias_k, PQ, i0, i1, y_k);
  }
}

// The thin path (few output channels; stride_w 1): one output row of KB channels, vectorised along the row
// instead: a tile of KB channels x RL consecutive output columns (vectors of at most 32 bytes: LeNet's rows
// are 10 to 28 wide), each tap's RL inputs loaded once for KB multiply-adds. The interior columns (every
// tap inside the image) go in whole tiles, the last one overlapping its predecessor rather than running
// short (it recomputes some columns to the same values); the other columns one at a time.
template <typename T>
using RowSimd = SimdVec<T, (CK_VEC_BYTES < 32 ? CK_VEC_BYTES : 32)>;

template <typename T, int KB>
void thin_row_kb(const Conv2dShape& s, const T* x_n, const T* w, const T* bias, int64_t k0, int64_t c0, int64_t p,
                 T* y_n) {
  using R = RowSimd<T>;
  using V = typename R::V;
  constexpr int L = R::lanes;
  const int64_t Cg = s.C_per_group(), RS = s.R * s.S, CRS = Cg * RS, HW = s.H * s.W, PQ = s.P * s.Q;
  const int64_t ih0 = p * s.stride_h - s.pad_top;
  int64_t qa, qb;  // interior columns
  interior_outputs(s.Q, s.W, s.S, 1, s.pad_left, s.dil_w, &qa, &qb);
  if (qb - qa < L) qb = qa;  // too few for a tile: all one at a time
  for (int64_t q0 = qa; q0 < qb; q0 += L) {
    if (q0 + L > qb) q0 = qb - L;
    V acc[KB];
    for (int kb = 0; kb < KB; ++kb) acc[kb] = V{} + (bias ? bias[k0 + kb] : T(0));
    for (int64_t c = 0; c < Cg; ++c) {
      const T* x_c = x_n + (c0 + c) * HW;
      const T* w_c = w + k0 * CRS + c * RS;  // tap (r, t) of channel k0 + kb: w_c[kb * CRS + r * S + t]
      for (int64_t r = 0; r < s.R; ++r) {
        const int64_t ih = ih0 + r * s.dil_h;
        if (ih < 0 || ih >= s.H) continue;
        const T* x_row = x_c + ih * s.W + q0 - s.pad_left;
        for (int64_t t = 0; t < s.S; ++t) {
          const V xv = R::load(x_row + t * s.dil_w);
#pragma GCC unroll 8
          for (int kb = 0; kb < KB; ++kb) acc[kb] += xv * w_c[kb * CRS + r * s.S + t];
        }
      }
    }
    for (int kb = 0; kb < KB; ++kb) R::store(y_n + (k0 + kb) * PQ + p * s.Q + q0, acc[kb]);
    if (q0 + L >= qb) break;
  }
  for (int64_t q = 0; q < s.Q; ++q) {  // the other columns
    if (q >= qa && q < qb) q = qb;
    if (q >= s.Q) break;
    for (int kb = 0; kb < KB; ++kb) {
      T sum = bias ? bias[k0 + kb] : T(0);
      for (int64_t c = 0; c < Cg; ++c) {
        const T* x_c = x_n + (c0 + c) * HW;
        const T* w_k = w + (k0 + kb) * CRS + c * RS;
        for (int64_t r = 0; r < s.R; ++r) {
          const int64_t ih = ih0 + r * s.dil_h;
          if (ih < 0 || ih >= s.H) continue;
          for (int64_t t = 0; t < s.S; ++t) {
            const int64_t iw = q - s.pad_left + t * s.dil_w;
            if (iw >= 0 && iw < s.W) sum += w_k[r * s.S + t] * x_c[ih * s.W + iw];
          }
        }
      }
      y_n[(k0 + kb) * PQ + p * s.Q + q] = sum;
    }
  }
}

template <typename T>
void thin_row(const Conv2dShape& s, const T* x_n, const T* w, const T* bias, int64_t k0, int64_t kb, int64_t c0,
              int64_t p, T* y_n) {
  switch (kb) {
    case 1: thin_row_kb<T, 1>(s, x_n, w, bias, k0, c0, p, y_n); break;
    case 2: thin_row_kb<T, 2>(s, x_n, w, bias, k0, c0, p, y_n); break;
    case 3: thin_row_kb<T, 3>(s, x_n, w, bias, k0, c0, p, y_n); break;
    case 4: thin_row_kb<T, 4>(s, x_n, w, bias, k0, c0, p, y_n); break;
    case 5: thin_row_kb<T, 5>(s, x_n, w, bias, k0, c0, p, y_n); break;
    case 6: thin_row_kb<T, 6>(s, x_n, w, bias, k0, c0, p, y_n); break;
    case 7: thin_row_kb<T, 7>(s, x_n, w, bias, k0, c0, p, y_n); break;
    default: thin_row_kb<T, 8>(s, x_n, w, bias, k0, c0, p, y_n); break;
  }
}
static_assert(kThinBlock == 8, "thin_row instantiates blocks of 1 to 8 channels");

// A 1-vector block's rate of multiply-adds relative to a 2-vector block's. On AVX2 each of its 2 kQB
// inputs is broadcast by an instruction of its own (AVX-512's multiply-add takes it from memory), two loads
// for every multiply-add: measured, 1 thread, f32, Zen 3, C 16 or 3 x 34 x 34 (padding 1), 3x3 and 5x5,
// GFLOP/s per lane slot of K 4, 6, 8 over K 16: 0.60 to 0.61 on all three; K 24 (2 + 1 vectors) 0.80-0.90.
// Not measured on AVX-512 or SSE2: 1.
constexpr double kOneVectorRate = CK_VEC_BYTES == 32 ? 0.6 : 1.0;

const DirectKernels kDirectTable = {direct_block_channels<float>(), direct_block_channels<double>(), kOneVectorRate,
                                    &direct_task<float>,            &direct_task<double>,
                                    &thin_row<float>,               &thin_row<double>};

}  // namespace
}  // namespace ck
