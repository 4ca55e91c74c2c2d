#!/usr/bin/env python3
"""users-live.t: the console's user edits take effect on a running
nodebak-ftpd without SIGHUP (the listener loads the users file again when
it changes: docs/ftpd.md, "Users"). A user added logs in over FTP and
SFTP; after `user passwd` the old password is refused and the new one
accepted; `user del` ends the user's open FTP session and SFTP session
within seconds and refuses new logins; `user key del` ends the session
that key opened; deleting or demoting the last admin is refused in one
line. Before the fix a new user could not log in and a deleted one kept
logging in until someone sent SIGHUP."""
import ftplib
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sftp_util import need_paramiko  # noqa: E402
need_paramiko()
from sftp_util import SshNode, PASSWORDS, require_ftpd, wait_until  # noqa: E402
from tap import run  # noqa: E402

END_S = 10	# the bound on ending a session (checks run every second)


def ftp_login(n, user, pw):
    """A logged-in ftplib session, or the error text."""
    f = ftplib.FTP()
    try:
        f.connect(n.addr, n.ftp_port, timeout=20)
        f.login(user, pw)
        return f
    except ftplib.all_errors as e:
        f.close()
        return str(e)


def ftp_alive(f):
    try:
        f.voidcmd("NOOP")
        return True
    except ftplib.all_errors + (EOFError,):
        return False


def sftp_alive(c):
    try:
        c.open_sftp().listdir("/")
        return True
    except Exception:
        return False


