// max_pool2d.cpp: max pooling with optional argmax indices on the CPU.
//
// PyTorch's semantics: padding acts as -inf, a NaN in the window gives NaN, and the index (flattened over
// the input's H*W) is that of the first maximum in row-major window order, or of the last NaN. A window
// whose dilated taps all fall in the padding gives -inf with index -1.
//
// Values only: the passes of pool2d_rows.hpp (one pass for small windows, else separable). With indices:
// 2x2 and 3x3 windows (dilation 1, column stride 1 or 2) whose outputs are mostly interior in one pass
// (argmax_plane_small: each window's taps in row-major order), else separable: a row pass taking each
// input row's maximum over the S taps of every output column and its column, a column pass the maximum of
// R such rows and its row; their interior loops are branch-free (SSE2 for float). The rule "take b when b > a or b is NaN", applied in row-major order, picks the first
// maximum / last NaN; applied to row maxima in row order it picks the same tap as one row-major scan of
// the whole window, so the indices match PyTorch's.
#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>  // SSE2: the x86-64 baseline
#endif

#include "cnnkernels/checks.hpp"
#include "cnnkernels/kernels.hpp"
#include "threads.hpp"
#include "pool2d_rows.hpp"

namespace ck {
namespace {

template <typename T>
inline bool takes(T best, T v) {
  return v > best || v != v;
}

// The interior updates of the argmax passes, branch-free (a data-dependent branch per tap mispredicts on
// real data), columns and rows kept in 32 bits, lane for lane with float values.

// Row pass, one tap, interior columns [a, b): v = row[q*stride + off]; where first, v > hv[q] or v is NaN,
// hv[q] = v and hc[q] = q*stride + off.
template <typename T>
void row_update_scalar(const T* row, int32_t a, int32_t b, int32_t stride, int32_t off, bool first, T* hv,
                       int32_t* hc) {
  for (int32_t q = a; q < b; ++q) {
    const int32_t iw = q * stride + off;
    const T v = row[iw];
    const bool take = first || ((v > hv[q]) | (v != v));
    hv[q] = take ? v : hv[q];
    hc[q] = take ? iw : hc[q];
  }
}

// Column pass, one row ih of row maxima v_row: where first, v > y[q] or v is NaN, y[q] = v, best[q] = ih.
template <typename T>
void col_update_scalar(const T* v_row, int32_t q0, int32_t Q, int32_t ih, bool first, T* y, int32_t* best) {
  for (int32_t q = q0; q < Q; ++q) {
    const T v = v_row[q];
    const bool take = first || ((v > y[q]) | (v != v));
    y[q] = take ? v : y[q];
    best[q] = take ? ih : best[q];
  }
}

template <typename T>
void row_update(const T* row, int32_t a, int32_t b, int32_t stride, int32_t off, bool first, T* hv, int32_t* hc) {
  row_update_scalar(row, a, b, stride, off, first, hv, hc);
}
template <typename T>
void col_update(const T* v_row, int32_t Q, int32_t ih, bool first, T* y, int32_t* best) {
  col_update_scalar(v_row, 0, Q, ih, first, y, best);
}

#if defined(__SSE2__) || defined(_M_X64)
// float, 4 columns at a time with SSE2 (the x86-64 baseline): GCC turns the scalar selects into branches.
inline __m128 select4(__m128 mask, __m128 a, __m128 b) { return _mm_or_ps(_mm_and_ps(mask, a), _mm_andnot_ps(mask, b)); }
inline __m128i select4(__m128i mask, __m128i a, __m128i b) {
  return _mm_or_si128(_mm_and_si128(mask, a), _mm_andnot_si128(mask, b));
}
inline __m128 takes4(__m128 best, __m128 v) { return _mm_or_ps(_mm_cmpgt_ps(v, best), _mm_cmpunord_ps(v, v)); }

template <>
void row_update<float>(const float* row, int32_t a, int32_t b, int32_t stride, int32_t off, bool first, float* hv,
                       int32_t* hc) {
  const __m128i lanes = _mm_setr_epi32(0, stride, 2 * stride, 3 * stride);
  int32_t q = a;
  for (; q + 4 <= b; q += 4) {
    const int32_t iw = q * stride + off;
    __m128 v;
    if (stride == 1) {
      v = _mm_loadu_ps(row + iw);
    } else if (stride == 2 && q + 4 < b) {  // reads row[iw + 7], inside the image for all but the last group
      v = _mm_shuffle_ps(_mm_loadu_ps(row + iw), _mm_loadu_ps(row + iw + 4), _MM_SHUFFLE(2, 0, 2, 0));
    } else {
      v = _mm_setr_ps(row[iw], row[iw + stride], row[iw + 2 * stride], row[iw + 3 * stride]);
    }
    const __m128i cols = _mm_add_epi32(_mm_set1_epi32(iw), lanes);
    __m128i* c = reinterpret_cast<__m128i*>(hc + q);
    if (first) {
      _mm_storeu_ps(hv + q, v);
      _mm_storeu_si128(c, cols);
      continue;
    }
    const __m128 best = _mm_loadu_ps(hv + q), take = takes4(best, v);
    _mm_storeu_ps(hv + q, select4(take, v, best));
    _mm_storeu_si128(c, select4(_mm_castps_si128(take), cols, _mm_loadu_si128(c)));
  }
  row_update_scalar(row, q, b, stride, off, first, hv, hc);
}

template <>
void col_update<float>(const float* v_row, int32_t Q, int32_t ih, bool first, float* y, int32_t* best) {
  const __m128i row = _mm_set1_epi32(ih);
  int32_t q = 0;
  for (; q + 4 <= Q; q += 4) {
    const __m128 v = _mm_loadu_ps(v_row + q);
    __m128i* b = reinterpret_cast<__m128i*>(best + q);
    if (first) {
      _mm_storeu_ps(y + q, v);
      _mm_storeu_si128(b, row);
      continue;
    }
    const __m128 cur = _mm_loadu_ps(y + q), take = takes4(cur, v);
    _mm_storeu_ps(y + q, select4(take, v, cur));
    _mm_storeu_si128(b, select4(_mm_castps_si128(take), row, _mm_loadu_si128(b)));
  }
  col_update_scalar(v_row, q, Q, ih, first, y, best);
}
#endif

// Row pass with arguments: hv[q] = max over the inside taps of row, hc[q] = its column (-1 if none).
template <typename T>
void row_pass_argmax(const T* row, const pool::Taps& cols, const Pool2dShape& s, T* hv, int32_t* hc) {
  const int64_t sw = s.stride_w, pw = s.pad_w, dw = s.dil_w;
  for (int64_t q = 0; q < s.Q; ++q) {  // border columns
    if (q == cols.inner_lo && cols.inner_lo < cols.inner_hi) q = cols.inner_hi;
    if (q >= s.Q) break;
    T best = -std::numeric_limits<T>::infinity();
    int64_t at = -1;
    for (int64_t t = cols.lo[q]; t < cols.hi[q]; ++t) {
      const int64_t iw = q * sw - pw + t * dw;
      if (at < 0 || takes(best, row[iw])) best = row[iw], at = iw;
    }
    hv[q] = best;
    hc[q] = static_cast<int32_t>(at);
  }
  for (int64_t t = 0; t < s.S; ++t) {
    row_update(row, static_cast<int32_t>(cols.inner_lo), static_cast<int32_t>(cols.inner_hi),
               static_cast<int32_t>(sw), static_cast<int32_t>(t * dw - pw), t == 0, hv, hc);
  }
}

// One plane: through hv/hc (H x Q, the row pass) and best_row (Q: the input row of each output's maximum).
template <typename T>
void max_plane_argmax(const Pool2dShape& s, const pool::Taps& rows, const pool::Taps& cols, const T* x, T* hv,
                      int32_t* hc, int32_t* best_row, T* y, int64_t* idx) {
  for (int64_t ih = 0; ih < s.H; ++ih) row_pass_argmax(x + ih * s.W, cols, s, hv + ih * s.Q, hc + ih * s.Q);
  for (int64_t p = 0; p < s.P; ++p) {
    T* y_row = y + p * s.Q;
    int64_t* i_row = idx + p * s.Q;
    if (rows.lo[p] >= rows.hi[p]) {
      std::fill(y_row, y_row + s.Q, -std::numeric_limits<T>::infinity());
      std::fill(i_row, i_row + s.Q, int64_t(-1));
      continue;
    }
    const int64_t ih0 = p * s.stride_h - s.pad_h;
    for (int64_t r = rows.lo[p]; r < rows.hi[p]; ++r) {
      const int64_t ih = ih0 + r * s.dil_h;
      col_update(hv + ih * s.Q, static_cast<int32_t>(s.Q), static_cast<int32_t>(ih), r == rows.lo[p], y_row,
                 best_row);
    }
    for (int64_t q = 0; q < s.Q; ++q) {
      const int64_t c = hc[best_row[q] * s.Q + q];
      i_row[q] = c < 0 ? -1 : best_row[q] * s.W + c;
    }
  }
}

// The 2x2 windows at stride 2 without padding or dilation that end inside the image (LeNet's pooling): each
// output's four taps compared in window order by the same rule as the passes above, one output at a time
// (4x faster than the separable passes on LeNet's 28x28 planes, which are too narrow for their vectors).
template <typename T>
void max_plane_2x2_argmax(const Pool2dShape& s, const T* x, T* y, int64_t* idx) {
  for (int64_t p = 0; p < s.P; ++p) {
    const T* r0 = x + 2 * p * s.W;
    const T* r1 = r0 + s.W;
    int64_t q = 0;
#if defined(__SSE2__) || defined(_M_X64)
    if constexpr (std::is_same_v<T, float>) {  // 4 outputs at a time: even and odd columns deinterleaved
      const __m128i lane = _mm_setr_epi32(0, 2, 4, 6);
      for (; 2 * q + 8 <= s.W && q + 4 <= s.Q; q += 4) {
        const int64_t i = 2 * q;
        const __m128 a0 = _mm_loadu_ps(r0 + i), a1 = _mm_loadu_ps(r0 + i + 4);
        const __m128 b0 = _mm_loadu_ps(r1 + i), b1 = _mm_loadu_ps(r1 + i + 4);
        const __m128 v00 = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0));  // window taps (0, 0), (0, 1)
        const __m128 v01 = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1));
        const __m128 v10 = _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0));  // (1, 0), (1, 1)
        const __m128 v11 = _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1));
        const __m128i c00 = _mm_add_epi32(_mm_set1_epi32(static_cast<int32_t>(i)), lane);  // in-plane offsets of
        const __m128i c01 = _mm_add_epi32(c00, _mm_set1_epi32(1));                        // the taps, from row 2p
        const __m128i c10 = _mm_add_epi32(c00, _mm_set1_epi32(static_cast<int32_t>(s.W)));
        const __m128i c11 = _mm_add_epi32(c10, _mm_set1_epi32(1));
        __m128 best = v00;
        __m128i at = c00;
        __m128 t = takes4(best, v01);
        best = select4(t, v01, best);
        at = select4(_mm_castps_si128(t), c01, at);
        t = takes4(best, v10);
        best = select4(t, v10, best);
        at = select4(_mm_castps_si128(t), c10, at);
        t = takes4(best, v11);
        best = select4(t, v11, best);
        at = select4(_mm_castps_si128(t), c11, at);
        _mm_storeu_ps(y + p * s.Q + q, best);
        alignas(16) int32_t offs[4];
        _mm_store_si128(reinterpret_cast<__m128i*>(offs), at);
        for (int l = 0; l < 4; ++l) idx[p * s.Q + q + l] = 2 * p * s.W + offs[l];
      }
    }
