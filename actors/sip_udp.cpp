// SPDX-License-Identifier: MIT
#include "actors/sip_udp.hpp"

#include <ctime>

#include "core/hash.hpp"
#include "core/sip_message.hpp"
#include "core/sip_uri.hpp"
#include "core/strings.hpp"
#include "messages/error.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

namespace regcore::actors {

namespace {

constexpr std::string_view allow_value = "REGISTER, OPTIONS";

struct udp_state {
  std::shared_ptr<const engine_refs> refs;
  sip_settings settings;
  uint16_t port = 0;
  uint64_t dropped = 0;
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
  auto domain = core::aor_domain(aor);
  auto colon = domain.rfind(':');
  auto host = domain.front() == '[' || colon == std::string_view::npos
                ? domain
                : domain.substr(0, colon);
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

void on_register(caf::io::broker* self, const state_ptr& st,
                 caf::io::datagram_handle hdl, std::shared_ptr<std::string> raw,
                 const core::sip_message& req) {
  auto aor = core::canonical_aor(req.to().uri);
  if (!aor) {
    send_bytes(self, hdl, respond(req, 400, aor.err().phrase(), st->settings).take());
    return;
  }
  if (!served(*st, *aor)) {
    send_bytes(self, hdl,
               respond(req, 404, "Not Found (domain not served here)", st->settings)
                 .take());
    return;
  }
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
      [=](caf::error& err) {
        auto again = core::parse_sip_message(*raw);
        if (!again)
          return;
        auto e = messages::from_caf_error(err);
        auto status = err.category() == messages::error_category
                        ? core::sip_status(e.code)
                        : 500;
        auto b = respond(*again, status, status == 500 && e.reason.empty()
                                           ? std::string_view{"Server Internal Error"}
                                           : e.phrase(),
                         st->settings);
        if (e.code == core::errc::interval_too_brief)
          b.header(core::header_id::min_expires, e.value);
        send_bytes(self, hdl, b.take());
      });
}

void on_datagram(caf::io::broker* self, const state_ptr& st,
                 caf::io::new_datagram_msg& msg) {
  std::string_view data{msg.buf.data(), msg.buf.size()};
  if (core::is_crlf_keepalive(data))
    return;
  auto raw = std::make_shared<std::string>(data);
  auto parsed = core::parse_sip_message(*raw);
  if (!parsed) {
    // Without a parsable Via/Call-ID/CSeq there is nothing to answer to.
    ++st->dropped;
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
  return {
    [=](caf::get_atom) { return st->port; },
    [=](caf::io::new_datagram_msg& msg) { on_datagram(self, st, msg); },
    [=](caf::io::datagram_sent_msg&) {
      // nop
    },
  };
}

} // namespace

caf::expected<sip_udp_listener> start_sip_udp(caf::actor_system& sys,
                                              std::shared_ptr<const engine_refs> refs,
                                              sip_settings settings) {
  auto st = std::make_shared<udp_state>();
  st->refs = std::move(refs);
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
