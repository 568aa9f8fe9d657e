#!/usr/bin/env bash
# Functional check of the Kamailio side-by-side setup: start Kamailio
# (kamailio.sh) on a free 127.0.0.1 port, run the sipp scenarios of sipp/
# against it over UDP (and REGISTER over TCP too), stop it. Exit 0 when all
# pass. Installs sip-tester (sipp) and Kamailio with apt-get when missing.
# Usage: bench/kamailio/check.sh [WORKERS=2]
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
workers=${1:-2}

if ! command -v sipp > /dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y --no-install-recommends sip-tester) > /dev/null \
      || { echo "check.sh: apt-get install sip-tester failed" >&2; exit 2; }
  elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
    (sudo -n env DEBIAN_FRONTEND=noninteractive apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends sip-tester) > /dev/null \
      || { echo "check.sh: apt-get install sip-tester failed" >&2; exit 2; }
  else
    echo "check.sh: sipp is missing; as root run: apt-get install sip-tester" >&2
    exit 2
  fi
fi

work=$(mktemp -d /tmp/kamailio-check.XXXXXX)
cleanup() { "$here/kamailio.sh" stop "$work" > /dev/null 2>&1; [ -n "${KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=bench/kamailio/lib.sh
. "$here/lib.sh"   # free_port, udp_rcvbuf_errors

port=$(free_port) || { echo "check.sh: no free port" >&2; exit 1; }
"$here/kamailio.sh" start "$port" "$workers" "$work" > "$work/main.pid" || exit 1
echo "kamailio pid $(cat "$work/main.pid") on 127.0.0.1:$port, $workers workers ($(wc -l < <("$here/kamailio.sh" pids "$work")) processes)"

passed=0 failed=0
# run NAME SCENARIO TRANSPORT CALLS [sipp args...]
run() {
  local name=$1 sf=$2 tr=$3 calls=$4; shift 4
  local sport
  sport=$(free_port) || { echo "check.sh: no free port" >&2; exit 1; }
  if (cd "$work" && sipp -sf "$here/sipp/$sf" "127.0.0.1:$port" -i 127.0.0.1 -p "$sport" -t "$tr" \
        -m "$calls" -nostdin -timeout 30s -timeout_error -trace_err -trace_stat -stf "$work/$name.csv" "$@" \
        > "$work/$name.out" 2>&1); then
    echo "PASS $name ($calls calls)"
    passed=$((passed + 1))
  else
    echo "FAIL $name: sipp exit $?; first errors:"
    cat "$work"/"${sf%.xml}"_*_errors.log 2> /dev/null | head -20
    tail -5 "$work/$name.out"
    failed=$((failed + 1))
  fi
}

run options options.xml u1 10
run register-udp register.xml u1 1000 -r 500 -key user_prefix udp_
run register-tcp register.xml t1 200 -r 200 -key user_prefix tcp_
run register-423 register-423.xml u1 20 -r 100
run presence presence.xml u1 50 -r 20 -l 10

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
