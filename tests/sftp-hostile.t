#!/usr/bin/env python3
"""sftp-hostile.t: hostile SFTP input against the real nodebak-ftpd: path
escapes through every path-taking request ("..", absolute paths, symlinks
planted in the root, client-made symlinks), READ/WRITE with absurd
lengths and offsets, thousands of open handles, malformed, oversized and
unknown packets, internal names, a session that dies mid-upload. After
each, the daemon still serves other sessions and nothing outside the
files root was read or changed."""
import hashlib
import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sftp_util import need_paramiko  # noqa: E402
need_paramiko()
from sftp_util import (SshNode, RawSftp, s, wait_until, require_ftpd,  # noqa: E402
                       OPEN, CLOSE, READ, WRITE, LSTAT, FSTAT, SETSTAT, OPENDIR,
                       READDIR, REMOVE, MKDIR, RMDIR, REALPATH, STAT, RENAME,
                       READLINK, SYMLINK, STATUS, DATA, NAME, ATTRS, HANDLE,
                       FX_OK, FX_EOF, FX_NO_SUCH_FILE, FX_PERMISSION_DENIED,
                       FX_FAILURE, FX_BAD_MESSAGE, FX_OP_UNSUPPORTED,
                       FXF_READ, FXF_WRITE, FXF_CREAT, FXF_TRUNC)
from tap import run  # noqa: E402


def snapshot_tree(top):
    """{relative path: (mode, sha256)} of everything under top."""
    out = {}
    for dirpath, dirs, files in os.walk(top):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            digest = ""
            if os.path.isfile(p) and not os.path.islink(p):
                digest = hashlib.sha256(open(p, "rb").read()).hexdigest()
            out[os.path.relpath(p, top)] = (st.st_mode, digest)
    return out


ESCAPES = ["../outside/secret", "/../outside/secret", "/../../../../etc/passwd",
           "..//..//outside/secret", "/esc/secret", "esc/secret", "/abs/passwd",
           "backups/../../outside/secret", "/%2e%2e/outside/secret"]


