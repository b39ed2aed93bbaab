// conv2d_winograd_simd.hpp: the tile transforms of the Winograd convolution (conv2d_winograd_kernels.hpp),
// written once with GCC vector types of CK_VEC_BYTES bytes, one tile per lane, and compiled once per ISA
// (isa_dispatch.hpp): conv2d_winograd_{scalar,avx2,avx512}.cpp include this file with CK_VEC_BYTES set (16,
// 32, 64) and only the AVX files get AVX flags. Everything here sits in an anonymous namespace; the including
// file hands out kWinogradTable.
//
// Each transform is two passes of a constant matrix over an alpha x alpha (or m x alpha) array of vectors:
// columns, then rows. The matrices are compile-time constants and the loops unroll, so a zero coefficient
// costs nothing and +-1 is an add or a subtract: only the nonzero terms are computed, in a fixed order.
#include <cstdint>
#include <cstring>

#if CK_VEC_BYTES > 16
#include <immintrin.h>
#endif

#include "conv2d_winograd_kernels.hpp"

namespace ck {
namespace {

#include "simd_vec.hpp"

template <typename T>
using WinoVec = SimdVec<T, CK_VEC_BYTES>;

// out[i * out_step] = sum over j of A[i][j] in[j * in_step] for the ROWS x COLS constant matrix A: zero
// terms skipped, +-1 as adds and subtracts.
template <typename T, typename V, int ROWS, int COLS>
inline void apply_matrix(const double (&A)[ROWS][COLS], const V* in, int in_step, V* out, int out_step) {
#pragma GCC unroll 8
  for (int i = 0; i < ROWS; ++i) {
    V acc{};
    bool first = true;
#pragma GCC unroll 8
    for (int j = 0; j < COLS; ++j) {
      const double a = A[i][j];
      if (a == 0) continue;
      const V& x = in[j * in_step];
      if (first) {
        acc = a == 1 ? x : a == -1 ? -x : x * T(a);
        first = false;
      } else {
        acc = a == 1 ? acc + x : a == -1 ? acc - x : acc + x * T(a);
      }
    }
    out[i * out_step] = acc;
  }
}

// v[e * v_stride + lane] = (B^T d B)[e] from the input tiles in vectors d[i * alpha + j].
template <typename T, int M>
inline void input_from_vectors(const typename WinoVec<T>::V* d, T* v, int64_t v_stride) {
  using W = WinogradMatrices<M>;
  using V = typename WinoVec<T>::V;
  constexpr int A = W::alpha;
  V t[A * A], u[A * A];
#pragma GCC unroll 8
  for (int j = 0; j < A; ++j) apply_matrix<T>(W::BT, d + j, A, t + j, A);  // columns: t = B^T d
#pragma GCC unroll 8
  for (int i = 0; i < A; ++i) apply_matrix<T>(W::BT, t + i * A, 1, u + i * A, 1);  // rows: u = t B
#pragma GCC unroll 8
  for (int e = 0; e < A * A; ++e) WinoVec<T>::store(v + e * v_stride, u[e]);
}

// One vector of L inputs, lane l from x[offset[l]]: a hardware gather where the ISA has one.
template <typename T>
inline typename WinoVec<T>::V gather(const T* x, const int32_t* offset) {
  typename WinoVec<T>::V v;
#if CK_VEC_BYTES == 64
  const __m512i i16 = _mm512_loadu_si512(offset);
  if constexpr (sizeof(T) == 4) {
    const __m512 g = _mm512_i32gather_ps(i16, x, 4);
    std::memcpy(&v, &g, sizeof(v));
  } else {
    const __m512d g = _mm512_i32gather_pd(_mm512_castsi512_si256(i16), x, 8);
    std::memcpy(&v, &g, sizeof(v));
  }
#elif CK_VEC_BYTES == 32
  if constexpr (sizeof(T) == 4) {
    const __m256 g = _mm256_i32gather_ps(x, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(offset)), 4);
    std::memcpy(&v, &g, sizeof(v));
  } else {
    const __m256d g = _mm256_i32gather_pd(x, _mm_loadu_si128(reinterpret_cast<const __m128i*>(offset)), 8);
    std::memcpy(&v, &g, sizeof(v));
  }
#else
  T lanes[WinoVec<T>::lanes];
  for (int l = 0; l < WinoVec<T>::lanes; ++l) lanes[l] = x[offset[l]];
  v = WinoVec<T>::load(lanes);
#endif
  return v;
}

// dst[l] = v[l] for the first n lanes: a masked store where the ISA has one.
template <typename T>
inline void store_first(T* dst, const typename WinoVec<T>::V& v, int n) {
  if (n == WinoVec<T>::lanes) {
    WinoVec<T>::store(dst, v);
    return;
  }
#if CK_VEC_BYTES == 64
  if constexpr (sizeof(T) == 4) {
    __m512 r;
    std::memcpy(&r, &v, sizeof(r));
    _mm512_mask_storeu_ps(dst, __mmask16((1u << n) - 1), r);
  } else {
    __m512d r;
    std::memcpy(&r, &v, sizeof(r));
    _mm512_mask_storeu_pd(dst, __mmask8((1u << n) - 1), r);
  }
#else
  T lanes[WinoVec<T>::lanes];
  WinoVec<T>::store(lanes, v);
  for (int l = 0; l < n; ++l) dst[l] = lanes[l];
#endif
}

template <typename T, int M>
void input(const T* x, const int32_t* offset, int64_t W, T* v, int64_t v_stride) {
  constexpr int A = WinogradMatrices<M>::alpha;
  typename WinoVec<T>::V dv[A * A];
  for (int i = 0; i < A; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < A; ++j) dv[i * A + j] = gather(x + i * W + j, offset);
  }
  input_from_vectors<T, M>(dv, v, v_stride);
}

