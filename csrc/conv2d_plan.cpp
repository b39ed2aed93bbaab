// conv2d_plan.cpp: what conv2d runs for a geometry (conv2d_plan.hpp), with the cost model behind algo="auto".
#include "conv2d_plan.hpp"

#include <algorithm>
#include <string>

#include "cnnkernels/checks.hpp"

#include "gemm.hpp"
#include "threads.hpp"

namespace ck {
namespace {

// algo="auto", a first cost model that times nothing:
// - Winograd first, for a 3x3 stride-1 layer with at least kWinogradMinChannels input and output channels
//   per group (see its rule below).
// - Then FFT, when the FFT plan's cost estimate (conv2d_fft.cpp, in the units of about 2 ns of one core on
//   the AVX-512 machine, its constants kept for their ranking of transform sizes) is under the time the
//   spatial algorithms would need at kSpatialGflops per core, with the lanes that K/g leaves idle in the
//   direct kernel's whole vectors: fitted on the bench's layers and its kernel, odd, channels and image
//   sweeps (f32, AVX-512, after the direct kernel tiled its border and blocked single vectors): the pick
//   within 10% of the faster of fft and spatial on all 31 cases at 2 threads (worst 1.08x) and 95% of 39
//   at 1 thread (odd-29c23 fft 1.21x direct, channels-16 spatial 1.15x fft); at 55 to 66 kernel-5 went
//   spatial (1.29x), at 72 channels-64 too (1.52x), at 40 alexnet-conv1 and channels-16 went fft (1.15x,
//   1.2x). FFT wins large kernels, and 5x5 with many channels: its work hardly grows with R*S, theirs
//   grows linearly.
// - A pointwise convolution is a plain GEMM on x itself.
// - The direct kernel keeps a tile of output channels x pixels in registers and reads the input in place
//   (or a padded copy of a few rows), so it wins unless a group's weights outgrow the caches
//   (K/g * (C/g)*R*S elements over kDirectWeightBytes, with a deep ((C/g)*R*S >= 512) and wide (K/g >= 32)
//   GEMM): it streams every weight once per chunk of at most 240 output pixels, while im2col's GEMM reuses
//   each packed panel across the whole batch. Measured, 1 thread, f32, AVX-512, direct / im2col (before the
//   direct kernel tiled its border and filled its blocks for small K/g, in brackets): C 512 14x14 K 512 3x3
//   (9 MiB of weights) 1.05-1.20 (1.78), 7x7 1.51; AlexNet conv3 (C 256 13x13 K 384, 3.4 MiB) 0.94-1.02
//   (1.89); C 384 13x13 K 256 0.95; C 256 14x14 K 256 0.84-0.87 (1.41); C 128 16x16 K 64 0.67 (1.11);
//   C 64 28x28 K 32 0.53.
//   Every other layer runs direct, few output channels included (LeNet conv1, C 1 K 6 5x5, direct / im2col
//   0.40-0.48, its thin kernel; C 3 97x89 K 8 3x3 0.97).
// - (A shallow window at stride 1 whose output channels left the direct kernel's last weight block part
//   empty went to im2col while direct ran its border one pixel at a time. Now, 1 thread, direct / im2col:
//   C5 97x89 K11/K13/K19/K24 3x3 0.95/0.80/1.03/0.85 (before 1.77/1.60/1.37/1.30), C8 64x64 K11 3x3 0.72
//   (2.60), K20 5x5 0.71 (1.23), C16 32x32 K6 0.66 (1.85), C32 K40 3x3 0.80 (2.33), C4 32x32 K24 3x3
//   unpadded 0.69: direct.)
constexpr double kSpatialGflops = 46;
constexpr double kGradWeightSpatialGflops = 40;  // the weight gradient's rule (measured before the refit)
constexpr int64_t kGradWeightDirectMaxChannels = 32;
constexpr int64_t kWinogradMinChannels = 48;
constexpr int64_t kDirectWeightBytes = int64_t(4) << 20;

// The cost model's algorithm; *fft is the FFT plan it weighed, when it weighed one.
ConvAlgo choose_conv2d_algo(const Conv2dShape& s, int64_t elem_bytes, Conv2dFftPlan* fft, bool* have_fft) {
  *have_fft = false;
  // Winograd F(4x4, 3x3) for a 3x3 stride-1 layer with at least kWinogradMinChannels input and output
  // channels per group: its products take 36 of direct's 144 multiplies per tile, and with that many channels
  // they outweigh its transforms. Measured (float32, 1 thread, padding 1), winograd / the faster of direct and
  // im2col: VGG conv3_2 0.45, AlexNet conv3 0.61, C = K = 512 at 14 x 14 0.75, 128 at 28 x 28 0.69, 64 at
  // 224 x 224 0.69, 64 at 56 x 56 and 32 x 32 0.88, 48 at 28 x 28 0.68; 32 at 16 x 16 0.89 but 32 at 56 x 56
  // 1.15, 24 at 56 x 56 0.94, 16 at 32 x 32 1.09 and at 64 x 64 1.30, C 41 K 43 at 19 x 17 1.21. Its float32
  // error stays within the bound the README states.
  if (s.N > 0 && conv2d_winograd_supported(s) && s.C_per_group() >= kWinogradMinChannels &&
      s.K_per_group() >= kWinogradMinChannels) {
    return ConvAlgo::winograd;
  }
  if (s.N > 0 && s.R * s.S > 1 && conv2d_fft_supported(s)) {
    const double flops = 2.0 * double(s.N * s.K * s.P * s.Q) * double(s.C_per_group() * s.R * s.S);
    // The direct kernel's blocks of output channels are whole vectors: K/g short of a multiple of a vector
    // leaves that share of its lanes idle (and im2col's GEMM rows are as few); a last block of one vector
    // runs slower on AVX2 (conv2d_direct_lane_use).
    const double lanes = std::clamp(conv2d_direct_lane_use(s, elem_bytes), 0.25, 1.0);
    const double spatial_ns = flops / (lanes * kSpatialGflops / (elem_bytes == 8 ? 2 : 1));
    *fft = plan_conv2d_fft(s, elem_bytes);
    *have_fft = true;
    if (fft->cost < spatial_ns) return ConvAlgo::fft;
  }
  if (s.is_pointwise() && s.K_per_group() >= 4) return ConvAlgo::im2col;
  // im2col once the GEMM is deep and wide enough and a group's weights outgrow the caches (measured above).
  const int64_t depth = s.C_per_group() * s.R * s.S;
  if (depth >= 512 && s.K_per_group() >= 32 && s.K_per_group() * depth * elem_bytes > kDirectWeightBytes) {
    return ConvAlgo::im2col;
  }
  return ConvAlgo::direct;
}

// The GEMM's packing buffers with the current thread count.
int64_t gemm_packing_bytes(int64_t elem_bytes) {
  const GemmBlocking b = elem_bytes == 4 ? gemm_blocking<float>() : gemm_blocking<double>();
  return (b.mc * b.kc + b.kc * b.nc) * num_threads() * elem_bytes;
}

// algo="auto" for the weight gradient: the FFT of grad_weight_problem when its estimate beats the spatial
// rate, with the forward's lane rule (im2col's GEMM has K/g columns: with fewer than a weight block it
// leaves lanes idle) and one for its rows ((C/g)RS: below 256 the GEMM's fixed costs weigh); else im2col
// once K/g fills a vector (8) and (C/g)RS >= 32, else the direct dot products. Measured, weight gradient
// direct / im2col / fft: LeNet conv1 (K 6) 3.3 / 4.7 / 2.1 ms, conv2 (K 16) 11.9 / 2.8 / 1.4 ms (1 thread);
// 1x1, C = K = 16, 4 x 64 x 64: 0.60 / 1.32 / 2.27 ms (2 threads).
ConvAlgo choose_grad_weight_algo(const Conv2dShape& s, int64_t elem_bytes, Conv2dFftPlan* fft, bool* have_fft) {
  *have_fft = false;
  const Conv2dShape t = grad_weight_problem(s);
  if (s.N > 0 && t.R * t.S > 1 && conv2d_fft_supported(t)) {
    const double flops = 2.0 * double(s.N * s.K * s.P * s.Q) * double(s.C_per_group() * s.R * s.S);
    const double lanes = std::clamp(double(s.K_per_group()) / double(conv2d_direct_block_channels(elem_bytes)),
                                    0.25, 1.0);
    const double rows = std::clamp(double(s.C_per_group() * s.R * s.S) / 256.0, 0.25, 1.0);  // GEMM's M
    const double spatial_ns = flops / (lanes * rows * kGradWeightSpatialGflops / (elem_bytes == 8 ? 2 : 1));
    *fft = plan_conv2d_fft(t, elem_bytes, {}, kFftGradWeightMinBudgetBytes);
    *have_fft = true;
    if (fft->cost * double(s.groups) < spatial_ns) return ConvAlgo::fft;
  }
  // Few output channels and a large window: the direct kernel on the traded problem beats im2col's thin
  // GEMM. Measured, 2 threads, weight gradient direct / im2col: K 16 at 5x5, 7x7, 11x11 (C 16, 64 x 64) 4.31 /
  // 5.66, 3.89 / 8.41, 5.49 / 14.39 ms, LeNet conv2 (K 16, 5x5) 0.53 / 1.41; but AlexNet conv2 (K 256, 5x5)
  // 51.2 / 41.6 and conv1 (K 96, 11x11 stride 4) 23.9 / 17.7.
  if (grad_weight_direct_runs_traded(s, elem_bytes) && s.K_per_group() <= kGradWeightDirectMaxChannels) {
    return ConvAlgo::direct;
  }
  return s.K_per_group() >= 8 && s.C_per_group() * s.R * s.S >= 32 ? ConvAlgo::im2col : ConvAlgo::direct;
}

}  // namespace

Conv2dPlan plan_conv2d(const Conv2dShape& s, int64_t elem_bytes, std::optional<ConvAlgo> algo,
                       const Conv2dFftForce& force, ConvDirection direction, int winograd_tile) {
  const int64_t T = elem_bytes;
  if (winograd_tile != 0 && winograd_tile != 2 && winograd_tile != 4) {
    throw ArgumentError("conv2d_plan: winograd_tile must be 2 or 4 (or 0: the plan's choice), got " +
                        std::to_string(winograd_tile));
  }
  if (algo == ConvAlgo::winograd) {
    if (direction == ConvDirection::backward_weight) {
      throw ArgumentError("conv2d_backward: algo='winograd' computes the forward and the data gradient only; "
                          "the weight gradient runs 'direct', 'im2col' or 'fft' ('auto' chooses)");
    }
    check_conv2d_winograd(s);  // the geometry asked for (a data gradient's problem is then 3x3 stride 1 too)
  }
  if (direction == ConvDirection::backward_input) {
    // The forward plan of the stride-1 problem it runs (gy padded as the convolution's padding where it can
    // be, as fft runs it), plus its weight, padded input and output buffers. No problem, no plan: every
    // output window lies in the padding, the gradient is 0.
    const Conv2dShape padded = grad_input_problem(s, true);
    if (s.N == 0 || s.C == 0 || s.K == 0 || padded.P <= 0 || padded.Q <= 0) {
      Conv2dPlan none;
      none.direction = direction;
      none.algo = algo ? *algo : ConvAlgo::direct;
      return none;
    }
    const bool pads_gy = grad_input_pads_gy(s);
    Conv2dPlan plan = plan_conv2d(grad_input_problem(s, !pads_gy), elem_bytes, algo, force,
                                  ConvDirection::forward, winograd_tile);
    const Conv2dShape t = grad_input_problem(s, !pads_natively(plan.algo) || !pads_gy);
    if (plan.algo == ConvAlgo::im2col) plan.workspace_bytes = conv2d_im2col_workspace(t, elem_bytes);
    if (plan.algo == ConvAlgo::winograd) {
      plan.workspace_bytes = conv2d_winograd_workspace(t, plan.winograd_tile, elem_bytes);
    }
    plan.direction = direction;
    plan.workspace_bytes += T * (t.weight().numel() + t.output().numel() +
                                 (plan.algo != ConvAlgo::fft ? t.input().numel() : 0));
    return plan;
  }
  Conv2dPlan plan;
  plan.direction = direction;
  bool have_fft = false;
  if (direction == ConvDirection::backward_weight) {
    const Conv2dShape t = grad_weight_problem(s);
    plan.algo = algo ? *algo : choose_grad_weight_algo(s, elem_bytes, &plan.fft, &have_fft);
    if (s.N == 0 || s.P * s.Q == 0) return plan;  // an empty batch: the gradient is 0, nothing to plan
    switch (plan.algo) {
      case ConvAlgo::direct: break;
      case ConvAlgo::winograd: break;  // refused above
      case ConvAlgo::im2col: plan.workspace_bytes = T * s.output().numel() + gemm_packing_bytes(T); break;
      case ConvAlgo::fft:
        if (!have_fft) plan.fft = plan_conv2d_fft(t, elem_bytes, force, kFftGradWeightMinBudgetBytes);
        plan.workspace_bytes = plan.fft.workspace_bytes + T * (t.input().numel() + t.weight().numel() +
                                                               t.output().numel());
        break;
    }
    return plan;
  }
  plan.algo = algo ? *algo : choose_conv2d_algo(s, elem_bytes, &plan.fft, &have_fft);
  switch (plan.algo) {
    case ConvAlgo::direct: plan.workspace_bytes = conv2d_direct_workspace(s, elem_bytes); break;
    case ConvAlgo::winograd:
      plan.winograd_tile = winograd_tile ? winograd_tile : kWinogradDefaultTile;
      plan.workspace_bytes = conv2d_winograd_workspace(s, plan.winograd_tile, elem_bytes);
      break;
    case ConvAlgo::im2col: plan.workspace_bytes = conv2d_im2col_workspace(s, elem_bytes); break;
    case ConvAlgo::fft:
      if (!have_fft) plan.fft = plan_conv2d_fft(s, elem_bytes, force);
      plan.workspace_bytes = plan.fft.workspace_bytes;
      break;
  }
  return plan;
}

}  // namespace ck