def main(t):
    require_ftpd(t)
    n = SshNode("hostile1")
    outside = n.path("outside")
    os.makedirs(outside)
    with open(os.path.join(outside, "secret"), "w") as f:
        f.write("outside secret\n")
    os.chmod(os.path.join(outside, "secret"), 0o600)
    # Links planted in the root by someone on the host.
    os.symlink("../outside", os.path.join(n.files, "esc"))
    os.symlink("/etc", os.path.join(n.files, "abs"))
    os.symlink("../outside/secret", os.path.join(n.files, "backups", "link.bak"))
    with open(os.path.join(n.files, "backups", "a.bak"), "wb") as f:
        f.write(os.urandom(300000))
    with open(os.path.join(n.files, ".nodebak-upload-planted"), "w") as f:
        f.write("internal\n")
    before = snapshot_tree(outside)
    etc_before = snapshot_tree("/etc/ssh")
    n.start_all()
    try:
        c = n.paramiko_client("admin")
        r = RawSftp(c)
        t.eq(r.version, 3, "VERSION 3")
        t.ok(all(e in r.extensions for e in ["posix-rename@openssh.com", "statvfs@openssh.com",
             "limits@openssh.com", "expand-path@openssh.com", "fsync@openssh.com"]),
             "VERSION advertises the OpenSSH extensions", r.extensions)

        # REALPATH is virtual and never leaves "/".
        for p, want in [("../../..", "/"), ("/../etc", "/etc"), (".", "/"), ("a/./b/../c", "/a/c")]:
            tp, body = r.request(REALPATH, s(p))
            got = r.names(tp, body)
            t.ok(got and got[0][0] == want, f"REALPATH {p!r} -> {want}", got)

        # Every path-taking request with escaping paths.
        leaked = []
        for p in ESCAPES:
            for name, ptype, payload in [
                    ("STAT", STAT, s(p)), ("LSTAT", LSTAT, s(p)),
                    ("OPEN read", OPEN, s(p) + struct.pack(">II", FXF_READ, 0)),
                    ("OPEN write", OPEN, s(p) + struct.pack(">II", FXF_WRITE | FXF_CREAT | FXF_TRUNC, 0)),
                    ("OPENDIR", OPENDIR, s(os.path.dirname(p) or p)),
                    ("SETSTAT", SETSTAT, s(p) + struct.pack(">II", 4, 0o777)),
                    ("REMOVE", REMOVE, s(p)), ("MKDIR", MKDIR, s(p + ".d") + struct.pack(">I", 0)),
                    ("RMDIR", RMDIR, s(os.path.dirname(p))),
                    ("RENAME from", RENAME, s(p) + s("/stolen")),
                    ("RENAME to", RENAME, s("/backups/a.bak") + s(p + ".x")),
                    ("READLINK", READLINK, s(p))]:
                tp, body = r.request(ptype, payload)
                st = r.status_of(tp, body)
                if tp == HANDLE:
                    h = body[4:]
                    if name == "OPEN read":
                        tp2, b2 = r.read(h, 0, 1000)
                        if tp2 == DATA and b"outside secret" in b2:
                            leaked.append((name, p))
                    r.close(h)
                    if name != "OPENDIR" or "outside" in p or "etc" in p:
                        leaked.append((name, p, "handle"))
                elif tp == ATTRS and "secret" in p:
                    leaked.append((name, p, "attrs"))
                elif tp == STATUS and st == FX_OK and name not in ("MKDIR",):
                    leaked.append((name, p, "ok"))
        for ext, payload in [("posix-rename@openssh.com", s("../outside/secret") + s("/got")),
                             ("statvfs@openssh.com", s("/esc"))]:
            tp, body = r.ext(ext, payload)
            if tp == STATUS and r.status_of(tp, body) == FX_OK:
                leaked.append((ext,))
        t.eq(leaked, [], "no path-taking request reaches outside the root")
        t.ok(not os.path.exists(n.path("files", "stolen")) and not os.path.exists(n.path("files", "got")),
             "nothing was renamed out of the outside folder")

        # Client-made symlinks are refused (other programs would follow them).
        st = r.status(SYMLINK, s("/etc/passwd") + s("/mylink"))
        t.ok(st in (FX_OP_UNSUPPORTED, FX_PERMISSION_DENIED) and
             not os.path.lexists(n.path("files", "mylink")), "SYMLINK refused, no link made", st)

        # Internal names are invisible and inaccessible.
        names = [x[0] for x in r.listdir("/")]
        t.ok(".nodebak-upload-planted" not in names and "backups" in names, "internal names not listed", names)
        t.eq(r.status(STAT, s("/.nodebak-upload-planted")), FX_NO_SUCH_FILE, "internal name: STAT says no such file")
        h, st = r.open("/.nodebak-upload-planted")
        t.ok(h is None and st == FX_NO_SUCH_FILE, "internal name: OPEN refused")
        t.ok(r.status(REMOVE, s("/.nodebak-upload-planted")) == FX_NO_SUCH_FILE and
             os.path.exists(n.path("files", ".nodebak-upload-planted")), "internal name: REMOVE refused")

        # READ and WRITE with absurd lengths and offsets.
        h, st = r.open("/backups/a.bak")
        tp, body = r.read(h, 0, 0xFFFFFFFF)
        t.ok(tp == DATA and 0 < len(body) - 4 <= 261120, "READ of 4 GiB is clamped", (tp, len(body)))
        for off in [2**63 - 1, 2**63, 2**64 - 1, 300000]:
            tp, body = r.read(h, off, 100)
            t.ok(tp == STATUS and r.status_of(tp, body) == FX_EOF, f"READ at offset {off} is EOF")
        tp, body = r.read(h, 299990, 100)
        t.ok(tp == DATA and len(body) - 4 == 10, "READ near the end is short")
        t.ok(r.write(h, 0, b"x") in (FX_PERMISSION_DENIED, FX_FAILURE), "WRITE on a read handle refused")
        r.close(h)
        h, st = r.open("/big.bin", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
        for off in [2**63, 2**64 - 1]:
            t.eq(r.write(h, off, b"data"), FX_FAILURE, f"WRITE at offset {off} fails")
        r.id += 1
        r.send_raw(struct.pack(">BI", WRITE, r.id) + s(h) + struct.pack(">QI", 0, 0xFFFFFF00) + b"short")
        tp, body = r.recv()
        t.ok(tp == STATUS and r.status_of(tp, body[4:]) == FX_BAD_MESSAGE,
             "WRITE whose data length passes the packet: bad message")
        t.eq(r.close(h), FX_OK, "the upload handle still works")
        t.ok(os.path.getsize(n.path("files", "big.bin")) == 0, "no sparse giant file was made")

        # Handle confusion and forged handles.
        tp, body = r.request(READ, s(b"\0\0\0\0\0\0\0\1") + struct.pack(">QI", 0, 10))
        t.eq(r.status_of(tp, body), FX_FAILURE, "forged handle refused")
        tp, body = r.request(READDIR, s(b"x" * 300))
        t.eq(r.status_of(tp, body), FX_FAILURE, "over-long handle refused")

        # Thousands of open handles: refused beyond the limit, session lives.
        handles, refused = [], 0
        for i in range(3000):
            h, st = r.open("/backups/a.bak")
            if h is None:
                refused += 1
            else:
                handles.append(h)
        t.ok(0 < len(handles) <= 256 and refused == 3000 - len(handles),
             f"open handles capped ({len(handles)} open, {refused} refused)")
        rc, out, err = n.sftp("ls /backups\n")
        t.ok(rc == 0 and "a.bak" in out, "meanwhile another session is served", err)
        t.ok(all(r.close(h) == FX_OK for h in handles), "all of them close")
        h, st = r.open("/backups/a.bak")
        t.ok(h is not None, "a handle can be opened again")
        r.close(h)

        # Unknown and malformed requests get an answer, not a hang-up.
        t.eq(r.status(99, b"whatever"), FX_OP_UNSUPPORTED, "unknown request type: OP_UNSUPPORTED")
        tp, body = r.ext("nosuch@example.com", b"args")
        t.eq(r.status_of(tp, body), FX_OP_UNSUPPORTED, "unknown extension: OP_UNSUPPORTED")
        t.eq(r.status(OPEN, struct.pack(">I", 1000) + b"abc"), FX_BAD_MESSAGE, "truncated string: BAD_MESSAGE")
        t.eq(r.status(STAT, s(b"/back\0ups")), FX_BAD_MESSAGE, "NUL in a path: BAD_MESSAGE")
        t.eq(r.status(STAT, s("/" + "a" * 70000)), FX_BAD_MESSAGE, "over-long path: BAD_MESSAGE")
        tp, body = r.request(REALPATH, s("/"))
        t.ok(tp == NAME, "the session still answers after all that")
        c.close()

        # Oversized, zero-length and truncated packets end only that session.
        for what, raw in [("oversized", struct.pack(">I", 0x7FFFFFFF) + b"\x05" + b"x" * 100),
                          ("zero-length", struct.pack(">I", 0)),
                          ("no id", struct.pack(">I", 1) + b"\x11")]:
            c = n.paramiko_client("admin")
            r = RawSftp(c)
            r.chan.sendall(raw)
            closed = False
            try:
                r.chan.settimeout(10)
                closed = r.chan.recv(100) == b""
            except Exception:
                closed = True
            t.ok(closed, f"{what} packet: the session is closed")
            c.close()

        # A session that dies mid-upload leaves nothing visible.
        c = n.paramiko_client("admin")
        r = RawSftp(c)
        h, st = r.open("/backups/partial.bak", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
        r.write(h, 0, b"half of it" * 1000)
        c.get_transport().sock.close()
        c.close()
        t.ok(wait_until(lambda: not any(x.startswith(".nodebak-upload")
                                        for x in os.listdir(n.path("files", "backups"))), 10) and
             not os.path.exists(n.path("files", "backups", "partial.bak")),
             "upload cut off: no file under its name, hidden file removed")

        # Readonly: every mutating request refused; the planted link is not followed.
        c = n.paramiko_client("ro")
        r = RawSftp(c)
        h, st = r.open("/backups/new.bak", FXF_WRITE | FXF_CREAT)
        t.ok(h is None and st == FX_PERMISSION_DENIED, "readonly: OPEN for writing refused")
        t.eq([r.status(REMOVE, s("/backups/a.bak")),
              r.status(RENAME, s("/backups/a.bak") + s("/backups/b.bak")),
              r.status(MKDIR, s("/backups/d") + struct.pack(">I", 0)),
              r.status(SETSTAT, s("/backups/a.bak") + struct.pack(">II", 4, 0o777))],
             [FX_PERMISSION_DENIED] * 4, "readonly: REMOVE, RENAME, MKDIR, SETSTAT refused")
        h, st = r.open("/backups/link.bak")
        leaked = False
        if h is not None:
            tp, body = r.read(h, 0, 100)
            leaked = tp == DATA and b"outside" in body
        t.ok(not leaked, "readonly: a planted link is not followed")
        t.ok(r.listdir("/backups") is not None and r.status(STAT, s("/esc")) in
             (FX_PERMISSION_DENIED, FX_NO_SUCH_FILE), "readonly: only backups/ is reachable")
        c.close()

        # The daemon still serves, and outside the root nothing changed.
        rc, out, err = n.sftp("ls /backups\n")
        t.ok(rc == 0 and "a.bak" in out, "OpenSSH sftp still works afterwards", err)
        t.eq(snapshot_tree(outside), before, "the folder beside the root is unchanged")
        t.eq(snapshot_tree("/etc/ssh"), etc_before, "/etc/ssh is unchanged")
        t.ok(not os.path.exists(n.path("files", "etc")), "no /etc made inside the root")
    finally:
        n.cleanup()


run(main)
