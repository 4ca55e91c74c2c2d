#!/usr/bin/env python3
"""scp-legacy.t: the legacy SCP protocol (an exec of `scp -t|-f`, ftpd/scp.c)
against a real nodebak-ftpd, through real clients: OpenSSH's `scp -O` and
PuTTY's `pscp -scp`. Files and a folder go up and down with -r and -p
byte-identical with their mtimes (and a new upload gets the umask's mode);
readonly's upload and its download of a private key (by name and by
content) are refused, archiver outside backups/ too, and both still
download from backups/. Hostile input from a raw paramiko exec channel (a
C line naming "../x", a huge size, a line without its newline, garbage, a
D line "..", shell syntax in the command) gets one \\x01/\\x02 line each
and leaves no file outside the root; every transfer is in the xferlog."""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sftp_util import need_paramiko  # noqa: E402
need_paramiko()
from sftp_util import SshNode, PASSWORDS, require_ftpd, wait_until  # noqa: E402
from pull_util import children  # noqa: E402
from tap import run  # noqa: E402

KEY_PEM = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n" \
          "-----END PRIVATE KEY-----\n"
OLD = 1_500_000_000  # an mtime no copy would have by accident


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def tree(top):
    """{relative path: (kind, sha256, int mtime)} of top."""
    out = {}
    for d, dirs, files in os.walk(top):
        for x in dirs:
            p = os.path.join(d, x)
            out[os.path.relpath(p, top)] = ("d", "", int(os.stat(p).st_mtime))
        for x in files:
            p = os.path.join(d, x)
            out[os.path.relpath(p, top)] = ("f", sha(p), int(os.stat(p).st_mtime))
    return out


def make_tree(top):
    os.makedirs(os.path.join(top, "sub", "deeper"))
    for rel, size in (("a.bin", 70000), ("sub/b.txt", 12), ("sub/deeper/c.bin", 300000),
                      ("sub/empty", 0)):
        with open(os.path.join(top, rel), "wb") as f:
            f.write(os.urandom(size))
    for d, dirs, files in os.walk(top, topdown=False):
        for x in files + dirs:
            os.utime(os.path.join(d, x), (OLD, OLD + 7))
    os.utime(top, (OLD, OLD + 7))


def outside_clean(n):
    """Nothing written beside or above the files root, no upload left."""
    bad = [x for x in os.listdir(n.root) if x in ("x", "big", "y", "escaped")]
    for d, dirs, files in os.walk(n.files):
        bad += [os.path.join(d, x) for x in files if x.startswith(".nodebak-upload")]
    return bad


def raw(n, command, send, user="admin", wait=10):
    """Exec command on a paramiko channel, send the bytes, half-close, and
    return (everything the server sent, exit status)."""
    c = n.paramiko_client(user)
    try:
        ch = c.get_transport().open_session()
        ch.settimeout(wait)
        ch.exec_command(command)
        for chunk in send:
            if isinstance(chunk, float):
                time.sleep(chunk)
            else:
                ch.sendall(chunk)
        ch.shutdown_write()
        got = b""
        end = time.time() + wait
        while time.time() < end:
            try:
                b = ch.recv(65536)
            except Exception:
                break
            if not b:
                break
            got += b
        status = ch.recv_exit_status()
        return got, status
    finally:
        c.close()


def host_fingerprint(n):
    p = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", n.path("state", "ssh_host_ed25519_key")],
                       capture_output=True, text=True, check=True)
    return p.stdout.split()[1]


