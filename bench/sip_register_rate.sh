#!/usr/bin/env bash
# REGISTER throughput of registrard over loopback UDP, driven by sipp, with
# the server's own CPU time per REGISTER (utime+stime from /proc/<pid>/stat:
# the fair figure when sipp shares the two cores).
# Usage: bench/sip_register_rate.sh REGISTRARD [CALLS=50000] [RATE=20000]
# Prints one line: calls, failed, seconds, REGISTER/s, server µs/REGISTER,
# the same from /proc/<pid>/task/*/schedstat (ns on CPU: precise, while the
# /proc/<pid>/stat ticks are 10 ms each = 0.5 µs per REGISTER at 20k calls),
# and the daemon's context switches (voluntary + involuntary, all threads)
# per REGISTER. REGISTRARD_ARGS (env) is added to registrard's command line,
# e.g. REGISTRARD_ARGS="--caf scheduler.policy=stealing --caf scheduler.max-threads=4";
# LIMIT (env, default 2000) is sipp -l, the REGISTERs in flight. sipp gets
# a 4 MB socket buffer (-buff_size, as bench/kamailio/bench.sh): with its
# 64 KB default a burst of 200s overflows it, sipp retransmits after 500 ms
# and the run measures that. udp_drops = RcvbufErrors of /proc/net/snmp
# during the run (any socket on the machine).
set -u
registrard=$(readlink -f "$1")
calls=${2:-50000}
rate=${3:-20000}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
# shellcheck disable=SC2086
"$registrard" --listen udp:127.0.0.1:0 --log-level warn ${REGISTRARD_ARGS:-} > "$work/log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/^registrard: listening on udp:127.0.0.1:\([0-9]*\)$/\1/p' "$work/log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "registrard did not start"; cat "$work/log"; exit 1; }
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
ctxsw() { cat /proc/$pid/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s}'; }
cpu_ns() { cat /proc/$pid/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'; }
hz=$(getconf CLK_TCK)
sport=$(perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:0", Proto => "udp") or die "$@"; print $s->sockport')
before=$(ticks)
cs_before=$(ctxsw)
ns_before=$(cpu_ns)
rcvbuf() { awk '/^Udp:/ { if (++n == 2) print $6 }' /proc/net/snmp; }
drops_before=$(rcvbuf)
start=$(date +%s.%N)
(cd "$work" && sipp -sf "$here/sip/register-new-user.xml" "127.0.0.1:$port" -i 127.0.0.1 \
   -p "$sport" -m "$calls" -r "$rate" -l "${LIMIT:-2000}" -buff_size 4194304 -nostdin -timeout 120s -trace_stat \
   -stf "$work/stat.csv" > "$work/sipp.out" 2>&1)
end=$(date +%s.%N)
after=$(ticks)
cs_after=$(ctxsw)
ns_after=$(cpu_ns)
drops_after=$(rcvbuf)
failed=$(tail -1 "$work/stat.csv" | awk -F';' '{print $18}')
awk -v c="$calls" -v f="${failed:-?}" -v s="$start" -v e="$end" -v b="$before" -v a="$after" -v hz="$hz" \
  -v cb="$cs_before" -v ca="$cs_after" -v nb="$ns_before" -v na="$ns_after" \
  -v drops="$((drops_after - drops_before))" \
  'BEGIN { secs = e - s; printf "calls %d failed %s seconds %.2f REGISTER/s %.0f server_us_per_REGISTER %.1f schedstat_us %.1f ctxsw_per_REGISTER %.2f udp_drops %d\n",
           c, f, secs, c / secs, (a - b) * 1e6 / hz / c, (na - nb) / 1e3 / c, (ca - cb) / c, drops }'
