// conv2d_fft.cpp: 2-D convolution (cross-correlation) through the Fourier domain on the CPU, algo="fft".
//
// Dimensions: N batch, C in-channels, K out-channels, H W input, R S kernel, P Q output; per group
// Cg = C/groups and Kg = K/groups (groups are independent convolutions).
//
// 1. Stride-1 problem. A stride-1 layer is used as it is: its kernel is the dilated kernel (zeros between
//    the taps), its input the image, read in place with the padding as zero fill. A layer with stride
//    (sh, sw) > 1 is split into phases (polyphase): with the dilated kernel wd and the padded image xp,
//        y[p][q] = sum_(a,b) sum_(u,v) z_ab[p + u][q + v] · w_ab[u][v],
//        z_ab[i][j] = xp[i*sh + a][j*sw + b],   w_ab[u][v] = wd[u*sh + a][v*sw + b],
//    i.e. a stride-1 correlation whose input channels are the Cg·sh·sw phase images and whose kernels are
//    the phase kernels of about R/sh x S/sw taps. It computes exactly the P x Q outputs wanted, from the
//    same amount of input and the same taps; computing the stride-1 output and keeping one pixel in sh·sw
//    would do sh·sw times the transform work. Phases that no dilated tap falls on (kernel smaller than the
//    stride, dilation a multiple of it) are left out. The phase images are never stored whole: each tile
//    gathers its window of them.
//
// 2. Tiling, overlap-save. The output is cut into tiles of tile_h x tile_w; the tile's input window of
//    fft_h x fft_w = (tile + kernel - 1) is transformed, multiplied by the kernel spectrum, and of the
//    circular correlation that comes back the first tile_h x tile_w values are exact (no wrap-around); they
//    are all that is kept. Cross-correlation is the product with the *conjugate* kernel spectrum, the kernel
//    placed at the origin: corr[i] = sum_u t[i + u] ker[u] has spectrum T · conj(KER).
//
// 3. Pipeline. In the Fourier domain the layer is, at every frequency bin, a complex matrix product
//    Y[tiles x K] = X[tiles x C'] · conj(W)[C' x K] (conv2d_fft_cgemm.hpp). One operand is transformed first,
//    by all threads, into a shared buffer; then each work item transforms its share of the other operand,
//    multiplies, inverse-transforms and writes its part of y (crop, bias):
//      kernels first: W for all K x C' kernels is shared; an item is a run of tiles (big images);
//      tiles first:   X for all tiles is shared; an item is a block of output channels (many channels,
//                     small images: AlexNet conv2 has 24576 kernels and 32 tiles).
//    So a pass is one parallel region with one barrier (none when there is a single kernel); a call is one
//    pass unless the shared spectra must come in parts to respect the memory bound (the other operand is
//    then transformed again per part). Few barriers matter on a loaded machine: each can wait for a
//    descheduled thread. The transform size, order, item sizes and parts are chosen by a cost model
//    (plan_conv2d_fft).
//
// Threads: items are scheduled dynamically; the plan does not depend on the thread count, and every value is
// computed by the same operations whichever thread runs it, so results are identical for any thread count.
// All state is per call (the FFT plans are shared and immutable): several Python threads may call at once.
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
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

using fft_conv_detail::kBlockBins;
using fft_conv_detail::SpectraGemm;
using fft_conv_detail::SpectraGemmFn;

int64_t round_up(int64_t a, int64_t m) { return (a + m - 1) / m * m; }
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---------------------------------------------------------------------------------------------------------
// The stride-1 problem (section 1 above)

struct Core {
  bool polyphase = false;
  int64_t kr = 0, ks = 0;                 // kernel
  int64_t in_h = 0, in_w = 0;             // input planes (the phase images with their padding, if polyphase)
  int64_t pad_t = 0, pad_l = 0;           // zero rows / columns before them (0 with polyphase: folded in)
  std::vector<int64_t> phase_h, phase_w;  // the row / column phases with taps ({0} without a stride)
  int64_t channels = 0;                   // Cg * phases: channel c' = (c * phases_h + ih) * phases_w + iw
};

