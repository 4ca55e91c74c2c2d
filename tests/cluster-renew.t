#!/usr/bin/env python3
"""cluster-renew.t: `nodebak cluster renew` (issue 18) on three real nodes
(127.0.0.21 master, .22 and .23 replicas: each its own PostgreSQL server,
nodebak-snapshotd and nodebak-ftpd), driven over real SSH with a
known_hosts file made by ssh-keyscan. The cluster's certificates have
expired, as in the reference. In order, on the one cluster:

- preflight: certificates that are expired or do not match are refused
  with one line per problem, nothing changed; --dry-run prints the plan
  and changes nothing (every node's state compared before and after);
- a replica's join fails late (NODEBAK_RENEW_FAIL, the test hook): that
  replica is rolled back to its snapshot and reported, the others renewed;
- the whole renewal: every node In Sync, `pki inspect` shows the new
  serial on each, the data written before is on every replica;
- the master's initialize fails: every node back to its exact state of
  before (database rows, the files root, cluster.conf byte for byte);
- the orchestrator SIGKILLed at nine points (NODEBAK_RENEW_KILL_AT, the
  test hook): at every point, once followed by --abort, which restores
  the state of before, and once by --resume, which completes; killed as
  the rollback after a failed initialize began, --resume finishes the
  rollback; killed while a replica's join is still running on it (held
  there by the test hook NODEBAK_FAULT_HOLD), --abort waits for that join
  to end before it rolls the replica back.

Bounded in time; every process started is stopped by pid (node.py)."""
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import BIN, TBIN  # noqa: E402
from nodestate import tree  # noqa: E402
from sftp_util import SshNode, ftpd_path, require_ftpd  # noqa: E402
from tap import run  # noqa: E402
from clusterlib import common_port, make_certs, status, wait_done, wait_for, status_has  # noqa: E402

ADDRS = ["127.0.0.21", "127.0.0.22", "127.0.0.23"]
CERTS = ["dbclusterserver.key", "dbclusterserver.cer", "dbclusterclient.key", "dbclusterclient.cer", "CA.cer"]
RENEW_S = 240       # one renewal's bound


def upload(n, src):
    for f in CERTS:
        with open(os.path.join(src, f), "rb") as a, open(n.path("files", f), "wb") as b:
            b.write(a.read())


def rows(n):
    return n.psql("SELECT name, uri FROM spaces ORDER BY name")


def state(n):
    """What must come back: database rows, the files root byte for byte
    (backups/ aside), cluster.conf byte for byte but for its `since` line
    (when the status last changed: re-forming the old cluster is a new
    change)."""
    with open(n.path("state", "cluster.conf"), "rb") as f:
        cl = b"".join(x for x in f.readlines() if not x.startswith(b"since = "))
    return {"db": rows(n), "files": tree(n.files), "cluster": cl}


def serial(n, name="dbclusterserver.cer"):
    rc, out, err = n.nb("pki", "inspect", name)
    m = re.search(r"Serial Number:\n\s*(\S+)", out)
    return int(m.group(1).replace(":", ""), 16) if m else out + err


def cert_serial(path):
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", path], capture_output=True,
                         text=True).stdout
    return int(out.strip().split("=")[-1], 16)


class Renewer:
    def __init__(self, scratch, nodes, ident, known):
        self.scratch = scratch
        self.nodes = nodes
        self.archive = os.path.join(scratch, "archive")
        self.base = ["-i", ident, "--known-hosts", known, "--archive-dir", self.archive,
                     "--timeout", "120"]
        for n in nodes:
            self.base += ["--node", f"admin@{n.addr}:{n.sftp_port}"]
        self.n = 0

    def run(self, *extra, certs=None, env=None, master=ADDRS[0], answer=None, on_line=None):
        """Run a renewal; on_line (with answer None) sees each output line
        as it comes."""
        argv = [os.path.join(BIN, "nodebak"), "cluster", "renew"] + self.base + list(extra)
        if certs:
            argv += ["--certs", certs, "--master", master]
        self.n += 1
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=dict(os.environ, **(env or {})),
                             stdin=subprocess.PIPE if answer is not None else subprocess.DEVNULL)
        if on_line is not None:
            lines = []

            def reader():
                for ln in p.stdout:
                    lines.append(ln)
                    on_line(ln)
            th = threading.Thread(target=reader, daemon=True)
            th.start()
            try:
                p.wait(timeout=RENEW_S)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                lines.append("\n(cut off)")
            th.join(timeout=10)
            out = "".join(lines)
        else:
            try:
                out, _ = p.communicate(input=answer, timeout=RENEW_S)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
                out += "\n(cut off)"
        with open(os.path.join(self.scratch, f"renew-{self.n}.out"), "w") as f:
            f.write(" ".join(argv) + "\n" + out)
        return p.returncode, out


