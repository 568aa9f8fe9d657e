// SPDX-License-Identifier: MIT
#include "actors/sip_edge.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <deque>
#include <functional>
#include <queue>
#include <unordered_map>

#include "actors/subscription_supervisor.hpp"
#include "core/hash.hpp"
#include "core/sip_uri.hpp"
#include "core/strings.hpp"
#include "core/subscription.hpp"
#include "messages/atoms.hpp"
#include "messages/error.hpp"
#include "messages/sip_messages.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

namespace regcore::actors {

namespace {

constexpr std::string_view allow_value = "REGISTER, OPTIONS, SUBSCRIBE, PUBLISH";

/// One subscription dialog this edge terminates (RFC 6665 §4.1, RFC 3261
/// §12): what every NOTIFY of it needs.
struct sip_dialog {
  std::string call_id;
  std::string local_tag;  // our tag (To of the SUBSCRIBE)
  std::string remote_tag; // the watcher's tag (From of the SUBSCRIBE)
  std::string local_uri;  // the presentity (To URI)
  std::string remote_uri; // the watcher (From URI)
  std::string remote_target; // the watcher's Contact (Request-URI of NOTIFYs)
  std::vector<std::string> route_set;
  std::string event_id;
  uint32_t cseq = 0;
  /// Where NOTIFYs go: where the SUBSCRIBE came from (its source address
  /// and, over TCP, its connection), so they pass the NAT the SUBSCRIBE
  /// passed (RFC 3581 symmetric response routing, applied to the dialog).
  sip_endpoint peer;
  /// The parts of every NOTIFY of this dialog that do not change, built by
  /// the first one (notify_parts): the request line and the Via up to the
  /// branch's counter, then the fixed header fields. Cleared when `peer`
  /// changes (Via and Contact name its transport and listener).
  std::string notify_head;
  std::string notify_fixed;
};

/// A NOTIFY waiting for its final response (non-INVITE client
/// transaction, RFC 3261 §17.1.2).
struct pending_notify {
  std::string subscription_id;
  /// stable_hash of the whole branch (the map's key is its counter only).
  uint64_t branch_hash = 0;
  std::string bytes;
  sip_endpoint to;
  caf::actor_clock::time_point started;
  unsigned sends = 1;
  uint32_t epoch = 0;
};

/// What a handler needs to answer the request it is handling.
struct request_ctx {
  sip_endpoint from;
  /// Server transaction key (UDP only; empty over TCP, where nothing is
  /// retransmitted, RFC 3261 §17.2.2 Timer J = 0).
  std::string txn;
  /// The request's bytes: the parsed views die with the handler, the
  /// engine's reply arrives later and builds the response from these.
  std::shared_ptr<std::string> raw;
};

/// A REGISTER on its way to the engine, kept parsed across the round trip:
/// the views of `msg` point into *ctx.raw, which the shared_ptr keeps in
/// place however often this struct moves.
struct pending_register {
  request_ctx ctx;
  core::sip_message msg;
};

/// The REGISTERs for one shard collected while the edge handles one
/// message from the transport (one datagram, or a burst of them): sent
/// together when that message is done, as one register_request or one
/// register_batch_request.
struct shard_queue {
  std::vector<pending_register> pending;
  std::vector<register_request> requests;
  /// Beyond this node's shards: the other member's shard they go to.
  directory_shard_actor dest;
};

/// REGISTERs sent to a shard and not answered yet (one request or batch).
struct inflight_registers {
  std::shared_ptr<std::vector<pending_register>> requests;
  /// When they get a 500 if the shard has not answered (sweep_atom).
  caf::actor_clock::time_point deadline;
  /// The shard of another cluster member they went to (null: this node's).
  directory_shard_actor remote;
};

/// The edge's own timer for the REGISTERs in flight. A request with a
/// timeout would cost a call into CAF's clock thread (a mutex and a
/// wake-up) per request, and a timeout message back 10 s later even when
/// the answer came; one sweep per second while anything is in flight does
/// the same job.
using sweep_atom = caf::atom_constant<caf::atom("edgesweep")>;

/// A NOTIFY's next Timer E / Timer F deadline (client transaction `key`,
/// valid while its pending_notify has `epoch`).
struct notify_timer {
  caf::actor_clock::time_point at;
  uint64_t key = 0;
  uint32_t epoch = 0;
  bool operator>(const notify_timer& other) const { return at > other.at; }
};

/// The NOTIFY timers, in deadline order, behind ONE CAF timer (armed for
/// the earliest): a fan-out of 10k NOTIFYs makes one delayed message, not
/// 10k calls into CAF's clock thread (~1.2 us each). Entries of answered
/// NOTIFYs stay until their deadline and are skipped then.
struct notify_timers {
  std::priority_queue<notify_timer, std::vector<notify_timer>, std::greater<>> queue;
  /// The deadline the CAF timer is armed for, and its id (an older timer
  /// that fires after a re-arm is ignored).
  std::optional<caf::actor_clock::time_point> armed_at;
  uint64_t armed_id = 0;
};

/// A NotifyRequired whose NOTIFYs are being sent, a slice at a time.
struct fanout_work {
  /// The event (a caf::message: its payload is shared, not copied).
  caf::message event;
  /// The next target to handle.
  size_t next = 0;
  /// The bus to acknowledge the event batch to once this, its last
  /// NotifyRequired, is done (null: not the last of its batch).
  caf::actor ack_to;
};

/// NOTIFYs built and sent per message handled: a 10k-watcher fan-out
/// leaves in ~20 slices, and whatever reached the edge meanwhile (the
/// PUBLISH's own reply, REGISTERs, the watchers' 200s) is handled between
/// two slices instead of after the whole fan-out.
constexpr size_t fanout_slice = 512;

using fanout_atom = caf::atom_constant<caf::atom("fanout")>;

/// How long the engine may take to answer a REGISTER (then: 500).
constexpr auto engine_timeout = std::chrono::seconds{10};

struct edge_counters {
  uint64_t requests = 0;
  uint64_t responses = 0;
  uint64_t retransmissions_absorbed = 0;
  uint64_t malformed = 0;
  uint64_t dropped = 0;
  uint64_t rate_limited = 0;
  uint64_t auth_challenges = 0;
  uint64_t auth_failures = 0;
  uint64_t notifies_sent = 0;
  uint64_t notify_retransmissions = 0;
  uint64_t notify_failures = 0;
  uint64_t events_dropped = 0;
};

struct edge_state {
  std::shared_ptr<const engine_refs> refs;
  subscription_supervisor_actor subscriptions;
  std::shared_ptr<sip_sender> out;
  sip_edge_settings settings;
  core::server_transactions txns;
  std::optional<core::rate_limiter> limiter;
  /// Digest authentication (nonce-count replay table inside).
  std::optional<core::digest_authenticator> auth;
  /// Subscription id -> dialog.
  std::unordered_map<std::string, sip_dialog> dialogs;
  /// Call-ID + local tag -> subscription id (in-dialog SUBSCRIBEs).
  std::unordered_map<std::string, std::string> by_dialog;
  /// NOTIFYs awaiting their response, by the counter that ends their Via
  /// branch ("z9hG4bK-rc<dialog hash>.<counter>", unique in this edge).
  std::unordered_map<uint64_t, pending_notify> pending;
  /// The other cluster members' buses this edge listens to.
  std::vector<event_bus_actor> remote_buses;
  /// Restored subscriptions to resume, by target (resume_notifies).
  std::unordered_map<std::string, std::vector<std::string>> resume;
  notify_timers timers;
  /// NotifyRequired events in arrival order; the front one is being sent.
  std::deque<fanout_work> fanouts;
  /// A fanout_atom is on its way to this edge.
  bool fanout_pending = false;
  uint32_t next_epoch = 0;
  uint64_t next_branch = 0;
  /// REGISTERs not sent to the engine yet, by shard index
  /// (engine_refs::shards), and the indexes with something queued, in the
  /// order they were first used.
  std::vector<shard_queue> reg_queues;
  std::vector<uint32_t> reg_dirty;
  /// Sent to the engine, by id; the sweep answers what is overdue.
  std::unordered_map<uint64_t, inflight_registers> inflight;
  /// PUBLISHes and SUBSCRIBEs sent to another member's actor (`remote`)
  /// and not answered yet, by id (track_remote): answered 503 if that
  /// member is lost meanwhile.
  std::unordered_map<uint64_t, std::pair<caf::actor_addr, request_ctx>> open_remote;
  uint64_t next_open = 0;
  uint64_t next_inflight = 0;
  /// UDP REGISTERs queued for the engine so far (a running count: a
  /// handler's datagrams minus the REGISTERs it queued are consumed at its
  /// end, the REGISTERs when answered).
  uint64_t udp_registers_held = 0;
  bool sweeping = false;
  /// The Date header value, rebuilt once per second.
  std::string date;
  std::time_t date_at = -1;
  edge_counters counters;
  static inline const char* name = "sip_edge";
};

using edge_actor = caf::stateful_actor<edge_state>;

/// RFC 1123 date for the Date header (RFC 3261 §20.17): formatted once per
/// second, not per response.
const std::string& http_date(edge_state& st) {
  auto t = std::time(nullptr);
  if (t != st.date_at) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    auto n = std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    st.date.assign(buf, n);
    st.date_at = t;
  }
  return st.date;
}

/// A To tag that is the same for retransmissions of one request.
std::string to_tag_for(const std::string& prefix, const core::sip_message& req) {
  std::string seed{req.call_id()};
  seed += std::to_string(req.cseq().number);
  if (!req.vias().empty())
    seed += req.vias().front().branch;
  auto h = core::stable_hash(seed);
  static constexpr char digits[] = "0123456789abcdef";
  std::string tag(12, '0');
  for (int i = 11; i >= 0; --i, h >>= 4)
    tag[static_cast<size_t>(i)] = digits[h & 0xF];
  return prefix.empty() ? tag : prefix + tag;
}

/// host:port of listener `i` as we put it in Via and Contact.
std::string local_hostport(const edge_state& st, uint32_t i) {
  if (i >= st.settings.listeners.size())
    return "invalid";
  auto& l = st.settings.listeners[i];
  std::string host = l.addr.host;
  // A wildcard bind has no address to show: name the first domain.
  if ((host == "0.0.0.0" || host == "::") && !st.settings.domains.empty())
    host = st.settings.domains.front();
  if (host.find(':') != std::string::npos)
    host = "[" + host + "]";
  return host + ":" + std::to_string(l.port);
}

/// Our Contact for dialogs on listener `i` (RFC 3261 §8.1.1.8).
std::string local_contact(const edge_state& st, const sip_endpoint& via) {
  auto c = "<sip:" + local_hostport(st, via.listener);
  if (via.proto == core::transport::tcp)
    c += ";transport=tcp";
  return c + ">";
}

/// The subscription supervisor of the member owning `target` (this
/// node's without a cluster): it numbers the target's subscriptions.
subscription_supervisor_actor supervisor_for(const edge_state& st, const std::string& target) {
  if (auto remote = st.refs->remote_supervisor_for(target))
    return *remote;
  return st.subscriptions;
}

core::sip_builder respond(edge_actor* self, const request_ctx& ctx,
                          const core::sip_message& req, int status,
                          std::string_view reason) {
  auto b = core::make_response(req, status, reason,
                               to_tag_for(self->state.settings.dialog_tag_prefix, req),
                               core::source_address{ctx.from.ip, ctx.from.port});
  b.header(core::header_id::server, self->state.settings.server_name);
  return b;
}

/// Sends a final response and remembers it for retransmissions. With an
/// `outbox`, the response is queued there instead (the caller sends the
/// whole outbox at once, in order, with sip_sender::send_many).
void send_response(edge_actor* self, const request_ctx& ctx, core::sip_builder& b,
                   sip_sender::outbox* outbox = nullptr) {
  auto bytes = b.take();
  auto& st = self->state;
  if (!ctx.txn.empty())
    st.txns.complete(ctx.txn, bytes);
  ++st.counters.responses;
  if (outbox)
    outbox->emplace_back(ctx.from, std::move(bytes));
  else
    st.out->send(ctx.from, std::move(bytes));
}

void reply(edge_actor* self, const request_ctx& ctx, const core::sip_message& req,
           int status, std::string_view reason) {
  auto b = respond(self, ctx, req, status, reason);
  send_response(self, ctx, b);
}

/// Host of an AOR's domain ("host", "host:port", "[v6]:port"), no brackets.
std::string_view domain_host(std::string_view aor) {
  auto domain = core::aor_domain(aor);
  if (!domain.empty() && domain.front() == '[') {
    auto close = domain.find(']');
    return close == std::string_view::npos ? domain : domain.substr(1, close - 1);
  }
  return domain.substr(0, domain.rfind(':'));
}

bool served(const edge_state& st, std::string_view aor) {
  auto host = domain_host(aor);
  for (auto& l : st.settings.listeners)
    if (core::iequals(host, l.addr.host))
      return true;
  for (auto& d : st.settings.domains)
    if (core::iequals(host, d))
      return true;
  return false;
}

/// RFC 3261 §18.3: a datagram is the whole message (a missing
/// Content-Length means "the rest"); a stream message was cut out by its
/// Content-Length already.
core::sip_framing framing_of(const sip_endpoint& x) {
  return x.proto == core::transport::udp ? core::sip_framing::datagram
                                         : core::sip_framing::stream;
}

/// Answers an engine error with its SIP status.
void answer_error(edge_actor* self, const request_ctx& ctx, const core::sip_message& req,
                  const caf::error& err, sip_sender::outbox* outbox = nullptr) {
  bool ours = err.category() == messages::error_category;
  auto e = messages::from_caf_error(err);
  auto status = ours ? core::sip_status(e.code) : 500;
  auto b = respond(self, ctx, req, status,
                   ours ? e.phrase() : std::string_view{"Server Internal Error"});
  if (ours && e.code == core::errc::interval_too_brief)
    b.header(core::header_id::min_expires, e.value);
  if (status == 415) // RFC 3261 §21.4.13: say what we accept
    b.header(core::header_id::accept, "application/pidf+xml");
  send_response(self, ctx, b, outbox);
}

/// Same, parsing the request again from its bytes (SUBSCRIBE, PUBLISH).
void answer_error(edge_actor* self, const request_ctx& ctx, const caf::error& err) {
  auto again = core::parse_sip_message(*ctx.raw, framing_of(ctx.from),
                                       self->state.settings.limits);
  if (!again)
    return;
  answer_error(self, ctx, *again, err);
}

/// The canonical AOR `uri` names if it is one of ours; otherwise answers
/// 400 (not an AOR) or 404 (another domain) and returns nothing.
std::optional<std::string> our_aor(edge_actor* self, const request_ctx& ctx,
                                   const core::sip_message& req, std::string_view uri) {
  auto aor = core::canonical_aor(uri);
  if (!aor) {
    reply(self, ctx, req, 400, aor.err().phrase());
    return std::nullopt;
  }
  if (!served(self->state, *aor)) {
    reply(self, ctx, req, 404, "Not Found (domain not served here)");
    return std::nullopt;
  }
  return std::move(*aor);
}

/// RFC 6665 §7.2.2 / RFC 3903 §6: only the presence event package; answers
/// 489 with Allow-Events otherwise.
bool presence_event(edge_actor* self, const request_ctx& ctx,
                    const core::sip_message& req) {
  if (req.event() && core::iequals(req.event()->package, "presence"))
    return true;
  auto b = respond(self, ctx, req, 489, "Bad Event");
  b.header(core::header_id::allow_events, "presence");
  send_response(self, ctx, b);
  return false;
}

register_request to_register_request(const core::sip_message& req, std::string aor,
                                     const sip_endpoint& from) {
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
  // RFC 3581 / RFC 5626: where the request really came from.
  r.received = from.ip.find(':') != std::string::npos
                 ? "[" + from.ip + "]:" + std::to_string(from.port)
                 : from.ip + ":" + std::to_string(from.port);
  r.transport_type = from.proto;
  r.user_agent = std::string{req.user_agent()};
  return r;
}

/// The 200 to a REGISTER: the bindings the engine holds now.
void answer_register(edge_actor* self, const pending_register& p, const register_reply& rep,
                     sip_sender::outbox* outbox = nullptr) {
  auto& req = p.msg;
  auto b = respond(self, p.ctx, req, 200, "OK");
  std::string v;
  for (auto& c : rep.bindings) {
    v.clear();
    v += '<';
    v += c.uri;
    v += ">;expires=";
    v += std::to_string(c.expires);
    b.header(core::header_id::contact, v);
  }
  // RFC 3327 §5.3: echo Path when the UA supports it.
  bool path_ok = false;
  for (auto opt : req.supported())
    path_ok = path_ok || core::iequals(opt, "path");
  if (path_ok)
    for (auto& x : req.path())
      b.header(core::header_id::path, x.raw);
  b.header(core::header_id::date, http_date(self->state));
  send_response(self, p.ctx, b, outbox);
}

/// Queues a REGISTER for its shard; flush_registers() sends it when the
/// message being handled is done. The request stays parsed until answered.
void on_register(edge_actor* self, request_ctx& ctx, core::sip_message& req) {
  auto aor = our_aor(self, ctx, req, req.to().uri);
  if (!aor)
    return;
  auto& st = self->state;
  auto r = to_register_request(req, std::move(*aor), ctx.from);
  auto& shards = st.refs->shards;
  auto h = core::stable_hash(r.aor);
  size_t idx = core::shard_of_hash(h, static_cast<uint32_t>(shards.size()));
  if (st.reg_queues.size() < shards.size())
    st.reg_queues.resize(shards.size());
  if (auto t = st.refs->cluster(); t && t->owner(h) != t->self) {
    // Another member owns the user: one queue per destination shard, after
    // this node's (flush_registers drops them again).
    auto dest = st.refs->shard_for(r.aor);
    idx = shards.size();
    while (idx < st.reg_queues.size() && st.reg_queues[idx].dest != dest)
      ++idx;
    if (idx == st.reg_queues.size())
      st.reg_queues.emplace_back().dest = std::move(dest);
  }
  auto& q = st.reg_queues[idx];
  if (q.requests.empty())
    st.reg_dirty.push_back(idx);
  if (ctx.from.proto == core::transport::udp)
    ++st.udp_registers_held; // consumed() once answered (release_udp)
  q.requests.push_back(std::move(r));
  q.pending.push_back(pending_register{std::move(ctx), std::move(req)});
}

/// REGISTERs that arrived over UDP are handled (answered) only when the
/// engine's reply comes: the transport learns of them then (consumed),
/// so a flood that backs up in the engine also pauses the UDP reads.
void release_udp(edge_state& st, const std::vector<pending_register>& ps) {
  size_t n = 0;
  for (auto& p : ps)
    n += p.ctx.from.proto == core::transport::udp ? 1 : 0;
  if (n > 0)
    st.out->consumed(n);
}

/// The REGISTERs of in-flight entry `id`, which is then gone; null when the
/// sweep answered them already (the engine's late answer is dropped).
std::shared_ptr<std::vector<pending_register>> take_inflight(edge_state& st, uint64_t id) {
  auto i = st.inflight.find(id);
  if (i == st.inflight.end())
    return nullptr;
  auto ps = std::move(i->second.requests);
  st.inflight.erase(i);
  release_udp(st, *ps);
  return ps;
}

/// Answers every REGISTER of `ps` with `err`, in order, in one send_many.
void answer_all(edge_actor* self, const std::vector<pending_register>& ps,
                const caf::error& err) {
  sip_sender::outbox out;
  out.reserve(ps.size());
  for (auto& p : ps)
    answer_error(self, p.ctx, p.msg, err, &out);
  self->state.out->send_many(out);
}

/// Answers every REGISTER of `ps` with 503 and Retry-After (RFC 3261
/// §21.5.4): the member that owns their users was lost before answering.
/// Nothing is known of their fate (the lost owner may have applied and
/// replicated them), so the client retries, with a new CSeq, and the
/// member that took the users over answers.
void answer_member_lost(edge_actor* self, const request_ctx& ctx, const core::sip_message& req,
                        sip_sender::outbox* outbox = nullptr) {
  auto b = respond(self, ctx, req, 503, "Service Unavailable (cluster member lost)");
  b.header("Retry-After", self->state.settings.retry_after);
  send_response(self, ctx, b, outbox);
}

/// The same for every REGISTER of `ps`, in one send_many.
void answer_member_lost(edge_actor* self, const std::vector<pending_register>& ps) {
  sip_sender::outbox out;
  out.reserve(ps.size());
  for (auto& p : ps)
    answer_member_lost(self, p.ctx, p.msg, &out);
  self->state.out->send_many(out);
}

/// The same for one request known by its bytes (PUBLISH, SUBSCRIBE).
void answer_member_lost(edge_actor* self, const request_ctx& ctx) {
  auto again = core::parse_sip_message(*ctx.raw, framing_of(ctx.from),
                                       self->state.settings.limits);
  if (again)
    answer_member_lost(self, ctx, *again);
}

/// Before a PUBLISH or SUBSCRIBE goes to `dest`: when that is another
/// member's actor, remembers it (an id, else 0) so that the loss of that
/// member answers it at once (fail_lost_members).
uint64_t track_remote(edge_actor* self, const caf::actor_addr& dest, bool remote,
                      const request_ctx& ctx) {
  if (!remote)
    return 0;
  auto& st = self->state;
  auto id = ++st.next_open;
  st.open_remote.emplace(id, std::make_pair(dest, ctx));
  return id;
}

/// Whether the answer (or error) for tracked request `id` is still to be
/// sent: false when the loss of its member answered it already.
bool claim(edge_actor* self, uint64_t id) {
  return id == 0 || self->state.open_remote.erase(id) > 0;
}

/// A PUBLISH's or SUBSCRIBE's error: a request to another member's actor
/// that is gone (CAF bounces it) is the 503 of a lost member.
void answer_tracked_error(edge_actor* self, uint64_t id, const request_ctx& ctx,
                          const caf::error& err) {
  if (!claim(self, id))
    return;
  if (id != 0 && err == caf::sec::request_receiver_down)
    answer_member_lost(self, ctx);
  else
    answer_error(self, ctx, err);
}

/// New cluster routes: the REGISTERs in flight to a member that is no
/// longer in them get a 503 now, not the sweep's 500 after engine_timeout
/// (a message in flight to a node that dies is lost without an error).
void fail_lost_members(edge_actor* self, const cluster_routes& routes) {
  auto& st = self->state;
  auto listed = [&](const caf::actor_addr& x) {
    for (auto& m : routes.members) {
      if (caf::actor_cast<caf::actor_addr>(m.subscriptions) == x)
        return true;
      for (auto& shard : m.shards)
        if (caf::actor_cast<caf::actor_addr>(shard) == x)
          return true;
    }
    return false;
  };
  std::vector<uint64_t> lost;
  for (auto& [id, x] : st.inflight)
    if (x.remote && !listed(caf::actor_cast<caf::actor_addr>(x.remote)))
      lost.push_back(id);
  size_t n = 0;
  for (auto id : lost)
    if (auto ps = take_inflight(st, id)) {
      n += ps->size();
      answer_member_lost(self, *ps);
    }
  lost.clear();
  for (auto& [id, x] : st.open_remote)
    if (!listed(x.first))
      lost.push_back(id);
  for (auto id : lost) {
    auto i = st.open_remote.find(id);
    auto ctx = std::move(i->second.second);
    st.open_remote.erase(i);
    ++n;
    answer_member_lost(self, ctx);
  }
  if (n > 0)
    spdlog::warn("sip: {} request(s) in flight to a lost cluster member answered 503", n);
}

/// Once a second while REGISTERs are in flight: those the engine did not
/// answer within engine_timeout get a 500, as a timed-out request would.
void on_sweep(edge_actor* self) {
  auto& st = self->state;
  auto now = self->clock().now();
  for (auto i = st.inflight.begin(); i != st.inflight.end();) {
    if (i->second.deadline <= now) {
      auto ps = std::move(i->second.requests);
      i = st.inflight.erase(i);
      release_udp(st, *ps);
      spdlog::warn("sip: the engine did not answer {} REGISTER(s) in time", ps->size());
      answer_all(self, *ps, caf::make_error(caf::sec::request_timeout));
    } else {
      ++i;
    }
  }
  st.sweeping = !st.inflight.empty();
  if (st.sweeping)
    self->delayed_send(self, std::chrono::seconds{1}, sweep_atom::value);
}

/// Sends the queued REGISTERs: per shard one register_request (one
/// REGISTER) or one register_batch_request (several, in arrival order; the
/// shard handles them in that order). The answers of a batch leave in one
/// send_many, in the same order.
void flush_registers(edge_actor* self) {
  auto& st = self->state;
  if (st.reg_dirty.empty())
    return;
  auto deadline = self->clock().now() + engine_timeout;
  for (auto idx : st.reg_dirty) {
    auto& q = st.reg_queues[idx];
    auto shard = idx < st.refs->shards.size() ? st.refs->shards[idx] : q.dest;
    auto id = ++st.next_inflight;
    bool remote = idx >= st.refs->shards.size();
    st.inflight.emplace(
      id, inflight_registers{
            std::make_shared<std::vector<pending_register>>(std::move(q.pending)), deadline,
            remote ? shard : directory_shard_actor{}});
    auto on_error = [self, id, remote](caf::error& err) {
      auto ps = take_inflight(self->state, id);
      if (!ps)
        return;
      // Another member's shard that is gone (its node lost: CAF bounces
      // the request) is a 503 as above; anything else its error.
      if (remote && err == caf::sec::request_receiver_down)
        answer_member_lost(self, *ps);
      else
        answer_all(self, *ps, err);
    };
    if (q.requests.size() == 1) {
      self->request(shard, caf::infinite, std::move(q.requests.front()))
        .then(
          [self, id](register_reply& rep) {
            if (auto ps = take_inflight(self->state, id))
              answer_register(self, ps->front(), rep);
          },
          on_error);
    } else {
      register_batch_request batch;
      batch.requests = std::move(q.requests);
      self->request(shard, caf::infinite, std::move(batch))
        .then(
          [self, id](register_batch_reply& rep) {
            auto ps = take_inflight(self->state, id);
            if (!ps)
              return;
            sip_sender::outbox out;
            out.reserve(ps->size());
            for (size_t k = 0; k < ps->size(); ++k) {
              auto& p = (*ps)[k];
              if (k >= rep.results.size())
                answer_error(self, p.ctx, p.msg,
                             caf::make_error(caf::sec::invalid_argument), &out);
              else if (auto& res = rep.results[k]; res.error)
                answer_error(self, p.ctx, p.msg, res.error, &out);
              else
                answer_register(self, p, res.reply, &out);
            }
            self->state.out->send_many(out);
          },
          on_error);
    }
    q.pending.clear();
    q.requests.clear();
  }
  st.reg_dirty.clear();
  st.reg_queues.resize(st.refs->shards.size());
  if (!st.sweeping) {
    st.sweeping = true;
    self->delayed_send(self, std::chrono::seconds{1}, sweep_atom::value);
  }
}

/// Arms the CAF timer for the earliest NOTIFY deadline unless it already
/// fires by then.
void arm_notify_timer(edge_actor* self) {
  auto& t = self->state.timers;
  if (t.queue.empty())
    return;
  auto at = t.queue.top().at;
  if (t.armed_at && *t.armed_at <= at)
    return;
  t.armed_at = at;
  auto now = self->clock().now();
  auto wait = at > now ? at - now : caf::actor_clock::duration_type{0};
  self->delayed_send(self, wait, retransmit_atom::value, ++t.armed_id);
}

/// Timer E / F of NOTIFY `key` at `at`.
void start_timer(edge_actor* self, caf::actor_clock::time_point at, uint64_t key,
                 uint32_t epoch) {
  self->state.timers.queue.push(notify_timer{at, key, epoch});
  arm_notify_timer(self);
}

/// Builds d.notify_head and d.notify_fixed (see sip_dialog) once.
void notify_parts(edge_state& st, sip_dialog& d) {
  if (!d.notify_head.empty())
    return;
  auto b = core::sip_builder::request(core::sip_method::notify, d.remote_target);
  b.header(core::header_id::via,
           std::string{"SIP/2.0/"} + (d.peer.proto == core::transport::tcp ? "TCP " : "UDP ")
             + local_hostport(st, d.peer.listener) + ";branch=z9hG4bK-rc"
             + std::to_string(core::stable_hash(d.call_id + d.local_tag)) + ".");
  auto head_size = b.head().size() - 2; // without the Via line's CRLF
  b.header(core::header_id::max_forwards, 70u);
  for (auto& r : d.route_set)
    b.header(core::header_id::route, r);
  b.header(core::header_id::from, "<" + d.local_uri + ">;tag=" + d.local_tag);
  b.header(core::header_id::to, "<" + d.remote_uri + ">;tag=" + d.remote_tag);
  b.header(core::header_id::call_id, d.call_id);
  b.header(core::header_id::contact, local_contact(st, d.peer));
  b.header(core::header_id::event, d.event_id.empty() ? std::string{"presence"}
                                                      : "presence;id=" + d.event_id);
  b.header("User-Agent", st.settings.server_name);
  auto head = b.head();
  d.notify_head.assign(head.data(), head_size);
  d.notify_fixed.assign(head.data() + head_size + 2, head.size() - head_size - 2);
}

/// Sends NOTIFY number `cseq` of dialog `d` (RFC 6665 §4.2.2, RFC 3856
/// §6.6): Event, Subscription-State, the PIDF body; over UDP retransmitted
/// until answered (timers E and F). The CSeq is the
/// subscription's version, which the engine keeps (and journals): it goes
/// on increasing across a restart. A NOTIFY older than the last one sent
/// (an event that lost the race with a SUBSCRIBE's reply) is dropped: the
/// watcher already has a newer state. With `outbox` the NOTIFY is queued
/// there (the caller sends the outbox with one send_many).
void send_notify(edge_actor* self, const std::string& id, sip_dialog& d, uint32_t cseq,
                 core::subscription_state state, core::termination_reason reason,
                 uint32_t expires, const std::string& body,
                 sip_sender::outbox* outbox = nullptr) {
  auto& st = self->state;
  if (cseq <= d.cseq)
    return;
  d.cseq = cseq;
  notify_parts(st, d);
  auto key = ++st.next_branch;
  core::subscription tmp;
  tmp.state = state;
  tmp.reason = reason;
  auto now = core::clock_type::now();
  tmp.expires_at = now + core::seconds{expires};
  auto sub_state = core::subscription_state_value(tmp, now);
  constexpr std::string_view content_type = "Content-Type: application/pidf+xml\r\n";
  std::string bytes;
  bytes.reserve(d.notify_head.size() + d.notify_fixed.size() + sub_state.size()
                + content_type.size() + body.size() + 96);
  bytes += d.notify_head;
  auto branch_begin = bytes.rfind(";branch=") + 8;
  bytes += std::to_string(key);
  auto branch = std::string_view{bytes}.substr(branch_begin);
  auto branch_hash = core::stable_hash(branch);
  bytes += "\r\n";
  bytes += d.notify_fixed;
  bytes += "CSeq: ";
  bytes += std::to_string(d.cseq);
  bytes += " NOTIFY\r\nSubscription-State: ";
  bytes += sub_state;
  bytes += "\r\n";
  if (!body.empty())
    bytes += content_type;
  bytes += "Content-Length: ";
  bytes += std::to_string(body.size());
  bytes += "\r\n\r\n";
  bytes += body;
  ++st.counters.notifies_sent;
  pending_notify p;
  p.subscription_id = id;
  p.branch_hash = branch_hash;
  p.bytes = bytes;
  p.to = d.peer;
  p.started = self->clock().now();
  p.epoch = ++st.next_epoch;
  // Over UDP Timer E retransmits; over TCP only Timer F runs.
  auto wait = d.peer.proto == core::transport::udp
                ? core::retransmit_interval(st.settings.notify_timers, 1)
                : st.settings.notify_timers.timer_f;
  start_timer(self, p.started + wait, key, p.epoch);
  st.pending.emplace(key, std::move(p));
  if (outbox)
    outbox->emplace_back(d.peer, std::move(bytes));
  else
    st.out->send(d.peer, std::move(bytes));
}

void drop_dialog(edge_state& st, const std::string& id) {
  auto i = st.dialogs.find(id);
  if (i == st.dialogs.end())
    return;
  st.by_dialog.erase(i->second.call_id + "|" + i->second.local_tag);
  st.dialogs.erase(i);
}

/// A NOTIFY failed (481, 408, no answer): RFC 6665 §4.2.2 — the
/// subscription is over. The dialog goes first (no final NOTIFY to a peer
/// that does not answer), then the engine ends the subscription (which
/// emits SubscriptionTerminated).
void notify_failed(edge_actor* self, const std::string& id) {
  auto& st = self->state;
  ++st.counters.notify_failures;
  if (!st.settings.end_subscription_on_failure) {
    spdlog::info("sip: NOTIFY of subscription {} failed; keeping it (configured)", id);
    return;
  }
  spdlog::info("sip: NOTIFY of subscription {} failed (481, 408 or timeout): ending it", id);
  drop_dialog(st, id);
  self->request(supervisor_for(st, std::string{target_of_subscription(id)}),
                std::chrono::seconds{10}, unsubscribe_request{id})
    .then([](caf::ok_atom) {
      // nop
    },
          [](caf::error&) {
            // already gone (expired or unsubscribed meanwhile)
          });
}

void on_retransmit(edge_actor* self, uint64_t key, uint32_t epoch) {
  auto& st = self->state;
  auto i = st.pending.find(key);
  if (i == st.pending.end() || i->second.epoch != epoch)
    return; // answered meanwhile
  auto& p = i->second;
  auto& tm = st.settings.notify_timers;
  auto elapsed = self->clock().now() - p.started;
  if (elapsed >= tm.timer_f) {
    // Timer F: no final response (RFC 3261 §17.1.2.2): like a 408.
    auto id = p.subscription_id;
    st.pending.erase(i);
    notify_failed(self, id);
    return;
  }
  ++p.sends;
  ++st.counters.notify_retransmissions;
  st.out->send(p.to, p.bytes);
  auto wait = core::retransmit_interval(tm, p.sends);
  auto left = tm.timer_f - elapsed;
  if (wait > left)
    wait = left;
  p.epoch = ++st.next_epoch;
  start_timer(self, self->clock().now() + wait, key, p.epoch);
}

/// The CAF timer fired: every NOTIFY timer due now runs, then the CAF
/// timer is armed for the next deadline.
void on_notify_timer(edge_actor* self, uint64_t id) {
  auto& t = self->state.timers;
  if (id != t.armed_id)
    return; // superseded by an earlier deadline
  t.armed_at.reset();
  auto now = self->clock().now();
  while (!t.queue.empty() && t.queue.top().at <= now) {
    auto due = t.queue.top();
    t.queue.pop();
    on_retransmit(self, due.key, due.epoch);
  }
  arm_notify_timer(self);
}

/// A response from a watcher: the final answer to one of our NOTIFYs,
/// matched by its top Via branch and CSeq method (RFC 3261 §17.1.3).
/// Provisional ones change nothing: Timer E goes on (§17.1.2.2
/// "proceeding").
void on_response(edge_actor* self, int status, std::string_view branch,
                 std::string_view cseq_method) {
  auto& st = self->state;
  if (status < 200 || cseq_method != "NOTIFY")
    return;
  // Ours look like "z9hG4bK-rc<hash>.<counter>": the counter is the key.
  auto dot = branch.rfind('.');
  if (dot == std::string_view::npos || branch.substr(0, 10) != "z9hG4bK-rc")
    return;
  uint64_t key = 0;
  auto digits = branch.substr(dot + 1);
  auto end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, key);
  if (digits.empty() || ec != std::errc{} || ptr != end)
    return;
  auto i = st.pending.find(key);
  if (i == st.pending.end() || i->second.branch_hash != core::stable_hash(branch))
    return; // a late retransmitted response, or not ours
  auto id = i->second.subscription_id;
  st.pending.erase(i);
  if (status == 481 || status == 408)
    notify_failed(self, id);
}

