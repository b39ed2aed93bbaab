// local_contrast_norm.cu: local contrast normalization and its gradient on CUDA, twins of csrc/local_contrast_norm.cpp. Not written yet: each launcher raises NotImplementedError.
#include "cnnkernels/kernels.hpp"
#include "common.cuh"

namespace ck {
namespace cuda {

// ---------------------------------------------------------------------------------------------------------
// launchers

template <typename T>
void local_contrast_norm(const LcnShape& s, const T* x, T* y) {
  throw NotImplemented("local_contrast_norm is not implemented on CUDA yet");
}

template <typename T>
void local_contrast_norm_backward(const LcnShape& s, const T* gy, const T* x, T* gx) {
  throw NotImplemented("local_contrast_norm_backward is not implemented on CUDA yet");
}

template void local_contrast_norm<float>(const LcnShape&, const float*, float*);
template void local_contrast_norm<double>(const LcnShape&, const double*, double*);
template void local_contrast_norm_backward<float>(const LcnShape&, const float*, const float*, float*);
template void local_contrast_norm_backward<double>(const LcnShape&, const double*, const double*, double*);

}  // namespace cuda
}  // namespace ck
