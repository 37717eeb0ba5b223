// The runtime around the training step: the progress bar and its
// auto-detection, denormal flushing while training, train_step's NaN branch,
// datasets that do not fit, unshuffled fit against a hand loop, Dropout and
// Flatten inside real models, and bitwise determinism of a CNN.
#define BOOST_TEST_MODULE fit_runtime
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <regex>
#include <sequent/sequent.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "error_message.hpp"
#include "quadrants.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <omp.h>
#include <xmmintrin.h>

#include "random_values.hpp"
#define SEQUENT_TEST_MXCSR 1
#else
#define SEQUENT_TEST_MXCSR 0
#endif

namespace sq = sequent;
using sq::test::message_has;
using sq::test::params_of;
using sq::test::quadrant_images;
using sq::test::random_vector;
using sq::test::state_of;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

using Mlp = sq::Sequential<sq::Input<6, 6, 1>, sq::Flatten, sq::Dense<16>,
                           sq::ReLU, sq::Dense<4>, sq::Softmax>;
using Loss = sq::SparseCategoricalCrossentropy;
using Line = sq::Sequential<sq::Input<2>, sq::Dense<1>>;

std::size_t count(const std::string& s, char c) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), c));
}

}  // namespace

// ---- progress
// ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(bar_shows_progress_eta_loss_and_accuracy) {
  const auto train = quadrant_images(64, 1);
  sq::Model<Mlp, Loss> m{sq::Seed{1}};
  std::ostringstream log;
  const auto h = m.fit(train, sq::Adam{.lr = 1e-2f},
                       {.epochs = 2,
                        .batch_size = 8,
                        .verbose = sq::Verbosity::kBar,
                        .log = &log});
  const std::string text = log.str();
  BOOST_TEST_MESSAGE(text);
  // The last step of each epoch is always drawn: a full bar, ETA 0.
  for (const char* epoch : {"\repoch 1/2 8/8 [", "\repoch 2/2 8/8 ["}) {
    BOOST_TEST(contains(text, epoch + std::string(30, '=') + "] ETA 0.0s"),
               "missing full bar for " << epoch + 1);
  }
  const std::regex drawn(
      "\repoch [12]/2 [1-8]/8 \\[[=>.]{30}\\] ETA [0-9.:]+s? - loss: "
      "[0-9]+\\.[0-9]{4} - accuracy: [01]\\.[0-9]{4}");
  BOOST_TEST(std::regex_search(text, drawn));
  // Each epoch's bar is cleared and replaced by its summary line, the only
  // newline-terminated lines.
  BOOST_TEST(contains(text, "\r\033[Kepoch 1/2 - "));
  BOOST_TEST(contains(text, "\r\033[Kepoch 2/2 - "));
  BOOST_TEST(count(text, '\n') == 2u);
  BOOST_TEST(count(text, '\r') >= 4u);
  // The summary line carries the epoch's figures.
  char loss[32];
  std::snprintf(loss, sizeof loss, "loss: %.4f", h.last().loss);
  BOOST_TEST(contains(text, loss));
}