void on_subscribe(edge_actor* self, const request_ctx& ctx, const core::sip_message& req) {
  if (!presence_event(self, ctx, req))
    return;
  flush_registers(self); // the engine sees requests in arrival order
  auto& st = self->state;
  subscribe_request r;
  for (auto a : req.accept())
    r.accept.emplace_back(a);
  r.expires = req.expires();
  r.event_id = std::string{req.event()->id};
  if (!req.to().tag.empty()) {
    // In-dialog: refresh or (Expires: 0) unsubscribe.
    auto key = std::string{req.call_id()} + "|" + std::string{req.to().tag};
    auto i = st.by_dialog.find(key);
    if (i == st.by_dialog.end()) {
      reply(self, ctx, req, 481, "Subscription does not exist");
      return;
    }
    r.id = i->second;
  } else {
    auto target = our_aor(self, ctx, req, req.request_uri());
    if (!target)
      return;
    if (req.contacts().empty()) {
      reply(self, ctx, req, 400, "Missing Contact");
      return;
    }
    r.watcher = std::string{req.from().uri};
    r.target = *target;
  }
  auto tag = to_tag_for(st.settings.dialog_tag_prefix, req);
  if (r.id.empty()) {
    // The dialog as the engine keeps (and journals) it with the
    // subscription: what a restarted edge needs to go on notifying.
    auto& d = r.dialog;
    d.call_id = std::string{req.call_id()};
    d.local_tag = tag;
    d.remote_tag = std::string{req.from().tag};
    d.local_uri = std::string{req.to().uri};
    d.remote_uri = std::string{req.from().uri};
    d.remote_target = std::string{req.contacts()[0].uri};
    for (auto& rr : req.record_route())
      d.route_set.emplace_back(rr.raw);
    d.transport_type = ctx.from.proto;
    d.received = ctx.from.ip.find(':') == std::string::npos
                   ? ctx.from.ip + ":" + std::to_string(ctx.from.port)
                   : "[" + ctx.from.ip + "]:" + std::to_string(ctx.from.port);
  }
  auto sup = supervisor_for(st, r.id.empty() ? r.target
                                             : std::string{target_of_subscription(r.id)});
  auto open_id = track_remote(self, caf::actor_cast<caf::actor_addr>(sup),
                              sup != st.subscriptions, ctx);
  self->request(sup, std::chrono::seconds{10}, std::move(r))
    .then(
      [=](subscribe_reply& rep) {
        if (!claim(self, open_id))
          return;
        auto& st2 = self->state;
        auto again = core::parse_sip_message(*ctx.raw, framing_of(ctx.from),
                                             st2.settings.limits);
        if (!again)
          return;
        auto& m = *again;
        bool pending = rep.sub.state == core::subscription_state::pending;
        bool over = rep.sub.state == core::subscription_state::terminated;
        auto b = respond(self, ctx, m, pending ? 202 : 200, pending ? "Accepted" : "OK");
        b.header(core::header_id::expires, over ? 0u : rep.sub.expires);
        b.header(core::header_id::contact, local_contact(st2, ctx.from));
        for (auto& rr : m.record_route())
          b.header(core::header_id::record_route, rr.raw);
        // The 2xx first, then the NOTIFY (JsSIP answers a NOTIFY that comes
        // first with 481).
        send_response(self, ctx, b);
        auto& id = rep.sub.id;
        auto i = st2.dialogs.find(id);
        if (i == st2.dialogs.end()) {
          sip_dialog d;
          d.call_id = std::string{m.call_id()};
          d.local_tag = m.to().tag.empty() ? tag : std::string{m.to().tag};
          d.remote_tag = std::string{m.from().tag};
          d.local_uri = std::string{m.to().uri};
          d.remote_uri = std::string{m.from().uri};
          d.remote_target = m.contacts().empty() ? d.remote_uri
                                                 : std::string{m.contacts()[0].uri};
          // RFC 3261 §12.1.1: the route set is the Record-Route, in order.
          for (auto& rr : m.record_route())
            d.route_set.emplace_back(rr.raw);
          d.event_id = std::string{m.event() ? m.event()->id : std::string_view{}};
          d.peer = ctx.from;
          st2.by_dialog[d.call_id + "|" + d.local_tag] = id;
          i = st2.dialogs.emplace(id, std::move(d)).first;
        } else {
          // A refresh may come over a new connection: follow it.
          auto& d = i->second;
          if (d.peer.proto != ctx.from.proto || d.peer.listener != ctx.from.listener) {
            // Via and Contact of the cached NOTIFY parts name both.
            d.notify_head.clear();
            d.notify_fixed.clear();
          }
          d.peer = ctx.from;
        }
        auto expires = core::remaining_seconds(rep.sub.expires_at, self->clock().now());
        send_notify(self, id, i->second, rep.sub.version, rep.sub.state, rep.sub.reason,
                    over ? 0 : expires, rep.initial.pidf);
        if (over)
          drop_dialog(st2, id);
      },
      [=](caf::error& err) { answer_tracked_error(self, open_id, ctx, err); });
}

