// fft_radix.hpp - internal: the butterfly stages of the FFT core (radix 2, 3, 4, 5, 8 and a
// generic one for other primes), written for "lane vectors" so that every stage vectorises.
//
// Lane layout. The FFT core never transforms one sequence at a time: it transforms L
// independent sequences together (L rows of an image, L columns of a spectrum, or the same
// row of L different tiles). Element j of the sequences, lane l, lives at
//
//     re[j * stride + l],  im[j * stride + l]        j in [0, n), l in [0, L)
//
// so the L lanes of an element are contiguous and each butterfly below is a loop over the L
// lanes that the compiler turns into SIMD code (L = 32 bytes / sizeof(T): one AVX register,
// or two SSE registers on baseline x86-64; 64 bytes / sizeof(T) with AVX-512: one register).
// re and im may point into the same buffer (e.g. im = re + L, stride = 2 * L: "split per
// element") or into two planes.
//
// Stages are Stockham auto-sort, decimation in frequency (the formulation of OTFFT, extended
// to mixed radix): a transform of length n factored as r_0 * r_1 * ... runs one stage per
// factor, each reading the whole sequence from x and writing it to y (never in place), and
// the last stage leaves the result in natural order, so no digit-reversal pass is needed.
// For a stage of radix r, with s = product of the radices already done and m = n / (s * r):
//
//     for p in [0, m), q in [0, s):
//         a_j      = x[q + s * (p + j * m)]                       j in [0, r)
//         y[q + s * (r * p + k)] = w^(p k) * sum_j a_j * e^(-2 pi i j k / r),   k in [0, r)
//
// with w = e^(-2 pi i / (r * m)). The per-stage twiddles w^(p k), k in [1, r), are
// precomputed in the plan as tw[p * (r - 1) + (k - 1)]. Only forward (e^-) transforms
// exist; the inverse is done by swapping re and im on input and output.
//
// Included by fft_kernels.hpp, inside the anonymous namespace of each ISA's file (fft_scalar.cpp,
// fft_avx2.cpp, fft_avx512.cpp). Include no standard headers here.

#pragma once

// ----------------------------------------------------------------------------
// One stage of the Stockham FFT, per radix.
// Arguments: s, m as above; twr/twi the stage twiddles (r - 1 per p);
// x = (xr, xi, xs) the input lane sequence, y = (yr, yi, ys) the output lane sequence.

template <typename T, int L>
static inline void radix2_stage(int s, int m, const T* twr, const T* twi,
                                const T* CK_RESTRICT xr, const T* CK_RESTRICT xi, std::ptrdiff_t xs,
                                T* CK_RESTRICT yr, T* CK_RESTRICT yi, std::ptrdiff_t ys) {
    const std::ptrdiff_t dx = (std::ptrdiff_t)s * m * xs;  // distance between the 2 inputs
    const std::ptrdiff_t dy = (std::ptrdiff_t)s * ys;      // distance between the 2 outputs
    for (int p = 0; p < m; ++p) {
        const T w1r = twr[p], w1i = twi[p];
        for (int q = 0; q < s; ++q) {
            const T* ar = xr + (q + (std::ptrdiff_t)s * p) * xs;
            const T* ai = xi + (q + (std::ptrdiff_t)s * p) * xs;
            T* br = yr + (q + (std::ptrdiff_t)s * 2 * p) * ys;
            T* bi = yi + (q + (std::ptrdiff_t)s * 2 * p) * ys;
            if (p == 0) {
#pragma omp simd
                for (int l = 0; l < L; ++l) {
                    const T a0r = ar[l], a0i = ai[l], a1r = ar[dx + l], a1i = ai[dx + l];
                    br[l] = a0r + a1r;
                    bi[l] = a0i + a1i;
                    br[dy + l] = a0r - a1r;
                    bi[dy + l] = a0i - a1i;
                }
            } else {
#pragma omp simd
                for (int l = 0; l < L; ++l) {
                    const T a0r = ar[l], a0i = ai[l], a1r = ar[dx + l], a1i = ai[dx + l];
                    const T dr = a0r - a1r, di = a0i - a1i;
                    br[l] = a0r + a1r;
                    bi[l] = a0i + a1i;
                    br[dy + l] = dr * w1r - di * w1i;
                    bi[dy + l] = dr * w1i + di * w1r;
                }
            }
        }
    }
}

