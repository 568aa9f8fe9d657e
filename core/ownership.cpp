// SPDX-License-Identifier: MIT
#include "core/ownership.hpp"

#include <algorithm>
#include <numeric>

#include "core/hash.hpp"

namespace regcore::core {

namespace {

/// True when `a` ranks before `b` for the key (weights `wa`, `wb`).
bool ranks_before(uint64_t wa, std::string_view a, uint64_t wb,
                  std::string_view b) noexcept {
  return wa != wb ? wa > wb : a < b;
}

} // namespace

uint64_t member_salt(std::string_view member) noexcept {
  return mix64(stable_hash(member) + 0x9e3779b97f4a7c15ull);
}

uint64_t rendezvous_weight(uint64_t key_hash, uint64_t salt) noexcept {
  return mix64(key_hash ^ salt);
}

uint64_t rendezvous_weight(std::string_view key, std::string_view member) noexcept {
  // Hash each name on its own, then combine: "ab"+"c" and "a"+"bc" differ.
  return rendezvous_weight(stable_hash(key), member_salt(member));
}

size_t owner_of_hash(uint64_t key_hash, const std::vector<uint64_t>& salts,
                     const std::vector<std::string>& members) {
  size_t best = 0;
  uint64_t best_w = rendezvous_weight(key_hash, salts[0]);
  for (size_t i = 1; i < members.size(); ++i) {
    auto w = rendezvous_weight(key_hash, salts[i]);
    if (ranks_before(w, members[i], best_w, members[best])) {
      best = i;
      best_w = w;
    }
  }
  return best;
}

size_t owner_of(std::string_view key, const std::vector<std::string>& members) {
  size_t best = 0;
  uint64_t best_w = rendezvous_weight(key, members[0]);
  for (size_t i = 1; i < members.size(); ++i) {
    auto w = rendezvous_weight(key, members[i]);
    if (ranks_before(w, members[i], best_w, members[best])) {
      best = i;
      best_w = w;
    }
  }
  return best;
}

std::vector<size_t> replica_set(std::string_view key,
                                const std::vector<std::string>& members,
                                size_t copies) {
  std::vector<uint64_t> w(members.size());
  for (size_t i = 0; i < members.size(); ++i)
    w[i] = rendezvous_weight(key, members[i]);
  std::vector<size_t> order(members.size());
  std::iota(order.begin(), order.end(), size_t{0});
  auto n = std::min(copies, members.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n),
                    order.end(), [&](size_t a, size_t b) {
                      return ranks_before(w[a], members[a], w[b], members[b]);
                    });
  order.resize(n);
  return order;
}

std::string dialog_tag_prefix(std::string_view node_id) {
  static constexpr char digits[] = "0123456789abcdef";
  auto h = stable_hash(node_id);
  std::string result = "n00000000.";
  for (int i = 8; i >= 1; --i, h >>= 4)
    result[static_cast<size_t>(i)] = digits[h & 0xF];
  return result;
}

std::string_view dialog_tag_prefix_of(std::string_view tag) noexcept {
  if (tag.size() < 10 || tag[0] != 'n' || tag[9] != '.')
    return {};
  for (size_t i = 1; i < 9; ++i) {
    auto c = tag[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return {};
  }
  return tag.substr(0, 10);
}

} // namespace regcore::core
