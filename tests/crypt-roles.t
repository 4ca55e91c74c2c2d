#!/usr/bin/env python3
"""Roles and private keys (issue 15, docs/ftpd.md "Roles"): the readonly
and archiver users, through curl (FTPS and SFTP), lftp (FTPS), paramiko and
OpenSSH sftp, obtain no private key material, with the node's archives in
clear and then sealed. Each client fetches everything it can list and every
known key path besides; the test decompresses anything downloaded (gzip,
tar, recursively) and searches it for the keys' PEM. An age payload is
counted as opaque: no identity is at hand.

Controls, so that the search can fail: admin downloads the archive in
clear and the search finds the keys in it; the sealed archive downloaded
by readonly and archiver is byte-identical to the node's. nodebak-pull
says what to set when the node's archives are in clear."""
import gzip
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from pull_util import Fleet  # noqa: E402
from scenario import wait_until  # noqa: E402
from sftp_util import PASSWORDS, need_paramiko, require_ftpd  # noqa: E402
need_paramiko()
from tap import run  # noqa: E402

AGE_MAGIC = b"age-encryption.org/v1\n"
# Where keys live in the files root: by name, by content under an innocent
# name, and inside a folder.
KEY_FILES = ["dbclusterserver.key", "notes.txt", "certs/tls.key"]


def make_keys(n):
    """Three EC private keys in the files root; [the base64 body of each]."""
    bodies = []
    for rel in KEY_FILES:
        path = n.path("files", rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        pem = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                              "ec_paramgen_curve:P-256"], capture_output=True,
                             check=True).stdout
        with open(path, "wb") as f:
            f.write(pem)
        bodies += [line for line in pem.splitlines() if line and not line.startswith(b"-----")]
    return bodies


def unpack(data, depth=0):
    """data and everything inside it: gzip and tar opened recursively (and
    bounded); an age file is opaque. Yields (what, bytes)."""
    yield "raw", data
    if depth > 4:
        return
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as g:
                inner = g.read(1 << 30)
        except (OSError, EOFError):
            inner = None
        if inner is not None:
            yield from unpack(inner, depth + 1)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
            for m in tf.getmembers():
                if m.isfile():
                    yield from unpack(tf.extractfile(m).read(), depth + 1)
    except (tarfile.TarError, EOFError, OSError):
        pass


def leaks(folder, bodies):
    """[(file, why)] for every downloaded file holding key material."""
    found = []
    for top, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(top, name)
            with open(path, "rb") as f:
                data = f.read()
            for _, part in unpack(data):
                if part.startswith(AGE_MAGIC):
                    continue
                if b"PRIVATE KEY-----" in part or any(b in part for b in bodies):
                    found.append((os.path.relpath(path, folder), "private key"))
                    break
    return found


def fresh(n, what):
    d = os.path.join(n.home, what)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def wanted(listed):
    """Everything a client saw listed plus every known key path."""
    return sorted(set(listed) | set(KEY_FILES) | {"backups/clear.bak", "../state/signing.key",
                                                   "../state/recovery.age"})


def by_openssh(n, user, dest):
    rc, out, err = n.sftp(f"-get -r / {dest}/\n", user=user)
    batch = "".join(f"-get \"{p}\" {dest}/named-{i}\n" for i, p in enumerate(wanted([])))
    n.sftp(batch, user=user)
    return os.listdir(dest)


def by_paramiko(n, user, dest):
    c = n.paramiko_client(user)
    sf = c.open_sftp()
    listed = []

    def walk(d):
        for a in sf.listdir_attr(d):
            p = f"{d.rstrip('/')}/{a.filename}"
            if a.st_mode is not None and (a.st_mode & 0o170000) == 0o040000:
                walk(p)
            else:
                listed.append(p.lstrip("/"))
    walk("/")
    for i, p in enumerate(wanted(listed)):
        try:
            sf.get(p, os.path.join(dest, f"{i}-{os.path.basename(p)}"))
        except OSError:
            pass
    sf.close()
    c.close()
    return listed


def by_curl(n, user, dest, scheme):
    pw = PASSWORDS[user]
    if scheme == "sftp":
        base = ["curl", "-sS", "--max-time", "30", "-k", "-u", f"{user}:",
                "--key", n.keys[user], "--pubkey", n.keys[user] + ".pub"]
        url = f"sftp://{n.addr}:{n.sftp_port}/"
    else:
        base = ["curl", "-sS", "--max-time", "30", "--ssl-reqd", "-k", "-u", f"{user}:{pw}"]
        url = f"ftp://{n.addr}:{n.ftp_port}/"
    p = subprocess.run(base + ["-l", url + "backups/"], capture_output=True, text=True)
    listed = ["backups/" + x for x in p.stdout.split()]
    for i, path in enumerate(wanted(listed)):
        subprocess.run(base + ["-o", os.path.join(dest, f"{i}-{os.path.basename(path)}"),
                               url + path], capture_output=True)
    return listed


