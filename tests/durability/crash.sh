#!/usr/bin/env bash
# Crash test of registrard's durability (issue 7, "Tests: crash"): nothing the
# server acknowledged may be lost by a `kill -9` when durability is sync.
#
#   crash.sh REGISTRAR_LOAD REGISTRARD [sync|async]
#
# registrard (--durability MODE --data-dir $work/data) on a free loopback UDP
# port, then three rounds on that data directory. Each round: registrar-load
# registers 20000 new bindings at 4000/s in the background
# (--ack-log: one line per acknowledged binding, a new --user-prefix per
# round); registrard is killed with SIGKILL at a random moment within 1 s
# after the first of the round's acknowledgements reaches the ack log; when the load has ended (its transactions time out after 2 s),
# registrard is restarted on the same data directory and `registrar-load
# verify --acks` checks the whole ack log (every round so far): every
# acknowledged binding must be listed by a REGISTER query. Round 1 first runs
# a presence load (1 publisher, 2 watchers, 20 PUBLISHes, --ack-log): its
# last ETag must still be valid after the restart (a PUBLISH refresh gets a
# 200, not a 412); verify appends the refreshed ETag to the log, so later
# rounds check the publication again.
#
# sync:  any acknowledged binding or publication missing fails the test.
# async: the loss is reported (async trades a documented loss window for
#        speed), not a failure; the server not coming back, or not answering
#        the verification, is.
# The journal folds every 1000 logged changes (persistence.fold_entries; the
# default is 65536), so the kills also land in the middle of folds.
# Bounded: every wait has a timeout, the whole script stops at 60 s; every
# process it started is ended on exit.
set -u
if [ $# -lt 2 ]; then
  echo "usage: $0 REGISTRAR_LOAD REGISTRARD [sync|async]" >&2
  exit 2
fi
load=$(readlink -f "$1")
registrard=$(readlink -f "$2")
mode=${3:-sync}
case "$mode" in
  sync|async) ;;
  *) echo "$0: mode must be sync or async, not '$mode'" >&2; exit 2 ;;
esac
rounds=3
budget=60 # seconds for the whole script
work=$(mktemp -d "${TMPDIR:-/tmp}/durability_crash.XXXXXX")
pid=""  # registrard
lpid="" # the background registrar-load (its timeout wrapper)
started=$SECONDS

cleanup() {
  if [ -n "$lpid" ]; then
    kill -TERM "$lpid" 2>/dev/null # timeout passes it on to registrar-load
    wait "$lpid" 2>/dev/null
  fi
  if [ -n "$pid" ]; then
    kill -INT "$pid" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "FAIL ($mode): $*"
  for f in "$work"/registrard.*.log; do
    [ -f "$f" ] || continue
    echo "---- $(basename "$f") (last 15 lines)"; tail -n 15 "$f"
  done
  exit 1
}

# The time left of the budget, at least 1 s (for `timeout`).
left() {
  local l=$((budget - (SECONDS - started)))
  [ $l -lt 1 ] && l=1
  echo $l
}
over_budget() {
  [ $((SECONDS - started)) -ge $budget ]
}

# start_server N: registrard on a free loopback UDP port; sets pid and port.
start_server() {
  local log=$work/registrard.$1.log
  echo '{"persistence": {"fold_entries": 1000}}' > "$work/fold.json"
  "$registrard" --config "$work/fold.json" --listen udp:127.0.0.1:0 --log-level info \
    --durability "$mode" --data-dir "$work/data" > "$log" 2>&1 &
  pid=$!
  port=""
  # Up to 15 s: the restart restores every stored binding first.
  for _ in $(seq 1 150); do
    port=$(sed -n 's/^registrard: listening on udp:127.0.0.1:\([0-9]*\)$/\1/p' "$log")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""
    fail "registrard did not come back (start $1)"
  fi
  local restored
  restored=$(grep -o 'restored [0-9]* users .* in [0-9]* ms' "$log" | head -n 1)
  echo "registrard (pid $pid, durability $mode) on udp:127.0.0.1:$port${restored:+: $restored}"
}

