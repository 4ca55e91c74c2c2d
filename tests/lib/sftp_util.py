"""sftp_util.py: shared set-up for the SFTP/SSH scenario tests (sftp-*.t).

SshNode is a scratch Node with nodebak-snapshotd and nodebak-ftpd running,
three users (admin: role admin; ro: role readonly; archiver: role archiver,
the off-box puller's), each with a password and an Ed25519 key in a
private HOME (n.keys[user] is the private key's path, + ".pub" the public
one), and helpers that build OpenSSH, curl,
lftp and paramiko command lines for it. RawSftp speaks SFTP packets
directly over a paramiko channel, for the hostile tests."""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

from node import Node, BIN
from scenario import listening as port_open, wait_until  # noqa: F401 (the tests use them through sftp_util)

PASSWORDS = {"admin": "admin-Pass-1", "ro": "ro-Pass-1", "archiver": "archiver-Pass-1"}
ROLES = {"admin": "admin", "ro": "readonly", "archiver": "archiver"}


def need_paramiko():
    """Import paramiko, re-running the script with Debian's python3 (which
    has python3-paramiko) when the current interpreter lacks it."""
    try:
        import paramiko  # noqa: F401
        return
    except ImportError:
        pass
    if os.path.exists("/usr/bin/python3") and \
            os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)


def ftpd_path():
    return os.environ.get("NODEBAK_FTPD", os.path.join(BIN, "nodebak-ftpd"))


def require_ftpd(t):
    """Skip the whole test when the daemon has not been built."""
    if not os.access(ftpd_path(), os.X_OK):
        t.skip_all(f"{ftpd_path()} not built")