template <typename T, int L>
static inline void radix3_stage(int s, int m, const T* twr, const T* twi,
                                const T* CK_RESTRICT xr, const T* CK_RESTRICT xi, std::ptrdiff_t xs,
                                T* CK_RESTRICT yr, T* CK_RESTRICT yi, std::ptrdiff_t ys) {
    const T h = T(0.86602540378443864676);  // sin(2 pi / 3)
    const std::ptrdiff_t dx = (std::ptrdiff_t)s * m * xs;
    const std::ptrdiff_t dy = (std::ptrdiff_t)s * ys;
    for (int p = 0; p < m; ++p) {
        const T w1r = twr[2 * p], w1i = twi[2 * p], w2r = twr[2 * p + 1], w2i = twi[2 * p + 1];
        for (int q = 0; q < s; ++q) {
            const T* ar = xr + (q + (std::ptrdiff_t)s * p) * xs;
            const T* ai = xi + (q + (std::ptrdiff_t)s * p) * xs;
            T* br = yr + (q + (std::ptrdiff_t)s * 3 * p) * ys;
            T* bi = yi + (q + (std::ptrdiff_t)s * 3 * p) * ys;
#pragma omp simd
            for (int l = 0; l < L; ++l) {
                const T a0r = ar[l], a0i = ai[l];
                const T a1r = ar[dx + l], a1i = ai[dx + l];
                const T a2r = ar[2 * dx + l], a2i = ai[2 * dx + l];
                const T tr = a1r + a2r, ti = a1i + a2i;          // a1 + a2
                const T dr = h * (a1r - a2r), di = h * (a1i - a2i);  // sin(2pi/3) (a1 - a2)
                const T mr = a0r - T(0.5) * tr, mi = a0i - T(0.5) * ti;
                // b1 = m - i d, b2 = m + i d
                const T b1r = mr + di, b1i = mi - dr;
                const T b2r = mr - di, b2i = mi + dr;
                br[l] = a0r + tr;
                bi[l] = a0i + ti;
                br[dy + l] = b1r * w1r - b1i * w1i;
                bi[dy + l] = b1r * w1i + b1i * w1r;
                br[2 * dy + l] = b2r * w2r - b2i * w2i;
                bi[2 * dy + l] = b2r * w2i + b2i * w2r;
            }
        }
    }
}

template <typename T, int L>
static inline void radix4_stage(int s, int m, const T* twr, const T* twi,
                                const T* CK_RESTRICT xr, const T* CK_RESTRICT xi, std::ptrdiff_t xs,
                                T* CK_RESTRICT yr, T* CK_RESTRICT yi, std::ptrdiff_t ys) {
    const std::ptrdiff_t dx = (std::ptrdiff_t)s * m * xs;
    const std::ptrdiff_t dy = (std::ptrdiff_t)s * ys;
    for (int p = 0; p < m; ++p) {
        const T w1r = twr[3 * p], w1i = twi[3 * p];
        const T w2r = twr[3 * p + 1], w2i = twi[3 * p + 1];
        const T w3r = twr[3 * p + 2], w3i = twi[3 * p + 2];
        for (int q = 0; q < s; ++q) {
            const T* ar = xr + (q + (std::ptrdiff_t)s * p) * xs;
            const T* ai = xi + (q + (std::ptrdiff_t)s * p) * xs;
            T* br = yr + (q + (std::ptrdiff_t)s * 4 * p) * ys;
            T* bi = yi + (q + (std::ptrdiff_t)s * 4 * p) * ys;
            if (p == 0) {
#pragma omp simd
                for (int l = 0; l < L; ++l) {
                    const T a0r = ar[l], a0i = ai[l], a1r = ar[dx + l], a1i = ai[dx + l];
                    const T a2r = ar[2 * dx + l], a2i = ai[2 * dx + l];
                    const T a3r = ar[3 * dx + l], a3i = ai[3 * dx + l];
                    const T t0r = a0r + a2r, t0i = a0i + a2i, t1r = a0r - a2r, t1i = a0i - a2i;
                    const T t2r = a1r + a3r, t2i = a1i + a3i, t3r = a1r - a3r, t3i = a1i - a3i;
                    br[l] = t0r + t2r;                // b0 = t0 + t2
                    bi[l] = t0i + t2i;
                    br[dy + l] = t1r + t3i;           // b1 = t1 - i t3
                    bi[dy + l] = t1i - t3r;
                    br[2 * dy + l] = t0r - t2r;       // b2 = t0 - t2
                    bi[2 * dy + l] = t0i - t2i;
                    br[3 * dy + l] = t1r - t3i;       // b3 = t1 + i t3
                    bi[3 * dy + l] = t1i + t3r;
                }
            } else {
#pragma omp simd
                for (int l = 0; l < L; ++l) {
                    const T a0r = ar[l], a0i = ai[l], a1r = ar[dx + l], a1i = ai[dx + l];
                    const T a2r = ar[2 * dx + l], a2i = ai[2 * dx + l];
                    const T a3r = ar[3 * dx + l], a3i = ai[3 * dx + l];
                    const T t0r = a0r + a2r, t0i = a0i + a2i, t1r = a0r - a2r, t1i = a0i - a2i;
                    const T t2r = a1r + a3r, t2i = a1i + a3i, t3r = a1r - a3r, t3i = a1i - a3i;
                    const T b1r = t1r + t3i, b1i = t1i - t3r;
                    const T b2r = t0r - t2r, b2i = t0i - t2i;
                    const T b3r = t1r - t3i, b3i = t1i + t3r;
                    br[l] = t0r + t2r;
                    bi[l] = t0i + t2i;
                    br[dy + l] = b1r * w1r - b1i * w1i;
                    bi[dy + l] = b1r * w1i + b1i * w1r;
                    br[2 * dy + l] = b2r * w2r - b2i * w2i;
                    bi[2 * dy + l] = b2r * w2i + b2i * w2r;
                    br[3 * dy + l] = b3r * w3r - b3i * w3i;
                    bi[3 * dy + l] = b3r * w3i + b3i * w3r;
                }
            }
        }
    }
}

