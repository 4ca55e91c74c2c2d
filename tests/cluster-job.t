#!/usr/bin/env python3
"""cluster-job.t: a database cluster command's background job holds the
node's operation lock from the command to the job's end, under the job's
name: other mutating commands are refused meanwhile, status and listing
answer, and SIGTERM waits for the job before the daemon exits."""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from clusterlib import status, wait_done  # noqa: E402
from node import Node, TBIN, TOP  # noqa: E402
from tap import run  # noqa: E402


def main(t):
    n = Node("job1", addr="127.0.0.11", engine="postgresql",
             daemon=os.path.join(TBIN, "nodebak-snapshotd-fault"))
    os.makedirs(n.files, exist_ok=True)
    subprocess.run(["sh", os.path.join(TOP, "scripts", "mkcerts.sh"), n.files, "valid"], check=True)
    hold = n.path("hold")
    env = n.env()
    env["NODEBAK_FAULT_HOLD"] = f"cluster-job-running:{hold}"
    try:
        n.start(env=env, timeout=120)
        rc, out, err = n.nb("database", "cluster", "certs", "dbclusterserver.key", "dbclusterserver.cer",
                            "dbclusterclient.key", "dbclusterclient.cer", "CA.cer")
        t.eq((rc, out), (0, "Certificates updated\n"), "certificates set")
        open(hold, "w").close()
        rc, out, err = n.nb("database", "cluster", "initialize", input="Y\n")
        t.ok(rc == 0 and out.endswith("Please wait...\nInitialize started...\n"), "initialize started", out + err)
        # The job holds the lock it took over from the command.
        rc, out, err = n.nb("backup", "snapshot", "meanwhile")
        t.ok(rc == 3 and "another operation is in progress (database cluster Initialize)" in err,
             "a mutating command right after it is refused (exit status 3, busy), naming the job",
             f"{rc}: {err}")
        t.ok(not os.path.exists(n.path("files", "backups", "meanwhile.bak")), "and made nothing")
        t.ok("'database cluster initialize' (In progress, started" in status(n), "status answers: In progress")
        rc, out, err = n.nb("backup", "list")
        t.ok(rc == 0 and "No backups." in out, "backup list answers", out + err)

        # SIGTERM waits for the job.
        p = n.procs["snapshotd"]
        p.send_signal(signal.SIGTERM)
        time.sleep(1.5)
        t.ok(p.poll() is None, "SIGTERM while the job runs: the daemon waits for it")
        os.unlink(hold)
        t.ok(p.wait(timeout=120) == 0, "then exits 0", n.log()[-2000:])
        n.procs.pop("snapshotd")
        log = n.log()
        done = log.find("database cluster initialize: done")
        t.ok(0 <= done < log.rfind("exiting"), "the job finished before the daemon exited", log[-2000:])

        n.start(env=n.env(), timeout=120)
        out = wait_done(n, "database cluster initialize")
        t.ok("'database cluster initialize' (Success)" in out and re.search(r"Status\s+: Enabled", out),
             "after a restart status shows the job's success", out)
        rc, out, err = n.nb("backup", "snapshot", "after")
        t.eq((rc, out), (0, "after.bak ready for download\n"), "the lock is free again")
    finally:
        n.cleanup()


run(main)
