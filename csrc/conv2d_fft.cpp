// conv2d_fft.cpp: 2-D convolution (cross-correlation) through the Fourier domain on the CPU, algo="fft".
//
// Dimensions: N batch, C in-channels, K out-channels, H W input, R S kernel, P Q output; per group
// Cg = C/groups and Kg = K/groups. Each group is an independent convolution, run one after the other.
//
// 1. Stride-1 problem. A stride-1 layer is used as it is: its kernel is the dilated kernel (zeros between
//    the taps), its input the image, read in place with the padding as zero fill. A layer with stride
//    (sh, sw) > 1 is split into phases (polyphase): with the dilated kernel wd and the padded image xp,
//        y[p][q] = sum_(a,b) sum_(u,v) z_ab[p + u][q + v] · w_ab[u][v],
//        z_ab[i][j] = xp[i*sh + a][j*sw + b],   w_ab[u][v] = wd[u*sh + a][v*sw + b],
//    i.e. a stride-1 correlation whose input channels are the Cg·sh·sw phase images (gathered per image,
//    padding folded in) and whose kernels are the phase kernels of about R/sh x S/sw taps. It computes
//    exactly the P x Q outputs wanted, with the same amount of input and the same taps: computing the
//    stride-1 output and keeping one pixel in sh·sw would do sh·sw times the transform work. Phases that
//    no dilated tap falls on (kernel smaller than the stride, dilation a multiple of it) are left out.
//
// 2. Tiling, overlap-save. The output is cut into tiles of tile_h x tile_w; the tile's input window of
//    fft_h x fft_w = (tile + kernel - 1) is transformed, multiplied by the kernel spectrum, and of the
//    circular correlation that comes back the first tile_h x tile_w values are exact (no wrap-around) and
//    are all that is kept. The transform size is chosen among the sizes with factors 2, 3, 5 by a cost model
//    (plan_conv2d_fft below), from small tiles (many channels, small kernels) to one tile per image.
//
// 3. Pipeline, per group: the Kg x C' kernels (C' the stride-1 problem's channels) are zero-filled to the
//    transform size and transformed once per call (or once per block of output channels when their spectra
//    would not fit the memory bound); then per chunk of tiles (several images, or part of one):
//       a. transform each tile's window of every input channel           -> X (tiles x C' spectra)
//       b. at every frequency bin, Y = X · conj(W) over the channels     -> Y (tiles x Kg spectra):
//          a batched complex GEMM, vectorised across bins (conv2d_fft_cgemm*.cpp)
//       c. inverse-transform Y, writing the cropped tiles into y; add the bias while they are in cache.
//    Cross-correlation is the product with the *conjugate* kernel spectrum, kernel placed at the origin:
//    corr[i] = sum_u t[i + u] ker[u] has spectrum T · conj(KER), exact for i < fft - kernel + 1.
//
// Threads: the transforms are parallel over tiles (each a batch over channels) or, for few channels, over
// runs of tiles of a row (a batch over tile positions); the GEMM over blocks of bins and tiles; the kernel
// transforms over output channels. The plan does not depend on the thread count and every value is
// computed by the same operations whichever thread runs it, so results are identical for any thread count.
// All state is per call (the FFT plans are shared and immutable), so several Python threads may call at once.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "cnnkernels/cpu_features.hpp"
#include "cnnkernels/fft.hpp"
#include "cnnkernels/kernels.hpp"
#include "cnnkernels/threads.hpp"
#include "conv2d_fft_cgemm.hpp"

