// Progress reporting: a redrawn bar on terminals, plain lines elsewhere.
#include "sequent/train/progress.hpp"

#include <sys/ioctl.h>
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
  return " - " + std::string(name) + ": " + format_metric(value);
}

// The width of the terminal on standard output, or 80 when it says none.
std::size_t terminal_columns() {
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    return size.ws_col;
  }
  return 80;
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
  const bool terminal = &out == &std::cout && isatty(STDOUT_FILENO);
  bar_ = verbosity == Verbosity::kBar ||
         (verbosity == Verbosity::kAuto && terminal);
  if (bar_ && terminal) columns_ = terminal_columns();
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
  const std::string head = "epoch " + std::to_string(epoch_) + "/" +
                           std::to_string(epochs_) + " " +
                           std::to_string(done) + "/" + std::to_string(steps_);
  const std::string tail = " ETA " + format_seconds(eta) +
                           metric("loss", loss) + metric("accuracy", accuracy);
  // 30 characters of bar, fewer on a narrow terminal, none below 5; then,
  // if the figures alone are too wide, they are cut. One column stays
  // spare: a line that fills the last one wraps on some terminals.
  std::size_t width = 30;
  // " [" and "]" around the bar, and the spare column.
  const std::size_t text = head.size() + tail.size() + 4;
  if (columns_ > 0) {
    width = std::min(width, columns_ > text ? columns_ - text : 0);
  }
  std::string line = head;
  if (width >= 5) {
    const std::size_t filled = width * done / steps_;
    std::string bar(filled, '=');
    if (filled < width) bar += '>' + std::string(width - filled - 1, '.');
    line += " [" + bar + "]";
  }
  line += tail;
  if (columns_ > 0 && line.size() >= columns_) line.resize(columns_ - 1);
  // \033[K clears what a longer previous line left to the right.
  out_ << '\r' << line << "\033[K" << std::flush;
}

void ProgressReporter::end_epoch(const EpochRecord& record) {
  if (silent_) return;
  if (bar_) out_ << "\r\033[K";  // clear the bar line
  out_ << format_epoch_line(record, epochs_) << std::endl;
}

}  // namespace sequent
