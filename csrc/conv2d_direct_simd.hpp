// conv2d_direct_simd.hpp: the direct-convolution micro-kernel vectorised over output channels, written once
// and compiled once per ISA (isa_dispatch.hpp): conv2d_direct_{scalar,avx2,avx512}.cpp include this file with
// CK_VEC_BYTES set (16, 32, 64) and only the AVX files get AVX flags. Everything here sits in an anonymous
// namespace; the including file hands out kDirectTable.
//
// A register tile is KV = 2 vectors of output channels x QB output pixels of one image. Each tap
// (c, r, t) loads the KV weights w[k0.., c, r, t] once and broadcasts the QB input values under the tile's
// pixels against them: 2*QB multiply-adds per 2 + QB loads. This is what few-input-channel layers need
// (LeNet, AlexNet conv1), where im2col's GEMM is too thin.
//
// Pixels come in two lists made once per call (DirectPlan): interior pixels, all of whose taps lie inside
// the image, so the input under tap k of pixel j is x_c0[base[j] + tap_offset[k]] with no check, taken
// QB at a time in any order (rows need not be whole); and border pixels, one at a time with checks.
// Weights come pre-packed: wp[((g * blocks + b) * C/g + c) * R*S + r*S + t][KV] (zero past K/g).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cnnkernels/shapes.hpp"
#include "conv2d_direct_kernels.hpp"

namespace ck {
namespace {

template <typename T>
struct Simd {
  static constexpr int lanes = CK_VEC_BYTES / sizeof(T);
  typedef T vec __attribute__((vector_size(CK_VEC_BYTES)));
  static vec load(const T* p) {
    vec v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
};

constexpr int kQB = CK_VEC_BYTES == 64 ? 12 : 6;  // output pixels per register tile

// Stores tile column i (pixel j) of channels [k0, k0 + kb) with bias.
template <typename T, typename V>
inline void store_pixel(const V& a0, const V& a1, int64_t kb, int64_t k0, const T* bias, int64_t PQ, int64_t j,
                        T* y_n) {
  constexpr int L = Simd<T>::lanes;
  for (int64_t k = 0; k < kb; ++k) {
    y_n[(k0 + k) * PQ + j] = (k < L ? a0[k] : a1[k - L]) + (bias ? bias[k0 + k] : T(0));
  }
}

// Output channels per weight block on this ISA (2 vectors).
template <typename T>
constexpr int64_t direct_block_channels() {
  return 2 * Simd<T>::lanes;
}

// Pixels [i0, i1) of the plan's interior list then border list (indices past the interior count run on
// into the border list), for channel block b of group g of image n.
template <typename T>
void direct_kvec_task(const Conv2dShape& s, const DirectPlan& plan, const T* x, const T* wp, const T* bias, T* y,
                      int64_t n, int64_t g, int64_t b, int64_t i0, int64_t i1) {
  using V = typename Simd<T>::vec;
  constexpr int L = Simd<T>::lanes, KV = 2 * L;
  const int64_t Cg = s.C_per_group(), Kg = s.K_per_group(), blocks = (Kg + KV - 1) / KV;
  const int64_t taps = Cg * s.R * s.S, PQ = s.P * s.Q;
  const int64_t k0 = g * Kg + b * KV, kb = std::min<int64_t>(KV, (g + 1) * Kg - k0);
  const T* wp_b = wp + (g * blocks + b) * taps * KV;
  const T* x_g = x + (n * s.C + g * Cg) * s.H * s.W;
  T* y_n = y + n * s.K * PQ;
  const int64_t* tap_offset = plan.tap_offset.data();
  const int64_t interior = static_cast<int64_t>(plan.interior.size());

  // Interior pixels, QB at a time (a short last tile repeats its last pixel and drops the copies).
  for (int64_t i = i0; i < std::min(i1, interior); i += kQB) {
    const int nq = static_cast<int>(std::min<int64_t>(kQB, std::min(i1, interior) - i));
    const T* xb[kQB];
    for (int u = 0; u < kQB; ++u) xb[u] = x_g + plan.interior[i + std::min(u, nq - 1)].base;
    V acc0[kQB], acc1[kQB];
    for (int u = 0; u < kQB; ++u) acc0[u] = acc1[u] = V{};
    for (int64_t k = 0; k < taps; ++k) {
      const V w0 = Simd<T>::load(wp_b + k * KV), w1 = Simd<T>::load(wp_b + k * KV + L);
      const int64_t off = tap_offset[k];
#pragma GCC unroll 16
      for (int u = 0; u < kQB; ++u) {
        const T xv = xb[u][off];
        acc0[u] += w0 * xv;
        acc1[u] += w1 * xv;
      }
    }
    for (int u = 0; u < nq; ++u) store_pixel(acc0[u], acc1[u], kb, k0, bias, PQ, plan.interior[i + u].pixel, y_n);
  }

  // Border pixels, one at a time, loading 0 for taps outside the image.
  for (int64_t i = std::max(i0, interior); i < i1; ++i) {
    const int64_t j = plan.border[i - interior];
    const int64_t ih0 = j / s.Q * s.stride_h - s.pad_top, iw0 = j % s.Q * s.stride_w - s.pad_left;
    V a0 = V{}, a1 = V{};
    for (int64_t c = 0; c < Cg; ++c) {
      for (int64_t r = 0; r < s.R; ++r) {
        const int64_t ih = ih0 + r * s.dil_h;
        if (ih < 0 || ih >= s.H) continue;
        const T* x_row = x_g + c * s.H * s.W + ih * s.W;
        const T* w_rs = wp_b + ((c * s.R + r) * s.S) * KV;
        for (int64_t t = 0; t < s.S; ++t) {
          const int64_t iw = iw0 + t * s.dil_w;
          if (iw < 0 || iw >= s.W) continue;
          const T xv = x_row[iw];
          a0 += Simd<T>::load(w_rs + t * KV) * xv;
          a1 += Simd<T>::load(w_rs + t * KV + L) * xv;
        }
      }
    }
    store_pixel(a0, a1, kb, k0, bias, PQ, j, y_n);
  }
}

// The thin path (few output channels; stride_w 1): one output row of KB channels, vectorised along the row
// instead: a tile of KB channels x RL consecutive output columns (vectors of at most 32 bytes: LeNet's rows
// are 10 to 28 wide), each tap's RL inputs loaded once for KB multiply-adds. The interior columns (every
// tap inside the image) go in whole tiles, the last one overlapping its predecessor rather than running
// short (it recomputes some columns to the same values); the other columns one at a time.
template <typename T>
struct RowSimd {
  static constexpr int bytes = CK_VEC_BYTES < 32 ? CK_VEC_BYTES : 32;
  static constexpr int lanes = bytes / static_cast<int>(sizeof(T));
  typedef T vec __attribute__((vector_size(bytes)));
  static vec load(const T* p) {
    vec v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  static void store(T* p, const vec& v) { std::memcpy(p, &v, sizeof(v)); }
};

template <typename T, int KB>
void thin_row_kb(const Conv2dShape& s, const T* x_n, const T* w, const T* bias, int64_t k0, int64_t c0, int64_t p,
                 T* y_n) {
  using R = RowSimd<T>;
  using V = typename R::vec;
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

const DirectKernels kDirectTable = {direct_block_channels<float>(), direct_block_channels<double>(),
                                    &direct_kvec_task<float>,       &direct_kvec_task<double>,
                                    &thin_row<float>,               &thin_row<double>};

}  // namespace
}  // namespace ck
