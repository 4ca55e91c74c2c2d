#!/usr/bin/env python3
"""rollback-diskfull.t: a rollback that runs out of space (the node on a
small tmpfs, filled up) while staging the archive, or while taking its
safety snapshot, is refused with one clear reason, leaves the node
unchanged and no staging folder or partial archive behind; with room again
the same rollback succeeds. Skipped when tmpfs cannot be mounted (not
root)."""
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node  # noqa: E402
from nodestate import folder_hash, snapshot_of  # noqa: E402
from scenario import add_blobs, fill, free_bytes, snapshot  # noqa: E402
from tap import run  # noqa: E402

SQLITE_TMP = ("db/node.db-wal", "db/node.db-shm")


def main(t):
    mnt = tempfile.mkdtemp(prefix="nodebak-rb-full-")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m,mode=0755", "tmpfs", mnt],
                       capture_output=True, text=True)
    if p.returncode != 0:
        os.rmdir(mnt)
        t.skip_all(f"cannot mount a tmpfs: {p.stderr.strip()}")
    n = None
    try:
        n = Node("rb-full", root=os.path.join(mnt, "node"))
        os.makedirs(os.path.join(n.files, "certs"))
        with open(os.path.join(n.files, "certs", "server.cer"), "w") as f:
            f.write("certificate of the snapshot\n")
        n.start()
        add_blobs(n.db, 1500, 4096)
        old = snapshot(t, n)
        con = sqlite3.connect(n.db)
        con.execute("DELETE FROM blobs WHERE id % 2 = 0")
        con.commit()
        con.close()
        with open(os.path.join(n.files, "certs", "server.cer"), "w") as f:
            f.write("renewed certificate\n")
        rc, _, err = n.nb("backup", "snapshot", "warm")	# work folders exist
        rc, _, err = n.nb("backup", "delete", "warm.bak")
        bak = os.path.getsize(os.path.join(n.files, "backups", "base.bak"))
        dbsize = os.path.getsize(n.db)
        t.diag(f"archive {bak} bytes, database {dbsize} bytes, {free_bytes(mnt)} bytes free")
        cur = snapshot_of(n)
        # SQLite's -wal/-shm come and go as connections open and close.
        h0 = folder_hash(n, skip=SQLITE_TMP)
        bk = os.path.join(n.files, "backups")
        listing = sorted(os.listdir(bk))

        # 1. No room to stage the archive's database.
        filler = fill(mnt, dbsize // 2)
        rc, out, err = n.nb("backup", "rollback", "base.bak", "--yes")
        t.ok(rc != 0 and "No space left on device" in err and "The node was not changed." in err,
             "no room to stage: refused, says why, node not changed", out + err)
        t.eq(folder_hash(n, skip=SQLITE_TMP), h0, "no room to stage: state, files, database, config unchanged")
        t.ok(snapshot_of(n) == cur, "no room to stage: database rows, files, config, cluster unchanged")
        t.ok(not any(d.startswith("rollback-stage") for d in os.listdir(os.path.join(n.state, "work"))),
             "no room to stage: staging folder removed")
        t.eq(sorted(os.listdir(bk)), listing, "no room to stage: no safety snapshot, no partial archive")

        # 2. Room to stage, none for the safety snapshot. A snapshot needs
        # room for its archive only (the database is not copied first):
        # about half the database here, whose deleted half is zeroed.
        os.unlink(filler)
        filler = fill(mnt, dbsize + dbsize // 8)
        rc, out, err = n.nb("backup", "rollback", "base.bak", "--yes")
        t.ok(rc != 0 and "safety snapshot" in err and "full" in err and
             "The node was not changed." in err,
             "no room for the safety snapshot: refused, says why, node not changed", out + err)
        t.eq(folder_hash(n, skip=SQLITE_TMP), h0, "no room for the safety snapshot: state, files, database, config unchanged")
        t.ok(snapshot_of(n) == cur, "no room for the safety snapshot: database rows, files, config, cluster unchanged")
        t.eq(sorted(os.listdir(bk)), listing, "no room for the safety snapshot: no partial archive")
        t.eq(sorted(os.listdir(os.path.join(n.state, "work"))), [],
             "no room for the safety snapshot: no staging or snapshot work folder left")

        # 3. With room again the same rollback succeeds.
        os.unlink(filler)
        rc, out, err = n.nb("backup", "rollback", "base.bak", "--yes")
        t.ok(rc == 0 and "Restored from base.bak" in out, "with room: rollback succeeds", out + err)
        new = snapshot_of(n)
        t.eq((new["db"], new["files"], new["conf"]), (old["db"], old["files"], old["conf"]),
             "with room: database, files and configuration of the snapshot")
        t.ok(cur != new, "the node did change this time")
    finally:
        if n:
            n.stop()
        subprocess.run(["umount", mnt])
        os.rmdir(mnt)


run(main)
