#!/usr/bin/env bash
# Sends every file of the malformed-message corpus to a registrard started on
# free loopback ports, over UDP and over TCP (one connection per file), and
# compares what comes back with the corpus MANIFEST (see its header for the
# format). Then checks that the daemon is still running and answers an
# OPTIONS with 200 over both transports. Exits 0 when everything matched,
# 1 listing the mismatches otherwise, 2 on setup errors.
# Bounded: registrard start 10 s; each probe 1 s when the file must go
# unanswered, 5 s otherwise; 16 probes at a time; the whole run < 60 s.
#
# Usage: run_malformed.sh REGISTRARD SIP_PROBE [CORPUS_DIR]
#   CORPUS_DIR defaults to tests/data/sip/malformed next to this script.
#   VERBOSE=1 prints every result, not only the mismatches.
set -u
if [ $# -lt 2 ]; then
  echo "usage: $0 REGISTRARD SIP_PROBE [CORPUS_DIR]" >&2
  exit 2
fi
registrard=$(readlink -f "$1")
probe=$(readlink -f "$2")
here=$(cd "$(dirname "$0")" && pwd)
corpus=${3:-$here/../data/sip/malformed}
manifest=$corpus/MANIFEST
[ -f "$manifest" ] || { echo "no $manifest" >&2; exit 2; }
[ -x "$probe" ] || { echo "sip_probe not executable: $probe" >&2; exit 2; }
parallel=16

work=$(mktemp -d "${TMPDIR:-/tmp}/run_malformed.XXXXXX")
log=$work/registrard.log
"$registrard" --listen udp:127.0.0.1:0 --listen tcp:127.0.0.1:0 --data-dir "$work/data" > "$log" 2>&1 &
pid=$!
cleanup() {
  kill -INT $pid 2>/dev/null
  for _ in $(seq 1 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
  kill -KILL $pid 2>/dev/null
  wait $pid 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
udp_port="" tcp_port=""
for _ in $(seq 1 100); do
  udp_port=$(sed -n 's/^registrard: listening on udp:127.0.0.1:\([0-9]*\)$/\1/p' "$log")
  tcp_port=$(sed -n 's/^registrard: listening on tcp:127.0.0.1:\([0-9]*\)$/\1/p' "$log")
  [ -n "$udp_port" ] && [ -n "$tcp_port" ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
if [ -z "$udp_port" ] || [ -z "$tcp_port" ]; then
  echo "registrard did not start:"; cat "$log"; exit 2
fi
echo "registrard on udp:127.0.0.1:$udp_port and tcp:127.0.0.1:$tcp_port"

mkdir -p "$work/tcp" "$work/out"
# One probe: FILE PROTO EXPECTED -> $work/out/FILE.PROTO holds
# "<result>" (status code, none, closed, crlf, or error:...).
probe_one() {
  local file=$1 proto=$2 expected=$3 port=$udp_port src=$corpus/$1 t=1000 out rc
  if [ "$proto" = tcp ]; then
    port=$tcp_port
    src=$work/tcp/$file
  fi
  # Wait 5 s when some status code is expected, 1 s when only silence is.
  [[ "$expected" =~ [0-9] ]] && t=5000
  out=$("$probe" -t "$t" "$proto" 127.0.0.1 "$port" "$src" 2>&1)
  rc=$?
  if [ $rc -ne 0 ]; then
    out="error:$(echo "$out" | tr '\n' ' ')"
  elif [[ "$out" == SIP/2.0\ * ]]; then
    out="$(echo "$out" | cut -d' ' -f2)  ($out)"
  fi
  echo "$out" > "$work/out/$file.$proto"
}

files=()
declare -A want_udp want_tcp
while read -r file udp tcp _; do
  case "$file" in ''|\#*) continue ;; esac
  if [ ! -f "$corpus/$file" ]; then
    echo "MANIFEST names a missing file: $file" >&2; exit 2
  fi
  files+=("$file")
  want_udp[$file]=$udp
  want_tcp[$file]=$tcp
  # TCP copy: the Via names TCP, Call-IDs / branches differ from the UDP
  # pass (same length, so Content-Length stays right).
  LC_ALL=C sed -e 's#SIP/2\.0/UDP#SIP/2.0/TCP#g' -e 's#-udp-#-tcp-#g' \
    "$corpus/$file" > "$work/tcp/$file"
done < "$manifest"
for f in "$corpus"/*; do
  b=$(basename "$f")
  [ "$b" = MANIFEST ] && continue
  [ -n "${want_udp[$b]+x}" ] || echo "warning: $b is not in the MANIFEST"
done

start=$(date +%s)
# In a subshell, so that `wait` waits for the probes only, not registrard.
(
  running=0
  for file in "${files[@]}"; do
    for proto in udp tcp; do
      if [ "$proto" = udp ]; then exp=${want_udp[$file]}; else exp=${want_tcp[$file]}; fi
      if [ "$exp" = skip ]; then
        echo skip > "$work/out/$file.$proto"
        continue
      fi
      probe_one "$file" "$proto" "$exp" &
      running=$((running + 1))
      if [ $running -ge $parallel ]; then
        wait -n
        running=$((running - 1))
      fi
    done
  done
  wait
)

mismatches=()
matches=0
for file in "${files[@]}"; do
  for proto in udp tcp; do
    if [ "$proto" = udp ]; then exp=${want_udp[$file]}; else exp=${want_tcp[$file]}; fi
    got=$(cat "$work/out/$file.$proto")
    word=${got%% *}
    ok=no
    IFS='|' read -ra alts <<< "$exp"
    for a in "${alts[@]}"; do
      [ "$a" = "$word" ] && ok=yes
    done
    line=$(printf '%-38s %-4s expected %-15s got %s' "$file" "$proto" "$exp" "$got")
    if [ $ok = yes ]; then
      matches=$((matches + 1))
      [ "${VERBOSE:-0}" = 1 ] && echo "ok       $line"
    else
      mismatches+=("$line")
    fi
  done
done
echo "corpus: $matches results as expected, ${#mismatches[@]} mismatches ($(( $(date +%s) - start )) s)"

# Still alive, still serving?
alive_errors=()
if ! kill -0 $pid 2>/dev/null; then
  alive_errors+=("registrard is no longer running")
else
  for proto in udp tcp; do
    port=$udp_port; [ $proto = tcp ] && port=$tcp_port
    T=$(echo $proto | tr a-z A-Z)
    printf 'OPTIONS sip:127.0.0.1:%s SIP/2.0\r\nVia: SIP/2.0/%s 127.0.0.1:5060;rport;branch=z9hG4bK-alive-%s-%s\r\nMax-Forwards: 70\r\nFrom: <sip:alive@localhost>;tag=alive-%s\r\nTo: <sip:127.0.0.1>\r\nCall-ID: alive-%s-%s@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n' \
      "$port" "$T" "$proto" "$$" "$proto" "$proto" "$$" > "$work/alive.$proto"
    got=$("$probe" -t 5000 $proto 127.0.0.1 "$port" "$work/alive.$proto" 2>&1)
    if [[ "$got" == "SIP/2.0 200 "* ]]; then
      echo "after the corpus: OPTIONS over $proto -> $got"
    else
      alive_errors+=("after the corpus: OPTIONS over $proto -> $got (expected 200)")
    fi
  done
fi
if grep -qiE 'abort|assert|terminate|segmentation|sanitizer|fatal' "$log"; then
  alive_errors+=("registrard log mentions a crash:")
  while IFS= read -r l; do alive_errors+=("  $l"); done < <(tail -n 20 "$log")
fi

if [ ${#mismatches[@]} -eq 0 ] && [ ${#alive_errors[@]} -eq 0 ]; then
  echo "all ${#files[@]} corpus files answered as the MANIFEST says; registrard still serving"
  exit 0
fi
if [ ${#mismatches[@]} -gt 0 ]; then
  echo "MISMATCHES (${#mismatches[@]}):"
  printf '  %s\n' "${mismatches[@]}"
fi
[ ${#alive_errors[@]} -gt 0 ] && printf '%s\n' "${alive_errors[@]}"
exit 1
