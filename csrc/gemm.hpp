// gemm.hpp: general matrix multiply used by im2col convolution, and the packed-B entry point that lets a
// convolution feed image patches straight into the GEMM without building the whole column matrix.
//
// One BLIS-style driver serves both entry points (csrc/gemm.cpp): loops over NC columns of C, KC of the
// depth and MC rows, packs A and B into contiguous micro-panels, and calls an MR x NR micro-kernel of the
// active ISA (cpu_features.hpp). It runs on ck::num_threads() threads (one when called inside an OpenMP
// parallel region), takes its packing workspace from the calling
// thread's cache (workspace.hpp), and is reentrant.
#pragma once

#include <cstdint>

namespace ck {

// C[M x N] = A[M x K] · B[K x N]   (+ C when accumulate), all row-major with leading dimensions.
template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T* C, int64_t ldc,
          bool accumulate);

// ---------------------------------------------------------------------------------------------------------
// Packed-B GEMM
//
// The driver asks a BPacker for blocks of a "virtual" K x N matrix B, one block of rows [k0, k0 + kc) and
// columns [n0, n0 + nc) at a time, each written into `panel` in the micro-kernel's layout:
//
//   B block (kc x nc)                       panel (ceil(nc / nr) strips, one after another)
//   columns n0 ...                n0+nc-1    strip s = columns [n0 + s*nr, n0 + s*nr + nr), kc rows of nr:
//   +-------+-------+-----+                   panel[s * kc * nr + p * nr + j] = B[k0 + p][n0 + s*nr + j]
//   | s = 0 | s = 1 | ... |  kc rows         for p in [0, kc), j in [0, nr)
//   +-------+-------+-----+
//
// i.e. each strip is an nr-wide row-major slice of the block, and the strips follow each other. In the
// last strip the columns past the block's end (n0 + s*nr + j >= n0 + nc) must be written as zeros: the
// micro-kernel multiplies them. Element (p, j) of the block therefore lives at packed_b_offset(p, j, kc, nr).
//
// Guarantees to the packer: `panel` is 64-byte aligned and holds ceil(nc / nr) * kc * nr elements; nr is
// the micro-kernel width of the active path (gemm_blocking<T>().nr: 4 to 32), kc <= gemm_blocking<T>().kc,
// nc <= gemm_blocking<T>().nc (in practice mostly 4 strips, nc = 4 nr, packed just before their first use).
// Each element of the virtual B is asked for once, or once per band of rows of C when threads split the
// rows of C (small N). Blocks come in no fixed order and from several threads at the same time (OpenMP
// workers, each into its own panel), so pack() must be thread-safe; an exception it throws is passed on
// to the caller of gemm_packed_b once every thread has stopped (C is then partly updated).
//
// An im2col packer for a convolution writes, for block row p = (c, r, s) of the filter window and block
// column j = output pixel (oh, ow), the input x[c][oh*stride + r - pad][ow*stride + s - pad] (0 outside the
// image), walking each strip's nr columns one output row at a time (see packed_b_offset).
template <typename T>
class BPacker {
 public:
  virtual ~BPacker() = default;
  virtual void pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, int64_t nr, T* panel) const = 0;
};

// Index of block element (p, j) (row p of the block, column j of the block) in a packed panel.
inline int64_t packed_b_offset(int64_t p, int64_t j, int64_t kc, int64_t nr) {
  return (j / nr) * kc * nr + p * nr + j % nr;
}

// The packer of an ordinary row-major B[K x N] with leading dimension ldb: what gemm() uses.
template <typename T>
class MatrixBPacker final : public BPacker<T> {
 public:
  MatrixBPacker(const T* B, int64_t ldb) : B_(B), ldb_(ldb) {}
  void pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, int64_t nr, T* panel) const override;

 private:
  const T* B_;
  int64_t ldb_;
};

extern template class MatrixBPacker<float>;  // instantiated in gemm.cpp
extern template class MatrixBPacker<double>;

// C[M x N] = A[M x K] · B[K x N]   (+ C when accumulate), B given by packB (see above).
template <typename T>
void gemm_packed_b(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const BPacker<T>& packB, T* C,
                   int64_t ldc, bool accumulate);

// Blocking of the active path for element type T (what the driver uses on its next call).
struct GemmBlocking {
  int64_t mr, nr;      // micro-tile: MR rows of C (broadcast from A) x NR columns (vector registers)
  int64_t mc, kc, nc;  // cache blocks: MC x KC of A (L2), KC x NR of B per micro-panel (L1), KC x NC (L3)
  const char* isa;     // isa_name() of the path whose kernels these are
};
template <typename T>
GemmBlocking gemm_blocking();

// The active path's micro-kernel, for a caller that packs both operands itself (conv2d_winograd.cpp, whose
// transforms write straight into packed panels). run(kc, a, b, ldb, c, ldc, m, n, accumulate):
// C[m x n] (+)= A panel · B strip, with a a kc x mr micro-panel (a[p * mr + i] = A(i, p), rows past m zero)
// and b a kc x nr strip (b[p * ldb + j] = B(p, j), columns past n zero); 1 <= m <= mr, 1 <= n <= nr.
// kc: the depth block the path is tuned for (a longer depth runs as blocks, the later ones accumulating).
template <typename T>
struct GemmMicroKernel {
  int64_t mr, nr, kc;
  void (*run)(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t m, int64_t n,
              bool accumulate);
};
template <typename T>
GemmMicroKernel<T> gemm_micro_kernel();

}  // namespace ck
