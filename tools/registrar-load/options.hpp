// SPDX-License-Identifier: MIT
#pragma once

// The command line of registrar-load as a plain struct, the scenario plan
// both drivers follow, and the pacer (open or closed loop) they share.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/hash.hpp"
#include "stats.hpp"

namespace regcore::load {

enum class scenario : uint8_t {
  register_,
  refresh,
  unregister,
  presence,
  auto_buddy,
  mixed,
  verify, ///< SIP mode: check an --ack-log against the server (--acks)
};

const char* to_string(scenario x) noexcept;
std::optional<scenario> parse_scenario(const std::string& x) noexcept;

struct options {
  std::string mode = "engine";
  scenario sc = scenario::register_;
  // -- population and amount of work
  uint64_t users = 1000;
  uint32_t devices = 1;
  std::optional<uint64_t> count;
  double duration = 0; ///< seconds of the measured phase; 0 = until count
  double rate = 0;     ///< ops/s, open loop; 0 = closed loop
  uint32_t concurrency = 0; ///< outstanding operations (0 = default)
  uint32_t setup_concurrency = 256;
  uint32_t batch = 0; ///< engine mode: register_batch_request of this size
  uint32_t expires = 3600;
  // -- presence
  uint32_t publishers = 10;
  uint32_t watchers = 10;
  uint32_t updates = 10;
  double gap = 0; ///< presence (SIP): pause after an update completes, seconds
  std::string update_log; ///< presence (SIP): one line per update (times, counts)
  double refresh_interval = 60; ///< mixed: each user re-registers every T s
  double presence_rate = 10;    ///< mixed: presence changes per second
  // -- SIP mode
  std::string target; ///< host:port
  /// SIP mode: more registrars (cluster nodes) as host:port; local socket i
  /// talks to [target, also_targets...][i % n], so the users (and the
  /// watchers) are spread over them.
  std::vector<std::string> also_targets;
  std::string target_host;
  uint16_t target_port = 0;
  std::string transport = "udp";
  uint32_t sockets = 2;
  std::string domain; ///< default: the target host
  std::string user_prefix;
  /// Key order of the user names: false = "<prefix>u<N>" (neighbouring N
  /// are neighbouring keys, as a bulk import would write them); true =
  /// "<prefix><4 hex digits of a hash of N>u<N>", so consecutive operations
  /// hit keys spread over the whole key space, as a real population's
  /// REGISTERs arrive (--key-order random).
  bool random_key_order = false;
  double t1 = 0.5;      ///< retransmission timer A/E start, seconds
  double timer_b = 32;  ///< transaction timeout, seconds
  uint32_t rcvbuf = 8u << 20; ///< SO_RCVBUF(FORCE) of each UDP socket, bytes
  // -- engine mode
  uint32_t shards = 0;
  uint32_t threads = 0;
  std::string durability = "off"; ///< off, async or sync
  std::string data_dir;           ///< journal directory (durability on)
  // -- output
  int target_pid = 0;
  int target_pgid = 0; ///< SIP mode: CPU/RSS summed over this process group
  std::string json_path;
  std::string plot_path;
  std::string ack_log;
  /// SIP mode: created when the measured phase begins (after the set-up),
  /// so that a test can act during it.
  std::string started_file;
  std::string acks_path; ///< verify: the ack log to check
  double max_error_rate = 0;
  bool no_progress = false;

  uint32_t effective_concurrency() const noexcept {
    if (concurrency)
      return concurrency;
    if (rate > 0)
      return 20000;
    if (sc == scenario::verify)
      return 256;
    // Presence: one update in flight per publisher, so a closed-loop latency
    // is the fan-out time and not a wait behind the same publisher's queue.
    return sc == scenario::presence ? std::min<uint32_t>(publishers, 64) : 64;
  }
};

/// Measured operations of a count-bounded run (UINT64_MAX = bounded only by
/// --duration), and the size of the population the setup phase creates.
struct plan {
  uint64_t setup_bindings = 0;      ///< bindings registered before measuring
  uint64_t setup_subscriptions = 0; ///< presence: publishers x watchers
  uint64_t measured = 0;

  static plan of(const options& o);
};

/// Decides when the next operation may start. Closed loop: whenever fewer
/// than `concurrency` are outstanding. Open loop: operation i is due at
/// start + i / rate, whatever happened to the earlier ones (latency is
/// measured from that due time, so a stalled server cannot hide its stall
/// by slowing us down: no coordinated omission); `concurrency` is then only
/// a memory cap.
class pacer {
public:
  pacer(double rate, uint32_t concurrency, uint64_t limit, time_point start,
        double duration)
    : rate_(rate), concurrency_(concurrency), limit_(limit), start_(start) {
    if (duration > 0)
      stop_ = start + std::chrono::duration_cast<clock_type::duration>(
                        std::chrono::duration<double>(duration));
  }

  /// The due time of the next operation when it may start now.
  std::optional<time_point> next(time_point now, uint64_t outstanding) {
    if (issued_ >= limit_ || outstanding >= concurrency_)
      return std::nullopt;
    auto due = rate_ > 0 ? due_of(issued_) : now;
    if (due > now || (stop_ && due >= *stop_))
      return std::nullopt;
    ++issued_;
    return due;
  }