#endif
    for (; q < s.Q; ++q) {
      const int64_t i = 2 * q;
      T best = r0[i];
      int64_t at = i;
      const bool t1 = takes(best, r0[i + 1]);
      best = t1 ? r0[i + 1] : best;
      at = t1 ? i + 1 : at;
      const bool t2 = takes(best, r1[i]);
      best = t2 ? r1[i] : best;
      at = t2 ? s.W + i : at;
      const bool t3 = takes(best, r1[i + 1]);
      best = t3 ? r1[i + 1] : best;
      at = t3 ? s.W + i + 1 : at;
      y[p * s.Q + q] = best;
      idx[p * s.Q + q] = 2 * p * s.W + at;
    }
  }
}

bool is_plain_2x2(const Pool2dShape& s) {
  return s.R == 2 && s.S == 2 && s.stride_h == 2 && s.stride_w == 2 && s.pad_h == 0 && s.pad_w == 0 &&
         s.dil_h == 1 && s.dil_w == 1 && 2 * s.P <= s.H && 2 * s.Q <= s.W && 2 * s.W < INT32_MAX;
}

// One window's maximum and its index by a row-major scan of its inside taps (border outputs of the
// one-pass path): -inf and -1 for a window with none.
template <typename T>
void argmax_window(const Pool2dShape& s, const pool::Taps& rows, const pool::Taps& cols, const T* x, int64_t p,
                   int64_t q, T* y, int64_t* idx) {
  T best = -std::numeric_limits<T>::infinity();
  int64_t at = -1;
  for (int64_t r = rows.lo[p]; r < rows.hi[p]; ++r) {
    const int64_t ih = p * s.stride_h - s.pad_h + r * s.dil_h;
    for (int64_t t = cols.lo[q]; t < cols.hi[q]; ++t) {
      const int64_t i = ih * s.W + q * s.stride_w - s.pad_w + t * s.dil_w;
      if (at < 0 || takes(best, x[i])) best = x[i], at = i;
    }
  }
  *y = best;
  *idx = at;
}