namespace ck {
namespace {

using fft_conv_detail::SpectraGemm;
using fft_conv_detail::SpectraGemmFn;

// ---------------------------------------------------------------------------------------------------------
// The stride-1 problem (section 1 above)

struct Core {
  bool polyphase = false;
  int64_t kr = 0, ks = 0;               // kernel
  int64_t in_h = 0, in_w = 0;           // input planes
  int64_t pad_t = 0, pad_l = 0;         // zero rows / columns before them (0 with polyphase: folded in)
  std::vector<int64_t> phase_h, phase_w;  // the row / column phases with taps ({0} without a stride)
  int64_t channels = 0;                 // Cg * phases: channel c' = (c * phases_h + ih) * phases_w + iw
};

// Phases a in [0, stride) on which some dilated tap r * dil falls.
std::vector<int64_t> used_phases(int64_t taps, int64_t dil, int64_t stride) {
  std::vector<char> used(stride, 0);
  for (int64_t r = 0; r < taps && r < stride; ++r) used[(r * dil) % stride] = 1;  // r*dil mod stride repeats
  std::vector<int64_t> list;
  for (int64_t a = 0; a < stride; ++a) {
    if (used[a]) list.push_back(a);
  }
  return list;
}

Core make_core(const Conv2dShape& s) {
  Core c;
  const int64_t eff_r = s.dil_h * (s.R - 1) + 1, eff_s = s.dil_w * (s.S - 1) + 1;
  c.polyphase = s.stride_h > 1 || s.stride_w > 1;
  if (!c.polyphase) {
    c.kr = eff_r;
    c.ks = eff_s;
    c.in_h = s.H;
    c.in_w = s.W;
    c.pad_t = s.pad_top;
    c.pad_l = s.pad_left;
    c.phase_h = {0};
    c.phase_w = {0};
  } else {
    c.kr = (eff_r + s.stride_h - 1) / s.stride_h;
    c.ks = (eff_s + s.stride_w - 1) / s.stride_w;
    c.in_h = s.P + c.kr - 1;  // the rows the P output rows read
    c.in_w = s.Q + c.ks - 1;
    c.phase_h = used_phases(s.R, s.dil_h, s.stride_h);
    c.phase_w = used_phases(s.S, s.dil_w, s.stride_w);
  }
  c.channels = s.C_per_group() * int64_t(c.phase_h.size()) * int64_t(c.phase_w.size());
  return c;
}

// Tap u of the phase-a kernel along one dimension: the index of the undilated tap it is, or -1 (a zero
// between dilated taps, or past the kernel). Without polyphase stride = 1 and a = 0.
inline int64_t source_tap(int64_t u, int64_t a, int64_t stride, int64_t dil, int64_t taps) {
  const int64_t d = u * stride + a;
  if (d % dil != 0) return -1;
  return d / dil < taps ? d / dil : -1;
}

// Phase image z[i][j] = x[i*sh + a - pad_top][j*sw + b - pad_left] (0 outside x), i < zh, j < zw.
template <typename T>
void gather_phase(const Conv2dShape& s, const T* xc, int64_t a, int64_t b, int64_t zh, int64_t zw, T* z) {
  int64_t j_lo, j_hi;
  detail::inside_range(b - s.pad_left, s.stride_w, s.W, zw, &j_lo, &j_hi);
  for (int64_t i = 0; i < zh; ++i) {
    T* zi = z + i * zw;
    const int64_t h = i * s.stride_h + a - s.pad_top;
    if (h < 0 || h >= s.H) {
      std::fill(zi, zi + zw, T(0));
      continue;
    }
    const T* xr = xc + h * s.W + (b - s.pad_left);
    std::fill(zi, zi + j_lo, T(0));
    for (int64_t j = j_lo; j < j_hi; ++j) zi[j] = xr[j * s.stride_w];
    std::fill(zi + j_hi, zi + zw, T(0));
  }
}

// Output rows (or columns) whose every tap falls in the padding: outputs = bias exactly. The transforms
// would leave rounding noise there (the circular product of data and kernel is zero there only in exact
// arithmetic), so they are overwritten at the end, matching the other algorithms bit for bit.
std::vector<int64_t> padding_only(int64_t out, int64_t in, int64_t taps, int64_t stride, int64_t pad, int64_t dil) {
  std::vector<int64_t> list;
  for (int64_t p = 0; p < out; ++p) {
    bool hit = false;
    for (int64_t r = 0; r < taps && !hit; ++r) {
      const int64_t i = p * stride - pad + r * dil;
      hit = i >= 0 && i < in;
    }
    if (!hit) list.push_back(p);
  }
  return list;
}

// ---------------------------------------------------------------------------------------------------------
// Tiles

// Along one dimension, the input a run of n outputs starting at p0 reads: core input indices
// [p0 - pad, p0 - pad + n + k - 1), of which the part inside [0, in) is `len` values from `first`, placed at
// `offset` in the transform tile (the rest of the tile is zero fill).
struct Span {
  int64_t first = 0, offset = 0, len = 0;
};

Span input_span(int64_t p0, int64_t n, int64_t k, int64_t pad, int64_t in) {
  const int64_t lo = p0 - pad, hi = lo + n + k - 1;
  const int64_t a = std::max<int64_t>(lo, 0), b = std::min(hi, in);
  if (b <= a) return Span{};
  return Span{a, a - lo, b - a};
}

// Tiles in the transform tile's lane layout of the FFT core: it transforms up to L = 32 bytes / sizeof(T)
// tiles of a batch together when their spectra fit its group buffer (mirrors fft.cpp's choice; only speed
// depends on it).
template <typename T>
bool fft_batches_lanes(int64_t fh, int64_t fw) {
  const int64_t L = 32 / int64_t(sizeof(T));
  return fh * (fw / 2 + 1) * 2 * L * int64_t(sizeof(T)) <= 160 * 1024;
}

// 64-byte aligned, uninitialised storage for n values of T.
template <typename T>
class Buffer {
 public:
  explicit Buffer(int64_t n) {
    if (n > 0) p_ = static_cast<T*>(::operator new(size_t(n) * sizeof(T), std::align_val_t(64)));
  }
  ~Buffer() {
    if (p_) ::operator delete(p_, std::align_val_t(64));
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  T* get() const { return p_; }

 private:
  T* p_ = nullptr;
};

// ---------------------------------------------------------------------------------------------------------
// Cost model (plan_conv2d_fft)
//
// Units: about nanoseconds of one core (AVX2, measured on the Zen cores this was developed on); only ratios
// matter. A 2-D real transform of h x w costs kFftNs · h w log2(h w) (twice that for odd w, which has no
// half-length trick), half in the row pass and half in the column pass; the row pass only runs over rows
// that hold data (forward) or are kept (inverse). The pointwise product costs kMacNs per complex
// multiply-add of one bin. double costs about twice float (half the SIMD lanes). Moving a spectrum through
// memory (written by one phase, read by the next) costs kByteNs per byte.
constexpr double kFftNs = 0.5;
constexpr double kFftCallNs = 150;
constexpr double kMacNs = 0.2;
constexpr double kByteNs = 0.05;
constexpr int64_t kNotionalThreads = 4;  // phases with fewer parallel items than this are charged for idling
constexpr int64_t kChunkBytes = int64_t(8) << 20;  // tile spectra per chunk, for cache locality
constexpr int64_t kMinBudgetBytes = int64_t(4) << 20;

int64_t round_up(int64_t a, int64_t m) { return (a + m - 1) / m * m; }

// Bins per spectrum plane, padded to a whole 64-byte line (the pointwise kernels work on 16 floats or 8
// doubles at a time).
int64_t padded_bins(int64_t fh, int64_t fw, int64_t elem_bytes) {
  return round_up(fh * (fw / 2 + 1), 64 / elem_bytes);
}

// The FFT core's per-thread scratch for this size (an estimate after fft.cpp's make_plan_2d).
int64_t fft_scratch_bytes(int64_t h, int64_t w, int64_t elem_bytes) {
  const int64_t L = 32 / elem_bytes, wc = w / 2 + 1;
  const int64_t scratch = std::max(8 * w * L, 4 * h * L);
  return (std::max(h * wc * 2 * L + w * L, 2 * h * wc + w * L + wc * 2 * L + 4 * h * L) + scratch) * elem_bytes;
}

double fft_ns(int64_t fh, int64_t fw, double row_fraction, int64_t elem_bytes) {
  const double n = double(fh) * double(fw);
  double t = kFftNs * n * std::log2(std::max(2.0, n)) * (elem_bytes == 8 ? 1.8 : 1.0);
  if (fw % 2 == 1 && fw > 1) t *= 2;
  return t * (0.5 + 0.5 * std::min(1.0, row_fraction)) + kFftCallNs;
}

// Extra charge for a phase of `items` parallel work items: idle notional threads.
double idle_factor(int64_t items) {
  return items >= kNotionalThreads ? 1.0 : double(kNotionalThreads) / double(std::max<int64_t>(items, 1));
}

// The best chunking of one transform size, with its cost and memory (spectra_bytes > budget when nothing fits).
Conv2dFftPlan plan_for_size(const Conv2dShape& s, const Core& core, int64_t fh, int64_t fw, int64_t elem,
                            int64_t budget) {
  Conv2dFftPlan p;
  p.fft_h = fh;
  p.fft_w = fw;
  p.tile_h = fh - core.kr + 1;
  p.tile_w = fw - core.ks + 1;
  p.tiles_h = (s.P + p.tile_h - 1) / p.tile_h;
  p.tiles_w = (s.Q + p.tile_w - 1) / p.tile_w;
  p.kernel_h = core.kr;
  p.kernel_w = core.ks;
  p.in_h = core.in_h;
  p.in_w = core.in_w;
  p.polyphase = core.polyphase;
  p.phases_h = int64_t(core.phase_h.size());
  p.phases_w = int64_t(core.phase_w.size());
  p.channels = core.channels;

  const int64_t C1 = core.channels, Kg = s.K_per_group(), N = std::max<int64_t>(s.N, 1);
  const int64_t T1 = p.tiles_h * p.tiles_w, all = N * T1;
  const int64_t spec = 2 * padded_bins(fh, fw, elem) * elem;           // bytes of one spectrum
  const int64_t image = core.polyphase ? C1 * core.in_h * core.in_w * elem : 0;  // one gathered image
  // Memory of a chunking: kernel spectra, tile spectra in and out, gathered phase images.
  auto bytes = [&](int64_t bt, int64_t kb) {
    const int64_t images = bt >= T1 ? bt / T1 : 1;
    return (kb * C1 + bt * C1 + bt * kb) * spec + images * image;
  };
  // Chunk of bt tiles: whole images when it holds one or more.
  auto whole = [&](int64_t bt) { return bt >= T1 ? std::min(all, bt / T1 * T1) : std::max<int64_t>(bt, 1); };

  // Candidates: (a) every kernel spectrum held, tiles in chunks; (b) every tile spectrum held, output
  // channels in blocks; (c) both in blocks, kernels transformed again for every chunk.
  struct Choice {
    int64_t bt, kb;
  };
  std::vector<Choice> choices;
  {
    const int64_t per_tile = (C1 + Kg) * spec;
    int64_t bt = std::min<int64_t>(all, std::max<int64_t>(1, kChunkBytes / per_tile));
    bt = whole(bt);
    while (bt > 1 && bytes(bt, Kg) > budget) bt = whole(bt >= T1 ? bt - T1 : bt / 2);
    if (bytes(bt, Kg) <= budget) choices.push_back({bt, Kg});
  }
  {
    const int64_t fixed = all * C1 * spec + (all / T1) * image;
    if (fixed < budget) {
      int64_t kb = std::min(Kg, (budget - fixed) / ((C1 + all) * spec));
      if (kb >= 1) {
        kb = (Kg + (Kg + kb - 1) / kb - 1) / ((Kg + kb - 1) / kb);  // even blocks
        choices.push_back({all, kb});
      }
    }
  }
  {
    const int64_t kb = std::min<int64_t>(Kg, 16);
    int64_t bt = whole(std::max<int64_t>(1, std::min(all, T1)));
    while (bt > 1 && bytes(bt, kb) > budget) bt = whole(bt / 2);
    choices.push_back({bt, kb});
  }

  const double rows_in = double(std::min(fh, core.in_h)) / double(fh);
  const double f_in = fft_ns(fh, fw, rows_in, elem);
  const double f_out = fft_ns(fh, fw, double(p.tile_h) / double(fh), elem);
  const double f_ker = fft_ns(fh, fw, double(core.kr) / double(fh), elem);
  const double bins = double(padded_bins(fh, fw, elem));
  bool have = false;
  for (const Choice& ch : choices) {
    const int64_t chunks = (all + ch.bt - 1) / ch.bt;
    const bool once = ch.kb == Kg || ch.bt == all;
    double t = 0;
    t += double(all) * double(C1) * f_in * idle_factor(all);
    t += double(all) * double(Kg) * f_out * idle_factor(all);
    t += double(Kg) * double(C1) * f_ker * (once ? 1.0 : double(chunks)) * idle_factor(Kg);
    t += kMacNs * double(all) * double(Kg) * double(C1) * bins;
    t += kByteNs * double(all) * double(C1 + Kg) * double(spec) * 2;
    t *= double(s.groups);
    const int64_t mem = bytes(ch.bt, ch.kb);
    // The cheapest choice within the budget; if none is, the smallest.
    const bool fits = mem <= budget, had_fit = have && p.spectra_bytes <= budget;
    const bool better = !have || (fits && !had_fit) || (fits && t < p.cost) || (!fits && !had_fit && mem < p.spectra_bytes);
    if (better) {
      have = true;
      p.cost = t;
      p.tile_batch = ch.bt;
      p.k_block = ch.kb;
      p.kernels_once = once;
      p.spectra_bytes = mem;
    }
  }
  return p;
}

// Candidate transform sizes along one dimension: sizes with factors 2, 3, 5 (even ones for the width, where
// odd sizes cost double), from the kernel size (1-pixel tiles) to one tile for the whole output.
std::vector<int64_t> size_candidates(int64_t kernel, int64_t out, bool even) {
  const int64_t whole = fft::next_fast_size(int(std::min<int64_t>(out + kernel - 1, 1 << 24)));
  const int64_t cap = std::max<int64_t>(2048, fft::next_fast_size(int(std::min<int64_t>(2 * kernel, 1 << 24))));
  const int64_t limit = std::min(whole, cap);
  std::vector<int64_t> v;
  for (int64_t n = fft::next_fast_size(int(kernel)); n <= limit; n = fft::next_fast_size(int(n + 1))) {
    if (!even || n % 2 == 0 || n == 1) v.push_back(n);
  }
  if (v.empty()) v.push_back(fft::next_fast_size(int(kernel)));
  return v;
}

// ---------------------------------------------------------------------------------------------------------
// The active ISA's pointwise kernel

template <typename T>
SpectraGemmFn<T> spectra_gemm_kernel();

template <>
SpectraGemmFn<float> spectra_gemm_kernel<float>() {
  SpectraGemmFn<float> f = active_isa() != Isa::scalar ? fft_conv_detail::spectra_gemm_avx2_f32() : nullptr;
  return f ? f : fft_conv_detail::spectra_gemm_scalar_f32();
}

template <>
SpectraGemmFn<double> spectra_gemm_kernel<double>() {
  SpectraGemmFn<double> f = active_isa() != Isa::scalar ? fft_conv_detail::spectra_gemm_avx2_f64() : nullptr;
  return f ? f : fft_conv_detail::spectra_gemm_scalar_f64();
}

// A run of `count` consecutive tiles of a chunk (local indices lt .. lt + count) that one batched transform
// handles: the same image and tile row, consecutive tile columns, identical windows.
struct Run {
  int64_t lt, count;
};

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Plan

Conv2dFftPlan plan_conv2d_fft(const Conv2dShape& s, int64_t elem_bytes, int64_t force_fft_h, int64_t force_fft_w) {
  const Core core = make_core(s);
  const int64_t io = (s.N * s.C * s.H * s.W + s.N * s.K * s.P * s.Q + s.K * s.C_per_group() * s.R * s.S);
  const int64_t budget = std::max(2 * io * elem_bytes, kMinBudgetBytes);
  std::vector<int64_t> hs = size_candidates(core.kr, s.P, false);
  std::vector<int64_t> ws = size_candidates(core.ks, s.Q, true);
  if (force_fft_h > 0) {
    if (force_fft_h < core.kr) {
      throw ArgumentError("conv2d fft: forced transform height " + std::to_string(force_fft_h) +
                          " is smaller than the kernel height " + std::to_string(core.kr));
    }
    hs = {force_fft_h};
  }
  if (force_fft_w > 0) {
    if (force_fft_w < core.ks) {
      throw ArgumentError("conv2d fft: forced transform width " + std::to_string(force_fft_w) +
                          " is smaller than the kernel width " + std::to_string(core.ks));
    }
    ws = {force_fft_w};
  }
  Conv2dFftPlan best;
  bool have = false;
  for (int64_t fh : hs) {
    for (int64_t fw : ws) {
      const Conv2dFftPlan p = plan_for_size(s, core, fh, fw, elem_bytes, budget);
      const bool fits = p.spectra_bytes <= budget, best_fits = have && best.spectra_bytes <= budget;
      if (!have || (fits && !best_fits) || (fits && p.cost < best.cost) ||
          (!fits && !best_fits && p.spectra_bytes < best.spectra_bytes)) {
        best = p;
        have = true;
      }
    }
  }
  // Everything the call allocates: spectra and phase images (above), kernel staging, FFT scratch per thread.
  const int64_t threads = num_threads();
  const int64_t staging = threads * core.channels * core.kr * core.ks * elem_bytes;
  best.workspace_bytes = best.spectra_bytes + staging + threads * fft_scratch_bytes(best.fft_h, best.fft_w, elem_bytes);
  return best;
}

// ---------------------------------------------------------------------------------------------------------
// Run

template <typename T>
void conv2d_fft_with_plan(const Conv2dShape& s, const Conv2dFftPlan& pl, const T* x, const T* w, const T* bias,
                          T* y) {
  if (s.N == 0) return;
  const Core core = make_core(s);
  const int fh = int(pl.fft_h), fw = int(pl.fft_w);
  const fft::Plan2D<T>& fplan = fft::plan_2d<T>(fh, fw);
  const int64_t L = 32 / int64_t(sizeof(T));  // the FFT core's lanes
  const int64_t binsp = padded_bins(fh, fw, sizeof(T)), spec = 2 * binsp;
  const int64_t Cg = s.C_per_group(), Kg = s.K_per_group(), C1 = core.channels;
  const int64_t th = pl.tile_h, tw = pl.tile_w, T1 = pl.tiles_h * pl.tiles_w;
  const int64_t Bt = pl.tile_batch, Kb = pl.k_block;
  const int64_t images_per_chunk = Bt >= T1 ? Bt / T1 : 1;
  const int64_t PQ = s.P * s.Q;
  const int64_t nph_h = int64_t(core.phase_h.size()), nph_w = int64_t(core.phase_w.size());
  const T scale = T(1) / (T(fh) * T(fw));
  const int nthreads = num_threads();
  auto team = [nthreads](int64_t work) { return std::min(threads_for(work), nthreads); };  // <= staging slots

  // Spectra: W(k, c') kernels, X(t, c') input tiles, Y(t, k) output tiles (t local to the chunk).
  const int64_t w_out = C1 * spec, w_chan = spec;
  const int64_t x_tile = C1 * spec, x_chan = spec;
  const int64_t y_tile = Kb * spec, y_out = spec;
  Buffer<T> Wbuf(Kb * C1 * spec), Xbuf(Bt * C1 * spec), Ybuf(Bt * Kb * spec);
  Buffer<T> Zbuf(core.polyphase ? images_per_chunk * C1 * core.in_h * core.in_w : 0);
  Buffer<T> staging(int64_t(nthreads) * C1 * core.kr * core.ks);
  T* const Wsp = Wbuf.get();
  T* const Xsp = Xbuf.get();
  T* const Ysp = Ybuf.get();
  // The FFT writes fh * (fw/2 + 1) bins of each plane; the padding up to binsp must be zero once (the
  // pointwise kernels multiply it; it never reaches an output).
  const int64_t bins = int64_t(fh) * (fw / 2 + 1);
  for (T* buf : {Wsp, Xsp}) {
    const int64_t slots = (buf == Wsp ? Kb : Bt) * C1 * 2;
    for (int64_t i = 0; i < slots; ++i) std::fill(buf + i * binsp + bins, buf + (i + 1) * binsp, T(0));
  }

  // Per tile row / column: the input window and the output crop.
  std::vector<Span> row_in(pl.tiles_h), col_in(pl.tiles_w);
  std::vector<int64_t> row_out(pl.tiles_h), col_out(pl.tiles_w);
  for (int64_t i = 0; i < pl.tiles_h; ++i) {
    row_out[i] = std::min(th, s.P - i * th);
    row_in[i] = input_span(i * th, row_out[i], core.kr, core.pad_t, core.in_h);
  }
  for (int64_t j = 0; j < pl.tiles_w; ++j) {
    col_out[j] = std::min(tw, s.Q - j * tw);
    col_in[j] = input_span(j * tw, col_out[j], core.ks, core.pad_l, core.in_w);
  }

  const bool lanes = fft_batches_lanes<T>(fh, fw);
  const bool in_by_columns = lanes && C1 < L / 2;  // else one transform batch = all channels of a tile
  const bool out_by_columns = lanes && Kb < L / 2;
  const SpectraGemmFn<T> gemm = spectra_gemm_kernel<T>();

  for (int64_t g = 0; g < s.groups; ++g) {
    // Kernel spectra of output channels [k0, k0 + kb) of group g.
    auto transform_kernels = [&](int64_t k0, int64_t kb) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(team(kb))
      for (int64_t k = 0; k < kb; ++k) {
        T* ker = staging.get() + int64_t(omp_get_thread_num()) * C1 * core.kr * core.ks;
        const T* wk = w + (g * Kg + k0 + k) * Cg * s.R * s.S;
        for (int64_t c = 0; c < Cg; ++c) {
          for (int64_t ih = 0; ih < nph_h; ++ih) {
            for (int64_t iw = 0; iw < nph_w; ++iw) {
              T* kc = ker + ((c * nph_h + ih) * nph_w + iw) * core.kr * core.ks;
              for (int64_t u = 0; u < core.kr; ++u) {
                const int64_t r = source_tap(u, core.phase_h[ih], s.stride_h, s.dil_h, s.R);
                for (int64_t v = 0; v < core.ks; ++v) {
                  const int64_t t = source_tap(v, core.phase_w[iw], s.stride_w, s.dil_w, s.S);
                  kc[u * core.ks + v] = (r >= 0 && t >= 0) ? wk[(c * s.R + r) * s.S + t] : T(0);
                }
              }
            }
          }
        }
        T* dst = Wsp + k * w_out;
        fft::rfft2(fplan, int(C1), ker, core.kr * core.ks, core.ks, 0, 0, int(core.kr), int(core.ks), dst,
                   dst + binsp, w_chan);
      }
    };
    if (pl.kernels_once && Kb == Kg) transform_kernels(0, Kg);

    const int64_t all = s.N * T1;
    // Chunks: Bt tiles, whole images when Bt >= T1, else part of one image.
    for (int64_t first = 0, count = 0; first < all; first += count) {
      count = Bt >= T1 ? std::min(Bt, all - first) : std::min(Bt, T1 - first % T1);
      const int64_t n0 = first / T1;
      auto tile_of = [&](int64_t lt, int64_t* n, int64_t* i, int64_t* j) {
        const int64_t f = first + lt;
        *n = f / T1;
        *i = f % T1 / pl.tiles_w;
        *j = f % T1 % pl.tiles_w;
      };

      // Input planes of this chunk: the image itself, or its gathered phase images.
      const T* in_base;
      int64_t in_plane, in_ld;
      if (core.polyphase) {
        const int64_t n1 = (first + count - 1) / T1 + 1;
        const int64_t planes = (n1 - n0) * C1;
        T* Z = Zbuf.get();
#pragma omp parallel for schedule(static) num_threads(team(planes))
        for (int64_t q = 0; q < planes; ++q) {
          const int64_t n = n0 + q / C1, c1 = q % C1;
          const int64_t c = c1 / (nph_h * nph_w), ih = c1 / nph_w % nph_h, iw = c1 % nph_w;
          gather_phase(s, x + (n * s.C + g * Cg + c) * s.H * s.W, core.phase_h[ih], core.phase_w[iw], core.in_h,
                       core.in_w, Z + q * core.in_h * core.in_w);
        }
        in_base = Z;
        in_plane = core.in_h * core.in_w;
        in_ld = core.in_w;
      } else {
        in_base = x + (n0 * s.C + g * Cg) * s.H * s.W;
        in_plane = s.H * s.W;
        in_ld = s.W;
      }
      // Plane of (image n, channel c') in the chunk's input.
      const int64_t image_stride = core.polyphase ? C1 * in_plane : s.C * in_plane;
      auto plane = [&](int64_t n, int64_t c1) { return in_base + (n - n0) * image_stride + c1 * in_plane; };

      // Runs of tiles that one batched transform can take (by columns), or single tiles (by channels).
      auto make_runs = [&](bool by_columns, bool input) {
        std::vector<Run> runs;
        int64_t pn = -1, pi = -1, pj = -1;
        for (int64_t lt = 0; lt < count; ++lt) {
          int64_t n, i, j;
          tile_of(lt, &n, &i, &j);
          bool extend = by_columns && !runs.empty() && runs.back().count < L && n == pn && i == pi && j == pj + 1;
          if (extend) {
            extend = input ? (col_in[j].offset == 0 && col_in[pj].offset == 0 && col_in[j].len == col_in[pj].len)
                           : col_out[j] == col_out[pj];
          }
          if (extend) {
            ++runs.back().count;
          } else {
            runs.push_back({lt, 1});
          }
          pn = n, pi = i, pj = j;
        }
        return runs;
      };

      // a. Input tile spectra.
      {
        const std::vector<Run> runs = make_runs(in_by_columns, true);
        const int64_t batches = in_by_columns ? int64_t(runs.size()) * C1 : int64_t(runs.size());
#pragma omp parallel for schedule(dynamic, 1) num_threads(team(batches))
        for (int64_t b = 0; b < batches; ++b) {
          const Run r = runs[in_by_columns ? b / C1 : b];
          const int64_t c1 = in_by_columns ? b % C1 : 0;
          int64_t n, i, j;
          tile_of(r.lt, &n, &i, &j);
          const Span rs = row_in[i], cs = col_in[j];
          const T* src = plane(n, c1) + rs.first * in_ld + cs.first;
          T* dst = Xsp + r.lt * x_tile + c1 * x_chan;
          if (in_by_columns) {  // a batch over the run's tiles, which start tw apart
            fft::rfft2(fplan, int(r.count), src, tw, in_ld, int(rs.offset), int(cs.offset), int(rs.len),
                       int(cs.len), dst, dst + binsp, x_tile);
          } else {  // a batch over the channels
            fft::rfft2(fplan, int(C1), src, in_plane, in_ld, int(rs.offset), int(cs.offset), int(rs.len),
                       int(cs.len), dst, dst + binsp, x_chan);
          }
        }
      }

      const std::vector<Run> out_runs = make_runs(out_by_columns, false);
      for (int64_t k0 = 0; k0 < Kg; k0 += Kb) {
        const int64_t kb = std::min(Kb, Kg - k0);
        if (!(pl.kernels_once && Kb == Kg)) transform_kernels(k0, kb);

        // b. Pointwise products: blocks of bins x blocks of tiles.
        {
          const SpectraGemm<T> args{count, kb, C1, Xsp, x_tile, x_chan, Wsp, w_out, w_chan, Ysp, y_tile, y_out, binsp};
          const int64_t fblock = 128 / int64_t(sizeof(T)) * 2;  // bins: two 64-byte lines per plane
          const int64_t tblock = 8;
          const int64_t nf = (binsp + fblock - 1) / fblock, nt = (count + tblock - 1) / tblock;
#pragma omp parallel for schedule(static) num_threads(team(nf * nt))
          for (int64_t item = 0; item < nf * nt; ++item) {
            const int64_t f0 = item / nt * fblock, t0 = item % nt * tblock;
            gemm(args, f0, std::min(binsp, f0 + fblock), t0, std::min(count, t0 + tblock));
          }
        }

        // c. Inverse transforms into y, then the bias.
        const int64_t batches = out_by_columns ? int64_t(out_runs.size()) * kb : int64_t(out_runs.size());
#pragma omp parallel for schedule(dynamic, 1) num_threads(team(batches))
        for (int64_t b = 0; b < batches; ++b) {
          const Run r = out_runs[out_by_columns ? b / kb : b];
          const int64_t k = out_by_columns ? b % kb : 0;
          int64_t n, i, j;
          tile_of(r.lt, &n, &i, &j);
          const int64_t pr = row_out[i], qc = col_out[j];
          T* dst = y + ((n * s.K + g * Kg + k0 + k) * s.P + i * th) * s.Q + j * tw;
          const T* src = Ysp + r.lt * y_tile + k * y_out;
          int64_t planes, tiles, plane_stride, tile_stride;
          if (out_by_columns) {  // the run's tiles of output channel k
            fft::irfft2(fplan, int(r.count), src, src + binsp, y_tile, dst, tw, s.Q, 0, 0, int(pr), int(qc), scale,
                        false);
            planes = 1, tiles = r.count, plane_stride = 0, tile_stride = tw;
          } else {  // every output channel of the block for one tile
            fft::irfft2(fplan, int(kb), src, src + binsp, y_out, dst, PQ, s.Q, 0, 0, int(pr), int(qc), scale, false);
            planes = kb, tiles = 1, plane_stride = PQ, tile_stride = 0;
          }
          if (bias) {
            for (int64_t pk = 0; pk < planes; ++pk) {
              const T bk = bias[g * Kg + k0 + k + pk];
              for (int64_t tt = 0; tt < tiles; ++tt) {
                T* d = dst + pk * plane_stride + tt * tile_stride;
                for (int64_t p = 0; p < pr; ++p)
                  for (int64_t q = 0; q < qc; ++q) d[p * s.Q + q] += bk;
              }
            }
          }
        }
      }
    }
  }

