// shapes.hpp: the geometry of every operation, and the shape arithmetic that the CPU kernels, the CUDA
// kernels and the backward passes share.
//
// Everything here is CK_HD and constexpr where it can be: no allocation, no exceptions, no std::string,
// so that a __global__ function may call it. The checks that build these structs from user arguments (and
// throw) are host-only and live in checks.hpp.
//
// Dimension names used throughout cnnkernels:
//   N batch, C input channels, K output channels, H W input height/width,
//   R S kernel height/width, P Q output height/width.
//
// Backward passes reuse the forward geometry: grad_output has the forward output's dims (conv2d:
// N x K x P x Q), grad_input the input's (N x C x H x W), grad_weight the weight's (K x C/groups x R x S),
// grad_bias K values. Each struct names these dims once (input(), weight(), output()).
#pragma once

#include <cmath>
#include <cstdint>

#include "cnnkernels/config.hpp"

namespace ck {

CK_HD constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
CK_HD constexpr int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }
CK_HD constexpr int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
CK_HD constexpr int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

// A height and a width (PyTorch's order): kernel sizes, strides, dilations.
struct Size2d {
  int64_t h, w;
};

// Zero padding on each side of an image.
struct Padding2d {
  int64_t top, bottom, left, right;
};

// The sizes of a 4-D tensor, NCHW (for a convolution weight: K, C/groups, R, S).
struct Dims4 {
  int64_t n, c, h, w;
  CK_HD constexpr int64_t numel() const { return n * c * h * w; }
};

// PyTorch's pooling/convolution output size along one dimension:
//   out = floor_or_ceil((in + pad_before + pad_after - dil*(k-1) - 1) / stride) + 1,
// and with ceil_mode the last window must start inside the input or the leading padding.
// (The span in + pads - dil*(k-1) - 1 is >= 0: the checks make sure of it.)
CK_HD constexpr int64_t output_size(int64_t in, int64_t k, int64_t stride, int64_t pad_before, int64_t pad_after,
                                    int64_t dil, bool ceil_mode) {
  const int64_t span = in + pad_before + pad_after - dil * (k - 1) - 1;
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad_before) --out;
  return out;
}

// The indices q in [0, out) whose coordinate q*stride + offset lies inside [0, in): [*lo, *hi). Lets kernels
// skip zero padding without materialising it (outputs of a tap, or taps of a window). The index helpers here
// are templates on the integer type: int64_t on the CPU, int in CUDA kernels (whose 64-bit divisions are
// subroutine calls).
// The integer type of these helpers comes from their first argument alone (the others convert to it).
template <typename T>
struct Same {
  using type = T;
};
template <typename T>
using same_t = typename Same<T>::type;

template <typename I>
CK_HD constexpr void inside_range(I offset, same_t<I> stride, same_t<I> in, same_t<I> out, same_t<I>* lo,
                                  same_t<I>* hi) {
  const I first = offset >= 0 ? I(0) : (-offset + stride - 1) / stride;
  const I last = in - 1 - offset < 0 ? I(-1) : (in - 1 - offset) / stride;  // may be >= out
  *lo = first < out ? first : out;
  const I end = last + 1 < out ? last + 1 : out;
  *hi = end > *lo ? end : *lo;
}

// ---------------------------------------------------------------------------------------------------------
// Convolution (cross-correlation, as torch.nn.functional.conv2d)

struct Conv2dShape {
  int64_t N, C, H, W;              // input x: N x C x H x W
  int64_t K, R, S;                 // weight:  K x C/groups x R x S
  int64_t groups;                  // C and K split into `groups` independent convolutions
  int64_t stride_h, stride_w;
  int64_t pad_top, pad_bottom, pad_left, pad_right;
  int64_t dil_h, dil_w;
  int64_t P, Q;                    // output y: N x K x P x Q

  CK_HD constexpr int64_t C_per_group() const { return C / groups; }
  CK_HD constexpr int64_t K_per_group() const { return K / groups; }
  CK_HD constexpr Dims4 input() const { return {N, C, H, W}; }
  CK_HD constexpr Dims4 weight() const { return {K, C / groups, R, S}; }
  CK_HD constexpr Dims4 output() const { return {N, K, P, Q}; }
  // 1x1, stride 1, no padding: each image is a plain matrix product with x itself.
  CK_HD constexpr bool is_pointwise() const {
    return R == 1 && S == 1 && stride_h == 1 && stride_w == 1 && pad_top == 0 && pad_bottom == 0 &&
           pad_left == 0 && pad_right == 0;
  }
};

