// SPDX-License-Identifier: MIT
#include "actors/sip_udp.hpp"

#include <ctime>
#include <optional>
#include <unordered_map>

#include "core/hash.hpp"
#include "core/sip_message.hpp"
#include "core/sip_uri.hpp"
#include "core/strings.hpp"
#include "core/subscription.hpp"
#include "messages/error.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

namespace regcore::actors {

namespace {

constexpr std::string_view allow_value = "REGISTER, OPTIONS, SUBSCRIBE, PUBLISH";

/// One subscription dialog this listener terminates (RFC 6665 §4.1, RFC 3261
/// §12): what every NOTIFY of it needs.
struct sip_dialog {
  std::string call_id;
  std::string local_tag;  // our tag (To of the SUBSCRIBE)
  std::string remote_tag; // the watcher's tag (From of the SUBSCRIBE)
  std::string local_uri;  // the presentity (To URI)
  std::string remote_uri; // the watcher (From URI)
  std::string remote_target; // the watcher's Contact
  std::vector<std::string> route_set;
  std::string event_id;
  uint32_t cseq = 0;
  caf::io::datagram_handle hdl; // where NOTIFYs go (the SUBSCRIBE's source)
};

struct udp_state {
  std::shared_ptr<const engine_refs> refs;
  subscription_supervisor_actor subscriptions;
  service_actor service;
  sip_settings settings;
  uint16_t port = 0;
  uint64_t dropped = 0;
  /// Subscription id -> dialog.
  std::unordered_map<std::string, sip_dialog> dialogs;
  /// Call-ID + local tag -> subscription id (in-dialog SUBSCRIBEs).
  std::unordered_map<std::string, std::string> by_dialog;
};

using state_ptr = std::shared_ptr<udp_state>;

void send_bytes(caf::io::broker* self, caf::io::datagram_handle hdl,
                const std::string& bytes) {
  self->enqueue_datagram(hdl, std::vector<char>(bytes.begin(), bytes.end()));
  self->flush(hdl);
}

/// RFC 1123 date for the Date header (RFC 3261 §20.17).
std::string http_date() {
  auto t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  auto n = std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

/// A To tag that is the same for retransmissions of one request.
std::string to_tag_for(const core::sip_message& req) {
  std::string seed{req.call_id()};
  seed += std::to_string(req.cseq().number);
  if (!req.vias().empty())
    seed += req.vias().front().branch;
  auto h = core::stable_hash(seed);
  static constexpr char digits[] = "0123456789abcdef";
  std::string tag(12, '0');
  for (int i = 11; i >= 0; --i, h >>= 4)
    tag[static_cast<size_t>(i)] = digits[h & 0xF];
  return tag;
}

core::sip_builder respond(const core::sip_message& req, int status,
                          std::string_view reason, const sip_settings& s) {
  auto b = core::make_response(req, status, reason, to_tag_for(req));
  b.header(core::header_id::server, s.server_name);
  return b;
}

bool served(const udp_state& st, std::string_view aor) {
  // host of "host", "host:port", "[v6]" or "[v6]:port", without brackets.
  auto domain = core::aor_domain(aor);
  std::string_view host;
  if (!domain.empty() && domain.front() == '[') {
    auto close = domain.find(']');
    host = close == std::string_view::npos ? domain : domain.substr(1, close - 1);
  } else {
    host = domain.substr(0, domain.rfind(':'));
  }
  if (core::iequals(host, st.settings.host))
    return true;
  for (auto& d : st.settings.domains)
    if (core::iequals(host, d))
      return true;
  return false;
}

register_request to_register_request(const core::sip_message& req,
                                     std::string aor, std::string received) {
  register_request r;
  r.aor = std::move(aor);
  for (auto& c : req.contacts()) {
    contact_request cr;
    cr.uri = std::string{c.uri};
    cr.expires = c.expires;
    if (c.has_q)
      cr.q = c.q;
    cr.instance_id = std::string{c.instance_id};
    cr.reg_id = c.reg_id.value_or(0);
    r.contacts.push_back(std::move(cr));
  }
  r.wildcard = req.wildcard_contact();
  r.expires = req.expires();
  r.call_id = std::string{req.call_id()};
  r.cseq = req.cseq().number;
  for (auto& p : req.path())
    r.path.emplace_back(p.raw);
  r.received = std::move(received);
  r.transport_type = core::transport::udp;
  r.user_agent = std::string{req.user_agent()};
  return r;
}

/// Answers an engine error with its SIP status.
void answer_error(caf::io::broker* self, const state_ptr& st,
                  caf::io::datagram_handle hdl, const std::string& raw,
                  const caf::error& err) {
  auto again = core::parse_sip_message(raw);
  if (!again)
    return;
  auto e = messages::from_caf_error(err);
  auto status = err.category() == messages::error_category ? core::sip_status(e.code)
                                                           : 500;
  auto b = respond(*again, status,
                   err.category() == messages::error_category
                     ? e.phrase()
                     : std::string_view{"Server Internal Error"},
                   st->settings);
  if (e.code == core::errc::interval_too_brief)
    b.header(core::header_id::min_expires, e.value);
  send_bytes(self, hdl, b.take());
}

/// The canonical AOR `uri` names if it is one of ours; otherwise answers
/// 400 (not an AOR) or 404 (another domain) and returns nothing.
std::optional<std::string> our_aor(caf::io::broker* self, const state_ptr& st,
                                   caf::io::datagram_handle hdl,
                                   const core::sip_message& req, std::string_view uri) {
  auto aor = core::canonical_aor(uri);
  if (!aor) {
    send_bytes(self, hdl, respond(req, 400, aor.err().phrase(), st->settings).take());
    return std::nullopt;
  }
  if (!served(*st, *aor)) {
    send_bytes(self, hdl,
               respond(req, 404, "Not Found (domain not served here)", st->settings)
                 .take());
    return std::nullopt;
  }
  return std::move(*aor);
}

/// RFC 6665 §7.2.2 / RFC 3903 §6: only the presence event package; answers
/// 489 with Allow-Events otherwise.
bool presence_event(caf::io::broker* self, const state_ptr& st,
                    caf::io::datagram_handle hdl, const core::sip_message& req) {
  if (req.event() && core::iequals(req.event()->package, "presence"))
    return true;
  auto b = respond(req, 489, "Bad Event", st->settings);
  b.header(core::header_id::allow_events, "presence");
  send_bytes(self, hdl, b.take());
  return false;
}

void on_register(caf::io::broker* self, const state_ptr& st,
                 caf::io::datagram_handle hdl, std::shared_ptr<std::string> raw,
                 const core::sip_message& req) {
  auto aor = our_aor(self, st, hdl, req, req.to().uri);
  if (!aor)
    return;
  // RFC 3581: where the request really came from. CAF 0.17's remote_addr()
  // returns "" for UDP endpoints here; until the transport has its own
  // socket handling (daemon issue), the host falls back to the top Via's.
  auto addr = self->remote_addr(hdl);
  if (addr.empty() && !req.vias().empty())
    addr = std::string{req.vias().front().host};
  auto received = addr + ":" + std::to_string(self->remote_port(hdl));
  auto r = to_register_request(req, *aor, std::move(received));
  auto& shard = st->refs->shard_for(r.aor);
  // The reply is built from the request again: the views of `req` die with
  // this handler, `raw` keeps the bytes.
  self->request(shard, std::chrono::seconds{10}, std::move(r))
    .then(
      [=](register_reply& reply) {
        auto again = core::parse_sip_message(*raw);
        if (!again)
          return;
        auto b = respond(*again, 200, "OK", st->settings);
        for (auto& c : reply.bindings) {
          std::string v = "<" + c.uri + ">;expires=" + std::to_string(c.expires);
          b.header(core::header_id::contact, v);
        }
        // RFC 3327 §5.3: echo Path when the UA supports it.
        bool path_ok = false;
        for (auto opt : again->supported())
          path_ok = path_ok || core::iequals(opt, "path");
        if (path_ok)
          for (auto& p : again->path())
            b.header(core::header_id::path, p.raw);
        b.header(core::header_id::date, http_date());
        send_bytes(self, hdl, b.take());
      },
      [=](caf::error& err) { answer_error(self, st, hdl, *raw, err); });
}

/// Sends one NOTIFY in `d` (RFC 6665 §4.2.2, RFC 3856 §6.6): Event,
/// Subscription-State, the PIDF body; CSeq increases per NOTIFY.
void send_notify(caf::io::broker* self, const state_ptr& st, sip_dialog& d,
                 core::subscription_state state, core::termination_reason reason,
                 uint32_t expires, const std::string& body) {
  auto b = core::sip_builder::request(core::sip_method::notify, d.remote_target);
  auto branch = "z9hG4bK-rc" + std::to_string(core::stable_hash(d.call_id + d.local_tag)
                                                ^ (uint64_t{d.cseq} + 1));
  b.header(core::header_id::via, "SIP/2.0/UDP " + st->settings.host + ":"
                                   + std::to_string(st->port) + ";branch=" + branch);
  b.header(core::header_id::max_forwards, 70u);
  for (auto& r : d.route_set)
    b.header(core::header_id::route, r);
  b.header(core::header_id::from, "<" + d.local_uri + ">;tag=" + d.local_tag);
  b.header(core::header_id::to, "<" + d.remote_uri + ">;tag=" + d.remote_tag);
  b.header(core::header_id::call_id, d.call_id);
  b.header(core::header_id::cseq, std::to_string(++d.cseq) + " NOTIFY");
  b.header(core::header_id::contact, "<sip:" + st->settings.host + ":"
                                       + std::to_string(st->port) + ">");
  b.header(core::header_id::event, d.event_id.empty() ? std::string{"presence"}
                                                      : "presence;id=" + d.event_id);
  core::subscription tmp;
  tmp.state = state;
  tmp.reason = reason;
  auto now = core::clock_type::now();
  tmp.expires_at = now + core::seconds{expires};
  b.header(core::header_id::subscription_state, core::subscription_state_value(tmp, now));
  b.body(body.empty() ? std::string_view{} : std::string_view{"application/pidf+xml"},
         body);
  send_bytes(self, d.hdl, b.take());
}

void on_subscribe(caf::io::broker* self, const state_ptr& st,
                  caf::io::datagram_handle hdl, std::shared_ptr<std::string> raw,
                  const core::sip_message& req) {
  if (!presence_event(self, st, hdl, req))
    return;
  subscribe_request r;
  for (auto a : req.accept())
    r.accept.emplace_back(a);
  r.expires = req.expires();
  r.event_id = std::string{req.event()->id};
  if (!req.to().tag.empty()) {
    // In-dialog: refresh or (Expires: 0) unsubscribe.
    auto key = std::string{req.call_id()} + "|" + std::string{req.to().tag};
    auto i = st->by_dialog.find(key);
    if (i == st->by_dialog.end()) {
      send_bytes(self, hdl,
                 respond(req, 481, "Subscription does not exist", st->settings).take());
      return;
    }
    r.id = i->second;
  } else {
    auto target = our_aor(self, st, hdl, req, req.request_uri());
    if (!target)
      return;
    if (req.contacts().empty()) {
      send_bytes(self, hdl, respond(req, 400, "Missing Contact", st->settings).take());
      return;
    }
    r.watcher = std::string{req.from().uri};
    r.target = *target;
  }
  auto tag = to_tag_for(req);
  self->request(st->subscriptions, std::chrono::seconds{10}, std::move(r))
    .then(
      [=](subscribe_reply& reply) {
        auto again = core::parse_sip_message(*raw);
        if (!again)
          return;
        auto& m = *again;
        bool pending = reply.sub.state == core::subscription_state::pending;
        auto b = core::make_response(m, pending ? 202 : 200, pending ? "Accepted" : "OK",
                                     tag);
        b.header(core::header_id::server, st->settings.server_name);
        b.header(core::header_id::expires,
                 reply.sub.state == core::subscription_state::terminated
                   ? 0u
                   : reply.sub.expires);
        b.header(core::header_id::contact, "<sip:" + st->settings.host + ":"
                                             + std::to_string(st->port) + ">");
        for (auto& rr : m.record_route())
          b.header(core::header_id::record_route, rr.raw);
        // The 2xx first, then the NOTIFY (JsSIP answers a NOTIFY that comes
        // first with 481).
        send_bytes(self, hdl, b.take());
        auto& id = reply.sub.id;
        auto i = st->dialogs.find(id);
        if (i == st->dialogs.end()) {
          sip_dialog d;
          d.call_id = std::string{m.call_id()};
          d.local_tag = m.to().tag.empty() ? tag : std::string{m.to().tag};
          d.remote_tag = std::string{m.from().tag};
          d.local_uri = std::string{m.to().uri};
          d.remote_uri = std::string{m.from().uri};
          d.remote_target = m.contacts().empty() ? d.remote_uri
                                                 : std::string{m.contacts()[0].uri};
          for (auto it = m.record_route().rbegin(); it != m.record_route().rend(); ++it)
            d.route_set.emplace_back(it->raw);
          d.event_id = std::string{m.event() ? m.event()->id : std::string_view{}};
          d.hdl = hdl;
          st->by_dialog[d.call_id + "|" + d.local_tag] = id;
          i = st->dialogs.emplace(id, std::move(d)).first;
        }
        auto expires = core::remaining_seconds(reply.sub.expires_at, self->clock().now());
        send_notify(self, st, i->second, reply.sub.state, reply.sub.reason,
                    reply.sub.state == core::subscription_state::terminated ? 0 : expires,
                    reply.initial.pidf);
        if (reply.sub.state == core::subscription_state::terminated) {
          st->by_dialog.erase(i->second.call_id + "|" + i->second.local_tag);
          st->dialogs.erase(i);
        }
      },
      [=](caf::error& err) { answer_error(self, st, hdl, *raw, err); });
}

/// NotifyRequired from the engine: one NOTIFY per dialog of ours.
void on_notify_required(caf::io::broker* self, const state_ptr& st,
                        const notify_required_event& ev) {
  for (auto& t : ev.targets) {
    auto i = st->dialogs.find(t.subscription_id);
    if (i == st->dialogs.end())
      continue; // a subscription of another listener or of the API
    send_notify(self, st, i->second, t.state, t.reason, t.expires, ev.body);
    if (t.state == core::subscription_state::terminated) {
      st->by_dialog.erase(i->second.call_id + "|" + i->second.local_tag);
      st->dialogs.erase(i);
    }
  }
}

void on_publish(caf::io::broker* self, const state_ptr& st,
                caf::io::datagram_handle hdl, std::shared_ptr<std::string> raw,
                const core::sip_message& req) {
  if (!presence_event(self, st, hdl, req))
    return;
  auto aor = our_aor(self, st, hdl, req, req.request_uri());
  if (!aor)
    return;
  publish_request r;
  r.aor = *aor;
  r.etag = std::string{req.sip_if_match()};
  r.content_type = std::string{req.media_type()};
  r.body = std::string{req.body()};
  r.expires = req.expires();
  self->request(st->refs->shard_for(r.aor), std::chrono::seconds{10}, std::move(r))
    .then(
      [=](publish_reply& reply) {
        auto again = core::parse_sip_message(*raw);
        if (!again)
          return;
        auto b = respond(*again, 200, "OK", st->settings);
        if (!reply.etag.empty() && reply.expires > 0)
          b.header(core::header_id::sip_etag, reply.etag);
        b.header(core::header_id::expires, reply.expires);
        send_bytes(self, hdl, b.take());
      },
      [=](caf::error& err) { answer_error(self, st, hdl, *raw, err); });
}

void on_datagram(caf::io::broker* self, const state_ptr& st,
                 caf::io::new_datagram_msg& msg) {
  std::string_view data{msg.buf.data(), msg.buf.size()};
  if (core::is_crlf_keepalive(data))
    return;
  auto raw = std::make_shared<std::string>(data);
  auto parsed = core::parse_sip_message(*raw);
  if (!parsed) {
    // 400 (or 513) with the reason when the transaction can be identified;
    // otherwise there is nobody to answer (RFC 3261 §21.4.1).
    auto answer = core::make_error_response(*raw, parsed.err());
    if (answer.empty())
      ++st->dropped;
    else
      send_bytes(self, msg.handle, answer);
    return;
  }
  auto& req = *parsed;
  if (req.is_response())
    return;
  switch (req.method()) {
    case core::sip_method::register_:
      on_register(self, st, msg.handle, raw, req);
      return;
    case core::sip_method::options: {
      auto b = respond(req, 200, "OK", st->settings);
      b.header(core::header_id::allow, allow_value);
      b.header(core::header_id::accept, "application/pidf+xml");
      b.header(core::header_id::supported, "path");
      send_bytes(self, msg.handle, b.take());
      return;
    }
    case core::sip_method::subscribe:
      on_subscribe(self, st, msg.handle, raw, req);
      return;
    case core::sip_method::publish:
      on_publish(self, st, msg.handle, raw, req);
      return;
    case core::sip_method::ack:
      return; // never answered
    default: {
      auto b = respond(req, 405, "Method Not Allowed", st->settings);
      b.header(core::header_id::allow, allow_value);
      send_bytes(self, msg.handle, b.take());
    }
  }
}

caf::behavior sip_udp_broker(caf::io::broker* self, state_ptr st) {
  auto res = self->add_udp_datagram_servant(st->settings.port,
                                            st->settings.host.c_str(), true);
  if (!res) {
    self->quit(res.error());
    return {};
  }
  st->port = res->second;
  // NotifyRequired events become NOTIFYs for the dialogs of this listener.
  self->send(st->refs->bus, bus_subscribe{caf::actor_cast<caf::actor>(self),
                                          event_bit(event_kind::notify_required)});
  return {
    [=](caf::get_atom) { return st->port; },
    [=](caf::ok_atom) {
      // bus_subscribe acknowledged
    },
    [=](event_batch& batch) {
      for (auto& m : batch.events)
        if (m.match_elements<notify_required_event>())
          on_notify_required(self, st, m.get_as<notify_required_event>(0));
      self->send(st->refs->bus, event_ack{});
    },
    [=](caf::io::new_datagram_msg& msg) { on_datagram(self, st, msg); },
    [=](caf::io::datagram_sent_msg&) {
      // nop
    },
  };
}

} // namespace

caf::expected<sip_udp_listener> start_sip_udp(caf::actor_system& sys,
                                              const engine& eng,
                                              sip_settings settings) {
  auto st = std::make_shared<udp_state>();
  st->refs = eng.refs;
  st->subscriptions = eng.subscriptions;
  st->service = eng.service;
  st->settings = std::move(settings);
  auto broker = sys.middleman().spawn_broker(sip_udp_broker, st);
  caf::scoped_actor self{sys};
  caf::expected<sip_udp_listener> result{caf::sec::cannot_open_port};
  self->request(broker, std::chrono::seconds{10}, caf::get_atom::value)
    .receive([&](uint16_t port) { result = sip_udp_listener{broker, port}; },
             [&](caf::error& err) { result = std::move(err); });
  return result;
}

} // namespace regcore::actors
