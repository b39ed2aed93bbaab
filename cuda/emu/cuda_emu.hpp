// cuda_emu.hpp: CUDA on the CPU, for running and testing cuda/*.cu without a GPU (the cnnkernels._cuda_emu
// module and the "cuda-emu" backend).
//
// The .cu sources compile as plain C++ (g++ -x c++) against this header instead of the CUDA toolkit. It
// defines the language's qualifiers away, threadIdx / blockIdx / blockDim / gridDim, __syncthreads, warp
// shuffles and votes, atomics, the math functions device code uses, and the few runtime calls cnnkernels
// makes (cudaMalloc is malloc, streams are no-ops, copies are memcpy).
//
// How a launch runs (cuda_emu.cpp): the grid's blocks are shared among a few OS threads; each OS thread runs
// one block at a time, every CUDA thread of the block a fiber on its own small stack, switched only at a
// barrier (__syncthreads, a warp operation) or at its exit. A barrier releases when every live thread of
// the block (of the warp) has arrived, threads that exited counting as arrived, as on hardware; threads
// waiting at different kinds of barrier that can never release are a deadlock, reported as an error of the
// launch. Shared memory comes only through CK_SHARED / CK_DYNAMIC_SHARED (cuda/common.cuh): one heap object
// per declaration site and block, filled with NaN bytes so reads of never-written memory show, and seen by
// AddressSanitizer. ThreadSanitizer and AddressSanitizer are told about the fibers (see cuda_emu.cpp).
//
// Differences from a GPU to keep in mind: __CUDA_ARCH__ is not defined (device code must not hide behind
// it); g++ does not contract a*b+c into an FMA as nvcc does, and __expf / rsqrtf / __fdividef are exact
// here: compare results with tolerances. Not emulated: cooperative groups, grid sync, inline PTX, wmma,
// cp.async, blocks that wait on other blocks, barrier divergence by call site, missing __threadfence.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>

#define CK_CUDA_EMULATED 1

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __restrict__ __restrict

// ---------------------------------------------------------------------------------------------------------
// Types

struct uint3 {
  unsigned x, y, z;
};

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInsufficientDriver = 35,
  cudaErrorLaunchFailure = 719,
};

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

struct CUstream_st;
typedef CUstream_st* cudaStream_t;

constexpr int warpSize = 32;

// ---------------------------------------------------------------------------------------------------------
// The emulator's interface (cuda_emu.cpp)

namespace ck_emu {

// The CUDA thread now running on this OS thread: its indices, by value (the emulator's bookkeeping is not
// instrumented by ThreadSanitizer, and a reference into it would make the kernel's reads instrumented).
struct ThreadContext {
  uint3 thread_idx, block_idx;
  dim3 block_dim, grid_dim;
};
uint3 thread_idx();
uint3 block_idx();
dim3 block_dim();
dim3 grid_dim();

// Barriers: the block's, and the warp's with a value exchange. warp_exchange(value, src_lane, vote): every
// live lane of the warp arrives; then each gets the value of lane src_lane (its own when src_lane is
// outside the warp or names a lane that has exited), or with vote the ballot of every lane's (value != 0).
void syncthreads();
uint64_t warp_exchange(uint64_t value, int src_lane, bool vote);
int lane_id();

// Shared memory of the running block: the object of declaration site `key` (bytes long), allocated and filled
// with NaN bytes by the first thread that reaches it; the launch's dynamic shared memory.
void* shared_memory(const void* key, size_t bytes);
void* dynamic_shared_memory();

// Runs body() as each thread of a grid x block launch (checked as CUDA checks a configuration: a bad one
// returns cudaErrorInvalidConfiguration and runs nothing). A deadlock or a failure is cudaErrorLaunchFailure,
// with a message from last_error_message().
cudaError_t launch(dim3 grid, dim3 block, size_t dynamic_smem_bytes, const std::function<void()>& body);
const char* last_error_message();

}  // namespace ck_emu

#define threadIdx (::ck_emu::thread_idx())
#define blockIdx (::ck_emu::block_idx())
#define blockDim (::ck_emu::block_dim())
#define gridDim (::ck_emu::grid_dim())

