#!/usr/bin/env python3
"""archiver-role.t: the archiver role (an off-box puller's user) against a
real node: nodebak-snapshotd makes a real signed archive, nodebak-ftpd
serves it. The archiver, logged in with its SSH key (paramiko, OpenSSH
sftp and scp) or its password (ftplib, curl over plain FTP), lists `/`
(only `backups`) and `backups/` (the .bak and its .json, nothing hidden)
and downloads both byte-identical; every path outside backups/ (certs/,
a private key at the top, the configuration and users file above the
root by "..", by absolute path and through planted symlinks, keys under
backups/ by name and content, internal names) is refused the way a path
outside the root is, through every FTP and SFTP request that names a
path; it changes nothing anywhere (upload, delete, rename, mkdir, rmdir,
setstat, symlink, APPE), legacy `scp -O` included, which serves it
backups/ as SFTP does; its SSH console (exec and shell) requests get one
line and exit status 1. readonly and admin keep their
rights and their console."""
import ftplib
import hashlib
import io
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sftp_util import need_paramiko  # noqa: E402
need_paramiko()
from sftp_util import SshNode, PASSWORDS, require_ftpd  # noqa: E402
from tap import run  # noqa: E402

NO_CONSOLE = "nodebak: archiver users have no console, only SFTP"
KEY_PEM = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n" \
          "-----END PRIVATE KEY-----\n"

# Names an archiver may not even see: outside backups/ (every one exists,
# or names something that does from some folder's point of view: the
# configuration and users file lie above the files root), a *.key name,
# internal names. Every request naming one is refused, realpath included.
FORBIDDEN = [
    "/certs/node.crt", "certs/node.crt", "/node.key", "/notes.txt",
    "/backups/../certs/node.crt", "backups/../node.key",
    "../nodebak.conf", "/../nodebak.conf", "/../../nodebak.conf", "../state/users",
    "/esc/nodebak.conf", "/backups/d.key", "/backups/.nodebak-upload-x",
    "/.nodebak-staging",
]
# In backups/ by name, but what they lead to is not the archiver's: links
# planted there are listed as links (as for readonly) and never followed,
# a key by content is never opened or stat'ed.
FORBIDDEN_CONTENT = ["/backups/conf-link.bak", "/backups/cert-link.bak", "/backups/sneaky.pem"]
# Folders outside backups/ (".." from "/" is "/", which it may list).
FORBIDDEN_DIRS = ["/certs", "certs", "/esc", "/backups/../certs", "../certs", "/state", "/esc/state"]


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def tree(top):
    """{relative path: (mode, size, sha256 or link target)} of top."""
    out = {}
    for d, dirs, files in os.walk(top):
        for name in dirs + files:
            p = os.path.join(d, name)
            st = os.lstat(p)
            if os.path.islink(p):
                what = os.readlink(p)
            elif os.path.isfile(p):
                what = sha(p)
            else:
                what = None
            out[os.path.relpath(p, top)] = (st.st_mode, st.st_size, int(st.st_mtime), what)
    return out


def save_files(n):
    """Keep a copy of the files root, for restore_files()."""
    n.saved = os.path.join(n.root, "files-saved")
    shutil.copytree(n.files, n.saved, symlinks=True)
    n.saved_tree = tree(n.files)


