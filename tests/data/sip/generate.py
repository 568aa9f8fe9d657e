#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the SIP fixtures of tests/data/sip/ with real CRLF line endings.

Run from anywhere: python3 tests/data/sip/generate.py
Each fixture is written as readable text below; '\n' becomes CRLF, '{CL}' is
replaced by the byte length of the body (the part after the empty line).
Fixtures whose name starts with 'bad_' must be rejected by the parser; the
expected status and reason live in tests/core/sip_message.cpp.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = {}


def fixture(name, text, crlf=True, fill_cl=True):
    data = text.encode("utf-8")
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    if fill_cl and b"{CL}" in data:
        head, sep, body = data.partition(b"\r\n\r\n")
        data = data.replace(b"{CL}", str(len(body)).encode())
    FIXTURES[name] = data


PIDF = """<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@example.com">
  <tuple id="t1">
    <status><basic>open</basic></status>
    <contact>sip:alice@192.0.2.4</contact>
  </tuple>
</presence>
"""

# -- good ---------------------------------------------------------------------

fixture("register_basic.sip", """REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK776asdhds;rport
Max-Forwards: 70
From: "Alice" <sip:alice@example.com>;tag=1928301774
To: "Alice" <sip:alice@example.com>
Call-ID: a84b4c76e66710@pc33.example.com
CSeq: 314159 REGISTER
Contact: <sip:alice@192.0.2.4:5060;transport=udp>;expires=3600;q=0.8
Expires: 3600
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY, SUBSCRIBE, MESSAGE
Supported: replaces, outbound, path
User-Agent: ExamplePhone/1.2.3
Content-Length: 0

""")

fixture("register_multi_contact.sip", """REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/TCP 198.51.100.7:5060;branch=z9hG4bKmulti1
Max-Forwards: 70
From: <sip:bob@example.com>;tag=456248
To: <sip:bob@example.com>
Call-ID: 843817637684230@998sdasdh09
CSeq: 1826 REGISTER
Contact: "Bob Desk" <sip:bob@198.51.100.7:5060;transport=tcp>;q=1.0;expires=1800
Contact: <sip:bob@198.51.100.8>;q=0.5, sip:bob@198.51.100.9;q=0;expires=60
Expires: 7200
Content-Length: 0

""")

fixture("register_outbound.sip", """REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/TCP edge.example.net:5060;branch=z9hG4bKedge1
Via: SIP/2.0/TCP 192.0.2.20:51722;branch=z9hG4bKua1;received=203.0.113.5;rport=51722
Max-Forwards: 69
Path: <sip:edge.example.net;lr;ob>, <sip:edge2.example.net;lr>
From: <sip:carol@example.com>;tag=abc123
To: <sip:carol@example.com>
Call-ID: outbound-1@192.0.2.20
CSeq: 2 REGISTER
Supported: path, outbound, gruu
Contact: <sip:carol@192.0.2.20:51722;transport=tcp;ob>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1;expires=600
Content-Length: 0

""")

fixture("register_wildcard.sip", """REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKwild
Max-Forwards: 70
From: <sip:alice@example.com>;tag=w1
To: <sip:alice@example.com>
Call-ID: wildcard-7@192.0.2.4
CSeq: 9 REGISTER
Contact: *
Expires: 0
Content-Length: 0

""")

fixture("register_compact.sip", """REGISTER sip:example.com SIP/2.0
v: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKcompact
MAX-FORWARDS: 70
f: <sip:dave@example.com>;tag=c1
t: sip:dave@example.com
i: compact-42@192.0.2.4
cseq: 77 REGISTER
m: <sip:dave@192.0.2.4>;expires=120
k: path
e: gzip
s: compact test
o: foo
u: presence, message-summary
expires: 120
l: 0

""")

fixture("register_folded.sip", """REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.4:5060
 ;branch=z9hG4bKfold
Max-Forwards: 70
From: "Eve"
\t<sip:eve@example.com>;tag=f1
To: <sip:eve@example.com>
Call-ID: folded-1@192.0.2.4
CSeq: 5 REGISTER
Contact: <sip:eve@192.0.2.4>;expires=300,
   <sip:eve@192.0.2.5>;expires=60
Subject: a subject
   that spans two lines
Content-Length: 0

""")

fixture("register_ipv6.sip", """REGISTER sip:[2001:db8::1] SIP/2.0
Via: SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bKv6;rport
Max-Forwards: 70
From: <sip:frank@example.com>;tag=v6
To: <sip:frank@example.com>
Call-ID: ipv6-1@[2001:db8::9]
CSeq: 1 REGISTER
Contact: <sip:frank@[2001:db8::9]:5070>
Content-Length: 0

""")

fixture("register_empty_supported.sip", """REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.33:38917;branch=z9hG4bK2d2b01d9a7e6d3f7;rport
Contact: <sip:grace-0x55d1@192.0.2.33:38917;transport=udp>;expires=3600
Max-Forwards: 70
To: <sip:grace@example.com>
From: <sip:grace@example.com>;tag=d2fc9b2e0a7b83c5
Call-ID: 5cbd0a0b0a4d1a5e
CSeq: 26462 REGISTER
User-Agent: baresip v2.0.0 (x86_64/linux)
Allow: INVITE,ACK,BYE,CANCEL,OPTIONS,NOTIFY,SUBSCRIBE,INFO,MESSAGE,UPDATE
Supported:
Content-Length: 0

""")

