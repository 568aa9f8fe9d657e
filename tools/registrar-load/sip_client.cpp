// SPDX-License-Identifier: MIT
#include "sip_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <queue>
#include <set>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "core/sip_message.hpp"
#include "core/stream_framer.hpp"

namespace regcore::load {

namespace {

using namespace std::chrono_literals;

/// One local socket: a UDP socket bound to 127.0.0.1:0 (or ::1), or one TCP
/// connection to the target. Users are spread over the sockets.
struct local_socket {
  int fd = -1;
  uint16_t port = 0;
  /// The registrar this socket talks to (--target, or an --also-target).
  sockaddr_storage to{};
  socklen_t to_len = 0;
  bool tcp = false;
  core::stream_framer framer;
  std::string outq;       // TCP bytes not yet written
  bool want_write = false;
};

enum class txn_kind : uint8_t {
  setup_register,
  setup_subscribe,
  check_subscribe,
  measured_register,
  publish,
  verify_register, ///< verify: REGISTER query of one AOR (no Contact)
  verify_publish,  ///< verify: PUBLISH refresh with SIP-If-Match, no body
};

// -- verify: what the ack log says was acknowledged ------------------------------------

/// The last acknowledged state of one binding (expires 0: removed).
struct expected_binding {
  std::string uri;
  uint32_t expires = 0;
};

/// One REGISTER query: the bindings of an AOR that must be there (or not).
struct register_check {
  std::string aor;
  std::vector<expected_binding> bindings;
};

/// One PUBLISH refresh: the last acknowledged ETag of an AOR.
struct publish_check {
  std::string aor;
  std::string etag;
  uint32_t expires = 0; // 0: the publication was removed
};

/// An acknowledgement may predate its "# time" mark a little (the 200 sat in
/// a socket buffer) and the server rounds expiry to seconds: what expires
/// within this margin of the verification is not checked.
constexpr int64_t expiry_margin_ms = 3000;

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// A client transaction (RFC 3261 §17.1.2, non-INVITE), keyed by the
/// number in its Via branch.
struct client_txn {
  txn_kind kind = txn_kind::measured_register;
  uint64_t subject = 0;   // binding, watcher or publisher index
  uint32_t sock = 0;
  time_point due{};       // when the operation was due (open loop) or sent
  time_point deadline{};  // timer B / F
  time_point next_timer{};
  clock_type::duration interval{};
  std::string bytes;      // for UDP retransmissions
  uint64_t seq = 0;       // publish: the update number
};

struct watcher {
  bool active = false;   // got its first NOTIFY
  uint64_t seen = 0;     // last update number it saw
  uint32_t last_cseq = 0; // highest NOTIFY CSeq received in its dialog
};

/// As in engine mode: one update in flight per publisher, so the NOTIFY
/// carrying update k is well defined; later due updates wait in `backlog`.
struct publisher {
  std::string etag;
  uint32_t cseq = 0;
  uint64_t seq = 0;
  bool busy = false;
  bool replied = false;
  uint64_t remaining = 0; // watchers that still have to see update `seq`
  time_point due{};
  std::string note;
  std::deque<time_point> backlog;
  // --update-log: when the current update's PUBLISH left, its 2xx came,
  // its first and last NOTIFY came; NOTIFYs of it seen, retransmitted ones.
  time_point sent{};
  time_point replied_at{};
  time_point first_at{};
  time_point last_at{};
  uint64_t notified = 0;
  uint64_t repeated = 0;
};

enum class phase : uint8_t { setup_register, setup_subscribe, measure, check, finished };

constexpr const char* branch_prefix = "z9hG4bK-rl";

class sip_load {
public:
  sip_load(const options& opt, recorder& rec, ack_log& acks,
           const std::function<void()>& idle)
    : opt_(opt), rec_(rec), acks_(acks), idle_(idle), pl_(plan::of(opt)) {
    tcp_ = opt.transport == "tcp";
    // A REGISTER query's 200 lists every binding of the AOR.
    limits_.max_contacts = 4096;
  }

  ~sip_load() {
    if (update_log_)
      std::fclose(update_log_);
    for (auto& s : socks_)
      if (s.fd >= 0)
        ::close(s.fd);
    if (ep_ >= 0)
      ::close(ep_);
  }

  std::string run();

  const verify_result& verified() const noexcept { return vr_; }

private:
  // -- sockets -----------------------------------------------------------------------
  std::string open_sockets();
  void send_on(uint32_t sock, const std::string& bytes, const sockaddr* to = nullptr,
               socklen_t to_len = 0);
  void flush_tcp(local_socket& s);
  std::string on_readable(uint32_t sock);
  void on_datagram(uint32_t sock, std::string_view data, const sockaddr_storage& from,
                   socklen_t from_len);
  void answer(uint32_t sock, std::string bytes, const sockaddr_storage& to, socklen_t to_len);
  void flush_answers(uint32_t sock);
  void count_local_drops();

  // -- requests --------------------------------------------------------------------
  std::string via(uint32_t sock, uint64_t id) const;
  std::string contact_uri(uint32_t sock, const std::string& user) const;
  std::string aor(const std::string& user) const { return "sip:" + user + "@" + opt_.domain; }
  std::string user_name(uint64_t u) const { return load::user_name(opt_, u); }
  std::string publisher_user(uint64_t p) const {
    return opt_.sc == scenario::mixed ? user_name(p)
                                      : opt_.user_prefix + "p" + std::to_string(p);
  }
  void start_txn(uint64_t id, txn_kind kind, uint64_t subject, uint32_t sock, time_point due,
                 std::string bytes, uint64_t seq = 0);
  void send_register(txn_kind kind, uint64_t binding, uint32_t expires, time_point due);
  void send_subscribe(txn_kind kind, uint64_t k, const std::string& watcher_user,
                      const std::string& target_user);
  void send_publish(uint32_t p, time_point due);
  std::string register_contact(uint64_t binding) const;

  // -- verify ----------------------------------------------------------------------
  std::string load_acks();
  void send_register_query(uint64_t k, time_point due);
  void send_publish_check(uint64_t k, time_point due);
  void verify_register_done(const register_check& chk, int status,
                            const core::sip_message* msg);
  void verify_publish_done(const publish_check& chk, int status,
                           const core::sip_message* msg);
  void note_missing(std::string what);
  void note_problem(std::string what);

  // -- responses and NOTIFYs -------------------------------------------------------
  void on_response(const core::sip_message& msg);
  void on_notify(const core::sip_message& msg, uint32_t sock, const sockaddr_storage& from,
                 socklen_t from_len);
  void txn_done(uint64_t id, client_txn& t, int status, const core::sip_message* msg);
  void update_done(uint32_t p, const std::string& error);
  void issue_update(uint32_t p, time_point due);

  // -- driving ---------------------------------------------------------------------
  void pump(time_point now);
  void issue_measured(uint64_t i, time_point due);
  void fire_timers(time_point now);
  void start_measure(time_point now);
  void setup_one(bool ok);

