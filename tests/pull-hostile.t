#!/usr/bin/env python3
"""pull-hostile.t: nodes that serve bad archives, or misbehave, against
nodebak-pull. Each bad archive is reported and quarantined with a
one-line reason (or never downloaded), never becomes a copy, and the other
nodes' copies are complete: a member changed under an intact signature
(its sidecar fixed to match), sidecars that lie about the size (both
ways) or the SHA-256, another node's archive, a sidecar that is not JSON,
has an extra key or names another file, names that are not archives; a
changed host key, a node that is down, a node that stalls mid-transfer
(timeout), and an archive replaced on the node after it was copied."""
import filecmp
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from bakutil import pack, read_members, sealed_parts, sealed_repack  # noqa: E402
from pull_util import Fleet, PULL, children, host_fingerprint  # noqa: E402
from scenario import wait_until  # noqa: E402
from sftp_util import ftpd_path  # noqa: E402
from tap import run  # noqa: E402

MIB = 1 << 20


def snap(n, name):
    rc, _, err = n.nb("backup", "snapshot", name)
    if rc != 0:
        raise RuntimeError(f"snapshot {name}: {err}")


def backups(n, *parts):
    return n.path("files", "backups", *parts)


def sidecar(n, name):
    with open(backups(n, name + ".json")) as f:
        return json.load(f)


def write_sidecar(n, name, side):
    with open(backups(n, name + ".json"), "w") as f:
        json.dump(side, f, indent=2)


def fix_sidecar(n, name):
    """NAME.json's size and sha256 made true for the file as it is now."""
    side = sidecar(n, name)
    data = open(backups(n, name + ".bak"), "rb").read()
    side["size"] = len(data)
    side["sha256"] = hashlib.sha256(data).hexdigest()
    write_sidecar(n, name, side)


def reason(fleet, n, name):
    try:
        with open(os.path.join(fleet.archive, ".quarantine", n.name,
                               name + ".reason")) as f:
            return f.read()
    except OSError:
        return ""


def identical(fleet, n):
    return all(filecmp.cmp(fleet.copy(n, f), fleet.original(n, f), shallow=False)
               for f in fleet.copies(n))


def bad_archives(fleet):
    """cms1 serves one good archive and eight bad ones, and some names
    that are not archives."""
    n1, n2 = fleet.nodes[0], fleet.nodes[1]
    for name in ("one", "tampered", "biglie", "smalllie", "shalie", "notjson",
                 "extrakey", "wrongfile"):
        snap(n1, name)
    snap(n2, "one")
    snap(fleet.nodes[2], "one")
    # A member changed inside the sealed payload, which is encrypted again
    # to the same operator and packed with the original signed ENVELOPE.
    with open(backups(n1, "tampered.bak"), "rb") as f:
        parts, mtime = sealed_parts(f.read())
    parts = dict(parts)
    inner = subprocess.run(["age", "-d", "-i", n1.operator_key],
                           input=parts["payload.age"], capture_output=True,
                           check=True).stdout
    with tempfile.NamedTemporaryFile(suffix=".bak") as tmp:
        tmp.write(inner)
        tmp.flush()
        members = read_members(tmp.name)
    for i, (info, data) in enumerate(members):
        if info.name == "config/nodebak.conf":
            members[i] = (info, data[:-2] + b"#\n")
    parts["payload.age"] = subprocess.run(
        ["age", "-r", n1.recipients], input=pack(members),
        capture_output=True, check=True).stdout
    with open(backups(n1, "tampered.bak"), "wb") as f:
        f.write(sealed_repack(list(parts.items()), mtime))
    fix_sidecar(n1, "tampered")
    for name, delta in (("biglie", 4096), ("smalllie", -100)):
        side = sidecar(n1, name)
        side["size"] += delta
        write_sidecar(n1, name, side)
    side = sidecar(n1, "shalie")
    side["sha256"] = "ab" * 32
    write_sidecar(n1, "shalie", side)
    shutil.copy(backups(n2, "one.bak"), backups(n1, "foreign.bak"))
    side = sidecar(n2, "one")
    side["file"] = "foreign.bak"
    write_sidecar(n1, "foreign", side)
    with open(backups(n1, "notjson.json"), "w") as f:
        f.write("this is not JSON\n")
    side = sidecar(n1, "extrakey")
    side["extra"] = 1
    write_sidecar(n1, "extrakey", side)
    side = sidecar(n1, "wrongfile")
    side["file"] = "one.bak"
    write_sidecar(n1, "wrongfile", side)
    shutil.copy(backups(n1, "one.bak"), backups(n1, "bad name.bak"))
    shutil.copy(backups(n1, "one.bak"), backups(n1, ".hidden.bak"))
    os.mkdir(backups(n1, "dir.bak"))