  const std::vector<int64_t> dead_rows = padding_only(s.P, s.H, s.R, s.stride_h, s.pad_top, s.dil_h);
  const std::vector<int64_t> dead_cols = padding_only(s.Q, s.W, s.S, s.stride_w, s.pad_left, s.dil_w);
  if (!dead_rows.empty() || !dead_cols.empty()) {
#pragma omp parallel for schedule(static) num_threads(team(s.N * s.K))
    for (int64_t nk = 0; nk < s.N * s.K; ++nk) {
      T* yk = y + nk * PQ;
      const T b = bias ? bias[nk % s.K] : T(0);
      for (int64_t p : dead_rows) std::fill(yk + p * s.Q, yk + (p + 1) * s.Q, b);
      for (int64_t q : dead_cols)
        for (int64_t p = 0; p < s.P; ++p) yk[p * s.Q + q] = b;
    }
  }
}

template <typename T>
void conv2d_fft(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  conv2d_fft_with_plan<T>(s, plan_conv2d_fft(s, sizeof(T)), x, w, bias, y);
}

template void conv2d_fft<float>(const Conv2dShape&, const float*, const float*, const float*, float*);
template void conv2d_fft<double>(const Conv2dShape&, const double*, const double*, const double*, double*);
template void conv2d_fft_with_plan<float>(const Conv2dShape&, const Conv2dFftPlan&, const float*, const float*,
                                          const float*, float*);
template void conv2d_fft_with_plan<double>(const Conv2dShape&, const Conv2dFftPlan&, const double*, const double*,
                                           const double*, double*);

}  // namespace ck
