// SPDX-License-Identifier: MIT
#pragma once

// The SIP wire format (RFC 3261 §7, §20, §25): a strict, zero-copy parser
// producing a view of one request or response, and an owned serializer for
// outgoing messages.
//
// LIFETIME RULE: a parsed `sip_message` holds std::string_views into the
// buffer passed to parse_sip_message(). Every view (and every accessor
// result) dangles once that buffer is freed, moved or modified. Keep the
// buffer alive (and unchanged) for as long as the message is used; copy the
// fields you need (e.g. into core::contact_info) before dropping it.
//
// Header values may contain folded line breaks (RFC 3261 §7.3.1: CRLF
// followed by SP/HT); they mean one space. Folds can never occur inside
// URIs, tokens, numbers, tags, Call-IDs or branches; they can remain inside
// raw header values (header_field::value), raw parameter strings, quoted
// parameter values and display names.
//
// Strictness (RFC 3261 §25 grammar) and the few deliberate leniencies:
// - lines end in CRLF; a bare CR or LF, NUL or any other control character
//   in the start line or headers is a 400;
// - leading CRLFs before the start line are skipped (§7.5);
// - a missing Max-Forwards is tolerated (see max_forwards());
// - empty values are accepted where the grammar allows them (Supported,
//   Accept, Allow, unknown headers), and for User-Agent/Server/Subject;
// - Expires / expires= / Subscription-State delta-seconds beyond 2^32-1
//   saturate instead of failing;
// - a request with a SIP version other than SIP/2.0 is a 505 "Version Not
//   Supported" (RFC 3261 §21.5.7); a response with one is a 400.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/errc.hpp"
#include "core/model.hpp"
#include "core/result.hpp"

