#!/usr/bin/env python3
"""rollback-livewriter.t: a rollback must never swap the database out from
under a process that is writing to it. The review's case: with no
service_stop hook (the default), a rollback removed the -wal/-shm files
and renamed the restored database over the live one while a writer had it
open; the writer kept committing into the unlinked files with no error,
and every one of those commits was lost while the rollback reported
success.

Here a writer (a separate process, SQLite in WAL mode, a commit every few
milliseconds) holds the database open:
- without a hook, the rollback is refused, naming the writer's pid and the
  hooks to configure; the node is unchanged and every commit the writer
  made is in the live database;
- with service_stop/service_start hooks that stop and restart the writer,
  the rollback succeeds, and every commit the writer makes after it is in
  the live (restored) database;
- with the PostgreSQL engine, a client connected to the node database is
  named the same way and the rollback is refused until it disconnects."""
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node  # noqa: E402
from nodestate import folder_hash, snapshot_of  # noqa: E402
from scenario import snapshot, sql, wait_until  # noqa: E402
from tap import run  # noqa: E402

SQLITE_TMP = ("db/node.db-wal", "db/node.db-shm")

# The writer: commits rows (phase, k) one at a time and records after each
# commit how many it has made in this phase. When STOP exists it closes the
# database, creates CLOSED and waits for START; then phase 2 begins on a
# new connection. It ends when END exists.
WRITER = r"""
import os, sqlite3, sys, time
db, d = sys.argv[1], sys.argv[2]
def f(n): return os.path.join(d, n)
phase = 1
while True:
    con = sqlite3.connect(db, timeout=30)
    k = 0
    while not os.path.exists(f("STOP")) and not os.path.exists(f("END")):
        con.execute("INSERT INTO livewrites(phase, k) VALUES (?, ?)", (phase, k))
        con.commit()
        k += 1
        with open(f(f"count{phase}.tmp"), "w") as o:
            o.write(str(k))
        os.replace(f(f"count{phase}.tmp"), f(f"count{phase}"))
        time.sleep(0.003)
    con.close()
    if os.path.exists(f("END")):
        break
    open(f("CLOSED"), "w").close()
    while not os.path.exists(f("START")):
        time.sleep(0.01)
    os.unlink(f("STOP"))
    os.unlink(f("START"))
    os.unlink(f("CLOSED"))
    phase += 1
"""


def count(d, phase):
    try:
        with open(os.path.join(d, f"count{phase}")) as f:
            return int(f.read())
    except (OSError, ValueError):
        return 0


def rows(db, phase):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM livewrites WHERE phase = ?", (phase,)).fetchone()[0]
    finally:
        con.close()


