"""clusterlib.py: helpers for database-cluster scenario tests: a port free
on several loopback addresses, certificate sets made with openssl (valid,
or expiring a few seconds from now), and polling of `database cluster
status`."""
import datetime
import os
import re
import socket
import subprocess
import time


def common_port(addrs):
    """A TCP port free on every address of addrs."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((addrs[0], 0))
            port = s.getsockname()[1]
        ok = True
        for a in addrs[1:]:
            with socket.socket() as s:
                try:
                    s.bind((a, port))
                except OSError:
                    ok = False
        if ok:
            return port
    raise RuntimeError("no common free port")


def make_certs(dest, seconds=None, ca_name="test cluster CA", serial="1000"):
    """A CA (CA.cer, CA.key) and server and client pairs named as on the
    appliance (dbclusterserver.key/.cer, dbclusterclient.key/.cer, client
    CN postgres) in dest. seconds: the leaf certificates expire that many
    seconds from now (default: in 30 days). serial: the first leaf's serial
    number (hexadecimal), so that sets can be told apart by serial."""
    os.makedirs(dest, exist_ok=True)
    work = os.path.join(dest, ".ca")
    os.makedirs(os.path.join(work, "new"), exist_ok=True)
    open(os.path.join(work, "index.txt"), "w").close()
    with open(os.path.join(work, "serial"), "w") as f:
        f.write(serial + "\n")
    cnf = os.path.join(work, "ca.cnf")
    with open(cnf, "w") as f:
        f.write(f"""[ca]
default_ca = t
[t]
dir = {work}
database = {work}/index.txt
new_certs_dir = {work}/new
serial = {work}/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = copy
[any]
commonName = supplied
organizationName = optional
""")

    def sh(*argv):
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
       "-subj", f"/O=nodebak test/CN={ca_name}", "-keyout", os.path.join(dest, "CA.key"),
       "-out", os.path.join(dest, "CA.cer"))
    now = datetime.datetime.now(datetime.timezone.utc)
    end = now + datetime.timedelta(seconds=seconds if seconds else 30 * 86400)
    start = now - datetime.timedelta(minutes=5)
    fmt = "%Y%m%d%H%M%SZ"
    for who, cn in (("server", "db-cluster-server"), ("client", "postgres")):
        key = os.path.join(dest, f"dbcluster{who}.key")
        csr = os.path.join(work, f"{who}.csr")
        sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj",
           f"/O=nodebak test/CN={cn}", "-keyout", key, "-out", csr)
        sh("openssl", "ca", "-batch", "-notext", "-config", cnf, "-cert", os.path.join(dest, "CA.cer"),
           "-keyfile", os.path.join(dest, "CA.key"), "-startdate", start.strftime(fmt),
           "-enddate", end.strftime(fmt), "-in", csr, "-out", os.path.join(dest, f"dbcluster{who}.cer"))
        os.chmod(key, 0o600)
    return end.timestamp()


def status(n):
    return n.nb("database", "cluster", "status")[1]


def wait_done(n, cmd, timeout=120):
    """Poll status until cmd is the last command and no longer running."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = status(n)
        m = re.search(r"Last command\s+: '(.*)' \((Success|Failed)\)", out)
        if m and m.group(1) == cmd:
            return out
        time.sleep(0.3)
    return status(n)


def wait_for(fn, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    return fn()


def status_has(n, lines, timeout=30):
    """The status text once it holds every line of lines, else None."""
    return wait_for(lambda: (lambda o: o if all(w in o for w in lines) else None)(status(n)), timeout)
