#!/usr/bin/env python3
"""ftp-protocol.t: FTP protocol features of nodebak-ftpd against the real
daemon on loopback, with raw sockets for exact replies and with real
clients (ftplib, curl, lftp): FEAT; MLST, MLSD and OPTS MLST (RFC 3659);
APPE; REST before STOR and RETR; STAT idle, on a path and during a
transfer; EPSV ALL and EPSV 1/2; ABOR during RETR and STOR (plain, as
ftplib's urgent data, with a Telnet IP/Synch prefix); the data timeout;
IPv6 (EPSV, EPRT, PASV refused, curl); SIGTERM (a running download
finishes, idle sessions get 421, the daemon exits); SIGHUP (users
re-read, running sessions untouched); MLSD and APPE over FTPS."""
import ftplib
import hashlib
import io
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node, BIN, free_port  # noqa: E402
from tap import run  # noqa: E402
from ftp_util import ReuseFTP_TLS, insecure_context  # noqa: E402

FTPD = os.path.join(BIN, "nodebak-ftpd")
MTIME = 1700000000                      # 2023-11-14 22:13:20 UTC
MTIME_FACT = "20231114221320"
BIG = 64 * 1024 * 1024                  # far more than the socket buffers hold
PW = {"admin": "pw-admin-secret", "ro": "pw-ro-secret"}


def sha(data):
    return hashlib.sha256(data).hexdigest()


def sha_file(path):
    with open(path, "rb") as f:
        return sha(f.read())


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data, mtime=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def leftovers(folder):
    """Staging files an upload left behind in folder."""
    return [x for x in os.listdir(folder) if x.startswith(".nodebak-upload")]


def recv_all(sock, timeout=30):
    """Everything up to EOF on a data connection (bounded)."""
    sock.settimeout(timeout)
    out = bytearray()
    while True:
        c = sock.recv(1 << 20)
        if not c:
            return bytes(out)
        out += c


