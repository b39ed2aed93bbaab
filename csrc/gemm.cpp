// gemm.cpp: the GEMM driver: threads, cache blocking, packing of A and B, and the calls into the active
// ISA's micro-kernel (gemm_kernels.hpp). Compiled with the generic flags (SSE2 at most).
//
// C[M x N] (+)= A[M x K] · B[K x N], row-major. Each task (a block C[m0:m1, n0:n1], see "Threads") runs
// BLIS's loop nest with its own packing buffers, so that threads share no packed panel and never wait:
//
//   for jc in [n0, n1) step NC             B block of NC columns
//     for pc in [0, K) step KC              depth block
//       for ic in [m0, m1) step MC          A block
//         pack A[ic:+MC, pc:+KC]             -> MC x KC in MR-tall micro-panels (L2)
//         for jr in [0, NC) step NR          one B strip, KC x NR, stays in L1 ...
//           (first ic only: pack B[pc:+KC, jc+jr:+NR] into the KC x NC block (L3), kPackStrips
//            strips per call of the BPacker, just before their first use)
//           for ir in [0, MC) step MR        ... while the A micro-panels stream past it from L2
//             micro-kernel: C[ic+ir:+MR, jc+jr:+NR] (+)= A panel · B strip
//
// The first depth block writes C (or adds to it when accumulate), later ones add. Block sizes are evened out
// (K = 300 with KC = 256 runs as two blocks of 150) so that no block is a thin remainder. A small plain B
// with few rows of A to serve is read in place instead of packed; a narrow B (N <= NC) whose C is split by
// rows between threads is packed once and shared (gemm_shared_b).
#include "gemm.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>  // SSE2 only: the x86-64 baseline, safe in this generic file
#define CK_GEMM_SSE2 1
#endif

#include "cpu_features.hpp"
#include "isa_dispatch.hpp"
#include "threads.hpp"
#include "gemm_kernels.hpp"
#include "workspace.hpp"

namespace ck {
namespace {

using gemm_detail::KernelSet;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Splits `total` into ceil(total / max_block) near-equal blocks, each a multiple of `align`.
int64_t even_block(int64_t total, int64_t max_block, int64_t align) {
  if (total <= 0) return align;
  const int64_t blocks = ceil_div(total, max_block);
  return std::min(max_block, round_up(ceil_div(total, blocks), align));
}

// ---------------------------------------------------------------------------------------------------------
// Tuning constants (measured on Zen 3; the per-ISA block sizes live with their kernels)

// B strips packed per call of the BPacker while the first A block is multiplied: 4 beat 1, 16 and "the
// whole KC x NC block at once" on the shapes of the benchmark (fewer misses in flight per call, or the
// packed strips cold again by their first use).
constexpr int64_t kPackStrips = 4;

// Reading a plain B in place instead of packing it: when each B strip serves at most kInPlaceMaxRows rows
// of A and B (K x N) takes at most kInPlaceMaxBytes, so that it sits in L2/L3 (from DRAM, reading rows at
// stride ldb defeats the prefetchers and packing wins). 16 x 400 x 150 float: +25%; 64 x 12544 x 576: -12%.
// Nor when B's row stride is a multiple of kInPlaceBadStride bytes: the KC rows of a strip then fall into
// so few L1 sets that they evict each other (32 x 1024 x 288 float, stride 4 KiB: -25%).
constexpr int64_t kInPlaceMaxRows = 64;
constexpr double kInPlaceMaxBytes = 2 << 20;
constexpr int64_t kInPlaceBadStride = 128;

// Threads: below kMinMacsPerThread multiply-adds per thread, waking a team costs more than it gains. Each
// thread's block of columns is cut into up to kTasksPerThread tasks of at least kMinTaskCols columns,
// handed out dynamically, so that a thread slowed down by another process on its core takes fewer of them.
constexpr double kMinMacsPerThread = 96.0 * 96 * 96;
constexpr int64_t kTasksPerThread = 4;
constexpr int64_t kMinTaskCols = 256;

// Shared packed B (see gemm_shared_b): at most kSharedMaxBytes of it, bands of at least kSharedMinBand
// micro-panels of rows.
constexpr double kSharedMaxBytes = 16 << 20;
constexpr int64_t kSharedMinBand = 4;

// ---------------------------------------------------------------------------------------------------------
// Kernel selection

template <typename T>
const KernelSet<T>& kernels_of(const gemm_detail::GemmKernels& k);
template <>
const KernelSet<float>& kernels_of<float>(const gemm_detail::GemmKernels& k) {
  return k.f32;
}
template <>
const KernelSet<double>& kernels_of<double>(const gemm_detail::GemmKernels& k) {
  return k.f64;
}

// The active ISA's kernels (isa_dispatch.hpp).
template <typename T>
const KernelSet<T>& active_kernels(Isa* used) {
  using namespace gemm_detail;
  return kernels_of<T>(isa_table<GemmKernels>({gemm_kernels_scalar(), gemm_kernels_avx2(), gemm_kernels_avx512()}, used));
}

// A hint to bring the cache line holding base[offset] into L1. The address is formed as an integer: it may
// lie past the end of the array (a prefetch never faults), where pointer arithmetic would be undefined.
template <typename T>
void prefetch(const T* base, int64_t offset) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(base) + uintptr_t(offset * int64_t(sizeof(T)));
  const void* p = reinterpret_cast<const void*>(address);
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p);
#elif defined(CK_GEMM_SSE2)
  _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0);
