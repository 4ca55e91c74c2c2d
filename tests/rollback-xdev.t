#!/usr/bin/env python3
"""rollback-xdev.t: the node's database folder on another filesystem (a
tmpfs) than its state folder, where the rollback stages: the journal's
replace step then copies instead of renaming. A rollback restores the
database row by row, and a kill -9 at every fault point of the rollback,
followed by a restart of the real daemon, leaves the node wholly old or
wholly new with no temporary copy left beside the database. Skipped when
tmpfs cannot be mounted (not root)."""
import os
import shutil
import signal
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import BIN, TBIN, Node  # noqa: E402
from nodestate import snapshot_of  # noqa: E402
from scenario import add_blobs, snapshot  # noqa: E402
from tap import run  # noqa: E402

REAL = os.path.join(BIN, "nodebak-snapshotd")
FAULT = os.path.join(TBIN, "nodebak-snapshotd-fault")


def copy_into(src, dst):
    """Make folder dst hold exactly what src holds (dst may be a mount)."""
    for f in os.listdir(dst):
        p = os.path.join(dst, f)
        shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)
    for f in os.listdir(src):
        s = os.path.join(src, f)
        (shutil.copytree if os.path.isdir(s) else shutil.copy2)(s, os.path.join(dst, f))


def main(t):
    if not os.access(FAULT, os.X_OK):
        t.skip_all("tests/bin/nodebak-snapshotd-fault not built")
    n = Node("rb-xdev")
    dbdir = os.path.dirname(n.db)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", dbdir],
                       capture_output=True, text=True)
    if p.returncode != 0:
        n.cleanup()
        t.skip_all(f"cannot mount a tmpfs: {p.stderr.strip()}")
    saved = n.path("saved")
    try:
        t.ok(os.stat(dbdir).st_dev != os.stat(n.root).st_dev,
             "the database folder is on another filesystem than the state folder")
        os.makedirs(n.files)
        with open(os.path.join(n.files, "cms.lic"), "w") as f:
            f.write("licence: base\n")
        n.start()
        add_blobs(n.db, 500, 2048, "INSERT INTO users VALUES (1, 'alice@example.com', 'Alice');")
        old = snapshot(t, n)
        con = sqlite3.connect(n.db)
        con.execute("DELETE FROM blobs WHERE id % 2 = 0")
        con.execute("INSERT INTO users VALUES (2, 'bob@example.com', 'Bob')")
        con.commit()
        con.close()
        with open(os.path.join(n.files, "cms.lic"), "w") as f:
            f.write("licence: renewed\n")
        n.nb("backup", "snapshot", "warm")	# work folders exist
        n.nb("backup", "delete", "warm.bak")
        n.stop()
        cur = snapshot_of(n)
        shutil.rmtree(saved, ignore_errors=True)
        for part in ("state", "files"):
            shutil.copytree(n.path(part), os.path.join(saved, part), symlinks=True)
        shutil.copytree(dbdir, os.path.join(saved, "db"))
        shutil.copy2(n.conf, os.path.join(saved, "nodebak.conf"))

        def restore():
            for part in ("state", "files"):
                shutil.rmtree(n.path(part))
                shutil.copytree(os.path.join(saved, part), n.path(part), symlinks=True)
            copy_into(os.path.join(saved, "db"), dbdir)
            shutil.copy2(os.path.join(saved, "nodebak.conf"), n.conf)

        def start(daemon, **env):
            n.daemon = daemon
            e = n.env()
            e.update(env)
            return n.start(env=e)

        def classify():
            s = snapshot_of(n)
            if s == cur:
                return "old"
            if (s["db"], s["files"], s["conf"]) == (old["db"], old["files"], old["conf"]) and \
                    s["cluster"]["last_command"] == "backup rollback base.bak":
                return "new"
            return "mixed"

        cmd = ("backup", "rollback", "base.bak", "--yes", "--no-safety-snapshot")
        restore()
        trace = n.path("trace")
        start(FAULT, NODEBAK_FAULT_TRACE=trace)
        rc, out, err = n.nb(*cmd)
        n.stop()
        t.ok(rc == 0 and "Restored from base.bak" in out, "rollback across filesystems", out + err)
        t.eq(classify(), "new", "database (row by row), files and configuration restored")
        points = [line.split()[1] for line in open(trace)]
        t.ok("journal-step" in points and "journal-copy-written" in points,
             f"{len(points)} fault points to kill at, one inside the copy", points)

        bad = []
        seen = set()
        for k, name in enumerate(points, 1):
            restore()
            pr = start(FAULT, NODEBAK_FAULT_AT=str(k))
            n.nb(*cmd)
            pr.wait(timeout=30)
            n.kill()
            if pr.returncode != -signal.SIGKILL:
                bad.append((k, name, "not killed"))
                continue
            start(REAL)
            state = classify()
            seen.add(state)
            left = [f for f in os.listdir(dbdir) if "tmp" in f]
            rc, out, _ = n.nb("backup", "list")
            said = "new" if "restored (new) state" in out else "old" if "(old) state" in out else None
            if state == "mixed" or left or said != state:
                bad.append((k, name, state, left, said))
            n.stop()
        t.ok(not bad, f"killed at each of the {len(points)} points: node wholly old or new, "
             "backup list says which, no temporary copy left", bad)
        t.eq(seen, {"old", "new"}, "both outcomes were seen")
    finally:
        n.stop()
        subprocess.run(["umount", dbdir])
        n.cleanup()


run(main)
