#!/usr/bin/env python3
"""archive-identity.t: what an archive claims about itself is believed only
as far as its signature and the node's trust go (issue 11, findings 5-8).

(a) A trusted key is trusted for the node id recorded by `key trust`: node A
    (trusted by B) signs an archive claiming B's node id; B refuses it, even
    with --force node, and is unchanged. A genuine archive of A still needs
    --force node and works with it. A key trusted before node ids were
    recorded is refused until trusted again.
(b) `backup list` shows a signer only after checking the signature: an
    archive claiming this node's key with a bad signature is listed as
    BAD SIGNATURE, not "(this node)".
(c) A renamed archive (old.bak copied to nightly.bak): the rollback
    confirmation, `backup verify` and `backup list` show both names and warn.
(d) Names from an archive or a client reach the console escaped: no ESC
    byte, no forged line."""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from bakutil import pack, read_members  # noqa: E402
from node import Node  # noqa: E402
from nodestate import Arch, folder_hash, gz, key_id, snapshot_of  # noqa: E402
from tap import run  # noqa: E402

ESC_ID = "\x1b[2J\x1b[31m" + "f" * 27          # 36 bytes, a node-id field
ESC_KEY = "\x1b[2J\x1b[31m" + "a" * 7           # 16 bytes, a key-id field


