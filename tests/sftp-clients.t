#!/usr/bin/env python3
"""sftp-clients.t: real SFTP clients against the real nodebak-ftpd on
loopback: OpenSSH sftp (batch: ls, get, put, rename, rm, df) with key and
password logins, scp in SFTP mode (download and upload, -p), curl sftp://,
lftp sftp:// mirror, paramiko. Downloaded archives are byte-identical and
verify; an archive uploaded back verifies and restores the node (its
database rows and files root as at the snapshot); an upload is visible
under its name only once complete."""
import hashlib
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sftp_util import need_paramiko  # noqa: E402
need_paramiko()
from sftp_util import SshNode, require_ftpd  # noqa: E402
from nodestate import snapshot_of  # noqa: E402
from tap import run  # noqa: E402


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main(t):
    require_ftpd(t)
    n = SshNode("clients1")
    n.start_all()
    try:
        # What the snapshot holds: rows in the database, files in the root.
        con = sqlite3.connect(n.db)
        con.executescript("""
            INSERT INTO spaces(name, uri, passcode) VALUES ('Board room', 'board', '1234'), ('Lab', 'lab', NULL);
            INSERT INTO users(jid, name) VALUES ('alice@example.com', 'Alice');
        """)
        con.commit()
        con.close()
        os.makedirs(n.path("files", "licences"))
        with open(n.path("files", "licences", "cms.lic"), "w") as f:
            f.write("licence: base\n")
        with open(n.path("files", "node.cer"), "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nold\n-----END CERTIFICATE-----\n")
        rc, out, err = n.nb("backup", "snapshot", "nightly")
        t.eq(rc, 0, "snapshot nightly made")
        old = snapshot_of(n)
        bak = n.path("files", "backups", "nightly.bak")
        local = os.path.join(n.home, "dl")
        os.makedirs(local)
        big = os.path.join(n.home, "big.bin")
        with open(big, "wb") as f:
            f.write(os.urandom(24 * 1024 * 1024 + 12345))

        # OpenSSH sftp, key login.
        rc, out, err = n.sftp(f"""ls -l backups
get backups/nightly.bak {local}/nightly.bak
put {big} up.bin
rename up.bin up2.bin
get up2.bin {local}/big.back
df
rm up2.bin
ls
""")
        t.eq(rc, 0, "sftp batch (key login) succeeds", )
        t.ok("nightly.bak" in out and "nightly.json" in out, "sftp ls -l lists the archive and its .json", out)
        t.eq(sha(os.path.join(local, "nightly.bak")), sha(bak), "sftp get: archive byte-identical")
        t.eq(sha(os.path.join(local, "big.back")), sha(big), "sftp put then get of 24 MiB: identical")
        t.ok("Avail" in out, "sftp df answers (statvfs@openssh.com)", out)
        t.ok(not os.path.exists(n.path("files", "up2.bin")) and not os.path.exists(n.path("files", "up.bin")),
             "rename and rm took effect")

        # OpenSSH sftp, password login, readonly.
        # The archive is in clear (no recipients): readonly sees it listed
        # but may not download it; its .json holds no secret.
        rc, out, err = n.sftp(f"ls -l backups\nget backups/nightly.json {local}/ro.json\n"
                              f"-get backups/nightly.bak {local}/ro.bak\n", user="ro", key=False)
        t.ok(rc == 0 and "nightly.bak" in out and
             sha(os.path.join(local, "ro.json")) == sha(n.path("files", "backups", "nightly.json")) and
             not os.path.exists(os.path.join(local, "ro.bak")) and "Permission denied" in err,
             "readonly password login: lists the archive, downloads its .json, "
             "may not download the archive in clear", out + err)
        rc, out, err = n.sftp(f"put {big} backups/x.bin\n", user="ro", key=False)
        t.ok(rc != 0 and not os.path.exists(n.path("files", "backups", "x.bin")), "readonly cannot upload")

        # scp (SFTP mode), both ways, with -p.
        scp = ["scp"] + n.ssh_opts("admin") + ["-P", str(n.sftp_port)]
        p = subprocess.run(scp + ["-p", f"admin@{n.addr}:backups/nightly.bak", f"{local}/scp.bak"],
                           capture_output=True, text=True, timeout=60, env=n.ssh_env())
        st_remote, st_local = os.stat(bak), os.stat(f"{local}/scp.bak")
        t.ok(p.returncode == 0 and sha(f"{local}/scp.bak") == sha(bak) and
             int(st_local.st_mtime) == int(st_remote.st_mtime), "scp -p download: identical, mtime kept", p.stderr)
        os.utime(big, (1600000000, 1600000000))
        os.chmod(big, 0o640)
        p = subprocess.run(scp + ["-p", big, f"admin@{n.addr}:scp-up.bin"],
                           capture_output=True, text=True, timeout=60, env=n.ssh_env())
        up = n.path("files", "scp-up.bin")
        t.ok(p.returncode == 0 and os.path.exists(up) and sha(up) == sha(big), "scp upload: identical", p.stderr)
        t.ok(os.path.exists(up) and int(os.stat(up).st_mtime) == 1600000000 and
             (os.stat(up).st_mode & 0o777) == 0o640, "scp -p upload keeps mtime and mode")

        # curl sftp:// (libssh2): key download, password upload.
        p = subprocess.run(["curl", "-sS", "--insecure", "--key", n.keys["admin"], "--pubkey",
                            n.keys["admin"] + ".pub", "-u", "admin:",
                            f"sftp://{n.addr}:{n.sftp_port}/backups/nightly.bak", "-o", f"{local}/curl.bak"],
                           capture_output=True, text=True, timeout=60, env=n.ssh_env())
        t.ok(p.returncode == 0 and sha(f"{local}/curl.bak") == sha(bak), "curl sftp:// download (key)", p.stderr)
        p = subprocess.run(["curl", "-sS", "--insecure", "-u", "admin:admin-Pass-1", "-T", big,
                            f"sftp://{n.addr}:{n.sftp_port}/curl-up.bin"],
                           capture_output=True, text=True, timeout=60, env=n.ssh_env())
        t.ok(p.returncode == 0 and sha(n.path("files", "curl-up.bin")) == sha(big),
             "curl sftp:// upload (password)", p.stderr)
        p = subprocess.run(["curl", "-sS", "--insecure", "-u", "admin:admin-Pass-1",
                            f"sftp://{n.addr}:{n.sftp_port}/backups/"],
                           capture_output=True, text=True, timeout=60, env=n.ssh_env())
        t.ok(p.returncode == 0 and "nightly.bak" in p.stdout, "curl sftp:// lists a folder", p.stderr)

        # lftp sftp:// mirror (OpenSSH as its transport).
        mirror = os.path.join(n.home, "mirror")
        conn = "ssh -a -x " + " ".join(n.ssh_opts("admin"))
        p = subprocess.run(["lftp", "-c", f"set sftp:connect-program '{conn}'; "
                            f"open -u admin, -p {n.sftp_port} sftp://{n.addr}; mirror backups {mirror}"],
                           capture_output=True, text=True, timeout=120, env=n.ssh_env())
        want = sorted(os.listdir(n.path("files", "backups")))
        t.ok(p.returncode == 0 and sorted(os.listdir(mirror)) == want and
             all(sha(os.path.join(mirror, x)) == sha(n.path("files", "backups", x)) for x in want),
             "lftp mirror of backups/ is identical", p.stderr + p.stdout)

        # paramiko's SFTPClient.
        c = n.paramiko_client("admin", key=False)
        sf = c.open_sftp()
        t.ok("backups" in sf.listdir("/") and "nightly.bak" in sf.listdir("/backups"), "paramiko listdir")
        sf.get("/backups/nightly.bak", f"{local}/pm.bak")
        t.eq(sha(f"{local}/pm.bak"), sha(bak), "paramiko get: identical")
        sf.mkdir("/pm")
        sf.put(big, "/pm/big.bin")
        sf.chmod("/pm/big.bin", 0o600)
        sf.utime("/pm/big.bin", (1500000000, 1500000000))
        a = sf.stat("/pm/big.bin")
        t.ok(a.st_size == os.path.getsize(big) and (a.st_mode & 0o777) == 0o600 and a.st_mtime == 1500000000,
             "paramiko put, chmod, utime, stat")
        sf.rename("/pm/big.bin", "/pm/b2.bin")
        sf.remove("/pm/b2.bin")
        sf.rmdir("/pm")
        t.ok(not os.path.exists(n.path("files", "pm")), "paramiko rename, remove, rmdir")
        t.eq(sf.normalize("."), "/", "REALPATH . is /")
        with sf.open("/append.txt", "w") as f:
            f.write(b"one\n")
        with sf.open("/append.txt", "a") as f:
            f.write(b"two\n")
        t.eq(open(n.path("files", "append.txt"), "rb").read(), b"one\ntwo\n", "paramiko append keeps the old bytes")
        sf.close()
        c.close()

        # An upload is not visible under its name until it is closed.
        c = n.paramiko_client("admin")
        sf = c.open_sftp()
        f = sf.open("/backups/slow.bak", "w")
        f.write(b"x" * 100000)
        f.flush()
        visible = os.path.exists(n.path("files", "backups", "slow.bak"))
        listed = "slow.bak" in sf.listdir("/backups")
        f.close()
        t.ok(not visible and not listed and os.path.getsize(n.path("files", "backups", "slow.bak")) == 100000,
             "upload hidden until CLOSE, then complete")
        sf.remove("/backups/slow.bak")
        sf.close()
        c.close()

        # An archive uploaded back verifies and restores the node: change
        # the node (rows, a file changed, one added, one removed; the
        # uploads above are extra files too), then roll back.
        con = sqlite3.connect(n.db)
        con.executescript("""
            DELETE FROM spaces WHERE uri = 'lab';
            UPDATE spaces SET passcode = '9999';
            INSERT INTO users(jid, name) VALUES ('mallory@example.com', 'Mallory');
        """)
        con.commit()
        con.close()
        with open(n.path("files", "node.cer"), "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nrenewed\n-----END CERTIFICATE-----\n")
        with open(n.path("files", "extra.key"), "w") as f:
            f.write("not in the snapshot\n")
        os.unlink(n.path("files", "licences", "cms.lic"))
        changed = snapshot_of(n)
        t.ok(changed["db"] != old["db"] and changed["files"] != old["files"],
             "the node's database and files root differ from the snapshot's")
        rc, out, err = n.sftp(f"put {local}/nightly.bak backups/restored.bak\n")
        t.eq(rc, 0, "archive uploaded back as restored.bak")
        rc, out, err = n.nb("backup", "verify", "restored.bak")
        t.ok(rc == 0 and out.startswith("restored.bak: OK"), "uploaded archive verifies", out + err)
        rc, out, err = n.nb("backup", "rollback", "restored.bak", input="Y\n", timeout=300)
        t.ok(rc == 0 and "Restored from restored.bak (snapshot nightly of node clients1, taken " in out,
             "uploaded archive restores the node (rollback with Y)", out + err)
        new = snapshot_of(n)
        t.eq(new["db"], old["db"], "after the rollback: every table, row by row, as at the snapshot")
        t.eq(new["files"], old["files"],
             "after the rollback: the files root as at the snapshot (no upload, no extra file)")
        t.eq(new["conf"], old["conf"], "after the rollback: nodebak.conf as at the snapshot")

        log = n.log("ftpd")
        t.ok("admin" in log and "nightly.bak" in log, "logins and transfers are logged")
    finally:
        n.cleanup()


run(main)
