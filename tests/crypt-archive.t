#!/usr/bin/env python3
"""crypt-archive.t: sealed archives (docs/bak-format.md, format 2).

A node with [snapshotd] recipients seals every new archive: the stock age
tool opens its payload with the operator's identity and finds the same
members as a snapshot in clear of the same state; nodebak verify checks
it without any key and opens it with --identity; backup rollback restores
with the node's recovery identity, and on a rebuilt node with the
operator's (--identity); a wrong identity changes nothing. 200 single-byte
flips, truncations and a payload re-encrypted to another recipient under
the original signature are all refused before anything is written to the
node. nodebak reads what `age -r` encrypts (a format 1 archive encrypted
by the operator)."""
import hashlib
import io
import os
import random
import shutil
import subprocess
import sys
import tarfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from bakutil import sealed_repack  # noqa: E402
from node import BIN, TOP, Node  # noqa: E402
from tap import run  # noqa: E402

LICENCE = "licence of the original node\n"


def keygen(path):
    subprocess.run(["age-keygen", "-o", path], check=True, capture_output=True)
    return subprocess.run(["age-keygen", "-y", path], check=True,
                          capture_output=True, text=True).stdout.strip()


def set_recipients(n, line):
    conf = open(n.conf).read()
    conf = conf.replace("[snapshotd]\n", f"[snapshotd]\n{line}\n", 1)
    with open(n.conf, "w") as f:
        f.write(conf)


def members(bak_bytes):
    """{path: content} of a format 1 archive's members."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(bak_bytes), mode="r:gz") as tf:
        for m in tf.getmembers():
            if m.isfile():
                out[m.name] = tf.extractfile(m).read()
    return out


def outer(bak_bytes):
    """[(name, content, mtime)] of a sealed archive's outer tar."""
    with tarfile.open(fileobj=io.BytesIO(bak_bytes), mode="r:") as tf:
        return [(m.name, tf.extractfile(m).read()) for m in tf.getmembers()]


