// conv2d_fft_cgemm_kernel.hpp: the pointwise complex GEMM of FFT convolution (see conv2d_fft_cgemm.hpp),
// written once with GCC vector types of CK_CGEMM_VBYTES bytes and compiled once per ISA.
//
// conv2d_fft_cgemm_scalar.cpp (16-byte vectors, SSE2) and conv2d_fft_cgemm_avx2.cpp (32-byte vectors,
// AVX2 + FMA) each include it inside their own anonymous namespace, so the two compilations can never be
// merged by the linker (isa_dispatch.hpp). Include no headers here.
//
// Register blocking: a micro-tile of 2 output channels x 2 tiles x one vector of bins holds 8 accumulators
// (re and im of 4 products); per input channel it loads the 2 kernel and 2 tile vectors of each plane
// (8 loads, from 4 consecutive-channel streams) and issues 16 multiply-adds. With 32-byte vectors that is
// all 16 ymm registers. A bin block is one vector per plane with AVX2 and two with SSE2 (kSteps).
//
// Cache blocking: within one bin block the loops run over kChanBlock input channels at a time; a pair of
// kernel rows (2 x kChanBlock x 64 bytes) stays in L1 while every pair of tiles goes by. Channel blocks
// after the first add to Y, so the sum over c is always taken in the same order: a result does not depend
// on how the caller splits tiles or bins among threads.

#pragma once

template <typename T>
struct Bins {
  typedef T V __attribute__((vector_size(CK_CGEMM_VBYTES)));
  static constexpr int64_t n = CK_CGEMM_VBYTES / int64_t(sizeof(T));
  static V load(const T* p) {
    V v;
    __builtin_memcpy(&v, p, sizeof(V));
    return v;
  }
  static void store(T* p, V v) { __builtin_memcpy(p, &v, sizeof(V)); }
};

constexpr int64_t kChanBlock = 64;

// Y(t + j, k + i) over the bins [f, f + vector) of a block, for i < KB, j < TB, summed over the channels
// [c0, c1); adds to Y when `add`. x, w, y point at the block of X(t, c0), W(k, c0), Y(t, k), offset by f.
template <typename T, int KB, int TB>
inline void micro_tile(const T* x, int64_t x_tile, const T* w, int64_t w_out, T* y, int64_t y_tile, int64_t nc,
                       bool add) {
  using B = Bins<T>;
  using V = typename B::V;
  constexpr int64_t im = kBlockBins<T>, line = 2 * kBlockBins<T>;
  V acc_re[KB][TB], acc_im[KB][TB];
  for (int i = 0; i < KB; ++i) {
    for (int j = 0; j < TB; ++j) {
      T* yp = y + j * y_tile + i * line;
      acc_re[i][j] = add ? B::load(yp) : V{};
      acc_im[i][j] = add ? B::load(yp + im) : V{};
    }
  }
  for (int64_t c = 0; c < nc; ++c) {
    V wr[KB], wi[KB], xr[TB], xi[TB];
    for (int i = 0; i < KB; ++i) {
      wr[i] = B::load(w + i * w_out + c * line);
      wi[i] = B::load(w + i * w_out + c * line + im);
    }
    for (int j = 0; j < TB; ++j) {
      xr[j] = B::load(x + j * x_tile + c * line);
      xi[j] = B::load(x + j * x_tile + c * line + im);
    }
    // (xr + i xi) * conj(wr + i wi) = (xr wr + xi wi) + i (xi wr - xr wi)
    for (int i = 0; i < KB; ++i) {
      for (int j = 0; j < TB; ++j) {
        acc_re[i][j] += xr[j] * wr[i];
        acc_re[i][j] += xi[j] * wi[i];
        acc_im[i][j] += xi[j] * wr[i];
        acc_im[i][j] -= xr[j] * wi[i];
      }
    }
  }
  for (int i = 0; i < KB; ++i) {
    for (int j = 0; j < TB; ++j) {
      T* yp = y + j * y_tile + i * line;
      B::store(yp, acc_re[i][j]);
      B::store(yp + im, acc_im[i][j]);
    }
  }
}

