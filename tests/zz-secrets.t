#!/usr/bin/env python3
"""zz-secrets.t: secrets never in logs or process arguments (issue 15).
It runs last (make test runs tests/*.t in name order).

1. Its own scenario, with fresh random passwords: users added, FTP (TLS)
   and SSH logins with the right and wrong passwords, a sealed snapshot, a
   rollback with an operator's identity; meanwhile a sampler reads the
   command line and environment of every process
   of this test's process tree (/proc/PID/cmdline and environ: the node's
   daemons, the console, what they run) many times a second and looks for
   the passwords and the identities' secret keys.
2. The logs of the whole test run: every node the tests start leaves its
   logs in $NODEBAK_TEST_LOGS (tests/lib/node.py, set by make test), and
   this test searches them all for every password the test files use (found
   in their sources), for its own, for age secret keys and for PEM private
   key blocks. Run alone, it searches the logs of its own scenario."""
import ftplib
import glob
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ftp_util import ReuseFTP_TLS, insecure_context  # noqa: E402
from node import TOP, collect_logs  # noqa: E402
from scenario import wait_until  # noqa: E402
from sftp_util import SshNode, need_paramiko, require_ftpd  # noqa: E402
from tap import run  # noqa: E402

need_paramiko()


def test_passwords():
    """The passwords the test files use, read from their sources."""
    found = set()
    for path in glob.glob(os.path.join(TOP, "tests", "*.t")) + \
            glob.glob(os.path.join(TOP, "tests", "lib", "*.py")):
        with open(path, errors="replace") as f:
            found.update(re.findall(r"\b(pw-[a-z]+-secret|[a-z]+-Pass-\d+)\b", f.read()))
    return sorted(found)


def descendants(top):
    """The PIDs below top (from /proc/PID/stat): this test's processes,
    the node's daemons and whatever they run, and nothing of other tests
    that may run beside it on the machine."""
    parent = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    parent[pid] = f.read().rsplit(")", 1)[1].split()[1]
            except (OSError, IndexError):
                pass
    out = []
    for pid in parent:
        p, seen = parent.get(pid), 0
        while p and p != "0" and seen < 64:
            if p == top:
                out.append(pid)
                break
            p, seen = parent.get(p), seen + 1
    return out


class Sampler(threading.Thread):
    """Reads every process's command line and environment until stopped;
    records (pid, where, secret) for every secret seen."""

    def __init__(self, needles):
        super().__init__(daemon=True)
        self.needles = [n.encode() for n in needles]
        self.stop = threading.Event()
        self.seen = set()
        self.rounds = 0
        self.procs = set()

    def run(self):
        me = str(os.getpid())
        while not self.stop.is_set():
            for pid in descendants(me):
                for what in ("cmdline", "environ"):
                    try:
                        with open(f"/proc/{pid}/{what}", "rb") as f:
                            data = f.read()
                    except OSError:
                        continue
                    if what == "cmdline" and b"nodebak" in data:
                        self.procs.add(data.split(b"\0")[0])
                    for n in self.needles:
                        if n in data:
                            self.seen.add((pid, what, data[:200]))
            self.rounds += 1
            time.sleep(0.002)


def scenario(t, n, pw, wrong):
    rc, out, err = n.nb("user", "add", "zz", "admin", "--password-stdin", input=f"{pw}\n")
    before = n.log("ftpd").count("reloaded")
    os.kill(n.procs["ftpd"].pid, signal.SIGHUP)
    t.ok(rc == 0 and wait_until(lambda: n.log("ftpd").count("reloaded") > before),
         "a user added with a password on standard input; nodebak-ftpd reloaded", err)
    f = ftplib.FTP_TLS(context=insecure_context())
    f.connect(n.addr, n.ftp_port, timeout=30)
    try:
        f.login("zz", wrong)
        bad = True
    except ftplib.error_perm:
        bad = False
    f.close()
    f = ReuseFTP_TLS(context=insecure_context())
    f.connect(n.addr, n.ftp_port, timeout=30)
    f.login("zz", pw)
    f.prot_p()
    names = f.nlst("/backups")
    f.quit()
    t.ok(not bad and any("sealed.bak" in x for x in names),
         "FTPS: the wrong password refused, the right one logs in")
    import paramiko
    try:
        n.paramiko_client("zz", key=False, password=wrong)
        bad = True
    except paramiko.AuthenticationException:
        bad = False
    c = n.paramiko_client("zz", key=False, password=pw)
    _, out, _ = c.exec_command("backup list")
    listed = out.read().decode()
    c.close()
    t.ok(not bad and "sealed.bak" in listed,
         "SSH: the wrong password refused, the right one runs the console", listed)
    rc, out, err = n.nb("backup", "rollback", "sealed.bak", "--identity", n.operator_key,
                        "--yes", "--no-safety-snapshot")
    t.ok(rc == 0, "a rollback with the operator's identity", out + err)


def main(t):
    require_ftpd(t)
    pw = "zz-Secret-" + secrets.token_hex(8)
    wrong = "zz-Wrong-" + secrets.token_hex(8)
    n = SshNode("secrets1", addr="127.0.0.45")
    n.seal()
    n.start_all()
    with open(n.operator_key) as f:
        op_secret = [x for x in f.read().split() if x.startswith("AGE-SECRET-KEY-")][0]
    with open(n.path("state", "recovery.age")) as f:
        node_secret = [x for x in f.read().split() if x.startswith("AGE-SECRET-KEY-")][0]
    rc, out, err = n.nb("backup", "snapshot", "sealed")
    t.ok(rc == 0, "a sealed snapshot", err)
    control = "zz-Control-" + secrets.token_hex(8)
    sampler = Sampler([pw, wrong, op_secret, node_secret, control] + test_passwords())
    sampler.start()
    try:
        # Control: a process with a secret in its arguments is seen.
        subprocess.run(["sh", "-c", "sleep 0.5", "sh", control], check=True)
        scenario(t, n, pw, wrong)
    finally:
        sampler.stop.set()
        sampler.join()
    t.ok(any(control.encode() in data for _, _, data in sampler.seen),
         "control: the sampler sees a secret in a process's arguments")
    sampler.seen = {x for x in sampler.seen if control.encode() not in x[2]}
    t.ok(sampler.rounds >= 10 and not sampler.seen,
         f"no password or identity in any process's arguments or environment "
         f"({sampler.rounds} samples of the process tree; nodebak programs seen: "
         f"{len(sampler.procs)})", sorted(sampler.seen))
    n.stop()
    own = n.root
    logs_dir = os.environ.get("NODEBAK_TEST_LOGS")
    if logs_dir:
        collect_logs(own)
        roots = [logs_dir]
    else:
        roots = [own]
    needles = test_passwords() + [pw, wrong, "AGE-SECRET-KEY-", "PRIVATE KEY-----"]
    files, hits = 0, []
    for root in roots:
        for d, _, names in os.walk(root):
            for x in names:
                if not (x.endswith(".log") or x.startswith("xferlog")):
                    continue
                files += 1
                with open(os.path.join(d, x), "rb") as f:
                    data = f.read()
                for needle in needles:
                    if needle.encode() in data:
                        hits.append((os.path.relpath(os.path.join(d, x), root), needle))
    t.ok(len(test_passwords()) >= 5, f"the test files' passwords: {len(test_passwords())}")
    where = "the whole test run" if logs_dir else "this test's node (run alone)"
    t.ok(files >= (20 if logs_dir else 2) and not hits,
         f"{files} log files of {where}: no password, age secret key or PEM private key", hits)
    n.cleanup()


run(main)
