#!/usr/bin/env bash
# PUBLISH -> NOTIFY fan-out over SIP (issue 6: "fan-out to 1 / 100 / 10k
# watchers", "10k-watcher fan-out <= 10 ms"): registrard and Kamailio side by
# side, in one run, on 127.0.0.1 UDP only.
#
#   bench/fanout_sip.sh REGISTRARD REGISTRAR_LOAD [RUNS=3]
#
# For each watcher count W of SIZES ("100 1000 10000") and each server, a
# fresh server, then one registrar-load run:
#   registrar-load --mode sip presence -P 1 -W W -K UPDATES --gap GAP
#       --update-log FILE --target-pid PID | --target-pgid PGID
# W watchers SUBSCRIBE to one presentity (setup, not measured), then the one
# publisher sends UPDATES PUBLISHes, one at a time: the next one leaves GAP s
# after every watcher got the NOTIFY of the previous one (so each update is
# measured alone, not queued behind the previous one's 200s). registrar-load
# answers every NOTIFY with a 200 at once (sendmmsg per receive burst).
#
# Per update (registrar-load --update-log), times from the moment the
# PUBLISH left: its 2xx, the first and the LAST of the W NOTIFYs carrying it.
# Per run: p50 and p90 over the updates of PUBLISH -> last NOTIFY (the
# fan-out latency) and of PUBLISH -> first NOTIFY; NOTIFY/s during a fan-out
# (W / PUBLISH -> last NOTIFY, median over the updates); server CPU per
# NOTIFY = CPU of the measured phase only (registrar-load samples it when the
# first PUBLISH leaves and when the last update completes: schedstat ns, all
# threads of registrard, all processes of Kamailio's process group) / NOTIFYs
# of the updates received; NOTIFYs lost (notify_missing: never came within
# timer B), repeated NOTIFYs (a CSeq not above the last one in the dialog:
# retransmissions), UDP receive-buffer drops: host-wide (lib.sh's
# udp_rcvbuf_errors), at registrar-load's sockets and at the server's socket
# (/proc/net/udp drops column).
#
# Servers: kamailio (bench/kamailio/kamailio.sh, WORKERS=2: children=2, tlsf,
# memory only) and registrard (--durability off, a fresh temporary
# --data-dir, --caf scheduler.max-threads=WORKERS, its default 2). The server
# order is reversed every other round.
#
# Output: one line per run, then per W and server the median over the runs
# (min..max) and the ratios ours/Kamailio of the medians.
#
# Environment: SIZES ("100 1000 10000"), UPDATES (20), GAP (0.2 s), WORKERS
# (2), SERVERS ("kamailio registrard"), RUN_TIMEOUT (s per registrar-load
# run, 900), KAM_MEM (see kamailio.sh), LOAD_ARGS (added to every
# registrar-load command), KEEP=1 keeps the work directory (logs, JSON and
# update log of every run).
# Exit status: 0 when every run completed with no error, 1 otherwise.
set -u
if [ $# -lt 2 ]; then
  sed -n '2,46p' "${BASH_SOURCE[0]}" >&2
  exit 64
fi
registrard=$(readlink -f "$1")
load=$(readlink -f "$2")
runs=${3:-3}
sizes=${SIZES:-100 1000 10000}
updates=${UPDATES:-20}
gap=${GAP:-0.2}
workers=${WORKERS:-2}
run_timeout=${RUN_TIMEOUT:-900}
read -r -a servers <<< "${SERVERS:-kamailio registrard}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kam="$here/kamailio/kamailio.sh"
[ -x "$registrard" ] || { echo "fanout_sip.sh: $1 is not executable" >&2; exit 2; }
[ -x "$load" ] || { echo "fanout_sip.sh: $2 is not executable" >&2; exit 2; }
command -v python3 > /dev/null || { echo "fanout_sip.sh: python3 missing" >&2; exit 2; }
for s in "${servers[@]}"; do
  case $s in kamailio | registrard) ;; *) echo "fanout_sip.sh: unknown server $s" >&2; exit 2 ;; esac
done
case " ${servers[*]} " in *" kamailio "*) "$kam" install || exit 2 ;; esac

