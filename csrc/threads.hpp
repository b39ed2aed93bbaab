// threads.hpp: the library-wide thread count used by every OpenMP region of the CPU kernels.
//
// One process-wide setting (not OpenMP's per-thread ICV), so that a kernel called from any Python
// thread uses the count the user chose with ck.set_num_threads().
#pragma once

namespace ck {

int num_threads();            // threads each kernel may use (>= 1)
int max_num_threads();        // the most set_num_threads accepts: kThreadsPerCore x the cores
void set_num_threads(int n);  // 1 <= n <= max_num_threads(); throws std::invalid_argument otherwise

// Threads to use for a loop of `work` independent items: never more than there are items, and 1 when
// already inside a parallel region (nested regions would oversubscribe the cores).
int threads_for(long long work);

}  // namespace ck
