// conv2d_winograd_scalar.cpp: the Winograd tile transforms of conv2d_winograd_simd.hpp with 16-byte vectors,
// compiled with the package's generic flags (SSE2 on x86-64) (CMakeLists.txt; see isa_dispatch.hpp).
#include "conv2d_winograd_kernels.hpp"

#define CK_VEC_BYTES 16
#include "conv2d_winograd_simd.hpp"

const ck::WinogradKernels* ck::conv2d_winograd_kernels_scalar() { return &kWinogradTable; }
