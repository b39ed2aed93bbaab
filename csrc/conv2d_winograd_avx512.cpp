// conv2d_winograd_avx512.cpp: the Winograd tile transforms of conv2d_winograd_simd.hpp with 64-byte vectors,
// compiled with the AVX-512 flags (CMakeLists.txt; see isa_dispatch.hpp).
#include "conv2d_winograd_kernels.hpp"

#if defined(__AVX512F__)
#define CK_VEC_BYTES 64
#include "conv2d_winograd_simd.hpp"

const ck::WinogradKernels* ck::conv2d_winograd_kernels_avx512() { return &kWinogradTable; }
#else
const ck::WinogradKernels* ck::conv2d_winograd_kernels_avx512() { return nullptr; }
#endif
