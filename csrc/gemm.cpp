// gemm.cpp: a portable cache-blocked GEMM (row-major), parallel over column blocks of C.
#include "cnnkernels/gemm.hpp"

#include <algorithm>

#include "cnnkernels/threads.hpp"

namespace ck {

template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T* C, int64_t ldc,
          bool accumulate) {
  constexpr int64_t NB = 256, KB = 128;  // a KB x NB block of B stays in L2 while all rows of A pass over it
  const int64_t col_blocks = (N + NB - 1) / NB;
#pragma omp parallel for schedule(dynamic) num_threads(threads_for(col_blocks))
  for (int64_t jb = 0; jb < col_blocks; ++jb) {
    const int64_t j0 = jb * NB, j1 = std::min(N, j0 + NB);
    if (!accumulate) {
      for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc + j0, C + i * ldc + j1, T(0));
    }
    for (int64_t k0 = 0; k0 < K; k0 += KB) {
      const int64_t k1 = std::min(K, k0 + KB);
      for (int64_t i = 0; i < M; ++i) {
        T* c = C + i * ldc;
        for (int64_t k = k0; k < k1; ++k) {
          const T a = A[i * lda + k];
          const T* b = B + k * ldb;
          for (int64_t j = j0; j < j1; ++j) c[j] += a * b[j];
        }
      }
    }
  }
}

template void gemm<float>(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*,
                          int64_t, bool);
template void gemm<double>(int64_t, int64_t, int64_t, const double*, int64_t, const double*, int64_t, double*,
                           int64_t, bool);

}  // namespace ck
