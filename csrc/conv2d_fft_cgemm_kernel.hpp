// conv2d_fft_cgemm_kernel.hpp: the pointwise complex GEMM of FFT convolution (see conv2d_fft_cgemm.hpp),
// written once with GCC vector types of CK_CGEMM_VBYTES bytes and compiled once per ISA.
//
// conv2d_fft_cgemm_scalar.cpp (16-byte vectors, SSE2), conv2d_fft_cgemm_avx2.cpp (32-byte vectors, AVX2 +
// FMA) and conv2d_fft_cgemm_avx512.cpp (64-byte vectors, AVX-512) each include it inside their own anonymous
// namespace, so the compilations can never be merged by the linker (isa_dispatch.hpp). Include no headers
// here.
//
// Register blocking: a micro-tile of kTileK output channels x kTileT tiles x one vector of bins, summed over
// the input channels in registers. Two forms, by the vector width:
//   - planar (16- and 32-byte vectors; a vector holds bins of one plane): 2 x 2 micro-tile, 8 accumulators
//     (re and im of 4 products); per input channel 8 loads (the re and im vectors of 2 kernels and 2 tiles)
//     and 16 multiply-adds. With 32-byte vectors that is all 16 ymm registers. A bin block is one vector per
//     plane with AVX2 and two with SSE2 (kSteps).
//   - line (64-byte vectors: one vector is a block's whole 64-byte line, re | im): per kernel k and tile t
//     two accumulators, A = sum_c [xr | xr] · [wr | wi] and B = sum_c [xi | xi] · [wr | wi] (the tile's
//     planes broadcast to both halves, the kernel line as loaded), so the loop has no shuffles; at the end
//     re = A_lo + B_hi = sum xr wr + xi wi and im = B_lo - A_hi = sum xi wr - xr wi. 4 x 3 micro-tile: 24
//     accumulators, 4 kernel lines and 2 tile broadcasts in registers (30 of the 32 zmm); per input channel
//     4 + 6 loads and 24 multiply-adds.
//
// Cache blocking: within one bin block the loops run over kChanBlock input channels at a time; kTileK
// kernel rows (kTileK x kChanBlock x 64 bytes) stay in L1 while every group of tiles goes by. Channel blocks
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
  // Line vectors (64 bytes): the n/2 values at p in both halves (one broadcast load).
  static V load_twice(const T* p) {
#if defined(__AVX512F__) && defined(__AVX512DQ__)
    // GCC makes the generic form below a load and a shuffle (port 5, shared with an FMA unit); the
    // intrinsics give a broadcast from memory (a load port only). The all-lanes mask form, because GCC 12
    // warns of an uninitialised value inside the unmasked one. immintrin.h comes from the including file.
    if constexpr (sizeof(T) == 4) {
      return _mm512_maskz_broadcast_f32x8(__mmask16(-1), _mm256_loadu_ps(p));
    } else {
      return _mm512_maskz_broadcast_f64x4(__mmask8(-1), _mm256_loadu_pd(p));
    }
#endif
    typedef T H __attribute__((vector_size(CK_CGEMM_VBYTES / 2)));
    H h;
    __builtin_memcpy(&h, p, sizeof(H));
    static_assert(n == 8 || n == 16, "line vectors are 64 bytes");
    if constexpr (n == 16) {
      return __builtin_shufflevector(h, h, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7);
    } else {
      return __builtin_shufflevector(h, h, 0, 1, 2, 3, 0, 1, 2, 3);
    }
  }
};

// The integer of a lane's width (shuffle masks).
template <int64_t Bytes>
struct LaneInt;
template <>
struct LaneInt<4> {
  typedef int32_t type;
};
template <>
struct LaneInt<8> {
  typedef int64_t type;
};

// Whether a vector is a whole line of a block (re | im) rather than bins of one plane.
template <typename T>
constexpr bool kLineVectors = Bins<T>::n == 2 * kBlockBins<T>;

// The micro-tile: output channels x tiles.
template <typename T>
constexpr int kTileK = kLineVectors<T> ? 4 : 2;
template <typename T>
constexpr int kTileT = kLineVectors<T> ? 3 : 2;

constexpr int64_t kChanBlock = 64;

