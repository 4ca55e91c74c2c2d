#!/usr/bin/env python3
"""console-tty.t: the interactive console on a real terminal (tmux): line
editing, history (the file in $HOME, mode 0600, bounded), tab completion
of commands and archive names, the capital-Y prompt's message, help
without a daemon, and exit, quit and end of input. The console's help
lists every line of the daemon's own help."""
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node, BIN  # noqa: E402
from tap import run  # noqa: E402

NB = os.path.join(BIN, "nodebak")


class Tty:
    """A console in a tmux pane on a private server (tmux -L): keys in,
    the screen out. Every wait is bounded."""

    def __init__(self, name):
        self.sock = f"nodebak-tty-{os.getpid()}-{name}"
        self.n = 0

    def tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null",
                               *args], capture_output=True, text=True,
                              timeout=10, check=check)

    def start(self, conf, home):
        """Start the console; when it leaves, the pane says EXITED=<status>."""
        self.n += 1
        cmd = (f"env HOME={home} TERM=xterm {NB} -c {conf}; "
               "echo EXITED=$?; sleep 60")
        self.tmux("new-session", "-d", "-x", "120", "-y", "40",
                  "-s", f"s{self.n}", cmd)

    def keys(self, *keys):
        self.tmux("send-keys", "-t", f"s{self.n}", *keys)

    def type(self, text):
        self.tmux("send-keys", "-t", f"s{self.n}", "-l", text)

    def screen(self):
        r = self.tmux("capture-pane", "-p", "-J", "-S", "-200", "-t",
                      f"s{self.n}", check=False)
        return "\n".join(x.rstrip() for x in r.stdout.splitlines())

    def last_line(self):
        lines = [x for x in self.screen().splitlines() if x.strip()]
        return lines[-1].rstrip() if lines else ""

    def wait(self, pred, timeout=10):
        """Poll the screen until pred(screen) holds; the last screen."""
        deadline = time.time() + timeout
        while True:
            s = self.screen()
            if pred(s) or time.time() > deadline:
                return s
            time.sleep(0.1)

    def wait_text(self, text, timeout=10, count=1):
        return self.wait(lambda s: s.count(text) >= count, timeout)

    def wait_line(self, line, timeout=10):
        """Wait until the last non-empty line is line; True when it is."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.last_line() == line:
                return True
            time.sleep(0.1)
        return self.last_line() == line

    def kill(self):
        self.tmux("kill-server", check=False)
        # tmux 3.3 leaves its socket file behind.
        path = os.path.join(os.environ.get("TMUX_TMPDIR", "/tmp"),
                            f"tmux-{os.getuid()}", self.sock)
        try:
            os.unlink(path)
        except OSError:
            pass


def daemon_help(sock):
    """The daemon's own help, over the control protocol."""
    def frame(t, p):
        return f"{t} {len(p)}\n".encode() + p.encode()
    out = b""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(sock)
        s.sendall(frame("hello", "nodebak-ctl 1") + frame("arg", "help") +
                  frame("run", ""))
        while b"exit " not in out:
            d = s.recv(65536)
            if not d:
                break
            out += d
    text = out.decode(errors="replace")
    return [x.strip() for x in text.splitlines()
            if x.startswith("  ") and "(local console only)" not in x]


def no_daemon(t, tty, n, home):
    tty.start(n.conf, home)
    s = tty.wait_text("nodebak>")
    t.ok("cannot reach nodebak-snapshotd at" in s and "\nnodebak>" in s,
         "without a daemon the console starts, says so, and prompts", s)
    tty.type("help")
    tty.keys("Enter")
    s = tty.wait_text("Commands:")
    t.ok("Commands:" in s and "  backup snapshot <name>  (admin)" in s and
         "  database cluster status" in s, "help lists the commands without "
         "a daemon", s)
    tty.type("help backup rollback")
    tty.keys("Enter")
    s = tty.wait_text("Usage:")
    t.ok("Usage:\n  backup rollback <name>.bak [--yes]" in s,
         "help COMMAND prints its Usage: line without a daemon", s)
    tty.type("backup list")
    tty.keys("Enter")
    s = tty.wait_text("cannot reach", count=2)
    t.ok(s.count("cannot reach nodebak-snapshotd") == 2,
         "a daemon command says again that the daemon is not reachable", s)
    tty.type("quit")
    tty.keys("Enter")
    s = tty.wait_text("EXITED=")
    t.ok("EXITED=1" in s, "quit leaves (status of the last command)", s)
    rc, out, err = n.nb("help", "backup")
    t.ok(rc == 0 and out.startswith("Usage:\n  backup snapshot") and
         err == "", "nodebak help backup: no daemon needed", (rc, out, err))
    rc, out, err = n.nb("help", "nosuch")
    t.ok(rc == 2 and "help: no command starts with 'nosuch'" in err,
         "help of an unknown command: status 2 and one line", (rc, out, err))


