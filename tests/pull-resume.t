#!/usr/bin/env python3
"""pull-resume.t: a download of a 200 MiB archive cut off (the puller
SIGKILLed; separately the node's SFTP session process SIGKILLed) is
continued by the next sync from the partial file: fewer bytes than the
archive cross the network (counted), and the copy is byte-identical and
verifies. A partial started from another sidecar is started again from
zero; a resumed partial whose kept bytes are corrupt is downloaded once
more from the start in the same sync and ends verified, not quarantined."""
import filecmp
import json
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from pull_util import Fleet, PULL, children  # noqa: E402
from scenario import wait_until  # noqa: E402
from tap import run  # noqa: E402

MIB = 1 << 20
SLOW = "bwlimit = 16M"


def big_archive(n, name, mib):
    os.makedirs(n.path("files", "data"), exist_ok=True)
    with open(n.path("files", "data", "blob"), "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(MIB))
    rc, _, err = n.nb("backup", "snapshot", name)
    if rc != 0:
        raise RuntimeError(err)
    os.unlink(n.path("files", "data", "blob"))


def partial(fleet, n, name):
    return os.path.join(fleet.archive, ".incoming", n.name, name + ".partial")


def size_of(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def start_slow_sync(fleet):
    fleet.write_conf(pull_extra=SLOW)
    return subprocess.Popen([PULL, "-c", fleet.conf, "sync", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, start_new_session=True)


def cut_off(fleet, n, name, mib, act=None):
    """A slow sync, stopped once name's partial holds mib MiB: by act()
    (the puller is left to end by itself), else by SIGKILL of the
    puller. (reached, the puller's stdout, its exit status, act()'s value)."""
    p = start_slow_sync(fleet)
    got = None
    try:
        reached = wait_until(lambda: size_of(partial(fleet, n, name)) >
                             mib * MIB, timeout=60)
        if act:
            got = act()
            out, _ = p.communicate(timeout=120)
        else:
            os.kill(p.pid, signal.SIGKILL)
            out, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return reached, out, p.returncode, got


def resumed_sync(t, fleet, n, name, what):
    """The next sync (full speed): resumes, counts fewer bytes, verifies."""
    fleet.write_conf()
    have = size_of(partial(fleet, n, name))
    size = os.path.getsize(fleet.original(n, name + ".bak"))
    rc, s, err = fleet.sync()
    r = s[n.name] if s else {}
    t.ok(rc == 0 and r.get("resumed") == 1 and 0 < have < size and
         r.get("bytes") == size - have,
         f"{what}: the next sync resumes at {have} of {size} bytes and "
         f"transfers only the rest", f"{rc} {s} {err}")
    t.ok(filecmp.cmp(fleet.copy(n, name + ".bak"),
                     fleet.original(n, name + ".bak"), shallow=False) and
         not os.path.exists(partial(fleet, n, name)),
         f"{what}: the copy is byte-identical, no partial left")
    return r


def kill_puller(t, fleet, n):
    reached, _, _, _ = cut_off(fleet, n, "big", 40)
    t.ok(reached, "the puller is 40 MiB into the archive")
    t.ok(size_of(partial(fleet, n, "big")) > 40 * MIB and
         "big.bak" not in fleet.copies(n),
         "SIGKILLed: the partial download stays, no copy")
    resumed_sync(t, fleet, n, "big", "puller killed")
    rc, out, err = fleet.run("verify", "--node", n.name)
    t.ok(rc == 0 and "big.bak: OK" in out, "nodebak-pull verify: the resumed "
         "copy verifies", out)


def kill_session(t, fleet, n):
    big_archive(n, "big2", 200)

    def kill_sessions():
        pids = children(n.procs["ftpd"].pid)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return pids
    reached, out, rc, sessions = cut_off(fleet, n, "big2", 40, kill_sessions)
    t.ok(reached, "40 MiB into the second archive")
    s = json.loads(out)["nodes"][0] if out else {}
    t.ok(sessions and rc == 2 and s.get("result") == "failed" and
         size_of(partial(fleet, n, "big2")) > 40 * MIB,
         "the node's session killed: that sync fails, the partial stays",
         f"{sessions} {rc} {s}")
    r = resumed_sync(t, fleet, n, "big2", "session killed")
    return r


def changed_sidecar(t, fleet, n):
    big_archive(n, "big3", 60)
    cut_off(fleet, n, "big3", 10)
    pj = partial(fleet, n, "big3") + ".json"
    with open(pj) as f:
        side = json.load(f)
    side["sha256"] = "0" * 64
    with open(pj, "w") as f:
        json.dump(side, f)
    fleet.write_conf()
    size = os.path.getsize(fleet.original(n, "big3.bak"))
    rc, s, err = fleet.sync()
    t.ok(rc == 0 and s[n.name]["resumed"] == 0 and s[n.name]["bytes"] == size,
         "a partial started from another sidecar: downloaded again from zero",
         f"{rc} {s}")


def corrupt_prefix(t, fleet, n):
    big_archive(n, "big4", 60)
    cut_off(fleet, n, "big4", 20)
    path = partial(fleet, n, "big4")
    with open(path, "r+b") as f:
        f.seek(5 * MIB)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0xff]))
    fleet.write_conf()
    size = os.path.getsize(fleet.original(n, "big4.bak"))
    rc, s, err = fleet.sync()
    r = s[n.name] if s else {}
    t.ok(rc == 0 and r.get("new") == 1 and r.get("bytes", 0) > size and
         "big4.bak" not in fleet.quarantined(n) and
         filecmp.cmp(fleet.copy(n, "big4.bak"), fleet.original(n, "big4.bak"),
                     shallow=False),
         "a corrupt kept prefix: downloaded again from the start in the same "
         "sync, verified, not quarantined", f"{rc} {s} {err}")


def main(t):
    t.plan(12)
    fleet = Fleet(1, first=31)
    n = fleet.nodes[0]
    big_archive(n, "big", 200)
    kill_puller(t, fleet, n)
    kill_session(t, fleet, n)
    changed_sidecar(t, fleet, n)
    corrupt_prefix(t, fleet, n)
    m = open(fleet.metrics).read()
    t.ok('nodebak_pull_resumes_total{node="cms1"} 3' in m,
         "metrics: three resumes counted", m)


run(main)
