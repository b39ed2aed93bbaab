// max_pool2d.cpp: max pooling with optional argmax indices on the CPU.
//
// PyTorch's semantics: padding acts as -inf, a NaN in the window gives NaN, and the index (flattened over
// the input's H*W) is that of the first maximum in row-major window order, or of the last NaN. A window
// whose dilated taps all fall in the padding gives -inf with index -1.
//
// Both paths are separable (pool2d_rows.hpp): a row pass takes each input row's maximum over the S taps
// of every output column, a column pass the maximum of R such rows. The rule "take b when b > a or b is
// NaN", applied in row-major order, picks the first maximum / last NaN; applied to row maxima in row
// order it picks the same tap as one row-major scan of the whole window, so the indices match PyTorch's.
#include <cstdint>
#include <vector>

#include "cnnkernels/kernels.hpp"
#include "cnnkernels/threads.hpp"
#include "pool2d_rows.hpp"

namespace ck {
namespace {

template <typename T>
inline bool takes(T best, T v) {
  return v > best || v != v;
}

// Row pass with arguments: hv[q] = max over the inside taps of row, hc[q] = its column (-1 if none). The
// interior loops are branch-free (a data-dependent branch per tap mispredicts on real data) and keep
// columns in 32 bits, lane for lane with float values, so that they vectorise.
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
  const int32_t a = static_cast<int32_t>(cols.inner_lo), b = static_cast<int32_t>(cols.inner_hi);
  const int32_t stride = static_cast<int32_t>(sw);
  for (int32_t t = 0; t < s.S; ++t) {
    const int32_t off = static_cast<int32_t>(t * dw - pw);
    for (int32_t q = a; q < b; ++q) {
      const int32_t iw = q * stride + off;
      const T v = row[iw];
      const bool take = t == 0 || ((v > hv[q]) | (v != v));
      hv[q] = take ? v : hv[q];
      hc[q] = take ? iw : hc[q];
    }
  }
}

// One plane: through hv/hc (H x Q, the row pass) and best_row (Q: the input row of each output's maximum).
template <typename T>
void max_plane_argmax(const Pool2dShape& s, const pool::Taps& rows, const pool::Taps& cols, const T* x, T* hv,
                      int32_t* hc, int32_t* best_row, T* y, int64_t* idx) {
  for (int64_t ih = 0; ih < s.H; ++ih) row_pass_argmax(x + ih * s.W, cols, s, hv + ih * s.Q, hc + ih * s.Q);
  const int32_t Q = static_cast<int32_t>(s.Q);
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
      const int32_t ih = static_cast<int32_t>(ih0 + r * s.dil_h);
      const T* v_row = hv + ih * s.Q;
      const bool first = r == rows.lo[p];
      for (int32_t q = 0; q < Q; ++q) {
        const T v = v_row[q];
        const bool take = first || ((v > y_row[q]) | (v != v));
        y_row[q] = take ? v : y_row[q];
        best_row[q] = take ? ih : best_row[q];
      }
    }
    for (int64_t q = 0; q < s.Q; ++q) {
      const int64_t c = hc[best_row[q] * s.Q + q];
      i_row[q] = c < 0 ? -1 : best_row[q] * s.W + c;
    }
  }
}

}  // namespace

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

}  // namespace ck
