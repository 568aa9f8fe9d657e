#!/usr/bin/env bash
# One registrard node vs a three-node cluster (issue 8's benchmark list), in
# one run, on 127.0.0.1 only, driven by registrar-load over SIP/UDP.
#
#   bench/cluster.sh REGISTRARD REGISTRAR_LOAD [RUNS=3]
#
# Setups (fresh processes for every run, stopped right after it):
#   1-node  one registrard in cluster mode with a single member (--node-id
#           node-1 --cluster-listen 127.0.0.1:0): the same code path as a
#           member of a cluster, every user owned locally
#   3-node  node-1 as above, node-2 and node-3 --join node-1; the run starts
#           once each of the three logs "cluster: routing users over 3
#           members". registrar-load talks to node-1 only, so about 2/3 of
#           the users are owned by another node: each of their requests
#           crosses CAF's middleman (one request + one reply)
# Every node: --durability off, a fresh temporary --data-dir, SIP on
# udp:127.0.0.1 (a port of its own), its default scheduler (2 workers).
# Scenarios (registrar-load --mode sip --target node-1):
#   register  register --count $COUNT --concurrency $CONC (30000, 256):
#             REGISTER/s, latency p50/p99, server CPU per REGISTER
#   presence  presence $PRESENCE (-P 1 -W 1000 -K 20; all SUBSCRIBEs and
#             PUBLISHes to node-1): NOTIFY/s, PUBLISH -> last NOTIFY p50,
#             server CPU per NOTIFY. The presentity's owner is chosen with
#             the user prefix: OWNER (node-2, i.e. remote; node-1 = local) in
#             the 3-node setup, computed as core::owner_of does. Its
#             NotifyRequired then crosses once to every other member (node-1
#             holds the dialogs and sends the NOTIFYs; node-3 drops it)
#   rtt       register --count $RTT_COUNT --concurrency 1 (2000): one request
#             at a time, so the latency difference 3-node - 1-node is the
#             added cross-node round trip (diluted: 1/3 of the users are
#             local; the mean difference x 1/(remote fraction) estimates it
#             per remote REGISTER)
# Each round runs every scenario on both setups; the setup order is reversed
# from one round to the next.
#
# Server CPU: schedstat ns of every thread (/proc/PID/task/*/schedstat),
# summed over ALL registrard processes of the setup, delta over the whole
# registrar-load run (setup phase included; presence: / NOTIFYs received,
# initial ones included); the per-node split is printed per run. As a
# cross-check registrar-load samples the setup's process group
# (--target-pgid: every node is started in node-1's process group) around
# the measured phase only ("meas." column).
#
# Output: one line per run, then a table of medians (min..max) per scenario
# and setup, the ratios 3-node/1-node of the medians and the differences
# (3-node - 1-node) of CPU per operation and latency.
#
# Environment: COUNT (30000), CONC (256), PRESENCE ("-P 1 -W 1000 -K 20"),
# RTT_COUNT (2000), OWNER (node-2), SCENARIOS ("register presence rtt"),
# READY_TIMEOUT (s per setup to start and converge, 20), RUN_TIMEOUT (s per
# registrar-load run, 300), SPREAD (1: in the 3-node setup registrar-load
# talks to all three nodes, --also-target, socket i to node i % 3: the
# watchers' dialogs are spread over the nodes; use LOAD_ARGS="--sockets 3"
# or more), LOAD_ARGS (added to every registrar-load
# command), REGISTRARD_ARGS (added to every node), KEEP=1 keeps the work
# directory (node logs, JSON of every run).
# Exit status: 0 when every run completed with no error, 1 otherwise.
set -u
if [ $# -lt 2 ]; then
  sed -n '2,55p' "${BASH_SOURCE[0]}" >&2
  exit 64
fi
registrard=$(readlink -f "$1")
load=$(readlink -f "$2")
runs=${3:-3}
count=${COUNT:-30000}
conc=${CONC:-256}
presence_args=${PRESENCE:--P 1 -W 1000 -K 20}
rtt_count=${RTT_COUNT:-2000}
owner=${OWNER:-node-2}
read -r -a scenarios <<< "${SCENARIOS:-register presence rtt}"
ready_timeout=${READY_TIMEOUT:-20}
run_timeout=${RUN_TIMEOUT:-300}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -x "$registrard" ] || { echo "cluster.sh: $1 is not executable" >&2; exit 2; }
[ -x "$load" ] || { echo "cluster.sh: $2 is not executable" >&2; exit 2; }
command -v python3 > /dev/null || { echo "cluster.sh: python3 missing" >&2; exit 2; }
perl -MPOSIX -e 1 2> /dev/null || { echo "cluster.sh: perl with POSIX missing" >&2; exit 2; }
case $owner in node-1 | node-2 | node-3) ;; *) echo "cluster.sh: OWNER must be node-1..3" >&2; exit 2 ;; esac
for s in "${scenarios[@]}"; do
  case $s in register | presence | rtt) ;; *) echo "cluster.sh: unknown scenario $s" >&2; exit 2 ;; esac
