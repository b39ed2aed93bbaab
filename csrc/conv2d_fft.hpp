// conv2d_fft.hpp: 2-D convolution (cross-correlation) through the Fourier domain on the CPU, algo="fft": its
// plan (planned in conv2d_fft_plan.cpp) and its kernel (conv2d_fft.cpp).
//
// Dimensions: N batch, C in-channels, K out-channels, H W input, R S kernel, P Q output; per group
// Cg = C/groups and Kg = K/groups (groups are independent convolutions).
//
// 1. Stride-1 problem. A stride-1 layer is used as it is: its kernel is the dilated kernel (zeros between
//    the taps), its input the image, read in place with the padding as zero fill. A layer with stride
//    (sh, sw) > 1 is split into phases (polyphase): with the dilated kernel wd and the padded image xp,
//        y[p][q] = sum_(a,b) sum_(u,v) z_ab[p + u][q + v] · w_ab[u][v],
//        z_ab[i][j] = xp[i*sh + a][j*sw + b],   w_ab[u][v] = wd[u*sh + a][v*sw + b],
//    i.e. a stride-1 correlation whose input channels are the Cg·sh·sw phase images and whose kernels are
//    the phase kernels of about R/sh x S/sw taps. It computes exactly the P x Q outputs wanted, from the
//    same amount of input and the same taps; computing the stride-1 output and keeping one pixel in sh·sw
//    would do sh·sw times the transform work. Phases that no dilated tap falls on (kernel smaller than the
//    stride, dilation a multiple of it) are left out. The phase images are never stored whole: each tile
//    gathers its window of them.
//
// 2. Tiling, overlap-save. The output is cut into tiles of tile_h x tile_w; the tile's input window of
//    fft_h x fft_w = (tile + kernel - 1) is transformed, multiplied by the kernel spectrum, and of the
//    circular correlation that comes back the first tile_h x tile_w values are exact (no wrap-around); they
//    are all that is kept. Cross-correlation is the product with the *conjugate* kernel spectrum, the kernel
//    placed at the origin: corr[i] = sum_u t[i + u] ker[u] has spectrum T · conj(KER).
//
// 3. Pipeline. In the Fourier domain the layer is, at every frequency bin, a complex matrix product
//    Y[tiles x K] = X[tiles x C'] · conj(W)[C' x K] (conv2d_fft_cgemm.hpp). One operand is transformed first,
//    by all threads, into a shared buffer; then each work item transforms its share of the other operand,
//    multiplies, inverse-transforms and writes its part of y (crop, bias):
//      kernels first: W for all K x C' kernels is shared; an item is a run of tiles (big images);
//      tiles first:   X for all tiles is shared; an item is a block of output channels (many channels,
//                     small images: AlexNet conv2 has 24576 kernels and 32 tiles).
//    So a pass is one parallel region with one barrier (none when there is a single kernel); a call is one
//    pass unless the shared spectra must come in parts to respect the memory bound (the other operand is
//    then transformed again per part). Few barriers matter on a loaded machine: each can wait for a
//    descheduled thread. The transform size, order, item sizes and parts are chosen by a cost model
//    (plan_conv2d_fft).
//
// Threads: items are scheduled dynamically; the plan does not depend on the thread count, and every value is
// computed by the same operations whichever thread runs it, so results are identical for any thread count.
// All state is per call (the FFT plans are shared and immutable): several Python threads may call at once.
#pragma once

#include <cstdint>
#include <vector>

#include "cnnkernels/shapes.hpp"

namespace ck {

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
  int64_t budget_bytes = 0;      // memory bound in place of max(2 x (x + y + weight), min_budget_bytes)
};