// Small square K x K windows (K = 2, 3; dilation 1; column stride SW = 1, 2), interior rows [p0, p1) and
// columns [q0, q1): each output's K*K taps compared in row-major order by the rule above, 4 float outputs
// at a time with SSE2 (the last group of a row overlapping the one before), else one at a time.
template <int K, int SW, typename T>
void argmax_interior(const Pool2dShape& s, const T* x, int64_t p0, int64_t p1, int64_t q0, int64_t q1, T* y,
                     int64_t* idx) {
  const int64_t W = s.W;
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t top = (p * s.stride_h - s.pad_h) * W - s.pad_w;  // in-plane offset of the window of q = 0
    T* y_row = y + p * s.Q;
    int64_t* i_row = idx + p * s.Q;
    int64_t q = q0;
#if defined(__SSE2__) || defined(_M_X64)
    if constexpr (std::is_same_v<T, float>) {
      if (q1 - q0 >= 4) {
        const __m128i lanes = _mm_setr_epi32(0, SW, 2 * SW, 3 * SW);
        for (;;) {
          const bool last = q + 4 >= q1;
          if (last) q = q1 - 4;
          const int32_t base = static_cast<int32_t>(top + q * SW);
          __m128 best = pool::load_taps<SW>(x + base, last);
          __m128i at = _mm_add_epi32(_mm_set1_epi32(base), lanes);
          for (int r = 0; r < K; ++r) {
            for (int t = r == 0 ? 1 : 0; t < K; ++t) {
              const int32_t off = static_cast<int32_t>(r * W + t);
              const __m128 v = pool::load_taps<SW>(x + base + off, last), take = takes4(best, v);
              best = select4(take, v, best);
              at = select4(_mm_castps_si128(take), _mm_add_epi32(_mm_set1_epi32(base + off), lanes), at);
            }
          }
          _mm_storeu_ps(y_row + q, best);
          const __m128i zero = _mm_setzero_si128();  // the offsets are >= 0: zero-extended to 64 bits
          _mm_storeu_si128(reinterpret_cast<__m128i*>(i_row + q), _mm_unpacklo_epi32(at, zero));
          _mm_storeu_si128(reinterpret_cast<__m128i*>(i_row + q + 2), _mm_unpackhi_epi32(at, zero));
          if (last) break;
          q += 4;
        }
        continue;
      }
    }
#endif
    for (; q < q1; ++q) {
      const int64_t base = top + q * SW;
      T best = x[base];
      int64_t at = base;
      for (int r = 0; r < K; ++r) {
        for (int t = r == 0 ? 1 : 0; t < K; ++t) {
          const int64_t i = base + r * W + t;
          const bool take = takes(best, x[i]);
          best = take ? x[i] : best;
          at = take ? i : at;
        }
      }
      y_row[q] = best;
      i_row[q] = at;
    }
  }
}