done

# shellcheck source=bench/kamailio/lib.sh
. "$here/kamailio/lib.sh" # udp_rcvbuf_errors

work=$(mktemp -d /tmp/bench-cluster.XXXXXX)
node_pids=() # PIDs of the running registrard nodes (node-1 first)
load_pid=""  # PID of the running registrar-load (under timeout), if any

# shellcheck disable=SC2317 # stop_nodes and cleanup also run from the EXIT trap
stop_nodes() {
  local pid
  for pid in "${node_pids[@]}"; do
    kill -TERM "$pid" 2> /dev/null
  done
  for pid in "${node_pids[@]}"; do
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2> /dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2> /dev/null
    wait "$pid" 2> /dev/null
  done
  node_pids=()
}
# shellcheck disable=SC2317
cleanup() {
  if [ -n "$load_pid" ]; then
    kill -TERM "$load_pid" 2> /dev/null
    wait "$load_pid" 2> /dev/null
    load_pid=""
  fi
  stop_nodes
  if [ -n "${KEEP:-}" ]; then
    echo "# work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# The user prefix of the run: the first "cb<k>" whose presentity
# "sip:cb<k>p0@127.0.0.1" (registrar-load's publisher 0; the domain is the
# target host) is owned by $owner among node-1..3 (core::owner_of:
# rendezvous hashing, FNV-1a + splitmix64 finaliser). Also prints how the
# register scenario's users u0..u(COUNT-1) spread over the three owners.
read -r prefix spread rtt_spread <<< "$(python3 - "$owner" "$count" "$rtt_count" << 'EOF'
import sys
MASK = (1 << 64) - 1
NODES = ["node-1", "node-2", "node-3"]
def fnv1a(s):
    h = 14695981039346656037
    for b in s.encode():
        h = ((h ^ b) * 1099511628211) & MASK
    return h
def mix(x):
    x ^= x >> 30; x = (x * 0xbf58476d1ce4e5b9) & MASK
    x ^= x >> 27; x = (x * 0x94d049bb133111eb) & MASK
    return x ^ (x >> 31)
SALT = [mix((fnv1a(m) + 0x9e3779b97f4a7c15) & MASK) for m in NODES]
def owner(aor):
    h = fnv1a(aor)
    w = [mix(h ^ s) for s in SALT]
    return max(range(3), key=lambda i: (w[i], -i))
want = NODES.index(sys.argv[1])
prefix = next("cb%d" % k for k in range(10000) if owner("sip:cb%dp0@127.0.0.1" % k) == want)
def spread(n):
    c = [0, 0, 0]
    for i in range(n):
        c[owner("sip:%su%d@127.0.0.1" % (prefix, i))] += 1
    return "/".join(map(str, c))
print(prefix, spread(int(sys.argv[2])), spread(int(sys.argv[3])))
EOF
)"
[ -n "$prefix" ] || { echo "cluster.sh: no user prefix found" >&2; exit 2; }

# wait_log FILE REGEX PID: prints the first match's group 1 (sed -E
# expression) within READY_TIMEOUT s; fails early when PID died.
wait_log() {
  local file=$1 expr=$2 pid=$3 v deadline=$((SECONDS + ready_timeout))
  while [ "$SECONDS" -le "$deadline" ]; do
    v=$(sed -nE "s/$expr/\\1/p" "$file" 2> /dev/null | head -1)
    [ -n "$v" ] && { echo "$v"; return 0; }
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.05
  done
  return 1
}

