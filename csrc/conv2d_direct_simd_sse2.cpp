// conv2d_direct_simd_sse2.cpp: the direct-convolution micro-kernel of conv2d_direct_simd.hpp for sse2
// (16-byte vectors).
#define CK_DIRECT_NS direct_sse2
#define CK_VEC_BYTES 16
#include "conv2d_direct_simd.hpp"
