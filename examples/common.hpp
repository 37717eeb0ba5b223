// Command-line handling shared by the CNN examples:
//   --dataset fashion-mnist|mnist|cifar10   (default fashion-mnist: MNIST and
//                      CIFAR-10 are not packaged for Debian, so they need
//                      --data)
//   --data DIR                        where the dataset's files are
//   --epochs N, --batch N, --adam, --out DIR (where an example writes files)
//   --lr X                            the optimiser's (initial) learning rate
#pragma once

#include <cstdlib>
#include <iostream>
#include <optional>
#include <sequent/sequent.hpp>
#include <stdexcept>
#include <string>

namespace examples {

struct Args {
  std::string dataset = "fashion-mnist";
  std::optional<std::string> data_dir;
  int epochs = 0;         // 0: the example's default
  std::size_t batch = 0;  // 0: the example's default
  float lr = 0;           // 0: the example's default
  bool adam = false;
  std::string out = "out";
};

inline Args parse_args(int argc, char** argv, const char* usage) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--dataset") {
      a.dataset = value();
    } else if (arg == "--data") {
      a.data_dir = value();
    } else if (arg == "--epochs") {
      a.epochs = std::stoi(value());
    } else if (arg == "--batch") {
      a.batch = static_cast<std::size_t>(std::stoul(value()));
    } else if (arg == "--adam") {
      a.adam = true;
    } else if (arg == "--lr") {
      a.lr = std::stof(value());
    } else if (arg == "--out") {
      a.out = value();
    } else {
      throw std::invalid_argument(std::string("unknown argument '") + arg +
                                  "'\nusage: " + usage);
    }
  }
  if (a.dataset != "fashion-mnist" && a.dataset != "mnist" &&
      a.dataset != "cifar10") {
    throw std::invalid_argument(
        "--dataset must be fashion-mnist, mnist or cifar10, not '" + a.dataset +
        "'");
  }
  return a;
}

inline sequent::data::TrainTest load(const Args& a) {
  if (a.dataset == "cifar10") {
    if (!a.data_dir) {
      throw std::invalid_argument(
          "CIFAR-10 is not packaged for Debian: download the binary version "
          "elsewhere and pass --data DIR");
    }
    return sequent::data::cifar10(*a.data_dir);
  }
  if (a.dataset == "mnist") {
    if (!a.data_dir) {
      throw std::invalid_argument(
          "MNIST is not packaged for Debian: pass --data DIR, the directory "
          "holding its four IDX files");
    }
    return sequent::data::mnist(*a.data_dir);
  }
  return sequent::data::fashion_mnist(a.data_dir);
}

// Runs body.template operator()<H, W, C>() with the dataset's image shape,
// so one architecture template is built for 28×28×1 and 32×32×3.
template <class Body>
int with_input_shape(const Args& a, Body&& body) {
  if (a.dataset == "cifar10") return body.template operator()<32, 32, 3>();
  return body.template operator()<28, 28, 1>();
}

}  // namespace examples