  const options& opt_;
  recorder& rec_;
  // Answers to the NOTIFYs of one recvmmsg burst, sent with one sendmmsg.
  bool batching_ = false;
  std::vector<std::string> out_bytes_;
  std::vector<sockaddr_storage> out_to_;
  std::vector<socklen_t> out_len_;
  // --gap: no update starts before this time.
  time_point hold_until_{};
  time_point measure_start_{};
  std::FILE* update_log_ = nullptr;
  ack_log& acks_;
  const std::function<void()>& idle_;
  plan pl_;
  bool tcp_ = false;
  int ep_ = -1;
  sockaddr_storage target_{};
  socklen_t target_len_ = 0;
  std::string local_ip_ = "127.0.0.1";
  std::vector<local_socket> socks_;
  uint64_t rcvbuf_min_ = 0;

  std::unordered_map<uint64_t, client_txn> txns_;
  uint64_t next_id_ = 1;
  using timer_entry = std::pair<time_point, uint64_t>;
  std::priority_queue<timer_entry, std::vector<timer_entry>, std::greater<>> timers_;
  // Deadline of each presence update: (deadline, publisher << 32 | seq low bits)
  std::priority_queue<timer_entry, std::vector<timer_entry>, std::greater<>> update_timers_;

  phase ph_ = phase::setup_register;
  uint64_t setup_next_ = 0;
  uint64_t setup_done_ = 0;
  uint64_t setup_errors_ = 0;
  uint64_t subs_answered_ = 0;
  uint64_t watchers_active_ = 0;
  time_point setup_notify_deadline_{};
  uint64_t outstanding_ = 0;
  std::optional<pacer> pace_;
  std::vector<uint32_t> cseq_; // per binding (refresh, unregister, mixed)
  std::vector<watcher> watchers_;
  std::vector<publisher> pubs_;
  uint64_t mixed_refresh_next_ = 0;
  uint64_t mixed_publish_next_ = 0;
  uint64_t checks_pending_ = 0;
  time_point check_deadline_{};
  std::string fatal_;
  // verify
  std::vector<register_check> vreg_;
  std::vector<publish_check> vpub_;
  verify_result vr_;
  // Parse buffers reused across messages.
  core::sip_message msg_;
  core::sip_limits limits_;
};

// -- sockets -------------------------------------------------------------------------

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

std::string sip_load::open_sockets() {
  // Resolve the target (numeric or a name such as localhost).
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = tcp_ ? SOCK_STREAM : SOCK_DGRAM;
  addrinfo* res = nullptr;
  auto port = std::to_string(opt_.target_port);
  if (int rc = getaddrinfo(opt_.target_host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return "cannot resolve " + opt_.target_host + ": " + gai_strerror(rc);
  std::memcpy(&target_, res->ai_addr, res->ai_addrlen);
  target_len_ = static_cast<socklen_t>(res->ai_addrlen);
  int family = res->ai_family;
  freeaddrinfo(res);
  // The other targets (cluster nodes), same family.
  std::vector<std::pair<sockaddr_storage, socklen_t>> targets{{target_, target_len_}};
  for (auto& t : opt_.also_targets) {
    auto colon = t.rfind(':');
    auto host = t.substr(0, colon);
    if (host.size() > 2 && host.front() == '[')
      host = host.substr(1, host.size() - 2);
    addrinfo* r = nullptr;
    hints.ai_family = family;
    if (int rc = getaddrinfo(host.c_str(), t.substr(colon + 1).c_str(), &hints, &r); rc != 0)
      return "cannot resolve " + t + ": " + gai_strerror(rc);
    sockaddr_storage a{};
    std::memcpy(&a, r->ai_addr, r->ai_addrlen);
    targets.emplace_back(a, static_cast<socklen_t>(r->ai_addrlen));
    freeaddrinfo(r);
  }
  if (family == AF_INET6)
    local_ip_ = "[::1]";
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  if (ep_ < 0)
    return errno_text("epoll_create1");
  socks_.resize(opt_.sockets);
  for (uint32_t i = 0; i < opt_.sockets; ++i) {
    auto& s = socks_[i];
    s.tcp = tcp_;
    s.to = targets[i % targets.size()].first;
    s.to_len = targets[i % targets.size()].second;
    s.fd = ::socket(family, (tcp_ ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
    if (s.fd < 0)
      return errno_text("socket");
    // Bursts of thousands of datagrams: big buffers keep the kernel from
    // dropping what the server sends while we are busy sending.
    // SO_RCVBUFFORCE (root / CAP_NET_ADMIN) goes past net.core.rmem_max,
    // which caps SO_RCVBUF: a 10k-watcher fan-out is ~10k datagrams of
    // ~1 KB in a burst. The size obtained is reported (udp_rcvbuf_bytes:
    // the kernel's value, twice the request, the smallest of our sockets).
    int want = static_cast<int>(opt_.rcvbuf);
    if (!tcp_ && setsockopt(s.fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0)
      setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    else if (tcp_)
      setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    int big = 8 << 20;
    setsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (!tcp_) {
      int got = 0;
      socklen_t got_len = sizeof got;
      if (getsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &got, &got_len) == 0) {
        auto& c = rcvbuf_min_;
        c = c == 0 ? static_cast<uint64_t>(got) : std::min<uint64_t>(c, static_cast<uint64_t>(got));
      }
    }
    if (tcp_) {
      // A blocking connect to loopback returns at once; then non-blocking.
      if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&s.to), s.to_len) != 0)
        return errno_text("connect to " + opt_.target);
      int one = 1;
      setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    } else {
      sockaddr_storage local{};
      socklen_t len = 0;
      if (family == AF_INET6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&local);
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof(sockaddr_in6);
      } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&local);
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(sockaddr_in);
      }
      if (::bind(s.fd, reinterpret_cast<const sockaddr*>(&local), len) != 0)
        return errno_text("bind");
    }
    sockaddr_storage me{};
    socklen_t me_len = sizeof me;
    getsockname(s.fd, reinterpret_cast<sockaddr*>(&me), &me_len);
    s.port = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&me)->sin6_port
                                      : reinterpret_cast<sockaddr_in*>(&me)->sin_port);
    fcntl(s.fd, F_SETFL, fcntl(s.fd, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = i;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, s.fd, &ev) != 0)
      return errno_text("epoll_ctl");
  }
  return {};
}

void sip_load::send_on(uint32_t sock, const std::string& bytes, const sockaddr* to,
                       socklen_t to_len) {
  auto& s = socks_[sock];
  if (s.tcp) {
    s.outq += bytes;
    flush_tcp(s);
    return;
  }
  if (!to) {
    to = reinterpret_cast<const sockaddr*>(&s.to);
    to_len = s.to_len;
  }
  if (::sendto(s.fd, bytes.data(), bytes.size(), 0, to, to_len) < 0)
    // A full socket buffer loses this datagram; the retransmission timer
    // (requests) or the server's retransmission (our NOTIFY answers) covers it.
    rec_.count("udp_send_failed");
}

