#!/usr/bin/env python3
"""schedule-crash.t: the test daemon is SIGKILLed at every fault point a
scheduled run passes through (its snapshot, then the prune it triggers
under [retention] keep_last = 2), enumerated with NODEBAK_FAULT_TRACE.
After each kill and a restart: no orphan .json, no half pair, nothing
hidden (.nodebak-*) in backups/, every archive listed verifies, the
newest verified archive from before the run is still there, the manual
archive too; and the next scheduled run succeeds and prunes to the
policy."""
import calendar
import json
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from node import Node, TBIN  # noqa: E402
from scenario import schedule_status, wait_run  # noqa: E402
from tap import run  # noqa: E402

FAULT = os.path.join(TBIN, "nodebak-snapshotd-fault")
T0 = calendar.timegm((2026, 3, 4, 10, 0, 30))  # 30 s before a slot


def pairs(bk):
    names = os.listdir(bk)
    baks = {x[:-4] for x in names if x.endswith(".bak") and not x.startswith(".")}
    orphans = {x[:-5] for x in names if x.endswith(".json") and x[:-5] not in baks}
    halves = {x for x in baks if x + ".json" not in names}
    hidden = [x for x in names if x.startswith(".")]
    return baks, orphans, halves, hidden


CONF = "[schedule]\nschedule = every 1m\ncatch_up = no\n[retention]\nkeep_last = %d\n"


def phase(t, label, runs, keep_before):
    """runs scheduled runs under keep_last = keep_before, then keep_last =
    2: the run killed prunes runs + 1 - 2 archives. The number of kills."""
    n = Node("schedcrash" + str(runs), daemon=FAULT, extra_conf=CONF % keep_before)
    bk = n.path("files", "backups")

    def start(clock, **extra):
        e = n.env()
        e["NODEBAK_TEST_CLOCK"] = str(clock)
        e.update(extra)
        return n.start(env=e)

    try:
        start(T0)
        rc, _, err = n.nb("backup", "snapshot", "manual")
        t.ok(rc == 0, "a manual snapshot", err)
        for k in range(runs):
            n.nb("test", "clock", "advance", "60")
            s = wait_run(n, T0 + 30 + 60 * k)
        t.eq(s["result"], "success", f"{label}: {runs} scheduled runs")
        newest = s["last_name"]
        n.kill(sig=signal.SIGTERM)
        n.write_conf(CONF % 2)
        pristine_bk, pristine_st = n.path("pristine-bk"), n.path("pristine-state")
        shutil.copytree(bk, pristine_bk)
        shutil.copytree(n.state, pristine_st, ignore=shutil.ignore_patterns("*.sock", "*.pid"))
        sched0 = {x for x in pairs(bk)[0] if x.startswith("auto-")}
        t.eq(len(sched0), min(runs, keep_before), f"{label}: {len(sched0)} scheduled archives "
             "before the crashes")
        clock = T0 + 30 + 60 * (runs - 1) + 5   # just after the last run
        slot = clock + 55

        def restore():
            shutil.rmtree(bk)
            shutil.copytree(pristine_bk, bk)
            shutil.rmtree(n.state)
            shutil.copytree(pristine_st, n.state)

        tfile = n.path("trace")
        restore()
        start(clock, NODEBAK_FAULT_TRACE=tfile)
        schedule_status(n)
        before = 0
        if os.path.exists(tfile):       # the points of the start, if any
            with open(tfile) as f:
                before = len(f.readlines())
        n.nb("test", "clock", "advance", str(slot - clock))
        s = wait_run(n, slot)
        n.kill(sig=signal.SIGTERM)
        with open(tfile) as f:
            points = [line.split()[1] for line in f]
        run_points = points[before:]
        t.ok(s["result"] == "success" and any(p.startswith("prune-") for p in run_points),
             f"{label}: traced run: {len(run_points)} fault points in the scheduled snapshot and prune "
             f"({len([p for p in run_points if p.startswith('prune-')])} in the prune)",
             (run_points, before))
        bad, kills = [], 0
        for k in range(before + 1, len(points) + 1):
            restore()
            p = start(clock, NODEBAK_FAULT_AT=str(k))
            n.nb("test", "clock", "advance", str(slot - clock), timeout=60)
            try:
                p.wait(timeout=30)
            except Exception:
                pass
            killed = p.returncode == -signal.SIGKILL
            n.kill()
            kills += killed
            n.pg_stop()
            start(slot + 5)           # catch_up = no: nothing runs until the next slot
            rc, out, _ = n.nb("backup", "list", "--json")
            baks, orphans, halves, hidden = pairs(bk)
            try:
                lst = json.loads(out)["archives"]
            except ValueError:
                lst = []
            unverified = [a["name"] for a in lst if a["check"] != "verified"]
            floor = newest in baks and "manual" in baks
            n.nb("test", "clock", "advance", "60")
            try:
                s = wait_run(n, slot + 60)
            except RuntimeError as e:
                s = {"result": str(e)}
            after = pairs(bk)
            nxt = time.strftime("auto-%Y%m%dT%H%M%SZ", time.gmtime(slot + 60))
            sched = {x for x in after[0] if x.startswith("auto-")}
            good_next = s["result"] == "success" and nxt in sched and len(sched) == 2 and \
                "manual" in after[0] and not any(after[1:])
            if not (killed and rc == 0 and not orphans and not halves and not hidden and
                    not unverified and len(lst) == len(baks) and floor and good_next):
                bad.append((k, points[k - 1], killed, rc, orphans, halves, hidden, unverified,
                            floor, s.get("result"), sorted(after[0])))
            n.kill(sig=signal.SIGTERM)
        t.ok(not bad and kills == len(points) - before,
             f"{label}: {kills} kills during a scheduled run: no orphan, no half pair, nothing "
             "hidden, all listed verify, the newest verified and the manual archive stay, the "
             "next run succeeds and prunes to keep_last 2", bad)
        return kills
    finally:
        n.cleanup()


def main(t):
    kills = phase(t, "one deleted", 3, 2) + phase(t, "five deleted", 6, 8)
    t.ok(kills >= 30, f"{kills} kills in all (at least 30)")


run(main)
