// SPDX-License-Identifier: MIT
// A host application that embeds registrar-core in its own actor system.
#include <iostream>

#include "actors/engine.hpp"
#include "messages/types.hpp"

#include <caf/all.hpp>

using namespace regcore;

int main() {
  caf::actor_system_config cfg;
  messages::register_types(cfg); // every type the engine sends
  caf::actor_system sys{cfg};
  auto eng = actors::spawn_engine(sys); // shards, supervisors, event bus
  {
    actors::blocking_service api{sys, eng.service};
    api.on_event(event_bit(event_kind::presence_updated), [](const caf::message& m) {
      auto& ev = m.get_as<presence_updated_event>(0);
      std::cout << "presence of " << ev.user << ": "
                << core::to_string(ev.state.basic) << "\n";
    });
    api.register_user("sip:alice@example.com", "sip:alice@192.0.2.4:5060", 3600);
    api.update_presence("sip:alice@example.com", core::extended_status::away,
                        "back at 3");
    auto contacts = api.lookup_user("sip:alice@example.com");
    if (!contacts) {
      std::cerr << sys.render(contacts.error()) << "\n";
      return 1;
    }
    for (auto& c : contacts->bindings)
      std::cout << c.uri << " expires in " << c.expires << " s\n";
  }
  eng.shutdown(); // stop the engine's actors, then ~actor_system waits for them
  return 0;
}
