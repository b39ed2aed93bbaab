// pool2d_scalar.cpp: the scalar path's small-window pooling kernels (pool2d_kernels.hpp): the generic and
// SSE2 loops of pool2d_rows.hpp (pool_interior_block), compiled with the package's generic flags
// (CMakeLists.txt; see isa_dispatch.hpp).
#include "pool2d_kernels.hpp"
#include "pool2d_rows.hpp"

namespace ck {
namespace pool {
namespace {

template <typename T, typename Reducer>
void interior(const Pool2dShape& s, const T* x, int64_t p0, int64_t p1, int64_t q0, int64_t q1, T* y) {
  pool_interior_block(Reducer{}, s, x, p0, p1, q0, q1, y);
}

template <typename T>
void scale_in_place(T* y, const T* scale, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= scale[i];
}

const PoolKernels kPoolTable = {
    interior<float, MaxReducer<float>>,
    interior<float, SumReducer<float, Identity<float>>>,
    interior<float, SumReducer<float, Square<float>>>,
    interior<double, MaxReducer<double>>,
    interior<double, SumReducer<double, Identity<double>>>,
    interior<double, SumReducer<double, Square<double>>>,
    scale_in_place<float>,
    scale_in_place<double>,
};

}  // namespace

const PoolKernels* pool_kernels_scalar() { return &kPoolTable; }

}  // namespace pool
}  // namespace ck
