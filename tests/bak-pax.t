#!/usr/bin/env python3
"""bak-pax.t: a node whose files root holds a file under a 200+ byte path
(and a folder over 100 bytes) snapshots into a MANIFEST version 2 archive
whose long members carry nodebak's pax extended headers
(docs/bak-format.md); `nodebak verify` and `backup verify` accept it, GNU
tar and the openssl recipe read it with the full names, and a rollback
restores the file; tests/tools/verify_bak.py, written from the document,
accepts it. A node without such names still writes version 1. A sealed
node's archive (pax headers inside the age payload) verifies and rolls
back the same."""
import gzip
import hashlib
import io
import os
import subprocess
import sys
import tarfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import BIN, TOP, Node  # noqa: E402
from tap import run  # noqa: E402

DIR = "deep/" + "d" * 120		# files/deep/ddd...: 131 bytes
NAME = DIR + "/" + "é" * 20 + "f" * 60 + ".txt"	# files/...: 236 bytes, not all ASCII


def manifest_of(bak):
    with tarfile.open(fileobj=io.BytesIO(gzip.open(bak).read())) as tf:
        return tf.extractfile("MANIFEST").read().decode()


def main(t):
    n = Node("pax1")
    os.makedirs(os.path.join(n.files, DIR))
    long_file = os.path.join(n.files, NAME)
    with open(long_file, "w") as f:
        f.write("long name\n" * 100)
    with open(os.path.join(n.files, "cms.lic"), "w") as f:
        f.write("licence\n")
    n.start()
    try:
        rc, _, err = n.nb("backup", "snapshot", "short")
        t.ok(rc == 0, "snapshot before the long names", err)
        rc, _, err = n.nb("backup", "snapshot", "long")
        t.ok(rc == 0, "snapshot of a 236-byte path", err)
        bak = os.path.join(n.files, "backups", "long.bak")
        mf = manifest_of(bak)
        t.ok(mf.startswith("nodebak-manifest 2\n") and
             ("0644 files/" + NAME + "\n") in mf and ("dir 0755 files/" + DIR + "\n") in mf,
             "MANIFEST version 2 lists the long file and folder", mf[:200])
        raw = gzip.open(bak).read()
        t.ok(raw.count(b"././@PaxHeader\0") == 2 and b"path=files/" + NAME.encode() + b"\n" in raw,
             "two pax headers, one with the file's path record")
        pub = os.path.join(n.state, "signing.pub")
        p = subprocess.run([os.path.join(BIN, "nodebak"), "verify", bak, "--key", pub],
                           capture_output=True, text=True, timeout=120)
        t.ok(p.returncode == 0, "nodebak verify accepts it", p.stdout + p.stderr)
        p = subprocess.run([sys.executable, os.path.join(TOP, "tests", "tools", "verify_bak.py"),
                            bak, pub], capture_output=True, text=True)
        t.eq(p.stdout, "OK\n", "the independent verifier (docs/bak-format.md's pax header) accepts it")
        rc, out, err = n.nb("backup", "verify", "long.bak")
        t.ok(rc == 0, "backup verify accepts it", out + err)
        p = subprocess.run(["tar", "-tzf", bak], capture_output=True, text=True)
        t.ok(p.returncode == 0 and ("files/" + NAME) in p.stdout.splitlines() and
             ("files/" + DIR + "/") in p.stdout.splitlines(),
             "GNU tar lists the full names", p.stdout + p.stderr)
        rc, out, err = n.nb("key", "show")
        keyshow = n.path("keyshow")
        open(keyshow, "w").write(out)
        p = subprocess.run(["sh", os.path.join(TOP, "scripts", "verify-openssl.sh"), bak, keyshow],
                           capture_output=True, text=True, timeout=120)
        t.ok(p.returncode == 0 and "OK" in p.stdout, "scripts/verify-openssl.sh accepts it",
             p.stdout + p.stderr)
        # Rollback: the long file changed, then restored.
        want = hashlib.sha256(open(long_file, "rb").read()).hexdigest()
        with open(long_file, "w") as f:
            f.write("changed\n")
        rc, out, err = n.nb("backup", "rollback", "long.bak", "--yes")
        t.ok(rc == 0, "rollback to the archive", out + err)
        t.ok(os.path.exists(long_file) and
             hashlib.sha256(open(long_file, "rb").read()).hexdigest() == want,
             "the file under the long path is restored")
        # Without the long names: version 1 again.
        import shutil
        shutil.rmtree(os.path.join(n.files, "deep"))
        rc, _, err = n.nb("backup", "snapshot", "again")
        t.ok(rc == 0 and manifest_of(os.path.join(n.files, "backups", "again.bak"))
             .startswith("nodebak-manifest 1\n"), "no long name: MANIFEST version 1", err)
        # A path beyond 1024 bytes is refused by name.
        deep = os.path.join(n.files, *(["e" * 200] * 6))
        os.makedirs(deep)
        rc, out, err = n.nb("backup", "snapshot", "toolong")
        t.ok(rc != 0 and "longer than the archive allows (1018 bytes under the files root)" in out + err,
             "a path over 1024 bytes is refused by name", out + err)
    finally:
        n.cleanup()
    # Sealed: the format 1 archive inside has the pax headers.
    s = Node("pax2")
    s.seal()
    os.makedirs(os.path.join(s.files, DIR))
    long_file = os.path.join(s.files, NAME)
    with open(long_file, "w") as f:
        f.write("sealed long name\n")
    s.start()
    try:
        rc, _, err = s.nb("backup", "snapshot", "sealed")
        t.ok(rc == 0, "sealed snapshot of the long path", err)
        rc, out, err = s.nb("backup", "verify", "sealed.bak")
        t.ok(rc == 0 and "OK" in out, "backup verify opens and checks it", out + err)
        with open(long_file, "w") as f:
            f.write("changed\n")
        rc, out, err = s.nb("backup", "rollback", "sealed.bak", "--yes")
        t.ok(rc == 0 and open(long_file).read() == "sealed long name\n",
             "rollback from the sealed archive restores the file", out + err)
    finally:
        s.cleanup()


run(main)
