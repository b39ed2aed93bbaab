// conv2d_im2col.cu: 2-D convolution as im2col + GEMM on CUDA, and its data and weight gradients: twins of
// csrc/conv2d_im2col.cpp and of the im2col gradients of csrc/conv2d_backward.cpp. The GEMM is our own
// (gemm.cuh); every stride, asymmetric padding, dilation and group count.
//
// The column matrix of image n (rows (c, r, s) of all C channels, columns the output pixels (p, q)):
//   col[n][c][r][s][p][q] = x[n, c, p*stride_h + r*dil_h - pad_top, q*stride_w + s*dil_w - pad_left]
// (0 in the padding); group g's rows are the (C/g)*R*S consecutive ones of its channels. It is built by
// im2col_kernel for a chunk of images at a time into workspace of at most kWorkspaceBytes (one image
// when one image's columns alone are larger), one thread per element, consecutive threads along the
// output pixels of a row (coalesced stores).
//   forward          y[n, group g] = w_g (K/g x (C/g)RS) * col_g(n) ((C/g)RS x PQ) + bias_g: GEMM NN
//                    batched over (image, group), bias in its epilogue, written straight into y.
//   data gradient    dcol_g(n) = w_g^T * gy[n, group g] (TN, batched the same way), then col2im_kernel:
//                    each input pixel gathers the entries (c, r, s, p, q) that read it, r then s ascending
//                    (one thread per input element: no atomics, a fixed order).
//   weight gradient  gw_g = sum over n of gy[n, group g] (K/g x PQ) * col_g(n)^T (NT, batched over the
//                    groups): one GEMM per chunk whose inner dimension runs over the chunk's images in
//                    order (GemmBatch terms), chunks accumulated in order with beta = 1: deterministic.
// A pointwise convolution (1x1, stride 1, no padding) uses x, gx itself as the column matrix (no workspace).
// GEMMs whose grid is too small to fill the GPU split K (gemm.cuh), with a workspace the chunks share.
// Index math in the kernels is 32-bit (ConvPlane); planes and matrix offsets are int64 products.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "cnnkernels/kernels.hpp"
#include "common.cuh"
#include "gemm.cuh"

namespace ck {
namespace cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kWorkspaceBytes = int64_t(16) << 20;  // column matrix of a chunk of images

// The geometry of one plane in int (common.cuh: kernels divide in 32 bits).
struct ConvPlane {
  int H, W, P, Q, R, S, stride_h, stride_w, pad_top, pad_left, dil_h, dil_w;
  explicit ConvPlane(const Conv2dShape& s)
      : H(int(s.H)), W(int(s.W)), P(int(s.P)), Q(int(s.Q)), R(int(s.R)), S(int(s.S)), stride_h(int(s.stride_h)),
        stride_w(int(s.stride_w)), pad_top(int(s.pad_top)), pad_left(int(s.pad_left)), dil_h(int(s.dil_h)),
        dil_w(int(s.dil_w)) {}
};

// ---------------------------------------------------------------------------------------------------------
// kernels

// col rows (n*C + c)*R*S + r*S + s for n in the chunk (x at its first image), `rows` of P*Q each: one
// thread per element, rows along the grid's y.
template <typename T>
__global__ void im2col_kernel(ConvPlane g, int64_t rows, const T* __restrict__ x, T* __restrict__ col) {
  const int pixels = g.P * g.Q;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const int rr = int(row);  // rows < 2^31 (the launcher checks)
    const int plane_r = rr / g.S, s = rr - plane_r * g.S;
    const int plane = plane_r / g.R, r = plane_r - plane * g.R;  // plane = n*C + c
    const T* xp = x + int64_t(plane) * g.H * g.W;
    const int dh = r * g.dil_h - g.pad_top, dw = s * g.dil_w - g.pad_left;
    T* out = col + row * pixels;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < pixels; i += gridDim.x * blockDim.x) {
      const int p = i / g.Q, q = i - p * g.Q;
      const int h = p * g.stride_h + dh, w = q * g.stride_w + dw;
      out[i] = unsigned(h) < unsigned(g.H) && unsigned(w) < unsigned(g.W) ? xp[h * g.W + w] : T(0);
    }
  }
}

