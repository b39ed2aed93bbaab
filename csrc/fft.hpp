// cnnkernels/fft.hpp - public interface of the FFT core: batched 2-D real-to-complex
// forward and complex-to-real inverse transforms of same-size tiles (float and double),
// cached immutable plans, and next_fast_size(). Written from scratch (no FFT library).
//
// Sizes. Any h, w >= 1 work. Sizes whose prime factors are 2, 3, 5 are fast (radix-8, 4, 2, 3
// and 5 butterflies); other prime factors fall back to a slow O(p^2) generic butterfly, so
// pad with next_fast_size(). Odd w works but even w is about twice as fast.
//
// Spectrum layout ("planar, frequency-major"). The spectrum of one real h x w tile t has
// h x wc complex bins, wc = w / 2 + 1, the layout of numpy.fft.rfft2(t):
//
//     S[ky][kx] = sum_{y, x} t[y][x] * exp(-2 pi i (ky y / h + kx x / w))
//     ky in [0, h), kx in [0, wc)
//
// stored as two separate planes of h * wc values, row-major with row stride wc:
//
//     re[ky * wc + kx] = Re S[ky][kx],    im[ky * wc + kx] = Im S[ky][kx]
//
// Tile b of a batch uses re + b * spec_batch_stride and im + b * spec_batch_stride (so
// [B][2][h*wc] with im = re + h*wc and stride 2*h*wc, or [2][B][h*wc], both work).
// Frequencies are contiguous, so a per-frequency complex multiply-accumulate over channels
// (FFT convolution) is a plain loop over h * wc frequencies that vectorises without any
// shuffles: out_re += a_re * b_re - a_im * b_im, out_im += a_re * b_im + a_im * b_re, one
// SIMD vector of frequencies at a time (interleaved re/im would need shuffles or addsub).
// Internally the transforms work on their own lane-interleaved buffers (see fft_kernels.hpp)
// and write this layout at the end, so it costs the FFT nothing either way.
//
// Normalisation. rfft2 is unnormalised (like numpy). irfft2 computes the unnormalised
// inverse times `scale`: scale = 1 / (h * w) gives numpy.fft.irfft2(S, s=(h, w)). As in
// numpy, the imaginary parts that a real signal cannot have (those of the bins kx = 0 and
// kx = w/2 after the inverse transform along ky) are ignored.
//
// Threads. Plans are created on first use, cached per (h, w, precision) behind a mutex, never
// modified afterwards and never freed, so a plan reference can be shared by any number of
// threads. rfft2 / irfft2 are reentrant: their scratch memory is a per-thread buffer that
// grows on demand and is kept until the thread exits (at most about one spectrum, 2 h wc
// values, plus 16 MB: e.g. 4.7 MB for float 1024 x 1024, 8.4 MB for 512 x 512). They run
// single-threaded (parallelise over calls, e.g. over tiles or channels). Bad arguments throw
// std::invalid_argument, so check them before an OpenMP parallel region.
//
// Speed. The kernels are compiled once per ISA (isa_dispatch.hpp): the portable "scalar" copy
// (fft_scalar.cpp, SSE2 on x86-64), the AVX2 + FMA one (fft_avx2.cpp) and the AVX-512 one
// (fft_avx512.cpp), chosen by ck::active_isa() (cpu_features.hpp; CNNKERNELS_ISA forces one).
// Batches are fastest in multiples of 8 tiles (float) or 4 tiles (double), 16 and 8 with
// AVX-512: that many tiles are transformed together, one per SIMD lane.
#pragma once

#include <cstddef>

namespace ck {
namespace fft {

// Smallest n' >= n whose only prime factors are 2, 3 and 5 (1 for n <= 1). Throws
// std::invalid_argument for n > 2^30.
int next_fast_size(int n);

// True if n >= 1 and n has no prime factor other than 2, 3 and 5.
bool is_fast_size(int n);

// Number of complex columns of the spectrum of a width-w real tile.
inline int spectrum_cols(int w) { return w / 2 + 1; }

// Opaque, immutable plan for 2-D real transforms of size h x w (twiddles, factorisations,
// strategy). Defined in fft.cpp.
template <typename T> struct Plan2D;

// The cached plan for h x w tiles (h, w >= 1, h * w <= 2^30), created on first use.
// Thread-safe; the reference stays valid until the program exits. Throws
// std::invalid_argument on bad sizes.
template <typename T> const Plan2D<T>& plan_2d(int h, int w);

// Forward 2-D real-to-complex FFT of `batch` tiles.
//
// Tile b (b in [0, batch)) is the h x w real array t_b, read from x without a padded copy:
//
//     t_b[r][c] = xb[(r - row0) * x_row_stride + (c - col0)]
//                     if row0 <= r < row0 + rows and col0 <= c < col0 + cols,
//               = 0   otherwise,
//     with xb = x + b * x_batch_stride,
//
// i.e. a rows x cols window (in units of elements, x pointing at its first element) placed at
// (row0, col0) of an otherwise zero tile. Requires 0 <= row0, 0 <= rows, row0 + rows <= h,
// and the same for columns. Rows of the tile that are entirely zero are skipped.
// The spectrum of t_b is written to (spec_re, spec_im) + b * spec_batch_stride in the layout
// described at the top of this file (h * wc values per plane). x must not overlap the spectra.
template <typename T>
void rfft2(const Plan2D<T>& plan, int batch,
           const T* x, std::ptrdiff_t x_batch_stride, std::ptrdiff_t x_row_stride,
           int row0, int col0, int rows, int cols,
           T* spec_re, T* spec_im, std::ptrdiff_t spec_batch_stride);

// Inverse 2-D complex-to-real FFT of `batch` spectra, writing a cropped window.
//
// With t_b the unnormalised inverse of spectrum b (h x w real, t_b = h * w *
// numpy.fft.irfft2(S_b, s=(h, w))), writes for r in [0, rows), c in [0, cols):
//
//     yb[r * y_row_stride + c]  = scale * t_b[row0 + r][col0 + c]   (accumulate == false)
//     yb[r * y_row_stride + c] += scale * t_b[row0 + r][col0 + c]   (accumulate == true)
//     with yb = y + b * y_batch_stride.
//
// Requires 0 <= row0, 0 <= rows, row0 + rows <= h, and the same for columns. Only the
// rows of t_b inside the window are computed. The spectra are not modified and must not
// overlap y.
template <typename T>
void irfft2(const Plan2D<T>& plan, int batch,
            const T* spec_re, const T* spec_im, std::ptrdiff_t spec_batch_stride,
            T* y, std::ptrdiff_t y_batch_stride, std::ptrdiff_t y_row_stride,
            int row0, int col0, int rows, int cols,
            T scale, bool accumulate);

}  // namespace fft
}  // namespace ck