#else
  (void)p;
#endif
}

// ---------------------------------------------------------------------------------------------------------
// Packing of A: rows [0, mc) x depth [0, kc) of A (top-left at `A`) into ceil(mc / MR) micro-panels,
// panel r holding a[p * MR + i] = A(r * MR + i, p), rows past mc zero.

// One full panel (MR rows) with plain loops: p-major stores, MR loads from MR row streams.
template <typename T, int MR>
void pack_a_panel(int64_t kc, const T* a, int64_t lda, T* out) {
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < MR; ++i) out[p * MR + i] = a[i * lda + p];
  }
}

#ifdef CK_GEMM_SSE2
// The same with SSE2 (the x86-64 baseline): 4 x 4 float blocks (2 x 2 double) transposed in registers, so
// a row of A is read 16 bytes at a time instead of one element at a time.
template <int MR>  // MR = 4q or 4q + 2
void pack_a_panel_sse2(int64_t kc, const float* a, int64_t lda, float* out) {
  int64_t p = 0;
  for (; p + 4 <= kc; p += 4) {
    float* o = out + p * MR;
    if (p % 16 == 0) {  // the next panel's rows, a line each
      for (int i = MR; i < 2 * MR; ++i) prefetch(a, i * lda + p);
    }
    for (int g = 0; g + 4 <= MR; g += 4) {  // rows g .. g+3
      __m128 r0 = _mm_loadu_ps(a + (g + 0) * lda + p), r1 = _mm_loadu_ps(a + (g + 1) * lda + p);
      __m128 r2 = _mm_loadu_ps(a + (g + 2) * lda + p), r3 = _mm_loadu_ps(a + (g + 3) * lda + p);
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);  // r<j> now holds column p + j of those rows
      _mm_storeu_ps(o + 0 * MR + g, r0);
      _mm_storeu_ps(o + 1 * MR + g, r1);
      _mm_storeu_ps(o + 2 * MR + g, r2);
      _mm_storeu_ps(o + 3 * MR + g, r3);
    }
    if constexpr (MR % 4 == 2) {  // the last two rows
      const __m128 x = _mm_loadu_ps(a + (MR - 2) * lda + p), y = _mm_loadu_ps(a + (MR - 1) * lda + p);
      const __m128 lo = _mm_unpacklo_ps(x, y), hi = _mm_unpackhi_ps(x, y);  // x0 y0 x1 y1, x2 y2 x3 y3
      _mm_storel_pi(reinterpret_cast<__m64*>(o + 0 * MR + MR - 2), lo);
      _mm_storeh_pi(reinterpret_cast<__m64*>(o + 1 * MR + MR - 2), lo);
      _mm_storel_pi(reinterpret_cast<__m64*>(o + 2 * MR + MR - 2), hi);
      _mm_storeh_pi(reinterpret_cast<__m64*>(o + 3 * MR + MR - 2), hi);
    }
  }
  for (; p < kc; ++p) {
    for (int i = 0; i < MR; ++i) out[p * MR + i] = a[i * lda + p];
  }
}

