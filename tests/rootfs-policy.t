#!/usr/bin/env python3
"""rootfs-policy.t: FTP and SFTP share one files root policy (ftpd/rootfs.c).
One node serves both; one table of role cases and hostile paths is walked
through both servers with real clients (Python's ftplib over explicit FTPS
with PROT P, and paramiko's SFTP client), and each case must get the same
answer from both: allowed (and then the bytes or the change are the real
ones) or refused (and nothing changed). Private keys are unreadable and
unlisted for the readonly role through either server, by name (*.key in
any case) and by content (PEM with a preamble, PKCS#8 in PEM under an
innocent name, DER PKCS#8, traditional RSA DER, OpenSSH), while
certificates, a request and a text that mentions private keys stay
readable; the admin role keeps access to keys. Both servers write their
transfers to the xferlog file (SFTP runs under Landlock, the file lies
outside the root)."""
import ftplib
import io
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sftp_util import need_paramiko  # noqa: E402
need_paramiko()
from sftp_util import SshNode, PASSWORDS, require_ftpd  # noqa: E402
from ftp_util import ReuseFTP_TLS, insecure_context  # noqa: E402
from tap import run  # noqa: E402

# Files under backups/: name -> (is a private key, how it is made).
KEYS = ["d.KEY", "x.Key", "ec-params.pem", "key.der", "rsa.der", "openssh_key",
        "pkcs8.txt", "enc.pem"]
PLAIN = ["nightly.bak", "node.pem", "node.cer", "node.csr", "notes.txt"]

MAKE = r"""set -e
cd "$1"
o=openssl
$o ecparam -name prime256v1 -genkey -out ec-params.pem
$o pkcs8 -topk8 -nocrypt -in ec-params.pem -outform DER -out key.der
$o genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem 2>/dev/null
$o rsa -in rsa.pem -traditional -outform DER -out rsa.der 2>/dev/null
mv rsa.pem pkcs8.txt
$o pkcs8 -topk8 -v2 aes-256-cbc -passout pass:secret -in ec-params.pem -out enc.pem
ssh-keygen -q -t ed25519 -N '' -C k -f openssh_key
rm openssh_key.pub
$o req -x509 -key ec-params.pem -subj /CN=node -days 2 -out node.pem 2>/dev/null
$o x509 -in node.pem -outform DER -out node.cer
$o req -new -key ec-params.pem -subj /CN=node -out node.csr
printf 'not a key, only named like one\n' > d.KEY
printf 'not a key either\n' > x.Key
"""

NOTES = (b"Operations notes\n\nThe node keeps its TLS PRIVATE KEY in state/, never here;\n"
         b"a -----BEGIN CERTIFICATE----- block is what belongs in backups/.\n"
         b"Ask before you copy any private key.\n")


def setup(n):
    b = n.path("files", "backups")
    subprocess.run(["sh", "-c", MAKE, "sh", b], check=True, capture_output=True)
    with open(os.path.join(b, "nightly.bak"), "wb") as f:
        f.write(os.urandom(200000))
    with open(os.path.join(b, "notes.txt"), "wb") as f:
        f.write(NOTES)
    with open(os.path.join(b, ".nodebak-x"), "w") as f:
        f.write("internal\n")
    with open(n.path("files", ".nodebak-staging"), "w") as f:
        f.write("internal\n")
    os.makedirs(n.path("files", "certs"))
    with open(n.path("files", "certs", "node.crt"), "w") as f:
        f.write("certificate\n")
    subprocess.run(["cp", os.path.join(b, "pkcs8.txt"), n.path("files", "node.key")], check=True)
    os.makedirs(n.path("outside"))
    with open(n.path("outside", "secret"), "w") as f:
        f.write("outside secret\n")
    os.symlink("../outside", n.path("files", "esc"))
    os.symlink("/etc", n.path("files", "abs"))


def content(n, vpath):
    with open(n.path("files", vpath.lstrip("/")), "rb") as f:
        return f.read()