fixture("subscribe_presence.sip", """SUBSCRIBE sip:bob@example.com SIP/2.0
Via: SIP/2.0/TCP 192.0.2.4:5060;branch=z9hG4bKsub1
Max-Forwards: 70
Route: <sip:proxy.example.com;lr>
From: <sip:alice@example.com>;tag=sub-a
To: <sip:bob@example.com>
Call-ID: subscribe-1@192.0.2.4
CSeq: 1 SUBSCRIBE
Contact: <sip:alice@192.0.2.4;transport=tcp>
Event: presence;id=42
Accept: application/pidf+xml, application/rlmi+xml;q=0.5
Accept: multipart/related
Allow-Events: presence
Expires: 600
Content-Length: 0

""")

fixture("publish_pidf.sip", """PUBLISH sip:alice@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKpub1
Max-Forwards: 70
From: <sip:alice@example.com>;tag=pub1
To: <sip:alice@example.com>
Call-ID: publish-1@192.0.2.4
CSeq: 1 PUBLISH
Event: presence
Expires: 3600
Content-Type: application/pidf+xml
Content-Length: {CL}

""" + PIDF)

fixture("publish_refresh.sip", """PUBLISH sip:alice@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKpub2
Max-Forwards: 70
From: <sip:alice@example.com>;tag=pub2
To: <sip:alice@example.com>
Call-ID: publish-2@192.0.2.4
CSeq: 2 PUBLISH
Event: presence
SIP-If-Match: dx200xyz
Expires: 1800
Content-Length: 0

""")

fixture("publish_udp_no_content_length.sip", """PUBLISH sip:alice@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKpub3
Max-Forwards: 70
From: <sip:alice@example.com>;tag=pub3
To: <sip:alice@example.com>
Call-ID: publish-3@192.0.2.4
CSeq: 3 PUBLISH
Event: presence
Expires: 3600
Content-Type: application/pidf+xml

""" + PIDF)

fixture("notify_presence.sip", """NOTIFY sip:alice@192.0.2.4;transport=tcp SIP/2.0
Via: SIP/2.0/TCP registrar.example.com:5060;branch=z9hG4bKnot1
Max-Forwards: 70
From: <sip:bob@example.com>;tag=srv-1
To: <sip:alice@example.com>;tag=sub-a
Call-ID: subscribe-1@192.0.2.4
CSeq: 1 NOTIFY
Contact: <sip:registrar.example.com;transport=tcp>
Event: presence;id=42
Subscription-State: active;expires=599
Content-Type: application/pidf+xml
Content-Length: {CL}

""" + PIDF)

fixture("notify_terminated.sip", """NOTIFY sip:alice@192.0.2.4 SIP/2.0
Via: SIP/2.0/UDP registrar.example.com;branch=z9hG4bKnot2
Max-Forwards: 70
From: <sip:bob@example.com>;tag=srv-1
To: <sip:alice@example.com>;tag=sub-a
Call-ID: subscribe-1@192.0.2.4
CSeq: 2 NOTIFY
Event: presence;id=42
Subscription-State: terminated;reason=probation;retry-after=30
Content-Length: 0

""")

fixture("options.sip", """OPTIONS sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKopt
Max-Forwards: 70
From: <sip:alice@example.com>;tag=o1
To: <sip:example.com>
Call-ID: options-1@192.0.2.4
CSeq: 100 OPTIONS
Accept: application/sdp
Content-Length: 0

""")

fixture("response_200_register.sip", """SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK776asdhds;received=198.51.100.1;rport=40000
From: "Alice" <sip:alice@example.com>;tag=1928301774
To: "Alice" <sip:alice@example.com>;tag=srv-37
Call-ID: a84b4c76e66710@pc33.example.com
CSeq: 314159 REGISTER
Contact: <sip:alice@192.0.2.4:5060;transport=udp>;expires=3600;q=0.8
Contact: <sip:alice@198.51.100.1:40000>;expires=120
Date: Sat, 13 Nov 2010 23:29:00 GMT
Server: registrar-core/0.1
Content-Length: 0

""")

fixture("response_423.sip", """SIP/2.0 423 Interval Too Brief
Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK423
From: <sip:alice@example.com>;tag=t423
To: <sip:alice@example.com>;tag=srv-423
Call-ID: brief-1@192.0.2.4
CSeq: 4 REGISTER
Min-Expires: 60
Content-Length: 0

""")

# -- bad ----------------------------------------------------------------------

BASE = """REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKbad
Max-Forwards: 70
From: <sip:alice@example.com>;tag=b1
To: <sip:alice@example.com>
Call-ID: bad-1@192.0.2.4
CSeq: 1 REGISTER
Contact: <sip:alice@192.0.2.4>
Content-Length: 0

"""


