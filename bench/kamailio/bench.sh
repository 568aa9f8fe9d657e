#!/usr/bin/env bash
# REGISTER throughput of Kamailio (kamailio.sh, same machine, loopback UDP)
# for new users, driven by sipp, with Kamailio's CPU time per REGISTER summed
# over ALL its processes. Each run starts a fresh Kamailio (so every user is
# new), sends USERS REGISTERs of distinct AORs, stops it.
#
# Usage: bench/kamailio/bench.sh [USERS=10000] [RUNS=3] [WORKERS=2]
# Environment: RATE (sipp -r, default 100000: as fast as it goes), LIMIT
# (sipp -l, outstanding REGISTERs, default 1000), KAM_MEM (tlsf | fm | qm,
# see kamailio.sh), SCENARIO (default sipp/register.xml).
#
# Per run it prints: REGISTER/s (sipp's cumulative call rate: calls / time
# from the first to the last call of the run), server µs/REGISTER from
# utime+stime of /proc/<pid>/stat (clock ticks: 10 ms resolution, so coarse
# for short runs) and from /proc/<pid>/schedstat (ns run time), failed calls,
# retransmissions, kernel UDP receive-buffer drops during the run; then the
# median of the runs and the spread (min..max).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
users=${1:-10000}
runs=${2:-3}
workers=${3:-2}
rate=${RATE:-100000}
limit=${LIMIT:-1000}
scenario=${SCENARIO:-$here/sipp/register.xml}
k="$here/kamailio.sh"
hz=$(getconf CLK_TCK)

command -v sipp > /dev/null || { echo "bench.sh: sipp missing (apt-get install sip-tester)" >&2; exit 2; }

# shellcheck source=bench/kamailio/lib.sh
. "$here/lib.sh"   # free_port, udp_rcvbuf_errors
# column of sipp's -trace_stat csv (last line) by name
stat_col() {
  awk -F';' -v n="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next } { v = $c } END { print v }' "$1"
}

work=$(mktemp -d /tmp/kamailio-bench.XXXXXX)
cur=""
cleanup() { [ -n "$cur" ] && "$k" stop "$cur" > /dev/null 2>&1; [ -n "${KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "# kamailio $(kamailio -v 2>/dev/null | sed -n 's/^version: kamailio \([^ ]*\).*/\1/p'), $workers workers, memory manager ${KAM_MEM:-tlsf}; $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
echo "# sipp $(basename "$scenario") -m $users -r $rate -l $limit, UDP 127.0.0.1"
results="$work/results"
: > "$results"
for run in $(seq 1 "$runs"); do
  cur="$work/run$run"
  port=$(free_port) || { echo "bench.sh: no free port" >&2; exit 1; }
  "$k" start "$port" "$workers" "$cur" > /dev/null || exit 1
  sleep 0.5 # let the start-up work (module init, timers) finish
  sport=$(free_port) || exit 1
  e0=$(udp_rcvbuf_errors)
  t0=$("$k" cpu "$cur")
  n0=$("$k" cpu_ns "$cur")
  (cd "$cur" && sipp -sf "$scenario" "127.0.0.1:$port" -i 127.0.0.1 -p "$sport" -t u1 \
     -m "$users" -r "$rate" -l "$limit" -buff_size 4194304 -key user_prefix "r${run}_" \
     -nostdin -timeout 120s -timeout_error -trace_stat -stf stat.csv > sipp.out 2>&1)
  rc=$?
  t1=$("$k" cpu "$cur")
  n1=$("$k" cpu_ns "$cur")
  e1=$(udp_rcvbuf_errors)
  "$k" stop "$cur" > /dev/null
  rate_c=$(stat_col "$cur/stat.csv" 'CallRate(C)')
  ok=$(stat_col "$cur/stat.csv" 'SuccessfulCall(C)')
  failed=$(stat_col "$cur/stat.csv" 'FailedCall(C)')
  retrans=$(stat_col "$cur/stat.csv" 'Retransmissions(C)')
  awk -v run="$run" -v rc="$rc" -v r="$rate_c" -v ok="$ok" -v f="$failed" -v rt="$retrans" \
      -v dt=$((t1 - t0)) -v dn=$((n1 - n0)) -v hz="$hz" -v de=$((e1 - e0)) -v n="$users" 'BEGIN {
    printf "run %d: %d ok, %s failed, %s retrans, %d UDP drops, sipp rc %d: %.0f REGISTER/s, server %.1f us/REGISTER (stat, %d ticks), %.1f us/REGISTER (schedstat)\n",
      run, ok, f, rt, de, rc, r, dt * 1e6 / hz / n, dt, dn / 1e3 / n }'
  echo "$rate_c $((t1 - t0)) $((n1 - n0)) $failed" >> "$results"
  cur=""
done
awk -v hz="$hz" -v n="$users" '
  { r[NR] = $1; t[NR] = $2 * 1e6 / hz / n; s[NR] = $3 / 1e3 / n; f += $4 }
  function med(a, m,   i, j, x) { for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x }
                                  return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
  END {
    m = NR
    mr = med(r, m); lo_r = r[1]; hi_r = r[m]
    mt = med(t, m); lo_t = t[1]; hi_t = t[m]
    ms = med(s, m); lo_s = s[1]; hi_s = s[m]
    printf "median of %d: %.0f REGISTER/s (%.0f..%.0f), server %.1f us/REGISTER by stat (%.1f..%.1f), %.1f by schedstat (%.1f..%.1f); failed %d\n",
      m, mr, lo_r, hi_r, mt, lo_t, hi_t, ms, lo_s, hi_s, f
    exit (f > 0) }' "$results"