namespace regcore::core {

// -- methods -------------------------------------------------------------------

/// SIP request methods (RFC 3261 §7.1 plus the extensions we meet). Method
/// names are case-sensitive (§7.1); anything else is `other`, with the raw
/// token kept in sip_message::method_token().
enum class sip_method : uint8_t {
  other,
  register_,
  subscribe,
  notify,
  publish,
  options,
  invite,
  ack,
  bye,
  cancel,
  message,
  info,
  update,
  prack,
  refer,
};

/// "REGISTER", "SUBSCRIBE", ...; "" for other.
const char* to_string(sip_method x) noexcept;

/// Exact (case-sensitive) method lookup; `other` when unknown.
sip_method parse_sip_method(std::string_view token) noexcept;

// -- headers -------------------------------------------------------------------

/// Header fields the parser knows. Everything else is `other` and kept
/// verbatim, in order, in sip_message::headers().
enum class header_id : uint8_t {
  other,
  via,
  from,
  to,
  call_id,
  cseq,
  contact,
  expires,
  min_expires,
  max_forwards,
  event,
  accept,
  allow,
  allow_events,
  supported,
  require,
  content_type,
  content_length,
  content_encoding,
  subject,
  path,
  route,
  record_route,
  sip_etag,
  sip_if_match,
  subscription_state,
  authorization,
  www_authenticate,
  proxy_authorization,
  proxy_authenticate,
  user_agent,
  server,
  date,
};

/// Case-insensitive header name lookup including the compact forms of
/// RFC 3261 §7.3.3 and RFC 6665 §8.2.1/§8.2.2 (v f t i m l c k e s o u).
header_id lookup_header(std::string_view name) noexcept;

/// Canonical long name of a known header ("Call-ID"); "" for other.
const char* header_name(header_id x) noexcept;

/// One header line as received (RFC 3261 §7.3.1).
struct header_field {
  header_id id = header_id::other;
  /// Name as sent (maybe compact, any case).
  std::string_view name;
  /// Value with leading/trailing whitespace removed; may contain folded
  /// line breaks; may be empty.
  std::string_view value;
};

/// One generic parameter (`;name=value` or `;name`), RFC 3261 §25.1
/// generic-param. `value` keeps quotes of a quoted-string value.
struct sip_param {
  std::string_view name;
  std::string_view value;
  bool has_value = false;
};

/// Iterates the parameters of a raw parameter string such as
/// ";tag=abc;lr;expires=60" (starting with ';' or directly with a name).
/// Returns the parameters in order; allocates one vector.
std::vector<sip_param> parse_params(std::string_view raw);

/// Looks up one parameter by (case-insensitive) name in a raw parameter
/// string. No allocation.
std::optional<sip_param> find_param(std::string_view raw, std::string_view name) noexcept;

/// Via entry (RFC 3261 §20.42, §18.2.1; RFC 3581 rport).
struct via_view {
  std::string_view protocol;       ///< "SIP/2.0" (spaces around '/' kept if sent).
  std::string_view transport_name; ///< "UDP", "TCP", "TLS", "WS", ... as sent.
  std::optional<transport> transport_type; ///< parsed transport_name, if known.
  std::string_view host;           ///< host or IPv6 reference incl. brackets.
  std::optional<uint16_t> port;
  std::string_view branch;         ///< empty when absent.
  std::string_view received;       ///< empty when absent.
  bool rport = false;              ///< rport parameter present (RFC 3581).
  std::optional<uint16_t> rport_value; ///< rport=NNN (in responses).
  std::string_view params;         ///< raw parameter string, starts at ';' or empty.
  std::string_view raw;            ///< the whole via-parm.
};

/// name-addr / addr-spec with header parameters (From, To, Contact, Route,
/// Record-Route, Path), RFC 3261 §20.10, §20.20, §20.39.
struct name_addr_view {
  /// Display name without the quotes (escapes left as sent); may be empty.
  std::string_view display;
  /// The URI without angle brackets (URI parameters stay inside).
  std::string_view uri;
  /// Header parameters after the URI, raw, starting at ';' (or empty).
  std::string_view params;
  /// true when the URI was written in angle brackets (name-addr form).
  bool angle_brackets = false;
  /// The whole element as sent.
  std::string_view raw;
};

/// From / To (RFC 3261 §20.20, §20.39).
struct from_to_view : name_addr_view {
  std::string_view tag; ///< empty when absent.
};

/// One Contact entry (RFC 3261 §20.10; RFC 5626 §4.1 instance and reg-id).
struct contact_view : name_addr_view {
  std::optional<uint32_t> expires; ///< `expires` param (delta-seconds).
  qvalue q = q_max;                ///< q in thousandths, 1000 when absent.
  bool has_q = false;
  std::string_view instance_id;    ///< +sip.instance without the quotes.
  std::optional<uint32_t> reg_id;  ///< reg-id param.
};

/// CSeq (RFC 3261 §20.16).
struct cseq_view {
  uint32_t number = 0;
  sip_method method = sip_method::other;
  std::string_view method_token;
};

/// Event (RFC 6665 §8.2.1).
struct event_view {
  std::string_view package; ///< "presence", "reg", "presence.winfo", ...
  std::string_view id;      ///< id parameter, empty when absent.
  std::string_view params;  ///< raw parameters.
};

/// Subscription-State (RFC 6665 §8.2.3, §4.1.3).
struct subscription_state_view {
  std::string_view state;  ///< "active", "pending", "terminated" (or extension).
  std::optional<subscription_state> known; ///< parsed state when standard.
  std::optional<uint32_t> expires;
  std::string_view reason;
  std::optional<uint32_t> retry_after;
  std::string_view params;
};

// -- parsing -----------------------------------------------------------------

/// How the bytes arrived (RFC 3261 §18.3).
enum class sip_framing : uint8_t {
  /// UDP: one datagram is one message; a missing Content-Length means the
  /// body is the rest of the datagram; bytes beyond Content-Length are
  /// discarded.
  datagram,
  /// TCP/TLS/WS: Content-Length is mandatory (the stream_framer has cut the
  /// message already); bytes beyond it are not part of the message.
  stream,
};

/// Hard limits. Exceeding one is a 513 (Message Too Large).
struct sip_limits {
  size_t max_message_size = 64 * 1024; ///< whole message incl. body.
  size_t max_headers = 128;            ///< header lines (after unfolding).
  size_t max_line_length = 8 * 1024;   ///< one physical line.
  size_t max_vias = 32;                ///< Via entries over all Via headers.
  size_t max_contacts = 32;            ///< Contact entries.
  size_t max_list_entries = 64;        ///< Route/Record-Route/Path/token lists.
};

/// A parsed SIP request or response: views into the caller's buffer (see
/// the lifetime rule at the top of this file). Filled eagerly by
/// parse_sip_message(); accessors never scan again.
class sip_message {
public:
  // -- start line ---------------------------------------------------------

