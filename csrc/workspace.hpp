// workspace.hpp: scratch memory for the CPU kernels, reused across calls by the thread that asks for it.
//
// A kernel's large temporary buffers (the GEMM's packing blocks, the FFT's spectra, Winograd's transformed
// tiles) come from Workspace<T>, taken from a cache of the calling thread: the next call on that thread
// reuses the same pages instead of faulting in fresh ones (900-1100 page faults a call on a 6 ms layer, and
// the kernel's lock on the process's page tables, which serialises two Python threads calling at once).
// The cache is per thread, so it needs no lock and threads never share a block. It holds at most
// kWorkspaceCacheBytes per thread (a larger block is freed when returned), and is freed at thread exit or
// by release_workspace() (ck.release_workspace()).
//
// Blocks are 64-byte aligned and uninitialised. A Workspace is taken outside OpenMP regions, by the thread
// that calls the kernel (the team's threads then share it, each using its own part).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ck {

constexpr int64_t kWorkspaceCacheBytes = int64_t(256) << 20;

namespace detail {
void* workspace_take(size_t bytes);          // from this thread's cache, or newly allocated (bad_alloc)
void workspace_give(void* p, size_t bytes);  // back to this thread's cache
}  // namespace detail

template <typename T>
class Workspace {
 public:
  explicit Workspace(int64_t count)
      : bytes_(count > 0 ? size_t(count) * sizeof(T) : 0),
        p_(bytes_ ? static_cast<T*>(detail::workspace_take(bytes_)) : nullptr) {}
  ~Workspace() {
    if (p_) detail::workspace_give(p_, bytes_);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  T* get() const { return p_; }

 private:
  size_t bytes_;
  T* p_;
};

// Frees the calling thread's cached blocks and thread_state()s, and those of the OpenMP threads its kernels
// run on.
void release_workspace();

namespace detail {
void on_release(void (*reset)());  // reset() runs on this thread at its next release_workspace()
}  // namespace detail

// The calling thread's instance of State, kept between calls (Winograd's transformed weights) and reset to
// State{} by release_workspace(); freed at thread exit.
template <typename State>
State& thread_state() {
  thread_local State state;
  thread_local const bool registered = (detail::on_release([] { thread_state<State>() = State{}; }), true);
  (void)registered;
  return state;
}

// Bytes cached by the calling thread (tests).
int64_t cached_workspace_bytes();

}  // namespace ck
