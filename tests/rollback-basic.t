#!/usr/bin/env python3
"""rollback-basic.t: snapshot a node, change its database (several tables),
certificates and keys, configuration and cluster settings, then
`backup rollback`: everything is back (database row by row, every file byte
for byte, no extra file), the cluster settings say Disabled with the
rollback as last command, a listed and verifiable safety snapshot holds the
state before the rollback. Only a capital Y proceeds; lowercase y, an empty
line and end of input cancel and change nothing; clustering enabled is
refused with the reference's message; --no-safety-snapshot takes none."""
import glob
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node, TOP  # noqa: E402
from nodestate import cluster_fields, read, snapshot_of  # noqa: E402
from tap import run  # noqa: E402

CLUSTER_TEXT = """# written by the test
interface = a
server_key = dbclusterserver.key
server_cert = dbclusterserver.cer
client_key = dbclusterclient.key
client_cert = dbclusterclient.cer
ca_cert = CA.cer
error =
last_command = database cluster certs dbclusterserver.key dbclusterserver.cer
node_in_use =
master =
status = Disabled
since = 0
last_result = Success
"""


def write(path, text, mode=0o644):
    tmp = path + ".test-tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def set_cluster(n, **kv):
    lines = []
    for line in read(os.path.join(n.state, "cluster.conf")).splitlines():
        k = line.partition(" =")[0]
        if k in kv:
            line = f"{k} = {kv.pop(k)}".rstrip()
        lines.append(line)
    lines += [f"{k} = {v}" for k, v in kv.items()]
    write(os.path.join(n.state, "cluster.conf"), "\n".join(lines) + "\n", 0o600)


def fill_db(path):
    con = sqlite3.connect(path)
    con.executescript("""
        INSERT INTO node_meta VALUES ('hostname', 'cms1.example.com'), ('licence', 'base');
        INSERT INTO spaces VALUES (1, 'Board room', 'board', '1234'), (2, 'Lab', 'lab', NULL);
        INSERT INTO users VALUES (1, 'alice@example.com', 'Alice'), (2, 'bob@example.com', 'Bob');
        INSERT INTO call_legs VALUES (1, 1, 'sip:alice@example.com', 1700000000),
                                     (2, 2, 'sip:bob@example.com', 1700000100);
        CREATE TABLE dial_plan(rule TEXT PRIMARY KEY, priority INTEGER, blob BLOB);
        INSERT INTO dial_plan VALUES ('.*@example.com', 10, x'00ff10'), ('tel:.*', 20, NULL);
    """)
    con.commit()
    con.close()


def change_db(path):
    con = sqlite3.connect(path)
    con.executescript("""
        UPDATE node_meta SET value = 'premium' WHERE key = 'licence';
        INSERT INTO node_meta VALUES ('renewed', '2026-11-28');
        DELETE FROM spaces WHERE id = 2;
        UPDATE spaces SET passcode = '9999' WHERE id = 1;
        INSERT INTO users VALUES (3, 'carol@example.com', 'Carol');
        DELETE FROM call_legs;
        DROP TABLE dial_plan;
        CREATE TABLE new_feature(x INTEGER);
        INSERT INTO new_feature VALUES (42);
    """)
    con.commit()
    con.close()


def change_files(n):
    write(os.path.join(n.files, "dbclusterserver.cer"), "-----BEGIN CERTIFICATE-----\nbroken renewal\n"
          "-----END CERTIFICATE-----\n")
    write(os.path.join(n.files, "new.key"), "-----BEGIN PRIVATE KEY-----\nnew\n-----END PRIVATE KEY-----\n", 0o600)
    os.unlink(os.path.join(n.files, "CA.cer"))
    os.makedirs(os.path.join(n.files, "renewal"), exist_ok=True)
    write(os.path.join(n.files, "renewal", "csr.pem"), "csr\n")
    write(os.path.join(n.files, "licences", "cms.lic"), "licence: premium\n")
    with open(n.conf, "a") as f:
        f.write("# changed by the certificate renewal\n")
    set_cluster(n, server_cert="renewed.cer", ca_cert="", status="Error",
                error="certificate verify failed",
                last_command="database cluster initialize", last_result="Failed")


def pre_rollbacks(n):
    return sorted(os.path.basename(p) for p in
                  glob.glob(os.path.join(n.files, "backups", "pre-rollback-*.bak")))


