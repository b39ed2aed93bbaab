// local_contrast_norm.cpp: local contrast normalization (Jarrett et al. 2009) on the CPU.
//
// With g the R x R Gaussian window (std sigma, sum 1), w = g / C, and coef(i, j) the sum of g over the
// part of the window inside the image (zero padding, border correction; both from shapes.hpp):
//   mean  = sum_c (w * x_c) / coef                 subtractive step, one plane per image
//   v_c   = x_c - mean
//   sigma = sqrt(sum_c (w * v_c^2) / coef)
//   y_c   = v_c / max(sigma, mean of sigma over the image, eps)   divisive step
// local_contrast_norm_backward recomputes these statistics and takes the steps back (lcn_backward_image).
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

// The window g and the scale 1 / (C * coef(i, j)) (shapes.hpp: the rules the CUDA twin shares).
template <typename T>
struct Window {
  std::vector<T> g, scale;
  explicit Window(const LcnShape& s) : g(s.R), scale(s.H * s.W) {
    for (int64_t u = 0; u < s.R; ++u) g[u] = static_cast<T>(lcn_gaussian_tap(u, s.R, s.sigma));
    std::vector<double> ch(s.H), cw(s.W);
    for (int64_t i = 0; i < s.H; ++i) ch[i] = lcn_border_weight(i, s.H, s.R, s.sigma);
    for (int64_t j = 0; j < s.W; ++j) cw[j] = lcn_border_weight(j, s.W, s.R, s.sigma);
    for (int64_t i = 0; i < s.H; ++i) {
      for (int64_t j = 0; j < s.W; ++j) scale[i * s.W + j] = static_cast<T>(1.0 / (s.C * ch[i] * cw[j]));
    }
  }
};

// The forward's statistics of one image (H x W planes): mean, sigma (before the floor), the floor
// max(mean of sigma, eps) and which of the two it is, and the denominator max(sigma, floor).
template <typename T>
struct Stats {
  std::vector<T> mean, sigma, denom;
  T floor;
  bool floor_is_mean;  // mean of sigma >= eps (std::max keeps its first argument on a tie)
};

template <typename T>
Stats<T> lcn_stats(const LcnShape& s, const std::vector<T>& g, const std::vector<T>& scale, const T* x,
                   int threads) {
  const int64_t C = s.C, H = s.H, W = s.W, HW = H * W;
  Stats<T> st;
  st.mean.resize(HW);
  st.sigma.resize(HW);
  st.denom.resize(HW);
  std::vector<T> acc(HW), tmp(HW);

  // Subtractive step: mean = blur(sum_c x_c) * scale, scale = 1 / (C * coef).
  std::fill(acc.begin(), acc.end(), T(0));
  for (int64_t c = 0; c < C; ++c) {
    const T* x_c = x + c * HW;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < HW; ++i) acc[i] += x_c[i];
  }
  blur(g, H, W, acc.data(), tmp.data(), st.mean.data(), threads);
  for (int64_t i = 0; i < HW; ++i) st.mean[i] *= scale[i];

  // Divisive step: sigma = sqrt(blur(sum_c (x_c - mean)^2) * scale).
  std::fill(acc.begin(), acc.end(), T(0));
  for (int64_t c = 0; c < C; ++c) {
    const T* x_c = x + c * HW;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < HW; ++i) {
      const T v = x_c[i] - st.mean[i];
      acc[i] += v * v;
    }
  }
  blur(g, H, W, acc.data(), tmp.data(), st.sigma.data(), threads);
  double sigma_sum = 0;
  for (int64_t i = 0; i < HW; ++i) {
    st.sigma[i] = std::sqrt(st.sigma[i] * scale[i]);
    sigma_sum += st.sigma[i];
  }
  const double sigma_mean = sigma_sum / HW;
  st.floor_is_mean = !(sigma_mean < s.eps);
  st.floor = static_cast<T>(std::max(sigma_mean, s.eps));
  for (int64_t i = 0; i < HW; ++i) st.denom[i] = std::max(st.sigma[i], st.floor);
  return st;
}

template <typename T>
void lcn_image(const LcnShape& s, const std::vector<T>& g, const std::vector<T>& scale, const T* x, T* y,
               int threads) {
  const int64_t HW = s.H * s.W;
  const Stats<T> st = lcn_stats(s, g, scale, x, threads);
  for (int64_t c = 0; c < s.C; ++c) {
    const T* x_c = x + c * HW;
    T* y_c = y + c * HW;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < HW; ++i) y_c[i] = (x_c[i] - st.mean[i]) / st.denom[i];
  }
}

