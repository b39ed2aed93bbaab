// conv2d_plan.hpp: what conv2d runs for a geometry on the CPU, decided in one place (conv2d_plan.cpp): the
// algorithm (as asked, or algo="auto"'s choice by a cost model that times nothing), its FFT plan when it is
// fft, and the extra memory it allocates. The bindings run what the plan says; nothing is planned twice.
#pragma once

#include <cstdint>
#include <optional>

#include "cnnkernels/kernels.hpp"
#include "cnnkernels/shapes.hpp"
#include "conv2d_fft.hpp"
#include "conv2d_winograd.hpp"

namespace ck {

struct Conv2dPlan {
  ConvDirection direction = ConvDirection::forward;
  ConvAlgo algo = ConvAlgo::direct;
  Conv2dFftPlan fft;            // algo == fft only: the plan of the FFT convolution that runs (for a gradient,
                                // that of its grad_input_problem / grad_weight_problem, shapes.hpp)
  int winograd_tile = 0;        // algo == winograd only: its output tile m (2 or 4)
  int64_t workspace_bytes = 0;  // with the current thread count
};

// algo: the algorithm to run, or nullopt for "auto". force: choices imposed on an fft plan (tests).
// direction: the forward output, or the data or weight gradient of s (conv2d_backward.cpp). winograd_tile:
// 2 or 4 imposes Winograd's output tile, 0 leaves it to the plan. An algorithm that cannot run the geometry
// (winograd: not 3x3 stride 1 dilation 1; nor for the weight gradient) is an ArgumentError.
Conv2dPlan plan_conv2d(const Conv2dShape& s, int64_t elem_bytes, std::optional<ConvAlgo> algo,
                       const Conv2dFftForce& force = {}, ConvDirection direction = ConvDirection::forward,
                       int winograd_tile = 0);

// Whether the algorithm reads its input's zero padding as cheaply as real input (fft and winograd copy their
// input tiles anyway), so that a data gradient passes grad_out unpadded, the pads as the convolution's
// padding; the spatial kernels' fast paths are the unpadded ones, so they get it padded beforehand.
constexpr bool pads_natively(ConvAlgo a) { return a == ConvAlgo::fft || a == ConvAlgo::winograd; }

// What the planner asks of the kernels:
// the extra memory (bytes) of the im2col algorithm: the GEMM's packing buffers and the batch buffer;
int64_t conv2d_im2col_workspace(const Conv2dShape& s, int64_t elem_bytes);
// the extra memory (bytes) of the direct algorithm: its packed weights and each thread's padded input rows;
int64_t conv2d_direct_workspace(const Conv2dShape& s, int64_t elem_bytes);
// whether the direct weight gradient runs the forward direct kernel on the traded problem (conv2d_backward.cpp);
bool grad_weight_direct_runs_traded(const Conv2dShape& s, int64_t elem_bytes);
// output channels per weight block of the active ISA's SIMD direct kernel (2 vectors);
int64_t conv2d_direct_block_channels(int64_t elem_bytes);
// the share of the direct kernel's multiply-add rate that does the layer's work: K/g over its whole vectors,
// a last 1-vector block counted at its slower rate (DirectKernels::one_vector_rate).
double conv2d_direct_lane_use(const Conv2dShape& s, int64_t elem_bytes);

}  // namespace ck
