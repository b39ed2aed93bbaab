// conv2d_auto.cpp: the cost model behind algo="auto": which convolution algorithm to run for a geometry.
#include "cnnkernels/kernels.hpp"

namespace ck {

// algo="auto": im2col pays when the GEMM depth (C/g)*R*S and width K/g are large enough to reuse each
// loaded input many times; thin layers (few channels, depthwise) go direct.
//
// FFT first, when the FFT plan's cost estimate (conv2d_fft.cpp, about ns of one core) is under the time the
// spatial algorithms would need at kSpatialGflops per core: a rate our im2col reaches only on its best
// layers, so FFT is chosen where it clearly wins (large kernels, and 5x5 with many channels: its work hardly
// grows with R*S, theirs grows linearly). A first, simple rule; it times nothing.
constexpr double kSpatialGflops = 40;

ConvAlgo choose_conv2d_algo(const Conv2dShape& s, int64_t elem_bytes) {
  if (s.N > 0 && s.R * s.S > 1 && conv2d_fft_supported(s)) {
    const double flops = 2.0 * double(s.N * s.K * s.P * s.Q) * double(s.C_per_group() * s.R * s.S);
    const double spatial_ns = flops / (kSpatialGflops / (elem_bytes == 8 ? 2 : 1));
    if (plan_conv2d_fft(s, elem_bytes).cost < spatial_ns) return ConvAlgo::fft;
  }
  const int64_t depth = s.C_per_group() * s.R * s.S;
  if (s.K_per_group() < 4 || depth < 16) return ConvAlgo::direct;
  return ConvAlgo::im2col;
}

}  // namespace ck
