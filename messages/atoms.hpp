// SPDX-License-Identifier: MIT
#pragma once

// Atoms: only for control signals (at most 10 characters in CAF 0.17).
// Requests and replies with data are structs (see *_messages.hpp).

#include <caf/atom.hpp>

namespace regcore {

/// Periodic or armed wake-up of a supervisor.
using tick_atom = caf::atom_constant<caf::atom("tick")>;
/// A shard's signal to itself: send what it has batched up.
using flush_atom = caf::atom_constant<caf::atom("flush")>;
/// Asks an actor for statistics (pending counts, sizes).
using stats_atom = caf::atom_constant<caf::atom("stats")>;

} // namespace regcore
