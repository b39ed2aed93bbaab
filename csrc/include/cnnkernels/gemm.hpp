// gemm.hpp: general matrix multiply used by im2col convolution.
#pragma once

#include <cstdint>

namespace ck {

// C[M x N] = A[M x K] · B[K x N]   (+ C when accumulate), all row-major with leading dimensions.
template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T* C, int64_t ldc,
          bool accumulate);

}  // namespace ck
