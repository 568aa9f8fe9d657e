// SPDX-License-Identifier: MIT
#include "stats.hpp"

#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace regcore::load {

// -- histogram ------------------------------------------------------------------

histogram::histogram(int sub_bits) : sub_bits_(sub_bits) {
  // Highest index: shift up to 64 - sub_bits + 1, plus the sub-bucket.
  counts_.assign(static_cast<size_t>(66 - sub_bits) << (sub_bits - 1), 0);
}

size_t histogram::index_of(uint64_t v) const noexcept {
  if (v < (uint64_t{1} << sub_bits_))
    return static_cast<size_t>(v);
  int msb = 63 - __builtin_clzll(v);
  int shift = msb - sub_bits_ + 1;
  return (static_cast<size_t>(shift) << (sub_bits_ - 1)) + static_cast<size_t>(v >> shift);
}

uint64_t histogram::lower_of(size_t idx) const noexcept {
  if (idx < (size_t{1} << sub_bits_))
    return idx;
  auto shift = (idx >> (sub_bits_ - 1)) - 1;
  auto m = idx - (shift << (sub_bits_ - 1));
  return static_cast<uint64_t>(m) << shift;
}

uint64_t histogram::upper_of(size_t idx) const noexcept {
  if (idx < (size_t{1} << sub_bits_))
    return idx;
  auto shift = (idx >> (sub_bits_ - 1)) - 1;
  auto m = idx - (shift << (sub_bits_ - 1));
  return ((static_cast<uint64_t>(m) + 1) << shift) - 1;
}