def session(t, tty, n, home, hist):
    # A history file from an earlier, longer life: 1,500 lines, mode 0644.
    with open(hist, "w") as f:
        f.write("_HiStOrY_V2_\n")
        for i in range(1500):
            f.write(f"key\\040list\\040#{i}\n")
    os.chmod(hist, 0o644)
    tty.start(n.conf, home)
    t.ok(tty.wait_line("cms2>"), "the prompt names the node", tty.screen())

    tty.type("bac")
    tty.keys("Tab")
    t.ok(tty.wait_line("cms2> backup"), "tab completes bac to backup",
         tty.screen())
    tty.type("li")
    tty.keys("Tab")
    t.ok(tty.wait_line("cms2> backup list"), "tab completes a sub-command",
         tty.screen())
    tty.keys("Enter")
    s = tty.wait_text("nightly.bak ")
    t.ok("verified" in s, "the completed command runs", s)

    tty.type("backup verify nig")
    tty.keys("Tab")
    t.ok(tty.wait_line("cms2> backup verify nightly.bak"),
         "tab completes an archive name from backups/", tty.screen())
    tty.keys("Enter")
    s = tty.wait_text("nightly.bak: OK")
    t.ok("nightly.bak: OK" in s, "and the archive verifies", s)

    tty.type("backup p")
    tty.keys("Tab", "Tab")
    s = tty.wait(lambda x: "pin" in x and "prune" in x and "unpin" not in x)
    t.ok("pin" in s and "prune" in s, "an ambiguous word lists the "
         "candidates", s)
    tty.keys("C-u")

    # Editing: move left and insert.
    tty.type("help bakup")
    tty.keys("Left", "Left", "Left")
    tty.type("c")
    t.ok(tty.wait_line("cms2> help backup"), "left arrow and insert edit "
         "the line", tty.screen())
    tty.keys("Enter")
    s = tty.wait_text("backup schedule status [--json]")
    t.ok("Usage:\n  backup snapshot <name>" in s, "the edited line runs",
         s)

    # History: up arrow recalls the previous command.
    tty.keys("Up")
    t.ok(tty.wait_line("cms2> help backup"), "up arrow recalls the previous "
         "command", tty.screen())
    tty.keys("Up")
    t.ok(tty.wait_line("cms2> backup verify nightly.bak"),
         "up again, the one before", tty.screen())
    tty.keys("C-u")

    # ^C at the prompt drops the line, not the console.
    tty.type("backup delete nightly.bak")
    tty.keys("C-c")
    s = tty.wait_text("cms2> backup delete nightly.bak^C\ncms2>")
    t.ok("cms2> backup delete nightly.bak^C\ncms2>" in s and
         "EXITED" not in s, "^C at the prompt drops the line and prompts "
         "again", s[-400:])
    t.ok(os.path.exists(os.path.join(n.files, "backups", "nightly.bak")),
         "the dropped line did not run")

    # Capital Y.
    tty.type("backup rollback nightly.bak")
    tty.keys("Enter")
    s = tty.wait_text("(Y/n)")
    t.ok("(Y/n)" in s, "rollback asks", s[-600:])
    tty.type("y")
    tty.keys("Enter")
    s = tty.wait_text("Cancelled (type a capital Y to proceed)")
    t.ok("y\nCancelled (type a capital Y to proceed)\n" in s,
         "a small y cancels and says to type a capital Y", s[-600:])
    t.ok(tty.wait_line("cms2>"), "and the prompt comes back", tty.screen())
    t.ok("Rollback cancelled; nothing was changed." in s,
         "the daemon heard no and changed nothing", s[-600:])

    tty.type("exit")
    tty.keys("Enter")
    s = tty.wait_text("EXITED=")
    t.ok("EXITED=1" in s, "exit leaves, with the last command's status", s)
    st = os.stat(hist)
    t.eq(stat.S_IMODE(st.st_mode), 0o600, "the history file is mode 0600")
    with open(hist) as f:
        lines = f.read().splitlines()
    t.eq(len(lines), 1001, "the history is bounded: its header and the "
         "newest 1,000 of 1,506 lines")
    t.eq(lines[-5:], ["backup\\040list", "backup\\040verify\\040nightly.bak",
                      "help\\040backup", "backup\\040rollback\\040nightly.bak",
                      "exit"], "the session's commands end the history, "
         "without the answer to the prompt")


def history_and_eof(t, tty, n, home):
    tty.start(n.conf, home)
    tty.wait_line("cms2>")
    tty.keys("Up")
    t.ok(tty.wait_line("cms2> exit"), "the next session recalls the last "
         "one's commands", tty.screen())
    tty.keys("C-u", "C-d")
    s = tty.wait_text("EXITED=")
    t.ok("EXITED=0" in s, "end of input (^D) leaves", s)


def main(t):
    if shutil.which("tmux") is None:
        t.skip_all("tmux is not installed")
    n = Node("cms2")
    home = tempfile.mkdtemp(prefix="nodebak-home-")
    hist = os.path.join(home, ".nodebak_history")
    tty = Tty("c")
    try:
        no_daemon(t, tty, n, home)
        n.start()
        rc, out, err = n.nb("backup", "snapshot", "nightly")
        t.eq((rc, out), (0, "nightly.bak ready for download\n"), "a snapshot")
        session(t, tty, n, home, hist)
        history_and_eof(t, tty, n, home)
        rc, out, err = n.nb("help")
        missing = [x for x in daemon_help(n.sock) if x not in out]
        t.ok(rc == 0 and not missing, "the console's help has every line of "
             "the daemon's help", missing)
    finally:
        tty.kill()
        n.cleanup()
        shutil.rmtree(home, ignore_errors=True)


run(main)
