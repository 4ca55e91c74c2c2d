#!/usr/bin/env python3
"""ftp-backups.t: a real snapshot (nodebak-snapshotd) pulled over FTPS
with curl, lftp, wget and ftplib is byte-identical and `nodebak backup
verify` passes on it; the archive uploaded back under a new name over
FTPS verifies and the node rolls back from it. The node seals its
archives (the readonly user may download only sealed ones; an archive in
clear is for admin: tests/crypt-roles.t)."""
import hashlib
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node, BIN  # noqa: E402
from tap import run  # noqa: E402
from ftp_util import ReuseFTP_TLS, insecure_context  # noqa: E402


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main(t):
    ftpd = os.path.join(BIN, "nodebak-ftpd")
    if not os.path.exists(ftpd):
        t.skip_all("bin/nodebak-ftpd not built")
    n = Node("ftpbak")
    try:
        op_key = n.path("operator.key")
        subprocess.run(["age-keygen", "-o", op_key], check=True, capture_output=True)
        op = subprocess.run(["age-keygen", "-y", op_key], check=True, capture_output=True,
                            text=True).stdout.strip()
        conf = open(n.conf).read().replace("[snapshotd]\n", f"[snapshotd]\nrecipients = {op}\n", 1)
        with open(n.conf, "w") as f:
            f.write(conf)
        os.makedirs(n.files, exist_ok=True)
        with open(os.path.join(n.files, "cms.lic"), "w") as f:
            f.write("licence\n")
        n.start()
        rc, _, err = n.nb("backup", "snapshot", "good")
        t.ok(rc == 0, "snapshot good", err)
        good = os.path.join(n.files, "backups", "good.bak")
        for name, role in (("admin", "admin"), ("ro", "readonly")):
            rc, out, err = n.nb("user", "add", name, role, "--password-stdin",
                                input=f"pw-{name}-secret\n")
            t.ok(rc == 0, f"user add {name}", out + err)
        n.start("ftpd", [ftpd, "-f", "-c", n.conf], wait_for=(n.addr, n.ftp_port))
        url = f"ftp://{n.addr}:{n.ftp_port}/backups"
        tmp = os.path.join(n.root, "dl")
        os.makedirs(tmp)
        curl = ["curl", "-sS", "--max-time", "60", "--ssl-reqd", "-k"]
        dl = os.path.join(tmp, "curl.bak")
        p = subprocess.run(curl + ["-u", "ro:pw-ro-secret", "-o", dl, url + "/good.bak"],
                           capture_output=True, text=True)
        t.ok(p.returncode == 0 and sha(dl) == sha(good), "curl FTPS: good.bak byte-identical", p.stderr)
        mir = os.path.join(tmp, "mirror")
        p = subprocess.run(["timeout", "60", "lftp", "-u", "ro,pw-ro-secret", "-p", str(n.ftp_port), "-e",
                            "set ssl:verify-certificate no; set ftp:ssl-force yes; set ftp:ssl-protect-data yes; "
                            f"set net:max-retries 1; mirror backups {mir}; quit", n.addr],
                           capture_output=True, text=True)
        m = os.path.join(mir, "good.bak")
        t.ok(p.returncode == 0 and os.path.exists(m) and sha(m) == sha(good)
             and os.path.exists(os.path.join(mir, "good.json")), "lftp FTPS mirror: good.bak and good.json", p.stderr)
        ctx = insecure_context()

        f = ReuseFTP_TLS(context=ctx)
        f.connect(n.addr, n.ftp_port, timeout=30)
        f.auth()
        f.login("admin", "pw-admin-secret")
        f.prot_p()
        got = bytearray()
        f.retrbinary("RETR backups/good.bak", got.extend)
        t.ok(hashlib.sha256(got).hexdigest() == sha(good), "ftplib FTP_TLS: good.bak byte-identical")
        # Verify the downloaded copy: put it back under a new name over FTPS.
        with open(dl, "rb") as src:
            f.storbinary("STOR backups/copy.bak", src)
        with open(os.path.join(n.files, "backups", "good.json"), "rb") as src:
            f.storbinary("STOR backups/copy.json", src)
        f.quit()
        rc, out, err = n.nb("backup", "verify", "copy.bak")
        t.ok(rc == 0, "nodebak backup verify passes on the downloaded and re-uploaded copy", out + err)
        rc, out, err = n.nb("backup", "verify", "good.bak")
        t.ok(rc == 0, "nodebak backup verify good.bak", out + err)
        with open(os.path.join(n.files, "cms.lic"), "w") as fl:
            fl.write("changed\n")
        rc, out, err = n.nb("backup", "rollback", "copy.bak", input="Y\n")
        t.ok(rc == 0 and open(os.path.join(n.files, "cms.lic")).read() == "licence\n",
             "the uploaded archive is restorable (rollback from copy.bak)", out + err)
    finally:
        n.cleanup()


run(main)