  bool is_request() const noexcept { return status_ == 0; }
  bool is_response() const noexcept { return status_ != 0; }
  sip_method method() const noexcept { return method_; }
  /// The method token as sent ("REGISTER", or the extension method).
  std::string_view method_token() const noexcept { return method_token_; }
  std::string_view request_uri() const noexcept { return request_uri_; }
  /// Status code of a response, 0 for a request.
  int status() const noexcept { return status_; }
  std::string_view reason_phrase() const noexcept { return reason_; }

  // -- all headers --------------------------------------------------------

  /// Every header line in order (known and unknown).
  const std::vector<header_field>& headers() const noexcept { return headers_; }
  /// Value of the first header with this id, if any.
  std::optional<std::string_view> header(header_id id) const noexcept;
  /// Value of the first header with this name (case-insensitive; compact
  /// forms of known headers match their long names and vice versa).
  std::optional<std::string_view> header(std::string_view name) const noexcept;
  /// Number of header lines with this id.
  size_t count(header_id id) const noexcept;

  // -- typed accessors ----------------------------------------------------

  const std::vector<via_view>& vias() const noexcept { return vias_; }
  const from_to_view& from() const noexcept { return from_; }
  const from_to_view& to() const noexcept { return to_; }
  std::string_view call_id() const noexcept { return call_id_; }
  const cseq_view& cseq() const noexcept { return cseq_; }
  const std::vector<contact_view>& contacts() const noexcept { return contacts_; }
  /// `Contact: *` (RFC 3261 §10.2.2). The registrar checks Expires: 0.
  bool wildcard_contact() const noexcept { return wildcard_; }
  const std::optional<uint32_t>& expires() const noexcept { return expires_; }
  const std::optional<uint32_t>& min_expires() const noexcept { return min_expires_; }
  /// Absent Max-Forwards is tolerated (RFC 3261 §8.1.1.6 makes it a MUST
  /// for the sender, but several UAs omit it on REGISTER); a malformed
  /// one is a 400.
  const std::optional<uint32_t>& max_forwards() const noexcept { return max_forwards_; }
  const std::optional<event_view>& event() const noexcept { return event_; }
  /// Content-Type as sent (with parameters), empty when absent.
  std::string_view content_type() const noexcept { return content_type_; }
  /// type/subtype of Content-Type without parameters, e.g.
  /// "application/pidf+xml".
  std::string_view media_type() const noexcept { return media_type_; }
  /// Content-Length header value, if present.
  const std::optional<uint32_t>& content_length() const noexcept { return content_length_; }
  std::string_view body() const noexcept { return body_; }
  const std::vector<name_addr_view>& path() const noexcept { return path_; }
  const std::vector<name_addr_view>& route() const noexcept { return route_; }
  const std::vector<name_addr_view>& record_route() const noexcept { return record_route_; }
  std::string_view sip_etag() const noexcept { return sip_etag_; }
  std::string_view sip_if_match() const noexcept { return sip_if_match_; }
  const std::optional<subscription_state_view>& subscription_state_header() const noexcept {
    return subscription_state_;
  }
  std::string_view user_agent() const noexcept { return user_agent_; }
  std::string_view server() const noexcept { return server_; }
  std::string_view date() const noexcept { return date_; }
  std::string_view authorization() const noexcept { return authorization_; }
  std::string_view www_authenticate() const noexcept { return www_authenticate_; }

