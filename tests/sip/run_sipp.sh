#!/usr/bin/env bash
# Runs one sipp scenario against a registrard started on free loopback
# ports (one UDP and one TCP listener); exits with sipp's status.
# Bounded: registrard start 10 s, sipp 60 s (-timeout 30s overall, 10 s per
# expected message).
#
# Usage: run_sipp.sh [--tcp|--udp] REGISTRARD SCENARIO.xml [sipp options...]
#   --tcp  runs the scenario over TCP (sipp -t t1, one connection) against
#          registrard's TCP port; the default is UDP. SIPP_TRANSPORT=tcp in
#          the environment does the same.
# REGISTRARD_ARGS in the environment adds options to registrard's command
# line (e.g. --credentials FILE for the digest scenarios in tests/sip/auth/).
# sipp's error/trace/log files go to a temporary directory (printed on
# failure, then removed); nothing is written next to the scenario.
set -u
transport=${SIPP_TRANSPORT:-udp}
case "${1:-}" in
  --tcp) transport=tcp; shift ;;
  --udp) transport=udp; shift ;;
esac
if [ $# -lt 2 ]; then
  echo "usage: $0 [--tcp|--udp] REGISTRARD SCENARIO.xml [sipp options...]" >&2
  exit 2
fi
case "$transport" in
  udp) sipp_transport=(-t u1) ;;
  tcp) sipp_transport=(-t t1) ;;
  *) echo "$0: unknown transport '$transport' (udp or tcp)" >&2; exit 2 ;;
esac
registrard=$(readlink -f "$1")
scenario=$(readlink -f "$2")
shift 2
work=$(mktemp -d "${TMPDIR:-/tmp}/run_sipp.XXXXXX")
log=$work/registrard.log
# REGISTRARD_ARGS: more options for registrard (split on spaces).
# shellcheck disable=SC2086
"$registrard" --listen udp:127.0.0.1:0 --listen tcp:127.0.0.1:0 --data-dir "$work/data" ${REGISTRARD_ARGS:-} > "$log" 2>&1 &
pid=$!
cleanup() {
  kill -INT $pid 2>/dev/null
  # Give it 5 s to stop on its own, then force it.
  for _ in $(seq 1 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
  kill -KILL $pid 2>/dev/null
  wait $pid 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
port=""
for _ in $(seq 1 100); do
  port=$(sed -n "s/^registrard: listening on $transport:127.0.0.1:\([0-9]*\)\$/\1/p" "$log")
  [ -n "$port" ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "registrard did not start:"; cat "$log"; exit 1
fi
echo "registrard on $transport:127.0.0.1:$port; scenario $(basename "$scenario")"
# sipp 3.6 takes "-p 0" for its default port 5060, not a free one: ask the
# kernel for a free port (perl-base is on every Debian system).
if [ "$transport" = tcp ]; then
  sipp_port=$(perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:0", Proto => "tcp", Listen => 1) or die "$@"; print $s->sockport')
else
  sipp_port=$(perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:0", Proto => "udp") or die "$@"; print $s->sockport')
fi
# cd: sipp writes its default log files into the current directory.
(cd "$work" && exec timeout -k 5 60 sipp -sf "$scenario" "127.0.0.1:$port" \
  "${sipp_transport[@]}" -i 127.0.0.1 -p "$sipp_port" \
  -timeout 30s -timeout_error -recv_timeout 10s -nostdin \
  -trace_err -error_file "$work/sipp_errors.log" "$@")
rc=$?
if [ $rc -ne 0 ]; then
  for f in "$work"/*.log; do
    [ -s "$f" ] || continue
    echo "---- $(basename "$f") (last 60 lines)"; tail -n 60 "$f"
  done
fi
echo "sipp exit status: $rc"
exit $rc