class Ctl:
    """A raw control connection: exact replies, multi-line aware."""

    def __init__(self, host, port, timeout=20):
        self.host = host
        self.timeout = timeout
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.eof = False                # the server closed the connection
        self.greeting = self.reply()

    def _line(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                raise socket.timeout("no reply")
            self.s.settimeout(left)
            c = self.s.recv(65536)
            if not c:
                self.eof = True
                raise EOFError
            self.buf += c
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def lines(self, timeout=None):
        """One reply as a list of lines; what came before EOF or timeout."""
        deadline = time.time() + (timeout or self.timeout)
        out = []
        try:
            out.append(self._line(deadline))
            if len(out[0]) > 3 and out[0][3] == "-":
                while not out[-1].startswith(out[0][:3] + " ") or len(out) == 1:
                    out.append(self._line(deadline))
        except (OSError, EOFError):
            pass
        return out

    def reply(self, timeout=None):
        return "\n".join(self.lines(timeout))

    def ask(self, line, timeout=None):
        """Send a command; its reply as a list of lines."""
        self.send(line)
        return self.lines(timeout)

    def send(self, data, flags=0):
        if isinstance(data, str):
            data = (data + "\r\n").encode()
        self.s.sendall(data, flags)

    def cmd(self, line, timeout=None):
        self.send(line)
        return self.reply(timeout)

    def login(self, user):
        self.cmd("USER " + user)
        return self.cmd("PASS " + PW.get(user, f"pw-{user}-secret"))

    def epsv(self, arg=""):
        """EPSV, then connect to the port it names: the data socket."""
        r = self.cmd("EPSV" + (" " + arg if arg else ""))
        m = re.match(r"229 .*\(\|\|\|(\d+)\|\)", r)
        if not m:
            raise RuntimeError(f"EPSV: {r!r}")
        return socket.create_connection((self.host, int(m.group(1))), timeout=self.timeout)

    def retr(self, path):
        """A whole RETR over EPSV: (data, final reply)."""
        d = self.epsv()
        self.send("RETR " + path)
        first = self.reply()
        data = recv_all(d) if first.startswith("150") else b""
        d.close()
        return data, self.reply() if first.startswith("150") else first

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class LoopFTP(ftplib.FTP):
    """ftplib, but active mode listens on the control connection's own
    (loopback) address instead of every interface."""

    def makeport(self):
        host = self.sock.getsockname()[0]
        sock = socket.create_server((host, 0), family=self.af, backlog=1)
        port = sock.getsockname()[1]
        if self.af == socket.AF_INET:
            self.sendport(host, port)
        else:
            self.sendeprt(host, port)
        sock.settimeout(self.timeout)
        return sock


def ftp(n, user, cls=LoopFTP):
    f = cls()
    f.connect(n.addr, n.ftp_port, timeout=20)
    f.login(user, PW[user])
    return f


def perm_err(fn):
    """The reply of a command ftplib refused, '' when it succeeded."""
    try:
        fn()
        return ""
    except (ftplib.error_perm, ftplib.error_temp, ftplib.error_reply) as e:
        return str(e)


def new_node(name, extra, addr="127.0.0.1"):
    n = Node(name, addr=addr, extra_conf=extra)
    for user, role in (("admin", "admin"), ("ro", "readonly")):
        rc, out, err = n.nb("user", "add", user, role, "--password-stdin",
                            input=PW[user] + "\n", timeout=60)
        if rc != 0:
            raise RuntimeError(f"user add {user}: {out}{err}")
    return n


def start(n):
    n.start("ftpd", [FTPD, "-f", "-c", n.conf], wait_for=(n.addr, n.ftp_port))


def populate(files):
    """The tree most cases use; fixed mtimes so modify facts are known."""
    b = os.path.join(files, "backups")
    write(os.path.join(b, "nightly.bak"), os.urandom(3 * 1024 * 1024 + 17), MTIME)
    write(os.path.join(b, "nightly.json"), b"{}\n", MTIME)
    write(os.path.join(b, "my file.bak"), os.urandom(1000), MTIME)
    write(os.path.join(b, "sub", "inner.bin"), os.urandom(100000), MTIME)
    write(os.path.join(b, "sneaky.pem"), b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    write(os.path.join(b, "x.key"), b"not even PEM, but a .key name\n")
    write(os.path.join(b, ".nodebak-staging"), b"internal\n")
    write(os.path.join(files, "node.key"), b"-----BEGIN PRIVATE KEY-----\nsecret\n")
    write(os.path.join(files, ".nodebak-staging"), b"internal\n")
    write(os.path.join(files, "big", "big.bin"), os.urandom(BIG))
    os.makedirs(os.path.join(files, "work"), exist_ok=True)


def parse_entry(entry):
    """'fact=v;fact=v; name' -> (facts dict with lower-case keys, name)."""
    facts, _, name = entry.partition(" ")
    d = {}
    for f in facts.split(";"):
        if f:
            k, _, v = f.partition("=")
            d[k.lower()] = v
    return d, name


# 1. FEAT ------------------------------------------------------------------

def feat_cases(t, n, tls):
    c = Ctl(n.addr, n.ftp_port)
    lines = c.ask("FEAT")
    c.close()
    what = "tls on" if tls else "tls = off"
    t.ok(len(lines) > 2 and lines[0].startswith("211-") and lines[-1] == "211 End",
         f"FEAT ({what}): 211- ... 211 End", lines)
    want = [" MLST type*;size*;modify*;perm*;", " EPSV", " REST STREAM", " SIZE", " MDTM", " UTF8"]
    if tls:
        want += [" AUTH TLS", " PBSZ", " PROT"]
    missing = [w for w in want if w not in lines]
    t.ok(not missing, f"FEAT ({what}) offers MLST, EPSV, REST STREAM, SIZE, MDTM, UTF8"
         + (", AUTH TLS, PBSZ, PROT" if tls else ""), f"missing {missing} in {lines}")
    if not tls:
        t.ok(" AUTH TLS" not in lines, "FEAT (tls = off) does not offer AUTH TLS", lines)


# 2. MLST -------------------------------------------------------------------

def mlst(c, arg=None):
    """MLST on a raw connection: (lines, facts, path) or (lines, None, None)."""
    lines = c.ask("MLST" + (" " + arg if arg else ""))
    if len(lines) == 3 and lines[0].startswith("250-") and lines[2] == "250 End" \
            and lines[1].startswith(" "):
        facts, path = parse_entry(lines[1][1:])
        return lines, facts, path
    return lines, None, None


def mlst_cases(t, n):
    big = os.path.join(n.files, "backups", "nightly.bak")
    a = Ctl(n.addr, n.ftp_port)
    a.login("admin")
    lines, f, p = mlst(a, "backups/nightly.bak")
    t.ok(f is not None and not lines[1].startswith("  "),
         "MLST file: 250-, one entry line starting with one space, 250 End", lines)
    f = f or {}
    t.eq(p, "/backups/nightly.bak", "MLST file: absolute path")
    t.eq((f.get("type", "").lower(), f.get("size"), f.get("modify"), f.get("perm")),
         ("file", str(os.path.getsize(big)), MTIME_FACT, "adfrw"),
         "MLST file as admin: type=file, exact size, modify in UTC, perm=adfrw")
    lines, f, p = mlst(a, "/backups/sub")
    t.ok(f is not None and f.get("type", "").lower() == "dir" and "size" not in f
         and f.get("perm") == "cdeflmp" and p == "/backups/sub",
         "MLST dir as admin: type=dir, no size, perm=cdeflmp", lines)
    a.cmd("CWD /backups")
    lines, f, p = mlst(a)
    t.ok(f is not None and f.get("type", "").lower() == "dir" and p == "/backups",
         "MLST without argument: the current directory", lines)
    lines, f, p = mlst(a, "nightly.json")
    t.ok(f is not None and p == "/backups/nightly.json" and f.get("size") == "3",
         "MLST relative to the current directory", lines)
    for arg in ("/nosuch", "/backups/.nodebak-staging", "/../outside"):
        lines, f, p = mlst(a, arg)
        t.ok(lines and lines[0].startswith("550"), f"MLST {arg} as admin: 550", lines)
    a.close()

    r = Ctl(n.addr, n.ftp_port)
    lines, f, p = mlst(r, "/backups/nightly.bak")
    t.ok(lines and lines[0].startswith("530"), "MLST before login: 530", lines)
    r.login("ro")
    lines, f, p = mlst(r, "/backups/nightly.bak")
    t.ok(f is not None and f.get("perm") == "r" and f.get("size") == str(os.path.getsize(big)),
         "MLST file as readonly: perm=r", lines)
    lines, f, p = mlst(r, "/backups")
    t.ok(f is not None and f.get("perm") == "el", "MLST dir as readonly: perm=el", lines)
    for arg in ("/node.key", "/backups/sneaky.pem", "/backups/x.key", "/work"):
        lines, f, p = mlst(r, arg)
        t.ok(lines and lines[0].startswith("550"), f"MLST {arg} as readonly: 550", lines)
    r.close()


# 3. MLSD -------------------------------------------------------------------

def visible(folder):
    return {x for x in os.listdir(folder) if not x.startswith(".nodebak")}


def raw_mlsd(c, arg=""):
    """MLSD on a raw connection: (data lines, first reply, last reply)."""
    d = c.epsv()
    c.send("MLSD" + (" " + arg if arg else ""))
    first = c.reply()
    data = recv_all(d) if first.startswith("150") else b""
    d.close()
    last = c.reply() if first.startswith("150") else ""
    return data.decode("utf-8", "replace"), first, last


def mlsd_cases(t, n):
    files = n.files
    b = os.path.join(files, "backups")
    a = Ctl(n.addr, n.ftp_port)
    a.login("admin")
    data, first, last = raw_mlsd(a, "/backups")
    ok_lines = data.endswith("\r\n") and all(
        re.match(r"^([A-Za-z.]+=[^;= ]*;)+ [^ ]", x) for x in data[:-2].split("\r\n"))
    t.ok(first.startswith("150") and last.startswith("226") and ok_lines,
         "MLSD raw: 150, 'facts; name' CRLF lines, 226", (first, data, last))
    names = {parse_entry(x)[1] for x in data.split("\r\n") if x}
    t.eq(names, visible(b), "MLSD as admin: every entry, no . or .., no .nodebak*")
    data, first, last = raw_mlsd(a, "/backups/nightly.bak")
    t.ok(first.startswith("501"), "MLSD on a file: 501", first)
    data, first, last = raw_mlsd(a, "/nosuch")
    t.ok(first.startswith("550"), "MLSD on a missing folder: 550", first)
    a.close()

    f = ftp(n, "admin")
    got = dict(f.mlsd("backups"))
    want = {x: (("dir",) if os.path.isdir(os.path.join(b, x))
                else ("file", str(os.path.getsize(os.path.join(b, x))))) for x in visible(b)}
    have = {k: ((v.get("type", "").lower(),) if v.get("type", "").lower() == "dir"
                else (v.get("type", "").lower(), v.get("size"))) for k, v in got.items()}
    t.eq(have, want, "ftplib mlsd(backups): names, types and sizes (a name with a space too)")
    t.ok(all(v.get("modify") == MTIME_FACT for k, v in got.items() if k in ("nightly.bak", "my file.bak")),
         "ftplib mlsd: modify facts in UTC", got)
    root = {k: v.get("type", "").lower() for k, v in f.mlsd("/")}
    t.eq(root, {x: "dir" if os.path.isdir(os.path.join(files, x)) else "file" for x in visible(files)},
         "ftplib mlsd(/) as admin: every entry, no .nodebak*")
    f.quit()

    r = ftp(n, "ro")
    t.eq(sorted(k for k, v in r.mlsd("/")), ["backups"], "ftplib mlsd(/) as readonly: only backups")
    ro = dict(r.mlsd("/backups"))
    t.eq(set(ro), visible(b) - {"sneaky.pem", "x.key"},
         "ftplib mlsd(backups) as readonly: no *.key, no PEM private key")
    t.ok(ro.get("nightly.bak", {}).get("perm") == "r", "readonly MLSD perm=r", ro.get("nightly.bak"))
    r.quit()

    # lftp mirror through MLSD: byte-identical, and the exact mtimes.
    for user, hide in (("admin", set()), ("ro", {"sneaky.pem", "x.key"})):
        mir = os.path.join(n.root, f"mirror-{user}")
        p = subprocess.run(["timeout", "90", "lftp", "-d", "-u", f"{user},{PW[user]}", "-p", str(n.ftp_port),
                            "-e", "set ftp:ssl-allow no; set net:max-retries 1; set ftp:use-mlsd yes; "
                            f"mirror backups {mir}; quit", n.addr],
                           capture_output=True, text=True, timeout=120)
        src = {os.path.relpath(os.path.join(d, x), b) for d, _, fs in os.walk(b) for x in fs
               if not x.startswith(".nodebak") and x not in hide}
        dst = {os.path.relpath(os.path.join(d, x), mir) for d, _, fs in os.walk(mir) for x in fs} \
            if os.path.isdir(mir) else set()
        same = src == dst and all(sha_file(os.path.join(b, x)) == sha_file(os.path.join(mir, x)) for x in src)
        t.ok(p.returncode == 0 and "MLSD" in p.stderr + p.stdout and same,
             f"lftp mirror as {user} using MLSD: the same files, byte-identical",
             f"rc {p.returncode}; src {sorted(src)}; dst {sorted(dst)}\n" + (p.stderr + p.stdout)[-1500:])
        mt = os.path.join(mir, "nightly.bak")
        t.ok(os.path.exists(mt) and int(os.path.getmtime(mt)) == MTIME,
             f"lftp mirror as {user}: mtime from the modify fact",
             os.path.exists(mt) and time.strftime("%Y%m%d%H%M%S", time.gmtime(os.path.getmtime(mt))))


# 4. OPTS -------------------------------------------------------------------

def opts_cases(t, n):
    c = Ctl(n.addr, n.ftp_port)
    c.login("admin")
    t.eq(c.cmd("OPTS UTF8 ON")[:3], "200", "OPTS UTF8 ON: 200")
    t.eq(c.cmd("OPTS MLST type;size;"), "200 MLST OPTS type;size;", "OPTS MLST type;size;")
    lines, f, _ = mlst(c, "/backups/nightly.bak")
    t.ok(f is not None and set(f) == {"type", "size"}, "MLST after OPTS: only type and size", lines)
    data, first, last = raw_mlsd(c, "/backups")
    ents = [parse_entry(x)[0] for x in data.split("\r\n") if x]
    t.ok(last.startswith("226") and ents and all(set(e) <= {"type", "size"} and "type" in e for e in ents),
         "MLSD after OPTS: only type and size", (first, data, last))
    t.eq(c.cmd("OPTS MLST").rstrip(), "200 MLST OPTS", "OPTS MLST without facts: 200 MLST OPTS")
    lines = c.ask("MLST /backups/nightly.bak")
    # RFC 3659: SP [facts] SP pathname, so no facts leaves two spaces.
    t.ok(len(lines) == 3 and lines[1] == "  /backups/nightly.bak",
         "MLST with no facts: the path alone", lines)
    c.close()


# 5. APPE -------------------------------------------------------------------

def appe_cases(t, n):
    w = os.path.join(n.files, "work")
    target = os.path.join(w, "log.txt")
    write(target, b"old line\n")
    f = ftp(n, "admin")
    f.storbinary("APPE work/log.txt", io.BytesIO(b"new line\n"))
    t.eq(read(target), b"old line\nnew line\n", "APPE: old content + new content")
    f.storbinary("APPE work/fresh.txt", io.BytesIO(b"first\n"))
    t.eq(read(os.path.join(w, "fresh.txt")) if os.path.exists(os.path.join(w, "fresh.txt")) else None,
         b"first\n", "APPE to a missing file creates it")
    f.quit()

    r = ftp(n, "ro")
    nb = os.path.join(n.files, "backups", "nightly.bak")
    before = sha_file(nb)
    e = perm_err(lambda: r.storbinary("APPE backups/nightly.bak", io.BytesIO(b"x")))
    t.ok(e.startswith("553") and sha_file(nb) == before, "APPE as readonly: 553, file unchanged", e)
    r.quit()

    local = os.path.join(n.root, "curl-append.bin")
    write(local, os.urandom(200000))
    p = subprocess.run(["curl", "-sS", "--max-time", "30", "-u", f"admin:{PW['admin']}", "--append",
                        "-T", local, f"ftp://{n.addr}:{n.ftp_port}/work/log.txt"],
                       capture_output=True, text=True, timeout=60)
    t.ok(p.returncode == 0 and read(target) == b"old line\nnew line\n" + read(local),
         "curl --append -T: appended", p.stderr)

    # Until the upload completes, the target keeps its old content; a
    # data connection reset throws the partial upload away.
    old = read(target)
    c = Ctl(n.addr, n.ftp_port)
    c.login("admin")
    c.cmd("TYPE I")
    d = c.epsv()
    c.send("APPE work/log.txt")
    first = c.reply()
    d.sendall(os.urandom(300000))
    time.sleep(0.5)
    mid = read(target)
    d.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    d.close()                                     # RST, not a clean end
    last = c.reply()
    t.ok(first.startswith("150") and mid == old, "APPE in progress: the target still holds the old content",
         (first, len(mid), len(old)))
    t.ok(last[:1] == "4" and read(target) == old, "APPE cut by a reset: 4xx, target unchanged", last)
    t.eq(c.cmd("NOOP")[:3], "200", "session still works after the cut APPE")
    c.close()
    t.eq(leftovers(w), [], "no .nodebak-upload-* left after APPE")


# 6. REST -------------------------------------------------------------------

def rest_cases(t, n):
    w = os.path.join(n.files, "work")
    path = os.path.join(w, "rest.bin")
    old = os.urandom(100000)
    write(path, old)
    new = os.urandom(30000)
    f = ftp(n, "admin")
    f.voidcmd("TYPE I")
    f.storbinary("STOR work/rest.bin", io.BytesIO(new), rest=40000)
    t.ok(read(path) == old[:40000] + new, "REST 40000 + STOR: first 40000 old bytes + the upload",
         f"size {os.path.getsize(path)}, want {40000 + len(new)}")
    cur = read(path)
    e = perm_err(lambda: f.storbinary("STOR work/rest.bin", io.BytesIO(b"zz"), rest=len(cur) + 10))
    t.ok(e.startswith("554") and read(path) == cur, "REST beyond the size + STOR: 554, file unchanged", e)
    got = bytearray()
    f.retrbinary("RETR work/rest.bin", got.extend, rest=12345)
    t.ok(bytes(got) == cur[12345:], "REST 12345 + RETR: data from offset 12345")
    e = perm_err(lambda: f.retrbinary("RETR work/rest.bin", lambda x: None, rest=len(cur) + 1))
    t.ok(e.startswith("554"), "REST beyond the size + RETR: 554", e)
    got = bytearray()
    f.retrbinary("RETR work/rest.bin", got.extend)
    t.ok(bytes(got) == cur, "a RETR after a refused REST starts at 0")
    f.quit()
    t.eq(leftovers(w), [], "no .nodebak-upload-* left after REST + STOR")


# 7. STAT -------------------------------------------------------------------

def stat_cases(t, n):
    nb = os.path.join(n.files, "backups", "nightly.bak")
    c = Ctl(n.addr, n.ftp_port)
    t.eq(c.cmd("STAT")[:3], "530", "STAT before login: 530")
    c.login("ro")
    lines = c.ask("STAT")
    t.ok(len(lines) >= 2 and lines[0].startswith("211-") and lines[-1].startswith("211 End"),
         "STAT: 211- ... 211 End", lines)
    lines = c.ask("STAT /backups")
    body = lines[1:-1]
    entry = [x for x in body if x.rstrip().endswith(" nightly.bak")]
    t.ok(lines and lines[0].startswith("213-") and lines[-1].startswith("213 End") and len(entry) == 1
         and entry[0].lstrip().startswith("-") and str(os.path.getsize(nb)) in entry[0].split(),
         "STAT /backups: 213- with an ls -l line per entry, 213 End", lines)
    t.ok(any(x.rstrip().endswith(" sub") and x.lstrip().startswith("d") for x in body)
         and not [x for x in body if "sneaky.pem" in x or "x.key" in x or ".nodebak" in x],
         "STAT /backups as readonly: folders as d..., no keys, no internal names", lines)
    lines = c.ask("STAT /backups/nightly.bak")
    t.ok(lines and lines[0].startswith("213-") and lines[-1].startswith("213 End")
         and any(x.rstrip().endswith("nightly.bak") and str(os.path.getsize(nb)) in x.split() for x in lines[1:-1]),
         "STAT on a file: its ls -l line", lines)
    lines = c.ask("STAT /")
    ends = [x.rstrip().rsplit(" ", 1)[-1] for x in lines[1:-1]]
    t.ok(lines and lines[0].startswith("213-") and ends == ["backups"], "STAT / as readonly: only backups", lines)
    for arg in ("/nosuch", "/node.key"):
        t.eq(c.cmd("STAT " + arg)[:3], "550", f"STAT {arg} as readonly: 550")
    c.close()


# 8. EPSV ALL, EPSV 1/2 -------------------------------------------------------

def epsv_cases(t, n):
    small = read(os.path.join(n.files, "backups", "nightly.json"))
    c = Ctl(n.addr, n.ftp_port)
    c.login("admin")
    t.eq(c.cmd("EPSV ALL")[:3], "200", "EPSV ALL: 200")
    dport = free_port()
    for cmd in ("PASV", f"PORT 127,0,0,1,{dport >> 8},{dport & 255}", f"EPRT |1|127.0.0.1|{dport}|"):
        r = c.cmd(cmd)
        t.ok(r.startswith("501"), f"after EPSV ALL, {cmd.split()[0]}: 501", r)
    data, last = c.retr("/backups/nightly.json")
    t.ok(data == small and last.startswith("226"), "after EPSV ALL, EPSV + RETR works", last)
    c.close()
    c = Ctl(n.addr, n.ftp_port)
    c.login("admin")
    r = c.cmd("EPSV 2")
    t.ok(r.startswith("522"), "EPSV 2 on IPv4: 522", r)
    try:
        d = c.epsv("1")
        c.send("RETR /backups/nightly.json")
        first = c.reply()
        got = recv_all(d)
        d.close()
        last = c.reply()
    except (OSError, RuntimeError) as e:
        first, got, last = str(e), b"", ""
    t.ok(first.startswith("150") and got == small and last.startswith("226"), "EPSV 1: 229, RETR works",
         (first, last))
    c.close()


# 9. ABOR -------------------------------------------------------------------

def start_retr(n, path):
    """A logged-in raw session with a RETR under way, a little read."""
    c = Ctl(n.addr, n.ftp_port)
    c.login("admin")
    c.cmd("TYPE I")
    d = c.epsv()
    c.send("RETR " + path)
    first = c.reply()
    got = d.recv(65536) if first.startswith("150") else b""
    return c, d, first, got


def session_ok(t, n, c, what):
    small = read(os.path.join(n.files, "backups", "nightly.json"))
    noop = c.cmd("NOOP")
    try:
        data, last = c.retr("/backups/nightly.json")
    except (OSError, RuntimeError) as e:
        data, last = b"", str(e)
    t.ok(noop.startswith("200") and data == small and last.startswith("226"),
         f"{what}: the session keeps working (NOOP, RETR)", (noop, last))


def abor_cases(t, n):
    c = Ctl(n.addr, n.ftp_port)
    c.login("admin")
    t.eq(c.cmd("ABOR")[:3], "225", "ABOR with no transfer: 225")
    c.close()

    # The data connection stays open and unread until both replies came:
    # the server must notice ABOR while its send is blocked.
    for how, raw in (("plain ABOR", b"ABOR\r\n"),
                     ("Telnet IP/Synch + ABOR", b"\xff\xf4\xff\xf2ABOR\r\n")):
        c, d, first, got = start_retr(n, "/big/big.bin")
        c.send(raw)
        r1, r2 = c.reply(15), c.reply(15)
        t.ok(first.startswith("150") and got and r1.startswith("426") and r2.startswith("226"),
             f"{how} during RETR: 426 then 226", (first, r1, r2))
        d.close()
        session_ok(t, n, c, how)
        c.close()

    f = LoopFTP()
    f.connect(n.addr, n.ftp_port, timeout=15)
    f.login("admin", PW["admin"])
    f.voidcmd("TYPE I")
    conn = f.transfercmd("RETR /big/big.bin")
    conn.recv(65536)
    try:
        r1 = f.abort()                   # "ABOR\r\n" sent with MSG_OOB
        r2 = f.getresp() if r1.startswith("426") else ""
    except (ftplib.Error, OSError) as e:
        r1, r2 = repr(e), ""
    t.ok(r1.startswith("426") and r2.startswith("226"), "ftplib abort() (urgent data) during RETR: 426 then 226",
         (r1, r2))
    conn.close()
    try:
        noop = f.voidcmd("NOOP")
        got = bytearray()
        f.retrbinary("RETR /backups/nightly.json", got.extend)
        ok = bytes(got) == read(os.path.join(n.files, "backups", "nightly.json"))
    except (ftplib.Error, OSError) as e:
        noop, ok = repr(e), False
    t.ok(noop.startswith("200") and ok, "after ftplib abort(): NOOP and RETR work", noop)
    f.close()

    # ABOR during STOR: nothing under the target name.
    w = os.path.join(n.files, "work")
    c = Ctl(n.addr, n.ftp_port)
    c.login("admin")
    c.cmd("TYPE I")
    d = c.epsv()
    c.send("STOR work/aborted.bin")
    first = c.reply()
    d.sendall(os.urandom(1 << 20))
    time.sleep(0.3)
    c.send("ABOR")
    r1, r2 = c.reply(15), c.reply(15)
    d.close()
    t.ok(first.startswith("150") and r1[:1] == "4" and r2.startswith("226"),
         "ABOR during STOR: 4xx then 226", (first, r1, r2))
    time.sleep(0.3)
    t.ok(not os.path.exists(os.path.join(w, "aborted.bin")) and not leftovers(w),
         "ABOR during STOR: nothing stored, no staging file left", os.listdir(w))
    session_ok(t, n, c, "ABOR during STOR")
    c.close()


# 10. STAT during a RETR ------------------------------------------------------

def stat_during_retr(t, n):
    big = os.path.join(n.files, "big", "big.bin")
    c, d, first, got = start_retr(n, "/big/big.bin")
    data = bytearray(got)
    for i in range(1, 11):               # a slow reader: 1 MiB, pause
        while len(data) < len(got) + i * (1 << 20):
            data += d.recv(1 << 20)
        time.sleep(0.05)
    c.send("STAT")
    r = c.reply(15)
    counts = [int(x) for x in re.findall(r"\d+", r[4:])]
    t.ok(first.startswith("150") and r.startswith("213") and any(0 < x <= BIG for x in counts),
         "STAT during RETR: 213 with a byte count", (first, r))
    try:
        data += recv_all(d, 60)
    except OSError as e:
        t.diag(f"data: {e}")
    d.close()
    last = c.reply(20)
    t.ok(last.startswith("226") and len(data) == BIG and sha(bytes(data)) == sha_file(big),
         "after STAT the RETR completes: 226, byte-identical", (last, len(data)))
    c.close()


# 11. Data timeout -----------------------------------------------------------

def data_timeout_case(t, n):
    c, d, first, _ = start_retr(n, "/big/timeout.bin")
    r = c.reply(30)                      # never read: data_timeout is 3 s
    t.ok(first.startswith("150") and r.startswith("426"), "a reader that stalls: 426 at data_timeout",
         (first, r))
    t.eq(c.cmd("NOOP")[:3], "200", "the session still answers NOOP after the data timeout")
    deadline = time.time() + 5
    pat = re.compile(r"ftp download /big/timeout\.bin: user admin .* INCOMPLETE")
    while not pat.search(n.log("ftpd")) and time.time() < deadline:
        time.sleep(0.1)
    t.ok(pat.search(n.log("ftpd")), "log: the timed-out download is INCOMPLETE", n.log("ftpd")[-1500:])
    xl = n.path("state", "xferlog")
    xl = open(xl).read() if os.path.exists(xl) else ""
    t.ok(any("/big/timeout.bin" in x and x.rstrip().endswith(" i") for x in xl.splitlines()),
         "xferlog: completion i for the timed-out download", xl[-800:])
    d.close()                            # only now: the server gave up by itself
    c.close()


# 12. IPv6 ------------------------------------------------------------------

def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


IPV6_TESTS = ["IPv6: EPSV + RETR byte-identical", "IPv6: EPRT |2|::1|port| (active) + RETR",
              "IPv6: PASV refused (425 or 5xx, not 227)", "IPv6: curl -g ftp://[::1]:port/ download"]


def ipv6_cases(t):
    if not have_ipv6():
        for name in IPV6_TESTS:
            t.ok(True, f"{name} # SKIP ::1 is not configured")
        return
    n = new_node("ftp6", "tls = off\n", addr="::1")
    try:
        src = os.path.join(n.files, "backups", "v6.bak")
        write(src, os.urandom(2 * 1024 * 1024 + 3))
        start(n)
        f = ftp(n, "ro")                 # af INET6: ftplib sends EPSV
        got = bytearray()
        f.retrbinary("RETR backups/v6.bak", got.extend)
        t.ok(bytes(got) == read(src), IPV6_TESTS[0])
        f.set_pasv(False)                # ... and EPRT
        got = bytearray()
        try:
            f.retrbinary("RETR backups/v6.bak", got.extend)
        except ftplib.Error as e:
            t.diag(str(e))
        t.ok(bytes(got) == read(src), IPV6_TESTS[1])
        f.quit()
        c = Ctl(n.addr, n.ftp_port)
        c.login("ro")
        r = c.cmd("PASV")
        t.ok(r.startswith("425") or r.startswith("5"), IPV6_TESTS[2], r)
        c.close()
        dst = os.path.join(n.root, "curl6.bak")
        p = subprocess.run(["curl", "-sS", "-g", "--max-time", "30", "-u", f"ro:{PW['ro']}", "-o", dst,
                            f"ftp://[::1]:{n.ftp_port}/backups/v6.bak"],
                           capture_output=True, text=True, timeout=60)
        t.ok(p.returncode == 0 and os.path.exists(dst) and sha_file(dst) == sha_file(src), IPV6_TESTS[3], p.stderr)
    finally:
        n.cleanup()


# 13. SIGTERM ----------------------------------------------------------------

def slow_reader(d, out, errs):
    """Read a data connection to EOF, 1 MiB per 0.1 s."""
    try:
        d.settimeout(30)
        while True:
            chunk = 0
            while chunk < (1 << 20):
                c = d.recv(1 << 20)
                if not c:
                    return
                out += c
                chunk += len(c)
            time.sleep(0.1)
    except OSError as e:
        errs.append(str(e))


def sigterm_case(t, n):
    big = os.path.join(n.files, "big", "big.bin")
    p = n.procs["ftpd"]
    idle = Ctl(n.addr, n.ftp_port)
    idle.login("ro")
    c, d, first, got = start_retr(n, "/big/big.bin")
    data = bytearray(got)
    errs = []
    reader = threading.Thread(target=slow_reader, args=(d, data, errs), daemon=True)
    reader.start()
    os.kill(p.pid, signal.SIGTERM)       # the listener only, not its group
    r = idle.reply(8)
    t.ok(r.startswith("421"), "SIGTERM: an idle session gets 421 at once", r)
    time.sleep(0.3)
    try:
        s = socket.create_connection((n.addr, n.ftp_port), timeout=3)
        s.settimeout(3)
        try:
            hello = s.recv(100)
        except OSError:
            hello = b""
        s.close()
    except OSError:
        hello = b""
    t.ok(not hello.startswith(b"220"), "SIGTERM: new connections refused", hello)
    reader.join(40)
    d.close()
    last = c.reply(10)
    t.ok(first.startswith("150") and last.startswith("226") and len(data) == BIG
         and sha(bytes(data)) == sha_file(big),
         "SIGTERM during a download: the download completes byte-identical, 226",
         (first, last, len(data), errs))
    after = c.reply(10)
    t.ok(after.startswith("421") or (after == "" and c.eof),
         "then 421 or the control connection closed", (after, c.eof))
    c.close()
    idle.close()
    try:
        rc = p.wait(timeout=25)          # shutdown_timeout + 5
    except subprocess.TimeoutExpired:
        rc = None
    t.ok(rc == 0, "the daemon exits by itself after SIGTERM", f"rc {rc}\n" + n.log("ftpd")[-800:])


# 14. SIGHUP -----------------------------------------------------------------

def wait_reload(n, count):
    deadline = time.time() + 10
    while n.log("ftpd").count("reloaded") < count and time.time() < deadline:
        time.sleep(0.1)


def sighup_case(t, n):
    pid = n.procs["ftpd"].pid
    f = ftp(n, "admin")
    rc, out, err = n.nb("user", "add", "newbie", "readonly", "--password-stdin",
                        input="pw-newbie-secret\n", timeout=60)
    t.ok(rc == 0, "user add newbie", out + err)
    before = n.log("ftpd").count("reloaded")
    os.kill(pid, signal.SIGHUP)
    wait_reload(n, before + 1)
    try:
        noop = f.voidcmd("NOOP")
        names = f.nlst("backups")
    except (ftplib.Error, OSError) as e:
        noop, names = repr(e), []
    t.ok(noop.startswith("200") and any(x.endswith("nightly.bak") for x in names),
         "SIGHUP: a running session still works (NOOP, NLST)", (noop, names))
    try:
        g = LoopFTP()
        g.connect(n.addr, n.ftp_port, timeout=20)
        r = g.login("newbie", "pw-newbie-secret")
        g.quit()
    except (ftplib.Error, OSError) as e:
        r = repr(e)
    t.ok(r.startswith("230"), "SIGHUP: the new user logs in", r)
    rc, out, err = n.nb("user", "del", "newbie", timeout=60)
    os.kill(pid, signal.SIGHUP)
    wait_reload(n, before + 2)
    g = LoopFTP()
    g.connect(n.addr, n.ftp_port, timeout=20)
    e = perm_err(lambda: g.login("newbie", "pw-newbie-secret"))
    g.close()
    t.ok(rc == 0 and e.startswith("530"), "user del + SIGHUP: the user cannot log in", (out, err, e))
    f.quit()


# FTPS --------------------------------------------------------------------------

def ftps_cases(t):
    n = new_node("ftps2", "")            # tls = required
    try:
        write(os.path.join(n.files, "backups", "a.bak"), os.urandom(500000), MTIME)
        write(os.path.join(n.files, "work", "log.txt"), b"old\n")
        start(n)
        feat_cases(t, n, True)
        ctx = insecure_context()
        f = ReuseFTP_TLS(context=ctx)
        f.connect(n.addr, n.ftp_port, timeout=20)
        f.auth()
        f.login("admin", PW["admin"])
        f.prot_p()
        got = dict(f.mlsd("backups"))
        t.ok(got.get("a.bak", {}).get("size") == "500000" and got["a.bak"].get("modify") == MTIME_FACT,
             "FTPS: ftplib mlsd over a protected data connection", got)
        r = f.sendcmd("MLST backups/a.bak").split("\n")
        t.ok(len(r) == 3 and "size=500000;" in r[1] and r[1].endswith(" /backups/a.bak"),
             "FTPS: MLST on the protected control connection", r)
        f.storbinary("APPE work/log.txt", io.BytesIO(b"new\n"))
        t.eq(read(os.path.join(n.files, "work", "log.txt")), b"old\nnew\n", "FTPS: APPE appends")

        # A new certificate and SIGHUP: new sessions present it, the
        # running one goes on with its own (data connections still resume).
        old_der = f.sock.getpeercert(True)
        crt, key = n.path("state", "ftpd.crt"), n.path("state", "ftpd.key")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
                            "-subj", "/CN=renewed-ftpd", "-keyout", key + ".new",
                            "-out", crt + ".new"], capture_output=True, timeout=60)
        os.chmod(key + ".new", 0o600)
        os.replace(key + ".new", key)
        os.replace(crt + ".new", crt)
        with open(crt) as fh:
            new_der = ssl.PEM_cert_to_DER_cert(fh.read())
        before = n.log("ftpd").count("reloaded")
        os.kill(n.procs["ftpd"].pid, signal.SIGHUP)
        wait_reload(n, before + 1)
        g = ReuseFTP_TLS(context=ctx)
        g.connect(n.addr, n.ftp_port, timeout=20)
        g.auth()
        t.ok(r.returncode == 0 and g.sock.getpeercert(True) == new_der != old_der,
             "FTPS: after a new certificate and SIGHUP, a new session presents it")
        g.login("admin", PW["admin"])
        g.prot_p()
        t.ok(g.nlst("backups") == ["a.bak"], "FTPS: the new session logs in and lists")
        g.quit()
        b = io.BytesIO()
        f.retrbinary("RETR backups/a.bak", b.write)
        t.ok(f.voidcmd("NOOP").startswith("200") and len(b.getvalue()) == 500000,
             "FTPS: the session from before the reload goes on (RETR, NOOP)")
        f.quit()
    finally:
        n.cleanup()


