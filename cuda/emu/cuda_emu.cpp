// cuda_emu.cpp: the CUDA-on-CPU emulator behind cuda_emu.hpp: launches, fibers, barriers, shared memory,
// and the emulated runtime calls.
//
// A launch shares its blocks among a few OS threads (workers; CNNKERNELS_EMU_THREADS, default the cores, at
// most 8), block b going to worker b mod workers. A worker runs one block at a time: each CUDA thread is a
// fiber, started in thread order and run until it exits or waits at a barrier; when every fiber is done or
// waiting, the scheduler releases what can be released (a warp whose live lanes all wait at a warp operation,
// then the block when all its live threads wait at __syncthreads) and runs the released fibers again, in
// thread order. Nothing releasable while threads wait is a deadlock.
//
// Fibers switch by ck_emu_switch (x86-64 assembly below: callee-saved registers, MXCSR and the x87 control
// word; about ten instructions). A fiber's stack comes from a per-worker pool (64 KiB) and goes back when it
// exits, so a kernel without barriers runs on one stack; under a sanitizer stacks are 512 KiB.
//
// Sanitizers: ThreadSanitizer sees every fiber as a thread (__tsan_create_fiber). The scheduler switches into
// a fiber with synchronisation (the fiber sees the block's setup) and a fiber back to the scheduler without
// it, so fibers are ordered only by the barriers: each barrier instance is a release by every arriving thread
// and an acquire by every released one, on a token of that instance (two alternate: the phase parity), and an
// exiting thread releases the token of the next instance. Under TSan a worker keeps one TSan fiber and one
// stack per thread index for all its blocks (creating them per block cost minutes of system time a test
// file): CUDA thread t of every block the worker runs is one TSan thread, so a race between blocks that a
// worker runs one after the other is seen only between different thread indices. A worker acquires its
// fibers' exit token once its last block is done. AddressSanitizer is told each switch (__sanitizer_start/finish_switch_fiber), and shared
// memory is a plain heap object per declaration site and block, with redzones. The emulator's own bookkeeping
// is not instrumented (CK_EMU_NO_TSAN).
#include "cuda_emu.hpp"


#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__SANITIZE_THREAD__)
#define CK_EMU_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CK_EMU_ASAN 1
#endif

#if CK_EMU_TSAN
extern "C" {
void* __tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void* fiber);
void* __tsan_get_current_fiber(void);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
void __tsan_acquire(void* addr);
void __tsan_release(void* addr);
void AnnotateIgnoreWritesBegin(const char* file, int line);
void AnnotateIgnoreWritesEnd(const char* file, int line);
}
#define CK_EMU_NO_TSAN __attribute__((no_sanitize("thread")))
#else
#define CK_EMU_NO_TSAN
#endif

#if CK_EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

extern "C" void ck_emu_switch(void** save_sp, void* load_sp);

// ck_emu_switch(save_sp, load_sp): saves the callee-saved state on the current stack and its stack pointer in
// *save_sp, then loads the state saved at load_sp and returns there.
asm(R"(
  .pushsection .text
  .p2align 4
  .globl ck_emu_switch
  .hidden ck_emu_switch
  .type ck_emu_switch, @function
ck_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size ck_emu_switch, .-ck_emu_switch
  .popsection
)");

namespace ck_emu {
namespace {

#if CK_EMU_TSAN || CK_EMU_ASAN
constexpr size_t kStackBytes = 512 * 1024;
#else
constexpr size_t kStackBytes = 64 * 1024;
#endif
constexpr size_t kMaxDynamicShared = 48 * 1024;  // without the opt-in attribute, as on every GPU since sm_70

enum class State : uint8_t { fresh, runnable, at_block_barrier, at_warp_barrier, done };

struct Fiber {
  ThreadContext ctx;
  int lane = 0;  // within the warp
  State state = State::fresh;
  void* sp = nullptr;
  char* stack = nullptr;
  // A warp operation's arguments, and its result.
  uint64_t warp_value = 0, warp_result = 0;
  int warp_src = -1;
  bool warp_vote = false;
  void* token = nullptr;  // the barrier instance waited at (TSan)
#if CK_EMU_TSAN
  void* tsan_fiber = nullptr;
#endif
#if CK_EMU_ASAN
  void* asan_fake_stack = nullptr;
#endif
};

struct SharedObject {
  const void* key;
  char* data;
  size_t bytes;
};

// One OS thread of a launch, and the block it runs.
struct Worker {
  const std::function<void()>* body = nullptr;
  dim3 grid, block;
  std::vector<Fiber> fibers;
  Fiber* current = nullptr;
  void* scheduler_sp = nullptr;
  std::vector<char*> free_stacks;
#if CK_EMU_TSAN
  std::vector<char*> thread_stacks;   // by thread index, for all blocks
  std::vector<void*> thread_fibers;
#endif
  // The block's shared objects: a plain array, so the lookups (by every fiber) are not instrumented.
  static constexpr int kMaxSharedObjects = 64;
  SharedObject shared[kMaxSharedObjects];
  int shared_count = 0;
  std::vector<char> dynamic_shared;
  // Barrier tokens: the block's, per phase parity, and each warp's (TSan orders fibers on their addresses).
  unsigned block_phase = 0;
  char block_tokens[2] = {0, 0};
  std::vector<unsigned> warp_phase;
  std::vector<char> warp_tokens;  // 2 per warp
  char exit_token = 0;
#if CK_EMU_TSAN
  void* scheduler_fiber = nullptr;
#endif
#if CK_EMU_ASAN
  void* asan_fake_stack = nullptr;
  const void* scheduler_stack_bottom = nullptr;
  size_t scheduler_stack_size = 0;
#endif
  std::string error;

