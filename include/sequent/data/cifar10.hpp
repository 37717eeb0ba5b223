// CIFAR-10 (Krizhevsky 2009): 50,000 training and 10,000 test colour 32×32
// images of ten classes, in the "binary version" of
// https://www.cs.toronto.edu/~kriz/cifar.html (cifar-10-binary.tar.gz, which
// unpacks to cifar-10-batches-bin/). Each batch file is a sequence of
// 3073-byte records: one label byte (0–9), then the 1024 red, 1024 green and
// 1024 blue bytes of the image, each plane 32×32 row-major. The loaders
// return images HWC (channels last), like every sequent Dataset.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sequent/data/dataset.hpp"

namespace sequent::data {

// The ten class names, in label order ("airplane", "automobile", …,
// "truck"), as the dataset's batches.meta.txt lists them.
const std::vector<std::string>& cifar10_classes();

// Reads a batches.meta.txt: one class name per line, exactly 10 non-empty
// lines (surrounding spaces and a CR before the LF are dropped; empty lines
// at the end are ignored). Throws std::runtime_error naming the file when it
// cannot be read or holds anything else.
std::vector<std::string> read_cifar10_class_names(
    const std::filesystem::path& path);

// The records of `files`, in order, as one Dataset of 32×32×3 images whose
// source is the file list. Each file may hold any whole number (≥ 1) of
// records. Throws std::runtime_error naming the file for a missing,
// unreadable, empty or truncated file (a size that is not a multiple of
// 3073) and for a label ≥ 10 (with its record index); std::invalid_argument
// when `files` is empty or class_names does not hold 10 names.
Dataset load_cifar10_batches(const std::vector<std::filesystem::path>& files,
                             std::vector<std::string> class_names);

// data_batch_1.bin … data_batch_5.bin as train and test_batch.bin as test,
// from `dir` or from the cifar-10-batches-bin directory inside it. Class
// names come from batches.meta.txt when it is there, else
// cifar10_classes(). Throws std::runtime_error naming the directory and
// every missing file when the six batches are not all there.
TrainTest cifar10(const std::filesystem::path& dir);

}  // namespace sequent::data