void sip_load::flush_tcp(local_socket& s) {
  while (!s.outq.empty()) {
    auto n = ::send(s.fd, s.outq.data(), s.outq.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      fatal_ = errno_text("TCP send");
      return;
    }
    s.outq.erase(0, static_cast<size_t>(n));
  }
  bool want = !s.outq.empty();
  if (want != s.want_write) {
    s.want_write = want;
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    ev.data.u32 = static_cast<uint32_t>(&s - socks_.data());
    epoll_ctl(ep_, EPOLL_CTL_MOD, s.fd, &ev);
  }
}

std::string sip_load::on_readable(uint32_t sock) {
  auto& s = socks_[sock];
  if (s.tcp) {
    char buf[65536];
    for (;;) {
      auto n = ::recv(s.fd, buf, sizeof buf, 0);
      if (n == 0)
        return "the server closed TCP connection " + std::to_string(sock);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
          break;
        return errno_text("TCP recv");
      }
      s.framer.feed(std::string_view{buf, static_cast<size_t>(n)});
      for (;;) {
        auto item = s.framer.next();
        if (!item)
          return "TCP framing: " + std::string{item.err().phrase()};
        if (!*item)
          break;
        if ((*item)->kind == core::stream_item::message)
          on_datagram(sock, (*item)->bytes, s.to, s.to_len);
      }
    }
    return {};
  }
  // UDP: drain the socket, 32 datagrams per system call.
  constexpr unsigned batch = 32;
  static thread_local std::vector<char> bufs(batch * 65536);
  mmsghdr msgs[batch];
  iovec iovs[batch];
  sockaddr_storage froms[batch];
  for (;;) {
    for (unsigned i = 0; i < batch; ++i) {
      iovs[i] = {bufs.data() + i * 65536, 65536};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &froms[i];
      msgs[i].msg_hdr.msg_namelen = sizeof froms[i];
    }
    int n = recvmmsg(s.fd, msgs, batch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      if (errno == ECONNREFUSED) {
        // An ICMP port unreachable for an earlier datagram: the server is
        // not (yet / any more) there; the transactions will time out.
        rec_.count("icmp_unreachable");
        continue;
      }
      return errno_text("recvmmsg");
    }
    batching_ = true;
    for (int i = 0; i < n; ++i)
      on_datagram(sock, std::string_view{bufs.data() + i * 65536, msgs[i].msg_len}, froms[i],
                  msgs[i].msg_hdr.msg_namelen);
    batching_ = false;
    flush_answers(sock);
    if (static_cast<unsigned>(n) < batch)
      break;
  }
  return {};
}

void sip_load::on_datagram(uint32_t sock, std::string_view data, const sockaddr_storage& from,
                           socklen_t from_len) {
  if (core::is_crlf_keepalive(data))
    return;
  auto framing = socks_[sock].tcp ? core::sip_framing::stream : core::sip_framing::datagram;
  if (auto r = core::parse_sip_message(msg_, data, framing, limits_); !r) {
    rec_.count("unparsable_messages");
    return;
  }
  if (msg_.is_response())
    on_response(msg_);
  else
    on_notify(msg_, sock, from, from_len);
}

/// A response to a request of the server (a NOTIFY's 200): sent at once,
/// or, inside a recvmmsg burst, with the burst's other answers in one
/// sendmmsg (fewer system calls: the load generator shares the cores).
void sip_load::answer(uint32_t sock, std::string bytes, const sockaddr_storage& to,
                      socklen_t to_len) {
  if (!batching_ || socks_[sock].tcp) {
    send_on(sock, bytes, reinterpret_cast<const sockaddr*>(&to), to_len);
    return;
  }
  out_bytes_.push_back(std::move(bytes));
  out_to_.push_back(to);
  out_len_.push_back(to_len);
}

void sip_load::flush_answers(uint32_t sock) {
  size_t n = out_bytes_.size();
  std::vector<mmsghdr> msgs(n);
  std::vector<iovec> iovs(n);
  for (size_t i = 0; i < n; ++i) {
    iovs[i] = {out_bytes_[i].data(), out_bytes_[i].size()};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &out_to_[i];
    msgs[i].msg_hdr.msg_namelen = out_len_[i];
  }
  size_t done = 0;
  while (done < n) {
    int k = sendmmsg(socks_[sock].fd, msgs.data() + done, static_cast<unsigned>(n - done), 0);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      // As in send_on: the server retransmits what we could not answer.
      rec_.count("udp_send_failed", n - done);
      break;
    }
    done += static_cast<size_t>(k);
  }
  out_bytes_.clear();
  out_to_.clear();
  out_len_.clear();
}

/// The kernel's per-socket count of datagrams dropped because the receive
/// buffer was full (the last column of /proc/net/udp and udp6), summed over
/// our UDP sockets: udp_drops_local. The host-wide counter (/proc/net/snmp
/// Udp RcvbufErrors) also counts the server's drops.
void sip_load::count_local_drops() {
  if (tcp_)
    return;
  std::set<uint16_t> ports;
  for (auto& s : socks_)
    ports.insert(s.port);
  uint64_t drops = 0;
  for (auto* path : {"/proc/net/udp", "/proc/net/udp6"}) {
    std::ifstream in{path};
    std::string line;
    std::getline(in, line); // header
    while (std::getline(in, line)) {
      // "  sl  local_address rem_address st tx_queue:rx_queue ... drops"
      std::istringstream f{line};
      std::string sl, local, last, w;
      if (!(f >> sl >> local))
        continue;
      while (f >> w)
        last = w;
      auto colon = local.rfind(':');
      if (colon == std::string::npos)
        continue;
      auto port = static_cast<uint16_t>(std::stoul(local.substr(colon + 1), nullptr, 16));
      if (ports.count(port))
        drops += std::stoull(last);
    }
  }
  rec_.count("udp_drops_local", drops);
}

// -- requests ----------------------------------------------------------------------

std::string sip_load::via(uint32_t sock, uint64_t id) const {
  std::string v = tcp_ ? "SIP/2.0/TCP " : "SIP/2.0/UDP ";
  v += local_ip_;
  v += ':';
  v += std::to_string(socks_[sock].port);
  v += ";branch=";
  v += branch_prefix;
  v += std::to_string(id);
  v += ";rport";
  return v;
}

std::string sip_load::contact_uri(uint32_t sock, const std::string& user) const {
  auto c = "sip:" + user + "@" + local_ip_ + ":" + std::to_string(socks_[sock].port);
  if (tcp_)
    c += ";transport=tcp";
  return c;
}

std::string sip_load::register_contact(uint64_t binding) const {
  auto u = binding / opt_.devices;
  auto d = binding % opt_.devices;
  return contact_uri(static_cast<uint32_t>(binding % socks_.size()),
                     user_name(u) + "." + std::to_string(d));
}

