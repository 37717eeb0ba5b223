// Progress reporting for fit: a live bar with ETA, loss and accuracy on a
// terminal; one plain line per epoch otherwise (logs, CI, pipes).
#pragma once

#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <string>

#include "sequent/train/history.hpp"

namespace sequent {

enum class Verbosity { kSilent, kAuto, kBar, kLines };

class ProgressReporter {
 public:
  // kAuto picks the bar when `out` is std::cout and stdout is a terminal.
  ProgressReporter(std::ostream& out, Verbosity verbosity, int epochs,
                   std::size_t steps_per_epoch);

  void begin_epoch(int epoch);
  // After each training step: steps done in this epoch, running means.
  void step(std::size_t done, double loss, double accuracy);
  void end_epoch(const EpochRecord& record);

 private:
  using Clock = std::chrono::steady_clock;
  std::ostream& out_;
  bool bar_ = false;
  bool silent_ = false;
  int epochs_;
  int epoch_ = 0;
  std::size_t steps_;
  // The terminal's width when drawing on one (the bar shrinks to fit, so
  // that a redraw never wraps and leaves a line behind), else 0.
  std::size_t columns_ = 0;
  Clock::time_point epoch_start_;
  Clock::time_point last_draw_;
};

// "epoch 3/5 - 2.4s - loss: 0.3012 - accuracy: 0.8911 - val_loss: …"
std::string format_epoch_line(const EpochRecord& record, int epochs);

}  // namespace sequent
