#!/usr/bin/env python3
"""snapshot-diskfull.t: a snapshot that runs out of space (a file-size
limit on the daemon, RLIMIT_FSIZE) fails with one clear line, leaves no
partial file, and leaves every older backup untouched; the daemon goes on
working."""
import hashlib
import os
import resource
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node  # noqa: E402
from tap import run  # noqa: E402


def tree_hashes(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            out[os.path.relpath(p, root)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


def main(t):
    n = Node("full1")
    n.start()
    try:
        db = sqlite3.connect(n.db)
        db.execute("CREATE TABLE blob(b BLOB)")
        db.commit()
        rc, _, err = n.nb("backup", "snapshot", "small")
        t.ok(rc == 0, "a snapshot while there is room", err)
        db.executemany("INSERT INTO blob VALUES (randomblob(4096))", [()] * 2000)
        db.commit()
        db.close()
        # A second large member: the archive is then larger than any member.
        with open(os.path.join(n.files, "upgrade.img"), "wb") as f:
            f.write(os.urandom(4 << 20))
        n.stop()
        before = tree_hashes(os.path.join(n.files, "backups"))

        import subprocess
        import time
        dbsize = os.path.getsize(n.db)
        # First a limit the 8 MiB database copy cannot fit; then one it just
        # fits, so that the archive itself (database plus a 4 MiB file)
        # runs out of room while being written.
        for limit, where in [(2 << 20, "copying the database"), (dbsize + 1024, "writing the archive")]:
            def lower():
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
            log = open(n.path("snapshotd.log"), "ab")
            p = subprocess.Popen([n.daemon, "-f", "-c", n.conf], stdout=log, stderr=log,
                                 preexec_fn=lower, start_new_session=True, env=n.env())
            n.procs["snapshotd"] = p
            for _ in range(500):
                if os.path.exists(n.sock):
                    break
                time.sleep(0.02)
            rc, out, err = n.nb("backup", "snapshot", "big")
            t.ok(rc == 1 and err.count("\n") == 1 and ("too large" in err or "disk full" in err),
                 f"full while {where}: snapshot fails with one clear line", err)
            after = tree_hashes(os.path.join(n.files, "backups"))
            t.eq(after, before, f"full while {where}: no partial file, older backups byte-identical")
            work = os.path.join(n.state, "work")
            t.ok(not os.path.exists(work) or os.listdir(work) == [], f"full while {where}: no work files left",
                 os.listdir(work) if os.path.exists(work) else None)
            rc, out, err = n.nb("backup", "verify", "small.bak")
            t.ok(rc == 0, "the older backup still verifies", err)
            n.stop()
            os.unlink(n.sock) if os.path.exists(n.sock) else None
        n.start()
        rc, out, err = n.nb("backup", "snapshot", "big")
        t.ok(rc == 0, "with room again the same name works", err)
        rc, out, err = n.nb("backup", "verify", "big.bak")
        t.ok(rc == 0, "and verifies", err)
    finally:
        n.cleanup()


run(main)
