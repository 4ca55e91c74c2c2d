#!/usr/bin/env python3
"""file-modes.t: the mode of every file the daemons and nodebak-pull create
(issue 15). A node seals its archives, runs a scheduled and a manual
snapshot, a rollback and user changes, and an archive host pulls
from it; then every file and folder under the node's state and files
folders and the archive host's folder is checked:

- the ones with a deliberate public mode are named in PUBLIC (public keys,
  certificates, metrics for a node exporter) and have exactly that mode;
- archives and their .json are 0640 on the node (group: [snapshotd]
  archive_group); the archive host's copies are private like the rest of
  its folder;
- secrets (signing key, recovery identity, users, host keys, TLS key) are
  0600 and are checked by name, so that a missing one fails too;
- everything else is private: no bit for others, and no group write.

The logs the test harness makes (stdout redirected) and the files the test
itself writes are not the daemons' and are left out; so are the files
users upload (their modes: tests/upload-modes.t)."""
import calendar
import fnmatch
import os
import stat
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import TBIN  # noqa: E402
from pull_util import Fleet  # noqa: E402
from scenario import wait_run  # noqa: E402
from sftp_util import need_paramiko, require_ftpd  # noqa: E402
from tap import run  # noqa: E402

need_paramiko()

T0 = calendar.timegm((2026, 3, 4, 10, 0, 30))

# Paths relative to the node's root (or "archive:" + relative to the
# archive host's folder): the mode each must have exactly.
SECRETS = {
    "state/signing.key": 0o600, "state/recovery.age": 0o600,
    "state/users": 0o600, "state/ssh_host_ed25519_key": 0o600,
    "state/ftpd.key": 0o600, "state/node-id": 0o600,
    "state/users.keys/admin": 0o600,
}
PUBLIC = {
    "state/signing.pub": 0o644, "state/ssh_host_ed25519_key.pub": 0o644,
    "state/ftpd.crt": 0o644, "metrics.prom": 0o644,
    "files": 0o755, "files/backups": 0o755, "snapshotd.sock": 0o660,
}
ARCHIVES = ["files/backups/*.bak", "files/backups/*.json"]
# Made by the test or its harness, not by a daemon.
NOT_OURS = ["nodebak.conf", "operator.key", "*.log", "db", "db/*",
            "nodebak-sshhome-*", "nodebak-sshhome-*/*",
            "archive:pull.conf", "archive:*.pub", "archive:pull.prom"]


def walk(top, prefix=""):
    """{relative path: mode} of everything below top (not following links)."""
    out = {}
    for d, dirs, files in os.walk(top):
        for x in dirs + files:
            p = os.path.join(d, x)
            out[prefix + os.path.relpath(p, top)] = os.lstat(p).st_mode
    return out


def matches(path, patterns):
    return any(fnmatch.fnmatch(path, p) for p in patterns)


def main(t):
    require_ftpd(t)
    env = dict(os.environ, NODEBAK_TEST_CLOCK=str(T0))
    fleet = Fleet(1, first=51, daemon=os.path.join(TBIN, "nodebak-snapshotd-fault"), env=env,
                  extra_conf="[schedule]\nschedule = every 1m\n[metrics]\ntextfile = metrics.prom\n")
    n = fleet.nodes[0]
    rc, out, err = n.nb("test", "clock", "advance", "30")
    s = wait_run(n, T0 + 30)
    t.ok(s["result"] == "success", "a scheduled snapshot", s)
    rc, out, err = n.nb("backup", "snapshot", "manual")
    t.ok(rc == 0, "a manual snapshot", err)
    rc, out, err = n.nb("backup", "rollback", "manual.bak", "--yes")
    t.ok(rc == 0, "a rollback (and its safety snapshot)", out + err)
    rc, out, err = n.nb("user", "add", "extra", "readonly", input="extra-Pass-9\nextra-Pass-9\n")
    t.ok(rc == 0, "a user added", err)
    rc, out, err = fleet.run("sync")
    t.ok(rc == 0 and len(fleet.copies(n)) >= 6, "nodebak-pull copied the archives",
         f"{rc} {fleet.copies(n)} {err}")

    seen = walk(n.root)
    seen.update(walk(fleet.host, "archive:"))
    ours = {p: m for p, m in seen.items() if not matches(p, NOT_OURS)}
    t.ok(len(ours) > 20, f"{len(ours)} files and folders made by the daemons and the puller")

    wrong = {p: oct(ours.get(p, 0) & 0o7777) for p, mode in SECRETS.items()
             if p not in ours or ours[p] & 0o7777 != mode}
    t.ok(not wrong, "secrets exist and are 0600: " + ", ".join(SECRETS), wrong)
    wrong = {p: oct(ours.get(p, 0) & 0o7777) for p, mode in PUBLIC.items()
             if p not in ours or ours[p] & 0o7777 != mode}
    t.ok(not wrong, "public files have their deliberate mode", wrong)
    archives = {p: m for p, m in ours.items() if matches(p, ARCHIVES)}
    wrong = {p: oct(m & 0o7777) for p, m in archives.items() if m & 0o7777 != 0o640}
    t.ok(len(archives) >= 6 and not wrong,
         f"{len(archives)} archives and sidecars on the node are 0640",
         wrong or sorted(archives))
    rest = {p: m for p, m in ours.items()
            if p not in SECRETS and p not in PUBLIC and p not in archives}
    wrong = {p: oct(m & 0o7777) for p, m in rest.items()
             if (m & 0o007) or (m & 0o020) or (stat.S_ISREG(m) and m & 0o111)}
    t.ok(not wrong, f"the other {len(rest)} are private (no bit for others, no group write, "
         "no execute)", wrong)
    copies = [p for p in rest if fnmatch.fnmatch(p, "archive:archive/cms1/*")]
    t.ok(len(copies) >= 6 and all(rest[p] & 0o7777 == 0o600 for p in copies),
         f"the archive host's {len(copies)} copies are 0600")
    t.diag("\n".join(f"{oct(m & 0o7777)} {p}" for p, m in sorted(ours.items())))


run(main)
