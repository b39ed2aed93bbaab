// fft_plan.hpp - internal: the plans of the FFT core (1-D complex factorisations and their twiddles, the
// 2-D real plan and its strategy) and the table of one ISA's batched kernels (fft_kernels.hpp, compiled by
// fft_scalar.cpp, fft_avx2.cpp and fft_avx512.cpp; see isa_dispatch.hpp). Plans are made by fft.cpp, then
// only read.
#pragma once

#include <algorithm>  // (also for fft_kernels.hpp, which includes no headers itself)
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fft.hpp"

#if defined(__GNUC__) || defined(__clang__)
#define CK_RESTRICT __restrict__
#else
#define CK_RESTRICT
#endif

namespace ck {
namespace fft {

namespace detail {

// Lanes per vector of VBytes bytes: 32 (one AVX register, two SSE registers; the scalar and AVX2 kernels)
// or 64 (one AVX-512 register).
template <typename T, int VBytes = 32> struct Lanes { static constexpr int L = (int)(VBytes / sizeof(T)); };
// The most lanes of any ISA's kernels: a plan's workspace holds what the widest needs.
template <typename T> constexpr int kMaxLanes = Lanes<T, 64>::L;

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

    void init(int n_);  // factorise n_ and compute the twiddles (fft.cpp)
};

}  // namespace detail

// ----------------------------------------------------------------------------
// 2-D real plan

template <typename T>
struct Plan2D {
    int h = 0, w = 0, wc = 0;       // tile h x w, spectrum h x wc
    bool tile_lanes = false;        // strategy (fft.cpp; decided for 32-byte lanes, whatever the ISA)
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

// One ISA's batched 2-D transforms (arguments as in fft.hpp, already checked; ws holds plan.workspace
// elements of scratch).
template <typename T>
using Rfft2Batch = void (*)(const Plan2D<T>& P, int batch, const T* x, std::ptrdiff_t xbs, std::ptrdiff_t xrs,
                            int row0, int col0, int rows, int cols, T* spec_re, T* spec_im, std::ptrdiff_t sbs,
                            T* ws);
template <typename T>
using Irfft2Batch = void (*)(const Plan2D<T>& P, int batch, const T* spec_re, const T* spec_im,
                             std::ptrdiff_t sbs, T* y, std::ptrdiff_t ybs, std::ptrdiff_t yrs, int row0, int col0,
                             int rows, int cols, T scale, bool accumulate, T* ws);

struct FftKernels {
  Rfft2Batch<float> rfft2_f32;
  Rfft2Batch<double> rfft2_f64;
  Irfft2Batch<float> irfft2_f32;
  Irfft2Batch<double> irfft2_f64;
};

// nullptr when the file was compiled without its ISA's flags.
const FftKernels* fft_kernels_scalar();
const FftKernels* fft_kernels_avx2();
const FftKernels* fft_kernels_avx512();

}  // namespace detail
}  // namespace fft
}  // namespace ck
