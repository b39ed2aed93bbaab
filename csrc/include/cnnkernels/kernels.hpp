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
template <typename T>
void conv2d_fft(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);

// Extra memory (bytes) the im2col algorithm allocates for this geometry: the bounded column buffer.
int64_t conv2d_im2col_workspace(const Conv2dShape& s, int64_t elem_bytes);

// How algo="fft" runs a geometry (conv2d_fft.cpp): a stride > 1 convolution is first split into phases
// (polyphase), giving one stride-1 correlation with more input channels; its output is cut into tiles, each
// computed by overlap-save with one fft_h x fft_w real transform per channel. One operand's spectra are
// computed first and shared (the kernels', or the input tiles'), then work items each transform their share
// of the other operand, multiply and inverse-transform. Chosen by a cost model of transform and pointwise
// work under a memory bound; it does not depend on the thread count (nor do the results).
struct Conv2dFftPlan {
  int64_t fft_h = 0, fft_w = 0;        // transform size
  int64_t tile_h = 0, tile_w = 0;      // output tile per transform: fft - kernel + 1
  int64_t tiles_h = 0, tiles_w = 0;    // tiles per image
  int64_t kernel_h = 0, kernel_w = 0;  // kernel of the stride-1 problem (dilated, then split into phases)
  int64_t in_h = 0, in_w = 0;          // its input: the image, or one phase image (padding folded in)
  bool polyphase = false;              // stride > 1 computed as a sum over phases
  int64_t phases_h = 1, phases_w = 1;  // phases that carry kernel taps, per dimension
  int64_t channels = 0;                // input channels of the stride-1 problem: C/groups * phases
  bool kernels_first = true;           // shared: kernel spectra (items: tiles), else tile spectra (items: k)
  int64_t tile_batch = 0;              // kernels first: tiles per work item; else tiles per pass
  int64_t k_block = 0;                 // kernels first: output channels per pass; else per work item
  int64_t passes = 1;                  // > 1: the shared spectra come in parts, the others are redone per part
  int64_t transforms_in = 0;           // forward transforms of input tiles (one per tile and channel)
  int64_t transforms_kernel = 0;       // forward transforms of kernels
  int64_t transforms_out = 0;          // inverse transforms (one per tile and output channel)
  int64_t complex_macs = 0;            // pointwise complex multiply-adds (bins padded to whole blocks)
  int64_t spectra_bytes = 0;           // memory as planned: spectra, staging, FFT scratch (4 threads)
  int64_t workspace_bytes = 0;         // all extra memory of one call with the current thread count
  double cost = 0;                     // the model's estimate (about ns of one core)
};

// Choices to impose on the plan, for tests and experiments (0: the cost model's).
struct Conv2dFftForce {
  int64_t fft_h = 0, fft_w = 0;  // transform size (at least the kernel_h x kernel_w of the stride-1 problem)
  int order = 0;                 // 1: kernels first, 2: tiles first
  int64_t budget_bytes = 0;      // memory bound in place of max(2 x (x + y + weight), 4 MiB)
};

// Whether algo="fft" can run this geometry: false only for dilated kernels too large to transform (2^30
// points); conv2d_fft and plan_conv2d_fft throw ArgumentError for those.
bool conv2d_fft_supported(const Conv2dShape& s);

// The plan conv2d_fft uses (cached per geometry).
Conv2dFftPlan plan_conv2d_fft(const Conv2dShape& s, int64_t elem_bytes, const Conv2dFftForce& force = {});
template <typename T>
void conv2d_fft_with_plan(const Conv2dShape& s, const Conv2dFftPlan& plan, const T* x, const T* w, const T* bias,
                          T* y);

// The algorithm algo="auto" runs for this geometry (a cost model; times nothing).
ConvAlgo choose_conv2d_algo(const Conv2dShape& s, int64_t elem_bytes);
// Output channels per weight block of the active ISA's SIMD direct kernel (2 vectors).
int64_t conv2d_direct_block_channels(int64_t elem_bytes);

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
