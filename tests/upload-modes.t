#!/usr/bin/env python3
"""upload-modes.t: the mode of an uploaded file, one rule for FTP and SFTP
(ftpd/rootfs.c, docs/ftpd.md "Upload modes"): a new file gets its mode
less [ftpd] umask (default 0027: 0640 over FTP); an upload that replaces a
file keeps that file's mode (a 0600 file stays 0600, also after REST and
APPE); a file that holds a private key never keeps a group or other bit,
whatever mode it replaces or SETSTAT asks for; a new folder gets 0777 less
the umask. A changed umask takes effect at the next start. An upload that
keeps part of the old file (APPE, STOR after REST, SFTP OPEN without
TRUNC) copies its data and keeps its holes: a 4 GiB sparse file with a
few bytes in it costs a few blocks, not 4 GiB (fuzz_sftp found the open
without TRUNC copying a sparse file byte by byte)."""
import ftplib
import io
import os
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sftp_util import need_paramiko  # noqa: E402
need_paramiko()
from sftp_util import SshNode, PASSWORDS, ftpd_path, require_ftpd  # noqa: E402
from tap import run  # noqa: E402

KEY_PEM = None


def private_key():
    """A real PEM private key (openssl), made once."""
    global KEY_PEM
    if KEY_PEM is None:
        KEY_PEM = subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519"],
                                 check=True, capture_output=True).stdout
    return KEY_PEM


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def ftp_login(n):
    f = ftplib.FTP()
    f.connect(n.addr, n.ftp_port, timeout=20)
    f.login("admin", PASSWORDS["admin"])
    return f


def stor(f, name, data, cmd="STOR", rest=None):
    f.storbinary(f"{cmd} {name}", io.BytesIO(data), rest=rest)


