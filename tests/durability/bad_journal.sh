#!/usr/bin/env bash
# registrard refuses to start on a journal it cannot trust, with a message
# naming the file and a non-zero exit, and never rewrites it: a file that is
# not a database, somebody else's database, a data directory another
# registrard holds, and a state file whose log is missing.
# Usage: bad_journal.sh REGISTRARD
set -u
registrard=$(readlink -f "$1")
work=$(mktemp -d "${TMPDIR:-/tmp}/bad_journal.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
# Waits up to 10 s for the registrard writing to log file $1 to listen.
listening() {
  for _ in $(seq 1 100); do
    grep -q "listening on udp" "$1" && return 0
    sleep 0.1
  done
  cat "$1"
  return 1
}

# 1. Not a database.
mkdir -p "$work/garbage"
head -c 8192 /dev/urandom > "$work/garbage/registrar.db"
before=$(md5sum < "$work/garbage/registrar.db")
out=$(timeout 10 "$registrard" --listen udp:127.0.0.1:0 --data-dir "$work/garbage" 2>&1)
rc=$?
echo "garbage: rc=$rc: $out"
[ $rc -ne 0 ] || fail "started on a garbage journal"
grep -q "$work/garbage/registrar.db" <<<"$out" || fail "the message does not name the file"
[ "$(md5sum < "$work/garbage/registrar.db")" = "$before" ] || fail "the garbage file was rewritten"

# 2. Somebody else's SQLite database (python3 is a test dependency; its
#    sqlite3 module writes a real one).
mkdir -p "$work/foreign"
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE accounts (id INTEGER)"); c.commit()' \
  "$work/foreign/registrar.db" || fail "cannot build the foreign database"
out=$(timeout 10 "$registrard" --listen udp:127.0.0.1:0 --data-dir "$work/foreign" 2>&1)
rc=$?
echo "foreign: rc=$rc: $out"
[ $rc -ne 0 ] || fail "started on a foreign database"
grep -q "$work/foreign/registrar.db" <<<"$out" || fail "the message does not name the file"

# 3. A second registrard on a data directory in use.
"$registrard" --listen udp:127.0.0.1:0 --data-dir "$work/shared" > "$work/first.log" 2>&1 &
pids+=($!)
listening "$work/first.log" || fail "the first registrard did not start"
out=$(timeout 10 "$registrard" --listen udp:127.0.0.1:0 --data-dir "$work/shared" 2>&1)
rc=$?
echo "second: rc=$rc: $out"
[ $rc -ne 0 ] || fail "a second registrard started on the same data directory"
grep -q "in use by another registrard" <<<"$out" || fail "no reason given"

# 4. The journal's log gone (its changes since the last fold would be lost):
#    refused, naming it, and not created anew; back in place, it starts.
kill -TERM "${pids[0]}"; wait "${pids[0]}" 2>/dev/null; pids=()
[ -f "$work/shared/registrar-log.1" ] || fail "no log beside registrar.db"
mv "$work/shared/registrar-log.1" "$work/log.saved"
out=$(timeout 10 "$registrard" --listen udp:127.0.0.1:0 --data-dir "$work/shared" 2>&1)
rc=$?
echo "missing log: rc=$rc: $out"
[ $rc -ne 0 ] || fail "started without the journal's log"
grep -q "$work/shared/registrar-log.1: missing" <<<"$out" || fail "the message does not name the log"
[ ! -e "$work/shared/registrar-log.1" ] || fail "an empty log was created in its place"
mv "$work/log.saved" "$work/shared/registrar-log.1"
"$registrard" --listen udp:127.0.0.1:0 --data-dir "$work/shared" > "$work/again.log" 2>&1 &
pids+=($!)
listening "$work/again.log" || fail "no start with the log back"
echo "PASS"
