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
// A batch is split between threads (each running single-threaded GEMMs on its images) when that keeps
// every GEMM as wide; otherwise each GEMM runs on all threads.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <vector>

#include "gemm.hpp"
#include "cnnkernels/kernels.hpp"
#include "conv2d_plan.hpp"
#include "threads.hpp"
#include "workspace.hpp"

namespace ck {
namespace {

constexpr int64_t kMinColumns = 2048;  // batch images until a GEMM has at least this many columns
constexpr int64_t kMaxStrip = 64;      // widest B strip a micro-kernel asks for (gemm.hpp: 4 to 32)
constexpr int64_t kMaxStrips = 16;     // simple strips copied together, tap-major

// Images per GEMM out of `images`: enough for kMinColumns output pixels (1 when one image has them, or
// for a pointwise convolution).
int64_t images_per_gemm(const Conv2dShape& s, int64_t images) {
  if (s.is_pointwise()) return 1;  // x itself is each image's B: no packing, no scatter
  const int64_t PQ = s.P * s.Q, most = std::max<int64_t>(1, (kMinColumns + PQ - 1) / PQ);
  const int64_t gemms = std::max<int64_t>(1, (images + most - 1) / most);  // as few as allowed, even sizes
  return std::max<int64_t>(1, (images + gemms - 1) / gemms);
}

// y[k, :] += bias[k] for the K rows of P*Q outputs.
template <typename T>
void add_bias(T* y, const T* bias, int64_t K, int64_t PQ) {
#pragma omp parallel for schedule(static) num_threads(threads_for(K * PQ / 16384))
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t j = 0; j < PQ; ++j) y[k * PQ + j] += bias[k];
  }
}

// The virtual column matrix of group channels [c0, c0 + C/g) of images [n0, ...): row (c, r, t), column j
// = (image n - n0) * P*Q + output pixel (p, q); entry x[n, c0 + c, p*sh + r*dh - pt, q*sw + t*dw - pl].
//
// A strip's nr columns fall into runs of consecutive output pixels of one output row (one image): for each
// tap such a run reads one input row at stride sw. A run whose window stays inside the image for every tap
// ("interior", most runs of a large image) is copied without bound checks; for the others, each tap's
// valid span of the run comes from per-run tables of the R row and S column displacements.
template <typename T>
class Im2colPacker final : public BPacker<T> {
 public:
  Im2colPacker(const Conv2dShape& s, const T* x, int64_t n0, int64_t c0) : s_(s), x_(x), n0_(n0), c0_(c0) {
    const int64_t HW = s.H * s.W, depth = s.C_per_group() * s.R * s.S;
    taps_.resize(depth);
    for (int64_t row = 0; row < depth; ++row) {
      const int64_t c = row / (s.R * s.S), r = row / s.S % s.R, t = row % s.S;
      taps_[row] = {c * HW + r * s.dil_h * s.W + t * s.dil_w, r, t};
    }
  }

  void pack(int64_t k0, int64_t kc, int64_t j0, int64_t nc, int64_t nr, T* panel) const override {
    if (nr > kMaxStrip) throw std::logic_error("im2col: GEMM strip wider than kMaxStrip");
    const Conv2dShape& s = s_;
    const Tap* taps = taps_.data() + k0;
    const int64_t strips = (nc + nr - 1) / nr;
    // The strips' runs; a "simple" strip is one interior run of nr consecutive inputs (stride 1).
    std::vector<Run> runs;
    std::vector<int64_t> first_run(strips + 1), simple;  // simple: those strips
    const int64_t PQ = s.P * s.Q;
    int64_t n = j0 / PQ, p = j0 % PQ / s.Q, q = j0 % s.Q;  // output pixel of the next column
    for (int64_t st = 0; st < strips; ++st) {
      first_run[st] = static_cast<int64_t>(runs.size());
      const int64_t width = std::min(nr, nc - st * nr);
      for (int64_t a = 0; a < width;) {
        const int64_t len = std::min(width - a, s.Q - q);
        runs.push_back(make_run(n, p, q, a, len));
        a += len;
        q += len;
        if (q == s.Q) {
          q = 0;
          if (++p == s.P) p = 0, ++n;
        }
      }
      const Run& r0 = runs[first_run[st]];
      if (runs.size() - first_run[st] == 1 && r0.len == nr && r0.interior && s.stride_w == 1) simple.push_back(st);
    }
    first_run[strips] = static_cast<int64_t>(runs.size());
    // The simple strips (most of a large image) together, the others one by one.
    copy_simple_strips(taps, kc, nr, simple, runs.data(), first_run.data(), panel);
    for (int64_t st = 0, next = 0; st < strips; ++st) {
      if (next < static_cast<int64_t>(simple.size()) && simple[next] == st) {
        ++next;
        continue;
      }
      pack_strip(taps, kc, nr, std::min(nr, nc - st * nr), runs.data() + first_run[st],
                 first_run[st + 1] - first_run[st], panel + st * kc * nr);
    }
  }

