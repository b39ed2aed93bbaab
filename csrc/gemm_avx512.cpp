// gemm_avx512.cpp: AVX-512 GEMM micro-kernels: a 14 x 32 tile of C for float, 14 x 16 for double.
//
// Compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma (and nothing else in the package is).
// The tile lives in 28 zmm accumulators (14 rows x 2 vectors); per step p of the depth the kernel loads one
// 2-vector row of the packed B strip, broadcasts the 14 values of the packed A column and issues 28 FMAs:
// 31 of the 32 zmm registers in use, 16 loads per 28 FMAs. Tiles with fewer than 14 rows run a kernel
// compiled for exactly that many rows; tiles of at most 16 (float) / 8 (double) columns a half-width
// kernel; other right-edge tiles are computed whole (B is zero-padded), C read and written through lane
// masks. B is read with a row stride (ldb): NR for a packed strip, or B's own leading dimension.
//
// Everything but the two accessor functions at the end sits in an anonymous namespace, so no AVX-compiled
// inline function or template instance can be merged by the linker into generic code.
//
// CK_GEMM_AVX512_EMULATION_HEADER (test builds only, never the package): a header that stands in for
// <immintrin.h> with portable versions of the intrinsics used here (e.g. SIMDe's), so that the kernel's
// logic can be checked on a machine without AVX-512.
#include "gemm_kernels.hpp"

#if defined(CK_GEMM_AVX512_EMULATION_HEADER)
#include CK_GEMM_AVX512_EMULATION_HEADER
#define CK_GEMM_HAVE_AVX512 1
#elif defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__FMA__)
#include <immintrin.h>
#define CK_GEMM_HAVE_AVX512 1
#endif

#ifdef CK_GEMM_HAVE_AVX512

namespace ck {
namespace gemm_detail {
namespace {

constexpr int kMR = 14;  // rows of the micro-tile, both types

// One zmm register's worth of T, and the lane mask type that goes with it.
template <typename T>
struct Zmm;

template <>
struct Zmm<float> {
  using V = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_load_ps(p); }
  static V loadu(const float* p) { return _mm512_loadu_ps(p); }
  static V maskz_loadu(Mask k, const float* p) { return _mm512_maskz_loadu_ps(k, p); }
  static V broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void mask_storeu(float* p, Mask k, V v) { _mm512_mask_storeu_ps(p, k, v); }
};

template <>
struct Zmm<double> {
  using V = __m512d;
  using Mask = __mmask8;
  static constexpr int kLanes = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V load(const double* p) { return _mm512_load_pd(p); }
  static V loadu(const double* p) { return _mm512_loadu_pd(p); }
  static V maskz_loadu(Mask k, const double* p) { return _mm512_maskz_loadu_pd(k, p); }
  static V broadcast(const double* p) { return _mm512_set1_pd(*p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static void storeu(double* p, V v) { _mm512_storeu_pd(p, v); }
  static void mask_storeu(double* p, Mask k, V v) { _mm512_mask_storeu_pd(p, k, v); }
};

// Lanes [0, n) of a vector, n clamped to [0, lanes].
template <typename Mask, int kLanes>
Mask first_lanes(int64_t n) {
  if (n <= 0) return Mask(0);
  if (n >= kLanes) return Mask(~0u);
  return Mask((1u << n) - 1u);
}

// Stores one row of the tile, VECS vectors wide (lo: columns [0, W), hi: [W, 2W)), of which the first n
// columns are C's, adding C's old values if accumulate. Partial rows go through lane masks.
template <typename T, int VECS>
void store_row(T* ci, typename Zmm<T>::V lo, typename Zmm<T>::V hi, int64_t n, bool accumulate) {
  using Z = Zmm<T>;
  using Mask = typename Z::Mask;
  constexpr int W = Z::kLanes;
  if (n == VECS * W) {
    if (accumulate) {
      lo = Z::add(lo, Z::loadu(ci));
      if constexpr (VECS == 2) hi = Z::add(hi, Z::loadu(ci + W));
    }
    Z::storeu(ci, lo);
    if constexpr (VECS == 2) Z::storeu(ci + W, hi);
  } else {  // right edge of C
    const Mask k0 = first_lanes<Mask, W>(n), k1 = first_lanes<Mask, W>(n - W);
    if (accumulate) {
      lo = Z::add(lo, Z::maskz_loadu(k0, ci));
      if constexpr (VECS == 2) hi = Z::add(hi, Z::maskz_loadu(k1, ci + W));
    }
    Z::mask_storeu(ci, k0, lo);
    if constexpr (VECS == 2) Z::mask_storeu(ci + W, k1, hi);
  }
}

// X(i) for each row i of the micro-tile. The accumulators are named variables, not an array: GCC keeps an
// array of vectors in memory, storing it on every step.
#define CK_FOR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13)

// C[ROWS x n] (+)= A panel (kc x kMR, first ROWS rows used) · B strip (kc x NR, first VECS zmm used).
// VECS = 1 serves right-edge tiles of at most W columns at half the cost.
template <typename T, int ROWS, int VECS>
void tile(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t n, bool accumulate) {
  using Z = Zmm<T>;
  using V = typename Z::V;
  constexpr int W = Z::kLanes;

  // The C tile is needed only at the end: start fetching it now.
#define CK_PREFETCH(i)                                                          \
  if constexpr (ROWS > i) {                                                     \
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);      \
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + VECS * W - 1), _MM_HINT_T0); \
  }
  CK_FOR_ROWS(CK_PREFETCH)
#undef CK_PREFETCH

