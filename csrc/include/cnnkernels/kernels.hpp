// kernels.hpp: the kernels of cnnkernels, declared once for both backends, and the one list of
// convolution algorithm names.
//
// ck::cpu::<name> is defined in csrc/<op>.cpp, ck::cuda::<name> (its twin, same name and arguments) in
// cuda/<op>.cu, as Caffe pairs im2col_cpu and im2col_gpu. Both lists come from one macro, so a twin cannot
// drift from its sibling's signature. Every kernel takes its geometry struct (shapes.hpp, already checked
// by checks.hpp) and C-contiguous NCHW pointers (device memory for ck::cuda), allocates only its own
// workspace, and is instantiated for float and double. The CPU kernels run on ck::num_threads() threads.
//
// The FFT and Winograd convolutions exist on the CPU only (csrc/conv2d_fft.hpp, csrc/conv2d_winograd.hpp).
#pragma once

#include <cstdint>

#include "cnnkernels/shapes.hpp"

namespace ck {

// The convolution algorithms, and their names as the Python API spells them (algo="direct", ...; "auto"
// is not an algorithm but the request to choose one). Indexed by ConvAlgo.
enum class ConvAlgo { direct, im2col, fft, winograd };
constexpr int kConvAlgoCount = 4;
constexpr const char* kConvAlgoNames[kConvAlgoCount] = {"direct", "im2col", "fft", "winograd"};

constexpr const char* conv_algo_name(ConvAlgo a) { return kConvAlgoNames[static_cast<int>(a)]; }

// What a convolution plan computes: the forward output, or one of the gradients of the backward pass (as
// conv2d_plan(direction=...) spells them). The bias gradient is a plain sum and needs no plan.
enum class ConvDirection { forward, backward_input, backward_weight };
constexpr int kConvDirectionCount = 3;
constexpr const char* kConvDirectionNames[kConvDirectionCount] = {"forward", "backward_input", "backward_weight"};

constexpr const char* conv_direction_name(ConvDirection d) { return kConvDirectionNames[static_cast<int>(d)]; }

#define CK_DECLARE_KERNELS                                                                                      \
  /* conv2d. x: N x C x H x W, w: K x C/groups x R x S, bias: K or nullptr, y: N x K x P x Q. */                \
  template <typename T>                                                                                         \
  void conv2d_direct(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);                        \
  template <typename T>                                                                                         \
  void conv2d_im2col(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);                        \
                                                                                                                \
  /* conv2d's gradients, from grad_out gy: N x K x P x Q. grad_input gx: N x C x H x W, grad_weight gw:         \
     K x C/groups x R x S, grad_bias gb: K (each overwritten). */                                               \
  template <typename T>                                                                                         \
  void conv2d_backward_input_direct(const Conv2dShape& s, const T* gy, const T* w, T* gx);                     \
  template <typename T>                                                                                         \
  void conv2d_backward_input_im2col(const Conv2dShape& s, const T* gy, const T* w, T* gx);                     \
  template <typename T>                                                                                         \
  void conv2d_backward_weight_direct(const Conv2dShape& s, const T* gy, const T* x, T* gw);                    \
  template <typename T>                                                                                         \
  void conv2d_backward_weight_im2col(const Conv2dShape& s, const T* gy, const T* x, T* gw);                    \
  template <typename T>                                                                                         \
  void conv2d_backward_bias(const Conv2dShape& s, const T* gy, T* gb);                                         \
                                                                                                                \
  /* Spatial pooling. x: N x C x H x W, y: N x C x P x Q; indices (may be nullptr): N x C x P x Q, int64,     \
     flattened over H*W. divisor_override: 0 for none. */                                                     \
  template <typename T>                                                                                         \
  void max_pool2d(const Pool2dShape& s, const T* x, T* y, int64_t* indices);                                    \
  template <typename T>                                                                                         \
  void avg_pool2d(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override, const T* x, T* y);   \
  template <typename T>                                                                                         \
  void lp_pool2d(const Pool2dShape& s, double norm_type, const T* x, T* y);                                     \
  /* Their gradients gx (N x C x H x W, overwritten) from gy (N x C x P x Q). max_pool2d_backward routes gy    \
     to the argmax: indices as max_pool2d returns them, or nullptr to find them again from x. */               \
  template <typename T>                                                                                         \
  void max_pool2d_backward(const Pool2dShape& s, const T* gy, const T* x, const int64_t* indices, T* gx);      \
  template <typename T>                                                                                         \
  void avg_pool2d_backward(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override, const T* gy, \
                           T* gx);                                                                              \
  template <typename T>                                                                                         \
  void lp_pool2d_backward(const Pool2dShape& s, double norm_type, const T* gy, const T* x, T* gx);             \
                                                                                                                \
  /* Lp pooling across channels. x: N x C x H x W, y: N x K x H x W. */                                         \
  template <typename T>                                                                                         \
  void feature_lp_pool(const FeaturePoolShape& s, double norm_type, const T* x, T* y);                          \
  template <typename T>                                                                                         \
  void feature_lp_pool_backward(const FeaturePoolShape& s, double norm_type, const T* gy, const T* x, T* gx);  \
                                                                                                                \
  /* Local contrast normalization. x, y: N x C x H x W. */                                                      \
  template <typename T>                                                                                         \
  void local_contrast_norm(const LcnShape& s, const T* x, T* y);                                                \
  template <typename T>                                                                                         \
  void local_contrast_norm_backward(const LcnShape& s, const T* gy, const T* x, T* gx);

namespace cpu {
CK_DECLARE_KERNELS
}  // namespace cpu

namespace cuda {
CK_DECLARE_KERNELS
}  // namespace cuda

#undef CK_DECLARE_KERNELS

}  // namespace ck
