#!/usr/bin/env bash
# registrard refuses to start on a journal it cannot trust, with a message
# naming the file and a non-zero exit, and never rewrites it: a file that is
# not a database, somebody else's database, a data directory another
# registrard holds, a state file whose log is missing, and (with sync) a
# damaged log record that newer ones follow.
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

# 5. A damaged log record with newer ones after it (a bad sector): with
#    sync, those were acknowledged, so the start stops naming the file;
#    with async (a power loss can leave this) it starts and warns.
kill -TERM "${pids[0]}"; wait "${pids[0]}" 2>/dev/null; pids=()
"$registrard" --listen udp:127.0.0.1:0 --data-dir "$work/damaged" --durability sync \
  > "$work/damaged.log" 2>&1 &
pids+=($!)
listening "$work/damaged.log" || fail "no start on a new data directory"
port=$(sed -n 's/^registrard: listening on udp:127.0.0.1:\([0-9]*\)$/\1/p' "$work/damaged.log")
# Three REGISTERs one after the other: three log records (sync).
python3 - "$port" <<'PY' || fail "the REGISTERs were not answered 200"
import socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(5)
me = s.getsockname()[1]
for n in range(3):
    msg = (f"REGISTER sip:localhost SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKbad{n}\r\n"
           f"Max-Forwards: 70\r\nFrom: <sip:u{n}@localhost>;tag=t{n}\r\n"
           f"To: <sip:u{n}@localhost>\r\nCall-ID: bad{n}@test\r\nCSeq: 1 REGISTER\r\n"
           f"Contact: <sip:u{n}@127.0.0.1:5999>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n")
    s.sendto(msg.encode(), ("127.0.0.1", port))
    while True:
        reply = s.recv(65536).decode(errors="replace")
        if not reply.startswith("SIP/2.0 1"):
            break
    if not reply.startswith("SIP/2.0 200"):
        sys.exit(1)
PY
# Killed: the records stay in the log (a clean stop would fold them).
kill -KILL "${pids[0]}"; wait "${pids[0]}" 2>/dev/null; pids=()
python3 - "$work/damaged/registrar-log.0" <<'PY' || fail "cannot damage the second record"
import struct, sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
pos, found = 4096, []
while pos + 24 <= len(data):
    magic, length = struct.unpack_from("<II", data, pos)
    if magic != 0x5245434C or length == 0:
        break
    found.append(pos)
    pos += 24 + length
if len(found) < 3:
    sys.exit(1)
data[found[1] + 24] ^= 0xFF  # the second record's first payload byte
open(path, "r+b").write(data)
PY
out=$(timeout 10 "$registrard" --listen udp:127.0.0.1:0 --data-dir "$work/damaged" --durability sync 2>&1)
rc=$?
echo "damaged record, sync: rc=$rc: $out"
[ $rc -ne 0 ] || fail "started with sync over a damaged record that newer ones follow"
grep -q "$work/damaged/registrar-log.0: corrupt journal log" <<<"$out" || fail "the message does not name the log"
"$registrard" --listen udp:127.0.0.1:0 --data-dir "$work/damaged" --durability async \
  > "$work/damaged-async.log" 2>&1 &
pids+=($!)
listening "$work/damaged-async.log" || fail "no start with async"
grep -q "registrard: warning: $work/damaged/registrar-log.0: .*dropped" "$work/damaged-async.log" \
  || { cat "$work/damaged-async.log"; fail "no warning naming the log"; }
echo "PASS"
