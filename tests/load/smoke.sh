#!/usr/bin/env bash
# Smoke test of registrar-load: every scenario at a tiny scale (a few hundred
# operations), in-process against the engine or over SIP against a
# registrard started on free loopback ports (UDP + TCP). Each run must exit
# 0 and write a well-formed JSON report with operations > 0 and no error.
# Bounded: each run 30 s (timeout), registrard start 10 s.
#
# Usage: smoke.sh engine REGISTRAR_LOAD
#        smoke.sh sip REGISTRAR_LOAD REGISTRARD
set -u
if [ $# -lt 2 ]; then
  echo "usage: $0 engine|sip REGISTRAR_LOAD [REGISTRARD]" >&2
  exit 2
fi
mode=$1
load=$(readlink -f "$2")
work=$(mktemp -d "${TMPDIR:-/tmp}/load_smoke.XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    kill -INT "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

common=(--no-progress --timer-b 10)
if [ "$mode" = sip ]; then
  registrard=$(readlink -f "${3:?registrard path}")
  "$registrard" --listen udp:127.0.0.1:0 --listen tcp:127.0.0.1:0 --log-level warn \
    --data-dir "$work/data" \
    > "$work/registrard.log" 2>&1 &
  pid=$!
  udp_port=""; tcp_port=""
  for _ in $(seq 1 100); do
    udp_port=$(sed -n 's/^registrard: listening on udp:127.0.0.1:\([0-9]*\)$/\1/p' "$work/registrard.log")
    tcp_port=$(sed -n 's/^registrard: listening on tcp:127.0.0.1:\([0-9]*\)$/\1/p' "$work/registrard.log")
    [ -n "$udp_port" ] && [ -n "$tcp_port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$udp_port" ] || [ -z "$tcp_port" ]; then
    echo "registrard did not start:"; cat "$work/registrard.log"; exit 1
  fi
  echo "registrard (pid $pid) on udp:127.0.0.1:$udp_port tcp:127.0.0.1:$tcp_port"
elif [ "$mode" != engine ]; then
  echo "$0: unknown mode '$mode'" >&2
  exit 2
fi

failed=0
# run NAME ARGS...: one registrar-load run, then checks its JSON.
run() {
  local name=$1; shift
  local json=$work/$name.json
  local -a target=()
  if [ "$mode" = sip ]; then
    target=(--mode sip --target-pid "$pid")
  fi
  echo "---- $name: registrar-load $* ${target[*]}"
  timeout -k 5 30 "$load" "$@" "${target[@]}" "${common[@]}" --json "$json" > "$work/$name.out" 2>&1
  local rc=$?
  cat "$work/$name.out"
  if [ $rc -ne 0 ]; then
    echo "FAIL $name: exit status $rc"; failed=1; return
  fi
  if ! python3 - "$json" <<'EOF'
import json, sys
with open(sys.argv[1]) as f:
    j = json.load(f)
assert j["tool"] == "registrar-load", "tool"
assert j["operations"] > 0, "no operations"
assert j["errors"] == 0, "errors: %r" % j["errors_by_status"]
assert j["latency"]["count"] == j["operations"], "latency count"
for k in ("p50", "p90", "p99", "p99.9", "max"):
    assert j["latency"][k] >= 0, k
assert j["latency"]["p50"] <= j["latency"]["p99"] <= j["latency"]["max"] * 1.02 + 1, "quantiles"
assert isinstance(j["per_second"], list) and j["per_second"], "per_second"
assert j["counters"].get("setup_errors", 0) == 0, "setup errors"
assert j["counters"].get("buddy_check_failed", 0) == 0, "buddy check"
EOF
  then
    echo "FAIL $name: bad JSON report"; failed=1; return
  fi
  echo "ok $name"
}

if [ "$mode" = sip ]; then
  t=(--target "127.0.0.1:$udp_port")
  tt=(--target "127.0.0.1:$tcp_port" --transport tcp)
  run register register "${t[@]}" -n 150 -d 2 -C 32
  run register-open register "${t[@]}" -n 200 --rate 2000
  run refresh refresh "${t[@]}" -n 200
  run unregister unregister "${t[@]}" -n 200 --ack-log "$work/acks.log"
  run presence presence "${t[@]}" -P 5 -W 20 -K 20
  run auto-buddy auto-buddy "${t[@]}" -n 200
  run mixed mixed "${t[@]}" -n 200 -P 4 -W 5 --presence-rate 100 --rate 500 --count 200
  run tcp-register register "${tt[@]}" -n 200 --sockets 2
  # Keys in random order: every user name carries its hash tag, and the
  # server has every binding it acknowledged.
  run register-random register "${t[@]}" -n 150 --key-order random --ack-log "$work/acks-random.log"
  if [ "$(grep -cE '^REGISTER sip:[^ ]*[0-9a-f]{4}u[0-9]+@' "$work/acks-random.log" 2>/dev/null)" != 150 ]; then
    echo "FAIL register-random: expected 150 tagged AORs"; head -3 "$work/acks-random.log"; failed=1
  fi
  run verify-random verify "${t[@]}" --acks "$work/acks-random.log"
  run tcp-presence presence "${tt[@]}" -P 4 -W 10 -K 10
  # The fan-out bench's options (bench/fanout_sip.sh): a pause between
  # updates and the per-update log: one line per update, every watcher
  # notified, no repeated NOTIFY, the last NOTIFY not before the first.
  run presence-log presence "${t[@]}" -P 1 -W 50 -K 5 --gap 0.01 --update-log "$work/updates.log"
  if ! awk '!/^#/ { n++; if ($8 != 50 || $9 != 50 || $10 != 0 || $11 != "ok" || $6 < $5) bad++ }
            END { exit !(n == 5 && bad == 0) }' "$work/updates.log"; then
    echo "FAIL presence-log: bad --update-log"; cat "$work/updates.log"; failed=1
  fi
  # The ack log has one line per acknowledged removal (expires 0).
  if [ "$(grep -c '^REGISTER .* 0$' "$work/acks.log" 2>/dev/null)" != 200 ]; then
    echo "FAIL ack-log: expected 200 removals"; head -3 "$work/acks.log"; failed=1
  fi
  kill -0 "$pid" 2>/dev/null || { echo "FAIL registrard died"; failed=1; }
else
  run register register -n 300 -C 64
  run register-batch register -n 300 --batch 32
  run register-random register -n 300 --key-order random -C 64
  run register-open register -n 300 --rate 3000
  run refresh refresh -n 300
  run unregister unregister -n 300 --batch 16
  run presence presence -P 10 -W 10 -K 20
  run auto-buddy auto-buddy -n 300
  run mixed mixed -n 200 -P 4 -W 5 --presence-rate 100 --rate 500 --count 200
fi
# A bad command line is exit status 2.
"$load" register --mode bogus > /dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL bad command line: exit status is not 2"; failed=1; }
if [ $failed -ne 0 ]; then
  echo "load smoke ($mode): FAILED"
  exit 1
fi
echo "load smoke ($mode): all runs passed"
