// workspace.cpp: the per-thread cache of scratch blocks behind Workspace<T> (workspace.hpp).
#include "workspace.hpp"

#include <omp.h>

#include <algorithm>
#include <new>
#include <vector>

#include "threads.hpp"

namespace ck {
namespace {

struct Block {
  void* p;
  size_t bytes;
};

// The blocks of one thread not in use, freed at thread exit.
struct Cache {
  std::vector<Block> free;
  size_t cached = 0;
  ~Cache() { clear(); }
  void clear() {
    for (const Block& b : free) ::operator delete(b.p, std::align_val_t(64));
    free.clear();
    cached = 0;
  }
};

Cache& cache() {
  thread_local Cache c;
  return c;
}

std::vector<void (*)()>& resets() {
  thread_local std::vector<void (*)()> r;
  return r;
}

void release_this_thread() {
  cache().clear();
  for (void (*reset)() : resets()) reset();
}

}  // namespace

namespace detail {

void* workspace_take(size_t bytes) {
  Cache& c = cache();
  // The smallest cached block that holds `bytes` (a kernel asks for a few sizes, the same each call).
  auto best = c.free.end();
  for (auto it = c.free.begin(); it != c.free.end(); ++it) {
    if (it->bytes >= bytes && (best == c.free.end() || it->bytes < best->bytes)) best = it;
  }
  if (best != c.free.end()) {
    void* p = best->p;
    c.cached -= best->bytes;
    c.free.erase(best);
    return p;
  }
  return ::operator new(bytes, std::align_val_t(64));
}

void workspace_give(void* p, size_t bytes) {
  Cache& c = cache();
  if (bytes > size_t(kWorkspaceCacheBytes)) {
    ::operator delete(p, std::align_val_t(64));
    return;
  }
  c.free.push_back({p, bytes});
  c.cached += bytes;
  // Over the bound: free the oldest blocks but the one just returned.
  while (c.cached > size_t(kWorkspaceCacheBytes) && c.free.size() > 1) {
    ::operator delete(c.free.front().p, std::align_val_t(64));
    c.cached -= c.free.front().bytes;
    c.free.erase(c.free.begin());
  }
}

}  // namespace detail

void detail::on_release(void (*reset)()) { resets().push_back(reset); }

void release_workspace() {
  release_this_thread();
#pragma omp parallel num_threads(max_num_threads())
  release_this_thread();
}

int64_t cached_workspace_bytes() { return int64_t(cache().cached); }

}  // namespace ck
