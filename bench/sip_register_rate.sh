#!/usr/bin/env bash
# REGISTER throughput of registrard over loopback UDP, driven by sipp, with
# the server's own CPU time per REGISTER (utime+stime from /proc/<pid>/stat:
# the fair figure when sipp shares the two cores).
# Usage: bench/sip_register_rate.sh REGISTRARD [CALLS=50000] [RATE=20000]
# Prints one line: calls, failed, seconds, REGISTER/s, server µs/REGISTER.
set -u
registrard=$(readlink -f "$1")
calls=${2:-50000}
rate=${3:-20000}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
"$registrard" --listen udp:127.0.0.1:0 --log-level warn > "$work/log" 2>&1 &
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
hz=$(getconf CLK_TCK)
sport=$(perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:0", Proto => "udp") or die "$@"; print $s->sockport')
before=$(ticks)
start=$(date +%s.%N)
(cd "$work" && sipp -sf "$here/sip/register-new-user.xml" "127.0.0.1:$port" -i 127.0.0.1 \
   -p "$sport" -m "$calls" -r "$rate" -l 2000 -nostdin -timeout 120s -trace_stat \
   -stf "$work/stat.csv" > "$work/sipp.out" 2>&1)
end=$(date +%s.%N)
after=$(ticks)
failed=$(tail -1 "$work/stat.csv" | awk -F';' '{print $18}')
awk -v c="$calls" -v f="${failed:-?}" -v s="$start" -v e="$end" -v b="$before" -v a="$after" -v hz="$hz" \
  'BEGIN { secs = e - s; printf "calls %d failed %s seconds %.2f REGISTER/s %.0f server_us_per_REGISTER %.1f\n",
           c, f, secs, c / secs, (a - b) * 1e6 / hz / c }'
