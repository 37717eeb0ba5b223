// The examples as a user runs them: each built binary is started (its path
// comes from CMake through the environment) and its printed output is
// checked, rather than re-implementing what the example does.
#define BOOST_TEST_MODULE examples
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Run {
  std::string output;
  int exit_code = -1;
};

// Runs `command` and captures its standard output.
Run run(const std::string& command) {
  Run r;
  FILE* pipe = popen(command.c_str(), "r");
  BOOST_REQUIRE_MESSAGE(pipe != nullptr, "cannot run " << command);
  char buf[4096];
  std::size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, pipe)) > 0) {
    r.output.append(buf, got);
  }
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string example_path(const char* variable) {
  const char* path = std::getenv(variable);
  BOOST_REQUIRE_MESSAGE(path != nullptr && *path != '\0',
                        variable << " is not set: run this test through "
                                    "CTest, which passes the example's path");
  return path;
}

struct Learned {
  std::string name;
  double learned, truth;
};

// Every "  NAME: learned X   true Y" line of a section titled `title`, up
// to the next blank line.
std::vector<Learned> section(const std::string& output,
                             const std::string& title) {
  std::vector<Learned> out;
  std::istringstream in(output);
  std::string line;
  bool inside = false;
  const std::regex weight(
      R"(^\s+(\w+)\s*: learned (-?[0-9.]+)\s+true (-?[0-9.]+)\s*$)");
  while (std::getline(in, line)) {
    if (line == title) {
      inside = true;
      continue;
    }
    if (!inside) continue;
    if (line.empty()) break;
    std::smatch m;
    if (std::regex_match(line, m, weight)) {
      out.push_back({m[1], std::stod(m[2]), std::stod(m[3])});
    }
  }
  return out;
}

}  // namespace

// examples/neuron_regression: one Dense<1> neuron learns y = 3·x and
// y = a + b; every printed learned weight is within 0.01 of the true one.
BOOST_AUTO_TEST_CASE(neuron_regression_learns_the_true_weights) {
  const Run r = run(example_path("SEQUENT_NEURON_REGRESSION"));
  BOOST_TEST_MESSAGE(r.output);
  BOOST_TEST(r.exit_code == 0);
  struct Expected {
    const char* title;
    std::vector<std::string> names;
    std::vector<double> truth;
  };
  for (const Expected& e :
       {Expected{"y = 3*x", {"w0", "b"}, {3.0, 0.0}},
        Expected{"y = a + b", {"w0", "w1", "b"}, {1.0, 1.0, 0.0}}}) {
    const auto weights = section(r.output, e.title);
    BOOST_REQUIRE_MESSAGE(
        weights.size() == e.names.size(),
        "section '" << e.title << "' prints " << weights.size() << " weights");
    for (std::size_t i = 0; i < weights.size(); ++i) {
      const Learned& w = weights[i];
      BOOST_TEST(w.name == e.names[i]);
      BOOST_TEST(w.truth == e.truth[i]);
      BOOST_TEST(std::fabs(w.learned - w.truth) < 0.01,
                 e.title << ": " << w.name << " learned " << w.learned
                         << ", true " << w.truth);
    }
  }
  // And it uses them: 3 · 2.5 and 1.25 + 2.5.
  std::smatch m;
  BOOST_REQUIRE(
      std::regex_search(r.output, m, std::regex(R"(3 \* 2\.5 = (-?[0-9.]+))")));
  BOOST_TEST(std::fabs(std::stod(m[1]) - 7.5) < 0.05);
  BOOST_REQUIRE(std::regex_search(
      r.output, m, std::regex(R"(1\.25 \+ 2\.5 = (-?[0-9.]+))")));
  BOOST_TEST(std::fabs(std::stod(m[1]) - 3.75) < 0.05);
}
