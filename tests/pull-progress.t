#!/usr/bin/env python3
"""pull-progress.t: nodebak-pull sync on a real terminal (tmux) draws one
progress line per node (archive, bytes done / total, rate, time left),
redrawn in place, then the per-node summary; with standard error not a
terminal it writes plain log lines and no terminal escape sequence."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from pull_util import Fleet, PULL  # noqa: E402
from scenario import wait_until  # noqa: E402
from tap import run  # noqa: E402

MIB = 1 << 20
PROGRESS = re.compile(r"^(cms\d)\s+big\.bak\s+[\d.]+ (?:B|KiB|MiB)\s+/\s+"
                      r"[\d.]+ MiB\s+[\d.]+ (?:B|KiB|MiB)/s")


def big_archive(n, mib):
    os.makedirs(n.path("files", "data"), exist_ok=True)
    with open(n.path("files", "data", "blob"), "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(MIB))
    rc, _, err = n.nb("backup", "snapshot", "big")
    if rc != 0:
        raise RuntimeError(err)


class Tmux:
    def __init__(self):
        self.sock = f"nodebak-test-{os.getpid()}"

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.sock] + list(args),
                              capture_output=True, text=True, timeout=30)

    def pane(self):
        return self.tmux("capture-pane", "-p", "-t", "pull").stdout

    def close(self):
        self.tmux("kill-server")


def main(t):
    t.plan(7)
    fleet = Fleet(2, first=41, pull_extra="bwlimit = 6M")
    for n in fleet.nodes:
        big_archive(n, 16)
    tm = Tmux()
    try:
        cmd = f"{PULL} -c {fleet.conf} sync; echo EXIT=$?; sleep 60"
        tm.tmux("new-session", "-d", "-s", "pull", "-x", "150", "-y", "40", cmd)
        seen = {}

        def drawing():
            lines = tm.pane().splitlines()
            seen["lines"] = lines
            return sum(1 for x in lines if PROGRESS.match(x)) == 2
        t.ok(wait_until(drawing, timeout=60, step=0.1),
             "while it runs: a progress line per node (archive, done / "
             "total, rate)", "\n".join(seen.get("lines", [])))
        lines = seen.get("lines", [])
        t.eq(sorted(x.split()[0] for x in lines if x.startswith("cms")),
             ["cms1", "cms2"], "one line per node, redrawn in place (no "
             "scrolled copies)")
        t.ok(wait_until(lambda: "EXIT=" in tm.pane(), timeout=120, step=0.2),
             "the sync ends", tm.pane())
        pane = tm.pane()
        t.ok("EXIT=0" in pane, "exit status 0", pane)
        t.ok(all(re.search(rf"^{n.name}\s+done: 1 new", pane, re.M)
                 for n in fleet.nodes) and
             all(f"{n.name}: ok: 1 new" in pane for n in fleet.nodes),
             "the final lines say done, then each node's summary", pane)
    finally:
        tm.close()
    for n in fleet.nodes:
        os.unlink(fleet.copy(n, "big.bak"))
        os.unlink(fleet.copy(n, "big.json"))
    p = subprocess.run([PULL, "-c", fleet.conf, "sync"], capture_output=True,
                       text=True, timeout=300, stdin=subprocess.DEVNULL)
    t.ok(p.returncode == 0 and "\033" not in p.stderr,
         "not a terminal: no escape sequence", repr(p.stderr[-500:]))
    t.ok(all(f"{n.name}: big.bak: pulled and verified" in p.stderr
             for n in fleet.nodes), "not a terminal: a log line per event",
         p.stderr)


run(main)
