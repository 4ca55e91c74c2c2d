#!/usr/bin/env python3
"""verify-offline.t: `nodebak verify FILE.bak` checks an archive with no
daemon running and, given --key, no configuration; the openssl recipe of
docs/bak-format.md (scripts/verify-openssl.sh, run exactly as the doc
shows it) agrees with it on a good archive, a member changed and
re-compressed under the signed MANIFEST, an edited MANIFEST, an archive
signed by another node's key, a NAME.json that lies about size or SHA-256
and a truncated archive. Without --key and with no configuration, verify
refuses in one line; --key takes key show's output or a bare PEM key."""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from bakutil import pack, read_members  # noqa: E402
from node import BIN, TOP, Node  # noqa: E402
from tap import run  # noqa: E402

RECIPE = os.path.join(TOP, "scripts", "verify-openssl.sh")


def no_conf_env():
    e = dict(os.environ)
    e["NODEBAK_CONF"] = "/nonexistent/nodebak.conf"
    return e


def verify(bak, key=None, env=None):
    """nodebak verify: (exit code, stdout, stderr)."""
    argv = [os.path.join(BIN, "nodebak"), "verify", bak]
    if key:
        argv += ["--key", key]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                       env=env or no_conf_env())
    return p.returncode, p.stdout, p.stderr


def recipe(bak, key):
    """The doc's command line: sh scripts/verify-openssl.sh NAME.bak PUBKEY,
    with a PATH that holds no nodebak program."""
    e = dict(os.environ)
    e["PATH"] = "/usr/bin:/bin"
    p = subprocess.run(["sh", RECIPE, bak, key], capture_output=True, text=True,
                       timeout=120, env=e)
    return p.returncode, p.stdout, p.stderr


def doc_shows_recipe():
    """The section of docs/bak-format.md holds the script verbatim."""
    doc = open(os.path.join(TOP, "docs", "bak-format.md")).read()
    script = open(RECIPE).read()
    return "## Verifying with openssl alone" in doc and script.strip() in doc


