#!/usr/bin/env python3
"""verify_bak.py ARCHIVE PUBKEY.pem: an independent verifier of the .bak
format written from docs/bak-format.md alone (zlib, its own reading of the
ustar headers, openssl(1) for Ed25519), to show the document is enough.
Exit 0 and "OK", or exit 1 and the first problem."""
import calendar
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
import zlib


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def keyid(pub_pem):
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub_pem,
                         capture_output=True, check=True).stdout
    return hashlib.sha256(der[-32:]).hexdigest()[:16]


def gunzip(raw):
    """The tar stream: the 10 header bytes of the doc's table, one member."""
    if raw[:8] != b"\x1f\x8b\x08\x00\x00\x00\x00\x00" or len(raw) < 10:
        fail("gzip header")
    if raw[8] not in (0, 2, 4):
        fail("gzip header XFL")
    if raw[9] != 3:
        fail("gzip header OS")
    d = zlib.decompressobj(16 + 15)
    tar = d.decompress(raw) + d.flush()
    if not d.eof or d.unused_data:
        fail("not exactly one gzip member")
    return tar


def number(field, digits, tail, what):
    """digits octal digits with leading zeros, then tail."""
    if len(field) != digits + len(tail) or field[digits:] != tail or \
            any(c not in b"01234567" for c in field[:digits]):
        fail(f"{what}: not written as nodebak writes it")
    return int(field[:digits], 8)


def text(field, what):
    """A NUL-padded text field: its bytes up to the first NUL, only NULs after."""
    s = field.split(b"\0", 1)[0]
    if any(field[len(s):]):
        fail(f"{what}: bytes after its NUL")
    return s


SIZE_MAX_USTAR = 0o77777777777


def records(data):
    """The pax records of the doc's "pax extended header": path then size,
    each at most once, lengths exact. Returns {"path": bytes, "size": int}."""
    out, off = {}, 0
    while off < len(data):
        sp = data.find(b" ", off)
        if sp < 0 or not data[off:sp].isdigit() or data[off:off + 1] == b"0":
            fail("pax record length")
        end = off + int(data[off:sp])
        rec = data[sp + 1:end]
        if end > len(data) or not rec.endswith(b"\n") or b"=" not in rec:
            fail("pax record length")
        key, value = rec[:-1].split(b"=", 1)
        if key == b"path" and not out:
            out["path"] = value
        elif key == b"size" and "size" not in out and value.isdigit() and \
                (value == b"0" or not value.startswith(b"0")):
            out["size"] = int(value)
        else:
            fail(f"pax record {key!r} not as nodebak writes it")
        off = end
    if not out:
        fail("pax header without records")
    return out


def pax_header(h):
    """The pax header block: the doc's table; returns the records' length."""
    if h[0:100] != b"././@PaxHeader".ljust(100, b"\0") or h[156:157] != b"x":
        fail("pax header: name or type")
    for what, field in (("mode", h[100:108]), ("uid", h[108:116]), ("gid", h[116:124]),
                        ("devmajor", h[329:337]), ("devminor", h[337:345])):
        if number(field, 6, b" \0", f"pax header: {what}") != (0o644 if what == "mode" else 0):
            fail(f"pax header: {what}")
    s = sum(h[:148]) + 8 * 32 + sum(h[156:])
    if h[148:156] != b"%06o\0 " % s or any(h[157:257]) or any(h[265:329]) or \
            any(h[345:512]) or h[257:265] != b"ustar\x0000":
        fail("pax header: checksum, magic or unused fields")
    number(h[136:148], 11, b" ", "pax header: mtime")
    return number(h[124:136], 11, b" ", "pax header: size"), h[136:148]


