// conv2d_direct.cu: direct convolution (cross-correlation, torch's conv2d) and its data and weight gradients
// on CUDA, twins of csrc/conv2d_direct.cpp and the direct gradients of csrc/conv2d_backward.cpp.
//
//   y[n, k, p, q] = bias[k] + sum over c, r, s of w[k, c, r, s] * x[n, g*C/g + c, p*sh + r*dh - pt, q*sw + s*dw - pl]
//
// (N batch, C in-channels, K out-channels, H W input, R S kernel, P Q output; g the group of k; zero padding.)
//
// Forward, conv2d_direct_tiled_kernel: a block computes a tile of output pixels (by rows x bx*QPT columns of
// one image) for KT output channels of one group. For each chunk of cb input channels it loads, coalesced,
// the input patch the tile needs (zeros in the padding) and the chunk's weights of its KT channels into
// shared memory, then every thread accumulates KPT channels x QPT pixels in registers (columns bx apart, so
// a warp reads consecutive shared words; the launcher pads the patch rows against bank conflicts, and a
// warp's threads share their channels, so weight reads are broadcasts). Bias is added at the store. The
// launcher sizes the tile to the output and the shared memory; a geometry whose smallest tile does not fit
// (huge kernels, strides or dilations) runs conv2d_direct_global_kernel, one thread per output from global
// memory.
//
// grad_input, conv2d_backward_input_direct_kernel: a gather, one thread per input pixel (h, w) and CPT input
// channels: the taps r with h + pt - r*dh = p*sh lie rstep = sh / gcd(sh, dh) apart, p falling by
// pstep = dh / gcd(sh, dh) between them (and likewise along w), so a thread finds its first tap once and
// then steps, with no division in its loops; it sums gy[n, k, p, q] * w[k, c, r, s] over its group's k.
//
// grad_weight, conv2d_backward_weight_direct_kernel: a block per (k, c) pair and chunk of taps, each tap
// (r, s) summed by WT warps over the (n, p, q) whose input lies inside the image, then reduced by warp
// shuffles and, across the WT warps, in shared memory: a fixed order, no atomics.
#include <numeric>

#include "cnnkernels/kernels.hpp"
#include "common.cuh"

