// lp_pool2d.cu: Lp pooling and its gradient on CUDA, twins of csrc/lp_pool2d.cpp. Not written yet: each launcher raises NotImplementedError.
#include "cnnkernels/kernels.hpp"
#include "common.cuh"

namespace ck {
namespace cuda {

// ---------------------------------------------------------------------------------------------------------
// launchers

template <typename T>
void lp_pool2d(const Pool2dShape& s, double norm_type, const T* x, T* y) {
  throw NotImplemented("lp_pool2d is not implemented on CUDA yet");
}

template <typename T>
void lp_pool2d_backward(const Pool2dShape& s, double norm_type, const T* gy, const T* x, T* gx) {
  throw NotImplemented("lp_pool2d_backward is not implemented on CUDA yet");
}

template void lp_pool2d<float>(const Pool2dShape&, double, const float*, float*);
template void lp_pool2d<double>(const Pool2dShape&, double, const double*, double*);
template void lp_pool2d_backward<float>(const Pool2dShape&, double, const float*, const float*, float*);
template void lp_pool2d_backward<double>(const Pool2dShape&, double, const double*, const double*, double*);

}  // namespace cuda
}  // namespace ck
