#!/usr/bin/env python3
"""kill -9 of a cluster node during a registrar-load run (issue 8).

    takeover.py REGISTRAR_LOAD REGISTRARD [--keep DIR]

Three registrard nodes (memory only, replication 2, as in routing.py). Two
registrar-load runs go to node-1 at once: `register` (new bindings at a
steady rate, --ack-log: one line per acknowledged binding) and `presence`
(publishers with watchers, one update after the other, each measured until
every watcher got its NOTIFY). About a second in, node-3 is killed with
SIGKILL. Both runs report the errors they saw (by status) and when; the
take-over time is from the kill to the last error. Then `registrar-load
verify` checks through node-1 and through node-2 that every acknowledged
binding is still there, and the presence run must have gone on after the
take-over: updates after the last error reached every watcher.
Prints the figures (docs/performance.md quotes them). Bounded: every wait
has a deadline, every process is stopped at the end.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from routing import NODES, Node, dump_logs, fail, owner, start_cluster  # noqa: E402


PUBLISHERS, WATCHERS, UPDATES = 12, 3, 40


def main():
    if len(sys.argv) < 3:
        print("usage: takeover.py REGISTRAR_LOAD REGISTRARD [--keep DIR]", file=sys.stderr)
        sys.exit(2)
    load = os.path.abspath(sys.argv[1])
    binary = os.path.abspath(sys.argv[2])
    keep = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--keep" else None
    work = keep or tempfile.mkdtemp(prefix="cluster_takeover.")
    os.makedirs(work, exist_ok=True)
    nodes, runs = [], []
    try:
        start_cluster(binary, work, nodes)
        target = "127.0.0.1:%d" % nodes[0].sip_port
        acks = os.path.join(work, "acks")
        common = [load, "--mode", "sip", "--target", target, "--timer-b", "2", "--t1", "0.25",
                  "--no-progress", "--max-error-rate", "1"]
        reg = common + ["register", "-n", "6000", "--count", "6000", "--rate", "2000",
                        "--ack-log", acks, "--user-prefix", "tkr",
                        "--json", os.path.join(work, "register.json")]
        lost_pubs = sum(1 for i in range(PUBLISHERS)
                        if owner("sip:tkpp%d@127.0.0.1" % i) == 2)
        if lost_pubs == 0:
            fail("no publisher owned by node-3: change the prefix")
        pres = common + ["presence", "-P", str(PUBLISHERS), "-W", str(WATCHERS),
                         "-K", str(UPDATES), "--gap", "0.01",
                         "--concurrency", "1", "--user-prefix", "tkp",
                         "--json", os.path.join(work, "presence.json")]
        # The kill comes 0.5 s into the register run, which starts once the
        # presence run is measuring (its set-up, SUBSCRIBEs through three
        # nodes, can take seconds under ASan on a busy machine): both runs
        # span it.
        for name, args in (("presence", pres), ("register", reg)):
            started = os.path.join(work, name + ".started")
            out = open(os.path.join(work, name + ".out"), "w")
            runs.append((name, subprocess.Popen(args + ["--started-file", started],
                                                stdout=out, stderr=subprocess.STDOUT)))
            deadline = time.time() + 30
            while not os.path.exists(started):
                if time.time() > deadline or runs[-1][1].poll() is not None:
                    fail("registrar-load %s did not start measuring" % name)
                time.sleep(0.05)
        time.sleep(0.5)
        kill_ms = time.time() * 1000
        nodes[2].proc.send_signal(signal.SIGKILL)
        nodes[2].proc.wait()
        for name, p in runs:
            try:
                p.wait(40)
            except subprocess.TimeoutExpired:
                fail("registrar-load %s did not end" % name)
        figures = {}
        for name, _ in runs:
            text = open(os.path.join(work, name + ".out")).read()
            print("---- registrar-load %s\n%s" % (name, text.strip()), flush=True)
            try:
                figures[name] = json.load(open(os.path.join(work, name + ".json")))
            except (OSError, ValueError) as e:
                fail("registrar-load %s wrote no JSON: %s" % (name, e))
        window = []
        for name, j in figures.items():
            errors = j["errors"]
            first = last = None
            if errors:
                first = j["start_unix_ms"] + j["first_error_ms"] - kill_ms
                last = j["start_unix_ms"] + j["last_error_ms"] - kill_ms
                window.append(last)
                # Sent before the kill but in flight to node-3 (a loaded
                # machine, an ASan build: up to ~1 s of queueing) is fine.
                if first < -1000:
                    fail("%s: errors sent %.0f ms before the kill" % (name, -first))
            begin = j["start_unix_ms"]
            if not begin < kill_ms < begin + j["seconds"] * 1000:
                fail("the %s run did not span the kill" % name)
            # The second of the run the kill fell in: its p99 shows the stall.
            sec = int((kill_ms - begin) / 1000)
            around = j["per_second"][sec] if sec < len(j["per_second"]) else {}
            print("%s: %d operations, %d errors %s%s; slowest %.0f ms, p99 %.1f ms in the "
                  "second of the kill" % (
                      name, j["operations"], errors, json.dumps(j["errors_by_status"]),
                      "" if not errors else " (sent %.0f to %.0f ms after the kill)"
                      % (first, last), j["latency"]["max"] / 1000,
                      around.get("p99_us", 0) / 1000), flush=True)
        takeover = max(window) if window else 0.0
        print("take-over: the last failed operation was sent %.0f ms after the kill"
              % takeover, flush=True)
        acked = sum(1 for line in open(acks) if line.startswith("REGISTER "))
        if acked < 3000:
            fail("only %d acknowledged registrations" % acked)
        for via in (0, 1):
            out = subprocess.run(
                [load, "--mode", "sip", "--target", "127.0.0.1:%d" % nodes[via].sip_port,
                 "verify", "--acks", acks, "--timer-b", "8", "--no-progress"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60, text=True)
            summary = [l for l in out.stdout.splitlines() if l.startswith("verify")]
            print("verify through %s: %s" % (NODES[via], " | ".join(summary)), flush=True)
            if out.returncode != 0:
                fail("verify through %s (exit %d):\n%s" % (NODES[via], out.returncode,
                                                          out.stdout[-3000:]))
        # The presence run spanned the kill and went on after the take-over:
        # every update of every publisher (node-3's too) was counted, those
        # after the last error reached every watcher.
        p = figures["presence"]
        begin, end = p["start_unix_ms"], p["start_unix_ms"] + p["seconds"] * 1000
        if not begin < kill_ms < end:
            fail("the presence run (%.0f..%.0f) did not span the kill (%.0f)"
                 % (begin, end, kill_ms))
        if p["operations"] != PUBLISHERS * UPDATES:
            fail("presence: %d updates measured, %d sent" % (p["operations"], PUBLISHERS * UPDATES))
        tail = p["per_second"][-2:] if len(p["per_second"]) >= 2 else p["per_second"]
        if sum(s["ops"] - s["errors"] for s in tail) == 0:
            fail("no presence update succeeded at the end of the run: %s" % p["per_second"])
        ok = p["operations"] - p["errors"]
        print("presence: %d of %d updates reached all %d watchers (%d of the %d publishers "
              "were node-3's)" % (ok, p["operations"], WATCHERS, lost_pubs, PUBLISHERS),
              flush=True)
        print("PASS: %d acknowledged registrations all found through node-1 and node-2; "
              "presence updates went on; take-over %.0f ms" % (acked, takeover), flush=True)
    except SystemExit:
        dump_logs(nodes)
        raise
    finally:
        for _, p in runs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for n in nodes:
            n.stop()
        if not keep:
            subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
