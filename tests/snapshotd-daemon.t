#!/usr/bin/env python3
"""snapshotd-daemon.t: the daemon's life: configuration errors refused at
start with file, line and reason; one mutating operation at a time while
listing and verifying stay available; the control socket's peer check;
SIGHUP reload; SIGTERM exit; daemon (background) mode."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node, BIN, TBIN  # noqa: E402
from tap import run  # noqa: E402


def main(t):
    n = Node("daemon1", daemon=os.path.join(TBIN, "nodebak-snapshotd-fault"))
    try:
        # Configuration errors.
        good = open(n.conf).read()
        for text, want in [("[node]\nname = x\nbogus = 1\n",
                            ":3: [node] bogus: unknown key (keys of [node]: name, state_dir, files_dir)"),
                           ("[node]\nname = x\n[snapshotd]\ncompression_level = zero\n",
                            ":4: [snapshotd] compression_level = zero: must be an integer from 1 to 9"),
                           ("[node]\nname = x\n[nosuch]\n",
                            ":3: [nosuch]: unknown section (sections: node, database, snapshotd, retention, cluster, schedule, metrics, pki, ftpd)")]:
            with open(n.conf, "w") as f:
                f.write(text)
            p = subprocess.run([os.path.join(BIN, "nodebak-snapshotd"), "-f", "-c", n.conf],
                               capture_output=True, text=True, timeout=30)
            t.ok(p.returncode == 1 and p.stderr == f"nodebak-snapshotd: {n.conf}{want}\n",
                 f"refused at start: {want}", p.stderr)
        with open(n.conf, "w") as f:
            f.write(good)
        p = subprocess.run([os.path.join(BIN, "nodebak-snapshotd"), "-h"], capture_output=True, text=True)
        t.ok(p.returncode == 0 and "-c FILE" in p.stdout, "-h prints usage")

        # One mutating operation at a time: hold a snapshot half-way.
        hold = n.path("hold")
        open(hold, "w").close()
        env = n.env()
        env["NODEBAK_FAULT_HOLD"] = f"snapshot-db-copied:{hold}"
        n.start(argv=[n.daemon, "-f", "-c", n.conf], wait_for=n.sock, env=env)
        os.unlink(hold)
        rc, _, err = n.nb("backup", "snapshot", "base")
        t.ok(rc == 0, "snapshot base", err)
        open(hold, "w").close()
        held = subprocess.Popen([os.path.join(BIN, "nodebak"), "-c", n.conf, "backup", "snapshot", "slow"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        trace_deadline = time.time() + 30
        while not os.path.isdir(os.path.join(n.state, "work", "snapshot-slow", "db")) and time.time() < trace_deadline:
            time.sleep(0.02)
        rc, out, err = n.nb("backup", "snapshot", "second")
        t.ok(rc == 3 and "another operation is in progress" in err and "snapshot slow" in err,
             "a second mutating command is refused while one runs (exit status 3, busy)",
             f"{rc}: {err}")
        rc, out, err = n.nb("backup", "list")
        t.ok(rc == 0 and "base.bak" in out and "slow.bak" not in out, "backup list answers meanwhile; the unfinished one is not listed", out)
        rc, out, err = n.nb("backup", "verify", "base.bak")
        t.ok(rc == 0, "backup verify answers meanwhile", err)
        os.unlink(hold)
        out, err = held.communicate(timeout=60)
        t.ok(held.returncode == 0 and out == "slow.bak ready for download\n", "the held snapshot completes", err)

        # Peer credentials: another user is refused even on an open socket.
        with open(n.conf, "a") as f:
            pass
        os.chmod(n.sock, 0o666)
        os.chmod(n.root, 0o755)
        p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            os.path.join(BIN, "nodebak"), "-c", n.conf, "backup", "list"],
                           capture_output=True, text=True, timeout=30)
        t.ok(p.returncode == 1 and "nodebak:" in p.stderr and "refused control connection from uid" in n.log(), "a peer that is not root, the daemon's user or in socket_group is refused",
             p.stdout + p.stderr)

        # SIGHUP reloads; a bad file keeps the running configuration.
        with open(n.conf, "a") as f:
            f.write("\n# reloaded\n")
        n.procs["snapshotd"].send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while "reloaded" not in n.log() and time.time() < deadline:
            time.sleep(0.05)
        t.ok("reloaded " in n.log(), "SIGHUP reloads the configuration")
        bogus_line = len(open(n.conf).read().splitlines()) + 2
        with open(n.conf, "a") as f:
            f.write("[snapshotd]\nbogus = 1\n")
        n.procs["snapshotd"].send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while "keeping the running configuration" not in n.log() and time.time() < deadline:
            time.sleep(0.05)
        t.ok(f"reload: {n.conf}:{bogus_line}: [snapshotd] bogus: unknown key (keys of [snapshotd]: socket, socket_group, "
             "socket_mode, compression_level, max_members, max_bytes, service_stop, service_start, recipients, recipients_file, archive_group) "
             "(keeping the running configuration)" in n.log(), "a bad reload is refused, the daemon keeps running", n.log())
        with open(n.conf, "w") as f:
            f.write(good)
        rc, out, _ = n.nb("backup", "list")
        t.ok(rc == 0, "still serving")

        # SIGTERM: clean exit, socket removed.
        p = n.procs["snapshotd"]
        p.send_signal(signal.SIGTERM)
        t.ok(p.wait(timeout=30) == 0 and not os.path.exists(n.sock), "SIGTERM: exit 0, socket removed")
        n.procs.pop("snapshotd")

        # Daemon mode: returns at once, serves, logs to syslog.
        p = subprocess.run([os.path.join(BIN, "nodebak-snapshotd"), "-c", n.conf], capture_output=True, timeout=30)
        rc, out, _ = n.nb("backup", "list")
        t.ok(p.returncode == 0 and rc == 0 and "base.bak" in out, "background mode serves")
        pid = subprocess.run(["pgrep", "-f", f"nodebak-snapshotd -c {n.conf}"], capture_output=True, text=True).stdout.split()
        for x in pid:
            os.kill(int(x), signal.SIGTERM)
        deadline = time.time() + 20
        while os.path.exists(n.sock) and time.time() < deadline:
            time.sleep(0.05)
        t.ok(pid and not os.path.exists(n.sock), "background daemon stops on SIGTERM")
    finally:
        n.cleanup()


run(main)