def restore_files(n):
    """Put the files root back as save_files() found it, when a change
    that should have been refused went through: each refusal is then
    checked on its own, not on what an earlier one left. The folder itself
    stays (sessions hold it open)."""
    if tree(n.files) == n.saved_tree:
        return
    time.sleep(0.2)  # a session may still be closing an upload's hidden file
    for name in os.listdir(n.files):
        p = os.path.join(n.files, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
            if os.path.exists(p):
                shutil.rmtree(p)
        else:
            os.unlink(p)
    for name in os.listdir(n.saved):
        src, dst = os.path.join(n.saved, name), os.path.join(n.files, name)
        if os.path.isdir(src) and not os.path.islink(src):
            shutil.copytree(src, dst, symlinks=True)
        else:
            shutil.copy2(src, dst, follow_symlinks=False)


def setup(n):
    files, b = n.files, os.path.join(n.files, "backups")
    os.makedirs(os.path.join(files, "certs"))
    with open(os.path.join(files, "certs", "node.crt"), "w") as f:
        f.write("certificate\n")
    with open(os.path.join(files, "node.key"), "w") as f:
        f.write(KEY_PEM)
    with open(os.path.join(files, "notes.txt"), "w") as f:
        f.write("top-level notes\n")
    with open(os.path.join(b, "sneaky.pem"), "w") as f:
        f.write(KEY_PEM)
    with open(os.path.join(b, "d.key"), "w") as f:
        f.write("named like a key\n")
    with open(os.path.join(b, ".nodebak-upload-x"), "w") as f:
        f.write("internal\n")
    with open(os.path.join(files, ".nodebak-staging"), "w") as f:
        f.write("internal\n")
    # Empty folders, so that a refused RMD/RMDIR is the role's doing.
    os.makedirs(os.path.join(b, "old"))
    os.makedirs(os.path.join(files, "empty"))
    # Symlinks planted by someone on the host: out of the root, to a file
    # of the root outside backups/, and to a folder outside backups/.
    os.symlink(n.conf, os.path.join(b, "conf-link.bak"))
    os.symlink("../certs/node.crt", os.path.join(b, "cert-link.bak"))
    os.symlink("../certs", os.path.join(b, "sub-link"))
    os.symlink(n.root, os.path.join(files, "esc"))


def sftp_refused(fn):
    """'denied', 'missing' or 'ALLOWED' for one paramiko call."""
    try:
        fn()
    except PermissionError:
        return "denied"
    except FileNotFoundError:
        return "missing"
    except (IOError, OSError) as e:
        return f"refused ({e})"
    return "ALLOWED"


def ftp_refused(fn):
    try:
        fn()
    except ftplib.error_perm as e:
        return str(e)[:3]
    except ftplib.Error as e:
        return f"refused ({e})"
    return "ALLOWED"


def append(sf, path):
    with sf.open(path, "a") as fh:
        fh.write(b"x")


def check_sftp_paramiko(t, n, bak, js):
    c = n.paramiko_client("archiver")
    sf = c.open_sftp()
    local = os.path.join(n.home, "pm")
    os.makedirs(local)
    t.eq(sorted(sf.listdir("/")), ["backups"], "paramiko archiver: / shows only backups")
    got = sorted(sf.listdir("/backups"))
    t.ok("nightly.bak" in got and "nightly.json" in got and
         not [x for x in got if x.startswith(".nodebak") or x in ("sneaky.pem", "d.key")],
         "paramiko archiver: backups/ lists the archive and its .json, no key, nothing internal", got)
    sf.get("/backups/nightly.bak", os.path.join(local, "n.bak"))
    sf.get("backups/nightly.json", os.path.join(local, "n.json"))
    t.ok(sha(os.path.join(local, "n.bak")) == sha(bak) and sha(os.path.join(local, "n.json")) == sha(js),
         "paramiko archiver: .bak and .json downloaded byte-identical")
    t.eq(sf.stat("/backups/nightly.bak").st_size, os.path.getsize(bak), "paramiko archiver: stat of the archive")
    t.eq(sf.normalize("backups/x/../nightly.bak"), "/backups/nightly.bak", "paramiko archiver: realpath in backups/")

    bad = []
    for p in FORBIDDEN:
        for what, fn in [("open", lambda p=p: sf.open(p, "rb").read(1)), ("stat", lambda p=p: sf.stat(p)),
                         ("lstat", lambda p=p: sf.lstat(p)), ("realpath", lambda p=p: sf.normalize(p)),
                         ("readlink", lambda p=p: sf.readlink(p))]:
            r = sftp_refused(fn)
            if r not in ("denied", "missing"):
                bad.append((what, p, r))
    t.ok(not bad, f"paramiko archiver: open, stat, lstat, realpath, readlink of {len(FORBIDDEN)} paths "
         "outside backups/ all refused", bad)
    bad = []
    for p in FORBIDDEN_CONTENT:
        for what, fn in [("open", lambda p=p: sf.open(p, "rb").read(1)), ("stat", lambda p=p: sf.stat(p))]:
            r = sftp_refused(fn)
            if r not in ("denied", "missing"):
                bad.append((what, p, r))
    t.ok(not bad, "paramiko archiver: planted links and a key by content in backups/: open, stat refused", bad)
    bad = []
    for p in FORBIDDEN_DIRS + ["/backups/sub-link"]:
        for what, fn in [("opendir", lambda p=p: sf.listdir(p)), ("chdir", lambda p=p: sf.chdir(p))]:
            r = sftp_refused(fn)
            if r not in ("denied", "missing"):
                bad.append((what, p, r))
    sf.chdir(None)
    t.ok(not bad, "paramiko archiver: opendir, chdir outside backups/ (and through a link) refused", bad)
    t.eq(sftp_refused(lambda: sf.stat("/certs/node.crt")), "denied",
         "paramiko archiver: certs/node.crt is permission denied, as a path outside the root is")
    t.eq(sftp_refused(lambda: sf.stat("/../../nodebak.conf")), "denied",
         "paramiko archiver: ../../nodebak.conf gets the same answer")

    before = tree(n.files)
    changes = [
        ("upload into backups/", lambda: sf.putfo(io.BytesIO(b"x" * 100), "/backups/new.bak")),
        ("overwrite the archive", lambda: sf.putfo(io.BytesIO(b"x"), "/backups/nightly.bak")),
        ("append to the archive", lambda: append(sf, "/backups/nightly.bak")),
        ("upload at the top", lambda: sf.putfo(io.BytesIO(b"x"), "/new.txt")),
        ("delete the archive", lambda: sf.remove("/backups/nightly.bak")),
        ("delete the .json", lambda: sf.remove("backups/nightly.json")),
        ("delete outside", lambda: sf.remove("/notes.txt")),
        ("rename in backups/", lambda: sf.rename("/backups/nightly.bak", "/backups/moved.bak")),
        ("posix-rename in backups/", lambda: sf.posix_rename("/backups/nightly.json", "/backups/m.json")),
        ("rename out of backups/", lambda: sf.rename("/backups/nightly.bak", "/moved.bak")),
        ("mkdir in backups/", lambda: sf.mkdir("/backups/dir")),
        ("mkdir at the top", lambda: sf.mkdir("/dir")),
        ("rmdir an empty folder in backups/", lambda: sf.rmdir("/backups/old")),
        ("rmdir an empty folder outside", lambda: sf.rmdir("/empty")),
        ("chmod the archive", lambda: sf.chmod("/backups/nightly.bak", 0o666)),
        ("utime the archive", lambda: sf.utime("/backups/nightly.bak", (1, 1))),
        ("truncate the archive", lambda: sf.truncate("/backups/nightly.bak", 0)),
        ("chmod backups/", lambda: sf.chmod("/backups", 0o777)),
        ("symlink in backups/", lambda: sf.symlink("nightly.bak", "/backups/l.bak")),
    ]
    bad, changed = [], []
    for what, fn in changes:
        if (r := sftp_refused(fn)) == "ALLOWED":
            bad.append((what, r))
        if tree(n.files) != before:
            changed.append(what)
        restore_files(n)
    t.ok(not bad, f"paramiko archiver: {len(changes)} changes (upload, delete, rename, mkdir, rmdir, "
         "setstat, symlink) all refused", bad)
    t.ok(not changed, "paramiko archiver: the files root is unchanged after each", changed)
    sf.close()
    c.close()

    # Password login (documented: allowed; the puller uses its key).
    c = n.paramiko_client("archiver", key=False)
    sf = c.open_sftp()
    t.eq(sorted(sf.listdir("/")), ["backups"], "paramiko archiver with its password: the same view")
    sf.close()
    c.close()
    # The console over SSH: exec and shell are refused, one line each.
    c = n.paramiko_client("archiver")
    ch = c.get_transport().open_session(timeout=20)
    ch.settimeout(30)
    ch.exec_command("backup list")
    out, err = ch.makefile("rb").read(), ch.makefile_stderr("rb").read()
    t.ok(ch.recv_exit_status() == 1 and out == b"" and err == (NO_CONSOLE + "\n").encode(),
         "paramiko archiver: exec refused with one line and exit status 1", (out, err))
    c.close()


def check_openssh(t, n, bak, js):
    local = os.path.join(n.home, "ossh")
    os.makedirs(local)
    rc, out, err = n.sftp(f"ls -1 /\nls -1 /backups\nget /backups/nightly.bak {local}/s.bak\n"
                          f"get backups/nightly.json {local}/s.json\n", user="archiver")
    t.ok(rc == 0 and sha(f"{local}/s.bak") == sha(bak) and sha(f"{local}/s.json") == sha(js),
         "sftp -b archiver (key): ls and get of .bak and .json, byte-identical", (rc, err))
    listed = out.split("sftp> ls -1 /backups")
    t.ok(len(listed) == 2 and listed[0].split() == ["sftp>", "ls", "-1", "/", "/backups"] and
         "nightly.bak" in listed[1] and "nightly.json" in listed[1] and "sneaky.pem" not in listed[1] and
         ".nodebak" not in listed[1], "sftp -b archiver: / shows backups only, backups/ no key", out)
    up = os.path.join(local, "up.bin")
    with open(up, "wb") as f:
        f.write(b"upload attempt\n")
    before = tree(n.files)
    for cmd in ["get /certs/node.crt x1", "get ../nodebak.conf x2", "get /node.key x3",
                "get /backups/conf-link.bak x4", "get /backups/cert-link.bak x5", "ls /certs",
                "cd /certs", "cd /backups/../certs", "ls /esc", f"put {up} /backups/up.bak", f"put {up} /up.bin",
                "rm /backups/nightly.bak", "rename /backups/nightly.bak /backups/r.bak",
                "mkdir /backups/d", "rmdir /backups/old", "chmod 600 /backups/nightly.bak",
                "ln -s nightly.bak /backups/l.bak"]:
        rc, out, err = n.sftp(f"lcd {local}\n{cmd}\n", user="archiver")
        same = tree(n.files) == before
        restore_files(n)
        t.ok(rc != 0 and same, f"sftp -b archiver: {cmd} refused, nothing changed", (rc, out, err))
    t.ok(not [x for x in os.listdir(local) if x.startswith("x")], "sftp -b archiver: nothing fetched from outside")

    scp = ["scp"] + n.ssh_opts("archiver") + ["-P", str(n.sftp_port)]
    env = n.ssh_env("archiver")
    p = subprocess.run(scp + [f"archiver@{n.addr}:backups/nightly.bak", f"{local}/scp.bak"],
                       capture_output=True, text=True, env=env, timeout=60)
    t.ok(p.returncode == 0 and sha(f"{local}/scp.bak") == sha(bak), "scp archiver: download byte-identical",
         p.stderr)
    p = subprocess.run(scp + [f"archiver@{n.addr}:/certs/node.crt", f"{local}/scp.crt"],
                       capture_output=True, text=True, env=env, timeout=60)
    t.ok(p.returncode != 0 and not os.path.exists(f"{local}/scp.crt"), "scp archiver: certs/node.crt refused",
         p.stderr)
    p = subprocess.run(scp + [up, f"archiver@{n.addr}:backups/scp-up.bak"],
                       capture_output=True, text=True, env=env, timeout=60)
    t.ok(p.returncode != 0 and not os.path.exists(n.path("files", "backups", "scp-up.bak")),
         "scp archiver: upload refused", p.stderr)
    restore_files(n)
    # Legacy scp is file transfer, not the console: the same files rules.
    p = subprocess.run(scp + ["-O", f"archiver@{n.addr}:backups/nightly.bak", f"{local}/legacy.bak"],
                       capture_output=True, text=True, env=env, timeout=60)
    t.ok(p.returncode == 0 and sha(f"{local}/legacy.bak") == sha(bak),
         "scp -O (legacy, an exec) archiver: download byte-identical", p.stderr)
    p = subprocess.run(scp + ["-O", f"archiver@{n.addr}:/certs/node.crt", f"{local}/legacy.crt"],
                       capture_output=True, text=True, env=env, timeout=60)
    t.ok(p.returncode != 0 and not os.path.exists(f"{local}/legacy.crt"),
         "scp -O archiver: certs/node.crt refused", p.stderr)
    p = subprocess.run(scp + ["-O", up, f"archiver@{n.addr}:backups/scp-up.bak"],
                       capture_output=True, text=True, env=env, timeout=60)
    t.ok(p.returncode != 0 and not os.path.exists(n.path("files", "backups", "scp-up.bak")),
         "scp -O archiver: upload refused", p.stderr)
    restore_files(n)

    # The console over SSH.
    rc, out, err = n.ssh("backup list", user="archiver")
    t.ok(rc == 1 and out == "" and err == NO_CONSOLE + "\n", "ssh archiver: exec backup list refused, one line",
         (rc, out, err))
    n_before = sorted(os.listdir(n.path("files", "backups")))
    rc, out, err = n.ssh("backup snapshot archsnap", user="archiver")
    t.ok(rc == 1 and NO_CONSOLE in err and sorted(os.listdir(n.path("files", "backups"))) == n_before,
         "ssh archiver: exec backup snapshot refused, no archive made", (rc, out, err))
    rc, out, err = n.ssh(None, user="archiver", input="backup list\nexit\n")
    t.ok(rc == 1 and out == "" and err == NO_CONSOLE + "\n", "ssh archiver: shell without a terminal refused",
         (rc, out, err))
    rc, out, err = n.ssh(None, user="archiver", tty=True, input="backup list\nexit\n")
    t.ok(rc == 1 and NO_CONSOLE in out + err and "nightly.bak" not in out + err,
         "ssh -tt archiver: shell on a terminal refused", (rc, out, err))
    rc, out, err = n.ssh("backup list", user="archiver", key=False)
    t.ok(rc == 1 and err == NO_CONSOLE + "\n", "ssh archiver (password): exec refused too", (rc, out, err))


def check_ftp(t, n, bak, js):
    f = ftplib.FTP()
    f.connect(n.addr, n.ftp_port, timeout=30)
    f.login("archiver", PASSWORDS["archiver"])
    t.eq(f.nlst("/"), ["backups"], "ftplib archiver: NLST / shows only backups")
    lines = []
    f.retrlines("LIST /", lines.append)
    t.ok(len(lines) == 1 and lines[0].endswith(" backups"), "ftplib archiver: LIST / shows only backups", lines)
    names = sorted(x for x, _ in f.mlsd("/backups") if x not in (".", ".."))
    t.ok("nightly.bak" in names and "nightly.json" in names and
         not [x for x in names if x.startswith(".nodebak") or x in ("sneaky.pem", "d.key")],
         "ftplib archiver: MLSD backups/: the archive and .json, no key, nothing internal", names)
    for name, src in (("nightly.bak", bak), ("nightly.json", js)):
        got = bytearray()
        f.retrbinary(f"RETR /backups/{name}", got.extend)
        t.ok(hashlib.sha256(got).hexdigest() == sha(src), f"ftplib archiver: RETR {name} byte-identical")
    t.eq(f.size("/backups/nightly.bak"), os.path.getsize(bak), "ftplib archiver: SIZE of the archive")
    t.ok(f.sendcmd("MDTM backups/nightly.json").startswith("213 "), "ftplib archiver: MDTM of the .json")
    t.ok(f.sendcmd("MLST /backups/nightly.bak").startswith("250"), "ftplib archiver: MLST of the archive")
    t.ok(f.cwd("/backups").startswith("250") and f.pwd() == "/backups", "ftplib archiver: CWD backups")
    f.cwd("/")

    bad = []
    for p in FORBIDDEN + FORBIDDEN_CONTENT:
        for what, fn in [("RETR", lambda p=p: f.retrbinary("RETR " + p, lambda b: None)),
                         ("SIZE", lambda p=p: f.sendcmd("SIZE " + p)),
                         ("MDTM", lambda p=p: f.sendcmd("MDTM " + p)),
                         ("MLST", lambda p=p: f.sendcmd("MLST " + p))]:
            r = ftp_refused(fn)
            if r != "550":
                bad.append((what, p, r))
    t.ok(not bad, f"ftplib archiver: RETR, SIZE, MDTM, MLST of {len(FORBIDDEN + FORBIDDEN_CONTENT)} paths "
         "outside backups/, links and keys all 550", bad)
    bad = []
    for p in FORBIDDEN_DIRS + ["/backups/sub-link"]:
        for what, fn in [("CWD", lambda p=p: f.cwd(p)),
                         ("LIST", lambda p=p: f.retrlines("LIST " + p, lambda line: None)),
                         ("NLST", lambda p=p: f.nlst(p)), ("MLSD", lambda p=p: list(f.mlsd(p)))]:
            f.cwd("/")
            r = ftp_refused(fn)
            if r != "550":
                bad.append((what, p, r))
    f.cwd("/")
    t.ok(not bad, "ftplib archiver: CWD, LIST, NLST, MLSD outside backups/ all 550", bad)
    f.cwd("/backups")
    t.eq(ftp_refused(lambda: f.retrbinary("RETR ../certs/node.crt", lambda b: None)), "550",
         "ftplib archiver: RETR ../certs/node.crt from backups/ is 550")
    f.cwd("/")

    before = tree(n.files)
    changes = [
        ("STOR in backups/", lambda: f.storbinary("STOR /backups/new.bak", io.BytesIO(b"x"))),
        ("STOR over the archive", lambda: f.storbinary("STOR /backups/nightly.bak", io.BytesIO(b"x"))),
        ("APPE to the archive", lambda: f.storbinary("APPE /backups/nightly.bak", io.BytesIO(b"x"))),
        ("STOR at the top", lambda: f.storbinary("STOR /new.txt", io.BytesIO(b"x"))),
        ("DELE the archive", lambda: f.delete("/backups/nightly.bak")),
        ("DELE outside", lambda: f.delete("/notes.txt")),
        ("RNFR/RNTO in backups/", lambda: f.rename("/backups/nightly.bak", "/backups/moved.bak")),
        ("MKD in backups/", lambda: f.mkd("/backups/dir")),
        ("MKD at the top", lambda: f.mkd("/dir")),
        ("RMD an empty folder in backups/", lambda: f.rmd("/backups/old")),
        ("RMD an empty folder outside", lambda: f.rmd("/empty")),
        ("RNFR/RNTO out of backups/", lambda: f.rename("/backups/nightly.json", "/nightly.json")),
    ]
    bad, changed = [], []
    for what, fn in changes:
        if not (r := ftp_refused(fn)).startswith("5"):
            bad.append((what, r))
        if tree(n.files) != before:
            changed.append(what)
        restore_files(n)
    t.ok(not bad, f"ftplib archiver: {len(changes)} changes all refused (5xx)", bad)
    t.ok(not changed, "ftplib archiver: the files root is unchanged after each", changed)
    f.quit()

    url = f"ftp://{n.addr}:{n.ftp_port}"
    user = ["-u", f"archiver:{PASSWORDS['archiver']}"]
    curl = ["curl", "-sS", "--max-time", "20"] + user
    p = subprocess.run(curl + [url + "/backups/"], capture_output=True, text=True)
    t.ok(p.returncode == 0 and "nightly.bak" in p.stdout and "sneaky.pem" not in p.stdout,
         "curl archiver: LIST of backups/", p.stderr)
    dst = os.path.join(n.home, "curl.json")
    p = subprocess.run(curl + ["-o", dst, url + "/backups/nightly.json"], capture_output=True, text=True)
    t.ok(p.returncode == 0 and sha(dst) == sha(js), "curl archiver: the .json byte-identical", p.stderr)
    for path in ["/certs/node.crt", "/node.key", "/%2E%2E/nodebak.conf", "/backups/cert-link.bak", "/certs/"]:
        out = os.path.join(n.home, "curl.out")
        if os.path.exists(out):
            os.unlink(out)
        p = subprocess.run(curl + ["-o", out, url + path], capture_output=True, text=True)
        t.ok(p.returncode != 0 and (not os.path.exists(out) or os.path.getsize(out) == 0),
             f"curl archiver: {path} refused", (p.returncode, p.stderr))
    p = subprocess.run(curl + ["-T", bak, url + "/backups/curl-up.bak"], capture_output=True, text=True)
    t.ok(p.returncode != 0 and not os.path.exists(n.path("files", "backups", "curl-up.bak")),
         "curl -T archiver: upload refused, nothing stored", p.stderr)
    restore_files(n)


def check_others(t, n, bak):
    """readonly and admin as before."""
    c = n.paramiko_client("ro")
    sf = c.open_sftp()
    t.eq(sorted(sf.listdir("/")), ["backups"], "readonly: / shows only backups (as before)")
    with sf.open("/backups/nightly.bak", "rb") as fh:
        t.ok(hashlib.sha256(fh.read()).hexdigest() == sha(bak), "readonly: downloads the archive")
    t.eq(sftp_refused(lambda: sf.stat("/certs/node.crt")), "denied", "readonly: certs/ refused (as before)")
    t.eq(sftp_refused(lambda: sf.mkdir("/backups/ro-dir")), "denied", "readonly: mkdir refused (as before)")
    sf.close()
    c.close()
    rc, out, err = n.ssh("backup list", user="ro")
    t.ok(rc == 0 and "nightly.bak" in out, "readonly: the console still runs backup list", (rc, out, err))

    c = n.paramiko_client("admin")
    sf = c.open_sftp()
    t.ok("certs" in sf.listdir("/") and "node.key" in sf.listdir("/"), "admin: / shows everything (as before)")
    with sf.open("/node.key", "rb") as fh:
        t.eq(fh.read().decode(), KEY_PEM, "admin: reads the key")
    sf.mkdir("/certs/admin-dir")
    t.ok(os.path.isdir(n.path("files", "certs", "admin-dir")), "admin: mkdir works")
    sf.rmdir("/certs/admin-dir")
    sf.close()
    c.close()
    f = ftplib.FTP()
    f.connect(n.addr, n.ftp_port, timeout=30)
    f.login("admin", PASSWORDS["admin"])
    f.storbinary("STOR /certs/admin.txt", io.BytesIO(b"admin upload\n"))
    t.ok(os.path.exists(n.path("files", "certs", "admin.txt")), "admin: FTP STOR works")
    f.delete("/certs/admin.txt")
    f.quit()
    rc, out, err = n.ssh("key show", user="admin")
    t.ok(rc == 0 and "Key id" in out, "admin: the console runs", (rc, out, err))
    rc, out, err = n.nb("user", "list")
    t.ok(rc == 0 and any(line.split()[:2] == ["archiver", "archiver"] for line in out.splitlines()),
         "nodebak user list shows the archiver role", out)


def main(t):
    require_ftpd(t)
    n = SshNode("arch1", extra_conf="tls = off\n")
    try:
        n.seal()    # the archiver role reads sealed archives only
        n.start_all()
        rc, out, err = n.nb("backup", "snapshot", "nightly")
        t.ok(rc == 0, "a real snapshot to pull", out + err)
        bak = n.path("files", "backups", "nightly.bak")
        js = n.path("files", "backups", "nightly.json")
        t.ok(os.path.exists(bak) and os.path.exists(js), "nightly.bak and nightly.json exist")
        setup(n)
        save_files(n)
        check_sftp_paramiko(t, n, bak, js)
        check_openssh(t, n, bak, js)
        check_ftp(t, n, bak, js)
        check_others(t, n, bak)
    finally:
        n.cleanup()


run(main)
