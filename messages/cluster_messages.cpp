// SPDX-License-Identifier: MIT
#include "messages/cluster_messages.hpp"

namespace regcore {

const char* to_string(membership_change x) noexcept {
  switch (x) {
  case membership_change::snapshot:
    return "snapshot";
  case membership_change::joined:
    return "joined";
  case membership_change::restarted:
    return "restarted";
  case membership_change::left:
    return "left";
  case membership_change::lost:
    return "lost";
  }
  return "?";
}

} // namespace regcore
