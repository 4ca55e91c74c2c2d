#!/usr/bin/env python3
"""privsep.t: least privilege of nodebak-ftpd's sessions, checked as the
security review did (issue 16, findings 1 and 4), with the files root
owned by root (the default):

- SSH: the process that holds the client's TCP connection is not root,
  has no capability and has no_new_privs, from the first byte on: with
  only a banner sent, in the middle of the logins, and after a readonly
  login that opened no channel (ssh -N); it is chrooted into an empty
  folder and can open no file at all, not even that folder. The
  worker that does the file work has no capability either.
- The console cannot read state/ (the users file, the signing key), by
  its own verify command or by any call the program makes.
- An FTP session, before and after login, cannot open state/ files nor
  append to them, nor signal the daemons, though it keeps uid 0.

"The process tries to open a file" is done for real: gdb attaches to the
session process and makes it call open(2) (and kill(2)), so what is
measured is the sandbox the kernel enforces, not a protocol's path
rules."""
import ftplib
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sftp_util import PASSWORDS, SshNode, require_ftpd, need_paramiko, wait_until  # noqa: E402
from tap import run  # noqa: E402

need_paramiko()


def status(pid):
    """Uid (the four values), CapEff, CapPrm, NoNewPrivs of pid."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return {"uid": [int(x) for x in out["Uid"]], "capeff": int(out["CapEff"][0], 16),
            "capprm": int(out["CapPrm"][0], 16), "nnp": int(out["NoNewPrivs"][0]),
            "ppid": int(out["PPid"][0])}


def server_pids(port, client_port):
    """The processes holding the server end of the TCP connection from
    client_port to our port."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                p = line.split()
                lport = int(p[1].split(":")[1], 16)
                rport = int(p[2].split(":")[1], 16)
                if lport == port and rport == client_port:
                    inodes.add(p[9])
    pids = set()
    for fd in glob.glob("/proc/[0-9]*/fd/*"):
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", link)
        if m and m[1] in inodes:
            pids.add(int(fd.split("/")[2]))
    return sorted(pids)


def one_pid(port, client_port):
    pids = []
    wait_until(lambda: len(server_pids(port, client_port)) == 1, 10)
    pids = server_pids(port, client_port)
    return pids[0] if len(pids) == 1 else None


def children(pid):
    out = []
    for st in glob.glob("/proc/[0-9]*/status"):
        try:
            if status(int(st.split("/")[2]))["ppid"] == pid:
                out.append(int(st.split("/")[2]))
        except (OSError, KeyError, ValueError):
            pass
    return out


def unprivileged(st):
    return all(u != 0 for u in st["uid"]) and st["capeff"] == 0 and \
        st["capprm"] == 0 and st["nnp"] == 1


def inject(pid, expr):
    """Make pid evaluate a C expression (a call) through gdb: (result,
    errno) or None when gdb could not."""
    p = subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx", "-q",
                        "-ex", f"print (long)({expr})",
                        "-ex", "print (int)*(int *)__errno_location()"],
                       capture_output=True, text=True, timeout=60)
    vals = re.findall(r"^\$\d+ = (-?\d+)", p.stdout, re.M)
    return (int(vals[0]), int(vals[1])) if len(vals) == 2 else None


def open_call(path, flags):
    return f'(int)open("{path}", {flags})'


O_RDONLY, O_WRONLY_APPEND = 0, 0o2001
EACCES, EPERM, ENOENT = 13, 1, 2


def refused(res):
    return res is not None and res[0] == -1 and res[1] in (EACCES, EPERM)