/// NotifyRequired from the engine: one NOTIFY per dialog of ours, for
/// targets [from, from + budget) of `ev`; returns where it stopped.
size_t notify_targets(edge_actor* self, const notify_required_event& ev, size_t from,
                      size_t budget) {
  auto& st = self->state;
  // Over UDP the NOTIFYs leave in runs of one sendmmsg each, a run as soon
  // as it is built.
  constexpr size_t run = 32;
  sip_sender::outbox out;
  out.reserve(std::min(ev.targets.size() - from, run));
  auto end = std::min(ev.targets.size(), from + budget);
  for (auto k = from; k < end; ++k) {
    auto& t = ev.targets[k];
    auto i = st.dialogs.find(t.subscription_id);
    if (i == st.dialogs.end())
      continue; // a subscription of another edge or of the API
    send_notify(self, t.subscription_id, i->second, t.version, t.state, t.reason,
                t.expires, ev.body, &out);
    if (t.state == core::subscription_state::terminated)
      drop_dialog(st, t.subscription_id);
    if (out.size() == run) {
      st.out->send_many(out);
      out.clear();
    }
  }
  st.out->send_many(out);
  return end;
}

/// Sends the next slice of the queued fan-outs (in arrival order, so the
/// NOTIFYs of one dialog keep their order); if work remains, a fanout_atom
/// to itself brings the rest after what is in the mailbox now.
void run_fanouts(edge_actor* self) {
  auto& st = self->state;
  size_t budget = fanout_slice;
  while (!st.fanouts.empty() && budget > 0) {
    auto& w = st.fanouts.front();
    auto& ev = w.event.get_as<notify_required_event>(0);
    auto next = notify_targets(self, ev, w.next, budget);
    budget -= next - w.next;
    w.next = next;
    if (w.next < ev.targets.size())
      break;
    // Done: the bus may send the next batch (flow control, event_ack).
    if (w.ack_to)
      self->send(w.ack_to, event_ack{});
    st.fanouts.pop_front();
  }
  if (!st.fanouts.empty() && !st.fanout_pending) {
    st.fanout_pending = true;
    self->send(self, fanout_atom::value);
  }
}