// The gradient of one image, the forward's steps taken back in reverse order (v_c = x_c - mean, d = denom):
//   gv_c = gy_c / d,  gd = -sum_c gy_c v_c / d^2
//   gsigma = gd where sigma >= floor (the branch the forward took), and where the floor is the mean of sigma,
//            the floor's share sum(gd where sigma < floor) / HW added everywhere
//   gq = blur(gsigma * scale / (2 sigma))          (sigma = sqrt(blur(q) * scale), q = sum_c v_c^2;
//                                                   0 where sigma = 0; the blur is its own adjoint)
//   gv_c += 2 v_c gq,  gx_c = gv_c + blur(-sum_c gv_c * scale)   (mean = blur(sum_c x_c) * scale)
template <typename T>
void lcn_backward_image(const LcnShape& s, const std::vector<T>& g, const std::vector<T>& scale, const T* gy,
                        const T* x, T* gx, int threads) {
  const int64_t HW = s.H * s.W, H = s.H, W = s.W;
  const Stats<T> st = lcn_stats(s, g, scale, x, threads);
  std::vector<T> gd(HW, T(0)), tmp(HW), gq(HW), gmean(HW, T(0)), ga(HW);
  for (int64_t c = 0; c < s.C; ++c) {
    const T* x_c = x + c * HW;
    const T* gy_c = gy + c * HW;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < HW; ++i) gd[i] -= gy_c[i] * (x_c[i] - st.mean[i]);
  }
  double floor_grad = 0;
  for (int64_t i = 0; i < HW; ++i) {
    gd[i] /= st.denom[i] * st.denom[i];
    if (st.sigma[i] < st.floor) {
      floor_grad += gd[i];
      gd[i] = T(0);
    }
  }
  const T shared = st.floor_is_mean ? static_cast<T>(floor_grad / HW) : T(0);
  for (int64_t i = 0; i < HW; ++i) {  // gd becomes the gradient of blur(q) * scale's root's argument
    const T gsigma = gd[i] + shared;
    gd[i] = st.sigma[i] > T(0) ? gsigma * scale[i] / (2 * st.sigma[i]) : T(0);
  }
  blur(g, H, W, gd.data(), tmp.data(), gq.data(), threads);
  for (int64_t c = 0; c < s.C; ++c) {
    const T* x_c = x + c * HW;
    const T* gy_c = gy + c * HW;
    T* gx_c = gx + c * HW;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < HW; ++i) {
      const T gv = gy_c[i] / st.denom[i] + 2 * (x_c[i] - st.mean[i]) * gq[i];
      gx_c[i] = gv;
      gmean[i] -= gv;
    }
  }
  for (int64_t i = 0; i < HW; ++i) gmean[i] *= scale[i];
  blur(g, H, W, gmean.data(), tmp.data(), ga.data(), threads);
  for (int64_t c = 0; c < s.C; ++c) {
    T* gx_c = gx + c * HW;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < HW; ++i) gx_c[i] += ga[i];
  }
}

}  // namespace

namespace cpu {

template <typename T>
void local_contrast_norm(const LcnShape& s, const T* x, T* y) {
  const Window<T> win(s);
  const int64_t CHW = s.C * s.H * s.W;
  // Images in parallel when there are enough of them, otherwise the threads share each image's loops (when
  // an image is large enough to be worth sharing).
  const int outer = s.N >= num_threads() ? threads_for(s.N) : 1;
#pragma omp parallel for schedule(static) num_threads(outer)
  for (int64_t n = 0; n < s.N; ++n) {
    lcn_image(s, win.g, win.scale, x + n * CHW, y + n * CHW, threads_for(s.C * s.H * s.W / 16384));
  }
}

template <typename T>
void local_contrast_norm_backward(const LcnShape& s, const T* gy, const T* x, T* gx) {
  const Window<T> win(s);
  const int64_t CHW = s.C * s.H * s.W;
  const int outer = s.N >= num_threads() ? threads_for(s.N) : 1;
#pragma omp parallel for schedule(static) num_threads(outer)
  for (int64_t n = 0; n < s.N; ++n) {
    lcn_backward_image(s, win.g, win.scale, gy + n * CHW, x + n * CHW, gx + n * CHW,
                       threads_for(s.C * s.H * s.W / 16384));
  }
}

template void local_contrast_norm<float>(const LcnShape&, const float*, float*);
template void local_contrast_norm<double>(const LcnShape&, const double*, double*);
template void local_contrast_norm_backward<float>(const LcnShape&, const float*, const float*, float*);
template void local_contrast_norm_backward<double>(const LcnShape&, const double*, const double*, double*);

}  // namespace cpu
}  // namespace ck
