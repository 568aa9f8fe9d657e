// SPDX-License-Identifier: MIT
#pragma once

// Measurement side of registrar-load: a log-bucket latency histogram, the
// recorder both drivers feed (latencies, errors by status, a per-second
// timeline), CPU/RSS samples of a process from /proc, and the report
// (table, JSON, SVG).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace regcore::load {

using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;
using nanos = std::chrono::nanoseconds;

/// HDR-style histogram of non-negative integers (nanoseconds here): values
/// below 2^sub_bits are exact, above that each power of two is split into
/// 2^(sub_bits-1) linear buckets, so the relative error is at most
/// 2^-(sub_bits-1) (1.6 % for the default 7) with a few KB of counters and
/// O(1) recording. We never keep a sample list: a 10 M-operation run costs
/// the same memory as a 10-operation one.
class histogram {
public:
  explicit histogram(int sub_bits = 7);

  void record(uint64_t value, uint64_t n = 1);
  void merge(const histogram& other);

  uint64_t count() const noexcept { return count_; }
  uint64_t min() const noexcept { return count_ ? min_ : 0; }
  uint64_t max() const noexcept { return max_; }
  double mean() const noexcept;
  /// The value at quantile q in [0, 1] (bucket midpoint, clamped to the
  /// exact min and max); 0 when empty.
  uint64_t quantile(double q) const noexcept;

private:
  size_t index_of(uint64_t v) const noexcept;
  uint64_t lower_of(size_t idx) const noexcept;
  uint64_t upper_of(size_t idx) const noexcept;

  int sub_bits_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  long double sum_ = 0;
};

/// CPU time and RSS of one process (from /proc/<pid>/stat and status).
struct proc_sample {
  double cpu_seconds = 0; ///< utime + stime
  uint64_t rss_bytes = 0;
  /// Time on CPU from schedstat (ns precision), summed over every thread;
  /// negative when unavailable.
  double sched_seconds = -1;
};

/// Reads /proc/<pid>; nullopt when the process is gone or unreadable.
std::optional<proc_sample> sample_process(int pid);
/// The sum of sample_process over every process whose process group is
/// `pgid` (a server that forks its workers, e.g. Kamailio started with
/// setsid); nullopt when there is none.
std::optional<proc_sample> sample_group(int pgid);

/// One second of the measured phase.
struct second_stats {
  uint64_t ops = 0;
  uint64_t errors = 0;
  histogram latency{5};
};

/// What the drivers record. One writer (the driver's thread or actor) for
/// everything but the atomics, which the progress thread reads.
class recorder {
public:
  /// `target_pid` <= 0: no CPU/RSS figures.
  explicit recorder(int target_pid) : target_pid_(target_pid) {}
  /// CPU/RSS of a whole process group instead of one process (`pgid` > 0).
  void set_target_group(int pgid) noexcept { target_pgid_ = pgid; }
  int target_pgid() const noexcept { return target_pgid_; }

  /// Starts the measured phase (samples the target's CPU).
  void begin(time_point now);
  /// Ends it (samples again). Idempotent.
  void end(time_point now);
  bool measuring() const noexcept { return measuring_; }

  /// A successful operation that was due at `scheduled` and completed at `now`.
  void success(time_point scheduled, time_point now, uint64_t n = 1);
  /// A failed one: `key` is the SIP status ("408", "503") or "timeout", or
  /// an engine error name.
  void failure(time_point scheduled, time_point now, const std::string& key,
               uint64_t n = 1);
  /// Named extra counters (e.g. "notify_received").
  void count(const std::string& name, uint64_t n = 1) { extras_[name] += n; }

  /// Progress thread side.
  uint64_t done_ops() const noexcept { return ops_.load(std::memory_order_relaxed); }
  uint64_t done_errors() const noexcept { return errors_.load(std::memory_order_relaxed); }
  void set_phase(const std::string& phase, uint64_t expected);
  std::pair<std::string, uint64_t> phase() const;
  /// Setup-phase progress (not measured).
  std::atomic<uint64_t> setup_done{0};

  // -- results (read after the run) ------------------------------------------
  int target_pid() const noexcept { return target_pid_; }
  const histogram& latency() const noexcept { return latency_; }
  const std::map<std::string, uint64_t>& errors() const noexcept { return errors_by_; }
  const std::map<std::string, uint64_t>& extras() const noexcept { return extras_; }
  const std::vector<second_stats>& timeline() const noexcept { return timeline_; }
  /// Wall-clock time (Unix ms) when the measured phase began.
  int64_t start_unix_ms() const noexcept { return start_unix_ms_; }
  /// The earliest and latest due (send) time of a failed operation, ms
  /// after the start (none without errors): the window of a disturbance,
  /// e.g. a cluster node's take-over.
  std::optional<double> first_error_ms() const;
  std::optional<double> last_error_ms() const;
  double elapsed_seconds() const noexcept;
  std::optional<proc_sample> cpu_before() const { return before_; }
  std::optional<proc_sample> cpu_after() const { return after_; }
  uint64_t peak_rss() const noexcept { return peak_rss_.load(); }
  /// Called by the progress thread once a second.
  void sample_rss();

private:
  second_stats& slot(time_point now);
  std::optional<proc_sample> sample_target() const;

  int target_pid_;
  int target_pgid_ = 0;
  bool measuring_ = false;
  bool ended_ = false;
  time_point start_{};
  time_point stop_{};
  int64_t start_unix_ms_ = 0;
  std::optional<time_point> first_error_;
  std::optional<time_point> last_error_;
  histogram latency_{7};
  std::map<std::string, uint64_t> errors_by_;
  std::map<std::string, uint64_t> extras_;
  std::vector<second_stats> timeline_;
  std::optional<proc_sample> before_;
  std::optional<proc_sample> after_;
  std::atomic<uint64_t> ops_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> peak_rss_{0};
  mutable std::mutex phase_mtx_;
  std::string phase_ = "starting";
  uint64_t expected_ = 0;
};

/// What the report prints besides the recorder's figures.
struct run_info {
  std::string mode;      ///< "engine" or "sip"
  std::string scenario;
  std::string target;    ///< "in-process" or host:port/transport
  std::string command_line;
  std::string note;      ///< e.g. what the operation means in this scenario
  std::map<std::string, std::string> params;
};

/// Prints the table to `out` (stdout).
void print_table(const run_info& info, const recorder& rec, std::FILE* out);
/// Writes the JSON report; an error message on failure.
std::string write_json(const run_info& info, const recorder& rec, const std::string& path);
/// Writes an SVG of throughput and p99 per second; an error message on failure.
std::string write_svg(const run_info& info, const recorder& rec, const std::string& path);

} // namespace regcore::load
