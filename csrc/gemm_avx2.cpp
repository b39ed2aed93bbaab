// gemm_avx2.cpp: the AVX2 + FMA3 GEMM micro-kernels (gemm_tile.hpp with ymm registers): a 6 x 16 tile of C
// for float, 6 x 8 for double, in 12 ymm accumulators (15 of the 16 registers in use). Partial right-edge
// rows are stored through a buffer.
//
// Compiled with -mavx2 -mfma (CMakeLists.txt); runs only when the active ISA is avx2 or wider
// (isa_dispatch.hpp). Everything but the accessor at the end sits in an anonymous namespace, so no
// AVX-compiled inline function or template instance can be merged by the linker into generic code.
#include "gemm_kernels.hpp"

#if defined(__AVX2__) && defined(__FMA__)

#include <immintrin.h>

#include <array>
#include <cstdint>
#include <utility>

namespace ck {
namespace gemm_detail {
namespace {

constexpr int kMR = 6;  // rows of the micro-tile, both types

// One ymm register's worth of T.
template <typename T>
struct Vec;

template <>
struct Vec<float> {
  using V = __m256;
  static constexpr int kLanes = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V loadu(const float* p) { return _mm256_loadu_ps(p); }
  static V broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static void store(float* p, V v) { _mm256_store_ps(p, v); }
  static void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
};

template <>
struct Vec<double> {
  using V = __m256d;
  static constexpr int kLanes = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V loadu(const double* p) { return _mm256_loadu_pd(p); }
  static V broadcast(const double* p) { return _mm256_broadcast_sd(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static void store(double* p, V v) { _mm256_store_pd(p, v); }
  static void storeu(double* p, V v) { _mm256_storeu_pd(p, v); }
};

template <typename T, int VECS>
void store_row(T* ci, typename Vec<T>::V lo, typename Vec<T>::V hi, int64_t n, bool accumulate) {
  using Y = Vec<T>;
  constexpr int W = Y::kLanes;
  if (n == VECS * W) {
    if (accumulate) {
      lo = Y::add(lo, Y::loadu(ci));
      if constexpr (VECS == 2) hi = Y::add(hi, Y::loadu(ci + W));
    }
    Y::storeu(ci, lo);
    if constexpr (VECS == 2) Y::storeu(ci + W, hi);
  } else {  // right edge of C: through a buffer
    alignas(32) T row[2 * W] = {};
    Y::store(row, lo);
    if constexpr (VECS == 2) Y::store(row + W, hi);
    for (int64_t j = 0; j < n; ++j) ci[j] = accumulate ? ci[j] + row[j] : row[j];
  }
}

#include "gemm_tile.hpp"

// Blocking: a B strip KC x NR (24 KiB float, 16 KiB double) stays in L1, an A block MC x KC (216 KiB,
// 144 KiB) in L2, a B block KC x NC (1.5 MiB, 8 MiB) in L3. On Zen 3 (32 KiB L1d, 512 KiB L2, 32 MiB L3
// shared with other tenants here), float: MC 96..240 measured within the machine's noise (a few %) of each
// other; KC 384 came out about 1% ahead of 256 and 3% ahead of 512 (ratio to OpenBLAS, median over 4 shapes,
// 2 runs), and 256..640 alike on the im2col layers. NC 1024 against 4080, A/B in one process over the
// im2col layers: VGG conv3_2 +8% and +19%, conv1_2 +10% and +4%, AlexNet conv2 +10% and -4%, plain GEMMs
// within +-3% (a smaller B block survives other tenants' use of the shared L3 better).
const GemmKernels kTable = {{kMR, 16, /*mc*/ 144, /*kc*/ 384, /*nc*/ 1024, &micro_kernel<float>},
                            {kMR, 8, /*mc*/ 72, /*kc*/ 256, /*nc*/ 4080, &micro_kernel<double>}};

}  // namespace

const GemmKernels* gemm_kernels_avx2() { return &kTable; }

}  // namespace gemm_detail
}  // namespace ck

#else  // built without -mavx2 -mfma: the path is unavailable

namespace ck {
namespace gemm_detail {
const GemmKernels* gemm_kernels_avx2() { return nullptr; }
}  // namespace gemm_detail
}  // namespace ck

#endif
