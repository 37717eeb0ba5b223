// CPU state for training: denormal flushing and the thread count.
#pragma once

#include <cstddef>

namespace sequent {

// While alive, every OpenMP worker (and the calling thread) flushes denormal
// results to zero and treats denormal inputs as zero (x86 FTZ/DAZ). Adam's
// second moments decay into denormals within an epoch on Fashion-MNIST, and
// a denormal operand costs ~100 cycles on x86: flushing keeps training at
// full speed. Restores each thread's previous mode on destruction.
class FlushDenormals {
 public:
  FlushDenormals();
  ~FlushDenormals();
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

 private:
  unsigned previous_[64];
  int threads_ = 0;
};

// Threads the kernels may use (OpenMP). Default: every core.
void set_num_threads(int threads);
int num_threads();
// True inside a parallel region (where kernels run on one thread).
bool in_parallel();

namespace detail {
using PartFunction = void (*)(const void* body, std::size_t part,
                              std::size_t parts);
std::size_t run_parts(std::size_t parts, PartFunction first,
                      const void* first_body, PartFunction second,
                      const void* second_body);
}  // namespace detail

// Runs first(part, parts) for part = 0 … parts−1 on that many threads at
// once, waits until every part is done, then second(part, parts) on the
// same threads; returns `parts`, or fewer if OpenMP gave fewer threads.
// One fork and one barrier: the cheapest way to run a whole training step
// per thread and then combine the parts.
template <class First, class Second>
std::size_t run_parts(std::size_t parts, const First& first,
                      const Second& second) {
  return detail::run_parts(
      parts,
      [](const void* body, std::size_t part, std::size_t n) {
        (*static_cast<const First*>(body))(part, n);
      },
      &first,
      [](const void* body, std::size_t part, std::size_t n) {
        (*static_cast<const Second*>(body))(part, n);
      },
      &second);
}

}  // namespace sequent
