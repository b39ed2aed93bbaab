// conv2d_im2col.cpp: 2-D convolution as im2col + GEMM on the CPU.
//
// Per image n and group g, the convolution is one matrix product
//   y[K/g x P*Q] = w[K/g x (C/g)*R*S] · col[(C/g)*R*S x P*Q],
// where column j of `col` holds the input patch under output pixel j (zeros where it overlaps padding).
// The column matrix is built a slab of output pixels at a time, so its memory stays bounded whatever the
// layer size. A 1x1 stride-1 unpadded convolution needs no column matrix: x itself is the B operand.
#include <algorithm>
#include <vector>

#include "cnnkernels/gemm.hpp"
#include "cnnkernels/kernels.hpp"
#include "cnnkernels/threads.hpp"

namespace ck {
namespace {

constexpr int64_t kColumnBytes = 4 << 20;  // upper bound on the column buffer

bool is_pointwise(const Conv2dShape& s) {
  return s.R == 1 && s.S == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 && s.pad_bottom == 0 &&
         s.pad_left == 0 && s.pad_right == 0;
}

// Output pixels per column slab: as many as fit in kColumnBytes (at least 64).
int64_t slab_width(const Conv2dShape& s, int64_t elem_bytes) {
  const int64_t rows = s.C_per_group() * s.R * s.S;
  return std::min(s.P * s.Q, std::max<int64_t>(64, kColumnBytes / elem_bytes / rows));
}

// col[row, j - j0] for rows (c, r, t) of group channels [c0, c0 + C/g) and output pixels j in [j0, j1).
template <typename T>
void im2col_slab(const Conv2dShape& s, const T* x_n, int64_t c0, int64_t j0, int64_t j1, T* col) {
  const int64_t rows = s.C_per_group() * s.R * s.S, width = j1 - j0;
#pragma omp parallel for schedule(static) num_threads(threads_for(rows))
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t c = row / (s.R * s.S), r = row / s.S % s.R, t = row % s.S;
    const T* x_c = x_n + (c0 + c) * s.H * s.W;
    const int64_t col_offset = t * s.dil_w - s.pad_left;
    int64_t q_lo, q_hi;
    detail::inside_range(col_offset, s.stride_w, s.W, s.Q, &q_lo, &q_hi);
    T* out = col + row * width;
    for (int64_t j = j0; j < j1;) {  // one output row p (or the part of it inside the slab) at a time
      const int64_t p = j / s.Q, q_begin = j % s.Q, q_end = std::min(s.Q, q_begin + (j1 - j));
      T* o = out + (j - j0) - q_begin;  // o[q] is output pixel (p, q), q in [q_begin, q_end)
      const int64_t ih = p * s.stride_h + r * s.dil_h - s.pad_top;
      if (ih < 0 || ih >= s.H) {
        std::fill(o + q_begin, o + q_end, T(0));
      } else {
        const T* x_row = x_c + ih * s.W;
        const int64_t lo = std::max(q_begin, q_lo), hi = std::min(q_end, q_hi);
        for (int64_t q = q_begin; q < std::min(lo, q_end); ++q) o[q] = T(0);
        for (int64_t q = lo; q < hi; ++q) o[q] = x_row[q * s.stride_w + col_offset];
        for (int64_t q = std::max(hi, q_begin); q < q_end; ++q) o[q] = T(0);
      }
      j += q_end - q_begin;
    }
  }
}

}  // namespace

int64_t conv2d_im2col_workspace(const Conv2dShape& s, int64_t elem_bytes) {
  if (is_pointwise(s)) return 0;
  return s.C_per_group() * s.R * s.S * slab_width(s, elem_bytes) * elem_bytes;
}

template <typename T>
void conv2d_im2col(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t Cg = s.C_per_group(), Kg = s.K_per_group(), PQ = s.P * s.Q, HW = s.H * s.W;
  const int64_t rows = Cg * s.R * s.S;  // GEMM depth
  const bool pointwise = is_pointwise(s);

  for (int64_t i = 0; i < s.N * s.K; ++i) std::fill(y + i * PQ, y + (i + 1) * PQ, bias ? bias[i % s.K] : T(0));

  const int64_t slab = pointwise ? PQ : slab_width(s, sizeof(T));
  std::vector<T> col(pointwise ? 0 : rows * slab);
  for (int64_t n = 0; n < s.N; ++n) {
    const T* x_n = x + n * s.C * HW;
    for (int64_t g = 0; g < s.groups; ++g) {
      const T* w_g = w + g * Kg * rows;
      T* y_ng = y + (n * s.K + g * Kg) * PQ;
      if (pointwise) {
        gemm<T>(Kg, PQ, Cg, w_g, rows, x_n + g * Cg * HW, HW, y_ng, PQ, true);
        continue;
      }
      for (int64_t j0 = 0; j0 < PQ; j0 += slab) {
        const int64_t j1 = std::min(PQ, j0 + slab);
        im2col_slab(s, x_n, g * Cg, j0, j1, col.data());
        gemm<T>(Kg, j1 - j0, rows, w_g, rows, col.data(), j1 - j0, y_ng + j0, PQ, true);
      }
    }
  }
}

template void conv2d_im2col<float>(const Conv2dShape&, const float*, const float*, const float*, float*);
template void conv2d_im2col<double>(const Conv2dShape&, const double*, const double*, const double*, double*);

}  // namespace ck
