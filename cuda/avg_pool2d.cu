// avg_pool2d.cu: average pooling and its gradient on CUDA, twins of csrc/avg_pool2d.cpp (PyTorch's
// count_include_pad, ceil_mode and divisor_override rules, through shapes.hpp: avg_pool_divisor).
//
// Forward: one thread per output element, its window clipped to the input. Backward: one thread per input
// element, gathering grad_out / divisor over the outputs whose window covers it (shapes.hpp:
// covering_outputs): no atomics, a fixed summation order. Consecutive threads take consecutive pixels of a
// plane, so global loads and stores coalesce; planes (n, c) run along the grid's y (common.cuh: plane_grid).
#include "cnnkernels/kernels.hpp"
#include "common.cuh"
#include "pool2d.cuh"

namespace ck {
namespace cuda {
namespace {

constexpr int kThreads = 256;

// ---------------------------------------------------------------------------------------------------------
// kernels

template <typename T>
__global__ void avg_pool2d_kernel(Pool2dShape s, PoolPlane g, bool count_include_pad, int64_t divisor_override,
                      const T* __restrict__ x, T* __restrict__ y) {
  const int64_t planes = s.N * s.C;
  const int pixels = g.P * g.Q;
  for (int64_t plane = blockIdx.y; plane < planes; plane += gridDim.y) {
    const T* xp = x + plane * g.H * g.W;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < pixels; i += gridDim.x * blockDim.x) {
      const int p = i / g.Q, q = i - p * g.Q;
      int r0, r1, c0, c1;
      window_taps(p, g.H, g.R, g.stride_h, g.pad_h, 1, &r0, &r1);
      window_taps(q, g.W, g.S, g.stride_w, g.pad_w, 1, &c0, &c1);
      const int h0 = p * g.stride_h - g.pad_h, w0 = q * g.stride_w - g.pad_w;
      T sum = 0;
      for (int r = r0; r < r1; ++r) {
        for (int c = c0; c < c1; ++c) sum += xp[(h0 + r) * g.W + w0 + c];
      }
      const int64_t divisor = avg_pool_divisor(s, p, q, count_include_pad, divisor_override);
      y[plane * pixels + i] = divisor > 0 ? sum * reciprocal(T(divisor)) : T(0);
    }
  }
}

template <typename T>
__global__ void avg_pool2d_backward_kernel(Pool2dShape s, PoolPlane g, bool count_include_pad, int64_t divisor_override,
                               const T* __restrict__ gy, T* __restrict__ gx) {
  const int64_t planes = s.N * s.C;
  const int pixels = g.H * g.W;
  for (int64_t plane = blockIdx.y; plane < planes; plane += gridDim.y) {
    const T* gp = gy + plane * g.P * g.Q;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < pixels; i += gridDim.x * blockDim.x) {
      const int h = i / g.W, w = i - h * g.W;
      int p0, p1, q0, q1;
      covering_outputs(h, g.P, g.R, g.stride_h, g.pad_h, &p0, &p1);
      covering_outputs(w, g.Q, g.S, g.stride_w, g.pad_w, &q0, &q1);
      T sum = 0;
      for (int p = p0; p < p1; ++p) {
        for (int q = q0; q < q1; ++q) {
          const int64_t divisor = avg_pool_divisor(s, p, q, count_include_pad, divisor_override);
          if (divisor > 0) sum += gp[p * g.Q + q] * reciprocal(T(divisor));
        }
      }
      gx[plane * pixels + i] = sum;
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// launchers

template <typename T>
void avg_pool2d(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override, const T* x, T* y) {
  check_plane("avg_pool2d", s.H * s.W);
  launch("avg_pool2d", avg_pool2d_kernel<T>, plane_grid(s.P * s.Q, s.N * s.C, kThreads), dim3(kThreads), 0, s,
         PoolPlane(s), count_include_pad, divisor_override, x, y);
}

template <typename T>
void avg_pool2d_backward(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override, const T* gy,
                         T* gx) {
  check_plane("avg_pool2d_backward", s.H * s.W);
  launch("avg_pool2d_backward", avg_pool2d_backward_kernel<T>, plane_grid(s.H * s.W, s.N * s.C, kThreads),
         dim3(kThreads), 0, s, PoolPlane(s), count_include_pad, divisor_override, gy, gx);
}

template void avg_pool2d<float>(const Pool2dShape&, bool, int64_t, const float*, float*);
template void avg_pool2d<double>(const Pool2dShape&, bool, int64_t, const double*, double*);
template void avg_pool2d_backward<float>(const Pool2dShape&, bool, int64_t, const float*, float*);
template void avg_pool2d_backward<double>(const Pool2dShape&, bool, int64_t, const double*, double*);

}  // namespace cuda
}  // namespace ck