class Ftp:
    """The FTP side of one role: FTPS (AUTH TLS, PROT P), as a client would."""
    name = "FTP"

    def __init__(self, n, user):
        self.f = ReuseFTP_TLS(context=insecure_context())
        self.f.connect(n.addr, n.ftp_port, timeout=30)
        self.f.auth()
        self.f.login(user, PASSWORDS[user])
        self.f.prot_p()

    def read(self, p):
        got = bytearray()
        self.f.retrbinary("RETR " + p, got.extend)
        return bytes(got)

    def stat(self, p):
        r = self.f.sendcmd("MLST " + p)
        return r

    def listdir(self, p):
        return sorted(name for name, facts in self.f.mlsd(p) if name not in (".", ".."))

    def write(self, p, data):
        self.f.storbinary("STOR " + p, io.BytesIO(data))

    def delete(self, p):
        self.f.delete(p)

    def rename(self, a, b):
        self.f.rename(a, b)

    def mkdir(self, p):
        self.f.mkd(p)

    def close(self):
        self.f.quit()


class Sftp:
    """The SFTP side of one role: paramiko's SFTP client."""
    name = "SFTP"

    def __init__(self, n, user):
        self.c = n.paramiko_client(user)
        self.s = self.c.open_sftp()

    def read(self, p):
        with self.s.open(p, "rb") as f:
            return f.read()

    def stat(self, p):
        return self.s.stat(p)

    def listdir(self, p):
        return sorted(self.s.listdir(p))

    def write(self, p, data):
        self.s.putfo(io.BytesIO(data), p)

    def delete(self, p):
        self.s.remove(p)

    def rename(self, a, b):
        self.s.rename(a, b)

    def mkdir(self, p):
        self.s.mkdir(p)

    def close(self):
        self.s.close()
        self.c.close()


def attempt(fn):
    """(True, result) or (False, the refusal) of one client call."""
    try:
        return True, fn()
    except (ftplib.Error, IOError, OSError, EOFError) as e:
        return False, str(e)


def cases():
    """(role, what, op, args, allowed): the shared policy, as a table."""
    t = []
    for k in KEYS:
        t.append(("ro", f"private key {k}", "read", (f"/backups/{k}",), False))
        t.append(("ro", f"private key {k}", "stat", (f"/backups/{k}",), False))
        t.append(("admin", f"private key {k}", "read", (f"/backups/{k}",), True))
    for p in PLAIN:
        t.append(("ro", f"ordinary file {p}", "read", (f"/backups/{p}",), True))
        t.append(("ro", f"ordinary file {p}", "stat", (f"/backups/{p}",), True))
    t += [
        ("ro", "a key outside backups/", "read", ("/node.key",), False),
        ("ro", "a file outside backups/", "read", ("/certs/node.crt",), False),
        ("ro", "backups/ by a dotted path", "read", ("/backups/./x/../nightly.bak",), True),
        ("admin", "a file outside backups/", "read", ("/certs/node.crt",), True),
        ("admin", "a key at the top", "read", ("/node.key",), True),
    ]
    hostile = ["../outside/secret", "/../outside/secret", "/esc/secret", "esc/secret",
               "/backups/../../outside/secret", "/abs/passwd", "/../../../../etc/passwd",
               "/.nodebak-staging", "/backups/.nodebak-x"]
    for role in ("ro", "admin"):
        for p in hostile:
            t.append((role, f"hostile path {p}", "read", (p,), False))
            t.append((role, f"hostile path {p}", "stat", (p,), False))
        t.append((role, "an internal name", "delete", ("/.nodebak-staging",), False))
        t.append((role, "an upload named as internal", "write", ("/backups/.nodebak-up", b"x"), False))
        t.append((role, "a name that does not exist", "rename", ("/backups/nosuch", "/backups/other"), False))
        t.append((role, "a folder that does not exist", "write", ("/nosuch/new.txt", b"x"), False))
    for op, args in [("write", ("/backups/ro-{P}.bak", b"data")), ("delete", ("/backups/nightly.bak",)),
                     ("rename", ("/backups/nightly.bak", "/backups/moved-{P}.bak")),
                     ("mkdir", ("/backups/dir-{P}",)), ("write", ("/certs/ro-{P}.txt", b"data"))]:
        t.append(("ro", "readonly changes nothing", op, args, False))
    for op, args in [("write", ("/certs/new-{P}.txt", b"new data")), ("mkdir", ("/certs/dir-{P}",)),
                     ("rename", ("/certs/new-{P}.txt", "/certs/renamed-{P}.txt")),
                     ("delete", ("/certs/renamed-{P}.txt",)), ("write", ("/upload-{P}.key", b"k"))]:
        t.append(("admin", "admin changes", op, args, True))
    return t


