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

const DirectKernels kDirectTable = {direct_block_channels<float>(), direct_block_channels<double>(),
                                    &direct_kvec_task<float>, &direct_kvec_task<double>};

}  // namespace
}  // namespace ck
