// feature_lp_pool.cpp: Lp pooling across feature maps on the CPU.
//
// y[n, k, h, w] = (sum over c in [k*stride, k*stride + width) of x[n, c, h, w]**p) ** (1/p): the pooling
// window runs over channels at each pixel, so the inner loop is a unit-stride pass over the H*W plane.
#include <algorithm>

#include "cnnkernels/kernels.hpp"
#include "cnnkernels/lp.hpp"
#include "threads.hpp"

namespace ck {

namespace cpu {

template <typename T>
void feature_lp_pool(const FeaturePoolShape& s, double norm_type, const T* x, T* y) {
  const LpNorm norm(norm_type);
  const int64_t HW = s.H * s.W, planes = s.N * s.K;
#pragma omp parallel for schedule(static) num_threads(threads_for(planes))
  for (int64_t nk = 0; nk < planes; ++nk) {
    const int64_t n = nk / s.K, k = nk % s.K;
    const T* x_k = x + (n * s.C + k * s.stride) * HW;
    T* y_k = y + nk * HW;
    std::fill(y_k, y_k + HW, T(0));
    for (int64_t c = 0; c < s.width; ++c) {
      const T* x_c = x_k + c * HW;
      for (int64_t i = 0; i < HW; ++i) y_k[i] += norm.power(x_c[i]);
    }
    for (int64_t i = 0; i < HW; ++i) y_k[i] = norm.root(y_k[i]);
  }
}

template void feature_lp_pool<float>(const FeaturePoolShape&, double, const float*, float*);
template void feature_lp_pool<double>(const FeaturePoolShape&, double, const double*, double*);

}  // namespace cpu
}  // namespace ck
