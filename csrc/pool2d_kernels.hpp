// pool2d_kernels.hpp: private interface between the one-pass small-window pooling of pool2d_rows.hpp and its
// per-ISA kernels (pool2d_scalar.cpp: the generic and SSE2 loops of pool2d_rows.hpp; pool2d_avx2.cpp and
// pool2d_avx512.cpp: pool2d_simd.hpp), as isa_dispatch.hpp describes. Plain declarations only: this header
// is included by files compiled with AVX flags.
#pragma once

#include <cstdint>

#include "cnnkernels/shapes.hpp"

namespace ck {
namespace pool {

// The interior block of one plane for a square 2x2 or 3x3 window (dilation 1, column stride 1 or 2): the
// outputs of rows [p0, p1) and columns [q0, q1), whose taps all lie inside the image, each the reduction of
// its R*S taps in row-major order, from plane x into plane y (P x Q).
template <typename T>
using SmallInterior = void (*)(const Pool2dShape& s, const T* x, int64_t p0, int64_t p1, int64_t q0, int64_t q1,
                               T* y);

// y[i] *= scale[i] for i in [0, n): one rounded product per element, the same on every ISA (average
// pooling's divisors, avg_pool2d.cpp).
template <typename T>
using ScaleInPlace = void (*)(T* y, const T* scale, int64_t n);

// One ISA's kernels, per reduction: maximum (PyTorch's NaN rule), sum, sum of squares; and the scaling.
struct PoolKernels {
  SmallInterior<float> max_f32, sum_f32, sum_squares_f32;
  SmallInterior<double> max_f64, sum_f64, sum_squares_f64;
  ScaleInPlace<float> scale_f32;
  ScaleInPlace<double> scale_f64;
};

// nullptr when the file was compiled without its ISA's flags.
const PoolKernels* pool_kernels_scalar();
const PoolKernels* pool_kernels_avx2();
const PoolKernels* pool_kernels_avx512();

}  // namespace pool
}  // namespace ck
