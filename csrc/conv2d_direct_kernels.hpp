// conv2d_direct_kernels.hpp: private interface between the direct convolution (conv2d_direct.cpp) and its
// per-ISA SIMD kernels (conv2d_direct_simd.hpp, compiled by conv2d_direct_{scalar,avx2,avx512}.cpp; see
// isa_dispatch.hpp): the pixel positions and tap offsets the kernels run from, built once per call by
// make_direct_plan, and the table of one ISA's kernels. Plain declarations only: this header is included by
// files compiled with AVX flags.
#pragma once

#include <cstdint>
#include <vector>

#include "cnnkernels/shapes.hpp"

namespace ck {

// Where the SIMD kernel finds the input of each output pixel. Pixels go in chunks of kPixelsPerTask
// consecutive j = p*Q + q. A layer without padding reads the image in place (a channel plane of H x W);
// with padding, each chunk first copies the rows its pixels need, with the zeros of the padding, into a
// per-thread buffer: Cg planes of `rows` x Wp, plane row 0 = input row p_first*sh - pad_top and column 0
// = input column -pad_left, where p_first is the chunk's first output row. Then every pixel goes through
// the register tiles: the input under tap k of pixel j is src[pos[j] - shift + tap_offset[k]], src the
// group's first channel plane (image or buffer) and shift 0 in place or p_first*sh*Wp in the buffer.
struct DirectPlan {
  bool padded;                      // reads a zero-padded copy
  int64_t Wp;                       // row stride of src: W in place, (Q-1)*sw + (S-1)*dw + 1 padded
  int64_t rows;                     // padded: rows per channel plane of the buffer (the most a chunk needs)
  std::vector<int64_t> pos;         // per pixel j: p*sh*Wp + q*sw
  std::vector<int64_t> tap_offset;  // per tap (c, r, t): c*plane + r*dh*Wp + t*dw (plane = H*W or rows*Wp)
};
constexpr int64_t kPixelsPerTask = 240;  // a multiple of every ISA's register tile width (6, 12, 24)

// One ISA's kernels: output channels per weight block of 2 vectors, SIMD lanes, and the task that computes
// pixels [i0, i1) (j = p*Q + q) of one channel block of `vectors` (1 or 2) vectors whose kb channels'
// outputs are y_k[k * PQ + j] and bias bias_k[k] (or none), from the block's packed weights
// wp_b[tap][vectors * lanes] (pack_direct_weights), reading src as DirectPlan says.
template <typename T>
using DirectTask = void (*)(const DirectPlan& plan, const T* src, int64_t shift, const T* wp_b, int vectors,
                            int64_t kb, const T* bias_k, int64_t PQ, int64_t i0, int64_t i1, T* y_k);

// The thin path's kernel (stride_w 1, one input channel and fewer than a vector of output channels per
// group): output row p of channels [k0, k0 + kb) (kb <= kThinBlock) of image x_n (group channels from c0),
// unpacked weights w, into y_n.
constexpr int64_t kThinBlock = 8;
template <typename T>
using ThinRow = void (*)(const Conv2dShape& s, const T* x_n, const T* w, const T* bias, int64_t k0, int64_t kb,
                         int64_t c0, int64_t p, T* y_n);

struct DirectKernels {
  int64_t block_channels_f32, block_channels_f64;
  double one_vector_rate;  // multiply-adds per second of a 1-vector block over a 2-vector block's (the cost model)
  DirectTask<float> task_f32;
  DirectTask<double> task_f64;
  ThinRow<float> thin_f32;
  ThinRow<double> thin_f64;
};

// nullptr when the file was compiled without its ISA's flags.
const DirectKernels* conv2d_direct_kernels_scalar();
const DirectKernels* conv2d_direct_kernels_avx2();
const DirectKernels* conv2d_direct_kernels_avx512();

}  // namespace ck