  /// Token lists (all headers of the kind, comma lists split, in order).
  /// Accept entries keep their media parameters ("text/plain;q=0.5").
  const std::vector<std::string_view>& accept() const noexcept { return accept_; }
  const std::vector<std::string_view>& allow() const noexcept { return allow_; }
  const std::vector<std::string_view>& allow_events() const noexcept { return allow_events_; }
  const std::vector<std::string_view>& supported() const noexcept { return supported_; }
  const std::vector<std::string_view>& require() const noexcept { return require_; }
  /// true when at least one Accept header was present (an empty Accept
  /// means "no body acceptable", RFC 3261 §20.1).
  bool has_accept() const noexcept { return has_accept_; }

  /// Bytes of the message in the input (start line .. end of body).
  size_t wire_size() const noexcept { return wire_size_; }
  /// The whole message as received (a view, see the lifetime rule).
  std::string_view raw() const noexcept { return raw_; }

  /// Resets to an empty message, keeping the vectors' capacity.
  void clear() noexcept;

private:
  friend class sip_parser;

  std::string_view raw_;
  size_t wire_size_ = 0;
  int status_ = 0;
  sip_method method_ = sip_method::other;
  std::string_view method_token_;
  std::string_view request_uri_;
  std::string_view reason_;
  std::vector<header_field> headers_;
  std::vector<via_view> vias_;
  from_to_view from_;
  from_to_view to_;
  std::string_view call_id_;
  cseq_view cseq_;
  std::vector<contact_view> contacts_;
  bool wildcard_ = false;
  bool has_accept_ = false;
  std::optional<uint32_t> expires_;
  std::optional<uint32_t> min_expires_;
  std::optional<uint32_t> max_forwards_;
  std::optional<event_view> event_;
  std::string_view content_type_;
  std::string_view media_type_;
  std::optional<uint32_t> content_length_;
  std::string_view body_;
  std::vector<name_addr_view> path_;
  std::vector<name_addr_view> route_;
  std::vector<name_addr_view> record_route_;
  std::string_view sip_etag_;
  std::string_view sip_if_match_;
  std::optional<subscription_state_view> subscription_state_;
  std::string_view user_agent_;
  std::string_view server_;
  std::string_view date_;
  std::string_view authorization_;
  std::string_view www_authenticate_;
  std::vector<std::string_view> accept_;
  std::vector<std::string_view> allow_;
  std::vector<std::string_view> allow_events_;
  std::vector<std::string_view> supported_;
  std::vector<std::string_view> require_;
};

/// Parses one SIP message from `data` (see the lifetime rule). Errors carry
/// the status (400 / 513) and a specific reason ("Missing Call-ID").
result<sip_message> parse_sip_message(std::string_view data,
                                      sip_framing framing = sip_framing::datagram,
                                      const sip_limits& limits = {});

/// Same, into an existing message (reuses its capacity: the hot path for a
/// transport that parses many messages). On error `out` is unspecified.
result<void> parse_sip_message(sip_message& out, std::string_view data,
                               sip_framing framing = sip_framing::datagram,
                               const sip_limits& limits = {});

/// true when `datagram` is only CRLF pairs (at least one): a keep-alive
/// (RFC 5626 §3.5.1 / §4.4.1 style "\r\n\r\n" some UAs also send over
/// UDP) that the transport should drop (or answer) instead of parsing.
constexpr bool is_crlf_keepalive(std::string_view datagram) noexcept {
  if (datagram.empty() || datagram.size() % 2 != 0)
    return false;
  for (size_t i = 0; i < datagram.size(); i += 2)
    if (datagram[i] != '\r' || datagram[i + 1] != '\n')
      return false;
  return true;
}

/// What a client transaction needs of a response to match it (RFC 3261
/// §17.1.3): the status, the top Via's branch, the CSeq method.
struct response_peek {
  int status = 0;
  std::string_view branch;
  std::string_view cseq_method;
};

/// Reads those three from a response without parsing the rest (a watcher's
/// 200 to a NOTIFY: the hot path of a fan-out). nullopt for anything that is
/// not plainly a response with a top Via branch and a CSeq: a request,
/// folded or quoted header values, a missing field. The caller then falls
/// back to parse_sip_message(), which also judges the message's form. The
/// other header fields are not checked here.
std::optional<response_peek> peek_response(std::string_view datagram) noexcept;

// -- serializing -----------------------------------------------------------

/// The address a request really came from, as the transport saw it.
struct source_address {
  /// Numeric IP without brackets.
  std::string_view ip;
  uint16_t port = 0;
};


/// Owned builder for outgoing messages: start line, headers in the order
/// added, then an automatic Content-Length and the body.
///
///   auto out = sip_builder::response(200, "OK")
///                .header("Call-ID", "abc").body("text/plain", "hi").str();
///
/// Values are written as given except that CR, LF and NUL become spaces
/// (no header injection; folded values are unfolded). Content-Length added
/// via header() is ignored: the builder always writes the real one. A
/// header with an empty name (e.g. header_id::other) is ignored too.
class sip_builder {
public:
  /// Status line "SIP/2.0 <status> <reason>".
  static sip_builder response(int status, std::string_view reason);
  /// Request line "<method> <uri> SIP/2.0".
  static sip_builder request(std::string_view method, std::string_view uri);
  static sip_builder request(sip_method method, std::string_view uri);

