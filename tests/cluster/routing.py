#!/usr/bin/env python3
"""Three registrard nodes as one registrar (issue 8): requests through any
node reach the user's owner.

    routing.py REGISTRARD

Starts node-1 (--cluster-listen 127.0.0.1:0), then node-2 and node-3
joining it, each with its own SIP port, memory only; waits until each logs
that it routes over the 3 members. Then, over SIP/UDP:
  - 30 users REGISTER, user i through node i % 3; each binding is found by a
    REGISTER query (no Contact) through another node, and the users are
    spread over all three owners (rendezvous hashing, computed here as the
    server does);
  - a watcher SUBSCRIBEs through node 1 to a presentity owned by node 3,
    which PUBLISHes through node 2: the watcher gets the NOTIFY carrying it
    (from node 1, which terminates its dialog);
  - node 3 is killed (SIGKILL): once nodes 1 and 2 route over the two of
    them, every user is still found through both (node 3's users were
    taken over from their replicas; replication 2 is the default);
  - node 3 is started again and rejoins: the users it owns are handed back
    to it (the others log how many; the sum is exactly node 3's share),
    every user is found through all three with exactly its one binding
    (nothing lost, nothing duplicated), and a PUBLISH of the presentity
    (again node 3's) through node 2 reaches the watcher through node 1 with
    a higher CSeq than every NOTIFY before;
  - before that first kill, two watchers SUBSCRIBE through node 3 (to the
    presentity, and to a user of node 1): once node 3 is gone, the owners
    of the presentities adopt the dialogs and NOTIFY them at once with a
    higher CSeq, and a PUBLISH after the loss reaches the watcher;
  - node 1 is killed: the users' copies were re-made for the new routes at
    the rejoin, so nodes 2 and 3 still find every user; the first watcher's
    dialog (node 1's edge) is adopted by node 3.
Bounded: each wait has a deadline; every process is stopped at the end.
"""
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

NODES = ["node-1", "node-2", "node-3"]
MASK = (1 << 64) - 1


def fnv1a(s):
    h = 14695981039346656037
    for b in s.encode():
        h = ((h ^ b) * 1099511628211) & MASK
    return h


def mix(x):
    x ^= x >> 30
    x = (x * 0xbf58476d1ce4e5b9) & MASK
    x ^= x >> 27
    x = (x * 0x94d049bb133111eb) & MASK
    x ^= x >> 31
    return x


def owner(aor):
    """core::owner_of: the highest rendezvous weight, ties to the smaller id."""
    best = None
    for m in NODES:
        w = mix(fnv1a(aor) ^ mix((fnv1a(m) + 0x9e3779b97f4a7c15) & MASK))
        if best is None or w > best[0] or (w == best[0] and m < best[1]):
            best = (w, m)
    return NODES.index(best[1])


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def dump_logs(nodes, lines=8):
    """The last lines of each node's log (on failure)."""
    for n in nodes:
        print("---- %s (last %d lines)" % (n.name, lines))
        print("".join(n.text().splitlines(True)[-lines:]), end="")


def header(msg, name):
    m = re.search(r"^" + name + r":\s*(.*?)\r$", msg, re.M | re.I)
    return m.group(1) if m else None