def round_bad_archives(t, fleet):
    n1 = fleet.nodes[0]
    bad_archives(fleet)
    rc, s, err = fleet.sync()
    r1 = s["cms1"] if s else {}
    t.ok(rc == 1 and r1.get("new") == 1 and r1.get("failed") == 8 and
         len(r1.get("errors", [])) == 8,
         "cms1: the good archive pulled, eight failures reported (exit 1)",
         f"{rc} {s} {err}")
    t.eq(fleet.copies(n1), ["one.bak", "one.json"],
         "cms1: only the good archive became a copy")
    t.ok(identical(fleet, n1) and all(
        s[n.name]["result"] == "ok" and identical(fleet, n) and
        len(fleet.copies(n)) == 2 for n in fleet.nodes[1:]),
         "the copies are byte-identical; cms2 and cms3 complete", f"{s}")
    want = {"tampered": "re-encrypted",
            "biglie": "NAME.json says",
            "smalllie": "larger than the",
            "shalie": "SHA-256",
            "foreign": "not signed by the node's pinned signing key",
            "notjson": "notjson.bak",
            "extrakey": "extra",
            "wrongfile": "describes one.bak"}
    for name, word in want.items():
        why = reason(fleet, n1, name)
        t.ok(word in why and why.count("\n") == 1 and os.path.exists(
            os.path.join(fleet.archive, ".quarantine", "cms1", name + ".json")),
             f"{name}: quarantined with a one-line reason ({word!r})", why)
    q = fleet.quarantined(n1)
    t.ok(not any(x.startswith(("bad name", ".hidden", "dir")) for x in q) and
         not any(x.startswith(("bad name", ".hidden", "dir"))
                 for x in fleet.copies(n1)),
         "names that are not archives are left alone", f"{q}")
    m = open(fleet.metrics).read()
    t.ok('nodebak_pull_verify_failures_total{node="cms1"} 8' in m,
         "metrics: eight verification failures on cms1", m)
    rc, s, err = fleet.sync()
    t.ok(rc == 1 and s["cms1"]["bytes"] == 0 and
         len(s["cms1"]["errors"]) == 8 and
         all("quarantined earlier" in e for e in s["cms1"]["errors"]) and
         'nodebak_pull_verify_failures_total{node="cms1"} 8' in
         open(fleet.metrics).read(),
         "the next sync reports them again without downloading them", f"{s}")
    for name in want:
        for ext in (".bak", ".json"):
            if os.path.exists(backups(n1, name + ext)):
                os.unlink(backups(n1, name + ext))


def restart_ftpd(n):
    n.kill("ftpd", signal.SIGTERM)
    n.start("ftpd", [ftpd_path(), "-f", "-c", n.conf],
            wait_for=(n.addr, n.sftp_port))


