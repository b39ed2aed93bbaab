// conv2d_backward.cu: conv2d's bias gradient on CUDA, twin of conv2d_backward_bias in
// csrc/conv2d_backward.cpp: gb[k] = sum over n, p, q of gy[n, k, p, q] (gy: N x K x P x Q), accumulated in
// double as the CPU does (the sum is memory-bound: the double adds cost nothing that shows).
//
// One block per channel k (a grid-stride loop over K): its threads walk the N x P*Q values of k, consecutive
// threads on consecutive pixels (coalesced), then a fixed-order block reduction (warp shuffles, then the warp
// sums in shared memory, added by warp 0): deterministic, no atomics.
#include "cnnkernels/kernels.hpp"
#include "common.cuh"

namespace ck {
namespace cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxWarps = kThreads / 32;

__device__ __forceinline__ double warp_sum(double v) {
  for (int d = 16; d > 0; d /= 2) v += __shfl_down_sync(0xffffffffu, v, d);
  return v;  // lane 0: the sum of the warp, always added in the same order
}

// ---------------------------------------------------------------------------------------------------------
// kernels

// blockIdx.x over the K channels; N images, PQ = P*Q pixels a plane (gy's planes are (n, k), K of them an
// image). blockDim.x: a multiple of 32.
template <typename T>
__global__ void conv2d_backward_bias_kernel(int N, int K, int PQ, const T* __restrict__ gy, T* __restrict__ gb) {
  CK_SHARED(double, warp_sums, [kMaxWarps]);
  const int tid = threadIdx.x, threads = blockDim.x, warps = threads / 32, lane = tid % 32, warp = tid / 32;
  // Item (n, j) of thread tid: j = tid, tid + threads, ... carried into n, without division in the loop.
  const int dn = threads / PQ, dj = threads - dn * PQ;
  const int64_t image = int64_t(K) * PQ;
  for (int k = blockIdx.x; k < K; k += gridDim.x) {
    const T* gy_k = gy + int64_t(k) * PQ;
    double sum = 0;
    int n = tid / PQ, j = tid - n * PQ;
    while (n < N) {
      sum += double(gy_k[n * image + j]);
      j += dj;
      n += dn;
      if (j >= PQ) {
        j -= PQ;
        ++n;
      }
    }
    sum = warp_sum(sum);
    if (lane == 0) warp_sums[warp] = sum;
    __syncthreads();
    if (tid == 0) {
      double total = warp_sums[0];
      for (int v = 1; v < warps; ++v) total += warp_sums[v];
      gb[k] = T(total);
    }
    __syncthreads();  // warp_sums is free for the next channel
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// launchers

// Only s.N, s.K, s.P and s.Q are set (the bindings build the shape from grad_out alone).
template <typename T>
void conv2d_backward_bias(const Conv2dShape& s, const T* gy, T* gb) {
  check_plane("conv2d_backward_bias", s.P * s.Q);
  const int64_t PQ = s.P * s.Q, N = PQ > 0 ? s.N : 0;  // no pixels: sums of nothing (and no division by 0)
  const int64_t items = N * PQ;                          // a channel's values
  const int threads = items < kThreads ? int(items + 31) / 32 * 32 : kThreads;
  const int64_t blocks = s.K < kMaxGridX ? s.K : kMaxGridX;
  launch("conv2d_backward_bias", conv2d_backward_bias_kernel<T>, dim3(unsigned(blocks)),
         dim3(threads > 32 ? threads : 32), 0, int(N), int(s.K), int(PQ > 0 ? PQ : 1), gy, gb);
}

template void conv2d_backward_bias<float>(const Conv2dShape&, const float*, float*);
template void conv2d_backward_bias<double>(const Conv2dShape&, const double*, double*);

}  // namespace cuda
}  // namespace ck
