#!/usr/bin/env python3
"""Regenerates the seed corpus of the fuzz targets (run from any directory).

ws_frame inputs: byte 0 picks the message limit (& 3: 16, 125, 1000, 65536 bytes), byte 1 seeds
the chunking, the rest is what a client sends after the upgrade.
parse_request inputs: one client frame's text.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MASK = b"\x37\xfa\x21\x3d"


def frame(op, payload=b"", fin=True, rsv=0, masked=True, mask=MASK, form=None):
    out = bytearray([(0x80 if fin else 0) | (rsv << 4) | op])
    n = len(payload)
    m = 0x80 if masked else 0
    form = form or ("short" if n < 126 else "16" if n <= 0xFFFF else "64")
    if form == "short":
        out.append(m | n)
    elif form == "16":
        out.append(m | 126)
        out += struct.pack(">H", n)
    else:
        out.append(m | 127)
        out += struct.pack(">Q", n)
    if masked:
        out += mask
        out += bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    else:
        out += payload
    return bytes(out)


def close(code, reason=b""):
    return frame(0x8, struct.pack(">H", code) + reason)


WS = {
    "text": frame(1, b'{"type":"hello","name":"ada"}'),
    "text_utf8": frame(1, "caf\u00e9 \u20ac \U0001F600".encode()),
    "fragmented": frame(1, b"Hel", fin=False) + frame(0, b"lo, ", fin=False) + frame(0, b"world"),
    "interleaved_control": frame(1, b"a", fin=False) + frame(9, b"p") + frame(0, b"b", fin=False) + frame(10, b"q") + frame(0, b"c"),
    "ping_pong": frame(9, bytes(range(125))) + frame(10, b""),
    "close_reason": close(1000, b"bye"),
    "close_empty": frame(8, b""),
    "close_one_byte": frame(8, b"\x03"),
    "close_1005": close(1005),
    "close_4999": close(4999, "\u20ac".encode()),
    "close_bad_utf8": close(1000, b"\xff"),
    "rsv": frame(1, b"x", rsv=4),
    "unmasked": frame(1, b"x", masked=False),
    "opcode_3": frame(3, b"x"),
    "ping_126": frame(9, b"p" * 126),
    "ping_fragmented": frame(9, b"", fin=False),
    "continuation_first": frame(0, b"x"),
    "text_in_text": frame(1, b"a", fin=False) + frame(1, b"b"),
    "binary": frame(2, b"\x00\x01"),
    "bad_utf8": frame(1, b"\xc0\x80"),
    "utf8_split": frame(1, b"\xe2", fin=False) + frame(0, b"\x82\xac"),
    "utf8_split_bad": frame(1, b"\xed", fin=False) + frame(0, b"\xa0\x80"),
    "len16": frame(1, b"a" * 300),
    "len64": frame(1, b"b" * 65536),
    "len16_nonminimal": frame(1, b"abc", form="16"),
    "len64_top_bit": bytes([0x81, 0xFF]) + struct.pack(">Q", (1 << 63) | 5) + MASK + b"hello",
    "too_big_sum": frame(1, b"x" * 10, fin=False) + frame(0, b"y" * 10),
    "zero_mask": frame(1, b"zero mask", mask=b"\0\0\0\0"),
    "many": b"".join(frame(1, b"m%d" % i) for i in range(20)),
    "truncated": frame(1, b"truncated")[:-3],
}

for name, stream in WS.items():
    limit = 1 if name == "too_big_sum" else 3  # 125 or 65536 bytes
    with open(os.path.join(HERE, "ws_frame", name), "wb") as f:
        f.write(bytes([limit, len(name)]) + stream)

REQ = {
    "hello": '{"type":"hello","name":"ada"}',
    "rooms": '{"type":"rooms","ref":1}',
    "create": '{"type":"create","room":"ops","ref":"c1"}',
    "join": '{"type":"join","room":"general"}',
    "join_since": '{"type":"join","room":"general","since":40}',
    "join_since_double": '{"type":"join","room":"general","since":41.0}',
    "join_since_negative": '{"type":"join","room":"general","since":-1}',
    "join_since_fraction": '{"type":"join","room":"general","since":1.5}',
    "leave": '{"type":"leave","room":"general"}',
    "send": '{"type":"send","room":"general","cid":"c-17","text":"hi \\u2603","ref":"r"}',
    "typing": '{"type":"typing","room":"general"}',
    "history": '{"type":"history","room":"general","before":41,"limit":50}',
    "ping": '{"type":"ping","ref":18446744073709551615}',
    "unknown": '{"type":"dance","ref":"x"}',
    "unknown_long_utf8": '{"type":"' + "t" * 31 + '\u20ac"}',
    "bad_ref": '{"type":"ping","ref":{"a":1}}',
    "long_ref": '{"type":"ping","ref":"' + "r" * 65 + '"}',
    "no_type": '{"room":"general"}',
    "array": '[{"type":"ping"}]',
    "scalar": '42',
    "not_json": 'hello',
    "deep": '{"type":"ping","x":' + "[" * 20 + "]" * 20 + "}",
    "unknown_fields": '{"type":"ping","future":{"a":[1,2,3]},"n":null}',
    "escapes": '{"type":"hello","name":"a\\"d\\u00e9\\ud83d\\ude00"}',
}

for name, text in REQ.items():
    with open(os.path.join(HERE, "parse_request", name + ".json"), "wb") as f:
        f.write(text.encode())

# upgrade_request inputs: byte 0 picks the header limit (16 + 4 * byte), the rest is what a client
# sends on a new connection.
CHROMIUM = (
    "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: Upgrade\r\nPragma: no-cache\r\n"
    "Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nUpgrade: websocket\r\n"
    "Origin: http://127.0.0.1:8080\r\nSec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate, br\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Sec-WebSocket-Protocol: parley.v1\r\n\r\n"
)
UPGRADE = {
    "chromium": CHROMIUM,
    "with_first_frame": CHROMIUM + "\x81\x85\x37\xfa\x21\x3d" + "hello",
    "minimal": "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    # Requests the session refuses (RFC 9112), one line or byte away from an upgrade.
    "no_host": "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    "folded_host": "GET /ws HTTP/1.1\r\nHost:\r\n x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    "xchunked": "GET /ws HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\nUpgrade: websocket\r\n"
                "Connection: upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "page": "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n",
    # Found by libFuzzer: an Upgrade list that holds "websocket" after an element that is not a
    # token; Beast stops reading the list there (no upgrade: 426), so the fast path must not take it.
    "upgrade_list_not_tokens": "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: ,wegrade: ,webSocket\r\n"
                               "Connection: upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                               "Sec-WebSocket-Version: 13\r\n\r\n",
    # Cookie and Origin, once each, as a browser sends them; a second Cookie goes to Beast.
    "cookie_and_origin": CHROMIUM.replace("Pragma: no-cache\r\n", "Cookie: a=1; parley_session=abc\r\n"),
    "two_cookies": CHROMIUM.replace("Pragma: no-cache\r\n", "Cookie: a=1\r\nCookie: parley_session=abc\r\n"),
}
os.makedirs(os.path.join(HERE, "upgrade_request"), exist_ok=True)
for name, text in UPGRADE.items():
    with open(os.path.join(HERE, "upgrade_request", name + ".bin"), "wb") as f:
        f.write(bytes([255]) + text.encode("latin-1"))

# server_events inputs: fields cut at 0xFF (the first 8 bytes also make the numbers); fields that
# are not valid UTF-8 are left out by the target.
EVENTS = {
    "basic": b"general\xffada\xffhello \"world\"\n\xffc-1\xffops\xffr1",
    "empty_fields": b"\xff\xff\xff\xff\xff",
    "escapes": b"\\\"\x00\x1f\x7f\xffu\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xff\xed\xa0\x80\xff\n\r\t",
}
os.makedirs(os.path.join(HERE, "server_events"), exist_ok=True)
for name, data in EVENTS.items():
    with open(os.path.join(HERE, "server_events", name + ".bin"), "wb") as f:
        f.write(data)

# proxy_header inputs: byte 0 picks the limit (0xFF: the default, else 16 + 2 * byte), the rest is
# what a proxy sends first on a connection: a PROXY protocol v2 header, then the request.
SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def pp2(ver_cmd, fam, block, length=None):
    return SIG + bytes([ver_cmd, fam]) + struct.pack(">H", len(block) if length is None else length) + block


def tlv(kind, value):
    return bytes([kind]) + struct.pack(">H", len(value)) + value


V4 = bytes([172, 19, 0, 1, 172, 19, 0, 3]) + struct.pack(">HH", 42578, 80)
V6 = (bytes.fromhex("20010db8000000000000000000000001") + bytes.fromhex("20010db8000000000000000000000002")
      + struct.pack(">HH", 50000, 443))
GET = b"GET /ws HTTP/1.1\r\nHost: chat.example\r\nUpgrade: websocket\r\n\r\n"
PROXY = {
    "tcp4": pp2(0x21, 0x11, V4) + GET,
    "tcp6": pp2(0x21, 0x21, V6) + GET,
    "local": pp2(0x20, 0x00, b"") + GET,
    "local_with_block": pp2(0x20, 0x11, V4),
    "tlvs": pp2(0x21, 0x11, V4 + tlv(0x01, b"h2") + tlv(0x02, b"example.com") + tlv(0x05, b"id-1")
                + tlv(0x20, b"\x01\x00\x00\x00\x00" + tlv(0x21, b"TLSv1.3")) + tlv(0x04, b"")) + GET,
    "tlv_past_end": pp2(0x21, 0x21, V6 + b"\x01\x00\x09h2"),
    "unspec": pp2(0x21, 0x00, b""),
    "udp4": pp2(0x21, 0x12, V4),
    "unix": pp2(0x21, 0x31, b"/run/haproxy.sock".ljust(108, b"\0") + b"/run/parley.sock".ljust(108, b"\0")),
    "short_ipv4_block": pp2(0x21, 0x11, V4[:8]),
    "length_over_limit": pp2(0x21, 0x11, V4, length=0xFFFF),
    "truncated": pp2(0x21, 0x21, V6)[:30],
    "v1": b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n" + GET,
    "http": GET,
}
os.makedirs(os.path.join(HERE, "proxy_header"), exist_ok=True)
for name, data in PROXY.items():
    with open(os.path.join(HERE, "proxy_header", name + ".bin"), "wb") as f:
        f.write(bytes([255]) + data)
