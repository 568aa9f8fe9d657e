// SPDX-License-Identifier: MIT
#pragma once

// The store actor: the only writer of a journal (journal.hpp). Owners of
// live state (directory shards, user actors, the subscription supervisor)
// send it journal_batch requests; it applies every batch that is waiting in
// its mailbox as one log record (group commit: a flush_atom it sends
// itself lands behind the batches already queued) and answers each batch
// with ok once that record is written (and, with `sync`, on disk), or with
// the error. With
// durability `sync` an owner answers its client only then; with `async` it
// does not wait (docs/ARCHITECTURE.md, "Durability").

#include <memory>

#include "actors/journal.hpp"
#include "messages/interfaces.hpp"

#include <caf/actor_system.hpp>

namespace regcore::actors {

/// Spawns the store; it takes the journal over. stats_atom answers
/// (commits, entries written). `own_thread`: a detached actor, so that
/// waiting for the disk blocks no scheduler worker.
store_actor spawn_store(caf::actor_system& sys, std::shared_ptr<journal> j,
                        bool own_thread = true);

} // namespace regcore::actors