def main(t):
    a = Node("offline-a")
    b = Node("offline-b")
    for n in (a, b):
        os.makedirs(n.files, exist_ok=True)
        with open(os.path.join(n.files, "cms.lic"), "w") as f:
            f.write(f"licence of {n.name}\n")
        n.start()
    w = tempfile.mkdtemp(prefix="nodebak-offline-")
    try:
        rc, _, err = a.nb("backup", "snapshot", "good")
        t.ok(rc == 0, "snapshot good on node a", err)
        rc, _, err = b.nb("backup", "snapshot", "other")
        t.ok(rc == 0, "snapshot other on node b", err)
        rc, show_a, err = a.nb("key", "show")
        t.ok(rc == 0 and "BEGIN PUBLIC KEY" in show_a, "key show on node a", err)
        rc, show_b, err = b.nb("key", "show")
        kb = os.path.join(w, "b.keyshow")
        with open(kb, "w") as f:
            f.write(show_b)
        rc, out, err = a.nb("key", "trust", kb)
        t.ok(rc == 0, "node a trusts node b's key", out + err)
        # No daemon from here on: verify needs none.
        a.stop()
        b.stop()
        key_show = os.path.join(w, "a.keyshow")
        with open(key_show, "w") as f:
            f.write(show_a)
        pem = os.path.join(w, "a.pem")
        with open(pem, "w") as f:
            f.write(re.search(r"-----BEGIN PUBLIC KEY-----\n.*?-----END PUBLIC KEY-----\n",
                              show_a, re.S).group(0))
        bk_a, bk_b = os.path.join(a.files, "backups"), os.path.join(b.files, "backups")
        good = os.path.join(w, "good.bak")
        shutil.copy(os.path.join(bk_a, "good.bak"), good)
        shutil.copy(os.path.join(bk_a, "good.json"), os.path.join(w, "good.json"))
        data = open(good, "rb").read()
        gjson = open(os.path.join(w, "good.json")).read()

        t.ok(doc_shows_recipe(), "docs/bak-format.md shows scripts/verify-openssl.sh verbatim")

        # A good archive, with its NAME.json: both OK, with either key form.
        for key, what in ((key_show, "key show output"), (pem, "a bare PEM key")):
            rc, out, err = verify(good, key)
            t.ok(rc == 0 and out.startswith(f"{good}: OK\n") and
                 "snapshot good" in out and "NAME.json checked" in out,
                 f"nodebak verify --key ({what}), no daemon, no configuration: OK", out + err)
            rc, out, err = recipe(good, key)
            t.ok(rc == 0 and out.startswith(f"{good}: OK"), f"openssl recipe ({what}): OK",
                 out + err)
        rc, out, err = verify(good, pem)
        t.ok("bare PEM" in out, "a bare PEM key: verify says the node was not checked", out)

        # Without --key: the node's keys through its configuration ...
        rc, out, err = verify(os.path.join(bk_a, "good.bak"), env=a.env())
        t.ok(rc == 0 and "(this node)" in out, "without --key: node a's own key from its "
             "configuration", out + err)
        # ... and with none, one line saying to give --key.
        rc, out, err = verify(good)
        t.ok(rc == 2 and out == "" and err.count("\n") == 1 and "--key" in err,
             "without --key and no configuration: refused in one line naming --key", err)

        cases = []

        def case(name, content, json=None):
            path = os.path.join(w, name + ".bak")
            with open(path, "wb") as f:
                f.write(content)
            if json is not None:
                with open(os.path.join(w, name + ".json"), "w") as f:
                    f.write(json)
            cases.append((name, path))
            return path

        # A member changed and the archive re-compressed: the MANIFEST and
        # its signature untouched.
        members = read_members(good)
        out_m = []
        for info, content in members:
            if info.name == "files/cms.lic":
                content = content.replace(b"licence", b"LICENCE")
            out_m.append((info, content))
        case("member", pack(out_m))
        # The MANIFEST edited (the licence's line, as if to cover the
        # change), the signature left as it was.
        out_m2 = []
        for info, content in out_m:
            if info.name == "MANIFEST":
                old = [ln for ln in content.decode().split("\n") if ln.endswith(" files/cms.lic")][0]
                new_sha = hashlib.sha256(b"LICENCE of offline-a\n").hexdigest()
                content = content.replace(old.split(" ")[1].encode(), new_sha.encode())
            out_m2.append((info, content))
        case("manifest", pack(out_m2))
        # Signed by node b, whose key is not the one given.
        case("foreign", open(os.path.join(bk_b, "other.bak"), "rb").read())
        # NAME.json that lies.
        case("lie-size", data, gjson.replace(f'"size": {len(data)},', f'"size": {len(data) + 1},'))
        sha = re.search(r'"sha256": "([0-9a-f]{64})"', gjson).group(1)
        case("lie-sha", data, gjson.replace(sha, sha[:-1] + ("0" if sha[-1] != "0" else "1"), 1))
        # Truncated.
        case("cut", data[:len(data) // 2])

        want = {"member": "files/cms.lic", "manifest": "signature",
                "foreign": "not by", "lie-size": "size", "lie-sha": "SHA-256",
                "cut": ""}
        for name, path in cases:
            rc1, out1, err1 = verify(path, key_show)
            rc2, out2, err2 = recipe(path, key_show)
            t.diag(f"{name}: {err1.strip()} | {err2.strip()}")
            t.ok(rc1 == 1 and err1.startswith("nodebak verify: FAILED: ") and
                 err1.count("\n") == 1 and want[name] in err1,
                 f"{name}: nodebak verify FAILED, one line naming {want[name] or 'the fault'}",
                 out1 + err1)
            t.ok(rc2 == 1 and "FAILED" in err2 and want[name] in err2,
                 f"{name}: the openssl recipe agrees (FAILED)", out2 + err2)

        # Node b's archive with node b's key: OK; the Node line is checked.
        foreign = os.path.join(w, "foreign.bak")
        rc1, out1, err1 = verify(foreign, kb)
        rc2, out2, err2 = recipe(foreign, kb)
        t.ok(rc1 == 0 and rc2 == 0, "node b's archive with node b's key show: both OK",
             out1 + err1 + out2 + err2)
        t.ok("WARNING: the file is named foreign.bak but holds snapshot other" in out1,
             "nodebak verify warns that the file name and the snapshot differ", out1)
        # Without --key, node a's configuration: b's key is trusted for b.
        rc, out, err = verify(foreign, env=a.env())
        t.ok(rc == 0 and "(trusted)" in out, "without --key: a key node a trusts, for "
             "its node", out + err)
        # ... and only for b: with its .node file naming another node, the
        # same archive is a forgery.
        tdir = os.path.join(a.state, "trusted")
        node_file = [os.path.join(tdir, x) for x in os.listdir(tdir) if x.endswith(".node")][0]
        bound = open(node_file).read()
        with open(node_file, "w") as f:
            f.write(re.sub(r"^node \S+", "node 00000000-0000-4000-8000-000000000000",
                           bound, flags=re.M))
        rc, out, err = verify(foreign, env=a.env())
        t.ok(rc == 1 and "FORGED" in err and err.count("\n") == 1,
             "without --key: a trusted key's archive claiming a node it is not trusted for "
             "is refused", err)
        with open(node_file, "w") as f:
            f.write(bound)
        rc, out, err = verify(os.path.join(w, "member.bak"), env=a.env())
        t.ok(rc == 1 and "files/cms.lic" in err, "without --key: a changed member is "
             "refused too", err)
        # key show output whose Node line names another node than the MANIFEST.
        with open(kb, "w") as f:
            f.write(re.sub(r"\(([0-9a-f-]{36})\)", "(00000000-0000-4000-8000-000000000000)",
                           show_b, count=1))
        rc1, out1, err1 = verify(foreign, kb)
        t.ok(rc1 == 1 and "claims node" in err1,
             "a key whose Node line names another node: refused", err1)
    finally:
        a.cleanup()
        b.cleanup()
        shutil.rmtree(w, ignore_errors=True)


run(main)