# start_node DIR NAME PGID [SEED]: starts one node in process group PGID (0:
# a new group led by it), appends its PID to node_pids, sets $node_port
# (SIP) and $node_cluster (its cluster address).
start_node() {
  local dir=$1 name=$2 pgid=$3 seed=${4:-} pid
  local args=(--listen "udp:127.0.0.1:0" --durability off --data-dir "$dir/$name-data"
    --log-level info --node-id "$name" --cluster-listen 127.0.0.1:0)
  [ -n "$seed" ] && args+=(--join "$seed")
  # shellcheck disable=SC2086 # REGISTRARD_ARGS: word splitting wanted
  perl -MPOSIX -e 'POSIX::setpgid(0, shift) or die "setpgid: $!\n"; exec @ARGV or die "exec: $!\n"' \
    "$pgid" "$registrard" "${args[@]}" ${REGISTRARD_ARGS:-} > "$dir/$name.log" 2>&1 &
  pid=$!
  node_pids+=("$pid")
  # The stdout line has the bound port (spdlog's has the configured :0).
  node_port=$(wait_log "$dir/$name.log" \
    '.*registrard: listening on udp:127\.0\.0\.1:([1-9][0-9]*)$' "$pid") || return 1
  node_cluster=$(wait_log "$dir/$name.log" \
    ".*cluster: node $name up at ([^ ]+) .*" "$pid") || return 1
}

# start_setup NAME DIR: sets $port (node-1's SIP port) and $pgid.
start_setup() {
  local setup=$1 dir=$2 n i name
  mkdir -p "$dir"
  n=1
  [ "$setup" = 3-node ] && n=3
  start_node "$dir" node-1 0 || return 1
  port=$node_port
  pgid=${node_pids[0]}
  also=()
  local seed=$node_cluster
  for i in $(seq 2 "$n"); do
    start_node "$dir" "node-$i" "$pgid" "$seed" || return 1
    # SPREAD=1: registrar-load talks to every node (socket i to node i % n).
    [ "${SPREAD:-0}" = 1 ] && also+=(--also-target "127.0.0.1:$node_port")
  done
  for i in $(seq 1 "$n"); do
    name=node-$i
    wait_log "$dir/$name.log" ".*(cluster: routing users over $n members).*" \
      "${node_pids[i - 1]}" > /dev/null || return 1
  done
  sleep 0.5 # start-up work out of the figures
}

# node_cpu_ns: schedstat ns of each running node, space-separated.
node_cpu_ns() {
  local pid out=()
  for pid in "${node_pids[@]}"; do
    out+=("$(cat /proc/"$pid"/task/*/schedstat 2> /dev/null | awk '{s += $1} END {printf "%.0f", s}')")
  done
  echo "${out[*]}"
}
node_rss_kib() {
  local pid out=()
  for pid in "${node_pids[@]}"; do
    out+=("$(awk '/^VmRSS:/ {print $2}' /proc/"$pid"/status 2> /dev/null)")
  done
  echo "${out[*]}"
}
scenario_args() {
  case $1 in
    register) echo "register --count $count --concurrency $conc" ;;
    presence) echo "presence $presence_args" ;;
    rtt) echo "register --count $rtt_count --concurrency 1" ;;
  esac
}

setups=(1-node 3-node)
results="$work/results.jsonl"
: > "$results"
# children_cpu FILE: user + system CPU s of this shell's reaped children so
# far (bash's `times`, run in this shell: in a pipe or $(...) a fork would
# report its own children).
# Sets $cpu_children.
children_cpu() {
  times > "$1"
  cpu_children=$(sed -n 2p "$1" | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } printf "%.3f", s }')
}
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); $registrard (default scheduler: 2 workers), --durability off; $runs rounds"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# registrar-load --mode sip --target NODE-1 --user-prefix $prefix: register --count $count --concurrency $conc | presence $presence_args | rtt: register --count $rtt_count --concurrency 1"
echo "# owners in the 3-node setup (node-1/node-2/node-3): register users $spread, rtt users $rtt_spread; presentity sip:${prefix}p0@127.0.0.1 owned by $owner"
failures=0
for round in $(seq 1 "$runs"); do
  order=("${setups[@]}")
  [ $((round % 2)) -eq 0 ] && order=("${setups[1]}" "${setups[0]}")
  for sc in "${scenarios[@]}"; do
    for setup in "${order[@]}"; do
      dir="$work/r$round-$sc-$setup"
      if ! start_setup "$setup" "$dir"; then
        echo "round $round $sc $setup: the nodes did not start or converge within ${READY_TIMEOUT:-20} s" >&2
        for f in "$dir"/node-*.log; do echo "---- $f" >&2; tail -5 "$f" >&2; done
        stop_nodes
        failures=$((failures + 1))
        continue
      fi
      read -r -a c0 <<< "$(node_cpu_ns)"
      e0=$(udp_rcvbuf_errors)
      la=$(cut -d' ' -f1 /proc/loadavg)
      w0=$(date +%s.%N)
      children_cpu "$dir/times"
      l0=$cpu_children
      # shellcheck disable=SC2046,SC2086 # word splitting wanted
      timeout -k 5 "$run_timeout" "$load" --mode sip --target "127.0.0.1:$port" \
        --target-pgid "$pgid" --user-prefix "$prefix" --no-progress --json "$dir/load.json" \
        "${also[@]}" ${LOAD_ARGS:-} $(scenario_args "$sc") > "$dir/load.out" 2>&1 &
      load_pid=$!
      wait "$load_pid"
      rc=$?
      load_pid=""
      children_cpu "$dir/times" # registrar-load's own CPU: the reaped children's user + sys
      l1=$cpu_children
      w1=$(date +%s.%N)
      read -r -a c1 <<< "$(node_cpu_ns)"
      rss=$(node_rss_kib)
      e1=$(udp_rcvbuf_errors)
      alive=0
      for pid in "${node_pids[@]}"; do kill -0 "$pid" 2> /dev/null && alive=$((alive + 1)); done
      stop_nodes
      deltas=()
      for i in "${!c0[@]}"; do deltas+=($((${c1[i]:-0} - c0[i]))); done
      python3 - "$dir/load.json" "$setup" "$sc" "$round" "$rc" "${deltas[*]}" "$rss" \
          $((e1 - e0)) "$w0" "$w1" "$la" "$l0 $l1" "$alive" >> "$results" << 'EOF'
