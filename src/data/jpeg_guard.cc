// Walks a JPEG's segments as stb_image v2.27 does and refuses the inputs
// that reach its known Huffman-table bugs; see jpeg_guard.h.
#include "jpeg_guard.h"

#include <cstddef>

namespace sequent::data::stb {
namespace {

// Marker codes (ITU T.81, table B.1) for what stb_image reads.
constexpr int kNoMarker = -1;
constexpr std::uint8_t kPrefix = 0xFF;
constexpr std::uint8_t kStartOfImage = 0xD8;
constexpr std::uint8_t kEndOfImage = 0xD9;
constexpr std::uint8_t kStartOfScan = 0xDA;
constexpr std::uint8_t kDefineHuffmanTables = 0xC4;
constexpr std::uint8_t kDefineQuantisationTables = 0xDB;
constexpr std::uint8_t kDefineNumberOfLines = 0xDC;
constexpr std::uint8_t kDefineRestartInterval = 0xDD;
constexpr std::uint8_t kComment = 0xFE;
constexpr std::uint8_t kBaselineFrame = 0xC0;
constexpr std::uint8_t kProgressiveFrame = 0xC2;
constexpr int kMaxHuffmanCodes = 256;
constexpr int kTableSlots = 4;

constexpr const char* kTooManyCodes = "bad DHT: more than 256 Huffman codes";
constexpr const char* kUndefinedTable = "bad SOS: Huffman table not defined";

// Where the walk stands after one step.
enum class Step {
  kGoOn,        // continue with the next segment
  kStbRejects,  // stb_image stops with an error here: nothing later matters
  kHazard,      // stb_image would misbehave; `hazard` says why
};

class JpegWalk {
 public:
  explicit JpegWalk(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  const char* hazard() {
    // stb_image skips 0xFF fill bytes before every marker, SOI included.
    if (byte(0) != kPrefix ||
        next_marker(/*padding_allowed=*/false) != kStartOfImage) {
      return nullptr;
    }
    // Header: tables and application data until the frame header, with any
    // padding between segments (but not before the first one).
    bool first = true;
    for (;;) {
      const int marker = next_marker(/*padding_allowed=*/!first);
      first = false;
      if (marker == kNoMarker) return nullptr;
      if (marker >= kBaselineFrame && marker <= kProgressiveFrame) {
        progressive_ = marker == kProgressiveFrame;
        skip_segment();
        break;
      }
      if (const Step step = table_or_data_segment(marker);
          step != Step::kGoOn) {
        return step == Step::kHazard ? hazard_ : nullptr;
      }
    }
    // Scans and tables until the end of the image; no padding allowed.
    for (;;) {
      const int marker = next_marker(/*padding_allowed=*/false);
      if (marker == kNoMarker || marker == kEndOfImage) return nullptr;
      Step step = Step::kGoOn;
      if (marker == kStartOfScan) {
        step = scan();
      } else if (marker == kDefineNumberOfLines) {
        at_ += 4;
      } else {
        step = table_or_data_segment(marker);
      }
      if (step != Step::kGoOn) {
        return step == Step::kHazard ? hazard_ : nullptr;
      }
    }
  }

 private:
  // stb_image reads zeros past the end of its input.
  std::uint8_t byte(std::size_t i) const {
    return i < bytes_.size() ? bytes_[i] : 0;
  }
  unsigned big_endian16(std::size_t i) const {
    return unsigned{byte(i)} << 8 | byte(i + 1);
  }

  // The next marker code, skipping 0xFF fill bytes and, where allowed,
  // other bytes before the 0xFF (stbi__get_marker called in a loop).
  int next_marker(bool padding_allowed) {
    while (at_ < bytes_.size()) {
      if (bytes_[at_++] != kPrefix) {
        if (padding_allowed) continue;
        return kNoMarker;
      }
      while (at_ < bytes_.size() && bytes_[at_] == kPrefix) ++at_;
      if (at_ >= bytes_.size()) return kNoMarker;
      return bytes_[at_++];
    }
    return kNoMarker;
  }

  // Segments with a length field: Huffman and quantisation tables, restart
  // interval, APPn and comments. stb_image rejects any other marker here.
  Step table_or_data_segment(int marker) {
    if (marker == kDefineHuffmanTables) return huffman_tables();
    const bool is_application = marker >= 0xE0 && marker <= 0xEF;
    if (marker == kDefineQuantisationTables ||
        marker == kDefineRestartInterval || marker == kComment ||
        is_application) {
      skip_segment();
      return Step::kGoOn;
    }
    return Step::kStbRejects;
  }

  void skip_segment() { at_ += big_endian16(at_); }

  // A DHT segment: one or more tables of class (DC 0, AC 1), slot, 16 code
  // counts and then as many symbols as the counts add up to.
  Step huffman_tables() {
    long remaining = long{big_endian16(at_)} - 2;
    at_ += 2;
    while (remaining > 0) {
      const int table_class = byte(at_) >> 4;
      const int slot = byte(at_) & 15;
      if (table_class > 1 || slot >= kTableSlots) return Step::kStbRejects;
      int codes = 0;
      for (int length = 1; length <= 16; ++length) codes += byte(at_ + length);
      if (codes > kMaxHuffmanCodes) {
        hazard_ = kTooManyCodes;
        return Step::kHazard;
      }
      (table_class == 0 ? dc_defined_ : ac_defined_)[slot] = true;
      at_ += 17 + codes;
      remaining -= 17 + codes;
    }
    return remaining == 0 ? Step::kGoOn : Step::kStbRejects;
  }

  // An SOS header, then its entropy-coded data up to the next marker.
  Step scan() {
    const std::size_t header = at_;
    const int components = byte(header + 2);
    const int spectral_start = byte(header + 3 + 2 * components);
    const int successive_high = byte(header + 5 + 2 * components) >> 4;
    // Which tables the scan decodes with (stbi__jpeg_decode_block and its
    // progressive variants): baseline both, a progressive DC scan its DC
    // table on the first pass only, a progressive AC scan its AC table.
    const bool uses_dc =
        !progressive_ || (spectral_start == 0 && successive_high == 0);
    const bool uses_ac = !progressive_ || spectral_start != 0;
    for (int c = 0; c < components; ++c) {
      const int tables = byte(header + 4 + 2 * c);
      const int dc = tables >> 4;
      const int ac = tables & 15;
      // Out-of-range slots are rejected by stb_image itself.
      if (dc >= kTableSlots || ac >= kTableSlots) return Step::kStbRejects;
      if ((uses_dc && !dc_defined_[dc]) || (uses_ac && !ac_defined_[ac])) {
        hazard_ = kUndefinedTable;
        return Step::kHazard;
      }
    }
    skip_segment();
    // Entropy-coded data ends at the first 0xFF not followed by a stuffed
    // 0x00 or a restart marker; leave `at_` on that 0xFF.
    while (at_ < bytes_.size()) {
      if (bytes_[at_] != kPrefix) {
        ++at_;
        continue;
      }
      std::size_t next = at_ + 1;
      while (next < bytes_.size() && bytes_[next] == kPrefix) ++next;
      const std::uint8_t code = byte(next);
      if (code != 0 && (code < 0xD0 || code > 0xD7)) return Step::kGoOn;
      at_ = next + 1;
    }
    return Step::kGoOn;
  }

  std::span<const std::uint8_t> bytes_;
  std::size_t at_ = 0;
  bool progressive_ = false;
  bool dc_defined_[kTableSlots] = {};
  bool ac_defined_[kTableSlots] = {};
  const char* hazard_ = nullptr;
};

}  // namespace

const char* jpeg_hazard(std::span<const std::uint8_t> bytes) {
  return JpegWalk(bytes).hazard();
}

}  // namespace sequent::data::stb
