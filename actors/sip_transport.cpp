// SPDX-License-Identifier: MIT
#include "actors/sip_transport.hpp"

#include "core/sip_message.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <unordered_map>
#include <utility>

#include <caf/send.hpp>

namespace regcore::actors {

sip_sender::~sip_sender() {
  // nop
}

void sip_sender::send_many(outbox& msgs) {
  for (auto& [to, bytes] : msgs)
    send(to, std::move(bytes));
}

void sip_sender::consumed(size_t) {
  // nop
}

namespace {

constexpr uint64_t listener_tag = uint64_t{1} << 63;
constexpr uint64_t wake_tag = uint64_t{1} << 62;
constexpr size_t read_chunk = 64 * 1024;
/// Datagrams or reads handled per socket before epoll is asked again
/// (fairness between sockets).
constexpr int reads_per_event = 64;
/// Datagrams per recvmmsg / sendmmsg, and so at most per message to the
/// edge.
constexpr unsigned udp_burst = 32;
/// recvmmsg bursts per readable UDP socket before epoll is asked again.
constexpr int bursts_per_event = 8;

/// ip + port -> sockaddr; false if `ip` is not a numeric address.
bool to_sockaddr(const std::string& ip, uint16_t port, sockaddr_storage& ss,
                 socklen_t& len) {
  std::memset(&ss, 0, sizeof(ss));
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  if (::inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

/// sockaddr -> ip (no brackets) and port.
void from_sockaddr(const sockaddr_storage& ss, std::string& ip, uint16_t& port) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET6) {
    auto* v6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof(buf));
    port = ntohs(v6->sin6_port);
  } else {
    auto* v4 = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof(buf));
    port = ntohs(v4->sin_port);
  }
  ip = buf;
}

bool set_nonblocking(int fd) {
  auto flags = ::fcntl(fd, F_GETFL, 0);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

std::string address_key(const std::string& ip, uint16_t port) {
  return ip + "|" + std::to_string(port);
}

} // namespace

struct sip_transport::impl {
  struct connection {
    uint64_t id = 0;
    int fd = -1;
    sip_endpoint peer;
    core::stream_framer framer;
    std::string out;
    size_t out_off = 0;
    bool connecting = false;
    bool watching_out = false;
  };

  int epfd = -1;
  int wake_fd = -1;
  /// By listener index; read-only once start() ran (send() reads it).
  std::vector<int> fds;
  /// Everything below is touched by the I/O thread only.
  std::unordered_map<uint64_t, connection> conns;
  std::unordered_map<std::string, uint64_t> conn_by_addr;
  uint64_t next_conn = 1;
  caf::actor edge;
  /// Outgoing TCP messages from other threads: the I/O thread's mailbox.
  std::mutex out_mtx;
  std::vector<std::pair<sip_endpoint, std::string>> out_queue;
  /// UDP datagrams handed to the edge, not yet consumed(); the I/O thread
  /// adds, the edge's thread subtracts.
  std::atomic<int64_t> queued{0};
  /// The UDP sockets are out of the epoll set's interest (the I/O thread
  /// writes, consumed() reads: seq_cst with `queued`, so that either
  /// consumed() sees the pause and wakes the I/O thread, or the I/O thread
  /// sees the drop in `queued` and does not stay paused).
  std::atomic<bool> paused{false};
};

sip_transport::sip_transport(transport_limits limits)
  : limits_(limits), impl_(std::make_unique<impl>()) {
  impl_->epfd = ::epoll_create1(EPOLL_CLOEXEC);
  impl_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = wake_tag;
  ::epoll_ctl(impl_->epfd, EPOLL_CTL_ADD, impl_->wake_fd, &ev);
}

sip_transport::~sip_transport() {
  stop();
  for (auto fd : impl_->fds)
    ::close(fd);
  for (auto& [id, c] : impl_->conns)
    ::close(c.fd);
  ::close(impl_->wake_fd);
  ::close(impl_->epfd);
}

