#!/usr/bin/env python3
"""rollback-crash.t: kill -9 the daemon at every fault point of a rollback
(with its safety snapshot) and of a snapshot, as enumerated by a traced run
of the test daemon (tests/bin/nodebak-snapshotd-fault), restart the real
daemon, and check what an operator would: the node is wholly old or wholly
new (database row by row, files byte for byte, configuration, cluster
settings), `backup list` works and its "Node state:" line and the daemon's
log say which, no
partial .bak/.json is visible, the services were started again, and a fresh
snapshot and its verification work. The rollback changes a folder into a
file and a file into a folder, so that replaying the journal after a crash
must not undo a step already done."""
import os
import shutil
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import BIN, TBIN, Node  # noqa: E402
from nodestate import snapshot_of  # noqa: E402
from tap import run  # noqa: E402

REAL = os.path.join(BIN, "nodebak-snapshotd")
FAULT = os.path.join(TBIN, "nodebak-snapshotd-fault")
PARTS = ("state", "files", "db", "nodebak.conf")


def put(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def make_old(n):
    """The snapshot-time state (what the rollback restores)."""
    put(os.path.join(n.files, "cms.lic"), "licence: base\n")
    for name in ("server.cer", "server.key", "ca.cer"):
        put(os.path.join(n.files, "certs", name), f"{name} of the snapshot\n",
            0o600 if name.endswith(".key") else 0o644)
    put(os.path.join(n.files, "extra"), "a file that becomes a folder\n")
    for k in range(8):
        put(os.path.join(n.files, "keys", f"k{k}.key"), f"key {k}\n" * 50, 0o600)
    con = sqlite3.connect(n.db)
    con.executescript("""
        CREATE TABLE blobs(id INTEGER PRIMARY KEY, b BLOB);
        INSERT INTO spaces VALUES (1, 'Board', 'board', '1'), (2, 'Lab', 'lab', NULL);
        INSERT INTO users VALUES (1, 'alice@example.com', 'Alice');
    """)
    # Random data: a few MiB of compressed output, so that the archive
    # writer reaches several of its fault points.
    con.executemany("INSERT INTO blobs(b) VALUES (?)",
                    [(os.urandom(4096),) for _ in range(700)])
    con.commit()
    con.close()


def make_new(n):
    """The state before the rollback (what a crash before the commit
    point must leave)."""
    put(os.path.join(n.files, "cms.lic"), "licence: renewed\n")
    shutil.rmtree(os.path.join(n.files, "certs"))
    put(os.path.join(n.files, "certs"), "a folder that became a file\n")
    os.unlink(os.path.join(n.files, "extra"))
    put(os.path.join(n.files, "extra", "inside.txt"), "inside the new folder\n")
    os.unlink(os.path.join(n.files, "keys", "k3.key"))
    put(os.path.join(n.files, "keys", "k9.key"), "new key\n", 0o600)
    put(os.path.join(n.files, "keys", "k1.key"), "changed key\n", 0o600)
    put(os.path.join(n.files, "renewal", "csr.pem"), "csr\n")
    con = sqlite3.connect(n.db)
    con.executescript("""
        UPDATE spaces SET passcode = '2' WHERE id = 1;
        DELETE FROM spaces WHERE id = 2;
        INSERT INTO users VALUES (2, 'bob@example.com', 'Bob');
        DELETE FROM blobs WHERE id % 3 = 0;
        INSERT INTO node_meta VALUES ('renewed', 'yes');
    """)
    con.commit()
    con.close()
    with open(n.conf, "a") as f:
        f.write("# after the certificate renewal\n")
    path = os.path.join(n.state, "cluster.conf")
    text = open(path).read().replace("server_cert = \n", "server_cert = renewed.cer\n")
    text = text.replace("status = Disabled", "status = Error").replace(
        "error = \n", "error = certificate verify failed\n")
    put(path, text, 0o600)


def save(n, to):
    shutil.rmtree(to, ignore_errors=True)
    os.makedirs(to)
    for p in PARTS:
        src = os.path.join(n.root, p)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(to, p), symlinks=True)
        else:
            shutil.copy2(src, os.path.join(to, p))


def restore(n, frm):
    for p in PARTS:
        dst = os.path.join(n.root, p)
        if os.path.isdir(dst):
            shutil.rmtree(dst)
        elif os.path.lexists(dst):
            os.unlink(dst)
        src = os.path.join(frm, p)
        if os.path.isdir(src):
            shutil.copytree(src, dst, symlinks=True)
        else:
            shutil.copy2(src, dst)
    open(n.path("services.log"), "w").close()


def start(n, daemon, **env):
    n.daemon = daemon
    e = n.env()
    e.pop("NODEBAK_FAULT_AT", None)
    e.pop("NODEBAK_FAULT_TRACE", None)
    e.update(env)
    return n.start(env=e)


