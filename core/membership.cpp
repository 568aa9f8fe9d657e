// SPDX-License-Identifier: MIT
#include "core/membership.hpp"

#include <tuple>
#include <utility>

namespace regcore::core {

namespace {

/// True when claim `x` wins over claim `y` of the same id: the newer
/// incarnation, then (same life, which only a bug produces) the smaller
/// address, so the winner never depends on the order of arrival.
bool supersedes(const cluster_member& x, const cluster_member& y) noexcept {
  if (x.incarnation != y.incarnation)
    return x.incarnation > y.incarnation;
  return std::tie(x.host, x.port) < std::tie(y.host, y.port);
}

} // namespace

bool operator==(const cluster_member& x, const cluster_member& y) noexcept {
  return x.id == y.id && x.host == y.host && x.port == y.port
         && x.incarnation == y.incarnation;
}

std::string address_of(const cluster_member& x) {
  std::string r;
  if (x.host.find(':') != std::string::npos)
    r = "[" + x.host + "]";
  else
    r = x.host;
  r += ':';
  r += std::to_string(x.port);
  return r;
}

std::string to_string(const cluster_member& x) {
  return x.id + "@" + address_of(x) + "#" + std::to_string(x.incarnation);
}

uint64_t make_incarnation(uint64_t wall_clock_ms, uint16_t salt) noexcept {
  return (wall_clock_ms << 16) | salt;
}

const char* to_string(join_result x) noexcept {
  switch (x) {
  case join_result::added:
    return "added";
  case join_result::replaced:
    return "replaced";
  case join_result::unchanged:
    return "unchanged";
  case join_result::stale:
    return "stale";
  case join_result::conflict:
    return "conflict";
  }
  return "?";
}

membership::membership(cluster_member self) : self_(std::move(self)) {
  live_.emplace(self_.id, self_);
}

std::vector<cluster_member> membership::members() const {
  std::vector<cluster_member> r;
  r.reserve(live_.size());
  for (auto& kvp : live_)
    r.push_back(kvp.second);
  return r;
}

std::vector<std::string> membership::ids() const {
  std::vector<std::string> r;
  r.reserve(live_.size());
  for (auto& kvp : live_)
    r.push_back(kvp.first);
  return r;
}

const cluster_member* membership::find(std::string_view id) const {
  auto i = live_.find(id);
  return i != live_.end() ? &i->second : nullptr;
}

bool membership::is_live(const cluster_member& x) const {
  auto i = live_.find(x.id);
  return i != live_.end() && i->second.incarnation == x.incarnation;
}

uint64_t membership::dead_up_to(std::string_view id) const {
  auto i = dead_.find(id);
  return i != dead_.end() ? i->second : 0;
}

join_result membership::join(const cluster_member& x) {
  if (x.id == self_.id) {
    if (x == self_)
      return join_result::unchanged;
    // Our previous life (gossip that has not heard of the restart yet) is
    // stale; anything else claims our id.
    return x.incarnation < self_.incarnation ? join_result::stale
                                             : join_result::conflict;
  }
  if (x.incarnation <= dead_up_to(x.id))
    return join_result::stale;
  auto i = live_.find(x.id);
  if (i == live_.end()) {
    live_.emplace(x.id, x);
    ++epoch_;
    return join_result::added;
  }
  if (i->second == x)
    return join_result::unchanged;
  if (!supersedes(x, i->second))
    return join_result::stale;
  i->second = x;
  ++epoch_;
  return join_result::replaced;
}

join_result membership::revive(const cluster_member& x) {
  auto d = dead_.find(x.id);
  if (x.id != self_.id && d != dead_.end() && d->second == x.incarnation
      && x.incarnation > 0 && live_.find(x.id) == live_.end())
    d->second = x.incarnation - 1;
  return join(x);
}

std::vector<merge_change>
membership::merge(const std::vector<cluster_member>& xs) {
  std::vector<merge_change> r;
  for (auto& x : xs) {
    auto res = join(x);
    if (changed(res))
      r.push_back(merge_change{x, res});
  }
  return r;
}

bool membership::mark_down(std::string_view id, uint64_t incarnation) {
  if (id == self_.id)
    return false;
  auto d = dead_.find(id);
  if (d == dead_.end())
    dead_.emplace(std::string{id}, incarnation);
  else if (d->second < incarnation)
    d->second = incarnation;
  auto i = live_.find(id);
  if (i == live_.end() || i->second.incarnation > incarnation)
    return false;
  live_.erase(i);
  ++epoch_;
  return true;
}

} // namespace regcore::core
