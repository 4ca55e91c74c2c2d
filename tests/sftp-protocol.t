#!/usr/bin/env python3
"""sftp-protocol.t: SFTP v3 semantics of nodebak-ftpd request by request,
with hand-made packets: OPEN flags (EXCL, TRUNC, APPEND, resume without
TRUNC), writes out of order and at offsets, READDIR batches and ls -l
longnames, FSTAT, FSETSTAT times applied at CLOSE, RENAME that never
replaces against posix-rename@openssh.com, RMDIR/REMOVE of the wrong
kind, READLINK, and the extensions' replies (limits, statvfs,
expand-path, fsync, home-directory); CLOSE of an upload fsyncs the file
and its folder before it answers (strace)."""
import os
import re
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sftp_util import need_paramiko  # noqa: E402
need_paramiko()
from sftp_util import (SshNode, RawSftp, s, require_ftpd,  # noqa: E402
                       OPEN, FSTAT, FSETSTAT, MKDIR, RMDIR, REMOVE, RENAME, READLINK,
                       STATUS, ATTRS, NAME, EXTENDED_REPLY,
                       FX_OK, FX_EOF, FX_NO_SUCH_FILE, FX_FAILURE,
                       FXF_READ, FXF_WRITE, FXF_APPEND, FXF_CREAT, FXF_TRUNC, FXF_EXCL)
from sftp_util import ftpd_path, wait_until  # noqa: E402
import strace_util  # noqa: E402
from tap import run  # noqa: E402


