#!/usr/bin/env python3
"""pull-s3.t: nodebak-pull's object-storage target ([pull] store) on a
real S3 server: a single-node Ceph RADOS Gateway on loopback
(tests/lib/ceph_rgw.py). Three sealed nodes synced into a bucket, objects
byte-identical to the nodes' archives (read back with curl --aws-sigv4);
an archive of several parts stored while it is pulled;
a second sync sends nothing; a puller SIGKILLed in the middle of a
200 MiB multipart upload resumes with fewer bytes than the archive;
retention deletes in the store exactly what the policy says; a tampered
object is reported by verify --store; fetch brings a copy back verified;
wrong credentials, a missing bucket, a clock two hours off (faketime)
and a store that is down each give their one line while the nodes are
still pulled; with Object Lock the store refuses a delete before the
retention date, the puller's own retention included; s3_keep_local = no
leaves the copies in the store only."""
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ceph_rgw import Rgw, available  # noqa: E402
from pull_util import Fleet, PULL  # noqa: E402
from scenario import prom_samples, wait_until  # noqa: E402
from tap import run  # noqa: E402

MIB = 1 << 20
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
BUCKET = "nodebak-copies"
PREFIX = "site1"


class S3:
    """Requests to the gateway with curl's own SigV4 signing: a client
    independent of nodebak-pull's."""

    def __init__(self, rgw):
        self.rgw = rgw

    def req(self, method, path, body=None, headers=(), out=None):
        # -I, not -X HEAD: curl would wait for the body Content-Length names
        verb = ["-I"] if method == "HEAD" else ["-X", method]
        argv = ["curl", "-sS", "--max-time", "60", *verb,
                "--aws-sigv4", "aws:amz:us-east-1:s3",
                "--user", f"{self.rgw.access}:{self.rgw.secret}",
                "-o", out or "-", "-w", "\n%{http_code}", "-D", "-"]
        sha = hashlib.sha256(body or b"").hexdigest()
        argv += ["-H", f"x-amz-content-sha256: {sha}"]
        for h in headers:
            argv += ["-H", h]
        if body is not None:
            argv += ["--data-binary", "@-"]
        p = subprocess.run(argv + [self.rgw.endpoint + path], input=body,
                           capture_output=True, timeout=90)
        text = p.stdout.decode("utf-8", "replace")
        status = int(text.rsplit("\n", 1)[-1] or 0)
        return status, text

    def keys(self, bucket=BUCKET, prefix=""):
        q = urllib.parse.quote(prefix, safe="")
        _, text = self.req("GET", f"/{bucket}?list-type=2&prefix={q}")
        xml = text[text.index("<?xml"):text.rindex(">") + 1]
        root = ET.fromstring(xml)
        return {c.find(NS + "Key").text: (c.find(NS + "ETag").text,
                                         c.find(NS + "LastModified").text)
                for c in root.findall(NS + "Contents")}

    def get(self, key, bucket=BUCKET):
        with tempfile.NamedTemporaryFile() as f:
            status, _ = self.req("GET", f"/{bucket}/{key}", out=f.name)
            return f.read() if status == 200 else None

    def has_upload(self, key, bucket=BUCKET):
        q = urllib.parse.quote(key, safe="")
        _, text = self.req("GET", f"/{bucket}?prefix={q}&uploads=")
        return "<UploadId>" in text

    def parts(self, key, bucket=BUCKET):
        """Parts stored so far of key's unfinished multipart upload."""
        q = urllib.parse.quote(key, safe="")
        _, text = self.req("GET", f"/{bucket}?prefix={q}&uploads=")
        m = re.search(r"<UploadId>([^<]+)</UploadId>", text)
        if not m:
            return 0
        u = urllib.parse.quote(m.group(1), safe="")
        _, text = self.req("GET", f"/{bucket}/{key}?uploadId={u}")
        return len(re.findall(r"<Part>", text))


