// fft_scalar.cpp - the FFT core's kernels (fft_kernels.hpp) compiled with the package's generic flags (SSE2 on x86-64)
// (CMakeLists.txt; see isa_dispatch.hpp).
#include "fft_plan.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ck {
namespace fft {
namespace detail {
namespace {
#include "fft_kernels.hpp"
}  // namespace

const FftKernels* fft_kernels_scalar() {
  static const FftKernels table = {&rfft2_batch<float>, &rfft2_batch<double>, &irfft2_batch<float>,
                                   &irfft2_batch<double>};
  return &table;
}

}  // namespace detail
}  // namespace fft
}  // namespace ck
