// max_pool2d.cpp: max pooling with optional argmax indices on the CPU.
//
// PyTorch's semantics: padding acts as -inf, a NaN in the window gives NaN, and the index (flattened over
// the input's H*W) is that of the first maximum in row-major window order, or of the last NaN. A window
// whose dilated taps all fall in the padding gives -inf with index -1.
#include <cmath>
#include <limits>

#include "cnnkernels/kernels.hpp"
#include "cnnkernels/threads.hpp"

namespace ck {

template <typename T>
void max_pool2d(const Pool2dShape& s, const T* x, T* y, int64_t* indices) {
  const int64_t planes = s.N * s.C, HW = s.H * s.W, PQ = s.P * s.Q;
#pragma omp parallel for schedule(static) num_threads(threads_for(planes))
  for (int64_t plane = 0; plane < planes; ++plane) {
    const T* x_c = x + plane * HW;
    T* y_c = y + plane * PQ;
    int64_t* i_c = indices ? indices + plane * PQ : nullptr;
    for (int64_t p = 0; p < s.P; ++p) {
      int64_t r_lo, r_hi;  // taps r whose row p*sh + r*dh - ph lies inside the image
      detail::inside_range(p * s.stride_h - s.pad_h, s.dil_h, s.H, s.R, &r_lo, &r_hi);
      for (int64_t q = 0; q < s.Q; ++q) {
        int64_t t_lo, t_hi;
        detail::inside_range(q * s.stride_w - s.pad_w, s.dil_w, s.W, s.S, &t_lo, &t_hi);
        T best = -std::numeric_limits<T>::infinity();
        int64_t best_index = -1;
        for (int64_t r = r_lo; r < r_hi; ++r) {
          const int64_t ih = p * s.stride_h - s.pad_h + r * s.dil_h;
          for (int64_t t = t_lo; t < t_hi; ++t) {
            const int64_t i = ih * s.W + q * s.stride_w - s.pad_w + t * s.dil_w;
            const T v = x_c[i];
            if (best_index < 0 || v > best || std::isnan(v)) {  // the first in-bounds tap always starts
              best = v;
              best_index = i;
            }
          }
        }
        y_c[p * s.Q + q] = best;
        if (i_c) i_c[p * s.Q + q] = best_index;
      }
    }
  }
}

template void max_pool2d<float>(const Pool2dShape&, const float*, float*, int64_t*);
template void max_pool2d<double>(const Pool2dShape&, const double*, double*, int64_t*);

}  // namespace ck
