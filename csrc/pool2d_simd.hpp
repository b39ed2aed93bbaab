// pool2d_simd.hpp: the one-pass small-window pooling kernels (pool2d_kernels.hpp) written once over the
// vector width and compiled once per ISA (isa_dispatch.hpp): pool2d_avx2.cpp and pool2d_avx512.cpp include
// this file with CK_VEC_BYTES set (32, 64) and get their ISA's flags (and -ffp-contract=off, so that a sum of
// squares rounds each square as the generic path does). Everything here sits in an anonymous namespace; the
// including file hands out kPoolTable.
//
// A row of interior outputs is taken N at a time, the last group overlapping the one before (no scalar
// tail); rows shorter than a vector take the widest narrower vector that fits, down to 16 bytes, then one
// output at a time. Each output reduces its R*S taps in row-major order, so sums round exactly as the
// scalar path's. Taps at column stride 2 are the even elements of two loads, p[0..N) and p[N-1..2N-1), so
// that nothing past the group's last tap is read.
//
// The results are bit for bit those of the scalar path (pool2d_rows.hpp): float maxima over 4 or more lanes
// follow its SSE2 rule (the plain maximum, "take v when v > m", beside a mask of the lanes that met a NaN,
// which become the all-ones NaN at the end); narrower float rows and all double rows its generic rule (take
// v when v > m or v is NaN, so the last NaN wins).
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "cnnkernels/shapes.hpp"
#include "pool2d_kernels.hpp"