// ---------------------------------------------------------------------------------------------------------
// conv2d's data gradient as a stride-1 convolution (what every algorithm of conv2d_backward_input runs).
//
// Along one dimension (stride s, dilation d, padding lo, R taps, P outputs) input i receives
//   gx[i] = sum over (o, r) with o*s + r*d - lo == i of gy[o] * w[r].
// Write i + lo = m*s + a with its phase a in [0, s): tap r reaches phase (r*d) mod s at offset
// q_r = (r*d) div s, so each phase is a stride-1 correlation
//   gx_a[m] = sum over the taps r of phase a of gy[m - q_r] * w[r],
// that of gy zero-padded by E = max q_r before and after with the flipped sub-kernel of those taps. Only
// the m that some input i maps to are computed: [lo div s, (in - 1 + lo) div s], cut to the m < P + E
// that any gy reaches, which takes gy rows [m_lo - E, m_hi] (zero outside [0, P)). When s divides d the taps
// (all of phase 0) lie d/s apart, and the sub-kernel keeps R taps at dilation d/s; otherwise it is dense,
// E + 1 taps (zeros where no tap falls: none when d = 1). Phases that no tap falls on (kernel smaller than
// the stride, or d a multiple of it) receive no gradient and are left out. Across channels this is one
// stride-1 convolution of gy (K channels) whose C x phases output channels are the input channels' phases:
// the polyphase split of the forward FFT, run backwards.
struct GradPhases {
  int64_t stride, dil;  // the forward's
  int64_t taps;         // of each phase's sub-kernel
  int64_t sub_dil;      // its dilation
  int64_t extent;       // E = (taps - 1) * sub_dil
  int64_t m_lo, out;    // the outputs m computed: [m_lo, m_lo + out); out <= 0: none (no gradient at all)
  int64_t pad_before, pad_after;  // gy's zero padding for them (negative: rows of gy left out)

  CK_HD constexpr int64_t phase_of(int64_t r) const { return r * dil % stride; }
  // Position of tap r in its phase's flipped sub-kernel.
  CK_HD constexpr int64_t sub_tap(int64_t r) const { return taps - 1 - r * dil / stride / sub_dil; }
  // Whether some tap of the R falls on phase a.
  CK_HD constexpr bool used(int64_t a, int64_t R) const {
    for (int64_t r = 0; r < R; ++r) {
      if (phase_of(r) == a) return true;
    }
    return false;
  }
  CK_HD constexpr int64_t phases_used(int64_t R) const {
    int64_t n = 0;
    for (int64_t a = 0; a < stride; ++a) n += used(a, R) ? 1 : 0;
    return n;
  }
};

// in: the input size, pad: the padding before it.
CK_HD constexpr GradPhases grad_phases(int64_t in, int64_t R, int64_t P, int64_t stride, int64_t pad, int64_t dil) {
  const int64_t sub_dil = dil % stride == 0 ? dil / stride : 1;
  const int64_t extent = (R - 1) * dil / stride;  // max q_r; a multiple of sub_dil
  const int64_t m_lo = pad / stride, m_hi = min64((in - 1 + pad) / stride, P + extent - 1);
  return GradPhases{stride, dil, extent / sub_dil + 1, sub_dil, extent, m_lo, m_hi - m_lo + 1,
                    extent - m_lo, m_hi - (P - 1)};
}