// gx[plane][h][w] = sum over the taps (r, s) whose output (p, q) reads (h, w) of dcol[plane][r][s][p][q],
// for the `planes` = images * C planes of the chunk: p*stride_h = h + pad_top - r*dil_h with 0 <= p < P,
// likewise q; r ascending, then s.
template <typename T>
__global__ void col2im_kernel(ConvPlane g, int64_t planes, const T* __restrict__ dcol, T* __restrict__ gx) {
  const int pixels = g.H * g.W, PQ = g.P * g.Q;
  for (int64_t plane = blockIdx.y; plane < planes; plane += gridDim.y) {
    const T* d = dcol + plane * g.R * g.S * PQ;
    T* out = gx + plane * pixels;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < pixels; i += gridDim.x * blockDim.x) {
      const int h = i / g.W, w = i - h * g.W;
      T sum = T(0);
      for (int r = 0; r < g.R; ++r) {
        const int ph = h + g.pad_top - r * g.dil_h;  // p * stride_h; decreasing in r
        if (ph < 0) break;
        const int p = ph / g.stride_h;
        if (p * g.stride_h != ph || p >= g.P) continue;
        const T* d_r = d + int64_t(r * g.S) * PQ + p * g.Q;
        for (int s = 0; s < g.S; ++s) {
          const int qw = w + g.pad_left - s * g.dil_w;
          if (qw < 0) break;
          const int q = qw / g.stride_w;
          if (q * g.stride_w != qw || q >= g.Q) continue;
          sum += d_r[int64_t(s) * PQ + q];
        }
      }
      out[i] = sum;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// launchers' helpers

// Refuses geometries whose GEMM sizes or plane indices do not fit the kernels' int.
void check_im2col(const char* op, const Conv2dShape& s) {
  check_plane(op, s.H * s.W);
  check_plane(op, s.P * s.Q);
  const int64_t limit = int64_t(1) << 31;
  if (s.C * s.R * s.S >= limit || s.K >= limit) {
    throw std::invalid_argument(std::string(op) + ": on CUDA C*R*S and K must be below 2^31");
  }
}

// Images per chunk: as many as fit kWorkspaceBytes of columns (all of them when pointwise: no columns), at
// least 1; at most what keeps the kernels' counts in int (im2col rows, GEMM batch items, GEMM steps).
template <typename T>
int64_t chunk_images(const Conv2dShape& s) {
  const int64_t max_int = (int64_t(1) << 31) - 1, crs = std::max<int64_t>(1, s.C * s.R * s.S);
  int64_t n = std::min(s.N, max_int / crs);
  const int bk = std::min(GemmTiles<T>::Big::BK, GemmTiles<T>::Small::BK);
  n = std::min(n, max_int / ceil_div(std::max<int64_t>(1, s.P * s.Q), bk));  // GEMM steps (weight gradient)
  if (!s.is_pointwise()) n = std::min(n, kWorkspaceBytes / int64_t(sizeof(T)) / (crs * s.P * s.Q));
  return std::max<int64_t>(1, n);
}

// The column matrices of images [n0, n0 + count) into col.
template <typename T>
void im2col(const Conv2dShape& s, const T* x, int64_t n0, int64_t count, T* col) {
  const int64_t rows = count * s.C * s.R * s.S;
  launch("conv2d_im2col: im2col", im2col_kernel<T>, plane_grid(s.P * s.Q, rows, kThreads), dim3(kThreads), 0,
         ConvPlane(s), rows, x + n0 * s.C * s.H * s.W, col);
}

// Calls body(n0, count, B) for the batch's chunks of images in order: B is the chunk's column matrices
// (C*R*S x P*Q an image, from im2col), or x's images themselves for a pointwise convolution.
template <typename T, typename Body>
void for_each_column_chunk(const Conv2dShape& s, const T* x, Body&& body) {
  const bool pointwise = s.is_pointwise();
  const int64_t nb = chunk_images<T>(s), PQ = s.P * s.Q;
  T* col = pointwise ? nullptr : workspace<T>(size_t(nb * s.C * s.R * s.S * PQ));
  for (int64_t n0 = 0; n0 < s.N; n0 += nb) {
    const int64_t count = std::min(nb, s.N - n0);
    if (!pointwise) im2col(s, x, n0, count, col);
    body(n0, count, pointwise ? x + n0 * s.C * PQ : static_cast<const T*>(col));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// launchers

template <typename T>
void conv2d_im2col(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  check_im2col("conv2d", s);
  const int64_t G = s.groups, Cg = s.C_per_group(), Kg = s.K_per_group(), PQ = s.P * s.Q;
  const int64_t depth = Cg * s.R * s.S;  // GEMM inner dimension
  if (s.N == 0) return;
  GemmScratch<T> scratch;
  for_each_column_chunk(s, x, [&](int64_t n0, int64_t count, const T* B) {
    // Item (image n, group g): y[n0 + n, g*Kg:] = w_g * B_{n,g} + bias_g.
    GemmBatch b;
    b.count = int(count * G);
    b.inner = int(G);
    b.a_inner = Kg * depth;
    b.b_outer = s.C * s.R * s.S * PQ;  // = C*HW when pointwise (P = H, Q = W)
    b.b_inner = depth * PQ;
    b.c_outer = s.K * PQ;
    b.c_inner = Kg * PQ;
    b.bias_inner = Kg;
    gemm<T, Op::N, Op::N>("conv2d_im2col: gemm", int(Kg), int(PQ), int(depth), T(1), w, int(depth), B, int(PQ),
                          T(0), y + n0 * s.K * PQ, int(PQ), bias, b, &scratch);
  });
}

template <typename T>
void conv2d_backward_input_im2col(const Conv2dShape& s, const T* gy, const T* w, T* gx) {
  check_im2col("conv2d_backward", s);
  const int64_t G = s.groups, Cg = s.C_per_group(), Kg = s.K_per_group(), PQ = s.P * s.Q, HW = s.H * s.W;
  const int64_t depth = Cg * s.R * s.S;
  if (s.N == 0) return;
  const bool pointwise = s.is_pointwise();
  const int64_t nb = chunk_images<T>(s);
  T* dcol = pointwise ? nullptr : workspace<T>(size_t(nb * s.C * s.R * s.S * PQ));
  GemmScratch<T> scratch;
  for (int64_t n0 = 0; n0 < s.N; n0 += nb) {
    const int64_t count = std::min(nb, s.N - n0);
    // Item (image n, group g): dcol_{n,g} = w_g^T * gy[n0 + n, g*Kg:] (into gx itself when pointwise).
    GemmBatch b;
    b.count = int(count * G);
    b.inner = int(G);
    b.a_inner = Kg * depth;
    b.b_outer = s.K * PQ;
    b.b_inner = Kg * PQ;
    b.c_outer = s.C * s.R * s.S * PQ;
    b.c_inner = depth * PQ;
    T* out = pointwise ? gx + n0 * s.C * HW : dcol;
    gemm<T, Op::T, Op::N>("conv2d_backward_input_im2col: gemm", int(depth), int(PQ), int(Kg), T(1), w, int(depth),
                          gy + n0 * s.K * PQ, int(PQ), T(0), out, int(PQ), nullptr, b, &scratch);
    if (!pointwise) {
      const int64_t planes = count * s.C;
      launch("conv2d_backward_input_im2col: col2im", col2im_kernel<T>, plane_grid(HW, planes, kThreads),
             dim3(kThreads), 0, ConvPlane(s), planes, dcol, gx + n0 * s.C * HW);
    }
  }
}

template <typename T>
void conv2d_backward_weight_im2col(const Conv2dShape& s, const T* gy, const T* x, T* gw) {
  check_im2col("conv2d_backward", s);
  const int64_t G = s.groups, Cg = s.C_per_group(), Kg = s.K_per_group(), PQ = s.P * s.Q;
  const int64_t depth = Cg * s.R * s.S;
  if (s.N == 0) {  // no term: gw = 0
    memset_async(gw, 0, size_t(s.K * depth) * sizeof(T));
    return;
  }
  GemmScratch<T> scratch;
  for_each_column_chunk(s, x, [&](int64_t n0, int64_t count, const T* B) {
    // Group g: gw_g (+)= sum over the chunk's images n, in order, of gy[n0 + n, g*Kg:] * col_{n,g}^T.
    GemmBatch b;
    b.count = int(G);
    b.inner = int(G);
    b.a_inner = Kg * PQ;
    b.b_inner = depth * PQ;
    b.c_inner = Kg * depth;
    b.terms = int(count);
    b.a_term = s.K * PQ;
    b.b_term = s.C * s.R * s.S * PQ;
    gemm<T, Op::N, Op::T>("conv2d_backward_weight_im2col: gemm", int(Kg), int(depth), int(PQ), T(1),
                          gy + n0 * s.K * PQ, int(PQ), B, int(PQ), n0 == 0 ? T(0) : T(1), gw, int(depth), nullptr, b,
                          &scratch);
  });
}

template void conv2d_im2col<float>(const Conv2dShape&, const float*, const float*, const float*, float*);
template void conv2d_im2col<double>(const Conv2dShape&, const double*, const double*, const double*, double*);
template void conv2d_backward_input_im2col<float>(const Conv2dShape&, const float*, const float*, float*);
template void conv2d_backward_input_im2col<double>(const Conv2dShape&, const double*, const double*, double*);
template void conv2d_backward_weight_im2col<float>(const Conv2dShape&, const float*, const float*, float*);
template void conv2d_backward_weight_im2col<double>(const Conv2dShape&, const double*, const double*, double*);

}  // namespace cuda
}  // namespace ck
