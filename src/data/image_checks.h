// Checks shared by image.cc and image_folder.cc, not part of the public API.
#pragma once

#include "sequent/data/image.hpp"

namespace sequent::data {

// Throws std::invalid_argument unless the target shape has a height and
// width of at least 1, 1 or 3 channels, and at most max_pixels pixels, and
// max_pixels is at least 1.
void check_image_options(const ImageOptions& options);

}  // namespace sequent::data