 private:
  struct Tap {
    int64_t offset;  // of input element (c, r*dh, t*dw) from the window's top-left corner of channel 0
    int64_t r, t;    // the tap's row and column in the filter window
  };
  struct Run {
    int64_t a, len;   // strip columns [a, a + len): consecutive output pixels of one output row
    int64_t ih, iw;   // input row and column of the first column's window corner (may be in the padding)
    int64_t origin;   // offset of (ih, iw) of channel c0 in x, as if the image extended into the padding
    bool interior;    // every tap of every column inside the image
  };

  Run make_run(int64_t n, int64_t p, int64_t q, int64_t a, int64_t len) const {
    const Conv2dShape& s = s_;
    Run u;
    u.a = a;
    u.len = len;
    u.ih = p * s.stride_h - s.pad_top;
    u.iw = q * s.stride_w - s.pad_left;
    u.origin = ((n0_ + n) * s.C + c0_) * s.H * s.W + u.ih * s.W + u.iw;
    u.interior = u.ih >= 0 && u.ih + (s.R - 1) * s.dil_h < s.H && u.iw >= 0 &&
                 u.iw + (len - 1) * s.stride_w + (s.S - 1) * s.dil_w < s.W;
    return u;
  }

  // Simple strips, tap-major: each tap's input row is read once, in order, for all of them.
  void copy_simple_strips(const Tap* taps, int64_t kc, int64_t nr, const std::vector<int64_t>& simple,
                          const Run* runs, const int64_t* first_run, T* panel) const {
    if (simple.empty()) return;
    int64_t origin[kMaxStrips];  // of each simple strip's first input
    T* out[kMaxStrips];          // its panel
    for (size_t i0 = 0; i0 < simple.size(); i0 += kMaxStrips) {
      const int64_t count = std::min<int64_t>(kMaxStrips, simple.size() - i0);
      for (int64_t i = 0; i < count; ++i) {
        origin[i] = runs[first_run[simple[i0 + i]]].origin;
        out[i] = panel + simple[i0 + i] * kc * nr;
      }
      switch (nr) {
        case 8: copy_simple<8>(taps, kc, count, origin, out); break;
        case 16: copy_simple<16>(taps, kc, count, origin, out); break;
        case 32: copy_simple<32>(taps, kc, count, origin, out); break;
        default:
          for (int64_t kk = 0; kk < kc; ++kk) {
            for (int64_t i = 0; i < count; ++i) {
              const T* src = x_ + origin[i] + taps[kk].offset;
              std::copy(src, src + nr, out[i] + kk * nr);
            }
          }
      }
    }
  }
  template <int NR>
  void copy_simple(const Tap* taps, int64_t kc, int64_t count, const int64_t* origin, T* const* out) const {
    for (int64_t kk = 0; kk < kc; ++kk) {
      for (int64_t i = 0; i < count; ++i) {
        std::memcpy(out[i] + kk * NR, x_ + origin[i] + taps[kk].offset, NR * sizeof(T));
      }
    }
  }

