// conv2d_auto.cpp: the cost model behind algo="auto": which convolution algorithm to run for a geometry.
#include "cnnkernels/kernels.hpp"

namespace ck {

// algo="auto": im2col pays when the GEMM depth (C/g)*R*S and width K/g are large enough to reuse each
// loaded input many times; thin layers (few channels, depthwise) go direct.
ConvAlgo choose_conv2d_algo(const Conv2dShape& s, int64_t /*elem_bytes*/) {
  const int64_t depth = s.C_per_group() * s.R * s.S;
  if (s.K_per_group() < 4 || depth < 16) return ConvAlgo::direct;
  return ConvAlgo::im2col;
}

}  // namespace ck