template <int MR>  // MR even
void pack_a_panel_sse2(int64_t kc, const double* a, int64_t lda, double* out) {
  int64_t p = 0;
  for (; p + 2 <= kc; p += 2) {
    double* o = out + p * MR;
    if (p % 8 == 0) {  // the next panel's rows, a line each
      for (int i = MR; i < 2 * MR; ++i) prefetch(a, i * lda + p);
    }
    for (int g = 0; g < MR; g += 2) {  // rows g, g+1
      const __m128d x = _mm_loadu_pd(a + g * lda + p), y = _mm_loadu_pd(a + (g + 1) * lda + p);
      _mm_storeu_pd(o + g, _mm_unpacklo_pd(x, y));
      _mm_storeu_pd(o + MR + g, _mm_unpackhi_pd(x, y));
    }
  }
  for (; p < kc; ++p) {
    for (int i = 0; i < MR; ++i) out[p * MR + i] = a[i * lda + p];
  }
}

template <>
void pack_a_panel<float, 4>(int64_t kc, const float* a, int64_t lda, float* out) {
  pack_a_panel_sse2<4>(kc, a, lda, out);
}
template <>
void pack_a_panel<double, 4>(int64_t kc, const double* a, int64_t lda, double* out) {
  pack_a_panel_sse2<4>(kc, a, lda, out);
}
template <>
void pack_a_panel<float, 6>(int64_t kc, const float* a, int64_t lda, float* out) {
  pack_a_panel_sse2<6>(kc, a, lda, out);
}
template <>
void pack_a_panel<float, 14>(int64_t kc, const float* a, int64_t lda, float* out) {
  pack_a_panel_sse2<14>(kc, a, lda, out);
}
template <>
void pack_a_panel<double, 6>(int64_t kc, const double* a, int64_t lda, double* out) {
  pack_a_panel_sse2<6>(kc, a, lda, out);
}
template <>
void pack_a_panel<double, 14>(int64_t kc, const double* a, int64_t lda, double* out) {
  pack_a_panel_sse2<14>(kc, a, lda, out);
}
#endif

template <typename T, int MR>
void pack_a_fixed(int64_t mc, int64_t kc, const T* A, int64_t lda, T* out) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR, out += kc * MR) {
    const T* a = A + i0 * lda;
    const int64_t rows = std::min<int64_t>(MR, mc - i0);
    if (rows == MR) {
      pack_a_panel<T, MR>(kc, a, lda, out);
    } else {  // bottom edge of A: zero rows below it
      for (int64_t p = 0; p < kc; ++p) {
        for (int i = 0; i < MR; ++i) out[p * MR + i] = i < rows ? a[i * lda + p] : T(0);
      }
    }
  }
}

