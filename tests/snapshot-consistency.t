#!/usr/bin/env python3
"""snapshot-consistency.t: snapshots taken while another process keeps
committing transfers between accounts restore to databases whose total is
unchanged and that pass PRAGMA integrity_check; the writer kept committing
while the snapshots ran. The database image is read from the database file
and its WAL (docs/snapshots.md, "The database copy"): frames of a
transaction that has not committed are not archived, and a WAL restarted
under the reader makes the snapshot start again rather than archive a
mixed image."""
import os
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import BIN, Node, TBIN  # noqa: E402
from tap import run  # noqa: E402

ACCOUNTS = 200
TOTAL = ACCOUNTS * 1000

WRITER = r"""
import random, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
db.execute("PRAGMA busy_timeout=30000")
stop, count = sys.argv[2], 0
import os
deadline = time.time() + 120
while not os.path.exists(stop) and time.time() < deadline:
    a, b = random.sample(range(1, %d), 2)
    amt = random.randint(1, 50)
    db.execute("BEGIN IMMEDIATE")
    db.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", (amt, a))
    db.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (amt, b))
    db.execute("INSERT INTO transfers(src, dst, amount) VALUES (?, ?, ?)", (a, b, amt))
    db.execute("COMMIT")
    count += 1
    if count %% 50 == 0:
        # Atomic, so the test never reads a half-written count.
        with open(sys.argv[3] + ".tmp", "w") as f:
            f.write(str(count))
        os.replace(sys.argv[3] + ".tmp", sys.argv[3])
print(count)
""" % (ACCOUNTS + 1)


def committed(path):
    try:
        return int(open(path).read() or 0)
    except (OSError, ValueError):
        return 0


