// gemm.cuh: the project's own tiled GEMM on CUDA (no cuBLAS), for the im2col convolution and its gradients
// (cuda/conv2d_im2col.cu):
//
//   C = alpha * op(A) * op(B) + beta * C  (+ bias[m] on every column of row m, when bias is given)
//
// op(A) is M x K and op(B) K x N, each either the stored row-major matrix itself (Op::N) or the transpose
// of the stored one (Op::T); C is M x N row-major; lda, ldb, ldc are the stored rows' lengths. The forms a
// convolution takes: NN (forward: w * col), TN (data gradient: w^T * gy), NT (weight gradient: gy * col^T).
// beta == 0 never reads C (which may hold garbage), as in BLAS.
//
// Batches (GemmBatch): blockIdx.z runs over `count` products, item z = outer * inner + i (e.g. i the group,
// outer the image), each operand X starting at X + outer * X_outer + i * X_inner. A product may also be a
// sum of `terms` products in a fixed order (t = 0, 1, ...: term t reads A + t * a_term and B + t * b_term):
// one GEMM whose inner dimension runs over terms * K, without atomics and without reordering, so results
// are deterministic (the weight gradient's sum over images).
//
// The kernel: a block computes one BM x BN tile of C, kThreads = (BM/TM) * (BN/TN) threads each a TM x TN
// micro-tile in registers (rows ty + i*BM/TM, columns tx + j*BN/TN: a warp reads consecutive shared columns
// of B and broadcasts A, so neither read conflicts, and stores C's rows coalesced). The K dimension goes in
// BK steps through two shared-memory buffers of op(A) and op(B) tiles, stored k-major (As[k][m], Bs[k][n])
// and padded by 2 elements per row (the transposing stores of a k-contiguous operand then hit distinct
// banks): while a step computes from one buffer, the threads hold the next step's tile in registers
// (global loads in flight during the FMAs) and store it into the other buffer, one __syncthreads per step.
// Loads are bounds-checked against M, N, K and zero-filled, so any sizes work; consecutive threads
// load consecutive elements along the stored operand's contiguous dimension (coalesced). Tiles beyond the grid's
// extent (grid limits) are taken by grid-stride loops.
//
// Configurations (GemmTiles; the launcher picks by shape, see gemm()):
//   float   big 64 x 64, 4x4 per thread, 256 threads    small 16 x 32, 2x2 per thread, 128 threads
//   double  big 32 x 64, 2x4 per thread, 256 threads    small 16 x 32, 2x2 per thread, 128 threads
// all with BK = 16. Split K (deterministic, see gemm()) when the grid is too small for the GPU.
// Registers: __launch_bounds__(kThreads, kMinBlocks) holds every configuration to 64 a thread (50% of an
// SM's warps resident); ptxas (nvcc 13.0) then uses 60-64 on sm_75/80/90, with no spills and no local
// memory. Static shared memory: float big 16896 B, small 6656 B; double big 25600 B, small 13312 B.
// gemm_reduce_kernel: 32 registers (40 double on sm_90).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "cnnkernels/shapes.hpp"
#include "common.cuh"