// Y(t + j, k + i) over the bins [f, f + vector) of a block, for i < KB, j < TB, summed over the channels
// [c0, c1); adds to Y when `add`. x, w, y point at the block of X(t, c0), W(k, c0), Y(t, k), offset by f.
// Planar vectors.
template <typename T, int KB, int TB>
inline void micro_tile_planar(const T* x, int64_t x_tile, const T* w, int64_t w_out, T* y, int64_t y_tile,
                              int64_t nc, bool add) {
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

// The same with line vectors (the whole block, f = 0). Y(t, k) = (Y +) (sum over c of this channel block).
template <typename T, int KB, int TB>
inline void micro_tile_line(const T* x, int64_t x_tile, const T* w, int64_t w_out, T* y, int64_t y_tile,
                            int64_t nc, bool add) {
  using B = Bins<T>;
  using V = typename B::V;
  constexpr int64_t im = kBlockBins<T>, line = 2 * kBlockBins<T>, half = B::n / 2;
  V acc_a[KB][TB], acc_b[KB][TB];
  for (int i = 0; i < KB; ++i) {
    for (int j = 0; j < TB; ++j) acc_a[i][j] = acc_b[i][j] = V{};
  }
  for (int64_t c = 0; c < nc; ++c) {
    V wl[KB];
    for (int i = 0; i < KB; ++i) wl[i] = B::load(w + i * w_out + c * line);
    for (int j = 0; j < TB; ++j) {
      const V xr = B::load_twice(x + j * x_tile + c * line);
      const V xi = B::load_twice(x + j * x_tile + c * line + im);
      for (int i = 0; i < KB; ++i) {
        acc_a[i][j] += xr * wl[i];  // [xr wr | xr wi]
        acc_b[i][j] += xi * wl[i];  // [xi wr | xi wi]
      }
    }
  }
  // re = A_lo + B_hi, im = B_lo - A_hi: swap B's halves, add A with its upper half negated.
  typedef typename LaneInt<sizeof(T)>::type I;
  typedef I M __attribute__((vector_size(CK_CGEMM_VBYTES)));
  M swap;
  V sign;
  for (int l = 0; l < B::n; ++l) {
    swap[l] = I(l ^ half);
    sign[l] = l < half ? T(1) : T(-1);
  }
  for (int i = 0; i < KB; ++i) {
    for (int j = 0; j < TB; ++j) {
      T* yp = y + j * y_tile + i * line;
      V r = __builtin_shuffle(acc_b[i][j], swap) + acc_a[i][j] * sign;
      if (add) r = B::load(yp) + r;
      B::store(yp, r);
    }
  }
}

// The micro-tile over a whole bin block (kSteps vectors).
template <typename T, int KB, int TB>
inline void micro_block(const SpectraGemm<T>& g, const T* x, const T* w, T* y, int64_t nc, bool add) {
  if constexpr (kLineVectors<T>) {
    micro_tile_line<T, KB, TB>(x, g.x_tile, w, g.w_out, y, g.y_tile, nc, add);
  } else {
    constexpr int64_t kSteps = kBlockBins<T> / Bins<T>::n;
    for (int64_t f = 0; f < kSteps * Bins<T>::n; f += Bins<T>::n) {
      micro_tile_planar<T, KB, TB>(x + f, g.x_tile, w + f, g.w_out, y + f, g.y_tile, nc, add);
    }
  }
}

// A micro-tile of kb <= kTileK output channels x tb <= kTileT tiles (the edges).
template <typename T, int KB = kTileK<T>>
inline void micro_block_edge(int64_t kb, int64_t tb, const SpectraGemm<T>& g, const T* x, const T* w, T* y,
                             int64_t nc, bool add) {
  if constexpr (KB > 0) {
    if (kb < KB) return micro_block_edge<T, KB - 1>(kb, tb, g, x, w, y, nc, add);
    static_assert(kTileT<T> <= 3, "edge tiles up to 3");
    if (tb == 1) return micro_block<T, KB, 1>(g, x, w, y, nc, add);
    if constexpr (kTileT<T> >= 2) {
      if (tb == 2) return micro_block<T, KB, 2>(g, x, w, y, nc, add);
    }
    if constexpr (kTileT<T> >= 3) {
      if (tb == 3) return micro_block<T, KB, 3>(g, x, w, y, nc, add);
    }
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
  constexpr int KB = kTileK<T>, TB = kTileT<T>;
  const int64_t calls = ((g.cin + kChanBlock - 1) / kChanBlock) * ((g.kout + KB - 1) / KB) *
                        ((t1 - t0 + TB - 1) / TB);
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
      for (int64_t k = 0; k < g.kout; k += KB) {
        const int64_t kb = g.kout - k < KB ? g.kout - k : KB;
        const T* w = wb + k * g.w_out;
        for (int64_t t = t0; t < t1; t += TB) {
          const int64_t tb = t1 - t < TB ? t1 - t : TB;
          prefetch();
          T* y = yb + t * g.y_tile + k * line;
          if (kb == KB && tb == TB) {
            micro_block<T, KB, TB>(g, xb + t * g.x_tile, w, y, nc, add);
          } else {
            micro_block_edge<T>(kb, tb, g, xb + t * g.x_tile, w, y, nc, add);
          }
        }
      }
    }
  }
}

// This ISA's table (conv2d_fft_cgemm.hpp), handed out by the including file.
const SpectraGemmKernels kSpectraGemmTable = {&spectra_gemm<float>, &spectra_gemm<double>};
