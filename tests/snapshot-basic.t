#!/usr/bin/env python3
"""snapshot-basic.t: the console's backup/pki/key commands against a real
daemon: answers, errors, usage blocks, the .json beside each .bak, and
identical MANIFEST member lines for two snapshots of an unchanged node."""
import hashlib
import json
import os
import subprocess
import sys
import tarfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node, BIN, TOP  # noqa: E402
from tap import run  # noqa: E402


def manifest_of(path):
    with tarfile.open(path, "r:gz") as tf:
        return tf.extractfile("MANIFEST").read().decode()


def main(t):
    n = Node("basic1")
    subprocess.run(["sh", os.path.join(TOP, "scripts", "mkcerts.sh"),
                    n.files, "expired"], check=True)
    n.start()
    try:
        rc, out, err = n.nb("backup", "snapshot", "nightly")
        t.eq((rc, out), (0, "nightly.bak ready for download\n"), "snapshot answers as the reference")
        bak = os.path.join(n.files, "backups", "nightly.bak")
        t.ok(os.path.isfile(bak), "nightly.bak is in backups/")
        rc, out, err = n.nb("backup", "snapshot", "nightly")
        t.ok(rc == 1 and "already exists" in err and out == "", "existing name is an error, not an overwrite", err)
        rc, out, err = n.nb("backup", "snapshot", "weekly.bak")
        t.eq((rc, out), (0, "weekly.bak ready for download\n"), "a name given with .bak means the snapshot without it")
        t.ok(os.path.isfile(os.path.join(n.files, "backups", "weekly.bak")) and
             not os.path.exists(os.path.join(n.files, "backups", "weekly.bak.bak")), "weekly.bak, not weekly.bak.bak",
             os.listdir(os.path.join(n.files, "backups")))
        rc, out, err = n.nb("backup", "snapshot", "nightly.bak")
        t.ok(rc == 1 and "nightly.bak already exists" in err, "nightly.bak names the existing nightly", err)
        for bad in [".hidden", "a/b", "x" * 65, "sp ace", "é"]:
            rc, out, err = n.nb("backup", "snapshot", bad)
            t.ok(rc != 0 and err.count("\n") == 1, f"bad name {bad!r} refused with one line", err)
        rc, out, err = n.nb("backup", "snapshot")
        t.ok(rc == 2 and err.startswith("Usage:\n  backup snapshot <name>\n"), "missing argument prints Usage:", err)
        rc, out, err = n.nb("backup", "frobnicate")
        t.ok(rc == 2 and "Usage:" in err and "backup list" in err, "unknown subcommand prints the group's usage")
        rc, out, err = n.nb("bogus")
        t.ok(rc == 2 and "unknown command" in err, "unknown command")

        # The .json holds what an archiving tool needs.
        with open(bak, "rb") as f:
            data = f.read()
        meta = json.load(open(bak[:-4] + ".json"))
        t.eq(meta["size"], len(data), ".json size matches the .bak")
        t.eq(meta["sha256"], hashlib.sha256(data).hexdigest(), ".json sha256 matches the .bak")
        t.eq(meta["node"]["name"], "basic1", ".json names the node")
        rc, out, _ = n.nb("key", "show")
        t.ok(rc == 0 and meta["key_id"] in out and "BEGIN PUBLIC KEY" in out, "key show prints the id and PEM key")
        paths = [m["path"] for m in meta["members"]]
        t.ok("db/node.db" in paths and "config/nodebak.conf" in paths and
             "cluster/cluster.conf" in paths and "files/dbclusterserver.key" in paths and
             not any(p.startswith("files/backups") for p in paths), ".json member list: db, config, cluster, certificates and keys, no backups", paths)

        # The tar layout is what docs/bak-format.md says.
        with tarfile.open(bak, "r:gz") as tf:
            mem = tf.getmembers()
        t.eq([m.name for m in mem[:2]], ["MANIFEST", "MANIFEST.sig"], "MANIFEST and its signature come first")
        t.ok(all(m.uid == 0 and m.gid == 0 and m.uname == "" for m in mem), "members owned by 0/0, no names")
        t.ok(len({m.mtime for m in mem}) == 1, "one fixed mtime for every member")
        t.eq(data[4:8], b"\0\0\0\0", "gzip header has no timestamp")
        names = [m.name for m in mem[2:]]
        t.eq(names, sorted(names, key=lambda s: s.encode()), "members in bytewise order")
        # The private signing key never leaves the state folder.
        sk = open(os.path.join(n.state, "signing.key"), "rb").read()
        with tarfile.open(bak, "r:gz") as tf:
            blobs = [tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()]
        t.ok(not any(sk.strip() in b for b in blobs), "signing key is not in the archive")
        t.eq(oct(os.stat(os.path.join(n.state, "signing.key")).st_mode & 0o777), "0o600", "signing key mode 0600")

        # Determinism: an unchanged node gives identical member lines.
        rc, _, _ = n.nb("backup", "snapshot", "again")
        lines1 = [l for l in manifest_of(bak).splitlines() if l.startswith(("file ", "dir "))]
        lines2 = [l for l in manifest_of(os.path.join(n.files, "backups", "again.bak")).splitlines() if l.startswith(("file ", "dir "))]
        t.ok(rc == 0 and lines1 == lines2 and len(lines1) >= 8, "two snapshots of an unchanged node: identical MANIFEST member lines")

        rc, out, _ = n.nb("backup", "list")
        t.ok(rc == 0 and "nightly.bak" in out and "again.bak" in out and "(this node)" in out, "backup list shows both, signer this node", out)
        rc, out, _ = n.nb("backup", "verify", "nightly.bak")
        t.ok(rc == 0 and "OK" in out, "backup verify OK", out)
        rc, out, err = n.nb("backup", "verify", "missing.bak")
        t.ok(rc == 1 and "no such backup" in err, "verify of a missing backup")
        rc, out, _ = n.nb("backup", "delete", "again.bak")
        t.ok(rc == 0 and not os.path.exists(os.path.join(n.files, "backups", "again.bak"))
             and not os.path.exists(os.path.join(n.files, "backups", "again.json")), "delete removes .bak and .json")

        # pki
        rc, out, _ = n.nb("pki", "list")
        t.ok(rc == 0 and out.startswith("User supplied certificates and keys:\n") and "dbclusterclient.cer" in out, "pki list", out)
        rc, out, _ = n.nb("pki", "inspect", "dbclusterclient.cer")
        t.ok(rc == 0 and "Not After : Jan  1 00:00:00 2021 GMT" in out and "EXPIRED" in out and "CN=postgres" in out
             and "Public-Key: (2048 bit)" in out and "Serial Number:" in out, "pki inspect shows dates, subject, key and expiry", out)
        rc, out, _ = n.nb("pki", "inspect", "dbclusterserver.key")
        t.ok(rc == 0 and "private key" in out, "pki inspect describes a key as a key")
        with open(os.path.join(n.files, "notes.txt"), "w") as f:
            f.write("hello\n")
        rc, out, err = n.nb("pki", "inspect", "notes.txt")
        t.ok(rc == 1 and "not a certificate" in err and err.count("\n") == 1, "pki inspect of another file: one clear line", err)
        rc, out, err = n.nb("pki", "inspect", "../nodebak.conf")
        t.ok(rc == 1 and err.count("\n") == 1, "pki inspect refuses paths outside the files root", err)
        rc, out, _ = n.nb("database", "cluster", "status")
        t.ok(rc == 0 and "Status                   : Disabled" in out, "cluster status", out)

        # A readonly console may list and inspect, not snapshot or delete.
        p = subprocess.run([os.path.join(BIN, "nodebak"), "-c", n.conf, "--role", "readonly",
                            "backup", "snapshot", "ro"], capture_output=True, text=True)
        t.ok(p.returncode == 1 and "readonly" in p.stderr, "readonly role cannot snapshot", p.stderr)
        p = subprocess.run([os.path.join(BIN, "nodebak"), "-c", n.conf, "--role", "readonly",
                            "backup", "list"], capture_output=True, text=True)
        t.ok(p.returncode == 0 and "nightly.bak" in p.stdout, "readonly role can list")

        # Interactive session with the node's name as the prompt.
        p = subprocess.run([os.path.join(BIN, "nodebak"), "-c", n.conf], input="backup list\nexit\n",
                           capture_output=True, text=True, timeout=30)
        t.ok(p.returncode == 0 and p.stdout.startswith("basic1> ") and "nightly.bak" in p.stdout, "interactive console", p.stdout)
        p = subprocess.run([os.path.join(BIN, "nodebak"), "--version"], capture_output=True, text=True)
        t.ok(p.returncode == 0 and p.stdout.startswith("nodebak "), "--version")
    finally:
        n.cleanup()


run(main)
