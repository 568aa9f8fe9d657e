// SPDX-License-Identifier: MIT
#include "core/sip_transaction.hpp"

#include "core/hash.hpp"
#include "core/strings.hpp"

namespace regcore::core {

std::string server_transaction_key(const sip_message& req) {
  std::string key;
  auto method = req.cseq().method_token;
  if (!req.vias().empty()) {
    auto& top = req.vias().front();
    if (top.branch.size() > 7 && top.branch.substr(0, 7) == "z9hG4bK") {
      key.reserve(top.branch.size() + top.host.size() + method.size() + 12);
      key.append(top.branch);
      key += '|';
      key.append(top.host);
      key += ':';
      key += std::to_string(top.port.value_or(0));
      key += '|';
      key.append(method);
      return key;
    }
  }
  // RFC 3261 §17.2.3, RFC 2543 fallback.
  key.append(req.call_id());
  key += '|';
  key += std::to_string(req.cseq().number);
  key += '|';
  key.append(method);
  key += '|';
  key.append(req.from().tag);
  key += '|';
  if (!req.vias().empty())
    key.append(req.vias().front().raw);
  return key;
}

server_transactions::server_transactions(duration keep, size_t max_entries)
  : keep_(keep), max_entries_(max_entries) {
  // nop
}

void server_transactions::prune(time_point now) {
  while (!order_.empty()
         && (now - order_.front().first >= keep_ || entries_.size() > max_entries_)) {
    auto i = entries_.find(order_.front().second);
    // Only the entry this order slot was made for (a key may come back).
    if (i != entries_.end() && i->second.started == order_.front().first)
      entries_.erase(i);
    order_.pop_front();
  }
}

server_transactions::lookup server_transactions::begin(const std::string& key,
                                                       time_point now) {
  prune(now);
  auto h = stable_hash(key);
  auto [i, added] = entries_.try_emplace(h, entry{{}, now, false});
  if (!added) {
    if (i->second.answered)
      return {state::answered, &i->second.response};
    return {state::in_progress, nullptr};
  }
  order_.emplace_back(now, h);
  if (entries_.size() > max_entries_)
    prune(now);
  return {state::fresh, nullptr};
}

void server_transactions::complete(const std::string& key, std::string response) {
  auto i = entries_.find(stable_hash(key));
  if (i == entries_.end())
    return;
  i->second.response = std::move(response);
  i->second.answered = true;
}

void server_transactions::forget(const std::string& key) {
  entries_.erase(stable_hash(key));
}

duration retransmit_interval(const retransmit_timers& t, unsigned n) noexcept {
  auto d = t.t1;
  for (unsigned i = 1; i < n && d < t.t2; ++i)
    d *= 2;
  return d < t.t2 ? d : t.t2;
}

} // namespace regcore::core
