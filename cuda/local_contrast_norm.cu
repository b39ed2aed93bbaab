// local_contrast_norm.cu: local contrast normalization and its gradient on CUDA, twins of
// csrc/local_contrast_norm.cpp (the same window, border correction and branch rules: shapes.hpp).
//
// x, y: N x C x H x W. Per image, with g the R-tap 1-D Gaussian (sum 1), blur(a) the correlation of an H x W
// plane with g ⊗ g (zero padding) and scale(i, j) = 1 / (C * border_h(i) * border_w(j)):
//   mean  = blur(sum_c x_c) * scale,   sigma = sqrt(blur(sum_c (x_c - mean)^2) * scale)
//   floor = max(mean of sigma over the image, eps),   y_c = (x_c - mean) / max(sigma, floor)
// The host computes the taps and the border weights once per call, in double as the CPU does, and copies
// the taps and the two factors of scale (1 / border_h, 1 / (C * border_w)) to workspace memory. On the
// device every step is a kernel over plane_grid(pixels, images): one thread per pixel of an image, looping
// over the C channels where a step sums or writes them (consecutive threads take consecutive pixels, so
// each channel's loads coalesce). The blur is a row pass and a column pass, each a gather over the taps
// that land inside the image, in the CPU's tap order. The mean of sigma is a fixed-order two-level
// reduction in double: fixed slices of each image summed by the blocks of a grid (partial sums), then one
// block per image sums its partials. No atomics: the results do not depend on scheduling.
// The backward recomputes the statistics and takes the CPU's adjoint steps (lcn_backward_image); the blur
// is its own adjoint (g is symmetric, the padding zero), and the floor's share of the gradient is a second
// per-image reduction of the same kind.
#include <vector>

#include "cnnkernels/kernels.hpp"
#include "common.cuh"

namespace ck {
namespace cuda {
namespace {

constexpr int kThreads = 256;          // the most threads of a per-pixel block
constexpr int kReduceThreads = 256;    // the most threads of a reduction block
constexpr int kMaxPartials = 1024;     // the most partial sums per image
constexpr int kReducePerThread = 16;   // pixels per reduction thread (more once kMaxPartials caps P)

// The geometry of one image plane in int (common.cuh: kernels divide in 32 bits).
struct LcnPlane {
  int H, W, HW, R, half;
  explicit LcnPlane(const LcnShape& s)
      : H(int(s.H)), W(int(s.W)), HW(int(s.H * s.W)), R(int(s.R)), half(int(s.R / 2)) {}
};

// The window on the device: taps[R] = g, and scale(i, j) = row_scale[i] * col_scale[j] (1 / border_h(i),
// 1 / (C * border_w(j))).
template <typename T>
struct Window {
  const T* taps;
  const T* row_scale;
  const T* col_scale;
};

// What a column pass does with its blurred value b at pixel (i, j) (the blur's last step).
enum class ColumnOut {
  kMean,            // out = b * scale                            the local mean
  kSigma,           // out = sqrt(b * scale)                      the local deviation sigma
  kPlain,           // out = b
  kAddToChannels,   // out_c += b for each channel c of the image  (out: N x C x H x W)
};

// ---------------------------------------------------------------------------------------------------------
// kernels

// The taps [*lo, *hi) of a window centred at pos (taps u at pos + u - half) that land inside [0, len).
// No division, and no overflow for any len, R < 2^31.
__device__ __forceinline__ void inside_taps(int pos, int len, int R, int half, int* lo, int* hi) {
  *lo = half > pos ? half - pos : 0;
  *hi = len - pos < R - half ? len - pos + half : R;
}

// out[n] = sum_c x[n, c] (kSquares: sum_c (x[n, c] - mean[n])^2), in channel order. out, mean: N x H x W.
template <typename T, bool kSquares>
__global__ void lcn_channel_sum_kernel(LcnPlane g, int64_t N, int64_t C, const T* __restrict__ x,
                                       const T* __restrict__ mean, T* __restrict__ out) {
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    const T* xn = x + n * C * g.HW;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < g.HW; i += gridDim.x * blockDim.x) {
      const T m = kSquares ? mean[n * g.HW + i] : T(0);
      T sum = 0;
      for (int64_t c = 0; c < C; ++c) {
        const T v = xn[c * g.HW + i];
        if (kSquares) {
          sum += (v - m) * (v - m);
        } else {
          sum += v;
        }
      }
      out[n * g.HW + i] = sum;
    }
  }
}

// The blur's row pass: out[n, i, j] = sum_u g[u] in[n, i, j + u - half] over the taps inside the row.
template <typename T>
__global__ void lcn_blur_rows_kernel(LcnPlane g, int64_t N, const T* __restrict__ taps, const T* __restrict__ in,
                                     T* __restrict__ out) {
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < g.HW; i += gridDim.x * blockDim.x) {
      const int h = i / g.W, j = i - h * g.W;
      int u0, u1;
      inside_taps(j, g.W, g.R, g.half, &u0, &u1);
      const T* row = in + n * g.HW + h * g.W;
      T sum = 0;
      for (int u = u0; u < u1; ++u) sum += taps[u] * row[j - g.half + u];
      out[n * g.HW + i] = sum;
    }
  }
}

