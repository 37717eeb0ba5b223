// Fashion-MNIST (Xiao et al. 2017): 60,000 training and 10,000 test greyscale
// 28×28 images of ten kinds of clothing; and MNIST, in the same format.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sequent/data/dataset.hpp"

namespace sequent::data {

// The ten class names, in label order ("T-shirt/top", "Trouser", …).
const std::vector<std::string>& fashion_mnist_classes();

// Loads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from `dir` if given,
// else from $SEQUENT_DATA, else from Debian's dataset-fashion-mnist directory
// (/usr/share/datasets/fashion-mnist). Throws std::runtime_error listing the
// places searched when no copy is found.
TrainTest fashion_mnist(std::optional<std::filesystem::path> dir = {});

// The directory fashion_mnist() would read, or nullopt.
std::optional<std::filesystem::path> find_fashion_mnist(
    std::optional<std::filesystem::path> dir = {});

// MNIST (LeCun et al. 1998), the handwritten digits Fashion-MNIST was made
// to replace, stored in the same four files. Debian does not package it, so
// the directory is required. The class names are "0" to "9".
const std::vector<std::string>& mnist_classes();
TrainTest mnist(const std::filesystem::path& dir);

}  // namespace sequent::data