def trace(n, pristine, *cmd):
    restore(n, pristine)
    tfile = n.path("trace")
    if os.path.exists(tfile):
        os.unlink(tfile)
    start(n, FAULT, NODEBAK_FAULT_TRACE=tfile)
    rc, out, err = n.nb(*cmd)
    n.stop()
    with open(tfile) as f:
        points = [line.split()[1] for line in f]
    return rc, out + err, points


def main(t):
    if not os.access(FAULT, os.X_OK):
        t.skip_all("tests/bin/nodebak-snapshotd-fault not built")
    n = Node("rb-crash")
    with open(n.conf) as f:
        conf = f.read()
    log = n.path("services.log")
    with open(n.conf, "w") as f:
        f.write(conf.replace("compression_level = 1\n", "compression_level = 1\n"
                             f"service_stop = echo stop >> {log}\n"
                             f"service_start = echo start >> {log}\n"))
    old_dir, pristine = n.path("saved-old"), n.path("saved-new")
    try:
        start(n, REAL)
        make_old(n)
        rc, _, err = n.nb("backup", "snapshot", "base")
        t.ok(rc == 0, "snapshot base (the state to roll back to)", err)
        OLD = snapshot_of(n)
        make_new(n)
        n.nb("backup", "snapshot", "warm")	# work folders exist, as on a used node
        n.nb("backup", "delete", "warm.bak")
        n.stop()
        CUR = snapshot_of(n)
        save(n, pristine)
        t.ok(CUR["files"] != OLD["files"] and CUR["db"] != OLD["db"], "the two states differ")

        # A rollback that is not interrupted gives the restored state.
        rc, text, rb_points = trace(n, pristine, "backup", "rollback", "base.bak", "--yes")
        t.ok(rc == 0 and "Restored from base.bak" in text, "traced rollback completes", text)
        NEW = snapshot_of(n)
        t.eq((NEW["db"], NEW["files"], NEW["conf"]), (OLD["db"], OLD["files"], OLD["conf"]),
             "uninterrupted rollback: database, files and config of the snapshot")
        t.eq((NEW["cluster"]["status"], NEW["cluster"]["last_command"]),
             ("Disabled", "backup rollback base.bak"), "uninterrupted rollback: cluster Disabled")
        rc, text, sn_points = trace(n, pristine, "backup", "snapshot", "crashme")
        t.ok(rc == 0, "traced snapshot completes", text)
        names = set(rb_points + sn_points)
        t.diag(f"rollback: {len(rb_points)} fault points, snapshot: {len(sn_points)}; "
               f"kinds: {sorted(names)}")
        want = {"gz-write", "stage-member", "snapshot-db-copied", "snapshot-archive-written",
                "snapshot-json-written", "snapshot-renamed", "rollback-intent",
                "rollback-services-stopped", "rollback-committed", "journal-step",
                "rollback-services-started", "write-atomic-tmp",
                "rollback-journal-removed"}
        t.ok(want <= names, "the traces reach every kind of fault point", sorted(want - names))
        t.ok(len(rb_points) + len(sn_points) >= 50, "at least 50 moments to kill at",
             len(rb_points) + len(sn_points))

        def classify(s):
            if s == CUR:
                return "old"
            cl = dict(s["cluster"])
            cl.pop("since", None)
            want_cl = dict(NEW["cluster"])
            want_cl.pop("since", None)
            if (s["db"], s["files"], s["conf"], cl) == (OLD["db"], OLD["files"], OLD["conf"], want_cl):
                return "new"
            diff = [k for k in ("db", "files", "conf") if s[k] not in (OLD[k], CUR[k])]
            if s["files"] not in (OLD["files"], CUR["files"]):
                a, b = set(s["files"].items()), set(OLD["files"].items())
                diff.append(f"files vs snapshot: missing {sorted(b - a)[:4]} extra {sorted(a - b)[:4]}")
            return f"mixed: {diff} cluster {s['cluster']}"

        def check_after(label, expect, snapshot_name=None):
            """Restart the real daemon after a kill; returns the state."""
            bk = os.path.join(n.files, "backups")
            partial = [f for f in os.listdir(bk) if f.startswith(".") or ".tmp." in f or
                       (f.endswith(".json") and not os.path.exists(os.path.join(bk, f[:-5] + ".bak")))]
            start(n, REAL)
            state = classify(snapshot_of(n))
            t.ok(state in expect, f"{label}: node wholly {' or '.join(expect)} ({state})",
                 n.log()[-1500:])
            rc, out, err = n.nb("backup", "list")
            line = [x for x in out.splitlines() if x.startswith("Node state:")]
            said = ("new" if line and "restored (new) state" in line[0] else
                    "old" if line and "previous (old) state" in line[0] else None)
            if snapshot_name is None:
                t.ok(rc == 0 and said == state, f"{label}: backup list says the node is {state}",
                     out + err)
                since_start = n.log()
                since_start = since_start[since_start.rfind("signing key id"):]
                words = "restored (new) state" if state == "new" else "previous (old) state"
                t.ok("recovery: the rollback from base.bak" in since_start and words in since_start,
                     f"{label}: the daemon's log says the node is {state}", since_start[-1500:])
            else:
                t.ok(rc == 0 and (not partial or "interrupted snapshot" in out),
                     f"{label}: backup list works and reports removed partial files", (partial, out))
            files = os.listdir(bk)
            leftovers = [f for f in files if f.startswith(".") or ".tmp." in f or
                         (f.endswith(".json") and f[:-5] + ".bak" not in files)]
            bad = []
            for f in files:
                if f.endswith(".bak"):
                    rc, out, err = n.nb("backup", "verify", f)
                    if rc != 0:
                        bad.append((f, err))
            work = os.path.join(n.state, "work")
            stale = [f for f in (os.listdir(work) if os.path.isdir(work) else [])]
            stale += [os.path.relpath(os.path.join(d, f), n.root)
                      for part in ("state", "files", "db")
                      for d, _, fs in os.walk(os.path.join(n.root, part)) for f in fs
                      if ".tmp." in f or f.startswith(".nodebak-tmp")]
            if os.path.exists(os.path.join(n.state, "rollback.journal")):
                stale.append("rollback.journal")
            t.ok(not leftovers and not bad and not stale,
                 f"{label}: no partial .bak/.json, every .bak verifies, no work leftovers",
                 (leftovers, bad, stale))
            with open(log) as f:
                svc = f.read().split()
            rc, out, err = n.nb("backup", "snapshot", "after-crash")
            rc2, out2, err2 = n.nb("backup", "verify", "after-crash.bak")
            t.ok((not svc or svc[-1] == "start") and rc == 0 and rc2 == 0,
                 f"{label}: services started, fresh snapshot and verify work",
                 (svc, err, err2))
            n.stop()
            return state

        def kill_at(k, cmd):
            restore(n, pristine)
            p = start(n, FAULT, NODEBAK_FAULT_AT=str(k))
            n.nb(*cmd, timeout=120)
            try:
                p.wait(timeout=30)
            except Exception:
                pass
            n.kill()
            return p.returncode == -signal.SIGKILL

        t0 = time.time()
        seen = {"old": 0, "new": 0}
        missed = []
        cmd = ("backup", "rollback", "base.bak", "--yes")
        for k, name in enumerate(rb_points, 1):
            if not kill_at(k, cmd):
                missed.append((k, name))
                continue
            state = check_after(f"rollback killed at {k} ({name})", ("old", "new"))
            seen[state] = seen.get(state, 0) + 1
        t.ok(seen["old"] and seen["new"], "crashes left the node old before the commit point "
             "and new after it", seen)
        # Killed again while recovery replays the journal: the replay of a
        # replay must still end wholly new.
        after_commit = [k for k, nm in enumerate(rb_points, 1)
                        if nm in ("rollback-committed", "journal-step")]
        for k in after_commit[::max(1, len(after_commit) // 4)][:4]:
            for m in (1, 3, 8):
                if not kill_at(k, cmd):
                    missed.append((k, rb_points[k - 1]))
                    continue
                died = False
                try:
                    start(n, FAULT, NODEBAK_FAULT_AT=str(m))
                except RuntimeError as e:
                    died = "-9" in str(e)
                n.kill()
                t.ok(died, f"recovery after a kill at {k} killed in turn at its point {m}")
                check_after(f"rollback killed at {k}, recovery killed at {m}", ("new",))
        # A damaged journal (torn or edited) stops the daemon with a clear
        # error instead of being half applied; the intact one then completes.
        k = rb_points.index("rollback-committed") + 1
        if kill_at(k, cmd):
            jpath = os.path.join(n.state, "rollback.journal")
            good = open(jpath, "rb").read()
            for bad, what in [(good[:-10], "torn"), (good.replace(b"replace", b"remove ", 1), "edited")]:
                with open(jpath, "wb") as f:
                    f.write(bad)
                try:
                    start(n, REAL)
                    err = "started"
                except RuntimeError as e:
                    err = str(e)
                n.kill()
                t.ok("damaged rollback journal" in err and snapshot_of(n) == CUR,
                     f"{what} journal: the daemon refuses to start, node untouched", err[-800:])
            with open(jpath, "wb") as f:
                f.write(good)
            check_after("intact journal put back", ("new",))
        else:
            missed.append((k, "rollback-committed"))
        cmd = ("backup", "snapshot", "crashme")
        for k, name in enumerate(sn_points, 1):
            if not kill_at(k, cmd):
                missed.append((k, name))
                continue
            check_after(f"snapshot killed at {k} ({name})", ("old",), "crashme")
        t.ok(not missed, f"the daemon was killed at every one of the "
             f"{len(rb_points) + len(sn_points)} points", missed)
        t.diag(f"{len(rb_points) + len(sn_points)} crashes in {time.time() - t0:.0f} s")
    finally:
        n.cleanup()


run(main)
