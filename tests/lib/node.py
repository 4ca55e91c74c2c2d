"""node.py: scratch nodebak nodes for scenario tests.

A Node is a folder holding nodebak.conf, a state folder, a files root and a
database, with the real daemons started on loopback. Every process a test
starts is stopped by Node.stop() (also called at exit)."""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(TOP, "bin")
TBIN = os.path.join(TOP, "tests", "bin")


def _pg_bin():
    """The server's programs, found as nodebak finds them (docs/cluster.md,
    "Programs"): pg_config --bindir, else the highest /usr/lib/postgresql/*/bin."""
    try:
        d = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                           timeout=10).stdout.strip()
        if d and os.access(os.path.join(d, "pg_ctl"), os.X_OK):
            return d
    except OSError:
        pass
    root = "/usr/lib/postgresql"
    vers = []
    for v in os.listdir(root) if os.path.isdir(root) else []:
        try:
            rank = tuple(int(x) for x in v.split("."))
        except ValueError:
            continue
        if os.access(os.path.join(root, v, "bin", "pg_ctl"), os.X_OK):
            vers.append((rank, v))
    return os.path.join(root, max(vers)[1], "bin") if vers else root + "/15/bin"


PG_BIN = _pg_bin()

_live = []


def _cleanup():
    for n in list(_live):
        n.stop()
        n.collect_logs()


def collect_logs(root):
    """Copy the logs below root (*.log, xferlog*) into $NODEBAK_TEST_LOGS
    when it is set (make test sets it): tests/zz-secrets.t reads the logs
    of the whole run there for secrets."""
    dest = os.environ.get("NODEBAK_TEST_LOGS")
    if not dest or not os.path.isdir(root):
        return
    into = os.path.join(dest, os.path.basename(root.rstrip("/")))
    for d, _, files in os.walk(root):
        for x in files:
            src = os.path.join(d, x)
            if not (x.endswith(".log") or x.startswith("xferlog")) or \
                    not os.path.isfile(src) or os.path.islink(src):
                continue
            to = os.path.join(into, os.path.relpath(src, root))
            try:
                os.makedirs(os.path.dirname(to), exist_ok=True)
                shutil.copyfile(src, to)
            except OSError:
                pass


atexit.register(_cleanup)


