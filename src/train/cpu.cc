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
  threads_ = omp_get_max_threads() < kMaxThreads ? omp_get_max_threads()
                                                 : kMaxThreads;
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
  {
    _mm_setcsr(previous_[omp_get_thread_num()]);
  }
#endif
}

void set_num_threads(int threads) { omp_set_num_threads(threads); }
int num_threads() { return omp_get_max_threads(); }

}  // namespace sequent
