#!/usr/bin/perl
# Registrar query (RFC 3261 10.2.3): sends one REGISTER without Contact for
# sip:USER@127.0.0.1 to 127.0.0.1:PORT from an ephemeral loopback UDP port,
# retransmits (500 ms, 1 s, 2 s: timer E) until a final response, prints it
# and exits 0 on 200 OK, 1 otherwise. Perl core only (perl-base).
# Usage: registrar_query.pl PORT USER
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;

my ($port, $user) = @ARGV;
die "usage: $0 PORT USER\n" unless defined $user && $port =~ /^\d+$/;
my $sock = IO::Socket::INET->new(Proto => 'udp', LocalAddr => '127.0.0.1',
                                 LocalPort => 0, PeerAddr => '127.0.0.1',
                                 PeerPort => $port)
  or die "socket: $!\n";
my $lport = $sock->sockport;
my $branch = sprintf 'z9hG4bK-query-%d-%d', $$, time;
my $req = join("\r\n",
  "REGISTER sip:127.0.0.1 SIP/2.0",
  "Via: SIP/2.0/UDP 127.0.0.1:$lport;branch=$branch;rport",
  "Max-Forwards: 70",
  "From: <sip:query\@127.0.0.1>;tag=q$$",
  "To: <sip:$user\@127.0.0.1>",
  "Call-ID: query-$$-$branch\@127.0.0.1",
  "CSeq: 1 REGISTER",
  "Content-Length: 0", "", "");
my $sel = IO::Select->new($sock);
for my $wait (0.5, 1, 2, 4) {
  $sock->send($req) or die "send: $!\n";
  while ($sel->can_read($wait)) {
    my $resp;
    $sock->recv($resp, 65535);
    next unless defined $resp && $resp =~ m{^SIP/2\.0 (\d{3})};
    my $code = $1;
    next if $code < 200;  # provisional: keep waiting
    print $resp;
    exit($code == 200 ? 0 : 1);
  }
}
print STDERR "no final response from 127.0.0.1:$port\n";
exit 1;