def main(t):
    n = Node("consist1")
    n.start()
    try:
        db = sqlite3.connect(n.db)
        db.execute("CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
        db.execute("CREATE TABLE transfers(id INTEGER PRIMARY KEY, src INT, dst INT, amount INT, pad BLOB)")
        db.executemany("INSERT INTO accounts VALUES (?, 1000)", [(i,) for i in range(1, ACCOUNTS + 1)])
        # Some bulk so that a snapshot takes a while.
        db.executemany("INSERT INTO transfers(src, dst, amount, pad) VALUES (0, 0, 0, randomblob(2000))",
                       [()] * 20000)
        db.commit()
        db.close()
        stop = n.path("stop-writer")
        progress = n.path("writer-progress")
        w = subprocess.Popen([sys.executable, "-c", WRITER, n.db, stop, progress],
                             stdout=subprocess.PIPE, text=True)
        try:
            while committed(progress) < 100:
                if w.poll() is not None:
                    raise RuntimeError("writer died")
            during = []
            for i in range(3):
                before = committed(progress)
                rc, out, err = n.nb("backup", "snapshot", f"busy{i}")
                after = committed(progress)
                during.append(after - before)
                t.ok(rc == 0, f"snapshot busy{i} while the writer commits", err)
        finally:
            open(stop, "w").close()
            total_commits = int(w.communicate(timeout=60)[0] or 0)
        t.ok(total_commits > 0 and all(d > 0 for d in during),
             f"the writer kept committing during every snapshot ({during} transfers)")
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(3):
                bak = os.path.join(n.files, "backups", f"busy{i}.bak")
                with tarfile.open(bak, "r:gz") as tf:
                    data = tf.extractfile("db/node.db").read()
                path = os.path.join(tmp, f"busy{i}.db")
                with open(path, "wb") as f:
                    f.write(data)
                c = sqlite3.connect(path)
                t.eq(c.execute("PRAGMA integrity_check").fetchone()[0], "ok", f"busy{i}: integrity_check ok")
                t.eq(c.execute("SELECT sum(balance) FROM accounts").fetchone()[0], TOTAL, f"busy{i}: money total unchanged")
                moved = c.execute("SELECT count(*) FROM transfers WHERE src > 0").fetchone()[0]
                t.ok(moved > 0, f"busy{i}: holds {moved} committed transfers")
                c.close()
                rc, out, err = n.nb("backup", "verify", f"busy{i}.bak")
                t.ok(rc == 0, f"busy{i}.bak verifies", err)
        live = sqlite3.connect(n.db)
        t.eq(live.execute("SELECT sum(balance) FROM accounts").fetchone()[0], TOTAL, "live total unchanged")
    finally:
        n.cleanup()



def archived_db(n, name, tmp):
    """The database member of backups/NAME.bak, written to a file in tmp."""
    with tarfile.open(os.path.join(n.files, "backups", name + ".bak"), "r:gz") as tf:
        data = tf.extractfile("db/node.db").read()
    path = os.path.join(tmp, name + ".db")
    with open(path, "wb") as f:
        f.write(data)
    return sqlite3.connect(path)


def uncommitted(t):
    """A transaction whose pages have spilled into the WAL, not committed:
    the archive holds exactly the committed rows."""
    n = Node("consist2")
    n.start()
    try:
        u = sqlite3.connect(n.db, isolation_level=None)
        u.execute("PRAGMA wal_autocheckpoint=0")
        u.execute("CREATE TABLE kept(id INTEGER PRIMARY KEY, v BLOB)")
        u.execute("CREATE TABLE pending(id INTEGER PRIMARY KEY, v BLOB)")
        u.execute("INSERT INTO kept(v) SELECT randomblob(500) FROM (WITH RECURSIVE c(i) AS "
                  "(SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100) SELECT i FROM c)")
        wal = n.db + "-wal"
        committed_size = os.path.getsize(wal)
        u.execute("PRAGMA cache_size=5")
        u.execute("BEGIN")
        u.execute("INSERT INTO pending(v) SELECT randomblob(3000) FROM (WITH RECURSIVE c(i) AS "
                  "(SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000) SELECT i FROM c)")
        t.ok(os.path.getsize(wal) > committed_size + 1000000,
             f"the open transaction's pages spilled into the WAL ({committed_size} -> {os.path.getsize(wal)} bytes)")
        rc, out, err = n.nb("backup", "snapshot", "spilled")
        t.ok(rc == 0, "snapshot while a transaction's frames are in the WAL", err)
        u.execute("ROLLBACK")
        with tempfile.TemporaryDirectory() as tmp:
            c = archived_db(n, "spilled", tmp)
            t.eq(c.execute("PRAGMA integrity_check").fetchone()[0], "ok", "spilled: integrity_check ok")
            t.eq(c.execute("SELECT count(*) FROM kept").fetchone()[0], 100, "spilled: the committed rows are there")
            t.eq(c.execute("SELECT count(*) FROM pending").fetchone()[0], 0,
                 "spilled: nothing of the uncommitted transaction")
            c.close()
        u.close()
    finally:
        n.cleanup()


def restarted(t):
    """The snapshot's read transaction began on a fully checkpointed WAL
    (SQLite's read mark 0, which does not stop a writer from restarting
    the WAL), the image took pages from the WAL's frames, and a writer
    restarts the WAL before they are read: the frames are found changed,
    the snapshot starts again, and the archive is consistent."""
    n = Node("consist3", daemon=os.path.join(TBIN, "nodebak-snapshotd-fault"))
    hold, trace = n.path("hold"), n.path("trace")
    env = n.env()
    env["NODEBAK_FAULT_HOLD"] = f"snapshot-db-copied:{hold}"
    env["NODEBAK_FAULT_TRACE"] = trace
    snap = None
    try:
        n.start(env=env)
        w = sqlite3.connect(n.db, isolation_level=None)
        w.execute("PRAGMA wal_autocheckpoint=0")
        w.execute("CREATE TABLE rows(id INTEGER PRIMARY KEY, v BLOB)")
        w.execute("INSERT INTO rows(v) SELECT randomblob(1000) FROM (WITH RECURSIVE c(i) AS "
                  "(SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) SELECT i FROM c)")
        busy, logged, done = w.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        t.ok(busy == 0 and logged > 0 and logged == done,
             f"every WAL frame checkpointed, the WAL kept ({done} of {logged} frames)")
        open(hold, "w").close()
        snap = subprocess.Popen([os.path.join(BIN, "nodebak"), "-c", n.conf, "backup", "snapshot", "again"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=n.env())
        deadline = time.time() + 30
        while "snapshot-db-copied" not in (open(trace).read() if os.path.exists(trace) else "") \
                and time.time() < deadline:
            time.sleep(0.02)
        salt = open(n.db + "-wal", "rb").read(32)[16:24]
        w.execute("INSERT INTO rows(v) VALUES (randomblob(1000))")
        t.ok(open(n.db + "-wal", "rb").read(32)[16:24] != salt,
             "a writer restarted the WAL while the snapshot held its image")
        os.unlink(hold)
        out, err = snap.communicate(timeout=120)
        snap = None
        t.ok("snapshot again.bak: " in n.log() and "taking it again" in n.log(),
             "the changed frame was found and the snapshot taken again", n.log()[-800:])
        t.eq(open(trace).read().count("snapshot-db-copied"), 2, "the database image was opened twice")
        rc, out, err = n.nb("backup", "verify", "again.bak")
        t.ok(rc == 0, "again.bak verifies", err)
        with tempfile.TemporaryDirectory() as tmp:
            c = archived_db(n, "again", tmp)
            t.eq(c.execute("PRAGMA integrity_check").fetchone()[0], "ok", "again: integrity_check ok")
            t.eq(c.execute("SELECT count(*) FROM rows").fetchone()[0], 301,
                 "again: the rows of both transactions")
            c.close()
        w.close()
    finally:
        if snap is not None:
            snap.kill()
            snap.communicate()
        if os.path.exists(hold):
            os.unlink(hold)
        n.cleanup()


def all_cases(t):
    main(t)
    uncommitted(t)
    restarted(t)


run(all_cases)
