// max_pool2d.cpp: max pooling with optional argmax indices on the CPU.
//
// PyTorch's semantics: padding acts as -inf, a NaN in the window gives NaN, and the index (flattened over
// the input's H*W) is that of the first maximum in row-major window order, or of the last NaN. A window
// whose dilated taps all fall in the padding gives -inf with index -1.
//
// Values only: the passes of pool2d_rows.hpp (one pass for small windows, else separable). With indices:
// separable, a row pass taking each input row's maximum over the S taps of every output column and its
// column, a column pass the maximum of R such rows and its row; their interior loops are branch-free (SSE2
// for float). The rule "take b when b > a or b is NaN", applied in row-major order, picks the first
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
  if (is_plain_2x2(s)) {
#pragma omp parallel for schedule(static) num_threads(threads_for(planes * PQ / 4096))
    for (int64_t plane = 0; plane < planes; ++plane) {
      max_plane_2x2_argmax(s, x + plane * HW, y + plane * PQ, indices + plane * PQ);
    }
    return;
  }
#pragma omp parallel num_threads(threads_for(planes))
  {
    std::vector<T> hv(s.H * s.Q);
    std::vector<int32_t> hc(s.H * s.Q), best_row(s.Q);
#pragma omp for schedule(static)
    for (int64_t plane = 0; plane < planes; ++plane) {
      max_plane_argmax(s, rows, cols, x + plane * HW, hv.data(), hc.data(), best_row.data(), y + plane * PQ,
                       indices + plane * PQ);
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
  std::vector<int64_t> found;
  if (!indices) {
    std::vector<T> y(planes * PQ);
    found.resize(planes * PQ);
    max_pool2d<T>(s, x, y.data(), found.data());
    indices = found.data();
  }
  int64_t bad = 0;  // planes holding an index out of range
#pragma omp parallel for schedule(static) reduction(+ : bad) num_threads(threads_for(planes * PQ / 4096))
  for (int64_t plane = 0; plane < planes; ++plane) {
    T* g = gx + plane * HW;
    std::fill(g, g + HW, T(0));
    const int64_t* idx = indices + plane * PQ;
    const T* d = gy + plane * PQ;
    bool ok = true;
    for (int64_t o = 0; o < PQ; ++o) {
      const int64_t i = idx[o];
      if (i >= 0 && i < HW) {
        g[i] += d[o];
      } else if (i != -1) {
        ok = false;
      }
    }
    bad += ok ? 0 : 1;
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