void sip_load::start_txn(uint64_t id, txn_kind kind, uint64_t subject, uint32_t sock,
                         time_point due, std::string bytes, uint64_t seq) {
  auto now = clock_type::now();
  client_txn t;
  t.kind = kind;
  t.subject = subject;
  t.sock = sock;
  t.due = due;
  t.seq = seq;
  t.deadline = now + std::chrono::duration_cast<clock_type::duration>(
                       std::chrono::duration<double>(opt_.timer_b));
  t.interval = std::chrono::duration_cast<clock_type::duration>(
    std::chrono::duration<double>(opt_.t1));
  // Over TCP only timer B/F runs; over UDP timer A/E first.
  t.next_timer = tcp_ ? t.deadline : std::min(t.deadline, now + t.interval);
  send_on(sock, bytes);
  if (!tcp_)
    t.bytes = std::move(bytes);
  timers_.push({t.next_timer, id});
  txns_.emplace(id, std::move(t));
}

void sip_load::send_register(txn_kind kind, uint64_t binding, uint32_t expires,
                             time_point due) {
  auto sock = static_cast<uint32_t>(binding % socks_.size());
  auto u = binding / opt_.devices;
  auto user = user_name(u);
  uint32_t cseq = 1;
  if (!cseq_.empty())
    cseq = ++cseq_[binding];
  auto id = next_id_++;
  std::string m;
  m.reserve(512);
  m += "REGISTER sip:" + opt_.domain + " SIP/2.0\r\n";
  m += "Via: " + via(sock, id) + "\r\n";
  m += "Max-Forwards: 70\r\n";
  m += "From: <" + aor(user) + ">;tag=" + opt_.user_prefix + "b" + std::to_string(binding)
       + "\r\n";
  m += "To: <" + aor(user) + ">\r\n";
  m += "Call-ID: " + opt_.user_prefix + "-b" + std::to_string(binding) + "@rl\r\n";
  m += "CSeq: " + std::to_string(cseq) + " REGISTER\r\n";
  m += "Contact: <" + register_contact(binding) + ">\r\n";
  m += "Expires: " + std::to_string(expires) + "\r\n";
  m += "User-Agent: registrar-load\r\n";
  m += "Content-Length: 0\r\n\r\n";
  start_txn(id, kind, binding, sock, due, std::move(m));
}

void sip_load::send_subscribe(txn_kind kind, uint64_t k, const std::string& watcher_user,
                              const std::string& target_user) {
  auto sock = static_cast<uint32_t>(k % socks_.size());
  auto id = next_id_++;
  std::string m;
  m.reserve(600);
  m += "SUBSCRIBE " + aor(target_user) + " SIP/2.0\r\n";
  m += "Via: " + via(sock, id) + "\r\n";
  m += "Max-Forwards: 70\r\n";
  m += "From: <" + aor(watcher_user) + ">;tag=" + watcher_user + "\r\n";
  m += "To: <" + aor(target_user) + ">\r\n";
  // The Call-ID names the dialog: "<prefix>-w<k>" (watcher k) or
  // "<prefix>-c<k>" (auto-buddy check k); NOTIFYs are matched by it.
  m += "Call-ID: " + opt_.user_prefix + (kind == txn_kind::check_subscribe ? "-c" : "-w")
       + std::to_string(k) + "@rl\r\n";
  m += "CSeq: 1 SUBSCRIBE\r\n";
  m += "Contact: <" + contact_uri(sock, watcher_user) + ">\r\n";
  m += "Event: presence\r\n";
  m += "Accept: application/pidf+xml\r\n";
  m += "Expires: " + std::to_string(opt_.expires) + "\r\n";
  m += "User-Agent: registrar-load\r\n";
  m += "Content-Length: 0\r\n\r\n";
  start_txn(id, kind, k, sock, clock_type::now(), std::move(m));
}

void sip_load::send_publish(uint32_t p, time_point due) {
  auto& pub = pubs_[p];
  auto sock = static_cast<uint32_t>(p % socks_.size());
  auto user = publisher_user(p);
  auto id = next_id_++;
  // The note names the update; watchers recognise its NOTIFY by it.
  pub.note = "rlk-" + std::to_string(p) + "-" + std::to_string(pub.seq);
  std::string body;
  body.reserve(400);
  body += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n";
  body += "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"" + aor(user) + "\">\r\n";
  body += "<tuple id=\"rl" + std::to_string(p) + "\"><status><basic>open</basic></status>";
  body += "<note>" + pub.note + "</note></tuple>\r\n</presence>\r\n";
  std::string m;
  m.reserve(700 + body.size());
  m += "PUBLISH " + aor(user) + " SIP/2.0\r\n";
  m += "Via: " + via(sock, id) + "\r\n";
  m += "Max-Forwards: 70\r\n";
  m += "From: <" + aor(user) + ">;tag=" + user + "\r\n";
  m += "To: <" + aor(user) + ">\r\n";
  m += "Call-ID: " + opt_.user_prefix + "-p" + std::to_string(p) + "@rl\r\n";
  m += "CSeq: " + std::to_string(++pub.cseq) + " PUBLISH\r\n";
  m += "Event: presence\r\n";
  m += "Expires: " + std::to_string(opt_.expires) + "\r\n";
  if (!pub.etag.empty())
    m += "SIP-If-Match: " + pub.etag + "\r\n";
  m += "User-Agent: registrar-load\r\n";
  m += "Content-Type: application/pidf+xml\r\n";
  m += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  m += body;
  pub.sent = clock_type::now();
  start_txn(id, txn_kind::publish, p, sock, due, std::move(m), pub.seq);
}

// -- responses and NOTIFYs ---------------------------------------------------------

void sip_load::on_response(const core::sip_message& msg) {
  if (msg.vias().empty())
    return;
  auto branch = msg.vias().front().branch;
  std::string_view prefix{branch_prefix};
  if (branch.substr(0, prefix.size()) != prefix)
    return;
  uint64_t id = 0;
  for (auto c : branch.substr(prefix.size())) {
    if (c < '0' || c > '9')
      return;
    id = id * 10 + static_cast<uint64_t>(c - '0');
  }
  auto i = txns_.find(id);
  if (i == txns_.end())
    return; // a retransmitted answer to a finished transaction
  if (msg.status() < 200)
    return; // provisional: keep waiting (timer E goes on, as RFC 3261 says)
  auto t = std::move(i->second);
  txns_.erase(i);
  txn_done(id, t, msg.status(), &msg);
}

void sip_load::setup_one(bool ok) {
  ++setup_done_;
  rec_.setup_done.fetch_add(1, std::memory_order_relaxed);
  if (!ok)
    ++setup_errors_;
}

