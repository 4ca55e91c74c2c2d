#!/usr/bin/env python3
"""conf-errors.t: bad nodebak.conf files are refused at start with one line
that names the file, the line, the section and key (or the unknown section
or key), the value given (escaped) and what is allowed; the daemon, the
console and the FTP server print the same line for the same file."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import BIN  # noqa: E402
from tap import run  # noqa: E402

LISTEN = ("must be space-separated ADDRESS:PORT items (IPv6 as [ADDRESS]:PORT, "
          "port 1 to 65535), or empty for none")
NAME = "must be 1 to 64 of A-Za-z0-9._- not starting with a dot"
SECTIONS = "sections: node, database, snapshotd, retention, cluster, schedule, metrics, pki, ftpd"
N = "[node]\nname = x\n"

# (what, file text, line, "[section] key = value" part, what is allowed)
CASES = [
    ("engine = postgres", N + "[database]\nengine = postgres\n", 4,
     "[database] engine = postgres", "must be one of sqlite, postgresql"),
    ("empty value where one is required", N + "[database]\nengine =\n", 4,
     "[database] engine is empty", "must be one of sqlite, postgresql"),
    ("unknown key", "[node]\nnmae = x\n", 2,
     "[node] nmae", "unknown key (keys of [node]: name, state_dir, files_dir)"),
    ("unknown section", N + "[clustr]\ninterface_a = 10.0.0.1\n", 3,
     "[clustr]", f"unknown section ({SECTIONS})"),
    ("interface_a = 999.1.1.1", N + "[cluster]\ninterface_a = 999.1.1.1\n", 4,
     "[cluster] interface_a = 999.1.1.1", "must be an IPv4 or IPv6 address"),
    ("interface_a = 10.0.0.1x", N + "[cluster]\ninterface_a = 10.0.0.1x\n", 4,
     "[cluster] interface_a = 10.0.0.1x", "must be an IPv4 or IPv6 address"),
    ("interface name rule", N + "[cluster]\ninterface_A1 = 10.0.0.1\n", 4,
     "[cluster] interface_A1 = 10.0.0.1",
     "the x of interface_<x> must be 1 to 15 lower-case letters"),
    ("interface given twice", N + "[cluster]\ninterface_a = 10.0.0.1\n\ninterface_a = ::1\n", 6,
     "[cluster] interface_a = ::1", "duplicate key (first set on line 4)"),
    ("ftp_listen port 70000", N + "[ftpd]\nftp_listen = 127.0.0.1:70000\n", 4,
     "[ftpd] ftp_listen = 127.0.0.1:70000", "port 70000 is not from 1 to 65535; " + LISTEN),
    ("ftp_listen address 300.1.1.1", N + "[ftpd]\nftp_listen = 300.1.1.1:21\n", 4,
     "[ftpd] ftp_listen = 300.1.1.1:21", "300.1.1.1 is not an IPv4 address; " + LISTEN),
    ("ftp_listen = nonsense", N + "[ftpd]\nftp_listen = nonsense\n", 4,
     "[ftpd] ftp_listen = nonsense", "nonsense is not ADDRESS:PORT; " + LISTEN),
    ("sftp_listen IPv4 in brackets, second item", N + "[ftpd]\nsftp_listen = [::1]:22 [10.0.0.1]:22\n", 4,
     "[ftpd] sftp_listen = [::1]:22 [10.0.0.1]:22", "10.0.0.1 is not an IPv6 address; " + LISTEN),
    ("pasv_ports = 5000-4000", N + "[ftpd]\npasv_ports = 5000-4000\n", 4,
     "[ftpd] pasv_ports = 5000-4000", "must be LOW-HIGH with 1024 <= LOW <= HIGH <= 65535"),
    ("pasv_ports below 1024", N + "[ftpd]\npasv_ports = 80-1000\n", 4,
     "[ftpd] pasv_ports = 80-1000", "must be LOW-HIGH with 1024 <= LOW <= HIGH <= 65535"),
    ("max_clients = 0", N + "[ftpd]\nmax_clients = 0\n", 4,
     "[ftpd] max_clients = 0", "must be an integer from 1 to 100000"),
    ("max_clients = abc", N + "[ftpd]\nmax_clients = abc\n", 4,
     "[ftpd] max_clients = abc", "must be an integer from 1 to 100000"),
    ("compression_level = 10", N + "[snapshotd]\ncompression_level = 10\n", 4,
     "[snapshotd] compression_level = 10", "must be an integer from 1 to 9"),
    ("max_bytes = 12Q", N + "[snapshotd]\nmax_bytes = 12Q\n", 4,
     "[snapshotd] max_bytes = 12Q",
     "must be a size from 1M to 1024T (digits with an optional K, M, G or T)"),
    ("socket_mode = 0999", N + "[snapshotd]\nsocket_mode = 0999\n", 4,
     "[snapshotd] socket_mode = 0999", "must be a mode from 0 to 0777 (octal, with a leading 0)"),
    ("duplicate key", "[node]\nname = x\n# again\nname = y\n", 4,
     "[node] name = y", "duplicate key (first set on line 2)"),
    ("key outside any section", "# top\nname = x\n[node]\n", 2,
     "name = x", f"key outside of any section ({SECTIONS})"),
    ("line without '='", N + "state_dir /var/lib/x\n", 3,
     "[node] state_dir /var/lib/x", "expected KEY = VALUE, a [SECTION] header or a # comment"),
    ("control byte in a value, escaped", N + "[snapshotd]\nservice_stop = stop\x1b[2J\rnow\n", 4,
     "[snapshotd] service_stop = stop\\x1b[2J\\rnow",
     "control character in value; must be a shell command, or empty for unset"),
    ("name = .hidden", "[node]\nname = .hidden\n", 2, "[node] name = .hidden", NAME),
    ("tls = maybe", N + "[ftpd]\ntls = maybe\n", 4,
     "[ftpd] tls = maybe", "must be one of required, allowed, off"),
    ("pg_port = 0", N + "[database]\npg_port = 0\n", 4,
     "[database] pg_port = 0", "must be an integer from 1 to 65535"),
    ("misspelt pg_bindir", N + "[database]\npg_bin = /usr/lib/postgresql/16/bin\n", 4,
     "[database] pg_bin",
     "unknown key (keys of [database]: engine, path, pg_port, pg_bindir)"),
    ("key of another section", N + "[ftpd]\ncompression_level = 6\n", 4,
     "[ftpd] compression_level",
     "unknown key (keys of [ftpd]: ftp_listen, ftps_implicit_listen, sftp_listen, tls, "
     "tls_cert, tls_key, host_key, pasv_ports, users, run_as, privsep_user, xferlog, max_clients, "
     "max_per_address, max_line, idle_timeout, data_timeout, login_timeout, "
     "max_login_attempts, lockout_seconds, lockout_address_failures, "
     "lockout_user_failures, lockout_decay, login_delay_ms, shutdown_timeout, "
     "max_handles, umask, session_memory)"),
]


def refusal(argv, prog):
    """Run argv; return the text after "prog: " when it printed one line and
    exited 1, else None and what it printed."""
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    head = prog + ": "
    if p.returncode == 1 and p.stderr.startswith(head) and p.stderr.count("\n") == 1 \
            and p.stderr.endswith("\n"):
        return p.stderr[len(head):-1], p.stderr
    return None, f"exit {p.returncode}\nstdout: {p.stdout!r}\nstderr: {p.stderr!r}"


def main(t):
    t.plan(2 * len(CASES) + 2)
    with tempfile.TemporaryDirectory(prefix="nodebak-conf-errors-") as d:
        for i, (what, text, line, given, allowed) in enumerate(CASES):
            path = os.path.join(d, f"bad{i}.conf")
            with open(path, "w") as f:
                f.write(text)
            want = f"{path}:{line}: {given}: {allowed}"
            got, diag = refusal([os.path.join(BIN, "nodebak-snapshotd"), "-f", "-c", path],
                                "nodebak-snapshotd")
            t.ok(got == want and f"{path}:{line}: " in got and given in got and allowed in got,
                 f"{what}: one line names file, line, key, value and what is allowed",
                 f"got:  {got!r}\nwant: {want!r}\n{diag}")
            console, cdiag = refusal([os.path.join(BIN, "nodebak"), "-c", path, "backup", "list"],
                                     "nodebak")
            ftpd, fdiag = refusal([os.path.join(BIN, "nodebak-ftpd"), "-f", "-c", path],
                                  "nodebak-ftpd")
            t.ok(console == want and ftpd == want, f"{what}: nodebak and nodebak-ftpd print the same line",
                 f"want:    {want!r}\nconsole: {cdiag}\nftpd:    {fdiag}")
        # The same keys, valid, are accepted as far as the configuration goes.
        path = os.path.join(d, "good.conf")
        with open(path, "w") as f:
            f.write(N + "state_dir = s\n[database]\nengine = postgresql\npg_port = 1\n"
                    "[snapshotd]\nsocket = none/sock\nsocket_mode = 0600\nmax_bytes = 1M\n"
                    "compression_level = 9\nservice_stop = stop\tnow\n"
                    "[cluster]\ninterface_a = 10.0.0.1\ninterface_b = fe80::1\n"
                    "[ftpd]\nftp_listen = 127.0.0.1:1 [::1]:65535 ::1:2121\npasv_ports = 1024-1024\n"
                    "max_clients = 1\ntls = off\n")
        p = subprocess.run([os.path.join(BIN, "nodebak"), "-c", path, "backup", "list"],
                           capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        t.ok(p.returncode != 0 and "none/sock" in p.stderr and "nodebak.conf" not in p.stderr
             and ".conf:" not in p.stderr,
             "the boundary values load: the console gets as far as the socket", p.stderr)
        # A pg_bindir without PostgreSQL's programs stops the daemon at start
        # with one line naming the key and the folder (docs/cluster.md).
        os.makedirs(os.path.join(d, "pgb", "s"), mode=0o700)
        os.makedirs(os.path.join(d, "pgb", "f"))
        path = os.path.join(d, "pgb", "n.conf")
        with open(path, "w") as f:
            f.write(N + "state_dir = s\nfiles_dir = f\n[database]\nengine = postgresql\n"
                    f"pg_bindir = {d}/nowhere/bin\n[snapshotd]\nsocket = s.sock\n"
                    "[cluster]\ninterface_a = 127.0.0.1\n")
        p = subprocess.run([os.path.join(BIN, "nodebak-snapshotd"), "-f", "-c", path],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        want = f"nodebak-snapshotd: [database] pg_bindir = {d}/nowhere/bin: no executable pg_ctl there"
        t.ok(p.returncode != 0 and p.stderr.rstrip("\n").splitlines()[-1:] == [want],
             "a pg_bindir without pg_ctl: the daemon names the key and the folder", p.stderr)


run(main)
