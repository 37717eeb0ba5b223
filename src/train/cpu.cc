// FTZ/DAZ on every OpenMP thread, and the thread count.
#include "sequent/train/cpu.hpp"

#include <omp.h>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define SEQUENT_HAS_MXCSR 1
#else
#define SEQUENT_HAS_MXCSR 0
#endif

namespace sequent {
namespace {
// MXCSR bits: FTZ (flush-to-zero, bit 15) and DAZ (denormals-are-zero, 6).
constexpr unsigned kFlushBits = 0x8040;
constexpr int kMaxThreads = 64;
}  // namespace

FlushDenormals::FlushDenormals() {
#if SEQUENT_HAS_MXCSR
  // Each thread has its own MXCSR, and OpenMP keeps its workers alive
  // between parallel regions, so setting it once per worker lasts until the
  // destructor resets it.
  threads_ =
      omp_get_max_threads() < kMaxThreads ? omp_get_max_threads() : kMaxThreads;
#pragma omp parallel num_threads(threads_)
  {
    const int t = omp_get_thread_num();
    previous_[t] = _mm_getcsr();
    _mm_setcsr(previous_[t] | kFlushBits);
  }
#endif
}

FlushDenormals::~FlushDenormals() {
#if SEQUENT_HAS_MXCSR
#pragma omp parallel num_threads(threads_)
  { _mm_setcsr(previous_[omp_get_thread_num()]); }
#endif
}

void set_num_threads(int threads) { omp_set_num_threads(threads); }
int num_threads() { return omp_get_max_threads(); }
bool in_parallel() { return omp_in_parallel() != 0; }

namespace detail {
std::size_t run_parts(std::size_t parts, PartFunction first,
                      const void* first_body, PartFunction second,
                      const void* second_body) {
  if (parts <= 1) {
    first(first_body, 0, 1);
    second(second_body, 0, 1);
    return 1;
  }
  std::size_t team_size = 1;
  const int threads = static_cast<int>(parts);
#pragma omp parallel num_threads(threads)
  {
    const auto team = static_cast<std::size_t>(omp_get_num_threads());
    const auto part = static_cast<std::size_t>(omp_get_thread_num());
    first(first_body, part, team);
#pragma omp barrier
    second(second_body, part, team);
    if (part == 0) team_size = team;
  }
  return team_size;
}
}  // namespace detail

}  // namespace sequent