// The stride-1 convolution of conv2d's data gradient: weight C*phases x K/groups x taps_h x taps_w, output
// N x C*phases x out_h x out_w, same groups. Its input is gy (N x K x P x Q) with the pads of GradPhases:
// as the convolution's padding (padded_input false; only when no pad is negative), or applied beforehand
// (padded_input true: an N x K x (out_h + E_h) x (out_w + E_w) input, no padding).
CK_HD constexpr Conv2dShape grad_input_problem(const Conv2dShape& s, bool padded_input) {
  const GradPhases ph = grad_phases(s.H, s.R, s.P, s.stride_h, s.pad_top, s.dil_h);
  const GradPhases pw = grad_phases(s.W, s.S, s.Q, s.stride_w, s.pad_left, s.dil_w);
  const bool p = padded_input;
  return Conv2dShape{s.N,
                     s.K,
                     p ? ph.out + ph.extent : s.P,
                     p ? pw.out + pw.extent : s.Q,
                     s.C * ph.phases_used(s.R) * pw.phases_used(s.S),
                     ph.taps,
                     pw.taps,
                     s.groups,
                     1,
                     1,
                     p ? 0 : ph.pad_before,
                     p ? 0 : ph.pad_after,
                     p ? 0 : pw.pad_before,
                     p ? 0 : pw.pad_after,
                     ph.sub_dil,
                     pw.sub_dil,
                     ph.out,
                     pw.out};
}

// Whether grad_input_problem can take gy as it is, its pads as the convolution's padding.
CK_HD constexpr bool grad_input_pads_gy(const Conv2dShape& s) {
  const GradPhases ph = grad_phases(s.H, s.R, s.P, s.stride_h, s.pad_top, s.dil_h);
  const GradPhases pw = grad_phases(s.W, s.S, s.Q, s.stride_w, s.pad_left, s.dil_w);
  return ph.out > 0 && pw.out > 0 && ph.pad_before >= 0 && ph.pad_after >= 0 && pw.pad_before >= 0 &&
         pw.pad_after >= 0;
}

// conv2d's weight gradient of one group as a forward convolution: gw[k, c, r, t] = sum over n, o of
// gy[n, k, o] x[n, c, o*stride + r*dil - pad] is the correlation of x with gy where images and channels
// trade places (input x^T: C/g x N x H x W, weight gy^T: K/g x N x P x Q) and stride and dilation trade
// places too; its output C/g x K/g x P' x Q' holds gw^T in its first R x S pixels (P' >= R: the bottom and
// right padding may leave a few more).
CK_HD constexpr Conv2dShape grad_weight_problem(const Conv2dShape& s) {
  const int64_t P = output_size(s.H, s.P, s.dil_h, s.pad_top, s.pad_bottom, s.stride_h, false);
  const int64_t Q = output_size(s.W, s.Q, s.dil_w, s.pad_left, s.pad_right, s.stride_w, false);
  return Conv2dShape{s.C / s.groups, s.N, s.H, s.W, s.K / s.groups, s.P, s.Q, 1, s.dil_h, s.dil_w,
                     s.pad_top, s.pad_bottom, s.pad_left, s.pad_right, s.stride_h, s.stride_w, P, Q};
}

// ---------------------------------------------------------------------------------------------------------
// Spatial pooling (max, average, Lp): one window of R x S taps per output pixel, per channel.

struct Pool2dShape {
  int64_t N, C, H, W;        // input and output channels are the same: N x C x H x W -> N x C x P x Q
  int64_t R, S;              // window
  int64_t stride_h, stride_w;
  int64_t pad_h, pad_w;      // symmetric padding
  int64_t dil_h, dil_w;
  int64_t P, Q;

  CK_HD constexpr Dims4 input() const { return {N, C, H, W}; }
  CK_HD constexpr Dims4 output() const { return {N, C, P, Q}; }
};

// Along one dimension: the taps t in [*lo, *hi) of output o's window (which starts at o*stride - pad, taps
// dil apart) that land inside the input [0, in). Taps in the padding never reach a reduction.
template <typename I>
CK_HD constexpr void window_taps(I o, same_t<I> in, same_t<I> k, same_t<I> stride, same_t<I> pad, same_t<I> dil,
                                 same_t<I>* lo, same_t<I>* hi) {
  inside_range<I>(o * stride - pad, dil, in, k, lo, hi);
}

// Along one dimension: the interior outputs [*lo, *hi) of [0, out), those whose k taps all lie inside.
template <typename I>
CK_HD constexpr void interior_outputs(I out, same_t<I> in, same_t<I> k, same_t<I> stride, same_t<I> pad,
                                      same_t<I> dil, same_t<I>* lo, same_t<I>* hi) {
  const I first = (pad + stride - 1) / stride;  // first o with o*stride - pad >= 0
  *lo = first < out ? first : out;
  const I last_start = in - 1 - (k - 1) * dil + pad;  // o*stride <= last_start
  const I end = last_start < 0 ? *lo : last_start / stride + 1;
  *hi = end < *lo ? *lo : end < out ? end : out;
}

