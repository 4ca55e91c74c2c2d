#!/usr/bin/env python3
"""service-caps.t: the daemons work with no more than their units give
them. Each runs under setpriv(1) with its unit's CapabilityBoundingSet=
and no_new_privs (conf/systemd/*.service, read here, so the test follows
the units): nodebak-snapshotd takes and verifies a snapshot whose archive
goes to archive_group (CAP_CHOWN) and rolls back a files root that
belongs to nobody (CAP_DAC_OVERRIDE, CAP_FOWNER), and refuses a rollback
while a process of nobody's has the database open (CAP_SYS_PTRACE, to
read its /proc/PID/fd); nodebak-ftpd serves a files root that belongs to
nobody, mode 0700 (sessions become nobody: CAP_SETUID), and one of root's
(sessions keep uid 0 and drop every capability: CAP_SETPCAP): FTP login,
download, upload, and SFTP. Without the capability named, each case
fails, so the check can fail. (The rest of the units' sandbox, namespaces and the syscall filter,
needs systemd as PID 1: tests/install.t verifies the units instead.)"""
import ftplib
import io
import os
import pwd
import grp
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sftp_util import need_paramiko  # noqa: E402

need_paramiko()
import paramiko  # noqa: E402

from node import Node, BIN, TOP  # noqa: E402
from tap import run  # noqa: E402


def unit_caps(unit):
    text = open(os.path.join(TOP, "conf/systemd", unit)).read()
    m = re.search(r"^CapabilityBoundingSet=(.*)$", text, re.M)
    assert re.search(r"^NoNewPrivileges=yes$", text, re.M), unit
    return [c[len("CAP_"):].lower() for c in m.group(1).split()]


def setpriv(caps, drop=()):
    keep = [c for c in caps if c not in drop]
    return ["setpriv", "--no-new-privs", "--inh-caps=-all",
            "--bounding-set=-all" + "".join(",+" + c for c in keep), "--"]


def snapshotd_case(t, drop):
    what = f"without CAP_{drop[0].upper()}" if drop else "with its unit's capabilities"
    nobody = pwd.getpwnam("nobody")
    n = Node("caps-snap")
    try:
        with open(n.conf) as f:
            conf = f.read()
        with open(n.conf, "w") as f:
            f.write(conf.replace("[snapshotd]\n", "[snapshotd]\narchive_group = nogroup\n", 1))
        # A files root of another user, as after uploads by its sessions:
        # a rollback replaces files in a folder root does not own.
        os.makedirs(n.files, exist_ok=True)
        ca = os.path.join(n.files, "CA.cer")
        with open(ca, "w") as f:
            f.write("the old CA\n")
        os.makedirs(os.path.join(n.files, "renewal"))
        for p in (n.files, ca, os.path.join(n.files, "renewal")):
            os.chown(p, nobody.pw_uid, nobody.pw_gid)
        try:
            n.start("snapshotd", setpriv(unit_caps("nodebak-snapshotd.service"), drop) +
                    [os.path.join(BIN, "nodebak-snapshotd"), "-f", "-c", n.conf],
                    wait_for=n.sock)
        except RuntimeError as e:
            t.ok(bool(drop), f"nodebak-snapshotd {what}: does not start", str(e))
            return
        rc, out, err = n.nb("backup", "snapshot", "caps1")
        bak = os.path.join(n.files, "backups", "caps1.bak")
        ok = rc == 0 and os.path.exists(bak) and \
            os.stat(bak).st_gid == grp.getgrnam("nogroup").gr_gid
        if ok:
            rc, out2, err2 = n.nb("backup", "verify", "caps1.bak")
            ok, out, err = rc == 0, out + out2, err + err2
        if ok:
            with open(ca, "w") as f:
                f.write("a broken renewal\n")
            # A folder of nobody's is chmod-ed back to its snapshot's mode.
            os.chmod(os.path.join(n.files, "renewal"), 0o700)
            rc, out2, err2 = n.nb("backup", "rollback", "caps1.bak", input="Y\n")
            ok, out, err = rc == 0 and open(ca).read() == "the old CA\n", \
                out + out2, err + err2
        if drop:
            t.ok(not ok, f"nodebak-snapshotd {what}: snapshot, verify and "
                 "rollback do not all succeed", out + err)
        else:
            t.ok(ok, f"nodebak-snapshotd {what}: snapshot (archive in group "
                 "nogroup), verify, rollback of a files root of nobody",
                 out + err + n.log())
    finally:
        n.stop()
        n.cleanup()


