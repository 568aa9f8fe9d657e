// SPDX-License-Identifier: MIT
#include "core/stream_framer.hpp"

#include "core/sip_message.hpp"
#include "core/strings.hpp"

namespace regcore::core {

namespace {

/// Finds the Content-Length value(s) in a header section (start line
/// excluded, CRLFCRLF included). Folded values are joined. Returns
/// nullopt with `bad` = false when absent, or `bad` = true when malformed
/// or when several headers disagree.
std::optional<uint32_t> find_content_length(std::string_view head, bool& bad) {
  bad = false;
  std::optional<uint32_t> result;
  size_t pos = head.find("\r\n");
  if (pos == std::string_view::npos)
    return result;
  pos += 2;
  while (pos < head.size()) {
    auto eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos || eol == pos)
      break;
    size_t line_begin = pos;
    auto line = head.substr(pos, eol - pos);
    // The value continues on following folded lines (RFC 3261 §7.3.1).
    size_t end = eol;
    while (end + 2 < head.size() && (head[end + 2] == ' ' || head[end + 2] == '\t')) {
      auto next = head.find("\r\n", end + 2);
      if (next == std::string_view::npos)
        break;
      end = next;
    }
    pos = end + 2;
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      continue;
    auto name = trim(line.substr(0, colon));
    if (lookup_header(name) != header_id::content_length)
      continue;
    size_t value_begin = line_begin + colon + 1;
    auto full = head.substr(value_begin, end - value_begin);
    std::string_view digits = trim(full);
    auto v = parse_uint32(digits);
    if (!v || (result && *result != *v)) {
      bad = true;
      return std::nullopt;
    }
    result = v;
  }
  return result;
}

} // namespace

void stream_framer::feed(std::string_view bytes) {
  if (broken_)
    return;
  // Compact before growing: drop what next() has consumed.
  if (pos_ > 0 && (pos_ == buf_.size() || pos_ >= buf_.size() / 2)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes.data(), bytes.size());
}

result<std::optional<stream_item>> stream_framer::fail(error e) {
  broken_ = e;
  // Keep the start of the message that broke the framing, to answer it.
  auto rest = std::string_view{buf_}.substr(pos_);
  failed_.assign(rest.substr(0, limits_.max_header_section));
  buf_.clear();
  pos_ = 0;
  return e;
}

result<std::optional<stream_item>> stream_framer::next() {
  if (broken_)
    return *broken_;
  std::string_view data{buf_.data() + pos_, buf_.size() - pos_};
  if (header_end_ == 0) {
    // Between messages: CRLF keep-alives (RFC 5626 §4.4.1).
    if (data.size() >= 2 && data[0] == '\r' && data[1] == '\n') {
      if (data.size() < 4) {
        if (data.size() == 3 && data[2] != '\r') {
          pos_ += 2;
          return std::optional<stream_item>{stream_item{stream_item::pong, {}}};
        }
        return std::optional<stream_item>{}; // could still become a ping
      }
      if (data[2] == '\r' && data[3] == '\n') {
        pos_ += 4;
        return std::optional<stream_item>{stream_item{stream_item::ping, {}}};
      }
      pos_ += 2;
      return std::optional<stream_item>{stream_item{stream_item::pong, {}}};
    }
    if (data.size() == 1 && data[0] == '\r')
      return std::optional<stream_item>{};
    // Look for the end of the header section, resuming the search where the
    // last call stopped (minus 3 bytes: the terminator may straddle).
    size_t from = scanned_ >= 3 ? scanned_ - 3 : 0;
    auto end = data.find("\r\n\r\n", from);
    if (end == std::string_view::npos) {
      scanned_ = data.size();
      if (data.size() > limits_.max_header_section)
        return fail(make_error(errc::message_too_large, "Header section too large"));
      return std::optional<stream_item>{};
    }
    size_t head_len = end + 4;
    if (head_len > limits_.max_header_section)
      return fail(make_error(errc::message_too_large, "Header section too large"));
    bool bad = false;
    auto cl = find_content_length(data.substr(0, head_len), bad);
    if (bad)
      return fail(make_error(errc::bad_request, "Bad Content-Length"));
    if (!cl)
      return fail(make_error(errc::bad_request, "Missing Content-Length"));
    if (*cl > limits_.max_body)
      return fail(make_error(errc::message_too_large, "Body too large"));
    header_end_ = head_len;
    body_len_ = *cl;
    scanned_ = 0;
  }
  size_t total = header_end_ + body_len_;
  if (data.size() < total)
    return std::optional<stream_item>{};
  stream_item item{stream_item::message, std::string{data.substr(0, total)}};
  pos_ += total;
  header_end_ = 0;
  body_len_ = 0;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  return std::optional<stream_item>{std::move(item)};
}

} // namespace regcore::core
