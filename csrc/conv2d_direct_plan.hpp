// conv2d_direct_plan.hpp: the pixel lists and tap offsets the SIMD direct convolution runs from
// (conv2d_direct_simd.hpp), built once per call by make_direct_plan (conv2d_direct.cpp). Plain data only:
// this header is included by files compiled with AVX flags.
#pragma once

#include <cstdint>
#include <vector>

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

}  // namespace ck