namespace ck {
namespace cuda {
namespace {

constexpr int kThreads = 256;           // the most threads of a block, every kernel here
constexpr int kMaxWarps = kThreads / 32;
// Resident 256-thread blocks an SM at 64 registers a thread (half the SM's warps): the budget that
// __launch_bounds__ holds the *_bounded_kernel variants to (the forward and data-gradient kernels with 4
// channels a thread, which take more unbounded). The others stay unbounded: ptxas keeps them at 32-56
// registers then, and takes up to the bound when given one.
constexpr int kMinBlocks = 65536 / (64 * kThreads);
constexpr int kMaxChunkChannels = 16;   // input channels per shared-memory chunk of the forward kernel
constexpr int64_t kSmemBudget = 32 * 1024;  // bytes of dynamic shared memory the forward kernel may take

// The geometry in int (common.cuh: kernels divide in 32 bits), with the tap steps of the data gradient.
struct ConvGeom {
  int N, C, H, W, K, R, S, groups, Cg, Kg, pt, pl, P, Q, sh, sw, dh, dw;
  int rstep, pstep, sstep, qstep;  // taps r reaching one input row lie rstep apart, their rows p pstep apart
  explicit ConvGeom(const Conv2dShape& s)
      : N(int(s.N)), C(int(s.C)), H(int(s.H)), W(int(s.W)), K(int(s.K)), R(int(s.R)), S(int(s.S)),
        groups(int(s.groups)), Cg(int(s.C_per_group())), Kg(int(s.K_per_group())), pt(int(s.pad_top)),
        pl(int(s.pad_left)), P(int(s.P)), Q(int(s.Q)) {
    // A stride or dilation past the padded image acts as that size (one output, or one tap, along it):
    // clamped so that it fits in int.
    sh = int(min64(s.stride_h, s.H + s.pad_top + s.pad_bottom));
    sw = int(min64(s.stride_w, s.W + s.pad_left + s.pad_right));
    dh = int(min64(s.dil_h, s.H + s.pad_top + s.pad_bottom));
    dw = int(min64(s.dil_w, s.W + s.pad_left + s.pad_right));
    const int gh = std::gcd(sh, dh), gw = std::gcd(sw, dw);
    rstep = sh / gh;
    pstep = dh / gh;
    sstep = sw / gw;
    qstep = dw / gw;
  }
};

// The forward kernel's tiling, chosen by the launcher (choose_direct_tile).
struct DirectTile {
  int wk;              // groups of threads along output channels: KT = KPT * wk channels a block
  int bx, by;          // threads along q and along p: a tile is by rows x bx * QPT columns
  int cb;              // input channels per shared-memory chunk
  int ih, iw, pitch;   // the input patch of a tile: ih rows of iw columns, stored `pitch` apart
  int wpitch;          // shared words between two output channels' weights (cb * R * S, made odd)
  int tiles_q, tiles;  // tiles along q, and in an image
  int ktiles;          // blocks of KT channels in a group
};

// A flat index start, start + step, ... over rows of `cols` columns as (row, col), stepped without division.
struct FlatWalk {
  int row, col, drow, dcol, cols;
  __device__ FlatWalk(int start, int step, int cols_) : cols(cols_) {
    row = start / cols;
    col = start - row * cols;
    drow = step / cols;
    dcol = step - drow * cols;
  }
  __device__ void next() {
    row += drow;
    col += dcol;
    if (col >= cols) {
      col -= cols;
      ++row;
    }
  }
};

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int d = 16; d > 0; d /= 2) v += __shfl_down_sync(0xffffffffu, v, d);
  return v;  // lane 0: the sum of the warp, always added in the same order
}

// ---------------------------------------------------------------------------------------------------------
// kernels

// Forward: blockIdx.x a pixel tile, blockIdx.y (group, block of KT channels), blockIdx.z the image; each a
// grid-stride loop. Thread tid = (tk, ty, tx): channels k0 + tk*KPT + i (i < KPT), output row p0 + ty,
// columns q0 + tx + j*bx (j < QPT). Shared memory: xs[cb][ih][pitch], then ws[KT][wpitch] (taps c*RS + r*S + s).
template <typename T, int KPT, int QPT>
__device__ __forceinline__ void conv2d_direct_tiled(const ConvGeom& g, const DirectTile& t, const T* __restrict__ x,
                                                    const T* __restrict__ w, const T* __restrict__ bias,
                                                    T* __restrict__ y) {
  CK_DYNAMIC_SHARED(T, smem);
  const int KT = KPT * t.wk, RS = g.R * g.S, HW = g.H * g.W;
  T* xs = smem;
  T* ws = smem + t.cb * t.ih * t.pitch;
  const int tid = threadIdx.x, threads = blockDim.x, tpx = t.bx * t.by;
  const int tk = tid / tpx, ty = (tid - tk * tpx) / t.bx, tx = tid - tk * tpx - ty * t.bx;
  for (int n = blockIdx.z; n < g.N; n += gridDim.z) {
    for (int gk = blockIdx.y; gk < g.groups * t.ktiles; gk += gridDim.y) {
      const int grp = gk / t.ktiles, k0 = (gk - grp * t.ktiles) * KT;  // k0: within the group
      const T* x_g = x + (int64_t(n) * g.C + grp * g.Cg) * HW;
      const T* w_g = w + int64_t(grp * g.Kg) * g.Cg * RS;
      for (int tile = blockIdx.x; tile < t.tiles; tile += gridDim.x) {
        const int tp = tile / t.tiles_q;
        const int p0 = tp * t.by, q0 = (tile - tp * t.tiles_q) * t.bx * QPT;
        const int h0 = p0 * g.sh - g.pt, w0 = q0 * g.sw - g.pl;  // the patch's first input row and column
        T acc[KPT][QPT];
#pragma unroll
        for (int i = 0; i < KPT; ++i) {
#pragma unroll
          for (int j = 0; j < QPT; ++j) acc[i][j] = T(0);
        }
        for (int c0 = 0; c0 < g.Cg; c0 += t.cb) {
          const int cn = min(t.cb, g.Cg - c0);
          __syncthreads();  // the previous chunk's reads are done
          for (int c = 0; c < cn; ++c) {
            const T* x_c = x_g + int64_t(c0 + c) * HW;
            T* xs_c = xs + c * t.ih * t.pitch;
            for (FlatWalk e(tid, threads, t.iw); e.row < t.ih; e.next()) {
              const int h = h0 + e.row, wc = w0 + e.col;
              const bool inside = unsigned(h) < unsigned(g.H) && unsigned(wc) < unsigned(g.W);
              xs_c[e.row * t.pitch + e.col] = inside ? x_c[h * g.W + wc] : T(0);
            }
          }
          for (FlatWalk e(tid, threads, cn * RS); e.row < KT; e.next()) {
            const int k = k0 + e.row;
            ws[e.row * t.wpitch + e.col] = k < g.Kg ? w_g[(int64_t(k) * g.Cg + c0) * RS + e.col] : T(0);
          }
          __syncthreads();
          for (int c = 0; c < cn; ++c) {
            const T* xs_c = xs + c * t.ih * t.pitch + ty * g.sh * t.pitch + tx * g.sw;
            const T* ws_c = ws + tk * KPT * t.wpitch + c * RS;
            for (int r = 0; r < g.R; ++r) {
              const T* xs_r = xs_c + r * g.dh * t.pitch;
              const T* ws_r = ws_c + r * g.S;
              for (int s = 0; s < g.S; ++s) {
                T xv[QPT], wv[KPT];
#pragma unroll
                for (int j = 0; j < QPT; ++j) xv[j] = xs_r[s * g.dw + j * t.bx * g.sw];
#pragma unroll
                for (int i = 0; i < KPT; ++i) wv[i] = ws_r[i * t.wpitch + s];
#pragma unroll
                for (int i = 0; i < KPT; ++i) {
#pragma unroll
                  for (int j = 0; j < QPT; ++j) acc[i][j] += wv[i] * xv[j];
                }
              }
            }
          }
        }
        const int p = p0 + ty;
        if (p < g.P) {
#pragma unroll
          for (int i = 0; i < KPT; ++i) {
            const int k = k0 + tk * KPT + i;
            if (k >= g.Kg) break;
            const int kk = grp * g.Kg + k;
            const T b = bias ? bias[kk] : T(0);
            T* y_row = y + (int64_t(n) * g.K + kk) * g.P * g.Q + p * g.Q;
#pragma unroll
            for (int j = 0; j < QPT; ++j) {
              const int q = q0 + tx + j * t.bx;
              if (q < g.Q) y_row[q] = acc[i][j] + b;
            }
          }
        }
      }
    }
  }
}

template <typename T, int KPT, int QPT>
__global__ void conv2d_direct_tiled_kernel(ConvGeom g, DirectTile t, const T* __restrict__ x, const T* __restrict__ w,
                                           const T* __restrict__ bias, T* __restrict__ y) {
  conv2d_direct_tiled<T, KPT, QPT>(g, t, x, w, bias, y);
}
template <typename T, int KPT, int QPT>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    conv2d_direct_tiled_bounded_kernel(ConvGeom g, DirectTile t, const T* __restrict__ x, const T* __restrict__ w,
                                       const T* __restrict__ bias, T* __restrict__ y) {
  conv2d_direct_tiled<T, KPT, QPT>(g, t, x, w, bias, y);
}

// Forward for geometries whose smallest tile does not fit in shared memory: one thread per output pixel
// (blockIdx.x over the P*Q pixels, y over the K channels, z over the images), its window clipped to the image.
template <typename T>
__global__ void conv2d_direct_global_kernel(ConvGeom g, const T* __restrict__ x, const T* __restrict__ w,
                                            const T* __restrict__ bias, T* __restrict__ y) {
  const int PQ = g.P * g.Q, HW = g.H * g.W, RS = g.R * g.S;
  for (int n = blockIdx.z; n < g.N; n += gridDim.z) {
    for (int k = blockIdx.y; k < g.K; k += gridDim.y) {
      const int grp = k / g.Kg;
      const T* x_g = x + (int64_t(n) * g.C + grp * g.Cg) * HW;
      const T* w_k = w + int64_t(k) * g.Cg * RS;
      for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < PQ; i += gridDim.x * blockDim.x) {
        const int p = i / g.Q, q = i - p * g.Q;
        int r0, r1, s0, s1;
        window_taps(p, g.H, g.R, g.sh, g.pt, g.dh, &r0, &r1);
        window_taps(q, g.W, g.S, g.sw, g.pl, g.dw, &s0, &s1);
        const int h0 = p * g.sh - g.pt, w0 = q * g.sw - g.pl;
        T acc = T(0);
        for (int c = 0; c < g.Cg; ++c) {
          const T* x_c = x_g + int64_t(c) * HW;
          const T* w_c = w_k + c * RS;
          for (int r = r0; r < r1; ++r) {
            const T* x_r = x_c + (h0 + r * g.dh) * g.W + w0;
            for (int s = s0; s < s1; ++s) acc += w_c[r * g.S + s] * x_r[s * g.dw];
          }
        }
        y[(int64_t(n) * g.K + k) * PQ + i] = acc + (bias ? bias[k] : T(0));
      }
    }
  }
}

