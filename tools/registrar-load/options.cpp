// SPDX-License-Identifier: MIT
#include "options.hpp"

namespace regcore::load {

const char* to_string(scenario x) noexcept {
  switch (x) {
    case scenario::register_: return "register";
    case scenario::refresh: return "refresh";
    case scenario::unregister: return "unregister";
    case scenario::presence: return "presence";
    case scenario::auto_buddy: return "auto-buddy";
    case scenario::mixed: return "mixed";
    case scenario::verify: return "verify";
  }
  return "?";
}

std::optional<scenario> parse_scenario(const std::string& x) noexcept {
  for (auto s : {scenario::register_, scenario::refresh, scenario::unregister,
                 scenario::presence, scenario::auto_buddy, scenario::mixed, scenario::verify})
    if (x == to_string(s))
      return s;
  return std::nullopt;
}

plan plan::of(const options& o) {
  plan p;
  const uint64_t unbounded = UINT64_MAX;
  auto bindings = o.users * o.devices;
  // With --duration and no --count the run is bounded by time alone.
  auto bounded = [&](uint64_t dflt) {
    if (o.count)
      return *o.count;
    return o.duration > 0 ? unbounded : dflt;
  };
  switch (o.sc) {
    case scenario::register_:
      // New registrations only: operation i is binding i (user i / D).
      p.measured = bounded(bindings);
      break;
    case scenario::refresh:
      p.setup_bindings = bindings;
      p.measured = bounded(bindings);
      break;
    case scenario::unregister:
      // Each binding can be removed once.
      p.setup_bindings = bindings;
      p.measured = std::min(bounded(bindings), bindings);
      break;
    case scenario::presence:
      p.setup_subscriptions = uint64_t{o.publishers} * o.watchers;
      p.measured = bounded(uint64_t{o.publishers} * o.updates);
      break;
    case scenario::auto_buddy:
      p.measured = std::min(bounded(o.users), o.users);
      break;
    case scenario::mixed:
      p.setup_bindings = o.users;
      if (o.presence_rate > 0)
        p.setup_subscriptions = uint64_t{o.publishers} * o.watchers;
      p.measured = bounded(unbounded);
      break;
    case scenario::verify:
      // One query per AOR of the ack log: known once the log is read.
      break;
  }
  return p;
}

} // namespace regcore::load
