#!/usr/bin/env python3
"""cluster-replication.t: three nodes on 127.0.0.11-13, each with its own
PostgreSQL server and nodebak-snapshotd: `database cluster initialize`,
`join`, `remove`, `clear error` on real streaming replication over TLS
with client certificates. Status lines come from the servers; data written
on the master appears on the replicas; only a capital Y proceeds; a join
with a client certificate from another CA fails and leaves the node its
own database."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from clusterlib import common_port, status, wait_done, wait_for  # noqa: E402
from node import Node, TOP  # noqa: E402
from tap import run  # noqa: E402

MKCERTS = os.path.join(TOP, "scripts", "mkcerts.sh")
ADDRS = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]


def certset(dest, mode, prefix=""):
    tmp = dest + "/.mk-" + prefix
    subprocess.run(["sh", MKCERTS, tmp, mode], check=True)
    for f in os.listdir(tmp):
        shutil.copy(os.path.join(tmp, f), os.path.join(dest, prefix + f))
    shutil.rmtree(tmp)


def main(t):
    port = common_port(ADDRS)
    nodes = []
    for i, a in enumerate(ADDRS):
        n = Node(f"cl{i + 1}", addr=a, engine="postgresql")
        n.pg_port = port
        n.write_conf()
        os.makedirs(n.files, exist_ok=True)
        nodes.append(n)
    m, r1, r2 = nodes
    tmp = m.path("certs")
    os.makedirs(tmp)
    certset(tmp, "valid")
    certset(tmp, "valid", "other-")
    for n in nodes:
        for f in os.listdir(tmp):
            shutil.copy(os.path.join(tmp, f), n.path("files", f))
    try:
        for n in nodes:
            n.start(timeout=120)
            rc, out, err = n.nb("database", "cluster", "certs", "dbclusterserver.key", "dbclusterserver.cer",
                                "dbclusterclient.key", "dbclusterclient.cer", "CA.cer")
            t.eq((rc, out), (0, "Certificates updated\n"), f"{n.addr}: certificates set")
        m.psql("INSERT INTO spaces(name, uri) VALUES ('before-cluster', 'b@x')")

        # A lower-case y does not proceed.
        rc, out, err = m.nb("database", "cluster", "initialize", input="y\n")
        t.ok(rc == 1 and "Are you sure you wish to initialize this node as a new database cluster? (Y/n)" in out + err and
             "cancelled" in err, "initialize: the reference's warning; y cancels", out + err)
        t.ok("Status                   : Disabled" in status(m), "nothing changed")
        rc, out, err = m.nb("database", "cluster", "initialize", input="Y\n")
        t.ok(rc == 0 and out.endswith("Please wait...\nInitialize started...\n"), "Y starts the initialize", out + err)
        out = wait_done(m, "database cluster initialize")
        t.ok("Last command             : 'database cluster initialize' (Success)" in out and
             "Status                   : Enabled" in out and
             "    127.0.0.11 (me)      : Connected Master\n" in out and
             "Node in use              : 127.0.0.11" in out, "the master: Enabled, Connected Master", out)

        # The master serves TLS with the server certificate; without a client
        # certificate nothing gets in.
        p = subprocess.run(["openssl", "s_client", "-starttls", "postgres", "-connect", f"127.0.0.11:{port}",
                            "-CAfile", m.path("files", "CA.cer"), "-verify_return_error"],
                           input="", capture_output=True, text=True, timeout=30)
        t.ok("Verify return code: 0 (ok)" in p.stdout and "CN = db-cluster-server" in p.stdout,
             "the master serves TLS with the server certificate, verified by the CA", p.stdout[-800:] + p.stderr[-300:])
        p = subprocess.run(["psql", f"host=127.0.0.11 port={port} user=postgres dbname=postgres sslmode=require",
                            "-c", "select 1"], capture_output=True, text=True, timeout=30)
        t.ok(p.returncode != 0 and "certificate" in p.stderr, "a client without a certificate is refused", p.stderr)

        for n in (r1, r2):
            rc, out, err = n.nb("database", "cluster", "join", "127.0.0.11", input="Y\n")
            t.ok(rc == 0 and "Are you sure you wish to join this node to an existing database cluster? (Y/n)" in out + err and
                 "The contents of this node's database will be destroyed!" in out + err and
                 out.endswith("Join started...\n"), f"{n.addr}: join with the reference's warning", out + err)
            out = wait_done(n, "database cluster join 127.0.0.11")
            t.ok("'database cluster join 127.0.0.11' (Success)" in out and "Status                   : Enabled" in out and
                 "Node in use              : 127.0.0.11" in out, f"{n.addr}: joined", out)

        t.eq(r1.psql("SELECT name FROM spaces").split(), ["before-cluster"], "the replica has the master's data")
        m.psql("INSERT INTO spaces(name, uri) VALUES ('in-cluster', 'c@x')")
        for n in (r1, r2):
            t.eq(wait_for(lambda: n.psql("SELECT name FROM spaces ORDER BY name").split() == ["before-cluster", "in-cluster"]),
                 True, f"{n.addr}: a write on the master is replicated")
        p = subprocess.run(["psql", "-X", "-h", r1.path("state", "pgrun"), "-p", str(port), "-U", "postgres", "-d", "nodebak",
                            "-c", "INSERT INTO spaces(name, uri) VALUES ('x', 'x')"], capture_output=True, text=True)
        t.ok(p.returncode != 0 and "read-only" in p.stderr, "a replica is read-only", p.stderr)

        want = ["    127.0.0.11 (me)      : Connected Master\n",
                "    127.0.0.12           : Connected Slave ( In Sync )\n",
                "    127.0.0.13           : Connected Slave ( In Sync )\n"]
        out = wait_for(lambda: (lambda o: o if all(w in o for w in want) else None)(status(m)))
        t.ok(out, "master's status: itself Connected Master, both replicas In Sync", status(m))
        want = ["    127.0.0.11           : Connected Master\n",
                "    127.0.0.12 (me)      : Connected Slave ( In Sync )\n",
                "    127.0.0.13           : Connected Slave ( In Sync )\n"]
        out = wait_for(lambda: (lambda o: o if all(w in o for w in want) else None)(status(r1)))
        t.ok(out, "a replica's status: the master and every replica, itself marked (me)", status(r1))

        # An IPv6 replica the master knows only by its slot (docs/cluster.md,
        # "Status lines") is listed under its address, not its slot name.
        slot = "nodebak_v6_fd000017000000000000000000000012"
        m.psql(f"SELECT pg_create_physical_replication_slot('{slot}')", db="postgres")
        want = "    fd00:17::12          : Unreachable ( known to the master, not connected )\n"
        out = wait_for(lambda: (lambda o: o if want in o else None)(status(m)))
        t.ok(out and slot not in out and "127.0.0.12           : Connected Slave ( In Sync )" in out,
             "an IPv6 replica's slot is shown as its address", status(m))
        m.psql(f"SELECT pg_drop_replication_slot('{slot}')", db="postgres")

        # A snapshot on a replica (pg_dump on a hot standby); its rollback is
        # refused while the server still follows a master, even when the
        # settings say Error rather than Enabled.
        rc, out, err = r1.nb("backup", "snapshot", "on-replica")
        t.eq((rc, out), (0, "on-replica.bak ready for download\n"), "backup snapshot on a replica")
        p = r1.path("state", "cluster.conf")
        saved = open(p).read()
        open(p, "w").write(re.sub(r"(?m)^status = .*$", "status = Error", saved))
        rc, out, err = r1.nb("backup", "rollback", "on-replica.bak", "--yes")
        t.ok(rc == 1 and "this node's database server is a replica of another node (read-only); run database cluster remove first" in err
             and not os.path.exists(r1.path("state", "pg-restore.pgdump")),
             "rollback refused on a server that is still a replica, before anything changed", err)
        open(p, "w").write(saved)

        # Remove on a replica: its data becomes the local database.
        rc, out, err = r2.nb("database", "cluster", "remove", input="Y\n")
        t.ok(rc == 0 and "Are you sure you wish to remove this node from the current cluster? (Y/n)" in out + err and
             out.endswith("Remove started...\n"), "remove with the reference's warning", out + err)
        out = wait_done(r2, "database cluster remove")
        t.ok("Status                   : Disabled" in out and "'database cluster remove' (Success)" in out and
             "Node in use              : None" in out, "removed: Disabled, Success", out)
        r2.psql("INSERT INTO spaces(name, uri) VALUES ('local', 'l@x')")
        t.eq(r2.psql("SELECT name FROM spaces ORDER BY name").split(), ["before-cluster", "in-cluster", "local"],
             "the removed node keeps the data and is writable")
        out = wait_for(lambda: (lambda o: o if "127.0.0.13" not in o else None)(status(m)))
        t.ok(out and "127.0.0.12           : Connected Slave ( In Sync )" in out, "the master no longer lists it", status(m))

        # A join with a client certificate from another CA fails; the node
        # keeps its own database.
        rc, out, err = r2.nb("database", "cluster", "certs", "other-dbclusterclient.key", "other-dbclusterclient.cer", "other-CA.cer")
        t.eq(rc, 0, "client-only certificates from another CA")
        rc, out, err = r2.nb("database", "cluster", "join", "127.0.0.11", input="Y\n")
        out = wait_done(r2, "database cluster join 127.0.0.11")
        t.ok(re.match(r"ERROR : copying the master's database from 127.0.0.11: pg_basebackup failed", out) and
             "Status                   : Error" in out and "'database cluster join 127.0.0.11' (Failed)" in out,
             "the failed join: ERROR line, Status Error, Failed", out)
        t.eq(r2.psql("SELECT name FROM spaces ORDER BY name").split(), ["before-cluster", "in-cluster", "local"],
             "the node still has its own database")
        rc, out, err = r2.nb("database", "cluster", "clear", "error")
        t.eq((rc, out), (0, "Error cleared\n"), "clear error")
        t.ok("Status                   : Disabled" in status(r2) and "ERROR" not in status(r2), "status Disabled again")
    finally:
        for n in nodes:
            n.cleanup()


run(main)
