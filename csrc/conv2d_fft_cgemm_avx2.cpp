// conv2d_fft_cgemm_avx2.cpp: the pointwise complex GEMM of FFT convolution with 32-byte vectors (AVX2 + FMA),
// compiled with -mavx2 -mfma: 8 float or 4 double bins per vector, a 2 x 2 micro-tile in 16 ymm registers
// (see conv2d_fft_cgemm_kernel.hpp). Runs only when ck::active_isa() is avx2 or wider.
#include <cstdint>

#include "conv2d_fft_cgemm.hpp"

namespace ck {
namespace fft_conv_detail {

#if defined(__AVX2__) && defined(__FMA__)
namespace {
#define CK_CGEMM_VBYTES 32
#include "conv2d_fft_cgemm_kernel.hpp"
#undef CK_CGEMM_VBYTES
}  // namespace

const SpectraGemmKernels* spectra_gemm_kernels_avx2() { return &kSpectraGemmTable; }
#else
const SpectraGemmKernels* spectra_gemm_kernels_avx2() { return nullptr; }
#endif

}  // namespace fft_conv_detail
}  // namespace ck
