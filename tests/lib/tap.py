"""tap.py: a small TAP producer for the scenario tests (run under prove)."""
import sys
import traceback


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0
        self.planned = None

    def plan(self, n):
        self.planned = n
        print(f"1..{n}", flush=True)

    def ok(self, cond, name, diag=None):
        self.n += 1
        if cond:
            print(f"ok {self.n} - {name}", flush=True)
        else:
            self.failed += 1
            print(f"not ok {self.n} - {name}", flush=True)
            if diag:
                self.diag(diag)
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name,
                       None if got == want else f"got:  {got!r}\nwant: {want!r}")

    def diag(self, text):
        for line in str(text).splitlines():
            print(f"# {line}", flush=True)

    def skip_all(self, why):
        print(f"1..0 # SKIP {why}", flush=True)
        sys.exit(0)

    def done(self):
        if self.planned is None:
            print(f"1..{self.n}", flush=True)
        sys.exit(1 if self.failed else 0)


def run(main):
    """Run main(tap), turning an exception into a failed test."""
    t = Tap()
    try:
        main(t)
    except Exception:
        t.ok(False, "test script raised", traceback.format_exc())
    t.done()