// The one-pass path of one plane for small windows whose outputs are mostly interior (as pool2d_rows.hpp's
// pool_plane_small decides); false (nothing done) otherwise.
template <typename T>
bool argmax_plane_small(const Pool2dShape& s, const pool::Taps& rows, const pool::Taps& cols, const T* x, T* y,
                        int64_t* idx) {
  if (s.dil_h != 1 || s.dil_w != 1 || s.R != s.S || (s.R != 2 && s.R != 3) || s.stride_w > 2) return false;
  if (s.H * s.W >= INT32_MAX) return false;  // in-plane offsets in 32-bit lanes
  const int64_t p0 = rows.inner_lo, p1 = std::max(p0, rows.inner_hi);
  const int64_t q0 = cols.inner_lo, q1 = std::max(q0, cols.inner_hi);
  if (2 * (p1 - p0) * (q1 - q0) < s.P * s.Q) return false;
  if (s.R == 2) {
    if (s.stride_w == 1) argmax_interior<2, 1>(s, x, p0, p1, q0, q1, y, idx);
    else argmax_interior<2, 2>(s, x, p0, p1, q0, q1, y, idx);
  } else {
    if (s.stride_w == 1) argmax_interior<3, 1>(s, x, p0, p1, q0, q1, y, idx);
    else argmax_interior<3, 2>(s, x, p0, p1, q0, q1, y, idx);
  }
  for (int64_t p = 0; p < s.P; ++p) {
    const bool inner_row = p >= p0 && p < p1;
    for (int64_t q = 0; q < s.Q; ++q) {
      if (inner_row && q == q0) q = q1;  // skip the interior block
      if (q >= s.Q) break;
      argmax_window(s, rows, cols, x, p, q, y + p * s.Q + q, idx + p * s.Q + q);
    }
  }
  return true;
}