def allo_case(t, n):
    """ALLO before STOR (RFC 959; some clients send it) is 202 and the
    upload goes on."""
    c = ftp(n, "admin")
    r = c.sendcmd("ALLO 12")
    c.storbinary("STOR work/allo.txt", io.BytesIO(b"twelve bytes"))
    t.ok(r.startswith("202") and read(os.path.join(n.files, "work", "allo.txt")) == b"twelve bytes",
         "ALLO: 202, then STOR stores", r)
    c.quit()


def pasv_range(width):
    """LOW-HIGH of width free ports above the ephemeral range."""
    import random
    for _ in range(50):
        lo = random.randrange(61000, 65000 - width)
        try:
            for p in range(lo, lo + width):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return f"{lo}-{lo + width - 1}"
        except OSError:
            continue
    raise RuntimeError("no free port range")


def pasv_reuse_case(t):
    """More downloads in one session than pasv_ports has ports: each one
    leaves its port in TIME_WAIT on the server's side for a minute, and
    the passive listener must still be able to take it again."""
    n = new_node("ftpr", f"tls = off\npasv_ports = {pasv_range(5)}\n")
    try:
        files = {f"f{i}.bin": os.urandom(4096 + i) for i in range(25)}
        for name, data in files.items():
            write(os.path.join(n.files, "backups", "many", name), data)
        start(n)
        c = ftp(n, "admin")
        got, errs = {}, []
        for name in files:
            b = io.BytesIO()
            try:
                c.retrbinary(f"RETR backups/many/{name}", b.write)
                got[name] = b.getvalue()
            except ftplib.all_errors as e:
                errs.append(f"{name}: {e}")
        c.quit()
        t.ok(not errs and got == files,
             "25 downloads through 5 passive ports in one session, byte-identical",
             "; ".join(errs[:3]))
    finally:
        n.cleanup()


