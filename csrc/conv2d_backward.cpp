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
//   shifted input lies inside the image; or, for K/g of a weight block and windows of 16 taps or more, the
//   forward direct kernel on the traded problem below;
// - im2col: per group gw^T[(C/g)RS x K/g] = col[(C/g)RS x N*PQ] . gy^T[N*PQ x K/g], GEMMs over fixed blocks of
//   the batch's pixels (the column matrix is built one block at a time, by runs of rows of x);
// - fft: the forward FFT convolution of shapes.hpp's grad_weight_problem (images and channels, stride and
//   dilation traded) per group ("the traded problem").
// (winograd computes grad_input only: plan_conv2d refuses it for grad_weight.)
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
#include "conv2d_plan.hpp"
#include "conv2d_winograd.hpp"
#include "gemm.hpp"
#include "threads.hpp"

namespace ck {
namespace {

// The forward kernel of `algo` (fft with its plan, winograd with its tile), without bias.
template <typename T>
void run_forward(ConvAlgo algo, const Conv2dShape& s, const Conv2dFftPlan* fft, const T* x, const T* w, T* y,
                 int winograd_tile = 0) {
  switch (algo) {
    case ConvAlgo::direct: cpu::conv2d_direct<T>(s, x, w, nullptr, y); break;
    case ConvAlgo::im2col: cpu::conv2d_im2col<T>(s, x, w, nullptr, y); break;
    case ConvAlgo::fft: cpu::conv2d_fft<T>(s, *fft, x, w, nullptr, y); break;
    case ConvAlgo::winograd: cpu::conv2d_winograd<T>(s, winograd_tile, x, w, nullptr, y); break;
  }
}

// ---------------------------------------------------------------------------------------------------------
// grad_input

// Along one dimension: the phases that taps fall on (ascending), and each phase's index among them.
struct PhaseList {
  GradPhases g;
  std::vector<int64_t> used;   // phases a in [0, stride) with taps
  std::vector<int64_t> index;  // index[a] in `used`, or -1

