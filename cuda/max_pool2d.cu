// max_pool2d.cu: max pooling (with int64 indices) and its gradient on CUDA, twins of csrc/max_pool2d.cpp. Not written yet: each launcher raises NotImplementedError.
#include "cnnkernels/kernels.hpp"
#include "common.cuh"

namespace ck {
namespace cuda {

// ---------------------------------------------------------------------------------------------------------
// launchers

template <typename T>
void max_pool2d(const Pool2dShape& s, const T* x, T* y, int64_t* indices) {
  throw NotImplemented("max_pool2d is not implemented on CUDA yet");
}

template <typename T>
void max_pool2d_backward(const Pool2dShape& s, const T* gy, const T* x, const int64_t* indices, T* gx) {
  throw NotImplemented("max_pool2d_backward is not implemented on CUDA yet");
}

template void max_pool2d<float>(const Pool2dShape&, const float*, float*, int64_t*);
template void max_pool2d<double>(const Pool2dShape&, const double*, double*, int64_t*);
template void max_pool2d_backward<float>(const Pool2dShape&, const float*, const float*, const int64_t*, float*);
template void max_pool2d_backward<double>(const Pool2dShape&, const double*, const double*, const int64_t*, double*);

}  // namespace cuda
}  // namespace ck