work=$(mktemp -d /tmp/fanout-sip.XXXXXX)
kam_dir=""   # work dir of the running Kamailio, if any
reg_pid=""   # PID of the running registrard, if any
load_pid=""  # PID of the running registrar-load (timeout), if any

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
  if [ -n "$load_pid" ]; then
    kill -TERM "$load_pid" 2> /dev/null
    wait "$load_pid" 2> /dev/null
    load_pid=""
  fi
  stop_registrard
  stop_kamailio
  if [ -n "${KEEP:-}" ]; then
    echo "# work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# shellcheck source=bench/kamailio/lib.sh
. "$here/kamailio/lib.sh" # free_port, udp_rcvbuf_errors

# start_server NAME DIR: starts it, sets $port and $target (registrar-load's
# CPU option), and $reg_pid or $kam_dir.
start_server() {
  local name=$1 dir=$2
  mkdir -p "$dir"
  case $name in
    kamailio)
      port=$(free_port) || return 1
      local pid
      pid=$("$kam" start "$port" "$workers" "$dir/kam" 2> "$dir/kam-start.err") \
        || { cat "$dir/kam-start.err" >&2; kam_dir="$dir/kam"; stop_kamailio; return 1; }
      kam_dir="$dir/kam"
      # kamailio.sh runs it under setsid: the main PID leads the group of
      # every process it forks.
      target=(--target-pgid "$pid")
      ;;
    registrard)
      "$registrard" --listen "udp:127.0.0.1:0" --log-level warn --durability off \
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
        echo "fanout_sip.sh: registrard did not start:" >&2
        cat "$dir/registrard.log" >&2
        stop_registrard
        return 1
      fi
      target=(--target-pid "$reg_pid")
      ;;
  esac
  sleep 0.5 # start-up work (module init, timers) out of the figures
}
stop_server() {
  case $1 in
    kamailio) stop_kamailio ;;
    *) stop_registrard ;;
  esac
}
# Receive-buffer drops of the UDP socket bound to 127.0.0.1:PORT (the last
# column of /proc/net/udp; 0 when not found).
port_drops() {
  awk -v p="$(printf '%04X' "$1")" 'NR > 1 && toupper($2) == "0100007F:" p { d += $NF } END { print d + 0 }' /proc/net/udp
}

results="$work/results.jsonl"
: > "$results"
TIMEFORMAT='%3U %3S'
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); kernel $(uname -r)"
echo "# kamailio $(kamailio -v 2> /dev/null | sed -n 's/^version: kamailio \([^ ]*\).*/\1/p') (${KAM_MEM:-tlsf}, $workers workers); registrard --durability off, CAF scheduler $workers workers"
echo "# registrar-load --mode sip presence -P 1 -W {$sizes} -K $updates --gap $gap ${LOAD_ARGS:-}; $runs rounds"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
failures=0
for round in $(seq 1 "$runs"); do
  order=("${servers[@]}")
  if [ $((round % 2)) -eq 0 ]; then
    order=()
    for ((i = ${#servers[@]} - 1; i >= 0; i--)); do order+=("${servers[i]}"); done
  fi
  for w in $sizes; do
    for name in "${order[@]}"; do
      dir="$work/r$round-w$w-$name"
      target=()
      if ! start_server "$name" "$dir"; then
        echo "round $round W=$w $name: server did not start" >&2
        failures=$((failures + 1))
        continue
      fi
      e0=$(udp_rcvbuf_errors)
      la=$(cut -d' ' -f1 /proc/loadavg)
      # `time`: registrar-load's own CPU (user sys), to see whether the load
      # generator is what bounds the rate.
      # shellcheck disable=SC2086 # LOAD_ARGS: word splitting wanted
      { time timeout -k 5 "$run_timeout" "$load" --mode sip --target "127.0.0.1:$port" \
          "${target[@]}" --no-progress --json "$dir/load.json" --update-log "$dir/updates.log" \
          ${LOAD_ARGS:-} presence -P 1 -W "$w" -K "$updates" --gap "$gap" \
          > "$dir/load.out" 2>&1 & load_pid=$!; wait $load_pid; } 2> "$dir/load.time"
      rc=$?
      load_pid=""
      e1=$(udp_rcvbuf_errors)
      sd=$(port_drops "$port")
      stop_server "$name"
      python3 - "$dir" "$name" "$w" "$round" "$rc" $((e1 - e0)) "$sd" "$la" \
          "$(tail -1 "$dir/load.time")" >> "$results" << 'EOF'
import json, statistics, sys
d, name, w, rnd, rc, drops, sdrops, la, lt = sys.argv[1:]
def q(v, p):
    # nearest rank
    v = sorted(v)
    if not v:
        return None
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 1)) - 1))
    return v[k]