def main(t):
    require_ftpd(t)
    if os.geteuid() != 0:
        t.skip_all("needs root (the nodes' PostgreSQL servers run as postgres)")
    port = common_port(ADDRS)
    nodes = []
    for i, a in enumerate(ADDRS):
        # The last replica runs the daemon with the test hooks, so that a
        # test can hold its cluster jobs (NODEBAK_FAULT_HOLD).
        n = SshNode(f"rw{i + 1}", addr=a, engine="postgresql",
                    daemon=os.path.join(TBIN, "nodebak-snapshotd-fault") if i == 2 else None)
        n.pg_port = port
        n.write_conf()
        nodes.append(n)
    m, r1, r2 = nodes
    hold = os.path.join(r2.root, "hold-cluster-job")
    r2_env = r2.env
    r2.env = lambda: dict(r2_env(), NODEBAK_FAULT_HOLD=f"cluster-job-running:{hold}")
    scratch = m.path("renew-work")
    os.makedirs(scratch)
    ident = os.path.join(scratch, "operator")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ident], check=True)
    try:
        # ---- a cluster whose certificates have expired ----
        for n in nodes:
            n.start(timeout=120)
            n.setup_users()
            n.nb("user", "key", "add", "admin", ident + ".pub")
            n.start("ftpd", [ftpd_path(), "-f", "-c", n.conf], wait_for=(n.addr, n.sftp_port))
        m.psql("INSERT INTO spaces(name, uri) VALUES ('old-1', 'o1@x'), ('old-2', 'o2@x')")
        # Made last, valid for 40 s: the cluster forms, then they expire.
        old_end = make_certs(os.path.join(scratch, "old"), seconds=40, ca_name="old CA")
        for n in nodes:
            upload(n, os.path.join(scratch, "old"))
            n.nb("database", "cluster", "certs", *CERTS)
        m.nb("database", "cluster", "initialize", "--yes")
        outs = [wait_done(m, "database cluster initialize")]
        for n in (r1, r2):
            n.nb("database", "cluster", "join", ADDRS[0], "--yes")
        outs += [wait_done(n, f"database cluster join {ADDRS[0]}") for n in (r1, r2)]
        ok = all("(Success)" in o for o in outs)
        t.ok(ok, "a cluster of three formed", "\n".join(outs))
        time.sleep(max(0, old_end - time.time() + 2))
        for n in (r1, r2):
            n.kill("snapshotd", signal.SIGTERM)
            n.start(timeout=120)
        out = status_has(r1, ["Server Certificate     : dbclusterserver.cer (expired)",
                              "127.0.0.22 (me)      : Slave, disconnected from the master"], timeout=20)
        t.ok(out, "its certificates expired: the replicas no longer reach the master", status(r1))

        known = os.path.join(scratch, "known_hosts")
        with open(known, "w") as f:
            for n in nodes:
                f.write(subprocess.run(["ssh-keyscan", "-p", str(n.sftp_port), "-t", "ed25519", n.addr],
                                       capture_output=True, text=True, timeout=30).stdout)
        rn = Renewer(scratch, nodes, ident, known)
        certs = {}
        for k in ("a", "b", "c", "d"):
            certs[k] = os.path.join(scratch, k)
            make_certs(certs[k], seconds=120 * 86400, ca_name=f"new CA {k}", serial=f"{k.upper()}000")

        # ---- preflight refuses, and changes nothing ----
        before = [state(n) for n in nodes]
        rc, out = rn.run("--yes", certs=os.path.join(scratch, "old"))
        t.ok(rc == 1 and "dbclusterserver.cer: expired" in out and "dbclusterclient.cer: expired" in out and
             "nothing was changed" in out, "expired certificates: refused by preflight, one line each", out[-1500:])
        bad = os.path.join(scratch, "bad")
        os.makedirs(bad)
        for f in CERTS:
            src = os.path.join(certs["a"] if f != "dbclusterclient.key" else certs["b"], f)
            with open(src, "rb") as a, open(os.path.join(bad, f), "wb") as b:
                b.write(a.read())
        rc, out = rn.run("--yes", "--min-days", "400", certs=bad)
        t.ok(rc == 1 and "dbclusterclient.cer: does not match the key dbclusterclient.key" in out and
             "valid for 119 more days only (--min-days)" in out, "a key that does not match, and --min-days: refused",
             out[-1500:])
        wrong = os.path.join(scratch, "wrong_known")
        with open(wrong, "w") as f:
            f.write(open(known).read().replace(ADDRS[1], "127.0.0.99"))
        p = subprocess.run([os.path.join(BIN, "nodebak"), "cluster", "renew", "-i", ident, "--known-hosts", wrong,
                            "--archive-dir", rn.archive, "--master", ADDRS[0], "--certs", certs["a"], "--yes"] +
                           [x for n in nodes for x in ("--node", f"admin@{n.addr}:{n.sftp_port}")],
                           capture_output=True, text=True, timeout=120)
        t.ok(p.returncode == 1 and f"{ADDRS[1]}: host key SHA256:" in p.stdout and "is not in" in p.stdout,
             "a node whose host key is not in known_hosts is refused", p.stdout[-1500:] + p.stderr)
        other = os.path.join(scratch, "other_host_key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other], check=True)
        with open(wrong, "w") as f:
            for line in open(known):
                if line.startswith(f"[{ADDRS[1]}]"):
                    line = line.split(" ")[0] + " " + " ".join(open(other + ".pub").read().split(" ")[:2]) + "\n"
                f.write(line)
        p = subprocess.run(p.args, capture_output=True, text=True, timeout=120)
        t.ok(p.returncode == 1 and f"{ADDRS[1]}: host key SHA256:" in p.stdout and "differs from the one" in p.stdout
             and "nothing was changed" in p.stdout, "a node whose host key differs from known_hosts' is refused",
             p.stdout[-1500:] + p.stderr)
        rc, out = rn.run("--dry-run", certs=certs["a"])
        t.ok(rc == 0 and "Plan: snapshot pre-renew-" in out and "7. join" in out and "Dry run: nothing was changed" in out
             and "Server Certificate     : dbclusterserver.cer (expired)" in out,
             "--dry-run: the status of every node and the plan", out[-2500:])
        rc, out = rn.run(certs=certs["a"], answer="y\n")
        t.ok(rc == 1 and "(Y/n)" in out and "Nothing was changed." in out and "snapshot ..." not in out,
             "the plan's question: anything but a capital Y changes nothing", out[-800:])
        t.ok([state(n) for n in nodes] == before and not os.listdir(os.path.join(m.files, "backups")),
             "--dry-run and the refusals changed nothing on any node")

        # ---- a replica's join fails late: it alone is rolled back ----
        before = [state(n) for n in nodes]
        rc, out = rn.run("--yes", certs=certs["a"], env={"NODEBAK_RENEW_FAIL": f"join@{ADDRS[2]}"})
        t.ok(rc == 1 and re.search(r"127\.0\.0\.23\s+rolled back to pre-renew-\S+\.bak; out of the cluster until", out) and
             re.search(r"127\.0\.0\.21\s+renewed, in sync", out) and re.search(r"127\.0\.0\.22\s+renewed, in sync", out),
             "a join failed late: that replica rolled back and reported, the others renewed", out[-2500:])
        now = state(r2)
        t.eq((now["db"], now["files"]), (before[2]["db"], before[2]["files"]),
             "the rolled-back replica has its database and certificate files of before")
        t.ok(b"status = Disabled" in now["cluster"] and b"last_command = backup rollback pre-renew-" in now["cluster"],
             "and is out of the cluster, as a rollback leaves a node", now["cluster"])
        a_serial = cert_serial(os.path.join(certs["a"], "dbclusterserver.cer"))
        t.eq([serial(m), serial(r1)], [a_serial, a_serial], "the renewed nodes have the new certificate")

        # ---- the whole renewal ----
        m.psql("INSERT INTO spaces(name, uri) VALUES ('before-b', 'bb@x')")
        rc, out = rn.run("--yes", "--json", certs=certs["b"])
        js = {}
        try:
            js = json.loads(out[out.rindex("\n{") + 1:])
        except ValueError:
            pass
        t.ok(rc == 0 and js.get("ok") is True and [x["outcome"] for x in js.get("nodes", [])] == ["renewed"] * 3,
             "one command renews the three nodes (--json says so)", out[-2500:])
        b_serial = cert_serial(os.path.join(certs["b"], "dbclusterserver.cer"))
        t.eq([serial(n) for n in nodes], [b_serial] * 3, "pki inspect: the new serial on every node")
        out = status_has(m, [f"{ADDRS[1]}           : Connected Slave ( In Sync )",
                             f"{ADDRS[2]}           : Connected Slave ( In Sync )"])
        t.ok(out and "(expired)" not in out, "the master sees both replicas In Sync", status(m))
        want = rows(m)
        t.ok("before-b" in want and all(wait_for(lambda: rows(n) == want) for n in (r1, r2)),
             "the data written before the renewal is on every replica")
        pulled = [os.path.join(rn.archive, a) for a in ADDRS]
        t.ok(all(any(f.endswith(".bak") for f in os.listdir(d)) for d in pulled),
             "each node's snapshot was pulled and verified into the archive folder")
        logs = [f for f in os.listdir(rn.archive) if f.startswith("renew-") and f.endswith(".log")]
        modes = {os.stat(os.path.join(rn.archive, f)).st_mode & 0o777 for f in logs + ["renew.journal"]}
        t.ok(logs and modes == {0o600} and "$ database cluster join 127.0.0.21" in
             open(os.path.join(rn.archive, sorted(logs)[-1])).read(),
             "the journal and the log of every console command are 0600", modes)

        # ---- the master's initialize fails: every node back ----
        before = [state(n) for n in nodes]
        rc, out = rn.run("--yes", certs=certs["c"], env={"NODEBAK_RENEW_FAIL": f"initialize@{ADDRS[0]}"})
        t.ok(rc == 1 and len(re.findall(r"(?m)^  127\.0\.0\.2\d\s+rolled back to pre-renew-", out)) == 3 and
             "Rolling back every node: the master failed" in out, "initialize failed: every node rolled back, and said so",
             out[-2500:])
        after = [state(n) for n in nodes]
        for i, n in enumerate(nodes):
            t.eq(after[i], before[i], f"{n.addr}: database, files root and cluster.conf exactly as before")
        t.ok(status_has(m, [f"{ADDRS[1]}           : Connected Slave ( In Sync )",
                            f"{ADDRS[2]}           : Connected Slave ( In Sync )"], timeout=60),
             "the old cluster is back, In Sync", status(m))

        # ---- the orchestrator killed: --abort restores, --resume completes ----
        points = ["begin:snapshot", "snapshot", "pull", "remove-replicas", f"remove-master@{ADDRS[0]}",
                  "certs", "initialize", f"join@{ADDRS[1]}", "insync"]
        # Each point with both --abort and --resume (the issue's ask).
        cases = [(k, point, way) for k, point in enumerate(points) for way in (0, 1)]
        for k, point, way in cases:
            before = [state(n) for n in nodes]
            rc, out = rn.run("--yes", certs=certs["d" if k % 2 else "c"], env={"NODEBAK_RENEW_KILL_AT": point})
            killed = rc == -signal.SIGKILL
            if way == 0:
                rc2, out2 = rn.run("--abort")
                t.ok(killed and rc2 == 1 and "renewed" not in out2 and [state(n) for n in nodes] == before,
                     f"killed at {point}: --abort restores every node", out[-800:] + out2[-1500:])
            else:
                rc2, out2 = rn.run("--resume")
                t.ok(killed and rc2 == 0 and len(re.findall(r"renewed, in sync", out2)) == 3 and
                     len({serial(n) for n in nodes}) == 1, f"killed at {point}: --resume completes",
                     out[-800:] + out2[-1500:])

        # ---- killed while a replica's join still runs there: --abort waits for it ----
        before = [state(n) for n in nodes]
        join_cmd = f"'database cluster join {ADDRS[0]}' (In progress"
        seen = {}

        def hold_joins(line):
            # The master initializes once the replicas are out: their joins
            # come after, so .23's is held from its start.
            if re.search(r"^\S+\s+initialize \.\.\.", line):
                open(hold, "w").close()

        def release_later(line):
            if re.search(rf"^{re.escape(ADDRS[2])}\s+rollback to ", line) and "t" not in seen:
                seen["t"] = threading.Timer(2, lambda: os.path.exists(hold) and os.unlink(hold))
                seen["t"].start()
        try:
            rc, out = rn.run("--yes", certs=certs["c"], env={"NODEBAK_RENEW_KILL_AT": f"join@{ADDRS[1]}"},
                             on_line=hold_joins)
            held = status(r2)
            rc2, out2 = rn.run("--abort", on_line=release_later)
        finally:
            if "t" in seen:
                seen["t"].join()
            if os.path.exists(hold):
                os.unlink(hold)
        t.ok(rc == -signal.SIGKILL and join_cmd in held and "t" in seen and rc2 == 1 and
             "renewed" not in out2 and "needs attention" not in out2 and [state(n) for n in nodes] == before,
             f"killed at join@{ADDRS[1]} while {ADDRS[2]}'s join was still running: --abort waits for it, "
             "then restores every node", held[-600:] + out[-800:] + out2[-1500:])

        # ---- killed while rolling every node back: --resume finishes it ----
        before = [state(n) for n in nodes]
        rc, out = rn.run("--yes", certs=certs["c"], env={"NODEBAK_RENEW_FAIL": f"initialize@{ADDRS[0]}",
                                                       "NODEBAK_RENEW_KILL_AT": "begin:rollback"})
        rc2, out2 = rn.run("--resume")
        t.ok(rc == -signal.SIGKILL and rc2 == 1 and "the renewal died while rolling back" in out2 and
             len(re.findall(r"(?m)^  127\.0\.0\.2\d\s+rolled back to pre-renew-", out2)) == 3 and
             [state(n) for n in nodes] == before, "killed as the rollback began: --resume rolls every node back",
             out[-800:] + out2[-1500:])
    finally:
        for n in nodes:
            n.cleanup()


run(main)
