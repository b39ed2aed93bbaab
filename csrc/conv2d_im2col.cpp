// conv2d_im2col.cpp: 2-D convolution as im2col + GEMM on the CPU.
//
// Per group g, the convolution of a run of images is one matrix product
//   y[K/g x pixels] = w[K/g x (C/g)*R*S] · col[(C/g)*R*S x pixels],
// where column j of `col` holds the input patch under output pixel j (zeros where it overlaps padding).
// The column matrix is never built: the GEMM asks an Im2colPacker for one cache block of it at a time and
// the packer writes that block straight from the image into the micro-kernel's panel layout, so the
// extra memory is the GEMM's own packing buffers. Small images are batched (columns span several
// images) so the GEMM is wide enough to run at full speed; their result goes through a buffer of
// K/g x pixels and is scattered into NCHW. A 1x1 stride-1 unpadded convolution reads x itself as B.
#include <algorithm>
#include <stdexcept>
#include <vector>

#include "cnnkernels/gemm.hpp"
#include "cnnkernels/kernels.hpp"
#include "cnnkernels/threads.hpp"

namespace ck {
namespace {

constexpr int64_t kMinColumns = 2048;  // batch images until a GEMM has at least this many columns
constexpr int64_t kMaxStrip = 64;      // widest B strip a micro-kernel asks for (gemm.hpp: 4 to 32)

bool is_pointwise(const Conv2dShape& s) {
  return s.R == 1 && s.S == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 && s.pad_bottom == 0 &&
         s.pad_left == 0 && s.pad_right == 0;
}

// Images per GEMM: enough for kMinColumns output pixels (1 when one image already has them).
int64_t images_per_gemm(const Conv2dShape& s) {
  const int64_t PQ = s.P * s.Q;
  return std::max<int64_t>(1, std::min<int64_t>(s.N, (kMinColumns + PQ - 1) / PQ));
}

// The virtual column matrix of group channels [c0, c0 + C/g) of images [n0, ...): row (c, r, t), column j
// = (image n - n0) * P*Q + output pixel (p, q); entry x[n, c0 + c, p*sh + r*dh - pt, q*sw + t*dw - pl].
template <typename T>
class Im2colPacker final : public BPacker<T> {
 public:
  Im2colPacker(const Conv2dShape& s, const T* x, int64_t n0, int64_t c0) : s_(s), x_(x), n0_(n0), c0_(c0) {}

  void pack(int64_t k0, int64_t kc, int64_t j0, int64_t nc, int64_t nr, T* panel) const override {
    const Conv2dShape& s = s_;
    const int64_t PQ = s.P * s.Q, HW = s.H * s.W;
    if (nr > kMaxStrip) throw std::logic_error("im2col: GEMM strip wider than kMaxStrip");
    // Per column of the block: offset of its image's channel c0 in x, and its window's top-left (ih, iw).
    std::vector<int64_t> base(nc), ih0(nc), iw0(nc);
    int64_t n = j0 / PQ, p = j0 % PQ / s.Q, q = j0 % s.Q;
    for (int64_t j = 0; j < nc; ++j) {
      base[j] = ((n0_ + n) * s.C + c0_) * HW;
      ih0[j] = p * s.stride_h - s.pad_top;
      iw0[j] = q * s.stride_w - s.pad_left;
      if (++q == s.Q) {
        q = 0;
        if (++p == s.P) p = 0, ++n;
      }
    }
    // Per row of the block, tap (c, r, t): channel offset and the tap's row and column displacement.
    std::vector<int64_t> tap_c(kc), tap_r(kc), tap_t(kc);
    for (int64_t kk = 0; kk < kc; ++kk) {
      const int64_t row = k0 + kk;
      tap_c[kk] = row / (s.R * s.S) * HW;
      tap_r[kk] = row / s.S % s.R * s.dil_h;
      tap_t[kk] = row % s.S * s.dil_w;
    }
    for (int64_t j = 0; j < nc; j += nr) {  // one strip of nr columns, kc rows of nr values
      const int64_t w = std::min(nr, nc - j);
      // The strip's columns in runs that share an image and an output row (consecutive q): for each tap
      // such a run reads one input row at stride sw, clipped to the image.
      int64_t run_start[kMaxStrip + 1], runs = 0;
      for (int64_t jj = 0; jj < w; ++jj) {
        if (jj == 0 || base[j + jj] != base[j + jj - 1] || ih0[j + jj] != ih0[j + jj - 1]) run_start[runs++] = jj;
      }
      run_start[runs] = w;
      for (int64_t kk = 0; kk < kc; ++kk, panel += nr) {
        std::fill(panel + w, panel + nr, T(0));  // columns past the block
        for (int64_t u = 0; u < runs; ++u) {
          const int64_t a = run_start[u], len = run_start[u + 1] - a;
          T* out = panel + a;
          const int64_t ih = ih0[j + a] + tap_r[kk];
          if (ih < 0 || ih >= s.H) {
            std::fill(out, out + len, T(0));
            continue;
          }
          const int64_t iw = iw0[j + a] + tap_t[kk];  // input column of the run's first output
          const T* src = x_ + base[j + a] + tap_c[kk] + ih * s.W;
          int64_t lo, hi;  // outputs v of the run whose input column iw + v*sw lies inside [0, W)
          if (s.stride_w == 1) {
            lo = std::min(len, std::max<int64_t>(0, -iw));
            hi = std::max(lo, std::min(len, s.W - iw));
            for (int64_t v = lo; v < hi; ++v) out[v] = src[iw + v];
          } else {
            detail::inside_range(iw, s.stride_w, s.W, len, &lo, &hi);
            for (int64_t v = lo; v < hi; ++v) out[v] = src[iw + v * s.stride_w];
          }
          std::fill(out, out + lo, T(0));
          std::fill(out + hi, out + len, T(0));
        }
      }
    }
  }