  sip_builder& header(std::string_view name, std::string_view value);
  sip_builder& header(std::string_view name, uint32_t value);
  sip_builder& header(header_id id, std::string_view value);
  sip_builder& header(header_id id, uint32_t value);
  /// Sets the body and, when content_type is not empty, a Content-Type
  /// header (written in place, after the headers added before).
  sip_builder& body(std::string_view content_type, std::string_view body);

  /// Reserves room for `n` more header bytes (optional; speeds up builds).
  sip_builder& reserve(size_t n);

  /// The serialized message (copy; the builder stays usable).
  std::string str() const;
  /// The serialized message, moving the builder's buffer out (no copy);
  /// the builder is empty afterwards.
  std::string take();
  /// Appends the serialized message to `out`.
  void append_to(std::string& out) const;
  /// The start line and the header fields so far, each ending in CRLF.
  std::string_view head() const noexcept { return head_; }

private:
  friend sip_builder make_response(const sip_message&, int, std::string_view,
                                   std::string_view);
  friend sip_builder make_response(const sip_message&, int, std::string_view,
                                   std::string_view, const source_address&);
  sip_builder() = default;
  static sip_builder response(int status, std::string_view reason, size_t capacity);
  void append_clean(std::string_view x);
  std::string head_;  // start line + headers, each ending in CRLF
  std::string body_;
};

/// Response to a parsed request per RFC 3261 §8.2.6.2: copies every Via (in
/// order, values as received), From, To, Call-ID and CSeq; adds
/// `;tag=<to_tag>` to To when the request's To has no tag and `to_tag` is
/// not empty (pass an empty tag for 100 Trying). Add further headers
/// (Contact, Expires, ...) to the returned builder. Not done here: RFC 3581
/// received/rport on the top Via (the transport knows the source address)
/// and copying Record-Route into dialog-creating 2xx (§12.1.1).
sip_builder make_response(const sip_message& request, int status,
                          std::string_view reason, std::string_view to_tag = {});

/// make_response() plus the top Via stamped with where the request came
/// from: `received=<ip>` when the Via's host differs from it (RFC 3261
/// §18.2.1) or the client asked for rport, and `rport=<port>` when it did
/// (RFC 3581 §4). Old received/rport values in the top Via are replaced.
sip_builder make_response(const sip_message& request, int status,
                          std::string_view reason, std::string_view to_tag,
                          const source_address& source);

/// The top via-parm `v` with received/rport set for `source` (see above).
std::string stamp_via(const via_view& v, const source_address& source);

/// The answer to a request the parser rejected (RFC 3261 §21.4.1: 400 with a
/// reason phrase saying what is wrong): salvages the Via, From, To, Call-ID
/// and CSeq lines as they are (compact forms too) and builds
/// "SIP/2.0 <status> <reason>" with them. Returns "" when `data` is not a
/// request or lacks one of those lines (then there is nobody to answer),
/// and for ACK (never answered). Only looks at the first `limits` bytes and
/// lines, like the parser.
std::string make_error_response(std::string_view data, const error& err,
                                const sip_limits& limits = {});

} // namespace regcore::core
