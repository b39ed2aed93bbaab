// conv2d_fft_cgemm.hpp: private interface between FFT convolution (conv2d_fft.cpp) and its per-ISA
// pointwise kernels (conv2d_fft_cgemm_scalar.cpp, conv2d_fft_cgemm_avx2.cpp).
//
// In the Fourier domain a convolution layer is, independently at every frequency bin f, a complex matrix
// product over the input channels:
//
//   Y(t, k)[f] = sum_c X(t, c)[f] · conj(W(k, c)[f])      t tiles, k output channels, c input channels
//
// (conj because the layer is a cross-correlation and W holds the plain spectra of the kernels). Spectra are
// planar (fft.hpp): one spectrum is `bins` real parts followed, `im` elements later, by the imaginary parts,
// so a run of consecutive bins is a SIMD vector and the product vectorises across frequencies: each
// "scalar" of the small K x C by C x T matrix product is a vector of bins. The kernels block it for the
// registers (2 output channels x 2 tiles of accumulators) and over input channels for L1.
//
// Like gemm_kernels.hpp this header is included by files compiled with AVX flags: declarations and plain
// data only.
#pragma once

#include <cstdint>

namespace ck {
namespace fft_conv_detail {

// Where the spectra live: X(t, c) at x + t * x_tile + c * x_chan, and so on. All pointers and strides
// (and `im`) are multiples of 64 bytes, so every vector of bins is aligned.
template <typename T>
struct SpectraGemm {
  int64_t tiles, kout, cin;           // T, K (this block), C
  const T* x;                         // X(t, c): input tile spectra
  int64_t x_tile, x_chan;
  const T* w;                         // W(k, c): kernel spectra
  int64_t w_out, w_chan;
  T* y;                               // Y(t, k): output tile spectra (overwritten)
  int64_t y_tile, y_out;
  int64_t im;                         // offset of the imaginary plane from the real one
};

// Computes Y(t, k)[f] for t in [t0, t1), every k, and bins f in [f0, f1) (multiples of 16 for float and 8
// for double: one 64-byte line of each plane). The result for one (t, k, f) does not depend on the ranges.
template <typename T>
using SpectraGemmFn = void (*)(const SpectraGemm<T>& g, int64_t f0, int64_t f1, int64_t t0, int64_t t1);

// nullptr when the file was compiled without its ISA's flags.
SpectraGemmFn<float> spectra_gemm_scalar_f32();
SpectraGemmFn<double> spectra_gemm_scalar_f64();
SpectraGemmFn<float> spectra_gemm_avx2_f32();
SpectraGemmFn<double> spectra_gemm_avx2_f64();

}  // namespace fft_conv_detail
}  // namespace ck
