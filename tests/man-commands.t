#!/usr/bin/env python3
"""man-commands.t: nodebak(1) documents every command of the console's own
table (client/cmdtab.c, the one source of the Usage: lines) with that
usage line, verbatim, and an example; the procedure's commands come first,
in the procedure's order; and the page formats without a warning."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import BIN, TOP  # noqa: E402
from tap import run  # noqa: E402

MAN = os.path.join(TOP, "docs", "man", "nodebak.1")
# The reference procedure's steps (docs: /work/shared/reference), in order.
PROCEDURE = ["database cluster status", "pki inspect", "backup snapshot",
             "Pulling the snapshot", "database cluster remove",
             "database cluster certs", "database cluster initialize",
             "database cluster join", "database cluster status (again)"]


def cmdtab_entries():
    """(words, usage) of every entry of cmdtab.c's table, the C string
    literals of the usage joined as the compiler joins them."""
    src = open(os.path.join(TOP, "client", "cmdtab.c")).read()
    body = src[src.index("table[] = {"):]
    body = body[:body.index("\n};")]
    out = []
    for m in re.finditer(r'\{\s*"([^"]+)",\s*ARG_\w+,\s*[^,]+,\s*((?:"[^"]*"\s*)+)', body):
        out.append((m.group(1), "".join(re.findall(r'"([^"]*)"', m.group(2)))))
    return out


def unroff(line):
    """A man-page source line as the reader sees its characters."""
    line = re.sub(r"\\f[BIRP]", "", line)
    for a, b in (("\\-", "-"), ("\\(aq", "'"), ("\\&", ""), ("\\e", "\\")):
        line = line.replace(a, b)
    return line


def sections(lines):
    """{.SS title: [unroffed lines of that subsection]}, in order."""
    out, cur = {}, None
    for x in lines:
        if x.startswith(".SS "):
            cur = x[4:].strip().strip('"')
            out[cur] = []
        elif x.startswith(".SH "):
            cur = None
        elif cur is not None:
            out[cur].append(unroff(x))
    return out


def main(t):
    entries = cmdtab_entries()
    helped = subprocess.run([os.path.join(BIN, "nodebak"), "help"], capture_output=True,
                            text=True, env=dict(os.environ, NODEBAK_CONF="/nonexistent"))
    usages = [ln[2:].split("  (")[0] for ln in helped.stdout.splitlines() if ln.startswith("  ")]
    t.eq(sorted(u for _, u in entries), sorted(usages),
         f"the {len(entries)} usage lines read from cmdtab.c are those `nodebak help` prints")
    src = open(MAN).read().split("\n")
    secs = sections(src)
    for words, usage in entries:
        holder = [title for title, body in secs.items() if usage in body]
        t.ok(holder, f"nodebak(1) has the usage line of '{words}': {usage}")
        body = secs[holder[0]] if holder else []
        if words not in ("exit", "quit"):
            t.ok(any(x.startswith(("cms1> ", "cms2> ")) for x in body),
                 f"'{words}' has an example beside its usage line", holder)
    titles = list(secs)
    t.eq(titles[:len(PROCEDURE)], PROCEDURE, "the procedure's commands come first, in its order")
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", MAN], capture_output=True, text=True)
    t.eq((r.returncode, r.stderr), (0, ""), "groff -ww formats nodebak(1) without a warning")


run(main)
