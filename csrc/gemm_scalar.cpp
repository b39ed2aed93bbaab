// gemm_scalar.cpp: portable GEMM micro-kernels in plain C++: a 4 x 8 tile of C for float, 4 x 4 for double.
//
// Compiled with the package's generic flags. The loops have compile-time bounds, so the compiler unrolls
// them and keeps the tile in registers; on x86-64 GCC vectorises the NR-wide rows with SSE2 (2 xmm per
// row, 8 accumulators). Measured on Zen 3 (GCC 12, -O3), in GFLOP/s of the kernel alone, float / double:
// 4 x 8: 18.6 / 10.4, 6 x 8: 13.7 / 7.8, 6 x 4 double: 5.4-9.1, 8 x 8: 3.8 (spills). Tiles with fewer than 4
// rows run a kernel compiled for exactly that many rows; tiles with fewer than NR columns are computed
// whole (B is zero-padded) and only their n columns stored.
#include "gemm_kernels.hpp"

namespace ck {
namespace gemm_detail {
namespace {

constexpr int kMR = 4;

// C[ROWS x n] (+)= A panel (kc x kMR, first ROWS rows used) · B strip (kc x NR).
template <typename T, int NR, int ROWS>
void tile(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t n, bool accumulate) {
  T acc[ROWS][NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < ROWS; ++i) {
      const T ai = a[i];
      for (int j = 0; j < NR; ++j) acc[i][j] += ai * b[j];
    }
    a += kMR;
    b += ldb;
  }
  for (int i = 0; i < ROWS; ++i) {
    T* ci = c + i * ldc;
    if (n == NR) {
      if (accumulate) {
        for (int j = 0; j < NR; ++j) ci[j] += acc[i][j];
      } else {
        for (int j = 0; j < NR; ++j) ci[j] = acc[i][j];
      }
    } else {
      for (int64_t j = 0; j < n; ++j) ci[j] = accumulate ? ci[j] + acc[i][j] : acc[i][j];
    }
  }
}

template <typename T, int NR>
void micro_kernel(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t m, int64_t n,
                  bool accumulate) {
  switch (m) {
    case 4: return tile<T, NR, 4>(kc, a, b, ldb, c, ldc, n, accumulate);
    case 3: return tile<T, NR, 3>(kc, a, b, ldb, c, ldc, n, accumulate);
    case 2: return tile<T, NR, 2>(kc, a, b, ldb, c, ldc, n, accumulate);
    default: return tile<T, NR, 1>(kc, a, b, ldb, c, ldc, n, accumulate);
  }
}

// Blocking as for AVX2: B strip KC x NR (8 KiB) in L1, A block MC x KC in L2, B block KC x NC in L3.
const GemmKernels kTable = {{kMR, 8, /*mc*/ 128, /*kc*/ 256, /*nc*/ 4096, &micro_kernel<float, 8>},
                            {kMR, 4, /*mc*/ 128, /*kc*/ 256, /*nc*/ 4096, &micro_kernel<double, 4>}};

}  // namespace

const GemmKernels* gemm_kernels_scalar() { return &kTable; }

}  // namespace gemm_detail
}  // namespace ck