// The blur's column pass: b = sum_u g[u] in[n, i + u - half, j] over the taps inside the column, then
// kOut's step (C: the channels of out for kAddToChannels).
template <typename T, ColumnOut kOut>
__global__ void lcn_blur_columns_kernel(LcnPlane g, int64_t N, int64_t C, Window<T> win, const T* __restrict__ in,
                                        T* __restrict__ out) {
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < g.HW; i += gridDim.x * blockDim.x) {
      const int h = i / g.W, j = i - h * g.W;
      int u0, u1;
      inside_taps(h, g.H, g.R, g.half, &u0, &u1);
      const T* col = in + n * g.HW + j;
      T b = 0;
      for (int u = u0; u < u1; ++u) b += win.taps[u] * col[(h - g.half + u) * g.W];
      if (kOut == ColumnOut::kMean) {
        out[n * g.HW + i] = b * (win.row_scale[h] * win.col_scale[j]);
      } else if (kOut == ColumnOut::kSigma) {
        out[n * g.HW + i] = sqrt(b * (win.row_scale[h] * win.col_scale[j]));
      } else if (kOut == ColumnOut::kPlain) {
        out[n * g.HW + i] = b;
      } else {
        for (int64_t c = 0; c < C; ++c) out[(n * C + c) * g.HW + i] += b;
      }
    }
  }
}

// The sum of v over the block's threads, in a fixed order (warp shuffles, then the warps' sums), in thread
// 0. Every thread of the block calls it; blockDim.x is a multiple of 32.
__device__ double block_sum(double v) {
  CK_SHARED(double, warp_sums, [32]);
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // an earlier call's reads of warp_sums are done
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  v = 0;
  if (warp == 0) {
    if (lane < int(blockDim.x >> 5)) v = warp_sums[lane];
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  }
  return v;
}

// First level of the per-image sums: partial[n, b] = the sum in double of in[n, i] over the pixels i of
// block b's slice (i = b * blockDim.x + threadIdx.x, stepping gridDim.x * blockDim.x): grid P x images.
template <typename T>
__global__ void lcn_partial_sums_kernel(int HW, int64_t N, const T* __restrict__ in, double* __restrict__ partial) {
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    const T* a = in + n * HW;
    double sum = 0;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < HW; i += gridDim.x * blockDim.x) sum += double(a[i]);
    sum = block_sum(sum);
    if (threadIdx.x == 0) partial[n * gridDim.x + blockIdx.x] = sum;
  }
}

// Second level: mean[n] = (sum of the P partial sums of image n) / HW, one block per image.
__global__ void lcn_image_mean_kernel(int HW, int P, int64_t N, const double* __restrict__ partial,
                                      double* __restrict__ mean) {
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    double sum = 0;
    for (int b = threadIdx.x; b < P; b += blockDim.x) sum += partial[n * P + b];
    sum = block_sum(sum);
    if (threadIdx.x == 0) mean[n] = sum / HW;
  }
}

