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
//   gathered input  d[(i * alpha + j) * L + l]: the input tile of tile l  ->  v[e * v_stride + l] = B^T d B;
//   row input       the same, tile l's input tile at x[i * W + l * m + j] (tiles side by side in one row,
//                   every input inside the image);
//   output          mm[e * m_stride + l]: the elementwise products' sums of tile l  ->  y[(i * m + j) * L + l]
//                   = A^T mm A + bias;
//   weights         f[tap * f_stride + l], tap = r * 3 + t: the 3 x 3 filter l  ->  u[e * u_stride + l * u_step]
//                   = G f G^T (here the lanes are L filters, of consecutive input channels).
template <typename T>
using WinogradInputGathered = void (*)(const T* d, T* v, int64_t v_stride);
template <typename T>
using WinogradInputRow = void (*)(const T* x, int64_t W, T* v, int64_t v_stride);
template <typename T>
using WinogradOutput = void (*)(const T* mm, int64_t m_stride, T bias, T* y);

template <typename T>
using WinogradWeights = void (*)(const T* f, int64_t f_stride, T* u, int64_t u_stride, int64_t u_step);

template <typename T>
struct WinogradTransforms {
  WinogradInputGathered<T> input_gathered;
  WinogradInputRow<T> input_row;
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