def main(t):
    require_ftpd(t)
    n = SshNode("userslive", extra_conf="tls = off\n")
    n.start_all()
    pid = n.procs["ftpd"].pid
    try:
        # A new user, with a key, logs in without SIGHUP.
        pw1, pw2 = "fresh-Pass-1", "fresh-Pass-2"
        rc, out, err = n.nb("user", "add", "fresh", "admin", "--password-stdin",
                            input=pw1 + "\n")
        t.eq(rc, 0, f"user add fresh: {out}{err}")
        key = os.path.join(n.home, "id_fresh")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                        "fresh@test", "-f", key], check=True)
        rc, out, err = n.nb("user", "key", "add", "fresh", key + ".pub")
        t.eq(rc, 0, f"user key add fresh: {out}{err}")
        f = ftp_login(n, "fresh", pw1)
        t.ok(not isinstance(f, str), "a user just added logs in over FTP", f)
        if not isinstance(f, str):
            f.quit()
        n.keys["fresh"] = key
        n.askpass["fresh"] = n.askpass["admin"]	# key logins never ask
        rc, out, err = n.sftp("ls /\n", user="fresh")
        t.eq(rc, 0, f"... and over SFTP with its key just added: {err}")
        ok, said = n.password_login("fresh", pw1)
        t.ok(ok, "... and over SSH with its password", said)

        # A password change: the old one is refused, the new one works.
        rc, out, err = n.nb("user", "passwd", "fresh", "--password-stdin",
                            input=pw2 + "\n")
        t.eq(rc, 0, f"user passwd fresh: {out}{err}")
        f = ftp_login(n, "fresh", pw1)
        t.ok(isinstance(f, str) and "530" in f, "FTP: the old password is refused", f)
        f = ftp_login(n, "fresh", pw2)
        t.ok(not isinstance(f, str), "FTP: the new password is accepted", f)
        if not isinstance(f, str):
            f.quit()
        ok, _ = n.password_login("fresh", pw1)
        t.ok(not ok, "SSH: the old password is refused")
        ok, said = n.password_login("fresh", pw2)
        t.ok(ok, "SSH: the new password is accepted", said)

        # user key del ends the session that key opened.
        c = n.paramiko_client("fresh")
        t.ok(sftp_alive(c), "an SFTP session opened with the key works")
        rc, out, err = n.nb("user", "key", "del", "fresh", "1")
        t.eq(rc, 0, f"user key del fresh 1: {out}{err}")
        t0 = time.time()
        wait_until(lambda: not c.get_transport().is_active(), timeout=END_S)
        t.ok(not c.get_transport().is_active() and not sftp_alive(c),
             f"user key del: the key's SFTP session ended ({time.time() - t0:.1f} s)")
        c.close()
        rc, _, err = n.sftp("ls /\n", user="fresh")
        t.ok(rc != 0, "the deleted key no longer logs in", err)

        # user del ends the user's FTP and SFTP sessions, refuses new ones.
        f = ftp_login(n, "fresh", pw2)
        c = n.paramiko_client("fresh", key=False, password=pw2)
        con = n.paramiko_client("fresh", key=False, password=pw2)
        shell = con.invoke_shell()
        wait_until(lambda: shell.recv_ready(), timeout=20)
        t.ok(not isinstance(f, str) and ftp_alive(f) and sftp_alive(c) and
             shell.recv_ready(),
             "fresh has an FTP session, an SFTP session and a console open", f)
        rc, out, err = n.nb("user", "del", "fresh")
        t.eq(rc, 0, f"user del fresh: {out}{err}")
        t0 = time.time()
        wait_until(lambda: not c.get_transport().is_active(), timeout=END_S)
        t.ok(not c.get_transport().is_active(),
             f"user del: the SFTP session ended ({time.time() - t0:.1f} s)")
        t.ok(isinstance(f, str) or not ftp_alive(f),
             f"user del: the FTP session ended ({time.time() - t0:.1f} s)")
        wait_until(lambda: not con.get_transport().is_active(), timeout=END_S)
        t.ok(not con.get_transport().is_active(),
             f"user del: the console's SSH connection ended ({time.time() - t0:.1f} s)")
        c.close()
        con.close()
        f = ftp_login(n, "fresh", pw2)
        t.ok(isinstance(f, str) and "530" in f, "a deleted user is refused over FTP", f)
        ok, _ = n.password_login("fresh", pw2)
        t.ok(not ok, "... and over SSH")
        log = n.log("ftpd")
        t.ok("session" in log and "of user fresh ended (user deleted)" in log and
             "of user fresh ended (a key deleted)" in log,
             "each ended session is logged in one line with why", log[-2000:])
        t.ok("changed: reloaded for the next logins" in log,
             "each reload is logged", log[-2000:])
        # Other users' sessions were left alone: ro still logs in.
        f = ftp_login(n, "ro", PASSWORDS["ro"])
        t.ok(not isinstance(f, str), "other users are not affected", f)
        if not isinstance(f, str):
            f.quit()

        # The last admin can be neither deleted nor demoted.
        rc, out, err = n.nb("user", "del", "admin")
        t.ok(rc == 1 and err == "user del: admin is the last admin; add another "
             "admin first\n", "deleting the last admin is refused in one line", err)
        rc, out, err = n.nb("user", "role", "admin", "readonly")
        t.ok(rc == 1 and err == "user role: admin is the last admin; add another "
             "admin first\n", "demoting the last admin is refused in one line", err)
        rc, out, _ = n.nb("user", "list")
        t.ok(any(line.split()[:2] == ["admin", "admin"] for line in out.splitlines()),
             "admin is still an admin", out)
        # With a second admin, demoting the first works and ends its sessions.
        rc, _, err = n.nb("user", "role", "ro", "admin")
        t.eq(rc, 0, f"user role ro admin: {err}")
        c = n.paramiko_client("admin")
        rc, out, err = n.nb("user", "role", "admin", "readonly")
        t.eq(rc, 0, f"with another admin, admin can be demoted: {out}{err}")
        wait_until(lambda: not c.get_transport().is_active(), timeout=END_S)
        t.ok(not c.get_transport().is_active(),
             "a role change ends the user's open sessions")
        c.close()
        t.eq(os.path.exists(f"/proc/{pid}"), True, "the listener kept running")
    finally:
        n.cleanup()


run(main)
