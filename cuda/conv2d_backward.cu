// conv2d_backward.cu: conv2d's bias gradient on CUDA, twins of csrc/conv2d_backward.cpp. Not written yet: each launcher raises NotImplementedError.
#include "cnnkernels/kernels.hpp"
#include "common.cuh"

namespace ck {
namespace cuda {

// ---------------------------------------------------------------------------------------------------------
// launchers

template <typename T>
void conv2d_backward_bias(const Conv2dShape& s, const T* gy, T* gb) {
  throw NotImplemented("conv2d_backward_bias is not implemented on CUDA yet");
}

template void conv2d_backward_bias<float>(const Conv2dShape&, const float*, float*);
template void conv2d_backward_bias<double>(const Conv2dShape&, const double*, double*);

}  // namespace cuda
}  // namespace ck
