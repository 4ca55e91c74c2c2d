/* fault.h: crash points for the crash-safety tests. In the shipped daemon
 * fault_point() does nothing; the test daemon (tests/bin/
 * nodebak-snapshotd-fault, built from fault.c with NODEBAK_FAULT_INJECTION)
 * counts the calls and kills itself with SIGKILL at the Nth one when
 * $NODEBAK_FAULT_AT=N, and appends each point's name to
 * $NODEBAK_FAULT_TRACE when that is set. $NODEBAK_FAULT_HOLD=NAME:FILE
 * makes it wait at point NAME while FILE exists. The test clock: below. */
#ifndef NODEBAK_FAULT_H
#define NODEBAK_FAULT_H

void fault_point(const char *where);

/* The test clock (clock.h): in the shipped daemon fault_clock_get()
 * returns 0 (use the real clock) and fault_clock_testable() 0. In the
 * test daemon, once fault_clock_put() has set it (or $NODEBAK_TEST_CLOCK
 * gave its start, in seconds since the epoch), fault_clock_get() stores
 * it in *t and returns 1. */
int fault_clock_get(long long *t);
void fault_clock_put(long long t);
int fault_clock_testable(void);

#endif
