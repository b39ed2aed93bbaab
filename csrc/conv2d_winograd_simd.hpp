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

#include "conv2d_winograd_kernels.hpp"

namespace ck {
namespace {

template <typename T>
struct WinoVec {
  static constexpr int lanes = CK_VEC_BYTES / sizeof(T);
  typedef T V __attribute__((vector_size(CK_VEC_BYTES)));
  static V load(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  static void store(T* p, const V& v) { std::memcpy(p, &v, sizeof(v)); }
};

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

template <typename T, int M>
void input_gathered(const T* d, T* v, int64_t v_stride) {
  constexpr int A = WinogradMatrices<M>::alpha, L = WinoVec<T>::lanes;
  typename WinoVec<T>::V dv[A * A];
#pragma GCC unroll 8
  for (int e = 0; e < A * A; ++e) dv[e] = WinoVec<T>::load(d + e * L);
  input_from_vectors<T, M>(dv, v, v_stride);
}

template <typename T, int M>
void input_row(const T* x, int64_t W, T* v, int64_t v_stride) {
  constexpr int A = WinogradMatrices<M>::alpha, L = WinoVec<T>::lanes;
  typename WinoVec<T>::V dv[A * A];
  for (int i = 0; i < A; ++i) {
    const T* row = x + i * W;
#pragma GCC unroll 8
    for (int j = 0; j < A; ++j) {
      T lanes[L];
      for (int l = 0; l < L; ++l) lanes[l] = row[l * M + j];
      dv[i * A + j] = WinoVec<T>::load(lanes);
    }
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

// u[e * u_stride + lane * u_step] = (G f G^T)[e] from the filters f[tap * f_stride + lane].
template <typename T, int M>
void weights(const T* f, int64_t f_stride, T* u, int64_t u_stride, int64_t u_step) {
  using W = WinogradMatrices<M>;
  using V = typename WinoVec<T>::V;
  constexpr int A = W::alpha, L = WinoVec<T>::lanes;
  V fv[9], t[A * 3], o[A * A];
#pragma GCC unroll 9
  for (int k = 0; k < 9; ++k) fv[k] = WinoVec<T>::load(f + k * f_stride);
#pragma GCC unroll 3
  for (int j = 0; j < 3; ++j) apply_matrix<T>(W::G, fv + j, 3, t + j, 3);  // columns: t = G f
#pragma GCC unroll 8
  for (int i = 0; i < A; ++i) apply_matrix<T>(W::G, t + i * 3, 1, o + i * A, 1);  // rows: o = t G^T
  for (int e = 0; e < A * A; ++e) {
    T lanes[L];
    WinoVec<T>::store(lanes, o[e]);
    for (int l = 0; l < L; ++l) u[e * u_stride + l * u_step] = lanes[l];
  }
}

template <typename T>
constexpr WinogradTransforms<T> transforms_of(int m) {
  return m == 2 ? WinogradTransforms<T>{&input_gathered<T, 2>, &input_row<T, 2>, &output<T, 2>, &weights<T, 2>}
                : WinogradTransforms<T>{&input_gathered<T, 4>, &input_row<T, 4>, &output<T, 4>, &weights<T, 4>};
}

const WinogradKernels kWinogradTable = {WinoVec<float>::lanes,
                                        WinoVec<double>::lanes,
                                        {transforms_of<float>(2), transforms_of<float>(4)},
                                        {transforms_of<double>(2), transforms_of<double>(4)}};

}  // namespace
}  // namespace ck