def main(t):
    import paramiko
    require_ftpd(t)
    if not shutil.which("gdb"):
        t.skip_all("gdb is not installed (scripts/deps.sh)")
    n = SshNode("privsep1", extra_conf="tls = off\n")
    n.start_all()
    users = n.path("state", "users")
    key = n.path("state", "signing.key")
    listener = n.procs["ftpd"].pid
    try:
        t.eq(os.stat(n.files).st_uid, 0, "the files root belongs to root")

        # A raw TCP connection that sent only its banner.
        sk = socket.create_connection((n.addr, n.sftp_port), timeout=20)
        sk.sendall(b"SSH-2.0-privsep_test\r\n")
        banner = sk.recv(256)
        t.ok(banner.startswith(b"SSH-2.0-"), "the server sent its banner", banner)
        pid = one_pid(n.sftp_port, sk.getsockname()[1])
        st = status(pid) if pid else None
        t.ok(pid and pid != listener and unprivileged(st),
             "banner only: the network process is not root, no capability, no_new_privs", st)
        root = os.readlink(f"/proc/{pid}/root") if pid else None
        t.eq(root, "/run/nodebak-ftpd-empty", "its root is the empty folder (chroot)")
        # Unreachable: ENOENT in the empty root, EACCES from Landlock.
        res = inject(pid, open_call(users, O_RDONLY)) if pid else None
        t.ok(refused(res) or (res and res[0] == -1 and res[1] == ENOENT),
             "banner only: it cannot open state/users", res)
        res = inject(pid, "(int)open(\"/\", 0)") if pid else None
        t.ok(refused(res), "nor even its own empty root (Landlock: no file at all)", res)
        res = inject(pid, f"(int)kill({listener}, 0)") if pid else None
        t.ok(refused(res), "nor signal the listener", res)
        worker = st["ppid"] if st else None
        wst = status(worker) if worker else None
        t.ok(worker and worker != listener and wst["capeff"] == 0 and wst["capprm"] == 0
             and wst["nnp"] == 1, "its worker (parent) has no capability before any login", wst)
        t.ok(worker and not server_pids(n.sftp_port, sk.getsockname()[1]).count(worker),
             "and does not hold the client's connection")
        sk.close()

        # Mid-auth: key exchange done, one wrong password.
        tr = paramiko.Transport((n.addr, n.sftp_port))
        tr.start_client(timeout=20)
        try:
            tr.auth_password("admin", "wrong-password")
        except paramiko.AuthenticationException:
            pass
        pid = one_pid(n.sftp_port, tr.sock.getsockname()[1])
        st = status(pid) if pid else None
        t.ok(pid and unprivileged(st), "mid-auth: the network process is unprivileged", st)
        tr.close()

        # After a readonly login, no channel (ssh -N).
        c = n.paramiko_client("ro")
        cport = c.get_transport().sock.getsockname()[1]
        pid = one_pid(n.sftp_port, cport)
        st = status(pid) if pid else None
        t.ok(pid and unprivileged(st), "readonly logged in (-N): network process unprivileged", st)
        wst = status(st["ppid"]) if st else None
        t.ok(wst and wst["capeff"] == 0 and wst["capprm"] == 0 and wst["nnp"] == 1,
             "readonly logged in: the worker has no capability", wst)
        sf = c.open_sftp()
        t.ok("backups" in sf.listdir("/"), "readonly SFTP works through the worker")
        res = inject(st["ppid"], open_call(users, O_RDONLY)) if st else None
        t.ok(refused(res), "the readonly SFTP worker cannot open state/users", res)
        res = inject(st["ppid"], open_call(n.path("files", "x.txt"), 0o101)) if st else None
        t.ok(refused(res), "nor create a file in the root (readonly's layer)", res)
        c.close()

        # Admin SFTP: the worker may write the root, nothing outside.
        c = n.paramiko_client("admin")
        sf = c.open_sftp()
        with sf.open("/up.txt", "w") as f:
            f.write(b"hello")
        t.eq(open(n.path("files", "up.txt"), "rb").read(), b"hello", "admin uploads through the worker")
        pid = one_pid(n.sftp_port, c.get_transport().sock.getsockname()[1])
        wpid = status(pid)["ppid"] if pid else None
        for path, flags, what in [(users, O_RDONLY, "read state/users"),
                                  (key, O_RDONLY, "read state/signing.key"),
                                  (users, O_WRONLY_APPEND, "append to state/users")]:
            res = inject(wpid, open_call(path, flags)) if wpid else None
            t.ok(refused(res), f"the admin SFTP worker cannot {what}", res)
        c.close()

        # The console: its verify command on state/ files, as admin and
        # readonly, and the console process itself.
        for user in ("admin", "ro"):
            rc, out, err = n.ssh(f"verify {users}", user=user)
            t.ok(rc != 0 and "Permission denied" in out + err,
                 f"console ({user}): verify state/users is denied", (rc, out, err))
        rc, out, err = n.ssh(f"verify {key}")
        t.ok(rc != 0 and "Permission denied" in out + err, "console: verify state/signing.key is denied",
             (rc, out, err))
        c = n.paramiko_client("admin")
        ch = c.invoke_shell()
        got = b""
        deadline = time.time() + 20
        while b"> " not in got and time.time() < deadline:
            if ch.recv_ready():
                got += ch.recv(4096)
            time.sleep(0.05)
        pid = one_pid(n.sftp_port, c.get_transport().sock.getsockname()[1])
        wpid = status(pid)["ppid"] if pid else None
        con = children(wpid) if wpid else []
        con = [p for p in con if p != pid]
        cst = status(con[0]) if con else None
        t.ok(cst and cst["capeff"] == 0 and cst["nnp"] == 1, "the console program has no capability", cst)
        res = inject(con[0], open_call(users, O_RDONLY)) if con else None
        t.ok(refused(res), "the console program cannot open state/users", res)
        res = inject(con[0], open_call(key, O_RDONLY)) if con else None
        t.ok(refused(res), "nor state/signing.key", res)
        ch.send(b"backup list\nexit\n")
        c.close()

        # FTP, before and after login, with the files root owned by root.
        for login in (None, "admin", "ro"):
            f = ftplib.FTP()
            f.connect(n.addr, n.ftp_port, timeout=20)
            if login:
                f.login(login, PASSWORDS[login])
            pid = one_pid(n.ftp_port, f.sock.getsockname()[1])
            st = status(pid) if pid else None
            when = f"after {login}'s login" if login else "before login"
            t.ok(st and st["capeff"] == 0 and st["nnp"] == 1, f"FTP {when}: no capability", st)
            for path, flags, what in [(users, O_RDONLY, "read state/users"),
                                      (key, O_RDONLY, "read state/signing.key"),
                                      (users, O_WRONLY_APPEND, "append to state/users")]:
                res = inject(pid, open_call(path, flags)) if pid else None
                t.ok(refused(res), f"FTP {when}: cannot {what}", res)
            res = inject(pid, f"(int)kill({listener}, 0)") if pid else None
            t.ok(refused(res), f"FTP {when}: cannot signal the listener", res)
            if login == "ro":
                res = inject(pid, open_call(n.path("files", "ro.txt"), 0o101)) if pid else None
                t.ok(refused(res) and not os.path.exists(n.path("files", "ro.txt")),
                     "FTP after ro's login: cannot create a file in the root (its role's layer)", res)
            f.close()
        t.ok(os.path.exists(users) and "admin:" in open(users).read(), "state/users is intact")
    finally:
        n.cleanup()


run(main)
