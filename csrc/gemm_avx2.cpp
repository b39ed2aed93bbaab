// gemm_avx2.cpp: AVX2 + FMA3 GEMM micro-kernels: a 6 x 16 tile of C for float, 6 x 8 for double.
//
// Compiled with -mavx2 -mfma (and nothing else in the package is). The tile lives in 12 ymm accumulators
// (6 rows x 2 vectors); per step p of the depth the kernel loads one 2-vector row of the packed B strip,
// broadcasts the 6 values of the packed A column, and issues 12 FMAs: 15 of the 16 ymm registers in use.
// Tiles with fewer than 6 rows run a kernel compiled for exactly that many rows (no wasted FMAs); tiles
// of at most 8 (float) / 4 (double) columns a half-width kernel; other right-edge tiles are computed whole
// (B is zero-padded) and only their n columns stored. B is read with a row stride (ldb): NR for a packed
// strip, or B's own leading dimension when the driver reads B in place.
//
// Everything but the two accessor functions at the end sits in an anonymous namespace, so no AVX-compiled
// inline function or template instance can be merged by the linker into generic code.
#include "gemm_kernels.hpp"

#if defined(__AVX2__) && defined(__FMA__)

#include <immintrin.h>

namespace ck {
namespace gemm_detail {
namespace {

constexpr int kMR = 6;  // rows of the micro-tile, both types

// One ymm register's worth of T.
template <typename T>
struct Ymm;

template <>
struct Ymm<float> {
  using V = __m256;
  static constexpr int kLanes = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_load_ps(p); }
  static V loadu(const float* p) { return _mm256_loadu_ps(p); }
  static V broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static void store(float* p, V v) { _mm256_store_ps(p, v); }
  static void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
};

template <>
struct Ymm<double> {
  using V = __m256d;
  static constexpr int kLanes = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const double* p) { return _mm256_load_pd(p); }
  static V loadu(const double* p) { return _mm256_loadu_pd(p); }
  static V broadcast(const double* p) { return _mm256_broadcast_sd(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static void store(double* p, V v) { _mm256_store_pd(p, v); }
  static void storeu(double* p, V v) { _mm256_storeu_pd(p, v); }
};

// Stores one row of the tile, VECS vectors wide (lo: columns [0, W), hi: [W, 2W)), of which the first n
// columns are C's, adding C's old values if accumulate.
template <typename T, int VECS>
void store_row(T* ci, typename Ymm<T>::V lo, typename Ymm<T>::V hi, int64_t n, bool accumulate) {
  using Y = Ymm<T>;
  constexpr int W = Y::kLanes;
  if (n == VECS * W) {
    if (accumulate) {
      lo = Y::add(lo, Y::loadu(ci));
      if constexpr (VECS == 2) hi = Y::add(hi, Y::loadu(ci + W));
    }
    Y::storeu(ci, lo);
    if constexpr (VECS == 2) Y::storeu(ci + W, hi);
  } else {  // right edge of C: through a buffer
    alignas(32) T row[2 * W];
    Y::store(row, lo);
    if constexpr (VECS == 2) Y::store(row + W, hi);
    for (int64_t j = 0; j < n; ++j) ci[j] = accumulate ? ci[j] + row[j] : row[j];
  }
}

// X(i) for each row i of the micro-tile. The accumulators are named variables, not an array: GCC keeps an
// array of 12 vectors in memory, storing it on every step.
#define CK_FOR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)

// C[ROWS x n] (+)= A panel (kc x kMR, first ROWS rows used) · B strip (kc x NR, first VECS ymm used).
// VECS = 1 serves right-edge tiles of at most W columns at half the cost.
template <typename T, int ROWS, int VECS>
void tile(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t n, bool accumulate) {
  using Y = Ymm<T>;
  using V = typename Y::V;
  constexpr int W = Y::kLanes;

  // The C tile is needed only at the end: start fetching it now.
#define CK_PREFETCH(i)                                                          \
  if constexpr (ROWS > i) {                                                     \
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);      \
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + VECS * W - 1), _MM_HINT_T0); \
  }
  CK_FOR_ROWS(CK_PREFETCH)
#undef CK_PREFETCH

  // c<i>_0: columns [0, W) of row i, c<i>_1: columns [W, 2W) (VECS = 2), or the odd depth steps (VECS = 1).
#define CK_DECLARE(i) V c##i##_0 = Y::zero(), c##i##_1 = Y::zero();
  CK_FOR_ROWS(CK_DECLARE)
#undef CK_DECLARE

