// lp_pool2d.cpp: power-average (Lp) pooling on the CPU: y = (sum over the window of x**p) ** (1/p).
//
// No padding (as PyTorch). With ceil_mode a partial window at the bottom/right edge sums the elements it
// has; PyTorch instead rescales such a window by R*S / (elements it has).
#include <algorithm>

#include "cnnkernels/kernels.hpp"
#include "cnnkernels/lp.hpp"
#include "cnnkernels/threads.hpp"

namespace ck {

template <typename T>
void lp_pool2d(const Pool2dShape& s, double norm_type, const T* x, T* y) {
  const LpNorm norm(norm_type);
  const int64_t planes = s.N * s.C, HW = s.H * s.W, PQ = s.P * s.Q;
#pragma omp parallel for schedule(static) num_threads(threads_for(planes))
  for (int64_t plane = 0; plane < planes; ++plane) {
    const T* x_c = x + plane * HW;
    T* y_c = y + plane * PQ;
    for (int64_t p = 0; p < s.P; ++p) {
      const int64_t ih0 = p * s.stride_h, ih1 = std::min(ih0 + s.R, s.H);
      for (int64_t q = 0; q < s.Q; ++q) {
        const int64_t iw0 = q * s.stride_w, iw1 = std::min(iw0 + s.S, s.W);
        T sum = 0;
        for (int64_t ih = ih0; ih < ih1; ++ih) {
          for (int64_t iw = iw0; iw < iw1; ++iw) sum += norm.power(x_c[ih * s.W + iw]);
        }
        y_c[p * s.Q + q] = norm.root(sum);
      }
    }
  }
}

template void lp_pool2d<float>(const Pool2dShape&, double, const float*, float*);
template void lp_pool2d<double>(const Pool2dShape&, double, const double*, double*);

}  // namespace ck
