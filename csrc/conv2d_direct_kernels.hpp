// conv2d_direct_kernels.hpp: private interface between the direct convolution (conv2d_direct.cpp) and its
// per-ISA SIMD kernels (conv2d_direct_simd.hpp, compiled by conv2d_direct_{scalar,avx2,avx512}.cpp; see
// isa_dispatch.hpp): the pixel lists and tap offsets the kernels run from, built once per call by
// make_direct_plan, and the table of one ISA's kernels. Plain declarations only: this header is included by
// files compiled with AVX flags.
#pragma once

#include <cstdint>
#include <vector>

#include "cnnkernels/shapes.hpp"

namespace ck {

struct DirectPlan {
  struct Pixel {
    int64_t pixel;  // output pixel j = p*Q + q
    int64_t base;   // offset in a channel plane of its window's top-left input, ih0*W + iw0
  };
  std::vector<Pixel> interior;       // pixels whose every tap lies inside the image
  std::vector<int64_t> border;       // the other pixels
  std::vector<int64_t> tap_offset;   // per tap (c, r, t): c*H*W + r*dh*W + t*dw
};

// One ISA's kernels: output channels per weight block (2 vectors), and the task that computes pixels
// [i0, i1) of the plan's interior list then border list (indices past the interior count run on into the
// border list) for channel block b of group g of image n, from weights packed by pack_direct_weights.
template <typename T>
using DirectTask = void (*)(const Conv2dShape& s, const DirectPlan& plan, const T* x, const T* wp, const T* bias,
                            T* y, int64_t n, int64_t g, int64_t b, int64_t i0, int64_t i1);

// The thin path's kernel (K/g below half a weight block, stride_w 1): output row p of channels
// [k0, k0 + kb) (kb <= kThinBlock) of image x_n (group channels from c0), unpacked weights w, into y_n.
constexpr int64_t kThinBlock = 8;
template <typename T>
using ThinRow = void (*)(const Conv2dShape& s, const T* x_n, const T* w, const T* bias, int64_t k0, int64_t kb,
                         int64_t c0, int64_t p, T* y_n);

struct DirectKernels {
  int64_t block_channels_f32, block_channels_f64;
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
