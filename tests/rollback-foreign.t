#!/usr/bin/env python3
"""rollback-foreign.t: an archive taken on another node is refused, and the
node left unchanged, without --force node, and while its signing key is not
trusted even with --force node; after `nodebak key trust` of the other
node's key (its key show output) plus --force node it is restored."""
import os
import shutil
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from bakutil import read_members  # noqa: E402
from node import Node  # noqa: E402
from nodestate import Arch, db_rows, folder_hash, gz, snapshot_of  # noqa: E402
from tap import run  # noqa: E402


def put(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def main(t):
    a = Node("rb-foreign-a")
    b = Node("rb-foreign-b")
    for n in (a, b):
        put(os.path.join(n.files, "cms.lic"), f"licence of {n.name}\n")
        put(os.path.join(n.files, "certs", f"{n.name}.cer"), f"certificate of {n.name}\n")
        n.start()
    try:
        for n in (a, b):
            con = sqlite3.connect(n.db)
            con.execute("INSERT INTO node_meta VALUES ('hostname', ?)", (n.name,))
            con.execute("INSERT INTO users VALUES (1, ?, 'Admin')", (f"admin@{n.name}",))
            con.commit()
            con.close()
        rc, _, err = b.nb("backup", "snapshot", "fromb")
        t.ok(rc == 0, "snapshot on node b", err)
        want = snapshot_of(b)
        for ext in ("bak", "json"):
            shutil.copy(os.path.join(b.files, "backups", f"fromb.{ext}"),
                        os.path.join(a.files, "backups"))
        rc, _, err = a.nb("backup", "snapshot", "a-own")
        t.ok(rc == 0, "snapshot on node a (so its work folders exist)", err)
        before = snapshot_of(a)
        h0 = folder_hash(a)

        def unchanged(label):
            t.ok(snapshot_of(a) == before and folder_hash(a) == h0,
                 f"{label}: node a unchanged")

        # Untrusted key: refused, with or without --force node.
        rc, out, err = a.nb("backup", "rollback", "fromb.bak", "--yes")
        t.ok(rc != 0 and "does not trust" in err and "nodebak key trust" in err and
             "The node was not changed" in err, "untrusted key, no --force: refused", err)
        unchanged("untrusted, no --force")
        rc, out, err = a.nb("backup", "rollback", "fromb.bak", "--yes", "--force", "node")
        t.ok(rc != 0 and "does not trust" in err, "untrusted key with --force node: still refused", err)
        unchanged("untrusted, --force node")

        # Trusted key but another node: refused without --force node.
        # The operator's way: node b's key show output (its Node line says
        # which node the key is trusted for).
        rc, show, err = b.nb("key", "show")
        put(os.path.join(a.root, "b.key"), show)
        rc, out, err = a.nb("key", "trust", os.path.join(a.root, "b.key"))
        t.ok(rc == 0 and "trusted for node rb-foreign-b" in out, "key trust of node b's key show output", out + err)
        h0 = folder_hash(a, skip=())  # the trusted key is now part of the state
        rc, out, err = a.nb("backup", "rollback", "fromb.bak", "--yes")
        t.ok(rc != 0 and "was taken on node rb-foreign-b" in err and "--force node" in err and
             "The node was not changed" in err, "trusted, other node, no --force: refused", err)
        unchanged("trusted, no --force")
        for wrong in ("version", "schema"):
            rc, out, err = a.nb("backup", "rollback", "fromb.bak", "--yes", "--force", wrong)
            t.ok(rc != 0 and "--force node" in err, f"--force {wrong} does not cover another node", err)
            unchanged(f"--force {wrong}")
        t.ok(not [f for f in os.listdir(os.path.join(a.files, "backups"))
                  if f.startswith("pre-rollback-")], "refused rollbacks took no safety snapshot")

        # Trusted and forced: restored.
        rc, out, err = a.nb("backup", "rollback", "fromb.bak", "--yes", "--force", "node")
        t.ok(rc == 0 and "Restored from fromb.bak" in out and "node rb-foreign-b" in out,
             "trusted key plus --force node: restored", out + err)
        got = snapshot_of(a)
        t.eq(got["db"], want["db"], "database of node b, row by row")
        t.eq(got["files"], want["files"], "files of node b, byte for byte, none of node a's")
        t.eq(got["conf"], want["conf"], "configuration of node b")
        t.eq(got["cluster"]["status"], "Disabled", "cluster status Disabled")
        rc, out, _ = a.nb("backup", "list")
        t.ok(rc == 0 and "pre-rollback-" in out and "fromb.bak" in out, "safety snapshot listed", out)

        # This node's own archive, signed by it, from another software
        # version or with another database schema: refused unless --force
        # names that reason.
        rc, _, err = a.nb("backup", "snapshot", "own")
        members = read_members(os.path.join(a.files, "backups", "own.bak"))
        arch = Arch(members, members[0][1]).set_head("software", "nodebak 9.9.9")
        with open(os.path.join(a.files, "backups", "newer.bak"), "wb") as f:
            f.write(gz(arch.tar(a)))
        dbdata = next(d for i, d in members if i.name == "db/node.db")
        with tempfile.NamedTemporaryFile(suffix=".db") as tmp:
            tmp.write(dbdata)
            tmp.flush()
            con = sqlite3.connect(tmp.name)
            con.execute("PRAGMA user_version = 2")
            con.commit()
            con.close()
            dbdata2 = open(tmp.name, "rb").read()
        arch = Arch(members, members[0][1]).set_head("schema", "2").replace("db/node.db", dbdata2)
        with open(os.path.join(a.files, "backups", "schema2.bak"), "wb") as f:
            f.write(gz(arch.tar(a)))
        for file, reason, words in [("newer.bak", "version", "taken by nodebak 9.9.9"),
                                    ("schema2.bak", "schema", "has database schema 2")]:
            rc, out, err = a.nb("backup", "verify", file)
            t.ok(rc == 0, f"{file}: verifies (well-formed, signed by this node)", out + err)
            before = snapshot_of(a)
            for force in ([], ["--force", "node"], ["--force", "version" if reason == "schema" else "schema"]):
                rc, out, err = a.nb("backup", "rollback", file, "--yes", *force)
                t.ok(rc != 0 and words in err and f"--force {reason}" in err and
                     "The node was not changed" in err,
                     f"{file} {' '.join(force) or 'without --force'}: refused", err)
                t.ok(snapshot_of(a) == before, f"{file} {' '.join(force) or 'without --force'}: unchanged")
            rc, out, err = a.nb("backup", "rollback", file, "--yes", "--force", reason)
            t.ok(rc == 0 and f"Restored from {file}" in out, f"{file} --force {reason}: restored", out + err)
        t.eq(db_rows(a.db)["user_version"], 2, "--force schema restored the schema-2 database")
    finally:
        a.cleanup()
        b.cleanup()


run(main)