/// A transaction ended: `status` 0 = timeout (msg is null then).
void sip_load::txn_done(uint64_t, client_txn& t, int status, const core::sip_message* msg) {
  auto now = clock_type::now();
  bool ok = status >= 200 && status < 300;
  auto key = status == 0 ? std::string{"timeout"} : std::to_string(status);
  switch (t.kind) {
    case txn_kind::setup_register:
      --outstanding_;
      setup_one(ok);
      break;
    case txn_kind::setup_subscribe:
      --outstanding_;
      ++subs_answered_;
      if (!ok) {
        // This watcher will never be notified: count it as set up (failed).
        ++setup_errors_;
        rec_.count("setup_subscribe_" + key);
      }
      break;
    case txn_kind::check_subscribe:
      if (!ok) {
        rec_.count("buddy_check_failed");
        if (checks_pending_ > 0)
          --checks_pending_;
      }
      break;
    case txn_kind::measured_register: {
      --outstanding_;
      if (!ok) {
        rec_.failure(t.due, now, key);
        break;
      }
      rec_.success(t.due, now);
      if (acks_.enabled() && msg) {
        auto uri = register_contact(t.subject);
        auto u = t.subject / opt_.devices;
        uint32_t expires = msg->expires().value_or(0);
        bool found = false;
        for (auto& c : msg->contacts())
          if (c.uri == uri) {
            expires = c.expires.value_or(expires);
            found = true;
          }
        // Expires: 0 removes the binding: it is absent from the 200.
        if (!found && opt_.sc == scenario::unregister)
          expires = 0;
        acks_.write("REGISTER", aor(user_name(u)), uri, expires);
      }
      break;
    }
    case txn_kind::publish: {
      auto p = static_cast<uint32_t>(t.subject);
      auto& pub = pubs_[p];
      if (!pub.busy || pub.seq != t.seq)
        break;
      if (!ok) {
        if (status == 412)
          pub.etag.clear(); // the publication is gone: start a new one next time
        update_done(p, key);
        break;
      }
      pub.etag = std::string{msg->sip_etag()};
      if (acks_.enabled())
        acks_.write("PUBLISH", aor(publisher_user(p)), pub.etag, msg->expires().value_or(0));
      pub.replied = true;
      pub.replied_at = now;
      if (pub.remaining == 0)
        update_done(p, {});
      break;
    }
    case txn_kind::verify_register:
    case txn_kind::verify_publish: {
      --outstanding_;
      // 412 is an answer too: the publication is gone.
      if (ok || (t.kind == txn_kind::verify_publish && status == 412))
        rec_.success(t.due, now);
      else
        rec_.failure(t.due, now, key);
      if (t.kind == txn_kind::verify_register)
        verify_register_done(vreg_[t.subject], status, msg);
      else
        verify_publish_done(vpub_[t.subject], status, msg);
      break;
    }
  }
}

void sip_load::on_notify(const core::sip_message& msg, uint32_t sock,
                         const sockaddr_storage& from, socklen_t from_len) {
  if (msg.method() == core::sip_method::ack)
    return;
  // Answer first (every request we get is a NOTIFY in one of our dialogs;
  // anything else gets its 200 too rather than a retransmission storm).
  answer(sock, core::make_response(msg, 200, "OK").str(), from, from_len);
  if (msg.method() != core::sip_method::notify)
    return;
  rec_.count("notify_received");
  if (ph_ == phase::measure)
    rec_.count("notifications"); // the measured phase's NOTIFYs (retransmissions too)
  // Which dialog: "<prefix>-w<k>@rl" or "<prefix>-c<k>@rl".
  auto cid = msg.call_id();
  auto head = opt_.user_prefix + "-";
  if (cid.size() < head.size() + 2 || cid.substr(0, head.size()) != head)
    return;
  char kind = cid[head.size()];
  uint64_t k = 0;
  for (auto c : cid.substr(head.size() + 1)) {
    if (c < '0' || c > '9')
      break;
    k = k * 10 + static_cast<uint64_t>(c - '0');
  }
  auto body = msg.body();
  if (kind == 'c') {
    // Auto-buddy check: the first NOTIFY must say the registered user is open.
    if (checks_pending_ == 0)
      return;
    --checks_pending_;
    rec_.count(body.find("<basic>open</basic>") != std::string_view::npos
                 ? "buddy_check_ok"
                 : "buddy_check_failed");
    return;
  }
  if (kind != 'w' || k >= watchers_.size())
    return;
  auto& w = watchers_[k];
  auto p = static_cast<uint32_t>(k / opt_.watchers);
  // CSeq grows with every NOTIFY of a dialog: one not above the last one
  // received is a retransmission (the 200 was lost or late) or came out of
  // order. Answered all the same (above), counted, otherwise ignored.
  auto cseq = msg.cseq().number;
  if (w.active && cseq <= w.last_cseq) {
    rec_.count("notify_repeated");
    if (ph_ == phase::measure)
      rec_.count("notify_repeated_measured");
    if (p < pubs_.size() && pubs_[p].busy)
      ++pubs_[p].repeated;
    return;
  }
  w.last_cseq = cseq;
  if (!w.active) {
    w.active = true;
    ++watchers_active_;
    if (ph_ == phase::setup_subscribe)
      setup_one(true);
  }
  if (p >= pubs_.size())
    return;
  auto& pub = pubs_[p];
  if (!pub.busy || w.seen >= pub.seq || pub.note.empty())
    return;
  // The NOTIFY of this update carries its note (the server renders the
  // PIDF itself, but keeps the note text).
  auto pos = body.find(pub.note);
  if (pos == std::string_view::npos || pos + pub.note.size() >= body.size()
      || body[pos + pub.note.size()] != '<')
    return;
  w.seen = pub.seq;
  auto now = clock_type::now();
  if (pub.notified++ == 0)
    pub.first_at = now;
  pub.last_at = now;
  if (pub.remaining > 0 && --pub.remaining == 0 && pub.replied)
    update_done(p, {});
}

/// Update `seq` of publisher p is complete (error empty) or failed.
void sip_load::update_done(uint32_t p, const std::string& error) {
  auto& pub = pubs_[p];
  auto now = clock_type::now();
  if (error.empty())
    rec_.success(pub.due, now);
  else
    rec_.failure(pub.due, now, error);
  if (opt_.sc == scenario::presence && pub.remaining > 0)
    rec_.count("notify_missing", pub.remaining); // never came before the deadline
  if (update_log_) {
    auto us = [&](time_point t) {
      return t < pub.sent ? -1.0
                          : std::chrono::duration<double, std::micro>(t - pub.sent).count();
    };
    std::fprintf(update_log_, "%u %" PRIu64 " %.6f %.1f %.1f %.1f %.1f %" PRIu64 " %u %" PRIu64
                 " %s\n",
                 p, pub.seq, std::chrono::duration<double>(pub.sent - measure_start_).count(),
                 pub.replied ? us(pub.replied_at) : -1.0, pub.notified ? us(pub.first_at) : -1.0,
                 pub.notified ? us(pub.last_at) : -1.0,
                 std::chrono::duration<double, std::micro>(now - pub.sent).count(), pub.notified,
                 opt_.watchers, pub.repeated, error.empty() ? "ok" : error.c_str());
  }
  if (opt_.gap > 0)
    hold_until_ = now + std::chrono::duration_cast<clock_type::duration>(
                          std::chrono::duration<double>(opt_.gap));
  pub.busy = false;
  --outstanding_;
  if (!pub.backlog.empty()) {
    auto due = pub.backlog.front();
    pub.backlog.pop_front();
    issue_update(p, due);
    --outstanding_; // issue_update counted it again
  }
}