// The floor max(mean of sigma, eps) of an image, in T as the CPU rounds it (std::max keeps the mean on a
// tie), and the divisor max(sigma, floor) (sigma on a tie).
template <typename T>
__device__ __forceinline__ T lcn_floor(double sigma_mean, double eps) {
  return T(sigma_mean < eps ? eps : sigma_mean);
}
template <typename T>
__device__ __forceinline__ T lcn_divisor(T sigma, T floor) {
  return sigma < floor ? floor : sigma;
}

// y[n, c] = (x[n, c] - mean[n]) / max(sigma[n], floor(n)).
template <typename T>
__global__ void lcn_output_kernel(LcnPlane g, int64_t N, int64_t C, double eps, const T* __restrict__ mean,
                                  const T* __restrict__ sigma, const double* __restrict__ sigma_mean,
                                  const T* __restrict__ x, T* __restrict__ y) {
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    const T floor = lcn_floor<T>(sigma_mean[n], eps);
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < g.HW; i += gridDim.x * blockDim.x) {
      const T m = mean[n * g.HW + i];
      const T inv = reciprocal(lcn_divisor(sigma[n * g.HW + i], floor));
      for (int64_t c = 0; c < C; ++c) {
        const int64_t k = (n * C + c) * g.HW + i;
        y[k] = (x[k] - m) * inv;
      }
    }
  }
}

// Backward, the divisor d = max(sigma, floor): gd = -sum_c gy_c (x_c - mean) / d^2, split by the branch
// the forward took: to sigma (gd_sigma) where sigma >= floor, else to the floor (gd_floor); 0 in the other.
template <typename T>
__global__ void lcn_divisor_grad_kernel(LcnPlane g, int64_t N, int64_t C, double eps, const T* __restrict__ mean,
                                        const T* __restrict__ sigma, const double* __restrict__ sigma_mean,
                                        const T* __restrict__ gy, const T* __restrict__ x,
                                        T* __restrict__ gd_sigma, T* __restrict__ gd_floor) {
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    const T floor = lcn_floor<T>(sigma_mean[n], eps);
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < g.HW; i += gridDim.x * blockDim.x) {
      const T m = mean[n * g.HW + i], s = sigma[n * g.HW + i];
      T gd = 0;
      for (int64_t c = 0; c < C; ++c) {
        const int64_t k = (n * C + c) * g.HW + i;
        gd -= gy[k] * (x[k] - m);
      }
      const T d = lcn_divisor(s, floor);
      gd *= reciprocal(d * d);
      const bool to_floor = s < floor;
      gd_sigma[n * g.HW + i] = to_floor ? T(0) : gd;
      gd_floor[n * g.HW + i] = to_floor ? gd : T(0);
    }
  }
}

// Backward through sigma = sqrt(q * scale), q = blur(sum_c v_c^2), in place: gd <- (gd + the floor's share)
// * scale / (2 sigma), 0 where sigma = 0. The share, where the floor is the mean of sigma (mean >= eps), is
// floor_grad[n] (the mean over the image of gd_floor) for every pixel.
template <typename T>
__global__ void lcn_sigma_grad_kernel(LcnPlane g, int64_t N, double eps, Window<T> win, const T* __restrict__ sigma,
                                      const double* __restrict__ sigma_mean, const double* __restrict__ floor_grad,
                                      T* __restrict__ gd) {
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    const T share = sigma_mean[n] < eps ? T(0) : T(floor_grad[n]);
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < g.HW; i += gridDim.x * blockDim.x) {
      const int h = i / g.W, j = i - h * g.W;
      const T s = sigma[n * g.HW + i];
      const T gsigma = gd[n * g.HW + i] + share;
      gd[n * g.HW + i] = s > T(0) ? gsigma * (win.row_scale[h] * win.col_scale[j]) * reciprocal(2 * s) : T(0);
    }
  }
}

