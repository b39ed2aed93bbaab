// conv2d_direct.cu: direct convolution and its data and weight gradients on CUDA, twins of csrc/conv2d_direct.cpp and conv2d_backward.cpp. Not written yet: each launcher raises NotImplementedError.
#include "cnnkernels/kernels.hpp"
#include "common.cuh"

namespace ck {
namespace cuda {

// ---------------------------------------------------------------------------------------------------------
// launchers

template <typename T>
void conv2d_direct(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  throw NotImplemented("conv2d_direct is not implemented on CUDA yet");
}

template <typename T>
void conv2d_backward_input_direct(const Conv2dShape& s, const T* gy, const T* w, T* gx) {
  throw NotImplemented("conv2d_backward_input_direct is not implemented on CUDA yet");
}

template <typename T>
void conv2d_backward_weight_direct(const Conv2dShape& s, const T* gy, const T* x, T* gw) {
  throw NotImplemented("conv2d_backward_weight_direct is not implemented on CUDA yet");
}

template void conv2d_direct<float>(const Conv2dShape&, const float*, const float*, const float*, float*);
template void conv2d_direct<double>(const Conv2dShape&, const double*, const double*, const double*, double*);
template void conv2d_backward_input_direct<float>(const Conv2dShape&, const float*, const float*, float*);
template void conv2d_backward_input_direct<double>(const Conv2dShape&, const double*, const double*, double*);
template void conv2d_backward_weight_direct<float>(const Conv2dShape&, const float*, const float*, float*);
template void conv2d_backward_weight_direct<double>(const Conv2dShape&, const double*, const double*, double*);

}  // namespace cuda
}  // namespace ck
