// SPDX-License-Identifier: MIT
// sip_probe: sends the raw bytes of one file to a SIP server and prints the
// status line of the answer. Plain POSIX C++17, no project code, so it can
// judge the server from the outside (tests/sip/run_malformed.sh).
//
//   sip_probe [-t MS] udp|tcp HOST PORT FILE
//
// UDP: one datagram with the whole file (from a connected socket, so only
// the server's answers are read). TCP: one connection, the whole file, then
// it waits. Prints the first final (>= 200) response's status line; a 1xx
// only when nothing else came. Requests the server sends (a NOTIFY after a
// SUBSCRIBE) are skipped. When nothing arrives within the timeout (-t,
// milliseconds, default 5000) it prints `none`; over TCP, when the server
// closes the connection without answering, `closed`; when all that came
// was CRLF keep-alive bytes (a pong to a CRLFCRLF ping, RFC 5626 §4.4.1),
// `crlf`.
// Exit status: 0 when it printed one of those, 2 on usage or I/O errors
// (e.g. a datagram too large for UDP: EMSGSIZE).

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>

namespace {

using clock_type = std::chrono::steady_clock;

[[noreturn]] void usage() {
  std::cerr << "usage: sip_probe [-t MS] udp|tcp HOST PORT FILE\n"
               "  sends FILE's bytes, prints the response status line, `none` after\n"
               "  the timeout (default 5000 ms), `closed` (TCP closed unanswered) or\n"
               "  `crlf` (only a CRLF keep-alive pong came back)\n";
  std::exit(2);
}

[[noreturn]] void fail(const std::string& what) {
  std::cerr << "sip_probe: " << what << ": " << std::strerror(errno) << "\n";
  std::exit(2);
}

/// The status line when `msg` (one SIP message, or the start of a stream)
/// starts with a response; empty otherwise. Skips leading CRLFs.
std::string status_line(const std::string& msg, size_t from = 0) {
  while (from + 1 < msg.size() && msg[from] == '\r' && msg[from + 1] == '\n')
    from += 2;
  if (msg.compare(from, 8, "SIP/2.0 ") != 0)
    return {};
  auto eol = msg.find("\r\n", from);
  if (eol == std::string::npos)
    return {};
  return msg.substr(from, eol - from);
}

int status_code(const std::string& line) {
  if (line.size() < 11)
    return 0;
  return std::atoi(line.c_str() + 8);
}

/// Milliseconds left until `deadline` (>= 0).
int left_ms(clock_type::time_point deadline) {
  auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
  return d.count() > 0 ? static_cast<int>(d.count()) : 0;
}

/// Length of the first complete message in `buf` (header section + body by
/// Content-Length / l), nullopt when incomplete; skips leading CRLFs (they
/// count into the length).
std::optional<size_t> frame(const std::string& buf) {
  size_t start = 0;
  while (start + 1 < buf.size() && buf[start] == '\r' && buf[start + 1] == '\n')
    start += 2;
  auto end = buf.find("\r\n\r\n", start);
  if (end == std::string::npos)
    return std::nullopt;
  size_t body = 0;
  size_t pos = buf.find("\r\n", start) + 2;
  while (pos < end + 2) {
    auto eol = buf.find("\r\n", pos);
    auto line = buf.substr(pos, eol - pos);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      auto name = line.substr(0, colon);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t'))
        name.pop_back();
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (name == "content-length" || name == "l")
        body = std::strtoul(line.c_str() + colon + 1, nullptr, 10);
    }
    pos = eol + 2;
  }
  if (buf.size() < end + 4 + body)
    return std::nullopt;
  return end + 4 + body;
}

} // namespace

