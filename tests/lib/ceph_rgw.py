"""ceph_rgw.py: a real S3 endpoint for the tests: a single-node Ceph
cluster (one monitor, one memstore OSD, one radosgw) on 127.0.0.1, in a
scratch folder, as measured in ../shared/notes/ceph-rgw.md. No systemd,
no ceph-mgr, auth none. Every process is stopped by its pid file
(SIGTERM, then SIGKILL), in the order radosgw, OSD, monitor.

    with Rgw() as s3:
        s3.endpoint, s3.access, s3.secret
        s3.admin("bucket", "list")
"""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

TOOLS = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool",
         "ceph")


def available():
    """None when every Ceph program is installed, else what is missing."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    return ", ".join(missing) if missing else None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Rgw:
    def __init__(self, device_mib=2048):
        self.dir = tempfile.mkdtemp(prefix="nodebak-ceph-")
        self.mon_port = _free_port()
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.conf = os.path.join(self.dir, "ceph.conf")
        self.device_bytes = device_mib << 20
        self.access = self.secret = None
        self.started = False
        atexit.register(self.stop)

    def _write_conf(self):
        d = self.dir
        with open(self.conf, "w") as f:
            f.write(f"""[global]
fsid = {self.fsid}
mon_host = v2:127.0.0.1:{self.mon_port}
ms_bind_msgr1 = false
ms_bind_ipv6 = false
public_addr = 127.0.0.1
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
paxos_propose_interval = 0.1
run_dir = {d}/run
log_file = {d}/log/$name.log
pid_file = {d}/run/$name.pid
admin_socket = {d}/run/$name.asok
client_mount_timeout = 30
[mon]
mon_data = {d}/mon/$cluster-$id
[osd]
osd_objectstore = memstore
memstore_device_bytes = {self.device_bytes}
osd_data = {d}/osd/$cluster-$id
[client.rgw.a]
ms_mon_client_mode = crc
rgw_frontends = beast endpoint=127.0.0.1:{self.port}
rgw_exit_timeout_secs = 10
rgw_gc_obj_min_wait = 60
rgw_data = {d}/rgw
""")

    def _run(self, *argv, timeout=60):
        p = subprocess.run(list(argv), capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {p.stderr.strip()}")
        return p.stdout

    def ceph(self, *args, timeout=60):
        return self._run("ceph", "-c", self.conf, *args, timeout=timeout)

    def admin(self, *args, timeout=60):
        """radosgw-admin ARGS, its output parsed as JSON when it is."""
        out = self._run("radosgw-admin", "-c", self.conf, *args,
                        timeout=timeout)
        try:
            return json.loads(out)
        except ValueError:
            return out

    def start(self):
        import uuid
        d = self.dir
        self.fsid = str(uuid.uuid4())
        for sub in ("run", "log", "mon/ceph-a", "osd/ceph-0", "rgw"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        self._write_conf()
        self.started = True
        monmap = os.path.join(d, "monmap")
        self._run("monmaptool", "--create", "--fsid", self.fsid, "--addv",
                  "a", f"[v2:127.0.0.1:{self.mon_port}]", monmap)
        self._run("ceph-mon", "-c", self.conf, "--mkfs", "-i", "a",
                  "--monmap", monmap)
        self._run("ceph-mon", "-c", self.conf, "-i", "a")
        osd_id = self.ceph("osd", "create").strip()
        self._run("ceph-osd", "-c", self.conf, "-i", osd_id, "--mkfs")
        self._run("ceph-osd", "-c", self.conf, "-i", osd_id)
        self._run("radosgw", "-c", self.conf, "-n", "client.rgw.a")
        self._wait_http(30)
        u = self.admin("user", "create", "--uid", "tester",
                       "--display-name", "tester")
        self.access = u["keys"][0]["access_key"]
        self.secret = u["keys"][0]["secret_key"]
        return self

    def _wait_http(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"radosgw did not listen on port {self.port}: "
                           f"see {self.dir}/log")

    def _stop_pid(self, name):
        pidfile = os.path.join(self.dir, "run", f"{name}.pid")
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        end = time.monotonic() + 5
        while time.monotonic() < end:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop(self):
        if not self.started:
            return
        self.started = False
        for name in ("client.rgw.a", "osd.0", "mon.a"):
            self._stop_pid(name)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