class SshNode(Node):
    def __init__(self, name, extra_conf="", **kw):
        super().__init__(name, extra_conf=extra_conf, **kw)
        self.home = tempfile.mkdtemp(prefix="nodebak-sshhome-", dir=self.root)
        os.makedirs(os.path.join(self.files, "backups"), exist_ok=True)
        self.keys = {}
        for user in PASSWORDS:
            key = os.path.join(self.home, f"id_{user}")
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                            "-C", f"{user}@test", "-f", key], check=True)
            self.keys[user] = key
        self.askpass = {}
        for user, pw in PASSWORDS.items():
            path = os.path.join(self.home, f"askpass_{user}")
            with open(path, "w") as f:
                f.write(f"#!/bin/sh\necho '{pw}'\n")
            os.chmod(path, 0o700)
            self.askpass[user] = path

    def setup_users(self):
        """Add admin, ro and archiver with passwords and keys through the
        console."""
        for user, role in ROLES.items():
            pw = PASSWORDS[user]
            rc, out, err = self.nb("user", "add", user, role,
                                   input=f"{pw}\n{pw}\n")
            if rc != 0:
                raise RuntimeError(f"user add {user}: {rc} {out} {err}")
            rc, out, err = self.nb("user", "key", "add", user,
                                   self.keys[user] + ".pub")
            if rc != 0:
                raise RuntimeError(f"user key add {user}: {rc} {out} {err}")

    def start_all(self, env=None):
        self.start(env=env)
        self.setup_users()
        self.start("ftpd", [ftpd_path(), "-f", "-c", self.conf],
                   wait_for=(self.addr, self.sftp_port))

    def ssh_opts(self, user="admin", key=True, cipher=None):
        o = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "LogLevel=error", "-o", "ConnectTimeout=20",
             "-o", "IdentitiesOnly=yes", "-o", "NumberOfPasswordPrompts=1",
             "-F", "/dev/null"]
        if key:
            o += ["-i", self.keys[user], "-o", "BatchMode=yes",
                  "-o", "PasswordAuthentication=no"]
        else:
            o += ["-o", "BatchMode=no", "-o", "PubkeyAuthentication=no",
                  "-o", "PreferredAuthentications=password"]
        if cipher:
            o += ["-c", cipher]
        return o

    def ssh_env(self, user="admin"):
        e = dict(os.environ)
        e["HOME"] = self.home
        e["SSH_ASKPASS"] = self.askpass[user]
        e["SSH_ASKPASS_REQUIRE"] = "force"
        e["DISPLAY"] = ":0"
        e.pop("SSH_AUTH_SOCK", None)
        return e

    def sftp(self, batch, user="admin", key=True, timeout=60):
        """Run OpenSSH sftp with batch commands: (rc, stdout, stderr)."""
        bf = os.path.join(self.home, "batch")
        with open(bf, "w") as f:
            f.write(batch)
        argv = ["sftp"] + self.ssh_opts(user, key) + ["-P", str(self.sftp_port),
                                                      "-b", bf, f"{user}@{self.addr}"]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           env=self.ssh_env(user), stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout, p.stderr

    def ssh(self, command, user="admin", key=True, input=None, tty=False,
            timeout=120):
        argv = ["ssh"] + self.ssh_opts(user, key) + ["-p", str(self.sftp_port)]
        argv += ["-tt"] if tty else ["-T"]
        argv += [f"{user}@{self.addr}"]
        if command is not None:
            argv.append(command)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           env=self.ssh_env(user), input=input or "")
        return p.returncode, p.stdout, p.stderr

    def paramiko_client(self, user="admin", key=True, password=None):
        import paramiko
        c = paramiko.SSHClient()
        c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        if key:
            c.connect(self.addr, self.sftp_port, username=user,
                      key_filename=self.keys[user], look_for_keys=False,
                      allow_agent=False, timeout=20, banner_timeout=20,
                      auth_timeout=20)
        else:
            c.connect(self.addr, self.sftp_port, username=user,
                      password=PASSWORDS[user] if password is None else password, look_for_keys=False,
                      allow_agent=False, timeout=20, banner_timeout=20,
                      auth_timeout=20)
        return c

    def refused_login(self, user, password, addr=None, tries=3):
        """A login the server must refuse with a reason: up to tries
        attempts (libssh 0.10 drops the DISCONNECT now and then, about 1
        in 20: ftpd/sshd.c, login_refused()), stopping at the first that
        logs in or carries a message. (logged in by any, the message,
        every attempt's (logged in, message))."""
        seen = []
        for _ in range(tries):
            seen.append(self.password_login(user, password, addr=addr, refusal=True))
            if seen[-1][0] or seen[-1][1]:
                break
        return any(ok for ok, _ in seen), seen[-1][1], seen

    def password_login(self, user, password, addr=None, refusal=False):
        """One password attempt on a fresh paramiko transport, from addr
        (a loopback address to bind to) when given: (True, "") when it
        logged in, else (False, the server's disconnect message or "").
        refusal: a disconnect is expected; wait (bounded) for its message."""
        import logging
        import socket
        import paramiko
        said = []

        class Grab(logging.Handler):
            def emit(self, rec):
                m = rec.getMessage()
                if m.startswith("Disconnect (code"):
                    said.append(m.split(": ", 1)[-1])
        h = Grab()
        lg = logging.getLogger("paramiko.transport")
        lg.addHandler(h)
        lg.setLevel(logging.INFO)
        sock = socket.create_connection((self.addr, self.sftp_port), timeout=20,
                                        source_address=(addr, 0) if addr else None)
        tr = paramiko.Transport(sock)
        ok = False
        try:
            tr.start_client(timeout=20)
            try:
                tr.auth_password(user, password)
                ok = tr.is_authenticated()
            except Exception:
                pass
            # The disconnect is read by the transport's thread: wait
            # (bounded) for it when the login failed.
            end = time.time() + 10
            while refusal and not ok and not said and tr.is_active() and \
                    time.time() < end:
                time.sleep(0.05)
        finally:
            tr.close()
            lg.removeHandler(h)
        return ok, " ".join(said)

    def cleanup(self):
        super().cleanup()
        if not os.environ.get("NODEBAK_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)


# SFTP v3 packet types and status codes (draft-ietf-secsh-filexfer-02).
INIT, VERSION, OPEN, CLOSE, READ, WRITE, LSTAT, FSTAT, SETSTAT, FSETSTAT = range(1, 11)
OPENDIR, READDIR, REMOVE, MKDIR, RMDIR, REALPATH, STAT, RENAME, READLINK, SYMLINK = range(11, 21)
STATUS, HANDLE, DATA, NAME, ATTRS = range(101, 106)
EXTENDED, EXTENDED_REPLY = 200, 201
FX_OK, FX_EOF, FX_NO_SUCH_FILE, FX_PERMISSION_DENIED, FX_FAILURE, FX_BAD_MESSAGE = range(6)
FX_OP_UNSUPPORTED = 8
FXF_READ, FXF_WRITE, FXF_APPEND, FXF_CREAT, FXF_TRUNC, FXF_EXCL = 1, 2, 4, 8, 16, 32


def s(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">I", len(b)) + b


class RawSftp:
    """SFTP packets by hand over an SSH channel (paramiko)."""

    def __init__(self, client):
        self.chan = client.get_transport().open_session(timeout=20)
        self.chan.settimeout(30)
        self.chan.invoke_subsystem("sftp")
        self.id = 0
        self.send_raw(struct.pack(">BI", INIT, 3))
        t, body = self.recv()
        assert t == VERSION, t
        self.version = struct.unpack(">I", body[:4])[0]
        self.extensions = {}
        rest = body[4:]
        while rest:
            n = struct.unpack(">I", rest[:4])[0]
            name = rest[4:4 + n].decode()
            rest = rest[4 + n:]
            n = struct.unpack(">I", rest[:4])[0]
            self.extensions[name] = rest[4:4 + n].decode()
            rest = rest[4 + n:]

    def send_raw(self, payload, length=None):
        n = len(payload) if length is None else length
        self.chan.sendall(struct.pack(">I", n) + payload)

    def _read(self, n):
        out = b""
        while len(out) < n:
            chunk = self.chan.recv(n - len(out))
            if not chunk:
                raise EOFError("channel closed")
            out += chunk
        return out

    def recv(self):
        n = struct.unpack(">I", self._read(4))[0]
        body = self._read(n)
        return body[0], body[1:]

    def request(self, ptype, payload=b""):
        self.id += 1
        self.send_raw(struct.pack(">BI", ptype, self.id) + payload)
        t, body = self.recv()
        rid = struct.unpack(">I", body[:4])[0]
        assert rid == self.id, (rid, self.id)
        return t, body[4:]

    @staticmethod
    def status_of(t, body):
        return struct.unpack(">I", body[:4])[0] if t == STATUS else None

    def status(self, ptype, payload=b""):
        t, body = self.request(ptype, payload)
        return self.status_of(t, body)

    def open(self, path, flags=FXF_READ):
        t, body = self.request(OPEN, s(path) + struct.pack(">II", flags, 0))
        if t == HANDLE:
            n = struct.unpack(">I", body[:4])[0]
            return body[4:4 + n], None
        return None, self.status_of(t, body)

    def close(self, h):
        return self.status(CLOSE, s(h))

    def read(self, h, off, n):
        return self.request(READ, s(h) + struct.pack(">QI", off, n))

    def write(self, h, off, data):
        return self.status(WRITE, s(h) + struct.pack(">Q", off) + s(data))

    def ext(self, name, payload=b""):
        return self.request(EXTENDED, s(name) + payload)

    def names(self, t, body):
        """[(name, longname)] of a NAME reply."""
        if t != NAME:
            return None
        n = struct.unpack(">I", body[:4])[0]
        rest, out = body[4:], []
        for _ in range(n):
            a = struct.unpack(">I", rest[:4])[0]
            name = rest[4:4 + a].decode(errors="replace")
            rest = rest[4 + a:]
            b = struct.unpack(">I", rest[:4])[0]
            longname = rest[4:4 + b].decode(errors="replace")
            rest = rest[4 + b:]
            flags = struct.unpack(">I", rest[:4])[0]
            rest = rest[4:]
            if flags & 1:
                rest = rest[8:]
            if flags & 2:
                rest = rest[8:]
            if flags & 4:
                rest = rest[4:]
            if flags & 8:
                rest = rest[8:]
            out.append((name, longname))
        return out

    def listdir(self, path):
        t, body = self.request(OPENDIR, s(path))
        if t != HANDLE:
            return None
        h = body[4:4 + struct.unpack(">I", body[:4])[0]]
        out = []
        while True:
            t, body = self.request(READDIR, s(h))
            got = self.names(t, body)
            if got is None:
                break
            out += got
        self.close(h)
        return out




