#!/usr/bin/env python3
"""cert-expiry.t: the certificate expiry early warning on the test clock:
certificates expiring in 5, 29, 31 and -1 days show the right words in
`database cluster status` and `pki inspect`, their notAfter in the metrics
file (parsed by prometheus_client's parser), and the daily warning names in
the daemon log exactly those within [pki] warn_days (30)."""
import calendar
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node, TBIN  # noqa: E402
from tap import run  # noqa: E402

DAY = 86400
FMT = "%Y%m%d%H%M%SZ"


def sh(*argv):
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


def make_certs(dest, work, not_after):
    """CA.cer (openssl req -x509 -days 33) and server/client pairs signed by
    it with the exact notAfter given (openssl ca -enddate)."""
    os.makedirs(os.path.join(work, "new"), exist_ok=True)
    open(os.path.join(work, "index.txt"), "w").close()
    with open(os.path.join(work, "serial"), "w") as f:
        f.write("1000\n")
    cnf = os.path.join(work, "ca.cnf")
    with open(cnf, "w") as f:
        f.write(f"[ca]\ndefault_ca = t\n[t]\ndir = {work}\ndatabase = {work}/index.txt\n"
                f"new_certs_dir = {work}/new\nserial = {work}/serial\ndefault_md = sha256\n"
                "policy = any\nunique_subject = no\n[any]\ncommonName = supplied\n")
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "33",
       "-subj", "/CN=expiry test CA", "-keyout", os.path.join(work, "CA.key"),
       "-out", os.path.join(dest, "CA.cer"))
    start = time.strftime(FMT, time.gmtime(time.time() - 600))
    for who, cn in (("server", "db-cluster-server"), ("client", "postgres")):
        key = os.path.join(dest, f"dbcluster{who}.key")
        csr = os.path.join(work, f"{who}.csr")
        sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", f"/CN={cn}",
           "-keyout", key, "-out", csr)
        sh("openssl", "ca", "-batch", "-notext", "-config", cnf, "-cert", os.path.join(dest, "CA.cer"),
           "-keyfile", os.path.join(work, "CA.key"), "-startdate", start,
           "-enddate", time.strftime(FMT, time.gmtime(not_after[who])), "-in", csr,
           "-out", os.path.join(dest, f"dbcluster{who}.cer"))
        os.chmod(key, 0o600)


