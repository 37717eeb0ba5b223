// Image in, class out, on real Fashion-MNIST: models trained briefly, test
// images written to PNG files and read back, and predictions made from the
// files — by the library, and by the built `predict` example — equal the
// in-memory predictions of the same images.
#define BOOST_TEST_MODULE predict_files
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sequent/sequent.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "fashion_cnn.hpp"  // the network examples/predict.cpp loads
#include "temp_dir.hpp"

namespace sq = sequent;
namespace fs = std::filesystem;

namespace {

using sequent::test::TempDir;

// A small CNN that trains to ~80 % in a second.
using SmallNet = sq::Sequential<sq::Input<28, 28, 1>,                  //
                                sq::Conv2D<8, 3, sq::Same>, sq::ReLU,  //
                                sq::MaxPool2D<2>, sq::Flatten,         //
                                sq::Dense<10>, sq::Softmax>;
using Small = sq::Model<SmallNet, sq::SparseCategoricalCrossentropy>;

const sq::data::TrainTest& fashion() {
  static const sq::data::TrainTest data = sq::data::fashion_mnist();
  return data;
}

// Writes test images [0, n) as PNG files; returns their paths.
std::vector<fs::path> write_pngs(const sq::data::Dataset& test, std::size_t n,
                                 const fs::path& dir) {
  std::vector<fs::path> paths;
  for (std::size_t i = 0; i < n; ++i) {
    paths.push_back(dir / ("test_" + std::to_string(i) + ".png"));
    sq::data::write_png(paths.back(), test.shape(), test.image(i));
  }
  return paths;
}

}  // namespace

BOOST_AUTO_TEST_CASE(predictions_from_png_files_equal_in_memory_ones) {
  const auto& [train, test] = fashion();
  Small model{sq::Seed{5}};
  model.fit(train.slice(0, 6000), sq::Adam{.lr = 2e-3f},
            {.epochs = 1, .batch_size = 32, .verbose = sq::Verbosity::kSilent});
  const double accuracy = model.evaluate(test.slice(0, 2000)).accuracy;
  BOOST_TEST_MESSAGE("small CNN, 6000 images, 1 epoch: accuracy " << accuracy);
  BOOST_TEST(accuracy > 0.7);  // it learnt something: predictions vary

  TempDir dir;
  model.save(dir.path() / "small.sqm");
  constexpr std::size_t kImages = 40;
  const auto paths = write_pngs(test, kImages, dir.path());

  // From the files: the model file, and the images through load_image with
  // the shape taken from the model's Input.
  auto loaded = Small::load(dir.path() / "small.sqm");
  BOOST_TEST(loaded.class_names() == sq::data::fashion_mnist_classes());
  const auto options = sq::data::input_image_options<Small>();
  BOOST_TEST((options.shape == test.shape()));
  std::vector<std::uint8_t> pixels;
  for (std::size_t i = 0; i < kImages; ++i) {
    const auto image = sq::data::load_image(paths[i], options);
    BOOST_REQUIRE(image.shape == test.shape());
    const auto original = test.image(i);
    BOOST_REQUIRE(std::equal(image.pixels.begin(), image.pixels.end(),
                             original.begin(), original.end()));
    pixels.insert(pixels.end(), image.pixels.begin(), image.pixels.end());
  }
  const auto from_files =
      loaded.predict(sq::data::ImageView{pixels, kImages, options.shape});
  const auto in_memory = model.predict(test.slice(0, kImages));
  BOOST_TEST(from_files.labels == in_memory.labels);
  BOOST_TEST(from_files.probabilities == in_memory.probabilities);  // bitwise
  std::size_t distinct = 0;
  for (int c = 0; c < 10; ++c) {
    distinct +=
        std::count(in_memory.labels.begin(), in_memory.labels.end(), c) > 0;
  }
  BOOST_TEST(distinct >= 5u);  // not one class for every image

  // One file at a time, as the predict example does.
  for (std::size_t i = 0; i < kImages; ++i) {
    const auto image = sq::data::load_image(paths[i], options);
    const auto one =
        loaded.predict(sq::data::ImageView{image.pixels, 1, image.shape});
    BOOST_TEST(one.labels[0] == in_memory.labels[i]);
    for (std::size_t c = 0; c < 10; ++c) {
      BOOST_TEST(one.row(0)[c] == in_memory.row(i)[c],
                 boost::test_tools::tolerance(1e-5f));
    }
  }
}

#ifdef SEQUENT_PREDICT_EXE

