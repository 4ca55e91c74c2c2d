#!/usr/bin/env python3
"""crypt-memory.t: sealing and opening a 1 GiB archive keeps resident
memory bounded (under 64 MiB): the snapshot daemon while it encrypts a
node holding 1 GiB of incompressible data, and nodebak verify --identity
while it decrypts and checks the archive. The peak (VmHWM) is read from
/proc/PID/status: the daemon's after the snapshot, the verifier's sampled
until it exits."""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import BIN, Node  # noqa: E402
from tap import run  # noqa: E402

GIB = 1 << 30
LIMIT_KIB = 64 * 1024


def hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def main(t):
    st = os.statvfs(os.environ.get("TMPDIR", "/tmp"))
    if st.f_bavail * st.f_frsize < 5 * GIB:
        t.skip_all("needs 5 GiB free in the scratch folder")
        return
    n = Node("cryptmem")
    keys = n.path("opkeys")
    os.makedirs(keys, mode=0o700)
    op_key = os.path.join(keys, "operator.key")
    try:
        subprocess.run(["age-keygen", "-o", op_key], check=True, capture_output=True)
        op = subprocess.run(["age-keygen", "-y", op_key], check=True,
                            capture_output=True, text=True).stdout.strip()
        conf = open(n.conf).read().replace("[snapshotd]\n",
                                           f"[snapshotd]\nrecipients = {op}\nmax_bytes = 4G\n", 1)
        with open(n.conf, "w") as f:
            f.write(conf)
        os.makedirs(n.files, exist_ok=True)
        with open(os.path.join(n.files, "big.dat"), "wb") as f:
            for _ in range(GIB // (16 << 20)):
                f.write(os.urandom(16 << 20))
        p = n.start()
        before = hwm_kib(p.pid)
        rc, out, err = n.nb("backup", "snapshot", "big", timeout=900)
        t.ok(rc == 0, "a sealed snapshot of a node with 1 GiB of random data", err)
        bak = os.path.join(n.files, "backups", "big.bak")
        size = os.path.getsize(bak) if os.path.exists(bak) else 0
        t.ok(size > GIB, f"the archive is over 1 GiB ({size} bytes)")
        peak = hwm_kib(p.pid)
        t.ok(peak is not None and peak < LIMIT_KIB,
             f"nodebak-snapshotd's peak resident memory while sealing: {peak} KiB "
             f"(at start {before} KiB; limit {LIMIT_KIB} KiB)")
        os.unlink(os.path.join(n.files, "big.dat"))
        with open(n.path("keyshow"), "w") as f:
            f.write(n.nb("key", "show")[1])
        v = subprocess.Popen([os.path.join(BIN, "nodebak"), "verify", bak, "--key",
                              n.path("keyshow"), "--identity", op_key],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        vpeak = 0
        deadline = time.time() + 900
        while v.poll() is None and time.time() < deadline:
            h = hwm_kib(v.pid)
            if h:
                vpeak = max(vpeak, h)
            time.sleep(0.05)
        if v.poll() is None:
            v.kill()
        out, err = v.communicate()
        t.ok(v.returncode == 0 and "opened with the identity given" in out,
             "nodebak verify --identity opens and checks it", out + err)
        t.ok(0 < vpeak < LIMIT_KIB,
             f"its peak resident memory while decrypting: {vpeak} KiB (limit {LIMIT_KIB} KiB)")
    finally:
        n.cleanup()
        shutil.rmtree(keys, ignore_errors=True)


run(main)
