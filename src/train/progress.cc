// Progress reporting: a redrawn bar on terminals, plain lines elsewhere.
#include "sequent/train/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

namespace sequent {
namespace {

std::string format_seconds(double s) {
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else {
    std::snprintf(buf, sizeof buf, "%d:%02d", static_cast<int>(s) / 60,
                  static_cast<int>(s) % 60);
  }
  return buf;
}

std::string metric(const char* name, double value) {
  if (std::isnan(value)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, " - %s: %.4f", name, value);
  return buf;
}

}  // namespace

std::string format_epoch_line(const EpochRecord& r, int epochs) {
  std::string line = "epoch " + std::to_string(r.epoch) + "/" +
                     std::to_string(epochs) + " - " + format_seconds(r.seconds);
  // The same order as History's columns; unmeasured values print nothing.
  for (const std::string& name : metric_columns(r.metrics)) {
    line += metric(name.c_str(), r.value(name));
  }
  return line;
}

ProgressReporter::ProgressReporter(std::ostream& out, Verbosity verbosity,
                                   int epochs, std::size_t steps_per_epoch)
    : out_(out), epochs_(epochs), steps_(steps_per_epoch) {
  silent_ = verbosity == Verbosity::kSilent;
  bar_ = verbosity == Verbosity::kBar ||
         (verbosity == Verbosity::kAuto && &out == &std::cout &&
          isatty(STDOUT_FILENO));
}

void ProgressReporter::begin_epoch(int epoch) {
  epoch_ = epoch;
  epoch_start_ = last_draw_ = Clock::now();
}

void ProgressReporter::step(std::size_t done, double loss, double accuracy) {
  if (silent_ || !bar_) return;
  const auto now = Clock::now();
  // Redraw at most 10 times a second: printing must not cost training time.
  if (done != steps_ && now - last_draw_ < std::chrono::milliseconds(100)) {
    return;
  }
  last_draw_ = now;
  const double elapsed =
      std::chrono::duration<double>(now - epoch_start_).count();
  const double eta = elapsed / done * (steps_ - done);
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * done / steps_);
  std::string bar(filled, '=');
  if (filled < kWidth) bar += '>' + std::string(kWidth - filled - 1, '.');
  out_ << "\repoch " << epoch_ << "/" << epochs_ << " " << done << "/" << steps_
       << " [" << bar << "] ETA " << format_seconds(eta) << metric("loss", loss)
       << metric("accuracy", accuracy) << "   " << std::flush;
}

void ProgressReporter::end_epoch(const EpochRecord& record) {
  if (silent_) return;
  if (bar_) out_ << "\r\033[K";  // clear the bar line
  out_ << format_epoch_line(record, epochs_) << std::endl;
}

}  // namespace sequent
