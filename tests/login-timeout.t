#!/usr/bin/env python3
"""login-timeout.t: everything before a login (TCP, the FTPS handshake,
the SSH key exchange, the password) ends within login_timeout, whatever
the client does. Four clients from two addresses (127.0.0.2, 127.0.0.3)
fill max_clients with FTPS handshakes they drip a byte at a time (an
implicit FTPS ClientHello and one after AUTH TLS from each); each is cut
off while it is still dripping, and then a legitimate FTPS and SSH login
succeed. An SSH key exchange dripped the same way is cut off too, and a
data connection's dripped TLS handshake within data_timeout. Before the fix, SSL_accept waited on a blocking
socket for the rest of a record (idle_timeout, reset by every byte), so
the FTPS clients held their slots for as long as they dripped."""
import ftplib
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sftp_util import need_paramiko  # noqa: E402
need_paramiko()
from sftp_util import SshNode, PASSWORDS, require_ftpd  # noqa: E402
from ftp_util import ReuseFTP_TLS, insecure_context  # noqa: E402
from node import free_port  # noqa: E402
from pull_util import children  # noqa: E402
from tap import run  # noqa: E402

LOGIN_TIMEOUT = 5       # long enough for a loaded machine to greet and answer AUTH TLS
DRIP_FOR = 40           # seconds a dripper keeps going if never cut
CUT_WITHIN = 30         # generous: login_timeout is 5

# A TLS record header announcing a 512-byte handshake message, then the
# start of a ClientHello: the server needs the whole record to go on.
TLS_START = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])


