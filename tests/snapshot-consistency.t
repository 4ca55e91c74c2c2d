#!/usr/bin/env python3
"""snapshot-consistency.t: snapshots taken while another process keeps
committing transfers between accounts restore to databases whose total is
unchanged and that pass PRAGMA integrity_check; the writer kept committing
while the snapshots ran."""
import os
import sqlite3
import subprocess
import sys
import tarfile
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node  # noqa: E402
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


run(main)
