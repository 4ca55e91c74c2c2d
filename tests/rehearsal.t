#!/usr/bin/env python3
"""rehearsal.t: the renewal rehearsal (`make run CLUSTER=3`,
scripts/rehearsal.sh) starts three nodes on 127.0.0.2-4 in one cluster
whose certificates have expired, and the walk-through that README.md gives
under "Rehearsing the renewal", taken from README's own text and run as
written (each question answered Y), takes them through the reference
procedure and a failed join rolled back: at the end the cluster is whole
with the new certificates and the master's data on every node. Stopping
the rehearsal stops every process it started and removes its folder.
Bounded in time; everything it starts is stopped."""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from clusterlib import common_port  # noqa: E402
from node import BIN, TOP  # noqa: E402
from tap import run  # noqa: E402

ADDRS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
HEADING = "## Rehearsing the renewal"
START_S = 300      # the rehearsal's start, certificates' expiry included
WALK_S = 600       # the walk-through


def walkthrough():
    """The first ```sh block under HEADING in README.md."""
    text = open(os.path.join(TOP, "README.md")).read()
    at = text.index(HEADING + "\n")
    section = text[at:]
    nxt = re.search(r"(?m)^## ", section[len(HEADING):])
    if nxt:
        section = section[:len(HEADING) + nxt.start()]
    m = re.search(r"(?ms)^```sh\n(.*?)^```$", section)
    return m.group(1)


