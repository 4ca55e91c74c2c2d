#!/usr/bin/env python3
"""sftp-console.t: the remote console over SSH against the real
nodebak-ftpd: an exec request runs one console command and returns its
exit status; a shell request gives the interactive console with its
"<node name>> " prompt, with and without a terminal; confirmation prompts
take a capital Y through the session; a readonly user may list and
inspect but is refused every mutating command."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sftp_util import SshNode, require_ftpd  # noqa: E402
from tap import run  # noqa: E402


def main(t):
    require_ftpd(t)
    n = SshNode("console1")
    n.start_all()
    backups = n.path("files", "backups")
    try:
        rc, out, err = n.ssh("backup snapshot nightly")
        t.eq((rc, out), (0, "nightly.bak ready for download\n"), "exec: backup snapshot (admin, key)")
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
        t.eq(rc, 0, "readonly exec: key show")
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
        # A confirmation answered with n cancels, a capital Y proceeds.
        rc, out, err = n.ssh(None, input="backup rollback nightly.bak\nn\nexit\n")
        t.ok("(Y/n)" in out and "cancelled" in out, "shell: rollback answered n is cancelled", out)
        rc, out, err = n.ssh(None, input="backup rollback nightly.bak\nY\nexit\n", timeout=300)
        t.ok("(Y/n)" in out and "cancelled" not in out and rc == 0, "shell: rollback answered Y proceeds",
             (rc, out, err))
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