def round_keys_down(t, fleet):
    n1, n2, n3 = fleet.nodes
    snap(n2, "two")
    key = n2.path("state", "ssh_host_ed25519_key")
    n2.kill("ftpd", signal.SIGTERM)
    for p in (key, key + ".pub"):
        if os.path.exists(p):
            os.unlink(p)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key],
                   check=True)
    n2.start("ftpd", [ftpd_path(), "-f", "-c", n2.conf],
             wait_for=(n2.addr, n2.sftp_port))
    new_fp = host_fingerprint(n2)
    n3.kill("ftpd", signal.SIGTERM)
    rc, s, err = fleet.sync()
    e2 = s["cms2"]["errors"][0] if s and s["cms2"]["errors"] else ""
    t.ok(rc == 1 and s["cms1"]["result"] == "ok" and
         s["cms2"]["result"] == "failed" and s["cms3"]["result"] == "failed",
         "a changed host key and a node that is down: those two fail, cms1 "
         "is synced (exit 1)", f"{rc} {s}")
    t.ok(n2.host_fp in e2 and new_fp in e2 and "two.bak" not in
         fleet.copies(n2), "the changed key is refused, naming both "
         "fingerprints; nothing is downloaded from it", e2)
    t.ok(s["cms3"]["errors"] and "cannot connect" in s["cms3"]["errors"][0],
         "the node that is down is reported", f"{s['cms3']}")
    n2.host_fp = new_fp
    n3.start("ftpd", [ftpd_path(), "-f", "-c", n3.conf],
             wait_for=(n3.addr, n3.sftp_port))


def round_stall(t, fleet):
    n1 = fleet.nodes[0]
    os.makedirs(n1.path("files", "data"), exist_ok=True)
    with open(n1.path("files", "data", "blob"), "wb") as f:
        for _ in range(100):
            f.write(os.urandom(MIB))
    snap(n1, "big")
    fleet.write_conf(pull_extra="bwlimit = 16M", timeout="2s")
    part = os.path.join(fleet.archive, ".incoming", "cms1", "big.partial")
    p = subprocess.Popen([PULL, "-c", fleet.conf, "sync", "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True, start_new_session=True)
    stopped = []
    try:
        wait_until(lambda: os.path.exists(part) and
                   os.path.getsize(part) > 8 * MIB, timeout=60)
        stopped = children(n1.procs["ftpd"].pid)
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        out, _ = p.communicate(timeout=90)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGKILL)
                os.kill(pid, signal.SIGCONT)
            except OSError:
                pass
    s = {x["node"]: x for x in json.loads(out)["nodes"]} if out else {}
    t.ok(stopped and p.returncode == 1 and s["cms1"]["result"] == "failed" and
         any("timed out" in e for e in s["cms1"]["errors"]),
         "a node that stalls mid-transfer: cut off after the timeout, "
         "reported", f"{stopped} {p.returncode} {s}")
    t.ok(s and s["cms2"]["result"] == "ok" and s["cms3"]["result"] == "ok" and
         "two.bak" in fleet.copies(fleet.nodes[1]),
         "the other nodes are synced meanwhile", f"{s}")
    fleet.write_conf()
    rc, s, err = fleet.sync()
    t.ok(rc == 0 and s["cms1"]["resumed"] == 1 and
         filecmp.cmp(fleet.copy(n1, "big.bak"), fleet.original(n1, "big.bak"),
                     shallow=False),
         "the next sync resumes the stalled download and verifies it",
         f"{rc} {s} {err}")


def round_replaced(t, fleet):
    n2 = fleet.nodes[1]
    before = open(fleet.copy(n2, "one.bak"), "rb").read()
    rc, _, err = n2.nb("backup", "delete", "one.bak")
    with open(n2.path("files", "extra.txt"), "w") as f:
        f.write("a change\n")
    snap(n2, "one")
    rc, s, err = fleet.sync()
    e = s["cms2"]["errors"] if s else []
    t.ok(rc == 1 and e and "changed on the node since it was copied" in e[0] and
         open(fleet.copy(n2, "one.bak"), "rb").read() == before,
         "an archive replaced on the node under the same name: reported, "
         "the verified copy kept unchanged", f"{rc} {s}")


def main(t):
    t.plan(21)
    fleet = Fleet(3, first=81)
    round_bad_archives(t, fleet)
    round_keys_down(t, fleet)
    fleet.write_conf()
    round_stall(t, fleet)
    round_replaced(t, fleet)


run(main)
