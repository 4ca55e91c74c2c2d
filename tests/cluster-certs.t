#!/usr/bin/env python3
"""cluster-certs.t: `database cluster certs` (five- and three-argument
forms: keys must match certificates, chains must verify against the CA, the
client CN must be postgres, refused while clustering is enabled),
`database cluster localnode` (the node's PostgreSQL server moves to the
interface's address), and `pki csr`, `pki verify`, `pki match`."""
import os
import re
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node, TOP  # noqa: E402
from scenario import listening  # noqa: E402
from tap import run  # noqa: E402

MKCERTS = os.path.join(TOP, "scripts", "mkcerts.sh")


def certset(dest, mode, prefix):
    """mkcerts.sh into a scratch folder, copied into dest with a prefix."""
    tmp = dest + "/.mk-" + prefix
    subprocess.run(["sh", MKCERTS, tmp, mode], check=True)
    for f in os.listdir(tmp):
        shutil.copy(os.path.join(tmp, f), os.path.join(dest, prefix + f))
    shutil.rmtree(tmp)


def set_status(n, status):
    p = n.path("state", "cluster.conf")
    text = open(p).read()
    open(p, "w").write(re.sub(r"(?m)^status = .*$", f"status = {status}", text))


def main(t):
    n = Node("certs1", addr="127.0.0.11", engine="postgresql")
    with open(n.conf) as f:
        conf = f.read()
    with open(n.conf, "w") as f:
        f.write(conf.replace("interface_a = 127.0.0.11\n",
                             "interface_a = 127.0.0.11\ninterface_b = 127.0.0.12\n"))
    os.makedirs(n.files, exist_ok=True)
    certset(n.files, "valid", "")            # the set in use
    certset(n.files, "valid", "other-")      # another CA's set
    certset(n.files, "expired", "old-")      # signed by a third CA, expired
    n.start(timeout=120)
    try:
        # pki match
        rc, out, err = n.nb("pki", "match", "dbclusterserver.key", "dbclusterserver.cer")
        t.eq((rc, out), (0, "dbclusterserver.key matches the certificate in dbclusterserver.cer\n"), "pki match: a key and its certificate")
        rc, out, err = n.nb("pki", "match", "dbclusterserver.key", "dbclusterclient.cer")
        t.eq((rc, err), (1, "pki match: dbclusterserver.key does not match the certificate in dbclusterclient.cer\n"), "pki match: another certificate")
        rc, out, err = n.nb("pki", "match", "dbclusterserver.cer", "dbclusterserver.cer")
        t.ok(rc == 1 and "dbclusterserver.cer: not an unencrypted private key" in err, "pki match: a certificate is no key", err)
        rc, out, err = n.nb("pki", "match", "nosuch.key", "dbclusterserver.cer")
        t.ok(rc == 1 and "nosuch.key: no such file in the files root" in err, "pki match: a missing file is named", err)

        # pki verify
        rc, out, err = n.nb("pki", "verify", "dbclusterserver.cer", "CA.cer")
        t.eq((rc, out), (0, "dbclusterserver.cer: OK (verified against CA.cer)\n"), "pki verify: signed by the CA")
        rc, out, err = n.nb("pki", "verify", "dbclusterserver.cer", "other-CA.cer")
        # Both demo CAs have the same name: the signature is what fails.
        t.ok(rc == 1 and "dbclusterserver.cer does not verify against other-CA.cer: certificate signature failure (depth 0)" in err,
             "pki verify: another CA (same name, other key)", err)
        rc, out, err = n.nb("pki", "verify", "old-dbclusterclient.cer", "old-CA.cer")
        t.ok(rc == 1 and "old-dbclusterclient.cer does not verify against old-CA.cer: certificate has expired" in err,
             "pki verify: an expired certificate", err)
        rc, out, err = n.nb("pki", "verify", "dbclusterserver.cer")
        t.ok(rc == 1 and "the system's trusted CAs" in err, "pki verify without a CA uses the system's trust store", err)

        # pki csr
        rc, out, err = n.nb("pki", "csr", "node1", "CN:node1.example.com",
                            "subjectAltName:127.0.0.11,node1.example.com", "O:Example")
        t.eq((rc, out, err), (0, "Created key file node1.key and CSR node1.csr\nCSR file node1.csr ready for download via SFTP\n", ""),
             "pki csr answers that the CSR is ready for download")
        key, csr = n.path("files", "node1.key"), n.path("files", "node1.csr")
        t.eq(stat.S_IMODE(os.stat(key).st_mode), 0o600, "the new key is 0600")
        p = subprocess.run(["openssl", "req", "-in", csr, "-noout", "-verify", "-text"],
                           capture_output=True, text=True)
        t.ok(p.returncode == 0 and "CN = node1.example.com" in p.stdout and "O = Example" in p.stdout and
             "IP Address:127.0.0.11" in p.stdout and "DNS:node1.example.com" in p.stdout and
             "sha256WithRSAEncryption" in p.stdout and "2048 bit" in p.stdout,
             "the CSR is self-signed, SHA-256, RSA 2048, with its subject and subjectAltName", p.stdout + p.stderr)
        a = subprocess.run(["openssl", "req", "-in", csr, "-noout", "-pubkey"], capture_output=True, text=True).stdout
        b = subprocess.run(["openssl", "pkey", "-in", key, "-pubout"], capture_output=True, text=True).stdout
        t.ok(a and a == b, "the CSR holds the new key's public half")
        rc, out, err = n.nb("pki", "csr", "node1", "CN:x")
        t.ok(rc == 1 and "already exists" in err, "pki csr never overwrites", err)
        rc, out, err = n.nb("pki", "csr", "node2", "O:Example")
        t.ok(rc == 1 and "needs CN:" in err and not os.path.exists(n.path("files", "node2.key")), "pki csr needs a CN", err)
        rc, out, err = n.nb("pki", "csr", "node2", "CN:x", "XX:y")
        t.ok(rc == 1 and "XX:y: expected" in err, "an unknown subject part is refused", err)
        rc, out, err = n.nb("pki", "csr", "node1")
        t.ok(rc == 2 and "pki csr <name> CN:<common name>" in err, "pki csr without a subject prints the usage")

        # database cluster certs
        before = open(n.path("state", "cluster.conf")).read()
        rc, out, err = n.nb("database", "cluster", "certs", "dbclusterserver.key", "dbclusterserver.cer",
                            "dbclusterclient.key", "dbclusterclient.cer", "other-CA.cer")
        t.ok(rc == 1 and "database cluster certs: dbclusterserver.cer does not verify against other-CA.cer: certificate signature failure (depth 0)\n" in err and
             "database cluster certs: dbclusterclient.cer does not verify against other-CA.cer" in err and
             err.endswith("Certificates not changed\n"), "certs with the wrong CA: each chain that fails is named", err)
        rc, out, err = n.nb("database", "cluster", "certs", "dbclusterclient.key", "dbclusterserver.cer",
                            "dbclusterclient.key", "dbclusterclient.cer", "CA.cer")
        t.ok(rc == 1 and "dbclusterclient.key does not match the certificate in dbclusterserver.cer" in err,
             "certs with a server key that is not the server certificate's", err)
        rc, out, err = n.nb("database", "cluster", "certs", "dbclusterserver.key", "dbclusterserver.cer",
                            "dbclusterserver.key", "dbclusterserver.cer", "CA.cer")
        t.ok(rc == 1 and "dbclusterserver.cer: the client certificate's CN is 'db-cluster-server'; the cluster's servers accept only CN 'postgres'" in err,
             "certs with a client certificate whose CN is not postgres", err)
        rc, out, err = n.nb("database", "cluster", "certs", "old-dbclusterserver.key", "old-dbclusterserver.cer",
                            "old-dbclusterclient.key", "old-dbclusterclient.cer", "old-CA.cer")
        t.ok(rc == 1 and "certificate has expired" in err, "certs with expired certificates", err)
        t.eq(open(n.path("state", "cluster.conf")).read(), before, "refused certs leave the settings unchanged")
        rc, out, err = n.nb("database", "cluster", "certs", "a", "b", "c", "d")
        t.ok(rc == 2 and "database cluster certs <client key> <client cert> <CA cert>" in err, "four arguments print the usage", err)

        rc, out, err = n.nb("database", "cluster", "certs", "dbclusterserver.key", "dbclusterserver.cer",
                            "dbclusterclient.key", "dbclusterclient.cer", "CA.cer")
        t.eq((rc, out, err), (0, "Certificates updated\n", ""), "certs with a good set: Certificates updated")
        rc, out, err = n.nb("database", "cluster", "status")
        t.ok(re.search(r"Server Key\s+: dbclusterserver.key\n", out) and re.search(r"Client Certificate\s+: dbclusterclient.cer \(expires in \d+ days\)\n", out) and
             re.search(r"CA Certificate\s+: CA.cer \(expires in \d+ days\)\n", out) and "(expired)" not in out, "status lists the new files", out)
        rc, out, err = n.nb("database", "cluster", "certs", "other-dbclusterclient.key", "other-dbclusterclient.cer", "other-CA.cer")
        t.eq((rc, out), (0, "Certificates updated\n"), "the client-only form")
        rc, out, err = n.nb("database", "cluster", "status")
        t.ok(re.search(r"Server Key\s+: \n", out) and re.search(r"Client Key\s+: other-dbclusterclient.key\n", out) and
             re.search(r"CA Certificate\s+: other-CA.cer \(expires in \d+ days\)\n", out), "it clears the server pair and sets the client pair and CA", out)

        # localnode moves the server to the interface's address.
        t.ok(listening("127.0.0.11", n.pg_port), "the server listens on interface a")
        rc, out, err = n.nb("database", "cluster", "localnode", "c")
        t.ok(rc == 1 and "c: no such interface" in err, "localnode: an interface that is not configured", err)
        rc, out, err = n.nb("database", "cluster", "localnode", "b")
        t.eq((rc, out), (0, "Interface b (127.0.0.12) is now this node's cluster interface\n"), "localnode b", )
        t.ok(listening("127.0.0.12", n.pg_port) and not listening("127.0.0.11", n.pg_port), "the server now listens on interface b's address")
        rc, out, err = n.nb("database", "cluster", "status")
        t.ok(re.search(r"Interface\s+: b\n", out), "status shows Interface : b", out)
        t.eq(n.psql("SELECT version FROM nodebak_schema").strip(), "1", "the database is still there")

        # Refused while clustering is enabled.
        for st in ("Enabled", "Disabling"):
            set_status(n, st)
            before = open(n.path("state", "cluster.conf")).read()
            rc, out, err = n.nb("database", "cluster", "certs", "dbclusterserver.key", "dbclusterserver.cer",
                                "dbclusterclient.key", "dbclusterclient.cer", "CA.cer")
            t.eq((rc, out, err), (1, "", "ERROR: Cannot change certificates when clustering enabled.\n  Disable clustering on this node first\n"),
                 f"certs refused while {st}, as the reference")
            rc, out, err = n.nb("database", "cluster", "localnode", "a")
            t.eq((rc, err), (1, "ERROR: Cannot change the interface when clustering enabled.\n  Disable clustering on this node first\n"),
                 f"localnode refused while {st}")
            t.eq(open(n.path("state", "cluster.conf")).read(), before, "and nothing changed")
        # A cluster command cut off by a stop of the daemon is reported,
        # not left running for ever.
        p = n.path("state", "cluster.conf")
        text = open(p).read()
        text = re.sub(r"(?m)^last_command = .*$", "last_command = database cluster join 127.0.0.99", text)
        text = re.sub(r"(?m)^last_result = .*$", "last_result = Running", text)
        open(p, "w").write(re.sub(r"(?m)^status = .*$", "status = Disabled", text))
        rc, out, err = n.nb("database", "cluster", "status")
        t.ok("'database cluster join 127.0.0.99' (In progress, started" in out, "a running command shows In progress", out)
        n.kill("snapshotd")
        n.start(timeout=120)
        rc, out, err = n.nb("database", "cluster", "status")
        t.ok(out.startswith("ERROR : 'database cluster join 127.0.0.99' was interrupted (nodebak-snapshotd stopped)") and
             "Status                   : Error" in out and "'database cluster join 127.0.0.99' (Failed)" in out,
             "after a restart it is reported as interrupted: Error, Failed", out)
        rc, out, err = n.nb("database", "cluster", "clear", "error")
        t.eq((rc, out), (0, "Error cleared\n"), "clear error")
        set_status(n, "Disabling")
        n.kill("snapshotd")
        n.start(timeout=120)
        t.ok("Status                   : Error" in n.nb("database", "cluster", "status")[1], "so is a remove cut off while Disabling")
        n.nb("database", "cluster", "clear", "error")
        set_status(n, "Disabled")
        rc, out, err = n.nb("--role", "readonly", "database", "cluster", "certs", "dbclusterserver.key", "dbclusterserver.cer",
                            "dbclusterclient.key", "dbclusterclient.cer", "CA.cer")
        t.ok(rc == 1 and "not allowed for a readonly user" in err, "certs needs the admin role", err)
    finally:
        n.cleanup()


run(main)
