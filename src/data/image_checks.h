// Checks shared by the image reader's files, not part of the public API.
#pragma once

#include <cstdint>
#include <string>

#include "sequent/data/image.hpp"

namespace sequent::data {

namespace image_detail {
// Throws std::runtime_error("image NAME: WHAT").
[[noreturn]] void fail(const std::string& name, const std::string& what);
// "WxH (width x height)"; signed, so that a corrupt negative side reads as
// such.
std::string pixel_size(std::int64_t width, std::int64_t height);
}  // namespace image_detail

// Throws std::invalid_argument unless the target shape has a height and
// width of at least 1, 1 or 3 channels, and at most max_pixels pixels, and
// max_pixels is at least 1.
void check_image_options(const ImageOptions& options);

}  // namespace sequent::data