void on_publish(edge_actor* self, const request_ctx& ctx, const core::sip_message& req) {
  if (!presence_event(self, ctx, req))
    return;
  flush_registers(self); // the engine sees requests in arrival order
  auto aor = our_aor(self, ctx, req, req.request_uri());
  if (!aor)
    return;
  publish_request r;
  r.aor = *aor;
  r.etag = std::string{req.sip_if_match()};
  r.content_type = std::string{req.media_type()};
  r.body = std::string{req.body()};
  r.expires = req.expires();
  auto& st = self->state;
  auto dest = st.refs->shard_for(r.aor);
  auto id = track_remote(self, caf::actor_cast<caf::actor_addr>(dest),
                         std::find(st.refs->shards.begin(), st.refs->shards.end(), dest)
                           == st.refs->shards.end(),
                         ctx);
  self->request(dest, std::chrono::seconds{10}, std::move(r))
    .then(
      [=](publish_reply& rep) {
        if (!claim(self, id))
          return;
        auto again = core::parse_sip_message(*ctx.raw, framing_of(ctx.from),
                                             self->state.settings.limits);
        if (!again)
          return;
        auto b = respond(self, ctx, *again, 200, "OK");
        if (!rep.etag.empty() && rep.expires > 0)
          b.header(core::header_id::sip_etag, rep.etag);
        b.header(core::header_id::expires, rep.expires);
        send_response(self, ctx, b);
      },
      [=](caf::error& err) { answer_tracked_error(self, id, ctx, err); });
}

