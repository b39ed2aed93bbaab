// fft_avx512.cpp - the FFT core's kernels (fft_kernels.hpp) compiled with the AVX-512 flags
// (CMakeLists.txt; see isa_dispatch.hpp), with 64-byte lanes: 16 float or 8 double tiles (or
// rows, or columns) per vector.
#include "fft_plan.hpp"

#if defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

namespace ck::fft::detail {
namespace {
#define CK_FFT_VBYTES 64
#include "fft_kernels.hpp"
#undef CK_FFT_VBYTES
}  // namespace

const FftKernels* fft_kernels_avx512() { return &kFftTable; }

}  // namespace ck::fft::detail

#else
const ck::fft::detail::FftKernels* ck::fft::detail::fft_kernels_avx512() { return nullptr; }
#endif
