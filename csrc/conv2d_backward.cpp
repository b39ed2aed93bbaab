// conv2d_backward.cpp: the gradients of conv2d on the CPU, for every algorithm (kernels.hpp, conv2d_fft.hpp).
//
// grad_input, every algorithm: the stride-1 convolution of shapes.hpp's grad_input_problem, run by that
// algorithm's forward kernel. Its input is gy (zero-padded by the sub-kernel's extent: explicitly for the
// spatial kernels, whose fast paths are the unpadded ones, as the convolution's padding for fft); its weight
// is w with input and output channels swapped, flipped, and its taps split by the input phase they reach;
// its output's phase channels are then interleaved into gx. Stride 1 is the plain full correlation with the
// flipped kernel; a stride s > 1 costs no zero-stuffed work (each phase convolves with its own ~R/s taps).
//
// grad_weight, gw[k, c, r, t] = sum over n, p, q of gy[n, k, p, q] x[n, c, p*sh + r*dh - pt, q*sw + t*dw - pl]:
// - direct: that sum as written, one dot product per weight element over the rows and columns where the
//   shifted input lies inside the image;
// - im2col: per group one GEMM, gw[K/g x (C/g)RS] = gy^T[K/g x N*PQ] . col^T[N*PQ x (C/g)RS], the column
//   matrix's transpose packed straight from x by a packer (never stored whole);
// - fft: the forward FFT convolution of shapes.hpp's grad_weight_problem (images and channels traded) per
//   group.
// grad_bias: each channel's sum over the batch and pixels, accumulated in double.
//
// Every gradient is a fixed sum order for a given ISA: the results do not depend on the thread count (each
// output element is summed by one thread; the GEMM splits rows and columns, never the depth).
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "cnnkernels/kernels.hpp"
#include "conv2d_fft.hpp"
#include "gemm.hpp"
#include "threads.hpp"

namespace ck {
namespace {

// The forward kernel of `algo` (fft with its plan), without bias.
template <typename T>
void run_forward(ConvAlgo algo, const Conv2dShape& s, const Conv2dFftPlan* fft, const T* x, const T* w, T* y) {
  switch (algo) {
    case ConvAlgo::direct: cpu::conv2d_direct<T>(s, x, w, nullptr, y); break;
    case ConvAlgo::im2col: cpu::conv2d_im2col<T>(s, x, w, nullptr, y); break;
    case ConvAlgo::fft: cpu::conv2d_fft<T>(s, *fft, x, w, nullptr, y); break;
  }
}

// ---------------------------------------------------------------------------------------------------------
// grad_input

// Along one dimension: the phases that taps fall on (ascending), and each phase's index among them.
struct PhaseList {
  GradPhases g;
  std::vector<int64_t> used;   // phases a in [0, stride) with taps
  std::vector<int64_t> index;  // index[a] in `used`, or -1