/// RFC 3261 §8.2.1 - §8.2.3, in that order: a method we serve (405 for a
/// known one we do not, 501 for an unknown one, 481 for a CANCEL: there is
/// nothing to cancel), a sip:/sips: Request-URI (416), no Require we lack
/// (420 with Unsupported), no body we do not understand (415 with Accept).
/// Answers and returns false otherwise.
bool acceptable(edge_actor* self, const request_ctx& ctx, const core::sip_message& req) {
  switch (req.method()) {
    case core::sip_method::register_:
    case core::sip_method::options:
    case core::sip_method::subscribe:
    case core::sip_method::publish:
      break;
    case core::sip_method::cancel:
      reply(self, ctx, req, 481, "Call/Transaction Does Not Exist");
      return false;
    case core::sip_method::other: {
      auto b = respond(self, ctx, req, 501, "Not Implemented");
      b.header(core::header_id::allow, allow_value);
      send_response(self, ctx, b);
      return false;
    }
    default: {
      auto b = respond(self, ctx, req, 405, "Method Not Allowed");
      b.header(core::header_id::allow, allow_value);
      send_response(self, ctx, b);
      return false;
    }
  }
  auto ruri = req.request_uri();
  auto scheme = ruri.substr(0, ruri.find(':'));
  if (!core::iequals(scheme, "sip") && !core::iequals(scheme, "sips")) {
    reply(self, ctx, req, 416, "Unsupported URI Scheme");
    return false;
  }
  std::string unsupported;
  for (auto tag : req.require()) {
    if (core::iequals(tag, "path")) // RFC 3327: we store and echo Path
      continue;
    if (!unsupported.empty())
      unsupported += ", ";
    unsupported.append(tag);
  }
  if (!unsupported.empty()) {
    auto b = respond(self, ctx, req, 420, "Bad Extension");
    b.header("Unsupported", unsupported);
    send_response(self, ctx, b);
    return false;
  }
  if (!req.body().empty() && req.method() != core::sip_method::publish) {
    auto b = respond(self, ctx, req, 415, "Unsupported Media Type");
    b.header(core::header_id::accept, "application/pidf+xml");
    send_response(self, ctx, b);
    return false;
  }
  return true;
}