void sip_load::issue_update(uint32_t p, time_point due) {
  ++outstanding_;
  auto& pub = pubs_[p];
  if (pub.busy) {
    pub.backlog.push_back(due);
    return;
  }
  pub.busy = true;
  pub.replied = false;
  pub.notified = 0;
  pub.repeated = 0;
  ++pub.seq;
  // Mixed measures PUBLISH -> 200 only; presence waits for every watcher.
  pub.remaining = opt_.sc == scenario::mixed ? 0 : opt_.watchers;
  pub.due = due;
  send_publish(p, due);
  auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                        std::chrono::duration<double>(opt_.timer_b));
  update_timers_.push({deadline, (uint64_t{p} << 32) | (pub.seq & 0xFFFFFFFF)});
}

// -- verify ------------------------------------------------------------------------

/// Reads --acks: the last line of each binding (AOR + contact) and of each
/// AOR's publication wins (a later PUBLISH replaces the entity tag; a later
/// REGISTER with expires 0 removed the binding). What has expired by now
/// (ack time from the "# time" mark before the line) is not checked.
std::string sip_load::load_acks() {
  std::ifstream in{opt_.acks_path};
  if (!in)
    return "cannot read --acks " + opt_.acks_path;
  // Lines before the first mark (a log of an older registrar-load): the
  // file's modification time stands in.
  int64_t mark_ms = unix_ms_now();
  struct stat st{};
  if (::stat(opt_.acks_path.c_str(), &st) == 0)
    mark_ms = int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1000000;
  struct seen_binding {
    uint32_t expires;
    int64_t acked_ms;
  };
  struct seen_aor {
    std::vector<std::pair<std::string, seen_binding>> bindings;
    std::unordered_map<std::string, size_t> index;
  };
  struct seen_publication {
    std::string etag;
    uint32_t expires;
    int64_t acked_ms;
  };
  std::vector<std::pair<std::string, seen_aor>> aors;
  std::unordered_map<std::string, size_t> aor_index;
  std::vector<std::pair<std::string, seen_publication>> pubs;
  std::unordered_map<std::string, size_t> pub_index;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty())
      continue;
    if (line[0] == '#') {
      // "# time <Unix ms>"
      std::istringstream words{line.substr(1)};
      std::string word;
      int64_t ms = 0;
      if (words >> word >> ms && word == "time" && ms > 0)
        mark_ms = ms;
      continue;
    }
    std::istringstream words{line};
    std::string kind, aor, what, rest;
    uint64_t expires = 0;
    if (!(words >> kind >> aor >> what >> expires) || (words >> rest)
        || expires > UINT32_MAX || (kind != "REGISTER" && kind != "PUBLISH")) {
      ++vr_.bad_lines; // e.g. the last line of a log cut short by a kill
      continue;
    }
    ++vr_.lines;
    auto exp = static_cast<uint32_t>(expires);
    if (kind == "REGISTER") {
      auto [a, fresh] = aor_index.try_emplace(aor, aors.size());
      if (fresh)
        aors.emplace_back(aor, seen_aor{});
      auto& sa = aors[a->second].second;
      auto [b, new_binding] = sa.index.try_emplace(what, sa.bindings.size());
      if (new_binding)
        sa.bindings.emplace_back(what, seen_binding{exp, mark_ms});
      else
        sa.bindings[b->second].second = seen_binding{exp, mark_ms};
    } else {
      auto [p, fresh] = pub_index.try_emplace(aor, pubs.size());
      if (fresh)
        pubs.emplace_back(aor, seen_publication{what, exp, mark_ms});
      else
        pubs[p->second].second = seen_publication{what, exp, mark_ms};
    }
  }
  auto now_ms = unix_ms_now();
  auto alive = [&](uint32_t exp, int64_t acked_ms) {
    return acked_ms + int64_t{exp} * 1000 - expiry_margin_ms > now_ms;
  };
  for (auto& [aor, sa] : aors) {
    register_check chk;
    chk.aor = aor;
    for (auto& [uri, b] : sa.bindings) {
      if (b.expires != 0 && !alive(b.expires, b.acked_ms)) {
        ++vr_.expired;
        continue;
      }
      chk.bindings.push_back({uri, b.expires});
      ++vr_.checked;
      ++vr_.checked_bindings;
    }
    if (!chk.bindings.empty())
      vreg_.push_back(std::move(chk));
  }
  for (auto& [aor, sp] : pubs) {
    if (sp.expires != 0 && !alive(sp.expires, sp.acked_ms)) {
      ++vr_.expired;
      continue;
    }
    vpub_.push_back({aor, sp.etag, sp.expires});
    ++vr_.checked;
    ++vr_.checked_publications;
  }
  return {};
}

void sip_load::note_missing(std::string what) {
  ++vr_.missing;
  if (vr_.missing_list.size() < 20)
    vr_.missing_list.push_back(std::move(what));
}

void sip_load::note_problem(std::string what) {
  if (vr_.problem_list.size() < 20)
    vr_.problem_list.push_back(std::move(what));
}

/// The domain of an AOR "sip:user@host[;params]": the REGISTER's Request-URI.
std::string domain_of(const std::string& aor, const std::string& dflt) {
  auto at = aor.find('@');
  if (at == std::string::npos)
    return dflt;
  auto host = aor.substr(at + 1);
  if (auto semi = host.find(';'); semi != std::string::npos)
    host.resize(semi);
  return host.empty() ? dflt : host;
}

/// RFC 3261 §10.2.3: a REGISTER without Contact asks for the bindings.
void sip_load::send_register_query(uint64_t k, time_point due) {
  auto& chk = vreg_[k];
  auto sock = static_cast<uint32_t>(k % socks_.size());
  auto id = next_id_++;
  auto tag = opt_.user_prefix + "q" + std::to_string(id);
  std::string m;
  m.reserve(400);
  m += "REGISTER sip:" + domain_of(chk.aor, opt_.domain) + " SIP/2.0\r\n";
  m += "Via: " + via(sock, id) + "\r\n";
  m += "Max-Forwards: 70\r\n";
  m += "From: <" + chk.aor + ">;tag=" + tag + "\r\n";
  m += "To: <" + chk.aor + ">\r\n";
  // A fresh Call-ID per query: no interference with the bindings' own.
  m += "Call-ID: " + tag + "@rl\r\n";
  m += "CSeq: 1 REGISTER\r\n";
  m += "User-Agent: registrar-load\r\n";
  m += "Content-Length: 0\r\n\r\n";
  start_txn(id, txn_kind::verify_register, k, sock, due, std::move(m));
}

