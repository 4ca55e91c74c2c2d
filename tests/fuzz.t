#!/usr/bin/env python3
"""fuzz.t: every libFuzzer target (tests/fuzz/fuzz_*.c) built with clang,
AddressSanitizer and UBSan (`make fuzz`) and run for a short, bounded time
from its seed corpus, so that a regression in a parser is caught on every
`make test`; a crash, a sanitizer report or a leak fails the test and its
input is kept (the path is printed). fuzz_bak's signed seeds are first
run alone and must pass the signature check (against the TEST-ONLY key
tests/fuzz/TEST-ONLY-signing.key), or the archive reader's MANIFEST,
member checks and extraction would go unfuzzed. NODEBAK_FUZZ_SECONDS sets
the time per target (default 6; the whole test stays under a minute)."""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import run  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SECONDS = int(os.environ.get("NODEBAK_FUZZ_SECONDS", "6"))


def tail(text, n=25):
    return "\n".join(text.splitlines()[-n:])


def main(t):
    if not shutil.which("clang"):
        t.skip_all("clang not installed (scripts/deps.sh installs it)")
    targets = sorted(os.path.basename(p)[:-2]
                     for p in glob.glob(os.path.join(TOP, "tests", "fuzz", "fuzz_*.c")))
    p = subprocess.run(["make", "-C", TOP, "--no-print-directory", "-j2", "fuzz"],
                       capture_output=True, text=True, errors="replace", timeout=900)
    t.ok(p.returncode == 0, f"make fuzz builds {len(targets)} targets",
         tail(p.stdout + p.stderr))
    if p.returncode != 0:
        return
    keep = tempfile.mkdtemp(prefix="nodebak-fuzz-run-")
    before = set(glob.glob("/tmp/nodebak-fuzz-*"))
    crashed = False
    try:
        seeds = sorted(glob.glob(os.path.join(TOP, "tests", "fuzz", "corpus", "bak",
                                              "seed-signed-*.bak")))
        env = dict(os.environ, NODEBAK_FUZZ_EXPECT_OK="1")
        p = subprocess.run([os.path.join(TOP, "tests", "bin", "fuzz_bak")] + seeds,
                           capture_output=True, text=True, errors="replace", timeout=60, env=env)
        full = [ln for ln in p.stderr.splitlines()
                if ln.startswith("fuzz_bak: read in full, ")]
        t.ok(len(seeds) >= 2 and p.returncode == 0 and len(full) >= len(seeds),
             f"fuzz_bak: the {len(seeds)} signed seeds pass the signature check "
             "and are read in full", tail(p.stderr, 8))
        for name in targets:
            corpus = os.path.join(TOP, "tests", "fuzz", "corpus", name[len("fuzz_"):])
            new = os.path.join(keep, name, "new")
            os.makedirs(new)
            argv = [os.path.join(TOP, "tests", "bin", name),
                    f"-max_total_time={SECONDS}", "-timeout=10", "-rss_limit_mb=2048",
                    "-print_final_stats=1",
                    f"-artifact_prefix={os.path.join(keep, name)}/", new]
            if os.path.isdir(corpus):
                argv.append(corpus)
            p = subprocess.run(argv, capture_output=True, text=True, errors="replace",
                               timeout=SECONDS + 120, cwd=TOP)
            runs = [ln.split(":")[-1].strip() for ln in p.stderr.splitlines()
                    if ln.startswith("stat::number_of_executed_units:")]
            ok = t.ok(p.returncode == 0,
                      f"{name}: {SECONDS} s without a crash "
                      f"({runs[0] if runs else '?'} inputs)",
                      tail(p.stderr) + f"\ninput kept in {keep}/{name}/")
            crashed = crashed or not ok
    finally:
        for d in set(glob.glob("/tmp/nodebak-fuzz-*")) - before:
            if not d.startswith(keep):
                shutil.rmtree(d, ignore_errors=True)
        if not crashed:
            shutil.rmtree(keep, ignore_errors=True)


run(main)
