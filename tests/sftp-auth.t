#!/usr/bin/env python3
"""sftp-auth.t: SSH logins and limits of the real nodebak-ftpd: the host
key made at first start (mode 0600) with its fingerprint logged as
OpenSSH prints it; the public-key probe answered only for listed keys;
wrong passwords and unknown users delayed and cut off at the attempt
limit; the login grace; per-address session limits; SHA-1 and CBC
algorithms refused. Other sessions keep being served throughout."""
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sftp_util import need_paramiko  # noqa: E402
need_paramiko()
from sftp_util import SshNode, require_ftpd, wait_until  # noqa: E402
from tap import run  # noqa: E402


def main(t):
    import paramiko
    require_ftpd(t)
    # The per-connection limits are this test's; the lockout of an
    # address across connections is sftp-lockout.t's (off here, or the
    # wrong passwords below would lock out the logins after them).
    n = SshNode("auth1", extra_conf="login_timeout = 3\nmax_login_attempts = 3\nmax_per_address = 4\n"
                  "idle_timeout = 3\nlockout_seconds = 0\n")
    hk = n.path("state", "ssh_host_ed25519_key")
    t.ok(not os.path.exists(hk), "no host key before the first start")
    n.start_all()
    try:
        t.ok(os.path.exists(hk) and (os.stat(hk).st_mode & 0o777) == 0o600, "host key created with mode 0600")
        p = subprocess.run(["ssh-keygen", "-l", "-f", hk], capture_output=True, text=True)
        fp = p.stdout.split()[1] if p.returncode == 0 else "?"
        t.ok(fp.startswith("SHA256:") and fp in n.log("ftpd"), "fingerprint logged as OpenSSH prints it", fp)
        rc, out, err = n.nb("ssh", "fingerprint")
        t.ok(rc == 0 and fp in out, "nodebak ssh fingerprint prints the same fingerprint", out + err)
        p = subprocess.run(["ssh-keyscan", "-p", str(n.sftp_port), "-t", "ed25519", n.addr],
                           capture_output=True, text=True, timeout=30)
        t.ok("ssh-ed25519" in p.stdout and open(hk + ".pub").read().split()[1] in p.stdout
             if os.path.exists(hk + ".pub") else "ssh-ed25519" in p.stdout, "the daemon presents the Ed25519 key")

        # The probe: PK_OK only for a listed key.
        other = os.path.join(n.home, "id_other")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other], check=True)
        base = ["ssh", "-v", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-F", "/dev/null",
                "-o", "PasswordAuthentication=no", "-p", str(n.sftp_port)]
        p = subprocess.run(base + ["-i", other, f"admin@{n.addr}", "backup list"],
                           capture_output=True, text=True, timeout=60, env=n.ssh_env())
        t.ok(p.returncode == 255 and "Server accepts key" not in p.stderr, "unlisted key: refused, no PK_OK")
        p = subprocess.run(base + ["-i", n.keys["ro"], f"admin@{n.addr}", "backup list"],
                           capture_output=True, text=True, timeout=60, env=n.ssh_env())
        t.ok(p.returncode == 255 and "Server accepts key" not in p.stderr, "another user's key: refused")
        p = subprocess.run(base + ["-i", n.keys["admin"], f"admin@{n.addr}", "backup list"],
                           capture_output=True, text=True, timeout=60, env=n.ssh_env())
        t.ok(p.returncode == 0 and "Server accepts key" in p.stderr, "listed key: PK_OK, then login")

        # Probing unlisted keys counts towards the attempt limit (3 here).
        extra = []
        for i in range(3):
            k = os.path.join(n.home, f"id_probe{i}")
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k], check=True)
            extra += ["-i", k]
        p = subprocess.run(base + extra + ["-i", n.keys["admin"], f"admin@{n.addr}", "backup list"],
                           capture_output=True, text=True, timeout=60, env=n.ssh_env())
        t.ok(p.returncode == 255 and "Server accepts key" not in p.stderr,
             "three unlisted keys probed: cut off before the listed one")

        # Wrong passwords: delayed, and the connection is cut at the limit.
        tr = paramiko.Transport((n.addr, n.sftp_port))
        tr.start_client(timeout=20)
        fails, t0, cut = 0, time.time(), False
        for i in range(6):
            try:
                tr.auth_password("admin", f"wrong{i}")
            except paramiko.AuthenticationException:
                fails += 1
            except (paramiko.SSHException, EOFError, OSError):
                cut = True
                break
        took = time.time() - t0
        t.ok(cut and fails <= 3, f"wrong passwords: cut off at the limit ({fails} refused)")
        t.ok(took >= 2.0, f"failed attempts are delayed ({took:.1f} s for {fails})")
        tr.close()
        # Refused by the password check itself: paramiko's
        # AuthenticationException, not BadAuthenticationType (password
        # logins off), a timeout or a cut connection.
        for user, pw in [("nosuch", "x"), ("admin", ""), ("ro", "admin-Pass-1")]:
            try:
                c = n.paramiko_client(user, key=False, password=pw)
                c.close()
                got = "logged in"
            except Exception as e:
                got = f"{type(e).__module__}.{type(e).__name__}: {e}"
            t.eq(got, "paramiko.ssh_exception.AuthenticationException: Authentication failed.",
                 f"password refused: user {user!r}, wrong password")
        c = n.paramiko_client("ro", key=False)
        t.ok(c.get_transport().is_authenticated(), "right password accepted")
        c.close()

        # Login grace: a silent client is cut off.
        sk = socket.create_connection((n.addr, n.sftp_port), timeout=20)
        t0 = time.time()
        sk.settimeout(20)
        try:
            while sk.recv(4096):
                pass
        except OSError:
            pass
        took = time.time() - t0
        sk.close()
        t.ok(took < 10, f"silent client cut off after the login grace ({took:.1f} s)")

        # Idle timeout: a logged-in SFTP session that says nothing is ended.
        c = n.paramiko_client("admin")
        sf = c.open_sftp()
        sf.listdir("/")
        time.sleep(5)
        try:
            sf.listdir("/")
            ended = False
        except Exception:
            ended = True
        t.ok(ended, "idle SFTP session ended after idle_timeout")
        c.close()

        # Per-address limit (max_per_address = 4): the fifth is refused.
        held = []
        for i in range(4):
            c = n.paramiko_client("admin")
            held.append(c)
        refused = False
        try:
            c = n.paramiko_client("admin")
            c.close()
        except Exception:
            refused = True
        t.ok(refused, "a session beyond max_per_address is refused")
        for c in held:
            c.close()
        t.ok(wait_until(lambda: _login_ok(n), 15), "sessions are accepted again once others end")

        # Modern algorithms only.
        for opt, what in [(["-o", "KexAlgorithms=diffie-hellman-group14-sha1,diffie-hellman-group1-sha1"], "SHA-1 key exchange"),
                          (["-c", "aes128-cbc,aes256-cbc"], "CBC ciphers"),
                          (["-o", "HostKeyAlgorithms=ssh-rsa,ssh-dss"], "SHA-1 host key signatures"),
                          (["-c", "aes128-ctr", "-o", "MACs=hmac-sha1,hmac-md5"], "SHA-1 MACs")]:
            o = [x if x != "LogLevel=error" else "LogLevel=info" for x in n.ssh_opts("admin")]
            p = subprocess.run(["ssh"] + o + opt + ["-p", str(n.sftp_port), f"admin@{n.addr}", "backup list"],
                               capture_output=True, text=True, timeout=60, env=n.ssh_env())
            t.ok(p.returncode == 255 and "no matching" in p.stderr.lower(), f"refused: {what}", p.stderr)
        for cipher in ["chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes256-ctr"]:
            p = subprocess.run(["ssh"] + n.ssh_opts("admin", cipher=cipher) + ["-p", str(n.sftp_port),
                                                                                f"admin@{n.addr}", "backup list"],
                               capture_output=True, text=True, timeout=60, env=n.ssh_env())
            t.eq(p.returncode, 0, f"accepted: {cipher}")
        t.ok("admin" in n.log("ftpd"), "logins are logged")
    finally:
        n.cleanup()


def _login_ok(n):
    try:
        c = n.paramiko_client("admin")
        c.close()
        return True
    except Exception:
        return False


run(main)
