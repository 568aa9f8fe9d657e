#!/usr/bin/env bash
# Cluster membership across processes (issue 8, first phase): three
# registrard nodes on loopback, joined through CAF's middleman.
#
#   membership.sh REGISTRARD
#
# 1. node-1 starts alone; node-2 and node-3 join through node-1: every node
#    logs that it sees 3 members.
# 2. kill -9 node-3: node-1 and node-2 log it "lost" within 5 s (the time
#    from the kill to each log line is printed; CAF reports the closed
#    connection within milliseconds).
# 3. node-3 restarts on the same cluster port with a new incarnation, this
#    time joining through node-2: all three see 3 members again.
# 4. SIGTERM to node-2: node-1 and node-3 log it "left" (not "lost"), and
#    node-2 exits with status 0.
# 5. SIGSTOP to node-3: node-1 logs it lost within 6 s (heartbeat timeout);
#    after SIGCONT they take each other back.
# Every port is picked by the OS (port 0; registrard prints what it got),
# durability is off, every wait is bounded, the whole script stops at 40 s
# and ends every process it started.
set -u
if [ $# -lt 1 ]; then
  echo "usage: $0 REGISTRARD" >&2
  exit 2
fi
registrard=$(readlink -f "$1")
budget=40
started=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/cluster_membership.XXXXXX")
declare -A pid

cleanup() {
  for n in "${!pid[@]}"; do
    kill -KILL "${pid[$n]}" 2>/dev/null
    wait "${pid[$n]}" 2>/dev/null
  done
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

fail() {
  echo "FAIL: $*"
  for f in "$work"/node-*.log; do
    [ -f "$f" ] || continue
    echo "---- $(basename "$f") (last 20 lines)"
    tail -n 20 "$f"
  done
  exit 1
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 50 ms.
wait_for() {
  local secs=$1 what=$2
  shift 2
  local deadline=$((SECONDS + secs))
  while ! "$@"; do
    [ $SECONDS -ge $deadline ] && fail "timed out after ${secs} s: $what"
    [ $((SECONDS - started)) -ge $budget ] && fail "over the ${budget} s budget: $what"
    sleep 0.05
  done
}

# start NAME LOG [ARGS...]: one registrard node in the background.
start() {
  local name=$1 log=$2
  shift 2
  "$registrard" --listen udp:127.0.0.1:0 --durability off --node-id "$name" "$@" \
    >>"$log" 2>&1 &
  pid[$name]=$!
}

cluster_port() { # LOG -> the cluster port the node printed
  [ -f "$1" ] || return 0
  sed -n 's/^registrard: cluster listening on 127\.0\.0\.1:\([0-9]*\) as .*/\1/p' "$1" | tail -n 1
}

has_port() { [ -n "$(cluster_port "$1")" ]; }

# The member count of the last membership line of a log ("(3 members: ...").
members() {
  [ -f "$1" ] || return 0
  grep -o '([0-9]* members: ' "$1" | tail -n 1 | tr -dc '0-9'
}

all_see() { # COUNT LOG...
  local want=$1 f
  shift
  for f in "$@"; do
    [ "$(members "$f")" = "$want" ] || return 1
  done
}

logged() { [ -f "$1" ] && grep -q -- "$2" "$1"; }

# ms since the epoch of the first log line matching PATTERN (spdlog's
# "%Y-%m-%d %H:%M:%S.%e" timestamp).
line_ms() {
  local ts
  ts=$(grep -- "$2" "$1" | head -n 1 | cut -c1-23)
  [ -n "$ts" ] && date -d "$ts" +%s%3N
}

now_ms() { date +%s%3N; }

log1=$work/node-1.log
log2=$work/node-2.log
log3=$work/node-3.log

# -- 1. three nodes -----------------------------------------------------------
start node-1 "$log1" --cluster-listen 127.0.0.1:0
wait_for 10 "node-1 publishes its cluster node" has_port "$log1"
p1=$(cluster_port "$log1")
start node-2 "$log2" --cluster-listen 127.0.0.1:0 --join "127.0.0.1:$p1"
start node-3 "$log3" --cluster-listen 127.0.0.1:0 --join "127.0.0.1:$p1"
wait_for 10 "node-2 publishes" has_port "$log2"
wait_for 10 "node-3 publishes" has_port "$log3"
p2=$(cluster_port "$log2")
p3=$(cluster_port "$log3")
echo "cluster ports: node-1 $p1, node-2 $p2, node-3 $p3"
wait_for 10 "every node sees 3 members" all_see 3 "$log1" "$log2" "$log3"
echo "ok: every node sees 3 members ($((SECONDS - started)) s)"

# -- 2. kill -9 node-3 -----------------------------------------------------------
killed=$(now_ms)
kill -KILL "${pid[node-3]}"
wait "${pid[node-3]}" 2>/dev/null
unset 'pid[node-3]'
wait_for 5 "node-1 logs node-3 lost" logged "$log1" "node node-3 lost"
wait_for 5 "node-2 logs node-3 lost" logged "$log2" "node node-3 lost"
all_see 2 "$log1" "$log2" || fail "node-1 and node-2 should see 2 members"
d1=$(($(line_ms "$log1" "node node-3 lost") - killed))
d2=$(($(line_ms "$log2" "node node-3 lost") - killed))
echo "ok: node-3 lost after kill -9: node-1 in ${d1} ms, node-2 in ${d2} ms"

# -- 3. node-3 restarts on its port, joining through node-2 -------------------------
mv "$log3" "$work/node-3.first.log"
start node-3 "$log3" --cluster-listen "127.0.0.1:$p3" --join "127.0.0.1:$p2"
wait_for 10 "the restarted node-3 publishes" has_port "$log3"
wait_for 10 "every node sees 3 members again" all_see 3 "$log1" "$log2" "$log3"
grep -q "node node-3 joined" <(grep -A100 "node node-3 lost" "$log1") \
  || fail "node-1 did not log the new node-3 joining"
echo "ok: the restarted node-3 is back, every node sees 3 members ($((SECONDS - started)) s)"

# -- 4. graceful stop of node-2 --------------------------------------------------
kill -TERM "${pid[node-2]}"
wait_for 5 "node-1 logs node-2 left" logged "$log1" "node node-2 left"
wait_for 5 "node-3 logs node-2 left" logged "$log3" "node node-2 left"
logged "$log1" "node node-2 lost" && fail "node-1 logged node-2 lost, not left"
logged "$log3" "node node-2 lost" && fail "node-3 logged node-2 lost, not left"
rc=0
for _ in $(seq 1 100); do
  kill -0 "${pid[node-2]}" 2>/dev/null || break
  sleep 0.05
done
kill -0 "${pid[node-2]}" 2>/dev/null && fail "node-2 did not exit within 5 s of SIGTERM"
wait "${pid[node-2]}"
rc=$?
unset 'pid[node-2]'
[ $rc -eq 0 ] || fail "node-2 exited with status $rc"
all_see 2 "$log1" "$log3" || fail "node-1 and node-3 should see 2 members"
echo "ok: node-2 left gracefully; node-1 and node-3 see 2 members"

# -- 5. node-3 freezes (SIGSTOP), then resumes -------------------------------------
# No connection closes: only the middleman's heartbeats notice (cluster
# heartbeat 500 ms, connection timeout 4 x 500 ms). After SIGCONT the two
# nodes find each other again (node-1 knocks at the lost node's address).
lines1=$(wc -l <"$log1")
lines3=$(wc -l <"$log3")
frozen=$(now_ms)
kill -STOP "${pid[node-3]}"
lost_again() { tail -n +"$((lines1 + 1))" "$log1" | grep -q "node node-3 lost"; }
wait_for 6 "node-1 logs the frozen node-3 lost" lost_again
d3=$(($(date -d "$(tail -n +"$((lines1 + 1))" "$log1" | grep "node node-3 lost" \
  | head -n 1 | cut -c1-23)" +%s%3N) - frozen))
echo "ok: frozen node-3 lost by node-1 after ${d3} ms"
kill -CONT "${pid[node-3]}"
back() { tail -n +"$((lines1 + 1))" "$log1" | grep -q "node node-3 joined"; }
wait_for 10 "node-1 takes node-3 back after SIGCONT" back
# node-3 too: if it saw node-1's closed connection as a loss, it has taken
# node-1 back since.
node3_back() {
  local new
  new=$(tail -n +"$((lines3 + 1))" "$log3")
  if grep -q "node node-1 lost" <<<"$new"; then
    grep -A100 "node node-1 lost" <<<"$new" | grep -q "node node-1 joined" || return 1
  fi
  all_see 2 "$log1" "$log3"
}
wait_for 10 "node-1 and node-3 see 2 members again" node3_back
echo "ok: node-3 is back after SIGCONT"
echo "PASS ($((SECONDS - started)) s; kill -9 detected in ${d1} / ${d2} ms, a frozen node in ${d3} ms)"
