// conv2d_direct_simd_avx2.cpp: the direct-convolution micro-kernel of conv2d_direct_simd.hpp for avx2
// (32-byte vectors).
// Compiled with avx2 flags (CMakeLists.txt); runs only when cpu_features.cpp finds them.
#define CK_DIRECT_NS direct_avx2
#define CK_VEC_BYTES 32
#include "conv2d_direct_simd.hpp"