bool sip_transport::bind(const listen_address& addr, bound_listener& out,
                         std::string& err) {
  auto name = to_string(sip_endpoint{addr.proto, addr.host, addr.port, 0, 0});
  if (addr.proto != core::transport::udp && addr.proto != core::transport::tcp) {
    err = name + ": only udp and tcp are supported";
    return false;
  }
  sockaddr_storage ss;
  socklen_t len = 0;
  if (!to_sockaddr(addr.host, addr.port, ss, len)) {
    err = name + ": not a numeric IPv4 or IPv6 address";
    return false;
  }
  bool udp = addr.proto == core::transport::udp;
  int fd = ::socket(ss.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = name + ": " + std::strerror(errno);
    return false;
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (ss.ss_family == AF_INET6) // "::" next to "0.0.0.0" on the same port
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (udp) {
    int size = 4 * 1024 * 1024; // absorb bursts while the edge is busy
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0
      || (!udp && ::listen(fd, 1024) != 0) || !set_nonblocking(fd)) {
    err = name + ": " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  sockaddr_storage bound;
  socklen_t blen = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen);
  std::string ip;
  out.addr = addr;
  from_sockaddr(bound, ip, out.port);
  out.index = static_cast<uint32_t>(listeners_.size());
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = listener_tag | out.index;
  ::epoll_ctl(impl_->epfd, EPOLL_CTL_ADD, fd, &ev);
  impl_->fds.push_back(fd);
  listeners_.push_back(out);
  return true;
}

void sip_transport::start(caf::actor edge) {
  if (running_.exchange(true))
    return;
  impl_->edge = std::move(edge);
  thread_ = std::thread{[this] { run(); }};
}

void sip_transport::stop() {
  if (!running_.exchange(false))
    return;
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(impl_->wake_fd, &one, sizeof(one));
  if (thread_.joinable())
    thread_.join();
  impl_->edge = nullptr;
}

void sip_transport::send_many(outbox& msgs) {
  // Runs of UDP datagrams from one listener leave with one sendmmsg each
  // (sendmmsg on a datagram socket is thread-safe like sendto); anything
  // else goes through send(), in order.
  std::array<mmsghdr, udp_burst> mh;
  std::array<iovec, udp_burst> iov;
  std::array<sockaddr_storage, udp_burst> dst;
  size_t i = 0;
  while (i < msgs.size()) {
    auto& first = msgs[i].first;
    if (first.proto != core::transport::udp || first.listener >= impl_->fds.size()) {
      send(first, std::move(msgs[i].second));
      ++i;
      continue;
    }
    auto listener = first.listener;
    unsigned n = 0;
    for (; i < msgs.size() && n < udp_burst; ++i) {
      auto& [to, bytes] = msgs[i];
      if (to.proto != core::transport::udp || to.listener != listener)
        break;
      socklen_t len = 0;
      if (!to_sockaddr(to.ip, to.port, dst[n], len)) {
        ++stats_.send_failures;
        continue;
      }
      iov[n].iov_base = bytes.data();
      iov[n].iov_len = bytes.size();
      mh[n].msg_hdr = msghdr{};
      mh[n].msg_hdr.msg_name = &dst[n];
      mh[n].msg_hdr.msg_namelen = len;
      mh[n].msg_hdr.msg_iov = &iov[n];
      mh[n].msg_hdr.msg_iovlen = 1;
      mh[n].msg_len = 0;
      ++n;
    }
    unsigned done = 0;
    while (done < n) {
      auto r = ::sendmmsg(impl_->fds[listener], mh.data() + done, n - done, MSG_DONTWAIT);
      if (r <= 0) {
        // The first of the rest failed (a full buffer, an unreachable
        // address): count it, go on with the others, as sendto would.
        ++stats_.send_failures;
        ++done;
        continue;
      }
      done += static_cast<unsigned>(r);
    }
  }
}

void sip_transport::consumed(size_t datagrams) {
  auto limit = static_cast<int64_t>(limits_.max_queued_datagrams);
  auto left = impl_->queued.fetch_sub(static_cast<int64_t>(datagrams)) - static_cast<int64_t>(datagrams);
  if (limit > 0 && left <= limit / 2 && impl_->paused.load()) {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(impl_->wake_fd, &one, sizeof(one));
  }
}

void sip_transport::send(const sip_endpoint& to, std::string bytes) {
  if (to.listener >= impl_->fds.size()) {
    ++stats_.send_failures;
    return;
  }
  if (to.proto == core::transport::udp) {
    // sendto on a datagram socket is thread-safe: no hop to the I/O thread.
    sockaddr_storage ss;
    socklen_t len = 0;
    if (!to_sockaddr(to.ip, to.port, ss, len)
        || ::sendto(impl_->fds[to.listener], bytes.data(), bytes.size(), MSG_DONTWAIT,
                    reinterpret_cast<sockaddr*>(&ss), len)
             < 0)
      ++stats_.send_failures;
    return;
  }
  {
    std::lock_guard<std::mutex> guard{impl_->out_mtx};
    impl_->out_queue.emplace_back(to, std::move(bytes));
  }
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(impl_->wake_fd, &one, sizeof(one));
}

void sip_transport::run() {
  auto& im = *impl_;
  std::vector<char> buf(read_chunk);
  auto watch_out = [&](impl::connection& c, bool on) {
    if (c.watching_out == on)
      return;
    c.watching_out = on;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.u64 = c.id;
    ::epoll_ctl(im.epfd, EPOLL_CTL_MOD, c.fd, &ev);
  };
  // Overload: the UDP sockets leave the epoll interest while the edge has
  // more than max_queued_datagrams waiting, and come back at half of it.
  auto limit = static_cast<int64_t>(limits_.max_queued_datagrams);
  auto set_udp_interest = [&](bool on) {
    for (uint32_t i = 0; i < im.fds.size(); ++i) {
      if (listeners_[i].addr.proto != core::transport::udp)
        continue;
      epoll_event ev{};
      ev.events = on ? EPOLLIN : 0u;
      ev.data.u64 = listener_tag | i;
      ::epoll_ctl(im.epfd, EPOLL_CTL_MOD, im.fds[i], &ev);
    }
  };
  auto overloaded = [&] { return limit > 0 && im.queued.load() > limit; };
  auto maybe_resume = [&] {
    if (im.paused.load() && im.queued.load() <= limit / 2) {
      im.paused.store(false);
      set_udp_interest(true);
    }
  };
  auto maybe_pause = [&] {
    if (im.paused.load() || !overloaded())
      return;
    set_udp_interest(false);
    im.paused.store(true);
    ++stats_.udp_pauses;
    // consumed() may have run between the check and the store: look again.
    maybe_resume();
  };
  auto close_conn = [&](uint64_t id) {
    auto i = im.conns.find(id);
    if (i == im.conns.end())
      return;
    ::epoll_ctl(im.epfd, EPOLL_CTL_DEL, i->second.fd, nullptr);
    ::close(i->second.fd);
    auto k = im.conn_by_addr.find(address_key(i->second.peer.ip, i->second.peer.port));
    if (k != im.conn_by_addr.end() && k->second == id)
      im.conn_by_addr.erase(k);
    im.conns.erase(i);
    ++stats_.connections_closed;
    caf::anon_send(im.edge, sip_connection_closed{id});
  };
  auto add_conn = [&](int fd, sip_endpoint peer, bool connecting) -> impl::connection& {
    auto id = im.next_conn++;
    peer.connection = id;
    auto& c = im.conns[id];
    c.id = id;
    c.fd = fd;
    c.peer = std::move(peer);
    c.framer = core::stream_framer{limits_.stream};
    c.connecting = connecting;
    epoll_event ev{};
    ev.events = EPOLLIN | (connecting ? EPOLLOUT : 0u);
    c.watching_out = connecting;
    ev.data.u64 = id;
    ::epoll_ctl(im.epfd, EPOLL_CTL_ADD, fd, &ev);
    im.conn_by_addr[address_key(c.peer.ip, c.peer.port)] = id;
    return c;
  };
  // Writes what is buffered; false if the connection broke.
  auto flush_conn = [&](impl::connection& c) {
    if (c.connecting)
      return true;
    while (c.out_off < c.out.size()) {
      auto n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off,
                      MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          watch_out(c, true);
          return true;
        }
        return false;
      }
      c.out_off += static_cast<size_t>(n);
    }
    c.out.clear();
    c.out_off = 0;
    watch_out(c, false);
    return true;
  };
  auto queue_out = [&](sip_endpoint& to, std::string& bytes) {
    auto i = im.conns.find(to.connection);
    if (i == im.conns.end()) {
      auto k = im.conn_by_addr.find(address_key(to.ip, to.port));
      if (k != im.conn_by_addr.end())
        i = im.conns.find(k->second);
    }
    if (i == im.conns.end()) {
      // RFC 3261 §18.1.1 / §18.2.2: open a connection to the address.
      sockaddr_storage ss;
      socklen_t len = 0;
      if (!to_sockaddr(to.ip, to.port, ss, len)
          || im.conns.size() >= limits_.max_connections) {
        ++stats_.send_failures;
        return;
      }
      int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0) {
        ++stats_.send_failures;
        return;
      }
      auto rc = ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
      if (rc != 0 && errno != EINPROGRESS) {
        ::close(fd);
        ++stats_.send_failures;
        return;
      }
      sip_endpoint peer = to;
      auto& c = add_conn(fd, std::move(peer), rc != 0);
      i = im.conns.find(c.id);
    }
    auto& c = i->second;
    if (c.out.size() - c.out_off + bytes.size() > limits_.max_send_buffer) {
      ++stats_.send_failures;
      close_conn(c.id);
      return;
    }
    c.out += bytes;
    if (!flush_conn(c))
      close_conn(c.id);
  };
  auto read_conn = [&](impl::connection& c) {
    auto id = c.id;
    for (int round = 0; round < reads_per_event; ++round) {
      auto n = ::recv(c.fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n == 0) {
        close_conn(id);
        return;
      }
      if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
          close_conn(id);
        return;
      }
      c.framer.feed(std::string_view{buf.data(), static_cast<size_t>(n)});
      while (true) {
        auto item = c.framer.next();
        if (!item) {
          // The stream lost its framing (no or bad Content-Length, over the
          // limits): answer the message with its 400 / 513 when it names a
          // transaction, then close (RFC 3261 §18.3).
          ++stats_.framing_errors;
          auto answer = core::make_error_response(c.framer.pending(), item.err());
          if (!answer.empty()) {
            c.out += answer;
            flush_conn(c);
            ::shutdown(c.fd, SHUT_WR);
          }
          close_conn(id);
          return;
        }
        if (!*item)
          break;
        auto& it = **item;
        if (it.kind == core::stream_item::ping) {
          // RFC 5626 §4.4.1: answer a CRLFCRLF keep-alive with CRLF.
          c.out += "\r\n";
          if (!flush_conn(c)) {
            close_conn(id);
            return;
          }
        } else if (it.kind == core::stream_item::message) {
          ++stats_.stream_messages_in;
          caf::anon_send(im.edge, sip_inbound{c.peer, std::move(it.bytes)});
        }
      }
      if (static_cast<size_t>(n) < buf.size())
        return;
    }
  };
  // UDP: up to udp_burst datagrams per recvmmsg, each burst ONE message to
  // the edge (a scheduler wake-up per burst, not per datagram).
  std::vector<char> ubuf(udp_burst * read_chunk);
  std::array<mmsghdr, udp_burst> mh;
  std::array<iovec, udp_burst> iov;
  std::array<sockaddr_storage, udp_burst> src;
  // The last source address and its text (most bursts come from few peers).
  sockaddr_storage last_ss{};
  socklen_t last_len = 0;
  std::string last_ip;
  uint16_t last_port = 0;
  auto inbound_of = [&](unsigned k, uint32_t index) {
    sip_inbound in;
    in.from.proto = core::transport::udp;
    auto len = mh[k].msg_hdr.msg_namelen;
    if (len != last_len || std::memcmp(&src[k], &last_ss, len) != 0) {
      from_sockaddr(src[k], last_ip, last_port);
      std::memcpy(&last_ss, &src[k], len);
      last_len = len;
    }
    in.from.ip = last_ip;
    in.from.port = last_port;
    in.from.listener = index;
    in.bytes.assign(ubuf.data() + k * read_chunk, mh[k].msg_len);
    return in;
  };
  auto read_udp = [&](uint32_t index) {
    auto fd = im.fds[index];
    for (int round = 0; round < bursts_per_event && !overloaded(); ++round) {
      for (unsigned k = 0; k < udp_burst; ++k) {
        iov[k].iov_base = ubuf.data() + k * read_chunk;
        iov[k].iov_len = read_chunk;
        mh[k].msg_hdr = msghdr{};
        mh[k].msg_hdr.msg_name = &src[k];
        mh[k].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        mh[k].msg_hdr.msg_iov = &iov[k];
        mh[k].msg_hdr.msg_iovlen = 1;
        mh[k].msg_len = 0;
      }
      auto n = ::recvmmsg(fd, mh.data(), udp_burst, MSG_DONTWAIT, nullptr);
      if (n <= 0)
        return;
      auto count = static_cast<unsigned>(n);
      stats_.datagrams_in += count;
      ++stats_.datagram_bursts;
      im.queued += count;
      if (count == 1) {
        caf::anon_send(im.edge, inbound_of(0, index));
      } else {
        std::vector<sip_inbound> burst;
        burst.reserve(count);
        for (unsigned k = 0; k < count; ++k)
          burst.push_back(inbound_of(k, index));
        caf::anon_send(im.edge, std::move(burst));
      }
      if (count < udp_burst)
        return; // drained (epoll is level-triggered: more wakes us again)
    }
  };
  auto on_listener = [&](uint32_t index) {
    auto fd = im.fds[index];
    auto& l = listeners_[index];
    if (l.addr.proto == core::transport::udp) {
      read_udp(index);
      return;
    }
    for (int round = 0; round < reads_per_event; ++round) {
      sockaddr_storage ss;
      socklen_t len = sizeof(ss);
      {
        int cfd = ::accept4(fd, reinterpret_cast<sockaddr*>(&ss), &len,
                            SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
          return;
        if (im.conns.size() >= limits_.max_connections) {
          ::close(cfd);
          continue;
        }
        int one = 1;
        ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        ++stats_.connections_accepted;
        sip_endpoint peer;
        peer.proto = core::transport::tcp;
        from_sockaddr(ss, peer.ip, peer.port);
        peer.listener = index;
        add_conn(cfd, std::move(peer), false);
      }
    }
  };
  std::vector<epoll_event> events(256);
  std::vector<std::pair<sip_endpoint, std::string>> pending;
  while (running_.load()) {
    auto n = ::epoll_wait(im.epfd, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0 && errno != EINTR)
      break;
    for (int i = 0; i < n; ++i) {
      auto tag = events[static_cast<size_t>(i)].data.u64;
      auto what = events[static_cast<size_t>(i)].events;
      if (tag == wake_tag) {
        uint64_t count = 0;
        [[maybe_unused]] auto r = ::read(im.wake_fd, &count, sizeof(count));
        {
          std::lock_guard<std::mutex> guard{im.out_mtx};
          pending.swap(im.out_queue);
        }
        for (auto& [to, bytes] : pending)
          queue_out(to, bytes);
        pending.clear();
        maybe_resume();
      } else if (tag & listener_tag) {
        on_listener(static_cast<uint32_t>(tag & ~listener_tag));
        maybe_pause();
      } else {
        auto c = im.conns.find(tag);
        if (c == im.conns.end())
          continue;
        if (what & (EPOLLERR | EPOLLHUP) && !(what & EPOLLIN)) {
          close_conn(tag);
          continue;
        }
        if (what & EPOLLOUT) {
          if (c->second.connecting) {
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            ::getsockopt(c->second.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            if (soerr != 0) {
              ++stats_.send_failures;
              close_conn(tag);
              continue;
            }
            c->second.connecting = false;
          }
          if (!flush_conn(c->second)) {
            close_conn(tag);
            continue;
          }
        }
        if (what & EPOLLIN)
          read_conn(c->second);
      }
    }
  }
}

} // namespace regcore::actors