/// RFC 3261 §22.4: a request of REGISTER, SUBSCRIBE or PUBLISH carries
/// valid digest credentials for a user who may act for the AOR it names
/// (REGISTER: To; PUBLISH: Request-URI; SUBSCRIBE: From, the watcher).
/// Otherwise answers 401 with a challenge (stale=true when only the nonce
/// is old), 403 or 400, and returns false.
bool authorized(edge_actor* self, const request_ctx& ctx, const core::sip_message& req,
                caf::actor_clock::time_point now) {
  auto& st = self->state;
  if (!st.auth)
    return true;
  std::string_view acting_for;
  switch (req.method()) {
    case core::sip_method::register_:
      acting_for = req.to().uri;
      break;
    case core::sip_method::publish:
      acting_for = req.request_uri();
      break;
    case core::sip_method::subscribe:
      acting_for = req.from().uri;
      break;
    default:
      return true; // OPTIONS needs no credentials
  }
  auto challenge = [&](bool stale, std::string_view reason) {
    ++st.counters.auth_challenges;
    auto b = respond(self, ctx, req, 401, reason);
    for (auto& c : st.auth->challenge(now, stale))
      b.header(core::header_id::www_authenticate, c);
    send_response(self, ctx, b);
    return false;
  };
  auto credentials = req.authorization();
  if (credentials.empty())
    return challenge(false, "Unauthorized");
  auto outcome = st.auth->verify(req.cseq().method_token, credentials,
                                 *st.settings.auth->credentials, now, req.request_uri());
  if (outcome.status == core::digest_status::stale_nonce)
    return challenge(true, "Unauthorized (stale nonce)");
  if (!outcome.ok()) {
    ++st.counters.auth_failures;
    spdlog::info("sip: authentication failed for {} from {}: {}", acting_for,
                 to_string(ctx.from), outcome.reason);
    auto status = core::sip_status(outcome.status);
    if (status == 401)
      return challenge(false, "Unauthorized");
    reply(self, ctx, req, status, status == 403 ? "Forbidden" : "Bad Authorization");
    return false;
  }
  auto aor = core::canonical_aor(acting_for);
  if (!aor || core::aor_user(*aor) != outcome.username) {
    ++st.counters.auth_failures;
    reply(self, ctx, req, 403, "Forbidden (not your address of record)");
    return false;
  }
  return true;
}