  PhaseList(int64_t R, int64_t P, int64_t stride, int64_t dil) : g(grad_phases(R, P, stride, dil)), index(stride, -1) {
    for (int64_t a = 0; a < stride; ++a) {
      if (g.used(a, R)) {
        index[a] = static_cast<int64_t>(used.size());
        used.push_back(a);
      }
    }
  }
};

template <typename T>
void grad_input(ConvAlgo algo, const Conv2dShape& s, const Conv2dFftPlan* fft, const T* gy, const T* w, T* gx) {
  const bool pad_explicitly = algo != ConvAlgo::fft;
  const Conv2dShape t = grad_input_problem(s, pad_explicitly);
  const PhaseList ph(s.R, s.P, s.stride_h, s.dil_h), pw(s.S, s.Q, s.stride_w, s.dil_w);
  const int64_t Ah = ph.used.size(), Aw = pw.used.size(), Cg = s.C_per_group(), Kg = s.K_per_group();
  const int64_t HW = s.H * s.W;
  if (s.N == 0) return;

  // Weight: row (c*Ah + ih)*Aw + iw holds, for each k of c's group, the flipped taps of phases (ih, iw).
  std::vector<T> wt(t.K * Kg * t.R * t.S, T(0));
  for (int64_t k = 0; k < s.K; ++k) {
    const int64_t group = k / Kg, kl = k % Kg;
    for (int64_t cl = 0; cl < Cg; ++cl) {
      const int64_t c = group * Cg + cl;
      for (int64_t r = 0; r < s.R; ++r) {
        for (int64_t u = 0; u < s.S; ++u) {
          const int64_t row = (c * Ah + ph.index[ph.g.phase_of(r)]) * Aw + pw.index[pw.g.phase_of(u)];
          wt[((row * Kg + kl) * t.R + ph.g.sub_tap(r)) * t.S + pw.g.sub_tap(u)] =
              w[((k * Cg + cl) * s.R + r) * s.S + u];
        }
      }
    }
  }

  // Input: gy, zero-padded by the extents when the kernel reads it unpadded.
  std::vector<T> padded;
  const T* in = gy;
  if (pad_explicitly && (ph.g.extent > 0 || pw.g.extent > 0)) {
    padded.assign(t.N * t.C * t.H * t.W, T(0));
    const int64_t planes = s.N * s.K;
#pragma omp parallel for schedule(static) num_threads(threads_for(planes * t.H * t.W / 16384))
    for (int64_t i = 0; i < planes; ++i) {
      for (int64_t p = 0; p < s.P; ++p) {
        std::memcpy(&padded[(i * t.H + p + ph.g.extent) * t.W + pw.g.extent], gy + (i * s.P + p) * s.Q,
                    sizeof(T) * s.Q);
      }
    }
    in = padded.data();
  }

  std::vector<T> out(t.N * t.K * t.P * t.Q);
  run_forward(algo, t, fft, in, wt.data(), out.data());

  // Interleave: gx[n, c, i, j] = out[n, (c*Ah + ih)*Aw + iw, m, l] where i + pad_top = m*stride_h + used[ih]
  // and j + pad_left = l*stride_w + used[iw]; 0 where no tap reaches (unused phase, or m, l past the output).
  std::vector<int64_t> col_src(s.W);  // offset of (iw, l) in a channel's phase block, or -1
  for (int64_t j = 0; j < s.W; ++j) {
    const int64_t a = (j + s.pad_left) % s.stride_w, l = (j + s.pad_left) / s.stride_w, iw = pw.index[a];
    col_src[j] = iw < 0 || l >= t.Q ? -1 : iw * t.P * t.Q + l;
  }
  const int64_t planes = s.N * s.C;
#pragma omp parallel for schedule(static) num_threads(threads_for(planes * HW / 16384))
  for (int64_t i = 0; i < planes; ++i) {
    T* gx_c = gx + i * HW;
    const T* block = out.data() + i * Ah * Aw * t.P * t.Q;  // the phase channels of input channel i % C
    for (int64_t h = 0; h < s.H; ++h) {
      const int64_t a = (h + s.pad_top) % s.stride_h, m = (h + s.pad_top) / s.stride_h, ih = ph.index[a];
      T* row = gx_c + h * s.W;
      if (ih < 0 || m >= t.P) {
        std::fill(row, row + s.W, T(0));
        continue;
      }
      const T* src = block + ih * Aw * t.P * t.Q + m * t.Q;
      for (int64_t j = 0; j < s.W; ++j) row[j] = col_src[j] < 0 ? T(0) : src[col_src[j]];
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// grad_weight, im2col: the packer of col^T

// The virtual matrix col^T of one group: row j = (n, p, q), an output pixel of the batch; column (c, r, t),
// a tap of the group's channel c; entry x[n, c0 + c, p*sh + r*dh - pt, q*sw + t*dw - pl] (0 in the padding).
template <typename T>
class ColTPacker final : public BPacker<T> {
 public:
  ColTPacker(const Conv2dShape& s, const T* x, int64_t c0) : s_(s), x_(x) {
    const int64_t depth = s.C_per_group() * s.R * s.S;
    tap_c_.resize(depth);
    tap_h_.resize(depth);
    tap_w_.resize(depth);
    for (int64_t col = 0; col < depth; ++col) {
      tap_c_[col] = (c0 + col / (s.R * s.S)) * s.H * s.W;
      tap_h_[col] = col / s.S % s.R * s.dil_h;
      tap_w_[col] = col % s.S * s.dil_w;
    }
  }

  void pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, int64_t nr, T* panel) const override {
    const Conv2dShape& s = s_;
    const int64_t PQ = s.P * s.Q, CHW = s.C * s.H * s.W;
    for (int64_t p = 0; p < kc; ++p) {
      const int64_t j = k0 + p, n = j / PQ, oh = j % PQ / s.Q, ow = j % s.Q;
      const int64_t ih0 = oh * s.stride_h - s.pad_top, iw0 = ow * s.stride_w - s.pad_left;
      const T* xn = x_ + n * CHW;
      for (int64_t jj = 0; jj < round_up(nc, nr); ++jj) {
        T v = T(0);
        if (jj < nc) {
          const int64_t col = n0 + jj, ih = ih0 + tap_h_[col], iw = iw0 + tap_w_[col];
          if (ih >= 0 && ih < s.H && iw >= 0 && iw < s.W) v = xn[tap_c_[col] + ih * s.W + iw];
        }
        panel[packed_b_offset(p, jj, kc, nr)] = v;
      }
    }
  }

 private:
  const Conv2dShape& s_;
  const T* x_;
  std::vector<int64_t> tap_c_, tap_h_, tap_w_;
};

}  // namespace

namespace cpu {

template <typename T>
void conv2d_backward_input_direct(const Conv2dShape& s, const T* gy, const T* w, T* gx) {
  grad_input<T>(ConvAlgo::direct, s, nullptr, gy, w, gx);
}

template <typename T>
void conv2d_backward_input_im2col(const Conv2dShape& s, const T* gy, const T* w, T* gx) {
  grad_input<T>(ConvAlgo::im2col, s, nullptr, gy, w, gx);
}

template <typename T>
void conv2d_backward_input_fft(const Conv2dShape& s, const Conv2dFftPlan& plan, const T* gy, const T* w, T* gx) {
  grad_input<T>(ConvAlgo::fft, s, &plan, gy, w, gx);
}

template <typename T>
void conv2d_backward_weight_direct(const Conv2dShape& s, const T* gy, const T* x, T* gw) {
  const int64_t Cg = s.C_per_group(), Kg = s.K_per_group(), PQ = s.P * s.Q, HW = s.H * s.W;
  const int64_t items = s.K * Cg * s.R;  // one (k, c, r): the S taps of one weight row
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads_for(s.N * s.K * Cg * s.R * s.S * PQ / 65536))
  for (int64_t item = 0; item < items; ++item) {
    const int64_t k = item / (Cg * s.R), cl = item / s.R % Cg, r = item % s.R, c = k / Kg * Cg + cl;
    int64_t p0, p1;  // output rows whose tap r lies inside the image
    inside_range(r * s.dil_h - s.pad_top, s.stride_h, s.H, s.P, &p0, &p1);
    T* out = gw + item * s.S;
    for (int64_t u = 0; u < s.S; ++u) {
      int64_t q0, q1;
      const int64_t off_w = u * s.dil_w - s.pad_left;
      inside_range(off_w, s.stride_w, s.W, s.Q, &q0, &q1);
      T acc = T(0);
      for (int64_t n = 0; n < s.N; ++n) {
        const T* gy_k = gy + (n * s.K + k) * PQ;
        const T* x_c = x + (n * s.C + c) * HW;
        for (int64_t p = p0; p < p1; ++p) {
          const T* g_row = gy_k + p * s.Q;
          const T* x_row = x_c + (p * s.stride_h + r * s.dil_h - s.pad_top) * s.W + off_w;
          T a = T(0);
          if (s.stride_w == 1) {
#pragma omp simd reduction(+ : a)
            for (int64_t q = q0; q < q1; ++q) a += g_row[q] * x_row[q];
          } else {
            for (int64_t q = q0; q < q1; ++q) a += g_row[q] * x_row[q * s.stride_w];
          }
          acc += a;
        }
      }
      out[u] = acc;
    }
  }
}

template <typename T>
void conv2d_backward_weight_im2col(const Conv2dShape& s, const T* gy, const T* x, T* gw) {
  const int64_t Cg = s.C_per_group(), Kg = s.K_per_group(), PQ = s.P * s.Q, NPQ = s.N * PQ;
  const int64_t depth = Cg * s.R * s.S;
  if (NPQ == 0) {
    std::fill(gw, gw + s.K * depth, T(0));
    return;
  }
  // gy^T: row k holds gy[n, k, :, :] for n = 0 .. N-1, one after another.
  std::vector<T> gyt(s.K * NPQ);
#pragma omp parallel for schedule(static) num_threads(threads_for(s.K * NPQ / 16384))
  for (int64_t k = 0; k < s.K; ++k) {
    for (int64_t n = 0; n < s.N; ++n) std::memcpy(&gyt[k * NPQ + n * PQ], gy + (n * s.K + k) * PQ, sizeof(T) * PQ);
  }
  for (int64_t g = 0; g < s.groups; ++g) {
    const ColTPacker<T> packer(s, x, g * Cg);
    gemm_packed_b<T>(Kg, depth, NPQ, gyt.data() + g * Kg * NPQ, NPQ, packer, gw + g * Kg * depth, depth, false);
  }
}

template <typename T>
void conv2d_backward_weight_fft(const Conv2dShape& s, const Conv2dFftPlan& plan, const T* gy, const T* x, T* gw) {
  const Conv2dShape t = grad_weight_problem(s);
  const int64_t Cg = s.C_per_group(), Kg = s.K_per_group(), PQ = s.P * s.Q, HW = s.H * s.W;
  const int64_t RS = s.R * s.S;
  if (s.N == 0) {
    std::fill(gw, gw + s.K * Cg * RS, T(0));
    return;
  }
  std::vector<T> xt(Cg * s.N * HW), gyt(Kg * s.N * PQ), out(Cg * Kg * t.P * t.Q);
  for (int64_t g = 0; g < s.groups; ++g) {
    // x^T: Cg x N x H x W, gy^T: Kg x N x P x Q (this group's channels).
    for (int64_t cl = 0; cl < Cg; ++cl) {
      for (int64_t n = 0; n < s.N; ++n) {
        std::memcpy(&xt[(cl * s.N + n) * HW], x + (n * s.C + g * Cg + cl) * HW, sizeof(T) * HW);
      }
    }
    for (int64_t kl = 0; kl < Kg; ++kl) {
      for (int64_t n = 0; n < s.N; ++n) {
        std::memcpy(&gyt[(kl * s.N + n) * PQ], gy + (n * s.K + g * Kg + kl) * PQ, sizeof(T) * PQ);
      }
    }
    conv2d_fft<T>(t, plan, xt.data(), gyt.data(), nullptr, out.data());
    // out[cl, kl, r, u] (its first R x S pixels) -> gw[g*Kg + kl, cl, r, u].
    for (int64_t kl = 0; kl < Kg; ++kl) {
      for (int64_t cl = 0; cl < Cg; ++cl) {
        T* dst = gw + ((g * Kg + kl) * Cg + cl) * RS;
        const T* src = out.data() + (cl * Kg + kl) * t.P * t.Q;
        for (int64_t r = 0; r < s.R; ++r) std::memcpy(dst + r * s.S, src + r * t.Q, sizeof(T) * s.S);
      }
    }
  }
}

template <typename T>
void conv2d_backward_bias(const Conv2dShape& s, const T* gy, T* gb) {
  const int64_t PQ = s.P * s.Q;
#pragma omp parallel for schedule(static) num_threads(threads_for(s.N * s.K * PQ / 65536))
  for (int64_t k = 0; k < s.K; ++k) {
    double sum = 0;
    for (int64_t n = 0; n < s.N; ++n) {
      const T* g = gy + (n * s.K + k) * PQ;
      for (int64_t j = 0; j < PQ; ++j) sum += g[j];
    }
    gb[k] = static_cast<T>(sum);
  }
}

#define CK_INSTANTIATE(T)                                                                                       \
  template void conv2d_backward_input_direct<T>(const Conv2dShape&, const T*, const T*, T*);                   \
  template void conv2d_backward_input_im2col<T>(const Conv2dShape&, const T*, const T*, T*);                   \
  template void conv2d_backward_input_fft<T>(const Conv2dShape&, const Conv2dFftPlan&, const T*, const T*, T*); \
  template void conv2d_backward_weight_direct<T>(const Conv2dShape&, const T*, const T*, T*);                  \
  template void conv2d_backward_weight_im2col<T>(const Conv2dShape&, const T*, const T*, T*);                  \
  template void conv2d_backward_weight_fft<T>(const Conv2dShape&, const Conv2dFftPlan&, const T*, const T*, T*); \
  template void conv2d_backward_bias<T>(const Conv2dShape&, const T*, T*);
CK_INSTANTIATE(float)
CK_INSTANTIATE(double)
#undef CK_INSTANTIATE

}  // namespace cpu
}  // namespace ck
