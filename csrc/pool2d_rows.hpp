// pool2d_rows.hpp: the separable skeleton shared by max, average and Lp pooling on the CPU.
//
// Small square windows (2x2, 3x3) over mostly interior outputs reduce in one pass (pool_plane_small), the
// interior block through the active ISA's kernel (pool2d_kernels.hpp; the scalar path's are the generic and
// SSE2 loops below, pool_interior_block).
// Otherwise a rectangular R x S window reduces in two passes: a row pass reduces the S taps of each input
// row for every output column q (h[ih, q]), then a column pass reduces the R rows of each output row p
// (y[p, q] = reduce over r of h[p*sh - ph + r*dh, q]). That is R + S operations per output instead of R*S,
// and both inner loops run over q with no branches (the columns q whose taps all lie inside the image
// form one interior range; the few border columns take a clipped scalar path), so they vectorise.
// Windows are clipped to the image: taps in the padding never reach the reducer. The backward passes of
// average and Lp pooling gather through two such passes taken back (scatter_sum).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "cnnkernels/shapes.hpp"
#include "isa_dispatch.hpp"
#include "pool2d_kernels.hpp"
#include "threads.hpp"

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>  // SSE2: the x86-64 baseline (this header is only included by generic files)
#define CK_POOL_SSE2 1
#endif

namespace ck {
namespace pool {

// Per output column q: the taps t in [lo[q], hi[q]) that land inside the image, and the interior range
// [inner_lo, inner_hi) of columns whose S taps all do (shapes.hpp: window_taps, interior_outputs). Rows:
// the same along p.
struct Taps {
  std::vector<int64_t> lo, hi;
  int64_t inner_lo = 0, inner_hi = 0;