def not_after(path):
    out = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", path],
                         check=True, capture_output=True, text=True).stdout
    return calendar.timegm(time.strptime(out.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y GMT"))


def metrics(path):
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        sys.path.append("/usr/lib/python3/dist-packages")
        from prometheus_client.parser import text_string_to_metric_families
    with open(path) as f:
        return {s.labels.get("file"): s.value for fam in text_string_to_metric_families(f.read())
                for s in fam.samples if s.name == "nodebak_certificate_not_after_timestamp_seconds"}


def cert_words(out):
    return {m.group(1): m.group(2) for m in re.finditer(
        r"(?m)^  (Server Certificate|Client Certificate|CA Certificate)\s+: \S+ ?(.*)$", out)}


def wait_log(n, start, pattern, count):
    deadline = time.time() + 30
    while time.time() < deadline:
        found = re.findall(pattern, n.log()[start:])
        if len(found) >= count:
            return found
        time.sleep(0.1)
    return re.findall(pattern, n.log()[start:])


def main(t):
    n = Node("certexp", daemon=os.path.join(TBIN, "nodebak-snapshotd-fault"),
             extra_conf="[metrics]\ntextfile = metrics.prom\n")
    # The test clock T is two days ahead of the wall clock, so that every
    # certificate is still valid by the wall clock (certs verifies chains).
    T = (int(time.time()) // 60 + 2 * 24 * 60) * 60
    os.makedirs(n.files, exist_ok=True)
    make_certs(n.files, n.path("ca"), {"server": T + 5 * DAY + 3600, "client": T + 29 * DAY + 3600})
    na = {f: not_after(os.path.join(n.files, f)) for f in
          ("dbclusterserver.cer", "dbclusterclient.cer", "CA.cer")}
    t.ok(T + 31 * DAY <= na["CA.cer"] < T + 32 * DAY, "the CA expires 31 days after the test clock")
    try:
        n.start()
        # The metrics job that runs at start holds the node's operation
        # lock for a moment; a console command meanwhile is refused, by
        # design ("another operation is in progress (metrics)").
        deadline = time.time() + 30
        while True:
            rc, out, err = n.nb("database", "cluster", "certs", "dbclusterserver.key", "dbclusterserver.cer",
                                "dbclusterclient.key", "dbclusterclient.cer", "CA.cer")
            if "another operation is in progress (metrics)" not in err or time.time() > deadline:
                break
            time.sleep(0.1)
        t.eq((rc, err), (0, ""), "the certificates are configured")
        mark = len(n.log())
        rc, out, err = n.nb("test", "clock", "set", str(T))
        t.eq((rc, err), (0, ""), "test clock set")
        rc, out, err = n.nb("database", "cluster", "status")
        t.eq(cert_words(out), {"Server Certificate": "(expires in 5 days)",
                               "Client Certificate": "(expires in 29 days)",
                               "CA Certificate": "(expires in 31 days)"},
             "status: days left for each configured certificate")
        rc, out, err = n.nb("pki", "inspect", "dbclusterserver.cer")
        t.ok(rc == 0 and "  Status: valid (expires in 5 days)\n" in out, "pki inspect: days left", out)
        warned = wait_log(n, mark, r"pki: certificate (\S+) (expires in \d+ days?|expired \d+ days? ago)", 2)
        time.sleep(0.5)
        warned = re.findall(r"pki: certificate (\S+) (expires in \d+ days?|expired \d+ days? ago)",
                            n.log()[mark:])
        t.eq(sorted(warned), [("dbclusterclient.cer", "expires in 29 days"),
                              ("dbclusterserver.cer", "expires in 5 days")],
             "the daily check warns of 5 and 29 days, not 31 (warn_days 30)")

        rc, out, err = n.nb("test", "clock", "advance", "120")  # the hourly metrics job is due
        deadline = time.time() + 20
        m = {}
        while time.time() < deadline and len(m) < 3:
            m = metrics(n.path("metrics.prom")) if os.path.exists(n.path("metrics.prom")) else {}
            time.sleep(0.1)
        t.eq(m, {f: float(v) for f, v in na.items()}, "metrics: each certificate's notAfter")

        # Six days on: the server certificate expired a day ago.
        mark = len(n.log())
        n.nb("test", "clock", "set", str(T + 6 * DAY))
        rc, out, err = n.nb("database", "cluster", "status")
        t.eq(cert_words(out), {"Server Certificate": "(expired)",
                               "Client Certificate": "(expires in 23 days)",
                               "CA Certificate": "(expires in 25 days)"},
             "status six days later: (expired) and the days left")
        rc, out, err = n.nb("pki", "inspect", "dbclusterserver.cer")
        t.ok(rc == 0 and "  Status: EXPIRED (expired)\n" in out, "pki inspect: EXPIRED (expired)", out)
        rc, out, err = n.nb("pki", "verify", "dbclusterserver.cer", "CA.cer")
        t.ok(rc == 1 and "expired" in err, "pki verify checks validity by the same clock", out + err)
        rc, out, err = n.nb("pki", "verify", "dbclusterclient.cer", "CA.cer")
        t.eq((rc, out), (0, "dbclusterclient.cer: OK (verified against CA.cer)\n"), "and passes one still valid")
        warned = wait_log(n, mark, r"pki: certificate (\S+) (expires in \d+ days?|expired \d+ days? ago)", 3)
        t.eq(sorted(warned), [("CA.cer", "expires in 25 days"), ("dbclusterclient.cer", "expires in 23 days"),
                              ("dbclusterserver.cer", "expired 1 day ago")],
             "the next daily check: one line per certificate, the expired one -1 day")
        time.sleep(0.5)
        t.eq(len(re.findall(r"pki: certificate ", n.log()[mark:])), 3, "once a day: no repeats")
    finally:
        n.cleanup()


run(main)
