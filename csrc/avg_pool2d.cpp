// avg_pool2d.cpp: average pooling on the CPU, with PyTorch's count_include_pad and ceil_mode rules.
//
// A window covers rows [p*sh - ph, p*sh - ph + R) clipped to the padded input [-ph, H + ph) (ceil_mode
// can add windows that run past it); count_include_pad divides by that clipped window's area, otherwise
// by the number of input pixels it covers.
#include <algorithm>

#include "cnnkernels/kernels.hpp"
#include "cnnkernels/threads.hpp"

namespace ck {

template <typename T>
void avg_pool2d(const Pool2dShape& s, bool count_include_pad, const T* x, T* y) {
  const int64_t planes = s.N * s.C, HW = s.H * s.W, PQ = s.P * s.Q;
#pragma omp parallel for schedule(static) num_threads(threads_for(planes))
  for (int64_t plane = 0; plane < planes; ++plane) {
    const T* x_c = x + plane * HW;
    T* y_c = y + plane * PQ;
    for (int64_t p = 0; p < s.P; ++p) {
      const int64_t h0 = p * s.stride_h - s.pad_h, h1 = std::min(h0 + s.R, s.H + s.pad_h);
      const int64_t ih0 = std::max<int64_t>(h0, 0), ih1 = std::min(h1, s.H);
      for (int64_t q = 0; q < s.Q; ++q) {
        const int64_t w0 = q * s.stride_w - s.pad_w, w1 = std::min(w0 + s.S, s.W + s.pad_w);
        const int64_t iw0 = std::max<int64_t>(w0, 0), iw1 = std::min(w1, s.W);
        T sum = 0;
        for (int64_t ih = ih0; ih < ih1; ++ih) {
          for (int64_t iw = iw0; iw < iw1; ++iw) sum += x_c[ih * s.W + iw];
        }
        const int64_t count = count_include_pad ? (h1 - h0) * (w1 - w0) : (ih1 - ih0) * (iw1 - iw0);
        y_c[p * s.Q + q] = count > 0 ? sum / T(count) : T(0);
      }
    }
  }
}

template void avg_pool2d<float>(const Pool2dShape&, bool, const float*, float*);
template void avg_pool2d<double>(const Pool2dShape&, bool, const double*, double*);

}  // namespace ck
