#!/usr/bin/env python3
"""An independent reader of rollmesh bundles, written only from docs/PROTOCOL.md.

Parses a bundle, checks its trailer, parses every change envelope, verifies each ed25519 signature over the
domain-separated message and computes each author's node id. Prints one JSON object.
Usage: verify_bundle.py BUNDLE
"""
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def node_id(pub: bytes) -> str:
    d = hashlib.sha256(pub).digest()
    bits = int.from_bytes(d, "big") >> (256 - 100)
    body = "".join(B32[(bits >> (5 * (19 - i))) & 31] for i in range(20))
    factor, total = 2, 0
    for c in reversed(body):
        addend = factor * B32.index(c)
        factor = 1 if factor == 2 else 2
        total += addend // 32 + addend % 32
    check = B32[(32 - total % 32) % 32]
    s = body + check
    return f"{s[:7]}-{s[7:14]}-{s[14:]}"


def main(path: str) -> None:
    data = open(path, "rb").read()
    assert data[:8] == b"RMBUNDLE" and data[8] == 1, "not a version-1 bundle"
    pos, records, complete = 9, [], False
    while pos + 5 <= len(data):
        tag, n = data[pos], int.from_bytes(data[pos + 1:pos + 5], "big")
        body = data[pos + 5:pos + 5 + n]
        if tag == 0xFF:
            count = int.from_bytes(body[:8], "big")
            complete = count == len(records) and body[8:] == hashlib.sha256(data[:pos]).digest()
            break
        records.append((tag, body))
        pos += 5 + n
    verified, authors, bad = 0, set(), 0
    for tag, env in records:
        if tag != 1:
            continue
        assert env[0] == 1 and env[1] == 1
        n = int.from_bytes(env[50:54], "big")
        assert len(env) == 54 + n + 64, "bad envelope length"
        msg = b"rollmesh/change/v1\x00" + env[:54 + n]
        try:
            Ed25519PublicKey.from_public_bytes(env[2:34]).verify(env[54 + n:], msg)
            verified += 1
            authors.add(node_id(env[2:34]))
        except InvalidSignature:
            bad += 1
    print(json.dumps({"records": len(records), "verified": verified, "bad": bad,
                      "complete": complete, "authors": sorted(authors)}))


if __name__ == "__main__":
    main(sys.argv[1])
