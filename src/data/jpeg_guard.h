// A check, before stb_image sees a JPEG, for inputs that trigger known
// memory-safety bugs of the stb_image Debian 12 ships (v2.27, snapshot
// 2022-09; fixed upstream in 2.28, nothings/stb issues #1289 and #1291):
//   - a DHT segment whose 16 code counts add up to more than 256 makes
//     stbi__build_huffman and the DHT reader write past the 257-byte size
//     and 256-byte value arrays of a Huffman table;
//   - a scan that uses a Huffman table no DHT segment defined makes
//     stbi__jpeg_huff_decode search past the end of the table's maxcode
//     array and index its values with whatever it finds.
// The walk follows the segments the way stb_image's reader does (it skips
// the same padding, finds the end of each scan's entropy-coded data at the
// same marker), so it sees exactly the tables stb_image would build.
#pragma once

#include <cstdint>
#include <span>

namespace sequent::data::stb {

// nullptr when bytes are not a JPEG, or are one stb_image can read without
// the bugs above (possibly failing for other reasons); otherwise a short
// static description of the hazard, in stb_image's failure-reason style.
const char* jpeg_hazard(std::span<const std::uint8_t> bytes);

}  // namespace sequent::data::stb
