// lp_pool2d.cu: power-average (Lp) pooling and its gradient on CUDA, twins of csrc/lp_pool2d.cpp:
// y = (sum over the window of x**p) ** (1/p) through lp.hpp's LpNorm (p = 1 and 2 exact, a negative or zero
// sum gives 0). No padding; with ceil_mode a partial window at the bottom/right edge sums the elements it has.
//
// Forward: one thread per output element (N x C x P x Q), its window clipped to the input, summed row by
// row as the CPU's separable passes do. Backward, as the CPU: gx[i] = x[i]^(p-1) * sum over the windows o
// holding x[i] of gy[o] * y[o]^(1-p) (lp.hpp: input_factor, output_factor; 0 where y[o] is 0). A first
// kernel computes z[o] = gy[o] * output_factor(y[o]) from the window again into workspace memory (one
// thread per output); a second, one thread per input element (N x C x H x W), gathers z over the outputs
// whose window covers it (shapes.hpp: covering_outputs) in increasing output order, no atomics, and
// multiplies by input_factor(x[i]).
//
// Launches run over (pixels of a plane) x (planes) with blocks of kThreads threads: x over a plane's
// pixels, y over several planes when planes are smaller than a block (consecutive threads, consecutive
// addresses).
#include "cnnkernels/kernels.hpp"
#include "cnnkernels/lp.hpp"
#include "common.cuh"
#include "pool2d.cuh"

namespace ck {
namespace cuda {
namespace {

constexpr int kThreads = 256;

// The sum of x**p over output (p, q)'s window, clipped to the plane xp (H x W): each row's taps summed in
// order, then the rows (the CPU's order).
template <typename T>
__device__ __forceinline__ T window_power_sum(const PoolPlane& g, const LpNorm& norm, const T* __restrict__ xp, int p,
                                              int q) {
  int r0, r1, c0, c1;
  window_taps(p, g.H, g.R, g.stride_h, 0, 1, &r0, &r1);
  window_taps(q, g.W, g.S, g.stride_w, 0, 1, &c0, &c1);
  const T* x0 = xp + (p * g.stride_h) * g.W + q * g.stride_w;
  T sum = 0;
  for (int r = r0; r < r1; ++r) {
    const T* row = x0 + r * g.W;
    T row_sum = 0;
    for (int c = c0; c < c1; ++c) row_sum += norm.power(row[c]);
    sum += row_sum;
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------------------
// kernels

template <typename T>
__global__ void lp_pool2d_kernel(PoolPlane g, int64_t planes, LpNorm norm, const T* __restrict__ x,
                                 T* __restrict__ y) {
  const int pixels = g.P * g.Q;
  for (int64_t plane = int64_t(blockIdx.y) * blockDim.y + threadIdx.y; plane < planes;
       plane += int64_t(gridDim.y) * blockDim.y) {
    const T* xp = x + plane * g.H * g.W;
    for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < pixels; j += int64_t(gridDim.x) * blockDim.x) {
      const int i = int(j), p = i / g.Q, q = i - p * g.Q;
      y[plane * pixels + i] = norm.root(window_power_sum(g, norm, xp, p, q));
    }
  }
}

// z[o] = gy[o] * output_factor(y[o]) for every output o (N x C x P x Q), y[o] found again from x.
template <typename T>
__global__ void lp_pool2d_output_factor_kernel(PoolPlane g, int64_t planes, LpNorm norm, const T* __restrict__ gy,
                                               const T* __restrict__ x, T* __restrict__ z) {
  const int pixels = g.P * g.Q;
  for (int64_t plane = int64_t(blockIdx.y) * blockDim.y + threadIdx.y; plane < planes;
       plane += int64_t(gridDim.y) * blockDim.y) {
    const T* xp = x + plane * g.H * g.W;
    for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < pixels; j += int64_t(gridDim.x) * blockDim.x) {
      const int i = int(j), p = i / g.Q, q = i - p * g.Q;
      const int64_t o = plane * pixels + i;
      const T out = norm.root(window_power_sum(g, norm, xp, p, q));
      z[o] = gy[o] * norm.output_factor(out);
    }
  }
}

// gx[i] = input_factor(x[i]) * sum of z over the outputs whose window covers i, in increasing output order;
// as the CPU: p = 1 takes the sum as it is, p = 2 multiplies by x, any other p leaves a zero sum 0 (even
// where x^(p-1) is inf).
template <typename T>
__global__ void lp_pool2d_backward_kernel(PoolPlane g, int64_t planes, LpNorm norm, const T* __restrict__ z,
                                          const T* __restrict__ x, T* __restrict__ gx) {
  const int pixels = g.H * g.W, outputs = g.P * g.Q;
  for (int64_t plane = int64_t(blockIdx.y) * blockDim.y + threadIdx.y; plane < planes;
       plane += int64_t(gridDim.y) * blockDim.y) {
    const T* zp = z + plane * outputs;
    for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < pixels; j += int64_t(gridDim.x) * blockDim.x) {
      const int i = int(j), h = i / g.W, w = i - h * g.W;
      int p0, p1, q0, q1;
      covering_outputs(h, g.P, g.R, g.stride_h, 0, &p0, &p1);
      covering_outputs(w, g.Q, g.S, g.stride_w, 0, &q0, &q1);
      T sum = 0;
      for (int p = p0; p < p1; ++p) {
        for (int q = q0; q < q1; ++q) sum += zp[p * g.Q + q];
      }
      const int64_t at = plane * pixels + i;
      if (norm.kind == LpNorm::general) {
        gx[at] = sum != T(0) ? sum * norm.input_factor(x[at]) : T(0);
      } else {
        gx[at] = sum * norm.input_factor(x[at]);
      }
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// launchers

template <typename T>
void lp_pool2d(const Pool2dShape& s, double norm_type, const T* x, T* y) {
  check_plane("lp_pool2d", s.H * s.W);
  const PlaneLaunch l = plane_launch(s.P * s.Q, s.N * s.C, kThreads);
  launch("lp_pool2d", lp_pool2d_kernel<T>, l.grid, l.block, 0, PoolPlane(s), s.N * s.C, LpNorm(norm_type), x, y);
}

template <typename T>
void lp_pool2d_backward(const Pool2dShape& s, double norm_type, const T* gy, const T* x, T* gx) {
  check_plane("lp_pool2d_backward", s.H * s.W);
  const int64_t planes = s.N * s.C;
  if (planes == 0) return;
  const LpNorm norm(norm_type);
  T* z = workspace<T>(size_t(planes * s.P * s.Q));
  const PlaneLaunch outs = plane_launch(s.P * s.Q, planes, kThreads), ins = plane_launch(s.H * s.W, planes, kThreads);
  launch("lp_pool2d_output_factor", lp_pool2d_output_factor_kernel<T>, outs.grid, outs.block, 0, PoolPlane(s), planes,
         norm, gy, x, z);
  launch("lp_pool2d_backward", lp_pool2d_backward_kernel<T>, ins.grid, ins.block, 0, PoolPlane(s), planes, norm,
         static_cast<const T*>(z), x, gx);
}

template void lp_pool2d<float>(const Pool2dShape&, double, const float*, float*);
template void lp_pool2d<double>(const Pool2dShape&, double, const double*, double*);
template void lp_pool2d_backward<float>(const Pool2dShape&, double, const float*, const float*, float*);
template void lp_pool2d_backward<double>(const Pool2dShape&, double, const double*, const double*, double*);

}  // namespace cuda
}  // namespace ck
