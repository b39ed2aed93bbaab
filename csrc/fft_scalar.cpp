// fft_scalar.cpp - the FFT core's kernels (fft_kernels.hpp) compiled with the package's generic flags (SSE2 on x86-64)
// (CMakeLists.txt; see isa_dispatch.hpp).
#include "fft_plan.hpp"

namespace ck::fft::detail {
namespace {
#define CK_FFT_VBYTES 32
#include "fft_kernels.hpp"
#undef CK_FFT_VBYTES
}  // namespace

const FftKernels* fft_kernels_scalar() { return &kFftTable; }

}  // namespace ck::fft::detail