# verify N: registrar-load verify of the whole ack log; sets v_* from its
# summary line and v_rc to its exit status.
verify() {
  local out=$work/verify.$1.out
  timeout -k 2 "$(left)" "$load" --mode sip --target "127.0.0.1:$port" verify \
    --acks "$work/acks" --ack-log "$work/acks" --timer-b 8 --no-progress > "$out" 2>&1
  v_rc=$?
  sed -n '/^verify /,$p' "$out"
  local summary
  summary=$(grep '^verify-summary ' "$out")
  if [ -z "$summary" ]; then
    cat "$out"
    fail "verify $1: no summary (exit status $v_rc)"
  fi
  v_checked=$(sed 's/.* checked=\([0-9]*\).*/\1/' <<< "$summary")
  v_found=$(sed 's/.* found=\([0-9]*\).*/\1/' <<< "$summary")
  v_missing=$(sed 's/.* missing=\([0-9]*\).*/\1/' <<< "$summary")
  v_resurrected=$(sed 's/.* resurrected=\([0-9]*\).*/\1/' <<< "$summary")
  v_unanswered=$(sed 's/.* unanswered=\([0-9]*\).*/\1/' <<< "$summary")
  v_pubs=$(sed 's/.* publications=\([0-9]*\/[0-9]*\).*/\1/' <<< "$summary")
}

touch "$work/acks"
failed=0
prev_missing=0
report=()
start_server 0
for n in $(seq 1 $rounds); do
  over_budget && fail "over the ${budget} s budget before round $n"
  echo "==== round $n"
  before=$(grep -c '^REGISTER ' "$work/acks")
  pub_before=$(grep -c '^PUBLISH ' "$work/acks")
  if [ "$n" = 1 ]; then
    # Presence: watchers subscribe, the publisher sends 20 updates (each
    # acknowledged and notified) before the crash load starts.
    timeout -k 2 "$(left)" "$load" --mode sip --target "127.0.0.1:$port" presence \
      -P 1 -W 2 -K 20 --ack-log "$work/acks" --user-prefix "c${n}pres" --timer-b 2 \
      --no-progress > "$work/presence.out" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
      cat "$work/presence.out"
      fail "the presence load before the crash failed (exit status $rc)"
    fi
    echo "presence: $(( $(grep -c '^PUBLISH ' "$work/acks") - pub_before )) acknowledged PUBLISHes"
  fi
  timeout -k 2 "$(left)" "$load" --mode sip --target "127.0.0.1:$port" register \
    --count 20000 --rate 4000 --ack-log "$work/acks" --user-prefix "c${n}r" --timer-b 2 \
    --max-error-rate 1 --no-progress > "$work/load.$n.out" 2>&1 &
  lpid=$!
  # The kill comes at a random moment after the server has acknowledged
  # some of this round's load (the load writes its ack log at least once a
  # second): a server slow to answer (ASan, a busy machine) must not leave
  # a round with nothing to check.
  waited_ms=0
  while [ "$(grep -c '^REGISTER ' "$work/acks")" -le "$before" ] && [ $waited_ms -lt 15000 ] \
        && kill -0 "$lpid" 2>/dev/null; do
    sleep 0.1
    waited_ms=$((waited_ms + 100))
  done
  delay_ms=$((RANDOM % 1001))
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  delay_ms=$((waited_ms + delay_ms))
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  pid=""
  # The load ends once its outstanding transactions time out (timer B 2 s);
  # its own timeout bounds this wait.
  wait "$lpid"
  load_rc=$?
  lpid=""
  acked=$(( $(grep -c '^REGISTER ' "$work/acks") - before ))
  echo "killed registrard after ${delay_ms} ms; the load ended with exit status $load_rc; acknowledged this round: $acked REGISTERs"
  if [ "$acked" -le 0 ]; then
    tail -n 30 "$work/load.$n.out"
    fail "round $n: nothing was acknowledged before the kill (the test proves nothing)"
  fi
  start_server "$n"
  verify "$n"
  [ "$v_unanswered" = 0 ] || fail "round $n: $v_unanswered checks got no answer from the restarted server"
  new_missing=$((v_missing - prev_missing))
  prev_missing=$v_missing
  line="round $n: kill at ${delay_ms} ms, acked $acked; all rounds so far: checked $v_checked, found $v_found, missing $v_missing (new this round: $new_missing), publications found $v_pubs, removed but present $v_resurrected"
  echo "$line"
  report+=("$line")
  if [ "$v_missing" != 0 ] || [ "$v_resurrected" != 0 ] || [ "$v_rc" != 0 ]; then
    if [ "$mode" = sync ]; then
      echo "FAIL round $n: durability sync lost acknowledged state (verify exit status $v_rc)"
      failed=1
    else
      echo "round $n: durability async lost $v_missing acknowledged item(s) so far (reported, not a failure)"
    fi
  fi
  # The restarted server takes the next round's load (and kill).
  [ $failed -eq 0 ] || break
done

echo "==== summary (durability $mode, $((SECONDS - started)) s)"
for line in "${report[@]}"; do echo "$line"; done
over_budget && fail "took longer than ${budget} s"
if [ $failed -ne 0 ]; then
  fail "acknowledged REGISTERs/PUBLISHes were lost"
fi
echo "durability crash ($mode): passed"
