#!/usr/bin/env bash
# registrard and Kamailio side by side (issue 6), driven by the same
# registrar-load SIP scenarios, in one run, on 127.0.0.1 only.
#
#   bench/compare_kamailio.sh REGISTRARD REGISTRAR_LOAD [RUNS=3]
#
# Servers (a fresh one for every run, stopped right after it):
#   kamailio        bench/kamailio/kamailio.sh, WORKERS=2 (children=2,
#                   tlsf allocator unless KAM_MEM=qm), memory only
#   registrard      --durability off (memory only), CAF scheduler with 2
#                   workers (--caf scheduler.max-threads=2, its default)
#   registrard-sync the same with the default --durability sync, journal
#                   in a fresh temporary --data-dir (extra line; SYNC=0 skips)
# Scenarios (registrar-load --mode sip, UDP):
#   register   register --count USERS --concurrency CONC   (20000 new users, 64)
#   presence   presence $PRESENCE  (-P 1 -W 200 -K 100: each watcher SUBSCRIBEs
#              first, then 100 PUBLISHes, each fanned out to 200 NOTIFYs)
# Each round runs every scenario on every server; the server order is
# reversed from one round to the next (kamailio first in odd rounds, last in
# even ones).
#
# Server CPU, the fair figure when the load generator shares the cores, is
# taken by this script around the whole registrar-load run (setup included):
#   registrard: the sum of /proc/PID/task/*/schedstat (ns on CPU, every
#               thread), and utime+stime of /proc/PID/stat (all threads,
#               ticks) as a cross-check;
#   Kamailio:   kamailio.sh cpu_ns / cpu: the same summed over its whole
#               process group (main, UDP/TCP receivers, timers, ...).
# registrar-load's own --target-pid figure sees one process only, which for
# Kamailio is the idle attendant: it is not used for Kamailio.
# µs per operation = server CPU / REGISTERs sent (register) or / NOTIFYs
# received by the watchers during the run (presence: the first NOTIFY of
# each SUBSCRIBE + one per watcher per PUBLISH).
#
# Output: one line per run, then the table: per server and scenario the
# median throughput (REGISTER/s; NOTIFY/s for presence) and median server
# µs per operation with min..max, the PUBLISH -> last NOTIFY latency p50 for
# presence, and the ratios ours/Kamailio of the medians (throughput: higher
# is better for us; CPU and PUBLISH -> last NOTIFY latency: lower is better).
#
# Environment: USERS (20000), CONC (64), PRESENCE ("-P 1 -W 200 -K 100"),
# WORKERS (2, both servers), SYNC (1), RUN_TIMEOUT (s per registrar-load run,
# 300), KAM_MEM (see kamailio.sh), LOAD_ARGS (added to every registrar-load
# command), KEEP=1 keeps the work directory (logs, JSON of every run).
# Exit status: 0 when every run had no error, 1 otherwise.
set -u
if [ $# -lt 2 ]; then
  sed -n '2,45p' "${BASH_SOURCE[0]}" >&2
  exit 64
fi
registrard=$(readlink -f "$1")
load=$(readlink -f "$2")
runs=${3:-3}
users=${USERS:-20000}
conc=${CONC:-64}
presence_args=${PRESENCE:--P 1 -W 200 -K 100}
workers=${WORKERS:-2}
sync=${SYNC:-1}
run_timeout=${RUN_TIMEOUT:-300}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kam="$here/kamailio/kamailio.sh"
[ -x "$registrard" ] || { echo "compare_kamailio.sh: $1 is not executable" >&2; exit 2; }
[ -x "$load" ] || { echo "compare_kamailio.sh: $2 is not executable" >&2; exit 2; }
command -v python3 > /dev/null || { echo "compare_kamailio.sh: python3 missing" >&2; exit 2; }
"$kam" install || exit 2

work=$(mktemp -d /tmp/compare-kamailio.XXXXXX)
kam_dir=""   # work dir of the running Kamailio, if any
reg_pid=""   # PID of the running registrard, if any

stop_registrard() {
  [ -n "$reg_pid" ] || return 0
  if kill -0 "$reg_pid" 2> /dev/null; then
    kill -INT "$reg_pid" 2> /dev/null
    for _ in $(seq 1 100); do
      kill -0 "$reg_pid" 2> /dev/null || break
      sleep 0.1
    done
    kill -KILL "$reg_pid" 2> /dev/null
  fi
  wait "$reg_pid" 2> /dev/null
  reg_pid=""
}
stop_kamailio() {
  [ -n "$kam_dir" ] || return 0
  "$kam" stop "$kam_dir" > /dev/null 2>&1
  kam_dir=""
}
cleanup() {
  stop_registrard
  stop_kamailio
  if [ -n "${KEEP:-}" ]; then
    echo "# work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=bench/kamailio/lib.sh
. "$here/kamailio/lib.sh"   # free_port, udp_rcvbuf_errors

# start_server NAME DIR: starts it, sets $port (and $reg_pid or $kam_dir).
start_server() {
  local name=$1 dir=$2
  mkdir -p "$dir"
  case $name in
    kamailio)
      port=$(free_port) || return 1
      "$kam" start "$port" "$workers" "$dir/kam" > /dev/null 2> "$dir/kam-start.err" \
        || { cat "$dir/kam-start.err" >&2; return 1; }
      kam_dir="$dir/kam"
      ;;
    registrard | registrard-sync)
      local dur=off
      [ "$name" = registrard-sync ] && dur=sync
      "$registrard" --listen "udp:127.0.0.1:0" --log-level warn --durability "$dur" \
        --data-dir "$dir/data" --caf "scheduler.max-threads=$workers" \
        > "$dir/registrard.log" 2>&1 &
      reg_pid=$!
      port=""
      for _ in $(seq 1 100); do
        port=$(sed -n 's/^registrard: listening on udp:127.0.0.1:\([0-9]*\)$/\1/p' "$dir/registrard.log")
        [ -n "$port" ] && break
        kill -0 "$reg_pid" 2> /dev/null || break
        sleep 0.1
      done
      if [ -z "$port" ]; then
        echo "compare_kamailio.sh: registrard did not start:" >&2
        cat "$dir/registrard.log" >&2
        stop_registrard
        return 1
      fi
      ;;
  esac
  sleep 0.5 # start-up work (module init, timers, journal) out of the figures
}
stop_server() {
  case $1 in
    kamailio) stop_kamailio ;;
    *) stop_registrard ;;
  esac
}
# server_cpu NAME: "NS TICKS" of the running server, summed over all of it.
server_cpu() {
  case $1 in
    kamailio) echo "$("$kam" cpu_ns "$kam_dir") $("$kam" cpu "$kam_dir")" ;;
    *)
      local ns ticks
      ns=$(cat /proc/"$reg_pid"/task/*/schedstat 2> /dev/null | awk '{s += $1} END {printf "%.0f", s}')
      ticks=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$reg_pid/stat")
      echo "$ns $ticks"
      ;;
  esac
}
scenario_args() {
  case $1 in
    register) echo "register --count $users --concurrency $conc" ;;
    presence) echo "presence $presence_args" ;;
  esac
}

servers=(kamailio registrard)
[ "$sync" = 1 ] && servers+=(registrard-sync)
results="$work/results.jsonl"
: > "$results"
hz=$(getconf CLK_TCK)
TIMEFORMAT='%3U %3S'
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); kamailio $(kamailio -v 2> /dev/null | sed -n 's/^version: kamailio \([^ ]*\).*/\1/p') (${KAM_MEM:-tlsf}, $workers workers); registrard CAF scheduler $workers workers"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the rates more than the CPU per operation)"
echo "# registrar-load --mode sip --target 127.0.0.1:PORT: register --count $users --concurrency $conc | presence $presence_args; $runs rounds"
failures=0
for round in $(seq 1 "$runs"); do
  order=("${servers[@]}")
  if [ $((round % 2)) -eq 0 ]; then
    order=()
    for ((i = ${#servers[@]} - 1; i >= 0; i--)); do order+=("${servers[i]}"); done
  fi
  for sc in register presence; do
    for name in "${order[@]}"; do
      dir="$work/r$round-$sc-$name"
      if ! start_server "$name" "$dir"; then
        echo "round $round $sc $name: server did not start" >&2
        failures=$((failures + 1))
        continue
      fi
      pid_arg=()
      [ "$name" != kamailio ] && pid_arg=(--target-pid "$reg_pid")
      read -r ns0 t0 <<< "$(server_cpu "$name")"
      e0=$(udp_rcvbuf_errors)
      la=$(cut -d' ' -f1 /proc/loadavg)
      w0=$(date +%s.%N)
      # `time` reports registrar-load's own CPU (user sys), to see which
      # side bounds the rate.
      # shellcheck disable=SC2046,SC2086 # word splitting wanted
      { time timeout -k 5 "$run_timeout" "$load" --mode sip --target "127.0.0.1:$port" \
        "${pid_arg[@]}" --no-progress --json "$dir/load.json" ${LOAD_ARGS:-} \
        $(scenario_args "$sc") > "$dir/load.out" 2>&1; } 2> "$dir/load.time"
      rc=$?
      w1=$(date +%s.%N)
      read -r ns1 t1 <<< "$(server_cpu "$name")"
      e1=$(udp_rcvbuf_errors)
      stop_server "$name"
      python3 - "$dir/load.json" "$name" "$sc" "$round" "$rc" $((ns1 - ns0)) $((t1 - t0)) \
          "$hz" $((e1 - e0)) "$w0" "$w1" "$la" "$(tail -1 "$dir/load.time")" >> "$results" << 'EOF'
import json, sys
path, name, sc, rnd, rc, dns, dticks, hz, drops, w0, w1, la, lt = sys.argv[1:]
try:
    load_cpu = sum(float(x) for x in lt.split())
except ValueError:
    load_cpu = 0.0
r = {"server": name, "scenario": sc, "round": int(rnd), "rc": int(rc), "loadavg1": float(la),
     "load_gen_cpu_s": load_cpu,
     "cpu_ns": int(dns), "cpu_ticks": int(dticks), "hz": int(hz),
     "udp_drops": int(drops), "wall_s": float(w1) - float(w0)}
try:
    j = json.load(open(path))
except Exception as e:
    r["error"] = "no JSON (%s)" % e
else:
    c = j.get("counters", {})
    r.update(ops=j["operations"], errors=j["errors"], errors_by_status=j.get("errors_by_status", {}),
             seconds=j["seconds"], throughput=j["throughput_per_s"],
             p50_us=j["latency"]["p50"], p99_us=j["latency"]["p99"],
             counters=c, load_cpu_us_per_op=j.get("target_cpu_us_per_op"))
    if sc == "register":
        r["per_s"] = j["throughput_per_s"]
        r["denominator"] = j["operations"]
    else:
        r["per_s"] = j.get("notifications_per_s", 0.0)
        r["denominator"] = c.get("notify_received", 0)
    d = r["denominator"]
    r["us_per_op"] = int(dns) / 1e3 / d if d else None
    r["us_per_op_ticks"] = int(dticks) * 1e6 / int(hz) / d if d else None
print(json.dumps(r))
EOF
      python3 - "$results" "$dir" << 'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
unit = "REGISTER" if r["scenario"] == "register" else "NOTIFY"
if "error" in r:
    print("round %d %-8s %-15s rc %d: %s; see %s/load.out" % (r["round"], r["scenario"], r["server"],
          r["rc"], r["error"], sys.argv[2]))
    sys.exit(0)
extra = ""
if r["scenario"] == "presence":
    extra = ", PUBLISH->last NOTIFY p50 %.0f us p99 %.0f us, %d NOTIFYs (%d measured)" % (
        r["p50_us"], r["p99_us"], r["counters"].get("notify_received", 0),
        r["counters"].get("notifications", 0))
print("round %d %-8s %-15s rc %d: %d ops, %d errors%s, %.0f %s/s, server %.2f us/%s "
      "(schedstat; ticks %.1f)%s, server %.2f s + registrar-load %.2f s CPU in %.2f s, UDP drops %d, loadavg %.1f" % (
      r["round"], r["scenario"], r["server"], r["rc"], r["ops"], r["errors"],
      " " + json.dumps(r["errors_by_status"]) if r["errors"] else "", r["per_s"], unit,
      r["us_per_op"] or 0, unit, r["us_per_op_ticks"] or 0, extra, r["cpu_ns"] / 1e9,
      r["load_gen_cpu_s"], r["wall_s"], r["udp_drops"], r["loadavg1"]))
EOF
      [ "$rc" -eq 0 ] || failures=$((failures + 1))
    done
  done
done

echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$results" << 'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(v): return statistics.median(v) if v else None
def fmt(v, p=0):
    return "-" if v is None else f"{v:,.{p}f}".replace(",", " ")
table = {}
for r in rows:
    if "error" in r or r.get("us_per_op") is None:
        continue
    t = table.setdefault((r["server"], r["scenario"]), {"per_s": [], "us": [], "p50": [], "err": 0, "n": 0})
    t["per_s"].append(r["per_s"]); t["us"].append(r["us_per_op"]); t["p50"].append(r["p50_us"])
    t["err"] += r["errors"] + (1 if r["rc"] else 0); t["n"] += 1
print()
print("| scenario | server | runs | throughput, median (min..max) | server µs/op, median (min..max) | "
      "update latency p50 µs | throughput ours/Kamailio | CPU/op ours/Kamailio | latency ours/Kamailio |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for sc, unit in (("register", "REGISTER/s"), ("presence", "NOTIFY/s")):
    k = table.get(("kamailio", sc))
    for srv in ("kamailio", "registrard", "registrard-sync"):
        t = table.get((srv, sc))
        if not t:
            continue
        thr, us = med(t["per_s"]), med(t["us"])
        ratio_t = ratio_c = ratio_l = "—"
        if srv != "kamailio" and k:
            ratio_t = "%.2f" % (thr / med(k["per_s"]))
            ratio_c = "%.2f" % (us / med(k["us"]))
            if sc == "presence" and med(t["p50"]) and med(k["p50"]):
                ratio_l = "%.2f" % (med(t["p50"]) / med(k["p50"]))
        lat = fmt(med(t["p50"])) if sc == "presence" else "—"
        bad = " (errors: %d)" % t["err"] if t["err"] else ""
        print(f"| {sc} | {srv}{bad} | {t['n']} | {fmt(thr)} {unit} ({fmt(min(t['per_s']))}..{fmt(max(t['per_s']))}) "
              f"| {fmt(us, 2)} ({fmt(min(t['us']), 2)}..{fmt(max(t['us']), 2)}) | {lat} | {ratio_t} | {ratio_c} | {ratio_l} |")
EOF
echo "# µs/op: server CPU (schedstat ns, all threads / whole Kamailio process group) over the whole registrar-load run / REGISTERs sent, or / NOTIFYs the watchers received (presence)"
[ "$failures" -eq 0 ] || { echo "# $failures run(s) failed or had errors (KEEP=1 keeps the logs)"; exit 1; }
exit 0
