// SPDX-License-Identifier: MIT
#include "messages/sip_messages.hpp"

namespace regcore {

std::string to_string(const sip_endpoint& x) {
  std::string out = core::to_string(x.proto);
  for (auto& c : out) // the listen-address form: "udp:...", "tcp:..."
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  out += ':';
  if (x.ip.find(':') != std::string::npos) {
    out += '[';
    out += x.ip;
    out += ']';
  } else {
    out += x.ip;
  }
  out += ':';
  out += std::to_string(x.port);
  return out;
}

} // namespace regcore
