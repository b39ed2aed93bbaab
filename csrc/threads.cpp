// threads.cpp: the process-wide thread count (see threads.hpp).
#include "cnnkernels/threads.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>

namespace ck {
namespace {

// Starts at OpenMP's default (OMP_NUM_THREADS or the number of cores).
std::atomic<int>& thread_count() {
  static std::atomic<int> count{std::max(1, omp_get_max_threads())};
  return count;
}

}  // namespace

int num_threads() { return thread_count().load(std::memory_order_relaxed); }

void set_num_threads(int n) {
  if (n < 1) {
    throw std::invalid_argument("set_num_threads: n must be a positive integer, got " + std::to_string(n));
  }
  thread_count().store(n, std::memory_order_relaxed);
}

int threads_for(long long work) {
  if (omp_in_parallel() || work <= 1) return 1;
  return static_cast<int>(std::min<long long>(num_threads(), work));
}

}  // namespace ck
