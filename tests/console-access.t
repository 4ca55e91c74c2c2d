#!/usr/bin/env python3
"""console-access.t: a console user whom the control socket refuses gets
one line naming the socket and who may use it ([snapshotd]
socket_group), not "is it running?": refused by the socket file's mode,
and refused by the daemon's peer check."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node, BIN  # noqa: E402
from tap import run  # noqa: E402

NB = os.path.join(BIN, "nodebak")


def as_nobody(n, *args, input=None):
    p = subprocess.run(["runuser", "-u", "nobody", "--", NB, "-c", n.conf,
                        *args], input=input, capture_output=True, text=True,
                       timeout=60, env={"PATH": os.environ["PATH"],
                                        "HOME": "/nonexistent"})
    return p.returncode, p.stdout, p.stderr


def open_to_others(n, snapshotd_keys=""):
    """Let nobody read the configuration and reach the socket's folder."""
    with open(n.conf) as f:
        conf = f.read()
    with open(n.conf, "w") as f:
        f.write(conf.replace("[snapshotd]\n", "[snapshotd]\n" + snapshotd_keys,
                             1))
    os.chmod(n.root, 0o711)
    os.chmod(n.conf, 0o644)


def main(t):
    if os.geteuid() != 0:
        t.skip_all("needs root to run the console as nobody")
    a = Node("access1")
    b = Node("access2")
    try:
        open_to_others(a)
        a.start()
        rc, out, err = as_nobody(a, "backup", "list")
        t.eq((rc, out, err.count("\n")), (1, "", 1),
             "refused by the socket's mode: status 1, one line")
        t.ok(f"permission denied on the control socket {a.sock}" in err and
             "[snapshotd] socket_group" in err and "uid 65534" in err and
             "is it running" not in err,
             "it names the socket and socket_group", err)
        rc, out, err = as_nobody(a, input="help backup\nbackup list\n")
        t.ok(rc == 1 and "Usage:\n  backup snapshot" in out and
             err.count("\n") == 1 and "permission denied on the control "
             f"socket {a.sock}" in err,
             "piped to the console: help works, the refusal is said once",
             (rc, out, err))

        open_to_others(b, "socket_group = adm\nsocket_mode = 0666\n")
        b.start()
        rc, out, err = as_nobody(b, "backup", "list")
        t.eq((rc, out, err.count("\n")), (1, "", 1),
             "refused by the daemon's peer check: status 1, one line")
        t.ok(f"nodebak-snapshotd refused the connection on the control socket "
             f"{b.sock}: only root, nodebak-snapshotd's user and members of "
             "group adm ([snapshotd] socket_group) may use the console" in err,
             "it names the socket and the group", err)
        t.ok("refused control connection from uid 65534" in b.log(),
             "and the daemon logged the refusal", b.log()[-800:])
        rc, out, err = b.nb("backup", "list")
        t.eq(rc, 0, "root is still let in")
    finally:
        a.cleanup()
        b.cleanup()


run(main)
