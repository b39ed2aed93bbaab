// feature_lp_pool.cpp: Lp pooling across feature maps on the CPU.
//
// y[n, k, h, w] = (sum over c in [k*stride, k*stride + width) of x[n, c, h, w]**p) ** (1/p): the pooling
// window runs over channels at each pixel, so the inner loop is a unit-stride pass over the H*W plane.
#include <algorithm>
#include <vector>

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

// gx[n, c] = sum over the output channels k whose window holds c of gy[n, k] * (x[n, c] / y[n, k])^(p-1)
// (lp.hpp: x^(p-1) times the sum of gy / y^(p-1)), y from the forward; images in parallel (windows overlap
// when stride < width).
template <typename T>
void feature_lp_pool_backward(const FeaturePoolShape& s, double norm_type, const T* gy, const T* x, T* gx) {
  const LpNorm norm(norm_type);
  std::vector<T> y(s.output().numel());
  feature_lp_pool<T>(s, norm_type, x, y.data());
  const int64_t HW = s.H * s.W;
#pragma omp parallel for schedule(static) num_threads(threads_for(s.N * s.C * HW / 16384))
  for (int64_t n = 0; n < s.N; ++n) {
    T* gx_n = gx + n * s.C * HW;
    std::fill(gx_n, gx_n + s.C * HW, T(0));
    for (int64_t k = 0; k < s.K; ++k) {
      const T* gy_k = gy + (n * s.K + k) * HW;
      const T* y_k = y.data() + (n * s.K + k) * HW;
      for (int64_t c = k * s.stride; c < k * s.stride + s.width; ++c) {
        const T* x_c = x + (n * s.C + c) * HW;
        T* g = gx_n + c * HW;
        for (int64_t i = 0; i < HW; ++i) g[i] += gy_k[i] * norm.output_factor(y_k[i]);
      }
    }
    for (int64_t i = 0; i < s.C * HW; ++i) {
      if (gx_n[i] != T(0)) gx_n[i] *= norm.input_factor(x[n * s.C * HW + i]);  // untouched channels stay 0
    }
  }
}

template void feature_lp_pool_backward<float>(const FeaturePoolShape&, double, const float*, const float*, float*);
template void feature_lp_pool_backward<double>(const FeaturePoolShape&, double, const double*, const double*,
                                               double*);

}  // namespace cpu
}  // namespace ck
