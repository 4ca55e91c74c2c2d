#!/usr/bin/env python3
"""snapshot-swap.t: a folder of the files root swapped for a symlink to a
folder outside the root while snapshots run (the security review's
finding 7). A racing process keeps exchanging files/data and
files/top/inner with symlinks to outside/, which holds a file of the same
name with a marker secret, while many snapshots are taken: no archive may
hold the marker; a snapshot that met the swap fails with one line that
says so, and leaves no archive; the others succeed (docs/snapshots.md,
"What a snapshot holds")."""
import ctypes
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node  # noqa: E402
from bakutil import read_members  # noqa: E402
from tap import run  # noqa: E402

MARKER = b"OUTSIDE-THE-FILES-ROOT-7f3a9c"
SNAPSHOTS = 40

# renameat2(RENAME_EXCHANGE): each name always exists, as the folder or as
# the symlink; the parked name starts with "." so the walk never lists it.
SWAPPER = r"""
import ctypes, os, random, sys, time
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
pairs = [(a.encode(), b.encode()) for a, b in zip(sys.argv[2::2], sys.argv[3::2])]
stop, n = sys.argv[1], 0
while not os.path.exists(stop):
    for a, b in pairs:
        if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0:
            sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
    n += 1
    # Mostly flat out, now and then a pause so that some snapshots see a
    # calm tree.
    if n % 20 == 0:
        time.sleep(random.uniform(0, 0.05))
print(n)
"""


def exchange(a, b):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.renameat2(-100, a.encode(), -100, b.encode(), 2) != 0:
        raise OSError(ctypes.get_errno(), "renameat2")


def main(t):
    n = Node("swap1")
    n.start()
    try:
        outside = n.path("outside")
        os.makedirs(outside)
        with open(os.path.join(outside, "secret.txt"), "wb") as f:
            f.write(MARKER + b"\n")
        with open(os.path.join(outside, "only-outside.txt"), "wb") as f:
            f.write(MARKER + b" too\n")
        # The names of the folders swapped, so that every path the walk
        # found inside still resolves through the symlink.
        for i in range(40):
            with open(os.path.join(outside, f"f{i:02}.txt"), "wb") as f:
                f.write(MARKER + b" %d\n" % i)
        pairs = []
        for rel in ("data", os.path.join("top", "inner")):
            d = os.path.join(n.files, rel)
            os.makedirs(d)
            # The same names as outside/, and enough files that the walk
            # and the copy take a while.
            with open(os.path.join(d, "secret.txt"), "w") as f:
                f.write("inside\n")
            for i in range(40):
                with open(os.path.join(d, f"f{i:02}.txt"), "w") as f:
                    f.write(f"file {i}\n" * 200)
            park = os.path.join(os.path.dirname(d), ".swap-" + os.path.basename(d))
            os.symlink(outside, park)
            pairs += [d, park]

        stop = n.path("stop-swapper")
        sw = subprocess.Popen([sys.executable, "-c", SWAPPER, stop] + pairs,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ok_names, failed = [], []
        try:
            time.sleep(0.2)
            for i in range(SNAPSHOTS):
                rc, out, err = n.nb("backup", "snapshot", f"race{i}")
                if rc == 0:
                    ok_names.append(f"race{i}")
                else:
                    failed.append((f"race{i}", err.strip()))
        finally:
            open(stop, "w").close()
            so, se = sw.communicate(timeout=30)
        t.ok(sw.returncode == 0 and int(so or 0) > 100,
             f"the swapper kept exchanging the folders ({so.strip()} rounds)", se)

        leaked, with_data = [], 0
        for name in ok_names:
            members = read_members(os.path.join(n.files, "backups", name + ".bak"))
            for m, data in members:
                if data and MARKER in data:
                    leaked.append(f"{name}.bak:{m.name}")
                if m.name.startswith("files/data/") or m.name.startswith("files/top/inner/"):
                    with_data += 1
        t.ok(not leaked, "no archive holds a file from outside the files root",
             ", ".join(leaked[:10]))
        t.ok(len(ok_names) > 0 and with_data > 0,
             f"{len(ok_names)} of {SNAPSHOTS} snapshots succeeded, "
             f"{with_data} members from the swapped folders archived")
        bad = [(nm, e) for nm, e in failed
               if "became a symlink during the snapshot" not in e or "\n" in e]
        t.ok(not bad, f"{len(failed)} snapshots that met the swap failed with "
             "one line naming the folder that became a symlink", repr(bad[:3]))
        if failed:
            t.diag(failed[0][1])
        t.ok(all(not os.path.exists(os.path.join(n.files, "backups", nm + ".bak"))
                 for nm, _ in failed), "a failed snapshot leaves no archive")

        # Without a swapper the same tree snapshots cleanly.
        for a, b in zip(pairs[0::2], pairs[1::2]):
            if os.path.islink(a):
                exchange(a, b)
        rc, out, err = n.nb("backup", "snapshot", "calm")
        members = read_members(os.path.join(n.files, "backups", "calm.bak")) if rc == 0 else []
        names = {m.name for m, _ in members}
        t.ok(rc == 0 and "files/data/secret.txt" in names and
             "files/top/inner/f39.txt" in names and
             not any(d and MARKER in d for _, d in members),
             "a calm snapshot holds both folders and nothing from outside", err)
    finally:
        n.cleanup()


run(main)
