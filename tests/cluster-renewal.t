#!/usr/bin/env python3
"""cluster-renewal.t: the reference procedure end to end on three nodes
(127.0.0.11 master, .12 and .13 replicas; each its own PostgreSQL server and
nodebak-snapshotd). A healthy cluster whose certificates expire: a
restarted replica no longer connects; status shows (expired); certs is
refused while enabled; a snapshot on every node, pulled off the box and
checked; remove (replicas first, master last), certs, initialize, join:
every node In Sync with all the old data, new writes replicated. Then the
failure path: a join with a wrong CA ends (Failed); the master joined to a
wrong master loses its database, and backup rollback of the snapshot
brings it back; re-initialise and re-join complete the cluster with no
data lost.

The .bak and .json files are pulled off every node with OpenSSH's sftp
from the node's nodebak-ftpd."""
import hashlib
import json
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node  # noqa: E402
from sftp_util import SshNode, ftpd_path, require_ftpd  # noqa: E402
from tap import run  # noqa: E402
from clusterlib import common_port, make_certs, status, wait_done, wait_for, status_has  # noqa: E402

ADDRS = ["127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"]
CERTS = ["dbclusterserver.key", "dbclusterserver.cer", "dbclusterclient.key", "dbclusterclient.cer", "CA.cer"]


def upload(n, src):
    for f in CERTS:
        shutil.copy(os.path.join(src, f), n.path("files", f))


def names(n):
    return n.psql("SELECT name FROM spaces ORDER BY name").split()


