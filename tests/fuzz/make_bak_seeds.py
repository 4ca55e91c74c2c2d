#!/usr/bin/env python3
"""make_bak_seeds.py: make fuzz_bak's seed archives, signed by the TEST-ONLY
key tests/fuzz/TEST-ONLY-signing.key, with a scratch node (the real
snapshotd, its signing key replaced by the test key before its first
start): corpus/bak/seed-signed-empty.bak (an empty files root) and
corpus/bak/seed-signed-files.bak (a few files and folders) and
corpus/bak/seed-signed-pax.bak (names that need pax headers). Run from the
source tree after `make all`; tests/fuzz.t checks that every seed passes
the signature check."""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from node import Node  # noqa: E402

KEY = os.path.join(HERE, "TEST-ONLY-signing.key")
OUT = os.path.join(HERE, "corpus", "bak")


def make(name, files):
    n = Node("fuzzseed")
    try:
        os.makedirs(n.state, exist_ok=True)
        shutil.copy(KEY, os.path.join(n.state, "signing.key"))
        os.chmod(os.path.join(n.state, "signing.key"), 0o600)
        subprocess.run(["openssl", "pkey", "-in", KEY, "-pubout", "-out",
                        os.path.join(n.state, "signing.pub")], check=True)
        for rel, data in files.items():
            p = os.path.join(n.files, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(data)
        n.start()
        rc, out, err = n.nb("backup", "snapshot", "seed")
        if rc != 0:
            sys.exit(f"make_bak_seeds: snapshot: {err.strip()}")
        shutil.copy(os.path.join(n.files, "backups", "seed.bak"),
                    os.path.join(OUT, name))
    finally:
        n.cleanup()


def main():
    os.makedirs(OUT, exist_ok=True)
    make("seed-signed-empty.bak", {})
    make("seed-signed-files.bak", {
        "licences/cms.lic": "licence: base\n",
        "node.cer": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "deep/a/b/c.txt": "c\n" * 10,
        "empty.txt": "",
    })
    make_pax()


def make_pax():
    """corpus/bak/seed-signed-pax.bak: pax extended headers (a 236-byte
    file path, a 131-byte folder), MANIFEST version 2."""
    make("seed-signed-pax.bak", {
        "deep/" + "p" * 120 + "/" + "q" * 100 + ".txt": "long\n",
    })


if __name__ == "__main__":
    main()
