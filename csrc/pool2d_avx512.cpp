// pool2d_avx512.cpp: the small-window pooling kernels of pool2d_simd.hpp with 64-byte vectors, compiled with
// the AVX-512 flags and -ffp-contract=off (CMakeLists.txt; see isa_dispatch.hpp).
#include "pool2d_kernels.hpp"

#if defined(__AVX512F__)
#define CK_VEC_BYTES 64
#include "pool2d_simd.hpp"

const ck::pool::PoolKernels* ck::pool::pool_kernels_avx512() { return &kPoolTable; }
#else
const ck::pool::PoolKernels* ck::pool::pool_kernels_avx512() { return nullptr; }
#endif
