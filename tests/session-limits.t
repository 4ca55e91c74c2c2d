#!/usr/bin/env python3
"""session-limits.t: each FTP session's and SSH network process's system
call filter and resource limits (docs/security.md, "What each sandbox allows"; issue 16).

- /proc/PID/status of a session before login: seccomp filter mode, one
  filter; after login: two (the narrower one stacked). /proc/PID/limits:
  open files max_handles + 64, data memory session_memory MiB, no core.
- A forbidden system call made by a live session (gdb makes the process
  call execve and then setresuid) kills that session with SIGSYS, and the
  server logs in the next client as before; the same for an SSH
  connection's network process (its filter and limits read from /proc).
- A huge listing: 20,000 files in one folder, listed with LIST and NLST by
  a session limited to 32 MiB of data memory: every name arrives (the
  listing is streamed, never built whole), and the session lives on."""
import ftplib
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sftp_util import need_paramiko  # noqa: E402
need_paramiko()  # its SSH cases log in with paramiko
from pull_util import children  # noqa: E402
from scenario import wait_until  # noqa: E402
from sftp_util import PASSWORDS, SshNode, require_ftpd  # noqa: E402
from tap import run  # noqa: E402

FILES = 20000


def status(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def limits(pid):
    with open(f"/proc/{pid}/limits") as f:
        out = {}
        for line in f.read().splitlines()[1:]:
            m = re.match(r"(.+?)\s{2,}(\S+)\s+(\S+)", line)
            if m:
                out[m.group(1).strip()] = (m.group(2), m.group(3))
        return out


def sock_inodes(client_port):
    """Inodes of the server-side TCP sockets whose peer is our client port
    (/proc/net/tcp, tcp6)."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if int(f[2].rsplit(":", 1)[1], 16) == client_port:
                out.add(f[9])
    return out


def holder(pids, inodes):
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return pid
        except OSError:
            continue
    return None


def session_pid(n, sock):
    """The listener's child that holds the server end of sock (the FTP
    session, or an SSH connection's worker until it hands the socket to
    its network process: then the network process's parent)."""
    listener = n.procs["ftpd"].pid
    port = sock.getsockname()[1]
    found = []

    def look():
        kids = children(listener)
        pid = holder(kids, sock_inodes(port))
        if pid is None:
            for k in kids:
                if holder(children(k), sock_inodes(port)):
                    pid = k
        found[:] = [pid]
        return pid is not None
    wait_until(look, timeout=10)
    return found[0] if found else None


def login(n, user="admin"):
    f = ftplib.FTP()
    f.connect(n.addr, n.ftp_port, timeout=30)
    f.login(user, PASSWORDS[user])
    return f


def gdb_call(pid, expr):
    """Make pid call expr through gdb."""
    subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx", "-q",
                        "-ex", f"print (long)({expr})"],
                       capture_output=True, text=True, timeout=60)


def gone_by_sigsys(n, pid):
    wait_until(lambda: not os.path.exists(f"/proc/{pid}"), timeout=20)
    return not os.path.exists(f"/proc/{pid}")


def main(t):
    require_ftpd(t)
    n = SshNode("limits1", addr="127.0.0.46",
                extra_conf="tls = off\nmax_handles = 100\nsession_memory = 32\n")
    n.start_all()
    listener = n.procs["ftpd"].pid
    try:
        f = ftplib.FTP()
        f.connect(n.addr, n.ftp_port, timeout=30)
        pid = session_pid(n, f.sock)
        st = status(pid)
        t.ok(st.get("Seccomp") == "2" and st.get("Seccomp_filters") == "1" and
             st.get("NoNewPrivs") == "1",
             "before login: the session runs under one seccomp filter, no_new_privs", st)
        lim = limits(pid)
        t.ok(lim.get("Max open files") == ("164", "164") and
             lim.get("Max data size") == (str(32 << 20), str(32 << 20)) and
             lim.get("Max core file size") == ("0", "0"),
             "its limits: 164 open files, 32 MiB of data, no core file", lim)
        f.login("admin", PASSWORDS["admin"])
        st = status(pid)
        t.ok(st.get("Seccomp_filters") == "2",
             "after login: the narrower filter is stacked on it", st)

        # A forbidden call kills the session, not the server.
        if shutil.which("gdb"):
            gdb_call(pid, '(int)execve("/bin/sh", 0, 0)')
            t.ok(gone_by_sigsys(n, pid), "a logged-in session that calls execve is killed")
            g = login(n)
            t.ok(g.pwd() == "/", "the server logs in the next client")
            h = ftplib.FTP()
            h.connect(n.addr, n.ftp_port, timeout=30)
            pid2 = session_pid(n, h.sock)
            gdb_call(pid2, "(int)setresuid(0, 0, 0)")
            t.ok(gone_by_sigsys(n, pid2), "a session before login that calls setresuid is killed")
            g.voidcmd("NOOP")
            g.quit()
            t.ok(n.log("ftpd").count("killed by its system call filter (SIGSYS)") == 2 and
                 n.procs["ftpd"].poll() is None,
                 "the listener goes on and logs both ends", n.log("ftpd")[-1500:])
        else:
            t.skip_all("gdb is not installed (scripts/deps.sh)")

        # The SSH network process: its filter and limits, and a forbidden
        # call kills it, not the server.
        import socket
        sk = socket.create_connection((n.addr, n.sftp_port), timeout=10)
        sk.sendall(b"SSH-2.0-probe\r\n")
        worker = session_pid(n, sk)
        wait_until(lambda: children(worker), timeout=10)
        net = (children(worker) or [None])[0]
        wait_until(lambda: status(net).get("Seccomp") == "2", timeout=10)
        st = status(net)
        lim = limits(net) if net else {}
        t.ok(net and st.get("Seccomp") == "2" and st.get("NoNewPrivs") == "1" and
             lim.get("Max open files") == ("16", "16") and
             lim.get("Max data size") == (str(32 << 20), str(32 << 20)),
             "the SSH network process (banner only): a seccomp filter, 16 files, 32 MiB",
             (st, lim))
        wst, wlim = status(worker), limits(worker)
        t.ok(wlim.get("Max open files") == ("164", "164") and wst.get("Seccomp") == "0",
             "its worker: 164 files; no filter (it runs the console program)", (wst, wlim))
        gdb_call(net, '(int)execve("/bin/sh", 0, 0)')
        t.ok(gone_by_sigsys(n, net), "an SSH network process that calls execve is killed")
        sk.close()
        c = n.paramiko_client("admin")
        t.ok(c.open_sftp().listdir("/") is not None, "and the next SSH login works")
        c.close()

        # A huge listing under a small memory limit.
        big = n.path("files", "big")
        os.makedirs(big)
        for i in range(FILES):
            with open(os.path.join(big, f"file-{i:06d}-with-a-rather-long-name.txt"), "w"):
                pass
        g = login(n)
        t0 = time.time()
        lines = []
        g.retrlines("LIST /big", lines.append)
        names = g.nlst("/big")
        t.ok(len(lines) == FILES and len(names) == FILES,
             f"LIST and NLST of {FILES} files under 32 MiB: every name arrives "
             f"({len(lines)}, {len(names)} in {time.time() - t0:.1f} s)")
        t.eq(g.voidcmd("NOOP")[:3], "200", "and the session lives on")
        g.quit()
    finally:
        n.cleanup()


run(main)