namespace ck {
namespace pool {
namespace {

enum class Op { max, sum, sum_squares };

// N lanes of T: a vector of N * sizeof(T) bytes, or T itself for N = 1.
template <typename T, int N>
struct Lanes {
  typedef T vec __attribute__((vector_size(N * sizeof(T))));
  static vec load(const T* p) {
    vec v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  static void store(T* p, vec v) { std::memcpy(p, &v, sizeof(v)); }
};
template <typename T>
struct Lanes<T, 1> {
  using vec = T;
  static T load(const T* p) { return *p; }
  static void store(T* p, T v) { *p = v; }
};

// Lane i of the result is element 2i of p[0..N) ++ p[N-1..2N-1): a's lane 2i, then b's lane 2i - N + 1.
template <typename V, size_t... I>
inline V even_lanes(V a, V b, std::index_sequence<I...>) {
  constexpr int N = sizeof...(I);
  return __builtin_shufflevector(a, b, (I < N / 2 ? 2 * I : 2 * I + 1)...);
}

// The taps p[0], p[SW], ..., p[(N-1)*SW] of N outputs.
template <typename T, int N, int SW>
inline typename Lanes<T, N>::vec taps(const T* p) {
  using L = Lanes<T, N>;
  if constexpr (SW == 1 || N == 1) {
    return L::load(p);
  } else {
    return even_lanes(L::load(p), L::load(p + N - 1), std::make_index_sequence<N>{});
  }
}

// The accumulators: Acc(v) from the first tap, add(v) for each further one, get() the result.
template <typename V>
struct MaxLastNaN {  // the generic rule: take v when v > m or v is NaN
  V m;
  explicit MaxLastNaN(V v) : m(v) {}
  void add(V v) { m = ((v > m) | (v != v)) ? v : m; }
  V get() const { return m; }
};
template <typename V>
struct MaxNaNMask {  // the SSE2 rule: take v when v > m; lanes that met a NaN become all-ones
  using I = decltype(V{} != V{});
  V m;
  I nan;
  explicit MaxNaNMask(V v) : m(v), nan(v != v) {}
  void add(V v) {
    m = v > m ? v : m;
    nan |= v != v;
  }
  V get() const { return (V)((I)m | nan); }
};
template <typename V>
struct Sum {
  V a;
  explicit Sum(V v) : a(v) {}
  void add(V v) { a = a + v; }
  V get() const { return a; }
};
template <typename V>
struct SumSquares {
  V a;
  explicit SumSquares(V v) : a(v * v) {}
  void add(V v) { a = a + v * v; }
  V get() const { return a; }
};

template <Op op, typename T, int N>
struct AccOf {
  using V = typename Lanes<T, N>::vec;
  using type = std::conditional_t<
      op == Op::sum, Sum<V>,
      std::conditional_t<op == Op::sum_squares, SumSquares<V>,
                         std::conditional_t<(std::is_same_v<T, float> && N >= 4), MaxNaNMask<V>, MaxLastNaN<V>>>>;
};

// N outputs from the window of the first one, win (row stride W).
template <Op op, int N, int R, int SW, typename T>
inline typename Lanes<T, N>::vec reduce(const T* win, int64_t W) {
  typename AccOf<op, T, N>::type acc(taps<T, N, SW>(win));
  for (int r = 0; r < R; ++r) {
    for (int t = r == 0 ? 1 : 0; t < R; ++t) acc.add(taps<T, N, SW>(win + r * W + t));
  }
  return acc.get();
}

// Interior columns [q0, q1) of one output row, N at a time (q1 - q0 >= N), or at the widest narrower width
// that fits.
template <Op op, int N, int R, int SW, typename T>
void row(const T* top, int64_t W, int64_t q0, int64_t q1, T* y_row) {
  constexpr int kMinVector = 16 / sizeof(T);
  if constexpr (N > 1) {
    if (q1 - q0 < N) {
      row<op, (N > kMinVector ? N / 2 : 1), R, SW>(top, W, q0, q1, y_row);
      return;
    }
  }
  using L = Lanes<T, N>;
  int64_t q = q0;
  for (; q + N < q1; q += N) L::store(y_row + q, reduce<op, N, R, SW>(top + q * SW, W));
  L::store(y_row + q1 - N, reduce<op, N, R, SW>(top + (q1 - N) * SW, W));
}

template <Op op, int R, int SW, typename T>
void interior_rows(const Pool2dShape& s, const T* x, int64_t p0, int64_t p1, int64_t q0, int64_t q1, T* y) {
  constexpr int N = CK_VEC_BYTES / sizeof(T);
  for (int64_t p = p0; p < p1; ++p) {
    const T* top = x + (p * s.stride_h - s.pad_h) * s.W - s.pad_w;  // the window of q = 0 (maybe in padding)
    row<op, N, R, SW>(top, s.W, q0, q1, y + p * s.Q);
  }
}

// The SmallInterior kernel of one reduction: the window size and column stride chosen once per plane.
template <Op op, typename T>
void interior(const Pool2dShape& s, const T* x, int64_t p0, int64_t p1, int64_t q0, int64_t q1, T* y) {
  if (q1 <= q0) return;
  if (s.R == 2) {
    if (s.stride_w == 1) interior_rows<op, 2, 1>(s, x, p0, p1, q0, q1, y);
    else interior_rows<op, 2, 2>(s, x, p0, p1, q0, q1, y);
  } else {
    if (s.stride_w == 1) interior_rows<op, 3, 1>(s, x, p0, p1, q0, q1, y);
    else interior_rows<op, 3, 2>(s, x, p0, p1, q0, q1, y);
  }
}

// y[i] *= scale[i], N at a time, the rest one by one (in place, so no overlapping last group).
template <typename T>
void scale_in_place(T* y, const T* scale, int64_t n) {
  constexpr int N = CK_VEC_BYTES / sizeof(T);
  using L = Lanes<T, N>;
  int64_t i = 0;
  for (; i + N <= n; i += N) L::store(y + i, L::load(y + i) * L::load(scale + i));
  for (; i < n; ++i) y[i] *= scale[i];
}

const PoolKernels kPoolTable = {
    interior<Op::max, float>,  interior<Op::sum, float>,  interior<Op::sum_squares, float>,
    interior<Op::max, double>, interior<Op::sum, double>, interior<Op::sum_squares, double>,
    scale_in_place<float>,     scale_in_place<double>,
};

}  // namespace
}  // namespace pool
}  // namespace ck
