#!/usr/bin/env python3
"""install.t: `make install DESTDIR=scratch PREFIX=/usr` puts the four
programs, every man page, the docs, the units, the sysusers.d and
tmpfiles.d entries and /etc/nodebak/nodebak.conf in place; a second
install keeps an edited nodebak.conf; `make uninstall` removes all of it
but that file. Each program answers --help and --version on standard
output with status 0 and an unknown option on standard error with its
usage status. systemd-analyze verify accepts the daemons' units without a
warning (and rejects a broken copy), their exposure stays where
docs/install.md records it, systemd-sysusers and systemd-tmpfiles accept
the entries. Then `make deb` builds the package (lintian: no error) and
dpkg-deb shows its files, conffiles and maintainer scripts (docs/install.md)."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import TOP  # noqa: E402
from tap import run  # noqa: E402

PROGRAMS = {"nodebak": 2, "nodebak-snapshotd": 2, "nodebak-ftpd": 2,
            "nodebak-pull": 3}	# program: its usage-error status
DAEMON_UNITS = {"nodebak-snapshotd.service": 3.0,
                "nodebak-ftpd.service": 2.5}	# unit: highest exposure
ALL_UNITS = list(DAEMON_UNITS) + ["nodebak-pull.service",
                                  "nodebak-pull-sync.service",
                                  "nodebak-pull.timer"]
CAPS = {"nodebak-snapshotd.service": {
            "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETUID",
            "CAP_SETGID", "CAP_KILL", "CAP_SYS_PTRACE"},
        "nodebak-ftpd.service": {
            "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID",
            "CAP_SETPCAP", "CAP_KILL", "CAP_SYS_CHROOT"}}
HARDENING = ["NoNewPrivileges=yes", "ProtectSystem=strict",
             "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
             "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
             "SystemCallFilter=@system-service", "LockPersonality=yes",
             "MemoryDenyWriteExecute=yes", "RestrictSUIDSGID=yes",
             "AmbientCapabilities="]


def sh(argv, **kw):
    kw.setdefault("timeout", 300)
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def make(*args):
    return sh(["make", "-s", "--no-print-directory", "-C", TOP] + list(args))


def version():
    m = re.search(r"^VERSION\s*:=\s*(\S+)", open(os.path.join(TOP, "Makefile")).read(),
                  re.M)
    return m.group(1)


def installed_files(root):
    out = set()
    for d, _, files in os.walk(root):
        for f in files:
            out.add(os.path.relpath(os.path.join(d, f), root))
    return out


def check_tree(t, dest):
    files = installed_files(dest)
    for p in PROGRAMS:
        path = os.path.join(dest, "usr/bin", p)
        t.ok(os.path.isfile(path) and os.stat(path).st_mode & 0o777 == 0o755,
             f"/usr/bin/{p} installed, mode 0755")
    want = set()
    for m in glob.glob(os.path.join(TOP, "docs/man/*.[158]")):
        want.add(f"usr/share/man/man{m[-1]}/{os.path.basename(m)}")
    for d in ["README.md"] + [os.path.relpath(p, TOP) for p in
                              glob.glob(os.path.join(TOP, "docs/*.md"))]:
        want.add("usr/share/doc/nodebak/" + os.path.basename(d))
    want |= {"usr/share/doc/nodebak/examples/nodebak.conf",
             "usr/share/doc/nodebak/examples/pull.conf",
             "usr/lib/sysusers.d/nodebak.conf",
             "usr/lib/sysusers.d/nodebak-pull.conf",
             "usr/lib/tmpfiles.d/nodebak.conf",
             "etc/nodebak/nodebak.conf"}
    want |= {"usr/lib/systemd/system/" + u for u in ALL_UNITS}
    t.ok(len(want) > 20 and want <= files,
         f"every man page, doc, unit and entry installed ({len(want)} files)",
         "missing: " + " ".join(sorted(want - files)))
    conf = os.path.join(dest, "etc/nodebak/nodebak.conf")
    t.ok(os.path.isfile(conf) and open(conf).read() ==
         open(os.path.join(TOP, "conf/nodebak.conf")).read() and
         os.stat(conf).st_mode & 0o777 == 0o644,
         "/etc/nodebak/nodebak.conf is the example, mode 0644 (the console "
         "of a socket_group member reads it)")
    for u in DAEMON_UNITS:
        text = open(os.path.join(dest, "usr/lib/systemd/system", u)).read()
        prog = u.split(".")[0]
        t.ok(re.search(rf"^ExecStart=/usr/bin/{prog} -c /etc/nodebak/nodebak.conf$",
                       text, re.M) is not None,
             f"{u}: ExecStart is the installed {prog} with /etc/nodebak/nodebak.conf")
        lines = set(text.splitlines())
        missing = [h for h in HARDENING if h not in lines]
        t.ok(not missing, f"{u}: hardened", "missing: " + " ".join(missing))
        m = re.search(r"^CapabilityBoundingSet=(.*)$", text, re.M)
        caps = set(m.group(1).split()) if m else set()
        t.eq(caps, CAPS[u], f"{u}: CapabilityBoundingSet is what it needs")


def check_options(t, bindir):
    ver = version()
    for p, usage_status in PROGRAMS.items():
        prog = os.path.join(bindir, p)
        r = sh([prog, "--help"], timeout=10)
        t.ok(r.returncode == 0 and r.stdout.startswith(f"usage: {p} ") and
             r.stderr == "", f"{p} --help: usage on stdout, status 0",
             f"status {r.returncode}\n{r.stdout}{r.stderr}")
        r = sh([prog, "--version"], timeout=10)
        t.ok(r.returncode == 0 and r.stdout == f"{p} {ver}\n" and r.stderr == "",
             f"{p} --version: '{p} {ver}'", f"{r.returncode} {r.stdout!r} {r.stderr!r}")
        r = sh([prog, "--no-such-option"], timeout=10)
        t.ok(r.returncode == usage_status and r.stdout == "" and
             "no-such-option" in r.stderr and "usage:" in r.stderr,
             f"{p} --no-such-option: named on stderr, status {usage_status}",
             f"{r.returncode} {r.stdout!r} {r.stderr!r}")


def check_units(t, dest, scratch):
    if shutil.which("systemd-analyze") is None:
        t.ok(True, "systemd units # SKIP systemd-analyze not installed")
        return
    # verify wants ExecStart= to exist: copies that name the scratch tree.
    copies = []
    for u in DAEMON_UNITS:
        text = open(os.path.join(dest, "usr/lib/systemd/system", u)).read()
        path = os.path.join(scratch, u)
        with open(path, "w") as f:
            f.write(text.replace("=/usr/bin/", f"={dest}/usr/bin/"))
        copies.append(path)
    r = sh(["systemd-analyze", "verify", "--man=no"] + copies, cwd="/")
    t.ok(r.returncode == 0 and (r.stdout + r.stderr).strip() == "",
         "systemd-analyze verify: both daemons' units, not one warning",
         r.stdout + r.stderr)
    bad = os.path.join(scratch, "nodebak-bogus.service")
    with open(copies[1]) as f, open(bad, "w") as g:
        g.write(f.read().replace("ProtectSystem=strict", "ProtectSystem=strictest"))
    r = sh(["systemd-analyze", "verify", "--man=no", bad], cwd="/")
    t.ok(re.search(r"protect ?system.*strictest", r.stdout + r.stderr, re.I),
         "a broken copy is reported (the check can fail)", r.stdout + r.stderr)
    for path in copies:
        u = os.path.basename(path)
        r = sh(["systemd-analyze", "security", "--offline=yes", path], cwd="/")
        m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
        t.ok(m is not None and float(m.group(1)) <= DAEMON_UNITS[u],
             f"{u}: exposure {m.group(1) if m else '?'} <= {DAEMON_UNITS[u]}",
             r.stdout[-600:] + r.stderr)
    root = os.path.join(scratch, "sysroot")
    os.makedirs(root)
    r = sh(["systemd-sysusers", "--dry-run", f"--root={root}",
            os.path.join(dest, "usr/lib/sysusers.d/nodebak.conf")])
    out = r.stdout + r.stderr
    t.ok(r.returncode == 0 and "Creating user 'nodebak-sshd'" in out and
         "Creating group 'nodebak'" in out,
         "systemd-sysusers: user nodebak-sshd, group nodebak", out)
    r = sh(["systemd-tmpfiles", "--create", f"--root={root}",
            os.path.join(dest, "usr/lib/tmpfiles.d/nodebak.conf")])
    st = os.stat(os.path.join(root, "srv/nodebak")) if r.returncode == 0 else None
    t.ok(st is not None and st.st_mode & 0o7777 == 0o755,
         "systemd-tmpfiles makes /srv/nodebak 0755", r.stdout + r.stderr)


def check_reinstall_uninstall(t, dest):
    conf = os.path.join(dest, "etc/nodebak/nodebak.conf")
    with open(conf, "a") as f:
        f.write("# edited by the operator\n")
    edited = open(conf).read()
    r = make("install", f"DESTDIR={dest}", "PREFIX=/usr")
    t.ok(r.returncode == 0 and open(conf).read() == edited and
         "keeping" in r.stdout, "a second install keeps the edited nodebak.conf",
         r.stdout + r.stderr)
    r = make("uninstall", f"DESTDIR={dest}", "PREFIX=/usr")
    left = installed_files(dest)
    t.ok(r.returncode == 0 and left == {"etc/nodebak/nodebak.conf"} and
         open(conf).read() == edited,
         "make uninstall removes everything but the edited nodebak.conf",
         r.stdout + r.stderr + "left: " + " ".join(sorted(left)))


def check_deb(t):
    need = [p for p in ("dpkg-buildpackage", "dh", "lintian", "dpkg-deb")
            if shutil.which(p) is None]
    if need:
        t.ok(True, "make deb # SKIP not installed: " + " ".join(need))
        return
    r = make("deb")
    debs = glob.glob(os.path.join(TOP, "build/deb/nodebak_*.deb"))
    t.ok(r.returncode == 0 and len(debs) == 1,
         "make deb: the package builds and lintian finds no error",
         (r.stdout + r.stderr)[-3000:])
    if len(debs) != 1:
        return
    deb = debs[0]
    listing = sh(["dpkg-deb", "-c", deb]).stdout
    names = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
    want = {f"/usr/bin/{p}" for p in PROGRAMS} | {
        "/lib/systemd/system/" + u for u in ALL_UNITS} | {
        "/usr/lib/sysusers.d/nodebak.conf", "/usr/lib/sysusers.d/nodebak-pull.conf",
        "/usr/lib/tmpfiles.d/nodebak.conf", "/etc/nodebak/nodebak.conf",
        "/usr/share/doc/nodebak/copyright"} | {
        f"/usr/share/man/man{m[-1]}/{os.path.basename(m)}.gz"
        for m in glob.glob(os.path.join(TOP, "docs/man/*.[158]"))}
    t.ok(want <= names, "dpkg-deb -c: programs, units, entries, man pages, "
         "nodebak.conf", "missing: " + " ".join(sorted(want - names)))
    t.ok(all(" root/root " in line for line in listing.splitlines()),
         "dpkg-deb -c: every file belongs to root")
    info = sh(["dpkg-deb", "-I", deb]).stdout
    t.ok(all(f"{d}" in info for d in ("Package: nodebak", "libssl3", "libssh-4",
                                      "libarchive13", "libpq5", "adduser")),
         "dpkg-deb -I: the real dependencies", info)
    ctrl = tempfile.mkdtemp(prefix="nodebak-debctrl-")
    try:
        sh(["dpkg-deb", "-e", deb, ctrl])
        conffiles = open(os.path.join(ctrl, "conffiles")).read().split()
        t.eq(conffiles, ["/etc/nodebak/nodebak.conf"],
             "conffiles: /etc/nodebak/nodebak.conf")
        post = open(os.path.join(ctrl, "postinst")).read()
        t.ok("systemd-sysusers nodebak.conf" in post and "adduser" in post and
             "deb-systemd-invoke" not in post and
             post.count("deb-systemd-helper enable") ==
             post.count("was-enabled"),
             "postinst: makes the users, starts nothing, enables only what "
             "was enabled before", post)
    finally:
        shutil.rmtree(ctrl, ignore_errors=True)


def main(t):
    scratch = tempfile.mkdtemp(prefix="nodebak-install-")
    dest = os.path.join(scratch, "dest")
    try:
        r = make("all")
        t.ok(r.returncode == 0, "make all", r.stderr)
        r = make("install", f"DESTDIR={dest}", "PREFIX=/usr")
        t.ok(r.returncode == 0, "make install DESTDIR=scratch PREFIX=/usr",
             r.stdout + r.stderr)
        check_tree(t, dest)
        check_options(t, os.path.join(dest, "usr/bin"))
        check_units(t, dest, scratch)
        check_reinstall_uninstall(t, dest)
        check_deb(t)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


run(main)