def snap(n, name, mib=0):
    if mib:
        os.makedirs(n.path("files", "data"), exist_ok=True)
        with open(n.path("files", "data", "blob"), "wb") as f:
            for _ in range(mib):
                f.write(os.urandom(MIB))
    rc, _, err = n.nb("backup", "snapshot", name)
    if mib:
        os.unlink(n.path("files", "data", "blob"))
    if rc != 0:
        raise RuntimeError(f"snapshot {name}: {err}")


def credentials(fleet, rgw, name="s3.cred", secret=None, mode=0o600):
    path = os.path.join(fleet.host, name)
    with open(path, "w") as f:
        f.write(f"access_key = {rgw.access}\n"
                f"secret_key = {secret or rgw.secret}\n")
    os.chmod(path, mode)
    return path


def store_conf(fleet, rgw, bucket=BUCKET, cred=None, endpoint=None,
               extra=""):
    return (f"store = s3://{bucket}/{PREFIX}\n"
            f"s3_endpoint = {endpoint or rgw.endpoint}\n"
            f"s3_credentials = {cred or credentials(fleet, rgw)}\n"
            f"s3_part_size = 8M\n{extra}")


def key(n, file):
    return f"{PREFIX}/{n.name}/{file}"


def three_nodes(t, fleet, s3, rgw):
    for n in fleet.nodes:
        snap(n, "first")
    fleet.write_conf(pull_extra=store_conf(fleet, rgw))
    rc, s, err = fleet.sync()
    t.ok(rc == 0 and s and all(s[n.name]["store"]["stored"] == 1
                               for n in fleet.nodes),
         "three nodes synced into the bucket", f"{rc} {s} {err}")
    same = all(s3.get(key(n, f)) == open(fleet.original(n, f), "rb").read()
               for n in fleet.nodes for f in ("first.bak", "first.json"))
    t.ok(same, "each object is byte-identical to the node's archive and "
         "sidecar (read back with curl --aws-sigv4)")
    _, head = s3.req("HEAD", f"/{BUCKET}/{key(fleet.nodes[0], 'first.bak')}")
    sha = hashlib.sha256(open(fleet.original(fleet.nodes[0], "first.bak"),
                              "rb").read()).hexdigest()
    t.ok(f"x-amz-meta-sha256: {sha}" in head.lower() and
         "x-amz-meta-key-id:" in head.lower(),
         "objects carry their SHA-256 and the signer's key id", head)
    before = s3.keys()
    rc, s, err = fleet.sync()
    t.ok(rc == 0 and all(s[n.name]["store"]["bytes"] == 0 and
                         s[n.name]["store"]["stored"] == 0 and
                         s[n.name]["store"]["skipped"] == 1
                         for n in fleet.nodes) and s3.keys() == before,
         "a second sync uploads nothing (0 bytes, every object unchanged)",
         f"{s}")
    m = {(x[0], x[1].get("node")): x[2] for x in prom_samples(fleet.metrics)}
    t.ok(m.get(("nodebak_pull_store_bytes_total", "cms1"), 0) > 0,
         "nodebak_pull_store_bytes_total counts the bytes sent")


def overlap(t, fleet, s3, rgw):
    """An archive of several parts is uploaded while it is pulled, and
    completed only once it has verified."""
    n = fleet.nodes[1]
    snap(n, "mid", mib=20)
    size = os.path.getsize(fleet.original(n, "mid.bak"))
    fleet.write_conf(pull_extra=store_conf(fleet, rgw))
    rc, s, err = fleet.run("sync", "--node", n.name)
    t.ok(rc == 0 and "mid.bak: stored in" in err and "alongside the pull" in
         err and s3.get(key(n, "mid.bak")) ==
         open(fleet.original(n, "mid.bak"), "rb").read(),
         f"a {size}-byte archive (3 parts) is stored alongside its pull, "
         "byte-identical", err)
    rc, s, err = fleet.sync("--node", n.name)
    t.ok(rc == 0 and s[n.name]["store"]["bytes"] == 0 and
         s[n.name]["store"]["skipped"] == 2, "and not sent again", f"{s}")
    bad = fleet.nodes[2]
    snap(bad, "broken", mib=20)
    with open(fleet.original(bad, "broken.bak"), "r+b") as f:
        f.seek(12 * MIB)
        f.write(b"\0" * 64)
    rc, s, err = fleet.sync("--node", bad.name)
    t.ok(rc == 2 and "broken.bak" in fleet.quarantined(bad) and
         key(bad, "broken.bak") not in s3.keys() and
         key(bad, "broken.json") not in s3.keys() and
         s3.parts(key(bad, "broken.bak")) == 0 and
         not s3.has_upload(key(bad, "broken.bak")),
         "an archive that fails verification while it is uploaded is "
         "quarantined, never completed in the store, its upload aborted",
         f"{s}")
    bad.nb("backup", "delete", "broken.bak")
    s3.req("DELETE", f"/{BUCKET}/{key(n, 'mid.bak')}")
    s3.req("DELETE", f"/{BUCKET}/{key(n, 'mid.json')}")
    n.nb("backup", "delete", "mid.bak")
    for f in ("mid.bak", "mid.json"):
        os.unlink(fleet.copy(n, f))