namespace ck {
namespace cuda {

enum class Op { N, T };  // op(X) = X, or X^T

// The batch of a GEMM launch and the terms of each product (see the header comment). The defaults: one
// product of one term.
struct GemmBatch {
  int count = 1, inner = 1;  // products; item z = outer * inner + i
  int64_t a_outer = 0, a_inner = 0, b_outer = 0, b_inner = 0, c_outer = 0, c_inner = 0;
  int64_t bias_outer = 0, bias_inner = 0;
  int terms = 1;  // each C is the sum over t in [0, terms) of op(A + t*a_term) * op(B + t*b_term)
  int64_t a_term = 0, b_term = 0;
};

// Split-K workspace that a run of GEMM launches on the call's stream share (stream order makes the reuse
// safe): grown through ck::cuda::workspace when a launch needs more.
template <typename T>
struct GemmScratch {
  T* data = nullptr;
  size_t size = 0;
  T* get(size_t count) {
    if (count > size) {
      data = workspace<T>(count);
      size = count;
    }
    return data;
  }
};

// A tile configuration: BM x BN of C per block, BK deep steps, TM x TN per thread.
template <int BM_, int BN_, int BK_, int TM_, int TN_>
struct GemmTile {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
  static constexpr int kThreadsM = BM / TM, kThreadsN = BN / TN, kThreads = kThreadsM * kThreadsN;
  static constexpr int kPad = 2;  // shared rows of BM + 2, BN + 2 elements
  static constexpr int kMinBlocks = 65536 / (64 * kThreads);  // resident blocks an SM at 64 registers a thread
  static_assert(BM % TM == 0 && BN % TN == 0, "micro-tiles must divide the tile");
};

template <typename T>
struct GemmTiles;
template <>
struct GemmTiles<float> {
  using Big = GemmTile<64, 64, 16, 4, 4>;
  using Small = GemmTile<16, 32, 16, 2, 2>;
};
template <>
struct GemmTiles<double> {
  using Big = GemmTile<32, 64, 16, 2, 4>;
  using Small = GemmTile<16, 32, 16, 2, 2>;
};

namespace gemm_detail {

// Thread tid's part of a ROWS x BK tile load of an operand: the elements e = tid + i * THREADS (i < LOADS).
// A k-contiguous operand (A stored M x K, or B stored N x K) takes consecutive k along the threads, the
// other consecutive rows, so that a warp's global loads coalesce. THREADS being a multiple of BK (of ROWS),
// a thread keeps its k (its row) through its loads, the i-th lying i * STEP rows (k) past the first: in the
// stored matrix, i * STEP * ld elements on. So a thread needs one address per operand and step, and one
// bound along STEP's dimension.
template <int ROWS, int BK, int THREADS, bool kKContiguous>
struct TileMap {
  static constexpr int LOADS = ROWS * BK / THREADS;
  static constexpr int STEP = THREADS / (kKContiguous ? BK : ROWS);
  static_assert(THREADS % (kKContiguous ? BK : ROWS) == 0, "a thread's loads must keep their k (row)");
  static_assert(ROWS * BK % THREADS == 0, "tile loads must divide among the threads");
  // The thread's first element: row (m of op(A), n of op(B)) and k within the tile.
  static __device__ __forceinline__ int row(int tid) { return kKContiguous ? tid / BK : tid % ROWS; }
  static __device__ __forceinline__ int k(int tid) { return kKContiguous ? tid % BK : tid / ROWS; }
};

// Loads a thread's elements: element i at p + i * STEP * ld if `inside` and i * STEP < room (zero else),
// walking one address; returns p + LOADS * STEP * ld (for an operand that steps along k: the next step's
// first element, LOADS * STEP being BK).
template <typename T, int LOADS, int STEP>
__device__ __forceinline__ const T* load_tile(const T* p, int ld, bool inside, int room, T (&r)[LOADS]) {
#pragma unroll
  for (int i = 0; i < LOADS; ++i) {
    r[i] = T(0);
    if (inside && i * STEP < room) r[i] = *p;
    p += int64_t(STEP) * ld;
  }
  return p;
}

// Stores them k-major into one shared buffer s[BK][ROWS + pad]: element i at s[k][row + i*STEP] when
// k-contiguous, else at s[k + i*STEP][row].
template <typename T, int ROWS, int PAD, int LOADS, int STEP, bool kKContiguous>
__device__ __forceinline__ void store_tile(T (*s)[ROWS + PAD], int row, int k, const T (&r)[LOADS]) {
  T* base = &s[k][row];
#pragma unroll
  for (int i = 0; i < LOADS; ++i) base[i * STEP * (kKContiguous ? 1 : ROWS + PAD)] = r[i];
}

}  // namespace gemm_detail

// ---------------------------------------------------------------------------------------------------------
// kernel

// Registers: at most 64 a thread (__launch_bounds__ with Tile::kMinBlocks), so that 50% of an SM's warps
// can be resident. The K loop keeps one address per operand (the thread's first element at the next step,
// advanced by BK steps and moved to the next term at the end of a term), the loads' bounds (`room`), the
// step count and the buffer; everything else (the item, split, outputs) is recomputed from blockIdx.z's loop
// index after the loop, in the epilogue.
template <typename T, typename Tile, Op kOpA, Op kOpB>
__global__ void __launch_bounds__(Tile::kThreads, Tile::kMinBlocks)
    gemm_kernel(int M, int N, int K, T alpha, const T* __restrict__ A, int lda, const T* __restrict__ B, int ldb,
                T beta, T* __restrict__ C, int ldc, const T* __restrict__ bias, GemmBatch batch, int splits,
                T* __restrict__ partial) {
  constexpr int BM = Tile::BM, BN = Tile::BN, BK = Tile::BK, TM = Tile::TM, TN = Tile::TN;
  constexpr int kThreads = Tile::kThreads, kPad = Tile::kPad;
  constexpr bool kAContiguous = kOpA == Op::N;  // A stored M x K: k contiguous
  constexpr bool kBContiguous = kOpB == Op::T;  // B stored N x K: k contiguous
  using MapA = gemm_detail::TileMap<BM, BK, kThreads, kAContiguous>;
  using MapB = gemm_detail::TileMap<BN, BK, kThreads, kBContiguous>;
  constexpr int kLoadsA = MapA::LOADS, kLoadsB = MapB::LOADS;
  CK_SHARED(T, As, [2][BK][BM + kPad]);
  CK_SHARED(T, Bs, [2][BK][BN + kPad]);

  const int tid = threadIdx.x;
  const int tx = tid % Tile::kThreadsN, ty = tid / Tile::kThreadsN;
  const int mtiles = (M - 1) / BM + 1, ntiles = (N - 1) / BN + 1;  // M, N >= 1
  const int ktiles = K > 0 ? (K - 1) / BK + 1 : 0;

  // The item loop innermost: what depends on it only (pointers, the split) is not hoisted out of a loop
  // around the K loop, where it would hold registers through it.
  for (int mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {
    for (int nt = blockIdx.x; nt < ntiles; nt += gridDim.x) {
      for (int zs = blockIdx.z; zs < batch.count * splits; zs += gridDim.z) {
        const int m0 = mt * BM, n0 = nt * BN;
        // Item z, and its split's share [s_begin, s_begin + count) of the steps: per_split steps, one more
        // for the first `extra` splits (32-bit division: common.cuh).
        int count, term, k_next;
        {
          const int split = zs / batch.count, steps = ktiles * batch.terms;
          const int per_split = steps / splits, extra = steps - per_split * splits;
          const int s_begin = split * per_split + min(split, extra);
          count = per_split + (split < extra ? 1 : 0);
          term = ktiles > 0 ? s_begin / ktiles : 0;
          k_next = (s_begin - term * ktiles) * BK;  // the next step's depth within its term
        }
        // The thread's first element of the next step's tiles, in A and in B.
        const T* a_next;
        const T* b_next;
        {
          const int z = zs % batch.count, outer = z / batch.inner, inner = z - outer * batch.inner;
          const int ma = m0 + MapA::row(tid), ka = k_next + MapA::k(tid);
          const int nb = n0 + MapB::row(tid), kb = k_next + MapB::k(tid);
          a_next = A + outer * batch.a_outer + inner * batch.a_inner + term * batch.a_term +
                   (kAContiguous ? int64_t(ma) * lda + ka : int64_t(ka) * lda + ma);
          b_next = B + outer * batch.b_outer + inner * batch.b_inner + term * batch.b_term +
                   (kBContiguous ? int64_t(nb) * ldb + kb : int64_t(kb) * ldb + nb);
        }
        // Rows left below the thread's first one (a k-contiguous operand's loads step along rows).
        const int a_rows = M - m0 - MapA::row(tid), b_rows = N - n0 - MapB::row(tid);
        T acc[TM][TN];
#pragma unroll
        for (int i = 0; i < TM; ++i) {
#pragma unroll
          for (int j = 0; j < TN; ++j) acc[i][j] = T(0);
        }
        T ra[kLoadsA], rb[kLoadsB];
        // The next step's tiles: A's, then B's (each into registers, then into a shared buffer), then on to
        // the step after.
        // (An operand stepping along k leaves its address at the next step's.)
        auto load_a = [&]() {
          const int ka = k_next + MapA::k(tid);
          if (kAContiguous) gemm_detail::load_tile<T, kLoadsA, MapA::STEP>(a_next, lda, ka < K, a_rows, ra);
          else a_next = gemm_detail::load_tile<T, kLoadsA, MapA::STEP>(a_next, lda, a_rows > 0, K - ka, ra);
        };
        auto load_b = [&]() {
          const int kb = k_next + MapB::k(tid);
          if (kBContiguous) gemm_detail::load_tile<T, kLoadsB, MapB::STEP>(b_next, ldb, kb < K, b_rows, rb);
          else b_next = gemm_detail::load_tile<T, kLoadsB, MapB::STEP>(b_next, ldb, b_rows > 0, K - kb, rb);
        };
        auto store_a = [&](int buf) {
          gemm_detail::store_tile<T, BM, kPad, kLoadsA, MapA::STEP, kAContiguous>(As[buf], MapA::row(tid),
                                                                                 MapA::k(tid), ra);
        };
        auto store_b = [&](int buf) {
          gemm_detail::store_tile<T, BN, kPad, kLoadsB, MapB::STEP, kBContiguous>(Bs[buf], MapB::row(tid),
                                                                                 MapB::k(tid), rb);
        };
        auto advance = [&]() {
          k_next += BK;
          if (kAContiguous) a_next += BK;
          if (kBContiguous) b_next += BK;
          if (k_next >= K) {  // the term's last step: on to the next term's first
            const int64_t depth = int64_t(k_next);
            k_next = 0;
            a_next += batch.a_term - (kAContiguous ? depth : depth * lda);
            b_next += batch.b_term - (kBContiguous ? depth : depth * ldb);
          }
        };
        // acc += the products of depths [k_begin, k_begin + BK/2) of buffer buf.
        auto multiply = [&](int buf, int k_begin) {
#pragma unroll
          for (int kk = 0; kk < BK / 2; ++kk) {
            const int k = k_begin + kk;
            T a[TM], b[TN];
#pragma unroll
            for (int i = 0; i < TM; ++i) a[i] = As[buf][k][ty + i * Tile::kThreadsM];
#pragma unroll
            for (int j = 0; j < TN; ++j) b[j] = Bs[buf][k][tx + j * Tile::kThreadsN];
#pragma unroll
            for (int i = 0; i < TM; ++i) {
#pragma unroll
              for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
            }
          }
        };
        if (count > 0) {
          load_a();
          store_a(0);
          load_b();
          store_b(0);
          advance();
        }
        __syncthreads();
        // Each step: A's next tile in flight during the first half of the FMAs, B's during the second (half
        // the registers of both at once), stored into the other buffer, which was last read in the previous
        // step: every thread finished that before the barrier that ended it.
        for (int buf = 0; count > 0; --count, buf ^= 1) {
          const bool more = count > 1;
          if (more) load_a();
          multiply(buf, 0);
          if (more) {
            store_a(buf ^ 1);
            load_b();
          }
          multiply(buf, BK / 2);
          if (more) {
            store_b(buf ^ 1);
            advance();
          }
          __syncthreads();
        }
        // The output: C, or with split K this split's M x N slice of `partial` (alpha * op(A) op(B) alone).
        const int split = zs / batch.count, z = zs - split * batch.count;
        T* Cz;
        const T* bias_z = nullptr;
        int ldc_z = N;
        T beta_z = T(0);
        if (splits > 1) {
          Cz = partial + (int64_t(split) * batch.count + z) * M * N;
        } else {
          const int outer = z / batch.inner, inner = z - outer * batch.inner;
          Cz = C + outer * batch.c_outer + inner * batch.c_inner;
          if (bias) bias_z = bias + outer * batch.bias_outer + inner * batch.bias_inner;
          ldc_z = ldc;
          beta_z = beta;
        }
#pragma unroll
        for (int i = 0; i < TM; ++i) {
          const int m = m0 + ty + i * Tile::kThreadsM;
          if (m >= M) continue;
          T* c_row = Cz + int64_t(m) * ldc_z;
          const T b_m = bias_z ? bias_z[m] : T(0);
#pragma unroll
          for (int j = 0; j < TN; ++j) {
            const int n = n0 + tx + j * Tile::kThreadsN;
            if (n >= N) continue;
            T v = alpha * acc[i][j];
            if (beta_z != T(0)) v += beta_z * c_row[n];
            if (bias_z) v += b_m;
            c_row[n] = v;
          }
        }
      }
    }
  }
}

// Split K: C = sum over the splits s = 0, 1, ... in order of partial[s] (+ beta * C + bias), one thread per
// element of the batch's M x N products (items along the grid's y; K splits only for grids of fewer than
// kFillBlocks tiles, so M * N is small).
template <typename T>
__global__ void gemm_reduce_kernel(int M, int N, int splits, const T* __restrict__ partial, T beta,
                                   T* __restrict__ C, int ldc, const T* __restrict__ bias, GemmBatch batch) {
  const int MN = M * N;
  for (int z = blockIdx.y; z < batch.count; z += gridDim.y) {
    const int outer = z / batch.inner, inner = z - outer * batch.inner;
    T* Cz = C + outer * batch.c_outer + inner * batch.c_inner;
    const T* bias_z = bias ? bias + outer * batch.bias_outer + inner * batch.bias_inner : nullptr;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < MN; i += gridDim.x * blockDim.x) {
      const int m = i / N, n = i - m * N;
      T v = T(0);
      for (int s = 0; s < splits; ++s) v += partial[(int64_t(s) * batch.count + z) * MN + i];
      T* c = Cz + int64_t(m) * ldc + n;
      if (beta != T(0)) v += beta * *c;
      if (bias_z) v += bias_z[m];
      *c = v;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// launcher

namespace gemm_detail {

constexpr int kFillBlocks = 256;     // blocks that keep a large GPU busy (a couple per SM)
constexpr int kMinSplitSteps = 8;    // BK-steps per split at least (8 * 16 = 128 deep)
constexpr int kMaxSplits = 32;
constexpr int kMaxSize = (1 << 30) + ((1 << 30) - 256);  // M, N, K: int indices up to a tile past them

// Splits of K for a grid of `blocks` blocks of `steps` steps each: 1 when the grid fills the GPU or the
// products are shallow, else enough to give about kFillBlocks blocks of kMinSplitSteps steps or more.
inline int split_count(int64_t blocks, int64_t steps) {
  if (blocks >= kFillBlocks || steps < 2 * kMinSplitSteps) return 1;
  const int64_t want = (kFillBlocks + blocks - 1) / blocks, most = steps / kMinSplitSteps;
  return int(min64(min64(want, most), kMaxSplits));
}

template <typename T, typename Tile, Op kOpA, Op kOpB>
void launch_gemm(const char* name, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb, T beta,
                 T* C, int ldc, const T* bias, const GemmBatch& batch, GemmScratch<T>* scratch) {
  const int64_t mtiles = (M + Tile::BM - 1) / Tile::BM, ntiles = (N + Tile::BN - 1) / Tile::BN;
  const int64_t steps = (int64_t(K) + Tile::BK - 1) / Tile::BK * batch.terms;
  if (steps >= (int64_t(1) << 31) || M > kMaxSize || N > kMaxSize || K > kMaxSize) {
    throw std::invalid_argument(std::string(name) + ": GEMM too large for int indices");
  }
  const int splits = split_count(mtiles * ntiles * batch.count, steps);
  GemmScratch<T> own;
  T* partial = splits > 1 ? (scratch ? scratch : &own)->get(size_t(splits) * batch.count * M * N) : nullptr;
  const int64_t zs = int64_t(batch.count) * splits;
  const dim3 grid(unsigned(min64(ntiles, 0x7fffffff)), unsigned(min64(mtiles, kMaxGridY)),
                  unsigned(min64(zs, kMaxGridY)));
  launch(name, gemm_kernel<T, Tile, kOpA, kOpB>, grid, dim3(Tile::kThreads), 0, M, N, K, alpha, A, lda, B, ldb,
         beta, C, ldc, bias, batch, splits, partial);
  if (splits > 1) {
    constexpr int kThreads = 256;
    launch(name, gemm_reduce_kernel<T>, plane_grid(int64_t(M) * N, batch.count, kThreads), dim3(kThreads), 0, M, N,
           splits, static_cast<const T*>(partial), beta, C, ldc, bias, batch);
  }
}

}  // namespace gemm_detail

// C = alpha * op(A) * op(B) + beta * C (+ bias[m]), batched (see the header comment); name: for errors. An
// empty C launches nothing; K = 0 gives alpha * 0 + beta * C. The big tile when the product needs more than
// one small tile each way (then it wastes at most half a big tile each way), else the small one (thin
// products: few output channels, or a weight gradient with few taps). A grid too small to fill the GPU
// over deep products (a weight gradient: K/g x (C/g)RS outputs, N*P*Q deep) splits K (split_count): each
// split writes its partial product to workspace (from `scratch` when given: GEMMs in a loop share it) and
// gemm_reduce_kernel sums them in split order, so the result stays deterministic.
template <typename T, Op kOpA, Op kOpB>
void gemm(const char* name, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb, T beta, T* C,
          int ldc, const T* bias = nullptr, const GemmBatch& batch = GemmBatch(), GemmScratch<T>* scratch = nullptr) {
  if (M <= 0 || N <= 0 || batch.count <= 0) return;
  using Big = typename GemmTiles<T>::Big;
  using Small = typename GemmTiles<T>::Small;
  if (M > Small::BM && N > Small::BN) {
    gemm_detail::launch_gemm<T, Big, kOpA, kOpB>(name, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, batch,
                                                 scratch);
  } else {
    gemm_detail::launch_gemm<T, Small, kOpA, kOpB>(name, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, batch,
                                                   scratch);
  }
}

}  // namespace cuda
}  // namespace ck
