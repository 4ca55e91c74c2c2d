#!/usr/bin/env python3
"""bak-strict.t: the reader takes exactly the gzip header, tar headers and
padding the writer produces (docs/bak-format.md), whatever libarchive would
accept. Signed archives, each differing from a conforming one in one
construct (gzip XFL or OS, a GNU L record naming the member otherwise than
its ustar header, a GNU K record, a pax header of the writer's form
renaming a member whose ustar header suffices, a pax global header, tar
types 7 and NUL, non-NUL padding
after data, a non-zero unused header field, non-canonical octal, a
checksum written another way, bytes after the name's NUL, a link name on a
regular file, a name with a newline and ESC), are refused by `backup
verify`, by `backup rollback --yes` with the node unchanged, and by the
independent verifier tests/tools/verify_bak.py. The builder is shown right
first: it reproduces the daemon's tar stream byte for byte, and its
conforming archive verifies."""
import hashlib
import os
import subprocess
import sys
import tarfile
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from bakutil import gz, headers, pax_record, read_members, set_field, tar, ustar_header  # noqa: E402
from node import Node  # noqa: E402
from nodestate import Arch, folder_hash  # noqa: E402
from tap import run  # noqa: E402

TOOL = os.path.join(os.path.dirname(__file__), "tools", "verify_bak.py")
LONG_DIR = "files/" + "d" * 94	# 100 bytes: the writer splits it into prefix and name