// Between the first and the last step the bar is partial and the ETA is
// the time per step so far times the steps left.
BOOST_AUTO_TEST_CASE(partial_bar_estimates_the_time_left) {
  std::ostringstream out;
  sq::ProgressReporter p(out, sq::Verbosity::kBar, 3, 10);
  using Clock = std::chrono::steady_clock;
  const auto before = Clock::now();
  p.begin_epoch(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  p.step(2, 0.5, 0.75);
  const double most =
      std::chrono::duration<double>(Clock::now() - before).count();
  const std::string text = out.str();
  BOOST_TEST_MESSAGE(text);
  const std::string bar = std::string(6, '=') + ">" + std::string(23, '.');
  BOOST_TEST(contains(text, "\repoch 2/3 2/10 [" + bar + "] ETA "));
  BOOST_TEST(contains(text, " - loss: 0.5000 - accuracy: 0.7500"));
  std::smatch eta;
  BOOST_REQUIRE(std::regex_search(text, eta, std::regex("ETA ([0-9.]+)s")));
  // 2 steps took between 0.15 s and `most`, so the 8 left take 4 times as
  // long (printed to 0.1 s).
  BOOST_TEST(std::stod(eta[1]) >= 4 * 0.15 - 0.05);
  BOOST_TEST(std::stod(eta[1]) <= 4 * most + 0.05);
  // Regression: no accuracy is shown.
  std::ostringstream reg;
  sq::ProgressReporter q(reg, sq::Verbosity::kBar, 1, 4);
  q.begin_epoch(1);
  q.step(4, 0.25, NAN);
  BOOST_TEST(contains(reg.str(), "ETA 0.0s - loss: 0.2500"));
  BOOST_TEST(!contains(reg.str(), "accuracy"));
}

// On a terminal the bar fits its width: a redraw wider than the terminal
// wraps, and every \r then leaves a line behind. A child process draws on
// pseudo-terminals 80, 70 and 40 columns wide; every redraw must fit.
BOOST_AUTO_TEST_CASE(bar_fits_a_narrow_terminal) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  BOOST_REQUIRE(master >= 0);
  BOOST_REQUIRE(::grantpt(master) == 0 && ::unlockpt(master) == 0);
  const std::string slave_name = ::ptsname(master);
  std::cout.flush();  // or the child writes the test log's buffer too
  std::fflush(stdout);
  const pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    const int slave = ::open(slave_name.c_str(), O_RDWR);
    winsize size{};
    size.ws_col = 60;
    size.ws_row = 24;
    if (slave < 0 || ::ioctl(slave, TIOCSWINSZ, &size) != 0 ||
        ::dup2(slave, STDOUT_FILENO) < 0) {
      ::_exit(3);
    }
    // 80 columns: a shorter bar; 70: none, the figures whole; 40: cut.
    for (const unsigned short columns : {80, 70, 40}) {
      size.ws_col = columns;
      ::ioctl(slave, TIOCSWINSZ, &size);
      sq::ProgressReporter bar(std::cout, sq::Verbosity::kAuto, 12, 1875);
      bar.begin_epoch(10);
      std::this_thread::sleep_for(std::chrono::milliseconds(120));
      bar.step(937, 0.123456, 0.987654);   // partial
      bar.step(1875, 0.123456, 0.987654);  // last: always drawn
      std::cout << "\n" << columns << std::endl;
    }
    ::_exit(0);
  }
  std::string text;
  char buffer[4096];
  for (ssize_t got; (got = ::read(master, buffer, sizeof buffer)) > 0;) {
    text.append(buffer, static_cast<std::size_t>(got));
  }
  int status = 0;
  BOOST_REQUIRE_EQUAL(::waitpid(child, &status, 0), child);
  ::close(master);
  BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  BOOST_TEST_MESSAGE(text);
  // The terminal turned each "\n" into "\r\n"; undone, the output is, per
  // width, one line of redraws ("\r", the bar, "\033[K") and one with the
  // width.
  for (std::size_t at; (at = text.find("\r\n")) != std::string::npos;) {
    text.erase(at, 1);
  }
  const std::string clear = "\033[K";
  std::map<std::size_t, std::vector<std::string>> drawn;
  std::istringstream rows(text);
  for (std::string redraws, width;
       std::getline(rows, redraws) && std::getline(rows, width);) {
    std::vector<std::string>& lines = drawn[std::stoul(width)];
    for (std::size_t at = 0; (at = redraws.find('\r', at)) != std::string::npos;
         ++at) {
      const std::size_t end = redraws.find(clear, at);
      BOOST_REQUIRE(end != std::string::npos);
      lines.push_back(redraws.substr(at + 1, end - at - 1));
    }
  }
  BOOST_REQUIRE_EQUAL(drawn.size(), 3u);
  for (const auto& [columns, lines] : drawn) {
    BOOST_TEST_CONTEXT(columns << " columns") {
      BOOST_TEST(lines.size() == 2u);
      for (const std::string& line : lines) {
        BOOST_TEST(line.size() < columns, "'" << line << "'");
        BOOST_TEST(line.rfind("epoch 10/12 ", 0) == 0u);
      }
    }
  }
  BOOST_TEST(contains(drawn[80].back(), "1875/1875 [====="));
  BOOST_TEST(contains(drawn[80].back(), "accuracy: 0.9877"));
  BOOST_TEST(!contains(drawn[70].back(), "["));
  BOOST_TEST(contains(drawn[70].back(), "accuracy: 0.9877"));
  BOOST_TEST(drawn[40].back().size() == 39u);
}

// kAuto: plain lines unless the log is std::cout on a terminal.
BOOST_AUTO_TEST_CASE(auto_verbosity_picks_lines_off_a_terminal) {
  const auto train = quadrant_images(64, 2);
  {
    sq::Model<Mlp, Loss> m{sq::Seed{1}};
    std::ostringstream log;
    m.fit(train, sq::Adam{},
          {.epochs = 2,
           .batch_size = 8,
           .verbose = sq::Verbosity::kAuto,
           .log = &log});
    const std::string text = log.str();
    BOOST_TEST(count(text, '\r') == 0u);
    BOOST_TEST(!contains(text, "ETA"));
    BOOST_TEST(count(text, '\n') == 2u);
    BOOST_TEST(contains(text, "epoch 1/2 - "));
    BOOST_TEST(contains(text, "epoch 2/2 - "));
  }
  {
    // std::cout itself: the bar only if stdout is a terminal (under CTest
    // it is a pipe).
    sq::Model<Mlp, Loss> m{sq::Seed{1}};
    std::ostringstream captured;
    std::streambuf* saved = std::cout.rdbuf(captured.rdbuf());
    m.fit(train, sq::Adam{},
          {.epochs = 1, .batch_size = 8, .verbose = sq::Verbosity::kAuto});
    std::cout.rdbuf(saved);
    const bool terminal = isatty(STDOUT_FILENO) != 0;
    BOOST_TEST_MESSAGE("stdout is " << (terminal ? "" : "not ")
                                    << "a terminal");
    BOOST_TEST(contains(captured.str(), "ETA") == terminal);
    BOOST_TEST(contains(captured.str(), "epoch 1/1 - "));
  }
  {
    // kLines on request, kSilent prints nothing.
    sq::Model<Mlp, Loss> m{sq::Seed{1}};
    std::ostringstream lines, silent;
    m.fit(train, sq::Adam{},
          {.epochs = 1,
           .batch_size = 8,
           .verbose = sq::Verbosity::kLines,
           .log = &lines});
    m.fit(train, sq::Adam{},
          {.epochs = 1,
           .batch_size = 8,
           .verbose = sq::Verbosity::kSilent,
           .log = &silent});
    BOOST_TEST(count(lines.str(), '\r') == 0u);
    BOOST_TEST(count(lines.str(), '\n') == 1u);
    BOOST_TEST(silent.str().empty());
  }
}

