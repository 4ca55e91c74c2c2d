"""pull_util.py: an archive host and its nodes for the nodebak-pull tests.

Fleet(n) starts n real nodes (nodebak-snapshotd and nodebak-ftpd, each on
its own loopback address 127.0.0.2x, each with the sftp_util users,
including `archiver` with an SSH key) and writes a pull.conf that pins
each node's host key (its SHA256 fingerprint, from ssh-keygen) and its
signing key (nodebak key show). The nodes seal their archives to an
operator identity (Node.seal): the archiver role reads only sealed
archives. Every process is stopped at exit (by
node.py). run() runs bin/nodebak-pull with that configuration."""
import json
import os
import subprocess
import tempfile

from node import BIN
from sftp_util import SshNode

PULL = os.path.join(BIN, "nodebak-pull")


def children(pid):
    """The PIDs whose parent is pid (from /proc): a node's SFTP session
    processes are the children of its nodebak-ftpd listener."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def host_fingerprint(node):
    """The node's SSH host key fingerprint as ssh-keygen -l prints it."""
    out = subprocess.run(["ssh-keygen", "-lf",
                          node.path("state", "ssh_host_ed25519_key")],
                         capture_output=True, text=True, check=True).stdout
    return out.split()[1]


class Fleet:
    def __init__(self, count=3, first=21, extra_conf="", pull_extra="",
                 retention="", seal=True, daemon=None, env=None):
        self.nodes = []
        self.host = tempfile.mkdtemp(prefix="nodebak-archivehost-")
        self.archive = os.path.join(self.host, "archive")
        self.conf = os.path.join(self.host, "pull.conf")
        self.metrics = os.path.join(self.host, "pull.prom")
        for i in range(count):
            n = SshNode(f"cms{i + 1}", addr=f"127.0.0.{first + i}",
                        extra_conf=extra_conf, daemon=daemon)
            if seal:
                # The archiver role never downloads an archive in clear.
                n.seal()
            n.start_all(env=env)
            rc, out, err = n.nb("key", "show")
            if rc != 0:
                raise RuntimeError(f"key show: {err}")
            n.signing_pub = os.path.join(self.host, f"{n.name}.pub")
            with open(n.signing_pub, "w") as f:
                f.write(out)
            n.host_fp = host_fingerprint(n)
            self.nodes.append(n)
        self.write_conf(pull_extra=pull_extra, retention=retention)

    def node_section(self, n, host_key=None, port=None, identity=None,
                     signing_key=None, user="archiver"):
        return f"""
[node {n.name}]
address = {n.addr}
port = {port or n.sftp_port}
user = {user}
identity = {identity or n.keys["archiver"]}
host_key = {host_key or n.host_fp}
signing_key = {signing_key or n.signing_pub}
"""

    def write_conf(self, pull_extra="", retention="", sections=None,
                   timeout="10s"):
        """pull.conf for the fleet; sections replaces the [node] parts."""
        if sections is None:
            sections = "".join(self.node_section(n) for n in self.nodes)
        with open(self.conf, "w") as f:
            f.write(f"""[pull]
archive_dir = {self.archive}
timeout = {timeout}
metrics_textfile = {self.metrics}
{pull_extra}
[retention]
{retention}
{sections}""")

    def run(self, *args, timeout=300, input=None):
        """nodebak-pull -c CONF ARGS: (rc, stdout, stderr)."""
        p = subprocess.run([PULL, "-c", self.conf] + list(args),
                           capture_output=True, text=True, timeout=timeout,
                           input=input, stdin=None if input else subprocess.DEVNULL)
        return p.returncode, p.stdout, p.stderr

    def sync(self, *args, timeout=300):
        """sync --json ARGS: (rc, summary by node name, stderr)."""
        rc, out, err = self.run("sync", "--json", *args, timeout=timeout)
        try:
            summary = {x["node"]: x for x in json.loads(out)["nodes"]}
        except (ValueError, KeyError):
            summary = None
        return rc, summary, err

    def copy(self, node, file):
        return os.path.join(self.archive, node.name, file)

    def copies(self, node):
        d = os.path.join(self.archive, node.name)
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def quarantined(self, node):
        d = os.path.join(self.archive, ".quarantine", node.name)
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def original(self, node, file):
        return node.path("files", "backups", file)
