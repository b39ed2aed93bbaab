// fft_avx2.cpp - the FFT core's kernels (fft_kernels.hpp) compiled with -mavx2 -mfma
// (CMakeLists.txt; see isa_dispatch.hpp).
#include "fft_plan.hpp"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

namespace ck::fft::detail {
namespace {
#define CK_FFT_VBYTES 32
#include "fft_kernels.hpp"
#undef CK_FFT_VBYTES
}  // namespace

const FftKernels* fft_kernels_avx2() { return &kFftTable; }

}  // namespace ck::fft::detail

#else
const ck::fft::detail::FftKernels* ck::fft::detail::fft_kernels_avx2() { return nullptr; }
#endif