  /// When to wake up for the next open-loop operation (nullopt: closed loop,
  /// or nothing left).
  std::optional<time_point> next_due() const {
    if (rate_ <= 0 || issued_ >= limit_)
      return std::nullopt;
    auto due = due_of(issued_);
    if (stop_ && due >= *stop_)
      return std::nullopt;
    return due;
  }

  /// No further operation will ever start.
  bool exhausted(time_point now) const {
    if (issued_ >= limit_)
      return true;
    if (!stop_)
      return false;
    return rate_ > 0 ? due_of(issued_) >= *stop_ : now >= *stop_;
  }

  uint64_t issued() const noexcept { return issued_; }

private:
  time_point due_of(uint64_t i) const {
    return start_ + std::chrono::duration_cast<clock_type::duration>(
                      std::chrono::duration<double>(static_cast<double>(i) / rate_));
  }

  double rate_;
  uint64_t concurrency_;
  uint64_t limit_;
  time_point start_;
  std::optional<time_point> stop_;
  uint64_t issued_ = 0;
};

/// --ack-log: one line per acknowledged (2xx) REGISTER / PUBLISH binding:
///   REGISTER <AOR> <contact URI> <expires>   (expires 0: removed)
///   PUBLISH <AOR> <ETag> <expires>
/// and comment lines "# time <Unix ms>" (at most one per second, before the
/// first line written after it): every line after such a mark was
/// acknowledged at or after that time (`verify` derives expiry from it).
/// Lines are appended whole (O_APPEND, one write() per buffer of complete
/// lines, at least once a second), so a registrar-load killed midway leaves
/// no cut line behind: at most its last second of lines is missing.
class ack_log {
public:
  ack_log() = default;
  ack_log(const ack_log&) = delete;
  ack_log& operator=(const ack_log&) = delete;
  ~ack_log() {
    flush();
    if (fd_ >= 0)
      ::close(fd_);
  }

  /// Empty path: disabled. Returns false when the file cannot be opened.
  bool open(const std::string& path) {
    if (path.empty())
      return true;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    return fd_ >= 0;
  }
  bool enabled() const { return fd_ >= 0; }
  /// kind: "REGISTER" (what = contact URI) or "PUBLISH" (what = ETag).
  void write(const char* kind, const std::string& aor, const std::string& what,
             uint32_t expires) {
    if (fd_ < 0)
      return;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
    if (ms - last_mark_ >= 1000) {
      flush();
      buf_ += "# time " + std::to_string(ms) + '\n';
      last_mark_ = ms;
    }
    buf_ += kind;
    buf_ += ' ';
    buf_ += aor;
    buf_ += ' ';
    buf_ += what;
    buf_ += ' ';
    buf_ += std::to_string(expires);
    buf_ += '\n';
    if (buf_.size() >= 64 * 1024)
      flush();
  }

  void flush() {
    size_t done = 0;
    while (fd_ >= 0 && done < buf_.size()) {
      auto n = ::write(fd_, buf_.data() + done, buf_.size() - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break; // disk full or the like: the log is short, never wrong
      done += static_cast<size_t>(n);
    }
    buf_.clear();
  }

private:
  int fd_ = -1;
  std::string buf_;
  int64_t last_mark_ = 0;
};

/// What `verify` found (SIP mode, --acks FILE). Each acknowledged binding or
/// publication whose expiry has not passed is "checked" and ends in exactly
/// one of found / missing / removed_ok / resurrected / unanswered.
struct verify_result {
  uint64_t lines = 0;        ///< ack log lines read (REGISTER + PUBLISH)
  uint64_t bad_lines = 0;    ///< unparsable lines (skipped)
  uint64_t checked = 0;
  uint64_t checked_bindings = 0;
  uint64_t checked_publications = 0;
  uint64_t found = 0;        ///< acknowledged and present
  uint64_t found_bindings = 0;
  uint64_t found_publications = 0;
  uint64_t missing = 0;      ///< acknowledged, not expired, absent: lost
  uint64_t removed_ok = 0;   ///< acknowledged removal (expires 0), absent
  uint64_t resurrected = 0;  ///< acknowledged removal, present again
  uint64_t unanswered = 0;   ///< the query got no usable answer
  uint64_t expired = 0;      ///< expiry passed (or too close): not checked
  std::vector<std::string> missing_list;  ///< the first 20
  std::vector<std::string> problem_list;  ///< first 20 resurrected / unanswered

  bool ok() const noexcept { return missing == 0 && resurrected == 0 && unanswered == 0; }
};

/// The name (user part) of user `u`: see options::random_key_order.
inline std::string user_name(const options& o, uint64_t u) {
  if (!o.random_key_order)
    return o.user_prefix + "u" + std::to_string(u);
  // A 64-bit mix (splitmix64's finaliser): neighbouring u, unrelated tags.
  // (core::stable_hash, FNV-1a, would not do: the last digit barely
  // reaches its high bits, so u1800, u1801, ... would share a tag.)
  uint64_t z = core::mix64(u + 0x9e3779b97f4a7c15ULL);
  static const char hex[] = "0123456789abcdef";
  std::string tag(4, '0');
  for (int i = 0; i < 4; ++i)
    tag[i] = hex[(z >> (4 * i)) & 0xF];
  return o.user_prefix + tag + "u" + std::to_string(u);
}

} // namespace regcore::load
