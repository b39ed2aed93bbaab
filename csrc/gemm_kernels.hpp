// gemm_kernels.hpp: private interface between the GEMM driver (gemm.cpp) and the per-ISA micro-kernel files
// (gemm_scalar.cpp, gemm_avx2.cpp, gemm_avx512.cpp; the AVX pair from one template, gemm_tile.hpp), as
// isa_dispatch.hpp describes.
//
// This header is included by files compiled with AVX flags, so it must stay free of inline functions and
// templates with code: anything inline here would be emitted by every includer, and the linker could keep
// the AVX-compiled copy for the generic paths. Only declarations and plain data.
#pragma once

#include <cstdint>

namespace ck {
namespace gemm_detail {

// The micro-kernel: one MR x NR tile of C from a packed A micro-panel and a packed B micro-panel.
//   a: kc x MR, a[p * MR + i] = A(i, p)     (rows past m are zero)
//   b: kc x NR, b[p * ldb + j] = B(p, j)    (a packed strip: ldb = NR, 64-byte aligned, columns past n
//                                           zero; or B itself, read in place: ldb its leading dimension)
//   c: the tile's top-left element of row-major C with leading dimension ldc; only its m x n part
//      (1 <= m <= MR, 1 <= n <= NR) is read or written.
//   accumulate: C(i, j) += sum_p A(i, p) B(p, j) when true, C(i, j) = sum when false.
template <typename T>
using MicroKernel = void (*)(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t m,
                             int64_t n, bool accumulate);

// One ISA's kernel for element type T and the cache blocking tuned for it.
template <typename T>
struct KernelSet {
  int64_t mr, nr;      // micro-tile
  int64_t mc, kc, nc;  // cache blocks (mc a multiple of mr, nc of nr)
  MicroKernel<T> kernel;
};

// One ISA's table: its kernels for both element types.
struct GemmKernels {
  KernelSet<float> f32;
  KernelSet<double> f64;
};

// Each returns nullptr when its file was compiled without its ISA's flags (the path is then unavailable).
const GemmKernels* gemm_kernels_scalar();
const GemmKernels* gemm_kernels_avx2();
const GemmKernels* gemm_kernels_avx512();

}  // namespace gemm_detail
}  // namespace ck
