// feature_lp_pool.cu: Lp pooling across feature maps and its gradient on CUDA, twins of
// csrc/feature_lp_pool.cpp: y[n, k, h, w] = (sum over c in [k*stride, k*stride + width) of x[n, c, h, w]**p)
// ** (1/p) through lp.hpp's LpNorm (input N x C x H x W, output N x K x H x W).
//
// Forward: one thread per output element, summing its `width` channels in order (the CPU's order).
// Backward, as the CPU: gx[n, c] = x[n, c]^(p-1) * sum over the output channels k whose window holds c of
// gy[n, k] * y[n, k]^(1-p) (lp.hpp: input_factor, output_factor; 0 where y is 0). A first kernel computes
// z = gy * output_factor(y) per output element, y found again from x, into workspace memory; a second, one
// thread per input element, gathers z over the covering k (shapes.hpp: covering_outputs along channels) in
// increasing k, no atomics, and multiplies a nonzero sum by input_factor(x) (channels in no window get 0).
//
// Launches: x over the H*W pixels of a channel (consecutive threads, consecutive addresses), y over the
// channels of an image (several per block when a channel has fewer than kThreads pixels), z over images:
// a thread knows its image and channel without a 64-bit division.
#include <stdexcept>
#include <string>

#include "cnnkernels/kernels.hpp"
#include "cnnkernels/lp.hpp"
#include "common.cuh"

namespace ck {
namespace cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxGridZ = 65535;

// The geometry in int (common.cuh: kernels divide in 32 bits); images (N) stay int64.
struct FeatureGeometry {
  int64_t N;
  int C, K, pixels, width, stride;  // pixels = H*W
  explicit FeatureGeometry(const FeaturePoolShape& s)
      : N(s.N), C(int(s.C)), K(int(s.K)), pixels(int(s.H * s.W)), width(int(s.width)), stride(int(s.stride)) {}
};

// Blocks over `pixels` x `channels` x `images`: kThreads pixels of one channel, or for smaller channels the
// whole channel (x) times as many channels as fill kThreads threads (y); images along z.
struct ChannelLaunch {
  dim3 grid, block;
};

ChannelLaunch channel_launch(int64_t pixels, int64_t channels, int64_t images) {
  if (pixels == 0 || channels == 0 || images == 0) return {dim3(0, 0, 0), dim3(1)};
  const int64_t tx = min64(pixels, kThreads), ty = min64(kThreads / tx, channels);
  const int64_t bx = ceil_div(pixels, tx), by = ceil_div(channels, ty);
  return {dim3(unsigned(min64(bx, kMaxGridX)), unsigned(min64(by, kMaxGridY)), unsigned(min64(images, kMaxGridZ))),
          dim3(unsigned(tx), unsigned(ty))};
}

// Pixels of a channel and channels in int (FeatureGeometry).
void check_geometry(const char* op, const FeaturePoolShape& s) {
  check_plane(op, s.H * s.W);
  if (s.C >= (int64_t(1) << 31)) {
    throw std::invalid_argument(std::string(op) + ": on CUDA an image must have fewer than 2^31 channels");
  }
}

// ---------------------------------------------------------------------------------------------------------
// kernels

// Over the output (N x K x H x W): z = root(sum), or with gy, z = gy * output_factor(root(sum)).
template <typename T>
__global__ void feature_lp_pool_kernel(FeatureGeometry g, LpNorm norm, const T* __restrict__ x,
                                       const T* __restrict__ gy, T* __restrict__ z) {
  for (int64_t n = blockIdx.z; n < g.N; n += gridDim.z) {
    for (int k = blockIdx.y * blockDim.y + threadIdx.y; k < g.K; k += gridDim.y * blockDim.y) {
      const T* xk = x + (n * g.C + k * g.stride) * g.pixels;  // the window's first channel
      const int64_t plane = (n * g.K + k) * g.pixels;
      for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < g.pixels;
           j += int64_t(gridDim.x) * blockDim.x) {
        const int i = int(j);
        T sum = 0;
        for (int c = 0; c < g.width; ++c) sum += norm.power(xk[int64_t(c) * g.pixels + i]);
        const T out = norm.root(sum);
        z[plane + i] = gy ? gy[plane + i] * norm.output_factor(out) : out;
      }
    }
  }
}

// Over the input (N x C x H x W): gx = input_factor(x) * (sum of z over the k covering c, increasing k), a zero
// sum staying 0.
template <typename T>
__global__ void feature_lp_pool_backward_kernel(FeatureGeometry g, LpNorm norm, const T* __restrict__ z,
                                                const T* __restrict__ x, T* __restrict__ gx) {
  for (int64_t n = blockIdx.z; n < g.N; n += gridDim.z) {
    for (int c = blockIdx.y * blockDim.y + threadIdx.y; c < g.C; c += gridDim.y * blockDim.y) {
      int k0, k1;
      covering_outputs(c, g.K, g.width, g.stride, 0, &k0, &k1);
      const T* zn = z + n * g.K * g.pixels;
      const int64_t plane = (n * g.C + c) * g.pixels;
      for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < g.pixels;
           j += int64_t(gridDim.x) * blockDim.x) {
        const int i = int(j);
        T sum = 0;
        for (int k = k0; k < k1; ++k) sum += zn[int64_t(k) * g.pixels + i];
        gx[plane + i] = sum != T(0) ? sum * norm.input_factor(x[plane + i]) : T(0);
      }
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// launchers

template <typename T>
void feature_lp_pool(const FeaturePoolShape& s, double norm_type, const T* x, T* y) {
  check_geometry("feature_lp_pool", s);
  const ChannelLaunch l = channel_launch(s.H * s.W, s.K, s.N);
  launch("feature_lp_pool", feature_lp_pool_kernel<T>, l.grid, l.block, 0, FeatureGeometry(s), LpNorm(norm_type), x,
         static_cast<const T*>(nullptr), y);
}

template <typename T>
void feature_lp_pool_backward(const FeaturePoolShape& s, double norm_type, const T* gy, const T* x, T* gx) {
  check_geometry("feature_lp_pool_backward", s);
  if (s.input().numel() == 0) return;
  const LpNorm norm(norm_type);
  T* z = workspace<T>(size_t(s.output().numel()));
  const ChannelLaunch outs = channel_launch(s.H * s.W, s.K, s.N), ins = channel_launch(s.H * s.W, s.C, s.N);
  launch("feature_lp_pool_output_factor", feature_lp_pool_kernel<T>, outs.grid, outs.block, 0, FeatureGeometry(s),
         norm, x, gy, z);
  launch("feature_lp_pool_backward", feature_lp_pool_backward_kernel<T>, ins.grid, ins.block, 0, FeatureGeometry(s),
         norm, static_cast<const T*>(z), x, gx);
}

template void feature_lp_pool<float>(const FeaturePoolShape&, double, const float*, float*);
template void feature_lp_pool<double>(const FeaturePoolShape&, double, const double*, double*);
template void feature_lp_pool_backward<float>(const FeaturePoolShape&, double, const float*, const float*, float*);
template void feature_lp_pool_backward<double>(const FeaturePoolShape&, double, const double*, const double*,
                                               double*);

}  // namespace cuda
}  // namespace ck