def main(t):
    require_ftpd(t)
    n = SshNode("proto1")
    files = n.files
    os.makedirs(os.path.join(files, "many"))
    for i in range(250):
        open(os.path.join(files, "many", f"f{i:03d}"), "w").write("x" * i)
    os.symlink("many/f001", os.path.join(files, "link"))
    n.start_all()
    try:
        c = n.paramiko_client("admin")
        r = RawSftp(c)
        W = FXF_WRITE | FXF_CREAT | FXF_TRUNC

        # EXCL: only a new name.
        h, st = r.open("/new.txt", FXF_WRITE | FXF_CREAT | FXF_EXCL)
        r.write(h, 0, b"first")
        t.eq(r.close(h), FX_OK, "EXCL creates a new file")
        h, st = r.open("/new.txt", FXF_WRITE | FXF_CREAT | FXF_EXCL)
        t.ok(h is None and st == FX_FAILURE, "EXCL on an existing name fails")
        # Without TRUNC the old bytes stay (resume); with TRUNC they go.
        h, st = r.open("/new.txt", FXF_WRITE)
        r.write(h, 5, b"-second")
        r.close(h)
        t.eq(open(os.path.join(files, "new.txt"), "rb").read(), b"first-second", "write without TRUNC resumes")
        h, st = r.open("/new.txt", FXF_WRITE | FXF_APPEND)
        r.write(h, 0, b"+appended")
        r.close(h)
        t.eq(open(os.path.join(files, "new.txt"), "rb").read(), b"first-second+appended", "APPEND appends")
        h, st = r.open("/new.txt", W)
        r.close(h)
        t.eq(os.path.getsize(os.path.join(files, "new.txt")), 0, "TRUNC empties")
        h, st = r.open("/nosuch/x.txt", W)
        t.eq(st, FX_NO_SUCH_FILE, "OPEN in a missing folder: no such file")
        h, st = r.open("/absent.txt", FXF_WRITE)
        t.eq(st, FX_NO_SUCH_FILE, "OPEN for writing without CREAT of a missing file: no such file")

        # Writes out of order, with holes; many requests in flight.
        h, st = r.open("/ooo.bin", W)
        blocks = {i: os.urandom(32768) for i in range(64)}
        for i in reversed(range(64)):
            r.id += 1
            r.send_raw(struct.pack(">BI", 6, r.id) + s(h) + struct.pack(">Q", i * 32768) + s(blocks[i]))
        oks = 0
        for _ in range(64):
            tp, body = r.recv()
            oks += tp == STATUS and struct.unpack(">I", body[4:8])[0] == FX_OK
        t.eq(oks, 64, "64 pipelined WRITEs all answered OK")
        t.eq(r.write(h, 10 * 1024 * 1024, b"end"), FX_OK, "WRITE far past the end")
        # FSTAT on the open upload, FSETSTAT times kept through CLOSE.
        tp, body = r.request(FSTAT, s(h))
        t.ok(tp == ATTRS and struct.unpack(">Q", body[4:12])[0] == 10 * 1024 * 1024 + 3, "FSTAT of the upload")
        t.eq(r.status(FSETSTAT, s(h) + struct.pack(">III", 8, 1400000000, 1400000000)), FX_OK, "FSETSTAT times")
        r.close(h)
        data = open(os.path.join(files, "ooo.bin"), "rb").read()
        t.ok(data[:64 * 32768] == b"".join(blocks[i] for i in range(64)) and data.endswith(b"end") and
             data[64 * 32768:64 * 32768 + 10] == b"\0" * 10, "out-of-order writes land at their offsets")
        t.eq(int(os.stat(os.path.join(files, "ooo.bin")).st_mtime), 1400000000, "mtime from FSETSTAT survives CLOSE")
        # READ beyond EOF, short read, EOF.
        h, st = r.open("/new.txt", FXF_READ)
        tp, body = r.read(h, 0, 10)
        t.eq(r.status_of(tp, body), FX_EOF, "READ of an empty file: EOF")
        r.close(h)

        # READDIR batches and longnames.
        names = r.listdir("/many")
        t.eq(sorted(x[0] for x in names if not x[0].startswith(".")), [f"f{i:03d}" for i in range(250)],
             "READDIR returns all 250 names over several batches")
        ln = dict(names)["f010"]
        t.ok(re.match(r"^-rw-r--r-- +1 +\d+ +\d+ +10 [A-Z][a-z]{2} [ \d]\d ( \d{4}|\d\d:\d\d) f010$", ln),
             "longname is an ls -l line", ln)

        # RENAME never replaces; posix-rename does.
        open(os.path.join(files, "a.txt"), "w").write("A")
        open(os.path.join(files, "b.txt"), "w").write("B")
        t.eq(r.status(RENAME, s("/a.txt") + s("/b.txt")), FX_FAILURE, "RENAME onto an existing name fails")
        tp, body = r.ext("posix-rename@openssh.com", s("/a.txt") + s("/b.txt"))
        t.ok(r.status_of(tp, body) == FX_OK and open(os.path.join(files, "b.txt")).read() == "A" and
             not os.path.exists(os.path.join(files, "a.txt")), "posix-rename replaces")

        # Folders.
        t.eq(r.status(MKDIR, s("/d") + struct.pack(">II", 4, 0o750)), FX_OK, "MKDIR")
        t.eq(os.stat(os.path.join(files, "d")).st_mode & 0o777, 0o750,
             "MKDIR applies the permissions asked")
        t.eq(r.status(MKDIR, s("/d") + struct.pack(">I", 0)), FX_FAILURE, "MKDIR of an existing folder fails")
        t.ok(r.status(REMOVE, s("/d")) != FX_OK and os.path.isdir(os.path.join(files, "d")), "REMOVE of a folder fails")
        t.ok(r.status(RMDIR, s("/many")) != FX_OK, "RMDIR of a non-empty folder fails")
        t.ok(r.status(RMDIR, s("/b.txt")) != FX_OK, "RMDIR of a file fails")
        t.eq(r.status(RMDIR, s("/d")), FX_OK, "RMDIR")
        tp, body = r.request(READLINK, s("/link"))
        got = r.names(tp, body)
        t.ok(got and got[0][0] == "many/f001", "READLINK gives the link's text", got)

        # Extensions.
        tp, body = r.ext("limits@openssh.com")
        lim = struct.unpack(">QQQQ", body[:32]) if tp == EXTENDED_REPLY else None
        t.ok(lim and lim[0] >= 34000 and lim[1] >= 32768 and lim[2] >= 32768 and lim[3] >= 1,
             "limits@openssh.com", lim)
        tp, body = r.ext("statvfs@openssh.com", s("/"))
        t.ok(tp == EXTENDED_REPLY and len(body) == 88, "statvfs@openssh.com: 11 numbers")
        tp, body = r.ext("expand-path@openssh.com", s("~/many/../x"))
        got = r.names(tp, body)
        t.ok(got and got[0][0] == "/x", "expand-path@openssh.com: ~ is /", got)
        tp, body = r.ext("home-directory", s("admin"))
        got = r.names(tp, body)
        t.ok(got and got[0][0] == "/", "home-directory is /", got)
        h, st = r.open("/f.bin", W)
        r.write(h, 0, b"sync me")
        tp, body = r.ext("fsync@openssh.com", s(h))
        t.eq(r.status_of(tp, body), FX_OK, "fsync@openssh.com")
        r.close(h)
        c.close()

        # CLOSE of an upload answers OK only once the file and its name are
        # on disk: under strace, the session receives CLOSE, fsyncs the
        # hidden file, renames it, fsyncs the folder, and only then sends.
        t.ok(strace_util.have_strace(), "strace is installed (scripts/deps.sh)")
        if strace_util.have_strace():
            n.kill("ftpd")
            prefix = n.path("ftpd.strace")
            n.start("ftpd", strace_util.argv(prefix, [ftpd_path(), "-f", "-c", n.conf]),
                    wait_for=(n.addr, n.sftp_port))
            c = n.paramiko_client("admin")
            r = RawSftp(c)
            h, st = r.open("/backups/durable.bak", W)
            for i in range(3):
                r.write(h, i * 32768, os.urandom(32768))
            t.eq(r.close(h), FX_OK, "an upload closed under strace")
            c.close()
            want = ["recv", "fsync file", "rename", "fsync folder", "send"]
            folder = os.path.join(files, "backups")
            wait_until(lambda: strace_util.contains(
                strace_util.commit_order(prefix, folder, "durable.bak", n.sftp_port), want), 10)
            order = strace_util.commit_order(prefix, folder, "durable.bak", n.sftp_port)
            t.ok(strace_util.contains(order, want),
                 "CLOSE: fsync of the upload, rename, fsync of the folder, then the reply",
                 order and order[-8:])
    finally:
        n.cleanup()


run(main)
