// sequent: image classifiers whose architecture is a C++ type.
//
//   #include <sequent/sequent.hpp>
//   namespace sq = sequent;
#pragma once

#include "sequent/data/augment.hpp"
#include "sequent/data/cifar10.hpp"
#include "sequent/data/dataset.hpp"
#include "sequent/data/fashion_mnist.hpp"
#include "sequent/data/idx.hpp"
#include "sequent/data/image.hpp"
#include "sequent/data/split.hpp"
#include "sequent/fuse.hpp"
#include "sequent/layers/activation.hpp"
#include "sequent/layers/batchnorm.hpp"
#include "sequent/layers/conv.hpp"
#include "sequent/layers/core.hpp"
#include "sequent/layers/dropout.hpp"
#include "sequent/layers/pool.hpp"
#include "sequent/layers/preprocessing.hpp"
#include "sequent/layers/regularizer.hpp"
#include "sequent/losses.hpp"
#include "sequent/metrics/metrics.hpp"
#include "sequent/model.hpp"
#include "sequent/optimizers.hpp"
#include "sequent/plot/plot.hpp"
#include "sequent/regularization.hpp"
#include "sequent/sequential.hpp"
#include "sequent/train/cpu.hpp"
#include "sequent/train/callbacks.hpp"
#include "sequent/train/history.hpp"
