// pool2d.cuh: what the CUDA pooling kernels (avg_pool2d.cu, max_pool2d.cu, lp_pool2d.cu) share: the
// geometry of one N x C plane in int, for index arithmetic in 32 bits (common.cuh).
#pragma once

#include "cnnkernels/shapes.hpp"

namespace ck {
namespace cuda {

// Pool2dShape's per-plane sizes in int (the launchers check that they fit: check_plane).
struct PoolPlane {
  int H, W, P, Q, R, S, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
  explicit PoolPlane(const Pool2dShape& s)
      : H(int(s.H)), W(int(s.W)), P(int(s.P)), Q(int(s.Q)), R(int(s.R)), S(int(s.S)), stride_h(int(s.stride_h)),
        stride_w(int(s.stride_w)), pad_h(int(s.pad_h)), pad_w(int(s.pad_w)), dil_h(int(s.dil_h)),
        dil_w(int(s.dil_w)) {}
};

}  // namespace cuda
}  // namespace ck