  // One strip of `width` columns in runs: a strip of interior runs gathers without checks; otherwise border
  // runs take each tap's valid span from per-run tables, and the columns past width are zero.
  void pack_strip(const Tap* taps, int64_t kc, int64_t nr, int64_t width, const Run* runs, int64_t nruns,
                  T* panel) const {
    const Conv2dShape& s = s_;
    const int64_t sw = s.stride_w;
    bool interior = width == nr;
    for (int64_t u = 0; u < nruns; ++u) interior = interior && runs[u].interior;
    if (interior && (nr == 8 || nr == 16 || nr == 32)) {  // column j's input at col[j] past each tap's
      int64_t col[kMaxStrip];
      for (int64_t u = 0; u < nruns; ++u) {
        for (int64_t v = 0; v < runs[u].len; ++v) col[runs[u].a + v] = runs[u].origin + v * sw;
      }
      if (nr == 8) return gather_strip<8>(taps, kc, col, panel);
      if (nr == 16) return gather_strip<16>(taps, kc, col, panel);
      return gather_strip<32>(taps, kc, col, panel);
    }
    // Border runs: row flag r says whether input row ih + r*dh exists; span t the outputs [lo, hi) of the
    // run whose input column iw + v*sw + t*dw lies inside the image.
    const int64_t stride = s.R + 2 * s.S;
    std::vector<int64_t> spans(nruns * stride);
    for (int64_t u = 0; u < nruns; ++u) {
      if (runs[u].interior) continue;
      int64_t* sp = spans.data() + u * stride;
      for (int64_t r = 0; r < s.R; ++r) {
        const int64_t ih = runs[u].ih + r * s.dil_h;
        sp[r] = ih >= 0 && ih < s.H;
      }
      for (int64_t t = 0; t < s.S; ++t) {
        inside_range(runs[u].iw + t * s.dil_w, sw, s.W, runs[u].len, &sp[s.R + 2 * t], &sp[s.R + 2 * t + 1]);
      }
    }
    for (int64_t kk = 0; kk < kc; ++kk) {
      T* row = panel + kk * nr;
      const Tap& tap = taps[kk];
      std::fill(row + width, row + nr, T(0));  // columns past the block
      for (int64_t u = 0; u < nruns; ++u) {
        const Run& run = runs[u];
        T* out = row + run.a;
        int64_t lo = 0, hi = run.len;
        if (!run.interior) {
          const int64_t* sp = spans.data() + u * stride;
          if (!sp[tap.r]) {
            std::fill(out, out + run.len, T(0));
            continue;
          }
          lo = sp[s.R + 2 * tap.t];
          hi = sp[s.R + 2 * tap.t + 1];
          std::fill(out, out + lo, T(0));
          std::fill(out + hi, out + run.len, T(0));
        }
        // Only in-image elements are addressed: origin + offset + v*sw is inside x for v in [lo, hi).
        const T* src = x_ + (run.origin + tap.offset + lo * sw);
        if (sw == 1) {
          for (int64_t v = lo; v < hi; ++v) out[v] = src[v - lo];
        } else {
          for (int64_t v = lo; v < hi; ++v) out[v] = src[(v - lo) * sw];
        }
      }
    }
  }
  template <int NR>
  void gather_strip(const Tap* taps, int64_t kc, const int64_t* col, T* panel) const {
    for (int64_t kk = 0; kk < kc; ++kk, panel += NR) {
      const T* src = x_ + taps[kk].offset;
      for (int j = 0; j < NR; ++j) panel[j] = src[col[j]];
    }
  }

  const Conv2dShape& s_;
  const T* x_;
  int64_t n0_, c0_;
  std::vector<Tap> taps_;  // per row of the GEMM depth
};

// Images split between threads, each running its own single-threaded GEMMs (no barrier between GEMMs, no
// shared scatter), when the split is even or there are many images, and it leaves each GEMM as wide as
// before: one image per GEMM, each thread's share in one GEMM, or shares batched as widely as the whole
// batch is (LeNet conv1, 64 images of 28x28 outputs, 3 per GEMM, 2 threads: 1.33 ms with every GEMM on both
// threads, 0.78 ms split). Else every GEMM uses all the threads.
int64_t image_parallel_threads(const Conv2dShape& s) {
  const int64_t threads = threads_for(s.N);
  if (threads == 1 || (s.N % threads != 0 && s.N < 8 * threads)) return 1;
  const int64_t nimg = images_per_gemm(s, s.N), share = (s.N + threads - 1) / threads;
  return nimg == 1 || share <= nimg || images_per_gemm(s, share) >= nimg ? threads : 1;
}

}  // namespace