import json, sys
path, setup, sc, rnd, rc, deltas, rss, drops, w0, w1, la, lt, alive = sys.argv[1:]
node_ns = [int(x) for x in deltas.split()]
l0, l1 = (float(x) for x in lt.split())
load_cpu = l1 - l0
r = {"setup": setup, "scenario": sc, "round": int(rnd), "rc": int(rc), "loadavg1": float(la),
     "load_gen_cpu_s": load_cpu, "node_cpu_ns": node_ns, "cpu_ns": sum(node_ns),
     "rss_kib": [int(x) for x in rss.split() if x], "udp_drops": int(drops),
     "wall_s": float(w1) - float(w0), "nodes_alive": int(alive), "nodes": len(node_ns)}
try:
    j = json.load(open(path))
except Exception as e:
    r["error"] = "no JSON (%s)" % e
else:
    c = j.get("counters", {})
    lat = j["latency"]
    r.update(ops=j["operations"], errors=j["errors"], errors_by_status=j.get("errors_by_status", {}),
             seconds=j["seconds"], p50_us=lat["p50"], p99_us=lat["p99"], mean_us=lat["mean"],
             counters=c, meas_sched_s=j.get("target_cpu_sched_seconds"))
    if sc == "presence":
        r["per_s"] = j.get("notifications_per_s", 0.0)
        r["denominator"] = c.get("notify_received", 0)
        meas_den = c.get("notifications", 0)
    else:
        r["per_s"] = j["throughput_per_s"]
        r["denominator"] = j["operations"]
        meas_den = j["operations"]
    d = r["denominator"]
    r["us_per_op"] = r["cpu_ns"] / 1e3 / d if d else None
    m = r["meas_sched_s"]
    r["meas_us_per_op"] = m * 1e6 / meas_den if (m is not None and m >= 0 and meas_den) else None
print(json.dumps(r))
EOF
      python3 - "$results" "$dir" << 'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
unit = "NOTIFY" if r["scenario"] == "presence" else "REGISTER"
head = "round %d %-8s %-6s rc %d" % (r["round"], r["scenario"], r["setup"], r["rc"])
if "error" in r:
    print("%s: %s; see %s/load.out" % (head, r["error"], sys.argv[2]))
    sys.exit(0)
extra = ""
if r["scenario"] == "presence":
    extra = ", %d NOTIFYs (%d measured)" % (r["counters"].get("notify_received", 0),
                                          r["counters"].get("notifications", 0))
lat = "PUBLISH->last NOTIFY" if r["scenario"] == "presence" else "latency"
split = "/".join("%.0f" % (x / 1e6) for x in r["node_cpu_ns"])
print("%s: %d ops, %d errors%s%s, %.0f %s/s, %s p50 %.0f us p99 %.0f us mean %.0f us, "
      "server %.2f us/%s (meas. %.2f), CPU ms per node %s + registrar-load %.0f in %.0f ms wall, "
      "RSS MiB %s, UDP drops %d, nodes alive %d/%d, loadavg %.1f" % (
      head, r["ops"], r["errors"], " " + json.dumps(r["errors_by_status"]) if r["errors"] else "",
      extra, r["per_s"], unit, lat, r["p50_us"], r["p99_us"], r["mean_us"], r["us_per_op"] or 0,
      unit, r["meas_us_per_op"] or 0, split, r["load_gen_cpu_s"] * 1e3, r["wall_s"] * 1e3,
      "/".join("%.0f" % (k / 1024) for k in r["rss_kib"]), r["udp_drops"], r["nodes_alive"],
      r["nodes"], r["loadavg1"]))