int main(int argc, char** argv) {
  int timeout_ms = 5000;
  int i = 1;
  while (i < argc && argv[i][0] == '-' && argv[i][1] != '\0') {
    std::string opt = argv[i];
    if (opt == "-t" && i + 1 < argc) {
      char* end = nullptr;
      long v = std::strtol(argv[i + 1], &end, 10);
      if (*end != '\0' || v < 0 || v > 600000)
        usage();
      timeout_ms = static_cast<int>(v);
      i += 2;
    } else if (opt == "--") {
      ++i;
      break;
    } else {
      usage();
    }
  }
  if (argc - i != 4)
    usage();
  std::string proto = argv[i];
  const char* host = argv[i + 1];
  const char* port = argv[i + 2];
  const char* file = argv[i + 3];
  bool tcp = proto == "tcp";
  if (!tcp && proto != "udp")
    usage();

  std::ifstream in{file, std::ios::binary};
  if (!in) {
    std::cerr << "sip_probe: cannot read " << file << "\n";
    return 2;
  }
  std::string data{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* ai = nullptr;
  if (int rc = ::getaddrinfo(host, port, &hints, &ai); rc != 0) {
    std::cerr << "sip_probe: " << host << ":" << port << ": " << ::gai_strerror(rc) << "\n";
    return 2;
  }
  int fd = ::socket(ai->ai_family, ai->ai_socktype, 0);
  if (fd < 0)
    fail("socket");
  if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
    fail("connect");
  ::freeaddrinfo(ai);

  if (tcp) {
    size_t off = 0;
    while (off < data.size()) {
      auto n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        // The server may close early (a framing error): read what it said.
        if (errno == EPIPE || errno == ECONNRESET)
          break;
        fail("send");
      }
      off += static_cast<size_t>(n);
    }
  } else if (::send(fd, data.data(), data.size(), 0) < 0) {
    fail("send");
  }

  auto deadline = clock_type::now() + std::chrono::milliseconds{timeout_ms};
  std::string provisional;
  std::string stream;          // TCP: bytes not yet framed
  std::string buf(70000, '\0');
  bool closed = false;
  bool crlf = false;           // received only CR / LF bytes so far
  while (true) {
    int wait = left_ms(deadline);
    if (wait == 0)
      break;
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, wait);
    if (rc < 0) {
      if (errno == EINTR)
        continue;
      fail("poll");
    }
    if (rc == 0)
      break;
    auto n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      // UDP: ECONNREFUSED from an ICMP port unreachable; TCP: a reset.
      if (errno == ECONNREFUSED || errno == ECONNRESET) {
        closed = tcp;
        if (tcp)
          break;
        continue;
      }
      fail("recv");
    }
    if (n == 0) { // TCP: orderly close
      closed = true;
      break;
    }
    std::string got = buf.substr(0, static_cast<size_t>(n));
    if (!got.empty() && got.find_first_not_of("\r\n") == std::string::npos) {
      crlf = true;
      if (!tcp)
        continue;
    }
    if (!tcp) {
      auto line = status_line(got);
      if (line.empty())
        continue; // a request (NOTIFY) or junk
      if (status_code(line) >= 200) {
        std::cout << line << "\n";
        return 0;
      }
      provisional = line;
      continue;
    }
    stream += got;
    while (true) {
      auto len = frame(stream);
      if (!len)
        break;
      auto line = status_line(stream);
      stream.erase(0, *len);
      if (line.empty())
        continue;
      if (status_code(line) >= 200) {
        std::cout << line << "\n";
        return 0;
      }
      provisional = line;
    }
  }
  // A status line whose message is incomplete still counts.
  if (tcp) {
    auto line = status_line(stream);
    if (!line.empty() && status_code(line) >= 200) {
      std::cout << line << "\n";
      return 0;
    }
  }
  if (!provisional.empty())
    std::cout << provisional << "\n";
  else if (crlf && stream.find_first_not_of("\r\n") == std::string::npos)
    std::cout << "crlf\n";
  else
    std::cout << (closed ? "closed" : "none") << "\n";
  ::close(fd);
  return 0;
}
