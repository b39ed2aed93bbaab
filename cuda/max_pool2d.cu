// max_pool2d.cu: max pooling (with int64 argmax indices) and its gradient on CUDA, twins of
// csrc/max_pool2d.cpp.
//
// PyTorch's rules, as the CPU's: padding acts as -inf (taps in it are skipped), the maximum is taken in
// row-major window order by "take v when v > best or v is NaN", starting at the first tap inside the image,
// so the index (flattened over the input's H*W) is that of the first maximum or of the last NaN; a window
// whose dilated taps all fall in the padding gives -inf with index -1.
//
// Forward: one thread per output element (N x C x P x Q), its window clipped to the input.
// Backward: one thread per input element (N x C x H x W), gathering gy over the outputs whose window has a
// tap on it (o*stride - pad + t*dil == h for a tap t) and whose argmax is that element, in increasing
// output order: the CPU's scatter order, with no atomics. The argmax comes from the given indices or, when
// there are none, from the forward kernel run again into workspace memory. Given indices are checked first
// (one kernel over the outputs raising a flag, read back by the host): one outside [-1, H*W) is an
// ArgumentError, as on the CPU; one inside the image but outside its output's window (indices of another
// geometry) sends the whole call to a plain per-plane scatter, one thread per plane in output order, which
// routes gy wherever the indices say, as the CPU does.
//
// Launches run over (pixels of a plane) x (planes) with blocks of kThreads threads: x over a plane's
// pixels, y over several planes when planes are smaller than a block, so that the threads of a block read
// and write one contiguous stretch of memory (plane p's pixels follow plane p-1's).
#include <cmath>
#include <string>

#include "cnnkernels/checks.hpp"
#include "cnnkernels/kernels.hpp"
#include "common.cuh"
#include "pool2d.cuh"