def free_port(addr="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, name="node1", addr="127.0.0.1", root=None,
                 extra_conf="", daemon=None, engine="sqlite"):
        self.name = name
        self.recipients = ""
        self.addr = addr
        self.engine = engine
        self.root = root or tempfile.mkdtemp(prefix=f"nodebak-{name}-")
        if engine == "postgresql":
            # The postgres user must reach state/pgdata (and nothing else).
            os.chmod(self.root, 0o711)
            self.pg_port = free_port(addr)
        self.own_root = root is None
        self.conf = os.path.join(self.root, "nodebak.conf")
        self.state = os.path.join(self.root, "state")
        self.files = os.path.join(self.root, "files")
        self.db = os.path.join(self.root, "db", "node.db")
        self.sock = os.path.join(self.root, "snapshotd.sock")
        self.daemon = daemon or os.path.join(BIN, "nodebak-snapshotd")
        self.procs = {}
        self.logs = {}
        self.ftp_port = free_port(addr)
        self.sftp_port = free_port(addr)
        os.makedirs(os.path.join(self.root, "db"), exist_ok=True)
        self.write_conf(extra_conf)
        _live.append(self)

    def seal(self):
        """Make an operator identity (operator.key, by age-keygen) and seal
        the node's archives to it: [snapshotd] recipients, in the
        configuration written now and by every later write_conf()."""
        self.operator_key = self.path("operator.key")
        subprocess.run(["age-keygen", "-o", self.operator_key], check=True,
                       capture_output=True)
        self.recipients = subprocess.run(
            ["age-keygen", "-y", self.operator_key], check=True,
            capture_output=True, text=True).stdout.strip()
        with open(self.conf) as f:
            conf = f.read()
        with open(self.conf, "w") as f:
            f.write(conf.replace("[snapshotd]\n", "[snapshotd]\nrecipients = "
                                 f"{self.recipients}\n", 1))

    def write_conf(self, extra=""):
        pg = f"pg_port = {self.pg_port}" if self.engine == "postgresql" else ""
        rcp = f"recipients = {self.recipients}" if self.recipients else ""
        with open(self.conf, "w") as f:
            f.write(f"""# scratch node for tests
[node]
name = {self.name}
state_dir = state
files_dir = files

[database]
engine = {self.engine}
path = db/node.db
{pg}

[snapshotd]
socket = snapshotd.sock
compression_level = 1
{rcp}

[cluster]
interface_a = {self.addr}

[ftpd]
ftp_listen = {self.addr}:{self.ftp_port}
sftp_listen = {self.addr}:{self.sftp_port}
tls_cert = state/ftpd.crt
tls_key = state/ftpd.key
host_key = state/ssh_host_ed25519_key
users = state/users
{extra}""")

    def env(self):
        e = dict(os.environ)
        e["NODEBAK_CONF"] = self.conf
        return e

    def start(self, name="snapshotd", argv=None, wait_for=None, env=None,
              timeout=20):
        """Start a daemon in the foreground; wait until wait_for exists."""
        if argv is None:
            argv = [self.daemon, "-f", "-c", self.conf]
            wait_for = self.sock
        log = open(os.path.join(self.root, f"{name}.log"), "ab")
        p = subprocess.Popen(argv, stdout=log, stderr=log,
                             env=env or self.env(), start_new_session=True)
        self.procs[name] = p
        self.logs[name] = os.path.join(self.root, f"{name}.log")
        deadline = time.time() + timeout
        while wait_for and not self._ready(wait_for):
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited with {p.returncode}: "
                                   + self.log(name)[-2000:])
            if time.time() > deadline:
                raise RuntimeError(f"{name} did not start: "
                                   + self.log(name)[-2000:])
            time.sleep(0.02)
        return p

    def _ready(self, what):
        if isinstance(what, tuple):
            try:
                with socket.create_connection(what, timeout=1):
                    return True
            except OSError:
                return False
        if what.startswith("/") and what.endswith(".sock"):
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(what)
                return True
            except OSError:
                return False
            finally:
                s.close()
        return os.path.exists(what)

    def log(self, name="snapshotd"):
        try:
            with open(self.logs.get(name, os.path.join(self.root, f"{name}.log")),
                      errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def kill(self, name="snapshotd", sig=signal.SIGKILL):
        p = self.procs.pop(name, None)
        if p and p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        return p

    def stop(self):
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)
        self.pg_stop()
        if self in _live:
            _live.remove(self)

    def pg_stop(self):
        """Stop the node's PostgreSQL server if it is still up (the daemon
        stops it on a clean exit; not after SIGKILL)."""
        data = os.path.join(self.state, "pgdata")
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            subprocess.run(["runuser", "-u", "postgres", "--", PG_BIN + "/pg_ctl",
                            "stop", "-m", "immediate", "-w", "-D", data],
                           capture_output=True, timeout=60)

    def psql(self, sql, db="nodebak"):
        """Run SQL on the node's own server (its socket): rows as text."""
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-h", os.path.join(self.state, "pgrun"),
                            "-p", str(self.pg_port), "-U", "postgres",
                            "-d", db, "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {p.stderr}")
        return p.stdout

    def collect_logs(self):
        collect_logs(self.root)

    def cleanup(self):
        self.stop()
        self.collect_logs()
        if self.own_root and not os.environ.get("NODEBAK_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)

    def nb(self, *args, input=None, timeout=300):
        """Run the console: returns (exit code, stdout, stderr)."""
        p = subprocess.run([os.path.join(BIN, "nodebak"), "-c", self.conf,
                            *args], input=input, capture_output=True,
                           text=True, timeout=timeout, env=self.env())
        return p.returncode, p.stdout, p.stderr

    def path(self, *parts):
        return os.path.join(self.root, *parts)