template <typename T>
void pack_a(int64_t mr, int64_t mc, int64_t kc, const T* A, int64_t lda, T* out) {
  switch (mr) {
    case 4: return pack_a_fixed<T, 4>(mc, kc, A, lda, out);
    case 6: return pack_a_fixed<T, 6>(mc, kc, A, lda, out);
    case 8: return pack_a_fixed<T, 8>(mc, kc, A, lda, out);
    case 12: return pack_a_fixed<T, 12>(mc, kc, A, lda, out);
    case 14: return pack_a_fixed<T, 14>(mc, kc, A, lda, out);
    default: break;
  }
  for (int64_t i0 = 0; i0 < mc; i0 += mr, out += kc * mr) {
    const int64_t rows = std::min(mr, mc - i0);
    for (int64_t p = 0; p < kc; ++p) {
      for (int64_t i = 0; i < mr; ++i) out[p * mr + i] = i < rows ? A[(i0 + i) * lda + p] : T(0);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Packing of a row-major B (MatrixBPacker): row by row, each row's NR-wide pieces to their strips.

template <typename T, int NR>
void pack_b_fixed(const T* B, int64_t ldb, int64_t kc, int64_t nc, T* panel) {
  const int64_t full = nc / NR, rest = nc % NR;
  for (int64_t p = 0; p < kc; ++p) {
    const T* src = B + p * ldb;
    T* dst = panel + p * NR;
    for (int64_t s = 0; s < full; ++s) std::memcpy(dst + s * kc * NR, src + s * NR, NR * sizeof(T));
    if (rest) {
      T* d = dst + full * kc * NR;
      const T* sr = src + full * NR;
      for (int j = 0; j < NR; ++j) d[j] = j < rest ? sr[j] : T(0);
    }
    // The same row's next nc columns: the next chunk the driver will ask for.
    for (int64_t j = nc; j < 2 * nc; j += 64 / sizeof(T)) prefetch(src, j);
  }
}

}  // namespace

template <typename T>
void MatrixBPacker<T>::pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, int64_t nr, T* panel) const {
  const T* B = B_ + k0 * ldb_ + n0;
  switch (nr) {
    case 4: return pack_b_fixed<T, 4>(B, ldb_, kc, nc, panel);
    case 8: return pack_b_fixed<T, 8>(B, ldb_, kc, nc, panel);
    case 16: return pack_b_fixed<T, 16>(B, ldb_, kc, nc, panel);
    case 32: return pack_b_fixed<T, 32>(B, ldb_, kc, nc, panel);
    default: break;
  }
  for (int64_t p = 0; p < kc; ++p) {
    for (int64_t j = 0; j < round_up(nc, nr); ++j) {
      panel[packed_b_offset(p, j, kc, nr)] = j < nc ? B[p * ldb_ + j] : T(0);
    }
  }
}

namespace {

// ---------------------------------------------------------------------------------------------------------
// The blocked loop nest of one task, over C[m0:m1, n0:n1] (see the top of the file).

template <typename T>
struct Plan {
  const KernelSet<T>* ks;
  int64_t K, kc;      // depth, and its (evened) block
  int64_t mc_max;     // A-block rows the workspace holds (multiple of MR)
  int64_t nc_max;     // B-block columns the workspace holds (multiple of NR)
  const T* B;         // B read in place by the micro-kernel (nullptr: pack it)
  int64_t ldb;
};

template <typename T>
void gemm_thread_block(const Plan<T>& plan, int64_t m0, int64_t m1, int64_t n0, int64_t n1, const T* A,
                       int64_t lda, const BPacker<T>& packB, T* C, int64_t ldc, bool accumulate, T* abuf,
                       T* bbuf) {
  const KernelSet<T>& ks = *plan.ks;
  const int64_t MR = ks.mr, NR = ks.nr;
  const int64_t nc_blk = even_block(n1 - n0, plan.nc_max, NR);
  const int64_t mc_blk = even_block(m1 - m0, plan.mc_max, MR);
  // B is packed while the first A block is multiplied, kPackStrips strips at a time, each chunk used at
  // once while it is still in L1/L2 (as OpenBLAS does): the packing's memory traffic overlaps the FMAs.
  const int64_t chunk = kPackStrips * NR;
  for (int64_t jc = n0; jc < n1; jc += nc_blk) {
    const int64_t nc = std::min(nc_blk, n1 - jc);
    for (int64_t pc = 0; pc < plan.K; pc += plan.kc) {
      const int64_t kc = std::min(plan.kc, plan.K - pc);
      const bool add = accumulate || pc > 0;
      if (plan.B) {
        // B in place: full strips straight from memory, a last partial strip packed (zero-padded).
        if (nc % NR) packB.pack(pc, kc, jc + nc / NR * NR, nc % NR, NR, bbuf);
        for (int64_t ic = m0; ic < m1; ic += mc_blk) {
          const int64_t mc = std::min(mc_blk, m1 - ic);
          pack_a(MR, mc, kc, A + ic * lda + pc, lda, abuf);
          for (int64_t jr = 0; jr < nc; jr += NR) {
            const int64_t n = std::min(NR, nc - jr);
            const T* b = n == NR ? plan.B + pc * plan.ldb + jc + jr : bbuf;
            const int64_t ldb = n == NR ? plan.ldb : NR;
            for (int64_t ir = 0; ir < mc; ir += MR) {
              ks.kernel(kc, abuf + (ir / MR) * kc * MR, b, ldb, C + (ic + ir) * ldc + jc + jr, ldc,
                        std::min(MR, mc - ir), n, add);
            }
          }
        }
        continue;
      }
      for (int64_t ic = m0; ic < m1; ic += mc_blk) {
        const int64_t mc = std::min(mc_blk, m1 - ic);
        pack_a(MR, mc, kc, A + ic * lda + pc, lda, abuf);
        for (int64_t j0 = 0; j0 < nc; j0 += chunk) {
          const int64_t j1 = std::min(nc, j0 + chunk);
          if (ic == m0) packB.pack(pc, kc, jc + j0, j1 - j0, NR, bbuf + (j0 / NR) * kc * NR);
          for (int64_t jr = j0; jr < j1; jr += NR) {
            const T* b = bbuf + (jr / NR) * kc * NR;
            const int64_t n = std::min(NR, nc - jr);
            for (int64_t ir = 0; ir < mc; ir += MR) {
              ks.kernel(kc, abuf + (ir / MR) * kc * MR, b, NR, C + (ic + ir) * ldc + jc + jr, ldc,
                        std::min(MR, mc - ir), n, add);
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Threads
//
// C is split into a tm x tn grid of MR/NR-aligned blocks, one per thread, the grid chosen by a cost model;
// the blocks' columns are then cut into tasks handed out dynamically (see the tuning constants). When the
// grid splits the rows of a narrow B instead, the threads share one packed B (gemm_shared_b).

// A tm x tn grid of thread blocks over C. The estimate charges each thread its padded micro-tiles plus its
// packing (one packed element costs about as much as kPackCost multiply-adds), and takes the slowest thread.
struct Grid {
  int tm = 1, tn = 1;
};

Grid choose_grid(int64_t M, int64_t N, int64_t K, int64_t MR, int64_t NR, int64_t NC, int threads) {
  constexpr double kPackCost = 16.0;
  const int64_t tiles_m = ceil_div(M, MR), tiles_n = ceil_div(N, NR);
  Grid best;
  double best_cost = -1;
  for (int tm = 1; tm <= threads; ++tm) {
    if (threads % tm) continue;
    const int tn = threads / tm;
    if (tm > tiles_m || tn > tiles_n) continue;
    const double rows = double(ceil_div(tiles_m, tm) * MR), cols = double(ceil_div(tiles_n, tn) * NR);
    const double packing = double(K) * (cols + rows * double(ceil_div(int64_t(cols), NC)));
    const double cost = rows * cols * double(K) + kPackCost * packing;
    if (best_cost < 0 || cost < best_cost) best_cost = cost, best = {tm, tn};
  }
  return best;
}

// Tile-aligned piece `i` of `parts` of [0, extent): the tiles are split as evenly as whole tiles allow.
void split_range(int64_t extent, int64_t tile, int parts, int i, int64_t* lo, int64_t* hi) {
  const int64_t tiles = ceil_div(extent, tile);
  *lo = std::min(extent, tiles * i / parts * tile);
  *hi = std::min(extent, tiles * (i + 1) / parts * tile);
}

// Runs body(thread) on a team of `threads`, gathering exceptions; rethrows the first once all have stopped.
template <typename Body>
void parallel_region(int threads, const Body& body) {
  std::vector<std::exception_ptr> errors(threads);
#pragma omp parallel num_threads(threads)
  {
    const int thread = omp_get_thread_num();
    body(thread, errors);
  }
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

// Threads sharing one packed B, for B narrow enough to be packed whole (N <= NC): all threads pack B
// together (each element once), then take bands of rows of C dynamically, each band's A packed by the thread
// that takes it. Saves the second packing of B that splitting the rows of C otherwise costs each thread, and
// balances the load when a core is busy with another process.
template <typename T>
void gemm_shared_b(const KernelSet<T>& ks, int threads, int64_t M, int64_t N, int64_t K, int64_t kc_blk,
                   const T* A, int64_t lda, const BPacker<T>& packB, T* C, int64_t ldc, bool accumulate) {
  const int64_t MR = ks.mr, NR = ks.nr;
  const int64_t n_pad = round_up(N, NR), strips = n_pad / NR;
  const int64_t band =
      std::min(ks.mc, std::max(kSharedMinBand * MR, round_up(ceil_div(M, threads * kTasksPerThread), MR)));
  const int64_t bands = ceil_div(M, band);
  const int64_t depth_blocks = ceil_div(K, kc_blk), chunks = ceil_div(strips, kPackStrips);

  // The packed B, depth block by depth block (the block at depth pc starts at pc * n_pad), then each
  // thread's A band.
  const int64_t b_elems = round_up(K * n_pad, 64), a_elems = round_up(band * kc_blk, 64);
  Workspace<T> workspace(b_elems + a_elems * threads);
  T* bpacked = workspace.get();

  parallel_region(threads, [&](int thread, std::vector<std::exception_ptr>& errors) {
#pragma omp for schedule(dynamic, 1)
    for (int64_t unit = 0; unit < depth_blocks * chunks; ++unit) {
      const int64_t pc = unit / chunks * kc_blk, kc = std::min(kc_blk, K - pc);
      const int64_t s0 = unit % chunks * kPackStrips, s1 = std::min(strips, s0 + kPackStrips);
      if (errors[thread]) continue;
      try {
        packB.pack(pc, kc, s0 * NR, std::min(N, s1 * NR) - s0 * NR, NR, bpacked + pc * n_pad + s0 * kc * NR);
      } catch (...) {
        errors[thread] = std::current_exception();
      }
    }  // implicit barrier: B is packed (or some thread failed)
    for (const auto& e : errors) {
      if (e) return;
    }
    T* abuf = bpacked + b_elems + thread * a_elems;
#pragma omp for schedule(dynamic, 1)
    for (int64_t b = 0; b < bands; ++b) {
      const int64_t m0 = b * band, mc = std::min(band, M - m0);
      for (int64_t pc = 0; pc < K; pc += kc_blk) {
        const int64_t kc = std::min(kc_blk, K - pc);
        pack_a(MR, mc, kc, A + m0 * lda + pc, lda, abuf);
        for (int64_t jr = 0; jr < N; jr += NR) {
          const T* bstrip = bpacked + pc * n_pad + jr * kc;
          for (int64_t ir = 0; ir < mc; ir += MR) {
            ks.kernel(kc, abuf + ir * kc, bstrip, NR, C + (m0 + ir) * ldc + jr, ldc, std::min(MR, mc - ir),
                      std::min(NR, N - jr), accumulate || pc > 0);
          }
        }
      }
    }
  });
}

template <typename T>
void gemm_driver(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const BPacker<T>& packB, T* C,
                 int64_t ldc, bool accumulate, const T* B_in_place, int64_t ldb) {
  if (M < 0 || N < 0 || K < 0) throw std::invalid_argument("gemm: negative dimension");
  if (M == 0 || N == 0) return;
  if (ldc < N || (K > 0 && lda < K)) {
    throw std::invalid_argument("gemm: leading dimension smaller than a row");
  }
  if (K == 0) {  // empty sum
    if (!accumulate) {
      for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, T(0));
    }
    return;
  }

  const KernelSet<T>& ks = active_kernels<T>(nullptr);
  const int64_t MR = ks.mr, NR = ks.nr;

  int threads = omp_in_parallel() ? 1 : std::max(1, num_threads());
  const double macs = double(M) * double(N) * double(K);
  threads = static_cast<int>(std::min<double>(threads, std::max(1.0, macs / kMinMacsPerThread)));
  const int64_t MC = ks.mc, KC = ks.kc, NC = ks.nc;
  const Grid grid = threads > 1 ? choose_grid(M, N, K, MR, NR, NC, threads) : Grid{};
  threads = grid.tm * grid.tn;

  // Tasks: the grid's rows x its blocks' columns cut into up to kTasksPerThread pieces (each piece costs
  // one more packing of its A rows).
  const int64_t cols_per_block = ceil_div(ceil_div(N, NR), grid.tn) * NR;
  const int64_t pieces =
      threads == 1 ? 1 : std::max<int64_t>(1, std::min(kTasksPerThread, cols_per_block / kMinTaskCols));
  const int64_t task_cols = std::min(ceil_div(N, NR), int64_t(grid.tn) * pieces);  // column pieces, all rows
  const int64_t tasks = int64_t(grid.tm) * task_cols;

  Plan<T> plan;
  plan.ks = &ks;
  plan.K = K;
  plan.kc = even_block(K, KC, 1);
  const int64_t rows_per_task = ceil_div(ceil_div(M, MR), grid.tm) * MR;
  plan.mc_max = std::min(MC, rows_per_task);
  plan.nc_max = std::min(NC, ceil_div(ceil_div(N, NR), task_cols) * NR);
  // A plain B is read in place when packing would cost more than it saves (see the tuning constants).
  const bool in_place = B_in_place && rows_per_task <= kInPlaceMaxRows &&
                        double(K) * double(N) * sizeof(T) <= kInPlaceMaxBytes &&
                        ldb * int64_t(sizeof(T)) % kInPlaceBadStride != 0;
  plan.B = in_place ? B_in_place : nullptr;
  plan.ldb = ldb;

  // Narrow B with the rows of C split between threads: share one packed B instead.
  if (threads > 1 && !in_place && N <= NC && grid.tm > 1 &&
      double(K) * double(round_up(N, NR)) * sizeof(T) <= kSharedMaxBytes) {
    gemm_shared_b(ks, threads, M, N, K, plan.kc, A, lda, packB, C, ldc, accumulate);
    return;
  }

  // Per-thread workspace, 64-byte aligned: the A block then the B block.
  const int64_t a_elems = round_up(plan.mc_max * plan.kc, 64), b_elems = round_up(plan.kc * plan.nc_max, 64);
  const int64_t per_thread = a_elems + b_elems;
  Workspace<T> workspace(per_thread * threads);
  T* ws = workspace.get();

  auto run_task = [&](int64_t task, int thread) {
    int64_t m0, m1, n0, n1;
    split_range(M, MR, grid.tm, int(task / task_cols), &m0, &m1);
    split_range(N, NR, int(task_cols), int(task % task_cols), &n0, &n1);
    if (m0 >= m1 || n0 >= n1) return;
    T* abuf = ws + int64_t(thread) * per_thread;
    gemm_thread_block(plan, m0, m1, n0, n1, A, lda, packB, C, ldc, accumulate, abuf, abuf + a_elems);
  };

  if (threads == 1) {
    for (int64_t task = 0; task < tasks; ++task) run_task(task, 0);
    return;
  }
  // The team may be smaller than asked for (OMP_THREAD_LIMIT, OMP_DYNAMIC); the loop copes either way.
  parallel_region(threads, [&](int thread, std::vector<std::exception_ptr>& errors) {
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; ++task) {
      if (errors[thread]) continue;
      try {
        run_task(task, thread);
      } catch (...) {
        errors[thread] = std::current_exception();
      }
    }
  });
}

}  // namespace

template <typename T>
void gemm_packed_b(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const BPacker<T>& packB, T* C,
                   int64_t ldc, bool accumulate) {
  gemm_driver(M, N, K, A, lda, packB, C, ldc, accumulate, static_cast<const T*>(nullptr), 0);
}

template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T* C, int64_t ldc,
          bool accumulate) {
  if (K > 0 && N > 0 && ldb < N) throw std::invalid_argument("gemm: ldb smaller than a row of B");
  gemm_driver(M, N, K, A, lda, MatrixBPacker<T>(B, ldb), C, ldc, accumulate, B, ldb);
}

template <typename T>
GemmBlocking gemm_blocking() {
  Isa used;
  const KernelSet<T>& ks = active_kernels<T>(&used);
  return {ks.mr, ks.nr, ks.mc, ks.kc, ks.nc, isa_name(used)};
}

template <typename T>
GemmMicroKernel<T> gemm_micro_kernel() {
  const KernelSet<T>& ks = active_kernels<T>(nullptr);
  return {ks.mr, ks.nr, ks.kc, ks.kernel};
}

template class MatrixBPacker<float>;
template class MatrixBPacker<double>;
template void gemm<float>(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*,
                          int64_t, bool);
template void gemm<double>(int64_t, int64_t, int64_t, const double*, int64_t, const double*, int64_t, double*,
                           int64_t, bool);
template void gemm_packed_b<float>(int64_t, int64_t, int64_t, const float*, int64_t, const BPacker<float>&,
                                   float*, int64_t, bool);
template void gemm_packed_b<double>(int64_t, int64_t, int64_t, const double*, int64_t, const BPacker<double>&,
                                    double*, int64_t, bool);
template GemmBlocking gemm_blocking<float>();
template GemmBlocking gemm_blocking<double>();
template GemmMicroKernel<float> gemm_micro_kernel<float>();
template GemmMicroKernel<double> gemm_micro_kernel<double>();

}  // namespace ck