// The micro-tile over a whole bin block (kSteps vectors).
template <typename T, int KB, int TB>
inline void micro_block(const SpectraGemm<T>& g, const T* x, const T* w, T* y, int64_t nc, bool add) {
  constexpr int64_t kSteps = kBlockBins<T> / Bins<T>::n;
  for (int64_t f = 0; f < kSteps * Bins<T>::n; f += Bins<T>::n) {
    micro_tile<T, KB, TB>(x + f, g.x_tile, w + f, g.w_out, y + f, g.y_tile, nc, add);
  }
}

// Streams the cache lines of [begin, end) into L2, `per_call` lines per call: the next bin block's spectra,
// fetched while the current one is computed (the hardware prefetchers do not cross from one block's scattered
// streams to the next, and a work item's spectra are megabytes: L3 or memory).
struct Prefetcher {
  const char* next;
  const char* end;
  int64_t per_call;
  void step() {
    for (int64_t i = 0; i < per_call && next < end; ++i, next += 64) __builtin_prefetch(next, 0, 2);
  }
};

template <typename T>
void spectra_gemm(const SpectraGemm<T>& g, int64_t b0, int64_t b1, int64_t t0, int64_t t1) {
  constexpr int64_t line = 2 * kBlockBins<T>;
  const int64_t calls = ((g.cin + kChanBlock - 1) / kChanBlock) * ((g.kout + 1) / 2) * ((t1 - t0 + 1) / 2);
  const int64_t lines = ((t1 - t0) + g.kout) * g.cin;  // per block: X(t0 .. t1, every c), W(every k and c)
  for (int64_t b = b0; b < b1; ++b) {
    // The next block's tiles, then its kernels (each a contiguous range).
    Prefetcher px{nullptr, nullptr, 0}, pw{nullptr, nullptr, 0};
    if (b + 1 < b1) {
      const T* xn = g.x + (b + 1) * g.x_block + t0 * g.x_tile;
      const T* wn = g.w + (b + 1) * g.w_block;
      const int64_t per_call = (lines + calls - 1) / calls;
      px = {reinterpret_cast<const char*>(xn), reinterpret_cast<const char*>(xn + (t1 - t0) * g.x_tile), per_call};
      pw = {reinterpret_cast<const char*>(wn), reinterpret_cast<const char*>(wn + g.kout * g.w_out), per_call};
    }
    auto prefetch = [&] {
      if (px.next < px.end) {
        px.step();
      } else {
        pw.step();
      }
    };
    for (int64_t c0 = 0; c0 < g.cin; c0 += kChanBlock) {
      const int64_t nc = g.cin - c0 < kChanBlock ? g.cin - c0 : kChanBlock;
      const bool add = c0 > 0;
      const T* xb = g.x + b * g.x_block + c0 * line;
      const T* wb = g.w + b * g.w_block + c0 * line;
      T* yb = g.y + b * g.y_block;
      int64_t k = 0;
      for (; k + 2 <= g.kout; k += 2) {
        const T* w = wb + k * g.w_out;
        int64_t t = t0;
        for (; t + 2 <= t1; t += 2) {
          prefetch();
          micro_block<T, 2, 2>(g, xb + t * g.x_tile, w, yb + t * g.y_tile + k * line, nc, add);
        }
        if (t < t1) micro_block<T, 2, 1>(g, xb + t * g.x_tile, w, yb + t * g.y_tile + k * line, nc, add);
      }
      if (k < g.kout) {
        const T* w = wb + k * g.w_out;
        int64_t t = t0;
        for (; t + 2 <= t1; t += 2) {
          prefetch();
          micro_block<T, 1, 2>(g, xb + t * g.x_tile, w, yb + t * g.y_tile + k * line, nc, add);
        }
        if (t < t1) micro_block<T, 1, 1>(g, xb + t * g.x_tile, w, yb + t * g.y_tile + k * line, nc, add);
      }
    }
  }
}

// This ISA's table (conv2d_fft_cgemm.hpp), handed out by the including file.
const SpectraGemmKernels kSpectraGemmTable = {&spectra_gemm<float>, &spectra_gemm<double>};
