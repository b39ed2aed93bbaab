// fft_kernels.hpp - internal: everything of the FFT core that depends on the instruction set:
// lane-vectorised 1-D complex and real transforms, block transposes, and the two batched 2-D
// strategies (tile lanes, row/column lanes), ending in rfft2_batch / irfft2_batch.
//
// Compiled once per instruction set (isa_dispatch.hpp): fft_scalar.cpp (generic flags),
// fft_avx2.cpp (-mavx2 -mfma, where __AVX2__ enables a few AVX intrinsics below) and
// fft_avx512.cpp (AVX-512 flags; __AVX512F__ enables the 64-byte transposes) include it inside
// namespace ck::fft::detail and an anonymous namespace of their own, with CK_FFT_VBYTES the
// vector width in bytes (32 for scalar and AVX2, 64 for AVX-512), so the same plain C++ is
// compiled once per ISA and the fastest copy is picked at run time. Plan1D, Plan2D, Stage,
// Lanes and CK_RESTRICT come from fft_plan.hpp; include no standard headers here.
//
// Shapes (all per 2-D transform): tile h x w real, spectrum h x wc complex (wc = w/2 + 1),
// L lanes per vector (CK_FFT_VBYTES / sizeof(T) for the batches; a partial batch of 64-byte
// lanes may use the 32-byte ones). Buffer layouts used below:
//   lane sequence     element j, lane l at re[j * stride + l], im[j * stride + l]
//   split per element re at j * 2L + l, im at j * 2L + L + l (a lane sequence, stride 2L)
//   real lane row     x[j * L + l]

#pragma once

#include "fft_radix.hpp"

// ----------------------------------------------------------------------------
// Transposes (the compiler turns the fixed-size block into vector loads and shuffles)

