#!/usr/bin/env python3
"""log-escape.t: a user name sent before login reaches the log with every
control byte escaped (common/log.c), so a client cannot forge a log line:
an SSH user name holding a line feed followed by a made-up "login ok"
line, and an FTP USER holding a carriage return, each give one log line
with the byte written as \\n or \\r."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sftp_util import need_paramiko  # noqa: E402
need_paramiko()
from sftp_util import SshNode, require_ftpd  # noqa: E402
from tap import run  # noqa: E402

FORGED = "sftp login ok: user admin1 from 10.9.9.9"


def ftp_user(n, name):
    s = socket.create_connection((n.addr, n.ftp_port), timeout=10)
    try:
        s.recv(4096)
        s.sendall(b"USER " + name + b"\r\n")
        s.recv(4096)
        s.sendall(b"PASS wrong-password\r\n")
        s.settimeout(15)
        return s.recv(4096)
    finally:
        s.close()


def main(t):
    import paramiko
    require_ftpd(t)
    n = SshNode("logesc", extra_conf="tls = off\n")
    n.start_all()
    try:
        tr = paramiko.Transport((n.addr, n.sftp_port))
        tr.start_client(timeout=20)
        try:
            tr.auth_password("x\n" + FORGED, "wrong-password")
        except Exception:
            pass
        tr.close()
        reply = ftp_user(n, b"ro\r" + FORGED.replace("sftp", "ftp").encode())
        t.ok(reply.startswith(b"530"), "the FTP login fails", reply)
        deadline = time.time() + 20
        while time.time() < deadline and n.log("ftpd").count("login FAILED") < 2:
            time.sleep(0.1)
        log = n.log("ftpd")
        lines = log.split("\n")
        t.eq([ln for ln in lines if ln.startswith("sftp login ok")], [],
             "no log line starts with the forged text")
        t.ok(all("nodebak-ftpd[" in ln for ln in lines if ln), "every log line is the daemon's own",
             [ln for ln in lines if ln and "nodebak-ftpd[" not in ln])
        t.ok("user x\\n" + FORGED + " from 127.0.0.1" in log,
             "the SSH name's line feed is written as \\n in the login line", log[-2000:])
        t.ok("\r" not in log, "no raw carriage return in the log")
        t.ok("user ro\\r" + FORGED.replace("sftp", "ftp") + " from 127.0.0.1" in log,
             "the FTP USER's carriage return is written as \\r", log[-2000:])
    finally:
        n.cleanup()


run(main)
