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
// ptxas (nvcc 13.0, sm_90) registers NN / TN / NT and static shared memory; no spills, no local memory on
// sm_75/80/90 (sm_75/80 take up to 126 registers, within the 128 that two 256-thread blocks per SM allow):
//   float big     96 / 80 / 72, 16896 B       float small   64 / 64 / 64,  6656 B
//   double big    80 / 78 / 70, 25600 B       double small  77 / 66 / 78, 13312 B
//   gemm_reduce_kernel: float 32, double 40
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
  static constexpr int kLoadsA = BM * BK / kThreads, kLoadsB = BN * BK / kThreads;  // per thread and step
  static_assert(BM % TM == 0 && BN % TN == 0, "micro-tiles must divide the tile");
  static_assert(BM * BK % kThreads == 0 && BN * BK % kThreads == 0, "tile loads must divide among the threads");
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

// Element e of a ROWS x BK tile load (e = thread + i * THREADS): its row (m of op(A), n of op(B)) and k.
// A k-contiguous operand (A stored M x K, or B stored N x K) takes consecutive k along the threads, the
// other consecutive rows, so that a warp's global loads coalesce.
template <int ROWS, int BK, bool kKContiguous>
__device__ __forceinline__ void tile_coord(int e, int* row, int* k) {
  if (kKContiguous) {
    *k = e % BK;
    *row = e / BK;
  } else {
    *row = e % ROWS;
    *k = e / ROWS;
  }
}

// Loads this thread's elements of the ROWS x BK tile at (row0, k0) of an operand of rows x K (zero outside).
// Element (row, k) is at x[row * ld + k] when k-contiguous, else at x[k * ld + row].
template <typename T, int ROWS, int BK, int LOADS, int THREADS, bool kKContiguous>
__device__ __forceinline__ void load_tile(const T* __restrict__ x, int ld, int rows, int K, int row0, int k0,
                                          int tid, T (&r)[LOADS]) {
#pragma unroll
  for (int i = 0; i < LOADS; ++i) {
    int row, k;
    tile_coord<ROWS, BK, kKContiguous>(tid + i * THREADS, &row, &k);
    const int gr = row0 + row, gk = k0 + k;
    r[i] = T(0);
    if (gr < rows && gk < K) r[i] = kKContiguous ? x[int64_t(gr) * ld + gk] : x[int64_t(gk) * ld + gr];
  }
}

// Stores them k-major into one shared buffer s[BK][ROWS + pad].
template <typename T, int ROWS, int BK, int LOADS, int THREADS, bool kKContiguous, int PAD>
__device__ __forceinline__ void store_tile(T (*s)[ROWS + PAD], int tid, const T (&r)[LOADS]) {
#pragma unroll
  for (int i = 0; i < LOADS; ++i) {
    int row, k;
    tile_coord<ROWS, BK, kKContiguous>(tid + i * THREADS, &row, &k);
    s[k][row] = r[i];
  }
}

}  // namespace gemm_detail

// ---------------------------------------------------------------------------------------------------------
// kernel