 private:
  const Conv2dShape& s_;
  const T* x_;
  int64_t n0_, c0_;
};

}  // namespace

int64_t conv2d_im2col_workspace(const Conv2dShape& s, int64_t elem_bytes) {
  const GemmBlocking b = elem_bytes == 4 ? gemm_blocking<float>() : gemm_blocking<double>();
  const int64_t packing = (b.mc * b.kc + b.kc * b.nc) * num_threads() * elem_bytes;
  const int64_t nimg = images_per_gemm(s);
  const int64_t batch_buffer = nimg > 1 ? s.K_per_group() * nimg * s.P * s.Q * elem_bytes : 0;
  return packing + batch_buffer;
}

template <typename T>
void conv2d_im2col(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t Cg = s.C_per_group(), Kg = s.K_per_group(), PQ = s.P * s.Q, HW = s.H * s.W;
  const int64_t depth = Cg * s.R * s.S;  // GEMM depth
  const int64_t nimg = images_per_gemm(s);

  if (nimg == 1) {  // one image per GEMM, written in place
    for (int64_t i = 0; i < s.N * s.K; ++i) std::fill(y + i * PQ, y + (i + 1) * PQ, bias ? bias[i % s.K] : T(0));
    for (int64_t n = 0; n < s.N; ++n) {
      for (int64_t g = 0; g < s.groups; ++g) {
        const T* w_g = w + g * Kg * depth;
        T* y_ng = y + (n * s.K + g * Kg) * PQ;
        if (is_pointwise(s)) {
          gemm<T>(Kg, PQ, Cg, w_g, depth, x + (n * s.C + g * Cg) * HW, HW, y_ng, PQ, true);
        } else {
          gemm_packed_b<T>(Kg, PQ, depth, w_g, depth, Im2colPacker<T>(s, x, n, g * Cg), y_ng, PQ, true);
        }
      }
    }
    return;
  }

  std::vector<T> buffer(Kg * nimg * PQ);  // K/g x (images * P*Q)
  for (int64_t n0 = 0; n0 < s.N; n0 += nimg) {
    const int64_t count = std::min(nimg, s.N - n0), cols = count * PQ;
    for (int64_t g = 0; g < s.groups; ++g) {
      gemm_packed_b<T>(Kg, cols, depth, w + g * Kg * depth, depth, Im2colPacker<T>(s, x, n0, g * Cg),
                       buffer.data(), cols, false);
      // Scatter: y[n0 + i, g*Kg + k, :] = buffer[k, i*PQ : (i+1)*PQ] + bias.
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads_for(count * Kg))
      for (int64_t i = 0; i < count; ++i) {
        for (int64_t k = 0; k < Kg; ++k) {
          const T b = bias ? bias[g * Kg + k] : T(0);
          const T* src = buffer.data() + k * cols + i * PQ;
          T* dst = y + ((n0 + i) * s.K + g * Kg + k) * PQ;
          for (int64_t j = 0; j < PQ; ++j) dst[j] = src[j] + b;
        }
      }
    }
  }
}

template void conv2d_im2col<float>(const Conv2dShape&, const float*, const float*, const float*, float*);
template void conv2d_im2col<double>(const Conv2dShape&, const double*, const double*, const double*, double*);

}  // namespace ck
