// local_contrast_norm.cpp: local contrast normalization (Jarrett et al. 2009) on the CPU.
//
// With g the R x R Gaussian window (std sigma, sum 1), w = g / C, and coef(i, j) the sum of g over the
// part of the window inside the image (zero padding, border correction; both from shapes.hpp):
//   mean  = sum_c (w * x_c) / coef                 subtractive step, one plane per image
//   v_c   = x_c - mean
//   sigma = sqrt(sum_c (w * v_c^2) / coef)
//   y_c   = v_c / max(sigma, mean of sigma over the image, eps)   divisive step
// Correlation is linear, so sum_c (w * x_c) = (g * sum_c x_c) / C: each step blurs one H x W plane, and the
// Gaussian is separable, so a blur is a row pass and a column pass of the 1-D window (R taps each).
#include <cmath>
#include <algorithm>
#include <vector>

#include "cnnkernels/kernels.hpp"
#include "threads.hpp"

namespace ck {
namespace {

// out = g * in (2-D correlation with the separable window g ⊗ g, zero padding), using tmp (H x W).
template <typename T>
void blur(const std::vector<T>& g, int64_t H, int64_t W, const T* in, T* tmp, T* out, int threads) {
  const int64_t R = g.size(), half = R / 2;
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < H; ++i) {  // row pass: tmp[i, j] = sum_u g[u] in[i, j + u - half]
      const T* row = in + i * W;
      T* t = tmp + i * W;
      std::fill(t, t + W, T(0));
      for (int64_t u = 0; u < R; ++u) {
        const int64_t offset = u - half;
        const int64_t j_lo = std::max<int64_t>(0, -offset), j_hi = std::min<int64_t>(W, W - offset);
        for (int64_t j = j_lo; j < j_hi; ++j) t[j] += g[u] * row[j + offset];
      }
    }
#pragma omp for schedule(static)
    for (int64_t i = 0; i < H; ++i) {  // column pass: out[i, j] = sum_u g[u] tmp[i + u - half, j]
      T* o = out + i * W;
      std::fill(o, o + W, T(0));
      for (int64_t u = 0; u < R; ++u) {
        const int64_t ii = i + u - half;
        if (ii < 0 || ii >= H) continue;
        const T* t = tmp + ii * W;
        for (int64_t j = 0; j < W; ++j) o[j] += g[u] * t[j];
      }
    }
  }
}

template <typename T>
void lcn_image(const LcnShape& s, const std::vector<T>& g, const std::vector<T>& scale, const T* x, T* y,
               int threads) {
  const int64_t C = s.C, H = s.H, W = s.W, HW = H * W;
  std::vector<T> acc(HW), tmp(HW), mean(HW), denom(HW);

  // Subtractive step: mean = blur(sum_c x_c) * scale, scale = 1 / (C * coef).
  std::fill(acc.begin(), acc.end(), T(0));
  for (int64_t c = 0; c < C; ++c) {
    const T* x_c = x + c * HW;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < HW; ++i) acc[i] += x_c[i];
  }
  blur(g, H, W, acc.data(), tmp.data(), mean.data(), threads);
  for (int64_t i = 0; i < HW; ++i) mean[i] *= scale[i];

  // Divisive step: sigma = sqrt(blur(sum_c (x_c - mean)^2) * scale).
  std::fill(acc.begin(), acc.end(), T(0));
  for (int64_t c = 0; c < C; ++c) {
    const T* x_c = x + c * HW;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < HW; ++i) {
      const T v = x_c[i] - mean[i];
      acc[i] += v * v;
    }
  }
  blur(g, H, W, acc.data(), tmp.data(), denom.data(), threads);
  double sigma_sum = 0;
  for (int64_t i = 0; i < HW; ++i) {
    denom[i] = std::sqrt(denom[i] * scale[i]);
    sigma_sum += denom[i];
  }
  const T floor = static_cast<T>(std::max(sigma_sum / HW, s.eps));
  for (int64_t i = 0; i < HW; ++i) denom[i] = std::max(denom[i], floor);

  for (int64_t c = 0; c < C; ++c) {
    const T* x_c = x + c * HW;
    T* y_c = y + c * HW;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < HW; ++i) y_c[i] = (x_c[i] - mean[i]) / denom[i];
  }
}

}  // namespace

namespace cpu {

template <typename T>
void local_contrast_norm(const LcnShape& s, const T* x, T* y) {
  // The window and the border correction (shapes.hpp: the rules the CUDA twin and the backward share).
  std::vector<T> g(s.R);
  for (int64_t u = 0; u < s.R; ++u) g[u] = static_cast<T>(lcn_gaussian_tap(u, s.R, s.sigma));
  std::vector<double> ch(s.H), cw(s.W);
  for (int64_t i = 0; i < s.H; ++i) ch[i] = lcn_border_weight(i, s.H, s.R, s.sigma);
  for (int64_t j = 0; j < s.W; ++j) cw[j] = lcn_border_weight(j, s.W, s.R, s.sigma);
  std::vector<T> scale(s.H * s.W);  // 1 / (C * coef(i, j))
  for (int64_t i = 0; i < s.H; ++i) {
    for (int64_t j = 0; j < s.W; ++j) scale[i * s.W + j] = static_cast<T>(1.0 / (s.C * ch[i] * cw[j]));
  }
  const int64_t CHW = s.C * s.H * s.W;
  // Images in parallel when there are enough of them, otherwise the threads share each image's loops.
  const int outer = s.N >= num_threads() ? threads_for(s.N) : 1;
#pragma omp parallel for schedule(static) num_threads(outer)
  for (int64_t n = 0; n < s.N; ++n) {
    lcn_image(s, g, scale, x + n * CHW, y + n * CHW, threads_for(s.H * s.W));
  }
}

template void local_contrast_norm<float>(const LcnShape&, const float*, float*);
template void local_contrast_norm<double>(const LcnShape&, const double*, double*);

}  // namespace cpu
}  // namespace ck