class Node:
    def __init__(self, binary, name, work, join=None):
        self.name = name
        self.log = os.path.join(work, name + ".log")
        args = [binary, "--listen", "udp:127.0.0.1:0", "--durability", "off",
                "--data-dir", os.path.join(work, name), "--log-level", "info",
                "--node-id", name, "--cluster-listen", "127.0.0.1:0"]
        if join:
            args += ["--join", join]
        self.proc = subprocess.Popen(args, stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        try:
            self.sip_port = int(self.wait_for(r"registrard: listening on udp:127\.0\.0\.1:(\d+)"))
            # (spdlog's line: stdout's may be cut by another thread's log line)
            self.cluster = self.wait_for(r"cluster: node %s up at (\S+)" % name)
        except SystemExit:
            self.proc.kill()  # not in the caller's list yet: stop it here
            self.proc.wait()
            raise

    def text(self):
        with open(self.log) as f:
            return f.read()

    def wait_for(self, pattern, seconds=10):
        deadline = time.time() + seconds
        while time.time() < deadline:
            m = re.search(pattern, self.text())
            if m:
                return m.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        fail("%s: no '%s' in its log:\n%s" % (self.name, pattern, self.text()[-2000:]))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Ua:
    """One UDP socket talking SIP to the nodes; answers NOTIFYs with 200."""

    def __init__(self, name):
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.n = 0
        self.notifies = []

    def request(self, port, text, seconds=5):
        """Sends a request (Via/branch filled in), returns the final response."""
        self.n += 1
        branch = "z9hG4bK-%s-%d-%d" % (self.name, os.getpid(), self.n)
        text = text.replace("VIA", "SIP/2.0/UDP 127.0.0.1:%d;branch=%s" % (self.port, branch))
        self.sock.sendto(text.replace("\n", "\r\n").encode(), ("127.0.0.1", port))
        deadline = time.time() + seconds
        while time.time() < deadline:
            msg = self.receive(deadline - time.time())
            if msg and msg.startswith("SIP/2.0 ") and branch in (header(msg, "Via") or ""):
                if int(msg.split()[1]) >= 200:
                    return msg
        fail("%s: no answer from port %d to:\n%s" % (self.name, port, text))

    def receive(self, seconds):
        ready, _, _ = select.select([self.sock], [], [], max(seconds, 0))
        if not ready:
            return None
        data, addr = self.sock.recvfrom(65535)
        msg = data.decode(errors="replace")
        if msg.startswith("NOTIFY "):
            resp = "SIP/2.0 200 OK\r\n"
            for name in ("Via", "From", "To", "Call-ID", "CSeq"):
                for v in re.findall(r"^" + name + r":\s*(.*?)\r$", msg, re.M | re.I):
                    resp += "%s: %s\r\n" % (name, v)
            self.sock.sendto((resp + "Content-Length: 0\r\n\r\n").encode(), addr)
            self.notifies.append((addr, msg))
        return msg


def register(ua, port, aor, contact, cseq, seconds=5):
    return ua.request(port, (
        "REGISTER sip:localhost SIP/2.0\nVia: VIA\nMax-Forwards: 70\n"
        "From: <%s>;tag=r%d\nTo: <%s>\nCall-ID: reg-%x@test\nCSeq: %d REGISTER\n"
        "%sExpires: 600\nContent-Length: 0\n\n") % (
            aor, cseq, aor, fnv1a(aor), cseq, "Contact: <%s>\n" % contact if contact else ""),
        seconds)


def start_cluster(binary, work, nodes):
    """Starts node-1, then the others joining it, appending each to `nodes`
    (so the caller stops whatever started); returns once every node routes
    over all of them."""
    nodes.append(Node(binary, NODES[0], work))
    for name in NODES[1:]:
        nodes.append(Node(binary, name, work, join=nodes[0].cluster))
    for n in nodes:
        n.wait_for(r"(cluster: routing users over %d members)" % len(NODES))


def subscribe(ua, port, target, call_id):
    """SUBSCRIBE through `port`; waits for the first NOTIFY. Returns its CSeq."""
    r = ua.request(port, (
        "SUBSCRIBE %s SIP/2.0\nVia: VIA\nMax-Forwards: 70\n"
        "From: <sip:%s@localhost>;tag=%s\nTo: <%s>\nCall-ID: %s\n"
        "CSeq: 1 SUBSCRIBE\nContact: <sip:%s@127.0.0.1:%d>\nEvent: presence\n"
        "Accept: application/pidf+xml\nExpires: 600\nContent-Length: 0\n\n")
        % (target, ua.name, ua.name, target, call_id, ua.name, ua.port))
    if not r.startswith("SIP/2.0 200"):
        fail("%s: SUBSCRIBE to %s: %s" % (ua.name, target, r.splitlines()[0]))
    return wait_notify(ua, lambda a, m: True, 5, "first NOTIFY")


def wait_notify(ua, pred, seconds, what):
    """Waits for a NOTIFY received from now on with pred(addr, msg); its CSeq."""
    seen = len(ua.notifies)
    deadline = time.time() + seconds
    while time.time() < deadline:
        for addr, msg in ua.notifies[seen:]:
            if pred(addr, msg):
                return int(header(msg, "CSeq").split()[0]), addr
        ua.receive(0.1)
    fail("%s: no %s (%d NOTIFYs)" % (ua.name, what, len(ua.notifies)))


def main():
    if len(sys.argv) < 2:
        print("usage: routing.py REGISTRARD", file=sys.stderr)
        sys.exit(2)
    binary = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="cluster_routing.") as work:
        nodes = []
        try:
            start_cluster(binary, work, nodes)
            print("3 nodes joined; each routes over 3 members", flush=True)
            ua = Ua("ua")
            users = ["sip:user%d@localhost" % i for i in range(30)]
            for i, aor in enumerate(users):
                r = register(ua, nodes[i % 3].sip_port, aor, "sip:u%d@127.0.0.1:%d" % (i, 7000 + i), 1)
                if not r.startswith("SIP/2.0 200"):
                    fail("REGISTER %s through %s: %s" % (aor, NODES[i % 3], r.splitlines()[0]))
            for i, aor in enumerate(users):
                via = (i + 1) % 3
                r = register(ua, nodes[via].sip_port, aor, None, 2)
                if not r.startswith("SIP/2.0 200") or "u%d@127.0.0.1:%d" % (i, 7000 + i) not in r:
                    fail("query of %s through %s: %s" % (aor, NODES[via], r))
            spread = [sum(1 for a in users if owner(a) == k) for k in range(3)]
            if min(spread) == 0:
                fail("users not spread over the nodes: %s" % spread)
            print("30 registrations through all nodes found through others; owners %s" % spread,
                  flush=True)
            # A presentity owned by node 3, watched through node 1, publishing via node 2.
            alice = next("sip:alice%d@localhost" % k for k in range(1000)
                         if owner("sip:alice%d@localhost" % k) == 2)
            watcher = Ua("watcher")
            r = watcher.request(nodes[0].sip_port, (
                "SUBSCRIBE %s SIP/2.0\nVia: VIA\nMax-Forwards: 70\n"
                "From: <sip:bob@localhost>;tag=b1\nTo: <%s>\nCall-ID: cluster-sub@test\n"
                "CSeq: 1 SUBSCRIBE\nContact: <sip:bob@127.0.0.1:%d>\nEvent: presence\n"
                "Accept: application/pidf+xml\nExpires: 600\nContent-Length: 0\n\n")
                % (alice, alice, watcher.port))
            if not r.startswith("SIP/2.0 200"):
                fail("SUBSCRIBE through node-1: %s" % r.splitlines()[0])
            deadline = time.time() + 5
            while not watcher.notifies and time.time() < deadline:
                watcher.receive(0.1)
            if not watcher.notifies:
                fail("no first NOTIFY")
            body = ('<?xml version="1.0"?><presence xmlns="urn:ietf:params:xml:ns:pidf" '
                    'entity="%s"><tuple id="t1"><status><basic>open</basic></status></tuple>'
                    '<note>hello from node 3</note></presence>' % alice)
            pub = Ua("pub")
            r = pub.request(nodes[1].sip_port, (
                "PUBLISH %s SIP/2.0\nVia: VIA\nMax-Forwards: 70\nFrom: <%s>;tag=p1\n"
                "To: <%s>\nCall-ID: cluster-pub@test\nCSeq: 1 PUBLISH\nEvent: presence\n"
                "Expires: 600\nContent-Type: application/pidf+xml\nContent-Length: %d\n\n")
                % (alice, alice, alice, len(body)) + body)
            if not r.startswith("SIP/2.0 200"):
                fail("PUBLISH through node-2: %s" % r.splitlines()[0])
            deadline = time.time() + 5
            got = None
            while time.time() < deadline and not got:
                watcher.receive(0.1)
                got = next((n for n in watcher.notifies if "hello from node 3" in n[1]), None)
            if not got:
                fail("the watcher got no NOTIFY with the published note (%d NOTIFYs)"
                     % len(watcher.notifies))
            if got[0][1] != nodes[0].sip_port:
                fail("the NOTIFY came from port %d, not node-1's %d" % (got[0][1], nodes[0].sip_port))
            print("a watcher on node-1 got the NOTIFY of %s (owned by node-3), "
                  "published through node-2" % alice, flush=True)
            # Two watchers whose dialogs node-3's edge terminates: one of
            # alice (node-3's user too), one of carol (node-1's user).
            carol = next("sip:carol%d@localhost" % k for k in range(1000)
                         if owner("sip:carol%d@localhost" % k) == 0)
            w2, w3 = Ua("w2"), Ua("w3")
            c2, _ = subscribe(w2, nodes[2].sip_port, alice, "w2-sub@test")
            c3, _ = subscribe(w3, nodes[2].sip_port, carol, "w3-sub@test")
            # kill -9 node-3: its users' replicas take them over.
            t0 = time.time()
            nodes[2].proc.send_signal(signal.SIGKILL)
            nodes[2].proc.wait()
            for n in nodes[:2]:  # the routes after the loss (not those of the start)
                n.wait_for(r"node node-3 lost[^\n]*\n[^\n]*(routing users over 2 members)")
            lost = [i for i, a in enumerate(users) if owner(a) == 2]
            for i, aor in enumerate(users):
                for via in (0, 1):
                    r = register(ua, nodes[via].sip_port, aor, None, 3 + via, seconds=12)
                    if not r.startswith("SIP/2.0 200") or "u%d@127.0.0.1:%d" % (i, 7000 + i) not in r:
                        fail("after the kill, query of %s (owner was %s) through %s: %s"
                             % (aor, NODES[owner(aor)], NODES[via], r.splitlines()[0]))
            # The dialogs node-3's edge terminated are adopted by the owners
            # of their presentities: a NOTIFY with the current state comes
            # at once from the adopter, with a higher CSeq.
            dead = nodes[2].sip_port
            c2b, a2 = wait_notify(w2, lambda a, m: a[1] != dead, 5, "NOTIFY after node-3's loss")
            c3b, a3 = wait_notify(w3, lambda a, m: True, 5, "NOTIFY after node-3's loss")
            if c2b <= c2 or c3b <= c3:
                fail("adopted dialogs: CSeq %d after %d, %d after %d" % (c2b, c2, c3b, c3))
            if a3[1] != nodes[0].sip_port:
                fail("carol's watcher got its NOTIFY from port %d, not node-1's" % a3[1])
            r = pub.request(nodes[1].sip_port, (
                "PUBLISH %s SIP/2.0\nVia: VIA\nMax-Forwards: 70\nFrom: <%s>;tag=p1\n"
                "To: <%s>\nCall-ID: cluster-pub2@test\nCSeq: 1 PUBLISH\nEvent: presence\n"
                "Expires: 600\nContent-Type: application/pidf+xml\nContent-Length: %d\n\n")
                % (alice, alice, alice, len(body.replace("hello from node 3", "orphans adopted")))
                + body.replace("hello from node 3", "orphans adopted"))
            if not r.startswith("SIP/2.0 200"):
                fail("PUBLISH after node-3's loss: %s" % r.splitlines()[0])
            c2c, _ = wait_notify(w2, lambda a, m: "orphans adopted" in m, 5,
                                 "NOTIFY with the note published after node-3's loss")
            if c2c <= c2b:
                fail("w2: CSeq %d after %d" % (c2c, c2b))
            print("the dialogs node-3's edge terminated were adopted: NOTIFYs from ports %d and "
                  "%d, CSeq %d > %d and %d > %d; a PUBLISH after the loss reached w2 (CSeq %d)"
                  % (a2[1], a3[1], c2b, c2, c3b, c3, c2c), flush=True)
            print("after kill -9 of node-3, all 30 users (%d of them node-3's) found "
                  "through node-1 and node-2 (%.2f s from the kill to the last answer)"
                  % (len(lost), time.time() - t0), flush=True)
            # node-3 comes back (memory only: it starts empty) and rejoins.
            marks = [len(n.text()) for n in nodes[:2]]
            t0 = time.time()
            nodes[2] = Node(binary, NODES[2], work, join=nodes[0].cluster)
            nodes[2].wait_for(r"(cluster: routing users over 3 members)")
            for n, mark in zip(nodes[:2], marks):
                deadline = time.time() + 10
                while "routing users over 3 members" not in n.text()[mark:]:
                    if time.time() > deadline:
                        fail("%s does not route over 3 members after node-3's restart" % n.name)
                    time.sleep(0.05)
            aors = users + [alice, carol, "sip:bob@localhost", "sip:w2@localhost",
                            "sip:w3@localhost"]
            share = sum(1 for a in aors if owner(a) == 2)
            handed = 0
            deadline = time.time() + 10
            while time.time() < deadline:
                handed = sum(int(x) for n, mark in zip(nodes[:2], marks)
                             for x in re.findall(r"shard handed over (\d+) users",
                                                 n.text()[mark:]))
                if handed >= share:
                    break
                time.sleep(0.05)
            if handed != share:
                fail("nodes 1 and 2 handed over %d users to node-3, its share is %d"
                     % (handed, share))
            print("node-3 rejoined; nodes 1 and 2 handed its %d users back (%.2f s from its "
                  "start)" % (handed, time.time() - t0), flush=True)
            for i, aor in enumerate(users):
                for via in range(3):
                    r = register(ua, nodes[via].sip_port, aor, None, 10 + via)
                    contacts = re.findall(r"^Contact:", r, re.M | re.I)
                    if (not r.startswith("SIP/2.0 200")
                            or "u%d@127.0.0.1:%d" % (i, 7000 + i) not in r or len(contacts) != 1):
                        fail("after the rejoin, query of %s through %s: %s"
                             % (aor, NODES[via], r))
            print("all 30 users found through all three nodes, each with its one binding",
                  flush=True)
            last_cseq = max(int(header(m, "CSeq").split()[0]) for _, m in watcher.notifies)
            body2 = body.replace("hello from node 3", "node 3 is back")
            r = pub.request(nodes[1].sip_port, (
                "PUBLISH %s SIP/2.0\nVia: VIA\nMax-Forwards: 70\nFrom: <%s>;tag=p1\n"
                "To: <%s>\nCall-ID: cluster-pub@test\nCSeq: 2 PUBLISH\nEvent: presence\n"
                "Expires: 600\nContent-Type: application/pidf+xml\nContent-Length: %d\n\n")
                % (alice, alice, alice, len(body2)) + body2)
            if not r.startswith("SIP/2.0 200"):
                fail("PUBLISH through node-2 after the rejoin: %s" % r.splitlines()[0])
            deadline = time.time() + 5
            got = None
            while time.time() < deadline and not got:
                watcher.receive(0.1)
                got = next((n for n in watcher.notifies if "node 3 is back" in n[1]), None)
            if not got:
                fail("after the rejoin the watcher got no NOTIFY with the new note")
            cseq = int(header(got[1], "CSeq").split()[0])
            if got[0][1] != nodes[0].sip_port or cseq <= last_cseq:
                fail("the NOTIFY after the rejoin: from port %d (node-1: %d), CSeq %d after %d"
                     % (got[0][1], nodes[0].sip_port, cseq, last_cseq))
            print("the watcher got the new note of %s (node-3's again) with CSeq %d > %d"
                  % (alice, cseq, last_cseq), flush=True)
            # kill -9 node-1: the copies made at the rejoin keep every user.
            nodes[0].proc.send_signal(signal.SIGKILL)
            nodes[0].proc.wait()
            for n in nodes[1:]:
                n.wait_for(r"node node-1 lost[^\n]*\n[^\n]*(routing users over 2 members)")
            for i, aor in enumerate(users):
                for via in (1, 2):
                    r = register(ua, nodes[via].sip_port, aor, None, 20 + via, seconds=12)
                    contacts = re.findall(r"^Contact:", r, re.M | re.I)
                    if (not r.startswith("SIP/2.0 200")
                            or "u%d@127.0.0.1:%d" % (i, 7000 + i) not in r or len(contacts) != 1):
                        fail("after kill -9 of node-1, query of %s through %s: %s"
                             % (aor, NODES[via], r))
            # bob's dialog (node-1's edge) is adopted by alice's owner, node-3.
            cb, ab = wait_notify(watcher, lambda a, m: True, 5, "NOTIFY after node-1's loss")
            if ab[1] != nodes[2].sip_port or cb <= cseq:
                fail("bob's adopted dialog: NOTIFY from port %d (node-3: %d), CSeq %d after %d"
                     % (ab[1], nodes[2].sip_port, cb, cseq))
            print("PASS: after the rejoin and a kill -9 of node-1, all 30 users found through "
                  "node-2 and node-3; bob's dialog adopted by node-3 (CSeq %d)" % cb, flush=True)
        except SystemExit:
            dump_logs(nodes)
            raise
        finally:
            for n in nodes:
                n.stop()


if __name__ == "__main__":
    main()