def closed(s):
    try:
        return s.recv(4096, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


class Dripper(threading.Thread):
    """Connect from src; for each (expect, send) step wait for expect from
    the server, then send; then one byte every 0.4 s until the server
    closes the connection (self.cut: seconds after connect) or DRIP_FOR
    has passed (self.cut stays None)."""

    def __init__(self, src, port, steps):
        super().__init__(daemon=True)
        self.src, self.port, self.steps = src, port, steps
        self.cut = None
        self.connected = threading.Event()
        self.stop = threading.Event()
        self.error = None

    def run(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=10,
                                         source_address=(self.src, 0))
        except OSError as e:
            self.error = e
            self.connected.set()
            return
        t0 = time.time()
        try:
            s.settimeout(10)
            for expect, send in self.steps:
                got = b""
                while expect and expect not in got:
                    c = s.recv(4096)
                    if not c:
                        break
                    got += c
                s.sendall(send)
            s.settimeout(0)     # closed() must not wait
            self.connected.set()
            while time.time() - t0 < DRIP_FOR and not self.stop.is_set():
                time.sleep(0.4)
                if closed(s):
                    self.cut = time.time() - t0
                    return
                try:
                    s.send(b"\x00")
                except OSError:
                    self.cut = time.time() - t0
                    return
        except OSError as e:
            self.error = e
        finally:
            self.connected.set()
            s.close()


def main(t):
    import paramiko
    require_ftpd(t)
    ftps_port = free_port()
    n = SshNode("logintmo", extra_conf=f"login_timeout = {LOGIN_TIMEOUT}\n"
                "idle_timeout = 300\ndata_timeout = 3\nmax_clients = 4\nmax_per_address = 4\n"
                f"ftps_implicit_listen = 127.0.0.1:{ftps_port}\n")
    n.start_all()
    try:
        # start_all's readiness probe (a bare TCP connect to the SSH port)
        # has a session of its own, which lives until libssh sees the
        # disconnect: it holds one of max_clients' 4 slots until then.
        end = time.time() + 15
        while children(n.procs["ftpd"].pid) and time.time() < end:
            time.sleep(0.05)
        drippers = [
            Dripper("127.0.0.2", ftps_port, [(b"", TLS_START)]),
            Dripper("127.0.0.2", n.ftp_port, [(b"220 ", b"AUTH TLS\r\n"), (b"234 ", TLS_START)]),
            Dripper("127.0.0.3", ftps_port, [(b"", TLS_START)]),
            Dripper("127.0.0.3", n.ftp_port, [(b"220 ", b"AUTH TLS\r\n"), (b"234 ", TLS_START)]),
        ]
        for d in drippers:
            d.start()
            d.connected.wait(15)
        t.ok(all(d.error is None for d in drippers), "four dripping clients connected from two addresses",
             [str(d.error) for d in drippers])
        # Wait (bounded) for the server to cut them; the legitimate logins
        # below come while any it did not cut still drip and hold a slot.
        end = time.time() + CUT_WITHIN
        while time.time() < end and any(d.cut is None and d.is_alive() for d in drippers):
            time.sleep(0.2)
        names = ["implicit FTPS ClientHello", "AUTH TLS ClientHello", "implicit FTPS ClientHello (2nd address)",
                 "AUTH TLS ClientHello (2nd address)"]
        for d, name in zip(drippers, names):
            t.ok(d.cut is not None and d.cut < CUT_WITHIN,
                 f"{name}, dripped a byte at a time: cut off within login_timeout "
                 f"(generous bound {CUT_WITHIN} s)", f"cut after {d.cut} s")
        # A client that only connects and says nothing is cut too.
        s = socket.create_connection(("127.0.0.1", ftps_port), timeout=CUT_WITHIN,
                                     source_address=("127.0.0.2", 0))
        t0 = time.time()
        try:
            silent = s.recv(100)
        except OSError:
            silent = b""
        s.close()
        t.ok(silent == b"" and time.time() - t0 < CUT_WITHIN, "a silent implicit FTPS client is cut off")

        f = ReuseFTP_TLS(context=insecure_context())
        f.connect("127.0.0.1", n.ftp_port, timeout=20)
        f.login("admin", PASSWORDS["admin"])
        f.prot_p()
        t.ok(isinstance(f.nlst("/"), list), "then a legitimate FTPS login succeeds")
        # A data connection whose TLS handshake is dripped: cut within
        # data_timeout (3 s here), and the session goes on.
        host, port = ftplib.parse227(f.sendcmd("PASV"))
        f.putcmd("LIST")
        d = socket.create_connection((host, port), timeout=10)
        t0, data_cut = time.time(), None
        d.sendall(TLS_START)
        d.settimeout(0)
        while time.time() - t0 < DRIP_FOR:
            time.sleep(0.4)
            if closed(d):
                data_cut = time.time() - t0
                break
            try:
                d.send(b"\x00")
            except OSError:
                data_cut = time.time() - t0
                break
        d.close()
        t.ok(data_cut is not None and data_cut < CUT_WITHIN,
             "a data connection's dripped TLS handshake is cut off within data_timeout", f"cut after {data_cut} s")
        resp = f.getmultiline()
        if resp.startswith("150"):
            resp = f.getmultiline()
        t.ok(resp.startswith("425"), "and LIST is answered 425", resp)
        t.ok(isinstance(f.nlst("/"), list), "the session goes on")
        f.quit()
        c = n.paramiko_client("admin", key=False)
        t.ok(c.open_sftp().listdir("/") is not None, "and a legitimate SSH login succeeds")
        c.close()
        for d in drippers:
            d.stop.set()
            d.join(15)
        d = Dripper("127.0.0.3", n.sftp_port, [(b"SSH-2.0-", b"SSH-2.0-drip\r\n")])
        d.start()
        d.join(CUT_WITHIN)
        d.stop.set()
        t.ok(d.cut is not None and d.cut < CUT_WITHIN, "an SSH key exchange dripped a byte at a time: cut off",
             f"cut after {d.cut} s")
        log = n.log("ftpd")
        cut_lines = [ln for ln in log.split("\n") if "within" in ln and
                     ("127.0.0.2" in ln or "127.0.0.3" in ln)]
        t.ok(any("127.0.0.2" in ln for ln in cut_lines) and any("127.0.0.3" in ln for ln in cut_lines),
             "the cut sessions are logged with their address", log[-2500:])
    finally:
        n.cleanup()


run(main)
