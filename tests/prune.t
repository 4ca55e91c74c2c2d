#!/usr/bin/env python3
"""prune.t: backup prune on a real daemon through the real console. Archives
with chosen MANIFEST times (re-signed with the node's key) meet a
[retention] policy: the dry run lists every archive with KEEP/DELETE and
the rule, changes nothing, and matches a model of the rules written here;
prune deletes exactly those pairs (.bak and .json) and logs each; manual,
safety and pinned archives stay; backup delete refuses a pinned archive; a
pin survives a restart; min_keep and max_space (with its alert). Then the
test daemon is SIGKILLed at every fault point of a prune: after a restart
no orphan .json, no hidden leftover and no half pair is there, and a new
prune ends with exactly the kept set."""
import calendar
import datetime
import hashlib
import json
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from bakutil import read_members  # noqa: E402
from node import TBIN, BIN, Node  # noqa: E402
from nodestate import Arch, gz  # noqa: E402
from tap import run  # noqa: E402

REAL = os.path.join(BIN, "nodebak-snapshotd")
FAULT = os.path.join(TBIN, "nodebak-snapshotd-fault")
POLICY = "[retention]\nkeep_daily = 3\nkeep_weekly = 2\n"


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def make_archive(n, bk, members, base_json, name, ts):
    """backups/<name>.bak holding a copy of base whose MANIFEST says it is
    snapshot name, created at ts, signed by n's key; and its .json."""
    a = Arch(members, members[0][1])
    a.created = ts
    for info, _ in a.entries:
        info.mtime = ts
    a.set_head("created", iso(ts)).set_head("snapshot", name)
    data = gz(a.tar(n))
    with open(os.path.join(bk, name + ".bak"), "wb") as f:
        f.write(data)
    side = dict(base_json, file=name + ".bak", size=len(data), snapshot=name,
                created=iso(ts), sha256=hashlib.sha256(data).hexdigest())
    with open(os.path.join(bk, name + ".json"), "w") as f:
        json.dump(side, f, indent=2)


def model(sched, daily, weekly):
    """Names of scheduled archives [(name, ts)] that keep_daily/keep_weekly
    keep: the newest of each of the N newest UTC days / ISO weeks."""
    keep = {}
    rules = (("keep_daily", daily, lambda t: time.strftime("%Y-%m-%d", time.gmtime(t))),
             ("keep_weekly", weekly, lambda t: "%d-W%02d" % datetime.datetime.fromtimestamp(
                 t, datetime.timezone.utc).isocalendar()[:2]))
    for rule, count, key in rules:
        seen = []
        for name, ts in sorted(sched, key=lambda x: (-x[1], x[0])):
            k = key(ts)
            if k in seen:
                continue
            seen.append(k)
            if len(seen) <= count:
                keep.setdefault(name, f"{rule} {k}")
    return keep


def lines(out):
    """{archive name: (KEEP|DELETE, rest of the line)} of prune's output."""
    res = {}
    for line in out.splitlines():
        w = line.split(None, 2)
        if len(w) == 3 and w[0] in ("KEEP", "DELETE"):
            res[w[1][:-4]] = (w[0], w[2])
    return res


def pairs(bk):
    """(archive names, orphan .json names, anything hidden) in bk."""
    names = os.listdir(bk)
    baks = {x[:-4] for x in names if x.endswith(".bak") and not x.startswith(".")}
    orphans = {x[:-5] for x in names if x.endswith(".json") and x[:-5] not in baks}
    hidden = [x for x in names if x.startswith(".")]
    return baks, orphans, hidden