// Backward to the input, but for the mean's share: gx_c = gv_c = gy_c / d + 2 (x_c - mean) gq, and
// gmean = -sum_c gv_c * scale (which the caller blurs and adds to every channel).
template <typename T>
__global__ void lcn_input_grad_kernel(LcnPlane g, int64_t N, int64_t C, double eps, Window<T> win,
                                      const T* __restrict__ mean, const T* __restrict__ sigma,
                                      const double* __restrict__ sigma_mean, const T* __restrict__ gq,
                                      const T* __restrict__ gy, const T* __restrict__ x, T* __restrict__ gx,
                                      T* __restrict__ gmean) {
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    const T floor = lcn_floor<T>(sigma_mean[n], eps);
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < g.HW; i += gridDim.x * blockDim.x) {
      const int h = i / g.W, j = i - h * g.W;
      const T m = mean[n * g.HW + i], q = gq[n * g.HW + i];
      const T inv = reciprocal(lcn_divisor(sigma[n * g.HW + i], floor));
      T gm = 0;
      for (int64_t c = 0; c < C; ++c) {
        const int64_t k = (n * C + c) * g.HW + i;
        const T gv = gy[k] * inv + 2 * (x[k] - m) * q;
        gx[k] = gv;
        gm -= gv;
      }
      gmean[n * g.HW + i] = gm * (win.row_scale[h] * win.col_scale[j]);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// launchers

// One call's launch configuration and device buffers (workspace, valid until the call returns).
template <typename T>
struct LcnCall {
  const LcnShape& s;
  LcnPlane g;
  dim3 grid, block;                // per-pixel kernels: plane_grid(HW, N)
  int partials;                    // P: blocks (partial sums) per image of the first reduction level
  dim3 reduce_block, mean_block;   // the two reduction levels' blocks
  Window<T> win;
  T *mean, *sigma, *a, *b;         // N x H x W each: the statistics and two scratch planes per image
  double *partial, *sigma_mean;    // N x P, N

  explicit LcnCall(const LcnShape& shape) : s(shape), g(shape) {
    const int64_t HW = s.H * s.W;
    const int threads = int(min64(kThreads, round_up(HW, 32)));
    grid = plane_grid(HW, s.N, threads);
    block = dim3(threads);
    const int reduce = int(min64(kReduceThreads, round_up(HW, 32)));
    partials = int(min64(kMaxPartials, ceil_div(HW, int64_t(reduce) * kReducePerThread)));
    reduce_block = dim3(reduce);
    mean_block = dim3(unsigned(min64(kReduceThreads, round_up(partials, 32))));
    upload_window();
    const size_t planes = size_t(s.N * HW);
    mean = workspace<T>(planes);
    sigma = workspace<T>(planes);
    a = workspace<T>(planes);
    b = workspace<T>(planes);
    partial = workspace<double>(size_t(s.N * partials));
    sigma_mean = workspace<double>(size_t(s.N));
  }

  // The taps g[u] = T(lcn_gaussian_tap(u)) and the factors of scale, from the border weights border(i) =
  // the sum of the taps landing inside (in double, in tap order: lcn_border_weight's values).
  void upload_window() {
    const int64_t R = s.R, half = R / 2, H = s.H, W = s.W;
    std::vector<double> taps(R);
    for (int64_t u = 0; u < R; ++u) taps[u] = lcn_gaussian_tap(u, R, s.sigma);
    auto border = [&](int64_t i, int64_t len) {
      double weight = 0;
      for (int64_t u = max64(0, half - i); u < min64(R, len + half - i); ++u) weight += taps[u];
      return weight;
    };
    std::vector<T> host(R + H + W);
    for (int64_t u = 0; u < R; ++u) host[u] = T(taps[u]);
    for (int64_t i = 0; i < H; ++i) host[R + i] = T(1.0 / border(i, H));
    for (int64_t j = 0; j < W; ++j) host[R + H + j] = T(1.0 / (double(s.C) * border(j, W)));
    T* device = workspace<T>(host.size());
    // From pageable memory: the copy has taken the host buffer when it returns.
    check(cudaMemcpyAsync(device, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice, current_stream()),
          "local_contrast_norm: cudaMemcpyAsync");
    win = Window<T>{device, device + R, device + R + H};
  }

  // out = blur(in), then kOut's step (out: N x C x H x W for kAddToChannels); tmp: the row pass.
  template <ColumnOut kOut>
  void blur(const T* in, T* tmp, T* out) const {
    launch("local_contrast_norm_blur_rows", lcn_blur_rows_kernel<T>, grid, block, 0, g, s.N, win.taps, in, tmp);
    launch("local_contrast_norm_blur_columns", lcn_blur_columns_kernel<T, kOut>, grid, block, 0, g, s.N, s.C, win,
           (const T*)tmp, out);
  }

  // out[n] = the mean over image n of in[n] (N x H x W), in double.
  void image_means(const T* in, double* out) const {
    launch("local_contrast_norm_partial_sums", lcn_partial_sums_kernel<T>,
           dim3(unsigned(partials), unsigned(min64(s.N, kMaxGridY))), reduce_block, 0, g.HW, s.N, in, partial);
    launch("local_contrast_norm_image_mean", lcn_image_mean_kernel, dim3(1, unsigned(min64(s.N, kMaxGridY))),
           mean_block, 0, g.HW, partials, s.N, (const double*)partial, out);
  }

  // The forward's statistics of x: mean, sigma and sigma_mean.
  void statistics(const T* x) {
    launch("local_contrast_norm_channel_sum", lcn_channel_sum_kernel<T, false>, grid, block, 0, g, s.N, s.C, x,
           (const T*)nullptr, a);
    blur<ColumnOut::kMean>(a, b, mean);
    launch("local_contrast_norm_channel_squares", lcn_channel_sum_kernel<T, true>, grid, block, 0, g, s.N, s.C, x,
           (const T*)mean, a);
    blur<ColumnOut::kSigma>(a, b, sigma);
    image_means(sigma, sigma_mean);
  }
};

// Refuses what the kernels' int indices cannot hold.
void check_lcn(const char* op, const LcnShape& s) {
  check_plane(op, s.H * s.W);
  if (s.R >= (int64_t(1) << 31)) {
    throw std::invalid_argument(std::string(op) + ": on CUDA kernel_size must be below 2^31");
  }
}

}  // namespace