def main(t):
    n = Node("rb-basic")
    subprocess.run(["sh", os.path.join(TOP, "scripts", "mkcerts.sh"), n.files, "valid"],
                   check=True)
    os.makedirs(os.path.join(n.files, "licences"))
    write(os.path.join(n.files, "licences", "cms.lic"), "licence: base\n")
    n.start()
    try:
        fill_db(n.db)
        write(os.path.join(n.state, "cluster.conf"), CLUSTER_TEXT, 0o600)
        rc, out, err = n.nb("backup", "snapshot", "before")
        t.eq((rc, out), (0, "before.bak ready for download\n"), "snapshot before")
        old = snapshot_of(n)
        t.ok(len(old["db"]["dial_plan"]) == 2 and len(old["files"]) >= 7,
             "the snapshot-time state has rows and files", old)

        change_db(n.db)
        change_files(n)
        changed = snapshot_of(n)
        for k in ("db", "files", "conf", "cluster"):
            t.ok(changed[k] != old[k], f"the test changed the node's {k}")

        # Anything but a capital Y cancels and changes nothing.
        for answer, label in [("y\n", "lowercase y"), ("\n", "empty line"),
                              ("", "end of input"), ("yes\n", "yes"), ("n\n", "n")]:
            rc, out, err = n.nb("backup", "rollback", "before.bak", input=answer)
            t.ok(rc != 0 and "Are you sure you wish to restore this node from before.bak? (Y/n)" in out
                 and "cancelled" in out, f"{label}: prompt, then cancelled", out + err)
            t.ok(snapshot_of(n) == changed and pre_rollbacks(n) == [],
                 f"{label}: node unchanged, no safety snapshot")
        work = os.path.join(n.state, "work")
        t.ok(not any(d.startswith("rollback-stage") for d in (os.listdir(work) if os.path.isdir(work) else []))
             and
             not os.path.exists(os.path.join(n.state, "rollback.journal")),
             "no staging folder or journal left by the cancelled rollbacks")

        # Refused while clustering is enabled.
        for status in ("Enabled", "Disabling"):
            saved = read(os.path.join(n.state, "cluster.conf"))
            set_cluster(n, status=status)
            rc, out, err = n.nb("backup", "rollback", "before.bak", "--yes")
            t.eq((rc != 0, err), (True, "ERROR: Cannot restore while clustering enabled.\n"
                                  "  Disable clustering on this node first\n"),
                 f"cluster status {status}: refused with the reference's message")
            write(os.path.join(n.state, "cluster.conf"), saved, 0o600)
            t.ok(snapshot_of(n) == changed and pre_rollbacks(n) == [],
                 f"cluster status {status}: node unchanged")

        # The rollback.
        rc, out, err = n.nb("backup", "rollback", "before.bak", "--yes")
        rb_out = out
        t.ok(rc == 0 and "Restored from before.bak" in out and "(integrity_check ok)" in out,
             "rollback --yes succeeds and reports", out + err)
        new = snapshot_of(n)
        t.eq(new["db"], old["db"], "database: every table, row by row, as at the snapshot")
        t.eq(new["files"], old["files"],
             "files root: every file byte for byte (and mode), deleted one back, no extra file")
        t.eq(new["conf"], old["conf"], "nodebak.conf as at the snapshot")
        want = dict(old["cluster"], status="Disabled", last_command="backup rollback before.bak",
                    last_result="Success", error="", node_in_use="", master="")
        got = dict(new["cluster"])
        t.ok(int(got.pop("since")) > time.time() - 600, "cluster settings: since is the rollback time")
        want.pop("since")
        t.eq(got, want, "cluster settings as at the snapshot, out of the cluster")
        rc, out, _ = n.nb("database", "cluster", "status")
        t.ok(rc == 0 and "Status                   : Disabled\n" in out and
             "Last command             : 'backup rollback before.bak' (Success)" in out,
             "database cluster status: Disabled, last command the rollback", out)
        con = sqlite3.connect(f"file:{n.db}?mode=ro", uri=True)
        t.eq(con.execute("PRAGMA integrity_check").fetchone()[0], "ok",
             "restored database passes integrity_check")
        con.close()

        safety = pre_rollbacks(n)
        t.ok(len(safety) == 1 and f"Safety snapshot {safety[0]} taken" in rb_out,
             "one pre-rollback-*.bak, named in the rollback's output", (safety, rb_out))
        rc, lst, _ = n.nb("backup", "list")
        t.ok(rc == 0 and safety and safety[0] in lst, "the safety snapshot is listed", lst)
        rc, vout, verr = n.nb("backup", "verify", safety[0])
        t.ok(rc == 0 and ": OK" in vout, "the safety snapshot verifies", vout + verr)

        # The safety snapshot holds the state before the rollback: rolling
        # back to it (confirmed with a capital Y) brings that back.
        rc, out, err = n.nb("backup", "rollback", safety[0], input="Y\n")
        t.ok(rc == 0 and f"Restored from {safety[0]}" in out, "capital Y proceeds", out + err)
        back = snapshot_of(n)
        t.eq(back["db"], changed["db"], "rollback to the safety snapshot: database as before the first rollback")
        t.eq(back["files"], changed["files"], "rollback to the safety snapshot: files as before the first rollback")
        t.eq(back["conf"], changed["conf"], "rollback to the safety snapshot: configuration as before")
        t.eq(len(pre_rollbacks(n)), 2, "the second rollback took its own safety snapshot")

        # --no-safety-snapshot takes none.
        rc, out, err = n.nb("backup", "rollback", "before.bak", "--yes", "--no-safety-snapshot")
        t.ok(rc == 0 and "Safety snapshot" not in out, "rollback --no-safety-snapshot", out + err)
        t.eq(len(pre_rollbacks(n)), 2, "--no-safety-snapshot: no new pre-rollback archive")
        t.eq(snapshot_of(n)["db"], old["db"], "--no-safety-snapshot: database restored")
        t.eq(snapshot_of(n)["files"], old["files"], "--no-safety-snapshot: files restored")
        t.eq(cluster_fields(n)["last_command"], "backup rollback before.bak", "last command names the archive")

        # Rollbacks in quick succession each keep their own safety snapshot
        # (several fall within one second of the UTC time in its name).
        pre = pre_rollbacks(n)
        outs = [n.nb("backup", "rollback", "before.bak", "--yes") for _ in range(3)]
        t.ok(all(rc == 0 for rc, _, _ in outs), "three rollbacks in a row succeed",
             [e for _, _, e in outs])
        t.eq(len(set(pre_rollbacks(n)) - set(pre)), 3, "three distinct safety snapshots")

        # Usage and unknown archives.
        rc, out, err = n.nb("backup", "rollback", "missing.bak", "--yes")
        t.ok(rc != 0 and "no such backup" in err, "rollback of a missing archive", err)
        rc, out, err = n.nb("backup", "rollback", "before.bak", "--force", "everything")
        t.ok(rc != 0 and "--force takes node, version or schema" in err, "--force with a bad reason", err)
        rc, out, _ = n.nb("backup", "snapshot", "after")
        rc2, vout, _ = n.nb("backup", "verify", "after.bak")
        t.ok(rc == 0 and rc2 == 0, "the daemon still snapshots and verifies after the rollbacks")

        # Service hooks: stopped before the swap, started after it; a
        # failing stop hook changes nothing and starts the services again.
        hooks = n.path("hooks.log")
        probe = os.path.join(n.files, "licences", "cms.lic")
        base_conf = read(n.conf)
        for stop, label in [(f"cat {probe} >> {hooks}; echo stop >> {hooks}", "working hooks"),
                            (f"echo stop >> {hooks}; exit 3", "failing stop hook")]:
            n.stop()
            write(n.conf, base_conf.replace("compression_level = 1\n", "compression_level = 1\n"
                                            f"service_stop = {stop}\n"
                                            f"service_start = cat {probe} >> {hooks}; echo start >> {hooks}\n"))
            n.start()
            write(probe, "licence: edited after the snapshot\n")
            open(hooks, "w").close()
            before = snapshot_of(n)
            rc, out, err = n.nb("backup", "rollback", "after.bak", "--yes")
            log = read(hooks)
            if label == "working hooks":
                t.ok(rc == 0, f"{label}: rollback succeeds", out + err)
                t.eq(log, "licence: edited after the snapshot\nstop\nlicence: base\nstart\n",
                     f"{label}: services stopped before the swap and started after it")
            else:
                t.ok(rc != 0 and "service_stop hook failed" in err and "nothing was changed" in err,
                     f"{label}: rollback refused", out + err)
                t.eq(log, "stop\nlicence: edited after the snapshot\nstart\n",
                     f"{label}: services started again")
                t.ok(snapshot_of(n) == before, f"{label}: node unchanged")
    finally:
        n.cleanup()


run(main)
