#!/usr/bin/env python3
"""console-progress.t: backup snapshot and backup rollback of a large node
(256 MiB of incompressible files) draw a progress line on a real terminal
(tmux): done of total, rate and ETA on standard error, redrawn in place
and erased before the command's answer. Piped, the output is exactly what
it always was; a console that does not ask for progress (as every console
before the option did) gets no progress frame."""
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node, BIN  # noqa: E402
from tap import run  # noqa: E402

NB = os.path.join(BIN, "nodebak")
MIB = 1 << 20
SIZE = r"\d+(\.\d)? (B|KiB|MiB|GiB)"
PROGRESS = re.compile(rf"^{SIZE} of 256\.\d MiB \(\d+%\)  (-|{SIZE})/s  ETA ((\d+:)?\d+:\d\d|--:--)$")
LINE = re.compile(r"^.*of 256\.\d MiB \(\d+%\).*$", re.M)


class Tty:
    """A pane on a private tmux server (tmux -L); every wait is bounded."""

    def __init__(self):
        self.sock = f"nodebak-progress-{os.getpid()}"
        self.n = 0

    def tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null", *args],
                              capture_output=True, text=True, timeout=10, check=check)

    def start(self, cmd):
        self.n += 1
        self.tmux("new-session", "-d", "-x", "150", "-y", "40", "-s", f"s{self.n}",
                  f"{cmd}; echo EXITED=$?; sleep 120")

    def screen(self):
        r = self.tmux("capture-pane", "-p", "-J", "-t", f"s{self.n}", check=False)
        return "\n".join(x.rstrip() for x in r.stdout.splitlines())

    def watch(self, timeout=240):
        """Screens until the command has exited: (every distinct progress
        line seen, the most progress lines on one screen, the last screen)."""
        seen, most = [], 0
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.screen()
            lines = LINE.findall(s)
            most = max(most, len(lines))
            for x in lines:
                if x not in seen:
                    seen.append(x)
            if "EXITED=" in s:
                return seen, most, s
            time.sleep(0.05)
        return seen, most, self.screen()

    def kill(self):
        self.tmux("kill-server", check=False)
        path = os.path.join(os.environ.get("TMUX_TMPDIR", "/tmp"), f"tmux-{os.getuid()}", self.sock)
        try:
            os.unlink(path)
        except OSError:
            pass


def frame(t, p):
    return f"{t} {len(p)}\n".encode() + p.encode()


def raw_run(sock, words, option=False):
    """Run words over the control protocol as a console would, asking for
    progress only with option: ([(type, payload)], hello payload)."""
    frames, buf = [], b""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(240)
        s.connect(sock)
        s.sendall(frame("hello", "nodebak-ctl 1") +
                  (frame("option", "progress") if option else b"") +
                  b"".join(frame("arg", w) for w in words) + frame("run", ""))
        while not frames or frames[-1][0] != "exit":
            d = s.recv(65536)
            if not d:
                break
            buf += d
            while b"\n" in buf:
                head, rest = buf.split(b"\n", 1)
                t, n = head.decode().split(" ")
                if len(rest) < int(n):
                    break
                frames.append((t, rest[:int(n)].decode()))
                buf = rest[int(n):]
    return frames[1:], frames[0][1] if frames else ""


def main(t):
    n = Node("prog1")
    os.makedirs(n.files, exist_ok=True)
    with open(os.path.join(n.files, "recordings.bin"), "wb") as f:
        for _ in range(256):
            f.write(os.urandom(MIB))
    n.start()
    tty = Tty()
    try:
        rc, out, err = n.nb("backup", "snapshot", "piped")
        t.eq((rc, out, err), (0, "piped.bak ready for download\n", ""),
             "piped: the answer alone, no progress on stdout or stderr")

        frames, hello = raw_run(n.sock, ["backup", "snapshot", "old"])
        t.ok("\noptions progress" in hello, "the daemon's hello offers the progress option", hello)
        t.eq(frames, [("out", "old.bak ready for download\n"), ("exit", "0")],
             "a console that does not ask gets no progress frame")
        frames, _ = raw_run(n.sock, ["backup", "verify", "old.bak"], option=True)
        t.ok(frames[-1] == ("exit", "0") and not [f for f in frames if f[0] == "progress"],
             "verify sends no progress frame even when asked", frames)

        tty.start(f"env TERM=xterm {NB} -c {n.conf} backup snapshot tty")
        seen, most, s = tty.watch()
        t.ok("tty.bak ready for download" in s and "EXITED=0" in s, "snapshot on a terminal succeeds", s)
        t.ok(len(seen) >= 2 and all(PROGRESS.search(x) for x in seen),
             f"snapshot draws a progress line, done of total, rate and ETA ({len(seen)} states)", seen)
        t.diag(f"for instance: {seen[len(seen) // 2] if seen else None}")
        t.eq(most, 1, "the line is redrawn in place: never two progress lines on the screen")
        t.ok(not LINE.findall(s) and "\ntty.bak ready for download" in "\n" + s,
             "the progress line is erased before the answer", s)

        tty.start(f"env TERM=xterm {NB} -c {n.conf} backup rollback piped.bak --yes")
        seen, most, s = tty.watch()
        t.ok("Restored from piped.bak" in s and "EXITED=0" in s, "rollback on a terminal succeeds", s)
        t.ok(len(seen) >= 2 and all(PROGRESS.search(x) for x in seen),
             f"rollback draws a progress line ({len(seen)} states)", seen)
        t.eq(most, 1, "rollback's line is redrawn in place")
        t.ok(not LINE.findall(s), "and erased before the report", s)
        with open(n.path("files", "recordings.bin"), "rb") as f:
            t.eq(os.fstat(f.fileno()).st_size, 256 * MIB, "the node's large file is back after the rollback")

        rc, out, err = n.nb("backup", "rollback", "old.bak", "--yes")
        t.ok(rc == 0 and "\r" not in out + err and "ETA" not in out + err and err == "",
             "piped rollback: no progress, nothing on stderr", (rc, out, err))
    finally:
        tty.kill()
        n.cleanup()


run(main)
