#!/usr/bin/env python3
"""ftp-basic.t: plain FTP (tls = off) against the real nodebak-ftpd with
real clients: curl (listing, download, resume, upload), Python's ftplib,
wget, lftp (mirror, put) and tnftp; roles; path escapes; internal names;
RNFR of a missing and an existing path; commands before login; overlong
lines; wrong passwords to the limit."""
import ftplib
import hashlib
import io
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node, BIN  # noqa: E402
from tap import run  # noqa: E402


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def raw(n, lines, timeout=10):
    """Send raw lines on a fresh control connection; return all replies."""
    s = socket.create_connection((n.addr, n.ftp_port), timeout=timeout)
    out = b""
    try:
        out += s.recv(4096)
        for line in lines:
            try:
                s.sendall(line)
            except OSError:
                break
            time.sleep(0.2)
            try:
                out += s.recv(65536)
            except OSError:
                pass
    finally:
        s.close()
    return out.decode("latin-1")


def main(t):
    ftpd = os.path.join(BIN, "nodebak-ftpd")
    if not os.path.exists(ftpd):
        t.skip_all("bin/nodebak-ftpd not built")
    n = Node("ftp1", extra_conf="tls = off\nmax_login_attempts = 3\n"
             "max_line = 512\nlogin_timeout = 10\nxferlog = state/xferlog\n")
    try:
        files = n.files
        os.makedirs(os.path.join(files, "backups"), exist_ok=True)
        big = os.path.join(files, "backups", "nightly.bak")
        with open(big, "wb") as f:
            f.write(os.urandom(3 * 1024 * 1024 + 17))
        with open(os.path.join(files, "backups", "nightly.json"), "w") as f:
            f.write("{}\n")
        with open(os.path.join(files, "backups", "sneaky.pem"), "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        with open(os.path.join(files, "node.key"), "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\nsecret\n")
        with open(os.path.join(files, ".nodebak-staging"), "w") as f:
            f.write("internal\n")
        outside = os.path.join(n.root, "outside.txt")
        with open(outside, "w") as f:
            f.write("outside the root\n")
        os.symlink(outside, os.path.join(files, "backups", "escape.bak"))
        os.symlink("/", os.path.join(files, "rootlink"))

        for name, role in (("admin", "admin"), ("ro", "readonly")):
            rc, out, err = n.nb("user", "add", name, role, "--password-stdin",
                                input=f"pw-{name}-secret\n")
            t.ok(rc == 0, f"user add {name} {role}", out + err)
        n.start("ftpd", [ftpd, "-f", "-c", n.conf], wait_for=(n.addr, n.ftp_port))
        url = f"ftp://{n.addr}:{n.ftp_port}"
        tmp = os.path.join(n.root, "dl")
        os.makedirs(tmp)

        # curl: listing, download, resume, upload
        p = subprocess.run(["curl", "-sS", "--max-time", "20", "-u", "ro:pw-ro-secret", url + "/backups/"],
                           capture_output=True, text=True)
        t.ok(p.returncode == 0 and "nightly.bak" in p.stdout and ".nodebak" not in p.stdout,
             "curl: LIST of backups/ as readonly", p.stderr + p.stdout)
        dst = os.path.join(tmp, "curl.bak")
        p = subprocess.run(["curl", "-sS", "--max-time", "20", "-u", "ro:pw-ro-secret", "-o", dst,
                            url + "/backups/nightly.bak"], capture_output=True, text=True)
        t.ok(p.returncode == 0 and sha(dst) == sha(big), "curl: download byte-identical", p.stderr)
        with open(dst, "r+b") as f:
            f.truncate(1000000)
        p = subprocess.run(["curl", "-sS", "--max-time", "20", "-u", "ro:pw-ro-secret", "-C", "-", "-o", dst,
                            url + "/backups/nightly.bak"], capture_output=True, text=True)
        t.ok(p.returncode == 0 and sha(dst) == sha(big), "curl -C -: resumed download byte-identical", p.stderr)
        p = subprocess.run(["curl", "-sS", "--max-time", "20", "-u", "admin:pw-admin-secret", "-T", big,
                            url + "/backups/uploaded.bak"], capture_output=True, text=True)
        up = os.path.join(files, "backups", "uploaded.bak")
        t.ok(p.returncode == 0 and os.path.exists(up) and sha(up) == sha(big),
             "curl -T: upload as admin lands complete", p.stderr)
        t.ok(not [x for x in os.listdir(os.path.join(files, "backups")) if x.startswith(".nodebak-upload")],
             "no temporary upload file left")
        p = subprocess.run(["curl", "-sS", "--max-time", "20", "-u", "ro:pw-ro-secret", "-T", big,
                            url + "/backups/ro.bak"], capture_output=True, text=True)
        t.ok(p.returncode != 0 and not os.path.exists(os.path.join(files, "backups", "ro.bak")),
             "curl -T as readonly: refused, nothing stored")
        p = subprocess.run(["curl", "-sS", "--max-time", "20", "-u", "ro:pw-ro-secret", "-P", "127.0.0.1",
                            "-o", dst, url + "/backups/nightly.bak"], capture_output=True, text=True)
        t.ok(p.returncode == 0 and sha(dst) == sha(big), "curl -P 127.0.0.1 (active mode): download", p.stderr)

        # ftplib
        f = ftplib.FTP()
        f.connect(n.addr, n.ftp_port, timeout=20)
        f.login("ro", "pw-ro-secret")
        t.eq(f.pwd(), "/", "ftplib: PWD /")
        names = f.nlst("backups")
        t.ok("nightly.bak" in " ".join(names), "ftplib: NLST backups", names)
        t.eq(f.size("backups/nightly.bak"), os.path.getsize(big), "ftplib: SIZE")
        got = bytearray()
        f.retrbinary("RETR backups/nightly.bak", got.extend)
        t.ok(hashlib.sha256(got).hexdigest() == sha(big), "ftplib: RETR byte-identical")
        for cmd in ("RETR node.key", "RETR backups/sneaky.pem", "RETR backups/escape.bak",
                    "RETR ../outside.txt", "RETR /../../etc/passwd", "RETR rootlink/etc/passwd",
                    "RETR .nodebak-staging"):
            try:
                f.retrbinary(cmd, lambda b: None)
                t.ok(False, f"readonly {cmd}: refused")
            except ftplib.error_perm as e:
                t.ok(str(e).startswith("550"), f"readonly {cmd}: 550", str(e))
        for cmd in ("DELE backups/nightly.bak", "MKD x", "RMD backups", "RNFR backups/nightly.bak"):
            try:
                f.sendcmd(cmd)
                t.ok(False, f"readonly {cmd}: refused")
            except ftplib.error_perm as e:
                t.ok(str(e)[:1] == "5", f"readonly {cmd}: refused ({str(e)[:3]})")
        f.quit()
        t.ok(os.path.exists(big), "nightly.bak still there")

        a = ftplib.FTP()
        a.connect(n.addr, n.ftp_port, timeout=20)
        a.login("admin", "pw-admin-secret")
        for cmd in ("RETR ../outside.txt", "RETR /../outside.txt", "RETR backups/escape.bak",
                    "RETR rootlink/etc/hostname", "SIZE ../outside.txt", "CWD ../..",
                    "DELE ../outside.txt", "RMD ../db", "RETR .nodebak-staging",
                    "DELE .nodebak-staging"):
            try:
                if cmd.startswith("RETR"):
                    a.retrbinary(cmd, lambda b: None)
                else:
                    r = a.sendcmd(cmd)
                    if cmd.startswith("CWD"):
                        r2 = a.pwd()
                        t.eq(r2, "/", f"admin {cmd}: stays at / (resolved inside the root)")
                        continue
                t.ok(False, f"admin {cmd}: refused")
            except ftplib.error_perm as e:
                t.ok(str(e)[:1] == "5", f"admin {cmd}: refused ({str(e)[:3]})")
        # The commands that take a path and came later (RFC 3659, APPE,
        # STAT, RNFR/RNTO): the same escapes, refused or resolved inside.
        for cmd in ("MLST ../outside.txt", "MLST backups/escape.bak",
                    "MLST rootlink/etc/hostname", "MDTM ../outside.txt",
                    "STAT ../outside.txt", "STAT rootlink/etc", "MLSD rootlink/etc",
                    "NLST rootlink/etc", "LIST /../../etc", "APPE backups/escape.bak",
                    "APPE rootlink/etc/hostname", "RNFR ../outside.txt"):
            try:
                if cmd.startswith("APPE"):
                    a.storbinary(cmd, io.BytesIO(b"appended\n"))
                elif cmd.startswith("RNFR"):
                    a.rename(cmd[5:], "stolen.txt")
                else:
                    a.sendcmd(cmd)
                t.ok(False, f"admin {cmd}: refused")
            except ftplib.error_perm as e:
                t.ok(str(e)[:1] == "5", f"admin {cmd}: refused ({str(e)[:3]})")
        t.ok(open(outside).read() == "outside the root\n" and
             not os.path.exists(os.path.join(files, "stolen.txt")) and
             os.readlink(os.path.join(files, "backups", "escape.bak")) == outside,
             "the file outside the root and the symlink are unchanged")
        r = a.sendcmd("MKD ../evil")
        t.ok(r.startswith("257") and os.path.isdir(os.path.join(files, "evil")), "admin MKD ../evil: made inside the root")
        a.rmd("/evil")
        t.ok(os.path.exists(outside) and not os.path.exists(os.path.join(n.root, "evil"))
             and os.path.exists(os.path.join(files, ".nodebak-staging")), "nothing changed outside the root")
        a.mkd("certs")
        a.storbinary("STOR certs/a.txt", open(outside, "rb"))
        a.rename("certs/a.txt", "certs/b.txt")
        t.ok(open(os.path.join(files, "certs", "b.txt")).read() == "outside the root\n",
             "admin: MKD, STOR, RNFR/RNTO")
        # RNFR answers 350 only for a path that exists (vsftpd: 550).
        try:
            r = a.sendcmd("RNFR certs/nosuch.txt")
        except ftplib.error_perm as e:
            r = str(e)
        t.ok(r.startswith("550"), "admin RNFR of a missing path: 550", r)
        r = a.sendcmd("RNFR certs/b.txt")
        t.ok(r.startswith("350"), "admin RNFR of an existing path: 350", r)
        r = a.sendcmd("RNTO certs/b.txt")
        t.ok(r.startswith("250") and os.path.exists(os.path.join(files, "certs", "b.txt")),
             "admin RNTO after it: 250", r)
        a.delete("certs/b.txt")
        a.rmd("certs")
        t.ok(not os.path.exists(os.path.join(files, "certs")), "admin: DELE, RMD")
        a.quit()

        # wget, lftp, tnftp
        p = subprocess.run(["wget", "-q", "-T", "20", "-O", os.path.join(tmp, "wget.bak"),
                            f"ftp://ro:pw-ro-secret@{n.addr}:{n.ftp_port}/backups/nightly.bak"],
                           capture_output=True, text=True)
        t.ok(p.returncode == 0 and sha(os.path.join(tmp, "wget.bak")) == sha(big), "wget: download", p.stderr)
        mir = os.path.join(tmp, "mirror")
        p = subprocess.run(["timeout", "60", "lftp", "-u", "ro,pw-ro-secret", "-p", str(n.ftp_port),
                            "-e", f"set ftp:ssl-allow no; set net:max-retries 1; mirror backups {mir}; quit", n.addr],
                           capture_output=True, text=True)
        t.ok(p.returncode == 0 and os.path.exists(os.path.join(mir, "nightly.bak"))
             and sha(os.path.join(mir, "nightly.bak")) == sha(big)
             and not os.path.exists(os.path.join(mir, "sneaky.pem.x")), "lftp: mirror backups/", p.stderr)
        p = subprocess.run(["timeout", "60", "lftp", "-u", "admin,pw-admin-secret", "-p", str(n.ftp_port),
                            "-e", f"set ftp:ssl-allow no; set net:max-retries 1; put {big} -o backups/lftp.bak; quit", n.addr],
                           capture_output=True, text=True)
        lf = os.path.join(files, "backups", "lftp.bak")
        t.ok(p.returncode == 0 and os.path.exists(lf) and sha(lf) == sha(big), "lftp: put", p.stderr)
        p = subprocess.run(["timeout", "60", "tnftp", "-n", "-p", n.addr, str(n.ftp_port)],
                           input=f"user ro pw-ro-secret\nbinary\nget backups/nightly.bak {tmp}/tnftp.bak\nquit\n",
                           capture_output=True, text=True)
        tn = os.path.join(tmp, "tnftp.bak")
        t.ok(os.path.exists(tn) and sha(tn) == sha(big), "tnftp: get", p.stdout + p.stderr)

        # hostile: a client that never finishes its line is cut at login_timeout
        s = socket.create_connection((n.addr, n.ftp_port), timeout=20)
        t0 = time.time()
        s.recv(100)
        s.sendall(b"USER r")
        got = b""
        try:
            while True:
                c = s.recv(100)
                if not c:
                    break
                got += c
        except OSError:
            pass
        s.close()
        t.ok(b"421" in got and time.time() - t0 < 15, "slow client: 421 and closed at login_timeout", got)

        # hostile: FTP bounce
        out = raw(n, [b"USER ro\r\n", b"PASS pw-ro-secret\r\n", b"PORT 10,1,2,3,4,5\r\n",
                      b"PORT 127,0,0,1,0,25\r\n", b"EPRT |1|192.0.2.1|2000|\r\n", b"EPRT |1|127.0.0.1|80|\r\n",
                      b"EPRT |1|127.0.0.1|40000|\r\n", b"QUIT\r\n"], timeout=15)
        t.eq(out.count("500 Illegal"), 4, "PORT/EPRT to another address or a port < 1024: 500")
        t.ok("200 EPRT command successful" in out, "EPRT to own address, high port: 200", out)

        # hostile: before login, overlong line, wrong passwords
        out = raw(n, [b"RETR backups/nightly.bak\r\n", b"LIST\r\n", b"CWD /\r\n"])
        t.eq(out.count("530 "), 3, "commands before login: 530")
        out = raw(n, [b"NOOP " + b"A" * 4000 + b"\r\n", b"NOOP\r\n"])
        t.ok("500 Line too long" in out and "200 " not in out, "overlong line: 500 and closed", out)
        out = raw(n, [b"USER ro\r\n", b"PASS bad1\r\n", b"PASS bad2\r\n", b"USER ro\r\n",
                      b"PASS bad2\r\n", b"USER ro\r\n", b"PASS bad3\r\n", b"USER ro\r\n"], timeout=15)
        t.ok(out.count("530 Login incorrect") >= 1, "wrong password: 530", out)
        time.sleep(0.5)
        log = open(n.logs["ftpd"], errors="replace").read()
        t.ok("login FAILED" in log and "locked out" in log, "attempt limit: logged, address locked out", log[-1500:])
        try:
            s = socket.create_connection((n.addr, n.ftp_port), timeout=5)
            data = s.recv(100)
            s.close()
        except OSError:
            data = b""
        t.ok(not data.startswith(b"220"), "locked-out address gets no greeting", data)
        xl = open(n.path("state", "xferlog")).read() if os.path.exists(n.path("state", "xferlog")) else ""
        t.ok("nightly.bak" in xl and " o r ro ftp " in xl, "xferlog lines for downloads", xl[-500:])
    finally:
        n.cleanup()


run(main)