EOF
      if [ "$rc" -ne 0 ] || [ "$alive" -ne "${#c0[@]}" ] \
          || ! python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]); sys.exit(0 if "error" not in r and r["errors"] == 0 else 1)' "$results"; then
        failures=$((failures + 1))
      fi
    done
  done
done

echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$results" "$rtt_spread" << 'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
o = [int(x) for x in sys.argv[2].split("/")]
remote_rtt = (o[1] + o[2]) / sum(o)
def med(v): return statistics.median(v) if v else None
def fmt(v, p=0):
    return "-" if v is None else f"{v:,.{p}f}".replace(",", " ")
def rng(v, p=0):
    return f"{fmt(med(v), p)} ({fmt(min(v), p)}..{fmt(max(v), p)})"
t = {}
for r in rows:
    if "error" in r or r.get("us_per_op") is None:
        continue
    x = t.setdefault((r["scenario"], r["setup"]), {k: [] for k in
        ("per_s", "p50", "p99", "mean", "us", "meas", "rss")} | {"err": 0, "n": 0})
    x["per_s"].append(r["per_s"]); x["p50"].append(r["p50_us"]); x["p99"].append(r["p99_us"])
    x["mean"].append(r["mean_us"]); x["us"].append(r["us_per_op"])
    if r["meas_us_per_op"] is not None:
        x["meas"].append(r["meas_us_per_op"])
    x["rss"].append(sum(r["rss_kib"]) / 1024)
    x["err"] += r["errors"] + (1 if r["rc"] else 0) + (r["nodes"] - r["nodes_alive"]); x["n"] += 1
units = {"register": ("REGISTER/s", "latency"), "presence": ("NOTIFY/s", "PUBLISH→last NOTIFY"),
         "rtt": ("REGISTER/s", "latency")}
print()
print("| scenario | setup | runs | throughput, median (min..max) | p50 µs | p99 µs | "
      "server CPU µs/op, all nodes (min..max) | meas. µs/op | RSS MiB, all nodes |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for sc in ("register", "presence", "rtt"):
    for setup in ("1-node", "3-node"):
        x = t.get((sc, setup))
        if not x:
            continue
        bad = " (errors: %d)" % x["err"] if x["err"] else ""
        print(f"| {sc} | {setup}{bad} | {x['n']} | {rng(x['per_s'])} {units[sc][0]} | "
              f"{rng(x['p50'])} | {rng(x['p99'])} | {rng(x['us'], 2)} | {fmt(med(x['meas']), 2)} | "
              f"{fmt(med(x['rss']))} |")
print()
print("| scenario | throughput 3/1 | p50 3/1 | CPU/op 3/1 | CPU/op 3 − 1 (µs) | p50 3 − 1 (µs) | mean 3 − 1 (µs) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for sc in ("register", "presence", "rtt"):
    a, b = t.get((sc, "1-node")), t.get((sc, "3-node"))
    if not a or not b:
        continue
    print(f"| {sc} | {med(b['per_s']) / med(a['per_s']):.2f} | {med(b['p50']) / med(a['p50']):.2f} | "
          f"{med(b['us']) / med(a['us']):.2f} | {med(b['us']) - med(a['us']):+.2f} | "
          f"{med(b['p50']) - med(a['p50']):+.0f} | {med(b['mean']) - med(a['mean']):+.0f} |")
a, b = t.get(("rtt", "1-node")), t.get(("rtt", "3-node"))
if a and b:
    print()
    print("# rtt: %.0f %% of its users are remote in the 3-node setup; mean difference / that "
          "fraction = %.0f µs added per remote REGISTER (at concurrency 1)" % (
          remote_rtt * 100, (med(b["mean"]) - med(a["mean"])) / remote_rtt))
EOF
echo "# µs/op: schedstat ns of all threads of all registrard processes of the setup over the whole registrar-load run / REGISTERs (register, rtt) or / NOTIFYs received (presence, initial NOTIFYs included); meas.: the same sampled by registrar-load (--target-pgid) around the measured phase only / measured operations (presence: update NOTIFYs)"
[ "$failures" -eq 0 ] || { echo "# $failures run(s) failed or had errors (KEEP=1 keeps the logs)"; exit 1; }
exit 0