template <typename T, typename Tile, Op kOpA, Op kOpB>
__global__ void gemm_kernel(int M, int N, int K, T alpha, const T* __restrict__ A, int lda,
                            const T* __restrict__ B, int ldb, T beta, T* __restrict__ C, int ldc,
                            const T* __restrict__ bias, GemmBatch batch, int splits, T* __restrict__ partial) {
  constexpr int BM = Tile::BM, BN = Tile::BN, BK = Tile::BK, TM = Tile::TM, TN = Tile::TN;
  constexpr int kThreads = Tile::kThreads, kLoadsA = Tile::kLoadsA, kLoadsB = Tile::kLoadsB;
  constexpr bool kAContiguous = kOpA == Op::N;  // A stored M x K: k contiguous
  constexpr bool kBContiguous = kOpB == Op::T;  // B stored N x K: k contiguous
  CK_SHARED(T, As, [2][BK][BM + Tile::kPad]);
  CK_SHARED(T, Bs, [2][BK][BN + Tile::kPad]);

  const int tid = threadIdx.x;
  const int tx = tid % Tile::kThreadsN, ty = tid / Tile::kThreadsN;
  const int mtiles = (M - 1) / BM + 1, ntiles = (N - 1) / BN + 1;  // M, N >= 1
  const int ktiles = K > 0 ? (K - 1) / BK + 1 : 0, steps = ktiles * batch.terms;
  // Split s takes per_split steps, one more for the first extra_steps splits (32-bit division: common.cuh).
  const int per_split = steps / splits, extra_steps = steps - per_split * splits;

  for (int zs = blockIdx.z; zs < batch.count * splits; zs += gridDim.z) {
    // Item z, and its split's share [s_begin, s_end) of the steps.
    const int split = zs / batch.count, z = zs - split * batch.count;
    const int s_begin = split * per_split + min(split, extra_steps);
    const int s_end = s_begin + per_split + (split < extra_steps ? 1 : 0);
    const int outer = z / batch.inner, inner = z - outer * batch.inner;
    const T* Az = A + outer * batch.a_outer + inner * batch.a_inner;
    const T* Bz = B + outer * batch.b_outer + inner * batch.b_inner;
    // The output: C, or with split K this split's M x N slice of `partial` (alpha * op(A) op(B) alone).
    T* Cz = C + outer * batch.c_outer + inner * batch.c_inner;
    const T* bias_z = bias ? bias + outer * batch.bias_outer + inner * batch.bias_inner : nullptr;
    int ldc_z = ldc;
    T beta_z = beta;
    if (splits > 1) {
      Cz = partial + (int64_t(split) * batch.count + z) * M * N;
      ldc_z = N;
      beta_z = T(0);
      bias_z = nullptr;
    }
    for (int mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {
      for (int nt = blockIdx.x; nt < ntiles; nt += gridDim.x) {
        const int m0 = mt * BM, n0 = nt * BN;
        T acc[TM][TN];
#pragma unroll
        for (int i = 0; i < TM; ++i) {
#pragma unroll
          for (int j = 0; j < TN; ++j) acc[i][j] = T(0);
        }
        T ra[kLoadsA], rb[kLoadsB];
        // The next step to load: its term's A and B (a_next, b_next) and its depth k_next.
        const int term0 = ktiles > 0 ? s_begin / ktiles : 0;
        const T* a_next = Az + term0 * batch.a_term;
        const T* b_next = Bz + term0 * batch.b_term;
        int k_next = (s_begin - term0 * ktiles) * BK;
        auto load = [&]() {
          gemm_detail::load_tile<T, BM, BK, kLoadsA, kThreads, kAContiguous>(a_next, lda, M, K, m0, k_next, tid, ra);
          gemm_detail::load_tile<T, BN, BK, kLoadsB, kThreads, kBContiguous>(b_next, ldb, N, K, n0, k_next, tid, rb);
          k_next += BK;
          if (k_next >= K) {
            k_next = 0;
            a_next += batch.a_term;
            b_next += batch.b_term;
          }
        };
        auto store = [&](int buf) {
          gemm_detail::store_tile<T, BM, BK, kLoadsA, kThreads, kAContiguous, Tile::kPad>(As[buf], tid, ra);
          gemm_detail::store_tile<T, BN, BK, kLoadsB, kThreads, kBContiguous, Tile::kPad>(Bs[buf], tid, rb);
        };
        if (s_begin < s_end) {
          load();
          store(0);
        }
        __syncthreads();
        for (int s = s_begin; s < s_end; ++s) {
          const int buf = (s - s_begin) & 1;
          if (s + 1 < s_end) load();  // in flight during the FMAs below
#pragma unroll
          for (int k = 0; k < BK; ++k) {
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
          // The other buffer was last read in step s - 1, which every thread finished before the barrier
          // that ended it.
          if (s + 1 < s_end) store(buf ^ 1);
          __syncthreads();
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
