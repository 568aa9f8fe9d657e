// SPDX-License-Identifier: MIT
#pragma once

// SIP mode: real SIP over UDP or TCP to any registrar, from a few loopback
// sockets and one epoll thread (no CAF). Thousands of simulated users and
// watchers share the sockets: each has its own AOR, Call-ID and a Contact
// whose user part names it.

#include <functional>
#include <string>

#include "options.hpp"
#include "stats.hpp"

namespace regcore::load {

/// Runs the scenario of `opt` against opt.target_host:opt.target_port.
/// `idle` is called about every 200 ms (progress display). Returns an error
/// message when the run could not be done (socket errors, an unreadable
/// --acks file), else empty. Scenario verify fills `verified` (not null).
std::string run_sip(const options& opt, recorder& rec, ack_log& acks,
                    const std::function<void()>& idle, verify_result* verified = nullptr);

} // namespace regcore::load