r = {"server": name, "watchers": int(w), "round": int(rnd), "rc": int(rc),
     "udp_drops_host": int(drops), "udp_drops_server": int(sdrops), "loadavg1": float(la)}
try:
    r["load_gen_cpu_s"] = sum(float(x) for x in lt.split())
except ValueError:
    r["load_gen_cpu_s"] = None
try:
    j = json.load(open(d + "/load.json"))
except Exception as e:
    r["error"] = "no JSON (%s)" % e
    print(json.dumps(r)); sys.exit(0)
c = j.get("counters", {})
ups = []
for line in open(d + "/updates.log"):
    if line.startswith("#") or not line.strip():
        continue
    f = line.split()
    ups.append({"sent_s": float(f[2]), "publish_2xx_us": float(f[3]), "first_us": float(f[4]),
                "last_us": float(f[5]), "total_us": float(f[6]), "notified": int(f[7]),
                "watchers": int(f[8]), "repeated": int(f[9]), "status": f[10]})
ok = [u for u in ups if u["status"] == "ok"]
last = [u["last_us"] for u in ok]
first = [u["first_us"] for u in ok]
r.update(updates=len(ups), updates_ok=len(ok), errors=j["errors"],
         errors_by_status=j.get("errors_by_status", {}),
         last_p50_us=q(last, 0.5), last_p90_us=q(last, 0.9), last_max_us=max(last) if last else None,
         first_p50_us=q(first, 0.5), p2xx_p50_us=q([u["publish_2xx_us"] for u in ok], 0.5),
         notify_per_s=statistics.median([u["watchers"] / (u["last_us"] / 1e6) for u in ok if u["last_us"] > 0]) if ok else None,
         notified=sum(u["notified"] for u in ups),
         expected=sum(u["watchers"] for u in ups),
         notify_missing=c.get("notify_missing", 0),
         notify_repeated=c.get("notify_repeated_measured", 0),
         udp_drops_load=c.get("udp_drops_local", 0),
         udp_send_failed=c.get("udp_send_failed", 0),
         measured_s=j["seconds"],
         cpu_sched_s=j.get("target_cpu_sched_seconds"), cpu_ticks_s=j.get("target_cpu_seconds"))
n = r["notified"]
r["us_per_notify"] = r["cpu_sched_s"] * 1e6 / n if n and r["cpu_sched_s"] is not None else None
r["us_per_notify_ticks"] = r["cpu_ticks_s"] * 1e6 / n if n and r["cpu_ticks_s"] is not None else None
print(json.dumps(r))
EOF
      python3 - "$results" "$dir" << 'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
if "error" in r:
    print("round %d W=%-5d %-10s rc %d: %s; see %s/load.out" % (r["round"], r["watchers"], r["server"],
          r["rc"], r["error"], sys.argv[2]))
    sys.exit(0)
def ms(v): return "-" if v is None else "%.2f" % (v / 1e3)
print("round %d W=%-5d %-10s rc %d: %d/%d updates ok, PUBLISH->last NOTIFY p50 %s ms p90 %s ms max %s ms, "
      "->first NOTIFY p50 %s ms, ->2xx p50 %s ms, %.0f NOTIFY/s, server %s us/NOTIFY (ticks %s), "
      "%d/%d NOTIFYs, %d missing, %d repeated, UDP drops host %d server %d load %d, "
      "registrar-load %.2f s CPU, loadavg %.1f" % (
      r["round"], r["watchers"], r["server"], r["rc"], r["updates_ok"], r["updates"],
      ms(r["last_p50_us"]), ms(r["last_p90_us"]), ms(r["last_max_us"]), ms(r["first_p50_us"]),
      ms(r["p2xx_p50_us"]), r["notify_per_s"] or 0,
      "-" if r["us_per_notify"] is None else "%.2f" % r["us_per_notify"],
      "-" if r["us_per_notify_ticks"] is None else "%.1f" % r["us_per_notify_ticks"],
      r["notified"], r["expected"], r["notify_missing"], r["notify_repeated"],
      r["udp_drops_host"], r["udp_drops_server"], r["udp_drops_load"],
      r["load_gen_cpu_s"] or 0, r["loadavg1"]))