  PhaseList(int64_t in, int64_t R, int64_t P, int64_t stride, int64_t pad, int64_t dil)
      : g(grad_phases(in, R, P, stride, pad, dil)), index(stride, -1) {
    for (int64_t a = 0; a < stride; ++a) {
      if (g.used(a, R)) {
        index[a] = static_cast<int64_t>(used.size());
        used.push_back(a);
      }
    }
  }
};

template <typename T>
void grad_input(ConvAlgo algo, const Conv2dShape& s, const Conv2dFftPlan* fft, const T* gy, const T* w, T* gx,
                int winograd_tile = 0) {
  const PhaseList ph(s.H, s.R, s.P, s.stride_h, s.pad_top, s.dil_h);
  const PhaseList pw(s.W, s.S, s.Q, s.stride_w, s.pad_left, s.dil_w);
  if (s.N == 0 || s.C == 0) return;
  if (ph.g.out <= 0 || pw.g.out <= 0 || s.K == 0) {  // every output window lies in the padding
    std::fill(gx, gx + s.input().numel(), T(0));
    return;
  }
  // The spatial kernels read gy padded beforehand (their fast paths are the unpadded ones); fft and winograd
  // pad it as the convolution's padding when no pad is negative (pads_natively, conv2d_plan.hpp).
  const bool pad_explicitly = !pads_natively(algo) || !grad_input_pads_gy(s);
  const Conv2dShape t = grad_input_problem(s, pad_explicitly);
  const int64_t Ah = ph.used.size(), Aw = pw.used.size(), Cg = s.C_per_group(), Kg = s.K_per_group();
  const int64_t HW = s.H * s.W;

  // Weight: row (c*Ah + ih)*Aw + iw holds, for each k of c's group, the flipped taps of phases (ih, iw). Per
  // tap row r (column u): its phase's index and its place in the sub-kernel, as one offset into a block
  // of Ah*Aw rows of Kg sub-kernels.
  std::vector<int64_t> r_off(s.R), u_off(s.S);
  for (int64_t r = 0; r < s.R; ++r) {
    r_off[r] = ph.index[ph.g.phase_of(r)] * Aw * Kg * t.R * t.S + ph.g.sub_tap(r) * t.S;
  }
  for (int64_t u = 0; u < s.S; ++u) u_off[u] = pw.index[pw.g.phase_of(u)] * Kg * t.R * t.S + pw.g.sub_tap(u);
  std::vector<T> wt(t.K * Kg * t.R * t.S, T(0));
  const int64_t RS = s.R * s.S, block = Ah * Aw * Kg * t.R * t.S;  // one input channel's rows
#pragma omp parallel for schedule(static) num_threads(threads_for(s.K * Cg * RS / 65536))
  for (int64_t k = 0; k < s.K; ++k) {
    const int64_t group = k / Kg, kl = k % Kg;
    for (int64_t cl = 0; cl < Cg; ++cl) {
      T* dst = wt.data() + (group * Cg + cl) * block + kl * t.R * t.S;
      const T* src = w + (k * Cg + cl) * RS;
      for (int64_t r = 0; r < s.R; ++r) {
        for (int64_t u = 0; u < s.S; ++u) dst[r_off[r] + u_off[u]] = src[r * s.S + u];
      }
    }
  }

  // Input: gy, or its rows [-pad_before, P + pad_after) (zeros outside gy) when padded beforehand.
  std::vector<T> padded;
  const T* in = gy;
  const bool copy = pad_explicitly && (ph.g.pad_before != 0 || ph.g.pad_after != 0 || pw.g.pad_before != 0 ||
                                       pw.g.pad_after != 0);
  if (copy) {
    padded.assign(t.N * t.C * t.H * t.W, T(0));
    const int64_t rb = ph.g.pad_before, cb = pw.g.pad_before;
    const int64_t p0 = std::max<int64_t>(0, -rb), p1 = std::min<int64_t>(s.P, t.H - rb);
    const int64_t q0 = std::max<int64_t>(0, -cb), q1 = std::min<int64_t>(s.Q, t.W - cb);
    const int64_t planes = s.N * s.K;
#pragma omp parallel for schedule(static) num_threads(threads_for(planes * t.H * t.W / 16384))
    for (int64_t i = 0; i < planes; ++i) {
      for (int64_t p = p0; p < p1; ++p) {
        if (q1 > q0) {
          std::memcpy(&padded[(i * t.H + p + rb) * t.W + q0 + cb], gy + (i * s.P + p) * s.Q + q0,
                      sizeof(T) * (q1 - q0));
        }
      }
    }
    in = padded.data();
  }

  std::vector<T> out(t.N * t.K * t.P * t.Q);
  run_forward(algo, t, fft, in, wt.data(), out.data(), winograd_tile);

  // Interleave: gx[n, c, i, j] = out[n, (c*Ah + ih)*Aw + iw, m - m_lo, l - l_lo] where i + pad_top =
  // m*stride_h + used[ih] and j + pad_left = l*stride_w + used[iw]; 0 where no tap reaches (an unused
  // phase, or m, l outside the outputs computed).
  std::vector<int64_t> col_src(s.W);  // offset of (iw, l) in a channel's phase block, or -1
  for (int64_t j = 0; j < s.W; ++j) {
    const int64_t a = (j + s.pad_left) % s.stride_w, l = (j + s.pad_left) / s.stride_w - pw.g.m_lo;
    const int64_t iw = pw.index[a];
    col_src[j] = iw < 0 || l < 0 || l >= t.Q ? -1 : iw * t.P * t.Q + l;
  }
  const int64_t planes = s.N * s.C;
#pragma omp parallel for schedule(static) num_threads(threads_for(planes * HW / 16384))
  for (int64_t i = 0; i < planes; ++i) {
    T* gx_c = gx + i * HW;
    const T* block = out.data() + i * Ah * Aw * t.P * t.Q;  // the phase channels of input channel i % C
    for (int64_t h = 0; h < s.H; ++h) {
      const int64_t a = (h + s.pad_top) % s.stride_h, m = (h + s.pad_top) / s.stride_h - ph.g.m_lo;
      const int64_t ih = ph.index[a];
      T* row = gx_c + h * s.W;
      if (ih < 0 || m < 0 || m >= t.P) {
        std::fill(row, row + s.W, T(0));
        continue;
      }
      const T* src = block + ih * Aw * t.P * t.Q + m * t.Q;
      for (int64_t j = 0; j < s.W; ++j) row[j] = col_src[j] < 0 ? T(0) : src[col_src[j]];
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// grad_weight, im2col: columns of the batch

constexpr int64_t kColChunkElems = int64_t(1) << 21;  // a column block holds at most this many elements

// col[(c, r, t), j - j0] = x[n, c0 + c, p*sh + r*dh - pt, q*sw + t*dw - pl] for the batch's output pixels
// j = (n, p, q) in [j0, j1) (0 in the padding): the rows of the column matrix of one group, each written as
// runs along q.
template <typename T>
void columns(const Conv2dShape& s, const T* x, int64_t c0, int64_t j0, int64_t j1, T* col) {
  const int64_t depth = s.C_per_group() * s.R * s.S, PQ = s.P * s.Q, width = j1 - j0, HW = s.H * s.W;
#pragma omp parallel for schedule(static) num_threads(threads_for(depth * width / 16384))
  for (int64_t row = 0; row < depth; ++row) {
    const int64_t c = row / (s.R * s.S), r = row / s.S % s.R, t = row % s.S;
    const int64_t off_h = r * s.dil_h - s.pad_top, off_w = t * s.dil_w - s.pad_left;
    int64_t q_lo, q_hi;  // columns whose tap lies inside the image
    inside_range(off_w, s.stride_w, s.W, s.Q, &q_lo, &q_hi);
    T* out = col + row * width;
    for (int64_t j = j0; j < j1;) {  // one run: the rest of output row (n, p) within [j0, j1)
      const int64_t n = j / PQ, p = j % PQ / s.Q, q = j % s.Q, end = std::min(j1 - j + q, s.Q);
      T* o = out + (j - j0) - q;  // o[q] is column (n, p, q)
      const int64_t ih = p * s.stride_h + off_h;
      if (ih < 0 || ih >= s.H) {
        std::fill(o + q, o + end, T(0));
      } else {
        const T* x_row = x + (n * s.C + c0 + c) * HW + ih * s.W + off_w;
        const int64_t a = std::min(std::max(q, q_lo), end), b = std::max(a, std::min(end, q_hi));
        std::fill(o + q, o + a, T(0));
        if (s.stride_w == 1) {
          std::memcpy(o + a, x_row + a, sizeof(T) * (b - a));
        } else {
          for (int64_t v = a; v < b; ++v) o[v] = x_row[v * s.stride_w];
        }
        std::fill(o + b, o + end, T(0));
      }
      j += end - q;
    }
  }
}

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
void conv2d_backward_input_winograd(const Conv2dShape& s, int tile, const T* gy, const T* w, T* gx) {
  grad_input<T>(ConvAlgo::winograd, s, nullptr, gy, w, gx, tile);
}

template <typename T>
void grad_weight_traded(ConvAlgo algo, const Conv2dShape& s, const Conv2dFftPlan* plan, const T* gy, const T* x, T* gw);

}  // namespace cpu

bool grad_weight_direct_runs_traded(const Conv2dShape& s, int64_t elem_bytes) {
  return s.K_per_group() >= conv2d_direct_block_channels(elem_bytes) / 2 && s.R * s.S >= 16 && s.N > 0;
}

namespace cpu {

template <typename T>
void conv2d_backward_weight_direct(const Conv2dShape& s, const T* gy, const T* x, T* gw) {
  // With a weight block's worth of output channels and a window that fills the direct kernel's register
  // tiles, the forward direct kernel on the traded problem (as fft runs it); else the dot products below.
  // Measured, 2 threads, dot products / traded: LeNet conv2 (K 16, 5x5) 4.96 / 0.74 ms; K 6: 1.45 / 4.62
  // (the forward's thin-K path); 3x3, K 16, 64 x 64: 5.0 / 7.6.
  if (grad_weight_direct_runs_traded(s, sizeof(T))) {
    grad_weight_traded<T>(ConvAlgo::direct, s, nullptr, gy, x, gw);
    return;
  }
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
  // gy^T: NPQ x K, row j = (n, p, q) holding gy[n, :, p, q].
  std::vector<T> gyt(NPQ * s.K);
#pragma omp parallel for schedule(static) num_threads(threads_for(s.K * NPQ / 16384))
  for (int64_t n = 0; n < s.N; ++n) {
    for (int64_t k = 0; k < s.K; ++k) {
      const T* src = gy + (n * s.K + k) * PQ;
      T* dst = gyt.data() + n * PQ * s.K + k;
      for (int64_t j = 0; j < PQ; ++j) dst[j * s.K] = src[j];
    }
  }
  // Per group, gw^T[(c, r, t) x K/g] = col[(c, r, t) x NPQ] . gy^T[NPQ x K/g], the pixels in fixed blocks.
  const int64_t chunk = std::max<int64_t>(256, kColChunkElems / depth);
  std::vector<T> col(depth * std::min(chunk, NPQ)), gwt(depth * Kg);
  for (int64_t g = 0; g < s.groups; ++g) {
    for (int64_t j0 = 0; j0 < NPQ; j0 += chunk) {
      const int64_t j1 = std::min(NPQ, j0 + chunk);
      columns(s, x, g * Cg, j0, j1, col.data());
      gemm<T>(depth, Kg, j1 - j0, col.data(), j1 - j0, gyt.data() + j0 * s.K + g * Kg, s.K, gwt.data(), Kg, j0 > 0);
    }
    for (int64_t kl = 0; kl < Kg; ++kl) {
      T* dst = gw + (g * Kg + kl) * depth;
      for (int64_t row = 0; row < depth; ++row) dst[row] = gwt[row * Kg + kl];
    }
  }
}

template <typename T>
void grad_weight_traded(ConvAlgo algo, const Conv2dShape& s, const Conv2dFftPlan* plan, const T* gy, const T* x, T* gw);

template <typename T>
void conv2d_backward_weight_fft(const Conv2dShape& s, const Conv2dFftPlan& plan, const T* gy, const T* x, T* gw) {
  grad_weight_traded<T>(ConvAlgo::fft, s, &plan, gy, x, gw);
}

template <typename T>
void grad_weight_traded(ConvAlgo algo, const Conv2dShape& s, const Conv2dFftPlan* plan, const T* gy, const T* x,
                        T* gw) {
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
    run_forward(algo, t, plan, xt.data(), gyt.data(), out.data());
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
  template void conv2d_backward_input_winograd<T>(const Conv2dShape&, int, const T*, const T*, T*);            \
  template void conv2d_backward_weight_direct<T>(const Conv2dShape&, const T*, const T*, T*);                  \
  template void conv2d_backward_weight_im2col<T>(const Conv2dShape&, const T*, const T*, T*);                  \
  template void conv2d_backward_weight_fft<T>(const Conv2dShape&, const Conv2dFftPlan&, const T*, const T*, T*); \
  template void conv2d_backward_bias<T>(const Conv2dShape&, const T*, T*);
CK_INSTANTIATE(float)
CK_INSTANTIATE(double)
#undef CK_INSTANTIATE

}  // namespace cpu
}  // namespace ck