def header(h, pax=None):
    """(path, is_dir, mode, size, mtime) of a 512-byte header, checked field
    by field against the doc's table; pax: the records before it."""
    pax = pax or {}
    name, prefix = text(h[0:100], "name"), text(h[345:500], "prefix")
    full = prefix + b"/" + name if prefix else name
    if "path" in pax:
        full = pax["path"]
        if len(full) <= 101 or name != full[:100] or prefix:
            fail(f"pax path {full!r}: where a ustar header suffices, or name not its first 100 bytes")
    path = full.decode("utf-8", "replace")
    where = f"header of {path!r}"
    if h[156:157] not in (b"0", b"5"):
        fail(f"{where}: type {h[156:157]!r} is not 0 or 5")
    is_dir = h[156:157] == b"5"
    if prefix and (len(full) != 101 or b"/" in prefix):
        fail(f"{where}: prefix used for a path that fits in name")
    if not full or (is_dir and not full.endswith(b"/")) or \
            (len(full) > 101 and "path" not in pax):
        fail(f"{where}: name")
    mode = number(h[100:108], 6, b" \0", f"{where}: mode")
    if mode > 0o7777:
        fail(f"{where}: mode")
    for what, field in (("uid", h[108:116]), ("gid", h[116:124]),
                        ("devmajor", h[329:337]), ("devminor", h[337:345])):
        if number(field, 6, b" \0", f"{where}: {what}") != 0:
            fail(f"{where}: {what} is not 0")
    size = number(h[124:136], 11, b" ", f"{where}: size")
    if "size" in pax:
        if size != 0 or pax["size"] <= SIZE_MAX_USTAR or is_dir:
            fail(f"{where}: pax size where the ustar header suffices, or size field not 0")
        size = pax["size"]
    mtime = number(h[136:148], 11, b" ", f"{where}: mtime")
    if is_dir and size:
        fail(f"{where}: folder with a size")
    s = sum(h[:148]) + 8 * 32 + sum(h[156:])
    if h[148:156] != b"%06o\0 " % s:
        fail(f"{where}: checksum")
    if any(h[157:257]) or any(h[265:329]) or any(h[500:512]):
        fail(f"{where}: link name, owner names or padding not NUL")
    if h[257:265] != b"ustar\x0000":
        fail(f"{where}: magic or version")
    return path.rstrip("/") if is_dir else path, is_dir, mode, size, mtime


def entries(tar):
    """[(path, is_dir, mode, size, mtime, data)] of the whole stream: each
    header, its data, NUL padding to 512, two zero blocks, then nothing."""
    out, off = [], 0
    while True:
        h = tar[off:off + 512]
        if len(h) < 512:
            fail("tar stream ends without its end-of-archive marker")
        if not any(h):
            if tar[off + 512:] != bytes(512):
                fail("tar stream: not exactly two zero blocks at its end")
            return out
        pax, hlen = None, 512
        if h[156:157] == b"x":
            dlen, xtime = pax_header(h)
            blocks = (dlen + 511) // 512
            data = tar[off + 512:off + 512 + blocks * 512]
            if len(data) != blocks * 512 or any(data[dlen:]):
                fail("pax records cut short or padding not NUL")
            pax = records(data[:dlen])
            hlen = 1024 + blocks * 512
            h = tar[off + hlen - 512:off + hlen]
            if len(h) < 512 or h[136:148] != xtime:
                fail("pax header: no header after it, or another mtime")
        path, is_dir, mode, size, mtime = header(h, pax)
        data = tar[off + hlen:off + hlen + size]
        pad = tar[off + hlen + size:off + hlen + (size + 511) // 512 * 512]
        if len(data) != size or any(pad) or len(pad) != -size % 512:
            fail(f"{path}: data cut short or padding not NUL")
        out.append((path, is_dir, mode, size, mtime, data, pax is not None))
        off += hlen + (size + 511) // 512 * 512


def main(path, pubfile):
    members = entries(gunzip(open(path, "rb").read()))
    if [m[0] for m in members[:2]] != ["MANIFEST", "MANIFEST.sig"] or \
            members[0][1] or members[1][1]:
        fail("first members")
    mtext = members[0][5]
    stext = members[1][5].decode()
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
    version = "2" if any(m[6] for m in members) else "1"
    if [h.split(" ")[0] for h in head] != keys or head[0] != "nodebak-manifest " + version:
        fail("MANIFEST header (or its version: 2 exactly when a member has a pax header)")
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
    when = calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ"))
    for (name, is_dir, mode, size, mtime, data, _), f in zip(members, [None, None] + listed):
        if mtime != when:
            fail(f"{name}: time")
        if f is None:
            if mode != 0o644:
                fail(f"{name}: mode")
            continue
        if name != f[-1]:
            fail(f"{name}: not the listed member {f[-1]}")
        if f[0] == "file":
            if is_dir or size != int(f[2]) or hashlib.sha256(data).hexdigest() != f[1] or \
                    mode != int(f[3], 8):
                fail(f"{name}: content")
        elif not is_dir or mode != int(f[1], 8):
            fail(f"{name}: folder")
    print("OK")


main(sys.argv[1], sys.argv[2])
