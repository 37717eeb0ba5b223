// CPU state for training: denormal flushing and the thread count.
#pragma once

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

}  // namespace sequent
