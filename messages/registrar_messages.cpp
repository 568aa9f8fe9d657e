// SPDX-License-Identifier: MIT
#include "messages/registrar_messages.hpp"

namespace regcore {

const char* to_string(register_outcome x) noexcept {
  switch (x) {
    case register_outcome::added: return "added";
    case register_outcome::refreshed: return "refreshed";
    case register_outcome::removed: return "removed";
    case register_outcome::removed_all: return "removed_all";
    case register_outcome::queried: return "queried";
    case register_outcome::mixed: return "mixed";
  }
  return "queried";
}

} // namespace regcore
