// feature_lp_pool.cu: Lp pooling across feature maps and its gradient on CUDA, twins of csrc/feature_lp_pool.cpp. Not written yet: each launcher raises NotImplementedError.
#include "cnnkernels/kernels.hpp"
#include "common.cuh"

namespace ck {
namespace cuda {

// ---------------------------------------------------------------------------------------------------------
// launchers

template <typename T>
void feature_lp_pool(const FeaturePoolShape& s, double norm_type, const T* x, T* y) {
  throw NotImplemented("feature_lp_pool is not implemented on CUDA yet");
}

template <typename T>
void feature_lp_pool_backward(const FeaturePoolShape& s, double norm_type, const T* gy, const T* x, T* gx) {
  throw NotImplemented("feature_lp_pool_backward is not implemented on CUDA yet");
}

template void feature_lp_pool<float>(const FeaturePoolShape&, double, const float*, float*);
template void feature_lp_pool<double>(const FeaturePoolShape&, double, const double*, double*);
template void feature_lp_pool_backward<float>(const FeaturePoolShape&, double, const float*, const float*, float*);
template void feature_lp_pool_backward<double>(const FeaturePoolShape&, double, const double*, const double*, double*);

}  // namespace cuda
}  // namespace ck