  Taps(int64_t out, int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil) : lo(out), hi(out) {
    for (int64_t q = 0; q < out; ++q) window_taps(q, in, k, stride, pad, dil, &lo[q], &hi[q]);
    interior_outputs(out, in, k, stride, pad, dil, &inner_lo, &inner_hi);
  }
};

// Reducers: load(v) maps an input value (identity, or v**p for Lp pooling), combine(a, b) reduces two
// loaded values, empty() is the result of a window with no tap inside the image.
template <typename T>
struct MaxReducer {  // NaN wins, as in PyTorch
  T load(T v) const { return v; }
  T combine(T a, T b) const { return (b > a || b != b) ? b : a; }
  T empty() const { return -std::numeric_limits<T>::infinity(); }
};

template <typename T, typename Load>
struct SumReducer {
  Load load_fn;
  T load(T v) const { return load_fn(v); }
  T combine(T a, T b) const { return a + b; }
  T empty() const { return T(0); }
};

// Row pass for one input row: h[q] = combine over the inside taps t of load(row[q*sw - pw + t*dw]).
template <typename T, typename Reducer>
void row_pass(const Reducer& red, const T* row, const Taps& cols, int64_t Q, int64_t sw, int64_t pw, int64_t dw,
              int64_t S, T* h) {
  for (int64_t q = 0; q < Q; ++q) {  // border columns (all of them when the interior is empty)
    if (q == cols.inner_lo && cols.inner_lo < cols.inner_hi) q = cols.inner_hi;
    if (q >= Q) break;
    if (cols.lo[q] >= cols.hi[q]) {
      h[q] = red.empty();
      continue;
    }
    T acc = red.load(row[q * sw - pw + cols.lo[q] * dw]);
    for (int64_t t = cols.lo[q] + 1; t < cols.hi[q]; ++t) {
      acc = red.combine(acc, red.load(row[q * sw - pw + t * dw]));
    }
    h[q] = acc;
  }
  const int64_t a = cols.inner_lo, b = cols.inner_hi;  // interior: every tap q*sw - pw + t*dw is inside
  if (a >= b) return;
  // (The strides 1 and 2 spelled out, so that the compiler vectorises their loads.)
  if (sw == 1) {
    for (int64_t q = a; q < b; ++q) h[q] = red.load(row[q - pw]);
  } else if (sw == 2) {
    for (int64_t q = a; q < b; ++q) h[q] = red.load(row[2 * q - pw]);
  } else {
    for (int64_t q = a; q < b; ++q) h[q] = red.load(row[q * sw - pw]);
  }
  for (int64_t t = 1; t < S; ++t) {
    const int64_t off = t * dw - pw;
    if (sw == 1) {
      for (int64_t q = a; q < b; ++q) h[q] = red.combine(h[q], red.load(row[q + off]));
    } else if (sw == 2) {
      for (int64_t q = a; q < b; ++q) h[q] = red.combine(h[q], red.load(row[2 * q + off]));
    } else {
      for (int64_t q = a; q < b; ++q) h[q] = red.combine(h[q], red.load(row[q * sw + off]));
    }
  }
}

// One output: combine over the window's inside taps of load(x), row-major, or empty() if none.
template <typename T, typename Reducer>
T pool_window(const Reducer& red, const Pool2dShape& s, const Taps& rows, const Taps& cols, const T* x, int64_t p,
              int64_t q) {
  T acc = red.empty();
  bool any = false;
  for (int64_t r = rows.lo[p]; r < rows.hi[p]; ++r) {
    const T* row = x + (p * s.stride_h - s.pad_h + r * s.dil_h) * s.W;
    for (int64_t t = cols.lo[q]; t < cols.hi[q]; ++t) {
      const T v = red.load(row[q * s.stride_w - s.pad_w + t * s.dil_w]);
      acc = any ? red.combine(acc, v) : v;
      any = true;
    }
  }
  return acc;
}

// Small windows in one pass: for an R x S window (dilation 1) at column stride SW, the outputs of interior
// rows [p0, p1) and columns [q0, q1) each combine their R*S taps directly, row-major, the loop over q
// innermost with the window fixed at compile time so that it vectorises. For windows this small the
// separable passes spend more on their row buffer and per-row loop overheads than they save.
// Loads of the sum reducers whose vector forms the SSE2 path knows.
template <typename T>
struct Identity {
  T operator()(T v) const { return v; }
};
template <typename T>
struct Square {
  T operator()(T v) const { return v * v; }
};

#ifdef CK_POOL_SSE2
// Float windows 4 outputs at a time with SSE2, for max, sum and sum of squares. The compiler's own
// vectorisation of the generic loop below leaves a scalar tail per row and, for max, a NaN-aware combine
// of six vector operations per tap. Here the last group of a row overlaps the one before instead, and max
// takes the plain maximum of the taps (one maxps each) beside a mask of the lanes that met a NaN, which
// become NaN at the end (PyTorch's NaN wins; the NaN returned is the all-ones one). Taps at column stride
// 2 are the even lanes of two loads; the last group of a row loads its taps one by one, so that nothing
// past the row's last tap is read.
template <int SW>
inline __m128 load_taps(const float* p, bool last) {
  if constexpr (SW == 1) {
    return _mm_loadu_ps(p);
  } else {
    if (last) return _mm_setr_ps(p[0], p[SW], p[2 * SW], p[3 * SW]);
    return _mm_shuffle_ps(_mm_loadu_ps(p), _mm_loadu_ps(p + 4), _MM_SHUFFLE(2, 0, 2, 0));
  }
}

struct MaxVec {
  __m128 m, nan;
  explicit MaxVec(__m128 v) : m(v), nan(_mm_cmpunord_ps(v, v)) {}
  void add(__m128 v) {
    m = _mm_max_ps(v, m);
    nan = _mm_or_ps(nan, _mm_cmpunord_ps(v, v));
  }
  __m128 get() const { return _mm_or_ps(m, nan); }
};
struct SumVec {
  __m128 a;
  explicit SumVec(__m128 v) : a(v) {}
  void add(__m128 v) { a = _mm_add_ps(a, v); }
  __m128 get() const { return a; }
};
struct SumSquaresVec {
  __m128 a;
  explicit SumSquaresVec(__m128 v) : a(_mm_mul_ps(v, v)) {}
  void add(__m128 v) { a = _mm_add_ps(a, _mm_mul_ps(v, v)); }
  __m128 get() const { return a; }
};

// The vector accumulator of a reducer, or void where there is none.
template <typename Reducer>
struct VecOf {
  using type = void;
};
template <>
struct VecOf<MaxReducer<float>> {
  using type = MaxVec;
};
template <>
struct VecOf<SumReducer<float, Identity<float>>> {
  using type = SumVec;
};
template <>
struct VecOf<SumReducer<float, Square<float>>> {
  using type = SumSquaresVec;
};

template <typename Vec, int R, int S, int SW>
inline __m128 reduce4(const float* win, int64_t W, bool last) {
  Vec acc(load_taps<SW>(win, last));
  for (int r = 0; r < R; ++r) {
    for (int t = r == 0 ? 1 : 0; t < S; ++t) acc.add(load_taps<SW>(win + r * W + t, last));
  }
  return acc.get();
}

// Interior columns [q0, q1) of one output row, q1 - q0 >= 4.
template <typename Vec, int R, int S, int SW>
void row_sse2(const float* top, int64_t W, int64_t q0, int64_t q1, float* y_row) {
  int64_t q = q0;
  for (; q + 4 < q1; q += 4) _mm_storeu_ps(y_row + q, reduce4<Vec, R, S, SW>(top + q * SW, W, false));
  _mm_storeu_ps(y_row + q1 - 4, reduce4<Vec, R, S, SW>(top + (q1 - 4) * SW, W, true));
}
#endif

template <int R, int S, int SW, typename T, typename Reducer>
void pool_interior(const Reducer& red, const Pool2dShape& s, const T* x, int64_t p0, int64_t p1, int64_t q0,
                   int64_t q1, T* y) {
  const int64_t W = s.W;
  for (int64_t p = p0; p < p1; ++p) {
    const T* top = x + (p * s.stride_h - s.pad_h) * W - s.pad_w;  // the window of q = 0 (maybe in padding)
    T* y_row = y + p * s.Q;
#ifdef CK_POOL_SSE2
    if constexpr (!std::is_void_v<typename VecOf<Reducer>::type>) {
      if (q1 - q0 >= 4) {
        row_sse2<typename VecOf<Reducer>::type, R, S, SW>(top, W, q0, q1, y_row);
        continue;
      }
    }
#endif
    for (int64_t q = q0; q < q1; ++q) {
      const T* win = top + q * SW;
      T acc = red.load(win[0]);
      for (int t = 1; t < S; ++t) acc = red.combine(acc, red.load(win[t]));
      for (int r = 1; r < R; ++r) {
        for (int t = 0; t < S; ++t) acc = red.combine(acc, red.load(win[r * W + t]));
      }
      y_row[q] = acc;
    }
  }
}

// The scalar path's interior block of pool_plane_small (pool2d_kernels.hpp: SmallInterior), the window and
// column stride chosen once per plane.
template <typename T, typename Reducer>
void pool_interior_block(const Reducer& red, const Pool2dShape& s, const T* x, int64_t p0, int64_t p1, int64_t q0,
                         int64_t q1, T* y) {
  if (s.R == 2) {
    if (s.stride_w == 1) pool_interior<2, 2, 1>(red, s, x, p0, p1, q0, q1, y);
    else pool_interior<2, 2, 2>(red, s, x, p0, p1, q0, q1, y);
  } else {
    if (s.stride_w == 1) pool_interior<3, 3, 1>(red, s, x, p0, p1, q0, q1, y);
    else pool_interior<3, 3, 2>(red, s, x, p0, p1, q0, q1, y);
  }
}

// The active ISA's interior kernel for a reducer, or nullptr for a reducer without one (Lp pooling with a
// general p: pool_interior_block then).
inline const PoolKernels& active_pool_kernels() {
  return isa_table<PoolKernels>({pool_kernels_scalar(), pool_kernels_avx2(), pool_kernels_avx512()});
}
template <typename Reducer>
std::nullptr_t small_kernel(const Reducer&) {
  return nullptr;
}
inline SmallInterior<float> small_kernel(const MaxReducer<float>&) { return active_pool_kernels().max_f32; }
inline SmallInterior<double> small_kernel(const MaxReducer<double>&) { return active_pool_kernels().max_f64; }
inline SmallInterior<float> small_kernel(const SumReducer<float, Identity<float>>&) {
  return active_pool_kernels().sum_f32;
}
inline SmallInterior<double> small_kernel(const SumReducer<double, Identity<double>>&) {
  return active_pool_kernels().sum_f64;
}
inline SmallInterior<float> small_kernel(const SumReducer<float, Square<float>>&) {
  return active_pool_kernels().sum_squares_f32;
}
inline SmallInterior<double> small_kernel(const SumReducer<double, Square<double>>&) {
  return active_pool_kernels().sum_squares_f64;
}

// The one-pass path for the common small windows (2x2, 3x3; column stride 1 or 2; dilation 1) when most
// outputs are interior; false (nothing done) otherwise. Border outputs take pool_window.
template <typename T, typename Reducer>
bool pool_plane_small(const Reducer& red, const Pool2dShape& s, const Taps& rows, const Taps& cols, const T* x,
                      T* y) {
  if (s.dil_h != 1 || s.dil_w != 1 || s.R != s.S || (s.R != 2 && s.R != 3) || s.stride_w > 2) return false;
  const int64_t p0 = rows.inner_lo, p1 = std::max(p0, rows.inner_hi);
  const int64_t q0 = cols.inner_lo, q1 = std::max(q0, cols.inner_hi);
  if (2 * (p1 - p0) * (q1 - q0) < s.P * s.Q) return false;
  if (const SmallInterior<T> kernel = small_kernel(red)) {
    kernel(s, x, p0, p1, q0, q1, y);
  } else {
    pool_interior_block(red, s, x, p0, p1, q0, q1, y);
  }
  for (int64_t p = 0; p < s.P; ++p) {
    const bool inner_row = p >= p0 && p < p1;
    for (int64_t q = 0; q < s.Q; ++q) {
      if (inner_row && q == q0) q = q1;  // skip the interior block
      if (q >= s.Q) break;
      y[p * s.Q + q] = pool_window(red, s, rows, cols, x, p, q);
    }
  }
  return true;
}

// One N*C plane: y[p, q] = combine over the window's inside taps of load(x), through h (H x Q workspace).
template <typename T, typename Reducer>
void pool_plane(const Reducer& red, const Pool2dShape& s, const Taps& rows, const Taps& cols, const T* x, T* h,
                T* y) {
  if (pool_plane_small(red, s, rows, cols, x, y)) return;
  for (int64_t ih = 0; ih < s.H; ++ih) {
    row_pass(red, x + ih * s.W, cols, s.Q, s.stride_w, s.pad_w, s.dil_w, s.S, h + ih * s.Q);
  }
  for (int64_t p = 0; p < s.P; ++p) {
    T* y_row = y + p * s.Q;
    if (rows.lo[p] >= rows.hi[p]) {
      std::fill(y_row, y_row + s.Q, red.empty());
      continue;
    }
    const int64_t ih0 = p * s.stride_h - s.pad_h;
    const T* first = h + (ih0 + rows.lo[p] * s.dil_h) * s.Q;
    std::copy(first, first + s.Q, y_row);
    for (int64_t r = rows.lo[p] + 1; r < rows.hi[p]; ++r) {
      const T* h_row = h + (ih0 + r * s.dil_h) * s.Q;
      for (int64_t q = 0; q < s.Q; ++q) y_row[q] = red.combine(y_row[q], h_row[q]);
    }
  }
}

// Every N*C plane of x in parallel (each thread with its own H x Q row-pass buffer): y = pooled x, then
// finish(y_plane) on each output plane (averaging, the Lp root; nothing for max).
template <typename T, typename Reducer, typename Finish>
void pool_planes(const Reducer& red, const Pool2dShape& s, const Taps& rows, const Taps& cols, const T* x, T* y,
                 Finish finish) {
  const int64_t planes = s.N * s.C;
#pragma omp parallel num_threads(threads_for(planes))
  {
    std::vector<T> h(s.H * s.Q);
#pragma omp for schedule(static)
    for (int64_t plane = 0; plane < planes; ++plane) {
      T* y_c = y + plane * s.P * s.Q;
      pool_plane(red, s, rows, cols, x + plane * s.H * s.W, h.data(), y_c);
      finish(y_c);
    }
  }
}

// The backward passes of average and Lp pooling (dilation 1): gx[i] = sum over the outputs o whose window
// holds input pixel i of src[o], every plane (gx: N x C x H x W, each element written once), in gather form
// and separable: for each input row ih, h[q] = the sum of src[p, q] over the output rows p covering ih,
// then each input column iw of the row sums h[q] over the output columns q covering it. Every sum starts
// from +0 and adds in increasing p (q) order, whatever the path (so the vector loops and the scalar edges
// round alike, and no result depends on the thread count).
// Per plane, in a thread's own buffers: source(plane, buf, work) returns the plane's P x Q values (its own
// or written into buf, P x Q; work is H x Q scratch), then finish(plane, g) runs on the plane's g (H x W)
// while it is in cache.

// Along one dimension (dilation 1): the outputs [lo[i], hi[i]) whose windows cover input i.
struct Cover {
  std::vector<int64_t> lo, hi;
  Cover(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad) : lo(in), hi(in) {
    for (int64_t i = 0; i < in; ++i) covering_outputs(i, out, k, stride, pad, &lo[i], &hi[i]);
  }
};

#ifdef CK_POOL_SSE2
// 16-byte vectors of T (SSE2) for the gather row pass.
template <typename T>
struct Vec16 {
  typedef T V __attribute__((vector_size(16)));
  static constexpr int lanes = 16 / sizeof(T);
  static V load(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  static void store(T* p, V v) { std::memcpy(p, &v, sizeof(v)); }
};
// The lanes of a and b interleaved: a0 b0 a1 b1 ... (lo), then the upper halves (hi).
inline void interleave(Vec16<float>::V a, Vec16<float>::V b, Vec16<float>::V* lo, Vec16<float>::V* hi) {
  *lo = __builtin_shufflevector(a, b, 0, 4, 1, 5);
  *hi = __builtin_shufflevector(a, b, 2, 6, 3, 7);
}
inline void interleave(Vec16<double>::V a, Vec16<double>::V b, Vec16<double>::V* lo, Vec16<double>::V* hi) {
  *lo = __builtin_shufflevector(a, b, 0, 2);
  *hi = __builtin_shufflevector(a, b, 1, 3);
}

// h[k - n + 1] + ... + h[k] for the lanes' k = k0 .. k0 + lanes - 1, from +0.
template <typename T>
inline typename Vec16<T>::V window_sums(const T* h, int64_t k0, int64_t n) {
  using L = Vec16<T>;
  typename L::V acc = {};
  for (int64_t m = n - 1; m >= 0; --m) acc = acc + L::load(h + k0 - m);
  return acc;
}
#endif

// One input row: g[iw] = the sum over the covering output columns q of h[q] (h: Q values, g: W).
template <typename T>
void gather_row(const Pool2dShape& s, const Cover& cols, const T* h, T* g) {
  const int64_t W = s.W, Q = s.Q, S = s.S, sw = s.stride_w, pw = s.pad_w;
  int64_t iw = 0;  // the pixels before iw are written
  auto scalar_to = [&](int64_t end) {
    for (; iw < end; ++iw) {
      T acc = T(0);
      for (int64_t q = cols.lo[iw]; q < cols.hi[iw]; ++q) acc += h[q];
      g[iw] = acc;
    }
  };
#ifdef CK_POOL_SSE2
  using L = Vec16<T>;
  constexpr int N = L::lanes;
  if (sw == 1) {
    // Pixel iw is covered by q = iw + pw - S + 1 .. iw + pw: all of them for iw in [S - 1 - pw, Q - pw).
    const int64_t a = std::max<int64_t>(0, S - 1 - pw), b = std::min(W, Q - pw);
    scalar_to(std::min(a, W));
    for (; iw + N <= b; iw += N) L::store(g + iw, window_sums(h, iw + pw, S));
  } else if (sw == 2) {
    // Pixel iw = 2k - pw (+ 1) is covered by q = k - n0 + 1 .. k (q = k - n1 + 1 .. k): both full for k in
    // [n0 - 1, Q); vector blocks of N values of k, 2N pixels, from the first even iw + pw past the edge.
    const int64_t n0 = (S - 1) / 2 + 1, n1 = S / 2;
    int64_t k = std::max<int64_t>(n0 - 1, (pw + 1) / 2);  // 2k - pw >= 0
    scalar_to(std::min(W, 2 * k - pw));
    for (; k + N <= Q && 2 * (k + N) - pw <= W; k += N) {
      typename L::V lo, hi;
      interleave(window_sums(h, k, n0), window_sums(h, k, n1), &lo, &hi);
      L::store(g + iw, lo);
      L::store(g + iw + N, hi);
      iw += 2 * N;
    }
  }
#endif
  scalar_to(W);
}

template <typename T, typename Source, typename Finish>
void scatter_sum(const Pool2dShape& s, T* gx, Source source, Finish finish) {
  const int64_t planes = s.N * s.C, HW = s.H * s.W, PQ = s.P * s.Q, Q = s.Q;
  const Cover rows(s.H, s.P, s.R, s.stride_h, s.pad_h), cols(s.W, s.Q, s.S, s.stride_w, s.pad_w);
#pragma omp parallel num_threads(threads_for(planes * (HW + PQ * (s.R + s.S)) / 16384))
  {
    std::vector<T> buf(PQ), work(s.H * Q), h(Q);
#pragma omp for schedule(static)
    for (int64_t plane = 0; plane < planes; ++plane) {
      const T* src = source(plane, buf.data(), work.data());
      T* g = gx + plane * HW;
      for (int64_t ih = 0; ih < s.H; ++ih) {
        T* g_row = g + ih * s.W;
        const int64_t p0 = rows.lo[ih], p1 = rows.hi[ih];
        if (p0 >= p1) {  // a row no window covers (stride > kernel)
          std::fill(g_row, g_row + s.W, T(0));
          continue;
        }
        std::fill(h.begin(), h.end(), T(0));  // column pass: h = the covering rows of src
        for (int64_t p = p0; p < p1; ++p) {
          const T* row = src + p * Q;
          for (int64_t q = 0; q < Q; ++q) h[q] += row[q];
        }
        gather_row(s, cols, h.data(), g_row);
      }
      finish(plane, g);
    }
  }
}

}  // namespace pool
}  // namespace ck
