// How error messages and layer names print a number given by the user (a
// learning rate, a fraction, a split, a penalty factor): %g, so that 1e-30
// or -1e-9 is not "0.000000".
#pragma once

#include <cstdio>
#include <string>

namespace sequent::detail {

inline std::string format_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", value);
  return buffer;
}

}  // namespace sequent::detail