def without(line_prefix):
    return "".join(l for l in BASE.splitlines(True) if not l.startswith(line_prefix))


def replace(old, new):
    assert old in BASE, old
    return BASE.replace(old, new)


fixture("bad_missing_call_id.sip", without("Call-ID:"))
fixture("bad_missing_cseq.sip", without("CSeq:"))
fixture("bad_missing_via.sip", without("Via:"))
fixture("bad_missing_from.sip", without("From:"))
fixture("bad_missing_to.sip", without("To:"))
fixture("bad_cseq_number.sip", replace("CSeq: 1 REGISTER", "CSeq: abc REGISTER"))
fixture("bad_cseq_overflow.sip", replace("CSeq: 1 REGISTER", "CSeq: 2147483648 REGISTER"))
fixture("bad_cseq_method_mismatch.sip", replace("CSeq: 1 REGISTER", "CSeq: 1 INVITE"))
fixture("bad_content_length_negative.sip", replace("Content-Length: 0", "Content-Length: -5"))
fixture("bad_content_length_alpha.sip", replace("Content-Length: 0", "Content-Length: ten"))
fixture("bad_content_length_beyond.sip", replace("Content-Length: 0", "Content-Length: 500"))
fixture("bad_content_length_duplicate.sip",
        replace("Content-Length: 0", "Content-Length: 0\nContent-Length: 5"))
fixture("bad_request_line.sip", replace("REGISTER sip:example.com SIP/2.0",
                                        "REGISTER  sip:example.com SIP/2.0"))
fixture("bad_request_line_no_uri.sip", replace("REGISTER sip:example.com SIP/2.0",
                                               "REGISTER SIP/2.0"))
fixture("bad_sip_version.sip", replace("REGISTER sip:example.com SIP/2.0",
                                       "REGISTER sip:example.com SIP/3.0"))
fixture("bad_status_line.sip", """SIP/2.0 99 Too Low
Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKbad
From: <sip:alice@example.com>;tag=b1
To: <sip:alice@example.com>
Call-ID: bad-1@192.0.2.4
CSeq: 1 REGISTER
Content-Length: 0

""")
FIXTURES["bad_garbage.sip"] = bytes(range(0x80, 0x100)) + b"\x01\x02GARBAGE\xff\xfe\r\n\r\n"
fixture("bad_nul_byte.sip", replace("Call-ID: bad-1@192.0.2.4", "Call-ID: bad-1\0@192.0.2.4"))
fixture("bad_bare_lf.sip", BASE.replace("\n", "\r\n").replace("Call-ID: bad-1@192.0.2.4\r\n",
                                                               "Call-ID: bad-1@192.0.2.4\n"),
        crlf=False)
fixture("bad_overlong_line.sip", replace("Content-Length: 0",
                                         "X-Long: " + "x" * 9000 + "\nContent-Length: 0"))
fixture("bad_too_many_headers.sip",
        replace("Content-Length: 0",
                "".join("X-H%d: v\n" % i for i in range(200)) + "Content-Length: 0"))
fixture("bad_too_many_vias.sip",
        replace("Max-Forwards: 70",
                "".join("Via: SIP/2.0/UDP 10.0.0.%d;branch=z9hG4bK%d\n" % (i, i)
                        for i in range(40)) + "Max-Forwards: 70"))
fixture("bad_q_too_high.sip", replace("Contact: <sip:alice@192.0.2.4>",
                                      "Contact: <sip:alice@192.0.2.4>;q=1.5"))
fixture("bad_q_alpha.sip", replace("Contact: <sip:alice@192.0.2.4>",
                                   "Contact: <sip:alice@192.0.2.4>;q=abc"))
fixture("bad_expires.sip", replace("Content-Length: 0", "Expires: soon\nContent-Length: 0"))
fixture("bad_unterminated_quote.sip", replace("Contact: <sip:alice@192.0.2.4>",
                                              "Contact: \"Alice <sip:alice@192.0.2.4>"))
fixture("bad_unterminated_angle.sip", replace("Contact: <sip:alice@192.0.2.4>",
                                              "Contact: <sip:alice@192.0.2.4;expires=60"))
fixture("bad_via.sip", replace("Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKbad",
                               "Via: SIP/2.0/UDP"))
fixture("bad_header_no_colon.sip", replace("Content-Length: 0",
                                           "This line has no colon\nContent-Length: 0"))
fixture("bad_max_forwards.sip", replace("Max-Forwards: 70", "Max-Forwards: seventy"))
fixture("bad_wildcard_mixed.sip", replace("Contact: <sip:alice@192.0.2.4>",
                                          "Contact: *, <sip:alice@192.0.2.4>"))
fixture("bad_unterminated_headers.sip", BASE.rstrip("\n") + "\n")

if __name__ == "__main__":
    for old in os.listdir(HERE):
        if old.endswith(".sip"):
            os.remove(os.path.join(HERE, old))
    for name, data in sorted(FIXTURES.items()):
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
    print("wrote %d fixtures" % len(FIXTURES))