def procs_mentioning(path):
    """Pids of processes whose command line or working folder names path."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if path in cmd or cwd.startswith(path):
            found.append((int(pid), cmd))
    return found


def psql(rdir, node, port, sql):
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-h", os.path.join(rdir, node, "state", "pgrun"),
                        "-p", str(port), "-U", "postgres", "-d", "nodebak", "-c", sql],
                       capture_output=True, text=True, timeout=60)
    return p.stdout.split("\n") if p.returncode == 0 else [p.stderr]


def main(t):
    if os.geteuid() != 0:
        t.skip_all("needs root (the nodes' PostgreSQL servers run as postgres)")
    t.plan(16)
    block = walkthrough()
    t.ok(block.startswith(". rehearsal/env.sh") and "database cluster remove" in block and
         "backup rollback before-renewal.bak" in block and "sftp -F" in block,
         "README's walk-through found under its heading")
    scratch = tempfile.mkdtemp(prefix="nodebak-rehearsal-")
    os.chmod(scratch, 0o711)   # the postgres user must reach the nodes' data
    rdir = os.path.join(scratch, "rehearsal")
    # The walk-through runs as an operator would, from a folder with bin/
    # and rehearsal/ in it.
    os.symlink(BIN, os.path.join(scratch, "bin"))
    pg_port = common_port(ADDRS)
    sftp_port = common_port(ADDRS)
    env = dict(os.environ, REHEARSAL_DIR=rdir, REHEARSAL_PG_PORT=str(pg_port),
               REHEARSAL_SFTP_PORT=str(sftp_port))
    out_path = os.path.join(scratch, "rehearsal.out")
    out = open(out_path, "w")
    reh = subprocess.Popen(["sh", os.path.join(TOP, "scripts", "rehearsal.sh"), "3"], stdout=out,
                           stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=TOP)
    walk = None
    try:
        deadline = time.time() + START_S
        while time.time() < deadline and reh.poll() is None and "Rehearsal ready." not in open(out_path).read():
            time.sleep(0.5)
        hint = open(out_path).read()
        t.ok("Rehearsal ready." in hint, "the rehearsal starts within its bound", hint[-3000:])
        t.ok(all(f"cms{i + 1}  {a}" in hint and f"bin/nodebak -c {rdir}/cms{i + 1}/nodebak.conf" in hint and
                 f"sftp -F {rdir}/ssh_config cms{i + 1}" in hint for i, a in enumerate(ADDRS)) and
             "Stop with Ctrl-C" in hint and f"kill -TERM {reh.pid}" in hint,
             "it prints each node's console and sftp command, and how to stop it", hint[-3000:])

        script = os.path.join(scratch, "walk.sh")
        with open(script, "w") as f:
            f.write(block)
        # Every question is answered with a capital Y, as the text says.
        walk = subprocess.Popen(["sh", "-c", f"yes Y | sh {script}"], cwd=scratch, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            text, _ = walk.communicate(timeout=WALK_S)
        except subprocess.TimeoutExpired:
            os.killpg(walk.pid, signal.SIGKILL)
            text, _ = walk.communicate()
            text += f"\n(walk-through cut off after {WALK_S} s)"
        open(os.path.join(scratch, "walk.out"), "w").write(text)

        def after(marker, want, start=0):
            i = text.find(marker, start)
            return i >= 0 and want in text[i:]

        first = text[:text.find("before-renewal.bak ready for download")]
        t.ok(first.count("Server Certificate     : dbclusterserver.cer (expired)") == 3 and
             first.count("Client Certificate     : dbclusterclient.cer (expired)") == 3 and
             "    127.0.0.2            : Unreachable (this node is not receiving from it)\n" in first and
             "    127.0.0.3 (me)       : Slave, disconnected from the master\n" in first and
             "    127.0.0.4            : Unreachable ( known to the master, not connected )\n" in first,
             "1: every node's status shows the expired certificates and the cut-off replicas", first[-4000:])
        t.ok("Not After" in first and "ERROR: Cannot change certificates when clustering enabled.\n"
             "  Disable clustering on this node first\n" in first,
             "1: pki inspect shows the dates; certs is refused while enabled", first[-2000:])
        t.eq(text.count("before-renewal.bak ready for download\n"), 3, "2: a snapshot on every node")
        pulled = True
        for i in (1, 2, 3):
            d = os.path.join(rdir, "pulled", f"cms{i}")
            try:
                meta = json.load(open(os.path.join(d, "before-renewal.json")))
                data = open(os.path.join(d, "before-renewal.bak"), "rb").read()
                pulled &= meta["sha256"] == hashlib.sha256(data).hexdigest() and \
                    data == open(os.path.join(rdir, f"cms{i}", "files", "backups", "before-renewal.bak"), "rb").read()
            except (OSError, ValueError, KeyError):
                pulled = False
        t.ok(pulled, "3: each node's .bak and .json pulled with sftp; the .bak matches its .json and the node's copy")
        t.ok(all(open(os.path.join(rdir, "renewed", f), "rb").read() ==
                 open(os.path.join(rdir, "cms1", "files", f), "rb").read()
                 for f in ("CA.cer", "dbclusterserver.cer", "dbclusterclient.key")),
             "4: the renewed certificates were uploaded with sftp")
        t.ok(text.count("'database cluster remove' (Success)") == 3 and
             text.count("Node in use              : None\n") >= 3,
             "5: remove on every node: Disabled, (Success)", text[-3000:])
        t.ok(text.count("Certificates updated\n") == 4, "6: the new certificates on every node (and cms3 again)",
             text[-3000:])
        t.ok(after("'database cluster join 127.0.0.2' (Failed)", "Error cleared\n") and
             re.search(r"(?m)^ERROR : copying the master's database from 127\.0\.0\.2", text),
             "the early join fails with an ERROR line, and the error is cleared", text[-4000:])
        t.ok(after("Error cleared", "Safety snapshot") and
             after("Safety snapshot", "Status                   : Disabled\n") and
             after("Safety snapshot", "Server Certificate     : dbclusterserver.cer (expired)"),
             "the failed node is rolled back: Disabled, the snapshot's expired certificates", text[-4000:])
        t.ok(after("'database cluster initialize' (Success)", "'database cluster join 127.0.0.2' (Success)"),
             "7, 8: initialize on the master, then the joins succeed", text[-4000:])

        # The end: the reference's healthy status, on the master.
        status = subprocess.run([os.path.join(BIN, "nodebak"), "-c", os.path.join(rdir, "cms1", "nodebak.conf"),
                                 "database", "cluster", "status"], capture_output=True, text=True, timeout=60).stdout
        want = ["Status                   : Enabled\n", "    127.0.0.2 (me)       : Connected Master\n",
                "    127.0.0.3            : Connected Slave ( In Sync )\n",
                "    127.0.0.4            : Connected Slave ( In Sync )\n", "Node in use              : 127.0.0.2\n"]
        for _ in range(60):
            if all(w in status for w in want):
                break
            time.sleep(0.5)
            status = subprocess.run([os.path.join(BIN, "nodebak"), "-c", os.path.join(rdir, "cms1", "nodebak.conf"),
                                     "database", "cluster", "status"], capture_output=True, text=True,
                                    timeout=60).stdout
        t.ok(all(w in status for w in want) and "(expired)" not in status,
             "the cluster is whole with the new certificates: the reference's status", status + text[-2000:])
        rows = psql(rdir, "cms3", pg_port, "SELECT name FROM spaces ORDER BY name")
        t.eq(rows[:3], ["All hands", "Engineering", "Support"], "the rolled-back node has the master's data again")
    finally:
        if walk and walk.poll() is None:
            os.killpg(walk.pid, signal.SIGKILL)
            walk.wait()
        # Stop the rehearsal as its hint says; it must clean up by itself.
        if reh.poll() is None:
            reh.send_signal(signal.SIGTERM)
        try:
            reh.wait(timeout=120)
            stopped = True
        except subprocess.TimeoutExpired:
            stopped = False
        left = procs_mentioning(rdir)
        t.ok(stopped and not left and not os.path.exists(rdir),
             "a stop ends every process of the rehearsal and removes its folder",
             f"stopped: {stopped}, left: {left}\n" + open(out_path).read()[-2000:])
        # Whatever the outcome, nothing of it outlives the test.
        if reh.poll() is None:
            os.killpg(reh.pid, signal.SIGKILL)
            reh.wait()
        for pid, _ in procs_mentioning(rdir):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        out.close()
        logs = os.environ.get("NODEBAK_TEST_LOGS")
        if logs:
            for name in ("rehearsal.out", "walk.out"):
                if os.path.exists(os.path.join(scratch, name)):
                    shutil.copy(os.path.join(scratch, name), os.path.join(logs, f"rehearsal-{name}"))
        shutil.rmtree(scratch, ignore_errors=True)


run(main)
