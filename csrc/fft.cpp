// fft.cpp - the FFT core of cnnkernels (see cnnkernels/fft.hpp for the interface):
// plans (factorisation, twiddles) and their thread-safe cache, lane-vectorised 1-D complex
// and real transforms, and the two batched 2-D strategies. Explicit float and double
// instantiations at the end.
//
// How a 2-D real transform of an h x w tile is done (forward; the inverse runs backwards):
//   1. row pass:    every row y: real FFT of length w  -> wc = w/2+1 complex bins
//                   (a complex FFT of length w/2 on the even/odd-packed row, then the usual
//                   split step; odd w: complex FFT of length w with zero imaginary part)
//   2. column pass: every column kx: complex FFT of length h.
// Every 1-D transform works on L sequences at once (see "lane layout" in fft_radix.hpp), and
// which sequences share a lane vector is the strategy:
//   - tile lanes (small tiles, e.g. 8x8 ... 64x64): lane l is tile l of a group of L tiles.
//     The group is interleaved once into a [h][wc][re|im][L] buffer, both passes run on it,
//     and the result is de-interleaved into the planar outputs.
//   - row/column lanes (large images, e.g. 1024x1024): one image at a time; the row pass
//     transposes L rows into lanes and back, the column pass transforms L adjacent columns of
//     the planar spectrum in place (they are already lane vectors: stride wc).
#include "cnnkernels/fft.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fft_radix.hpp"

namespace ck {
namespace fft {

// ----------------------------------------------------------------------------
// Sizes

bool is_fast_size(int n) {
    if (n < 1) return false;
    for (int p : {2, 3, 5})
        while (n % p == 0) n /= p;
    return n == 1;
}

int next_fast_size(int n) {
    if (n <= 1) return 1;
    // Smallest 2^a 3^b 5^c >= n: enumerate the 3^b 5^c part, fill up with powers of 2.
    long long best = 1;
    while (best < n) best *= 2;
    for (long long p35 = 1; p35 < 2LL * n; p35 *= 3) {
        for (long long p5 = p35; p5 < 2LL * n; p5 *= 5) {
            long long v = p5;
            while (v < n) v *= 2;
            best = std::min(best, v);
        }
    }
    return (int)best;
}

namespace detail {

// Lanes per vector: 32 bytes (one AVX register, two SSE registers).
template <typename T> struct Lanes { static constexpr int L = (int)(32 / sizeof(T)); };

// ----------------------------------------------------------------------------
// 1-D complex plan: factorisation into Stockham stages and their twiddles

struct Stage {
    int radix;          // r
    int s;              // product of the radices of the earlier stages
    int m;              // n / (s * r): butterflies per sub-transform
    std::size_t tw;     // offset of this stage's m * (r - 1) twiddles in tw_re / tw_im
    std::size_t dft;    // offset of the r roots e^(-2 pi i t / r) in dft_re / dft_im (generic radix)
};

template <typename T>
struct Plan1D {
    int n = 1;
    std::vector<Stage> stages;
    std::vector<T> tw_re, tw_im;
    std::vector<T> dft_re, dft_im;

