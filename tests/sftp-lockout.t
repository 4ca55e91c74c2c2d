#!/usr/bin/env python3
"""sftp-lockout.t: a connection cut off at max_login_attempts locks its
address out for lockout_seconds: a new connection from it is refused,
even with the right password, with a disconnect message saying why;
after the lockout the address gets in again."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sftp_util import need_paramiko  # noqa: E402
need_paramiko()
from sftp_util import SshNode, PASSWORDS  # noqa: E402
from tap import run  # noqa: E402


def banner(addr, port):
    s = socket.create_connection((addr, port), timeout=10)
    s.settimeout(10)
    try:
        return s.recv(64)
    except OSError:
        return b""
    finally:
        s.close()


def main(t):
    import paramiko
    n = SshNode("lockout1", extra_conf="max_login_attempts = 2\nlockout_seconds = 20\n")
    n.start_all()
    try:
        t.ok(banner(n.addr, n.sftp_port).startswith(b"SSH-2.0-"), "served before any failure")
        tr = paramiko.Transport((n.addr, n.sftp_port))
        tr.start_client(timeout=20)
        for i in range(3):
            try:
                tr.auth_password("admin", f"wrong-{i}")
            except Exception:
                pass
        tr.close()
        deadline = time.time() + 10
        while "locked out for 20 s" not in n.log("ftpd") and time.time() < deadline:
            time.sleep(0.05)
        locked = time.time()
        t.ok("127.0.0.1: locked out for 20 s" in n.log("ftpd"), "the lockout is logged")
        # Every attempt within the lock must be refused, and the reason
        # must reach the client (refused_login() tries up to three times:
        # ftpd/sshd.c, login_refused()).
        ok, said, seen = n.refused_login("admin", PASSWORDS["admin"])
        t.ok(not ok and "too many failed logins from 127.0.0.1" in said,
             "the right password from the locked-out address is refused, with why",
             "attempts (logged in, message): %r, %.1f s after the lock\n%s"
             % (seen, time.time() - locked, "\n".join(n.log("ftpd").splitlines()[-12:])))
        # The lock ends after lockout_seconds; poll (bounded) rather than
        # assume how long the machine takes.
        deadline = time.time() + 60
        while not n.password_login("admin", PASSWORDS["admin"])[0] and time.time() < deadline:
            time.sleep(0.5)
        c = n.paramiko_client("admin", key=False)
        t.ok(c.open_sftp().listdir("/") is not None, "after lockout_seconds the right password gets in")
        c.close()
        t.ok(PASSWORDS["admin"] not in n.log("ftpd"), "no password in the log")
    finally:
        n.cleanup()


run(main)
