#!/usr/bin/env python3
"""pull-confine.t: nodebak-pull confines itself (Landlock) before it
talks to a node: it may change files only beneath archive_dir and the
metrics file's folder. A symlink planted in the archive folder that points
elsewhere (archive_dir/NODE -> another folder) makes that node's sync fail
instead of writing through it, and the other node is pulled; `verify`
changes nothing at all. Skipped on a kernel without Landlock."""
import ctypes
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from pull_util import Fleet  # noqa: E402
from tap import run  # noqa: E402

SYS_landlock_create_ruleset = 444
LANDLOCK_CREATE_RULESET_VERSION = 1


def landlock_abi():
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(SYS_landlock_create_ruleset, None, 0,
                        LANDLOCK_CREATE_RULESET_VERSION)


def main(t):
    if os.uname().machine != "x86_64" or landlock_abi() < 1:
        t.skip_all("no Landlock in this kernel")
    t.plan(5)
    fleet = Fleet(2, first=61)
    for n in fleet.nodes:
        rc, _, err = n.nb("backup", "snapshot", "one")
        if rc != 0:
            raise RuntimeError(err)
    outside = tempfile.mkdtemp(prefix="nodebak-outside-")
    try:
        os.makedirs(fleet.archive, exist_ok=True)
        os.symlink(outside, os.path.join(fleet.archive, "cms1"))
        rc, summary, err = fleet.sync()
        t.eq(os.listdir(outside), [], "nothing written through the symlink "
             "that leaves the archive folder")
        t.ok(rc == 1 and summary and summary["cms1"]["result"] == "failed",
             "that node's sync fails (exit 1)", f"{rc} {summary} {err}")
        t.ok(summary and any("Permission denied" in e
                             for e in summary["cms1"]["errors"]),
             "with the kernel's refusal in its error", f"{summary}")
        t.ok(summary and summary["cms2"]["result"] == "ok" and
             fleet.copies(fleet.nodes[1]) == ["one.bak", "one.json"],
             "the other node is pulled", f"{summary}")
        os.unlink(os.path.join(fleet.archive, "cms1"))
        rc, summary, err = fleet.sync()
        t.ok(rc == 0 and fleet.copies(fleet.nodes[0]) == ["one.bak", "one.json"],
             "without the symlink the node is pulled", f"{rc} {summary} {err}")
    finally:
        shutil.rmtree(outside, ignore_errors=True)


run(main)
