// conv2d_winograd.hpp: 2-D convolution of 3 x 3 stride-1 layers by Winograd's minimal filtering on the CPU,
// algo="winograd" (conv2d_winograd.cpp; Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016).
//
// F(m x m, 3 x 3), m = 4 or 2: each m x m tile of outputs costs (m + 2)^2 multiplies per input and output
// channel pair instead of 9 m^2 (36 against 144 for m = 4), the products summed over channels as (m + 2)^2
// matrix products on the GEMM's micro-kernel. Its float32 rounding error is larger than direct's and grows
// with m (measured in tests/test_conv2d_winograd.py and the README's table): m = 2 where that matters.
#pragma once

#include <cstdint>

#include "cnnkernels/shapes.hpp"

namespace ck {

// Whether algo="winograd" can run this geometry: a 3 x 3 kernel, stride 1 and dilation 1 (any padding,
// groups and batch). conv2d_winograd throws ArgumentError for the others.
bool conv2d_winograd_supported(const Conv2dShape& s);

// The ArgumentError algo="winograd" raises for an unsupported geometry.
void check_conv2d_winograd(const Conv2dShape& s);

// The output tile m (2 or 4) the cost model runs: 4 (the fewest multiplies) unless asked otherwise.
constexpr int kWinogradDefaultTile = 4;

// The extra memory (bytes) of one call with the current thread count.
int64_t conv2d_winograd_workspace(const Conv2dShape& s, int tile, int64_t elem_bytes);

namespace cpu {
// x: N x C x H x W, w: K x C/groups x 3 x 3, bias: K or nullptr, y: N x K x P x Q; tile: m, 2 or 4.
template <typename T>
void conv2d_winograd(const Conv2dShape& s, int tile, const T* x, const T* w, const T* bias, T* y);

// conv2d's data gradient by Winograd (conv2d_backward.cpp): the forward above on grad_input_problem(s).
template <typename T>
void conv2d_backward_input_winograd(const Conv2dShape& s, int tile, const T* gy, const T* w, T* gx);
}  // namespace cpu

}  // namespace ck
