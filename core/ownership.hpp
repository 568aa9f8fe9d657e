// SPDX-License-Identifier: MIT
#pragma once

// Who owns an AOR in a cluster (issue: distribution): rendezvous (highest
// random weight) hashing over the live members. Every node computes the same
// answer from the same membership, with no table to agree on; when a member
// leaves, only the AORs it owned (or replicated) move, each to the member
// that ranked next for it; when one joins, it takes over only the AORs for
// which it now ranks first (roughly 1/n of them).
//
//   std::vector<std::string> members = {"node-1", "node-2", "node-3"};
//   auto owner = core::owner_of("sip:alice@example.com", members);   // index
//   auto set = core::replica_set("sip:alice@example.com", members, 2); // owner, replica
//
// Pure and deterministic: the weights use stable_hash (FNV-1a, fixed by
// definition), never std::hash, so all builds and processes agree.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace regcore::core {

/// The weight of `member` for `key`: a 64-bit mix of both names.
uint64_t rendezvous_weight(std::string_view key, std::string_view member) noexcept;

/// Index into `members` of the owner of `key` (the highest weight; ties go
/// to the smaller member name, so the answer never depends on the order of
/// `members`). `members` must not be empty and must not repeat a name.
size_t owner_of(std::string_view key, const std::vector<std::string>& members);

/// What rendezvous_weight mixes in for `member` (precompute it once per
/// membership: then a lookup hashes only the key).
uint64_t member_salt(std::string_view member) noexcept;

/// rendezvous_weight(key, member) from stable_hash(key) and
/// member_salt(member).
uint64_t rendezvous_weight(uint64_t key_hash, uint64_t salt) noexcept;

/// owner_of() from the key's stable_hash and the members' salts (same order
/// as `members`): the same answer, for callers that keep only the hash.
size_t owner_of_hash(uint64_t key_hash, const std::vector<uint64_t>& salts,
                     const std::vector<std::string>& members);

/// The owner first, then the next `copies - 1` members in rank order: the
/// nodes holding `key` with replication factor `copies` (capped at the
/// number of members). Indexes into `members`.
std::vector<size_t> replica_set(std::string_view key,
                                const std::vector<std::string>& members,
                                size_t copies);

/// The prefix of the dialog tags (To-tags of SUBSCRIBE dialogs) the SIP
/// edge of cluster member `node_id` makes: "n" + 8 hex digits of the id's
/// stable_hash + ".". Any node can tell from a stored dialog which member
/// terminates it (and adopt it when that member is lost).
std::string dialog_tag_prefix(std::string_view node_id);

/// The dialog_tag_prefix() `tag` starts with, or empty (a tag of a node
/// outside a cluster).
std::string_view dialog_tag_prefix_of(std::string_view tag) noexcept;

} // namespace regcore::core