#if defined(__AVX2__)
// AVX versions of the L x L block transpose below: GCC's own vectorisation of the plain loop
// is good for SSE but fragile for AVX (for double it can be 5x slower), so spell it out.
static inline void transpose_block_avx(const float* src, std::ptrdiff_t ss, float* dst,
                                       std::ptrdiff_t ds) {
    __m256 r[8], t[8], u[8];
    for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(src + j * ss);
    for (int j = 0; j < 8; j += 2) {
        t[j] = _mm256_unpacklo_ps(r[j], r[j + 1]);
        t[j + 1] = _mm256_unpackhi_ps(r[j], r[j + 1]);
    }
    for (int j = 0; j < 8; j += 4) {
        u[j] = _mm256_shuffle_ps(t[j], t[j + 2], 0x44);
        u[j + 1] = _mm256_shuffle_ps(t[j], t[j + 2], 0xEE);
        u[j + 2] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0x44);
        u[j + 3] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0xEE);
    }
    for (int i = 0; i < 4; ++i) {
        _mm256_storeu_ps(dst + i * ds, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
        _mm256_storeu_ps(dst + (i + 4) * ds, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
    }
}
static inline void transpose_block_avx(const double* src, std::ptrdiff_t ss, double* dst,
                                       std::ptrdiff_t ds) {
    const __m256d r0 = _mm256_loadu_pd(src), r1 = _mm256_loadu_pd(src + ss);
    const __m256d r2 = _mm256_loadu_pd(src + 2 * ss), r3 = _mm256_loadu_pd(src + 3 * ss);
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
    const __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(dst, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(dst + ds, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(dst + 2 * ds, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(dst + 3 * ds, _mm256_permute2f128_pd(t1, t3, 0x31));
}
#endif

#if defined(__AVX512F__)
// AVX-512 versions of the L x L block transpose (16 x 16 float, 8 x 8 double): pairs of rows
// interleaved within 128-bit lanes, then the 128-bit lanes of four registers regrouped twice.
// The all-lanes mask forms, because GCC 12 warns of an uninitialised value inside the plain ones
// (the same instructions).
static inline void transpose_block_avx512(const float* src, std::ptrdiff_t ss, float* dst,
                                          std::ptrdiff_t ds) {
    const __mmask16 k16 = __mmask16(-1);
    __m512 r[16], t[16], u[16];
    for (int j = 0; j < 16; ++j) r[j] = _mm512_loadu_ps(src + j * ss);
    for (int j = 0; j < 16; j += 2) {
        t[j] = _mm512_maskz_unpacklo_ps(k16, r[j], r[j + 1]);
        t[j + 1] = _mm512_maskz_unpackhi_ps(k16, r[j], r[j + 1]);
    }
    // u[4i + c], 128-bit lane k: rows 4i .. 4i + 3 of column 4k + c
    for (int j = 0; j < 16; j += 4) {
        u[j] = _mm512_maskz_shuffle_ps(k16, t[j], t[j + 2], 0x44);
        u[j + 1] = _mm512_maskz_shuffle_ps(k16, t[j], t[j + 2], 0xEE);
        u[j + 2] = _mm512_maskz_shuffle_ps(k16, t[j + 1], t[j + 3], 0x44);
        u[j + 3] = _mm512_maskz_shuffle_ps(k16, t[j + 1], t[j + 3], 0xEE);
    }
    for (int c = 0; c < 4; ++c) {
        const __m512 v0 = _mm512_maskz_shuffle_f32x4(k16, u[c], u[4 + c], 0x88);   // lanes 0, 2 of rows 0-7
        const __m512 v1 = _mm512_maskz_shuffle_f32x4(k16, u[c], u[4 + c], 0xDD);   // lanes 1, 3
        const __m512 w0 = _mm512_maskz_shuffle_f32x4(k16, u[8 + c], u[12 + c], 0x88);
        const __m512 w1 = _mm512_maskz_shuffle_f32x4(k16, u[8 + c], u[12 + c], 0xDD);
        _mm512_storeu_ps(dst + c * ds, _mm512_maskz_shuffle_f32x4(k16, v0, w0, 0x88));
        _mm512_storeu_ps(dst + (4 + c) * ds, _mm512_maskz_shuffle_f32x4(k16, v1, w1, 0x88));
        _mm512_storeu_ps(dst + (8 + c) * ds, _mm512_maskz_shuffle_f32x4(k16, v0, w0, 0xDD));
        _mm512_storeu_ps(dst + (12 + c) * ds, _mm512_maskz_shuffle_f32x4(k16, v1, w1, 0xDD));
    }
}
static inline void transpose_block_avx512(const double* src, std::ptrdiff_t ss, double* dst,
                                          std::ptrdiff_t ds) {
    const __mmask8 k8 = __mmask8(-1);
    __m512d r[8], t[8];
    for (int j = 0; j < 8; ++j) r[j] = _mm512_loadu_pd(src + j * ss);
    // t[2i + c], 128-bit lane k: rows 2i, 2i + 1 of column 2k + c
    for (int j = 0; j < 8; j += 2) {
        t[j] = _mm512_maskz_unpacklo_pd(k8, r[j], r[j + 1]);
        t[j + 1] = _mm512_maskz_unpackhi_pd(k8, r[j], r[j + 1]);
    }
    for (int c = 0; c < 2; ++c) {
        const __m512d v0 = _mm512_maskz_shuffle_f64x2(k8, t[c], t[2 + c], 0x88);
        const __m512d v1 = _mm512_maskz_shuffle_f64x2(k8, t[c], t[2 + c], 0xDD);
        const __m512d w0 = _mm512_maskz_shuffle_f64x2(k8, t[4 + c], t[6 + c], 0x88);
        const __m512d w1 = _mm512_maskz_shuffle_f64x2(k8, t[4 + c], t[6 + c], 0xDD);
        _mm512_storeu_pd(dst + c * ds, _mm512_maskz_shuffle_f64x2(k8, v0, w0, 0x88));
        _mm512_storeu_pd(dst + (2 + c) * ds, _mm512_maskz_shuffle_f64x2(k8, v1, w1, 0x88));
        _mm512_storeu_pd(dst + (4 + c) * ds, _mm512_maskz_shuffle_f64x2(k8, v0, w0, 0xDD));
        _mm512_storeu_pd(dst + (6 + c) * ds, _mm512_maskz_shuffle_f64x2(k8, v1, w1, 0xDD));
    }
}
#endif

// dst[i * ds + j] = src[j * ss + i] for i, j in [0, L).
template <typename T, int L>
static inline void transpose_block(const T* CK_RESTRICT src, std::ptrdiff_t ss,
                                   T* CK_RESTRICT dst, std::ptrdiff_t ds) {
#if defined(__AVX2__)
    if constexpr (L * sizeof(T) == 32) {
        transpose_block_avx(src, ss, dst, ds);
        return;
    }
#endif
#if defined(__AVX512F__)
    if constexpr (L * sizeof(T) == 64) {
        transpose_block_avx512(src, ss, dst, ds);
        return;
    }
#endif
    T t[L * L];
    for (int i = 0; i < L; ++i)
        for (int j = 0; j < L; ++j) t[i * L + j] = src[j * ss + i];
    for (int i = 0; i < L; ++i)
        for (int j = 0; j < L; ++j) dst[i * ds + j] = t[i * L + j];
}

// dst[i * ds + j] = src[j * ss + i] for i in [0, ni), j in [0, nj).
template <typename T, int L>
static void transpose(int ni, int nj, const T* CK_RESTRICT src, std::ptrdiff_t ss,
                      T* CK_RESTRICT dst, std::ptrdiff_t ds) {
    int j0 = 0;
    for (; j0 + L <= nj; j0 += L) {
        int i0 = 0;
        for (; i0 + L <= ni; i0 += L)
            transpose_block<T, L>(src + j0 * ss + i0, ss, dst + i0 * ds + j0, ds);
        for (int i = i0; i < ni; ++i)
            for (int j = j0; j < j0 + L; ++j) dst[i * ds + j] = src[j * ss + i];
    }
    for (int i = 0; i < ni; ++i)
        for (int j = j0; j < nj; ++j) dst[i * ds + j] = src[j * ss + i];
}

// dst[i * ds + j] (+)= scale * src[j * ss + i] for i in [0, ni), j in [0, nj).
template <typename T, int L>
static void transpose_scale(int ni, int nj, const T* CK_RESTRICT src, std::ptrdiff_t ss,
                            T* CK_RESTRICT dst, std::ptrdiff_t ds, T scale, bool accumulate) {
    T t[L * L];
    int j0 = 0;
    for (; j0 + L <= nj; j0 += L) {
        int i0 = 0;
        for (; i0 + L <= ni; i0 += L) {
            transpose_block<T, L>(src + j0 * ss + i0, ss, t, L);
            T* d = dst + i0 * ds + j0;
            if (accumulate) {
                for (int i = 0; i < L; ++i)
                    for (int j = 0; j < L; ++j) d[i * ds + j] += scale * t[i * L + j];
            } else {
                for (int i = 0; i < L; ++i)
                    for (int j = 0; j < L; ++j) d[i * ds + j] = scale * t[i * L + j];
            }
        }
        for (int i = i0; i < ni; ++i)
            for (int j = j0; j < j0 + L; ++j)
                dst[i * ds + j] = (accumulate ? dst[i * ds + j] : T(0)) + scale * src[j * ss + i];
    }
    for (int i = 0; i < ni; ++i)
        for (int j = j0; j < nj; ++j)
            dst[i * ds + j] = (accumulate ? dst[i * ds + j] : T(0)) + scale * src[j * ss + i];
}

// ----------------------------------------------------------------------------
// 1-D complex FFT of L lane sequences (forward; the inverse swaps re and im of src and dst).
// src (sr, si, ss) and dst (dr, di, ds) may be the same sequence (in place).
// scratch: 4 * n * L elements (two ping-pong buffers, split per element).

template <typename T, int L>
static inline void run_stage(const Plan1D<T>& P, const Stage& st,
                             const T* xr, const T* xi, std::ptrdiff_t xs,
                             T* yr, T* yi, std::ptrdiff_t ys) {
    const T* twr = P.tw_re.data() + st.tw;
    const T* twi = P.tw_im.data() + st.tw;
    switch (st.radix) {
        case 2: radix2_stage<T, L>(st.s, st.m, twr, twi, xr, xi, xs, yr, yi, ys); break;
        case 3: radix3_stage<T, L>(st.s, st.m, twr, twi, xr, xi, xs, yr, yi, ys); break;
        case 4: radix4_stage<T, L>(st.s, st.m, twr, twi, xr, xi, xs, yr, yi, ys); break;
        case 5: radix5_stage<T, L>(st.s, st.m, twr, twi, xr, xi, xs, yr, yi, ys); break;
        case 8: radix8_stage<T, L>(st.s, st.m, twr, twi, xr, xi, xs, yr, yi, ys); break;
        default:
            generic_stage<T, L>(st.radix, st.s, st.m, twr, twi, P.dft_re.data() + st.dft,
                                P.dft_im.data() + st.dft, xr, xi, xs, yr, yi, ys);
    }
}

template <typename T, int L>
static void copy_lanes(int n, const T* sr, const T* si, std::ptrdiff_t ss,
                       T* dr, T* di, std::ptrdiff_t ds) {
    for (int j = 0; j < n; ++j) {
        for (int l = 0; l < L; ++l) {
            dr[j * ds + l] = sr[j * ss + l];
            di[j * ds + l] = si[j * ss + l];
        }
    }
}

template <typename T, int L>
static void cfft_lanes(const Plan1D<T>& P,
                       const T* sr, const T* si, std::ptrdiff_t ss,
                       T* dr, T* di, std::ptrdiff_t ds, T* scratch) {
    const int n = P.n;
    const int nst = (int)P.stages.size();
    if (nst == 0) {  // n == 1
        if (sr != dr || si != di) copy_lanes<T, L>(1, sr, si, ss, dr, di, ds);
        return;
    }
    T* buf[2] = {scratch, scratch + (std::size_t)2 * n * L};
    const bool alias = (nst == 1 && (sr == dr || si == di));  // one stage cannot run in place
    for (int i = 0; i < nst; ++i) {
        const T *xr, *xi;
        std::ptrdiff_t xs;
        if (i == 0) { xr = sr; xi = si; xs = ss; }
        else { xr = buf[(i - 1) & 1]; xi = xr + L; xs = 2 * L; }
        T *yr, *yi;
        std::ptrdiff_t ys;
        if (i == nst - 1 && !alias) { yr = dr; yi = di; ys = ds; }
        else { yr = buf[i & 1]; yi = yr + L; ys = 2 * L; }
        run_stage<T, L>(P, P.stages[i], xr, xi, xs, yr, yi, ys);
    }
    if (alias) copy_lanes<T, L>(n, buf[0], buf[0] + L, 2 * L, dr, di, ds);
}

// ----------------------------------------------------------------------------
// 1-D real transforms of L lane sequences of length w.
// x: real lane row (w elements). X: complex lane sequence of wc bins (Xr, Xi, Xs).
// scratch: 8 * w * L elements.

// Forward: X = rfft(x).
template <typename T, int L>
static void r2c_lanes(const Plan2D<T>& P, const T* x, T* Xr, T* Xi, std::ptrdiff_t Xs,
                      T* scratch) {
    const int w = P.w;
    if (w % 2 != 0) {
        // Odd w: complex FFT of (x + 0i), keep the first wc bins.
        T* z = scratch;                      // w elements, split per element
        T* Z = z + (std::size_t)2 * w * L;   // w elements, split per element
        for (int j = 0; j < w; ++j)
            for (int l = 0; l < L; ++l) {
                z[j * 2 * L + l] = x[j * L + l];
                z[j * 2 * L + L + l] = T(0);
            }
        cfft_lanes<T, L>(P.row, z, z + L, 2 * L, Z, Z + L, 2 * L, Z + (std::size_t)2 * w * L);
        copy_lanes<T, L>(P.wc, Z, Z + L, 2 * L, Xr, Xi, Xs);
        return;
    }
    // Even w: z[j] = x[2j] + i x[2j+1] is x itself read with stride 2L (re) and offset L (im).
    // Z = fft_{w/2}(z) goes to X[0, w/2); then X[k] = E[k] + w^k O[k] with
    // E = (Z[k] + conj Z[w/2-k]) / 2, O = (Z[k] - conj Z[w/2-k]) / 2i, in place on the pairs
    // (k, w/2 - k).
    const int half = w / 2;
    cfft_lanes<T, L>(P.row, x, x + L, 2 * L, Xr, Xi, Xs, scratch);
    {
        T* r0 = Xr;
        T* i0 = Xi;
        T* rh = Xr + half * Xs;
        T* ih = Xi + half * Xs;
#pragma omp simd
        for (int l = 0; l < L; ++l) {
            const T zr = r0[l], zi = i0[l];
            r0[l] = zr + zi;
            i0[l] = T(0);
            rh[l] = zr - zi;
            ih[l] = T(0);
        }
    }
    for (int k = 1; k <= half / 2; ++k) {
        const int k2 = half - k;
        const T wr = P.rtw_re[k], wi = P.rtw_im[k];
        T* ar = Xr + k * Xs;
        T* ai = Xi + k * Xs;
        T* br = Xr + k2 * Xs;
        T* bi = Xi + k2 * Xs;
#pragma omp simd
        for (int l = 0; l < L; ++l) {
            const T zkr = ar[l], zki = ai[l], zjr = br[l], zji = bi[l];
            const T er = T(0.5) * (zkr + zjr), ei = T(0.5) * (zki - zji);   // E = (Z[k] + conj Z[k2]) / 2
            const T or_ = T(0.5) * (zkr - zjr), oi = T(0.5) * (zki + zji);  // O' = (Z[k] - conj Z[k2]) / 2
            const T pr = or_ * wr - oi * wi, pi = or_ * wi + oi * wr;        // P = w^k O'
            ar[l] = er + pi;      // X[k]  = E - i P
            ai[l] = ei - pr;
            br[l] = er - pi;      // X[k2] = conj(E + i P)
            bi[l] = -(ei + pr);
        }
    }
}

// Inverse, unnormalised: x = w * irfft(X), ignoring Im X[0] and Im X[w/2] as numpy does.
template <typename T, int L>
static void c2r_lanes(const Plan2D<T>& P, const T* Xr, const T* Xi, std::ptrdiff_t Xs, T* x,
                      T* scratch) {
    const int w = P.w;
    if (w % 2 != 0) {
        // Odd w: rebuild the full Hermitian spectrum, complex inverse FFT, keep the real part.
        T* F = scratch;                      // w elements, split per element
        T* f = F + (std::size_t)2 * w * L;   // w elements, split per element
        for (int l = 0; l < L; ++l) {
            F[l] = Xr[l];
            F[L + l] = T(0);
        }
        for (int k = 1; k < P.wc; ++k)
            for (int l = 0; l < L; ++l) {
                F[k * 2 * L + l] = Xr[k * Xs + l];
                F[k * 2 * L + L + l] = Xi[k * Xs + l];
                F[(w - k) * 2 * L + l] = Xr[k * Xs + l];
                F[(w - k) * 2 * L + L + l] = -Xi[k * Xs + l];
            }
        // inverse = forward with re and im swapped
        cfft_lanes<T, L>(P.row, F + L, F, 2 * L, f + L, f, 2 * L, f + (std::size_t)2 * w * L);
        for (int j = 0; j < w; ++j)
            for (int l = 0; l < L; ++l) x[j * L + l] = f[j * 2 * L + l];
        return;
    }
    // Even w: Z[k] = (X[k] + conj X[w/2-k]) + i conj(w^k) (X[k] - conj X[w/2-k]) is the
    // spectrum of z[j] = x[2j] + i x[2j+1] (times 2), and z = ifft_{w/2}(Z) lands directly in
    // x read as a split-per-element sequence.
    const int half = w / 2;
    T* Z = scratch;  // half elements, split per element
#pragma omp simd
    for (int l = 0; l < L; ++l) {
        const T x0 = Xr[l], xh = Xr[half * Xs + l];
        Z[l] = x0 + xh;
        Z[L + l] = x0 - xh;
    }
    for (int k = 1; k <= half / 2; ++k) {
        const int k2 = half - k;
        const T wr = P.rtw_re[k], wi = -P.rtw_im[k];  // conj(w^k)
        const T* ar = Xr + k * Xs;
        const T* ai = Xi + k * Xs;
        const T* br = Xr + k2 * Xs;
        const T* bi = Xi + k2 * Xs;
        T* zk = Z + (std::size_t)k * 2 * L;
        T* zj = Z + (std::size_t)k2 * 2 * L;
#pragma omp simd
        for (int l = 0; l < L; ++l) {
            const T xkr = ar[l], xki = ai[l], xjr = br[l], xji = bi[l];
            const T er = xkr + xjr, ei = xki - xji;    // E2 = X[k] + conj X[k2]
            const T or_ = xkr - xjr, oi = xki + xji;   // O2 = X[k] - conj X[k2]
            const T qr = or_ * wr - oi * wi, qi = or_ * wi + oi * wr;  // Q = conj(w^k) O2
            zk[l] = er - qi;          // Z[k]  = E2 + i Q
            zk[L + l] = ei + qr;
            zj[l] = er + qi;          // Z[k2] = conj(E2 - i Q)
            zj[L + l] = qr - ei;
        }
    }
    // inverse = forward with re and im swapped on both sides
    cfft_lanes<T, L>(P.row, Z + L, Z, 2 * L, x + L, x, 2 * L, Z + (std::size_t)2 * half * L);
}

// ----------------------------------------------------------------------------
// Strategy "tile lanes": a group of G <= L tiles, tile b0 + l in lane l.
// Workspace: S (h * wc * 2L, [ky][kx] split per element) | rowbuf (w * L) | scratch.

template <typename T, int L>
static void rfft2_tile_lanes(const Plan2D<T>& P, int b0, int G,
                             const T* x, std::ptrdiff_t xbs, std::ptrdiff_t xrs,
                             int row0, int col0, int rows, int cols,
                             T* spec_re, T* spec_im, std::ptrdiff_t sbs, T* ws) {
    const int h = P.h, w = P.w, wc = P.wc;
    T* S = ws;
    T* rowbuf = S + (std::size_t)h * wc * 2 * L;
    T* scratch = rowbuf + (std::size_t)w * L;
    const std::ptrdiff_t srow = (std::ptrdiff_t)wc * 2 * L;  // S row stride

    // Row pass: real FFT of row y of the G tiles (rows outside the window are zero).
    const bool full_row = (cols == w && G == L);
    for (int y = 0; y < h; ++y) {
        T* Sy = S + y * srow;
        if (y < row0 || y >= row0 + rows) {
            std::memset(Sy, 0, sizeof(T) * srow);
            continue;
        }
        if (!full_row) std::memset(rowbuf, 0, sizeof(T) * w * L);
        const T* src = x + b0 * xbs + (std::ptrdiff_t)(y - row0) * xrs;
        transpose<T, L>(cols, G, src, xbs, rowbuf + col0 * L, L);
        r2c_lanes<T, L>(P, rowbuf, Sy, Sy + L, 2 * L, scratch);
    }
    // Column pass: complex FFT of every column kx, in place.
    for (int kx = 0; kx < wc; ++kx) {
        T* c = S + kx * 2 * L;
        cfft_lanes<T, L>(P.col, c, c + L, srow, c, c + L, srow, scratch);
    }
    // De-interleave into the planar outputs.
    const int hw = h * wc;
    transpose<T, L>(G, hw, S, 2 * L, spec_re + b0 * sbs, sbs);
    transpose<T, L>(G, hw, S + L, 2 * L, spec_im + b0 * sbs, sbs);
}

template <typename T, int L>
static void irfft2_tile_lanes(const Plan2D<T>& P, int b0, int G,
                              const T* spec_re, const T* spec_im, std::ptrdiff_t sbs,
                              T* y, std::ptrdiff_t ybs, std::ptrdiff_t yrs,
                              int row0, int col0, int rows, int cols,
                              T scale, bool accumulate, T* ws) {
    const int h = P.h, w = P.w, wc = P.wc;
    T* S = ws;
    T* rowbuf = S + (std::size_t)h * wc * 2 * L;
    T* scratch = rowbuf + (std::size_t)w * L;
    const std::ptrdiff_t srow = (std::ptrdiff_t)wc * 2 * L;

    // Interleave the G spectra into S; unused lanes are zero.
    const int hw = h * wc;
    if (G < L) std::memset(S, 0, sizeof(T) * hw * 2 * L);
    transpose<T, L>(hw, G, spec_re + b0 * sbs, sbs, S, 2 * L);
    transpose<T, L>(hw, G, spec_im + b0 * sbs, sbs, S + L, 2 * L);
    // Column pass: inverse complex FFT of every column (forward with re/im swapped).
    for (int kx = 0; kx < wc; ++kx) {
        T* c = S + kx * 2 * L;
        cfft_lanes<T, L>(P.col, c + L, c, srow, c + L, c, srow, scratch);
    }
    // Row pass, only for the rows of the output window.
    for (int r = 0; r < rows; ++r) {
        const T* Sy = S + (row0 + r) * srow;
        c2r_lanes<T, L>(P, Sy, Sy + L, 2 * L, rowbuf, scratch);
        transpose_scale<T, L>(G, cols, rowbuf + col0 * L, L, y + b0 * ybs + r * yrs, ybs, scale,
                              accumulate);
    }
}

// ----------------------------------------------------------------------------
// Strategy "row/column lanes": one tile at a time (large images).
// Forward workspace: rowbuf (w L) | R (wc 2L) | C (h 2L) | tmp (h 2L) | scratch.
// Inverse workspace: W (2 h wc, planar) | the same.

// rows[i][j] = src[j * ss + i] for i in [0, ni), j in [0, nj): lanes -> rows (ni <= L).
template <typename T, int L>
static void transpose_to_rows(int ni, int nj, const T* CK_RESTRICT src, std::ptrdiff_t ss,
                              T* const* rows) {
    int j0 = 0;
    if (ni == L) {
        T t[L * L];
        for (; j0 + L <= nj; j0 += L) {
            transpose_block<T, L>(src + j0 * ss, ss, t, L);
            for (int i = 0; i < L; ++i)
                for (int j = 0; j < L; ++j) rows[i][j0 + j] = t[i * L + j];
        }
    }
    for (int i = 0; i < ni; ++i)
        for (int j = j0; j < nj; ++j) rows[i][j] = src[j * ss + i];
}

// dst[j * ds + i] = rows[i][j] for i in [0, ni), j in [0, nj): rows -> lanes (ni <= L).
template <typename T, int L>
static void transpose_from_rows(int ni, int nj, const T* const* rows, T* CK_RESTRICT dst,
                                std::ptrdiff_t ds) {
    int j0 = 0;
    if (ni == L) {
        T t[L * L];
        for (; j0 + L <= nj; j0 += L) {
            for (int i = 0; i < L; ++i)
                for (int j = 0; j < L; ++j) t[i * L + j] = rows[i][j0 + j];
            transpose_block<T, L>(t, L, dst + j0 * ds, ds);
        }
    }
    for (int i = 0; i < ni; ++i)
        for (int j = j0; j < nj; ++j) dst[j * ds + i] = rows[i][j];
}

// Column transforms over a set of q rows of a planar spectrum (row stride wc): rows
// row0 + i * rstep, i in [0, q), of every column kx, transformed with plan Q (length q) from
// (sre, sim) to the same rows of (dre, dim) (may be the same planes). With tw_a > 0, output
// element k is also multiplied by e^(-2 pi i (tw_a k mod h) / h) (the four-step twiddle).
// L adjacent columns are a lane sequence with stride rstep * wc, so they are transformed where
// they are; the wc % L leftover columns go through the buffer C (q * 2L).
template <typename T, int L>
static void column_ffts(const Plan2D<T>& P, const Plan1D<T>& Q, int q, std::ptrdiff_t row0,
                        std::ptrdiff_t rstep, int tw_a, const T* sre, const T* sim, T* dre,
                        T* dim, T* C, T* tmp, T* scratch) {
    const int wc = P.wc, h = P.h;
    const std::ptrdiff_t st = rstep * wc;
    // multiply the transformed lane sequence t (split per element) by the twiddles, store to y
    auto twiddle_store = [&](const T* t, T* yr, T* yi, std::ptrdiff_t ys, int nl) {
        int e = 0;  // tw_a * k mod h
        for (int k = 0; k < q; ++k, e = (e + tw_a >= h ? e + tw_a - h : e + tw_a)) {
            const T wr = P.ctw_re[e], wi = P.ctw_im[e];
            const T* tk = t + (std::size_t)k * 2 * L;
            T* yrk = yr + k * ys;
            T* yik = yi + k * ys;
            if (nl == L) {
#pragma omp simd
                for (int l = 0; l < L; ++l) {
                    const T ar = tk[l], ai = tk[L + l];
                    yrk[l] = ar * wr - ai * wi;
                    yik[l] = ar * wi + ai * wr;
                }
            } else {
                for (int l = 0; l < nl; ++l) {
                    const T ar = tk[l], ai = tk[L + l];
                    yrk[l] = ar * wr - ai * wi;
                    yik[l] = ar * wi + ai * wr;
                }
            }
        }
    };
    int kx0 = 0;
    for (; kx0 + L <= wc; kx0 += L) {
        const T* xr = sre + row0 * wc + kx0;
        const T* xi = sim + row0 * wc + kx0;
        T* yr = dre + row0 * wc + kx0;
        T* yi = dim + row0 * wc + kx0;
        if (tw_a == 0) {
            cfft_lanes<T, L>(Q, xr, xi, st, yr, yi, st, scratch);
        } else {
            cfft_lanes<T, L>(Q, xr, xi, st, tmp, tmp + L, 2 * L, scratch);
            twiddle_store(tmp, yr, yi, st, L);
        }
    }
    const int nt = wc - kx0;
    if (nt == 0) return;
    for (int i = 0; i < q; ++i) {
        const T* xr = sre + (row0 + i * rstep) * wc + kx0;
        const T* xi = sim + (row0 + i * rstep) * wc + kx0;
        for (int l = 0; l < L; ++l) {
            C[i * 2 * L + l] = l < nt ? xr[l] : T(0);
            C[i * 2 * L + L + l] = l < nt ? xi[l] : T(0);
        }
    }
    T* yr = dre + row0 * wc + kx0;
    T* yi = dim + row0 * wc + kx0;
    if (tw_a == 0) {
        cfft_lanes<T, L>(Q, C, C + L, 2 * L, C, C + L, 2 * L, scratch);
        for (int i = 0; i < q; ++i)
            for (int l = 0; l < nt; ++l) {
                yr[i * st + l] = C[i * 2 * L + l];
                yi[i * st + l] = C[i * 2 * L + L + l];
            }
    } else {
        cfft_lanes<T, L>(Q, C, C + L, 2 * L, tmp, tmp + L, 2 * L, scratch);
        twiddle_store(tmp, yr, yi, st, nt);
    }
}

// Where the row pass of a large image keeps image row y, and where the inverse column pass
// leaves row y of its result. With a split column pass (h = h1 * h2) these are permutations
// that let both four-step halves run in place on blocks of rows (see column_pass_*);
// otherwise the identity.
template <typename T>
static inline int fwd_row_slot(const Plan2D<T>& P, int y) {
    return P.h1 ? y / P.h2 + P.h1 * (y % P.h2) : y;
}
template <typename T>
static inline int inv_row_slot(const Plan2D<T>& P, int y) {
    return P.h1 ? P.h1 * (y % P.h2) + y / P.h2 : y;
}

// Forward column pass, in place. Split (h = h1 * h2, y = j1 h2 + j2, ky = k1 + h1 k2):
// row slot j1 + h1 j2 holds image row y. Step 1, for each j2: the h1 adjacent slots
// h1 j2 + [0, h1) get an h1-point FFT over j1 and the twiddles e^(-2 pi i j2 k1 / h) (slot
// h1 j2 + k1). Step 2, for each k1: the h2 slots k1 + h1 [0, h2) get an h2-point FFT over
// j2, which leaves ky = k1 + h1 k2 in slot ky, i.e. natural order. Each step touches about
// sqrt(h) rows at a time, which stay in L2 and in the TLB while all columns go through.
template <typename T, int L>
static void column_pass_fwd(const Plan2D<T>& P, T* re, T* im, T* C, T* tmp, T* scratch) {
    if (!P.h1) {
        column_ffts<T, L>(P, P.col, P.h, 0, 1, 0, re, im, re, im, C, tmp, scratch);
        return;
    }
    const int h1 = P.h1, h2 = P.h2;
    for (int j2 = 0; j2 < h2; ++j2)
        column_ffts<T, L>(P, P.col1, h1, (std::ptrdiff_t)h1 * j2, 1, j2, re, im, re, im, C, tmp,
                          scratch);
    for (int k1 = 0; k1 < h1; ++k1)
        column_ffts<T, L>(P, P.col2, h2, k1, h1, 0, re, im, re, im, C, tmp, scratch);
}

// Inverse column pass, spectrum (natural order) -> W. Split (y = j1 + h1 j2 now indexes the
// spectrum rows, ky = k2 + h2 k1 the result): step 1, for each j1: rows j1 + h1 [0, h2)
// get an h2-point FFT over j2 and the twiddles e^(-2 pi i j1 k2 / h) (row j1 + h1 k2 of W);
// step 2, for each k2: W rows h1 k2 + [0, h1) get an h1-point FFT over j1 in place, which
// leaves result row ky in W row inv_row_slot(ky) = h1 k2 + k1. (Inverse transforms are
// forward ones with re and im swapped.)
template <typename T, int L>
static void column_pass_inv(const Plan2D<T>& P, const T* re, const T* im, T* Wr, T* Wi, T* C,
                            T* tmp, T* scratch) {
    if (!P.h1) {
        column_ffts<T, L>(P, P.col, P.h, 0, 1, 0, im, re, Wi, Wr, C, tmp, scratch);
        return;
    }
    const int h1 = P.h1, h2 = P.h2;
    for (int j1 = 0; j1 < h1; ++j1)
        column_ffts<T, L>(P, P.col2, h2, j1, h1, j1, im, re, Wi, Wr, C, tmp, scratch);
    for (int k2 = 0; k2 < h2; ++k2)
        column_ffts<T, L>(P, P.col1, h1, (std::ptrdiff_t)h1 * k2, 1, 0, Wi, Wr, Wi, Wr, C, tmp,
                          scratch);
}

template <typename T, int L>
static void rfft2_rowcol(const Plan2D<T>& P, const T* xb, std::ptrdiff_t xrs,
                         int row0, int col0, int rows, int cols,
                         T* re, T* im, T* ws) {
    const int h = P.h, w = P.w, wc = P.wc;
    T* rowbuf = ws;
    T* R = rowbuf + (std::size_t)w * L;
    T* C = R + (std::size_t)wc * 2 * L;
    T* tmp = C + (std::size_t)h * 2 * L;
    T* scratch = tmp + (std::size_t)h * 2 * L;

    // Row pass, L rows at a time: transpose the rows into lanes, real FFT, transpose back
    // (into the row slots the column pass wants).
    for (int y0 = row0; y0 < row0 + rows; y0 += L) {
        const int G = std::min(L, row0 + rows - y0);
        if (cols != w || G != L) std::memset(rowbuf, 0, sizeof(T) * w * L);
        transpose<T, L>(cols, G, xb + (std::ptrdiff_t)(y0 - row0) * xrs, xrs, rowbuf + col0 * L, L);
        r2c_lanes<T, L>(P, rowbuf, R, R + L, 2 * L, scratch);
        T* dr[L];
        T* di[L];
        for (int l = 0; l < G; ++l) {
            dr[l] = re + (std::ptrdiff_t)fwd_row_slot(P, y0 + l) * wc;
            di[l] = im + (std::ptrdiff_t)fwd_row_slot(P, y0 + l) * wc;
        }
        transpose_to_rows<T, L>(G, wc, R, 2 * L, dr);
        transpose_to_rows<T, L>(G, wc, R + L, 2 * L, di);
    }
    // Rows outside the input window are zero.
    for (int y = 0; y < h; ++y) {
        if (y >= row0 && y < row0 + rows) continue;
        std::memset(re + (std::ptrdiff_t)fwd_row_slot(P, y) * wc, 0, sizeof(T) * wc);
        std::memset(im + (std::ptrdiff_t)fwd_row_slot(P, y) * wc, 0, sizeof(T) * wc);
    }
    column_pass_fwd<T, L>(P, re, im, C, tmp, scratch);
}

template <typename T, int L>
static void irfft2_rowcol(const Plan2D<T>& P, const T* re, const T* im,
                          T* yb, std::ptrdiff_t yrs, int row0, int col0, int rows, int cols,
                          T scale, bool accumulate, T* ws) {
    const int h = P.h, w = P.w, wc = P.wc;
    T* Wr = ws;
    T* Wi = Wr + (std::size_t)h * wc;
    T* rowbuf = Wi + (std::size_t)h * wc;
    T* R = rowbuf + (std::size_t)w * L;
    T* C = R + (std::size_t)wc * 2 * L;
    T* tmp = C + (std::size_t)h * 2 * L;
    T* scratch = tmp + (std::size_t)h * 2 * L;

    column_pass_inv<T, L>(P, re, im, Wr, Wi, C, tmp, scratch);
    // Row pass over the output window, L rows at a time.
    for (int y0 = row0; y0 < row0 + rows; y0 += L) {
        const int G = std::min(L, row0 + rows - y0);
        const T* sr[L];
        const T* si[L];
        for (int l = 0; l < G; ++l) {
            sr[l] = Wr + (std::ptrdiff_t)inv_row_slot(P, y0 + l) * wc;
            si[l] = Wi + (std::ptrdiff_t)inv_row_slot(P, y0 + l) * wc;
        }
        if (G < L) std::memset(R, 0, sizeof(T) * wc * 2 * L);
        transpose_from_rows<T, L>(G, wc, sr, R, 2 * L);
        transpose_from_rows<T, L>(G, wc, si, R + L, 2 * L);
        c2r_lanes<T, L>(P, R, R + L, 2 * L, rowbuf, scratch);
        transpose_scale<T, L>(G, cols, rowbuf + col0 * L, L, yb + (std::ptrdiff_t)(y0 - row0) * yrs,
                              yrs, scale, accumulate);
    }
}

// ----------------------------------------------------------------------------
// Batched entry points (arguments as in cnnkernels/fft.hpp, already checked; ws holds
// plan.workspace elements). Groups of L tiles go through the tile-lane strategy when the
// plan allows it; a last, partial group only if it fills at least 3/4 of the lanes (a group
// costs about as much as 5 to 6 tiles done one by one with row/column lanes). With 64-byte
// lanes a partial group that does not goes on in groups of the 32-byte lanes.

template <typename T, int L>
static void rfft2_groups(const Plan2D<T>& P, int b0, int batch,
                         const T* x, std::ptrdiff_t xbs, std::ptrdiff_t xrs,
                         int row0, int col0, int rows, int cols,
                         T* spec_re, T* spec_im, std::ptrdiff_t sbs, T* ws) {
    constexpr int Lnarrow = Lanes<T>::L;
    for (; b0 < batch; b0 += L) {
        const int G = std::min(L, batch - b0);
        if (P.tile_lanes && 4 * G >= 3 * L) {
            rfft2_tile_lanes<T, L>(P, b0, G, x, xbs, xrs, row0, col0, rows, cols, spec_re,
                                   spec_im, sbs, ws);
            continue;
        }
        if constexpr (L > Lnarrow) {
            if (P.tile_lanes) {
                rfft2_groups<T, Lnarrow>(P, b0, b0 + G, x, xbs, xrs, row0, col0, rows, cols,
                                         spec_re, spec_im, sbs, ws);
                continue;
            }
        }
        for (int b = b0; b < b0 + G; ++b)
            rfft2_rowcol<T, L>(P, x + b * xbs, xrs, row0, col0, rows, cols,
                               spec_re + b * sbs, spec_im + b * sbs, ws);
    }
}

template <typename T, int L>
static void irfft2_groups(const Plan2D<T>& P, int b0, int batch,
                          const T* spec_re, const T* spec_im, std::ptrdiff_t sbs,
                          T* y, std::ptrdiff_t ybs, std::ptrdiff_t yrs,
                          int row0, int col0, int rows, int cols,
                          T scale, bool accumulate, T* ws) {
    constexpr int Lnarrow = Lanes<T>::L;
    for (; b0 < batch; b0 += L) {
        const int G = std::min(L, batch - b0);
        if (P.tile_lanes && 4 * G >= 3 * L) {
            irfft2_tile_lanes<T, L>(P, b0, G, spec_re, spec_im, sbs, y, ybs, yrs, row0, col0,
                                    rows, cols, scale, accumulate, ws);
            continue;
        }
        if constexpr (L > Lnarrow) {
            if (P.tile_lanes) {
                irfft2_groups<T, Lnarrow>(P, b0, b0 + G, spec_re, spec_im, sbs, y, ybs, yrs,
                                          row0, col0, rows, cols, scale, accumulate, ws);
                continue;
            }
        }
        for (int b = b0; b < b0 + G; ++b)
            irfft2_rowcol<T, L>(P, spec_re + b * sbs, spec_im + b * sbs, y + b * ybs, yrs,
                                row0, col0, rows, cols, scale, accumulate, ws);
    }
}

template <typename T>
static void rfft2_batch(const Plan2D<T>& P, int batch,
                        const T* x, std::ptrdiff_t xbs, std::ptrdiff_t xrs,
                        int row0, int col0, int rows, int cols,
                        T* spec_re, T* spec_im, std::ptrdiff_t sbs, T* ws) {
    rfft2_groups<T, Lanes<T, CK_FFT_VBYTES>::L>(P, 0, batch, x, xbs, xrs, row0, col0, rows,
                                                 cols, spec_re, spec_im, sbs, ws);
}

template <typename T>
static void irfft2_batch(const Plan2D<T>& P, int batch,
                         const T* spec_re, const T* spec_im, std::ptrdiff_t sbs,
                         T* y, std::ptrdiff_t ybs, std::ptrdiff_t yrs,
                         int row0, int col0, int rows, int cols,
                         T scale, bool accumulate, T* ws) {
    irfft2_groups<T, Lanes<T, CK_FFT_VBYTES>::L>(P, 0, batch, spec_re, spec_im, sbs, y, ybs,
                                                  yrs, row0, col0, rows, cols, scale,
                                                  accumulate, ws);
}

// This ISA's table (fft_plan.hpp), handed out by the including file.
const FftKernels kFftTable = {&rfft2_batch<float>, &rfft2_batch<double>, &irfft2_batch<float>,
                              &irfft2_batch<double>};
