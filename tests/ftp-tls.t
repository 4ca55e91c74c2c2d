#!/usr/bin/env python3
"""ftp-tls.t: explicit and implicit FTPS (tls = required, the default)
against the real nodebak-ftpd: the self-signed pair made at first start;
no login in clear; curl --ssl-reqd (listing, download, resume, upload),
ftplib FTP_TLS with prot_p and session reuse, lftp; a data connection
that does not resume the control session is refused; plaintext pipelined
after AUTH TLS is never executed; STOR fsyncs the upload and its folder
before the 226 (strace)."""
import ftplib
import hashlib
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node, BIN, free_port  # noqa: E402
from tap import run  # noqa: E402
from ftp_util import ReuseFTP_TLS, insecure_context  # noqa: E402
import strace_util  # noqa: E402


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main(t):
    ftpd = os.path.join(BIN, "nodebak-ftpd")
    if not os.path.exists(ftpd):
        t.skip_all("bin/nodebak-ftpd not built")
    n = Node("ftps1")
    iport = free_port()
    n.write_conf(f"ftps_implicit_listen = {n.addr}:{iport}\nmax_login_attempts = 5\n")
    try:
        files = n.files
        os.makedirs(os.path.join(files, "backups"), exist_ok=True)
        big = os.path.join(files, "backups", "nightly.bak")
        with open(big, "wb") as f:
            f.write(os.urandom(2 * 1024 * 1024 + 5))
        for name, role in (("admin", "admin"), ("ro", "readonly")):
            rc, out, err = n.nb("user", "add", name, role, "--password-stdin",
                                input=f"pw-{name}-secret\n")
            t.ok(rc == 0, f"user add {name}", out + err)
        n.start("ftpd", [ftpd, "-f", "-c", n.conf], wait_for=(n.addr, n.ftp_port))
        key = n.path("state", "ftpd.key")
        t.ok(os.path.exists(n.path("state", "ftpd.crt")) and (os.stat(key).st_mode & 0o777) == 0o600,
             "self-signed pair made at first start, key mode 0600")
        url = f"ftp://{n.addr}:{n.ftp_port}"
        tmp = os.path.join(n.root, "dl")
        os.makedirs(tmp)

        p = subprocess.run(["curl", "-sS", "-v", "--max-time", "20", "-u", "ro:pw-ro-secret", url + "/backups/"],
                           capture_output=True, text=True)
        t.ok(p.returncode == 67 and "< 530 TLS is required: send AUTH TLS first" in p.stderr and
             "> PASS" not in p.stderr, "curl without TLS: USER refused with 530 (curl exit 67), no PASS sent",
             (p.returncode, p.stderr[-600:]))
        try:
            f = ftplib.FTP()
            f.connect(n.addr, n.ftp_port, timeout=20)
            f.login("ro", "pw-ro-secret")
            got = "logged in"
        except ftplib.error_perm as e:
            got = str(e)
        t.eq(got, "530 TLS is required: send AUTH TLS first", "ftplib without TLS: login refused with 530")
        f.close()
        ssl_ = ["curl", "-sS", "--max-time", "30", "--ssl-reqd", "-k"]
        p = subprocess.run(ssl_ + ["-u", "ro:pw-ro-secret", url + "/backups/"], capture_output=True, text=True)
        t.ok(p.returncode == 0 and "nightly.bak" in p.stdout, "curl --ssl-reqd: listing", p.stderr)
        dst = os.path.join(tmp, "c.bak")
        p = subprocess.run(ssl_ + ["-u", "ro:pw-ro-secret", "-o", dst, url + "/backups/nightly.bak"],
                           capture_output=True, text=True)
        t.ok(p.returncode == 0 and sha(dst) == sha(big), "curl --ssl-reqd: download byte-identical", p.stderr)
        # Several files in one curl session: each data connection resumes
        # the control session, and each download arrives whole.
        small = []
        for i in range(12):
            small.append(os.path.join(files, "backups", f"s{i}.bak"))
            with open(small[-1], "wb") as f:
                f.write(os.urandom(4096 + i))
        many = ssl_ + ["-u", "ro:pw-ro-secret"]
        for i in range(12):
            many += [url + f"/backups/s{i}.bak", "-o", os.path.join(tmp, f"s{i}")]
        p = subprocess.run(many, capture_output=True, text=True)
        t.ok(p.returncode == 0 and all(sha(os.path.join(tmp, f"s{i}")) == sha(small[i]) for i in range(12)),
             "curl --ssl-reqd: 12 downloads in one session, each byte-identical", p.stderr[-600:])
        for x in small:
            os.unlink(x)
        with open(dst, "r+b") as f:
            f.truncate(12345)
        p = subprocess.run(ssl_ + ["-u", "ro:pw-ro-secret", "-C", "-", "-o", dst, url + "/backups/nightly.bak"],
                           capture_output=True, text=True)
        t.ok(p.returncode == 0 and sha(dst) == sha(big), "curl --ssl-reqd -C -: resume", p.stderr)
        p = subprocess.run(ssl_ + ["-u", "admin:pw-admin-secret", "-T", big, url + "/backups/up.bak"],
                           capture_output=True, text=True)
        up = os.path.join(files, "backups", "up.bak")
        t.ok(p.returncode == 0 and os.path.exists(up) and sha(up) == sha(big), "curl --ssl-reqd -T: upload", p.stderr)
        p = subprocess.run(["curl", "-sS", "--max-time", "30", "-k", "-u", "ro:pw-ro-secret", "-o", dst,
                            f"ftps://{n.addr}:{iport}/backups/nightly.bak"], capture_output=True, text=True)
        t.ok(p.returncode == 0 and sha(dst) == sha(big), "curl ftps:// (implicit listener): download", p.stderr)

        ctx = insecure_context()
        f = ReuseFTP_TLS(context=ctx)
        f.connect(n.addr, n.ftp_port, timeout=20)
        f.auth()
        f.login("ro", "pw-ro-secret")
        f.prot_p()
        got = bytearray()
        f.retrbinary("RETR backups/nightly.bak", got.extend)
        t.ok(hashlib.sha256(got).hexdigest() == sha(big), "ftplib FTP_TLS prot_p with session reuse: RETR")
        f.quit()

        g = ftplib.FTP_TLS(context=ctx)   # plain ftplib: new TLS session on data
        g.connect(n.addr, n.ftp_port, timeout=20)
        g.auth()
        g.login("ro", "pw-ro-secret")
        g.prot_p()
        try:
            g.retrbinary("RETR backups/nightly.bak", lambda b: None)
            got = "transferred"
        except ftplib.error_perm as e:
            got = str(e)
        t.eq(got, "522 Data connection must reuse the control connection's TLS session",
             "data connection without session reuse: refused with 522")
        try:
            g.close()
        except Exception:
            pass

        mir = os.path.join(tmp, "mirror")
        p = subprocess.run(["timeout", "60", "lftp", "-u", "ro,pw-ro-secret", "-p", str(n.ftp_port), "-e",
                            "set ssl:verify-certificate no; set ftp:ssl-force yes; set ftp:ssl-protect-data yes; "
                            f"set net:max-retries 1; mirror backups {mir}; quit", n.addr],
                           capture_output=True, text=True)
        t.ok(p.returncode == 0 and os.path.exists(os.path.join(mir, "nightly.bak"))
             and sha(os.path.join(mir, "nightly.bak")) == sha(big), "lftp over FTPS: mirror", p.stderr)

        # Plaintext pipelined after AUTH TLS is dropped.
        s = socket.create_connection((n.addr, n.ftp_port), timeout=10)
        s.recv(1024)
        s.sendall(b"AUTH TLS\r\nUSER ro\r\nPASS pw-ro-secret\r\nDELE backups/nightly.bak\r\n")
        time.sleep(0.5)
        r = s.recv(4096)
        t.ok(r.startswith(b"234") and b"331" not in r and b"230" not in r, "pipelined plaintext after AUTH TLS not executed", r)
        s.close()
        t.ok(os.path.exists(big), "nightly.bak untouched")

        # STOR answers 226 only once the file and its name are on disk:
        # under strace, after the data connection the session fsyncs the
        # hidden file, renames it, fsyncs the folder, then replies.
        t.ok(strace_util.have_strace(), "strace is installed (scripts/deps.sh)")
        if strace_util.have_strace():
            n.kill("ftpd")
            prefix = n.path("ftpd.strace")
            n.start("ftpd", strace_util.argv(prefix, [ftpd, "-f", "-c", n.conf]),
                    wait_for=(n.addr, n.ftp_port))
            p = subprocess.run(ssl_ + ["-u", "admin:pw-admin-secret", "-T", big, url + "/backups/durable.bak"],
                               capture_output=True, text=True)
            t.ok(p.returncode == 0 and sha(os.path.join(files, "backups", "durable.bak")) == sha(big),
                 "an upload under strace", p.stderr)
            want = ["data", "fsync file", "rename", "fsync folder", "send"]
            folder = os.path.join(files, "backups")
            order = None
            for _ in range(100):
                order = strace_util.commit_order(prefix, folder, "durable.bak", n.ftp_port)
                if strace_util.contains(order, want):
                    break
                time.sleep(0.1)
            t.ok(strace_util.contains(order, want),
                 "STOR: after the data, fsync of the upload, rename, fsync of the folder, then 226",
                 order and order[-8:])
    finally:
        n.cleanup()


run(main)
