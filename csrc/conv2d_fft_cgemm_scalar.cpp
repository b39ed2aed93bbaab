// conv2d_fft_cgemm_scalar.cpp: the pointwise complex GEMM of FFT convolution with 16-byte vectors, compiled
// with the package's generic flags (SSE2 on x86-64: 4 float or 2 double bins per vector, the 2 x 2
// micro-tile in 8 of the 16 xmm registers; see conv2d_fft_cgemm_kernel.hpp). The portable path.
#include <cstdint>

#include "conv2d_fft_cgemm.hpp"

namespace ck {
namespace fft_conv_detail {
namespace {
#define CK_CGEMM_VBYTES 16
#include "conv2d_fft_cgemm_kernel.hpp"
#undef CK_CGEMM_VBYTES
}  // namespace

const SpectraGemmKernels* spectra_gemm_kernels_scalar() { return &kSpectraGemmTable; }

}  // namespace fft_conv_detail
}  // namespace ck