template <typename T>
void local_contrast_norm(const LcnShape& s, const T* x, T* y) {
  check_lcn("local_contrast_norm", s);
  if (s.N * s.C * s.H * s.W == 0) return;
  LcnCall<T> k(s);
  k.statistics(x);
  launch("local_contrast_norm_output", lcn_output_kernel<T>, k.grid, k.block, 0, k.g, s.N, s.C, s.eps,
         (const T*)k.mean, (const T*)k.sigma, (const double*)k.sigma_mean, x, y);
}

// The steps of csrc/local_contrast_norm.cpp: lcn_backward_image, for every image at once.
template <typename T>
void local_contrast_norm_backward(const LcnShape& s, const T* gy, const T* x, T* gx) {
  check_lcn("local_contrast_norm_backward", s);
  if (s.N * s.C * s.H * s.W == 0) return;
  LcnCall<T> k(s);
  k.statistics(x);
  double* floor_grad = workspace<double>(size_t(s.N));
  // a: the gradient to sigma, b: to the floor (reduced to its mean per image)
  launch("local_contrast_norm_divisor_grad", lcn_divisor_grad_kernel<T>, k.grid, k.block, 0, k.g, s.N, s.C, s.eps,
         (const T*)k.mean, (const T*)k.sigma, (const double*)k.sigma_mean, gy, x, k.a, k.b);
  k.image_means(k.b, floor_grad);
  launch("local_contrast_norm_sigma_grad", lcn_sigma_grad_kernel<T>, k.grid, k.block, 0, k.g, s.N, s.eps, k.win,
         (const T*)k.sigma, (const double*)k.sigma_mean, (const double*)floor_grad, k.a);
  k.template blur<ColumnOut::kPlain>(k.a, k.b, k.a);  // a: gq (the columns pass reads b only)
  T* gmean = k.b;
  launch("local_contrast_norm_input_grad", lcn_input_grad_kernel<T>, k.grid, k.block, 0, k.g, s.N, s.C, s.eps, k.win,
         (const T*)k.mean, (const T*)k.sigma, (const double*)k.sigma_mean, (const T*)k.a, gy, x, gx, gmean);
  k.template blur<ColumnOut::kAddToChannels>(gmean, k.a, gx);
}

template void local_contrast_norm<float>(const LcnShape&, const float*, float*);
template void local_contrast_norm<double>(const LcnShape&, const double*, double*);
template void local_contrast_norm_backward<float>(const LcnShape&, const float*, const float*, float*);
template void local_contrast_norm_backward<double>(const LcnShape&, const double*, const double*, double*);

}  // namespace cuda
}  // namespace ck