def livewriter_case(t, drop):
    """A process of another user has the database open: the rollback is
    refused only if snapshotd can read that process's /proc/PID/fd."""
    what = f"without CAP_{drop[0].upper()}" if drop else "with its unit's capabilities"
    n = Node("caps-live")
    writer = None
    try:
        n.start("snapshotd", setpriv(unit_caps("nodebak-snapshotd.service"), drop) +
                [os.path.join(BIN, "nodebak-snapshotd"), "-f", "-c", n.conf],
                wait_for=n.sock)
        rc, out, err = n.nb("backup", "snapshot", "live1")
        os.chmod(n.root, 0o711)
        os.chmod(os.path.dirname(n.db), 0o755)
        os.chmod(n.db, 0o666)
        writer = subprocess.Popen(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
             sys.executable, "-c", "import sys, time; f = open(sys.argv[1], 'r+b'); "
             "print('open', flush=True); time.sleep(120)", n.db],
            stdout=subprocess.PIPE, text=True)
        line = writer.stdout.readline()
        rc, out2, err2 = n.nb("backup", "rollback", "live1.bak", input="Y\n")
        refused = rc != 0 and "open in another process" in out2 + err2
        if drop:
            t.ok(line == "open\n" and not refused, f"nodebak-snapshotd {what}: "
                 "cannot see nobody's process holding the database (the "
                 "check can fail)", out2 + err2)
        else:
            t.ok(line == "open\n" and refused, f"nodebak-snapshotd {what}: a "
                 "rollback is refused while nobody's process has the "
                 "database open", out + err + out2 + err2)
    finally:
        if writer:
            writer.kill()
            writer.wait()
        n.stop()
        n.cleanup()


def ftpd_case(t, drop, owner):
    what = f"without CAP_{drop[0].upper()}" if drop else "with its unit's capabilities"
    what += f", files root of {owner}"
    nobody = pwd.getpwnam(owner)
    # SSH's network process may not be the files root's owner (nobody
    # here): the system's `daemon` user stands in for nodebak-sshd.
    n = Node("caps-ftp", extra_conf="tls = off\nlogin_timeout = 10\nprivsep_user = daemon\n")
    try:
        rc, out, err = n.nb("user", "add", "admin", "admin", "--password-stdin",
                            input="caps-admin-secret\n")
        os.makedirs(n.files, exist_ok=True)
        with open(os.path.join(n.files, "hello.txt"), "w") as f:
            f.write("hello from the files root\n")
        for p in (n.files, os.path.join(n.files, "hello.txt")):
            os.chown(p, nobody.pw_uid, nobody.pw_gid)
        os.chmod(n.files, 0o700 if owner != "root" else 0o755)
        # An SSH session opens the files root by its path after it becomes
        # nobody, so nobody must be able to reach it (/srv is 0755); FTP
        # opens it before (docs/install.md, "Files root owner").
        os.chmod(n.root, 0o711)
        n.start("ftpd", setpriv(unit_caps("nodebak-ftpd.service"), drop) +
                [os.path.join(BIN, "nodebak-ftpd"), "-f", "-c", n.conf],
                wait_for=(n.addr, n.ftp_port))
        got, up_ok = b"", False
        try:
            with ftplib.FTP() as ftp:
                ftp.connect(n.addr, n.ftp_port, timeout=15)
                ftp.login("admin", "caps-admin-secret")
                buf = io.BytesIO()
                ftp.retrbinary("RETR hello.txt", buf.write)
                got = buf.getvalue()
                ftp.storbinary("STOR up.txt", io.BytesIO(b"uploaded\n"))
                up_ok = True
        except (ftplib.Error, OSError) as e:
            err = str(e)
        up = os.path.join(n.files, "up.txt")
        if drop:
            t.ok(got == b"" and not up_ok,
                 f"nodebak-ftpd {what}: no file is served", err + n.log("ftpd"))
            return
        t.ok(got == b"hello from the files root\n" and up_ok and
             os.stat(up).st_uid == nobody.pw_uid,
             f"nodebak-ftpd {what}: FTP download, and an upload owned by "
             f"{owner}", err + n.log("ftpd"))
        got = b""
        try:
            c = paramiko.SSHClient()
            c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            c.connect(n.addr, port=n.sftp_port, username="admin",
                      password="caps-admin-secret", look_for_keys=False,
                      allow_agent=False, timeout=15)
            with c.open_sftp() as s:
                with s.open("hello.txt") as f:
                    got = f.read()
            c.close()
        except Exception as e:  # noqa: BLE001 (any failure is the answer)
            err = repr(e)
        t.ok(got == b"hello from the files root\n",
             f"nodebak-ftpd {what}: SFTP download", err + n.log("ftpd"))
    finally:
        n.stop()
        n.cleanup()


def main(t):
    if os.geteuid() != 0:
        t.skip_all("needs root (setuid sessions, a files root of nobody)")
    if shutil.which("setpriv") is None:
        t.skip_all("setpriv (util-linux) not installed")
    t.plan(12)
    snapshotd_case(t, ())
    for cap in ("chown", "dac_override", "fowner"):
        snapshotd_case(t, (cap,))
    livewriter_case(t, ())
    livewriter_case(t, ("sys_ptrace",))
    # The files root's owner is who sessions run as; root's sessions keep
    # uid 0 without a capability (CAP_SETPCAP to drop them).
    ftpd_case(t, (), "nobody")
    ftpd_case(t, ("setuid",), "nobody")
    ftpd_case(t, (), "root")
    ftpd_case(t, ("setpcap",), "root")


run(main)