def put(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def node_id(n):
    with open(os.path.join(n.state, "node-id")) as f:
        return f.read().strip()


def row(out, name):
    """The backup list line of file name ('' when absent)."""
    return next((x for x in out.splitlines() if x.startswith(name + " ")), "")


def clean(text):
    """No ESC or other control byte but newline."""
    return not any(c < " " and c != "\n" for c in text) and "\x7f" not in text


def rewrite(src, dst, node, **head):
    """Re-sign src's MANIFEST with node's key after setting header fields."""
    members = read_members(src)
    arch = Arch(members, members[0][1])
    for k, v in head.items():
        arch.set_head(k.replace("_", "-"), v)
    with open(dst, "wb") as f:
        f.write(gz(arch.tar(node)))


def main(t):
    a = Node("ident-a")
    b = Node("ident-b")
    for n in (a, b):
        put(os.path.join(n.files, "cms.lic"), f"licence of {n.name}\n")
        n.start()
    tmp = tempfile.mkdtemp(prefix="nodebak-ident-")
    try:
        abk, bbk = os.path.join(a.files, "backups"), os.path.join(b.files, "backups")
        aid, bid = node_id(a), node_id(b)
        rc, _, err = a.nb("backup", "snapshot", "froma")
        t.ok(rc == 0, "snapshot froma on node a", err)
        rc, _, err = b.nb("backup", "snapshot", "b-own")
        t.ok(rc == 0, "snapshot on node b (its work folders exist)", err)

        # --- (a) key trust records the node; forged node ids are refused.
        rc, show, _ = a.nb("key", "show")
        t.ok(rc == 0 and f"ident-a ({aid})" in show, "key show names the node and its id", show)
        akey = os.path.join(tmp, "a.key")
        put(akey, show)
        rc, out, err = b.nb("key", "trust", os.path.join(a.state, "signing.pub"))
        t.ok(rc == 1 and "--node" in err and "key show" in err and err.count("\n") == 1,
             "a bare PEM without --node: refused, saying how", out + err)
        rc, out, err = b.nb("key", "trust", os.path.join(a.state, "signing.pub"), "--node", bid)
        t.ok(rc == 1 and "this node" in err, "trusting a key for this node's own id: refused", out + err)
        put(os.path.join(tmp, "a-as-b.key"), show.replace(aid, bid))
        rc, out, err = b.nb("key", "trust", os.path.join(tmp, "a-as-b.key"))
        t.ok(rc == 1 and "this node" in err, "a key show naming this node's id: refused", out + err)
        rc, out, err = b.nb("key", "trust", akey, "--node", bid)
        t.ok(rc == 1, "--node disagreeing with the file's Node line: refused", out + err)
        rc, out, err = b.nb("key", "trust", akey)
        t.ok(rc == 0 and f"node ident-a ({aid})" in out, "key trust of a's key show output names the node", out + err)
        rc, out, _ = b.nb("key", "list")
        t.ok(rc == 0 and f"trusted for node ident-a ({aid})" in out, "key list shows the binding", out)
        keyid = key_id(a)
        binding = os.path.join(b.state, "trusted", f"{keyid}.node")
        t.ok(os.path.exists(binding) and os.stat(binding).st_mode & 0o777 == 0o644 and
             aid in open(binding).read(), "binding file trusted/<keyid>.node, mode 0644, holds the id")

        for ext in ("bak", "json"):
            shutil.copy(os.path.join(abk, f"froma.{ext}"), bbk)
        rewrite(os.path.join(abk, "froma.bak"), os.path.join(bbk, "forged.bak"), a,
                node_id=bid, node_name=b.name)
        before, h0 = snapshot_of(b), folder_hash(b)
        rc, out, err = b.nb("backup", "verify", "forged.bak")
        t.ok(rc == 1 and "forg" in err.lower() and keyid in err and err.count("\n") == 1,
             "verify: a's key claiming b's node id is refused as a forgery, one line", out + err)
        for force in ([], ["--force", "node"]):
            rc, out, err = b.nb("backup", "rollback", "forged.bak", "--yes", *force)
            t.ok(rc != 0 and "forg" in err.lower() and "The node was not changed" in err,
                 f"rollback of the forgery {' '.join(force) or 'without --force'}: refused", out + err)
            t.ok(snapshot_of(b) == before and folder_hash(b) == h0,
                 f"rollback of the forgery {' '.join(force) or 'without --force'}: node b unchanged")
        rc, out, _ = b.nb("backup", "list")
        t.ok("FORGED" in row(out, "forged.bak") and "(trusted)" not in row(out, "forged.bak"),
             "backup list marks the forgery", out)
        # a's own key claiming b's id on a: also refused (own key, other id).
        rewrite(os.path.join(abk, "froma.bak"), os.path.join(abk, "notmine.bak"), a, node_id=bid)
        rc, out, err = a.nb("backup", "verify", "notmine.bak")
        t.ok(rc == 1 and "forg" in err.lower() and "own key" in err, "own key, another node's id: refused", out + err)

        # A key trusted before bindings existed: refused until trusted again.
        if os.path.exists(binding):
            os.rename(binding, binding + ".saved")
        b.kill("snapshotd", 15)
        b.start()
        rc, out, err = b.nb("backup", "verify", "froma.bak")
        t.ok(rc == 1 and "key trust" in err and "key show" in err and err.count("\n") == 1,
             "legacy trusted key without a binding: refused, saying how to re-trust", out + err)
        rc, out, _ = b.nb("key", "list")
        t.ok("no node recorded" in out, "key list shows the legacy key as bound to no node", out)
        rc, out, err = b.nb("key", "trust", os.path.join(a.state, "signing.pub"), "--node", aid)
        t.ok(rc == 0 and aid in out, "re-trusted with a bare PEM and --node", out + err)
        if os.path.exists(binding + ".saved"):
            os.unlink(binding + ".saved")

        # The genuine archive of a: verifies; rollback needs --force node.
        rc, out, err = b.nb("backup", "verify", "froma.bak")
        t.ok(rc == 0 and "(trusted)" in out, "genuine archive of a verifies on b", out + err)
        rc, out, _ = b.nb("backup", "list")
        t.ok("verified" in row(out, "froma.bak") and "(trusted)" in row(out, "froma.bak"),
             "backup list: a's archive verified, trusted", out)
        rc, out, err = b.nb("backup", "rollback", "froma.bak", "--yes")
        t.ok(rc != 0 and "--force node" in err and "The node was not changed" in err,
             "genuine archive of a without --force node: refused", out + err)
        t.ok(snapshot_of(b) == before, "node b unchanged")
        rc, out, err = b.nb("backup", "rollback", "froma.bak", "--yes", "--force", "node",
                            "--no-safety-snapshot")
        t.ok(rc == 0 and "Restored from froma.bak" in out and "node ident-a" in out,
             "genuine archive of a with --force node: restored", out + err)
        t.ok(open(os.path.join(b.files, "cms.lic")).read() == "licence of ident-a\n",
             "b now has a's licence")

        # --- (b) forged signer in backup list.
        members = read_members(os.path.join(abk, "froma.bak"))
        text = members[0][1].replace(b"node-name ident-a", b"node-name evil")
        members[0][0].size = len(text)
        with open(os.path.join(abk, "badsig.bak"), "wb") as f:
            f.write(pack([(members[0][0], text)] + members[1:]))
        members = read_members(os.path.join(abk, "froma.bak"))
        text = members[0][1].replace(f"key-id {keyid}".encode(), f"key-id {ESC_KEY}".encode())
        members[0][0].size = len(text)
        with open(os.path.join(abk, "esckey.bak"), "wb") as f:
            f.write(pack([(members[0][0], text)] + members[1:]))
        rc, out, _ = a.nb("backup", "list")
        r = row(out, "badsig.bak")
        t.ok(rc == 0 and "BAD SIGNATURE" in r and "(this node)" not in r,
             "backup list: bad signature claiming this node's key is BAD SIGNATURE", out)
        t.ok("(this node)" in row(out, "froma.bak") and "verified" in row(out, "froma.bak"),
             "backup list: the genuine one is verified, this node", out)
        t.ok(clean(out) and "\\x1b[2J" in row(out, "esckey.bak"),
             "backup list: a claimed key id holding ESC is shown escaped", repr(out))
        rc, out2, _ = a.nb("backup", "list")
        t.eq(out2, out, "a second listing (from the cache) says the same")

        # --- (c) renamed archive.
        put(os.path.join(a.files, "cms.lic"), "licence changed after old\n")
        rc, _, err = a.nb("backup", "snapshot", "old")
        t.ok(rc == 0, "snapshot old", err)
        for ext in ("bak", "json"):
            shutil.copy(os.path.join(abk, f"old.{ext}"), os.path.join(abk, f"nightly.{ext}"))
        rc, out, err = a.nb("backup", "verify", "nightly.bak")
        t.ok(rc == 0 and "WARNING" in out and "nightly.bak" in out and "snapshot old" in out,
             "verify warns: file nightly.bak holds snapshot old", out + err)
        rc, out, _ = a.nb("backup", "list")
        t.ok("WARNING" in row(out, "nightly.bak") and "snapshot old" in row(out, "nightly.bak")
             and "WARNING" not in row(out, "old.bak"), "backup list warns on the renamed one only", out)
        rc, out, err = a.nb("backup", "rollback", "nightly.bak", input="n\n")
        t.ok(rc != 0 and "Are you sure you wish to restore this node from nightly.bak? (Y/n)" in out
             and "snapshot old" in out and "WARNING" in out and "cancelled" in out,
             "rollback confirmation shows both names and warns", out + err)
        rc, out, err = a.nb("backup", "rollback", "nightly.bak", "--yes", "--no-safety-snapshot")
        t.ok(rc == 0 and "WARNING" in out and "snapshot old" in out, "--yes: the report warns", out + err)

        # --- (d) escaped names.
        rewrite(os.path.join(abk, "old.bak"), os.path.join(abk, "escid.bak"), a, node_id=ESC_ID)
        rewrite(os.path.join(abk, "old.bak"), os.path.join(abk, "escsw.bak"), a,
                software="nodebak 0.1.0\x1b[2J")
        rc, out, err = a.nb("backup", "verify", "escid.bak")
        t.ok(rc == 1 and clean(out + err) and "\\x1b[2J\\x1b[31m" in err and err.count("\n") == 1,
             "verify: a node id holding ESC is refused, escaped, one line", repr(out + err))
        rc, out, err = a.nb("backup", "rollback", "escid.bak", "--yes", "--force", "node")
        t.ok(rc != 0 and clean(out + err) and "\\x1b[2J" in err, "rollback: node id escaped", repr(out + err))
        rc, out, err = a.nb("backup", "rollback", "escsw.bak", "--yes")
        t.ok(rc != 0 and clean(out + err) and "0.1.0\\x1b[2J" in err and "--force version" in err,
             "rollback: software version escaped", repr(out + err))
        rc, out, _ = a.nb("backup", "list")
        t.ok(clean(out) and "\\x1b[2J" in row(out, "escid.bak"), "backup list: escaped", repr(out))
        for args in (["backup", "verify", "x\nnightly.bak: OK.bak"],
                     ["backup", "rollback", "\x1b[2Jx.bak", "--yes"],
                     ["backup", "snapshot", "\x1b[2Jx\nforged"],
                     ["backup", "delete", "x\x1b[31m.bak"],
                     ["key", "trust", "no\nsuch\x1b[2J"],
                     ["\x1b[2Jbogus"]):
            rc, out, err = a.nb(*args)
            t.ok(rc != 0 and clean(out + err) and err.count("\n") == 1 and
                 ("\\x1b" in err or "\\n" in err),
                 f"client name escaped: {args!r}", repr(out + err))
    finally:
        a.cleanup()
        b.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


run(main)