  if constexpr (VECS == 2) {
    for (int64_t p = 0; p < kc; ++p) {
      _mm_prefetch(reinterpret_cast<const char*>(a + 8 * kMR), _MM_HINT_T0);  // A panel, 8 steps ahead (L2)
      const V b0 = Y::loadu(b), b1 = Y::loadu(b + W);
#define CK_STEP(i)                                                              \
  if constexpr (ROWS > i) {                                                     \
    const V ai = Y::broadcast(a + i);                                           \
    c##i##_0 = Y::fma(ai, b0, c##i##_0);                                        \
    c##i##_1 = Y::fma(ai, b1, c##i##_1);                                        \
  }
      CK_FOR_ROWS(CK_STEP)
#undef CK_STEP
      a += kMR;
      b += ldb;
    }
  } else {
    // One vector per row leaves too few independent FMA chains to cover the FMA latency: even steps of
    // the depth go to c<i>_0, odd ones to c<i>_1, summed at the end.
    int64_t p = 0;
    for (; p + 2 <= kc; p += 2) {
      _mm_prefetch(reinterpret_cast<const char*>(a + 8 * kMR), _MM_HINT_T0);
      const V b0 = Y::loadu(b), b1 = Y::loadu(b + ldb);
#define CK_STEP(i)                                                              \
  if constexpr (ROWS > i) {                                                     \
    c##i##_0 = Y::fma(Y::broadcast(a + i), b0, c##i##_0);                       \
    c##i##_1 = Y::fma(Y::broadcast(a + kMR + i), b1, c##i##_1);                 \
  }
      CK_FOR_ROWS(CK_STEP)
#undef CK_STEP
      a += 2 * kMR;
      b += 2 * ldb;
    }
    if (p < kc) {
      const V b0 = Y::loadu(b);
#define CK_STEP(i)                                                              \
  if constexpr (ROWS > i) c##i##_0 = Y::fma(Y::broadcast(a + i), b0, c##i##_0);
      CK_FOR_ROWS(CK_STEP)
#undef CK_STEP
    }
#define CK_SUM(i)                                                               \
  if constexpr (ROWS > i) c##i##_0 = Y::add(c##i##_0, c##i##_1);
    CK_FOR_ROWS(CK_SUM)
#undef CK_SUM
  }

#define CK_STORE(i)                                                             \
  if constexpr (ROWS > i) store_row<T, VECS>(c + i * ldc, c##i##_0, c##i##_1, n, accumulate);
  CK_FOR_ROWS(CK_STORE)
#undef CK_STORE
}

#undef CK_FOR_ROWS

template <typename T, int VECS>
void tile_rows(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t m, int64_t n,
               bool accumulate) {
  switch (m) {
    case 6: return tile<T, 6, VECS>(kc, a, b, ldb, c, ldc, n, accumulate);
    case 5: return tile<T, 5, VECS>(kc, a, b, ldb, c, ldc, n, accumulate);
    case 4: return tile<T, 4, VECS>(kc, a, b, ldb, c, ldc, n, accumulate);
    case 3: return tile<T, 3, VECS>(kc, a, b, ldb, c, ldc, n, accumulate);
    case 2: return tile<T, 2, VECS>(kc, a, b, ldb, c, ldc, n, accumulate);
    default: return tile<T, 1, VECS>(kc, a, b, ldb, c, ldc, n, accumulate);
  }
}

template <typename T>
void micro_kernel(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t m, int64_t n,
                  bool accumulate) {
  if (n > Ymm<T>::kLanes) {
    tile_rows<T, 2>(kc, a, b, ldb, c, ldc, m, n, accumulate);
  } else {
    tile_rows<T, 1>(kc, a, b, ldb, c, ldc, m, n, accumulate);
  }
}

// Blocking: a B strip KC x NR (24 KiB float, 16 KiB double) stays in L1, an A block MC x KC (216 KiB,
// 144 KiB) in L2, a B block KC x NC (1.5 MiB, 8 MiB) in L3. On Zen 3 (32 KiB L1d, 512 KiB L2, 32 MiB L3
// shared with other tenants here), float: MC 96..240 measured within the machine's noise (a few %) of each
// other; KC 384 came out about 1% ahead of 256 and 3% ahead of 512 (ratio to OpenBLAS, median over 4 shapes,
// 2 runs), and 256..640 alike on the im2col layers. NC 1024 against 4080, A/B in one process over the
// im2col layers: VGG conv3_2 +8% and +19%, conv1_2 +10% and +4%, AlexNet conv2 +10% and -4%, plain GEMMs
// within +-3% (a smaller B block survives other tenants' use of the shared L3 better).
const KernelSet<float> kF32 = {kMR, 16, /*mc*/ 144, /*kc*/ 384, /*nc*/ 1024, &micro_kernel<float>};
const KernelSet<double> kF64 = {kMR, 8, /*mc*/ 72, /*kc*/ 256, /*nc*/ 4080, &micro_kernel<double>};

}  // namespace

const KernelSet<float>* avx2_kernels_f32() { return &kF32; }
const KernelSet<double>* avx2_kernels_f64() { return &kF64; }

}  // namespace gemm_detail
}  // namespace ck

#else  // built without -mavx2 -mfma: the path is unavailable

namespace ck {
namespace gemm_detail {
const KernelSet<float>* avx2_kernels_f32() { return nullptr; }
const KernelSet<double>* avx2_kernels_f64() { return nullptr; }
}  // namespace gemm_detail
}  // namespace ck

#endif