  // c<i>_0: columns [0, W) of row i, c<i>_1: columns [W, 2W) (VECS = 2), or the odd depth steps (VECS = 1).
#define CK_DECLARE(i) V c##i##_0 = Z::zero(), c##i##_1 = Z::zero();
  CK_FOR_ROWS(CK_DECLARE)
#undef CK_DECLARE

  if constexpr (VECS == 2) {
    for (int64_t p = 0; p < kc; ++p) {
      _mm_prefetch(reinterpret_cast<const char*>(a + 8 * kMR), _MM_HINT_T0);  // A panel, 8 steps ahead (L2)
      const V b0 = Z::loadu(b), b1 = Z::loadu(b + W);
#define CK_STEP(i)                                                              \
  if constexpr (ROWS > i) {                                                     \
    const V ai = Z::broadcast(a + i);                                           \
    c##i##_0 = Z::fma(ai, b0, c##i##_0);                                        \
    c##i##_1 = Z::fma(ai, b1, c##i##_1);                                        \
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
      const V b0 = Z::loadu(b), b1 = Z::loadu(b + ldb);
#define CK_STEP(i)                                                              \
  if constexpr (ROWS > i) {                                                     \
    c##i##_0 = Z::fma(Z::broadcast(a + i), b0, c##i##_0);                       \
    c##i##_1 = Z::fma(Z::broadcast(a + kMR + i), b1, c##i##_1);                 \
  }
      CK_FOR_ROWS(CK_STEP)
#undef CK_STEP
      a += 2 * kMR;
      b += 2 * ldb;
    }
    if (p < kc) {
      const V b0 = Z::loadu(b);
#define CK_STEP(i)                                                              \
  if constexpr (ROWS > i) c##i##_0 = Z::fma(Z::broadcast(a + i), b0, c##i##_0);
      CK_FOR_ROWS(CK_STEP)
#undef CK_STEP
    }
#define CK_SUM(i)                                                               \
  if constexpr (ROWS > i) c##i##_0 = Z::add(c##i##_0, c##i##_1);
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
    case 14: return tile<T, 14, VECS>(kc, a, b, ldb, c, ldc, n, accumulate);
    case 13: return tile<T, 13, VECS>(kc, a, b, ldb, c, ldc, n, accumulate);
    case 12: return tile<T, 12, VECS>(kc, a, b, ldb, c, ldc, n, accumulate);
    case 11: return tile<T, 11, VECS>(kc, a, b, ldb, c, ldc, n, accumulate);
    case 10: return tile<T, 10, VECS>(kc, a, b, ldb, c, ldc, n, accumulate);
    case 9: return tile<T, 9, VECS>(kc, a, b, ldb, c, ldc, n, accumulate);
    case 8: return tile<T, 8, VECS>(kc, a, b, ldb, c, ldc, n, accumulate);
    case 7: return tile<T, 7, VECS>(kc, a, b, ldb, c, ldc, n, accumulate);
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
  if (n > Zmm<T>::kLanes) {
    tile_rows<T, 2>(kc, a, b, ldb, c, ldc, m, n, accumulate);
  } else {
    tile_rows<T, 1>(kc, a, b, ldb, c, ldc, m, n, accumulate);
  }
}

// Blocking (not measured: no AVX-512 machine was at hand): a B strip KC x NR = 24 KiB stays in a 32+ KiB
// L1, an A block MC x KC (252 KiB) in a 1+ MiB L2, a B block KC x NC (3 MiB) in L3.
const KernelSet<float> kF32 = {kMR, 32, /*mc*/ 336, /*kc*/ 192, /*nc*/ 4096, &micro_kernel<float>};
const KernelSet<double> kF64 = {kMR, 16, /*mc*/ 168, /*kc*/ 192, /*nc*/ 2048, &micro_kernel<double>};

}  // namespace

const KernelSet<float>* avx512_kernels_f32() { return &kF32; }
const KernelSet<double>* avx512_kernels_f64() { return &kF64; }

}  // namespace gemm_detail
}  // namespace ck

#else  // built without the AVX-512 flags: the path is unavailable

namespace ck {
namespace gemm_detail {
const KernelSet<float>* avx512_kernels_f32() { return nullptr; }
const KernelSet<double>* avx512_kernels_f64() { return nullptr; }
}  // namespace gemm_detail
}  // namespace ck

#endif
