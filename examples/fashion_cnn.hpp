// The Fashion-MNIST CNN of the demo, the prediction example and the Dropout
// study: two Conv2D+BatchNorm+ReLU blocks with max-pooling, then a Dense
// classifier. WithDropout selects the regularised or the plain variant.
#pragma once

#include <sequent/sequent.hpp>

namespace examples {

namespace sq = sequent;

template <bool WithDropout>
using FashionCnnNet = std::conditional_t<
    WithDropout,
    sq::Sequential<sq::Input<28, 28, 1>,                                   //
                   sq::Conv2D<32, 3, sq::Same>, sq::BatchNorm<>, sq::ReLU,  //
                   sq::MaxPool2D<2>, sq::Dropout<0.25>,                     //
                   sq::Conv2D<64, 3, sq::Same>, sq::BatchNorm<>, sq::ReLU,  //
                   sq::MaxPool2D<2>, sq::Dropout<0.25>,                     //
                   sq::Flatten, sq::Dense<128>, sq::ReLU, sq::Dropout<0.5>,
                   sq::Dense<10>, sq::Softmax>,
    sq::Sequential<sq::Input<28, 28, 1>,                                   //
                   sq::Conv2D<32, 3, sq::Same>, sq::BatchNorm<>, sq::ReLU,  //
                   sq::MaxPool2D<2>,                                        //
                   sq::Conv2D<64, 3, sq::Same>, sq::BatchNorm<>, sq::ReLU,  //
                   sq::MaxPool2D<2>,                                        //
                   sq::Flatten, sq::Dense<128>, sq::ReLU,                   //
                   sq::Dense<10>, sq::Softmax>>;

template <bool WithDropout = true>
using FashionCnn =
    sq::Model<FashionCnnNet<WithDropout>, sq::SparseCategoricalCrossentropy>;

}  // namespace examples