namespace {

struct Run {
  std::string out, err;
  int exit_code = -1;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs the predict example with `args`, capturing both streams.
Run predict(const std::string& args, const fs::path& dir) {
  const std::string command = std::string("'") + SEQUENT_PREDICT_EXE + "' " +
                              args + " > '" + (dir / "out.txt").string() +
                              "' 2> '" + (dir / "err.txt").string() + "'";
  const int status = std::system(command.c_str());
  Run r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(dir / "out.txt");
  r.err = slurp(dir / "err.txt");
  return r;
}

// The line predict prints for one image, from an in-memory prediction.
std::string expected_line(const std::string& path, std::span<const float> row,
                          const std::vector<std::string>& names) {
  std::vector<int> order(row.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = int(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return row[a] > row[b]; });
  std::string line = path + ": " + names[order[0]] + "  (";
  for (int k = 0; k < 3; ++k) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s%s %.3f", k ? ", " : "",
                  names[order[k]].c_str(), row[order[k]]);
    line += buf;
  }
  return line + ")";
}

}  // namespace

// The built example on a saved model and PNG files: one line per image with
// the class name recorded in the model file and the top three
// probabilities, equal to the in-memory prediction of the same image; a
// light-background image is inverted by --invert auto; a bad image is
// reported by name while the others are still classified; a model file of
// another architecture is refused naming both architectures.
BOOST_AUTO_TEST_CASE(predict_example_prints_class_names_and_top_3) {
  const auto& [train, test] = fashion();
  using Cnn = examples::FashionCnn<>;
  Cnn model{sq::Seed{7}};
  model.fit(train.slice(0, 1000), sq::Adam{.lr = 1e-3f},
            {.epochs = 1, .batch_size = 32, .verbose = sq::Verbosity::kSilent});
  // Names that only the model file can have told the example.
  std::vector<std::string> names;
  for (const std::string& n : sq::data::fashion_mnist_classes()) {
    names.push_back("fm:" + n);
  }
  model.set_class_names(names);
  TempDir dir;
  const fs::path model_file = dir.path() / "cnn.sqm";
  model.save(model_file);
  constexpr std::size_t kImages = 6;
  const auto paths = write_pngs(test, kImages, dir.path());
  // Image 0 again, as dark-on-light like a photo.
  std::vector<std::uint8_t> light(test.image(0).begin(), test.image(0).end());
  for (auto& v : light) v = static_cast<std::uint8_t>(255 - v);
  const fs::path light_png = dir.path() / "light.png";
  sq::data::write_png(light_png, test.shape(), light);

  std::string args = "--model '" + model_file.string() + "' --invert no";
  for (const auto& p : paths) args += " '" + p.string() + "'";
  const Run run = predict(args, dir.path());
  BOOST_TEST(run.exit_code == 0);
  BOOST_TEST(run.err.empty(), run.err);
  const auto in_memory = model.predict(test.slice(0, kImages), 1);
  std::istringstream lines(run.out);
  std::string line;
  std::size_t i = 0;
  for (; std::getline(lines, line); ++i) {
    BOOST_REQUIRE(i < kImages);
    BOOST_TEST(line ==
               expected_line(paths[i].string(), in_memory.row(i), names));
    BOOST_TEST(line.find(": " + names[in_memory.labels[i]] + "  (") !=
               std::string::npos);
  }
  BOOST_TEST(i == kImages);

  const Run inverted =
      predict("--model '" + model_file.string() + "' '" + light_png.string() +
                  "' '" + paths[0].string() + "'",
              dir.path());
  BOOST_TEST(inverted.exit_code == 0);
  BOOST_TEST(inverted.out ==
             expected_line(light_png.string(), in_memory.row(0), names) + "\n" +
                 expected_line(paths[0].string(), in_memory.row(0), names) +
                 "\n");

  std::ofstream(dir.path() / "notes.png") << "not an image";
  const Run bad = predict("--model '" + model_file.string() + "' '" +
                              (dir.path() / "notes.png").string() + "' '" +
                              paths[1].string() + "'",
                          dir.path());
  BOOST_TEST(bad.exit_code == 1);
  BOOST_TEST(bad.err.find("notes.png") != std::string::npos, bad.err);
  BOOST_TEST(bad.out ==
             expected_line(paths[1].string(), in_memory.row(1), names) + "\n");

  Small small{sq::Seed{1}};
  small.save(dir.path() / "small.sqm");
  const Run other = predict("--model '" + (dir.path() / "small.sqm").string() +
                                "' '" + paths[0].string() + "'",
                            dir.path());
  BOOST_TEST(other.exit_code == 1);
  BOOST_TEST(other.out.empty());
  for (const std::string& part :
       {std::string("small.sqm"), std::string("another architecture"),
        "file:  " + SmallNet::architecture(),
        "model: " + Cnn::network::architecture()}) {
    BOOST_TEST(other.err.find(part) != std::string::npos,
               "'" << other.err << "' lacks '" << part << "'");
  }
}

#endif  // SEQUENT_PREDICT_EXE
