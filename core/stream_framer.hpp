// SPDX-License-Identifier: MIT
#pragma once

// Cuts SIP messages out of a byte stream (TCP, TLS) by Content-Length
// (RFC 3261 §18.3) and recognizes RFC 5626 §4.4.1 CRLF keep-alives.
//
//   stream_framer f;
//   f.feed(bytes_from_socket);
//   while (true) {
//     auto item = f.next();
//     if (!item)            { close the connection (item.err()); break; }
//     if (!*item)           break;                  // need more bytes
//     switch ((*item)->kind) { ... }                // message / ping / pong
//   }
//
// Each message comes out as an owned std::string (exactly the bytes of the
// message: start line .. end of body), so it can be parsed with
// parse_sip_message(..., sip_framing::stream) and outlive the framer.
// After an error the framer is broken for good: the stream has lost its
// framing and the connection must be closed.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/errc.hpp"
#include "core/result.hpp"

namespace regcore::core {

/// Limits of the framer. Exceeding one is a 513 and breaks the framer.
struct stream_limits {
  /// Start line + headers + the empty line.
  size_t max_header_section = 16 * 1024;
  /// Content-Length.
  size_t max_body = 64 * 1024;
};

/// One unit cut out of the stream.
struct stream_item {
  enum kind_t : uint8_t {
    /// A complete SIP message in `bytes`.
    message,
    /// CRLFCRLF keep-alive ping (RFC 5626 §4.4.1): answer with CRLF.
    ping,
    /// A single CRLF between messages: a pong (RFC 5626 §4.4.1) or the
    /// stray CRLF that RFC 3261 §7.5 says to ignore.
    pong,
  };
  kind_t kind = message;
  std::string bytes;
};

class stream_framer {
public:
  explicit stream_framer(stream_limits limits = {}) : limits_(limits) {}

  /// Appends bytes from the connection. Cheap; the work happens in next().
  /// Ignored once the framer is broken.
  void feed(std::string_view bytes);

  /// The next complete item; an empty optional when more bytes are needed;
  /// an error (400 missing/bad Content-Length, 513 oversize header section
  /// or body) once the stream cannot be framed: from then on every call
  /// returns that error.
  result<std::optional<stream_item>> next();

  bool broken() const noexcept { return broken_.has_value(); }

  /// The error that broke the framer (errc::none while healthy).
  error failure() const { return broken_ ? *broken_ : error{}; }

  /// Bytes received but not yet returned.
  size_t buffered() const noexcept { return buf_.size() - pos_; }

  /// The bytes received but not yet returned (after an error: the start of
  /// the message that broke the framer, to answer it with its 400 / 513).
  std::string_view pending() const noexcept {
    return broken_ ? std::string_view{failed_} : std::string_view{buf_}.substr(pos_);
  }

private:
  result<std::optional<stream_item>> fail(error e);

  stream_limits limits_;
  std::string buf_;
  size_t pos_ = 0;      // start of the unread part of buf_
  size_t scanned_ = 0;  // bytes after pos_ already searched for CRLFCRLF
  size_t header_end_ = 0; // > 0: header section length of the current message
  size_t body_len_ = 0;
  std::optional<error> broken_;
  std::string failed_; // head of the message that broke the framer
};

} // namespace regcore::core