def main(t):
    n = Node("strict")
    os.makedirs(os.path.join(n.files, "certs"))
    os.makedirs(os.path.join(n.files, LONG_DIR[6:]))
    for name, text in [("cms.lic", "licence\n"), ("certs/server.cer", "cert\n")]:
        with open(os.path.join(n.files, name), "w") as f:
            f.write(text)
    n.start()
    try:
        rc, _, err = n.nb("backup", "snapshot", "good")
        t.ok(rc == 0, "snapshot good", err)
        bk = os.path.join(n.files, "backups")
        good = open(os.path.join(bk, "good.bak"), "rb").read()
        pub = os.path.join(n.state, "signing.pub")
        members = read_members(os.path.join(bk, "good.bak"))
        t.eq(tar(members), zlib.decompress(good, 31),
             "the test's tar builder reproduces the daemon's tar stream byte for byte")
        t.eq(good[:10].hex(), "1f8b0800000000000403",
             "the daemon's gzip header at level 1 (XFL 4, OS 3)")
        h0 = folder_hash(n)
        raw = Arch(members, members[0][1]).tar(n)
        off = headers(raw)
        lic = off["files/cms.lic"]
        lic_len = len(b"licence\n")
        created = members[0][0].mtime

        def record(type, text):
            """A GNU L or K record as the writer would format its header
            (ustar magic and all), with its data block."""
            i = tarfile.TarInfo("././@LongLink")
            i.type, i.size, i.mode, i.mtime = type, len(text), 0o644, created
            return ustar_header(i) + text + bytes(512 - len(text))

        def gnu_l(raw):
            # libarchive takes the L record's name; the ustar header names
            # another file. Dropping the end marker keeps the length right.
            r = set_field(raw, lic, "name", b"files/evil.lic")
            return gz((r[:lic] + record(b"L", b"files/cms.lic\0") + r[lic:])[:-1024])

        def pax(type, rec):
            """A pax header of the writer's form (docs/bak-format.md) with
            records rec, and its data block."""
            i = tarfile.TarInfo("././@PaxHeader")
            i.type, i.size, i.mode, i.mtime = type, len(rec), 0o644, created
            return ustar_header(i) + rec + bytes(512 - len(rec))

        def pax_path(raw):
            # libarchive would take the record's name: a short path needs
            # no pax header, so the writer never makes this one.
            rec = pax_record("path", "files/evil.lic")
            return gz((raw[:lic] + pax(b"x", rec) + raw[lic:])[:-1024])

        def pax_global(raw):
            rec = pax_record("path", "files/evil.lic")
            return gz((raw[:lic] + pax(b"g", rec) + raw[lic:])[:-1024])

        def gnu_k(raw):
            return gz((raw[:lic] + record(b"K", b"/etc/passwd\0") + raw[lic:])[:-1024])

        def padding(raw):
            b = bytearray(raw)
            b[lic + 512 + lic_len] = ord("x")
            return gz(bytes(b))

        def checksum7(raw):
            h = bytearray(raw[lic:lic + 512])
            h[148:156] = b" " * 8
            s = sum(h)
            return gz(set_field(raw, lic, "chksum", b"%07o\0" % s, checksum=False))

        def gzip_byte(k, v):
            b = bytearray(good)
            b[k] = v
            return bytes(b)

        field = lambda f, v: lambda raw: gz(set_field(raw, lic, f, v))  # noqa: E731
        cases = [
            # name, builder of the .bak bytes from the conforming tar, words
            ("gzip-xfl", lambda raw: gzip_byte(8, 4 ^ 1), "gzip header field XFL"),
            ("gzip-os", lambda raw: gzip_byte(9, 255), "gzip header field OS"),
            ("gnu-L-other-name", gnu_l, "GNU long-name record (tar type L)"),
            ("gnu-K", gnu_k, "GNU long-link record (tar type K)"),
            ("pax-path-short", pax_path, "has a pax extended header (tar type x) where its "
             "ustar header suffices"),
            ("pax-global", pax_global, "is a pax global header (tar type g)"),
            ("type-7", field("typeflag", b"7"), "(tar type 7)"),
            ("type-NUL", field("typeflag", b"\0"), "(tar type NUL)"),
            ("data-padding", padding, "files/cms.lic: padding after the data is not all NUL"),
            ("devmajor", field("devmajor", b"000001 \0"),
             "files/cms.lic: tar header field devmajor is not as nodebak writes it"),
            ("pad-bytes", field("pad", b"x"), "tar header field pad is not"),
            ("mode-spaces", field("mode", b"   644 \0"), "tar header field mode is not"),
            ("uid-7-digits", field("uid", b"0000000\0"), "tar header field uid is not"),
            ("checksum-7-digits", checksum7, "tar header field chksum is not"),
            ("name-after-nul", field("name", b"files/cms.lic\0evil"), "tar header field name is not"),
            ("linkname", field("linkname", b"/etc/passwd"), "tar header field linkname is not"),
            ("name-newline-esc", field("name", b"files/x\nbackup verify: OK\x1b[2J"),
             "member files/x\\nbackup verify: OK\\x1b[2J is not in the MANIFEST"),
        ]

        with open(os.path.join(bk, "control.bak"), "wb") as f:
            f.write(gz(raw))
        rc, out, err = n.nb("backup", "verify", "control.bak")
        t.ok(rc == 0 and ": OK" in out, "control archive built by the test verifies", out + err)
        p = subprocess.run([sys.executable, TOOL, os.path.join(bk, "control.bak"), pub],
                           capture_output=True, text=True)
        t.eq(p.stdout, "OK\n", "and the independent verifier accepts it")
        os.unlink(os.path.join(bk, "control.bak"))

        for name, build, words in cases:
            path = os.path.join(bk, f"{name}.bak")
            data = build(raw)
            t.ok(len(data) > 100 and data != good, f"{name}: built ({len(data)} bytes)")
            with open(path, "wb") as f:
                f.write(data)
            rc, out, err = n.nb("backup", "verify", f"{name}.bak")
            t.ok(rc == 1 and err.startswith("backup verify: FAILED: ") and err.count("\n") == 1
                 and "\x1b" not in err and words in err, f"{name}: backup verify refuses ({words})",
                 err)
            t.diag(err.strip())
            rc, out, err = n.nb("backup", "rollback", f"{name}.bak", "--yes")
            t.ok(rc != 0 and "The node was not changed." in err and "Restored" not in out and
                 words in err and "\x1b" not in err, f"{name}: backup rollback refuses", out + err)
            t.eq(folder_hash(n), h0, f"{name}: state, files, database, config hash unchanged")
            p = subprocess.run([sys.executable, TOOL, path, pub], capture_output=True, text=True)
            t.ok(p.returncode == 1 and p.stdout.startswith("FAIL"),
                 f"{name}: the independent verifier refuses it too", p.stdout + p.stderr)
            os.unlink(path)
        t.ok(not [f for f in os.listdir(bk) if f.startswith("pre-rollback-")],
             "no safety snapshot was taken for a refused archive")
        t.eq(hashlib.sha256(open(os.path.join(bk, "good.bak"), "rb").read()).digest(),
             hashlib.sha256(good).digest(), "the node's archive is untouched")
    finally:
        n.cleanup()


run(main)
