#!/usr/bin/env python3
"""names-bytes.t: a file in the files root whose name is not UTF-8 (Linux
names are bytes) must not make the node's snapshots unusable. It did:
NAME.json carried the raw bytes, which is not JSON (RFC 8259 text is
UTF-8), so `backup verify` and `backup rollback` refused every snapshot
of such a node.

Now NAME.json renders such a name with U+FFFD for each byte that is not
UTF-8 and gives its exact bytes in "path_hex" (docs/bak-format.md,
"NAME.json"): Python's strict JSON parser reads it, verify on the node and
offline says OK, and a rollback puts the file back under exactly its
name, beside names that are UTF-8."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import BIN, Node  # noqa: E402
from tap import run  # noqa: E402

NAMES = [b"odd\xff.lic",              # a byte that never starts UTF-8
         b"latin1-caf\xe9.cer",        # Latin-1, as an old tool would write
         b"overlong-\xc0\xaf.key",     # an overlong form of '/'
         "caf\u00e9-\U0001F600.lic".encode()]   # UTF-8: no path_hex


def main(t):
    n = Node("names1")
    try:
        files = n.files.encode()
        os.makedirs(files, exist_ok=True)
        for i, name in enumerate(NAMES):
            with open(os.path.join(files, name), "wb") as f:
                f.write(b"content %d\n" % i)
        n.start()
        rc, out, err = n.nb("backup", "snapshot", "s1")
        t.ok(rc == 0, "a snapshot of a files root with names that are not UTF-8", err)
        with open(os.path.join(n.files, "backups", "s1.json"), "rb") as f:
            raw = f.read()
        try:
            doc = json.loads(raw.decode("utf-8"))    # strict: UTF-8 text only
        except ValueError as e:
            doc = None
            why = str(e)
        t.ok(doc is not None, "NAME.json is UTF-8 JSON", None if doc else why)
        members = {}
        for m in (doc or {}).get("members", []):
            key = bytes.fromhex(m["path_hex"]) if "path_hex" in m else m["path"].encode()
            members[key] = m
        want = [b"files/" + x for x in NAMES]
        t.ok(all(w in members for w in want),
             "every name is there, exactly, by path_hex where it is not UTF-8",
             sorted(members))
        t.ok(all(b"files/" + x in members and
                 ("path_hex" in members[b"files/" + x]) == (x != NAMES[-1]) for x in NAMES),
             "path_hex for each name that is not UTF-8, and only for those")
        t.ok(members.get(want[0], {}).get("path") == "files/odd\ufffd.lic",
             "the path field renders each such byte as U+FFFD")
        rc, out, err = n.nb("backup", "verify", "s1.bak")
        t.ok(rc == 0 and "OK" in out, "backup verify: OK", out + err)
        p = subprocess.run([os.path.join(BIN, "nodebak"), "verify",
                            os.path.join(n.files, "backups", "s1.bak"), "--key",
                            os.path.join(n.state, "signing.pub")],
                           capture_output=True, text=True, timeout=60)
        t.ok(p.returncode == 0 and "NAME.json checked" in p.stdout,
             "offline nodebak verify: OK, NAME.json checked", p.stdout + p.stderr)
        for name in NAMES:
            os.unlink(os.path.join(files, name))
        rc, out, err = n.nb("backup", "rollback", "s1.bak", "--yes", "--no-safety-snapshot")
        t.ok(rc == 0 and "Restored from s1.bak" in out, "rollback from that snapshot", out + err)
        back = {x: open(os.path.join(files, x), "rb").read()
                for x in NAMES if os.path.exists(os.path.join(files, x))}
        t.eq(back, {x: b"content %d\n" % i for i, x in enumerate(NAMES)},
             "every file is back under exactly its name, with its content")
    finally:
        n.cleanup()


run(main)
