// conv2d_fft_plan.cpp: how algo="fft" runs a geometry (see conv2d_fft.hpp): the stride-1 problem, the memory
// of a plan, the cost model, and the search over transform sizes, orders and item sizes, with its cache.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cnnkernels/checks.hpp"
#include "conv2d_fft.hpp"
#include "conv2d_fft_cgemm.hpp"
#include "fft.hpp"
#include "threads.hpp"

namespace ck {
namespace fft_conv {

using fft_conv_detail::kBlockBins;

namespace {
// Phases a in [0, stride) on which some dilated tap r * dil falls, in increasing order (at most `taps` of
// them, whatever the stride).
std::vector<int64_t> used_phases(int64_t taps, int64_t dil, int64_t stride) {
  std::vector<int64_t> list;
  for (int64_t r = 0; r < taps && r < stride; ++r) list.push_back((r * dil) % stride);  // r*dil mod stride repeats
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
  return list;
}
}  // namespace

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

bool fft_batches_lanes(int64_t fh, int64_t fw, int64_t elem_bytes) {
  const int64_t lanes = 32 / elem_bytes;
  return fh * (fw / 2 + 1) * 2 * lanes * elem_bytes <= int64_t(16) << 20;
}

Sizes sizes_of(const Core& core, int64_t fh, int64_t fw, int64_t elem_bytes) {
  Sizes z;
  const int64_t fb = 32 / elem_bytes, line = 64 / elem_bytes;
  z.lanes = 64 / elem_bytes;  // the widest kernels' lanes (fft_plan.hpp's kMaxLanes)
  z.bins = fh * (fw / 2 + 1);
  z.blocks = ceil_div(z.bins, fb);
  z.spec = z.blocks * 2 * fb;
  z.plane = round_up(z.blocks * fb, line);
  const int64_t kernels = round_up(core.channels * core.kr * core.ks, line);
  const int64_t windows = core.polyphase ? z.lanes * fh * fw : 0;
  z.staging = z.lanes * 2 * z.plane + kernels + windows;
  return z;
}

namespace {

// The FFT core's per-thread scratch for this size, kept by each thread after the call (after fft.cpp's
// make_plan_2d: sized for the widest kernels' lanes).
int64_t fft_scratch_bytes(int64_t h, int64_t w, int64_t elem_bytes) {
  const int64_t L = 64 / elem_bytes, wc = w / 2 + 1;
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
  // One tile for the whole output; for the width the next even size (an odd one is skipped below, and then
  // no candidate would reach one tile: a 128-wide kernel over 7 outputs got 7 tiles of 1 column).
  int64_t whole = fft::next_fast_size(int(std::min<int64_t>(out + kernel - 1, 1 << 24)));
  while (even && whole % 2 == 1 && whole < (1 << 24)) whole = fft::next_fast_size(int(whole + 1));
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

}  // namespace
}  // namespace fft_conv

using namespace fft_conv;

// ---------------------------------------------------------------------------------------------------------
// Plan

// The smallest transform must hold the (dilated, phase-split) kernel, and the FFT core takes at most 2^30 points.
bool conv2d_fft_supported(const Conv2dShape& s) {
  const Core core = make_core(s);
  constexpr int64_t kMax = int64_t(1) << 30;
  if (core.kr > kMax / 2 || core.ks > kMax / 2) return false;
  return int64_t(fft::next_fast_size(int(core.kr))) * int64_t(fft::next_fast_size(int(core.ks))) <= kMax;
}

namespace {

// The cost model's choice for a geometry (without workspace_bytes, which depends on the thread count).
Conv2dFftPlan choose_plan(const Conv2dShape& s, int64_t elem_bytes, const Conv2dFftForce& force,
                          int64_t min_budget_bytes) {
  const Core core = make_core(s);
  if (!conv2d_fft_supported(s)) {
    throw ArgumentError("conv2d: algo='fft' cannot transform the dilated kernel of the stride-1 problem, " +
                        detail::pair_str(core.kr, core.ks) + ": more than 2^30 points; use algo='direct'");
  }
  const int64_t io = s.N * s.C * s.H * s.W + s.N * s.K * s.P * s.Q + s.K * s.C_per_group() * s.R * s.S;
  const int64_t budget =
      force.budget_bytes > 0 ? force.budget_bytes : std::max(2 * io * elem_bytes, min_budget_bytes);
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
  // The cheapest plan within `bound`, or if none fits, the one that needs least memory.
  auto search = [&](int64_t bound) {
    Conv2dFftPlan best;
    bool have = false;
    for (int64_t fh : hs) {
      for (int64_t fw : ws) {
        const Conv2dFftPlan p = plan_for_size(s, core, fh, fw, elem_bytes, bound, force.order);
        const bool fits = p.spectra_bytes <= bound, best_fits = have && best.spectra_bytes <= bound;
        if (!have || (fits && !best_fits) || (fits && p.cost < best.cost) ||
            (!fits && !best_fits && p.spectra_bytes < best.spectra_bytes)) {
          best = p;
          have = true;
        }
      }
    }
    return best;
  };
  const Conv2dFftPlan least = search(budget);
  // Where nothing fits the cost model's own bound, the least memory alone is no plan: the FFT core's
  // per-thread buffers can outgrow the bound at every size, and the smallest transforms then win with tiles
  // of one pixel (the weight gradient of a 7x7 layer on 256 x 256 images: 25088 transforms, 3.3 s against
  // 0.17 s). So the cheapest within twice that least memory. An imposed budget stays as imposed.
  if (least.spectra_bytes <= budget || force.budget_bytes > 0) return least;
  return search(2 * least.spectra_bytes);
}

}  // namespace

// Plans are cached per geometry (the search costs up to about a millisecond for large images); the cache is
// small and simply cleared when full.
Conv2dFftPlan plan_conv2d_fft(const Conv2dShape& s, int64_t elem_bytes, const Conv2dFftForce& force,
                              int64_t min_budget_bytes) {
  using Key = std::array<int64_t, 24>;
  const Key key{s.N, s.C, s.H, s.W, s.K, s.R, s.S, s.groups, s.stride_h, s.stride_w, s.pad_top, s.pad_bottom,
                s.pad_left, s.pad_right, s.dil_h, s.dil_w, s.P, s.Q, elem_bytes, force.fft_h, force.fft_w,
                force.order, force.budget_bytes, min_budget_bytes};
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
    best = choose_plan(s, elem_bytes, force, min_budget_bytes);
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

}  // namespace ck
