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
//     the planar spectrum in place (they are already lane vectors: stride wc). For large h the
//     column pass is split four-step (h = h1 * h2) so that it works on blocks of about
//     sqrt(h) rows that stay in L2 and in the TLB.
#include "fft.hpp"

#include "cpu_features.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CK_FFT_HAVE_AVX2 1
#include <immintrin.h>
#else
#define CK_FFT_HAVE_AVX2 0
#endif

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
    if (n > (1 << 30))
        throw std::invalid_argument("ck::fft::next_fast_size: n too large: " + std::to_string(n));
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
        // Factorise: radix 8 first (but 16 as 4 * 4), then 4, 2, 3, 5, then any other prime
        // (generic butterfly).
        std::vector<int> radices;
        int rest = n;
        while (rest % 8 == 0 && rest != 16) { radices.push_back(8); rest /= 8; }
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
            if (r != 2 && r != 3 && r != 4 && r != 5 && r != 8) {  // generic butterfly
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
    // Large images: the column pass is split four-step, h = h1 * h2 (see fft_kernels.hpp).
    int h1 = 0, h2 = 0;             // 0: not split
    detail::Plan1D<T> col1, col2;   // complex FFTs of length h1 and h2
    std::vector<T> ctw_re, ctw_im;  // e^(-2 pi i t / h), t in [0, h)
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

}  // namespace detail

// ----------------------------------------------------------------------------
// The kernels, compiled once per instruction set (see fft_kernels.hpp)

#if defined(__GNUC__) || defined(__clang__)
#define CK_RESTRICT __restrict__
#else
#define CK_RESTRICT
#endif

#define CK_FFT_AVX2_KERNELS 0
namespace detail {
namespace baseline {
#include "fft_kernels.hpp"
}  // namespace baseline
}  // namespace detail
#undef CK_FFT_AVX2_KERNELS

#if CK_FFT_HAVE_AVX2
#define CK_FFT_AVX2_KERNELS 1
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace detail {
namespace avx2 {
#include "fft_kernels.hpp"
}  // namespace avx2
}  // namespace detail
#pragma GCC pop_options
#undef CK_FFT_AVX2_KERNELS
#endif

namespace detail {

// Use the AVX2+FMA kernels when the package's active instruction set (ck::active_isa(), see
// cpu_features.hpp) is AVX2 or wider: CNNKERNELS_ISA=scalar or set_active_isa(Isa::scalar)
// selects the baseline ones. Asked on every call, since the active set may change at run time.
static bool use_avx2() {
#if CK_FFT_HAVE_AVX2
    return active_isa() != Isa::scalar;
#else
    return false;
#endif
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
    // Tile lanes unless the interleaved group spectrum gets huge. Measured on Zen 3 (AVX2):
    // tile lanes win for every size up to 512 x 512 (1.2x to 2x), rows/columns win at
    // 1024 x 1024 in double and tie in float.
    const std::size_t group_bytes = (std::size_t)h * P->wc * 2 * L * sizeof(T);
    P->tile_lanes = group_bytes <= (std::size_t)16 * 1024 * 1024;
    // Split the column pass four-step when the spectrum is large (h1 = largest divisor of h
    // not above sqrt(h), if that is not tiny). Measured on Zen 3: a clear gain from 1024 x 1024
    // up (fewer L2 and TLB misses), a small loss at 512 x 512.
    const std::size_t spec_bytes = (std::size_t)h * P->wc * 2 * sizeof(T);
    if (h >= 256 && spec_bytes > (std::size_t)3 * 1024 * 1024) {
        int d = 1;
        for (int c = 2; c * c <= h; ++c)
            if (h % c == 0) d = c;
        if (d >= 8) {
            P->h1 = d;
            P->h2 = h / d;
            P->col1.init(P->h1);
            P->col2.init(P->h2);
            for (int t = 0; t < h; ++t) {
                const long double a = -2.0L * 3.14159265358979323846264338327950288L * t / h;
                P->ctw_re.push_back((T)std::cos(a));
                P->ctw_im.push_back((T)std::sin(a));
            }
        }
    }

    const std::size_t hs = h, ws = w, wcs = P->wc;
    // Workspace (elements of T), as laid out in fft_kernels.hpp. scratch: r2c/c2r_lanes need
    // 8 w L, cfft_lanes 4 n L.
    const std::size_t scratch = std::max(8 * ws * L, 4 * hs * L);
    const std::size_t tiles = hs * wcs * 2 * L + ws * L + scratch;
    const std::size_t rowcol = 2 * hs * wcs + ws * L + wcs * 2 * L + 2 * hs * 2 * L + scratch;
    P->workspace = P->tile_lanes ? std::max(tiles, rowcol) : rowcol;
    return P;
}

template <typename T>
const Plan2D<T>& plan_2d(int h, int w) {
    if (h < 1 || w < 1 || (long long)h * w > (1LL << 30))
        throw std::invalid_argument("ck::fft::plan_2d: need h, w >= 1 and h * w <= 2^30, got " +
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
    if (row0 < 0 || col0 < 0 || rows < 0 || cols < 0 || (long long)row0 + rows > h ||
        (long long)col0 + cols > w)
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
    check_window("ck::fft::rfft2", plan.h, plan.w, row0, col0, rows, cols);
    if (batch <= 0) return;
    T* ws = detail::thread_scratch<T>(plan.workspace);
#if CK_FFT_HAVE_AVX2
    if (detail::use_avx2()) {
        detail::avx2::rfft2_batch<T>(plan, batch, x, x_batch_stride, x_row_stride, row0, col0,
                                     rows, cols, spec_re, spec_im, spec_batch_stride, ws);
        return;
    }
#endif
    detail::baseline::rfft2_batch<T>(plan, batch, x, x_batch_stride, x_row_stride, row0, col0,
                                     rows, cols, spec_re, spec_im, spec_batch_stride, ws);
}

template <typename T>
void irfft2(const Plan2D<T>& plan, int batch,
            const T* spec_re, const T* spec_im, std::ptrdiff_t spec_batch_stride,
            T* y, std::ptrdiff_t y_batch_stride, std::ptrdiff_t y_row_stride,
            int row0, int col0, int rows, int cols,
            T scale, bool accumulate) {
    check_window("ck::fft::irfft2", plan.h, plan.w, row0, col0, rows, cols);
    if (batch <= 0 || rows == 0 || cols == 0) return;
    T* ws = detail::thread_scratch<T>(plan.workspace);
#if CK_FFT_HAVE_AVX2
    if (detail::use_avx2()) {
        detail::avx2::irfft2_batch<T>(plan, batch, spec_re, spec_im, spec_batch_stride, y,
                                      y_batch_stride, y_row_stride, row0, col0, rows, cols,
                                      scale, accumulate, ws);
        return;
    }
#endif
    detail::baseline::irfft2_batch<T>(plan, batch, spec_re, spec_im, spec_batch_stride, y,
                                      y_batch_stride, y_row_stride, row0, col0, rows, cols,
                                      scale, accumulate, ws);
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