namespace ck {
namespace cuda {
namespace {

constexpr int kThreads = 256;

// What the index check found (its flag holds the largest).
enum IndexCheck : int { kIndicesInWindow = 0, kIndicesOutsideWindow = 1, kIndicesOutOfRange = 2 };

// Coordinates with their padding in int (window starts, taps, h + pad), as PoolPlane holds them.
void check_padded_plane(const char* op, const Pool2dShape& s) {
  check_plane(op, (s.H + 2 * s.pad_h) * (s.W + 2 * s.pad_w));
}

// ---------------------------------------------------------------------------------------------------------
// kernels

// y (nullptr: not written) and indices (nullptr: not written) of every output, N x C x P x Q.
template <typename T>
__global__ void max_pool2d_kernel(PoolPlane g, int64_t planes, const T* __restrict__ x, T* __restrict__ y,
                                  int64_t* __restrict__ indices) {
  const int pixels = g.P * g.Q;
  for (int64_t plane = int64_t(blockIdx.y) * blockDim.y + threadIdx.y; plane < planes;
       plane += int64_t(gridDim.y) * blockDim.y) {
    const T* xp = x + plane * g.H * g.W;
    for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < pixels; j += int64_t(gridDim.x) * blockDim.x) {
      const int i = int(j), p = i / g.Q, q = i - p * g.Q;
      int r0, r1, c0, c1;
      window_taps(p, g.H, g.R, g.stride_h, g.pad_h, g.dil_h, &r0, &r1);
      window_taps(q, g.W, g.S, g.stride_w, g.pad_w, g.dil_w, &c0, &c1);
      const int h0 = p * g.stride_h - g.pad_h, w0 = q * g.stride_w - g.pad_w;
      T best = -T(INFINITY);
      int at = -1;
      for (int r = r0; r < r1; ++r) {
        const int ih = h0 + r * g.dil_h;
        const T* row = xp + ih * g.W;
        for (int c = c0; c < c1; ++c) {
          const int iw = w0 + c * g.dil_w;
          const T v = row[iw];
          if (at < 0 || v > best || v != v) {
            best = v;
            at = ih * g.W + iw;
          }
        }
      }
      if (y) y[plane * pixels + i] = best;
      if (indices) indices[plane * pixels + i] = at;
    }
  }
}

// Checks every index against its output: raises *flag to kIndicesOutOfRange for one outside [-1, H*W), to
// kIndicesOutsideWindow for one that no tap of its output's window reaches (-1 reaches nothing: fine).
__global__ void max_pool2d_check_indices_kernel(PoolPlane g, int64_t planes, const int64_t* __restrict__ indices,
                                                int* __restrict__ flag) {
  const int outputs = g.P * g.Q;
  const int64_t pixels = int64_t(g.H) * g.W;
  for (int64_t plane = int64_t(blockIdx.y) * blockDim.y + threadIdx.y; plane < planes;
       plane += int64_t(gridDim.y) * blockDim.y) {
    const int64_t* ip = indices + plane * outputs;
    for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < outputs;
         j += int64_t(gridDim.x) * blockDim.x) {
      const int o = int(j);
      const int64_t index = ip[o];
      int found = kIndicesInWindow;
      if (index < -1 || index >= pixels) {
        found = kIndicesOutOfRange;
      } else if (index >= 0) {
        const int p = o / g.Q, q = o - p * g.Q;
        const int h = int(index) / g.W, w = int(index) - h * g.W;
        const int dr = h - (p * g.stride_h - g.pad_h), dc = w - (q * g.stride_w - g.pad_w);  // from the window's start
        const bool reached = dr >= 0 && dc >= 0 && dr % g.dil_h == 0 && dc % g.dil_w == 0 && dr / g.dil_h < g.R &&
                             dc / g.dil_w < g.S;
        if (!reached) found = kIndicesOutsideWindow;
      }
      if (found != kIndicesInWindow) atomicMax(flag, found);  // an int flag: the same result in any order
    }
  }
}

// gx (N x C x H x W) from gy and argmax indices (N x C x P x Q) that lie in their outputs' windows: each input
// element sums gy over the outputs whose window reaches it and whose index names it, in increasing output
// order (p, then q).
template <typename T>
__global__ void max_pool2d_backward_kernel(PoolPlane g, int64_t planes, const T* __restrict__ gy,
                                           const int64_t* __restrict__ indices, T* __restrict__ gx) {
  const int pixels = g.H * g.W, outputs = g.P * g.Q;
  for (int64_t plane = int64_t(blockIdx.y) * blockDim.y + threadIdx.y; plane < planes;
       plane += int64_t(gridDim.y) * blockDim.y) {
    const T* gp = gy + plane * outputs;
    const int64_t* ip = indices + plane * outputs;
    for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < pixels; j += int64_t(gridDim.x) * blockDim.x) {
      const int i = int(j), h = i / g.W, w = i - h * g.W;
      T sum = 0;
      // Row taps from the last one that can reach h (a = p*stride >= 0) down to 0: p increases.
      const int tr_hi = min(g.R - 1, (h + g.pad_h) / g.dil_h);
      const int tc_hi = min(g.S - 1, (w + g.pad_w) / g.dil_w);
      for (int tr = tr_hi; tr >= 0; --tr) {
        const int a = h + g.pad_h - tr * g.dil_h, p = a / g.stride_h;
        if (p >= g.P) break;  // and every later tap gives a larger p
        if (p * g.stride_h != a) continue;
        for (int tc = tc_hi; tc >= 0; --tc) {
          const int b = w + g.pad_w - tc * g.dil_w, q = b / g.stride_w;
          if (q >= g.Q) break;
          if (q * g.stride_w != b) continue;
          const int o = p * g.Q + q;
          if (ip[o] == i) sum += gp[o];
        }
      }
      gx[plane * pixels + i] = sum;
    }
  }
}

