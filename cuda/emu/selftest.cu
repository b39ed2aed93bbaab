// selftest.cu: small kernels that check the emulator itself (barriers, warp operations, shared memory, launch
// checks, deadlock detection), run from tests/test_cuda_emu.py through _cuda_emu.emu_selftest(name). Built into
// _cuda_emu only: these test the emulation, not the GPU.
#include <cmath>
#include <string>
#include <vector>

#include "../common.cuh"

namespace ck {
namespace cuda {
namespace {

// ---------------------------------------------------------------------------------------------------------
// kernels

// Tree reduction of each block's values in shared memory (needs every __syncthreads).
__global__ void block_sum_kernel(const float* x, float* out, int n) {
  CK_SHARED(float, buf, [128]);
  const int t = threadIdx.x;
  float v = 0;
  for (int i = blockIdx.x * blockDim.x + t; i < n; i += gridDim.x * blockDim.x) v += x[i];
  buf[t] = v;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (t < stride) buf[t] += buf[t + stride];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = buf[0];
}

// Warp sums by __shfl_down_sync, a ballot and a broadcast, per warp.
__global__ void warp_kernel(const float* x, float* sums, unsigned* ballots, float* broadcast) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = x[i];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  const unsigned b = __ballot_sync(0xffffffffu, threadIdx.x % 3 == 0);
  const float lane5 = __shfl_sync(0xffffffffu, x[i], 5);
  if (threadIdx.x % 32 == 0) {
    sums[i / 32] = v;
    ballots[i / 32] = b;
    broadcast[i / 32] = lane5;
  }
}

// Reads shared memory that no thread wrote: the emulator fills it with NaN.
__global__ void unwritten_shared_kernel(float* out) {
  CK_SHARED(float, tile, [4][4]);
  out[threadIdx.x] = tile[threadIdx.x / 4][threadIdx.x % 4];
}

// Threads of one warp wait at different barriers: a deadlock.
__global__ void deadlock_kernel(float* out) {
  if (threadIdx.x < 5) {
    __syncthreads();
  } else {
    __syncwarp();
  }
  out[threadIdx.x] = 1;
}

// Threads that exit early count as arrived at later barriers (as on hardware).
__global__ void early_exit_kernel(float* out) {
  CK_SHARED(float, buf, [64]);
  if (threadIdx.x >= 40) return;
  buf[threadIdx.x] = float(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] = buf[39 - threadIdx.x];
}

__global__ void index_kernel(unsigned* out) {
  const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  out[b * blockDim.x * blockDim.y * blockDim.z + t] = b * 1000 + t;
}

template <typename T>
std::vector<T> run_on_device(size_t n, const std::function<void(T*)>& body) {
  T* d = nullptr;
  check(cudaMalloc(reinterpret_cast<void**>(&d), n * sizeof(T)), "cudaMalloc");
  body(d);
  std::vector<T> h(n);
  check(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy");
  cudaFree(d);
  return h;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// launchers: each returns what its kernels computed (checked in tests/test_cuda_emu.py), or throws.

std::vector<double> emu_selftest(const std::string& name) {
  std::vector<double> r;
  if (name == "block_sum") {
    const int n = 1000;
    std::vector<float> x(n);
    for (int i = 0; i < n; ++i) x[i] = float(i % 7);
    float* dx = nullptr;
    check(cudaMalloc(reinterpret_cast<void**>(&dx), n * sizeof(float)), "cudaMalloc");
    check(cudaMemcpy(dx, x.data(), n * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy");
    for (float v : run_on_device<float>(3, [&](float* out) {
           launch("block_sum", block_sum_kernel, dim3(3), dim3(128), 0, static_cast<const float*>(dx), out, n);
         })) {
      r.push_back(v);
    }
    cudaFree(dx);
  } else if (name == "warp") {
    const int n = 96;  // three warps
    std::vector<float> x(n);
    for (int i = 0; i < n; ++i) x[i] = float(i);
    float* dx = nullptr;
    check(cudaMalloc(reinterpret_cast<void**>(&dx), n * sizeof(float)), "cudaMalloc");
    check(cudaMemcpy(dx, x.data(), n * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy");
    unsigned* db = nullptr;
    float* dbc = nullptr;
    check(cudaMalloc(reinterpret_cast<void**>(&db), 3 * sizeof(unsigned)), "cudaMalloc");
    check(cudaMalloc(reinterpret_cast<void**>(&dbc), 3 * sizeof(float)), "cudaMalloc");
    const std::vector<float> sums = run_on_device<float>(3, [&](float* out) {
      launch("warp", warp_kernel, dim3(1), dim3(n), 0, static_cast<const float*>(dx), out, db, dbc);
    });
    std::vector<unsigned> b(3);
    std::vector<float> bc(3);
    check(cudaMemcpy(b.data(), db, 3 * sizeof(unsigned), cudaMemcpyDeviceToHost), "cudaMemcpy");
    check(cudaMemcpy(bc.data(), dbc, 3 * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy");
    for (int w = 0; w < 3; ++w) {
      r.push_back(sums[w]);
      r.push_back(b[w]);
      r.push_back(bc[w]);
    }
    cudaFree(dx);
    cudaFree(db);
    cudaFree(dbc);
  } else if (name == "unwritten_shared") {
    for (float v : run_on_device<float>(16, [](float* out) {
           launch("unwritten_shared", unwritten_shared_kernel, dim3(1), dim3(16), 0, out);
         })) {
      r.push_back(v);
    }
  } else if (name == "deadlock") {
    run_on_device<float>(64, [](float* out) { launch("deadlock", deadlock_kernel, dim3(1), dim3(64), 0, out); });
  } else if (name == "early_exit") {
    for (float v : run_on_device<float>(40, [](float* out) {
           launch("early_exit", early_exit_kernel, dim3(1), dim3(64), 0, out);
         })) {
      r.push_back(v);
    }
  } else if (name == "too_many_threads") {
    run_on_device<float>(1, [](float* out) { launch("deadlock", deadlock_kernel, dim3(1), dim3(2048), 0, out); });
  } else if (name == "indices") {
    const dim3 grid(3, 2, 2), block(5, 3, 2);
    for (unsigned v : run_on_device<unsigned>(12 * 30, [&](unsigned* out) {
           launch("index", index_kernel, grid, block, 0, out);
         })) {
      r.push_back(v);
    }
  } else {
    throw std::invalid_argument("emu_selftest: unknown test '" + name + "'");
  }
  return r;
}

}  // namespace cuda
}  // namespace ck