// A thread's buffers for the argmax of one plane at a time (the separable passes'; one plane's y and
// indices for the backward without saved indices).
template <typename T>
struct ArgmaxWork {
  std::vector<T> hv, y;
  std::vector<int32_t> hc, best_row;
  std::vector<int64_t> idx;
  ArgmaxWork(const Pool2dShape& s, bool plane_out)
      : hv(s.H * s.Q), y(plane_out ? s.P * s.Q : 0), hc(s.H * s.Q), best_row(s.Q), idx(plane_out ? s.P * s.Q : 0) {}
};

// One plane's maxima and indices, by the first path that takes the shape.
template <typename T>
void argmax_plane(const Pool2dShape& s, const pool::Taps& rows, const pool::Taps& cols, const T* x, T* y,
                  int64_t* idx, ArgmaxWork<T>& work) {
  if (is_plain_2x2(s)) {
    max_plane_2x2_argmax(s, x, y, idx);
  } else if (!argmax_plane_small(s, rows, cols, x, y, idx)) {
    max_plane_argmax(s, rows, cols, x, work.hv.data(), work.hc.data(), work.best_row.data(), y, idx);
  }
}

}  // namespace

namespace cpu {

template <typename T>
void max_pool2d(const Pool2dShape& s, const T* x, T* y, int64_t* indices) {
  const pool::Taps rows(s.P, s.H, s.R, s.stride_h, s.pad_h, s.dil_h);
  const pool::Taps cols(s.Q, s.W, s.S, s.stride_w, s.pad_w, s.dil_w);
  if (!indices) {
    pool::pool_planes(pool::MaxReducer<T>{}, s, rows, cols, x, y, [](T*) {});
    return;
  }
  // The row pass keeps input columns (and rows) in 32 bits.
  if (s.W + s.pad_w >= INT32_MAX || s.H + s.pad_h >= INT32_MAX) {
    throw ArgumentError("max_pool2d: with indices, H and W must be below 2**31 - 1 - padding");
  }
  const int64_t planes = s.N * s.C, HW = s.H * s.W, PQ = s.P * s.Q;
#pragma omp parallel num_threads(threads_for(is_plain_2x2(s) ? planes * PQ / 4096 : planes))
  {
    ArgmaxWork<T> work(s, false);
#pragma omp for schedule(static)
    for (int64_t plane = 0; plane < planes; ++plane) {
      argmax_plane(s, rows, cols, x + plane * HW, y + plane * PQ, indices + plane * PQ, work);
    }
  }
}

template void max_pool2d<float>(const Pool2dShape&, const float*, float*, int64_t*);
template void max_pool2d<double>(const Pool2dShape&, const double*, double*, int64_t*);

// Each gy goes to its window's argmax: the saved indices, or those the forward finds again from x (so ties
// and NaNs follow the forward's rule). Windows that overlap add up; index -1 (a window wholly in the
// padding) receives nothing. An index outside [-1, H*W) is an ArgumentError.
template <typename T>
void max_pool2d_backward(const Pool2dShape& s, const T* gy, const T* x, const int64_t* indices, T* gx) {
  const int64_t planes = s.N * s.C, HW = s.H * s.W, PQ = s.P * s.Q;
  if (!indices && (s.W + s.pad_w >= INT32_MAX || s.H + s.pad_h >= INT32_MAX)) {
    throw ArgumentError("max_pool2d_backward: H and W must be below 2**31 - 1 - padding");
  }
  const pool::Taps rows(s.P, s.H, s.R, s.stride_h, s.pad_h, s.dil_h);
  const pool::Taps cols(s.Q, s.W, s.S, s.stride_w, s.pad_w, s.dil_w);
  int64_t bad = 0;  // planes holding an index out of range
#pragma omp parallel num_threads(threads_for(planes * PQ / 4096))
  {
    // Without saved indices each plane's are found again here, into the thread's buffers, while x is in cache.
    ArgmaxWork<T> work(s, !indices);
#pragma omp for schedule(static) reduction(+ : bad)
    for (int64_t plane = 0; plane < planes; ++plane) {
      const int64_t* idx = indices + plane * PQ;
      if (!indices) {
        argmax_plane(s, rows, cols, x + plane * HW, work.y.data(), work.idx.data(), work);
        idx = work.idx.data();
      }
      T* g = gx + plane * HW;
      std::fill(g, g + HW, T(0));
      const T* d = gy + plane * PQ;
      // (One unsigned comparison for 0 <= i < HW; -1 is the one other index allowed.)
      const uint64_t n = static_cast<uint64_t>(HW);
      bool ok = true;
      for (int64_t o = 0; o < PQ; ++o) {
        const int64_t i = idx[o];
        if (static_cast<uint64_t>(i) < n) {
          g[i] += d[o];
        } else {
          ok &= i == -1;
        }
      }
      bad += ok ? 0 : 1;
    }
  }
  if (bad) {
    throw ArgumentError("max_pool2d_backward: indices must lie in [-1, H*W) = [-1, " + std::to_string(HW) +
                        ") (as max_pool2d returns them)");
  }
}

template void max_pool2d_backward<float>(const Pool2dShape&, const float*, const float*, const int64_t*, float*);
template void max_pool2d_backward<double>(const Pool2dShape&, const double*, const double*, const int64_t*,
                                          double*);

}  // namespace cpu
}  // namespace ck