template <typename T, int L>
static inline void radix5_stage(int s, int m, const T* twr, const T* twi,
                                const T* CK_RESTRICT xr, const T* CK_RESTRICT xi, std::ptrdiff_t xs,
                                T* CK_RESTRICT yr, T* CK_RESTRICT yi, std::ptrdiff_t ys) {
    const T c1 = T(0.30901699437494742410);   // cos(2 pi / 5)
    const T c2 = T(-0.80901699437494742410);  // cos(4 pi / 5)
    const T s1 = T(0.95105651629515357212);   // sin(2 pi / 5)
    const T s2 = T(0.58778525229247312917);   // sin(4 pi / 5)
    const std::ptrdiff_t dx = (std::ptrdiff_t)s * m * xs;
    const std::ptrdiff_t dy = (std::ptrdiff_t)s * ys;
    for (int p = 0; p < m; ++p) {
        const T* wr = twr + 4 * p;
        const T* wi = twi + 4 * p;
        const T w1r = wr[0], w1i = wi[0], w2r = wr[1], w2i = wi[1];
        const T w3r = wr[2], w3i = wi[2], w4r = wr[3], w4i = wi[3];
        for (int q = 0; q < s; ++q) {
            const T* ar = xr + (q + (std::ptrdiff_t)s * p) * xs;
            const T* ai = xi + (q + (std::ptrdiff_t)s * p) * xs;
            T* br = yr + (q + (std::ptrdiff_t)s * 5 * p) * ys;
            T* bi = yi + (q + (std::ptrdiff_t)s * 5 * p) * ys;
#pragma omp simd
            for (int l = 0; l < L; ++l) {
                const T a0r = ar[l], a0i = ai[l];
                const T a1r = ar[dx + l], a1i = ai[dx + l];
                const T a2r = ar[2 * dx + l], a2i = ai[2 * dx + l];
                const T a3r = ar[3 * dx + l], a3i = ai[3 * dx + l];
                const T a4r = ar[4 * dx + l], a4i = ai[4 * dx + l];
                const T t1r = a1r + a4r, t1i = a1i + a4i, d1r = a1r - a4r, d1i = a1i - a4i;
                const T t2r = a2r + a3r, t2i = a2i + a3i, d2r = a2r - a3r, d2i = a2i - a3i;
                const T m1r = a0r + c1 * t1r + c2 * t2r, m1i = a0i + c1 * t1i + c2 * t2i;
                const T m2r = a0r + c2 * t1r + c1 * t2r, m2i = a0i + c2 * t1i + c1 * t2i;
                const T n1r = s1 * d1r + s2 * d2r, n1i = s1 * d1i + s2 * d2i;
                const T n2r = s2 * d1r - s1 * d2r, n2i = s2 * d1i - s1 * d2i;
                // b1 = m1 - i n1, b4 = m1 + i n1, b2 = m2 - i n2, b3 = m2 + i n2
                const T b1r = m1r + n1i, b1i = m1i - n1r, b4r = m1r - n1i, b4i = m1i + n1r;
                const T b2r = m2r + n2i, b2i = m2i - n2r, b3r = m2r - n2i, b3i = m2i + n2r;
                br[l] = a0r + t1r + t2r;
                bi[l] = a0i + t1i + t2i;
                br[dy + l] = b1r * w1r - b1i * w1i;
                bi[dy + l] = b1r * w1i + b1i * w1r;
                br[2 * dy + l] = b2r * w2r - b2i * w2i;
                bi[2 * dy + l] = b2r * w2i + b2i * w2r;
                br[3 * dy + l] = b3r * w3r - b3i * w3i;
                bi[3 * dy + l] = b3r * w3i + b3i * w3r;
                br[4 * dy + l] = b4r * w4r - b4i * w4i;
                bi[4 * dy + l] = b4r * w4i + b4i * w4r;
            }
        }
    }
}