  ~Worker() {
    for (char* s : free_stacks) std::free(s);
#if CK_EMU_TSAN
    for (char* s : thread_stacks) std::free(s);
    for (void* f : thread_fibers) {
      if (f) __tsan_destroy_fiber(f);
    }
#endif
    release_shared();
  }
  // Freeing is not an access that races with the block's fibers (they are done).
  CK_EMU_NO_TSAN void release_shared() {
#if CK_EMU_TSAN
    AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
#endif
    for (int i = 0; i < shared_count; ++i) delete[] shared[i].data;
    shared_count = 0;
#if CK_EMU_TSAN
    AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
#endif
  }
};

thread_local Worker* tl_worker = nullptr;
thread_local std::string tl_error;
thread_local cudaError_t tl_last_error = cudaSuccess;

inline void tsan_release(void* token) {
#if CK_EMU_TSAN
  __tsan_release(token);
#else
  (void)token;
#endif
}

inline void tsan_acquire(void* token) {
#if CK_EMU_TSAN
  __tsan_acquire(token);
#else
  (void)token;
#endif
}

// From the running fiber back to its worker's scheduler (exiting: the fiber will not run again).
CK_EMU_NO_TSAN void switch_to_scheduler(Worker* w, Fiber* f, bool exiting) {
#if CK_EMU_TSAN
  __tsan_switch_to_fiber(w->scheduler_fiber, 1 /* __tsan_switch_to_fiber_no_sync */);
#endif
#if CK_EMU_ASAN
  __sanitizer_start_switch_fiber(exiting ? nullptr : &f->asan_fake_stack, w->scheduler_stack_bottom,
                                 w->scheduler_stack_size);
#endif
  (void)exiting;
  ck_emu_switch(&f->sp, w->scheduler_sp);
#if CK_EMU_ASAN
  __sanitizer_finish_switch_fiber(f->asan_fake_stack, nullptr, nullptr);
#endif
}

[[noreturn]] CK_EMU_NO_TSAN void fiber_main() {
  Worker* w = tl_worker;
#if CK_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &w->scheduler_stack_bottom, &w->scheduler_stack_size);
#endif
  (*w->body)();
  Fiber* f = w->current;
  // An exited thread counts as arrived at every later barrier: what it wrote is ordered before the next
  // instance of the block's barrier and of its warp's (never before one already released, whose threads may
  // not have resumed yet), and through them before every later one.
  tsan_release(&w->block_tokens[w->block_phase & 1]);
  const size_t warp = size_t(f - w->fibers.data()) / warpSize;
  tsan_release(&w->warp_tokens[2 * warp + (w->warp_phase[warp] & 1)]);
  tsan_release(&w->exit_token);
  f->state = State::done;
  switch_to_scheduler(w, f, true);
  __builtin_unreachable();
}

// A stack for thread index t (under TSan always the same one for t; else any free one).
CK_EMU_NO_TSAN char* new_stack(Worker* w, size_t t) {
#if CK_EMU_TSAN
  if (w->thread_stacks.size() <= t) w->thread_stacks.resize(t + 1, nullptr);
  if (!w->thread_stacks[t]) w->thread_stacks[t] = static_cast<char*>(std::malloc(kStackBytes));
  return w->thread_stacks[t];
#else
  (void)t;
  if (!w->free_stacks.empty()) {
    char* s = w->free_stacks.back();
    w->free_stacks.pop_back();
    return s;
  }
  return static_cast<char*>(std::malloc(kStackBytes));
#endif
}

CK_EMU_NO_TSAN void free_stack(Worker* w, char* s) {
  if (!s) return;
#if CK_EMU_TSAN
  (void)w;  // kept for its thread index
#else
#if CK_EMU_ASAN
  __asan_unpoison_memory_region(s, kStackBytes);
#endif
  w->free_stacks.push_back(s);
#endif
}

// Runs fiber f until it exits or waits; starts it first when fresh. False when no stack could be had.
CK_EMU_NO_TSAN bool resume(Worker* w, Fiber* f) {
  if (f->state == State::fresh) {
    const size_t t = size_t(f - w->fibers.data());
    f->stack = new_stack(w, t);
    if (!f->stack) return false;
    // The frame ck_emu_switch pops: MXCSR and x87 control word, six registers, then the return address
    // (fiber_main), which it enters with the stack as a call would leave it (8 mod 16).
    uintptr_t top = (reinterpret_cast<uintptr_t>(f->stack) + kStackBytes) & ~uintptr_t(15);
    uint64_t* frame = reinterpret_cast<uint64_t*>(top - 72);
    frame[0] = 0x1F80u | (uint64_t(0x037Fu) << 32);
    for (int i = 1; i <= 6; ++i) frame[i] = 0;
    frame[7] = reinterpret_cast<uint64_t>(&fiber_main);
    frame[8] = 0;
    f->sp = frame;
#if CK_EMU_TSAN
    if (w->thread_fibers.size() <= t) w->thread_fibers.resize(t + 1, nullptr);
    if (!w->thread_fibers[t]) w->thread_fibers[t] = __tsan_create_fiber(0);
    f->tsan_fiber = w->thread_fibers[t];
#endif
  }
  f->state = State::runnable;
  w->current = f;
#if CK_EMU_TSAN
  __tsan_switch_to_fiber(f->tsan_fiber, 0);
#endif
#if CK_EMU_ASAN
  __sanitizer_start_switch_fiber(&w->asan_fake_stack, f->stack, kStackBytes);
#endif
  ck_emu_switch(&w->scheduler_sp, f->sp);
#if CK_EMU_ASAN
  __sanitizer_finish_switch_fiber(w->asan_fake_stack, nullptr, nullptr);
#endif
  w->current = nullptr;
  if (f->state == State::done) {
    free_stack(w, f->stack);
    f->stack = nullptr;
  }
  return true;
}

// The warp operation of warp `first .. first + lanes`, once every live lane waits at it.
CK_EMU_NO_TSAN void release_warp(Worker* w, size_t first, size_t lanes) {
  uint64_t ballot = 0;
  for (size_t l = 0; l < lanes; ++l) {
    const Fiber& f = w->fibers[first + l];
    if (f.state == State::at_warp_barrier && f.warp_value != 0) ballot |= uint64_t(1) << l;
  }
  for (size_t l = 0; l < lanes; ++l) {
    Fiber& f = w->fibers[first + l];
    if (f.state != State::at_warp_barrier) continue;
    if (f.warp_vote) {
      f.warp_result = ballot;
    } else {
      const int src = f.warp_src;
      const bool valid = src >= 0 && size_t(src) < lanes && w->fibers[first + src].state == State::at_warp_barrier;
      f.warp_result = valid ? w->fibers[first + src].warp_value : f.warp_value;
    }
  }
  for (size_t l = 0; l < lanes; ++l) {
    Fiber& f = w->fibers[first + l];
    if (f.state == State::at_warp_barrier) f.state = State::runnable;
  }
  w->warp_phase[first / warpSize]++;
}

// Runs block `index` of the launch to its end; false (with w->error) on a deadlock or a failure.
CK_EMU_NO_TSAN bool run_block(Worker* w, uint64_t index) {
  const dim3 g = w->grid, b = w->block;
  const size_t n = size_t(b.x) * b.y * b.z;
  const uint3 bidx{unsigned(index % g.x), unsigned(index / g.x % g.y), unsigned(index / (uint64_t(g.x) * g.y))};
  w->fibers.assign(n, Fiber{});
  for (size_t t = 0; t < n; ++t) {
    Fiber& f = w->fibers[t];
    f.ctx.thread_idx = uint3{unsigned(t % b.x), unsigned(t / b.x % b.y), unsigned(t / (size_t(b.x) * b.y))};
    f.ctx.block_idx = bidx;
    f.ctx.block_dim = b;
    f.ctx.grid_dim = g;
    f.lane = int(t % warpSize);
  }
  const size_t warps = (n + warpSize - 1) / warpSize;
  w->warp_phase.assign(warps, 0);
  w->warp_tokens.assign(2 * warps, 0);
  w->block_phase = 0;
  if (!w->dynamic_shared.empty()) {
    // Refilled for each block: not an access that races with the previous block's fibers (they are done).
#if CK_EMU_TSAN
    AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
#endif
    std::memset(w->dynamic_shared.data(), 0xFF, w->dynamic_shared.size());
#if CK_EMU_TSAN
    AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
#endif
  }

  bool ok = true;
  for (;;) {
    for (size_t t = 0; t < n && ok; ++t) {
      Fiber& f = w->fibers[t];
      if (f.state == State::fresh || f.state == State::runnable) {
        if (!resume(w, &f)) {
          w->error = "could not allocate a fiber stack";
          ok = false;
        }
      }
    }
    if (!ok) break;
    size_t live = 0, at_block = 0;
    for (const Fiber& f : w->fibers) {
      live += f.state != State::done;
      at_block += f.state == State::at_block_barrier;
    }
    if (live == 0) break;
    bool released = false;
    for (size_t wi = 0; wi < warps; ++wi) {
      const size_t first = wi * warpSize, lanes = std::min<size_t>(warpSize, n - first);
      size_t warp_live = 0, waiting = 0;
      for (size_t l = 0; l < lanes; ++l) {
        const State s = w->fibers[first + l].state;
        warp_live += s != State::done;
        waiting += s == State::at_warp_barrier;
      }
      if (waiting > 0 && waiting == warp_live) {
        release_warp(w, first, lanes);
        released = true;
      }
    }
    if (!released && at_block == live) {
      for (Fiber& f : w->fibers) {
        if (f.state == State::at_block_barrier) f.state = State::runnable;
      }
      w->block_phase++;
      released = true;
    }
    if (!released) {
      w->error = "deadlock in block (" + std::to_string(bidx.x) + ", " + std::to_string(bidx.y) + ", " +
                 std::to_string(bidx.z) + "): " + std::to_string(at_block) + " of " + std::to_string(live) +
                 " live threads wait at __syncthreads, the others at a warp operation that not all of their "
                 "warp reach";
      ok = false;
      break;
    }
  }
  // Fibers left waiting (an error) are abandoned with their stacks; what they did up to the barrier they wait
  // at (its token, released on arrival) is ordered before what the host does next.
  for (Fiber& f : w->fibers) {
    if (f.state != State::done && f.stack) {
      tsan_acquire(f.token);
      free_stack(w, f.stack);
      f.stack = nullptr;
    }
  }
  w->release_shared();
  return ok;
}

CK_EMU_NO_TSAN void run_worker(Worker* w, uint64_t first, uint64_t step, uint64_t blocks) {
  tl_worker = w;
#if CK_EMU_TSAN
  w->scheduler_fiber = __tsan_get_current_fiber();
#endif
  for (uint64_t i = first; i < blocks; i += step) {
    if (!run_block(w, i)) break;
  }
  tsan_acquire(&w->exit_token);
  tl_worker = nullptr;
}

int emu_threads() {
  static const int n = [] {
    int threads = int(std::thread::hardware_concurrency());
    if (const char* env = std::getenv("CNNKERNELS_EMU_THREADS")) threads = std::atoi(env);
    return std::max(1, std::min(threads, 8));
  }();
  return n;
}

bool valid_configuration(dim3 grid, dim3 block, size_t smem, std::string* why) {
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  if (block.x == 0 || block.y == 0 || block.z == 0 || grid.x == 0 || grid.y == 0 || grid.z == 0) {
    *why = "a grid or block dimension is 0";
  } else if (threads > 1024 || block.x > 1024 || block.y > 1024 || block.z > 64) {
    *why = "more than 1024 threads a block, or a block dimension over its limit (1024, 1024, 64)";
  } else if (grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) {
    *why = "a grid dimension over its limit (2^31 - 1, 65535, 65535)";
  } else if (smem > kMaxDynamicShared) {
    *why = "more than 48 KiB of dynamic shared memory";
  } else {
    return true;
  }
  return false;
}

}  // namespace

CK_EMU_NO_TSAN uint3 thread_idx() { return tl_worker->current->ctx.thread_idx; }
CK_EMU_NO_TSAN uint3 block_idx() { return tl_worker->current->ctx.block_idx; }
CK_EMU_NO_TSAN dim3 block_dim() { return tl_worker->current->ctx.block_dim; }
CK_EMU_NO_TSAN dim3 grid_dim() { return tl_worker->current->ctx.grid_dim; }

CK_EMU_NO_TSAN int lane_id() { return tl_worker->current->lane; }

CK_EMU_NO_TSAN void syncthreads() {
  Worker* w = tl_worker;
  Fiber* f = w->current;
  f->token = &w->block_tokens[w->block_phase & 1];
  tsan_release(f->token);
  f->state = State::at_block_barrier;
  switch_to_scheduler(w, f, false);
  tsan_acquire(f->token);
}

CK_EMU_NO_TSAN uint64_t warp_exchange(uint64_t value, int src_lane, bool vote) {
  Worker* w = tl_worker;
  Fiber* f = w->current;
  const size_t warp = size_t(f - w->fibers.data()) / warpSize;
  f->token = &w->warp_tokens[2 * warp + (w->warp_phase[warp] & 1)];
  f->warp_value = value;
  f->warp_src = src_lane;
  f->warp_vote = vote;
  tsan_release(f->token);
  f->state = State::at_warp_barrier;
  switch_to_scheduler(w, f, false);
  tsan_acquire(f->token);
  return f->warp_result;
}

CK_EMU_NO_TSAN void* shared_memory(const void* key, size_t bytes) {
  Worker* w = tl_worker;
  for (int i = 0; i < w->shared_count; ++i) {
    if (w->shared[i].key == key) return w->shared[i].data;
  }
  if (w->shared_count == Worker::kMaxSharedObjects) {
    std::fprintf(stderr, "cuda_emu: more than %d shared-memory declarations in one kernel\n", Worker::kMaxSharedObjects);
    std::abort();
  }
#if CK_EMU_TSAN
  // Neither the allocation nor the fill is an access of the fiber that happens to declare it first.
  AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
#endif
  char* data = new char[bytes];  // its own heap object: AddressSanitizer puts redzones around it
  std::memset(data, 0xFF, bytes);  // NaN as float and double
#if CK_EMU_TSAN
  AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
#endif
  w->shared[w->shared_count++] = SharedObject{key, data, bytes};
  return data;
}

CK_EMU_NO_TSAN void* dynamic_shared_memory() { return tl_worker->dynamic_shared.data(); }

cudaError_t launch(dim3 grid, dim3 block, size_t dynamic_smem_bytes, const std::function<void()>& body) {
  std::string why;
  if (!valid_configuration(grid, block, dynamic_smem_bytes, &why)) {
    tl_error = "invalid launch configuration: " + why;
    return tl_last_error = cudaErrorInvalidConfiguration;
  }
  const uint64_t blocks = uint64_t(grid.x) * grid.y * grid.z;
  const int nworkers = int(std::min<uint64_t>(blocks, uint64_t(emu_threads())));
  std::vector<Worker> workers(nworkers);
  for (Worker& w : workers) {
    w.body = &body;
    w.grid = grid;
    w.block = block;
    w.dynamic_shared.assign(dynamic_smem_bytes, char(0xFF));
  }
  std::vector<std::thread> threads;
  for (int i = 1; i < nworkers; ++i) {
    threads.emplace_back(run_worker, &workers[i], uint64_t(i), uint64_t(nworkers), blocks);
  }
  run_worker(&workers[0], 0, uint64_t(nworkers), blocks);
  for (std::thread& t : threads) t.join();
  for (Worker& w : workers) {
    if (!w.error.empty()) {
      tl_error = "kernel launch failed: " + w.error;
      return tl_last_error = cudaErrorLaunchFailure;
    }
  }
  return cudaSuccess;
}

const char* last_error_message() { return tl_error.c_str(); }

}  // namespace ck_emu

// ---------------------------------------------------------------------------------------------------------
// The emulated runtime

cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = nullptr;
  const size_t rounded = (std::max<size_t>(bytes, 1) + 255) & ~size_t(255);
  *p = std::aligned_alloc(256, rounded);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  if (bytes) std::memcpy(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void* p, int value, size_t bytes) {
  if (bytes) std::memset(p, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t) { return cudaMemset(p, value, bytes); }

cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

cudaError_t cudaGetLastError() {
  const cudaError_t e = ck_emu::tl_last_error;
  ck_emu::tl_last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError() { return ck_emu::tl_last_error; }

const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
  }
  return "unknown error";
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