def main(t):
    require_ftpd(t)
    port = common_port(ADDRS)
    nodes = []
    for i, a in enumerate(ADDRS):
        cls = SshNode if i < 3 else Node
        n = cls(f"rn{i + 1}", addr=a, engine="postgresql")
        n.pg_port = port
        n.write_conf()
        os.makedirs(n.files, exist_ok=True)
        nodes.append(n)
    m, r1, r2, stray = nodes
    work = m.path("work-certs")
    try:
        # ---- a healthy cluster, with certificates that expire soon ----
        old_end = make_certs(os.path.join(work, "old"), seconds=45, ca_name="old CA")
        for n in (m, r1, r2):
            upload(n, os.path.join(work, "old"))
            n.start(timeout=120)
            n.setup_users()
            n.start("ftpd", [ftpd_path(), "-f", "-c", n.conf], wait_for=(n.addr, n.sftp_port))
            rc, out, err = n.nb("database", "cluster", "certs", *CERTS)
            t.eq((rc, out), (0, "Certificates updated\n"), f"{n.addr}: certificates (valid for 45 s)")
        m.psql("INSERT INTO spaces(name, uri) VALUES ('old-1', 'o1@x'), ('old-2', 'o2@x')")
        m.nb("database", "cluster", "initialize", input="Y\n")
        t.ok("(Success)" in wait_done(m, "database cluster initialize"), "master initialized")
        for n in (r1, r2):
            n.nb("database", "cluster", "join", "127.0.0.11", input="Y\n")
            t.ok("(Success)" in wait_done(n, "database cluster join 127.0.0.11"), f"{n.addr} joined")
        m.psql("INSERT INTO spaces(name, uri) VALUES ('old-3', 'o3@x')")
        for n in (r1, r2):
            t.ok(wait_for(lambda: names(n) == ["old-1", "old-2", "old-3"]), f"{n.addr}: the master's data replicated")
        healthy = status_has(m, ["127.0.0.12           : Connected Slave ( In Sync )",
                                 "127.0.0.13           : Connected Slave ( In Sync )"])
        t.ok(healthy, "a healthy cluster: both replicas In Sync", status(m))

        # ---- the certificates expire ----
        time.sleep(max(0, old_end - time.time() + 2))
        for n in (r1, r2):
            n.kill("snapshotd", signal.SIGTERM)   # stops its server too
            n.start(timeout=120)
        out = status_has(r1, ["127.0.0.11           : Unreachable (this node is not receiving from it)",
                              "127.0.0.12 (me)      : Slave, disconnected from the master"], timeout=20)
        t.ok(out, "a restarted replica no longer connects to the master", status(r1))
        t.ok(out and "Server Certificate     : dbclusterserver.cer (expired)" in out and
             "Client Certificate     : dbclusterclient.cer (expired)" in out and
             "CA Certificate         : CA.cer (expires in 3649 days)\n" in out, "status marks the server and client certificates (expired)", out)
        out = status_has(m, ["    127.0.0.12           : Unreachable ( known to the master, not connected )\n",
                             "    127.0.0.13           : Unreachable ( known to the master, not connected )\n"])
        t.ok(out and "In Sync" not in out, "the master knows both replicas and shows them Unreachable", status(m))
        log = open(os.path.join(m.path("state", "pgrun", "server.log"))).read()
        t.ok("certificate" in log and "expired" in log, "the master's server log says why: an expired certificate",
             log[-600:])
        rc, out, err = r1.nb("pki", "inspect", "dbclusterserver.cer")
        t.ok(rc == 0 and "Not Before:" in out and "Not After :" in out and "expired" in out.lower(),
             "pki inspect shows the dates", out)
        rc, out, err = r1.nb("database", "cluster", "certs", *CERTS)
        t.eq((rc, err), (1, "ERROR: Cannot change certificates when clustering enabled.\n  Disable clustering on this node first\n"),
             "certs refused while enabled")

        # ---- snapshots, pulled off the box ----
        pulled = m.path("pulled")
        os.makedirs(pulled)
        for n in (m, r1, r2):
            rc, out, err = n.nb("backup", "snapshot", "before-renewal")
            t.eq((rc, out), (0, "before-renewal.bak ready for download\n"), f"{n.addr}: backup snapshot")
            d = os.path.join(pulled, n.name)
            os.makedirs(d)
            rc, out, err = n.sftp(f"lcd {d}\ncd backups\nget before-renewal.bak\nget before-renewal.json\n")
            t.ok(rc == 0 and all(os.path.isfile(os.path.join(d, f)) for f in ("before-renewal.bak", "before-renewal.json")),
                 f"{n.addr}: .bak and .json pulled with sftp", out + err)
            meta = json.load(open(os.path.join(d, "before-renewal.json")))
            data = open(os.path.join(d, "before-renewal.bak"), "rb").read()
            t.ok(meta["sha256"] == hashlib.sha256(data).hexdigest() and meta["engine"] == "postgresql" and
                 any(mm["path"] == "db/node.pgdump" for mm in meta["members"]),
                 f"{n.addr}: the pulled .bak matches its .json and holds the database dump")
            rc, out, err = n.nb("backup", "verify", "before-renewal.bak")
            t.ok(rc == 0 and "OK" in out, f"{n.addr}: backup verify", out + err)

        # ---- remove: replicas first, master last ----
        for n in (r1, r2, m):
            rc, out, err = n.nb("database", "cluster", "remove", input="Y\n")
            t.ok(rc == 0 and out.endswith("Remove started...\n"), f"{n.addr}: remove started", out + err)
            out = wait_done(n, "database cluster remove")
            t.ok("Status                   : Disabled" in out and "'database cluster remove' (Success)" in out and
                 "Node in use              : None" in out, f"{n.addr}: Disabled, remove (Success)", out)
        for n in (m, r1, r2):
            t.eq(names(n), ["old-1", "old-2", "old-3"], f"{n.addr}: keeps the cluster's data")

        # ---- new certificates, initialize, join ----
        make_certs(os.path.join(work, "new"), ca_name="new CA")
        for n in (m, r1, r2):
            upload(n, os.path.join(work, "new"))
            rc, out, err = n.nb("database", "cluster", "certs", *CERTS)
            t.eq((rc, out), (0, "Certificates updated\n"), f"{n.addr}: new certificates under the old names")
        # ---- the failure path, during the renewal ----
        # A lab node with its own database and the same new certificates.
        upload(stray, os.path.join(work, "new"))
        stray.start(timeout=120)
        stray.nb("database", "cluster", "certs", *CERTS)
        stray.psql("INSERT INTO spaces(name, uri) VALUES ('lab', 'lab@x')")
        stray.nb("database", "cluster", "initialize", input="Y\n")
        t.ok("(Success)" in wait_done(stray, "database cluster initialize"), "a lab node is the master of its own cluster")

        # First kind: a join with a CA that is not the master's fails and
        # says so; the node keeps its database.
        make_certs(os.path.join(work, "wrong"), ca_name="wrong CA")
        for f in CERTS:
            shutil.copy(os.path.join(work, "wrong", f), r2.path("files", "wrong-" + f))
        r2.nb("database", "cluster", "certs", "wrong-dbclusterclient.key", "wrong-dbclusterclient.cer", "wrong-CA.cer")
        r2.nb("database", "cluster", "join", "127.0.0.14", input="Y\n")
        out = wait_done(r2, "database cluster join 127.0.0.14")
        t.ok(out.startswith("ERROR : ") and "'database cluster join 127.0.0.14' (Failed)" in out and
             "Status                   : Error" in out, "a join with the wrong CA: ERROR, Status Error, (Failed)", out)
        t.eq(names(r2), ["old-1", "old-2", "old-3"], "that node keeps its database")
        rc, out, err = r2.nb("database", "cluster", "clear", "error")
        t.eq((rc, out), (0, "Error cleared\n"), "clear error")
        rc, out, err = r2.nb("database", "cluster", "certs", *CERTS)
        t.eq((rc, out), (0, "Certificates updated\n"), "the right certificates again")

        # Second kind: the master is joined to the wrong master by mistake
        # (instead of initialize): its database is destroyed.
        m.nb("database", "cluster", "join", "127.0.0.14", input="Y\n")
        wait_done(m, "database cluster join 127.0.0.14")
        t.eq(names(m), ["lab"], "the master's database was replaced by the lab node's")
        m.nb("database", "cluster", "remove", input="Y\n")
        t.ok("(Success)" in wait_done(m, "database cluster remove"), "out of the wrong cluster")
        with open(m.path("files", "backups", "before-renewal.bak"), "rb") as a, \
                open(os.path.join(pulled, m.name, "before-renewal.bak"), "rb") as b:
            t.ok(a.read() == b.read(), "the node's before-renewal.bak is the pulled snapshot")
        rc, out, err = m.nb("backup", "rollback", "before-renewal.bak", input="Y\n")
        t.ok(rc == 0 and "Database           : db/node.pgdump (pg_amcheck: heap and B-tree of " in out, "backup rollback before-renewal.bak (Y)", out + err)
        t.eq(names(m), ["old-1", "old-2", "old-3"], "the master has its database of before the renewal again")
        out = status(m)
        t.ok("Status                   : Disabled" in out and "dbclusterserver.cer (expired)" in out,
             "out of the cluster, with the snapshot's (expired) certificate files", out)
        upload(m, os.path.join(work, "new"))
        rc, out, err = m.nb("database", "cluster", "certs", *CERTS)
        t.eq((rc, out), (0, "Certificates updated\n"), "new certificates uploaded again")

        # ---- initialize, join: the cluster is whole, nothing lost ----
        m.nb("database", "cluster", "initialize", input="Y\n")
        out = wait_done(m, "database cluster initialize")
        t.ok("127.0.0.11 (me)      : Connected Master" in out and "(Success)" in out and "Status                   : Enabled" in out,
             "master initialized with the new certificates", out)
        for n in (r1, r2):
            rc, out, err = n.nb("database", "cluster", "join", "127.0.0.11", input="Y\n")
            t.ok("(Success)" in wait_done(n, "database cluster join 127.0.0.11"), f"{n.addr}: joined with the new certificates")
        out = status_has(r1, ["    127.0.0.11           : Connected Master\n",
                              "    127.0.0.12 (me)      : Connected Slave ( In Sync )\n",
                              "    127.0.0.13           : Connected Slave ( In Sync )\n",
                              "Node in use              : 127.0.0.11\n",
                              "Last command             : 'database cluster join 127.0.0.11' (Success)\n"])
        t.ok(out and "(expired)" not in out, "the cluster is whole again: the reference's status", status(r1))
        out = status_has(m, ["    127.0.0.11 (me)      : Connected Master\n",
                             "    127.0.0.12           : Connected Slave ( In Sync )\n",
                             "    127.0.0.13           : Connected Slave ( In Sync )\n"])
        t.ok(out, "and on the master", status(m))
        m.psql("INSERT INTO spaces(name, uri) VALUES ('new-1', 'n1@x')")
        for n in (m, r1, r2):
            t.ok(wait_for(lambda: names(n) == ["new-1", "old-1", "old-2", "old-3"]),
                 f"{n.addr}: all data from before the renewal, and the new write", names(n))
    finally:
        for n in nodes:
            n.cleanup()


run(main)
