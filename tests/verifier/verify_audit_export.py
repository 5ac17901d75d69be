#!/usr/bin/env python3
"""Checks a Portico audit export using only Python's standard library.

Written from docs/audit.md alone, to show that the document is enough to
write a verifier in any language. Usage:

    verify_audit_export.py EXPORT.jsonl [--public-key HEX]

Exit 0 and "verified: N events, root R" when every event, the summary of
earlier events, and every signed head hold; exit 1 and "NOT verified: ..."
with the first event that cannot be trusted when they do not.
"""

import hashlib
import json
import struct
import sys

EVENT_DOMAIN = b"portico-audit-event/1"
HEAD_DOMAIN = b"portico-tree-head/1"


# --- Ed25519 signature checking (RFC 8032 section 5.1.7) -------------------

P = 2**255 - 19
ORDER = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _x_from_y(y, sign):
    if y >= P:
        return None
    xx = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if xx == 0:
        return None if sign else 0
    x = pow(xx, (P + 3) // 8, P)
    if (x * x - xx) % P:
        x = x * SQRT_M1 % P
    if (x * x - xx) % P:
        return None
    if x & 1 != sign:
        x = P - x
    return x


def _point(encoded):
    if len(encoded) != 32:
        return None
    y = int.from_bytes(encoded, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = _x_from_y(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


def _add(a, b):
    # Extended twisted Edwards coordinates.
    e1 = (a[1] - a[0]) * (b[1] - b[0]) % P
    e2 = (a[1] + a[0]) * (b[1] + b[0]) % P
    e3 = 2 * a[3] * b[3] * D % P
    e4 = 2 * a[2] * b[2] % P
    e, f, g, h = e2 - e1, e4 - e3, e4 + e3, e2 + e1
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _times(k, point):
    total = (0, 1, 1, 0)
    while k:
        if k & 1:
            total = _add(total, point)
        point = _add(point, point)
        k >>= 1
    return total


def _same(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


_BASE_Y = 4 * pow(5, P - 2, P) % P
_BASE_X = _x_from_y(_BASE_Y, 0)
BASE = (_BASE_X, _BASE_Y, 1, _BASE_X * _BASE_Y % P)


def ed25519_holds(public_key, message, signature):
    if len(signature) != 64:
        return False
    a, r = _point(public_key), _point(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= ORDER:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little")
    return _same(_times(s, BASE), _add(r, _times(k % ORDER, a)))


# --- The log (docs/audit.md) ------------------------------------------------

def field(text):
    if text is None:
        return b"\x00"
    raw = text.encode("utf-8")
    return b"\x01" + struct.pack(">I", len(raw)) + raw


def leaf_hash(tenant_id, e):
    data = EVENT_DOMAIN + struct.pack(">Qq", e["seq"], e["occurred_at"])
    for value in (tenant_id, e["id"], e["actor_kind"], e.get("actor_id"), e["action"],
                  e.get("target"), e["outcome"], e.get("reason"), e.get("ip"),
                  e.get("user_agent")):
        data += field(value)
    return hashlib.sha256(b"\x00" + data).digest()


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


class Frontier:
    """The perfect subtrees covering the first `size` leaves, largest first."""

    def __init__(self, size, blocks):
        if len(blocks) != bin(size).count("1"):
            raise ValueError("the frontier's hashes do not match its size")
        self.size, self.blocks = size, list(blocks)

    def push(self, leaf):
        h, n = leaf, self.size
        while n & 1:
            h = node(self.blocks.pop(), h)
            n >>= 1
        self.blocks.append(h)
        self.size += 1

    def root(self):
        if not self.blocks:
            return hashlib.sha256(b"").digest()
        h = self.blocks[-1]
        for left in reversed(self.blocks[:-1]):
            h = node(left, h)
        return h


def head_bytes(h):
    tenant = h["tenant_id"].encode("utf-8")
    return (HEAD_DOMAIN + struct.pack(">I", len(tenant)) + tenant
            + struct.pack(">Q", h["size"]) + bytes.fromhex(h["root_hash"])
            + struct.pack(">q", h["signed_at"]))


def verify(lines, pinned_key=None):
    """Returns (size, root) or raises Bad(message, first_bad_seq)."""
    records = [json.loads(line) for line in lines if line.strip()]
    header, summary, rest = records[0], records[1], records[2:]
    if header.get("type") != "export" or header.get("format") != "portico-audit-export/1":
        raise Bad("not a portico-audit-export/1 file", None)
    tenant = header["tenant_id"]
    frontier = Frontier(summary["size"], [bytes.fromhex(h) for h in summary["hashes"]])
    events = [r for r in rest if r["type"] == "event"]
    heads = sorted((r for r in rest if r["type"] == "head"),
                   key=lambda h: (h["size"], h["signed_at"]))
    if not heads:
        raise Bad("the export has no signed head", None)
    for h in heads:
        key = bytes.fromhex(h["public_key"])
        if pinned_key is not None and key != pinned_key:
            raise Bad(f"head {h['id']} is signed by another key", None)
        if hashlib.sha256(key).digest()[:8].hex() != h["key_id"]:
            raise Bad(f"head {h['id']} names the wrong key id", None)
        if h["tenant_id"] != tenant:
            raise Bad(f"head {h['id']} is another clinic's", None)
        if not ed25519_holds(key, head_bytes(h), bytes.fromhex(h["signature"])):
            raise Bad(f"the signature of head {h['id']} does not hold", None)
    pending = [h for h in heads if h["size"] >= frontier.size]
    held = frontier.size

    def check_heads():
        nonlocal held
        while pending and pending[0]["size"] == frontier.size:
            h = pending.pop(0)
            if bytes.fromhex(h["root_hash"]) != frontier.root():
                raise Bad(f"head {h['id']} of {h['size']} events does not match", held + 1)
            held = frontier.size

    check_heads()
    for e in events:
        expected = frontier.size + 1
        if e["seq"] != expected:
            raise Bad(f"event {expected} is missing", expected)
        leaf = leaf_hash(tenant, e)
        if leaf.hex() != e["leaf_hash"]:
            raise Bad(f"event {expected} is not the event that was logged there", expected)
        frontier.push(leaf)
        check_heads()
    if pending:
        raise Bad(f"event {frontier.size + 1} is missing", frontier.size + 1)
    return frontier.size, frontier.root()


class Bad(Exception):
    def __init__(self, message, first_bad_seq):
        super().__init__(message)
        self.first_bad_seq = first_bad_seq


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--public-key"):
        print(__doc__.strip().splitlines()[3].strip(), file=sys.stderr)
        return 2
    pinned = bytes.fromhex(argv[3]) if len(argv) == 4 else None
    with open(argv[1], encoding="utf-8") as f:
        lines = f.read().splitlines()
    try:
        size, root = verify(lines, pinned)
    except Bad as bad:
        print(f"NOT verified: {bad}")
        if bad.first_bad_seq is not None:
            print(f"first event that cannot be trusted: {bad.first_bad_seq}")
        return 1
    print(f"verified: {size} events, root {root.hex()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
