// conv2d_direct_simd_avx512.cpp: the direct-convolution micro-kernel of conv2d_direct_simd.hpp for avx512
// (64-byte vectors).
// Compiled with avx512 flags (CMakeLists.txt); runs only when cpu_features.cpp finds them.
#define CK_DIRECT_NS direct_avx512
#define CK_VEC_BYTES 64
#include "conv2d_direct_simd.hpp"