// y[(i * m + j) * L + lane] = (A^T mm A)[i][j] + bias.
template <typename T, int M>
void output(const T* mm, int64_t m_stride, T bias, T* y) {
  using W = WinogradMatrices<M>;
  using V = typename WinoVec<T>::V;
  constexpr int A = W::alpha, L = WinoVec<T>::lanes;
  V in[A * A], t[M * A], o[M * M];
#pragma GCC unroll 8
  for (int e = 0; e < A * A; ++e) in[e] = WinoVec<T>::load(mm + e * m_stride);
#pragma GCC unroll 8
  for (int j = 0; j < A; ++j) apply_matrix<T>(W::AT, in + j, A, t + j, A);  // columns: t = A^T mm
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) apply_matrix<T>(W::AT, t + i * A, 1, o + i * M, 1);  // rows: o = t A
#pragma GCC unroll 8
  for (int e = 0; e < M * M; ++e) WinoVec<T>::store(y + e * L, o[e] + bias);
}

// u[e * e_stride + c * mr + i] = (G f G^T)[e] for the filters f[tap * tap_stride + c * c_stride + i], a
// vector of output channels i at a time.
template <typename T, int M>
void weights(const T* f, int64_t tap_stride, int64_t c_stride, int64_t Cg, int64_t mr, T* u, int64_t e_stride) {
  using W = WinogradMatrices<M>;
  using V = typename WinoVec<T>::V;
  constexpr int A = W::alpha, L = WinoVec<T>::lanes;
  for (int64_t c = 0; c < Cg; ++c) {
    for (int64_t i0 = 0; i0 < mr; i0 += L) {
      V fv[9], t[A * 3], o[A * A];
#pragma GCC unroll 9
      for (int k = 0; k < 9; ++k) fv[k] = WinoVec<T>::load(f + k * tap_stride + c * c_stride + i0);
#pragma GCC unroll 3
      for (int j = 0; j < 3; ++j) apply_matrix<T>(W::G, fv + j, 3, t + j, 3);  // columns: t = G f
#pragma GCC unroll 8
      for (int i = 0; i < A; ++i) apply_matrix<T>(W::G, t + i * 3, 1, o + i * A, 1);  // rows: o = t G^T
      const int n = mr - i0 < L ? int(mr - i0) : L;
#pragma GCC unroll 8
      for (int e = 0; e < A * A; ++e) store_first(u + e * e_stride + c * mr + i0, o[e], n);
    }
  }
}

template <typename T>
constexpr WinogradTransforms<T> transforms_of(int m) {
  return m == 2 ? WinogradTransforms<T>{&input<T, 2>, &output<T, 2>, &weights<T, 2>}
                : WinogradTransforms<T>{&input<T, 4>, &output<T, 4>, &weights<T, 4>};
}

const WinogradKernels kWinogradTable = {WinoVec<float>::lanes,
                                        WinoVec<double>::lanes,
                                        {transforms_of<float>(2), transforms_of<float>(4)},
                                        {transforms_of<double>(2), transforms_of<double>(4)}};

}  // namespace
}  // namespace ck
