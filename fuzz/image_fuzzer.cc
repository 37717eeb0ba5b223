// Any bytes as an image file (PNG, JPEG, BMP, GIF, PGM/PPM …): a converted
// 28×28 grey image, or a std::runtime_error.
#include <cstdlib>
#include <sequent/data/image.hpp>
#include <stdexcept>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  try {
    const auto image = sequent::data::decode_image(
        {data, size}, {.shape = {28, 28, 1}, .max_pixels = 1 << 20}, "fuzz");
    if (image.pixels.size() != 28 * 28) std::abort();
  } catch (const std::runtime_error&) {
  }
  return 0;
}