int64_t conv2d_im2col_workspace(const Conv2dShape& s, int64_t elem_bytes) {
  const GemmBlocking b = elem_bytes == 4 ? gemm_blocking<float>() : gemm_blocking<double>();
  const int64_t packing = (b.mc * b.kc + b.kc * b.nc) * num_threads() * elem_bytes;
  const int64_t split = image_parallel_threads(s);
  const int64_t nimg = images_per_gemm(s, (s.N + split - 1) / split);
  const int64_t batch_buffer = nimg > 1 ? split * s.K_per_group() * nimg * s.P * s.Q * elem_bytes : 0;
  return packing + batch_buffer;
}

namespace {

// Images [n_begin, n_end) with GEMMs on threads_for() threads (one inside a parallel region).
template <typename T>
void im2col_images(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y, int64_t n_begin,
                   int64_t n_end) {
  const int64_t Cg = s.C_per_group(), Kg = s.K_per_group(), PQ = s.P * s.Q, HW = s.H * s.W;
  const int64_t depth = Cg * s.R * s.S;  // GEMM depth
  const int64_t nimg = images_per_gemm(s, n_end - n_begin);

  if (nimg == 1) {  // one image per GEMM, written in place
    for (int64_t n = n_begin; n < n_end; ++n) {
      for (int64_t g = 0; g < s.groups; ++g) {
        const T* w_g = w + g * Kg * depth;
        T* y_ng = y + (n * s.K + g * Kg) * PQ;
        if (s.is_pointwise()) {
          gemm<T>(Kg, PQ, Cg, w_g, depth, x + (n * s.C + g * Cg) * HW, HW, y_ng, PQ, false);
        } else {
          gemm_packed_b<T>(Kg, PQ, depth, w_g, depth, Im2colPacker<T>(s, x, n, g * Cg), y_ng, PQ, false);
        }
        if (bias) add_bias(y_ng, bias + g * Kg, Kg, PQ);
      }
    }
    return;
  }

  Workspace<T> buffer(Kg * nimg * PQ);  // K/g x (images * P*Q), written by each GEMM before it is read
  for (int64_t n0 = n_begin; n0 < n_end; n0 += nimg) {
    const int64_t count = std::min(nimg, n_end - n0), cols = count * PQ;
    for (int64_t g = 0; g < s.groups; ++g) {
      gemm_packed_b<T>(Kg, cols, depth, w + g * Kg * depth, depth, Im2colPacker<T>(s, x, n0, g * Cg),
                       buffer.get(), cols, false);
      // Scatter: y[n0 + i, g*Kg + k, :] = buffer[k, i*PQ : (i+1)*PQ] + bias.
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads_for(count * Kg))
      for (int64_t i = 0; i < count; ++i) {
        for (int64_t k = 0; k < Kg; ++k) {
          const T b = bias ? bias[g * Kg + k] : T(0);
          const T* src = buffer.get() + k * cols + i * PQ;
          T* dst = y + ((n0 + i) * s.K + g * Kg + k) * PQ;
          for (int64_t j = 0; j < PQ; ++j) dst[j] = src[j] + b;
        }
      }
    }
  }
}

}  // namespace

namespace cpu {

template <typename T>
void conv2d_im2col(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t split = image_parallel_threads(s);
  if (split == 1) return im2col_images(s, x, w, bias, y, 0, s.N);
  std::exception_ptr error;
#pragma omp parallel num_threads(split)
  {
    const int64_t t = omp_get_thread_num();
    try {
      im2col_images(s, x, w, bias, y, s.N * t / split, s.N * (t + 1) / split);
    } catch (...) {
#pragma omp critical(ck_im2col_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

template void conv2d_im2col<float>(const Conv2dShape&, const float*, const float*, const float*, float*);
template void conv2d_im2col<double>(const Conv2dShape&, const double*, const double*, const double*, double*);

}  // namespace cpu
}  // namespace ck
