#!/usr/bin/env python3
"""verify_bak.py ARCHIVE PUBKEY.pem: an independent verifier of the .bak
format written from docs/bak-format.md alone (Python's gzip and tarfile,
openssl(1) for Ed25519), to show the document is enough. Exit 0 and "OK",
or exit 1 and the first problem."""
import gzip
import hashlib
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zlib


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def keyid(pub_pem):
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub_pem,
                         capture_output=True, check=True).stdout
    return hashlib.sha256(der[-32:]).hexdigest()[:16]


def main(path, pubfile):
    raw = open(path, "rb").read()
    if raw[:8] != b"\x1f\x8b\x08\x00\x00\x00\x00\x00":
        fail("gzip header")
    d = zlib.decompressobj(16 + 15)
    tar = d.decompress(raw) + d.flush()
    if not d.eof or d.unused_data:
        fail("not exactly one gzip member")
    import io
    tf = tarfile.open(fileobj=io.BytesIO(tar), mode="r:")
    members = tf.getmembers()
    if [m.name for m in members[:2]] != ["MANIFEST", "MANIFEST.sig"]:
        fail("first members")
    mtext = tf.extractfile(members[0]).read()
    stext = tf.extractfile(members[1]).read().decode()
    m = re.fullmatch(r"nodebak-signature 1\nkey-id ([0-9a-f]{16})\nalgorithm ed25519\n"
                     r"signature ([0-9a-f]{128})\n", stext)
    if not m:
        fail("MANIFEST.sig")
    pub = open(pubfile, "rb").read()
    if keyid(pub) != m.group(1):
        fail("key id is not the given key's")
    with tempfile.TemporaryDirectory() as tmp:
        msg, sig, pk = (os.path.join(tmp, x) for x in ("msg", "sig", "pub"))
        open(msg, "wb").write(b"nodebak-manifest-v1\0" + mtext)
        open(sig, "wb").write(bytes.fromhex(m.group(2)))
        open(pk, "wb").write(pub)
        if subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pk, "-rawin",
                           "-in", msg, "-sigfile", sig], capture_output=True).returncode != 0:
            fail("signature")
    lines = mtext.decode().split("\n")
    if lines[-1] != "" or lines[-2] != "end":
        fail("MANIFEST end")
    head = lines[:10]
    keys = ["nodebak-manifest", "node-name", "node-id", "software", "engine", "schema",
            "snapshot", "created", "key-id", "members"]
    if [h.split(" ")[0] for h in head] != keys or head[0] != "nodebak-manifest 1":
        fail("MANIFEST header")
    created = head[7].split(" ")[1]
    if head[8].split(" ")[1] != m.group(1):
        fail("MANIFEST key-id")
    body = lines[10:-2]
    if len(body) != int(head[9].split(" ")[1]):
        fail("member count")
    listed = []
    for line in body:
        f = line.split(" ", 4) if line.startswith("file ") else line.split(" ", 2)
        listed.append(f)
    paths = [f[-1] for f in listed]
    if paths != sorted(paths, key=lambda p: p.encode()) or len(set(paths)) != len(paths):
        fail("member order")
    rest = members[2:]
    if len(rest) != len(listed):
        fail("member set")
    import calendar
    import time
    when = calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ"))
    expect = 1024
    for info, f in zip([members[0], members[1]] + rest, [None, None] + listed):
        expect += 512 + (info.size + 511) // 512 * 512
        if info.uid or info.gid or info.uname or info.gname or info.mtime != when:
            fail(f"{info.name}: owner or time")
        if f is None:
            continue
        if info.name.rstrip("/") != f[-1]:
            fail(f"{info.name}: not the listed member {f[-1]}")
        if f[0] == "file":
            data = tf.extractfile(info).read()
            if not info.isfile() or len(data) != int(f[2]) or \
                    hashlib.sha256(data).hexdigest() != f[1] or info.mode != int(f[3], 8):
                fail(f"{info.name}: content")
        elif not info.isdir() or info.mode != int(f[1], 8):
            fail(f"{info.name}: folder")
    if len(tar) != expect or any(tar[tf.offset:]):
        fail("tar length")
    print("OK")


main(sys.argv[1], sys.argv[2])