def age_decrypt(data, key):
    p = subprocess.run(["age", "-d", "-i", key], input=data, capture_output=True)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def verify(*args):
    p = subprocess.run([os.path.join(BIN, "nodebak"), "verify", *args],
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def recipe(script, *args):
    p = subprocess.run(["sh", os.path.join(TOP, "scripts", script), *args],
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def main(t):
    work = os.path.abspath(os.environ.get("TMPDIR", "/tmp"))
    keys = os.path.join(work, f"crypt-archive-{os.getpid()}")
    os.makedirs(keys, mode=0o700, exist_ok=True)
    op_key = os.path.join(keys, "operator.key")
    other_key = os.path.join(keys, "other.key")
    op = keygen(op_key)
    other = keygen(other_key)
    a = Node("crypta")
    b = None
    try:
        os.makedirs(os.path.join(a.files, "certs"), exist_ok=True)
        with open(os.path.join(a.files, "cms.lic"), "w") as f:
            f.write(LICENCE)
        a.start()
        rc, _, err = a.nb("backup", "snapshot", "plain")
        t.ok(rc == 0, "a snapshot in clear before recipients are set", err)
        a.stop()
        set_recipients(a, f"recipients = {op}")
        a.start()
        rc, out, err = a.nb("key", "show")
        own = [ln.split(": ", 1)[1] for ln in out.splitlines()
               if ln.startswith("Recipient")]
        t.ok(rc == 0 and len(own) == 1 and own[0].startswith("age1"),
             "key show prints the node's recipient", out + err)
        rc, out, err = a.nb("backup", "snapshot", "sealed")
        t.ok(rc == 0, "a sealed snapshot", err)
        bk = os.path.join(a.files, "backups")
        sealed_path = os.path.join(bk, "sealed.bak")
        sealed = open(sealed_path, "rb").read()
        plain = open(os.path.join(bk, "plain.bak"), "rb").read()
        t.ok(sealed[:2] != b"\x1f\x8b" and b"age-encryption.org/v1" not in sealed[:512],
             "the sealed archive is not gzip: an outer tar")
        for f in ("sealed.bak", "sealed.json", "plain.bak", "plain.json"):
            mode = os.stat(os.path.join(bk, f)).st_mode & 0o777
            t.ok(mode == 0o640, f"{f} has mode 0640 (got {mode:o})")
        rec = os.stat(os.path.join(a.state, "recovery.age"))
        t.ok(rec.st_mode & 0o777 == 0o600, "the recovery identity is 0600 in the state folder")
        parts = outer(sealed)
        t.eq([n for n, _ in parts], ["payload.age", "ENVELOPE", "ENVELOPE.sig"],
             "outer members: payload.age, ENVELOPE, ENVELOPE.sig")
        env = dict(parts)["ENVELOPE"].decode()
        t.ok(f"recipient {op}" in env and f"recipient {own[0]}" in env,
             "the ENVELOPE names the operator's and the node's recipients", env)
        t.ok(LICENCE.encode() not in sealed and b"cms.lic" not in sealed,
             "nothing of the contents is readable in the sealed archive")

        # The stock age tool opens it; the inside is a format 1 archive
        # with the same members as the snapshot in clear of the same state.
        payload = dict(parts)["payload.age"]
        rc, inner, err = age_decrypt(payload, op_key)
        t.ok(rc == 0 and inner[:2] == b"\x1f\x8b", "age -d -i operator.key opens the payload", err)
        # (config/nodebak.conf differs by the recipients line added.)
        mi, mp = members(inner), members(plain)
        same = sorted(k for k in mi if k not in ("MANIFEST", "MANIFEST.sig"))
        t.eq(same, sorted(k for k in mp if k not in ("MANIFEST", "MANIFEST.sig")),
             "the same members as the snapshot in clear")
        differ = [k for k in same if mi[k] != mp[k]]
        t.eq(differ, ["config/nodebak.conf"], "with identical contents but the "
             "configuration (recipients added)")
        t.ok(mi["config/nodebak.conf"].replace(f"recipients = {op}\n".encode(), b"") ==
             mp["config/nodebak.conf"], "which differs by that line only")
        rc, _, err = age_decrypt(payload, other_key)
        t.ok(rc != 0, "another identity cannot open it", err)

        # Verification without any key, and with the operator's identity.
        with open(os.path.join(keys, "a.keyshow"), "w") as f:
            f.write(a.nb("key", "show")[1])
        rc, out, err = verify(sealed_path, "--key", os.path.join(keys, "a.keyshow"))
        t.ok(rc == 0 and "contents were not opened" in out and op in out,
             "nodebak verify checks a sealed archive with no identity", out + err)
        rc, out, err = verify(sealed_path, "--key", os.path.join(keys, "a.keyshow"),
                              "--identity", op_key)
        t.ok(rc == 0 and "opened with the identity given" in out,
             "nodebak verify --identity opens it and checks every member", out + err)
        rc, out, err = verify(sealed_path, "--key", os.path.join(keys, "a.keyshow"),
                              "--identity", other_key)
        t.ok(rc != 0 and "cannot open it" in err and len(err.strip().splitlines()) == 1,
             "a wrong identity: one clear line", err)
        # The recipes of docs/bak-format.md, standard tools only.
        ks = os.path.join(keys, "a.keyshow")
        rc, out, err = recipe("verify-sealed-openssl.sh", sealed_path, ks)
        t.ok(rc == 0 and "OK (sealed" in out, "verify-sealed-openssl.sh: OK", out + err)
        innerp = os.path.join(keys, "inner.bak")
        with open(innerp, "wb") as f:
            f.write(inner)
        rc, out, err = recipe("verify-openssl.sh", innerp, ks)
        t.ok(rc == 0, "verify-openssl.sh on what age -d opened: OK", out + err)
        msha = hashlib.sha256(mi["MANIFEST"]).hexdigest()
        t.ok(f"manifest-sha256 {msha}\n" in env,
             "the ENVELOPE names the SHA-256 of the MANIFEST inside")
        for what, pos in (("payload", 600), ("ENVELOPE", len(sealed) - 1024 - 512 - 100)):
            bad = bytearray(sealed)
            bad[pos] ^= 1
            badp = os.path.join(keys, "bad.bak")
            with open(badp, "wb") as f:
                f.write(bad)
            rc, out, err = recipe("verify-sealed-openssl.sh", badp, ks)
            t.ok(rc == 1 and "FAILED" in err, f"the recipe refuses a flip in the {what}", err)
        rc, out, err = a.nb("backup", "verify", "sealed.bak")
        t.ok(rc == 0 and "this node's recovery key" in out and "all SHA-256 match" in out,
             "backup verify opens it with the node's recovery identity", out + err)
        rc, out, err = a.nb("backup", "list")
        line = [ln for ln in out.splitlines() if ln.startswith("sealed.bak")]
        t.ok(line and "encrypted to" in line[0] and "this node" in line[0] and
             op[:10] in line[0], "backup list shows the recipients", out)
        line = [ln for ln in out.splitlines() if ln.startswith("plain.bak")]
        t.ok(line and "encrypted" not in line[0], "and nothing for an archive in clear")

        # Rollback with the node's own key.
        lic = os.path.join(a.files, "cms.lic")
        with open(lic, "w") as f:
            f.write("changed after the snapshot\n")
        rc, out, err = a.nb("backup", "rollback", "sealed.bak", "--yes",
                            "--no-safety-snapshot")
        t.ok(rc == 0 and open(lic).read() == LICENCE,
             "rollback from the sealed archive with the node's recovery key", out + err)

        # Tampering: 200 single-byte flips, each refused before the node
        # is touched (rollback stages and verifies first).
        with open(lic, "w") as f:
            f.write("state that must survive\n")
        json_bytes = open(os.path.join(bk, "sealed.json"), "rb").read()
        rng = random.Random(int(os.environ.get("NODEBAK_SEED", "20261202")))
        flips = [(rng.randrange(len(sealed)), rng.randrange(1, 256)) for _ in range(200)]
        accepted = []
        for i, (pos, x) in enumerate(flips):
            bad = bytearray(sealed)
            bad[pos] ^= x
            with open(os.path.join(bk, f"flip{i}.bak"), "wb") as f:
                f.write(bad)
            rc, out, err = a.nb("backup", "verify", f"flip{i}.bak")
            if rc == 0:
                accepted.append(pos)
            os.unlink(os.path.join(bk, f"flip{i}.bak"))
        t.ok(not accepted, f"200 single-byte flips, none accepted by backup verify "
             f"(no .json beside them)", f"accepted at {accepted}")
        # A few through rollback itself: refused, node unchanged.
        changed = []
        for i, (pos, x) in enumerate(flips[:8]):
            bad = bytearray(sealed)
            bad[pos] ^= x
            with open(os.path.join(bk, f"rflip{i}.bak"), "wb") as f:
                f.write(bad)
            rc, out, err = a.nb("backup", "rollback", f"rflip{i}.bak", "--yes",
                                "--no-safety-snapshot")
            if rc == 0 or open(lic).read() != "state that must survive\n":
                changed.append((pos, out + err))
            os.unlink(os.path.join(bk, f"rflip{i}.bak"))
        t.ok(not changed, "8 flipped archives through rollback: refused, node unchanged",
             str(changed))
        for cut in (len(sealed) - 1, len(sealed) - 1024, len(sealed) // 2, 700):
            with open(os.path.join(bk, "cut.bak"), "wb") as f:
                f.write(sealed[:cut])
            rc, out, err = a.nb("backup", "verify", "cut.bak")
            t.ok(rc != 0, f"truncated to {cut} bytes: refused", err)
        os.unlink(os.path.join(bk, "cut.bak"))
        # Re-encrypted to another recipient under the original ENVELOPE.
        re = subprocess.run(["age", "-r", other], input=inner, capture_output=True,
                            check=True).stdout
        d = dict(parts)
        mtime = tarfile.open(fileobj=io.BytesIO(sealed), mode="r:").getmembers()[0].mtime
        t.ok(sealed_repack(parts, mtime) == sealed, "the test re-packs the outer tar byte for byte")
        forged = sealed_repack([("payload.age", re), ("ENVELOPE", d["ENVELOPE"]),
                         ("ENVELOPE.sig", d["ENVELOPE.sig"])], mtime)
        with open(os.path.join(bk, "reenc.bak"), "wb") as f:
            f.write(forged)
        rc, out, err = verify(os.path.join(bk, "reenc.bak"), "--key",
                              os.path.join(keys, "a.keyshow"))
        t.ok(rc != 0 and "re-encrypted" in err,
             "a payload re-encrypted to another recipient under the original "
             "signature is refused (no identity needed)", err)
        rc, out, err = verify(os.path.join(bk, "reenc.bak"), "--key",
                              os.path.join(keys, "a.keyshow"), "--identity", other_key)
        t.ok(rc != 0, "also by whoever can open it", err)
        rc, out, err = recipe("verify-sealed-openssl.sh", os.path.join(bk, "reenc.bak"),
                              os.path.join(keys, "a.keyshow"))
        t.ok(rc == 1 and "not the one signed" in err, "and by the openssl recipe", err)
        os.unlink(os.path.join(bk, "reenc.bak"))

        # What age -r encrypts: a format 1 archive, sealed by the operator.
        rc, out, err = a.nb("key", "show")
        encl = subprocess.run(["age", "-r", own[0], "-r", op], input=plain,
                              capture_output=True, check=True).stdout
        with open(os.path.join(bk, "byage.bak"), "wb") as f:
            f.write(encl)
        rc, out, err = verify(os.path.join(bk, "byage.bak"), "--key",
                              os.path.join(keys, "a.keyshow"), "--identity", op_key)
        t.ok(rc == 0 and "age-encrypted format 1" in out,
             "nodebak verify opens a format 1 archive encrypted with age -r", out + err)
        rc, out, err = verify(os.path.join(bk, "byage.bak"), "--key",
                              os.path.join(keys, "a.keyshow"))
        t.ok(rc != 0 and "--identity" in err, "without an identity: says what is needed", err)
        with open(lic, "w") as f:
            f.write("changed again\n")
        rc, out, err = a.nb("backup", "rollback", "byage.bak", "--yes", "--no-safety-snapshot")
        t.ok(rc == 0 and open(lic).read() == LICENCE,
             "rollback from it with the node's recovery identity", out + err)

        # The operator's key replaced by another: schedule status warns
        # about the archives only the removed key opens off the node. (The
        # rollbacks above restored a configuration without recipients.)
        a.stop()
        set_recipients(a, f"recipients = {op}")
        a.start()
        rc, out, err = a.nb("backup", "schedule", "status")
        t.ok(rc == 0 and "sealed to 1 recipient and this node" in out and
             "WARNING" not in out, "schedule status: encryption on, no warning", out + err)
        a.stop()
        conf = open(a.conf).read().replace(f"recipients = {op}", f"recipients = {other}")
        with open(a.conf, "w") as f:
            f.write(conf)
        a.start()
        rc, out, err = a.nb("backup", "schedule", "status")
        t.ok(rc == 0 and "WARNING: 1 archive (newest sealed.bak) is sealed only to "
             "recipients no longer configured" in out,
             "schedule status warns about archives sealed to removed recipients", out + err)
        rc, out, err = a.nb("backup", "schedule", "status", "--json")
        t.ok(rc == 0 and '"sealed_to_removed_recipients":1' in out.replace(" ", ""),
             "and says so in --json", out)

        # The node lost: its archive restored onto a rebuilt node with the
        # operator's identity.
        b = Node("crypta")
        b.start()
        bkb = os.path.join(b.files, "backups")
        shutil.copy(sealed_path, os.path.join(bkb, "sealed.bak"))
        with open(os.path.join(bkb, "sealed.json"), "wb") as f:
            f.write(json_bytes)
        subprocess.run([os.path.join(BIN, "nodebak"), "-c", b.conf, "key", "trust",
                        os.path.join(keys, "a.keyshow")], capture_output=True, timeout=60)
        lic_b = os.path.join(b.files, "cms.lic")
        rc, out, err = b.nb("backup", "rollback", "sealed.bak", "--yes",
                            "--no-safety-snapshot", "--force", "node")
        t.ok(rc != 0 and "identit" in err and not os.path.exists(lic_b),
             "the rebuilt node's own key cannot open it: refused, nothing changed", out + err)
        wrong = os.path.join(keys, "wrong.key")
        keygen(wrong)
        rc, out, err = b.nb("backup", "rollback", "sealed.bak", "--yes",
                            "--no-safety-snapshot", "--force", "node", "--identity", wrong)
        t.ok(rc != 0 and "none of the 1 identity given" in err and "not changed" in err
             and not os.path.exists(lic_b), "a wrong identity: one clear error, nothing changed",
             out + err)
        rc, out, err = b.nb("backup", "rollback", "sealed.bak", "--yes",
                            "--no-safety-snapshot", "--force", "node", "--identity", op_key)
        t.ok(rc == 0 and os.path.exists(lic_b) and open(lic_b).read() == LICENCE,
             "rollback --identity operator.key restores the rebuilt node", out + err)
        rc, out, err = b.nb("backup", "rollback", "sealed.bak", "--identity", "rel.key")
        t.ok(rc != 0 and "absolute path" in err, "--identity wants an absolute path", err)
    finally:
        a.cleanup()
        if b:
            b.cleanup()
        shutil.rmtree(keys, ignore_errors=True)


run(main)
