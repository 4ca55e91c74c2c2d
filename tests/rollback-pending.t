#!/usr/bin/env python3
"""rollback-pending.t: a rollback that fails after its commit point (the
database folder on a full tmpfs, so the journal's copy of the staged
database gets ENOSPC) leaves a pending journal. The review's attack was a
second `backup rollback` at that moment: it wiped the pending journal's
staging folder and wrote its own members into it, and the next start
installed them unverified. Here every variant of that retry (one altered
member, an untrusted key, a truncated archive) and every other operation
that changes the node (snapshot, delete, cluster command) is refused with
the reason and what to do, the staging folder is untouched, and no archive
is taken of the part-restored node. With room again, the next command
(or a restart) completes the rollback first: the node is then wholly in
the archive's state and the daemon runs. A staged file altered while the
journal is pending is never installed: the daemon does not start, saying
which file, until the staged file is right again. Skipped when tmpfs
cannot be mounted (not root)."""
import hashlib
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from bakutil import read_members  # noqa: E402
from node import BIN, Node  # noqa: E402
from nodestate import Arch, gz, snapshot_of, tree  # noqa: E402
from scenario import add_blobs, fill, snapshot  # noqa: E402
from tap import run  # noqa: E402

def put(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def change_node(n, round_):
    """Move the node away from the archive's state."""
    put(os.path.join(n.files, "cms.lic"), f"licence: renewed {round_}\n")
    put(os.path.join(n.files, "renewal", "csr.pem"), f"csr {round_}\n")
    con = sqlite3.connect(n.db)
    con.execute("DELETE FROM blobs WHERE id % 2 = 0")
    con.execute("INSERT INTO users VALUES (?, ?, ?)",
                (100 + round_, f"u{round_}@example.com", "New"))
    con.commit()
    con.close()


def journal_stage(n):
    """The staging folder the pending journal names (its line 3, hex)."""
    with open(os.path.join(n.state, "rollback.journal")) as f:
        lines = f.read().splitlines()
    if not lines[2].startswith("stage "):	# format 1 had one fixed folder
        return os.path.join(n.state, "work", "rollback-stage")
    return bytes.fromhex(lines[2].split(" ", 1)[1]).decode()


def stage_hash(path):
    return hashlib.sha256(repr(sorted(tree(path, skip_top=()).items())).encode()).hexdigest()


def same_as(now, want):
    """Database rows, files and configuration equal; a short diff."""
    diff = [k for k in ("db", "files", "conf") if now[k] != want[k]]
    return not diff, f"differs in: {diff}"


def main(t):
    n = Node("rb-pending")
    other = Node("rb-pending-other")
    dbdir = os.path.dirname(n.db)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", dbdir],
                       capture_output=True, text=True)
    if p.returncode != 0:
        n.cleanup()
        other.cleanup()
        t.skip_all(f"cannot mount a tmpfs: {p.stderr.strip()}")
    try:
        subprocess.run([os.path.join(BIN, "nodebak-snapshotd"), "-c", other.conf, "--init"],
                       check=True, capture_output=True)
        os.makedirs(os.path.join(n.files, "certs"))
        put(os.path.join(n.files, "cms.lic"), "licence: base\n")
        put(os.path.join(n.files, "certs", "server.cer"), "certificate of the snapshot\n")
        n.start()
        add_blobs(n.db, 600, 2048, "INSERT INTO users VALUES (1, 'alice@example.com', 'Alice');")
        A = snapshot(t, n)
        bk = os.path.join(n.files, "backups")
        base = os.path.join(bk, "base.bak")
        members = read_members(base)
        manifest = members[0][1]

        # The three retries of the review, each a .bak in backups/.
        a = Arch(members, manifest)
        k = next(k for k, (i, _) in enumerate(a.entries) if i.name == "files/cms.lic")
        evil = b"licence: EVIL, in no signed MANIFEST\n"
        a.entries[k] = (a.ti("files/cms.lic", data=evil), evil)	# MANIFEST line kept
        with open(os.path.join(bk, "altered.bak"), "wb") as f:
            f.write(gz(a.tar(n)))
        a = Arch(members, manifest).replace("files/cms.lic", evil)
        with open(os.path.join(bk, "untrusted.bak"), "wb") as f:
            f.write(gz(a.tar(other)))			# signed, by a key B does not trust
        with open(base, "rb") as f:
            data = f.read()
        with open(os.path.join(bk, "truncated.bak"), "wb") as f:
            f.write(data[:len(data) // 2])
        retries = ("altered.bak", "untrusted.bak", "truncated.bak")
        # Control: on a node with no pending rollback, each is refused by
        # its content (so the refusals below are the pending journal's).
        for name in retries:
            rc, out, err = n.nb("backup", "verify", name)
            t.ok(rc != 0 and "FAILED" in err, f"control: {name} fails verification on its own", out + err)

        def make_pending(round_):
            change_node(n, round_)
            before = snapshot_of(n)
            filler = fill(dbdir, os.path.getsize(n.db) // 3)
            rc, out, err = n.nb("backup", "rollback", "base.bak", "--yes", "--no-safety-snapshot")
            t.ok(rc != 0 and "committed but not complete" in err and "No space left" in err,
                 f"round {round_}: the rollback fails after its commit point, says so and why", out + err)
            t.ok(os.path.exists(os.path.join(n.state, "rollback.journal")),
                 f"round {round_}: its journal is pending")
            mixed = snapshot_of(n)
            t.ok(mixed != A and mixed != before, f"round {round_}: the node is part restored (the case to guard)")
            return filler

        filler = make_pending(1)
        stage = journal_stage(n)
        t.ok(os.path.isdir(stage) and stage.startswith(os.path.join(n.state, "work", "rollback-stage-")),
             "the journal names its own staging folder", stage)
        h_stage = stage_hash(stage)
        rc, out, err = n.nb("backup", "list")
        t.ok(rc == 0 and "committed but not complete" in out, "backup list says the node is part restored", out + err)

        # 1-3: the review's retries, all refused before anything is read.
        for name in retries:
            rc, out, err = n.nb("backup", "rollback", name, "--yes")
            t.ok(rc != 0 and "backup rollback: refused: the rollback from base.bak is committed "
                 "but not complete" in err and "fix the cause" in err,
                 f"retry with {name}: refused, naming the pending rollback and what to do", out + err)
            t.eq(journal_stage(n), stage, f"retry with {name}: the journal is the same")
            t.eq(stage_hash(stage), h_stage, f"retry with {name}: its staging folder is untouched")
            t.ok(not any(d.startswith("rollback-stage-") and os.path.join(n.state, "work", d) != stage
                         for d in os.listdir(os.path.join(n.state, "work"))),
                 f"retry with {name}: no second staging folder")
        # 4-6: nothing else changes the node either; no archive of it.
        listing = sorted(os.listdir(bk))
        rc, out, err = n.nb("backup", "snapshot", "mixed")
        t.ok(rc != 0 and "refused" in err and "committed but not complete" in err,
             "backup snapshot of the part-restored node: refused", out + err)
        rc, out, err = n.nb("backup", "delete", "altered.bak")
        t.ok(rc != 0 and "refused" in err, "backup delete: refused", out + err)
        rc, out, err = n.nb("database", "cluster", "initialize")
        t.ok(rc != 0 and "refused" in err and "committed but not complete" in err,
             "database cluster initialize: refused", out + err)
        t.eq(sorted(os.listdir(bk)), listing, "no archive appeared, none was deleted")
        t.eq(stage_hash(stage), h_stage, "the staging folder is still untouched")

        # With room again, the next command completes the rollback first.
        os.unlink(filler)
        rc, out, err = n.nb("backup", "snapshot", "after")
        t.ok(rc == 0 and "has been completed" in out and "after.bak ready" in out,
             "with room: the next command completes the rollback, then runs", out + err)
        now = snapshot_of(n)
        t.ok(same_as(now, A)[0], "the node is wholly in the archive's state (database rows, files, "
             "configuration)", same_as(now, A)[1])
        t.eq(now["cluster"].get("status"), "Disabled", "cluster settings restored and out of the cluster")
        t.ok(not os.path.exists(stage) and not os.path.exists(os.path.join(n.state, "rollback.journal")),
             "journal and staging folder gone")
        rc, out, err = n.nb("backup", "verify", "after.bak")
        t.ok(rc == 0, "the snapshot taken after it verifies", out + err)
        rc, out, err = n.nb("backup", "list")
        t.ok("completed after a failure past its commit point" in out, "backup list says what happened", out)
        found = [r for r, v in tree(n.files).items() if v[0] == "file" and
                 open(os.path.join(n.files, r), "rb").read() == evil]
        t.eq(found, [], "the altered member's content is nowhere in the files root")

        # Round 2: completed by a restart instead.
        filler = make_pending(2)
        n.stop()
        os.unlink(filler)
        n.start()
        now = snapshot_of(n)
        t.ok(same_as(now, A)[0], "round 2: a restart completes it; the node is wholly in the archive's state",
             same_as(now, A)[1])
        t.ok("interrupted after its commit point and has been completed" in n.log(),
             "round 2: the log says so")

        # Round 3: a staged file altered while the journal is pending is not
        # installed, and the daemon says which.
        filler = make_pending(3)
        stage = journal_stage(n)
        staged_db = os.path.join(stage, "db", "node.db")
        with open(staged_db, "r+b") as f:
            f.seek(4096)
            b = f.read(1)
            f.seek(4096)
            f.write(bytes([b[0] ^ 0xff]))
        live_before = hashlib.sha256(open(n.db, "rb").read()).hexdigest() if os.path.exists(n.db) else None
        n.stop()
        os.unlink(filler)
        try:
            n.start(timeout=10)
            started = True
        except RuntimeError:
            started = False
        t.ok(not started and "does not hold the content the journal names" in n.log() and
             "db/node.db" in n.log(), "round 3: an altered staged database stops the start, naming it",
             n.log()[-600:])
        live_after = hashlib.sha256(open(n.db, "rb").read()).hexdigest() if os.path.exists(n.db) else None
        t.eq(live_after, live_before, "round 3: the altered file was not installed")
        with open(staged_db, "r+b") as f:
            f.seek(4096)
            f.write(b)
        n.start()
        now = snapshot_of(n)
        t.ok(same_as(now, A)[0], "round 3: with the staged file right again, the start completes it",
             same_as(now, A)[1])
    finally:
        n.stop()
        other.cleanup()
        subprocess.run(["umount", dbdir])
        n.cleanup()


run(main)
