#!/usr/bin/env python3
"""lockout.t: failed logins are counted per client address and per user
name across connections, FTP and SSH together (the listener keeps the
count: ftpd/lockout.c, gate.c). 50 wrong passwords over 50 FTP
connections lock the address at lockout_address_failures; then even the
right password is refused with why, over FTP and over SSH, until the lock
ends. Failures over SSH and FTP add up; a user name is locked from any
address; a right and a wrong password wait alike. Before the fix each
connection counted alone: all 50 got "530 Login incorrect" and the right
password worked at once."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sftp_util import need_paramiko  # noqa: E402
need_paramiko()
from sftp_util import SshNode, PASSWORDS, require_ftpd  # noqa: E402
from tap import run  # noqa: E402

ADDR_LIMIT, USER_LIMIT, LOCK_S, DELAY_MS = 20, 10, 12, 100


def ftp_try(n, src, user, pw):
    """One FTP connection from src: (greeting, reply to PASS, seconds the
    PASS took). Empty strings for what never came."""
    s = socket.create_connection((n.addr, n.ftp_port), timeout=30,
                                 source_address=(src, 0))
    greet, reply, took = "", "", 0.0
    try:
        f = s.makefile("rb")
        greet = f.readline().decode("latin-1")
        if not greet.startswith("220"):
            return greet, reply, took
        s.sendall(f"USER {user}\r\n".encode())
        f.readline()
        t0 = time.time()
        s.sendall(f"PASS {pw}\r\n".encode())
        reply = f.readline().decode("latin-1")
        took = time.time() - t0
        s.sendall(b"QUIT\r\n")
    except OSError:
        pass
    finally:
        s.close()
    return greet, reply, took


def main(t):
    require_ftpd(t)
    n = SshNode("lockout2", extra_conf="tls = off\n"
                f"lockout_address_failures = {ADDR_LIMIT}\nlockout_user_failures = {USER_LIMIT}\n"
                f"lockout_seconds = {LOCK_S}\nlockout_decay = 30\nlogin_delay_ms = {DELAY_MS}\n")
    n.start_all()
    try:
        # 50 wrong passwords, one per connection, from 127.0.0.2 (user
        # names sprayed, so that only the address count can stop it).
        incorrect, refused = 0, []
        for i in range(50):
            greet, reply, _ = ftp_try(n, "127.0.0.2", f"guess{i}", f"wrong-{i}")
            if reply.startswith("530 Login incorrect"):
                incorrect += 1
            else:
                refused.append(greet + reply)
        t.eq(incorrect, ADDR_LIMIT, f"50 wrong passwords over 50 connections: {ADDR_LIMIT} checked, then locked")
        t.ok(refused and all("too many failed logins from 127.0.0.2; try again in" in r for r in refused),
             "the rest are refused with why", refused[:3])
        greet, reply, _ = ftp_try(n, "127.0.0.2", "ro", PASSWORDS["ro"])
        t.ok(greet.startswith("421 too many failed logins from 127.0.0.2"),
             "FTP: even the right password is refused, at connect, with why", greet + reply)
        ok, said, seen = n.refused_login("ro", PASSWORDS["ro"], addr="127.0.0.2")
        t.ok(not ok and "too many failed logins from 127.0.0.2" in said,
             "SSH shares the count: the right password is refused with a disconnect message", seen)
        greet, reply, _ = ftp_try(n, "127.0.0.1", "ro", PASSWORDS["ro"])
        t.ok(reply.startswith("230"), "another address is not affected", greet + reply)
        log = n.log("ftpd")
        t.ok(f"127.0.0.2: locked out for {LOCK_S} s after {ADDR_LIMIT} failed logins from it" in log,
             "the lock is logged with the count", log[-1500:])
        t.ok("(failed logins: 7 from 127.0.0.2, 1 for guess6)" in log,
             "each login line carries the counts")

        # SSH and FTP failures add up: 10 over SSH, then 10 over FTP.
        for i in range(ADDR_LIMIT // 2):
            n.password_login(f"ssh{i}", "wrong", addr="127.0.0.3")
        for i in range(ADDR_LIMIT // 2):
            ftp_try(n, "127.0.0.3", f"ftp{i}", "wrong")
        greet, reply, _ = ftp_try(n, "127.0.0.3", "ro", PASSWORDS["ro"])
        t.ok(greet.startswith("421 too many failed logins from 127.0.0.3"),
             "10 SSH and 10 FTP failures lock the address", greet + reply)

        # A user name: failures from two addresses, FTP and SSH, lock it
        # everywhere; other names are not affected.
        for i in range(USER_LIMIT // 2):
            ftp_try(n, "127.0.0.4", "archiver", f"wrong-{i}")
            n.password_login("archiver", f"wrong-{i}", addr="127.0.0.5")
        greet, reply, _ = ftp_try(n, "127.0.0.6", "archiver", PASSWORDS["archiver"])
        t.ok(reply.startswith("530 Login refused: too many failed logins for user archiver"),
             "a user name locked by failures from two addresses is refused from a third", greet + reply)
        ok, said, seen = n.refused_login("archiver", PASSWORDS["archiver"], addr="127.0.0.6")
        t.ok(not ok and "too many failed logins for user archiver" in said, "over SSH too", seen)
        greet, reply, _ = ftp_try(n, "127.0.0.6", "ro", PASSWORDS["ro"])
        t.ok(reply.startswith("230"), "another user from that address gets in", reply)

        # A right and a wrong password wait alike once failures are counted.
        for i in range(5):
            ftp_try(n, "127.0.0.7", "nobody", "wrong")
        _, r1, wrong_took = ftp_try(n, "127.0.0.7", "admin", "wrong")
        _, r2, right_took = ftp_try(n, "127.0.0.7", "admin", PASSWORDS["admin"])
        t.ok(r1.startswith("530") and r2.startswith("230"), "wrong refused, right accepted", r1 + r2)
        low = 5 * DELAY_MS / 1000 * 0.8
        t.ok(wrong_took >= low and right_took >= low,
             f"both delayed by the counted failures ({wrong_took:.2f} s, {right_took:.2f} s, "
             f"at least {low:.1f})")

        # The lock ends after lockout_seconds (poll, bounded).
        deadline, reply = time.time() + 60, ""
        while time.time() < deadline:
            _, reply, _ = ftp_try(n, "127.0.0.2", "ro", PASSWORDS["ro"])
            if reply.startswith("230"):
                break
            time.sleep(0.5)
        t.ok(reply.startswith("230"), "after the lock the right password gets in", reply)
        t.ok(all(pw not in n.log("ftpd") for pw in PASSWORDS.values()), "no password in the log")
    finally:
        n.cleanup()


run(main)
