#!/usr/bin/env bash
# Runs one sipp scenario against a registrard started on a free loopback
# port; exits with sipp's status. Bounded: registrard start 10 s, sipp 60 s.
# Usage: run_sipp.sh REGISTRARD SCENARIO.xml [sipp options...]
set -u
registrard=$1
scenario=$2
shift 2
log=$(mktemp)
"$registrard" --listen udp:127.0.0.1:0 > "$log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/^registrard: listening on udp:127.0.0.1:\([0-9]*\)$/\1/p' "$log")
  [ -n "$port" ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "registrard did not start:"; cat "$log"; exit 1
fi
echo "registrard on udp:127.0.0.1:$port"
timeout 60 sipp -sf "$scenario" "127.0.0.1:$port" -i 127.0.0.1 -p 0 \
  -timeout 30s -timeout_error -nostdin -trace_err -error_file /dev/stderr "$@"
rc=$?
echo "sipp exit status: $rc"
exit $rc
