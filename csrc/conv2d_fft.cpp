// conv2d_fft.cpp: the FFT convolution kernel on the CPU (algo="fft"), run from a plan of conv2d_fft_plan.cpp;
// the algorithm is described in conv2d_fft.hpp.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#include "isa_dispatch.hpp"
#include "fft.hpp"
#include "conv2d_fft.hpp"
#include "threads.hpp"
#include "conv2d_fft_cgemm.hpp"
#include "workspace.hpp"

namespace ck {
namespace {

using namespace fft_conv;
using fft_conv_detail::kBlockBins;
using fft_conv_detail::SpectraGemm;
using fft_conv_detail::SpectraGemmFn;

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

// Batches of n transforms fill the lanes well enough for the FFT core's tile-lane strategy.
bool fills_lanes(int64_t n, int64_t elem_bytes) { return 4 * n >= 3 * (32 / elem_bytes); }

// ---------------------------------------------------------------------------------------------------------
// The active ISA's pointwise kernel (isa_dispatch.hpp)

template <typename T>
SpectraGemmFn<T> spectra_gemm_kernel() {
  using fft_conv_detail::SpectraGemmKernels;
  const SpectraGemmKernels& k = isa_table<SpectraGemmKernels>(
      {fft_conv_detail::spectra_gemm_kernels_scalar(), fft_conv_detail::spectra_gemm_kernels_avx2(),
       fft_conv_detail::spectra_gemm_kernels_avx512()});
  if constexpr (sizeof(T) == 4) {
    return k.f32;
  } else {
    return k.f64;
  }
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
          inside_range(q0 * s.stride_w + bw - s.pad_left, s.stride_w, s.W, cols, &lo, &hi);
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
  Workspace<T> shared(G * nb * shared_rows * C1 * line);
  const int64_t item_spectra = pl_.kernels_first ? tb * (C1 + kb) : kb * (C1 + tb);
  const int64_t per_thread = round_up(z_.staging, 64 / int64_t(sizeof(T))) + item_spectra * z_.spec;
  Workspace<T> local(int64_t(nthreads) * per_thread);
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

}  // namespace

namespace cpu {

template <typename T>
void conv2d_fft(const Conv2dShape& s, const Conv2dFftPlan& plan, const T* x, const T* w, const T* bias, T* y) {
  if (s.N == 0) return;
  FftConv<T>(s, plan, x, w, bias, y).run();
}

template void conv2d_fft<float>(const Conv2dShape&, const Conv2dFftPlan&, const float*, const float*, const float*,
                                float*);
template void conv2d_fft<double>(const Conv2dShape&, const Conv2dFftPlan&, const double*, const double*,
                                 const double*, double*);

}  // namespace cpu
}  // namespace ck
