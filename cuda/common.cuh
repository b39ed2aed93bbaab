// common.cuh: what every cuda/<op>.cu includes: runtime.hpp (the CUDA runtime or its emulation, errors, the
// call context), and the project's only ways to declare shared memory and to launch a kernel.
//
// Rules for kernels (tests/test_cuda_sources.py checks the first two):
//   - shared memory only through CK_SHARED(type, name, dims) / CK_DYNAMIC_SHARED(type, name), never a bare
//     __shared__: the emulator gives each declaration its own NaN-filled heap object per block;
//   - launches only through ck::cuda::launch(name, kernel, grid, block, smem, args...), which checks the
//     configuration and the launch's error, on the call's stream;
//   - no __CUDA_ARCH__ in device code (the emulator does not define it); nothing that cannot be emulated
//     (cooperative groups, inline PTX, wmma, cp.async).
// Each .cu file holds `// kernels` (__global__ functions, templated on the element type) and then
// `// launchers` (the ck::cuda twins of kernels.hpp: check nothing, choose the launch configuration per shape,
// launch), as llm.c splits them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime.hpp"

#if defined(CK_CUDA_EMU)
// A static shared array: `CK_SHARED(float, tile, [16][17]);` declares float tile[16][17] in shared memory.
#define CK_SHARED(type, name, dims)                                        \
  using ck_shared_type_##name = type dims;                                 \
  static char ck_shared_key_##name;                                        \
  ck_shared_type_##name& name = *reinterpret_cast<ck_shared_type_##name*>( \
      ::ck_emu::shared_memory(&ck_shared_key_##name, sizeof(ck_shared_type_##name)))
// The launch's dynamic shared memory as a type*: `CK_DYNAMIC_SHARED(float, buf);`.
#define CK_DYNAMIC_SHARED(type, name) type* name = static_cast<type*>(::ck_emu::dynamic_shared_memory())
#else
#define CK_SHARED(type, name, dims) __shared__ type name dims
#define CK_DYNAMIC_SHARED(type, name)                               \
  extern __shared__ __align__(16) unsigned char ck_dynamic_smem_[]; \
  type* name = reinterpret_cast<type*>(ck_dynamic_smem_)
#endif

namespace ck {
namespace cuda {

// Launches kernel<<<grid, block, smem, current stream>>>(args...) and checks its error (name: the kernel's,
// for the message). A grid with no block launches nothing.
template <typename... KernelArgs, typename... Args>
void launch(const char* name, void (*kernel)(KernelArgs...), dim3 grid, dim3 block, size_t smem, Args... args) {
  if (uint64_t(grid.x) * grid.y * grid.z == 0) return;
#if defined(CK_CUDA_EMU)
  check(ck_emu::launch(grid, block, smem, [&] { kernel(args...); }), name);
#else
  kernel<<<grid, block, smem, current_stream()>>>(args...);
  check(cudaGetLastError(), name);
#endif
}

// 1 / x rounded to nearest, without the division subroutine (a call whose saved registers ptxas reports as
// spills): in loops, multiply by it instead of dividing (1 ulp from the quotient).
__device__ __forceinline__ float reciprocal(float x) { return __frcp_rn(x); }
__device__ __forceinline__ double reciprocal(double x) { return __drcp_rn(x); }

// Index arithmetic in kernels: 64-bit division is a subroutine call on the GPU (its saved registers show as
// spills), so kernels divide in 32 bits. The usual grid is plane_grid: x over the pixels of one plane (an
// image's channel), y over planes, each with a grid-stride loop; pixel indices within a plane are int (the
// launcher checks that a plane has fewer than 2^31 pixels: check_plane), plane offsets int64 products.
constexpr int64_t kMaxGridX = 65535 * 32, kMaxGridY = 65535;

// A grid of `threads`-thread blocks over `pixels` x `planes` items (0 blocks for no items: launch() then runs
// nothing).
inline dim3 plane_grid(int64_t pixels, int64_t planes, int threads) {
  const int64_t bx = (pixels + threads - 1) / threads;
  if (bx == 0 || planes == 0) return dim3(0, 0, 0);
  return dim3(unsigned(bx < kMaxGridX ? bx : kMaxGridX), unsigned(planes < kMaxGridY ? planes : kMaxGridY));
}

// Blocks over `pixels` x `planes` items for kernels whose threads index (threadIdx.x: pixel, threadIdx.y:
// plane): `threads` pixels of one plane along x, or for a plane smaller than that the whole plane along x
// times as many planes as fill the block along y (consecutive threads, consecutive addresses; no block mostly
// idle). 0 blocks for no items.
struct PlaneLaunch {
  dim3 grid, block;
};

inline PlaneLaunch plane_launch(int64_t pixels, int64_t planes, int threads) {
  if (pixels == 0 || planes == 0) return {dim3(0, 0, 0), dim3(1)};
  const int64_t tx = pixels < threads ? pixels : threads;
  const int64_t ty = threads / tx < planes ? threads / tx : planes;
  const int64_t bx = (pixels + tx - 1) / tx, by = (planes + ty - 1) / ty;
  return {dim3(unsigned(bx < kMaxGridX ? bx : kMaxGridX), unsigned(by < kMaxGridY ? by : kMaxGridY)),
          dim3(unsigned(tx), unsigned(ty))};
}

// Refuses a plane of 2^31 pixels or more (int indices): a ValueError-like error naming the operation.
inline void check_plane(const char* op, int64_t pixels) {
  if (pixels >= (int64_t(1) << 31)) {
    throw std::invalid_argument(std::string(op) + ": on CUDA an image plane must have fewer than 2^31 pixels");
  }
}

inline void memset_async(void* p, int value, size_t bytes) {
  if (bytes) check(cudaMemsetAsync(p, value, bytes, current_stream()), "cudaMemsetAsync");
}

}  // namespace cuda
}  // namespace ck