def sqlite_cases(t):
    n = Node("rb-live")
    ctl = n.path("writer")
    os.makedirs(ctl)
    writer = None
    try:
        n.start()
        sql(n.db, "CREATE TABLE livewrites(phase INTEGER, k INTEGER);"
            "INSERT INTO users VALUES (1, 'alice@example.com', 'Alice');")
        A = snapshot(t, n)
        writer = subprocess.Popen([sys.executable, "-c", WRITER, n.db, ctl])
        t.ok(wait_until(lambda: count(ctl, 1) > 20), "the writer is committing")

        # 1. No hook: refused, naming the writer and the hooks.
        h0 = folder_hash(n, skip=SQLITE_TMP + ("db/node.db",))
        rc, out, err = n.nb("backup", "rollback", "base.bak", "--yes", "--no-safety-snapshot")
        t.ok(rc != 0 and f"open in another process (pid {writer.pid}, python" in err and
             "service_stop and service_start" in err and "The node was not changed." in err,
             "no hook: the rollback is refused, naming the writer's pid and the hooks to set", out + err)
        t.eq(folder_hash(n, skip=SQLITE_TMP + ("db/node.db",)), h0,
             "no hook: state, files and configuration unchanged")
        k_before = count(ctl, 1)
        t.ok(wait_until(lambda: count(ctl, 1) > k_before + 20), "the writer still commits after the refusal")
        open(os.path.join(ctl, "STOP"), "w").close()
        t.ok(wait_until(lambda: os.path.exists(os.path.join(ctl, "CLOSED"))), "the writer closed the database")
        t.eq(rows(n.db, 1), count(ctl, 1), "no hook: every commit the writer made is in the live database")

        # 2. Hooks that stop and restart the writer: the rollback goes
        # ahead, and what the writer commits afterwards is kept.
        open(os.path.join(ctl, "START"), "w").close()
        t.ok(wait_until(lambda: count(ctl, 2) > 20), "the writer is committing again (phase 2)")
        n.stop()
        with open(n.conf) as f:
            conf = f.read()
        stop = (f"touch {ctl}/STOP; i=0; while [ ! -e {ctl}/CLOSED ] && [ $i -lt 500 ]; "
                f"do sleep 0.02; i=$((i+1)); done; [ -e {ctl}/CLOSED ]")
        with open(n.conf, "w") as f:
            f.write(conf.replace("compression_level = 1\n", "compression_level = 1\n"
                                 f"service_stop = {stop}\nservice_start = touch {ctl}/START\n"))
        n.start()
        rc, out, err = n.nb("backup", "rollback", "base.bak", "--yes", "--no-safety-snapshot")
        t.ok(rc == 0 and "Restored from base.bak" in out, "with the hooks: the rollback succeeds", out + err)
        now = snapshot_of(n)
        t.eq(now["files"], A["files"], "with the hooks: files restored")
        t.ok(wait_until(lambda: count(ctl, 3) > 50), "the restarted writer commits into the restored database")
        open(os.path.join(ctl, "END"), "w").close()
        writer.wait(timeout=30)
        writer = None
        t.eq(rows(n.db, 3), count(ctl, 3), "with the hooks: every commit made after the rollback is in the "
             "live database")
        t.eq(rows(n.db, 1) + rows(n.db, 2), 0, "and the rows committed after the snapshot were rolled back")
    finally:
        if writer:
            open(os.path.join(ctl, "END"), "w").close()
            try:
                writer.wait(timeout=10)
            except subprocess.TimeoutExpired:
                writer.kill()
                writer.wait()
        n.cleanup()


def pg_case(t):
    n = Node("rb-live-pg", addr="127.0.0.12", engine="postgresql")
    client = None
    try:
        n.start(timeout=120)
        rc, _, err = n.nb("backup", "snapshot", "base")
        t.ok(rc == 0, "postgresql: snapshot base", err)
        n.psql("INSERT INTO users VALUES (7, 'late@example.com', 'Late')")
        client = subprocess.Popen(["psql", "-X", "-q", "-h", n.path("state", "pgrun"), "-p", str(n.pg_port),
                                   "-U", "postgres", "-d", "nodebak", "-c", "SELECT pg_sleep(120)"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env=dict(os.environ, PGAPPNAME="livewriter"))
        t.ok(wait_until(lambda: n.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                     "'livewriter'", db="postgres").strip() == "1"), "postgresql: a client is "
             "connected to the node database")
        rc, out, err = n.nb("backup", "rollback", "base.bak", "--yes", "--no-safety-snapshot")
        t.ok(rc != 0 and "has another client connected" in err and "application 'livewriter'" in err and
             "The node was not changed." in err, "postgresql: the rollback is refused, naming the client", out + err)
        t.ok("late@example.com" in n.psql("SELECT jid FROM users"), "postgresql: the database is unchanged")
        n.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
               "'livewriter'", db="postgres")
        client.wait(timeout=30)
        client = None
        t.ok(wait_until(lambda: n.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                     "'livewriter'", db="postgres").strip() == "0"), "postgresql: it is gone")
        rc, out, err = n.nb("backup", "rollback", "base.bak", "--yes", "--no-safety-snapshot")
        t.ok(rc == 0 and "late@example.com" not in n.psql("SELECT jid FROM users"),
             "postgresql: with no other client, the rollback succeeds", out + err)
    finally:
        if client:
            client.kill()
            client.wait()
        n.cleanup()


def main(t):
    sqlite_cases(t)
    pg_case(t)


run(main)
