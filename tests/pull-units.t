#!/usr/bin/env python3
"""pull-units.t: `make install` puts nodebak-pull's systemd units, its
sysusers.d entry, man pages and example pull.conf in place, with
ExecStart= naming the installed program; systemd-analyze verify accepts
the units without a single warning (a copy with a misspelt key is caught,
so the check can fail), their sandbox's exposure stays low, and
systemd-sysusers accepts the user entry."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import TOP  # noqa: E402
from tap import run  # noqa: E402

UNITS = ["nodebak-pull.service", "nodebak-pull-sync.service",
         "nodebak-pull.timer"]


def verify(paths):
    p = subprocess.run(["systemd-analyze", "verify", "--man=no"] + paths,
                       capture_output=True, text=True, timeout=60, cwd="/")
    return p.returncode, p.stdout + p.stderr


def main(t):
    if shutil.which("systemd-analyze") is None:
        t.skip_all("systemd-analyze not installed")
    t.plan(1 + 3 * len(UNITS) + 6)
    prefix = tempfile.mkdtemp(prefix="nodebak-install-")
    try:
        p = subprocess.run(["make", "-s", "-C", TOP, "install",
                            f"PREFIX={prefix}"], capture_output=True,
                           text=True, timeout=300)
        t.eq(p.returncode, 0, "make install PREFIX=" + prefix)
        unitdir = os.path.join(prefix, "lib", "systemd", "system")
        for u in UNITS:
            path = os.path.join(unitdir, u)
            t.ok(os.path.isfile(path), f"{u} installed")
            text = open(path).read() if os.path.isfile(path) else ""
            execs = re.findall(r"^ExecStart=(\S+)", text, re.M)
            t.ok(all(e == os.path.join(prefix, "bin", "nodebak-pull")
                     for e in execs), f"{u}: ExecStart is the installed program",
                 repr(execs))
            st = os.stat(path) if os.path.isfile(path) else None
            t.ok(st is not None and st.st_mode & 0o777 == 0o644,
                 f"{u}: mode 0644")
        rc, out = verify([os.path.join(unitdir, u) for u in UNITS])
        t.ok(rc == 0 and out.strip() == "",
             "systemd-analyze verify: the units, no warning", out)
        bogus = os.path.join(prefix, "nodebak-pull-bogus.service")
        with open(os.path.join(unitdir, "nodebak-pull.service")) as f, \
                open(bogus, "w") as g:
            g.write(f.read().replace("NoNewPrivileges=yes",
                                     "NoNewPrivileges=yes\nNoNewPrivilege=yes"))
        rc, out = verify([bogus])
        t.ok("Unknown key" in out, "a misspelt key is reported (the check "
             "can fail)", out)
        for u in ("nodebak-pull.service", "nodebak-pull-sync.service"):
            p = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                                os.path.join(unitdir, u)], capture_output=True,
                               text=True, timeout=60)
            m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)",
                          p.stdout)
            t.ok(m is not None and float(m.group(1)) <= 2.0,
                 f"{u}: exposure {m.group(1) if m else '?'} <= 2.0", p.stdout[-500:])
        root = tempfile.mkdtemp(prefix="nodebak-sysroot-")
        p = subprocess.run(["systemd-sysusers", "--dry-run", f"--root={root}",
                            os.path.join(prefix, "lib", "sysusers.d",
                                         "nodebak-pull.conf")],
                           capture_output=True, text=True, timeout=60)
        t.ok(p.returncode == 0 and "Creating user 'nodebak-pull'" in p.stdout + p.stderr,
             "systemd-sysusers accepts the nodebak-pull user", p.stdout + p.stderr)
        shutil.rmtree(root, ignore_errors=True)
        t.ok(os.path.isfile(os.path.join(prefix, "share", "man", "man1",
                                         "nodebak-pull.1")) and
             os.path.isfile(os.path.join(prefix, "share", "man", "man5",
                                         "pull.conf.5")) and
             os.path.isfile(os.path.join(prefix, "share", "doc", "nodebak",
                                         "examples", "pull.conf")),
             "man pages and the example pull.conf installed")
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


run(main)