void on_inbound(edge_actor* self, sip_inbound& in) {
  auto& st = self->state;
  if (core::is_crlf_keepalive(in.bytes))
    return;
  // A watcher's answer to a NOTIFY (most of a fan-out's inbound traffic):
  // status, branch and CSeq method are all a client transaction needs; the
  // full parse is for anything else.
  if (auto pk = core::peek_response(in.bytes)) {
    on_response(self, pk->status, pk->branch, pk->cseq_method);
    return;
  }
  request_ctx ctx;
  ctx.from = std::move(in.from);
  ctx.raw = std::make_shared<std::string>(std::move(in.bytes));
  auto parsed = core::parse_sip_message(*ctx.raw, framing_of(ctx.from),
                                        st.settings.limits);
  if (!parsed) {
    ++st.counters.malformed;
    spdlog::debug("sip: malformed message from {}: {}", to_string(ctx.from),
                  parsed.err().phrase());
    // 400 (or 513) with the reason when the transaction can be identified;
    // otherwise there is nobody to answer (RFC 3261 §21.4.1).
    auto answer = core::make_error_response(*ctx.raw, parsed.err(), st.settings.limits);
    if (answer.empty())
      ++st.counters.dropped;
    else
      st.out->send(ctx.from, std::move(answer));
    return;
  }
  auto& req = *parsed;
  if (req.is_response()) {
    if (!req.vias().empty())
      on_response(self, req.status(), req.vias().front().branch, req.cseq().method_token);
    return;
  }
  if (req.method() == core::sip_method::ack)
    return; // never answered
  ++st.counters.requests;
  if (spdlog::should_log(spdlog::level::debug)) // to_string(from) costs an allocation
    spdlog::debug("sip: {} {} from {}", core::to_string(req.method()), req.request_uri(),
                  to_string(ctx.from));
  auto now = self->clock().now();
  if (ctx.from.proto == core::transport::udp) {
    ctx.txn = core::server_transaction_key(req);
    auto found = st.txns.begin(ctx.txn, now);
    if (found.st != core::server_transactions::state::fresh) {
      ++st.counters.retransmissions_absorbed;
      if (found.st == core::server_transactions::state::answered)
        st.out->send(ctx.from, *found.response);
      return;
    }
  }
  if (st.limiter && !st.limiter->allow(ctx.from.ip, now)) {
    ++st.counters.rate_limited;
    auto b = respond(self, ctx, req, 503, "Service Unavailable (rate limit)");
    b.header("Retry-After",
             std::max(st.settings.retry_after, st.limiter->retry_after(ctx.from.ip, now)));
    send_response(self, ctx, b);
    return;
  }
  if (!acceptable(self, ctx, req) || !authorized(self, ctx, req, now))
    return;
  switch (req.method()) {
    case core::sip_method::register_:
      on_register(self, ctx, req);
      return;
    case core::sip_method::options: {
      auto b = respond(self, ctx, req, 200, "OK");
      b.header(core::header_id::allow, allow_value);
      b.header(core::header_id::accept, "application/pidf+xml");
      b.header(core::header_id::allow_events, "presence");
      b.header(core::header_id::supported, "path");
      send_response(self, ctx, b);
      return;
    }
    case core::sip_method::subscribe:
      on_subscribe(self, ctx, req);
      return;
    case core::sip_method::publish:
      on_publish(self, ctx, req);
      return;
    default:
      return; // answered by acceptable()
  }
}

/// The listener a restored dialog's NOTIFYs leave from: the first of its
/// transport and address family (the dialog does not keep the index, which
/// a changed configuration would make wrong anyway).
std::optional<uint32_t> listener_for(const edge_state& st, core::transport proto,
                                     const std::string& ip) {
  bool v6 = ip.find(':') != std::string::npos;
  for (auto& l : st.settings.listeners)
    if (l.addr.proto == proto && (l.addr.host.find(':') != std::string::npos) == v6)
      return l.index;
  return std::nullopt;
}

/// "1.2.3.4:5060" or "[::1]:5060" -> address and port.
bool split_hostport(const std::string& s, std::string& ip, uint16_t& port) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 >= s.size())
    return false;
  ip = s.substr(0, colon);
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']')
    ip = ip.substr(1, ip.size() - 2);
  unsigned long p = 0;
  for (auto c : s.substr(colon + 1)) {
    if (c < '0' || c > '9')
      return false;
    p = p * 10 + static_cast<unsigned long>(c - '0');
    if (p > 65535)
      return false;
  }
  port = static_cast<uint16_t>(p);
  return !ip.empty() && p != 0;
}

/// The dialogs of the subscriptions read back from the journal
/// (engine::resumable): NOTIFYs go where the SUBSCRIBE came from, over a
/// new TCP connection when it came over TCP. One without a usable address
/// or listener is skipped (logged); its subscription then just expires.
void restore_dialogs(edge_state& st,
                     std::shared_ptr<const std::vector<stored_watcher>> resumable) {
  if (!resumable)
    return;
  for (auto& w : *resumable) {
    if (st.dialogs.count(w.sub.id) > 0)
      continue; // adopted twice (rebalance and take-over), or ours anyway
    auto& di = w.dialog;
    sip_dialog d;
    if (!split_hostport(di.received, d.peer.ip, d.peer.port)) {
      spdlog::warn("sip: subscription {} not resumed: bad address '{}'", w.sub.id,
                   di.received);
      continue;
    }
    auto l = listener_for(st, di.transport_type, d.peer.ip);
    if (!l) {
      spdlog::warn("sip: subscription {} not resumed: no {} listener", w.sub.id,
                   di.transport_type == core::transport::tcp ? "TCP" : "UDP");
      continue;
    }
    d.peer.proto = di.transport_type;
    d.peer.listener = *l;
    d.call_id = di.call_id;
    d.local_tag = di.local_tag;
    d.remote_tag = di.remote_tag;
    d.local_uri = di.local_uri;
    d.remote_uri = di.remote_uri;
    d.remote_target = di.remote_target;
    d.route_set = di.route_set;
    d.event_id = w.sub.event_id;
    // The next NOTIFY carries a higher version than any sent before the
    // restart (engine's restart_version_gap).
    d.cseq = w.sub.version;
    st.by_dialog[d.call_id + "|" + d.local_tag] = w.sub.id;
    st.resume[w.sub.target].push_back(w.sub.id);
    st.dialogs.emplace(w.sub.id, std::move(d));
  }
  if (!st.dialogs.empty())
    spdlog::info("sip: {} subscription dialogs restored", st.dialogs.size());
}

/// Asks each restored subscription's target for a NOTIFY with the current
/// state (once, after the bus subscription is in place).
void resume_notifies(edge_actor* self) {
  auto& st = self->state;
  for (auto& [target, ids] : st.resume)
    self->send(st.refs->shard_for(target), resume_watchers_request{target, std::move(ids)});
  st.resume.clear();
}