def main(t):
    n = Node("prune", extra_conf=POLICY)
    os.makedirs(n.files, exist_ok=True)
    with open(os.path.join(n.files, "cms.lic"), "w") as f:
        f.write("licence\n")
    bk = os.path.join(n.files, "backups")
    n.start()
    try:
        rc, _, err = n.nb("backup", "snapshot", "base")
        t.ok(rc == 0, "snapshot base (a manual archive)", err)
        members = read_members(os.path.join(bk, "base.bak"))
        with open(os.path.join(bk, "base.json")) as f:
            base_json = json.load(f)
        now = time.time()
        midnight = int(now) // 86400 * 86400
        sched = []
        for k in list(range(1, 11)) + [40]:
            ts = midnight - k * 86400 + 12 * 3600
            sched.append((time.strftime("auto-%Y%m%dT%H%M%SZ", time.gmtime(ts)), ts))
        ts = midnight - 86400 + 6 * 3600	# an older one of yesterday
        sched.append((time.strftime("auto-%Y%m%dT%H%M%SZ", time.gmtime(ts)), ts))
        for name, ts in sched:
            make_archive(n, bk, members, base_json, name, ts)
        pinned = sched[10][0]			# 40 days old
        safety = "pre-rollback-20250101T000000Z"
        make_archive(n, bk, members, base_json, safety, midnight - 300 * 86400)
        make_archive(n, bk, members, base_json, "old-manual", midnight - 200 * 86400)
        # A scheduled name that does not verify, placed by its file time.
        broken = "auto-19990101T000000Z"
        with open(os.path.join(bk, broken + ".bak"), "wb") as f:
            f.write(b"not an archive\n" * 10)
        os.utime(os.path.join(bk, broken + ".bak"), (now - 90 * 86400,) * 2)
        sched.append((broken, int(now - 90 * 86400)))
        every = set(pairs(bk)[0])

        rc, out, err = n.nb("backup", "pin", pinned + ".bak")
        t.ok(rc == 0 and "pinned" in out, "backup pin", out + err)
        rc, out, _ = n.nb("backup", "list")
        t.ok(rc == 0 and [x for x in out.splitlines() if x.endswith("; pinned")] ==
             [x for x in out.splitlines() if x.startswith(pinned + ".bak ")],
             "backup list marks the pinned archive, only it", out)
        # --- backup list --json: every archive, as the files are.
        rc, out, err = n.nb("backup", "list", "--json")
        try:
            doc = json.loads(out)
        except ValueError as e:
            doc = {"archives": [], "error": str(e)}
        got = {a["name"]: a for a in doc["archives"]}
        created = dict(sched, base=None, **{safety: midnight - 300 * 86400,
                                            "old-manual": midnight - 200 * 86400})
        bad = []
        for name in every:
            a = got.get(name + ".bak", {})
            nid = base_json["node"]
            ok = a.get("size") == os.path.getsize(os.path.join(bk, name + ".bak")) and \
                a.get("pinned") == (name == pinned) and \
                a.get("kind") == ("scheduled" if name.startswith("auto-") else
                                  "safety" if name.startswith("pre-rollback-") else "manual")
            if name == broken:
                ok = ok and a.get("check") == "unverified" and a.get("created") is None \
                    and a.get("created_iso") is None and a.get("node_id") is None
            else:
                ts = created[name]
                if ts is None:
                    ts = calendar.timegm(time.strptime(base_json["created"],
                                                       "%Y-%m-%dT%H:%M:%SZ"))
                ok = ok and a.get("check") == "verified" and a.get("created") == ts and \
                    a.get("created_iso") == iso(ts) and a.get("node_name") == nid["name"] \
                    and a.get("node_id") == nid["id"] and \
                    a.get("key_id") == base_json["key_id"] and \
                    a.get("key_origin") == "this node" and a.get("snapshot") == name
            if not ok:
                bad.append((name, a))
        t.ok(rc == 0 and set(got) == {x + ".bak" for x in every} and not bad and
             doc.get("rollback_pending") is False and "node_state" in doc,
             f"backup list --json: {len(every)} archives, each as its files are", (bad, out + err))
        rc, out, err = n.nb("backup", "pin", "nosuch.bak")
        t.ok(rc == 1 and "no such backup" in err, "pin of a missing archive refused", err)
        n.kill(sig=signal.SIGTERM)
        n.start()

        # --- dry run: every archive, KEEP/DELETE and the rule; nothing changes.
        want = model(sched, 3, 2)
        rc, out, err = n.nb("backup", "prune", "--dry-run")
        got = lines(out)
        t.ok(rc == 0 and set(got) == every, "dry run lists every archive", out + err)
        wrong = []
        for name, _ in sched:
            if name == pinned:
                ok = got.get(name, ("",))[0] == "KEEP" and got[name][1].endswith("pinned")
            elif name in want:
                ok = got.get(name) and got[name][0] == "KEEP" and got[name][1].endswith(want[name])
            else:
                ok = got.get(name) and got[name][0] == "DELETE" and got[name][1].endswith(
                    "no rule keeps it")
            if not ok:
                wrong.append((name, got.get(name), want.get(name)))
        t.ok(not wrong, f"dry run: scheduled archives as the model says ({len(want)} kept by rules)",
             f"{wrong}\n{out}")
        t.ok(got.get(broken, ("", ""))[1].find("(unverified)") >= 0,
             "the unverified archive is marked so", got.get(broken))
        t.ok(all(got.get(x, ("",))[0] == "KEEP" and "manual (keep_manual)" in got[x][1]
                 for x in ("base", "old-manual", safety)),
             "manual and safety archives: KEEP by keep_manual (default all)", out)
        t.ok(pairs(bk)[0] == every and "Dry run: would delete" in out,
             "the dry run deleted nothing", out)
        rc, out2, err = n.nb("--role", "readonly", "backup", "prune", "--dry-run")
        t.ok(rc == 0 and lines(out2) == got, "a readonly user may run the dry run", out2 + err)
        rc, _, err = n.nb("--role", "readonly", "backup", "prune")
        rc2, _, err2 = n.nb("--role", "readonly", "backup", "unpin", pinned + ".bak")
        t.ok(rc == 1 and rc2 == 1 and "not allowed for a readonly user" in err + err2 and
             pairs(bk)[0] == every, "prune and unpin need the admin role", err + err2)
        deleted = {x for x in every if got[x][0] == "DELETE"}
        kept = every - deleted

        # --- crash safety: kill the test daemon at every fault point.
        pristine = n.path("pristine")
        n.kill(sig=signal.SIGTERM)
        shutil.copytree(bk, pristine)
        shutil.copytree(os.path.join(n.state, "pins"), pristine + "-pins")

        def restore():
            shutil.rmtree(bk)
            shutil.copytree(pristine, bk)
            shutil.rmtree(os.path.join(n.state, "pins"))
            shutil.copytree(pristine + "-pins", os.path.join(n.state, "pins"))

        def start(daemon, **env):
            n.daemon = daemon
            e = n.env()
            e.update(env)
            return n.start(env=e)

        if not os.access(FAULT, os.X_OK):
            t.ok(False, "tests/bin/nodebak-snapshotd-fault is built")
            return
        tfile = n.path("trace")
        start(FAULT, NODEBAK_FAULT_TRACE=tfile)
        rc, out, err = n.nb("backup", "prune")
        n.kill(sig=signal.SIGTERM)
        with open(tfile) as f:
            points = [line.split()[1] for line in f]
        prune_points = [p for p in points if p.startswith("prune-")]
        t.ok(rc == 0 and len(prune_points) == 4 * len(deleted),
             f"traced prune: {len(points)} fault points, 4 per deleted archive",
             (points, out + err))
        bad, kills = [], 0
        for k in range(1, len(points) + 1):
            restore()
            p = start(FAULT, NODEBAK_FAULT_AT=str(k))
            n.nb("backup", "prune", timeout=120)
            try:
                p.wait(timeout=30)
            except Exception:
                pass
            killed = p.returncode == -signal.SIGKILL
            n.kill()
            kills += killed
            start(REAL)
            rc, lst, _ = n.nb("backup", "list")
            baks, orphans, hidden = pairs(bk)
            whole = all(os.path.exists(os.path.join(bk, x + ".json")) for x in baks
                        if x != broken)
            if not (killed and rc == 0 and not orphans and not hidden and whole and
                    kept <= baks <= every):
                bad.append((k, points[k - 1], killed, rc, orphans, hidden, whole,
                            sorted(kept - baks), sorted(baks - every)))
            n.kill(sig=signal.SIGTERM)
        t.ok(not bad and kills >= 4 * len(deleted),
             f"{kills} kills during prune: no orphan .json, nothing hidden, no half pair, "
             "every kept archive there", bad)

        # --- the real prune, after the last crash's restart state.
        restore()
        start(REAL)
        rc, out, err = n.nb("backup", "prune")
        baks, orphans, hidden = pairs(bk)
        t.ok(rc == 0 and baks == kept and not orphans and not hidden,
             f"prune deletes exactly the {len(deleted)} DELETE pairs", (out + err, baks ^ kept))
        log = n.log()
        t.ok(all(f"prune: deleted {x}.bak" in log for x in deleted),
             "each deletion is logged", log[-3000:])

        # --- pins: delete refused, unpin, restart keeps the pin.
        rc, out, err = n.nb("backup", "delete", pinned + ".bak")
        t.ok(rc == 1 and "pinned" in err and "unpin" in err and
             os.path.exists(os.path.join(bk, pinned + ".bak")),
             "backup delete of a pinned archive: refused, saying unpin", out + err)
        rc, out, err = n.nb("backup", "unpin", pinned + ".bak")
        t.ok(rc == 0 and "unpinned" in out, "backup unpin", out + err)
        rc, out, _ = n.nb("backup", "prune", "--dry-run")
        t.ok(lines(out).get(pinned, ("",))[0] == "DELETE", "unpinned, the policy decides it",
             out)
        n.nb("backup", "pin", pinned + ".bak")

        # --- floors: keep_last = 1 and min_keep = 6 (verified, any kind).
        n.kill(sig=signal.SIGTERM)
        n.write_conf("[retention]\nkeep_last = 1\nmin_keep = 6\n")
        start(REAL)
        rc, out, err = n.nb("backup", "prune", "--dry-run")
        got = lines(out)
        vkept = [x for x, (w, rest) in got.items() if w == "KEEP" and "(unverified)" not in rest]
        floor = [x for x, (w, rest) in got.items() if rest.endswith("min_keep floor")]
        t.ok(rc == 0 and len(vkept) == 6 and len(floor) >= 1,
             f"min_keep 6: six verified archives kept ({len(floor)} by the floor)", out + err)

        # --- keep_manual = 1: the newest manual or safety archive stays.
        n.kill(sig=signal.SIGTERM)
        n.write_conf("[retention]\nkeep_manual = 1\n")
        start(REAL)
        rc, out, err = n.nb("backup", "prune", "--dry-run")
        got = lines(out)
        t.ok(rc == 0 and got["base"][0] == "KEEP" and all(
             got[x][0] == "DELETE" and got[x][1].endswith("manual beyond keep_manual")
             for x in ("old-manual", safety)) and got[pinned][0] == "KEEP",
             "keep_manual 1 counts manual and safety archives together, newest first", out + err)

        # --- max_space below what pins, manual archives and floors hold.
        n.kill(sig=signal.SIGTERM)
        n.write_conf("[retention]\nkeep_last = 5\nmax_space = 1K\n")
        start(REAL)
        rc, out, err = n.nb("backup", "prune")
        got = lines(out)
        sched_left = [x for x in pairs(bk)[0] if x.startswith("auto-") and x != pinned]
        t.ok(rc == 0 and "ALERT" in out and "max_space" in out and not sched_left and
             {"base", "old-manual", safety, pinned} <= pairs(bk)[0],
             "max_space: unpinned scheduled archives go, the rest stays, and it alerts",
             out + err)
        t.ok("over max_space" in n.log() or "more than max_space" in n.log(),
             "the alert is logged", n.log()[-2000:])
    finally:
        n.cleanup()


run(main)