def group(t, fn, *args):
    """Run one case group; an exception fails it without hiding the rest."""
    try:
        fn(t, *args)
    except Exception:
        t.ok(False, f"{fn.__name__} raised", traceback.format_exc())


def main(t):
    if not os.path.exists(FTPD):
        t.skip_all("bin/nodebak-ftpd not built")

    n = new_node("ftpp", "tls = off\ndata_timeout = 60\nxferlog = state/xferlog\n")
    try:
        populate(n.files)
        start(n)
        group(t, feat_cases, n, False)
        group(t, mlst_cases, n)
        group(t, mlsd_cases, n)
        group(t, opts_cases, n)
        group(t, appe_cases, n)
        group(t, rest_cases, n)
        group(t, stat_cases, n)
        group(t, epsv_cases, n)
        group(t, abor_cases, n)
        group(t, stat_during_retr, n)
        group(t, sighup_case, n)
        group(t, allo_case, n)
    finally:
        n.cleanup()

    group(t, ftps_cases)
    group(t, ipv6_cases)
    group(t, pasv_reuse_case)

    # Short data timeout, and SIGTERM last: it ends the daemon.
    n = new_node("ftpt", "tls = off\ndata_timeout = 3\nshutdown_timeout = 20\nxferlog = state/xferlog\n")
    try:
        write(os.path.join(n.files, "big", "big.bin"), os.urandom(BIG))
        os.link(os.path.join(n.files, "big", "big.bin"), os.path.join(n.files, "big", "timeout.bin"))
        start(n)
        group(t, data_timeout_case, n)
        group(t, sigterm_case, n)
    finally:
        n.cleanup()


run(main)
