// A predicate for BOOST_CHECK_EXCEPTION: the exception's message contains
// every one of `parts`; each missing part is reported with the message.
#pragma once

#include <boost/test/unit_test.hpp>
#include <exception>
#include <string>

namespace sequent::test {

template <class... Parts>
auto message_has(Parts... parts) {
  return [=](const std::exception& error) {
    const std::string message = error.what();
    bool all_found = true;
    for (const std::string& part : {std::string(parts)...}) {
      const bool found = message.find(part) != std::string::npos;
      BOOST_CHECK_MESSAGE(
          found, "message \"" << message << "\" lacks \"" << part << "\"");
      all_found = all_found && found;
    }
    return all_found;
  };
}

}  // namespace sequent::test
