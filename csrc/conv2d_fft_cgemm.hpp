// conv2d_fft_cgemm.hpp: private interface between FFT convolution (conv2d_fft.cpp) and its per-ISA
// pointwise kernels (conv2d_fft_cgemm_kernel.hpp, compiled by conv2d_fft_cgemm_scalar.cpp,
// conv2d_fft_cgemm_avx2.cpp and conv2d_fft_cgemm_avx512.cpp; see isa_dispatch.hpp).
//
// In the Fourier domain a convolution layer is, independently at every frequency bin f, a complex matrix
// product over the input channels:
//
//   Y(t, k)[f] = sum_c X(t, c)[f] · conj(W(k, c)[f])      t tiles, k output channels, c input channels
//
// (conj because the layer is a cross-correlation and W holds the plain spectra of the kernels). The spectra
// are stored in blocks of kBlockBins consecutive bins (one 32-byte vector per plane), and all spectra of one
// block sit together, channel after channel:
//
//   block b of spectrum X(t, c) = x + b * x_block + t * x_tile + c * 2 * kBlockBins:
//                                 kBlockBins real parts, then kBlockBins imaginary parts (64 bytes)
//
// so the sum over c walks consecutive 64-byte lines (the planar layout of the FFT, one spectrum after the
// other, put each channel on its own pages: a TLB miss per load). Each "scalar" of the small K x C by C x T
// product is a vector of bins; the kernels block it for the registers (2 output channels x 2 tiles of
// accumulators, 4 x 3 with AVX-512) and over input channels for L1.
//
// Like gemm_kernels.hpp this header is included by files compiled with AVX flags: declarations and plain
// data only.
#pragma once

#include <cstdint>

namespace ck {
namespace fft_conv_detail {

// Bins per block: one 32-byte vector of each plane.
template <typename T>
constexpr int64_t kBlockBins = 32 / int64_t(sizeof(T));

template <typename T>
struct SpectraGemm {
  int64_t tiles, kout, cin;           // T, K (this block of output channels), C
  const T* x;                         // X(t, c): input tile spectra
  int64_t x_block, x_tile;
  const T* w;                         // W(k, c): kernel spectra
  int64_t w_block, w_out;
  T* y;                               // Y(t, k): output tile spectra (overwritten)
  int64_t y_block, y_tile;
};

// Computes Y(t, k) for t in [t0, t1), every k, in bin blocks [b0, b1). The result for one (t, k, bin) does
// not depend on the ranges.
template <typename T>
using SpectraGemmFn = void (*)(const SpectraGemm<T>& g, int64_t b0, int64_t b1, int64_t t0, int64_t t1);

struct SpectraGemmKernels {
  SpectraGemmFn<float> f32;
  SpectraGemmFn<double> f64;
};

// nullptr when the file was compiled without its ISA's flags.
const SpectraGemmKernels* spectra_gemm_kernels_scalar();
const SpectraGemmKernels* spectra_gemm_kernels_avx2();
const SpectraGemmKernels* spectra_gemm_kernels_avx512();

}  // namespace fft_conv_detail
}  // namespace ck
