// pool2d_avx2.cpp: the small-window pooling kernels of pool2d_simd.hpp with 32-byte vectors, compiled with
// the AVX2 flags and -ffp-contract=off (CMakeLists.txt; see isa_dispatch.hpp).
#include "pool2d_kernels.hpp"

#if defined(__AVX2__)
#define CK_VEC_BYTES 32
#include "pool2d_simd.hpp"

const ck::pool::PoolKernels* ck::pool::pool_kernels_avx2() { return &kPoolTable; }
#else
const ck::pool::PoolKernels* ck::pool::pool_kernels_avx2() { return nullptr; }
#endif