inline void __syncthreads() { ck_emu::syncthreads(); }
inline void __syncwarp(unsigned = 0xffffffffu) { ck_emu::warp_exchange(0, -1, false); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// ---------------------------------------------------------------------------------------------------------
// Warp shuffles and votes (every lane of the warp taking part; the mask is not checked)

namespace ck_emu {
template <typename T>
inline T shuffle(T v, int src_lane) {
  static_assert(sizeof(T) <= 8, "shuffle of a value wider than 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  bits = warp_exchange(bits, src_lane, false);
  T r;
  std::memcpy(&r, &bits, sizeof(T));
  return r;
}
}  // namespace ck_emu

template <typename T>
inline T __shfl_sync(unsigned, T v, int src_lane, int width = warpSize) {
  const int lane = ck_emu::lane_id();
  return ck_emu::shuffle(v, (lane / width) * width + (src_lane % width));
}
template <typename T>
inline T __shfl_down_sync(unsigned, T v, unsigned delta, int width = warpSize) {
  const int lane = ck_emu::lane_id();
  const int src = lane % width + int(delta) < width ? lane + int(delta) : lane;
  return ck_emu::shuffle(v, src);
}
template <typename T>
inline T __shfl_up_sync(unsigned, T v, unsigned delta, int width = warpSize) {
  const int lane = ck_emu::lane_id();
  const int src = lane % width >= int(delta) ? lane - int(delta) : lane;
  return ck_emu::shuffle(v, src);
}
template <typename T>
inline T __shfl_xor_sync(unsigned, T v, int mask, int width = warpSize) {
  const int lane = ck_emu::lane_id();
  const int src = lane ^ mask;
  return ck_emu::shuffle(v, src / width == lane / width ? src : lane);
}
inline unsigned __ballot_sync(unsigned, int predicate) {
  return unsigned(ck_emu::warp_exchange(predicate != 0, -1, true));
}
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }
inline int __all_sync(unsigned mask, int predicate) {
  // Lanes that are not live vote as if true (the ballot has their bits clear).
  return !__any_sync(mask, !predicate);
}

// ---------------------------------------------------------------------------------------------------------
// Atomics: real atomics (compare-and-swap for floating point), so ThreadSanitizer sees them.

template <typename T>
inline T ck_emu_atomic_add_cas(T* address, T val) {
  using Bits = typename std::conditional<sizeof(T) == 4, uint32_t, uint64_t>::type;
  Bits* p = reinterpret_cast<Bits*>(address);
  Bits old_bits = __atomic_load_n(p, __ATOMIC_RELAXED);
  for (;;) {
    T old_val;
    std::memcpy(&old_val, &old_bits, sizeof(T));
    const T new_val = old_val + val;
    Bits new_bits;
    std::memcpy(&new_bits, &new_val, sizeof(T));
    if (__atomic_compare_exchange_n(p, &old_bits, new_bits, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
      return old_val;
    }
  }
}
inline float atomicAdd(float* a, float v) { return ck_emu_atomic_add_cas(a, v); }
inline double atomicAdd(double* a, double v) { return ck_emu_atomic_add_cas(a, v); }
inline int atomicAdd(int* a, int v) { return __atomic_fetch_add(a, v, __ATOMIC_RELAXED); }
inline unsigned atomicAdd(unsigned* a, unsigned v) { return __atomic_fetch_add(a, v, __ATOMIC_RELAXED); }
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) {
  return __atomic_fetch_add(a, v, __ATOMIC_RELAXED);
}
inline int atomicCAS(int* a, int compare, int val) {
  __atomic_compare_exchange_n(a, &compare, val, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return compare;
}
inline unsigned long long atomicCAS(unsigned long long* a, unsigned long long compare, unsigned long long val) {
  __atomic_compare_exchange_n(a, &compare, val, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return compare;
}
inline int atomicMax(int* a, int v) {
  int old = __atomic_load_n(a, __ATOMIC_RELAXED);
  while (old < v && !__atomic_compare_exchange_n(a, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}

// ---------------------------------------------------------------------------------------------------------
// Math: CUDA's overload sets of min/max (int, unsigned, 64-bit, float, double; mixed float/int promote to
// float as CUDA's do), and the float intrinsics (exact here; approximate on a GPU).

inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
inline float min(float a, int b) { return std::fmin(a, float(b)); }
inline float min(int a, float b) { return std::fmin(float(a), b); }
inline float max(float a, int b) { return std::fmax(a, float(b)); }
inline float max(int a, float b) { return std::fmax(float(a), b); }

using std::ceil;
using std::exp;
using std::fabs;
using std::floor;
using std::fma;
using std::fmax;
using std::fmin;
using std::isinf;
using std::isnan;
using std::log;
using std::pow;
using std::sqrt;
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline double __drcp_rn(double x) { return 1.0 / x; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __int_as_float(int v) {
  float f;
  std::memcpy(&f, &v, 4);
  return f;
}
inline int __float_as_int(float f) {
  int v;
  std::memcpy(&v, &f, 4);
  return v;
}
template <typename T>
inline T __ldg(const T* p) {
  return *p;
}

// ---------------------------------------------------------------------------------------------------------
// Runtime: memory is the host's, copies are memcpy, streams do nothing (launches run to completion).

cudaError_t cudaMalloc(void** p, size_t bytes);
cudaError_t cudaFree(void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = 0);
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t stream = 0);
cudaError_t cudaMemset(void* p, int value, size_t bytes);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetDeviceCount(int* count);