// grad_input: blockIdx.x over the H*W input pixels, y over (group, block of CPT input channels), z the image.
template <typename T, int CPT>
__device__ __forceinline__ void conv2d_backward_input_direct(const ConvGeom& g, const T* __restrict__ gy,
                                                             const T* __restrict__ w, T* __restrict__ gx) {
  const int HW = g.H * g.W, PQ = g.P * g.Q, RS = g.R * g.S;
  const int cblocks = (g.Cg + CPT - 1) / CPT;
  for (int n = blockIdx.z; n < g.N; n += gridDim.z) {
    for (int gc = blockIdx.y; gc < g.groups * cblocks; gc += gridDim.y) {
      // Channels c0 + j (j < CPT <= C/g: the launcher's choice): the group's last block moved back to its
      // last CPT channels, storing only those past the previous block's (j >= j0).
      const int grp = gc / cblocks, c_block = (gc - grp * cblocks) * CPT, c0 = min(c_block, g.Cg - CPT);
      const int j0 = c_block - c0;
      const T* gy_g = gy + (int64_t(n) * g.K + grp * g.Kg) * PQ;
      const T* w_g = w + (int64_t(grp * g.Kg) * g.Cg + c0) * RS;
      for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < HW; i += gridDim.x * blockDim.x) {
        const int h = i / g.W, wc = i - h * g.W;
        const int oh = h + g.pt, ow = wc + g.pl;  // tap r reaches h from output row p when oh - r*dh == p*sh
        int r0 = 0, s0 = 0;
        while (r0 < g.rstep && r0 < g.R && (oh - r0 * g.dh) % g.sh != 0) ++r0;
        while (s0 < g.sstep && s0 < g.S && (ow - s0 * g.dw) % g.sw != 0) ++s0;
        T acc[CPT];
#pragma unroll
        for (int j = 0; j < CPT; ++j) acc[j] = T(0);
        if (r0 < min(g.R, g.rstep) && s0 < min(g.S, g.sstep)) {  // some tap of each dimension reaches this pixel
          const int p_first = (oh - r0 * g.dh) / g.sh, q_first = (ow - s0 * g.dw) / g.sw;
          for (int r = r0, p = p_first; r < g.R && p >= 0; r += g.rstep, p -= g.pstep) {
            if (p >= g.P) continue;
            for (int s = s0, q = q_first; s < g.S && q >= 0; s += g.sstep, q -= g.qstep) {
              if (q >= g.Q) continue;
              const T* gy_k = gy_g + p * g.Q + q;
              const T* w_k = w_g + r * g.S + s;
              for (int k = 0; k < g.Kg; ++k) {
                const T v = *gy_k;
                const T* w_j = w_k;
#pragma unroll
                for (int j = 0; j < CPT; ++j, w_j += RS) acc[j] += v * *w_j;
                gy_k += PQ;
                w_k += g.Cg * RS;
              }
            }
          }
        }
#pragma unroll
        for (int j = 0; j < CPT; ++j) {
          if (j >= j0) gx[(int64_t(n) * g.C + grp * g.Cg + c0 + j) * HW + i] = acc[j];
        }
      }
    }
  }
}

