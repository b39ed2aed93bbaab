// conv2d_winograd_kernels.hpp: private interface between the Winograd convolution (conv2d_winograd.cpp) and
// its per-ISA tile transforms (conv2d_winograd_simd.hpp, compiled by conv2d_winograd_{scalar,avx2,avx512}.cpp;
// see isa_dispatch.hpp): the transform matrices, and the table of one ISA's transforms. Plain declarations
// and constant data only: this header is included by files compiled with AVX flags.
//
// F(m x m, 3 x 3) (Lavin and Gray 2016) computes an m x m tile of outputs from an alpha x alpha tile of
// inputs (alpha = m + 2) as  Y = A^T [ (G g G^T) . (B^T d B) ] A,  with "." the elementwise product, g the
// 3 x 3 filter and d the input tile; summed over input channels, the elementwise products become alpha^2
// matrix products (conv2d_winograd.cpp). m = 4 interpolates at 0, 1, -1, 2, -2 and infinity; m = 2 at 0, 1,
// -1 and infinity.
#pragma once

#include <cstdint>

namespace ck {

// The matrices of F(m x m, 3 x 3), m = 2 or 4.
template <int M>
struct WinogradMatrices;

template <>
struct WinogradMatrices<2> {
  static constexpr int m = 2, alpha = 4;
  static constexpr double BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
  static constexpr double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  static constexpr double AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
};

template <>
struct WinogradMatrices<4> {
  static constexpr int m = 4, alpha = 6;
  static constexpr double BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                      {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  static constexpr double G[6][3] = {{1.0 / 4, 0, 0},
                                     {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                     {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                     {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                     {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                     {0, 0, 1}};
  static constexpr double AT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
};

// The transforms of L tiles at once, one tile per vector lane (L = lanes of the ISA's vectors of T), for
// output tiles of m x m (alpha = m + 2); e = i * alpha + j indexes the alpha x alpha transformed tile.
//   input           the input tile of tile l at x[offset[l] + i * W + j]  ->  v[e * v_stride + l] = B^T d B;
//   output          mm[e * m_stride + l]: the elementwise products' sums of tile l  ->  y[(i * m + j) * L + l]
//                   = A^T mm A + bias;
//   weights         f[tap * tap_stride + c * c_stride + i], tap = r * 3 + t: the 3 x 3 filter of input channel
//                   c < Cg and output channel i of a panel of mr (lanes: output channels; f holds whole
//                   vectors past mr, zeros)  ->  u[e * e_stride + c * mr + i] = (G f G^T)[e], i < mr.
template <typename T>
using WinogradInput = void (*)(const T* x, const int32_t* offset, int64_t W, T* v, int64_t v_stride);
template <typename T>
using WinogradOutput = void (*)(const T* mm, int64_t m_stride, T bias, T* y);

template <typename T>
using WinogradWeights = void (*)(const T* f, int64_t tap_stride, int64_t c_stride, int64_t Cg, int64_t mr, T* u,
                                 int64_t e_stride);

template <typename T>
struct WinogradTransforms {
  WinogradInput<T> input;
  WinogradOutput<T> output;
  WinogradWeights<T> weights;
};

// One ISA's table: lanes per vector and the transforms, [0] for F(2x2, 3x3), [1] for F(4x4, 3x3).
struct WinogradKernels {
  int64_t lanes_f32, lanes_f64;
  WinogradTransforms<float> f32[2];
  WinogradTransforms<double> f64[2];
};

// nullptr when the file was compiled without its ISA's flags.
const WinogradKernels* conv2d_winograd_kernels_scalar();
const WinogradKernels* conv2d_winograd_kernels_avx2();
const WinogradKernels* conv2d_winograd_kernels_avx512();

}  // namespace ck