def ftp_part(t, n):
    files = n.files
    f = ftp_login(n)
    try:
        stor(f, "new.txt", b"new\n")
        t.eq(oct(mode(os.path.join(files, "new.txt"))), oct(0o640),
             "FTP STOR: a new file is 0666 less umask 0027")

        priv = os.path.join(files, "private.txt")
        with open(priv, "w") as g:
            g.write("old\n")
        os.chmod(priv, 0o600)
        stor(f, "private.txt", b"replaced\n")
        t.ok(open(priv).read() == "replaced\n" and mode(priv) == 0o600,
             "FTP STOR over a 0600 file: replaced, still 0600", oct(mode(priv)))
        stor(f, "private.txt", b"more\n", cmd="APPE")
        t.ok(open(priv).read() == "replaced\nmore\n" and mode(priv) == 0o600,
             "FTP APPE to a 0600 file: still 0600", oct(mode(priv)))
        stor(f, "private.txt", b"XX", rest=2)
        t.ok(open(priv).read() == "reXX" and mode(priv) == 0o600,
             "FTP STOR after REST on a 0600 file: still 0600", oct(mode(priv)))

        shared = os.path.join(files, "shared.txt")
        with open(shared, "w") as g:
            g.write("old\n")
        os.chmod(shared, 0o664)
        stor(f, "shared.txt", b"new\n")
        t.eq(oct(mode(shared)), oct(0o664), "FTP STOR over a 0664 file keeps 0664")

        stor(f, "node.key", private_key())
        t.eq(oct(mode(os.path.join(files, "node.key"))), oct(0o600),
             "FTP STOR of a new private key: 0600, not 0640")
        cert = os.path.join(files, "tls.pem")
        with open(cert, "w") as g:
            g.write("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        os.chmod(cert, 0o644)
        stor(f, "tls.pem", private_key())
        t.eq(oct(mode(cert)), oct(0o600),
             "FTP STOR of a private key over a 0644 file: 0600, never readable by others")

        f.mkd("newdir")
        t.eq(oct(mode(os.path.join(files, "newdir"))), oct(0o750),
             "FTP MKD: a new folder is 0777 less umask 0027")
    finally:
        f.close()


def sftp_part(t, n):
    files = n.files
    c = n.paramiko_client("admin")
    try:
        sf = c.open_sftp()
        with sf.open("/sftp-new.txt", "w") as g:
            g.write(b"new\n")
        t.eq(oct(mode(os.path.join(files, "sftp-new.txt"))), oct(0o640),
             "SFTP OPEN (no mode named): a new file is 0666 less umask 0027")

        # OPEN naming a mode (as OpenSSH's put does): that mode less the umask.
        import paramiko
        attrs = paramiko.SFTPAttributes()
        attrs.st_mode = 0o606
        _, msg = sf._request(paramiko.sftp.CMD_OPEN, "/sftp-mode.txt",
                             paramiko.sftp.SFTP_FLAG_WRITE |
                             paramiko.sftp.SFTP_FLAG_CREATE |
                             paramiko.sftp.SFTP_FLAG_TRUNC, attrs)
        sf._request(paramiko.sftp.CMD_CLOSE, msg.get_binary())
        t.eq(oct(mode(os.path.join(files, "sftp-mode.txt"))), oct(0o600),
             "SFTP OPEN with mode 0606: 0606 less umask 0027")

        priv = os.path.join(files, "sftp-private.txt")
        with open(priv, "w") as g:
            g.write("old\n")
        os.chmod(priv, 0o600)
        with sf.open("/sftp-private.txt", "w") as g:
            g.write(b"replaced\n")
        t.ok(open(priv).read() == "replaced\n" and mode(priv) == 0o600,
             "SFTP upload over a 0600 file: replaced, still 0600", oct(mode(priv)))

        sf.putfo(io.BytesIO(private_key()), "/sftp.key")
        t.eq(oct(mode(os.path.join(files, "sftp.key"))), oct(0o600),
             "SFTP put of a new private key: 0600")
        pem = os.path.join(files, "sftp-tls.pem")
        with open(pem, "w") as g:
            g.write("not a key\n")
        os.chmod(pem, 0o644)
        sf.putfo(io.BytesIO(private_key()), "/sftp-tls.pem")
        t.eq(oct(mode(pem)), oct(0o600),
             "SFTP put of a private key over a 0644 file: 0600")
        sf.chmod("/sftp-tls.pem", 0o644)
        t.eq(oct(mode(pem)), oct(0o600),
             "SFTP SETSTAT 0644 on a private key: it stays 0600")
        sf.chmod("/sftp-new.txt", 0o604)
        t.eq(oct(mode(os.path.join(files, "sftp-new.txt"))), oct(0o604),
             "SFTP SETSTAT on a file that is no key: the mode asked for")

        sf.mkdir("/sftp-dir")
        t.eq(oct(mode(os.path.join(files, "sftp-dir"))), oct(0o750),
             "SFTP MKDIR: a new folder is 0777 less umask 0027")
        sf.close()
    finally:
        c.close()


def umask_part(t, n):
    """[ftpd] umask = 0077 after a restart: new files 0600 over both."""
    n.kill("ftpd")
    n.write_conf("tls = off\numask = 0077\n")
    n.start("ftpd", [ftpd_path(), "-f", "-c", n.conf],
            wait_for=(n.addr, n.sftp_port))
    f = ftp_login(n)
    try:
        stor(f, "umask-ftp.txt", b"x")
    finally:
        f.close()
    t.eq(oct(mode(os.path.join(n.files, "umask-ftp.txt"))), oct(0o600),
         "FTP STOR with umask = 0077: 0600")
    c = n.paramiko_client("admin")
    try:
        sf = c.open_sftp()
        sf.putfo(io.BytesIO(b"x"), "/umask-sftp.txt")
        sf.close()
    finally:
        c.close()
    t.eq(oct(mode(os.path.join(n.files, "umask-sftp.txt"))), oct(0o600),
         "SFTP put with umask = 0077: 0600")


SPARSE = 4 << 30   # a regression copies this many zero bytes, and fails


def allocated(path):
    return os.lstat(path).st_blocks * 512


def sparse_part(t, n):
    """A sparse file made over SFTP (a WRITE far past the end), then kept
    by SFTP's OPEN without TRUNC, FTP APPE and FTP STOR after REST."""
    path = os.path.join(n.files, "sparse.dat")
    c = n.paramiko_client("admin")
    try:
        sf = c.open_sftp()
        with sf.open("/sparse.dat", "w") as g:
            g.write(b"head")
            g.seek(SPARSE - 4)
            g.write(b"tail")
        t.ok(os.path.getsize(path) == SPARSE and allocated(path) < (1 << 20),
             "SFTP WRITE past the end makes a sparse file",
             f"size {os.path.getsize(path)}, allocated {allocated(path)}")
        with sf.open("/sparse.dat", "a") as g:
            g.write(b"+sftp")
        sf.close()
    finally:
        c.close()

    def kept(what, size, end):
        with open(path, "rb") as g:
            head = g.read(4)
            g.seek(SPARSE // 2)
            middle = g.read(8)
            g.seek(size - len(end))
            tail = g.read()
        t.ok(os.path.getsize(path) == size and head == b"head" and
             middle == bytes(8) and tail == end and allocated(path) < (1 << 20),
             f"{what}: the data and the hole kept, a few blocks allocated",
             f"size {os.path.getsize(path)}, allocated {allocated(path)}, "
             f"head {head!r}, tail {tail!r}")

    kept("SFTP OPEN without TRUNC", SPARSE + 5, b"tail+sftp")
    f = ftp_login(n)
    try:
        stor(f, "sparse.dat", b"+apper", cmd="APPE")
        kept("FTP APPE", SPARSE + 11, b"tail+sftp+apper")
        stor(f, "sparse.dat", b"TAIL", rest=SPARSE - 4)
        kept("FTP STOR after REST", SPARSE, b"TAIL")
    finally:
        f.close()
    os.unlink(path)


def main(t):
    require_ftpd(t)
    n = SshNode("upmodes", extra_conf="tls = off\n")
    try:
        n.start_all()
        ftp_part(t, n)
        sftp_part(t, n)
        sparse_part(t, n)
        umask_part(t, n)
    finally:
        n.cleanup()


if __name__ == "__main__":
    run(main)