// Phases a in [0, stride) on which some dilated tap r * dil falls, in increasing order (at most `taps` of
// them, whatever the stride).
std::vector<int64_t> used_phases(int64_t taps, int64_t dil, int64_t stride) {
  std::vector<int64_t> list;
  for (int64_t r = 0; r < taps && r < stride; ++r) list.push_back((r * dil) % stride);  // r*dil mod stride repeats
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
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
    c.kr = ceil_div(eff_r, s.stride_h);
    c.ks = ceil_div(eff_s, s.stride_w);
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

// Output rows (or columns) whose every tap falls in the padding: there the output is the bias exactly. The
// transforms would leave rounding noise (the circular product vanishes there only in exact arithmetic), so
// those outputs are overwritten, matching the other algorithms bit for bit.
std::vector<char> padding_only(int64_t out, int64_t in, int64_t taps, int64_t stride, int64_t pad, int64_t dil) {
  std::vector<char> dead(out, 1);
  for (int64_t p = 0; p < out; ++p) {
    for (int64_t r = 0; r < taps && dead[p]; ++r) {
      const int64_t i = p * stride - pad + r * dil;
      if (i >= 0 && i < in) dead[p] = 0;
    }
  }
  return dead;
}

// Along one dimension, the input that a run of n outputs starting at p0 reads: core input indices
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

// Whether the FFT core transforms the tiles of a batch together, one per vector lane, for this size: it does
// while the group's interleaved spectra fit 16 MiB, for groups of at least 3/4 of the lanes (mirrors fft.cpp;
// only speed and the scratch size depend on it).
bool fft_batches_lanes(int64_t fh, int64_t fw, int64_t elem_bytes) {
  const int64_t lanes = 32 / elem_bytes;
  return fh * (fw / 2 + 1) * 2 * lanes * elem_bytes <= int64_t(16) << 20;
}

// Batches of n transforms fill the lanes well enough for the FFT core's tile-lane strategy.
bool fills_lanes(int64_t n, int64_t elem_bytes) { return 4 * n >= 3 * (32 / elem_bytes); }

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
// Memory of a plan
//
// A spectrum is stored as `blocks` blocks of 2 x kBlockBins values (conv2d_fft_cgemm.hpp); a thread stages
// the planar output of one FFT batch (up to `lanes` spectra) before packing it into blocks, and gathers the
// input windows of one batch of phase channels.

struct Sizes {
  int64_t lanes;      // the FFT core's batch group: 32 bytes / element
  int64_t bins;       // fh * (fw/2 + 1)
  int64_t blocks;     // bin blocks per spectrum
  int64_t spec;       // elements of one blocked spectrum: blocks * 2 * kBlockBins
  int64_t plane;      // elements of one staged plane (bins rounded up to whole blocks and 64 bytes)
  int64_t staging;    // per-thread staging: lanes planar spectra, one output channel's kernels, windows
};

Sizes sizes_of(const Core& core, int64_t fh, int64_t fw, int64_t elem_bytes) {
  Sizes z;
  const int64_t fb = 32 / elem_bytes, line = 64 / elem_bytes;
  z.lanes = 32 / elem_bytes;
  z.bins = fh * (fw / 2 + 1);
  z.blocks = ceil_div(z.bins, fb);
  z.spec = z.blocks * 2 * fb;
  z.plane = round_up(z.blocks * fb, line);
  const int64_t kernels = round_up(core.channels * core.kr * core.ks, line);
  const int64_t windows = core.polyphase ? z.lanes * fh * fw : 0;
  z.staging = z.lanes * 2 * z.plane + kernels + windows;
  return z;
}

// The FFT core's per-thread scratch for this size, kept by each thread after the call (after fft.cpp's
// make_plan_2d).
int64_t fft_scratch_bytes(int64_t h, int64_t w, int64_t elem_bytes) {
  const int64_t L = 32 / elem_bytes, wc = w / 2 + 1;
  const int64_t scratch = std::max(8 * w * L, 4 * h * L);
  const int64_t tiles = h * wc * 2 * L + w * L + scratch;
  const int64_t rowcol = 2 * h * wc + w * L + wc * 2 * L + 4 * h * L + scratch;
  return (fft_batches_lanes(h, w, elem_bytes) ? std::max(tiles, rowcol) : rowcol) * elem_bytes;
}

// Elements of spectra a plan holds: shared, and per thread (work-item buffers).
struct Footprint {
  int64_t shared, per_thread;
};

Footprint footprint(const Conv2dShape& s, const Core& core, const Sizes& z, bool kernels_first, int64_t tile_batch,
                    int64_t k_block) {
  const int64_t C1 = core.channels;
  if (kernels_first) {  // W: groups x k_block x C'; per item X: tiles x C', Y: tiles x k_block
    return {s.groups * k_block * C1 * z.spec, tile_batch * (C1 + k_block) * z.spec + z.staging};
  }
  // X: groups x tile_batch x C'; per item W: k_block x C', Y: tile_batch x k_block
  return {s.groups * tile_batch * C1 * z.spec, k_block * (C1 + tile_batch) * z.spec + z.staging};
}

// ---------------------------------------------------------------------------------------------------------
// Cost model
//
// Units: about nanoseconds of one core; the constants are a least-squares fit to single-thread timings of
// about 110 (layer, transform size) pairs on the AVX2 Zen cores this was developed on (typical error +-35%,
// much of it the noise of a shared machine); only ratios matter. A 2-D real transform of h x w costs
// kFftNs · h w log2(h w) (more when the FFT core transforms one tile at a time, kFftSingleNs, which it does
// when a group of tiles would not fit its buffer; twice that for odd w, which has no half-length trick),
// half in the row pass and half in the column pass; the row pass only runs over rows that hold data
// (forward) or are kept (inverse). On top come kFftCallNs per transform and kFftBinNs per bin (the FFT
// core's transposes to planar spectra, and packing them into blocks). The pointwise product costs kMacNs
// per complex multiply-add of one bin; double costs about twice float (half the SIMD lanes). Each work item
// streams the shared spectra it multiplies with (kByteNs per byte). Work is charged for notional threads
// left idle (kNotionalThreads; the plan must not depend on the real count), and each barrier costs
// kBarrierNs.
constexpr double kFftNs = 0.25;
constexpr double kFftSingleNs = 0.3;  // not fitted: only sizes of about 1024 x 1024 and up
constexpr double kFftCallNs = 150;
constexpr double kFftBinNs = 1.0;
constexpr double kMacNs = 0.25;
constexpr double kByteNs = 0.06;
constexpr double kBarrierNs = 50e3;
constexpr int64_t kNotionalThreads = 4;
constexpr int64_t kMinBudgetBytes = int64_t(4) << 20;

double fft_ns(int64_t fh, int64_t fw, double row_fraction, int64_t elem_bytes) {
  const double n = double(fh) * double(fw);
  const double per = fft_batches_lanes(fh, fw, elem_bytes) ? kFftNs : kFftSingleNs;
  double t = per * n * std::log2(std::max(2.0, n));
  if (fw % 2 == 1 && fw > 1) t *= 2;
  t = t * (0.5 + 0.5 * std::min(1.0, row_fraction)) + kFftBinNs * double(fh * (fw / 2 + 1));
  return t * (elem_bytes == 8 ? 1.8 : 1.0) + kFftCallNs;
}

// Time of `items` equal items on kNotionalThreads threads, relative to perfect sharing.
double wave_factor(int64_t items) {
  const int64_t p = kNotionalThreads;
  return double(ceil_div(items, p) * p) / double(std::max<int64_t>(items, 1));
}

// Every (order, item size, parts) for one transform size; the cheapest within `budget` bytes (or, if none
// is, the smallest). spectra_bytes counts per-thread buffers for kNotionalThreads threads.
Conv2dFftPlan plan_for_size(const Conv2dShape& s, const Core& core, int64_t fh, int64_t fw, int64_t elem,
                            int64_t budget, int order) {
  Conv2dFftPlan p;
  p.fft_h = fh;
  p.fft_w = fw;
  p.tile_h = fh - core.kr + 1;
  p.tile_w = fw - core.ks + 1;
  p.tiles_h = ceil_div(s.P, p.tile_h);
  p.tiles_w = ceil_div(s.Q, p.tile_w);
  p.kernel_h = core.kr;
  p.kernel_w = core.ks;
  p.in_h = core.in_h;
  p.in_w = core.in_w;
  p.polyphase = core.polyphase;
  p.phases_h = int64_t(core.phase_h.size());
  p.phases_w = int64_t(core.phase_w.size());
  p.channels = core.channels;

  const Sizes z = sizes_of(core, fh, fw, elem);
  const int64_t fft_scratch = fft_scratch_bytes(fh, fw, elem);
  const int64_t C1 = core.channels, Kg = s.K_per_group(), G = s.groups;
  const int64_t all = std::max<int64_t>(s.N, 1) * p.tiles_h * p.tiles_w;  // tiles per group
  const double f_in = fft_ns(fh, fw, double(std::min(fh, core.in_h)) / double(fh), elem);
  const double f_out = fft_ns(fh, fw, double(p.tile_h) / double(fh), elem);
  const double f_ker = fft_ns(fh, fw, double(core.kr) / double(fh), elem);
  const double padded_bins = double(z.blocks * (32 / elem));
  const double macs = kMacNs * (elem == 8 ? 2.0 : 1.0) * double(G * all) * double(Kg * C1) * padded_bins;
  const double spec_bytes = double(z.spec * elem);

  bool have = false;
  auto consider = [&](bool kernels_first, int64_t tile_batch, int64_t k_block) {
    const Footprint f = footprint(s, core, z, kernels_first, tile_batch, k_block);
    const int64_t mem = (f.shared + kNotionalThreads * f.per_thread) * elem + kNotionalThreads * fft_scratch;
    double t;
    int64_t passes;
    if (kernels_first) {  // passes over blocks of k; the tiles are transformed again in each
      passes = ceil_div(Kg, k_block);
      const int64_t items = G * ceil_div(all, tile_batch);
      t = double(G * Kg * C1) * f_ker * wave_factor(G * k_block);
      t += (double(G * all * C1) * f_in * double(passes) + double(G * all * Kg) * f_out + macs) * wave_factor(items);
      t += kByteNs * double(items) * double(passes) * double(k_block * C1) * spec_bytes;
    } else {  // passes over chunks of tiles; the kernels are transformed again in each
      passes = ceil_div(all, tile_batch);
      const int64_t items = G * ceil_div(Kg, k_block);
      t = double(G * all * C1) * f_in * wave_factor(G * tile_batch);
      t += (double(G * Kg * C1) * f_ker * double(passes) + double(G * all * Kg) * f_out + macs) * wave_factor(items);
      t += kByteNs * double(items) * double(passes) * double(tile_batch * C1) * spec_bytes;
    }
    t += kBarrierNs * double(2 * passes);
    const int64_t tiles = G * all;
    const int64_t n_in = tiles * C1 * (kernels_first ? passes : 1), n_ker = G * Kg * C1 * (kernels_first ? 1 : passes);
    const bool fits = mem <= budget, had_fit = have && p.spectra_bytes <= budget;
    if (!have || (fits && !had_fit) || (fits && t < p.cost) || (!fits && !had_fit && mem < p.spectra_bytes)) {
      have = true;
      p.kernels_first = kernels_first;
      p.tile_batch = tile_batch;
      p.k_block = k_block;
      p.passes = passes;
      p.spectra_bytes = mem;
      p.cost = t;
      p.transforms_in = n_in;
      p.transforms_kernel = n_ker;
      p.transforms_out = tiles * Kg;
      p.complex_macs = tiles * Kg * C1 * int64_t(padded_bins);
    }
  };
  // Parts of the shared operand: whole, or as many equal parts as it takes to fit the budget.
  auto parts = [&](int64_t total, int64_t unit_bytes, int64_t per_thread_bytes) {
    const int64_t room = budget - kNotionalThreads * (per_thread_bytes + fft_scratch);
    if (room <= unit_bytes) return int64_t(1);
    const int64_t fit = std::min(total, room / unit_bytes);
    return ceil_div(total, ceil_div(total, fit));  // even parts
  };
  for (int64_t tb : {1, 2, 4, 8, 16, 32}) {  // kernels first: tiles per item
    if (order == 2 || (tb > 1 && tb / 2 >= all)) break;
    const int64_t t = std::min(tb, all);
    const int64_t per_thread = (t * (C1 + Kg) * z.spec + z.staging) * elem;
    consider(true, t, parts(Kg, G * C1 * z.spec * elem, per_thread));
  }
  for (int64_t kb : {2, 4, 8, 16, 32, 64}) {  // tiles first: output channels per item
    if (order == 1 || (kb > 2 && kb / 2 >= Kg)) break;
    const int64_t k = std::min(kb, Kg);
    const int64_t per_thread = (k * C1 * z.spec + z.staging) * elem;
    const int64_t per_tile = (G * C1 + kNotionalThreads * k) * z.spec * elem;
    consider(false, parts(all, per_tile, per_thread), k);
  }
  return p;
}

// Candidate transform sizes along one dimension: sizes with factors 2, 3, 5 (even ones for the width, where
// odd sizes cost double), from the kernel size (1-pixel tiles) to one tile for the whole output; of the sizes
// giving the same number of tiles only the smallest (a larger one costs more for the same tiles).
std::vector<int64_t> size_candidates(int64_t kernel, int64_t out, bool even) {
  const int64_t whole = fft::next_fast_size(int(std::min<int64_t>(out + kernel - 1, 1 << 24)));
  const int64_t cap = std::max<int64_t>(2048, fft::next_fast_size(int(std::min<int64_t>(2 * kernel, 1 << 24))));
  const int64_t limit = std::min(whole, cap);
  std::vector<int64_t> v;
  int64_t last_tiles = -1;
  for (int64_t n = fft::next_fast_size(int(kernel)); n <= limit; n = fft::next_fast_size(int(n + 1))) {
    const int64_t tiles = ceil_div(out, n - kernel + 1);
    if ((!even || n % 2 == 0 || n == 1) && tiles != last_tiles) {
      v.push_back(n);
      last_tiles = tiles;
    }
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

// ---------------------------------------------------------------------------------------------------------
// One call

// Blocked spectra (conv2d_fft_cgemm.hpp): block b of spectrum (row r, column c) of a matrix of spectra at
// base + b * block + r * row + c * 2 * kBlockBins.
template <typename T>
struct Spectra {
  T* base;
  int64_t block, row;
  T* at(int64_t r, int64_t c) const { return base + r * row + c * 2 * kBlockBins<T>; }
};

template <typename T>
class FftConv {
 public:
  FftConv(const Conv2dShape& s, const Conv2dFftPlan& pl, const T* x, const T* w, const T* bias, T* y)
      : s_(s), pl_(pl), core_(make_core(s)), z_(sizes_of(core_, pl.fft_h, pl.fft_w, sizeof(T))),
        fplan_(fft::plan_2d<T>(int(pl.fft_h), int(pl.fft_w))), x_(x), w_(w), bias_(bias), y_(y) {
    T1_ = pl.tiles_h * pl.tiles_w;
    all_ = s.N * T1_;
    for (int64_t i = 0; i < pl.tiles_h; ++i) {
      row_out_.push_back(std::min(pl.tile_h, s.P - i * pl.tile_h));
      row_in_.push_back(input_span(i * pl.tile_h, row_out_[i], core_.kr, core_.pad_t, core_.in_h));
    }
    for (int64_t j = 0; j < pl.tiles_w; ++j) {
      col_out_.push_back(std::min(pl.tile_w, s.Q - j * pl.tile_w));
      col_in_.push_back(input_span(j * pl.tile_w, col_out_[j], core_.ks, core_.pad_l, core_.in_w));
    }
    for (int64_t a : core_.phase_h)
      for (int64_t u = 0; u < core_.kr; ++u) tap_h_.push_back(source_tap(u, a, s.stride_h, s.dil_h, s.R));
    for (int64_t b : core_.phase_w)
      for (int64_t v = 0; v < core_.ks; ++v) tap_w_.push_back(source_tap(v, b, s.stride_w, s.dil_w, s.S));
    dead_rows_ = padding_only(s.P, s.H, s.R, s.stride_h, s.pad_top, s.dil_h);
    dead_cols_ = padding_only(s.Q, s.W, s.S, s.stride_w, s.pad_left, s.dil_w);
    any_dead_ = std::count(dead_rows_.begin(), dead_rows_.end(), 1) > 0 ||
                std::count(dead_cols_.begin(), dead_cols_.end(), 1) > 0;
    const bool lanes = fft_batches_lanes(pl.fft_h, pl.fft_w, sizeof(T));
    // Batches over runs of tiles of a row when there are too few channels to fill the lanes.
    in_by_columns_ = lanes && !fills_lanes(core_.channels, sizeof(T));
    out_by_columns_ = lanes && !fills_lanes(pl.k_block, sizeof(T));
    gemm_ = spectra_gemm_kernel<T>();
  }

  void run();

 private:
  // Tile t (flat over the images: t = n * T1 + i * tiles_w + j).
  void tile_of(int64_t t, int64_t* n, int64_t* i, int64_t* j) const {
    *n = t / T1_;
    *i = t % T1_ / pl_.tiles_w;
    *j = t % T1_ % pl_.tiles_w;
  }
  // Tiles a and b next to each other in a tile row, with the same input windows (input) or output crops.
  bool same_run(int64_t a, int64_t b, bool input) const {
    int64_t na, ia, ja, nb, ib, jb;
    tile_of(a, &na, &ia, &ja);
    tile_of(b, &nb, &ib, &jb);
    if (na != nb || ia != ib || jb != ja + 1) return false;
    if (input) return col_in_[ja].offset == 0 && col_in_[jb].offset == 0 && col_in_[ja].len == col_in_[jb].len;
    return col_out_[ja] == col_out_[jb];
  }

  void kernel_spectra(int64_t g, int64_t k0, int64_t kb, Spectra<T> W, T* st) const;
  void tile_spectra(int64_t g, int64_t t0, int64_t count, Spectra<T> X, T* st) const;
  void output_tiles(int64_t g, int64_t k0, int64_t kb, int64_t t0, int64_t count, Spectra<T> Y, T* st) const;
  void pack(const T* st, int64_t i, T* dst, int64_t block) const;
  void unpack(const T* src, int64_t block, T* st, int64_t i) const;

  const Conv2dShape& s_;
  const Conv2dFftPlan& pl_;
  const Core core_;
  const Sizes z_;
  const fft::Plan2D<T>& fplan_;
  const T* x_;
  const T* w_;
  const T* bias_;
  T* y_;
  int64_t T1_ = 0, all_ = 0;
  std::vector<Span> row_in_, col_in_;
  std::vector<int64_t> row_out_, col_out_;
  std::vector<char> dead_rows_, dead_cols_;
  bool any_dead_ = false;
  std::vector<int64_t> tap_h_, tap_w_;  // source_tap of each phase kernel row / column: [phase][u]
  bool in_by_columns_ = false, out_by_columns_ = false;
  SpectraGemmFn<T> gemm_ = nullptr;
};

// Staged planar spectrum i -> its blocks at dst (block stride `block`), and back.
template <typename T>
void FftConv<T>::pack(const T* st, int64_t i, T* dst, int64_t block) const {
  constexpr int64_t fb = kBlockBins<T>;
  const T* re = st + i * 2 * z_.plane;
  const T* im = re + z_.plane;
  for (int64_t b = 0; b < z_.blocks; ++b, dst += block) {
    std::memcpy(dst, re + b * fb, fb * sizeof(T));
    std::memcpy(dst + fb, im + b * fb, fb * sizeof(T));
  }
}

template <typename T>
void FftConv<T>::unpack(const T* src, int64_t block, T* st, int64_t i) const {
  constexpr int64_t fb = kBlockBins<T>;
  T* re = st + i * 2 * z_.plane;
  T* im = re + z_.plane;
  for (int64_t b = 0; b < z_.blocks; ++b, src += block) {
    std::memcpy(re + b * fb, src, fb * sizeof(T));
    std::memcpy(im + b * fb, src + fb, fb * sizeof(T));
  }
}

// Spectra of the kernels of output channels k0 .. k0 + kb of group g: W.at(k - k0, c').
template <typename T>
void FftConv<T>::kernel_spectra(int64_t g, int64_t k0, int64_t kb, Spectra<T> W, T* st) const {
  const Conv2dShape& s = s_;
  const int64_t Cg = s.C_per_group(), C1 = core_.channels, taps = core_.kr * core_.ks;
  const int64_t nph_h = int64_t(core_.phase_h.size()), nph_w = int64_t(core_.phase_w.size());
  T* ker = st + z_.lanes * 2 * z_.plane;
  for (int64_t k = 0; k < kb; ++k) {
    const T* wk = w_ + (g * s.K_per_group() + k0 + k) * Cg * s.R * s.S;
    for (int64_t c = 0; c < Cg; ++c) {
      for (int64_t ih = 0; ih < nph_h; ++ih) {
        for (int64_t iw = 0; iw < nph_w; ++iw) {
          T* kc = ker + ((c * nph_h + ih) * nph_w + iw) * taps;
          const int64_t* rows = tap_h_.data() + ih * core_.kr;  // weight row of each tap row, or -1
          const int64_t* cols = tap_w_.data() + iw * core_.ks;
          for (int64_t u = 0; u < core_.kr; ++u) {
            T* ku = kc + u * core_.ks;
            if (rows[u] < 0) {
              std::fill(ku, ku + core_.ks, T(0));
              continue;
            }
            const T* wr = wk + (c * s.R + rows[u]) * s.S;
            for (int64_t v = 0; v < core_.ks; ++v) ku[v] = cols[v] >= 0 ? wr[cols[v]] : T(0);
          }
        }
      }
    }
    for (int64_t c0 = 0; c0 < C1; c0 += z_.lanes) {
      const int64_t cb = std::min(z_.lanes, C1 - c0);
      fft::rfft2(fplan_, int(cb), ker + c0 * taps, taps, core_.ks, 0, 0, int(core_.kr), int(core_.ks), st,
                 st + z_.plane, 2 * z_.plane);
      for (int64_t i = 0; i < cb; ++i) pack(st, i, W.at(k, c0 + i), W.block);
    }
  }
}

// Spectra of the input windows of tiles t0 .. t0 + count of group g, every channel: X.at(t - t0, c').
template <typename T>
void FftConv<T>::tile_spectra(int64_t g, int64_t t0, int64_t count, Spectra<T> X, T* st) const {
  const Conv2dShape& s = s_;
  const int64_t C1 = core_.channels, L = z_.lanes, HW = s.H * s.W;
  const int64_t nph_h = int64_t(core_.phase_h.size()), nph_w = int64_t(core_.phase_w.size());
  T* window = st + L * 2 * z_.plane + round_up(C1 * core_.kr * core_.ks, 64 / int64_t(sizeof(T)));
  for (int64_t t = t0; t < t0 + count;) {
    int64_t n, i, j;
    tile_of(t, &n, &i, &j);
    // A run of tiles transformed together per channel (few channels), or one tile with its channels batched.
    int64_t run = 1;
    if (in_by_columns_) {
      while (t + run < t0 + count && run < L && same_run(t + run - 1, t + run, true)) ++run;
    }
    const int64_t batches = in_by_columns_ ? C1 : ceil_div(C1, L);
    for (int64_t q = 0; q < batches; ++q) {
      const int64_t c0 = in_by_columns_ ? q : q * L, cb = in_by_columns_ ? 1 : std::min(L, C1 - c0);
      const int64_t nt = in_by_columns_ ? run : 1;
      if (core_.polyphase) {  // gather the windows of the phase images: rows [p0, p0 + rows), cols [q0, ...)
        const int64_t rows = row_out_[i] + core_.kr - 1, p0 = i * pl_.tile_h;
        for (int64_t b = 0; b < cb * nt; ++b) {
          const int64_t c1 = c0 + (in_by_columns_ ? 0 : b), jt = j + (in_by_columns_ ? b : 0);
          const int64_t cols = col_out_[jt] + core_.ks - 1, q0 = jt * pl_.tile_w;
          const int64_t c = c1 / (nph_h * nph_w), a = core_.phase_h[c1 / nph_w % nph_h], bw = core_.phase_w[c1 % nph_w];
          const T* xc = x_ + (n * s.C + g * s.C_per_group() + c) * HW;
          T* win = window + b * pl_.fft_h * pl_.fft_w;
          int64_t lo, hi;
          detail::inside_range(q0 * s.stride_w + bw - s.pad_left, s.stride_w, s.W, cols, &lo, &hi);
          for (int64_t r = 0; r < rows; ++r) {
            T* wr = win + r * pl_.fft_w;
            const int64_t h = (p0 + r) * s.stride_h + a - s.pad_top;
            if (h < 0 || h >= s.H) {
              std::fill(wr, wr + cols, T(0));
              continue;
            }
            const T* xr = xc + h * s.W;
            const int64_t x0 = q0 * s.stride_w + bw - s.pad_left;
            std::fill(wr, wr + lo, T(0));
            for (int64_t v = lo; v < hi; ++v) wr[v] = xr[x0 + v * s.stride_w];
            std::fill(wr + hi, wr + cols, T(0));
          }
        }
        const int64_t cols = col_out_[j] + core_.ks - 1;  // the same for every tile of a run
        fft::rfft2(fplan_, int(cb * nt), window, pl_.fft_h * pl_.fft_w, pl_.fft_w, 0, 0, int(rows), int(cols), st,
                   st + z_.plane, 2 * z_.plane);
      } else {  // read the image in place: a window with zero fill
        const Span rs = row_in_[i], cs = col_in_[j];
        const T* src = x_ + (n * s.C + g * s.C_per_group() + c0) * HW + rs.first * s.W + cs.first;
        fft::rfft2(fplan_, int(cb * nt), src, in_by_columns_ ? pl_.tile_w : HW, s.W, int(rs.offset), int(cs.offset),
                   int(rs.len), int(cs.len), st, st + z_.plane, 2 * z_.plane);
      }
      for (int64_t b = 0; b < cb * nt; ++b) {
        pack(st, b, X.at(t - t0 + (in_by_columns_ ? b : 0), c0 + (in_by_columns_ ? 0 : b)), X.block);
      }
    }
    t += run;
  }
}

// Inverse transforms of Y.at(t - t0, k - k0) for tiles t0 .. t0 + count and output channels k0 .. k0 + kb of
// group g, cropped into y, plus the bias.
template <typename T>
void FftConv<T>::output_tiles(int64_t g, int64_t k0, int64_t kb, int64_t t0, int64_t count, Spectra<T> Y,
                              T* st) const {
  const Conv2dShape& s = s_;
  const int64_t L = z_.lanes, PQ = s.P * s.Q, tw = pl_.tile_w;
  const T scale = T(1) / (T(pl_.fft_h) * T(pl_.fft_w));
  for (int64_t t = t0; t < t0 + count;) {
    int64_t n, i, j;
    tile_of(t, &n, &i, &j);
    int64_t run = 1;
    if (out_by_columns_) {
      while (t + run < t0 + count && run < L && same_run(t + run - 1, t + run, false)) ++run;
    }
    const int64_t pr = row_out_[i], qc = col_out_[j];
    const int64_t batches = out_by_columns_ ? kb : ceil_div(kb, L);
    for (int64_t q = 0; q < batches; ++q) {
      const int64_t ka = out_by_columns_ ? q : q * L, nk = out_by_columns_ ? 1 : std::min(L, kb - ka);
      const int64_t nt = out_by_columns_ ? run : 1;
      for (int64_t b = 0; b < nk * nt; ++b) {
        unpack(Y.at(t - t0 + (out_by_columns_ ? b : 0), ka + (out_by_columns_ ? 0 : b)), Y.block, st, b);
      }
      T* dst = y_ + ((n * s.K + g * s.K_per_group() + k0 + ka) * s.P + i * pl_.tile_h) * s.Q + j * tw;
      fft::irfft2(fplan_, int(nk * nt), st, st + z_.plane, 2 * z_.plane, dst, out_by_columns_ ? tw : PQ, s.Q, 0, 0,
                  int(pr), int(qc), scale, false);
      for (int64_t b = 0; b < nk * nt; ++b) {  // bias, and the outputs that see only padding
        T* d = dst + (out_by_columns_ ? b * tw : b * PQ);
        const int64_t jt = j + (out_by_columns_ ? b : 0);
        const T bk = bias_ ? bias_[g * s.K_per_group() + k0 + ka + (out_by_columns_ ? 0 : b)] : T(0);
        if (bias_) {
          for (int64_t p = 0; p < pr; ++p)
            for (int64_t v = 0; v < qc; ++v) d[p * s.Q + v] += bk;
        }
        if (any_dead_) {
          for (int64_t p = 0; p < pr; ++p)
            for (int64_t v = 0; v < qc; ++v)
              if (dead_rows_[i * pl_.tile_h + p] || dead_cols_[jt * tw + v]) d[p * s.Q + v] = bk;
        }
      }
    }
    t += run;
  }
}

template <typename T>
void FftConv<T>::run() {
  const Conv2dShape& s = s_;
  const int64_t C1 = core_.channels, Kg = s.K_per_group(), G = s.groups, nb = z_.blocks;
  constexpr int64_t line = 2 * kBlockBins<T>;
  const int64_t tb = pl_.tile_batch, kb = pl_.k_block;
  const int nthreads = num_threads();

  // Shared spectra (all groups) and per-thread buffers: staging, then the work item's spectra.
  const int64_t shared_rows = pl_.kernels_first ? kb : tb;
  Buffer<T> shared(G * nb * shared_rows * C1 * line);
  const int64_t item_spectra = pl_.kernels_first ? tb * (C1 + kb) : kb * (C1 + tb);
  const int64_t per_thread = round_up(z_.staging, 64 / int64_t(sizeof(T))) + item_spectra * z_.spec;
  Buffer<T> local(int64_t(nthreads) * per_thread);
  for (int t = 0; t < nthreads; ++t) {  // staged planes: bins past the spectrum are copied as blocks, keep them 0
    for (int64_t i = 0; i < 2 * z_.lanes; ++i) {
      T* plane = local.get() + t * per_thread + i * z_.plane;
      std::fill(plane + z_.bins, plane + z_.plane, T(0));
    }
  }
  auto team = [nthreads](int64_t work) { return std::min(threads_for(work), nthreads); };  // <= buffers

  if (pl_.kernels_first) {
    // Shared W(g): rows k (of this pass), columns c'. Items: runs of tb tiles of one group.
    const int64_t items = G * ceil_div(all_, tb);
    for (int64_t k0 = 0; k0 < Kg; k0 += kb) {
      const int64_t kn = std::min(kb, Kg - k0);
      auto W = [&](int64_t g) { return Spectra<T>{shared.get() + g * nb * kb * C1 * line, kb * C1 * line, C1 * line}; };
      // One kernel (a single-channel image): the calling thread transforms it, and the region has no barrier
      // (on a loaded machine each can wait for a descheduled thread).
      const bool one_kernel = G * kn == 1;
      if (one_kernel) kernel_spectra(0, k0, 1, W(0), local.get());
#pragma omp parallel num_threads(team(std::max(items, G * kn)))
      {
        T* buf = local.get() + int64_t(omp_get_thread_num()) * per_thread;
        T* st = buf;
        T* spectra = buf + round_up(z_.staging, 64 / int64_t(sizeof(T)));
        if (!one_kernel) {
#pragma omp for schedule(dynamic, 1)
          for (int64_t gk = 0; gk < G * kn; ++gk) {
            Spectra<T> w = W(gk / kn);
            w.base = w.at(gk % kn, 0);
            kernel_spectra(gk / kn, k0 + gk % kn, 1, w, st);
          }
          // implicit barrier: every kernel spectrum is ready
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t item = 0; item < items; ++item) {
          const int64_t g = item / ceil_div(all_, tb), t0 = item % ceil_div(all_, tb) * tb;
          const int64_t count = std::min(tb, all_ - t0);
          const Spectra<T> X{spectra, tb * C1 * line, C1 * line};
          const Spectra<T> Y{spectra + nb * tb * C1 * line, tb * kn * line, kn * line};
          tile_spectra(g, t0, count, X, st);
          const Spectra<T> Wg = W(g);
          const SpectraGemm<T> args{count, kn, C1, X.base, X.block, X.row, Wg.base, Wg.block, Wg.row, Y.base, Y.block,
                                    Y.row};
          gemm_(args, 0, nb, 0, count);
          output_tiles(g, k0, kn, t0, count, Y, st);
        }
      }
    }
  } else {
    // Shared X(g): rows = tiles of this pass, columns c'. Items: blocks of kb output channels of one group.
    const int64_t kblocks = ceil_div(Kg, kb), items = G * kblocks;
    for (int64_t t0 = 0; t0 < all_; t0 += tb) {
      const int64_t tn = std::min(tb, all_ - t0);
      auto X = [&](int64_t g) { return Spectra<T>{shared.get() + g * nb * tb * C1 * line, tb * C1 * line, C1 * line}; };
      // Runs of tiles that one transform batch can take (by columns), else single tiles.
      std::vector<int64_t> runs;
      for (int64_t t = t0; t < t0 + tn; ++t) {
        const bool extend = in_by_columns_ && !runs.empty() && t - runs.back() < z_.lanes && same_run(t - 1, t, true);
        if (!extend) runs.push_back(t);
      }
      runs.push_back(t0 + tn);
      const int64_t nruns = int64_t(runs.size()) - 1;
#pragma omp parallel num_threads(team(std::max(items, G * nruns)))
      {
        T* buf = local.get() + int64_t(omp_get_thread_num()) * per_thread;
        T* st = buf;
        T* spectra = buf + round_up(z_.staging, 64 / int64_t(sizeof(T)));
#pragma omp for schedule(dynamic, 1)
        for (int64_t gr = 0; gr < G * nruns; ++gr) {
          const int64_t g = gr / nruns, r = gr % nruns;
          Spectra<T> x = X(g);
          x.base = x.at(runs[r] - t0, 0);
          tile_spectra(g, runs[r], runs[r + 1] - runs[r], x, st);
        }
        // implicit barrier: every tile spectrum of the pass is ready
#pragma omp for schedule(dynamic, 1)
        for (int64_t item = 0; item < items; ++item) {
          const int64_t g = item / kblocks, k0 = item % kblocks * kb, kn = std::min(kb, Kg - k0);
          const Spectra<T> W{spectra, kb * C1 * line, C1 * line};
          const Spectra<T> Y{spectra + nb * kb * C1 * line, tb * kb * line, kb * line};
          kernel_spectra(g, k0, kn, W, st);
          const Spectra<T> Xg = X(g);
          const SpectraGemm<T> args{tn, kn, C1, Xg.base, Xg.block, Xg.row, W.base, W.block, W.row, Y.base, Y.block,
                                    Y.row};
          gemm_(args, 0, nb, 0, tn);
          output_tiles(g, k0, kn, t0, tn, Y, st);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Plan

}  // namespace

// The smallest transform must hold the (dilated, phase-split) kernel, and the FFT core takes at most 2^30 points.
bool conv2d_fft_supported(const Conv2dShape& s) {
  const Core core = make_core(s);
  constexpr int64_t kMax = int64_t(1) << 30;
  if (core.kr > kMax / 2 || core.ks > kMax / 2) return false;
  return int64_t(fft::next_fast_size(int(core.kr))) * int64_t(fft::next_fast_size(int(core.ks))) <= kMax;
}

namespace {

// The cost model's choice for a geometry (without workspace_bytes, which depends on the thread count).
Conv2dFftPlan choose_plan(const Conv2dShape& s, int64_t elem_bytes, const Conv2dFftForce& force) {
  const Core core = make_core(s);
  if (!conv2d_fft_supported(s)) {
    throw ArgumentError("conv2d: algo='fft' cannot transform the dilated kernel of the stride-1 problem, " +
                        detail::pair_str(core.kr, core.ks) + ": more than 2^30 points; use algo='direct'");
  }
  const int64_t io = s.N * s.C * s.H * s.W + s.N * s.K * s.P * s.Q + s.K * s.C_per_group() * s.R * s.S;
  const int64_t budget = force.budget_bytes > 0 ? force.budget_bytes : std::max(2 * io * elem_bytes, kMinBudgetBytes);
  std::vector<int64_t> hs = size_candidates(core.kr, s.P, false);
  std::vector<int64_t> ws = size_candidates(core.ks, s.Q, true);
  if (force.fft_h > 0) {
    if (force.fft_h < core.kr) {
      throw ArgumentError("conv2d fft: forced transform height " + std::to_string(force.fft_h) +
                          " is smaller than the kernel height " + std::to_string(core.kr));
    }
    hs = {force.fft_h};
  }
  if (force.fft_w > 0) {
    if (force.fft_w < core.ks) {
      throw ArgumentError("conv2d fft: forced transform width " + std::to_string(force.fft_w) +
                          " is smaller than the kernel width " + std::to_string(core.ks));
    }
    ws = {force.fft_w};
  }
  if (force.order < 0 || force.order > 2) throw ArgumentError("conv2d fft: forced order must be 0, 1 or 2");
  Conv2dFftPlan best;
  bool have = false;
  for (int64_t fh : hs) {
    for (int64_t fw : ws) {
      const Conv2dFftPlan p = plan_for_size(s, core, fh, fw, elem_bytes, budget, force.order);
      const bool fits = p.spectra_bytes <= budget, best_fits = have && best.spectra_bytes <= budget;
      if (!have || (fits && !best_fits) || (fits && p.cost < best.cost) ||
          (!fits && !best_fits && p.spectra_bytes < best.spectra_bytes)) {
        best = p;
        have = true;
      }
    }
  }
  return best;
}

}  // namespace

// Plans are cached per geometry (the search costs up to about a millisecond for large images); the cache is
// small and simply cleared when full.
Conv2dFftPlan plan_conv2d_fft(const Conv2dShape& s, int64_t elem_bytes, const Conv2dFftForce& force) {
  using Key = std::array<int64_t, 23>;
  const Key key{s.N, s.C, s.H, s.W, s.K, s.R, s.S, s.groups, s.stride_h, s.stride_w, s.pad_top, s.pad_bottom,
                s.pad_left, s.pad_right, s.dil_h, s.dil_w, s.P, s.Q, elem_bytes, force.fft_h, force.fft_w,
                force.order, force.budget_bytes};
  static std::mutex mutex;
  static std::map<Key, Conv2dFftPlan> cache;
  Conv2dFftPlan best;
  bool cached = false;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache.find(key);
    if (it != cache.end()) best = it->second, cached = true;
  }
  if (!cached) {
    best = choose_plan(s, elem_bytes, force);
    std::lock_guard<std::mutex> lock(mutex);
    if (cache.size() >= 256) cache.clear();
    cache.emplace(key, best);
  }
  const Core core = make_core(s);
  // What a call allocates with the current thread count: shared spectra, per-thread item spectra and
  // staging, and the FFT core's scratch.
  const Sizes z = sizes_of(core, best.fft_h, best.fft_w, elem_bytes);
  const Footprint f = footprint(s, core, z, best.kernels_first, best.tile_batch, best.k_block);
  const int64_t threads = num_threads();
  best.workspace_bytes = (f.shared + threads * f.per_thread) * elem_bytes +
                         threads * fft_scratch_bytes(best.fft_h, best.fft_w, elem_bytes);
  return best;
}

// ---------------------------------------------------------------------------------------------------------
// Run

template <typename T>
void conv2d_fft_with_plan(const Conv2dShape& s, const Conv2dFftPlan& plan, const T* x, const T* w, const T* bias,
                          T* y) {
  if (s.N == 0) return;
  FftConv<T>(s, plan, x, w, bias, y).run();
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