// ---- denormals
// ----------------------------------------------------------------------

#if SEQUENT_TEST_MXCSR
namespace {

constexpr unsigned kFtz = 0x8000;  // MXCSR bit 15: flush results to zero
constexpr unsigned kDaz = 0x0040;  // MXCSR bit 6: denormal inputs are zero
constexpr unsigned kBoth = kFtz | kDaz;

// Sets the flush bits to `bits` on the calling thread and every OpenMP
// worker (MXCSR is per thread).
void set_flush_bits(unsigned bits) {
#pragma omp parallel num_threads(sq::num_threads())
  _mm_setcsr((_mm_getcsr() & ~kBoth) | bits);
}

// The flush bits of the calling thread and of every worker.
std::vector<unsigned> flush_bits() {
  std::vector<unsigned> bits(sq::num_threads() + 1);
  bits[0] = _mm_getcsr() & kBoth;
#pragma omp parallel num_threads(sq::num_threads())
  bits[1 + omp_get_thread_num()] = _mm_getcsr() & kBoth;
  return bits;
}

// What the bits do, measured rather than read: FTZ turns a denormal result
// into zero; DAZ reads a denormal operand as zero, even where the result
// (here 2^-143 · 2^24 = 2^-119) is a normal number FTZ would keep.
bool results_flushed() {
  volatile float a = 1e-30f, b = 1e-10f;
  return a * b == 0.0f;
}
bool inputs_flushed() {
  volatile float tiny = std::numeric_limits<float>::denorm_min() * 64;
  volatile float scale = 16777216.0f;
  return tiny * scale == 0.0f;
}

struct MxcsrProbe : sq::Callback {
  std::vector<std::vector<unsigned>> seen;
  std::vector<bool> flushed;
  void on_epoch_begin(int, sq::TrainingControl&) override {
    seen.push_back(flush_bits());
    flushed.push_back(results_flushed() && inputs_flushed());
  }
};

// An optimiser that records the MXCSR of the thread running its update:
// a probe inside train_step.
struct ProbeSGD {
  float lr = 0.01f;
  static constexpr const char* name = "ProbeSGD";
  static constexpr std::size_t state_slots = 1;
  static inline std::vector<unsigned> seen;
  void update(float* params, const float* grads, float* state, std::size_t n,
              std::int64_t step) const {
    seen.push_back(_mm_getcsr() & kBoth);
    sq::SGD{.lr = lr}.update(params, grads, state, n, step);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(fit_flushes_denormals_and_restores_the_mode) {
  const unsigned original = _mm_getcsr();
  const auto train = quadrant_images(64, 3);
  for (unsigned before : {0u, kFtz}) {
    set_flush_bits(before);
    BOOST_REQUIRE(results_flushed() == (before == kFtz));
    BOOST_REQUIRE(!inputs_flushed());
    sq::Model<Mlp, Loss> m{sq::Seed{1}};
    MxcsrProbe probe;
    m.fit(train, sq::Adam{},
          {.epochs = 2,
           .batch_size = 16,
           .verbose = sq::Verbosity::kSilent,
           .callbacks = {&probe}});
    BOOST_REQUIRE_EQUAL(probe.seen.size(), 2u);
    for (std::size_t e = 0; e < 2; ++e) {
      for (std::size_t t = 0; t < probe.seen[e].size(); ++t) {
        BOOST_TEST(probe.seen[e][t] == kBoth,
                   "epoch " << e + 1 << ", thread " << t << ": MXCSR bits "
                            << std::hex << probe.seen[e][t]);
      }
      BOOST_TEST(probe.flushed[e]);
    }
    // Back to what the caller had, on every thread.
    for (unsigned bits : flush_bits()) BOOST_TEST(bits == before);
    BOOST_TEST(results_flushed() == (before == kFtz));
    BOOST_TEST(!inputs_flushed());
  }
  _mm_setcsr(original);
  set_flush_bits(original & kBoth);
}

BOOST_AUTO_TEST_CASE(train_step_flushes_denormals_and_restores_the_mode) {
  const unsigned original = _mm_getcsr();
  set_flush_bits(0);
  const auto data = quadrant_images(8, 4);
  std::vector<float> x(8 * 36);
  std::vector<std::int32_t> labels(8);
  const std::vector<std::uint32_t> idx{0, 1, 2, 3, 4, 5, 6, 7};
  data.gather(idx, x.data(), labels.data());
  sq::Model<Mlp, Loss> m{sq::Seed{1}};
  ProbeSGD::seen.clear();
  m.train_step({x, labels, {}, 8}, ProbeSGD{});
  m.train_step({x, labels, {}, 8}, ProbeSGD{});
  BOOST_REQUIRE_EQUAL(ProbeSGD::seen.size(), 2u);
  for (unsigned bits : ProbeSGD::seen) BOOST_TEST(bits == kBoth);
  for (unsigned bits : flush_bits()) BOOST_TEST(bits == 0u);
  BOOST_TEST(!results_flushed());
  BOOST_TEST(!inputs_flushed());
  _mm_setcsr(original);
  set_flush_bits(original & kBoth);
}
#endif  // SEQUENT_TEST_MXCSR

// ---- train_step and bad datasets
// ----------------------------------------------------

// A NaN loss in train_step: a clear error, and nothing moves — neither the
// weights nor the optimiser's step count (Adam's bias correction).
BOOST_AUTO_TEST_CASE(train_step_with_a_nan_loss_changes_nothing) {
  sq::Model<Line, sq::MeanSquaredError> m{sq::Seed{1}};
  const auto before = params_of(m);
  const std::vector<float> bad_x{1.0f, NAN, 0.5f, 0.25f};
  const std::vector<float> x{1.0f, 2.0f, 0.5f, 0.25f};
  const std::vector<float> y{3.0f, 1.0f};
  BOOST_CHECK_EXCEPTION(
      m.train_step({bad_x, {}, y, 2}, sq::Adam{.lr = 0.1f}), sq::NonFiniteLoss,
      message_has("train_step", "loss became nan", "not applied"));
  BOOST_TEST(params_of(m) == before);
  const std::vector<float> inf_y{std::numeric_limits<float>::infinity(), 1.0f};
  BOOST_CHECK_EXCEPTION(m.train_step({x, {}, inf_y, 2}, sq::Adam{.lr = 0.1f}),
                        sq::NonFiniteLoss, message_has("not applied"));
  BOOST_TEST(params_of(m) == before);
  // The next good step is exactly the first step of a fresh model.
  sq::Model<Line, sq::MeanSquaredError> fresh{sq::Seed{1}};
  const auto r1 = m.train_step({x, {}, y, 2}, sq::Adam{.lr = 0.1f});
  const auto r2 = fresh.train_step({x, {}, y, 2}, sq::Adam{.lr = 0.1f});
  BOOST_TEST(r1.loss == r2.loss);
  BOOST_TEST(params_of(m) == params_of(fresh));
  BOOST_TEST(params_of(m) != before);
}

BOOST_AUTO_TEST_CASE(float_dataset_that_does_not_fit_is_refused) {
  sq::Model<Line, sq::MeanSquaredError> m{sq::Seed{1}};
  const auto before = params_of(m);
  const sq::data::FloatDataset good(std::vector<float>(8), 2,
                                    std::vector<float>(4), 1);
  const sq::data::FloatDataset wide_inputs(std::vector<float>(12), 3,
                                           std::vector<float>(4), 1);
  const sq::data::FloatDataset wide_targets(std::vector<float>(8), 2,
                                            std::vector<float>(8), 2);
  BOOST_CHECK_EXCEPTION(m.fit(wide_inputs, sq::SGD{}), std::invalid_argument,
                        message_has("inputs of 3", "Input (2,)"));
  BOOST_CHECK_EXCEPTION(m.fit(wide_targets, sq::SGD{}), std::invalid_argument,
                        message_has("targets of 2", "output (1,)"));
  // A validation set that does not fit is refused before any training.
  BOOST_CHECK_EXCEPTION(
      m.fit(good, sq::SGD{},
            {.validation = &wide_inputs, .verbose = sq::Verbosity::kSilent}),
      std::invalid_argument, message_has("inputs of 3", "Input (2,)"));
  BOOST_TEST(params_of(m) == before);
  BOOST_CHECK_EXCEPTION(m.evaluate(wide_targets), std::invalid_argument,
                        message_has("targets of 2", "output (1,)"));
  // A batch of the wrong width, too.
  const std::vector<float> x(6), y(2);
  BOOST_CHECK_EXCEPTION(m.train_step({x, {}, y, 2}, sq::SGD{}),
                        std::invalid_argument,
                        message_has("6 input floats", "(2,)"));
}

// Hyperparameters and schedules that cannot train are refused before any
// step: a NaN rate used to return "successfully" with every weight NaN.
BOOST_AUTO_TEST_CASE(optimizers_that_cannot_train_are_refused) {
  sq::Model<Line, sq::MeanSquaredError> m{sq::Seed{1}};
  const auto before = params_of(m);
  const sq::data::FloatDataset data(random_vector(8, 1), 2, random_vector(4, 2),
                                    1);
  const sq::FloatFitOptions quiet{.verbose = sq::Verbosity::kSilent};
  BOOST_CHECK_EXCEPTION(m.fit(data, sq::Adam{.lr = NAN}, quiet),
                        std::invalid_argument, message_has("Adam", "lr"));
  BOOST_CHECK_EXCEPTION(m.fit(data, sq::SGD{.lr = INFINITY}, quiet),
                        std::invalid_argument, message_has("SGD", "lr", "inf"));
  BOOST_CHECK_EXCEPTION(m.fit(data, sq::SGD{.lr = -1.0f}, quiet),
                        std::invalid_argument, message_has("SGD", "lr"));
  BOOST_CHECK_EXCEPTION(m.fit(data, sq::Adam{.beta2 = 1.0f}, quiet),
                        std::invalid_argument, message_has("beta2"));
  BOOST_CHECK_EXCEPTION(m.fit(data, sq::AdamW{.epsilon = 0.0f}, quiet),
                        std::invalid_argument, message_has("epsilon"));
  BOOST_CHECK_EXCEPTION(m.fit(data, sq::RMSprop{.rho = NAN}, quiet),
                        std::invalid_argument, message_has("RMSprop", "rho"));
  const std::vector<float> x{1.0f, 2.0f}, y{3.0f};
  BOOST_CHECK_EXCEPTION(m.train_step({x, {}, y, 1}, sq::SGD{.momentum = NAN}),
                        std::invalid_argument, message_has("momentum"));
  BOOST_TEST(params_of(m) == before);  // every refusal came before a step
  // A schedule that sets a NaN rate is named, with its epoch (after
  // training epoch 1).
  sq::LearningRateScheduler nan_at_2(
      [](int epoch, float lr) { return epoch == 2 ? NAN : lr; });
  auto scheduled = quiet;
  scheduled.epochs = 3;
  scheduled.callbacks = {&nan_at_2};
  BOOST_CHECK_EXCEPTION(m.fit(data, sq::SGD{}, scheduled),
                        std::invalid_argument,
                        message_has("learning rate for epoch 2", "nan"));
}

// The last step's loss is measured before its update: an update that makes
// a weight infinite must not pass as a good epoch (restored, saved,
// validated). One step per epoch, with a rate that overflows the weights.
BOOST_AUTO_TEST_CASE(weights_that_overflow_in_the_last_step_are_not_kept) {
  sq::Model<Line, sq::MeanSquaredError> m{sq::Seed{1}};
  const auto before = params_of(m);
  const sq::data::FloatDataset data({1.0f, 2.0f, 3.0f, 4.0f}, 2,
                                    {1000.0f, -1000.0f}, 1);
  BOOST_CHECK_EXCEPTION(
      m.fit(data, sq::SGD{.lr = 3e38f},
            {.epochs = 2, .batch_size = 2, .verbose = sq::Verbosity::kSilent}),
      sq::NonFiniteLoss,
      message_has("weights became non-finite", "epoch 1", "before fit"));
  BOOST_TEST(params_of(m) == before);
}

// A loss that is already infinite before any update points at the data,
// not at the learning rate; an empty validation set is refused (its loss
// would read 0, a perfect score); counters of 64 bits end at INT_MAX.
BOOST_AUTO_TEST_CASE(bad_data_and_edge_counts_get_clear_answers) {
  sq::Model<Line, sq::MeanSquaredError> m{sq::Seed{1}};
  const sq::data::FloatDataset huge({1.0f, 2.0f}, 2, {3e38f}, 1);
  BOOST_CHECK_EXCEPTION(
      m.fit(huge, sq::SGD{}, {.verbose = sq::Verbosity::kSilent}),
      sq::NonFiniteLoss, message_has("before any update", "check the data"));
  const sq::data::FloatDataset good(random_vector(8, 1), 2, random_vector(4, 2),
                                    1);
  const sq::data::FloatDataset empty(std::vector<float>{}, 2,
                                     std::vector<float>{}, 1);
  BOOST_CHECK_EXCEPTION(
      m.fit(good, sq::SGD{},
            {.validation = &empty, .verbose = sq::Verbosity::kSilent}),
      std::invalid_argument, message_has("validation set is empty"));
  BOOST_CHECK_EXCEPTION(m.evaluate(empty), std::invalid_argument,
                        message_has("evaluate", "empty"));
  const auto h = m.fit(good, sq::SGD{},
                       {.epochs = std::numeric_limits<int>::max(),
                        .verbose = sq::Verbosity::kSilent,
                        .initial_epoch = std::numeric_limits<int>::max()});
  BOOST_TEST(h.epochs.empty());
  // Non-finite values are refused where the dataset is made, by sample.
  BOOST_CHECK_EXCEPTION(
      sq::data::FloatDataset({1.0f, NAN, 0.0f, 0.0f}, 2, {1.0f, 2.0f}, 1),
      std::invalid_argument, message_has("input value 1 of sample 0", "nan"));
  BOOST_CHECK_EXCEPTION(sq::data::FloatDataset({1.0f, 2.0f}, 2, {-INFINITY}, 1),
                        std::invalid_argument,
                        message_has("target value 0 of sample 0"));
}

// validation_split holds out the last samples as given, as Keras does: the
// same run as fitting the first ones with the rest as .validation.
BOOST_AUTO_TEST_CASE(validation_split_holds_out_the_last_samples) {
  const auto data = quadrant_images(100, 9);
  sq::Model<Mlp, Loss> split{sq::Seed{3}}, by_hand{sq::Seed{3}};
  const auto a = split.fit(data, sq::Adam{},
                           {.epochs = 2,
                            .verbose = sq::Verbosity::kSilent,
                            .validation_split = 0.25f});
  const auto tail = data.slice(75, 25);
  const auto b = by_hand.fit(
      data.slice(0, 75), sq::Adam{},
      {.epochs = 2, .validation = &tail, .verbose = sq::Verbosity::kSilent});
  BOOST_REQUIRE_EQUAL(a.epochs.size(), 2u);
  for (std::size_t e = 0; e < 2; ++e) {
    BOOST_TEST(a.epochs[e].loss == b.epochs[e].loss);
    BOOST_TEST(a.epochs[e].val_loss == b.epochs[e].val_loss);
    BOOST_TEST(a.epochs[e].val_accuracy == b.epochs[e].val_accuracy);
  }
  BOOST_TEST(params_of(split) == params_of(by_hand));
  for (const float bad : {1.0f, -0.1f, NAN}) {
    BOOST_CHECK_EXCEPTION(
        split.fit(data, sq::Adam{},
                  {.verbose = sq::Verbosity::kSilent, .validation_split = bad}),
        std::invalid_argument, message_has("validation_split"));
  }
  BOOST_CHECK_EXCEPTION(split.fit(data, sq::Adam{},
                                  {.validation = &tail,
                                   .verbose = sq::Verbosity::kSilent,
                                   .validation_split = 0.5f}),
                        std::invalid_argument,
                        message_has("not given with .validation"));
  BOOST_CHECK_EXCEPTION(
      split.fit(
          data, sq::Adam{},
          {.verbose = sq::Verbosity::kSilent, .validation_split = 0.999f}),
      std::invalid_argument, message_has("no training samples"));
  // 0.7f is just under 0.7; Keras' split point still holds out 7 of 10.
  sq::Model<Line, sq::MeanSquaredError> seven{sq::Seed{1}};
  const sq::data::FloatDataset ten(random_vector(20, 3), 2,
                                   random_vector(10, 4), 1);
  std::ostringstream log;
  const auto h7 = seven.fit(ten, sq::SGD{},
                            {.batch_size = 1,
                             .verbose = sq::Verbosity::kLines,
                             .log = &log,
                             .validation_split = 0.7f});
  BOOST_TEST(h7.last().validated);
  sq::Model<Line, sq::MeanSquaredError> three{sq::Seed{1}};
  const auto first3 = ten.slice(0, 3), last7 = ten.slice(3, 7);
  const auto h3 = three.fit(first3, sq::SGD{},
                            {.batch_size = 1,
                             .validation = &last7,
                             .verbose = sq::Verbosity::kSilent});
  BOOST_TEST(h7.last().val_loss == h3.last().val_loss);
  // Float datasets split the same way.
  sq::Model<Line, sq::MeanSquaredError> line{sq::Seed{1}};
  const sq::data::FloatDataset floats(random_vector(40, 1), 2,
                                      random_vector(20, 2), 1);
  const auto h =
      line.fit(floats, sq::SGD{},
               {.verbose = sq::Verbosity::kSilent, .validation_split = 0.5f});
  BOOST_TEST(h.last().validated);
  BOOST_TEST(floats.slice(10, 10).inputs()[0] == floats.inputs()[20]);
}

// A view whose pixels are not count × the input's size is refused before
// anything reads past them; one decoded Image predicts directly.
BOOST_AUTO_TEST_CASE(predict_checks_the_view_and_takes_one_image) {
  sq::Model<Mlp, Loss> m{sq::Seed{1}};
  const std::vector<std::uint8_t> short_pixels(10);
  BOOST_CHECK_EXCEPTION(
      m.predict(sq::data::ImageView{short_pixels, 1, {6, 6, 1}}),
      std::invalid_argument, message_has("predict", "36", "holds 10"));
  const std::vector<std::uint8_t> two(72, 100);
  BOOST_CHECK_EXCEPTION(m.predict(sq::data::ImageView{two, 3, {6, 6, 1}}),
                        std::invalid_argument, message_has("holds 72"));
  const sq::data::Image image{{6, 6, 1}, std::vector<std::uint8_t>(36, 200)};
  const auto one = m.predict(image);
  const auto view =
      m.predict(sq::data::ImageView{image.pixels, 1, image.shape});
  BOOST_TEST(one.labels == view.labels);
  BOOST_TEST(one.probabilities == view.probabilities);
}

// shuffle = false: the batches are the dataset's order, so fit is exactly
// a hand loop of train_step over consecutive slices.
BOOST_AUTO_TEST_CASE(unshuffled_fit_equals_a_hand_loop_of_train_step) {
  const auto train = quadrant_images(100, 5);  // 3 batches of 32 and one of 4
  constexpr std::size_t kBatch = 32;
  sq::Model<Mlp, Loss> fitted{sq::Seed{2}}, looped{sq::Seed{2}},
      shuffled{sq::Seed{2}};
  const sq::FitOptions options{.epochs = 2,
                               .batch_size = kBatch,
                               .shuffle = false,
                               .verbose = sq::Verbosity::kSilent};
  const auto h = fitted.fit(train, sq::Adam{.lr = 1e-2f}, options);
  std::vector<float> x(kBatch * 36);
  std::vector<std::int32_t> labels(kBatch);
  for (int epoch = 1; epoch <= 2; ++epoch) {
    double loss_sum = 0;
    for (std::size_t begin = 0; begin < train.size(); begin += kBatch) {
      const std::size_t b = std::min(kBatch, train.size() - begin);
      std::vector<std::uint32_t> idx(b);
      for (std::size_t i = 0; i < b; ++i) idx[i] = begin + i;
      train.gather(idx, x.data(), labels.data());
      const auto r =
          looped.train_step({{x.data(), b * 36}, {labels.data(), b}, {}, b},
                            sq::Adam{.lr = 1e-2f});
      loss_sum += r.loss * b;
    }
    BOOST_TEST(h.epochs[epoch - 1].loss == loss_sum / train.size(),
               boost::test_tools::tolerance(1e-9));
  }
  BOOST_TEST(params_of(fitted) == params_of(looped));  // bitwise
  // Shuffled batches are another run.
  auto with_shuffle = options;
  with_shuffle.shuffle = true;
  shuffled.fit(train, sq::Adam{.lr = 1e-2f}, with_shuffle);
  BOOST_TEST(params_of(shuffled) != params_of(looped));
}

// ---- Dropout and Flatten in real models
// ------------------------------------------------

BOOST_AUTO_TEST_CASE(dropout_is_off_at_inference) {
  using WithDropout =
      sq::Sequential<sq::Input<8>, sq::Dense<16>, sq::ReLU, sq::Dropout<0.5>,
                     sq::Dense<3>, sq::Softmax>;
  using Without = sq::Sequential<sq::Input<8>, sq::Dense<16>, sq::ReLU,
                                 sq::Dense<3>, sq::Softmax>;
  sq::Model<WithDropout, Loss> a{sq::Seed{7}};
  sq::Model<Without, Loss> b{sq::Seed{8}};
  b.set_weights(0, a.get_weights(0));
  b.set_weights(2, a.get_weights(3));
  const auto x = random_vector(20 * 8, 9);
  const auto p1 = a.predict(x);
  const auto p2 = a.predict(x);
  const auto p3 = b.predict(x);
  BOOST_TEST(p1 == p2);  // no mask at inference
  BOOST_TEST(p1 == p3);  // the layer is the identity there
  // evaluate() runs without it too.
  std::vector<std::uint8_t> pixels(20 * 8);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = (i * 37) % 256;
  std::vector<std::int32_t> labels(20);
  for (std::size_t i = 0; i < 20; ++i) labels[i] = i % 3;
  const sq::data::Dataset d(pixels, {1, 8, 1}, labels, {"a", "b", "c"},
                            "dropout-test");
  BOOST_TEST(a.evaluate(d).loss == b.evaluate(d).loss);
  BOOST_TEST(a.evaluate(d).accuracy == b.evaluate(d).accuracy);
  // In training the layer does act: the same weights give another loss.
  std::vector<float> scaled(20 * 8);
  std::vector<std::uint32_t> idx(20);
  for (std::size_t i = 0; i < 20; ++i) idx[i] = i;
  std::vector<std::int32_t> batch_labels(20);
  d.gather(idx, scaled.data(), batch_labels.data());
  auto ta = a;
  auto tb = b;
  const double la =
      ta.train_step({scaled, batch_labels, {}, 20}, sq::SGD{.lr = 0.0f}).loss;
  const double lb =
      tb.train_step({scaled, batch_labels, {}, 20}, sq::SGD{.lr = 0.0f}).loss;
  BOOST_TEST(la != lb);
  BOOST_TEST(lb == b.evaluate(d).loss, boost::test_tools::tolerance(1e-6));
}

// Flatten between a convolution and a Dense: forward is the NHWC order
// (row-major), and backward carries the Dense's input gradient unchanged to
// the convolution, whose weight gradients are checked against finite
// differences.
BOOST_AUTO_TEST_CASE(flatten_forward_and_backward_inside_a_model) {
  using Net = sq::Sequential<sq::Input<2, 3, 2>, sq::Conv2D<3, 1>, sq::Tanh,
                             sq::Flatten, sq::Dense<4>>;
  sq::Model<Net, sq::MeanSquaredError> m{sq::Seed{3}};
  constexpr std::size_t n = 5;
  const auto x = random_vector(n * 12, 31);
  const auto t = random_vector(n * 4, 32);
  const sq::data::FloatDataset data(x, 12, t, 4);
  // Forward against a naive 1×1 convolution, tanh, flatten (h, w, c), dense.
  const auto conv = m.get_weights(0);   // kernel (1, 1, 2, 3), bias (3)
  const auto dense = m.get_weights(3);  // kernel (18, 4), bias (4)
  const auto out = m.predict(x);
  for (std::size_t s = 0; s < n; ++s) {
    std::vector<double> flat(18);
    for (std::size_t pixel = 0; pixel < 6; ++pixel) {
      for (std::size_t f = 0; f < 3; ++f) {
        double z = conv[1][f];
        for (std::size_t c = 0; c < 2; ++c) {
          z += double(x[s * 12 + pixel * 2 + c]) * conv[0][c * 3 + f];
        }
        flat[pixel * 3 + f] = std::tanh(z);
      }
    }
    for (std::size_t u = 0; u < 4; ++u) {
      double y = dense[1][u];
      for (std::size_t k = 0; k < 18; ++k) y += flat[k] * dense[0][k * 4 + u];
      BOOST_TEST(out[s * 4 + u] == y, boost::test_tools::tolerance(1e-5));
    }
  }
  // Backward: the convolution's gradients come through Flatten.
  const auto before = params_of(m);
  auto probe = m;
  probe.train_step({data.inputs(), {}, data.targets(), n}, sq::SGD{.lr = 1.0f});
  const auto after = params_of(probe);
  auto params = m.parameters();
  const float h = 1e-3f;
  for (std::size_t i = 0; i < 9; ++i) {  // conv kernel (6) and bias (3)
    params[i] = before[i] + h;
    const double up = m.evaluate(data).loss;
    params[i] = before[i] - h;
    const double down = m.evaluate(data).loss;
    params[i] = before[i];
    const double numeric = (up - down) / (2.0 * h);
    const double analytic = double(before[i]) - after[i];
    BOOST_TEST(std::fabs(numeric) > 1e-3, "parameter " << i);
    BOOST_TEST(
        std::fabs(analytic - numeric) <= 1e-3 + 1e-2 * std::fabs(numeric),
        "parameter " << i << ": backward " << analytic << ", finite difference "
                     << numeric);
  }
}

// ---- determinism
// ------------------------------------------------------------------

// A CNN with every kind of layer that has a parallel or random part (
// convolutions split over threads, BatchNorm's reductions, pooling, the
// dropout masks, shuffling): the same seed gives bitwise the same weights
// and running statistics on the same target and thread count.
BOOST_AUTO_TEST_CASE(cnn_fit_is_bitwise_deterministic) {
  using Cnn =
      sq::Sequential<sq::Input<12, 12, 1>,                         //
                     sq::Conv2D<8, 3, sq::Same>, sq::BatchNorm<>,  //
                     sq::ReLU, sq::MaxPool2D<2>,                   //
                     sq::Conv2D<8, 3>, sq::ReLU,                   //
                     sq::Flatten, sq::Dropout<0.25>, sq::Dense<4>, sq::Softmax>;
  const auto train = quadrant_images<12>(256, 6);
  const sq::FitOptions options{
      .epochs = 2, .batch_size = 32, .verbose = sq::Verbosity::kSilent};
  BOOST_TEST_MESSAGE("threads: " << sq::num_threads());
  sq::Model<Cnn, Loss> a{sq::Seed{5}}, b{sq::Seed{5}}, c{sq::Seed{5}};
  const auto ha = a.fit(train, sq::Adam{.lr = 1e-2f}, options);
  const auto hb = b.fit(train, sq::Adam{.lr = 1e-2f}, options);
  BOOST_TEST(params_of(a) == params_of(b));
  BOOST_TEST(state_of(a) == state_of(b));
  BOOST_TEST(ha.last().loss == hb.last().loss);
  BOOST_TEST(a.predict(train).probabilities == b.predict(train).probabilities);
  // The running statistics did move, and another seed is another run.
  sq::Model<Cnn, Loss> untrained{sq::Seed{5}};
  BOOST_TEST(state_of(a) != state_of(untrained));
  auto other = options;
  other.seed = 99;
  c.fit(train, sq::Adam{.lr = 1e-2f}, other);
  BOOST_TEST(params_of(a) != params_of(c));
}