// Along one dimension, for dilation 1: the outputs [*lo, *hi) whose window (k taps from o*stride - pad)
// covers input i (the gather form of a pooling backward pass, as the CUDA kernels compute it).
template <typename I>
CK_HD constexpr void covering_outputs(I i, same_t<I> out, same_t<I> k, same_t<I> stride, same_t<I> pad,
                                      same_t<I>* lo, same_t<I>* hi) {
  const I first = i + pad - k + 1;  // o*stride >= first
  const I l = first <= 0 ? I(0) : (first + stride - 1) / stride;
  *lo = l < out ? l : out;
  const I end = i + pad < 0 ? *lo : (i + pad) / stride + 1;
  *hi = end < *lo ? *lo : end < out ? end : out;
}

// avg_pool2d's count along one dimension for output o (PyTorch's rule): the window [o*stride - pad, +k)
// clipped to the padded input [-pad, in + pad) (a ceil_mode window may run past it), counted whole with
// count_include_pad, else only the input pixels it covers.
CK_HD constexpr int64_t avg_pool_count(int64_t o, int64_t in, int64_t k, int64_t stride, int64_t pad,
                                       bool count_include_pad) {
  const int64_t start = o * stride - pad, end = min64(start + k, in + pad);
  return count_include_pad ? end - start : min64(end, in) - max64(start, 0);
}

// The divisor of avg_pool2d's output (p, q): divisor_override when it is nonzero, else the product of the
// row and column counts (0 only for a window with no pixel, whose output is then 0).
CK_HD constexpr int64_t avg_pool_divisor(const Pool2dShape& s, int64_t p, int64_t q, bool count_include_pad,
                                         int64_t divisor_override) {
  if (divisor_override != 0) return divisor_override;
  return avg_pool_count(p, s.H, s.R, s.stride_h, s.pad_h, count_include_pad) *
         avg_pool_count(q, s.W, s.S, s.stride_w, s.pad_w, count_include_pad);
}

// ---------------------------------------------------------------------------------------------------------
// Lp pooling across feature maps: output channel k pools input channels k*stride .. k*stride + width - 1.

struct FeaturePoolShape {
  int64_t N, C, H, W;   // input
  int64_t width, stride;
  int64_t K;            // output channels: N x K x H x W

  CK_HD constexpr Dims4 input() const { return {N, C, H, W}; }
  CK_HD constexpr Dims4 output() const { return {N, K, H, W}; }
};

// ---------------------------------------------------------------------------------------------------------
// Local contrast normalization: output has the input's shape.
//
// The window is g ⊗ g / C, g the R-tap 1-D Gaussian of std sigma normalised to sum 1; zero padding, with
// the border correction coef(i, j) = border_h(i) * border_w(j), border(i) the weight of g's taps that land
// inside the image along one dimension.

struct LcnShape {
  int64_t N, C, H, W;
  int64_t R;          // odd Gaussian window size
  double sigma, eps;

  CK_HD constexpr Dims4 input() const { return {N, C, H, W}; }
  CK_HD constexpr Dims4 output() const { return {N, C, H, W}; }
};

// Tap u in [0, R) of the normalised 1-D Gaussian window.
CK_HD inline double lcn_gaussian_tap(int64_t u, int64_t R, double sigma) {
  const double centre = double(R - 1) / 2.0;
  double total = 0;
  for (int64_t v = 0; v < R; ++v) total += std::exp(-(v - centre) * (v - centre) / (2 * sigma * sigma));
  return std::exp(-(u - centre) * (u - centre) / (2 * sigma * sigma)) / total;
}

// The border correction along one dimension at position i of [0, len): the sum of the window's taps that
// land inside.
CK_HD inline double lcn_border_weight(int64_t i, int64_t len, int64_t R, double sigma) {
  const int64_t half = R / 2;
  double weight = 0;
  for (int64_t u = 0; u < R; ++u) {
    const int64_t j = i + u - half;
    if (j >= 0 && j < len) weight += lcn_gaussian_tap(u, R, sigma);
  }
  return weight;
}

}  // namespace ck
