#!/usr/bin/env python3
"""bak-spec.t: an independent verifier written from docs/bak-format.md
(tests/tools/verify_bak.py) accepts what the daemon writes and rejects a
changed member: the document is enough to check an archive."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from bakutil import pack, read_members  # noqa: E402
from node import Node  # noqa: E402
from tap import run  # noqa: E402

TOOL = os.path.join(os.path.dirname(__file__), "tools", "verify_bak.py")


def main(t):
    n = Node("spec1")
    os.makedirs(os.path.join(n.files, "certs"))
    with open(os.path.join(n.files, "certs", "a b.cer"), "w") as f:
        f.write("x" * 1000)
    with open(os.path.join(n.files, "cms.lic"), "w") as f:
        f.write("licence\n")
    n.start()
    try:
        rc, _, err = n.nb("backup", "snapshot", "spec")
        t.ok(rc == 0, "snapshot", err)
        bak = os.path.join(n.files, "backups", "spec.bak")
        pub = os.path.join(n.state, "signing.pub")
        p = subprocess.run([sys.executable, TOOL, bak, pub], capture_output=True, text=True)
        t.eq(p.stdout, "OK\n", "the independent verifier accepts the daemon's archive")
        members = read_members(bak)
        changed = [(i, d if i.name != "cms.lic" and i.name != "files/cms.lic" else b"LICENCE\n")
                   for i, d in members]
        bad = os.path.join(n.root, "bad.bak")
        open(bad, "wb").write(pack(changed))
        p = subprocess.run([sys.executable, TOOL, bad, pub], capture_output=True, text=True)
        t.ok(p.returncode == 1 and "files/cms.lic" in p.stdout, "and rejects a changed member", p.stdout)
    finally:
        n.cleanup()


run(main)
