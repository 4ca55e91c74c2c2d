#!/usr/bin/env python3
"""snapshot-verify.t: backup verify rejects archives with one byte flipped
(200 random positions, fixed seed): all of them with the .json beside the
archive, and without it every flip but those that leave the decompressed
content byte for byte the same (checked here with Python's gzip and
tarfile); truncated archives, a MANIFEST edited and re-packed
without re-signing, and archives signed by an untrusted key, each with a
message that says what is wrong."""
import hashlib
import io
import os
import random
import shutil
import sys
import tarfile
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from bakutil import pack, read_members  # noqa: E402
from node import Node  # noqa: E402
from tap import run  # noqa: E402


def members_of(bak):
    """[(name, type, mode, mtime, content)] of .bak bytes, read with
    Python's gzip and tarfile."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(bak), mode="r:gz") as tf:
        for m in tf.getmembers():
            out.append((m.name, m.type, m.mode, m.mtime,
                        tf.extractfile(m).read() if m.isfile() else None))
    return out


def main(t):
    a = Node("verify-a")
    b = Node("verify-b")
    for n in (a, b):
        os.makedirs(n.files, exist_ok=True)
        with open(os.path.join(n.files, "cms.lic"), "w") as f:
            f.write(f"licence of {n.name}\n")
        n.start()
    try:
        rc, _, err = a.nb("backup", "snapshot", "good")
        t.ok(rc == 0, "snapshot good", err)
        bk = os.path.join(a.files, "backups")
        good = os.path.join(bk, "good.bak")
        data = open(good, "rb").read()
        gjson = open(os.path.join(bk, "good.json")).read()

        seed = int(os.environ.get("NODEBAK_SEED", "20261128"))
        rng = random.Random(seed)
        t.diag(f"flip seed {seed}, archive {len(data)} bytes")
        flips = [(rng.randrange(len(data)), rng.randrange(1, 256)) for _ in range(200)]
        missed, loud, verified = [], [], []
        for i, (pos, x) in enumerate(flips):
            bad = bytearray(data)
            bad[pos] ^= x
            with open(os.path.join(bk, f"flip{i}.bak"), "wb") as f:
                f.write(bad)
            # With the good .json beside it: its SHA-256 refuses every flip.
            with open(os.path.join(bk, f"flip{i}.json"), "w") as f:
                f.write(gjson)
            rc, out, err = a.nb("backup", "verify", f"flip{i}.bak")
            if rc == 0 or "FAILED" not in err or err.count("\n") != 1:
                missed.append((pos, x, rc, err))
            os.unlink(os.path.join(bk, f"flip{i}.json"))
            # Without it: only the archive's own checks.
            rc, out, err = a.nb("backup", "verify", f"flip{i}.bak")
            if rc == 0:
                verified.append((pos, x))
            elif "FAILED" not in err or err.count("\n") != 1:
                loud.append((pos, x, rc, err))
            os.unlink(os.path.join(bk, f"flip{i}.bak"))
        t.ok(not missed, "with the .json beside them, 200 archives with one byte flipped are "
             "all rejected, one line each", missed[:5])
        t.ok(not loud, "without the .json, every refusal is one line", loud[:5])
        t.diag(f"without the .json, {len(verified)} of 200 flips verified: "
               f"{[(pos, hex(x)) for pos, x in verified]}")
        # A flip the archive's own checks accept must change nothing a
        # reader gets: the same decompressed tar stream, so the same members
        # byte for byte, and no gzip header byte (but XFL set to another
        # level's value, which docs/bak-format.md allows).
        good_tar, good_members = zlib.decompress(data, 31), members_of(data)
        harmful = []
        for pos, x in verified:
            bad = bytearray(data)
            bad[pos] ^= x
            same = zlib.decompress(bytes(bad), 31) == good_tar and \
                members_of(bytes(bad)) == good_members
            in_header = pos < 10 and not (pos == 8 and bad[8] in (0, 2, 4))
            if not same or in_header:
                harmful.append((pos, x, "members differ" if not same else "gzip header"))
        t.ok(not harmful, f"without the .json, the {len(verified)} flips that verify leave every "
             "member byte for byte identical and no gzip header byte changed", harmful)

        # Truncation, without the .json: the archive's own checks catch it.
        for cut in [len(data) - 1, len(data) - 8, len(data) - 100, len(data) // 2, 600, 10, 0]:
            with open(os.path.join(bk, "cut.bak"), "wb") as f:
                f.write(data[:cut])
            rc, out, err = a.nb("backup", "verify", "cut.bak")
            t.ok(rc == 1 and "FAILED" in err, f"truncated to {cut} bytes rejected", err)
        os.unlink(os.path.join(bk, "cut.bak"))

        # Trailing bytes after the archive, without the .json.
        with open(os.path.join(bk, "tail.bak"), "wb") as f:
            f.write(data + b"\0" * 512)
        rc, out, err = a.nb("backup", "verify", "tail.bak")
        t.ok(rc == 1 and "trailing data" in err, "trailing bytes rejected", err)
        os.unlink(os.path.join(bk, "tail.bak"))

        # MANIFEST edited (a licence swapped, its hash updated), re-packed,
        # not re-signed.
        members = read_members(good)
        evil = b"licence: everything unlocked\n"
        text = members[0][1].decode()
        old = hashlib.sha256(f"licence of {a.name}\n".encode()).hexdigest()
        size_old = len(f"licence of {a.name}\n")
        new_line = f"file {hashlib.sha256(evil).hexdigest()} {len(evil)} 0644 files/cms.lic"
        text = text.replace(f"file {old} {size_old} 0644 files/cms.lic", new_line)
        t.ok(new_line in text, "test edited the MANIFEST line of files/cms.lic")
        out_members = []
        for info, blob in members:
            if info.name == "MANIFEST":
                blob = text.encode()
                info.size = len(blob)
            if info.name == "files/cms.lic":
                blob = evil
                info.size = len(blob)
            out_members.append((info, blob))
        with open(os.path.join(bk, "edited.bak"), "wb") as f:
            f.write(pack(out_members))
        rc, out, err = a.nb("backup", "verify", "edited.bak")
        t.ok(rc == 1 and "signature does not match key" in err, "edited MANIFEST: signature does not match", err)
        # The same member swapped with the MANIFEST left alone.
        out_members = [(i, d) for i, d in members]
        for k, (info, blob) in enumerate(out_members):
            if info.name == "files/cms.lic":
                info.size = len(evil)
                out_members[k] = (info, evil)
        with open(os.path.join(bk, "swapped.bak"), "wb") as f:
            f.write(pack(members[:2] + out_members[2:]))
        rc, out, err = a.nb("backup", "verify", "swapped.bak")
        t.ok(rc == 1 and "files/cms.lic" in err, "member changed under a signed MANIFEST is named", err)

        # Signed by another node: untrusted until its key is trusted.
        rc, _, err = b.nb("backup", "snapshot", "fromb")
        shutil.copy(os.path.join(b.files, "backups", "fromb.bak"), bk)
        shutil.copy(os.path.join(b.files, "backups", "fromb.json"), bk)
        rc, out, err = a.nb("backup", "verify", "fromb.bak")
        t.ok(rc == 1 and "does not trust" in err, "archive of an untrusted key rejected", err)
        rc, out, _ = a.nb("backup", "list")
        t.ok("(untrusted)" in out, "backup list marks the signer untrusted", out)
        rc, show, _ = b.nb("key", "show")
        with open(os.path.join(a.root, "b.key"), "w") as f:
            f.write(show)
        rc, out, err = a.nb("key", "trust", os.path.join(a.root, "b.key"))
        t.ok(rc == 0 and "trusted" in out, "key trust of the other node's key show output", err)
        rc, out, err = a.nb("backup", "verify", "fromb.bak")
        t.ok(rc == 0 and "(trusted)" in out, "then it verifies, signer trusted", out + err)
        rc, out, err = a.nb("key", "trust", os.path.join(a.state, "signing.pub"))
        t.ok(rc == 1 and "own key" in err, "trusting the node's own key is refused")
        rc, out, err = a.nb("backup", "verify", "good.bak")
        t.ok(rc == 0, "the original still verifies")
    finally:
        a.cleanup()
        b.cleanup()


run(main)
