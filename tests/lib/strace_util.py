"""strace_util.py: run a daemon under strace and read back, in order, what
the process that stored an upload did (the durability tests: the upload
is fsynced, renamed and its folder fsynced before the client is told).
strace -ff writes one file per process, so calls never interleave; -yy
names each descriptor (path, or TCP ports)."""
import glob
import os
import re
import shutil

CALLS = ("openat,fsync,fdatasync,rename,renameat,renameat2,read,write,"
         "sendto,recvfrom,sendmsg,recvmsg")
LINE = re.compile(r"^(\w+)\((.*)\) = (-?\d+)")
FD = re.compile(r"^\d+<(.*?)>(?:, |$)")
TCP_LOCAL = re.compile(r"^TCP:\[[^\]]*?:(\d+)->")
RENAME = re.compile(r'^\d+<([^>]*)>, "([^"]+)", \d+<([^>]*)>, "([^"]+)"')


def have_strace():
    return shutil.which("strace") is not None


def argv(prefix, prog_argv):
    """prog_argv run under strace; the traces go to prefix.PID."""
    return ["strace", "-f", "-ff", "-qq", "-yy", "-e", "trace=" + CALLS,
            "-o", prefix] + prog_argv


def _calls(path):
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if m:
                out.append((m[1], m[2], int(m[3])))
    return out


def commit_order(prefix, folder, name, port):
    """The steps of the process that renamed an upload onto folder/name
    (folder: a host path), in order: 'fsync file' (the upload's hidden
    file), 'rename', 'fsync folder', and its traffic as 'recv' / 'send' on
    the connection with local port `port` and 'data' on any other TCP
    connection; repeats in a row are collapsed. An SSH worker has no TCP
    connection: its Unix socket to the network-facing process, which
    relays every byte it sends, is its connection (docs/sftp.md,
    "Privilege separation"). None when no process
    renamed anything onto that name."""
    for path in sorted(glob.glob(prefix + ".*")):
        calls = _calls(path)
        tmp = None
        for call, args, res in calls:
            m = RENAME.match(args)
            if call.startswith("rename") and res == 0 and m and \
                    m[3] == folder and m[4] == name:
                tmp = os.path.join(m[1], m[2])
        if tmp is None:
            continue
        order = []
        for call, args, res in calls:
            fd = FD.match(args)
            what = fd[1] if fd else ""
            tcp = TCP_LOCAL.match(what)
            unix = what.startswith("UNIX-STREAM:") or what.startswith("UNIX:")
            if call in ("fsync", "fdatasync") and res == 0 and what == tmp:
                step = "fsync file"
            elif call in ("fsync", "fdatasync") and res == 0 and what == folder:
                step = "fsync folder"
            elif call.startswith("rename") and RENAME.match(args) and \
                    os.path.join(RENAME.match(args)[1], RENAME.match(args)[2]) == tmp:
                step = "rename"
            elif (tcp or unix) and res > 0:
                if tcp and int(tcp[1]) != port:
                    step = "data"
                elif call in ("read", "recvfrom", "recvmsg"):
                    step = "recv"
                else:
                    step = "send"
            else:
                continue
            if not order or order[-1] != step:
                order.append(step)
        return order
    return None


def contains(order, steps):
    """steps occur in order as a contiguous run."""
    if order is None:
        return False
    return any(order[i:i + len(steps)] == steps
               for i in range(len(order) - len(steps) + 1))
