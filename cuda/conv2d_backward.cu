// conv2d_backward.cu: conv2d's gradients on CUDA, twins of csrc/conv2d_backward.cpp. Not written yet: each launcher raises NotImplementedError.
#include "cnnkernels/kernels.hpp"
#include "common.cuh"

namespace ck {
namespace cuda {

// ---------------------------------------------------------------------------------------------------------
// launchers

template <typename T>
void conv2d_backward_input_direct(const Conv2dShape& s, const T* gy, const T* w, T* gx) {
  throw NotImplemented("conv2d_backward_input_direct is not implemented on CUDA yet");
}

template <typename T>
void conv2d_backward_input_im2col(const Conv2dShape& s, const T* gy, const T* w, T* gx) {
  throw NotImplemented("conv2d_backward_input_im2col is not implemented on CUDA yet");
}

template <typename T>
void conv2d_backward_weight_direct(const Conv2dShape& s, const T* gy, const T* x, T* gw) {
  throw NotImplemented("conv2d_backward_weight_direct is not implemented on CUDA yet");
}

template <typename T>
void conv2d_backward_weight_im2col(const Conv2dShape& s, const T* gy, const T* x, T* gw) {
  throw NotImplemented("conv2d_backward_weight_im2col is not implemented on CUDA yet");
}

template <typename T>
void conv2d_backward_bias(const Conv2dShape& s, const T* gy, T* gb) {
  throw NotImplemented("conv2d_backward_bias is not implemented on CUDA yet");
}

template void conv2d_backward_input_direct<float>(const Conv2dShape&, const float*, const float*, float*);
template void conv2d_backward_input_direct<double>(const Conv2dShape&, const double*, const double*, double*);
template void conv2d_backward_input_im2col<float>(const Conv2dShape&, const float*, const float*, float*);
template void conv2d_backward_input_im2col<double>(const Conv2dShape&, const double*, const double*, double*);
template void conv2d_backward_weight_direct<float>(const Conv2dShape&, const float*, const float*, float*);
template void conv2d_backward_weight_direct<double>(const Conv2dShape&, const double*, const double*, double*);
template void conv2d_backward_weight_im2col<float>(const Conv2dShape&, const float*, const float*, float*);
template void conv2d_backward_weight_im2col<double>(const Conv2dShape&, const double*, const double*, double*);
template void conv2d_backward_bias<float>(const Conv2dShape&, const float*, float*);
template void conv2d_backward_bias<double>(const Conv2dShape&, const double*, double*);

}  // namespace cuda
}  // namespace ck