def check(t, n, side, role, what, op, args, allowed):
    """Run one case on one side; returns whether the answer was right."""
    args = tuple(a.replace("{P}", side.name.lower()) if isinstance(a, str) else a for a in args)
    before = {p: os.path.lexists(n.path("files", p.lstrip("/"))) for p in args if isinstance(p, str)}
    ok, got = attempt(lambda: getattr(side, op)(*args))
    if ok and op == "read":
        # allowed means the real bytes, from inside the root
        ok = got == content(n, args[0].replace("/./x/..", ""))
    if ok and op == "write":
        ok = content(n, args[0]) == args[1]
    if ok and op == "rename":
        ok = not os.path.lexists(n.path("files", args[0].lstrip("/"))) and \
            os.path.lexists(n.path("files", args[1].lstrip("/")))
    if not ok and op in ("write", "delete", "rename", "mkdir"):
        after = {p: os.path.lexists(n.path("files", p.lstrip("/"))) for p in before}
        if after != before:    # a refusal must leave everything as it was
            return t.ok(False, f"{side.name} {role}: {what}: {op} {args[0]}: refused, "
                        f"nothing changed", f"{before} -> {after}")
    return t.ok(ok == allowed, f"{side.name} {role}: {what}: {op} {args[0]}: "
                f"{'allowed' if allowed else 'refused'}", got if ok != allowed else None)


def main(t):
    require_ftpd(t)
    n = SshNode("policy1", extra_conf="xferlog = state/xferlog\n")
    setup(n)
    n.start_all()
    try:
        sides = {(role, cls.name): cls(n, role) for role in ("ro", "admin") for cls in (Ftp, Sftp)}
        agree = 0
        table = cases()
        for role, what, op, args, allowed in table:
            res = [check(t, n, sides[(role, name)], role, what, op, args, allowed)
                   for name in ("FTP", "SFTP")]
            agree += all(res)
        t.eq(agree, len(table), f"FTP and SFTP both answer all {len(table)} cases as the table says")

        # Listings: the same names through both servers, no key, no
        # internal name for readonly; admin sees keys, not internal names.
        want_ro = sorted(PLAIN)
        want_admin = sorted(KEYS + PLAIN)
        for role, want in (("ro", want_ro), ("admin", want_admin)):
            got = {name: attempt(lambda s=sides[(role, name)]: s.listdir("/backups"))
                   for name in ("FTP", "SFTP")}
            for name, (ok, names) in got.items():
                t.ok(ok and names == want, f"{name} {role}: listing of /backups", names)
            t.eq(got["FTP"], got["SFTP"], f"{role}: both servers list /backups alike")
        got = {name: attempt(lambda s=sides[("ro", name)]: s.listdir("/")) for name in ("FTP", "SFTP")}
        t.ok(got["FTP"] == got["SFTP"] == (True, ["backups"]), "ro: / lists backups alone on both", got)
        got = {name: attempt(lambda s=sides[("admin", name)]: s.listdir("/")) for name in ("FTP", "SFTP")}
        t.ok(got["FTP"][0] and got["SFTP"][0] and ".nodebak-staging" not in got["FTP"][1] and
             ".nodebak-staging" not in got["SFTP"][1] and "node.key" in got["FTP"][1] and
             "node.key" in got["SFTP"][1], "admin: / lists node.key, no internal name, on both", got)

        for s in sides.values():
            s.close()
        t.ok(open(n.path("outside", "secret")).read() == "outside secret\n" and
             os.readlink(n.path("files", "esc")) == "../outside", "nothing outside the root changed")
        xl = open(n.path("state", "xferlog")).read() if os.path.exists(n.path("state", "xferlog")) else ""
        t.ok(" ro ftp " in xl and "nightly.bak" in xl, "xferlog: FTP transfers (Landlock on)", xl[-600:])
        t.ok(" ro sftp " in xl and " admin sftp " in xl, "xferlog: SFTP transfers (Landlock on)", xl[-600:])
    finally:
        n.cleanup()


run(main)
