// kernels.hpp: the CPU kernels of cnnkernels, one per operation and algorithm.
//
// Every kernel takes its geometry struct (shapes.hpp, already checked) and raw C-contiguous NCHW
// pointers; it allocates only its own workspace and parallelises with ck::num_threads() threads.
// The CUDA twins in cuda/ have the same names and arguments. Instantiated for float and double.
#pragma once

#include <cstdint>

#include "cnnkernels/shapes.hpp"

namespace ck {

enum class ConvAlgo { direct, im2col, fft };

// x: N x C x H x W, w: K x C/groups x R x S, bias: K or nullptr, y: N x K x P x Q.
template <typename T>
void conv2d_direct(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
template <typename T>
void conv2d_im2col(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);

// Extra memory (bytes) the im2col algorithm allocates for this geometry: the bounded column buffer.
int64_t conv2d_im2col_workspace(const Conv2dShape& s, int64_t elem_bytes);

// The algorithm algo="auto" runs for this geometry (a cost model; times nothing).
ConvAlgo choose_conv2d_algo(const Conv2dShape& s, int64_t elem_bytes);

// x: N x C x H x W, y: N x C x P x Q; indices (may be nullptr): N x C x P x Q, flattened over H*W.
template <typename T>
void max_pool2d(const Pool2dShape& s, const T* x, T* y, int64_t* indices);
template <typename T>
void avg_pool2d(const Pool2dShape& s, bool count_include_pad, const T* x, T* y);
template <typename T>
void lp_pool2d(const Pool2dShape& s, double norm_type, const T* x, T* y);

// x: N x C x H x W, y: N x K x H x W.
template <typename T>
void feature_lp_pool(const FeaturePoolShape& s, double norm_type, const T* x, T* y);

// x, y: N x C x H x W.
template <typename T>
void local_contrast_norm(const LcnShape& s, const T* x, T* y);

}  // namespace ck
