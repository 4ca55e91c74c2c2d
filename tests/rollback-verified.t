#!/usr/bin/env python3
"""rollback-verified.t: what a rollback verified once, it trusts only while
the file is provably unchanged.

A rollback hashes every member against the signed MANIFEST as it stages
it, and runs the database's integrity_check on the staged file. Within
the same rollback it does not read those bytes again: a staged file is
installed on its stamp (inode, size, modification and change times to the
nanosecond) and the live database's check is the staged one's while the
file is the same and unchanged. A file changed in between, even with its
modification time set back, has a new change time (nothing can set that
back), and is read again:
- a staged database altered while the rollback holds after its plan (the
  fault daemon holds at rollback-services-stopped; bytes flipped and the
  modification time restored) is not installed, and the daemon names it;
- a live database damaged after the swap (held at rollback-services-
  started; bytes of a b-tree page overwritten, time restored) fails the
  check the rollback reports;
- without either change the same rollback succeeds and reports
  integrity_check ok."""
import glob
import hashlib
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import BIN, TBIN, Node  # noqa: E402
from scenario import add_blobs, snapshot, sql, wait_until  # noqa: E402
from tap import run  # noqa: E402

FAULT = os.path.join(TBIN, "nodebak-snapshotd-fault")
CMD = ("backup", "rollback", "base.bak", "--yes", "--no-safety-snapshot")


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def overwrite_keep_mtime(path, offset, data):
    """Overwrite bytes in place, then set the modification time back."""
    st = os.stat(path)
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = os.stat(path)
    return after.st_mtime_ns == st.st_mtime_ns and after.st_size == st.st_size


def main(t):
    if not os.access(FAULT, os.X_OK):
        t.skip_all("tests/bin/nodebak-snapshotd-fault not built")
    n = Node("rb-verified")
    try:
        n.daemon = FAULT
        n.start()
        add_blobs(n.db, 600, 3000, "INSERT INTO users VALUES (1, 'alice@example.com', 'Alice');")
        snapshot(t, n)
        n.stop()
        hold = n.path("hold")
        trace = n.path("trace")

        def held_rollback(point, act):
            """Change the node, start the daemon holding at point, run the
            rollback, call act() at the hold, release it; rc, out, err."""
            sql(n.db, "DELETE FROM blobs WHERE id % 3 = 0;")
            if os.path.exists(trace):
                os.unlink(trace)
            open(hold, "w").close()
            env = n.env()
            env["NODEBAK_FAULT_HOLD"] = f"{point}:{hold}"
            env["NODEBAK_FAULT_TRACE"] = trace
            n.start(env=env)
            p = subprocess.Popen([os.path.join(BIN, "nodebak"), "-c", n.conf, *CMD],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=n.env())
            try:
                reached = wait_until(lambda: os.path.exists(trace) and point in open(trace).read(),
                                     timeout=60)
                acted = act() if reached else None
            finally:
                os.unlink(hold)
                out, err = p.communicate(timeout=120)
            n.stop()
            return reached, acted, p.returncode, out, err

        # 1. Control: held and released unchanged, the rollback succeeds.
        reached, _, rc, out, err = held_rollback("rollback-services-stopped", lambda: None)
        t.ok(reached and rc == 0 and "(integrity_check ok)" in out,
             "held after its plan and released unchanged: restored, integrity_check ok", out + err)

        # 2. The staged database altered, its modification time set back.
        altered = {}

        def alter_staged():
            staged = glob.glob(os.path.join(n.state, "work", "rollback-stage-*", "db", "node.db"))
            if len(staged) != 1:
                return None
            size = os.path.getsize(staged[0])
            kept = overwrite_keep_mtime(staged[0], size // 2 + 100, os.urandom(64))
            altered["sha"] = sha(staged[0])
            return staged[0] if kept else None

        reached, staged, rc, out, err = held_rollback("rollback-services-stopped", alter_staged)
        t.ok(reached and staged is not None,
             "the staged database altered in place, same size and modification time", staged)
        t.ok(rc != 0 and "does not hold the content the journal names" in err and
             "db/node.db" in err,
             "the altered staged database is not installed; the error names it", out + err)
        t.ok(not os.path.exists(n.db) or sha(n.db) != altered.get("sha"),
             "the live database is not the altered file")
        t.ok(os.path.exists(os.path.join(n.state, "rollback.journal")),
             "the rollback stays pending (committed, not complete)")
        # Clear it by hand, so the next case starts from a node at rest.
        for j in glob.glob(os.path.join(n.state, "rollback.journal")):
            os.unlink(j)
        for d in glob.glob(os.path.join(n.state, "work", "rollback-stage-*")):
            subprocess.run(["rm", "-rf", d], check=True)
        for f in glob.glob(os.path.join(n.state, "work", "rollback.*")):
            os.unlink(f)

        # 3. The live database damaged after the swap, its time set back:
        # the reported check reads it and fails.
        def damage_live():
            size = os.path.getsize(n.db)
            page = (size // 4096) // 2
            return overwrite_keep_mtime(n.db, page * 4096, b"\xff" * 512)

        reached, kept, rc, out, err = held_rollback("rollback-services-started", damage_live)
        t.ok(reached and kept, "the live database damaged in place after the swap, same size and time")
        t.ok(rc != 0 and "INTEGRITY CHECK FAILED" in out and "(integrity_check ok)" not in out,
             "the rollback reports the failed check of the live database", out + err)
    finally:
        if os.path.exists(n.path("hold")):
            os.unlink(n.path("hold"))
        n.cleanup()


run(main)
