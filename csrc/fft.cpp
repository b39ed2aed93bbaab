// fft.cpp - the FFT core of cnnkernels (see fft.hpp for the interface): plans
// (factorisation, twiddles, fft_plan.hpp) and their thread-safe cache, and the entry points,
// which run the active ISA's lane-vectorised 1-D complex and real transforms and the two
// batched 2-D strategies (fft_kernels.hpp, compiled per ISA by fft_scalar.cpp, fft_avx2.cpp
// and fft_avx512.cpp). Explicit float and double instantiations at the end.
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

#include "fft_plan.hpp"
#include "isa_dispatch.hpp"

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

template <typename T>
void Plan1D<T>::init(int n_) {
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

template struct Plan1D<float>;
template struct Plan1D<double>;

// The active ISA's kernels (isa_dispatch.hpp), asked on every call: the active ISA may change at run time.
static const FftKernels& kernels() {
    return isa_table<FftKernels>({fft_kernels_scalar(), fft_kernels_avx2(), fft_kernels_avx512()});
}

template <typename T>
static Rfft2Batch<T> rfft2_kernel() {
    if constexpr (sizeof(T) == 4) return kernels().rfft2_f32;
    else return kernels().rfft2_f64;
}

template <typename T>
static Irfft2Batch<T> irfft2_kernel() {
    if constexpr (sizeof(T) == 4) return kernels().irfft2_f32;
    else return kernels().irfft2_f64;
}

}  // namespace detail

// ----------------------------------------------------------------------------
// Plan creation and cache

template <typename T>
static std::unique_ptr<Plan2D<T>> make_plan_2d(int h, int w) {
    constexpr int L = detail::Lanes<T>::L, Lmax = detail::kMaxLanes<T>;
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
    // 1024 x 1024 in double and tie in float. (One decision for every ISA, with 32-byte lanes:
    // the convolution's planner mirrors it.)
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
    // Workspace (elements of T), as laid out in fft_kernels.hpp, for the widest kernels' lanes.
    // scratch: r2c/c2r_lanes need 8 w L, cfft_lanes 4 n L.
    const std::size_t scratch = std::max(8 * ws * Lmax, 4 * hs * Lmax);
    const std::size_t tiles = hs * wcs * 2 * Lmax + ws * Lmax + scratch;
    const std::size_t rowcol = 2 * hs * wcs + ws * Lmax + wcs * 2 * Lmax + 2 * hs * 2 * Lmax + scratch;
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
    detail::rfft2_kernel<T>()(plan, batch, x, x_batch_stride, x_row_stride, row0, col0, rows, cols,
                              spec_re, spec_im, spec_batch_stride, ws);
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
    detail::irfft2_kernel<T>()(plan, batch, spec_re, spec_im, spec_batch_stride, y, y_batch_stride,
                               y_row_stride, row0, col0, rows, cols, scale, accumulate, ws);
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
