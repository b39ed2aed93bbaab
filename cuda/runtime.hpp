// runtime.hpp: the host side that the CUDA launchers and the bindings of both CUDA modules share: the CUDA
// runtime (or, with CK_CUDA_EMU, the CUDA-on-CPU emulation of emu/cuda_emu.hpp), CUDA errors as C++
// exceptions, and the call context (stream, device-memory allocator) that the bindings set for each call.
// Plain C++: compiled by nvcc in the .cu files and by the host compiler in the bindings.
#pragma once

#if defined(CK_CUDA_EMU)
#include "emu/cuda_emu.hpp"
#else
#include <cuda_runtime.h>
#endif

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace ck {
namespace cuda {

// A CUDA error (a failed allocation, launch or copy): Python RuntimeError (MemoryError when out of memory).
struct CudaError : std::runtime_error {
  CudaError(const std::string& what, cudaError_t code) : std::runtime_error(what), code(code) {}
  cudaError_t code;
};

inline void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  std::string message = std::string(what) + ": " + cudaGetErrorString(e);
#if defined(CK_CUDA_EMU)
  const char* detail = ck_emu::last_error_message();
  if (detail && *detail) message += std::string(" (") + detail + ")";
#endif
  throw CudaError(message, e);
}

// The stream and the device-memory allocator of the call in progress on this host thread, set by the
// bindings (CallScope). alloc(bytes) returns device memory that stays valid until the call returns (from
// CuPy's memory pool for CuPy arrays: stream-ordered reuse makes returning it early safe).
struct CallContext {
  cudaStream_t stream = nullptr;
  std::function<void*(size_t)> alloc;
};

inline CallContext& call_context() {
  static thread_local CallContext context;
  return context;
}

inline cudaStream_t current_stream() { return call_context().stream; }

// Device workspace of `bytes` for the call in progress (nullptr for 0 bytes).
template <typename T>
T* workspace(size_t count) {
  if (count == 0) return nullptr;
  CallContext& c = call_context();
  if (!c.alloc) throw std::logic_error("ck::cuda::workspace: no call context (the bindings set one)");
  return static_cast<T*>(c.alloc(count * sizeof(T)));
}

// An operation this build's CUDA kernels do not have: Python NotImplementedError.
struct NotImplemented : std::logic_error {
  using std::logic_error::logic_error;
};

}  // namespace cuda
}  // namespace ck