// One radix-8 butterfly on L lanes: inputs ar/ai + j * dx, outputs br/bi + k * dy, output k
// multiplied by (wr, wi)[k - 1] unless kTwiddle is false (p == 0, all twiddles 1).
template <typename T, int L, bool kTwiddle>
static inline void radix8_butterfly(const T* CK_RESTRICT ar, const T* CK_RESTRICT ai,
                                    std::ptrdiff_t dx, T* CK_RESTRICT br, T* CK_RESTRICT bi,
                                    std::ptrdiff_t dy, const T* wr, const T* wi) {
    const T c = T(0.70710678118654752440);  // sqrt(1/2)
#pragma omp simd
    for (int l = 0; l < L; ++l) {
        const T a0r = ar[l], a0i = ai[l], a1r = ar[dx + l], a1i = ai[dx + l];
        const T a2r = ar[2 * dx + l], a2i = ai[2 * dx + l];
        const T a3r = ar[3 * dx + l], a3i = ai[3 * dx + l];
        const T a4r = ar[4 * dx + l], a4i = ai[4 * dx + l];
        const T a5r = ar[5 * dx + l], a5i = ai[5 * dx + l];
        const T a6r = ar[6 * dx + l], a6i = ai[6 * dx + l];
        const T a7r = ar[7 * dx + l], a7i = ai[7 * dx + l];
        // radix 2 between a_j and a_{j+4}: u_j = a_j + a_{j+4}, v_j = (a_j - a_{j+4}) w8^j
        const T u0r = a0r + a4r, u0i = a0i + a4i, v0r = a0r - a4r, v0i = a0i - a4i;
        const T u1r = a1r + a5r, u1i = a1i + a5i, d1r = a1r - a5r, d1i = a1i - a5i;
        const T u2r = a2r + a6r, u2i = a2i + a6i, d2r = a2r - a6r, d2i = a2i - a6i;
        const T u3r = a3r + a7r, u3i = a3i + a7i, d3r = a3r - a7r, d3i = a3i - a7i;
        const T v1r = c * (d1r + d1i), v1i = c * (d1i - d1r);    // * (1 - i) / sqrt 2
        const T v2r = d2i, v2i = -d2r;                           // * -i
        const T v3r = c * (d3i - d3r), v3i = -c * (d3r + d3i);   // * (-1 - i) / sqrt 2
        // radix 4 on u: outputs 0, 2, 4, 6
        const T s0r = u0r + u2r, s0i = u0i + u2i, s1r = u0r - u2r, s1i = u0i - u2i;
        const T s2r = u1r + u3r, s2i = u1i + u3i, s3r = u1r - u3r, s3i = u1i - u3i;
        T b[8][2];
        b[0][0] = s0r + s2r, b[0][1] = s0i + s2i;
        b[2][0] = s1r + s3i, b[2][1] = s1i - s3r;
        b[4][0] = s0r - s2r, b[4][1] = s0i - s2i;
        b[6][0] = s1r - s3i, b[6][1] = s1i + s3r;
        // radix 4 on v: outputs 1, 3, 5, 7
        const T t0r = v0r + v2r, t0i = v0i + v2i, t1r = v0r - v2r, t1i = v0i - v2i;
        const T t2r = v1r + v3r, t2i = v1i + v3i, t3r = v1r - v3r, t3i = v1i - v3i;
        b[1][0] = t0r + t2r, b[1][1] = t0i + t2i;
        b[3][0] = t1r + t3i, b[3][1] = t1i - t3r;
        b[5][0] = t0r - t2r, b[5][1] = t0i - t2i;
        b[7][0] = t1r - t3i, b[7][1] = t1i + t3r;
        br[l] = b[0][0];
        bi[l] = b[0][1];
        for (int k = 1; k < 8; ++k) {
            if (kTwiddle) {
                br[k * dy + l] = b[k][0] * wr[k - 1] - b[k][1] * wi[k - 1];
                bi[k * dy + l] = b[k][0] * wi[k - 1] + b[k][1] * wr[k - 1];
            } else {
                br[k * dy + l] = b[k][0];
                bi[k * dy + l] = b[k][1];
            }
        }
    }
}