// The cost model's memory bound is max(2 x (x + y + weight), min_budget_bytes): kFftMinBudgetBytes for the
// forward and the data gradient; the weight gradient's traded problem (grad_weight_problem) gets more, since
// its many output spectra (one whole transform per (k, c) pair for a few R x S taps) outgrow 2 x io: with 4
// MiB its plans transformed the images again in up to 16 passes. Measured, 2 threads, C = K = 16 at 64 x 64
// (batch 4), weight gradient fft 4 MiB / 16 MiB: 3x3 11.9 / 4.5 ms, 9x9 9.3 / 4.2, 11x11 19.6 / 5.4, 13x13
// 15.3 / 4.9; the forward's plans of the same layers at 16 MiB were 0.95-1.21x their 4 MiB time (smaller,
// cache-resident parts), so the forward keeps 4 MiB.
constexpr int64_t kFftMinBudgetBytes = int64_t(4) << 20;
constexpr int64_t kFftGradWeightMinBudgetBytes = int64_t(16) << 20;

// Whether algo="fft" can run this geometry: false only for dilated kernels too large to transform (2^30
// points); conv2d_fft and plan_conv2d_fft throw ArgumentError for those.
bool conv2d_fft_supported(const Conv2dShape& s);

// The plan of the cost model, or with the choices of `force` imposed (cached per geometry). workspace_bytes
// counts the current thread count.
Conv2dFftPlan plan_conv2d_fft(const Conv2dShape& s, int64_t elem_bytes, const Conv2dFftForce& force = {},
                              int64_t min_budget_bytes = kFftMinBudgetBytes);

namespace cpu {
// x: N x C x H x W, w: K x C/groups x R x S, bias: K or nullptr, y: N x K x P x Q; plan from plan_conv2d_fft.
template <typename T>
void conv2d_fft(const Conv2dShape& s, const Conv2dFftPlan& plan, const T* x, const T* w, const T* bias, T* y);

// conv2d's gradients by FFT (conv2d_backward.cpp), as kernels.hpp's conv2d_backward_*: plan is the FFT plan of
// grad_input_problem(s, false), or of grad_weight_problem(s) (shapes.hpp).
template <typename T>
void conv2d_backward_input_fft(const Conv2dShape& s, const Conv2dFftPlan& plan, const T* gy, const T* w, T* gx);
template <typename T>
void conv2d_backward_weight_fft(const Conv2dShape& s, const Conv2dFftPlan& plan, const T* gy, const T* x, T* gw);
}  // namespace cpu

// ---------------------------------------------------------------------------------------------------------
// What the planner and the kernel share (conv2d_fft_plan.cpp)

namespace fft_conv {

// The stride-1 problem (section 1 above).
struct Core {
  bool polyphase = false;
  int64_t kr = 0, ks = 0;                 // kernel
  int64_t in_h = 0, in_w = 0;             // input planes (the phase images with their padding, if polyphase)
  int64_t pad_t = 0, pad_l = 0;           // zero rows / columns before them (0 with polyphase: folded in)
  std::vector<int64_t> phase_h, phase_w;  // the row / column phases with taps ({0} without a stride)
  int64_t channels = 0;                   // Cg * phases: channel c' = (c * phases_h + ih) * phases_w + iw
};
Core make_core(const Conv2dShape& s);

// Memory of a plan
//
// A spectrum is stored as `blocks` blocks of 2 x kBlockBins values (conv2d_fft_cgemm.hpp); a thread stages
// the planar output of one FFT batch (up to `lanes` spectra) before packing it into blocks, and gathers the
// input windows of one batch of phase channels.

struct Sizes {
  int64_t lanes;      // the FFT core's batch group: 64 bytes / element (the widest ISA's lanes)
  int64_t bins;       // fh * (fw/2 + 1)
  int64_t blocks;     // bin blocks per spectrum
  int64_t spec;       // elements of one blocked spectrum: blocks * 2 * kBlockBins
  int64_t plane;      // elements of one staged plane (bins rounded up to whole blocks and 64 bytes)
  int64_t staging;    // per-thread staging: lanes planar spectra, one output channel's kernels, windows
};
Sizes sizes_of(const Core& core, int64_t fh, int64_t fw, int64_t elem_bytes);

// Whether the FFT core transforms the tiles of a batch together, one per vector lane, for this size: it does
// while the group's interleaved spectra fit 16 MiB (mirrors fft.cpp; only speed and the scratch size depend
// on it).
bool fft_batches_lanes(int64_t fh, int64_t fw, int64_t elem_bytes);

}  // namespace fft_conv
}  // namespace ck
