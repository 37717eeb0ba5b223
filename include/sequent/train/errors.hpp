// Exceptions of the training runtime.
#pragma once

#include <stdexcept>
#include <string>

namespace sequent {

// The loss became NaN or infinite. fit() has restored the last good weights
// (the end of the last complete epoch) before throwing.
class NonFiniteLoss : public std::runtime_error {
 public:
  explicit NonFiniteLoss(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace sequent