void histogram::record(uint64_t value, uint64_t n) {
  auto idx = index_of(value);
  if (idx >= counts_.size())
    idx = counts_.size() - 1;
  counts_[idx] += n;
  count_ += n;
  sum_ += static_cast<long double>(value) * n;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void histogram::merge(const histogram& other) {
  if (other.sub_bits_ == sub_bits_) {
    for (size_t i = 0; i < counts_.size(); ++i)
      counts_[i] += other.counts_[i];
  } else {
    for (size_t i = 0; i < other.counts_.size(); ++i)
      if (other.counts_[i] != 0)
        counts_[std::min(index_of(other.lower_of(i)), counts_.size() - 1)] += other.counts_[i];
  }
  count_ += other.count_;
  sum_ += other.sum_;
  if (other.count_) {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
}

double histogram::mean() const noexcept {
  return count_ ? static_cast<double>(sum_ / count_) : 0.0;
}

uint64_t histogram::quantile(double q) const noexcept {
  if (count_ == 0)
    return 0;
  q = std::clamp(q, 0.0, 1.0);
  // Rank of the sample (1-based) that the quantile names.
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      auto mid = lower_of(i) + (upper_of(i) - lower_of(i)) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

// -- /proc ----------------------------------------------------------------------

std::optional<proc_sample> sample_process(int pid) {
  if (pid <= 0)
    return std::nullopt;
  proc_sample out;
  {
    std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
    std::string text;
    if (!std::getline(in, text))
      return std::nullopt;
    // The command name (field 2) may hold spaces: fields start after ')'.
    auto close = text.rfind(')');
    if (close == std::string::npos)
      return std::nullopt;
    std::istringstream fields{text.substr(close + 2)};
    std::string f;
    unsigned long long utime = 0, stime = 0;
    // After ')' comes field 3 (state); utime is field 14, stime 15.
    for (int i = 3; i <= 15 && fields >> f; ++i) {
      if (i == 14)
        utime = std::stoull(f);
      else if (i == 15)
        stime = std::stoull(f);
    }
    out.cpu_seconds = static_cast<double>(utime + stime)
                      / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  {
    std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("VmRSS:", 0) == 0) {
        out.rss_bytes = std::stoull(line.substr(6)) * 1024;
        break;
      }
  }
  {
    // schedstat's first field: ns on CPU, per thread.
    std::error_code ec;
    unsigned long long ns = 0;
    bool any = false;
    for (auto& e : std::filesystem::directory_iterator{
           "/proc/" + std::to_string(pid) + "/task", ec}) {
      std::ifstream in{e.path() / "schedstat"};
      unsigned long long v = 0;
      if (in >> v) {
        ns += v;
        any = true;
      }
    }
    if (any)
      out.sched_seconds = static_cast<double>(ns) / 1e9;
  }
  return out;
}

std::optional<proc_sample> sample_group(int pgid) {
  if (pgid <= 0)
    return std::nullopt;
  std::optional<proc_sample> sum;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator{"/proc", ec}) {
    auto name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream in{e.path() / "stat"};
    std::string text;
    if (!std::getline(in, text))
      continue;
    auto close = text.rfind(')');
    if (close == std::string::npos)
      continue;
    // After ')': field 3 state, 4 ppid, 5 pgrp.
    std::istringstream fields{text.substr(close + 2)};
    std::string state, ppid;
    long pgrp = 0;
    if (!(fields >> state >> ppid >> pgrp) || pgrp != pgid)
      continue;
    auto s = sample_process(std::stoi(name));
    if (!s)
      continue;
    if (!sum) {
      sum = *s;
      continue;
    }
    sum->cpu_seconds += s->cpu_seconds;
    sum->rss_bytes += s->rss_bytes;
    if (s->sched_seconds >= 0)
      sum->sched_seconds = std::max(sum->sched_seconds, 0.0) + s->sched_seconds;
  }
  return sum;
}

std::optional<proc_sample> recorder::sample_target() const {
  return target_pgid_ > 0 ? sample_group(target_pgid_) : sample_process(target_pid_);
}

// -- recorder -------------------------------------------------------------------

void recorder::begin(time_point now) {
  start_ = now;
  stop_ = now;
  start_unix_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  measuring_ = true;
  before_ = sample_target();
  sample_rss();
}

void recorder::end(time_point now) {
  if (ended_ || !measuring_)
    return;
  ended_ = true;
  stop_ = now;
  after_ = sample_target();
  sample_rss();
}

double recorder::elapsed_seconds() const noexcept {
  auto end = ended_ ? stop_ : clock_type::now();
  return std::chrono::duration<double>(end - start_).count();
}

std::optional<double> recorder::first_error_ms() const {
  if (!first_error_)
    return std::nullopt;
  return std::chrono::duration<double, std::milli>(*first_error_ - start_).count();
}

std::optional<double> recorder::last_error_ms() const {
  if (!last_error_)
    return std::nullopt;
  return std::chrono::duration<double, std::milli>(*last_error_ - start_).count();
}

second_stats& recorder::slot(time_point now) {
  auto sec = now > start_ ? static_cast<size_t>(
               std::chrono::duration_cast<std::chrono::seconds>(now - start_).count())
                          : size_t{0};
  if (timeline_.size() <= sec)
    timeline_.resize(sec + 1);
  return timeline_[sec];
}

void recorder::success(time_point scheduled, time_point now, uint64_t n) {
  auto lat = now > scheduled ? static_cast<uint64_t>((now - scheduled).count()) : 0;
  latency_.record(lat, n);
  auto& s = slot(now);
  s.ops += n;
  s.latency.record(lat, n);
  ops_.fetch_add(n, std::memory_order_relaxed);
}

void recorder::failure(time_point scheduled, time_point now, const std::string& key,
                       uint64_t n) {
  // Failed operations do not enter the latency histogram (a timeout would
  // only say "timer B"); they count as operations and as errors.
  errors_by_[key] += n;
  // The window of the failed operations' due (sent) times: a timeout is
  // seen timer B later, but what failed was sent then.
  auto at = scheduled != time_point{} && scheduled < now ? scheduled : now;
  if (!first_error_ || at < *first_error_)
    first_error_ = at;
  if (!last_error_ || at > *last_error_)
    last_error_ = at;
  auto& s = slot(now);
  s.ops += n;
  s.errors += n;
  ops_.fetch_add(n, std::memory_order_relaxed);
  errors_.fetch_add(n, std::memory_order_relaxed);
}

void recorder::set_phase(const std::string& phase, uint64_t expected) {
  std::lock_guard<std::mutex> guard{phase_mtx_};
  phase_ = phase;
  expected_ = expected;
}

std::pair<std::string, uint64_t> recorder::phase() const {
  std::lock_guard<std::mutex> guard{phase_mtx_};
  return {phase_, expected_};
}

void recorder::sample_rss() {
  if (auto s = sample_target()) {
    auto cur = peak_rss_.load();
    while (s->rss_bytes > cur && !peak_rss_.compare_exchange_weak(cur, s->rss_bytes)) {
    }
  }
}

// -- report -----------------------------------------------------------------------

namespace {

struct figures {
  uint64_t ops = 0;
  uint64_t errors = 0;
  double seconds = 0;
  double rate = 0;
  std::optional<double> cpu_seconds;
  std::optional<double> cpu_us_per_op;
  std::optional<double> sched_seconds; ///< the same from schedstat (ns)
  std::optional<uint64_t> rss_end;
};

figures compute(const recorder& rec) {
  figures f;
  for (auto& s : rec.timeline()) {
    f.ops += s.ops;
    f.errors += s.errors;
  }
  f.seconds = rec.elapsed_seconds();
  f.rate = f.seconds > 0 ? static_cast<double>(f.ops) / f.seconds : 0;
  auto b = rec.cpu_before();
  auto a = rec.cpu_after();
  if (a && b) {
    f.cpu_seconds = a->cpu_seconds - b->cpu_seconds;
    if (f.ops > 0)
      f.cpu_us_per_op = *f.cpu_seconds * 1e6 / static_cast<double>(f.ops);
    if (a->sched_seconds >= 0 && b->sched_seconds >= 0)
      f.sched_seconds = a->sched_seconds - b->sched_seconds;
    f.rss_end = a->rss_bytes;
  }
  return f;
}

std::string fmt_ns(uint64_t ns) {
  char buf[64];
  if (ns < 10'000)
    std::snprintf(buf, sizeof buf, "%.2f us", static_cast<double>(ns) / 1e3);
  else if (ns < 10'000'000)
    std::snprintf(buf, sizeof buf, "%.1f us", static_cast<double>(ns) / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.2f ms", static_cast<double>(ns) / 1e6);
  return buf;
}

const std::pair<const char*, double> quantiles[] = {
  {"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}, {"p99.9", 0.999}};

} // namespace

void print_table(const run_info& info, const recorder& rec, std::FILE* out) {
  auto f = compute(rec);
  auto& h = rec.latency();
  std::fprintf(out, "\nregistrar-load: %s / %s against %s\n", info.mode.c_str(),
               info.scenario.c_str(), info.target.c_str());
  if (!info.note.empty())
    std::fprintf(out, "  (%s)\n", info.note.c_str());
  std::fprintf(out, "  %-22s %" PRIu64 "\n", "operations", f.ops);
  std::fprintf(out, "  %-22s %.3f s\n", "measured time", f.seconds);
  std::fprintf(out, "  %-22s %.0f ops/s\n", "throughput", f.rate);
  std::fprintf(out, "  %-22s %" PRIu64 " (%.4f %%)\n", "errors", f.errors,
               f.ops ? 100.0 * static_cast<double>(f.errors) / static_cast<double>(f.ops) : 0.0);
  for (auto& [key, n] : rec.errors())
    std::fprintf(out, "  %-22s %" PRIu64 "\n", ("  " + key).c_str(), n);
  if (auto a = rec.first_error_ms(), b = rec.last_error_ms(); a && b)
    std::fprintf(out, "  %-22s %.3f s to %.3f s after the start (%.0f ms)\n", "  failed ops sent",
                 *a / 1e3, *b / 1e3, *b - *a);
  std::fprintf(out, "  latency (%" PRIu64 " successful operations)\n", h.count());
  std::fprintf(out, "    %-20s %s\n", "min", fmt_ns(h.min()).c_str());
  std::fprintf(out, "    %-20s %s\n", "mean", fmt_ns(static_cast<uint64_t>(h.mean())).c_str());
  for (auto& [name, q] : quantiles)
    std::fprintf(out, "    %-20s %s\n", name, fmt_ns(h.quantile(q)).c_str());
  std::fprintf(out, "    %-20s %s\n", "max", fmt_ns(h.max()).c_str());
  if (f.cpu_seconds) {
    if (rec.target_pgid() > 0)
      std::fprintf(out, "  %-22s process group %d: %.3f s CPU, %.2f us CPU per operation",
                   "target CPU", rec.target_pgid(), *f.cpu_seconds,
                   f.cpu_us_per_op ? *f.cpu_us_per_op : 0.0);
    else
      std::fprintf(out, "  %-22s pid %d: %.3f s CPU, %.2f us CPU per operation",
                   "target CPU", rec.target_pid(), *f.cpu_seconds,
                   f.cpu_us_per_op ? *f.cpu_us_per_op : 0.0);
    if (f.sched_seconds)
      std::fprintf(out, " (schedstat: %.3f s)", *f.sched_seconds);
    std::fprintf(out, "\n");
    std::fprintf(out, "  %-22s %.1f MiB at end, %.1f MiB peak\n", "target RSS",
                 static_cast<double>(*f.rss_end) / 1048576.0,
                 static_cast<double>(rec.peak_rss()) / 1048576.0);
  }
  if (auto i = rec.extras().find("notifications"); i != rec.extras().end() && f.seconds > 0) {
    auto n = static_cast<double>(i->second);
    std::fprintf(out, "  %-22s %.0f /s", "notification rate", n / f.seconds);
    if (f.cpu_seconds && n > 0)
      std::fprintf(out, ", %.2f us target CPU per notification", *f.cpu_seconds * 1e6 / n);
    if (f.sched_seconds && n > 0)
      std::fprintf(out, " (schedstat: %.2f us)", *f.sched_seconds * 1e6 / n);
    std::fprintf(out, "\n");
  }
  for (auto& [name, n] : rec.extras())
    std::fprintf(out, "  %-22s %" PRIu64 "\n", name.c_str(), n);
  std::fflush(out);
}

std::string write_json(const run_info& info, const recorder& rec, const std::string& path) {
  using nlohmann::json;
  auto f = compute(rec);
  auto& h = rec.latency();
  json j;
  j["tool"] = "registrar-load";
  j["mode"] = info.mode;
  j["scenario"] = info.scenario;
  j["target"] = info.target;
  j["command_line"] = info.command_line;
  j["note"] = info.note;
  j["params"] = info.params;
  j["operations"] = f.ops;
  j["errors"] = f.errors;
  j["error_rate"] = f.ops ? static_cast<double>(f.errors) / static_cast<double>(f.ops) : 0.0;
  j["errors_by_status"] = rec.errors();
  j["start_unix_ms"] = rec.start_unix_ms();
  if (auto a = rec.first_error_ms(), b = rec.last_error_ms(); a && b) {
    j["first_error_ms"] = *a;
    j["last_error_ms"] = *b;
  } else {
    j["first_error_ms"] = nullptr;
    j["last_error_ms"] = nullptr;
  }
  j["seconds"] = f.seconds;
  j["throughput_per_s"] = f.rate;
  json lat;
  lat["unit"] = "us";
  lat["count"] = h.count();
  lat["min"] = static_cast<double>(h.min()) / 1e3;
  lat["mean"] = h.mean() / 1e3;
  for (auto& [name, q] : quantiles)
    lat[name] = static_cast<double>(h.quantile(q)) / 1e3;
  lat["max"] = static_cast<double>(h.max()) / 1e3;
  j["latency"] = lat;
  if (f.cpu_seconds) {
    j["target_pid"] = rec.target_pid();
    if (rec.target_pgid() > 0)
      j["target_pgid"] = rec.target_pgid();
    j["target_cpu_seconds"] = *f.cpu_seconds;
    if (f.sched_seconds)
      j["target_cpu_sched_seconds"] = *f.sched_seconds;
    j["target_cpu_us_per_op"] = f.cpu_us_per_op ? *f.cpu_us_per_op : 0.0;
    j["target_rss_bytes"] = *f.rss_end;
    j["target_peak_rss_bytes"] = rec.peak_rss();
  }
  j["counters"] = rec.extras();
  if (auto i = rec.extras().find("notifications"); i != rec.extras().end() && f.seconds > 0) {
    j["notifications_per_s"] = static_cast<double>(i->second) / f.seconds;
    if (f.cpu_seconds && i->second > 0)
      j["target_cpu_us_per_notification"] = *f.cpu_seconds * 1e6 / static_cast<double>(i->second);
    if (f.sched_seconds && i->second > 0)
      j["target_sched_us_per_notification"] =
        *f.sched_seconds * 1e6 / static_cast<double>(i->second);
  }
  json tl = json::array();
  for (auto& s : rec.timeline())
    tl.push_back({{"ops", s.ops},
                  {"errors", s.errors},
                  {"p50_us", static_cast<double>(s.latency.quantile(0.5)) / 1e3},
                  {"p99_us", static_cast<double>(s.latency.quantile(0.99)) / 1e3}});
  j["per_second"] = tl;
  std::ofstream out{path};
  if (!out)
    return "cannot write " + path;
  out << j.dump(2) << "\n";
  return out ? std::string{} : "cannot write " + path;
}

std::string write_svg(const run_info& info, const recorder& rec, const std::string& path) {
  // Two stacked panels, one point per second: throughput (ops/s) and p99
  // latency (ms). Hand-written so the tool needs no plotting library.
  auto& tl = rec.timeline();
  const double w = 800, ph = 200, left = 70, top = 40, gap = 60;
  size_t n = std::max<size_t>(tl.size(), 1);
  double max_ops = 1, max_p99 = 0.001;
  for (auto& s : tl) {
    max_ops = std::max(max_ops, static_cast<double>(s.ops));
    max_p99 = std::max(max_p99, static_cast<double>(s.latency.quantile(0.99)) / 1e6);
  }
  auto x_of = [&](size_t i) {
    return left + (n > 1 ? (w - left - 20) * static_cast<double>(i) / static_cast<double>(n - 1)
                         : 0.0);
  };
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\""
      << top + 2 * ph + gap + 40 << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg << "<text x=\"" << left << "\" y=\"20\" font-size=\"14\">registrar-load " << info.mode
      << " / " << info.scenario << " against " << info.target << "</text>\n";
  auto panel = [&](double y0, const char* title, double maxv, auto value_of,
                   const char* color) {
    svg << "<rect x=\"" << left << "\" y=\"" << y0 << "\" width=\"" << w - left - 20
        << "\" height=\"" << ph << "\" fill=\"none\" stroke=\"#888\"/>\n";
    svg << "<text x=\"" << left << "\" y=\"" << y0 - 6 << "\">" << title << " (max "
        << maxv << ")</text>\n";
    svg << "<text x=\"" << 5 << "\" y=\"" << y0 + 12 << "\">" << maxv << "</text>\n";
    svg << "<text x=\"" << 5 << "\" y=\"" << y0 + ph << "\">0</text>\n";
    svg << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\" points=\"";
    for (size_t i = 0; i < tl.size(); ++i)
      svg << x_of(i) << "," << y0 + ph - ph * value_of(tl[i]) / maxv << " ";
    svg << "\"/>\n";
  };
  panel(top, "throughput, operations/s", max_ops,
        [](const second_stats& s) { return static_cast<double>(s.ops); }, "#1f77b4");
  panel(top + ph + gap, "p99 latency, ms", max_p99,
        [](const second_stats& s) {
          return static_cast<double>(s.latency.quantile(0.99)) / 1e6;
        },
        "#d62728");
  svg << "<text x=\"" << left << "\" y=\"" << top + 2 * ph + gap + 25
      << "\">seconds of the measured phase: 0 .. " << tl.size() << "</text>\n";
  svg << "</svg>\n";
  std::ofstream out{path};
  if (!out)
    return "cannot write " + path;
  out << svg.str();
  return out ? std::string{} : "cannot write " + path;
}

} // namespace regcore::load