    void init(int n_) {
        n = n_;
        // Factorise: radix 4 first, then 2, 3, 5, then any other prime (generic butterfly).
        std::vector<int> radices;
        int rest = n;
        while (rest % 4 == 0) { radices.push_back(4); rest /= 4; }
        for (int p : {2, 3, 5})
            while (rest % p == 0) { radices.push_back(p); rest /= p; }
        for (int p = 7; rest > 1; p += 2)
            while (rest % p == 0) { radices.push_back(p); rest /= p; }

        int s = 1;
        for (int r : radices) {
            Stage st;
            st.radix = r;
            st.s = s;
            st.m = n / (s * r);
            st.tw = tw_re.size();
            st.dft = dft_re.size();
            const int ncur = r * st.m;  // length of the sub-transforms of this stage
            for (int p = 0; p < st.m; ++p) {
                for (int k = 1; k < r; ++k) {
                    const long double a = -2.0L * 3.14159265358979323846264338327950288L *
                                          (long double)(((long long)p * k) % ncur) / ncur;
                    tw_re.push_back((T)std::cos(a));
                    tw_im.push_back((T)std::sin(a));
                }
            }
            if (r > 5) {
                for (int t = 0; t < r; ++t) {
                    const long double a = -2.0L * 3.14159265358979323846264338327950288L * t / r;
                    dft_re.push_back((T)std::cos(a));
                    dft_im.push_back((T)std::sin(a));
                }
            }
            stages.push_back(st);
            s *= r;
        }
    }
};

}  // namespace detail

// ----------------------------------------------------------------------------
// 2-D real plan

template <typename T>
struct Plan2D {
    int h = 0, w = 0, wc = 0;       // tile h x w, spectrum h x wc
    bool tile_lanes = false;        // strategy (see top of file)
    detail::Plan1D<T> col;          // complex FFT along ky, length h
    detail::Plan1D<T> row;          // complex FFT along x: length w/2 (w even) or w (w odd)
    std::vector<T> rtw_re, rtw_im;  // e^(-2 pi i k / w), k in [0, w/2]: real-FFT split step
    std::size_t workspace = 0;      // scratch elements of T needed by one rfft2/irfft2 call
};

namespace detail {

// ----------------------------------------------------------------------------
// Per-thread scratch (64-byte aligned, grown on demand, kept for the thread's lifetime)

template <typename T>
static T* thread_scratch(std::size_t count) {
    thread_local std::vector<T> buf;
    const std::size_t pad = 64 / sizeof(T);
    if (buf.size() < count + pad) buf.resize(count + pad);
    T* p = buf.data();
    const std::size_t mis = ((std::uintptr_t)p % 64) / sizeof(T);
    return mis ? p + (pad - mis) : p;
}

// ----------------------------------------------------------------------------
// 1-D complex FFT of L lane sequences (forward; the inverse swaps re and im of src and dst).
// src (sr, si, ss) and dst (dr, di, ds) may be the same sequence (in-place).
// scratch: 4 * n * L elements.

template <typename T, int L>
static void run_stage(const Plan1D<T>& P, const Stage& st,
                      const T* xr, const T* xi, std::ptrdiff_t xs,
                      T* yr, T* yi, std::ptrdiff_t ys) {
    const T* twr = P.tw_re.data() + st.tw;
    const T* twi = P.tw_im.data() + st.tw;
    switch (st.radix) {
        case 2: radix2_stage<T, L>(st.s, st.m, twr, twi, xr, xi, xs, yr, yi, ys); break;
        case 3: radix3_stage<T, L>(st.s, st.m, twr, twi, xr, xi, xs, yr, yi, ys); break;
        case 4: radix4_stage<T, L>(st.s, st.m, twr, twi, xr, xi, xs, yr, yi, ys); break;
        case 5: radix5_stage<T, L>(st.s, st.m, twr, twi, xr, xi, xs, yr, yi, ys); break;
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
    // Ping-pong buffers, split per element: re at j * 2L, im at j * 2L + L.
    T* buf[2] = {scratch, scratch + (std::size_t)2 * n * L};
    const bool alias = (nst == 1 && (sr == dr || si == di));
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
// 1-D real transforms of L lane sequences along a row of length w.
// x: real lane sequence (element j, lane l at x[j * L + l]).
// X: complex lane sequence of wc = w/2+1 bins (Xr, Xi, Xs).
// scratch: 8 * w * L elements.

// Forward: X = rfft(x).
template <typename T, int L>
static void r2c_lanes(const Plan2D<T>& P, const T* x, T* Xr, T* Xi, std::ptrdiff_t Xs,
                      T* scratch) {
    const int w = P.w;
    if (w % 2 != 0) {
        // Odd w: complex FFT of (x + 0i), keep the first wc bins.
        T* z = scratch;                       // w elements, split per element
        T* Z = z + (std::size_t)2 * w * L;    // w elements, split per element
        for (int j = 0; j < w; ++j)
            for (int l = 0; l < L; ++l) {
                z[j * 2 * L + l] = x[j * L + l];
                z[j * 2 * L + L + l] = T(0);
            }
        cfft_lanes<T, L>(P.row, z, z + L, 2 * L, Z, Z + L, 2 * L, Z + (std::size_t)2 * w * L);
        copy_lanes<T, L>(P.wc, Z, Z + L, 2 * L, Xr, Xi, Xs);
        return;
    }
    // Even w: z[j] = x[2j] + i x[2j+1] is x itself read with stride 2L (re) / offset L (im).
    // Z = fft_{w/2}(z), then X[k] = E[k] + w^k O[k] with E = (Z[k] + conj Z[w/2-k]) / 2 and
    // O = (Z[k] - conj Z[w/2-k]) / 2i, done in place on pairs (k, w/2-k).
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
            const T er = T(0.5) * (zkr + zjr), ei = T(0.5) * (zki - zji);  // E = (Z[k] + conj Z[k2]) / 2
            const T or_ = T(0.5) * (zkr - zjr), oi = T(0.5) * (zki + zji); // O' = (Z[k] - conj Z[k2]) / 2
            const T pr = or_ * wr - oi * wi, pi = or_ * wi + oi * wr;       // P = w^k O'
            // X[k] = E - i P, X[k2] = conj(E + i P)
            const T xkr = er + pi, xki = ei - pr;
            const T xjr = er - pi, xji = -(ei + pr);
            ar[l] = xkr;
            ai[l] = xki;
            br[l] = xjr;
            bi[l] = xji;
        }
    }
}

// Inverse (unnormalised): x = w * irfft(X), ignoring Im X[0] and Im X[w/2] (w even).
template <typename T, int L>
static void c2r_lanes(const Plan2D<T>& P, const T* Xr, const T* Xi, std::ptrdiff_t Xs, T* x,
                      T* scratch) {
    const int w = P.w;
    if (w % 2 != 0) {
        // Odd w: rebuild the full Hermitian spectrum, complex inverse FFT, keep the real part.
        T* F = scratch;                       // w elements, split per element
        T* f = F + (std::size_t)2 * w * L;    // w elements, split per element
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
    // spectrum of z[j] = x[2j] + i x[2j+1] (times 2); z = ifft_{w/2}(Z) lands directly in x.
    const int half = w / 2;
    T* Z = scratch;  // half elements, split per element
    {
#pragma omp simd
        for (int l = 0; l < L; ++l) {
            const T x0 = Xr[l], xh = Xr[half * Xs + l];
            Z[l] = x0 + xh;
            Z[L + l] = x0 - xh;
        }
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
            const T er = xkr + xjr, ei = xki - xji;   // E2 = X[k] + conj X[k2]
            const T or_ = xkr - xjr, oi = xki + xji;  // O2 = X[k] - conj X[k2]
            const T qr = or_ * wr - oi * wi, qi = or_ * wi + oi * wr;  // Q = conj(w^k) O2
            // Z[k] = E2 + i Q, Z[k2] = conj(E2 - i Q)
            zk[l] = er - qi;
            zk[L + l] = ei + qr;
            zj[l] = er + qi;
            zj[L + l] = -(ei - qr);
        }
    }
    // inverse = forward with re and im swapped on both sides
    cfft_lanes<T, L>(P.row, Z + L, Z, 2 * L, x + L, x, 2 * L, Z + (std::size_t)2 * half * L);
}

// ----------------------------------------------------------------------------
// Strategy "tile lanes": a group of G <= L tiles, tile b0 + l in lane l.
// Workspace: S (h * wc * 2L) | rowbuf (w * L) | scratch (max(8 w L, 4 h L)).

template <typename T, int L>
static void rfft2_tile_lanes(const Plan2D<T>& P, int b0, int G,
                             const T* x, std::ptrdiff_t xbs, std::ptrdiff_t xrs,
                             int row0, int col0, int rows, int cols,
                             T* spec_re, T* spec_im, std::ptrdiff_t sbs, T* ws) {
    const int h = P.h, w = P.w, wc = P.wc;
    T* S = ws;                                            // [h][wc][re|im][L]
    T* rowbuf = S + (std::size_t)h * wc * 2 * L;           // [w][L]
    T* scratch = rowbuf + (std::size_t)w * L;
    const std::ptrdiff_t srow = (std::ptrdiff_t)wc * 2 * L;  // S row stride

    // Row pass: real FFT of row y of every tile in the group.
    const bool full_row = (cols == w && G == L);
    for (int y = 0; y < h; ++y) {
        T* Sy = S + y * srow;
        if (y < row0 || y >= row0 + rows) {
            std::memset(Sy, 0, sizeof(T) * srow);
            continue;
        }
        if (!full_row) std::memset(rowbuf, 0, sizeof(T) * w * L);
        for (int l = 0; l < G; ++l) {
            const T* src = x + (b0 + l) * xbs + (std::ptrdiff_t)(y - row0) * xrs;
            T* dst = rowbuf + col0 * L + l;
            for (int c = 0; c < cols; ++c) dst[c * L] = src[c];
        }
        r2c_lanes<T, L>(P, rowbuf, Sy, Sy + L, 2 * L, scratch);
    }
    // Column pass: complex FFT of every column kx, in place.
    for (int kx = 0; kx < wc; ++kx) {
        T* c = S + kx * 2 * L;
        cfft_lanes<T, L>(P.col, c, c + L, srow, c, c + L, srow, scratch);
    }
    // De-interleave into the planar outputs.
    const int hw = h * wc;
    for (int l = 0; l < G; ++l) {
        T* re = spec_re + (b0 + l) * sbs;
        T* im = spec_im + (b0 + l) * sbs;
        for (int e = 0; e < hw; ++e) {
            re[e] = S[e * 2 * L + l];
            im[e] = S[e * 2 * L + L + l];
        }
    }
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
    for (int l = 0; l < G; ++l) {
        const T* re = spec_re + (b0 + l) * sbs;
        const T* im = spec_im + (b0 + l) * sbs;
        for (int e = 0; e < hw; ++e) {
            S[e * 2 * L + l] = re[e];
            S[e * 2 * L + L + l] = im[e];
        }
    }
    // Column pass: inverse complex FFT of every column (forward with re/im swapped).
    for (int kx = 0; kx < wc; ++kx) {
        T* c = S + kx * 2 * L;
        cfft_lanes<T, L>(P.col, c + L, c, srow, c + L, c, srow, scratch);
    }
    // Row pass, only for the rows of the output window.
    for (int r = 0; r < rows; ++r) {
        const T* Sy = S + (row0 + r) * srow;
        c2r_lanes<T, L>(P, Sy, Sy + L, 2 * L, rowbuf, scratch);
        for (int l = 0; l < G; ++l) {
            T* dst = y + (b0 + l) * ybs + (std::ptrdiff_t)r * yrs;
            const T* src = rowbuf + col0 * L + l;
            if (accumulate)
                for (int c = 0; c < cols; ++c) dst[c] += scale * src[c * L];
            else
                for (int c = 0; c < cols; ++c) dst[c] = scale * src[c * L];
        }
    }
}

// ----------------------------------------------------------------------------
// Strategy "row/column lanes": one tile at a time.
// Forward workspace: rowbuf (w L) | R (wc 2L) | C (h 2L) | scratch (max(8 w L, 4 h L)).
// Inverse workspace: W (2 h wc) followed by the same.

// Column pass over a planar h x wc spectrum (row stride wc), src -> dst (may be equal).
template <typename T, int L>
static void column_pass(const Plan2D<T>& P, bool inverse,
                        const T* sre, const T* sim, T* dre, T* dim, T* C, T* scratch) {
    const int h = P.h, wc = P.wc;
    if (inverse) {
        std::swap(sre, sim);
        std::swap(dre, dim);
    }
    int kx0 = 0;
    for (; kx0 + L <= wc; kx0 += L)
        cfft_lanes<T, L>(P.col, sre + kx0, sim + kx0, wc, dre + kx0, dim + kx0, wc, scratch);
    const int nt = wc - kx0;  // leftover columns: gather into lanes, transform, scatter
    if (nt > 0) {
        for (int y = 0; y < h; ++y) {
            for (int l = 0; l < L; ++l) {
                C[y * 2 * L + l] = l < nt ? sre[y * wc + kx0 + l] : T(0);
                C[y * 2 * L + L + l] = l < nt ? sim[y * wc + kx0 + l] : T(0);
            }
        }
        cfft_lanes<T, L>(P.col, C, C + L, 2 * L, C, C + L, 2 * L, scratch);
        for (int y = 0; y < h; ++y) {
            for (int l = 0; l < nt; ++l) {
                dre[y * wc + kx0 + l] = C[y * 2 * L + l];
                dim[y * wc + kx0 + l] = C[y * 2 * L + L + l];
            }
        }
    }
}

template <typename T, int L>
static void rfft2_rowcol(const Plan2D<T>& P, const T* xb, std::ptrdiff_t xrs,
                         int row0, int col0, int rows, int cols,
                         T* re, T* im, T* ws) {
    const int h = P.h, w = P.w, wc = P.wc;
    T* rowbuf = ws;
    T* R = rowbuf + (std::size_t)w * L;
    T* C = R + (std::size_t)wc * 2 * L;
    T* scratch = C + (std::size_t)h * 2 * L;

    // Row pass, L rows at a time: transpose the rows into lanes, real FFT, transpose back.
    for (int y0 = row0; y0 < row0 + rows; y0 += L) {
        const int G = std::min(L, row0 + rows - y0);
        if (cols != w || G != L) std::memset(rowbuf, 0, sizeof(T) * w * L);
        for (int l = 0; l < G; ++l) {
            const T* src = xb + (std::ptrdiff_t)(y0 - row0 + l) * xrs;
            T* dst = rowbuf + col0 * L + l;
            for (int c = 0; c < cols; ++c) dst[c * L] = src[c];
        }
        r2c_lanes<T, L>(P, rowbuf, R, R + L, 2 * L, scratch);
        for (int l = 0; l < G; ++l) {
            T* dr = re + (std::ptrdiff_t)(y0 + l) * wc;
            T* di = im + (std::ptrdiff_t)(y0 + l) * wc;
            for (int kx = 0; kx < wc; ++kx) {
                dr[kx] = R[kx * 2 * L + l];
                di[kx] = R[kx * 2 * L + L + l];
            }
        }
    }
    // Rows outside the input window are zero.
    if (row0 > 0) {
        std::memset(re, 0, sizeof(T) * row0 * wc);
        std::memset(im, 0, sizeof(T) * row0 * wc);
    }
    if (row0 + rows < h) {
        std::memset(re + (std::size_t)(row0 + rows) * wc, 0, sizeof(T) * (h - row0 - rows) * wc);
        std::memset(im + (std::size_t)(row0 + rows) * wc, 0, sizeof(T) * (h - row0 - rows) * wc);
    }
    // Column pass, in place.
    column_pass<T, L>(P, false, re, im, re, im, C, scratch);
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
    T* scratch = C + (std::size_t)h * 2 * L;

    // Column pass: spectrum -> W (inverse along ky).
    column_pass<T, L>(P, true, re, im, Wr, Wi, C, scratch);
    // Row pass over the output window, L rows at a time.
    for (int y0 = row0; y0 < row0 + rows; y0 += L) {
        const int G = std::min(L, row0 + rows - y0);
        for (int l = 0; l < L; ++l) {
            const int yy = y0 + std::min(l, G - 1);  // unused lanes repeat the last row
            const T* sr = Wr + (std::ptrdiff_t)yy * wc;
            const T* si = Wi + (std::ptrdiff_t)yy * wc;
            for (int kx = 0; kx < wc; ++kx) {
                R[kx * 2 * L + l] = sr[kx];
                R[kx * 2 * L + L + l] = si[kx];
            }
        }
        c2r_lanes<T, L>(P, R, R + L, 2 * L, rowbuf, scratch);
        for (int l = 0; l < G; ++l) {
            T* dst = yb + (std::ptrdiff_t)(y0 - row0 + l) * yrs;
            const T* src = rowbuf + col0 * L + l;
            if (accumulate)
                for (int c = 0; c < cols; ++c) dst[c] += scale * src[c * L];
            else
                for (int c = 0; c < cols; ++c) dst[c] = scale * src[c * L];
        }
    }
}

// Use tile lanes for the last, partial group of a batch only if it fills half the lanes.
template <int L>
static bool use_tile_lanes(bool plan_tile_lanes, int G) {
    return plan_tile_lanes && 2 * G >= L;
}

}  // namespace detail

// ----------------------------------------------------------------------------
// Plan creation and cache

template <typename T>
static std::unique_ptr<Plan2D<T>> make_plan_2d(int h, int w) {
    constexpr int L = detail::Lanes<T>::L;
    auto P = std::make_unique<Plan2D<T>>();
    P->h = h;
    P->w = w;
    P->wc = w / 2 + 1;
    P->col.init(h);
    P->row.init(w % 2 == 0 ? w / 2 : w);
    for (int k = 0; k <= w / 2; ++k) {
        const long double a = -2.0L * 3.14159265358979323846264338327950288L * k / w;
        P->rtw_re.push_back((T)std::cos(a));
        P->rtw_im.push_back((T)std::sin(a));
    }
    // Tile lanes while the interleaved group spectrum stays small (fits in L2 with room).
    const std::size_t group_bytes = (std::size_t)h * P->wc * 2 * L * sizeof(T);
    P->tile_lanes = group_bytes <= (std::size_t)160 * 1024;

    const std::size_t hs = h, ws = w, wcs = P->wc;
    const std::size_t scratch = std::max(8 * ws * L, 4 * hs * L);
    const std::size_t tiles = hs * wcs * 2 * L + ws * L + scratch;
    const std::size_t rowcol = 2 * hs * wcs + ws * L + wcs * 2 * L + hs * 2 * L + scratch;
    P->workspace = std::max(tiles, rowcol);
    return P;
}

template <typename T>
const Plan2D<T>& plan_2d(int h, int w) {
    if (h < 1 || w < 1)
        throw std::invalid_argument("ck::fft::plan_2d: sizes must be >= 1, got " +
                                    std::to_string(h) + " x " + std::to_string(w));
    static std::mutex mutex;
    static std::map<std::pair<int, int>, std::unique_ptr<Plan2D<T>>> cache;
    std::lock_guard<std::mutex> lock(mutex);
    auto& slot = cache[{h, w}];
    if (!slot) slot = make_plan_2d<T>(h, w);
    return *slot;
}

// ----------------------------------------------------------------------------
// Batched 2-D transforms

static void check_window(const char* fn, int h, int w, int row0, int col0, int rows, int cols) {
    if (row0 < 0 || col0 < 0 || rows < 0 || cols < 0 || row0 + rows > h || col0 + cols > w)
        throw std::invalid_argument(std::string(fn) + ": window rows [" + std::to_string(row0) +
                                    ", " + std::to_string(row0 + rows) + ") cols [" +
                                    std::to_string(col0) + ", " + std::to_string(col0 + cols) +
                                    ") does not fit the " + std::to_string(h) + " x " +
                                    std::to_string(w) + " tile");
}

template <typename T>
void rfft2(const Plan2D<T>& plan, int batch,
           const T* x, std::ptrdiff_t x_batch_stride, std::ptrdiff_t x_row_stride,
           int row0, int col0, int rows, int cols,
           T* spec_re, T* spec_im, std::ptrdiff_t spec_batch_stride) {
    constexpr int L = detail::Lanes<T>::L;
    check_window("ck::fft::rfft2", plan.h, plan.w, row0, col0, rows, cols);
    if (batch <= 0) return;
    T* ws = detail::thread_scratch<T>(plan.workspace);
    for (int b0 = 0; b0 < batch; b0 += L) {
        const int G = std::min(L, batch - b0);
        if (detail::use_tile_lanes<L>(plan.tile_lanes, G)) {
            detail::rfft2_tile_lanes<T, L>(plan, b0, G, x, x_batch_stride, x_row_stride, row0,
                                           col0, rows, cols, spec_re, spec_im,
                                           spec_batch_stride, ws);
        } else {
            for (int b = b0; b < b0 + G; ++b)
                detail::rfft2_rowcol<T, L>(plan, x + b * x_batch_stride, x_row_stride, row0,
                                           col0, rows, cols, spec_re + b * spec_batch_stride,
                                           spec_im + b * spec_batch_stride, ws);
        }
    }
}

template <typename T>
void irfft2(const Plan2D<T>& plan, int batch,
            const T* spec_re, const T* spec_im, std::ptrdiff_t spec_batch_stride,
            T* y, std::ptrdiff_t y_batch_stride, std::ptrdiff_t y_row_stride,
            int row0, int col0, int rows, int cols,
            T scale, bool accumulate) {
    constexpr int L = detail::Lanes<T>::L;
    check_window("ck::fft::irfft2", plan.h, plan.w, row0, col0, rows, cols);
    if (batch <= 0 || rows == 0 || cols == 0) return;
    T* ws = detail::thread_scratch<T>(plan.workspace);
    for (int b0 = 0; b0 < batch; b0 += L) {
        const int G = std::min(L, batch - b0);
        if (detail::use_tile_lanes<L>(plan.tile_lanes, G)) {
            detail::irfft2_tile_lanes<T, L>(plan, b0, G, spec_re, spec_im, spec_batch_stride, y,
                                            y_batch_stride, y_row_stride, row0, col0, rows,
                                            cols, scale, accumulate, ws);
        } else {
            for (int b = b0; b < b0 + G; ++b)
                detail::irfft2_rowcol<T, L>(plan, spec_re + b * spec_batch_stride,
                                            spec_im + b * spec_batch_stride,
                                            y + b * y_batch_stride, y_row_stride, row0, col0,
                                            rows, cols, scale, accumulate, ws);
        }
    }
}

// ----------------------------------------------------------------------------
// Explicit instantiations

#define CK_FFT_INSTANTIATE(T)                                                                  \
    template struct Plan2D<T>;                                                                 \
    template const Plan2D<T>& plan_2d<T>(int, int);                                            \
    template void rfft2<T>(const Plan2D<T>&, int, const T*, std::ptrdiff_t, std::ptrdiff_t,   \
                           int, int, int, int, T*, T*, std::ptrdiff_t);                        \
    template void irfft2<T>(const Plan2D<T>&, int, const T*, const T*, std::ptrdiff_t, T*,    \
                            std::ptrdiff_t, std::ptrdiff_t, int, int, int, int, T, bool);

CK_FFT_INSTANTIATE(float)
CK_FFT_INSTANTIATE(double)

#undef CK_FFT_INSTANTIATE

}  // namespace fft
}  // namespace ck
