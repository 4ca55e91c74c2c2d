#!/usr/bin/env python3
"""cluster-hooks.t: database cluster initialize, join and remove run the
node's service hooks around their database work, as a rollback does
(service_stop before, service_start after, whatever the outcome; a failing
stop changes nothing), and take --yes for automation while the capital-Y
prompt stays the default (docs/cluster.md, "Commands")."""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from clusterlib import status, wait_done  # noqa: E402
from node import Node, TOP  # noqa: E402
from tap import run  # noqa: E402


def set_hooks(n, stop, start):
    """Write the hooks into [snapshotd] and have the daemon reload."""
    text = open(n.conf).read()
    text = re.sub(r"(?m)^service_(stop|start) = .*\n", "", text)
    text = text.replace("compression_level = 1\n",
                        f"compression_level = 1\nservice_stop = {stop}\nservice_start = {start}\n")
    open(n.conf, "w").write(text)
    n.procs["snapshotd"].send_signal(signal.SIGHUP)
    deadline = time.time() + 30
    while time.time() < deadline and n.log().count(f"reloaded {n.conf}") < set_hooks.reloads + 1:
        time.sleep(0.1)
    set_hooks.reloads += 1


set_hooks.reloads = 0


def main(t):
    n = Node("hooks1", addr="127.0.0.16", engine="postgresql")
    os.makedirs(n.files, exist_ok=True)
    subprocess.run(["sh", os.path.join(TOP, "scripts", "mkcerts.sh"), n.files, "valid"], check=True,
                   stdout=subprocess.DEVNULL)
    hooklog = n.path("hooks.log")
    ssl = n.path("state", "pgrun", "ssl")
    # Each hook says whether the node was clustered (the TLS files in place)
    # when it ran: before the work for service_stop, after it for service_start.
    probe = f"test -d {ssl} && echo {{0}} clustered >> {hooklog} || echo {{0}} alone >> {hooklog}"
    try:
        n.start(timeout=120)
        set_hooks(n, probe.format("stop"), probe.format("start"))
        reloaded = f"reloaded {n.conf}" in n.log()
        rc, out, err = n.nb("database", "cluster", "certs", "dbclusterserver.key", "dbclusterserver.cer",
                            "dbclusterclient.key", "dbclusterclient.cer", "CA.cer")
        t.eq((rc, out), (0, "Certificates updated\n"), "certificates set")

        # The prompt stays the default: y cancels, and no hook runs.
        rc, out, err = n.nb("database", "cluster", "initialize", input="y\n")
        t.ok(rc == 1 and "(Y/n)" in out + err and "cancelled" in err and not os.path.exists(hooklog),
             "without --yes the question is asked; y cancels and runs no hook", out + err)
        rc, out, err = n.nb("database", "cluster", "initialize", "--yse")
        t.ok(rc == 2 and "--yse: unexpected argument" in err and "database cluster initialize [--yes]" in err,
             "a misspelt option is a usage error", err)

        # --yes: no question, no input needed.
        rc, out, err = n.nb("database", "cluster", "initialize", "--yes", input="")
        t.ok(rc == 0 and "(Y/n)" not in out + err and out == "Please wait...\nInitialize started...\n",
             "initialize --yes starts without asking", out + err)
        out = wait_done(n, "database cluster initialize")
        t.ok("'database cluster initialize' (Success)" in out and re.search(r"Status\s+: Enabled", out),
             "initialize --yes succeeds", out)
        t.eq(open(hooklog).read() if os.path.exists(hooklog) else "", "stop alone\nstart clustered\n",
             "service_stop ran before the initialize, service_start after it (hooks were reloaded: "
             f"{reloaded})")

        rc, out, err = n.nb("database", "cluster", "remove", "--yes")
        t.ok(rc == 0 and out == "Please wait...\nRemove started...\n", "remove --yes starts without asking",
             out + err)
        out = wait_done(n, "database cluster remove")
        t.ok("'database cluster remove' (Success)" in out and re.search(r"Status\s+: Disabled", out),
             "remove --yes succeeds", out)
        t.eq(open(hooklog).read(), "stop alone\nstart clustered\nstop clustered\nstart alone\n",
             "and runs the hooks around its work")

        # A failing service_stop: service_start runs, nothing changes, Failed.
        os.unlink(hooklog)
        set_hooks(n, f"echo stop >> {hooklog}; echo callbridge will not stop >&2; exit 3",
                  f"echo start >> {hooklog}")
        rc, out, err = n.nb("database", "cluster", "initialize", "--yes")
        out = wait_done(n, "database cluster initialize")
        t.ok("'database cluster initialize' (Failed)" in out and
             "ERROR : service_stop hook failed: sh failed (status 3): callbridge will not stop; "
             "nothing was changed" in out and re.search(r"Status\s+: Error", out),
             "a failing service_stop fails the command, naming the hook and its last line", out)
        t.ok(open(hooklog).read() == "stop\nstart\n" and not os.path.exists(ssl),
             "service_start ran again and the node was not clustered", open(hooklog).read())
        rc, out, err = n.nb("database", "cluster", "clear", "error")
        t.ok(rc == 0 and re.search(r"Status\s+: Disabled", status(n)), "clear error")
        # A join to nowhere fails; service_start still runs afterwards.
        os.unlink(hooklog)
        set_hooks(n, probe.format("stop"), probe.format("start"))
        rc, out, err = n.nb("database", "cluster", "join", "127.0.0.17", "--yes")
        t.ok(rc == 0 and out == "Please wait...\nJoin started...\n", "join <master> --yes starts", out + err)
        out = wait_done(n, "database cluster join 127.0.0.17", timeout=180)
        t.ok("'database cluster join 127.0.0.17' (Failed)" in out, "a join to an unreachable master fails", out)
        t.ok([w.split()[0] for w in open(hooklog).read().splitlines()] == ["stop", "start"],
             "service_start runs after a failed join as after a successful one", open(hooklog).read())
        n.nb("database", "cluster", "clear", "error")

    finally:
        n.stop()


run(main)