def by_lftp(n, user, dest):
    """lftp over FTPS: a mirror of /, then each named path in a session
    of its own (lftp stops a script at the first failed command)."""
    pw = PASSWORDS[user]
    tls = "set ssl:verify-certificate no; set ftp:ssl-force yes; " \
          "set ftp:ssl-protect-data yes; set net:max-retries 1; "
    lftp = ["timeout", "60", "lftp", "-u", f"{user},{pw}", "-p", str(n.ftp_port), "-e"]
    subprocess.run(lftp + [tls + f"mirror / {dest}/mirror; quit", n.addr],
                   capture_output=True, text=True)
    for i, path in enumerate(wanted([])):
        subprocess.run(lftp + [tls + f"get {path} -o {dest}/named-{i}; quit", n.addr],
                       capture_output=True, text=True)


CLIENTS = [("OpenSSH sftp", by_openssh), ("paramiko", by_paramiko),
           ("curl sftp://", lambda n, u, d: by_curl(n, u, d, "sftp")),
           ("curl ftp:// (TLS)", lambda n, u, d: by_curl(n, u, d, "ftp")),
           ("lftp (FTPS)", by_lftp)]


def sealed_copies(folder, original):
    """How many downloaded files are byte-identical to original."""
    want = open(original, "rb").read()
    count = 0
    for top, _, files in os.walk(folder):
        for name in files:
            if open(os.path.join(top, name), "rb").read() == want:
                count += 1
    return count


def main(t):
    require_ftpd(t)
    fleet = Fleet(1, first=61, seal=False)
    n = fleet.nodes[0]
    bodies = make_keys(n)
    rc, out, err = n.nb("backup", "snapshot", "clear")
    t.ok(rc == 0, "a snapshot in clear holding three private keys", out + err)
    clear = n.path("files", "backups", "clear.bak")

    # Control: admin may download it, and the search finds the keys in it.
    d = fresh(n, "admin")
    rc, out, err = n.sftp(f"get backups/clear.bak {d}/clear.bak\n", user="admin")
    t.ok(rc == 0 and any(f == "clear.bak" for f, _ in leaks(d, bodies)),
         "control: admin downloads the archive in clear and the search finds the keys", err)

    for user in ("ro", "archiver"):
        for what, fn in CLIENTS:
            d = fresh(n, f"{user}-clear-{what.split()[0]}")
            fn(n, user, d)
            got = leaks(d, bodies)
            t.ok(not got, f"in clear: {user} through {what}: no private key obtained", got)
        t.ok(not os.path.exists(os.path.join(n.home, f"{user}-clear-OpenSSH", "backups", "clear.bak")),
             f"in clear: {user} may not download clear.bak (it is listed)")

    rc, out, err = fleet.run("sync")
    t.ok(rc != 0 and "set [snapshotd] recipients on the node" in err and
         not fleet.copies(n),
         "nodebak-pull: an archive in clear is refused by the node and the "
         "puller says what to set", err)

    # Sealed: recipients set, the configuration reloaded.
    n.seal()
    n.procs["snapshotd"].send_signal(signal.SIGHUP)
    t.ok(wait_until(lambda: "reloaded" in n.log()), "the node reloads with recipients")
    rc, out, err = n.nb("backup", "snapshot", "sealed")
    sealed = n.path("files", "backups", "sealed.bak")
    with open(sealed, "rb") as f:
        head = f.read(512)
    t.ok(rc == 0 and head.startswith(b"payload.age\0"), "a sealed snapshot", out + err)
    for user in ("ro", "archiver"):
        for what, fn in CLIENTS:
            d = fresh(n, f"{user}-sealed-{what.split()[0]}")
            fn(n, user, d)
            got = leaks(d, bodies)
            copies = sealed_copies(d, sealed)
            t.ok(not got and copies >= 1,
                 f"sealed: {user} through {what}: downloads the sealed archive "
                 f"({copies} copies), no private key obtained", got)
    rc, out, err = fleet.run("sync")
    t.ok(fleet.copies(n) == ["sealed.bak", "sealed.json"],
         "nodebak-pull copies the sealed archive and still not the one in clear",
         f"{rc} {fleet.copies(n)} {err}")


run(main)