caf::behavior sip_edge(edge_actor* self, std::shared_ptr<const engine_refs> refs,
                       subscription_supervisor_actor subs,
                       std::shared_ptr<sip_sender> out, sip_edge_settings settings,
                       std::shared_ptr<const std::vector<stored_watcher>> resumable) {
  auto& st = self->state;
  st.refs = std::move(refs);
  st.subscriptions = std::move(subs);
  st.out = std::move(out);
  st.settings = std::move(settings);
  st.txns = core::server_transactions{st.settings.transaction_keep};
  if (st.settings.rate_limit)
    st.limiter.emplace(*st.settings.rate_limit);
  if (st.settings.auth) {
    // Settings are checked by whoever built them (daemon_config); a bad
    // one here is a programming error: the edge then refuses to run.
    auto a = core::digest_authenticator::make(st.settings.auth->digest);
    if (!a || !st.settings.auth->credentials) {
      spdlog::error("sip: bad digest settings: {}",
                    a ? std::string{"no credentials"} : std::string{a.err().phrase()});
      self->quit(caf::make_error(caf::sec::invalid_argument, "bad digest settings"));
      return {};
    }
    st.auth.emplace(std::move(*a));
  }
  restore_dialogs(st, std::move(resumable));
  // NotifyRequired events become NOTIFYs for the dialogs of this edge.
  self->send(st.refs->bus, bus_subscribe{caf::actor_cast<caf::actor>(self),
                                         event_bit(event_kind::notify_required)});
  return {
    [=](sip_inbound& in) {
      auto& st2 = self->state;
      bool udp = in.from.proto == core::transport::udp;
      auto held = st2.udp_registers_held;
      on_inbound(self, in);
      flush_registers(self);
      if (udp && st2.udp_registers_held == held)
        st2.out->consumed(1);
    },
    [=](std::vector<sip_inbound>& burst) {
      // Datagrams the transport read in one go: handled in order, their
      // REGISTERs go to the engine as one batch per shard.
      auto& st2 = self->state;
      auto held = st2.udp_registers_held;
      for (auto& in : burst)
        on_inbound(self, in);
      flush_registers(self);
      auto queued = static_cast<size_t>(st2.udp_registers_held - held);
      if (burst.size() > queued)
        st2.out->consumed(burst.size() - queued);
    },
    [=](sip_connection_closed&) {
      // Dialogs keep their peer: the next NOTIFY opens a new connection to
      // the same address (RFC 3261 §18.2.2), or times out and ends it.
    },
    [=](retransmit_atom, uint64_t timer_id) { on_notify_timer(self, timer_id); },
    [=](sweep_atom) { on_sweep(self); },
    [=](caf::ok_atom) {
      // bus_subscribe acknowledged: from now on the engine emits
      // NotifyRequired, so the resumed subscriptions get their NOTIFY.
      resume_notifies(self);
    },
    [=](event_batch& batch) {
      auto& st2 = self->state;
      st2.counters.events_dropped += batch.dropped;
      // To the bus that sent it (this node's or another member's), once
      // the NOTIFYs of the batch are out.
      caf::actor bus;
      if (auto sender = self->current_sender())
        bus = caf::actor_cast<caf::actor>(sender);
      auto before = st2.fanouts.size();
      for (auto& m : batch.events)
        if (m.match_elements<notify_required_event>())
          st2.fanouts.push_back(fanout_work{m, 0, nullptr});
      if (st2.fanouts.size() == before) {
        if (bus)
          self->send(bus, event_ack{});
      } else {
        st2.fanouts.back().ack_to = bus;
      }
      // Otherwise a fanout_atom is on its way already.
      if (before == 0)
        run_fanouts(self);
    },
    [=](fanout_atom) {
      self->state.fanout_pending = false;
      run_fanouts(self);
    },
    [=](adopt_dialogs& x) {
      // Dialogs of a lost member's edge, for users this node owns: NOTIFYs
      // go from here now, starting with one with the current state (its
      // Contact is ours: the watcher's refreshes come here).
      auto& st2 = self->state;
      auto before = st2.dialogs.size();
      restore_dialogs(st2, std::make_shared<const std::vector<stored_watcher>>(
                             std::move(x.watchers)));
      if (st2.dialogs.size() > before)
        spdlog::warn("sip: adopted {} subscription dialogs of a lost cluster member",
                     st2.dialogs.size() - before);
      resume_notifies(self);
    },
    [=](cluster_routes& routes) {
      fail_lost_members(self, routes);
      // The users of a subscription's target live on its owner, whose bus
      // emits the NotifyRequired: listen to every member's bus (each event
      // comes once per member, the body rendered once; the edge keeps the
      // entries of its own dialogs).
      auto& st2 = self->state;
      std::vector<event_bus_actor> buses;
      for (auto& m : routes.members)
        if (m.bus && m.bus != st2.refs->bus)
          buses.push_back(m.bus);
      for (auto& b : st2.remote_buses)
        if (std::find(buses.begin(), buses.end(), b) == buses.end())
          self->send(b, bus_unsubscribe{caf::actor_cast<caf::actor>(self)});
      for (auto& b : buses)
        if (std::find(st2.remote_buses.begin(), st2.remote_buses.end(), b)
            == st2.remote_buses.end())
          self->send(b, bus_subscribe{caf::actor_cast<caf::actor>(self),
                                      event_bit(event_kind::notify_required)});
      st2.remote_buses = std::move(buses);
    },
    [=](terminate_atom) {
      // Shutdown: tell every watcher its subscription ends, so it
      // re-subscribes (RFC 6665 §4.2.2 "deactivated") instead of waiting
      // for NOTIFYs that will not come. Sent once, not retransmitted.
      auto& st2 = self->state;
      auto n = st2.dialogs.size();
      // With a journal the subscriptions outlive the process: the next
      // start resumes them (resume_dialogs), nothing ends here.
      if (st2.refs->persistent())
        n = 0;
      else
        for (auto& [id, d] : st2.dialogs)
          send_notify(self, id, d, d.cseq + 1, core::subscription_state::terminated,
                      core::termination_reason::deactivated, 0, {});
      st2.pending.clear();
      st2.dialogs.clear();
      st2.by_dialog.clear();
      return static_cast<uint64_t>(n);
    },
    [=](caf::get_atom, stats_atom) {
      auto& c = self->state.counters;
      return caf::make_message(c.requests, c.responses, c.retransmissions_absorbed,
                               c.malformed, c.rate_limited, c.notifies_sent,
                               c.notify_retransmissions, c.notify_failures,
                               static_cast<uint64_t>(self->state.dialogs.size()));
    },
  };
}

} // namespace

caf::actor spawn_sip_edge(caf::actor_system& sys, const engine& eng,
                          std::shared_ptr<sip_sender> out, sip_edge_settings settings) {
  return sys.spawn(sip_edge, eng.refs, eng.subscriptions, std::move(out),
                   std::move(settings), eng.resumable);
}

sip_server::sip_server(std::shared_ptr<sip_transport> t, caf::actor edge)
  : transport_(std::move(t)), edge_(std::move(edge)) {
  // nop
}

sip_server::~sip_server() {
  stop();
}

const std::vector<bound_listener>& sip_server::listeners() const {
  static const std::vector<bound_listener> none;
  return transport_ ? transport_->listeners() : none;
}

void sip_server::stop() {
  if (transport_)
    transport_->stop();
  if (transport_ && edge_) {
    auto& s = transport_->stats();
    spdlog::info("sip: {} datagrams in {} bursts, {} TCP messages; UDP reads paused {} "
                 "times (edge behind)",
                 s.datagrams_in.load(), s.datagram_bursts.load(), s.stream_messages_in.load(),
                 s.udp_pauses.load());
  }
  if (edge_)
    caf::anon_send_exit(edge_, caf::exit_reason::user_shutdown);
  edge_ = nullptr;
}

caf::expected<sip_server> start_sip_server(caf::actor_system& sys, const engine& eng,
                                           const std::vector<listen_address>& where,
                                           sip_edge_settings settings,
                                           transport_limits limits) {
  // TCP takes what UDP takes: one limit for the whole message.
  limits.stream.max_body = settings.limits.max_message_size;
  limits.stream.max_header_section = settings.limits.max_message_size;
  auto t = std::make_shared<sip_transport>(limits);
  for (auto& w : where) {
    bound_listener l;
    std::string err;
    if (!t->bind(w, l, err))
      return caf::make_error(caf::sec::cannot_open_port, err);
  }
  settings.listeners = t->listeners();
  auto edge = spawn_sip_edge(sys, eng, t, std::move(settings));
  t->start(edge);
  return sip_server{std::move(t), std::move(edge)};
}

} // namespace regcore::actors