// gx from gy and any in-range indices: one thread per plane adds each gy to gx[its index] in output order
// (the CPU's order; -1 receives nothing). gx must be zero before.
template <typename T>
__global__ void max_pool2d_backward_scatter_kernel(int64_t planes, int outputs, int64_t pixels,
                                                   const T* __restrict__ gy, const int64_t* __restrict__ indices,
                                                   T* __restrict__ gx) {
  for (int64_t plane = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; plane < planes;
       plane += int64_t(gridDim.x) * blockDim.x) {
    const T* gp = gy + plane * outputs;
    const int64_t* ip = indices + plane * outputs;
    T* g = gx + plane * pixels;
    for (int o = 0; o < outputs; ++o) {
      const int64_t index = ip[o];
      if (index >= 0) g[index] += gp[o];
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// launchers

template <typename T>
void max_pool2d(const Pool2dShape& s, const T* x, T* y, int64_t* indices) {
  check_padded_plane("max_pool2d", s);
  const PlaneLaunch outs = plane_launch(s.P * s.Q, s.N * s.C, kThreads);
  launch("max_pool2d", max_pool2d_kernel<T>, outs.grid, outs.block, 0, PoolPlane(s), s.N * s.C, x, y, indices);
}

template <typename T>
void max_pool2d_backward(const Pool2dShape& s, const T* gy, const T* x, const int64_t* indices, T* gx) {
  const char* op = "max_pool2d_backward";
  check_padded_plane(op, s);
  const int64_t planes = s.N * s.C, outputs = s.P * s.Q, pixels = s.H * s.W;
  if (planes == 0 || pixels == 0) return;
  const PlaneLaunch inputs = plane_launch(pixels, planes, kThreads), outs = plane_launch(outputs, planes, kThreads);
  if (!indices) {  // the argmax found again, exactly as the forward finds it
    int64_t* found = workspace<int64_t>(size_t(planes * outputs));
    launch("max_pool2d", max_pool2d_kernel<T>, outs.grid, outs.block, 0, PoolPlane(s), planes, x,
           static_cast<T*>(nullptr), found);
    launch(op, max_pool2d_backward_kernel<T>, inputs.grid, inputs.block, 0, PoolPlane(s), planes, gy,
           static_cast<const int64_t*>(found), gx);
    return;
  }
  int* flag = workspace<int>(1);
  memset_async(flag, 0, sizeof(int));
  launch("max_pool2d_check_indices", max_pool2d_check_indices_kernel, outs.grid, outs.block, 0, PoolPlane(s),
         planes, indices, flag);
  int found = kIndicesInWindow;
  check(cudaMemcpyAsync(&found, flag, sizeof(int), cudaMemcpyDeviceToHost, current_stream()), "cudaMemcpyAsync");
  check(cudaStreamSynchronize(current_stream()), "cudaStreamSynchronize");
  if (found == kIndicesOutOfRange) {
    throw ArgumentError("max_pool2d_backward: indices must lie in [-1, H*W) = [-1, " + std::to_string(pixels) +
                        ") (as max_pool2d returns them)");
  }
  if (found == kIndicesOutsideWindow) {
    memset_async(gx, 0, size_t(planes * pixels) * sizeof(T));
    const int threads = int(min64(128, round_up(planes, 32)));
    const int64_t blocks = min64(ceil_div(planes, threads), kMaxGridX);
    launch("max_pool2d_backward_scatter", max_pool2d_backward_scatter_kernel<T>, dim3(unsigned(blocks)),
           dim3(threads), 0, planes, int(outputs), pixels, gy, indices, gx);
    return;
  }
  launch(op, max_pool2d_backward_kernel<T>, inputs.grid, inputs.block, 0, PoolPlane(s), planes, gy, indices, gx);
}

template void max_pool2d<float>(const Pool2dShape&, const float*, float*, int64_t*);
template void max_pool2d<double>(const Pool2dShape&, const double*, double*, int64_t*);
template void max_pool2d_backward<float>(const Pool2dShape&, const float*, const float*, const int64_t*, float*);
template void max_pool2d_backward<double>(const Pool2dShape&, const double*, const double*, const int64_t*, double*);

}  // namespace cuda
}  // namespace ck