def main(t):
    require_ftpd(t)
    n = SshNode("scp1", extra_conf="xferlog = state/xferlog\n")
    n.start_all()
    try:
        local = os.path.join(n.home, "local")
        os.makedirs(local)
        bak = n.path("files", "backups", "nightly.bak")
        with open(bak, "wb") as f:
            f.write(os.urandom(3 * 1024 * 1024 + 17))
        os.utime(bak, (OLD, OLD + 3))
        with open(n.path("files", "backups", "d.key"), "w") as f:
            f.write(KEY_PEM)
        with open(n.path("files", "backups", "sneaky.pem"), "w") as f:
            f.write(KEY_PEM)
        with open(n.path("files", "notes.txt"), "w") as f:
            f.write("not for the archiver\n")
        up = os.path.join(n.home, "up.bin")
        with open(up, "wb") as f:
            f.write(os.urandom(5 * 1024 * 1024 + 3))
        os.chmod(up, 0o644)
        os.utime(up, (OLD, OLD + 5))
        src_tree = os.path.join(n.home, "tree")
        make_tree(src_tree)

        def scp(user, *args):
            argv = ["scp", "-O"] + n.ssh_opts(user) + ["-P", str(n.sftp_port)] + list(args)
            return subprocess.run(argv, capture_output=True, text=True, env=n.ssh_env(user),
                                  timeout=120, stdin=subprocess.DEVNULL)

        at = f"@{n.addr}:"
        # OpenSSH scp -O, admin: a file up and down with -p.
        p = scp("admin", "-p", up, "admin" + at + "up.bin")
        got = n.path("files", "up.bin")
        t.ok(p.returncode == 0 and os.path.exists(got) and sha(got) == sha(up) and
             int(os.stat(got).st_mtime) == OLD + 5, "scp -O -p upload: identical, mtime kept", p.stderr)
        t.eq(oct(os.stat(got).st_mode & 0o777) if os.path.exists(got) else None, oct(0o640),
             "scp -O upload: the umask's mode (0644 less 027)")
        p = scp("admin", "-p", "admin" + at + "backups/nightly.bak", f"{local}/nightly.bak")
        t.ok(p.returncode == 0 and sha(f"{local}/nightly.bak") == sha(bak) and
             int(os.stat(f"{local}/nightly.bak").st_mtime) == OLD + 3,
             "scp -O -p download: identical, mtime kept", p.stderr)
        # A folder, -r -p, both ways.
        p = scp("admin", "-r", "-p", src_tree, "admin" + at + "/")
        t.ok(p.returncode == 0 and tree(n.path("files", "tree")) == tree(src_tree),
             "scp -O -r -p upload of a folder: same files, bytes and mtimes", p.stderr)
        p = scp("admin", "-r", "-p", "admin" + at + "/tree", f"{local}/")
        t.ok(p.returncode == 0 and tree(f"{local}/tree") == tree(src_tree),
             "scp -O -r -p download of a folder: same files, bytes and mtimes", p.stderr)
        # Two files into a folder (-d), and a folder without -r refused.
        p = scp("admin", up, f"{src_tree}/a.bin", "admin" + at + "/tree/sub")
        t.ok(p.returncode == 0 and sha(n.path("files", "tree", "sub", "up.bin")) == sha(up) and
             sha(n.path("files", "tree", "sub", "a.bin")) == sha(f"{src_tree}/a.bin"),
             "scp -O of two files into a folder (-d)", p.stderr)
        p = scp("admin", "admin" + at + "/tree", f"{local}/norec")
        t.ok(p.returncode != 0 and "not a regular file" in p.stderr and not os.path.exists(f"{local}/norec"),
             "scp -O of a folder without -r: refused", p.stderr)

        # A name with a space, quoted for the remote shell as scp -O wants.
        p = scp("admin", up, "admin" + at + "'with space.bin'")
        # (a download's name is matched against the request: a backslash)
        p2 = scp("admin", "admin" + at + "with\\ space.bin", f"{local}/space.bin")
        t.ok(p.returncode == 0 and p2.returncode == 0 and sha(n.path("files", "with space.bin")) == sha(up) and
             sha(f"{local}/space.bin") == sha(up), "scp -O: a quoted name with a space, both ways",
             p.stderr + p2.stderr)

        # A wildcard, as the shell behind OpenSSH's scp would expand it:
        # readonly gets the archive, never the keys beside it.
        os.makedirs(f"{local}/glob")
        p = scp("ro", "ro" + at + "backups/*", f"{local}/glob/")
        t.ok(sorted(os.listdir(f"{local}/glob")) == ["nightly.bak"] and sha(f"{local}/glob/nightly.bak") == sha(bak),
             "scp -O readonly of backups/*: the archive, not the keys", p.stderr)
        p = scp("admin", "admin" + at + "/tree/sub/*.txt", f"{local}/glob/")
        t.ok(p.returncode == 0 and sorted(os.listdir(f"{local}/glob")) == ["b.txt", "nightly.bak"],
             "scp -O of /tree/sub/*.txt: the one match", p.stderr)
        p = scp("admin", "admin" + at + "/tree/*.none", f"{local}/glob/")
        t.ok(p.returncode != 0 and "No such file" in p.stderr, "scp -O of a wildcard matching nothing: refused",
             p.stderr)

        # readonly: downloads from backups/, no upload, no private key.
        p = scp("ro", "ro" + at + "backups/nightly.bak", f"{local}/ro.bak")
        t.ok(p.returncode == 0 and sha(f"{local}/ro.bak") == sha(bak), "scp -O readonly: download from backups/",
             p.stderr)
        p = scp("ro", up, "ro" + at + "backups/ro-up.bin")
        t.ok(p.returncode != 0 and "Permission denied" in p.stderr and
             not os.path.exists(n.path("files", "backups", "ro-up.bin")),
             "scp -O readonly: upload refused", p.stderr)
        p = scp("ro", "-r", src_tree, "ro" + at + "backups/")
        t.ok(p.returncode != 0 and not os.path.exists(n.path("files", "backups", "tree")),
             "scp -O -r readonly: folder upload refused", p.stderr)
        for name in ("d.key", "sneaky.pem"):
            p = scp("ro", "ro" + at + f"backups/{name}", f"{local}/{name}")
            t.ok(p.returncode != 0 and "Permission denied" in p.stderr and not os.path.exists(f"{local}/{name}"),
                 f"scp -O readonly: private key {name} refused", p.stderr)
        p = scp("ro", "-r", "ro" + at + "backups", f"{local}/robk")
        t.ok(sorted(os.listdir(f"{local}/robk")) == ["nightly.bak"] if os.path.isdir(f"{local}/robk") else False,
             "scp -O -r readonly of backups/: the archive, never the keys", p.stderr)

        # archiver: backups/ only.
        p = scp("archiver", "archiver" + at + "backups/nightly.bak", f"{local}/arch.bak")
        t.ok(p.returncode == 0 and sha(f"{local}/arch.bak") == sha(bak), "scp -O archiver: download from backups/",
             p.stderr)
        for path in ("/notes.txt", "notes.txt", "/backups/../notes.txt", "../nodebak.conf"):
            p = scp("archiver", "archiver" + at + path, f"{local}/arch-out")
            t.ok(p.returncode != 0 and not os.path.exists(f"{local}/arch-out"),
                 f"scp -O archiver: {path} refused", p.stderr)
        p = scp("archiver", up, "archiver" + at + "backups/arch-up.bin")
        t.ok(p.returncode != 0 and not os.path.exists(n.path("files", "backups", "arch-up.bin")),
             "scp -O archiver: upload refused", p.stderr)

        # PuTTY pscp -scp: a converted key and the host key's fingerprint.
        if shutil.which("pscp") and shutil.which("puttygen"):
            ppk = os.path.join(n.home, "admin.ppk")
            subprocess.run(["puttygen", n.keys["admin"], "-O", "private", "-o", ppk], check=True,
                           capture_output=True)
            fp = host_fingerprint(n)
            pscp = ["pscp", "-scp", "-batch", "-P", str(n.sftp_port), "-hostkey", fp]
            env = dict(os.environ, HOME=n.home)
            p = subprocess.run(pscp + ["-i", ppk, "-p", up, f"admin@{n.addr}:pscp-up.bin"],
                               capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
            got = n.path("files", "pscp-up.bin")
            t.ok(p.returncode == 0 and os.path.exists(got) and sha(got) == sha(up) and
                 int(os.stat(got).st_mtime) == OLD + 5, "pscp -scp -p upload (key): identical, mtime kept",
                 p.stdout + p.stderr)
            p = subprocess.run(pscp + ["-pw", PASSWORDS["ro"], f"ro@{n.addr}:backups/nightly.bak",
                                       f"{local}/pscp.bak"],
                               capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
            t.ok(p.returncode == 0 and sha(f"{local}/pscp.bak") == sha(bak),
                 "pscp -scp download (readonly, password): identical", p.stdout + p.stderr)
            p = subprocess.run(pscp + ["-i", ppk, "-r", f"admin@{n.addr}:/tree", f"{local}/pscp-tree"],
                               capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
            t.ok(p.returncode == 0 and {k: v[1] for k, v in tree(f"{local}/pscp-tree").items()} ==
                 {k: v[1] for k, v in tree(n.path("files", "tree")).items()},
                 "pscp -scp -r download of a folder: identical", p.stdout + p.stderr)
        else:
            for _ in range(3):
                t.ok(False, "pscp and puttygen installed (Debian putty-tools, scripts/deps.sh)")

        # Hostile input on a raw exec channel.
        def one_error(got, fatal):
            """Acks, then exactly one error line (\x02 when fatal)."""
            m = re.fullmatch(rb"\0*([\x01\x02])scp: [^\n]+\n", got)
            return m is not None and m.group(1) == (b"\x02" if fatal else b"\x01")

        cases = [
            ("scp -t /", [b"C0644 5 ../x\n", b"hello"], True, "C line naming ../x"),
            ("scp -t /", [b"C0644 5 ..\n"], True, "C line naming .."),
            ("scp -t /", [b"C0644 5 a/b\n"], True, "C line with a /"),
            ("scp -r -t /", [b"D0755 0 ..\n", b"C0644 5 escaped\n", b"hello\0", b"E\n"], True, "D line .."),
            ("scp -t /", [b"C0644 99999999999999999 big\n"], False, "a size beyond the free space"),
            ("scp -t /", [b"C0644 999999999999999999999999999 big\n"], True, "a size beyond 64 bits"),
            ("scp -t /", [b"C0644 5 y"], True, "a line without its newline"),
            ("scp -t /", [b"\xff\xfegarbage\n"], True, "garbage"),
            ("scp -t /", [b"C" + b"0" * 10000 + b"\n"], True, "a line past the limit"),
            ("scp -t /", [b"Cabc 5 y\n"], True, "a mode that is not octal"),
            ("scp -t /", [b"T1 2 3\n"], True, "a short T line"),
            ("scp -t /", [b"E\n"], True, "E at the top"),
            ("scp -t /", [b"C\n"], True, "an empty C line"),
            ("scp -t /", [b"T\n"], True, "an empty T line"),
            ("scp -t /", [b"C0644 5 a\0b\n"], True, "a NUL in a name"),
            ("scp -t /", [b"C0644 -5 neg\n"], True, "a negative size"),
            ("scp -t /", [b"C0644 5 " + b"n" * 256 + b"\n"], True, "a name of 256 bytes"),
            ("scp -t /", [b"C0644 5 .nodebak-x\n"], False, "an internal name"),
            ("scp -t /", [b"D0755 0 dir\n"], True, "a D line without -r"),
            ("scp -t / ; touch /tmp/x", [], True, "shell syntax in the command"),
            ("scp -x -t /", [], True, "an unknown option"),
            ("scp -t", [], True, "-t without a target"),
            ("scp -f ../nodebak.conf", [b"\0"], False, "-f of a file above the root"),
        ]
        for command, send, fatal, what in cases:
            got, status = raw(n, command, send)
            t.ok(one_error(got, fatal) and status == 1, f"hostile: {what}: an error line, exit status 1",
                 (got[:200], status))
        got, status = raw(n, "scp -t ../../", [b"C0644 5 escaped\n", b"hello\0"])
        ok_esc = os.path.exists(n.path("files", "escaped"))
        if ok_esc:
            os.unlink(n.path("files", "escaped"))
        t.ok(ok_esc and status == 0, "hostile: a target of ../../ means the files root", (got, status))
        t.eq(outside_clean(n), [], "hostile: nothing outside the root, no upload left behind")
        for x in ("y", "big", "x"):
            t.ok(not os.path.exists(n.path("files", x)), f"hostile: no file {x} written")
        # A client that says the transfer failed: nothing is committed.
        got, status = raw(n, "scp -t /", [b"C0644 5 failed\n", b"hello", b"\x01local read error\n"])
        t.ok(not os.path.exists(n.path("files", "failed")) and status == 1,
             "a file the client reports failed is not committed", (got, status))
        # The server still answers well-formed input after a refusal.
        got, status = raw(n, "scp -t /", [b"C0644 5 x/y\n"])
        got2, status2 = raw(n, "scp -t /", [b"T1500000000 0 1500000000 0\n", b"C0600 5 fine\n", b"hello\0"])
        t.ok(got2 == b"\0\0\0\0" and status2 == 0 and open(n.path("files", "fine"), "rb").read() == b"hello" and
             int(os.stat(n.path("files", "fine")).st_mtime) == OLD and
             (os.stat(n.path("files", "fine")).st_mode & 0o777) == 0o600,
             "raw: T and C lines answered, file written with its mode and mtime", (got2, status2))

        # A client that floods data during a download, then goes: the
        # session does not outlive it.
        with open(n.path("files", "flood.bin"), "wb") as f:
            f.write(os.urandom(32 * 1024 * 1024))
        listener = n.procs["ftpd"].pid
        c = n.paramiko_client("admin")
        ch = c.get_transport().open_session()
        ch.exec_command("scp -f /flood.bin")
        ch.sendall(b"\0")
        ch.settimeout(0.5)
        end = time.time() + 5
        while time.time() < end:
            try:
                ch.send(b"x" * 32768)
            except Exception:
                time.sleep(0.1)
        c.close()
        t.ok(wait_until(lambda: not children(listener), timeout=20),
             "a client flooding a download: its session ends when it goes", children(listener))

        xl = open(n.path("state", "xferlog")).read() if os.path.exists(n.path("state", "xferlog")) else ""
        t.ok(re.search(r"/up\.bin b _ i r admin scp ", xl) is not None and
             re.search(r"/backups/nightly\.bak b _ o r ro scp ", xl) is not None,
             "xferlog: scp uploads and downloads", xl[-600:])
    finally:
        n.cleanup()


run(main)
