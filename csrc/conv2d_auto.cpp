// conv2d_auto.cpp: the cost model behind algo="auto": which convolution algorithm to run for a geometry.
#include "cnnkernels/kernels.hpp"

namespace ck {

// algo="auto": the direct kernel keeps a tile of output channels x pixels in registers and reads the input
// in place, so it wins when there are few input channels per group (LeNet, AlexNet conv1) or few output
// channels (depthwise); with many input channels im2col's GEMM reuses each packed panel across a whole
// cache block and runs closer to peak.
ConvAlgo choose_conv2d_algo(const Conv2dShape& s, int64_t /*elem_bytes*/) {
  const bool pointwise = s.R == 1 && s.S == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 &&
                         s.pad_bottom == 0 && s.pad_left == 0 && s.pad_right == 0;
  if (pointwise && s.K_per_group() >= 4) return ConvAlgo::im2col;  // a plain GEMM on x itself
  if (s.K_per_group() < 4 || s.C_per_group() <= 16) return ConvAlgo::direct;
  return ConvAlgo::im2col;
}

}  // namespace ck
