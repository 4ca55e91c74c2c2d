#!/usr/bin/env python3
"""pg-engine.t: [database] engine = postgresql. The daemon runs the node's
own PostgreSQL server (initdb at first start, as the postgres user, on the
cluster interface's address and pg_port); snapshots hold a pg_dump custom
archive (db/node.pgdump) taken in one transaction while a writer runs;
rollback restores it into the server; a restore cut off after the
rollback's commit point is finished at the next start; the check after a
restore (pg_amcheck) finds a damaged index page; a clean exit stops the
server."""
import os
import stat
import subprocess
import sys
import tarfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import BIN, PG_BIN, TBIN, Node  # noqa: E402
from scenario import listening  # noqa: E402
from tap import run  # noqa: E402


FAULT = os.path.join(TBIN, "nodebak-snapshotd-fault")


def member(bak, path):
    with tarfile.open(bak, "r:gz") as tf:
        names = tf.getnames()
        data = tf.extractfile(path).read() if path in names else None
        return names, data, tf.extractfile("MANIFEST").read().decode()


def names(n):
    return n.psql("SELECT name FROM spaces ORDER BY name").split()


def main(t):
    n = Node("pg1", addr="127.0.0.11", engine="postgresql")
    pgdata = n.path("state", "pgdata")
    n.start(timeout=120)
    try:
        st = os.stat(pgdata)
        t.ok(os.path.isfile(os.path.join(pgdata, "PG_VERSION")), "initdb ran at first start under state_dir/pgdata")
        t.ok(st.st_uid == __import__("pwd").getpwnam("postgres").pw_uid and stat.S_IMODE(st.st_mode) == 0o700,
             "the data folder belongs to the postgres user, mode 0700")
        sst = os.stat(n.state)
        t.ok(stat.S_IMODE(sst.st_mode) & 0o007 == 0, "the state folder has no world access", oct(sst.st_mode))
        t.ok(stat.S_IMODE(os.stat(n.path("state", "signing.key")).st_mode) == 0o600, "the signing key stays 0600")
        t.ok(listening("127.0.0.11", n.pg_port), "the server listens on interface_a's address and pg_port")
        t.ok(not listening("127.0.0.1", n.pg_port), "and not on other addresses")
        t.eq(n.psql("SELECT version FROM nodebak_schema").strip(), "1", "the node database has schema version 1")
        owner = subprocess.run(["ps", "-o", "user=", "-p",
                                open(os.path.join(pgdata, "postmaster.pid")).readline().strip()],
                               capture_output=True, text=True).stdout.strip()
        t.eq(owner, "postgres", "the server runs as the postgres user")

        n.psql("INSERT INTO spaces(name, uri) VALUES ('alpha', 'a@x'), ('beta', 'b@x')")
        n.psql("CREATE TABLE ledger(id serial PRIMARY KEY, a int, b int)")

        # A writer keeps two rows per transaction while the snapshot runs:
        # a consistent dump has an even number of ledger rows.
        stop = threading.Event()

        def writer():
            while not stop.is_set():
                n.psql("BEGIN; INSERT INTO ledger(a, b) VALUES (1, 2); "
                       "SELECT pg_sleep(0.01); INSERT INTO ledger(a, b) VALUES (3, 4); COMMIT")
        w = threading.Thread(target=writer)
        w.start()
        time.sleep(0.3)
        rc, out, err = n.nb("backup", "snapshot", "s1")
        stop.set()
        w.join()
        t.eq((rc, out), (0, "s1.bak ready for download\n"), "backup snapshot on a postgresql node", )
        bak = n.path("files", "backups", "s1.bak")
        mnames, dump, manifest = member(bak, "db/node.pgdump")
        t.ok(dump is not None and dump.startswith(b"PGDMP"), "the archive holds db/node.pgdump, a pg_dump custom archive")
        t.ok("db/node.db" not in mnames, "and no SQLite member")
        t.ok("\nengine postgresql\n" in manifest and "\nschema 1\n" in manifest, "MANIFEST: engine postgresql, schema 1")
        rc, out, err = n.nb("backup", "verify", "s1.bak")
        t.ok(rc == 0 and out.startswith("s1.bak: OK"), "backup verify passes", out + err)

        # What the dump holds: restore it into a scratch database.
        p = n.path("dump.pgdump")
        open(p, "wb").write(dump)
        n.psql("CREATE DATABASE scratch", db="postgres")
        subprocess.run(["pg_restore", "-h", n.path("state", "pgrun"), "-p", str(n.pg_port),
                        "-U", "postgres", "-d", "scratch", p], check=True, timeout=60)
        rows = int(n.psql("SELECT count(*) FROM ledger", db="scratch"))
        t.ok(rows > 0 and rows % 2 == 0, f"the dump is one transaction's view: {rows} ledger rows, an even number")
        t.eq(n.psql("SELECT name FROM spaces ORDER BY name", db="scratch").split(), ["alpha", "beta"],
             "the dump holds the rows written before it")
        n.psql("DROP DATABASE scratch", db="postgres")

        # Rollback restores the dump into the live server.
        n.psql("INSERT INTO spaces(name, uri) VALUES ('gamma', 'g@x')")
        n.psql("DELETE FROM spaces WHERE name = 'alpha'")
        n.psql("CREATE TABLE afterwards(x int)")
        rc, out, err = n.nb("backup", "rollback", "s1.bak", "--yes")
        t.ok(rc == 0 and "Database           : db/node.pgdump (pg_amcheck: heap and B-tree of " in out,
             "backup rollback s1.bak succeeds", out + err)
        t.eq(names(n), ["alpha", "beta"], "the live database is the snapshot's again")
        t.eq(int(n.psql("SELECT count(*) FROM ledger")), rows, "every table is restored to the snapshot")
        t.eq(n.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'afterwards'").strip(), "0",
             "a table created after the snapshot is gone (the database is the dump's, nothing left over)")
        t.eq(n.psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'nodebak_%'", db="postgres").strip(), "0",
             "no scratch database of the restore is left")
        t.ok(not os.path.exists(n.path("state", "pg-restore.pgdump")), "no pending restore is left")
        safety = [f for f in os.listdir(n.path("files", "backups"))
                  if f.startswith("pre-rollback-") and f.endswith(".bak")]
        t.eq(len(safety), 1, "a safety snapshot of the previous state was taken")
        rc, out, err = n.nb("backup", "rollback", safety[0], "--yes", "--no-safety-snapshot")
        t.ok(rc == 0, "rolling back to the safety snapshot", err)
        t.eq(names(n), ["beta", "gamma"], "brings back the state before the first rollback")
        t.eq(n.psql("SELECT count(*) FROM pg_extension WHERE extname = 'amcheck'").strip(), "0",
             "the check leaves no amcheck extension in the node database")

        # A rollback cut off after its commit point leaves the dump pending:
        # the next start restores it.
        n.kill("snapshotd")
        t.ok(listening("127.0.0.11", n.pg_port), "after SIGKILL of the daemon its server is still up")
        pend = n.path("state", "pg-restore.pgdump")
        open(pend, "wb").write(dump)
        n.start(timeout=120)
        t.ok(not os.path.exists(pend), "the next start restores the pending dump and removes it")
        t.eq(names(n), ["alpha", "beta"], "the live database is the pending dump's")

        # A damaged dump is refused by the check.
        bad = bytearray(dump)
        bad[len(bad) // 2:len(bad) // 2 + 64] = b"\xff" * 64
        open(pend, "wb").write(bytes(bad[:len(bad) // 2]))
        n.kill("snapshotd")
        try:
            n.start(timeout=120)
            started = True
        except RuntimeError:
            started = False
        t.ok(not started and "restoring" in n.log(), "a pending dump that does not restore stops the start with the reason",
             n.log()[-500:])
        t.eq(names(n), ["alpha", "beta"], "and the live database is unchanged")
        os.unlink(pend)

        # The check after a restore is pg_amcheck of the whole database: an
        # index page damaged after the restore (while the test daemon holds
        # just before the check; the server restarted so that the page is
        # read from disk) fails it, naming the index.
        n.start(timeout=120)
        n.psql("CREATE TABLE extra(id int PRIMARY KEY, v text); "
               "INSERT INTO extra SELECT g, repeat('v', 50) FROM generate_series(1, 3000) g")
        rc, out, err = n.nb("backup", "snapshot", "s2")
        t.ok(rc == 0, "snapshot s2 holds a table with an index", err)
        n.kill("snapshotd", __import__("signal").SIGTERM)   # stops the server
        hold = n.path("hold")
        open(hold, "w").close()
        env = n.env()
        env["NODEBAK_FAULT_HOLD"] = f"rollback-services-started:{hold}"
        trace = n.path("trace")
        env["NODEBAK_FAULT_TRACE"] = trace
        n.start(argv=[FAULT, "-f", "-c", n.conf], wait_for=n.sock, env=env, timeout=120)
        roll = subprocess.Popen([os.path.join(BIN, "nodebak"), "-c", n.conf, "backup", "rollback", "s2.bak",
                                 "--yes", "--no-safety-snapshot"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=n.env())
        deadline = time.time() + 120      # the daemon reaches the hold: the restore is done
        while "rollback-services-started" not in (open(trace).read() if os.path.exists(trace) else "") \
                and time.time() < deadline:
            time.sleep(0.05)
        idx = os.path.join(pgdata, n.psql("SELECT pg_relation_filepath('extra_pkey')").strip())
        pgctl = ["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, "pg_ctl"), "-w", "-D", pgdata]
        subprocess.run(pgctl + ["stop", "-m", "fast"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
        with open(idx, "r+b") as f:
            f.seek(8192 + 3000)        # inside block 1, the first leaf
            f.write(b"\xde\xad" * 8)
        subprocess.run(pgctl + ["start"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60)
        os.unlink(hold)
        out, err = roll.communicate(timeout=120)
        line = [x for x in n.log().splitlines() if "rollback s2.bak: pg_amcheck:" in x]
        t.ok(roll.returncode != 0 and
             "Database           : db/node.pgdump (INTEGRITY CHECK FAILED: pg_amcheck: corruption found" in out,
             "a restored database with a damaged index page: the report says the check failed and why", out + err)
        t.ok(len(line) == 1 and 'corruption found (1 problem in ' in line[0] and
             'btree index "nodebak.public.extra_pkey": invalid page in block 1 of relation' in line[0],
             "the daemon's log names pg_amcheck, the index and the damaged block", line or n.log()[-800:])
        t.eq(names(n), ["alpha", "beta"], "the restore itself was done")
        t.eq(n.psql("SELECT count(*) FROM pg_extension WHERE extname = 'amcheck'").strip(), "0",
             "a failed check also removes the amcheck extension")
        n.kill("snapshotd", __import__("signal").SIGTERM)
        n.start(timeout=120)
        rc, out, err = n.nb("backup", "rollback", "s2.bak", "--yes", "--no-safety-snapshot")
        t.ok(rc == 0 and "Database           : db/node.pgdump (pg_amcheck: heap and B-tree of " in out,
             "a rollback again restores an undamaged database and the check passes", out + err)

        n.kill("snapshotd", __import__("signal").SIGTERM)
        t.ok(not os.path.exists(os.path.join(pgdata, "postmaster.pid")) and
             not listening("127.0.0.11", n.pg_port), "a clean exit of the daemon stops the server")
    finally:
        n.cleanup()
    t.ok(not os.path.exists(n.root), "cleanup")


run(main)
