// gemm_avx512.cpp: the AVX-512 GEMM micro-kernels (gemm_tile.hpp with zmm registers): a 14 x 32 tile of C
// for float, 14 x 16 for double, in 28 zmm accumulators (31 of the 32 registers in use, 16 loads per 28
// FMAs). Partial right-edge rows are read and written through lane masks.
//
// Compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma (CMakeLists.txt); runs only when the
// active ISA is avx512 (isa_dispatch.hpp). Everything but the accessor at the end sits in an anonymous
// namespace, so no AVX-compiled inline function or template instance can be merged by the linker into
// generic code.
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

#include <array>
#include <cstdint>
#include <utility>

namespace ck {
namespace gemm_detail {
namespace {

constexpr int kMR = 14;  // rows of the micro-tile, both types

// One zmm register's worth of T, and the lane mask type that goes with it.
template <typename T>
struct Vec;

template <>
struct Vec<float> {
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
struct Vec<double> {
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
void store_row(T* ci, typename Vec<T>::V lo, typename Vec<T>::V hi, int64_t n, bool accumulate) {
  using Z = Vec<T>;
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


#include "gemm_tile.hpp"

// Blocking (not measured: no AVX-512 machine was at hand): a B strip KC x NR = 24 KiB stays in a 32+ KiB
// L1, an A block MC x KC (252 KiB) in a 1+ MiB L2, a B block KC x NC (3 MiB) in L3.
const GemmKernels kTable = {{kMR, 32, /*mc*/ 336, /*kc*/ 192, /*nc*/ 4096, &micro_kernel<float>},
                            {kMR, 16, /*mc*/ 168, /*kc*/ 192, /*nc*/ 2048, &micro_kernel<double>}};

}  // namespace

const GemmKernels* gemm_kernels_avx512() { return &kTable; }

}  // namespace gemm_detail
}  // namespace ck

#else  // built without the AVX-512 flags: the path is unavailable

namespace ck {
namespace gemm_detail {
const GemmKernels* gemm_kernels_avx512() { return nullptr; }
}  // namespace gemm_detail
}  // namespace ck

#endif
