// conv2d_winograd_avx2.cpp: the Winograd tile transforms of conv2d_winograd_simd.hpp with 32-byte vectors,
// compiled with -mavx2 -mfma (CMakeLists.txt; see isa_dispatch.hpp).
#include "conv2d_winograd_kernels.hpp"

#if defined(__AVX2__) && defined(__FMA__)
#define CK_VEC_BYTES 32
#include "conv2d_winograd_simd.hpp"

const ck::WinogradKernels* ck::conv2d_winograd_kernels_avx2() { return &kWinogradTable; }
#else
const ck::WinogradKernels* ck::conv2d_winograd_kernels_avx2() { return nullptr; }
#endif
