// conv2d_fft_cgemm_avx512.cpp: the pointwise complex GEMM of FFT convolution with 64-byte vectors (AVX-512),
// compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma: one vector is a whole 64-byte line of a
// bin block (8 float or 4 double bins, re | im), a 4 x 3 micro-tile in 24 of the 32 zmm registers (see
// conv2d_fft_cgemm_kernel.hpp). Runs only when ck::active_isa() is avx512.
#include <cstdint>

#include "conv2d_fft_cgemm.hpp"

namespace ck {
namespace fft_conv_detail {

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__FMA__)
}  // namespace fft_conv_detail
}  // namespace ck
#include <immintrin.h>
namespace ck {
namespace fft_conv_detail {
namespace {
#define CK_CGEMM_VBYTES 64
#include "conv2d_fft_cgemm_kernel.hpp"
#undef CK_CGEMM_VBYTES
}  // namespace

const SpectraGemmKernels* spectra_gemm_kernels_avx512() { return &kSpectraGemmTable; }
#else
const SpectraGemmKernels* spectra_gemm_kernels_avx512() { return nullptr; }
#endif

}  // namespace fft_conv_detail
}  // namespace ck
