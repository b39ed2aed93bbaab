// conv2d_fft_cgemm_kernel.hpp: the pointwise complex GEMM of FFT convolution (see conv2d_fft_cgemm.hpp),
// written once with GCC vector types of CK_CGEMM_VBYTES bytes and compiled once per ISA.
//
// No include guard on purpose: conv2d_fft_cgemm_scalar.cpp (16-byte vectors, SSE2) and
// conv2d_fft_cgemm_avx2.cpp (32-byte vectors, AVX2 + FMA) each include it inside their own anonymous
// namespace, so the two compilations can never be merged by the linker. Include no headers here.
//
// Register blocking: a micro-tile of 2 output channels x 2 tiles x one vector of bins holds 8 accumulators
// (re and im of 4 products); per input channel it loads the 2 kernel and 2 tile spectra (8 vectors) and
// issues 16 multiply-adds. With 32-byte vectors that is all 16 ymm registers, and on AVX2 the 16 FMAs
// outnumber the 8 loads, so the loop runs at the FMA rate as long as its data is in L1.
//
// Cache blocking: the loops run over blocks of kChanBlock input channels; inside a block, a pair of kernel
// spectra (2 x kChanBlock x the bins of one call) stays in L1 while every pair of tiles goes by. Blocks
// after the first add to Y, so the sum over c is always taken in the same order: a result does not depend
// on how the caller splits tiles or bins among threads.

template <typename T>
struct Bins {
  typedef T V __attribute__((vector_size(CK_CGEMM_VBYTES)));
  static constexpr int n = CK_CGEMM_VBYTES / int(sizeof(T));
  static V load(const T* p) {
    V v;
    __builtin_memcpy(&v, p, sizeof(V));
    return v;
  }
  static void store(T* p, V v) { __builtin_memcpy(p, &v, sizeof(V)); }
};

constexpr int64_t kChanBlock = 32;

// Y(t + j, k + i)[f .. f + n) for i < KB, j < TB, summed over channels [c0, c1); adds to Y when `add`.
template <typename T, int KB, int TB>
inline void micro_tile(const SpectraGemm<T>& g, int64_t k, int64_t t, int64_t f, int64_t c0, int64_t c1,
                       bool add) {
  using B = Bins<T>;
  using V = typename B::V;
  const int64_t im = g.im;
  const T* xp[TB];
  const T* wp[KB];
  T* yp[KB][TB];
  for (int j = 0; j < TB; ++j) xp[j] = g.x + (t + j) * g.x_tile + c0 * g.x_chan + f;
  for (int i = 0; i < KB; ++i) wp[i] = g.w + (k + i) * g.w_out + c0 * g.w_chan + f;
  for (int i = 0; i < KB; ++i)
    for (int j = 0; j < TB; ++j) yp[i][j] = g.y + (t + j) * g.y_tile + (k + i) * g.y_out + f;

  V acc_re[KB][TB], acc_im[KB][TB];
  for (int i = 0; i < KB; ++i) {
    for (int j = 0; j < TB; ++j) {
      if (add) {
        acc_re[i][j] = B::load(yp[i][j]);
        acc_im[i][j] = B::load(yp[i][j] + im);
      } else {
        acc_re[i][j] = V{};
        acc_im[i][j] = V{};
      }
    }
  }
  for (int64_t c = c0; c < c1; ++c) {
    V wr[KB], wi[KB], xr[TB], xi[TB];
    for (int i = 0; i < KB; ++i) {
      wr[i] = B::load(wp[i]);
      wi[i] = B::load(wp[i] + im);
      wp[i] += g.w_chan;
    }
    for (int j = 0; j < TB; ++j) {
      xr[j] = B::load(xp[j]);
      xi[j] = B::load(xp[j] + im);
      xp[j] += g.x_chan;
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
      B::store(yp[i][j], acc_re[i][j]);
      B::store(yp[i][j] + im, acc_im[i][j]);
    }
  }
}

template <typename T, int KB, int TB>
inline void micro_row(const SpectraGemm<T>& g, int64_t k, int64_t t, int64_t f0, int64_t f1, int64_t c0,
                      int64_t c1, bool add) {
  for (int64_t f = f0; f < f1; f += Bins<T>::n) micro_tile<T, KB, TB>(g, k, t, f, c0, c1, add);
}

template <typename T>
void spectra_gemm(const SpectraGemm<T>& g, int64_t f0, int64_t f1, int64_t t0, int64_t t1) {
  for (int64_t c0 = 0; c0 < g.cin; c0 += kChanBlock) {
    const int64_t c1 = g.cin - c0 < kChanBlock ? g.cin : c0 + kChanBlock;
    const bool add = c0 > 0;
    int64_t k = 0;
    for (; k + 2 <= g.kout; k += 2) {
      int64_t t = t0;
      for (; t + 2 <= t1; t += 2) micro_row<T, 2, 2>(g, k, t, f0, f1, c0, c1, add);
      if (t < t1) micro_row<T, 2, 1>(g, k, t, f0, f1, c0, c1, add);
    }
    if (k < g.kout) {
      int64_t t = t0;
      for (; t + 2 <= t1; t += 2) micro_row<T, 1, 2>(g, k, t, f0, f1, c0, c1, add);
      if (t < t1) micro_row<T, 1, 1>(g, k, t, f0, f1, c0, c1, add);
    }
  }
}
