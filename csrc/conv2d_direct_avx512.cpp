// conv2d_direct_avx512.cpp: the direct-convolution kernel of conv2d_direct_simd.hpp with 64-byte vectors,
// compiled with the AVX-512 flags (CMakeLists.txt; see isa_dispatch.hpp).
#include "conv2d_direct_kernels.hpp"

#if defined(__AVX512F__)
#define CK_VEC_BYTES 64
#include "conv2d_direct_simd.hpp"

const ck::DirectKernels* ck::conv2d_direct_kernels_avx512() { return &kDirectTable; }
#else
const ck::DirectKernels* ck::conv2d_direct_kernels_avx512() { return nullptr; }
#endif
