// SPDX-License-Identifier: MIT
#pragma once

// RFC 3261 §17 for a registrar and notifier, as pure functions and a table:
// - server transactions absorb retransmitted requests: the same request
//   (§17.2.3 matching) gets the same response again while the transaction
//   lives, and nothing while it is still being answered;
// - the retransmission schedule of our non-INVITE client transactions
//   (NOTIFY over UDP, §17.1.2.2: timers E and F).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>

#include "core/sip_message.hpp"
#include "core/time.hpp"

namespace regcore::core {

/// RFC 3261 §17.2.3: the key that identifies the server transaction of a
/// request. With a magic-cookie branch ("z9hG4bK"): branch, sent-by and
/// method; otherwise (RFC 2543 clients) Call-ID, CSeq, From tag and the top
/// Via. ACK and CANCEL are never absorbed by this table (not served here).
std::string server_transaction_key(const sip_message& request);

/// The server transactions of one SIP edge.
class server_transactions {
public:
  /// What begin() found.
  enum class state {
    /// A new request: now remembered as in progress.
    fresh,
    /// A retransmission of a request still being answered: drop it.
    in_progress,
    /// A retransmission of an answered request: send `response` again.
    answered,
  };

  struct lookup {
    state st = state::fresh;
    /// The stored response (answered only); valid until the next call.
    const std::string* response = nullptr;
  };

  /// `keep`: how long an answered transaction absorbs retransmissions
  /// (Timer J = 64*T1 = 32 s for UDP); at most `max_entries` are kept
  /// (the oldest go first).
  explicit server_transactions(duration keep = std::chrono::seconds{32},
                               size_t max_entries = 200000);

  /// Looks `key` up at `now` (and drops what is older than `keep`).
  lookup begin(const std::string& key, time_point now);

  /// Stores the final response of `key`.
  void complete(const std::string& key, std::string response);

  /// Forgets `key` (e.g. a request that must not be absorbed).
  void forget(const std::string& key);

  size_t size() const noexcept { return entries_.size(); }

private:
  struct entry {
    std::string response;
    time_point started;
    bool answered = false;
  };

  void prune(time_point now);

  duration keep_;
  size_t max_entries_;
  /// By the key's 64-bit stable_hash, not the key: no string allocated or
  /// compared per request. Two different requests would have to collide
  /// within one Timer J among at most `max_entries` (odds ~1e-14 each).
  std::unordered_map<uint64_t, entry> entries_;
  /// Keys in the order they began (entries may be gone already).
  std::deque<std::pair<time_point, uint64_t>> order_;
};

/// Timers of a non-INVITE client transaction (RFC 3261 §17.1.2.2).
struct retransmit_timers {
  duration t1 = std::chrono::milliseconds{500};
  duration t2 = std::chrono::seconds{4};
  /// Timer F: give up after this long without a final response (64*T1).
  duration timer_f = std::chrono::seconds{32};
};

/// Timer E after the n-th transmission (n = 1 for the first):
/// min(T1 * 2^(n-1), T2).
duration retransmit_interval(const retransmit_timers& t, unsigned n) noexcept;

} // namespace regcore::core