EOF
      if [ "$rc" -ne 0 ] || ! python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
sys.exit(0 if "error" not in r and r["errors"] == 0 and r["notify_missing"] == 0 else 1)' "$results"; then
        failures=$((failures + 1))
      fi
    done
  done
done

echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$results" "$sizes" << 'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sizes = [int(x) for x in sys.argv[2].split()]
def med(v): return statistics.median(v) if v else None
def rng(v, f): return "(%s..%s)" % (f(min(v)), f(max(v))) if len(v) > 1 else ""
def ms(v): return "-" if v is None else ("%.1f" % (v / 1e3) if v >= 1e4 else "%.2f" % (v / 1e3))
def num(v): return "-" if v is None else f"{v:,.0f}".replace(",", " ")
def us(v): return "-" if v is None else "%.2f" % v
t = {}
for r in rows:
    if "error" in r or r.get("last_p50_us") is None:
        continue
    x = t.setdefault((r["server"], r["watchers"]), {k: [] for k in
        ("last", "p90", "first", "rate", "cpu")} | {"n": 0, "bad": 0, "missing": 0, "rep": 0, "drops": 0})
    x["last"].append(r["last_p50_us"]); x["p90"].append(r["last_p90_us"]); x["first"].append(r["first_p50_us"])
    x["rate"].append(r["notify_per_s"])
    if r["us_per_notify"] is not None:
        x["cpu"].append(r["us_per_notify"])
    x["n"] += 1
    x["bad"] += r["errors"] + (1 if r["rc"] else 0)
    x["missing"] += r["notify_missing"]; x["rep"] += r["notify_repeated"]
    x["drops"] += r["udp_drops_host"]
print()
print("| watchers | server | runs | PUBLISH → last NOTIFY p50, ms | p90, ms | → first NOTIFY p50, ms | "
      "NOTIFY/s in a fan-out | server CPU µs/NOTIFY | lost / repeated NOTIFYs, UDP drops | "
      "latency ours/Kam. | NOTIFY/s ours/Kam. | CPU/NOTIFY ours/Kam. |")
print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for w in sizes:
    k = t.get(("kamailio", w))
    for srv in ("kamailio", "registrard"):
        x = t.get((srv, w))
        if not x:
            continue
        rl = rr = rc = "—"
        if srv != "kamailio" and k:
            rl = "%.3f" % (med(x["last"]) / med(k["last"]))
            rr = "%.1f" % (med(x["rate"]) / med(k["rate"]))
            if x["cpu"] and k["cpu"]:
                rc = "%.3f" % (med(x["cpu"]) / med(k["cpu"]))
        bad = " (errors: %d)" % x["bad"] if x["bad"] else ""
        print(f"| {w} | {srv}{bad} | {x['n']} | {ms(med(x['last']))} {rng(x['last'], ms)} | "
              f"{ms(med(x['p90']))} {rng(x['p90'], ms)} | {ms(med(x['first']))} | "
              f"{num(med(x['rate']))} {rng(x['rate'], num)} | {us(med(x['cpu']))} {rng(x['cpu'], us) if x['cpu'] else ''} | "
              f"{x['missing']} / {x['rep']}, {x['drops']} | {rl} | {rr} | {rc} |")
EOF
echo "# per run: p50/p90 over its updates; table: median over the runs (min..max of the runs)."
echo "# CPU: schedstat ns of the measured phase (all threads / the whole Kamailio process group) / NOTIFYs of the updates received."
[ "$failures" -eq 0 ] || { echo "# $failures run(s) failed, had errors or lost NOTIFYs (KEEP=1 keeps the logs)"; exit 1; }
exit 0