/// RFC 3903 §4.4: a refresh (SIP-If-Match, no body) succeeds only while the
/// publication exists; 412 when it does not. A removal (expires 0 in the
/// log) is checked with Expires: 0, which changes nothing if it is gone.
void sip_load::send_publish_check(uint64_t k, time_point due) {
  auto& chk = vpub_[k];
  auto sock = static_cast<uint32_t>(k % socks_.size());
  auto id = next_id_++;
  auto tag = opt_.user_prefix + "e" + std::to_string(id);
  std::string m;
  m.reserve(400);
  m += "PUBLISH " + chk.aor + " SIP/2.0\r\n";
  m += "Via: " + via(sock, id) + "\r\n";
  m += "Max-Forwards: 70\r\n";
  m += "From: <" + chk.aor + ">;tag=" + tag + "\r\n";
  m += "To: <" + chk.aor + ">\r\n";
  m += "Call-ID: " + tag + "@rl\r\n";
  m += "CSeq: 1 PUBLISH\r\n";
  m += "Event: presence\r\n";
  m += "Expires: " + std::to_string(chk.expires) + "\r\n";
  m += "SIP-If-Match: " + chk.etag + "\r\n";
  m += "User-Agent: registrar-load\r\n";
  m += "Content-Length: 0\r\n\r\n";
  start_txn(id, txn_kind::verify_publish, k, sock, due, std::move(m));
}

void sip_load::verify_register_done(const register_check& chk, int status,
                                    const core::sip_message* msg) {
  auto line = [&](const expected_binding& b) {
    return "REGISTER " + chk.aor + " " + b.uri + " " + std::to_string(b.expires);
  };
  if (status < 200 || status >= 300 || !msg) {
    auto why = status == 0 ? std::string{"timeout"} : std::to_string(status);
    vr_.unanswered += chk.bindings.size();
    note_problem("unanswered (" + why + "): REGISTER query of " + chk.aor);
    return;
  }
  for (auto& b : chk.bindings) {
    bool present = false;
    for (auto& c : msg->contacts())
      if (c.uri == b.uri && c.expires.value_or(1) != 0)
        present = true;
    if (b.expires == 0) {
      if (present) {
        ++vr_.resurrected;
        note_problem("removed but present: " + line(b));
      } else {
        ++vr_.removed_ok;
      }
    } else if (present) {
      ++vr_.found;
      ++vr_.found_bindings;
    } else {
      note_missing(line(b));
    }
  }
}

void sip_load::verify_publish_done(const publish_check& chk, int status,
                                   const core::sip_message* msg) {
  auto line = "PUBLISH " + chk.aor + " " + chk.etag + " " + std::to_string(chk.expires);
  bool ok = status >= 200 && status < 300 && msg;
  if (!ok && status != 412) {
    ++vr_.unanswered;
    note_problem("unanswered (" + (status == 0 ? std::string{"timeout"} : std::to_string(status))
                 + "): " + line);
    return;
  }
  if (chk.expires == 0) {
    if (ok) {
      ++vr_.resurrected;
      note_problem("removed but present: " + line);
    } else {
      ++vr_.removed_ok;
    }
    return;
  }
  if (!ok) {
    note_missing(line + " (412)");
    return;
  }
  ++vr_.found;
  ++vr_.found_publications;
  // The refresh gave the publication a new entity tag (RFC 3903 §4.4): log
  // it, so the next verify of the same log checks the live one.
  if (acks_.enabled() && !msg->sip_etag().empty())
    acks_.write("PUBLISH", chk.aor, std::string{msg->sip_etag()},
                msg->expires().value_or(chk.expires));
}

// -- driving -------------------------------------------------------------------------

void sip_load::fire_timers(time_point now) {
  while (!timers_.empty() && timers_.top().first <= now) {
    auto [when, id] = timers_.top();
    timers_.pop();
    auto i = txns_.find(id);
    if (i == txns_.end() || i->second.next_timer != when)
      continue; // finished, or a stale entry
    auto& t = i->second;
    if (now >= t.deadline) {
      auto done = std::move(t);
      txns_.erase(i);
      txn_done(id, done, 0, nullptr);
      continue;
    }
    // Timer A/E: retransmit, doubling up to T2 = 4 s (RFC 3261 §17.1.2.2).
    send_on(t.sock, t.bytes);
    rec_.count("retransmissions");
    t.interval = std::min<clock_type::duration>(t.interval * 2, 4s);
    t.next_timer = std::min(t.deadline, now + t.interval);
    timers_.push({t.next_timer, id});
  }
  while (!update_timers_.empty() && update_timers_.top().first <= now) {
    auto key = update_timers_.top().second;
    update_timers_.pop();
    auto p = static_cast<uint32_t>(key >> 32);
    auto& pub = pubs_[p];
    if (pub.busy && (pub.seq & 0xFFFFFFFF) == (key & 0xFFFFFFFF))
      update_done(p, pub.replied ? "notify_timeout" : "timeout");
  }
}

void sip_load::start_measure(time_point now) {
  ph_ = phase::measure;
  auto rate = opt_.rate;
  if (opt_.sc == scenario::mixed && rate <= 0)
    rate = static_cast<double>(opt_.users) / opt_.refresh_interval + opt_.presence_rate;
  pace_.emplace(rate, opt_.effective_concurrency(), pl_.measured, now, opt_.duration);
  rec_.set_phase("measure", pl_.measured == UINT64_MAX ? 0 : pl_.measured);
  rec_.begin(now);
  measure_start_ = now;
  if (!opt_.started_file.empty())
    std::ofstream{opt_.started_file}.flush();
}

void sip_load::issue_measured(uint64_t i, time_point due) {
  uint64_t bindings = opt_.users * opt_.devices;
  switch (opt_.sc) {
    case scenario::register_:
    case scenario::auto_buddy:
      ++outstanding_;
      send_register(txn_kind::measured_register, i, opt_.expires, due);
      break;
    case scenario::refresh:
      ++outstanding_;
      send_register(txn_kind::measured_register, i % bindings, opt_.expires, due);
      break;
    case scenario::unregister:
      ++outstanding_;
      send_register(txn_kind::measured_register, i, 0, due);
      break;
    case scenario::presence:
      issue_update(static_cast<uint32_t>(i % opt_.publishers), due);
      break;
    case scenario::verify:
      ++outstanding_;
      if (i < vreg_.size())
        send_register_query(i, due);
      else
        send_publish_check(i - vreg_.size(), due);
      break;
    case scenario::mixed: {
      // The same deterministic interleaving as engine mode.
      double refresh_rate = static_cast<double>(opt_.users) / opt_.refresh_interval;
      double s = opt_.presence_rate / (opt_.presence_rate + refresh_rate);
      bool publish = opt_.presence_rate > 0
                     && static_cast<uint64_t>(static_cast<double>(i + 1) * s)
                          > static_cast<uint64_t>(static_cast<double>(i) * s);
      if (publish) {
        issue_update(static_cast<uint32_t>(mixed_publish_next_++ % opt_.publishers), due);
      } else {
        ++outstanding_;
        send_register(txn_kind::measured_register, mixed_refresh_next_++ % opt_.users,
                      opt_.expires, due);
      }
      break;
    }
  }
}