template <typename T, int L>
static inline void radix8_stage(int s, int m, const T* twr, const T* twi,
                                const T* CK_RESTRICT xr, const T* CK_RESTRICT xi, std::ptrdiff_t xs,
                                T* CK_RESTRICT yr, T* CK_RESTRICT yi, std::ptrdiff_t ys) {
    const std::ptrdiff_t dx = (std::ptrdiff_t)s * m * xs;
    const std::ptrdiff_t dy = (std::ptrdiff_t)s * ys;
    for (int p = 0; p < m; ++p) {
        for (int q = 0; q < s; ++q) {
            const T* ar = xr + (q + (std::ptrdiff_t)s * p) * xs;
            const T* ai = xi + (q + (std::ptrdiff_t)s * p) * xs;
            T* br = yr + (q + (std::ptrdiff_t)s * 8 * p) * ys;
            T* bi = yi + (q + (std::ptrdiff_t)s * 8 * p) * ys;
            if (p == 0)
                radix8_butterfly<T, L, false>(ar, ai, dx, br, bi, dy, nullptr, nullptr);
            else
                radix8_butterfly<T, L, true>(ar, ai, dx, br, bi, dy, twr + 7 * p, twi + 7 * p);
        }
    }
}

// Generic radix r (any r, used for prime factors > 5: slow, O(r^2) per butterfly, but it
// makes every size work). dft_r/dft_i hold e^(-2 pi i t / r), t in [0, r).
template <typename T, int L>
static inline void generic_stage(int r, int s, int m, const T* twr, const T* twi,
                                 const T* dft_r, const T* dft_i,
                                 const T* CK_RESTRICT xr, const T* CK_RESTRICT xi, std::ptrdiff_t xs,
                                 T* CK_RESTRICT yr, T* CK_RESTRICT yi, std::ptrdiff_t ys) {
    const std::ptrdiff_t dx = (std::ptrdiff_t)s * m * xs;
    const std::ptrdiff_t dy = (std::ptrdiff_t)s * ys;
    for (int p = 0; p < m; ++p) {
        for (int q = 0; q < s; ++q) {
            const T* ar = xr + (q + (std::ptrdiff_t)s * p) * xs;
            const T* ai = xi + (q + (std::ptrdiff_t)s * p) * xs;
            T* br = yr + (q + (std::ptrdiff_t)s * r * p) * ys;
            T* bi = yi + (q + (std::ptrdiff_t)s * r * p) * ys;
            for (int k = 0; k < r; ++k) {
                T accr[L], acci[L];
                for (int l = 0; l < L; ++l) { accr[l] = ar[l]; acci[l] = ai[l]; }
                for (int j = 1; j < r; ++j) {
                    const int t = (int)(((long long)j * k) % r);
                    const T cr = dft_r[t], ci = dft_i[t];
#pragma omp simd
                    for (int l = 0; l < L; ++l) {
                        const T vr = ar[j * dx + l], vi = ai[j * dx + l];
                        accr[l] += vr * cr - vi * ci;
                        acci[l] += vr * ci + vi * cr;
                    }
                }
                const T wr = k == 0 ? T(1) : twr[p * (r - 1) + k - 1];
                const T wi = k == 0 ? T(0) : twi[p * (r - 1) + k - 1];
#pragma omp simd
                for (int l = 0; l < L; ++l) {
                    br[k * dy + l] = accr[l] * wr - acci[l] * wi;
                    bi[k * dy + l] = accr[l] * wi + acci[l] * wr;
                }
            }
        }
    }
}
