// conv2d_direct_scalar.cpp: the direct-convolution kernel of conv2d_direct_simd.hpp with 16-byte vectors,
// compiled with the package's generic flags (SSE2 on x86-64) (CMakeLists.txt; see isa_dispatch.hpp).
#include "conv2d_direct_kernels.hpp"

#define CK_VEC_BYTES 16
#include "conv2d_direct_simd.hpp"

const ck::DirectKernels* ck::conv2d_direct_kernels_scalar() { return &kDirectTable; }
