"""nodestate.py: capture what an operator would compare on a node (the
rollback tests): the database row by row, the files root byte for byte,
the configuration and the cluster settings; hash a node's whole folders;
build altered archives (Arch) signed with the node's own key."""
import hashlib
import io
import os
import sqlite3
import subprocess
import tarfile
import tempfile

import bakutil
from bakutil import gz  # noqa: F401 (the tests import it from here)


def db_rows(path):
    """{table: sorted rows} of every table of the SQLite database at path,
    plus its user_version, read without writing anything."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out = {"user_version": con.execute("PRAGMA user_version").fetchone()[0]}
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE "
                                   "type = 'table' ORDER BY name"):
            rows = con.execute(f'SELECT * FROM "{name}"').fetchall()
            out[name] = sorted(rows, key=repr)
        return out
    finally:
        con.close()


def tree(root, skip_top=("backups",)):
    """{relative path: ('dir', mode) or ('file', mode, sha256)} under root,
    symlinks and other types named as such; skip_top names at the top are
    left out."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel == ".":
            dirs[:] = [d for d in dirs if d not in skip_top]
            files = [f for f in files if f not in skip_top]
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            r = os.path.normpath(os.path.join(rel, name))
            st = os.lstat(p)
            mode = st.st_mode & 0o7777
            if os.path.islink(p):
                out[r] = ("symlink", os.readlink(p))
            elif os.path.isdir(p):
                out[r] = ("dir", mode)
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    out[r] = ("file", mode, hashlib.sha256(f.read()).hexdigest())
            else:
                out[r] = ("other", st.st_mode)
        # os.walk does not descend into symlinked folders: good.
    return out


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def cluster_fields(node):
    """cluster.conf as {key: value}."""
    out = {}
    for line in read(os.path.join(node.state, "cluster.conf")).splitlines():
        if line and not line.startswith("#") and " =" in line:
            k, _, v = line.partition(" =")
            out[k] = v.strip()
    return out


def snapshot_of(node):
    """What the operator compares after a rollback."""
    return {"db": db_rows(node.db), "files": tree(node.files),
            "conf": read(node.conf), "cluster": cluster_fields(node)}


def folder_hash(node, skip=()):
    """One SHA-256 over names, types, modes and contents of the state
    folder, the files root (without backups/), the database folder and
    nodebak.conf. skip: relative paths (under the node's folder) to leave
    out."""
    h = hashlib.sha256()
    for part in ("state", "files", "db", "nodebak.conf"):
        p = os.path.join(node.root, part)
        if os.path.isfile(p):
            h.update(f"{part} {hashlib.sha256(read(p, 'rb')).hexdigest()}\n".encode())
            continue
        t = tree(p, skip_top=("backups",) if part == "files" else ())
        for k in sorted(t):
            if os.path.join(part, k) in skip:
                continue
            h.update(f"{part}/{k} {t[k]!r}\n".encode())
    return h.hexdigest()


def sign_manifest(node, manifest):
    """MANIFEST.sig text for manifest (bytes) signed with node's own key
    (docs/bak-format.md): Ed25519 over "nodebak-manifest-v1\\0" + MANIFEST."""
    key = os.path.join(node.state, "signing.key")
    with tempfile.NamedTemporaryFile() as msg:
        msg.write(b"nodebak-manifest-v1\0" + manifest)
        msg.flush()
        sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-rawin", "-inkey",
                              key, "-in", msg.name], capture_output=True,
                             check=True).stdout
    return (f"nodebak-signature 1\nkey-id {key_id(node)}\nalgorithm ed25519\n"
            f"signature {sig.hex()}\n").encode()


def key_id(node):
    """First 8 bytes (hex) of SHA-256 of the raw 32-byte public key."""
    der = subprocess.run(["openssl", "pkey", "-in",
                          os.path.join(node.state, "signing.key"), "-pubout",
                          "-outform", "DER"], capture_output=True,
                         check=True).stdout
    return hashlib.sha256(der[-32:]).hexdigest()[:16]


class Arch:
    """A .bak under construction: MANIFEST header lines, member lines by
    path, tar entries [(TarInfo, bytes)] in archive order."""

    def __init__(self, members, manifest):
        lines = manifest.decode().splitlines()
        self.head = lines[:10]
        self.lines = {}
        for line in lines[10:-1]:
            path = line.split(" ", 2)[2] if line.startswith("dir ") else line.split(" ", 4)[4]
            self.lines[path] = line
        self.created = members[0][0].mtime
        self.entries = [(i, d) for i, d in members[2:]]
        self.fmt = tarfile.USTAR_FORMAT

    def ti(self, name, type=tarfile.REGTYPE, data=b"", mode=0o644, **kw):
        i = tarfile.TarInfo(name)
        i.type = type
        i.size = len(data) if type == tarfile.REGTYPE else 0
        i.mode = mode
        i.mtime = self.created
        i.uid = i.gid = 0
        i.uname = i.gname = ""
        for k, v in kw.items():
            setattr(i, k, v)
        return i

    def add(self, name, data=b"", listed=True, type=tarfile.REGTYPE, mode=0o644, line=None, **kw):
        """A member in bytewise order; listed: also in the MANIFEST."""
        info = self.ti(name, type, data, mode, **kw)
        at = len(self.entries)
        for k, (i, _) in enumerate(self.entries):
            if i.name.encode() > name.encode():
                at = k
                break
        self.entries.insert(at, (info, data if type == tarfile.REGTYPE else None))
        if listed:
            self.lines[name] = line or (
                f"dir {mode:04o} {name}" if type == tarfile.DIRTYPE else
                f"file {hashlib.sha256(data).hexdigest()} {len(data)} {mode:04o} {name}")

    def replace(self, name, data):
        """Give the regular file member name new content, listed as such."""
        k = next(k for k, (i, _) in enumerate(self.entries) if i.name == name)
        mode = self.entries[k][0].mode
        self.entries[k] = (self.ti(name, data=data, mode=mode), data)
        self.lines[name] = f"file {hashlib.sha256(data).hexdigest()} {len(data)} {mode:04o} {name}"
        return self

    def set_head(self, key, value):
        """Change a MANIFEST header field (software, schema, ...)."""
        self.head = [f"{key} {value}" if h.split(" ", 1)[0] == key else h
                     for h in self.head]
        return self

    def manifest(self):
        head = [f"members {len(self.lines)}" if h.startswith("members ") else h
                for h in self.head]
        body = [self.lines[p] for p in sorted(self.lines, key=lambda s: s.encode())]
        return ("\n".join(head + body + ["end"]) + "\n").encode()

    def tar(self, node, signed=True):
        mtext = self.manifest()
        first = [(self.ti("MANIFEST", data=mtext), mtext)]
        if signed:
            stext = sign_manifest(node, mtext)
            first.append((self.ti("MANIFEST.sig", data=stext), stext))
        if self.fmt == tarfile.USTAR_FORMAT:
            return bakutil.tar(first + self.entries)
        raw = io.BytesIO()
        tf = tarfile.open(fileobj=raw, mode="w", format=self.fmt)
        for info, data in first + self.entries:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
        end = tf.offset + 1024	# nodebak's writer: no padding to 10 KiB
        tf.close()
        return raw.getvalue()[:end]
