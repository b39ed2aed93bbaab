// fft_avx2.cpp - the FFT core's kernels (fft_kernels.hpp) compiled with -mavx2 -mfma
// (CMakeLists.txt; see isa_dispatch.hpp).
#include "fft_plan.hpp"

#if defined(__AVX2__) && defined(__FMA__)

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <immintrin.h>

namespace ck {
namespace fft {
namespace detail {
namespace {
#include "fft_kernels.hpp"
}  // namespace

const FftKernels* fft_kernels_avx2() {
  static const FftKernels table = {&rfft2_batch<float>, &rfft2_batch<double>, &irfft2_batch<float>,
                                   &irfft2_batch<double>};
  return &table;
}

}  // namespace detail
}  // namespace fft
}  // namespace ck

#else

const ck::fft::detail::FftKernels* ck::fft::detail::fft_kernels_avx2() { return nullptr; }

#endif