void sip_load::pump(time_point now) {
  if (ph_ == phase::setup_register) {
    while (outstanding_ < opt_.setup_concurrency && setup_next_ < pl_.setup_bindings) {
      ++outstanding_;
      send_register(txn_kind::setup_register, setup_next_++, opt_.expires, now);
    }
    if (setup_done_ < pl_.setup_bindings)
      return;
    ph_ = phase::setup_subscribe;
    setup_next_ = 0;
    setup_done_ = 0;
    rec_.setup_done = 0;
    rec_.set_phase("setup: subscribe", pl_.setup_subscriptions);
    setup_notify_deadline_ = time_point::max();
  }
  if (ph_ == phase::setup_subscribe) {
    while (outstanding_ < opt_.setup_concurrency && setup_next_ < pl_.setup_subscriptions) {
      ++outstanding_;
      auto k = setup_next_++;
      send_subscribe(txn_kind::setup_subscribe, k, opt_.user_prefix + "w" + std::to_string(k),
                     publisher_user(k / opt_.watchers));
    }
    if (subs_answered_ < pl_.setup_subscriptions)
      return;
    // Every SUBSCRIBE is answered; wait (up to timer B) for the first NOTIFYs.
    if (setup_notify_deadline_ == time_point::max())
      setup_notify_deadline_ = now + std::chrono::duration_cast<clock_type::duration>(
                                       std::chrono::duration<double>(opt_.timer_b));
    if (watchers_active_ + setup_errors_ < pl_.setup_subscriptions
        && now < setup_notify_deadline_)
      return;
    if (watchers_active_ + setup_errors_ < pl_.setup_subscriptions)
      rec_.count("setup_notify_missing",
                 pl_.setup_subscriptions - watchers_active_ - setup_errors_);
    start_measure(now);
  }
  if (ph_ == phase::measure) {
    while (now >= hold_until_) {
      auto due = pace_->next(now, outstanding_);
      if (!due)
        break;
      issue_measured(pace_->issued() - 1, *due);
    }
    if (!pace_->exhausted(now) || outstanding_ > 0)
      return;
    rec_.end(now);
    ph_ = phase::check;
    if (opt_.sc == scenario::auto_buddy && pl_.measured > 1) {
      // Ten registered users, SUBSCRIBEd to by a checker: each first NOTIFY
      // must report them open (presence derived from the registration).
      auto n = std::min<uint64_t>(pl_.measured, 10);
      checks_pending_ = n;
      for (uint64_t k = 0; k < n; ++k)
        send_subscribe(txn_kind::check_subscribe, k, opt_.user_prefix + "chk",
                       user_name(k * (pl_.measured / n)));
      rec_.set_phase("check", 0);
      check_deadline_ = now + std::chrono::duration_cast<clock_type::duration>(
                                std::chrono::duration<double>(opt_.timer_b));
    }
  }
  if (ph_ == phase::check) {
    if (checks_pending_ > 0 && now < check_deadline_)
      return;
    if (checks_pending_ > 0)
      rec_.count("buddy_check_failed", checks_pending_);
    ph_ = phase::finished;
  }
}

std::string sip_load::run() {
  if (opt_.sc == scenario::verify) {
    if (auto err = load_acks(); !err.empty())
      return err;
    pl_.measured = vreg_.size() + vpub_.size();
  }
  if (auto err = open_sockets(); !err.empty())
    return err;
  if (!opt_.update_log.empty()) {
    update_log_ = std::fopen(opt_.update_log.c_str(), "w");
    if (!update_log_)
      return errno_text("cannot write --update-log " + opt_.update_log);
    // Times in µs after the PUBLISH left (-1: never); sent_s after the
    // measured phase began; total_us = until the update was complete or failed.
    std::fprintf(update_log_, "# publisher seq sent_s publish_2xx_us first_notify_us "
                              "last_notify_us total_us notified watchers repeated status\n");
  }
  if (opt_.sc == scenario::refresh || opt_.sc == scenario::unregister
      || opt_.sc == scenario::mixed)
    cseq_.assign(pl_.setup_bindings, 0);
  watchers_.resize(pl_.setup_subscriptions);
  pubs_.resize(opt_.publishers);
  rec_.set_phase("setup: register", pl_.setup_bindings);
  auto last_idle = clock_type::now();
  epoll_event events[64];
  while (ph_ != phase::finished && fatal_.empty()) {
    auto now = clock_type::now();
    pump(now);
    if (ph_ == phase::finished)
      break;
    // Sleep in epoll until the next due operation or timer (rate pacing).
    auto wake = now + 100ms;
    if (!timers_.empty())
      wake = std::min(wake, timers_.top().first);
    if (!update_timers_.empty())
      wake = std::min(wake, update_timers_.top().first);
    if (pace_)
      if (auto due = pace_->next_due())
        wake = std::min(wake, *due);
    if (hold_until_ > now)
      wake = std::min(wake, hold_until_);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count();
    // Round up, so we do not spin for the last fraction of a millisecond.
    if (wake > now && ms == 0)
      ms = 1;
    int n = epoll_wait(ep_, events, 64, static_cast<int>(std::max<int64_t>(ms, 0)));
    if (n < 0 && errno != EINTR)
      return errno_text("epoll_wait");
    for (int i = 0; i < n; ++i) {
      auto sock = events[i].data.u32;
      if (events[i].events & EPOLLOUT)
        flush_tcp(socks_[sock]);
      if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        if (auto err = on_readable(sock); !err.empty())
          return err;
    }
    now = clock_type::now();
    fire_timers(now);
    if (now - last_idle >= 200ms) {
      last_idle = now;
      idle_();
    }
  }
  if (!fatal_.empty())
    return fatal_;
  if (setup_errors_)
    rec_.count("setup_errors", setup_errors_);
  if (rcvbuf_min_)
    rec_.count("udp_rcvbuf_bytes", rcvbuf_min_);
  count_local_drops();
  return {};
}

} // namespace

std::string run_sip(const options& opt, recorder& rec, ack_log& acks,
                    const std::function<void()>& idle, verify_result* verified) {
  sip_load load{opt, rec, acks, idle};
  auto err = load.run();
  if (verified)
    *verified = load.verified();
  return err;
}

} // namespace regcore::load
