// conv2d_direct_avx2.cpp: the direct-convolution kernel of conv2d_direct_simd.hpp with 32-byte vectors,
// compiled with -mavx2 -mfma (CMakeLists.txt; see isa_dispatch.hpp).
#include "conv2d_direct_kernels.hpp"

#if defined(__AVX2__) && defined(__FMA__)
#define CK_VEC_BYTES 32
#include "conv2d_direct_simd.hpp"

const ck::DirectKernels* ck::conv2d_direct_kernels_avx2() { return &kDirectTable; }
#else
const ck::DirectKernels* ck::conv2d_direct_kernels_avx2() { return nullptr; }
#endif
