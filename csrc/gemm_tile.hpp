// gemm_tile.hpp: the AVX micro-kernel of the GEMM, written once for both vector widths and compiled by
// gemm_avx2.cpp (ymm, a 6 x 2-vector tile) and gemm_avx512.cpp (zmm, 14 x 2 vectors), each including it
// inside its own anonymous namespace (isa_dispatch.hpp). Include no headers here.
//
// The includer defines first:
//   kMR                    rows of the micro-tile (at most 14);
//   Vec<T>                 one vector register of T: V, kLanes, zero(), loadu(p), broadcast(p), fma(a, b, c)
//                          (a * b + c), add(a, b);
//   store_row<T, VECS>     stores one row of the tile (lo: columns [0, W), hi: [W, 2W)), of which the first
//                          n columns are C's, adding C's old values if accumulate.
//
// The tile lives in 2 * kMR accumulators (kMR rows x 2 vectors); per step p of the depth the kernel loads
// one 2-vector row of the packed B strip, broadcasts the kMR values of the packed A column and issues
// 2 * kMR FMAs. Tiles with fewer than kMR rows run a kernel compiled for exactly that many rows; tiles of at
// most one vector of columns a half-width kernel; other right-edge tiles are computed whole (B is
// zero-padded) and only their n columns stored. B is read with a row stride (ldb): NR for a packed strip,
// or B's own leading dimension when the driver reads B in place.
#pragma once

// X(i) for each row i of the micro-tile. The accumulators are named variables, not an array: GCC keeps an
// array of vectors in memory, storing it on every step.
#define CK_FOR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13)

// C[ROWS x n] (+)= A panel (kc x kMR, first ROWS rows used) · B strip (kc x NR, first VECS vectors used).
// VECS = 1 serves right-edge tiles of at most W columns at half the cost.
template <typename T, int ROWS, int VECS>
void tile(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t n, bool accumulate) {
  using Reg = Vec<T>;
  using V = typename Reg::V;
  constexpr int W = Reg::kLanes;

  // The C tile is needed only at the end: start fetching it now.
#define CK_PREFETCH(i)                                                          \
  if constexpr (ROWS > i) {                                                     \
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);      \
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + VECS * W - 1), _MM_HINT_T0); \
  }
  CK_FOR_ROWS(CK_PREFETCH)
#undef CK_PREFETCH

  // c<i>_0: columns [0, W) of row i, c<i>_1: columns [W, 2W) (VECS = 2), or the odd depth steps (VECS = 1).
#define CK_DECLARE(i) [[maybe_unused]] V c##i##_0 = Reg::zero(), c##i##_1 = Reg::zero();
  CK_FOR_ROWS(CK_DECLARE)
#undef CK_DECLARE

  if constexpr (VECS == 2) {
    for (int64_t p = 0; p < kc; ++p) {
      _mm_prefetch(reinterpret_cast<const char*>(a + 8 * kMR), _MM_HINT_T0);  // A panel, 8 steps ahead (L2)
      const V b0 = Reg::loadu(b), b1 = Reg::loadu(b + W);
#define CK_STEP(i)                                                              \
  if constexpr (ROWS > i) {                                                     \
    const V ai = Reg::broadcast(a + i);                                           \
    c##i##_0 = Reg::fma(ai, b0, c##i##_0);                                        \
    c##i##_1 = Reg::fma(ai, b1, c##i##_1);                                        \
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
      const V b0 = Reg::loadu(b), b1 = Reg::loadu(b + ldb);
#define CK_STEP(i)                                                              \
  if constexpr (ROWS > i) {                                                     \
    c##i##_0 = Reg::fma(Reg::broadcast(a + i), b0, c##i##_0);                       \
    c##i##_1 = Reg::fma(Reg::broadcast(a + kMR + i), b1, c##i##_1);                 \
  }
      CK_FOR_ROWS(CK_STEP)
#undef CK_STEP
      a += 2 * kMR;
      b += 2 * ldb;
    }
    if (p < kc) {
      const V b0 = Reg::loadu(b);
#define CK_STEP(i)                                                              \
  if constexpr (ROWS > i) c##i##_0 = Reg::fma(Reg::broadcast(a + i), b0, c##i##_0);
      CK_FOR_ROWS(CK_STEP)
#undef CK_STEP
    }
#define CK_SUM(i)                                                               \
  if constexpr (ROWS > i) c##i##_0 = Reg::add(c##i##_0, c##i##_1);
    CK_FOR_ROWS(CK_SUM)
#undef CK_SUM
  }

#define CK_STORE(i)                                                             \
  if constexpr (ROWS > i) store_row<T, VECS>(c + i * ldc, c##i##_0, c##i##_1, n, accumulate);
  CK_FOR_ROWS(CK_STORE)
#undef CK_STORE
}

#undef CK_FOR_ROWS

template <typename T>
using TileFn = void (*)(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t n,
                        bool accumulate);

// tile<T, 1, VECS> .. tile<T, kMR, VECS>, indexed by rows - 1.
template <typename T, int VECS, int... I>
constexpr std::array<TileFn<T>, sizeof...(I)> tiles_by_rows(std::integer_sequence<int, I...>) {
  return {&tile<T, I + 1, VECS>...};
}

template <typename T, int VECS>
void tile_rows(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t m, int64_t n,
               bool accumulate) {
  static constexpr auto kTiles = tiles_by_rows<T, VECS>(std::make_integer_sequence<int, kMR>{});
  kTiles[m - 1](kc, a, b, ldb, c, ldc, n, accumulate);
}

template <typename T>
void micro_kernel(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t m, int64_t n,
                  bool accumulate) {
  if (n > Vec<T>::kLanes) {
    tile_rows<T, 2>(kc, a, b, ldb, c, ldc, m, n, accumulate);
  } else {
    tile_rows<T, 1>(kc, a, b, ldb, c, ldc, m, n, accumulate);
  }
}
