// threads.cpp: the process-wide thread count (see threads.hpp).
#include "threads.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>

namespace ck {
namespace {

// More threads than this many per core only add switching (and thousands of them exhaust the process's
// stacks), so set_num_threads refuses them.
constexpr int kThreadsPerCore = 4;

// Starts at OpenMP's default (OMP_NUM_THREADS or the number of cores), within the cap.
std::atomic<int>& thread_count() {
  static std::atomic<int> count{std::clamp(omp_get_max_threads(), 1, max_num_threads())};
  return count;
}

}  // namespace

int num_threads() { return thread_count().load(std::memory_order_relaxed); }

int max_num_threads() { return kThreadsPerCore * std::max(1, omp_get_num_procs()); }

void set_num_threads(int n) {
  if (n < 1 || n > max_num_threads()) {
    throw std::invalid_argument("set_num_threads: n must be in [1, " + std::to_string(max_num_threads()) + "] (" +
                                std::to_string(kThreadsPerCore) + " x the " +
                                std::to_string(omp_get_num_procs()) + " cores), got " + std::to_string(n));
  }
  thread_count().store(n, std::memory_order_relaxed);
}

int threads_for(long long work) {
  if (omp_in_parallel() || work <= 1) return 1;
  return static_cast<int>(std::min<long long>(num_threads(), work));
}

}  // namespace ck
