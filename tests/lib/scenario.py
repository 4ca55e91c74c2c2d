"""scenario.py: steps the rollback scenario tests share: fill a node's
database with data, take the snapshot a test restores, fill a filesystem
up to a given free space, and wait (bounded) for a condition."""
import json
import os
import socket
import sqlite3
import time

from nodestate import snapshot_of

MIB = 1 << 20


def sql(db, script, many=None):
    """Run script (several statements) on the SQLite database db; with
    many=(statement, rows), also run one statement for each row."""
    con = sqlite3.connect(db)
    try:
        con.executescript(script)
        if many:
            con.executemany(*many)
        con.commit()
    finally:
        con.close()


def add_blobs(db, count, size, also=""):
    """A table blobs of count random rows of size bytes (and the
    statements in also)."""
    sql(db, "CREATE TABLE blobs(id INTEGER PRIMARY KEY, b BLOB);" + also,
        ("INSERT INTO blobs(b) VALUES (?)", [(os.urandom(size),) for _ in range(count)]))


def snapshot(t, n, name="base"):
    """backup snapshot name, as a test step; the node's state it holds."""
    rc, _, err = n.nb("backup", "snapshot", name)
    t.ok(rc == 0, f"snapshot {name}", err)
    return snapshot_of(n)


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path, leave):
    """Make path/filler so that about leave bytes stay free; its path."""
    filler = os.path.join(path, "filler")
    if os.path.exists(filler):
        os.unlink(filler)
    size = free_bytes(path) - leave
    with open(filler, "wb") as f:
        while size > 0:
            k = min(size, MIB)
            f.write(b"\xff" * k)
            size -= k
    return filler


def wait_until(cond, timeout=30, step=0.05):
    """Poll cond until it is true or timeout seconds have passed."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def listening(addr, port):
    """1 when something accepts TCP connections on addr:port."""
    try:
        with socket.create_connection((addr, port), timeout=2):
            return True
    except OSError:
        return False


def schedule_status(n):
    """backup schedule status --json, parsed."""
    rc, out, err = n.nb("backup", "schedule", "status", "--json")
    assert rc == 0, err
    return json.loads(out)


def wait_run(n, start_after):
    """Wait (at most 60 s) until a scheduled run that started at or after
    start_after (test clock) is recorded; its status."""
    deadline = time.time() + 60
    while time.time() < deadline:
        s = schedule_status(n)
        if s["last_end"] is not None and s["last_start"] >= start_after and s["result"]:
            return s
        time.sleep(0.05)
    raise RuntimeError("no scheduled run recorded: " + n.log()[-2000:])


def prom_samples(path):
    """The samples of a Prometheus text-format file, parsed by
    prometheus_client's own parser: [(name, labels dict, value)]."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:  # Debian's package, under another python3 first on PATH
        import sys
        sys.path.append("/usr/lib/python3/dist-packages")
        from prometheus_client.parser import text_string_to_metric_families
    with open(path) as f:
        return [(s.name, s.labels, s.value)
                for fam in text_string_to_metric_families(f.read())
                for s in fam.samples]
