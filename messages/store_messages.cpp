// SPDX-License-Identifier: MIT
#include "messages/store_messages.hpp"

namespace regcore {

const char* to_string(durability x) noexcept {
  switch (x) {
    case durability::off:
      return "off";
    case durability::async:
      return "async";
    case durability::sync:
      return "sync";
  }
  return "?";
}

} // namespace regcore
