# Shell helpers shared by bench/kamailio/check.sh, bench.sh and
# bench/compare_kamailio.sh (sourced, not run).

# A port free for both UDP and TCP on 127.0.0.1 (perl-base is on every
# Debian system).
free_port() {
  perl -MIO::Socket::INET -e '
    for (1 .. 50) {
      my $u = IO::Socket::INET->new(LocalAddr => "127.0.0.1:0", Proto => "udp") or next;
      my $p = $u->sockport;
      my $t = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$p", Proto => "tcp", Listen => 1) or next;
      print $p; exit 0;
    }
    exit 1'
}

# The kernel's count of UDP datagrams dropped for a full receive buffer.
udp_rcvbuf_errors() { awk '/^Udp:/ { getline; print $6; exit }' /proc/net/snmp; }
