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
// average and Lp pooling scatter through the same two passes taken back (scatter_sum).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
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

// The backward passes' scatter: gx[i] = sum over the outputs o whose window holds input pixel i of src[o], for
// every plane (src: N x C x P x Q, gx: N x C x H x W, overwritten), taps in the padding dropped. Separable
// as the forward: a column pass adds each row of src to the rows of h (H x Q) its windows cover, a row pass
// adds each h[ih, q] to the S input columns of window q. Planes in parallel, each in its own buffers.
// finish(plane, g) then runs on each finished plane g (H x W) while it is in cache.
template <typename T, typename Finish>
void scatter_sum(const Pool2dShape& s, const Taps& rows, const Taps& cols, const T* src, T* gx, Finish finish) {
  const int64_t planes = s.N * s.C, HW = s.H * s.W, PQ = s.P * s.Q, Q = s.Q;
#pragma omp parallel num_threads(threads_for(planes * (HW + PQ * (s.R + s.S)) / 16384))
  {
    std::vector<T> h(s.H * Q);
#pragma omp for schedule(static)
    for (int64_t plane = 0; plane < planes; ++plane) {
      const T* src_c = src + plane * PQ;
      std::fill(h.begin(), h.end(), T(0));
      for (int64_t p = 0; p < s.P; ++p) {  // column pass: h[ih, :] += src[p, :] for the window rows of p
        for (int64_t r = rows.lo[p]; r < rows.hi[p]; ++r) {
          T* h_row = h.data() + (p * s.stride_h - s.pad_h + r * s.dil_h) * Q;
          const T* row = src_c + p * Q;
          for (int64_t q = 0; q < Q; ++q) h_row[q] += row[q];
        }
      }
      T* g = gx + plane * HW;
      std::fill(g, g + HW, T(0));
      for (int64_t ih = 0; ih < s.H; ++ih) {  // row pass: g[ih, q*sw - pw + t*dw] += h[ih, q]
        const T* h_row = h.data() + ih * Q;
        T* g_row = g + ih * s.W;
        for (int64_t q = 0; q < Q; ++q) {  // border columns: their inside taps only
          if (q == cols.inner_lo && cols.inner_lo < cols.inner_hi) q = cols.inner_hi;
          if (q >= Q) break;
          for (int64_t t = cols.lo[q]; t < cols.hi[q]; ++t) g_row[q * s.stride_w - s.pad_w + t * s.dil_w] += h_row[q];
        }
        for (int64_t t = 0; t < s.S; ++t) {  // interior columns, one tap at a time across them
          T* out = g_row - s.pad_w + t * s.dil_w;
          if (s.stride_w == 1) {
            for (int64_t q = cols.inner_lo; q < cols.inner_hi; ++q) out[q] += h_row[q];
          } else {
            for (int64_t q = cols.inner_lo; q < cols.inner_hi; ++q) out[q * s.stride_w] += h_row[q];
          }
        }
      }
      finish(plane, g);
    }
  }
}

}  // namespace pool
}  // namespace ck