template <typename T, int CPT>
__global__ void conv2d_backward_input_direct_kernel(ConvGeom g, const T* __restrict__ gy, const T* __restrict__ w,
                                                    T* __restrict__ gx) {
  conv2d_backward_input_direct<T, CPT>(g, gy, w, gx);
}
template <typename T, int CPT>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    conv2d_backward_input_direct_bounded_kernel(ConvGeom g, const T* __restrict__ gy, const T* __restrict__ w,
                                                T* __restrict__ gx) {
  conv2d_backward_input_direct<T, CPT>(g, gy, w, gx);
}

// grad_weight: blockIdx.x over the K * C/g pairs (k, c), y over chunks of blockDim.z taps; thread
// (lane, wt, tz): tap tz of the chunk, lane wt*32 + lane of the WT*32 that sum it.
template <typename T>
__global__ void conv2d_backward_weight_direct_kernel(ConvGeom g, const T* __restrict__ gy, const T* __restrict__ x,
                                                     T* __restrict__ gw) {
  CK_SHARED(T, partial, [kMaxWarps]);
  const int RS = g.R * g.S, PQ = g.P * g.Q, HW = g.H * g.W;
  const int lane = threadIdx.x, wt = threadIdx.y, tz = threadIdx.z, WT = blockDim.y, TB = blockDim.z;
  const int L = WT * 32, li = wt * 32 + lane;
  const int64_t gy_image = int64_t(g.K) * PQ, x_image = int64_t(g.C) * HW;
  for (int kc = blockIdx.x; kc < g.K * g.Cg; kc += gridDim.x) {
    const int k = kc / g.Cg, c = k / g.Kg * g.Cg + (kc - k * g.Cg);
    const T* gy_k = gy + int64_t(k) * PQ;
    for (int tap0 = blockIdx.y * TB; tap0 < RS; tap0 += gridDim.y * TB) {
      const int tap = tap0 + tz;
      T acc = T(0);
      if (tap < RS) {
        const int r = tap / g.S, s = tap - r * g.S;
        int p0, p1, q0, q1;  // the outputs whose tap (r, s) lies inside the image
        inside_range(r * g.dh - g.pt, g.sh, g.H, g.P, &p0, &p1);
        inside_range(s * g.dw - g.pl, g.sw, g.W, g.Q, &q0, &q1);
        const int np = p1 - p0, nq = q1 - q0;
        if (np > 0 && nq > 0) {
          const T* x_c = x + int64_t(c) * HW + (p0 * g.sh + r * g.dh - g.pt) * g.W + q0 * g.sw + s * g.dw - g.pl;
          const T* gy_0 = gy_k + p0 * g.Q + q0;
          // (n, pi, qi) walks the N x np x nq items from li, L at a time: mixed-radix steps, no division.
          const int dq = L % nq, dp = L / nq % np, dn = L / nq / np;
          int qi = li % nq, pi = li / nq % np, n = li / nq / np;
          while (n < g.N) {
            acc += gy_0[n * gy_image + pi * g.Q + qi] * x_c[n * x_image + pi * g.sh * g.W + qi * g.sw];
            qi += dq;
            if (qi >= nq) {
              qi -= nq;
              ++pi;
            }
            pi += dp;
            if (pi >= np) {
              pi -= np;
              ++n;
            }
            n += dn;
          }
        }
      }
      acc = warp_sum(acc);
      if (WT > 1) {
        if (lane == 0) partial[tz * WT + wt] = acc;
        __syncthreads();
        if (wt == 0 && lane == 0) {
          acc = partial[tz * WT];
          for (int v = 1; v < WT; ++v) acc += partial[tz * WT + v];
        }
        __syncthreads();  // partial is free for the next chunk
      }
      if (wt == 0 && lane == 0 && tap < RS) gw[int64_t(kc) * RS + tap] = acc;
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// launchers

namespace {

// Refuses a geometry whose index arithmetic leaves int (a ValueError naming the operation, as check_plane).
void check_geometry(const char* op, const Conv2dShape& s) {
  check_plane(op, s.H * s.W);
  check_plane(op, s.P * s.Q);
  const int64_t limit = int64_t(1) << 30;  // so that a row offset plus a tap offset stays under 2^31
  if (s.H + s.pad_top + s.pad_bottom >= limit || s.W + s.pad_left + s.pad_right >= limit || s.N >= limit ||
      s.C >= limit || s.K * s.C_per_group() >= limit) {
    throw std::invalid_argument(std::string(op) + ": on CUDA padded image sides, N, C and K*C/groups must be "
                                "under 2^30");
  }
}

int pow2_at_least(int64_t v) {
  int p = 1;
  while (p < v && p < (1 << 30)) p *= 2;
  return p;
}

int grid_dim(int64_t v, int64_t most) { return int(v < most ? v : most); }

// The most distinct shared words a bank serves for one read of a warp (1: no conflict) when thread
// (ty, tx) reads word ty * row_step + tx * col_step; 8-byte words take two banks, half a warp at a time.
int bank_conflicts(int bx, int by, int64_t row_step, int64_t col_step, int elem_bytes) {
  const int lanes = elem_bytes == 8 ? 16 : 32, banks = elem_bytes == 8 ? 16 : 32, tpx = bx * by;
  int worst = 1;
  for (int first = 0; first < 32 && first < tpx; first += lanes) {
    int64_t words[32];
    int per_bank[32] = {};
    const int count = tpx - first < lanes ? tpx - first : lanes;
    for (int a = 0; a < count; ++a) {
      const int l = first + a;
      words[a] = l / bx * row_step + l % bx * col_step;
      bool seen = false;
      for (int e = 0; e < a && !seen; ++e) seen = words[e] == words[a];
      if (seen) continue;
      const int n = ++per_bank[words[a] % banks];
      worst = n > worst ? n : worst;
    }
  }
  return worst;
}

// Fills the patch sizes, row pitches and channel chunk of `t` (wk, bx, by set); false if one channel does
// not fit in the shared-memory budget.
bool size_direct_tile(const ConvGeom& g, int kpt, int qpt, int elem_bytes, DirectTile* t) {
  const int64_t ih = int64_t(t->by - 1) * g.sh + int64_t(g.R - 1) * g.dh + 1;
  const int64_t iw = int64_t(t->bx * qpt - 1) * g.sw + int64_t(g.S - 1) * g.dw + 1;
  const int64_t RS = int64_t(g.R) * g.S, KT = int64_t(kpt) * t->wk;
  if (ih * iw > kSmemBudget || RS * KT > kSmemBudget) return false;
  // The narrowest rows with the fewest bank conflicts (a warp within one row: any width).
  int64_t pitch = iw;
  if (t->bx < 32 && t->by > 1) {
    int best = bank_conflicts(t->bx, t->by, g.sh * iw, g.sw, elem_bytes);
    for (int64_t cand = iw + 1; cand < iw + 32 && best > 1; ++cand) {
      const int conflicts = bank_conflicts(t->bx, t->by, g.sh * cand, g.sw, elem_bytes);
      if (conflicts < best) {
        best = conflicts;
        pitch = cand;
      }
    }
  }
  const auto bytes = [&](int64_t cb) { return (cb * ih * pitch + KT * ((cb * RS) | 1)) * elem_bytes; };
  int64_t cb = 0;
  while (cb < g.Cg && cb < kMaxChunkChannels && bytes(cb + 1) <= kSmemBudget) ++cb;
  if (cb == 0) return false;
  t->cb = int(cb);
  t->ih = int(ih);
  t->iw = int(iw);
  t->pitch = int(pitch);
  t->wpitch = int((cb * RS) | 1);
  return true;
}

// The forward tile: channel groups to cover K/g (at most 8), threads along q to cover Q, then rows up to
// 256 threads; halved (rows, then channels, then columns) until a channel's chunk fits in shared memory.
bool choose_direct_tile(const ConvGeom& g, int kpt, int qpt, int elem_bytes, DirectTile* t) {
  t->wk = pow2_at_least((g.Kg + kpt - 1) / kpt);
  t->wk = t->wk < kMaxWarps ? t->wk : kMaxWarps;
  t->bx = pow2_at_least((g.Q + qpt - 1) / qpt);
  t->bx = t->bx < 32 ? t->bx : 32;
  t->by = pow2_at_least(g.P);
  t->by = t->by < kThreads / (t->wk * t->bx) ? t->by : kThreads / (t->wk * t->bx);
  while (!size_direct_tile(g, kpt, qpt, elem_bytes, t)) {
    if (t->by > 1) t->by /= 2;
    else if (t->wk > 1) t->wk /= 2;
    else if (t->bx > 1) t->bx /= 2;
    else return false;
  }
  const int tq = t->bx * qpt;
  t->tiles_q = (g.Q + tq - 1) / tq;
  t->tiles = t->tiles_q * ((g.P + t->by - 1) / t->by);
  t->ktiles = (g.Kg + kpt * t->wk - 1) / (kpt * t->wk);
  return true;
}

template <typename T, int KPT, int QPT>
void launch_direct_tiled(const ConvGeom& g, const DirectTile& t, const T* x, const T* w, const T* bias, T* y) {
  const dim3 grid(grid_dim(t.tiles, kMaxGridX), grid_dim(int64_t(g.groups) * t.ktiles, kMaxGridY),
                  grid_dim(g.N, kMaxGridY));
  const size_t smem = size_t(t.cb * t.ih * t.pitch + KPT * t.wk * t.wpitch) * sizeof(T);
  if constexpr (KPT >= 4) {
    launch("conv2d_direct", conv2d_direct_tiled_bounded_kernel<T, KPT, QPT>, grid, dim3(t.wk * t.bx * t.by), smem,
           g, t, x, w, bias, y);
  } else {
    launch("conv2d_direct", conv2d_direct_tiled_kernel<T, KPT, QPT>, grid, dim3(t.wk * t.bx * t.by), smem, g, t, x,
           w, bias, y);
  }
}

}  // namespace

template <typename T>
void conv2d_direct(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  check_geometry("conv2d_direct", s);
  const ConvGeom g(s);
  // 4 channels a thread once a group has them; 4 columns a thread for rows of 16 outputs or more, 2 with 4
  // channels in double (4 x 4 doubles do not fit the bounded kernel's 64 registers).
  constexpr int kWideQ = sizeof(T) == 8 ? 2 : 4;
  const int kpt = g.Kg >= 4 ? 4 : 1, qpt = g.Q >= 16 ? (kpt == 4 ? kWideQ : 4) : 1;
  DirectTile t;
  if (choose_direct_tile(g, kpt, qpt, int(sizeof(T)), &t)) {
    if (kpt == 4 && qpt > 1) launch_direct_tiled<T, 4, kWideQ>(g, t, x, w, bias, y);
    else if (kpt == 4) launch_direct_tiled<T, 4, 1>(g, t, x, w, bias, y);
    else if (qpt > 1) launch_direct_tiled<T, 1, 4>(g, t, x, w, bias, y);
    else launch_direct_tiled<T, 1, 1>(g, t, x, w, bias, y);
    return;
  }
  const int threads = g.P * g.Q < kThreads ? (g.P * g.Q + 31) / 32 * 32 : kThreads;
  const dim3 grid(grid_dim((int64_t(g.P) * g.Q + threads - 1) / threads, kMaxGridX), grid_dim(g.K, kMaxGridY),
                  grid_dim(g.N, kMaxGridY));
  launch("conv2d_direct", conv2d_direct_global_kernel<T>, grid, dim3(threads), 0, g, x, w, bias, y);
}

template <typename T>
void conv2d_backward_input_direct(const Conv2dShape& s, const T* gy, const T* w, T* gx) {
  check_geometry("conv2d_backward_input_direct", s);
  const ConvGeom g(s);
  const int64_t HW = s.H * s.W;
  const int threads = HW < kThreads ? int((HW + 31) / 32 * 32) : kThreads;
  const int cpt = g.Cg >= 4 ? 4 : 1;  // input channels a thread
  const int64_t cblocks = (g.Cg + cpt - 1) / cpt;
  const dim3 grid(grid_dim((HW + threads - 1) / threads, kMaxGridX), grid_dim(g.groups * cblocks, kMaxGridY),
                  grid_dim(g.N, kMaxGridY));
  if (cpt == 4) {
    launch("conv2d_backward_input_direct", conv2d_backward_input_direct_bounded_kernel<T, 4>, grid, dim3(threads), 0,
           g, gy, w, gx);
  } else {
    launch("conv2d_backward_input_direct", conv2d_backward_input_direct_kernel<T, 1>, grid, dim3(threads), 0, g, gy,
           w, gx);
  }
}

template <typename T>
void conv2d_backward_weight_direct(const Conv2dShape& s, const T* gy, const T* x, T* gw) {
  check_geometry("conv2d_backward_weight_direct", s);
  const ConvGeom g(s);
  // Taps in chunks of at most 8 warps' worth, as even as they come; the warps left over sum each tap
  // together once the sums are long (N*P*Q over 64 per lane).
  const int64_t RS = s.R * s.S, chunks = (RS + kMaxWarps - 1) / kMaxWarps;
  const int tb = int((RS + chunks - 1) / chunks);
  int wt = 1;
  while (wt * 2 * tb <= kMaxWarps && s.N * s.P * s.Q > int64_t(wt) * 32 * 64) wt *= 2;
  const dim3 grid(grid_dim(s.K * g.Cg, kMaxGridX), grid_dim(chunks, kMaxGridY));
  launch("conv2d_backward_weight_direct", conv2d_backward_weight_direct_kernel<T>, grid, dim3(32, wt, tb), 0, g, gy,
         x, gw);
}

template void conv2d_direct<float>(const Conv2dShape&, const float*, const float*, const float*, float*);
template void conv2d_direct<double>(const Conv2dShape&, const double*, const double*, const double*, double*);
template void conv2d_backward_input_direct<float>(const Conv2dShape&, const float*, const float*, float*);
template void conv2d_backward_input_direct<double>(const Conv2dShape&, const double*, const double*, double*);
template void conv2d_backward_weight_direct<float>(const Conv2dShape&, const float*, const float*, float*);
template void conv2d_backward_weight_direct<double>(const Conv2dShape&, const double*, const double*, double*);

}  // namespace cuda
}  // namespace ck