def resume(t, fleet, s3, rgw):
    n = fleet.nodes[0]
    snap(n, "big", mib=200)
    size = os.path.getsize(fleet.original(n, "big.bak"))
    # The archive host pulls it first (no store), then stores it slowly.
    fleet.write_conf()
    rc, s, err = fleet.sync("--node", n.name)
    t.ok(rc == 0, "the 200 MiB archive is pulled", err)
    fleet.write_conf(pull_extra=store_conf(fleet, rgw) + "bwlimit = 40M\n")
    p = subprocess.Popen([PULL, "-c", fleet.conf, "sync", "--json", "--node",
                          n.name], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        mid = wait_until(lambda: s3.parts(key(n, "big.bak")) >= 6,
                         timeout=60, step=0.2)
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    t.ok(mid and key(n, "big.bak") not in s3.keys(),
         "the puller is SIGKILLed in the middle of the multipart upload")
    fleet.write_conf(pull_extra=store_conf(fleet, rgw))
    rc, s, err = fleet.sync("--node", n.name)
    st = s and s[n.name]["store"]
    t.ok(rc == 0 and st and st["resumed"] == 1 and 0 < st["bytes"] < size,
         f"the next sync resumes: {st and st['bytes']} of {size} bytes sent",
         f"{s} {err}")
    data = s3.get(key(n, "big.bak"))
    t.ok(data is not None and hashlib.sha256(data).hexdigest() ==
         hashlib.sha256(open(fleet.original(n, "big.bak"), "rb").read())
         .hexdigest(), "the resumed object is byte-identical")
    del data
    # The big one is no longer needed: it would make every verify slow.
    s3.req("DELETE", f"/{BUCKET}/{key(n, 'big.bak')}")
    s3.req("DELETE", f"/{BUCKET}/{key(n, 'big.json')}")
    n.nb("backup", "delete", "big.bak")
    for f in ("big.bak", "big.json"):
        os.unlink(fleet.copy(n, f))


def retention(t, fleet, s3, rgw):
    n = fleet.nodes[2]
    for k in range(4):
        snap(n, f"auto-2026120{k + 1}T020000Z")
    fleet.write_conf(pull_extra=store_conf(fleet, rgw))
    rc, s, err = fleet.sync("--node", n.name)
    t.ok(rc == 0 and s[n.name]["store"]["stored"] == 4,
         "four scheduled archives stored", f"{s} {err}")
    fleet.write_conf(pull_extra=store_conf(fleet, rgw),
                     retention="keep_last = 2")
    rc, s, err = fleet.sync("--node", n.name)
    keys = sorted(k.rsplit("/", 1)[1] for k in s3.keys(prefix=f"{PREFIX}/"
                                                        f"{n.name}/"))
    want = sorted(f"{b}.{x}" for b in ("auto-20261203T020000Z",
                                       "auto-20261204T020000Z", "first")
                  for x in ("bak", "json"))
    t.ok(rc == 0 and s[n.name]["store"]["deleted"] == 2 and keys == want,
         "keep_last = 2: exactly the two oldest scheduled copies are deleted "
         "from the store; the manual one stays", f"{keys} {s}")


def tamper(t, fleet, s3, rgw):
    n = fleet.nodes[1]
    k = key(n, "first.bak")
    _, head = s3.req("HEAD", f"/{BUCKET}/{k}")
    meta = sorted({ln.strip() for ln in head.splitlines()
                   if ln.lower().startswith("x-amz-meta-")})
    data = bytearray(s3.get(k))
    data[200] ^= 1
    status, _ = s3.req("PUT", f"/{BUCKET}/{k}", body=bytes(data),
                       headers=meta)
    rc, out, err = fleet.run("verify", "--store")
    bad = [ln for ln in out.splitlines() if "FAILED" in ln]
    t.ok(status == 200 and rc == 1 and len(bad) == 1 and
         f"{n.name}/first.bak" in bad[0] and
         "0 objects checked" not in out,
         "a tampered object (metadata kept) is reported by verify --store, "
         "the others verify", out + err)
    rest = fleet.nodes[0]
    dest = tempfile.mkdtemp(dir=fleet.host)
    rc, out, err = fleet.run("fetch", rest.name, "first", "--to", dest)
    t.ok(rc == 0 and open(os.path.join(dest, "first.bak"), "rb").read() ==
         open(fleet.original(rest, "first.bak"), "rb").read(),
         "fetch NODE NAME downloads a copy back, verified", out + err)
    dest2 = tempfile.mkdtemp(dir=fleet.host)
    rc, out, err = fleet.run("fetch", n.name, "first", "--to", dest2)
    t.ok(rc != 0 and os.listdir(dest2) == [],
         "fetch of the tampered object fails and leaves nothing", out + err)


def errors(t, fleet, s3, rgw):
    snap(fleet.nodes[0], "second")
    wrong = credentials(fleet, rgw, "wrong.cred", secret="x" * 40)
    fleet.write_conf(pull_extra=store_conf(fleet, rgw, cred=wrong))
    rc, s, err = fleet.sync()
    lines = s and s["cms1"]["errors"]
    t.ok(rc == 2 and lines and len(lines) == 1 and
         f"s3://{BUCKET}/{PREFIX}" in lines[0] and
         "check s3_credentials" in lines[0] and s["cms1"]["new"] == 1,
         "wrong credentials: one line naming the store and s3_credentials; "
         "the node is still pulled", f"{s}")
    everything = str(s) + err
    t.ok(rgw.secret not in everything and "x" * 40 not in everything,
         "the secret is never printed")
    loose = credentials(fleet, rgw, "loose.cred", mode=0o644)
    fleet.write_conf(pull_extra=store_conf(fleet, rgw, cred=loose))
    rc, s, err = fleet.sync("--node", "cms2")
    t.ok(rc == 2 and "must be 0600" in s["cms2"]["errors"][0],
         "a credentials file readable by others is refused",
         f"{s}")
    fleet.write_conf(pull_extra=store_conf(fleet, rgw, bucket="no-such-one"))
    rc, s, err = fleet.sync("--node", "cms2")
    t.ok(rc == 2 and "bucket no-such-one does not exist (NoSuchBucket)" in
         s["cms2"]["errors"][0] and len(s["cms2"]["errors"]) == 1,
         "a missing bucket: its one line", f"{s}")
    with __import__("socket").socket() as sk:
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    fleet.write_conf(pull_extra=store_conf(
        fleet, rgw, endpoint=f"http://127.0.0.1:{port}"))
    rc, s, err = fleet.sync()
    t.ok(rc == 2 and all(len(s[n.name]["errors"]) == 1 and
                         "check s3_endpoint and that the store is up" in
                         s[n.name]["errors"][0] for n in fleet.nodes),
         "a store that is down: one line per node, every node still synced",
         f"{s}")


def object_lock(t, fleet, s3, rgw):
    status, _ = s3.req("PUT", "/locked",
                       headers=["x-amz-bucket-object-lock-enabled: true"])
    fleet.write_conf(pull_extra=store_conf(
        fleet, rgw, bucket="locked", extra="s3_object_lock_days = 1\n"))
    rc, s, err = fleet.sync("--node", "cms1")
    k = key(fleet.nodes[0], "first.bak")
    _, head = s3.req("HEAD", f"/locked/{k}")
    until = re.search(r"x-amz-object-lock-retain-until-date: (\S+)", head,
                      re.I)
    version = re.search(r"x-amz-version-id: (\S+)", head, re.I)
    t.ok(status == 200 and rc == 0 and until and version and
         "compliance" in head.lower(),
         "with Object Lock, stored objects carry a retention date", f"{s} "
         f"{head}")
    status, text = s3.req("DELETE", f"/locked/{k}?versionId="
                          f"{version.group(1) if version else ''}")
    _, head2 = s3.req("HEAD", f"/locked/{k}")
    t.ok(status == 403 and "AccessDenied" in text and
         head2.startswith("HTTP/1.1 200"),
         "a delete before the retention date is refused by the store",
         text)
    # The puller's own retention meets the same refusal: history stays.
    fleet.write_conf(pull_extra=store_conf(
        fleet, rgw, bucket="locked", extra="s3_object_lock_days = 1\n"),
        retention="keep_manual = 1")
    rc, s, err = fleet.sync("--node", "cms1")
    errs = s and s["cms1"]["errors"]
    t.ok(rc == 2 and errs and "refused by the store (AccessDenied)" in
         errs[0] and k in s3.keys(bucket="locked"),
         "retention in a locked bucket: the store's refusal is the one line, "
         "the object stays", f"{s}")


def clock_skew(t, fleet, s3, rgw):
    if shutil.which("faketime") is None:
        t.ok(True, "# SKIP faketime is not installed")
        return
    fleet.write_conf(pull_extra=store_conf(fleet, rgw))
    p = subprocess.run(["faketime", "-f", "+2h", PULL, "-c", fleet.conf,
                        "sync", "--json", "--node", "cms2"],
                       capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    t.ok(p.returncode == 2 and "(RequestTimeTooSkewed): check the clock and "
         "NTP on this host" in p.stdout,
         "a clock two hours ahead: RequestTimeTooSkewed, one line", p.stdout)


def keep_local_no(t, fleet, s3, rgw):
    """s3_keep_local = no: the store holds the copies, the archive host
    none, and nothing is pulled again."""
    n = fleet.nodes[2]
    snap(n, "stateless")
    fleet.write_conf(pull_extra=store_conf(fleet, rgw,
                                           extra="s3_keep_local = no\n"))
    rc, s, err = fleet.sync("--node", n.name)
    keys = s3.keys(prefix=f"{PREFIX}/{n.name}/")
    m = {(x[0], x[1].get("node")): x[2] for x in prom_samples(fleet.metrics)}
    t.ok(rc == 0 and fleet.copies(n) == [] and
         key(n, "stateless.bak") in keys and key(n, "first.bak") in keys and
         m.get(("nodebak_pull_newest_archive_timestamp_seconds", n.name), 0)
         > 0, "s3_keep_local = no: the copies are in the store only; the "
         "recovery point metric still counts them", f"{s} {keys}")
    rc, s, err = fleet.sync("--node", n.name)
    t.ok(rc == 0 and s[n.name]["bytes"] == 0 and s[n.name]["new"] == 0 and
         s[n.name]["store"]["bytes"] == 0 and fleet.copies(n) == [],
         "and the next sync pulls and sends nothing", f"{s}")


def main(t):
    missing = available()
    if missing:
        t.skip_all(f"Ceph is not installed ({missing}): make deps")
    t0 = time.monotonic()
    t.plan(28)
    with Rgw() as rgw:
        s3 = S3(rgw)
        status, _ = s3.req("PUT", f"/{BUCKET}")
        if status != 200:
            raise RuntimeError(f"cannot create the bucket: {status}")
        fleet = Fleet(3, first=41)
        for step in (three_nodes, overlap, resume, retention, tamper, errors,
                     clock_skew, object_lock, keep_local_no):
            t1 = time.monotonic()
            step(t, fleet, s3, rgw)
            t.diag(f"{step.__name__}: {time.monotonic() - t1:.1f} s")
    t.diag(f"pull-s3.t: {time.monotonic() - t0:.1f} s")


run(main)
