#!/usr/bin/env python3
"""sftp-console.t: the remote console over SSH against the real
nodebak-ftpd: an exec request runs one console command and returns its
exit status; a shell request gives the interactive console with its
"<node name>> " prompt, with and without a terminal; confirmation prompts
take a capital Y through the session (the rollback reports what it
restored and the node is the snapshot's again); key show prints the
node's key id and public key; a readonly user may list and inspect but is
refused every mutating command."""
import hashlib
import os
import re
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sftp_util import SshNode, require_ftpd  # noqa: E402
from nodestate import snapshot_of  # noqa: E402
from tap import run  # noqa: E402


def main(t):
    require_ftpd(t)
    n = SshNode("console1")
    n.start_all()
    backups = n.path("files", "backups")
    try:
        con = sqlite3.connect(n.db)
        con.execute("INSERT INTO spaces(name, uri, passcode) VALUES ('Board room', 'board', '1234')")
        con.commit()
        con.close()
        with open(n.path("files", "node.cer"), "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nold\n-----END CERTIFICATE-----\n")
        rc, out, err = n.ssh("backup snapshot nightly")
        t.eq((rc, out), (0, "nightly.bak ready for download\n"), "exec: backup snapshot (admin, key)")
        old = snapshot_of(n)
        t.ok(os.path.exists(os.path.join(backups, "nightly.bak")), "the snapshot exists")
        rc, out, err = n.ssh("backup  list", key=False)
        t.ok(rc == 0 and "nightly.bak" in out, "exec: backup list (password login, extra space)", err)
        rc, out, err = n.ssh("backup verify nosuch.bak")
        t.ok(rc != 0 and err.strip() != "", "exec: a failing command's exit status reaches the client", (rc, err))
        rc, out, err = n.ssh("frobnicate")
        t.eq(rc, 2, "exec: unknown command exits 2")

        # Readonly: lists and inspects, never mutates.
        rc, out, err = n.ssh("backup list", user="ro")
        t.ok(rc == 0 and "nightly.bak" in out, "readonly exec: backup list", err)
        rc, out, err = n.ssh("key show", user="ro")
        der = subprocess.run(["openssl", "pkey", "-pubin", "-in", n.path("state", "signing.pub"),
                              "-outform", "DER"], capture_output=True, check=True).stdout
        kid = re.search(r"^Key id    : ([0-9a-f]+)$", out, re.M)
        t.ok(rc == 0 and kid and kid[1] == hashlib.sha256(der[-32:]).hexdigest()[:16],
             "readonly exec: key show prints the key id of state/signing.pub", out + err)
        pem = re.search(r"-----BEGIN PUBLIC KEY-----\n.*?\n-----END PUBLIC KEY-----\n", out, re.S)
        shown = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], capture_output=True,
                               input=pem[0].encode() if pem else b"")
        t.ok(pem and shown.returncode == 0 and shown.stdout == der,
             "key show prints a PEM public key that parses and is state/signing.pub's", out)
        for cmd in ["backup snapshot rosnap", "backup delete nightly.bak",
                    "backup rollback nightly.bak --yes", "key trust /etc/hostname",
                    "user list"]:
            rc, out, err = n.ssh(cmd, user="ro")
            said = (out + err).lower()
            t.ok(rc != 0 and ("not allowed" in said or "denied" in said),
                 f"readonly exec refused: {cmd}", (rc, out, err))
        rc, out, err = n.ssh("--role admin backup snapshot rosnap", user="ro")
        t.ok(rc != 0, "readonly exec cannot pass console options", (rc, out, err))
        rc, out, err = n.ssh("-c /etc/passwd backup list", user="ro")
        t.ok(rc != 0 and "root:" not in out + err, "nor another configuration file", (rc, out, err))
        t.ok(sorted(os.listdir(backups)) == ["nightly.bak", "nightly.json"], "readonly changed nothing",
             os.listdir(backups))

        # Interactive shell without a terminal: prompt, commands, exit.
        rc, out, err = n.ssh(None, input="backup list\nexit\n")
        t.ok(rc == 0 and out.startswith("console1> ") and "nightly.bak" in out, "shell: prompt and command", out)
        # A confirmation answered with n cancels, a capital Y proceeds:
        # the node changed since the snapshot is the snapshot's again.
        con = sqlite3.connect(n.db)
        con.execute("UPDATE spaces SET passcode = '9999'")
        con.execute("INSERT INTO users(jid, name) VALUES ('mallory@example.com', 'Mallory')")
        con.commit()
        con.close()
        with open(n.path("files", "node.cer"), "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nrenewed\n-----END CERTIFICATE-----\n")
        with open(n.path("files", "extra.txt"), "w") as f:
            f.write("not in the snapshot\n")
        changed = snapshot_of(n)
        t.ok(changed["db"] != old["db"] and changed["files"] != old["files"], "the node changed since the snapshot")
        rc, out, err = n.ssh(None, input="backup rollback nightly.bak\nn\nexit\n")
        t.ok("(Y/n)" in out and "cancelled" in out and snapshot_of(n) == changed,
             "shell: rollback answered n is cancelled, the node unchanged", out)
        rc, out, err = n.ssh(None, input="backup rollback nightly.bak\nY\nexit\n", timeout=300)
        safety = re.search(r"^Safety snapshot of the previous state: (pre-rollback-\S+\.bak)$", out, re.M)
        t.ok(rc == 0 and "(Y/n)" in out and "cancelled" not in out and
             re.search(r"^Restored from nightly\.bak \(snapshot nightly of node console1, taken \S+\):$",
                       out, re.M) and
             re.search(r"^  Database           : db/node\.db \((?!INTEGRITY CHECK FAILED)", out, re.M) and
             "  Configuration      : restored\n" in out,
             "shell: rollback answered Y reports what it restored", (rc, out, err))
        t.ok(safety and os.path.exists(os.path.join(backups, safety[1])),
             "and names its safety snapshot, which exists", out)
        new = snapshot_of(n)
        t.eq(new["db"], old["db"], "after the rollback: database rows as at the snapshot")
        t.eq(new["files"], old["files"], "after the rollback: files root as at the snapshot")
        # With a terminal (ssh -tt).
        rc, out, err = n.ssh(None, input="backup list\nexit\n", tty=True)
        t.ok(rc == 0 and "console1> " in out and "nightly.bak" in out, "shell on a terminal", out)
        # Readonly shell.
        rc, out, err = n.ssh(None, user="ro", input="backup snapshot rosnap2\nbackup list\nexit\n")
        t.ok("not allowed" in (out + err) and "nightly.bak" in out and
             not os.path.exists(os.path.join(backups, "rosnap2.bak")), "readonly shell: refused, lists", out + err)
        log = n.log("ftpd")
        t.ok("console" in log, "console sessions are logged")
    finally:
        n.cleanup()


run(main)
