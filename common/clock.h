/* clock.h: the one wall clock of every time-driven decision (the
 * schedule, catch-up, metrics timestamps, certificate days left). In the
 * shipped daemon it is time(2). In the test daemon (fault.c built with
 * NODEBAK_FAULT_INJECTION) a test may set it: from then on it stands
 * still at the time set until the test sets or advances it again, so
 * that simulated days pass in seconds (docs/snapshots.md, "Testing"). */
#ifndef NODEBAK_CLOCK_H
#define NODEBAK_CLOCK_H
#include <time.h>

/* Seconds since the epoch, UTC. Never fails. */
time_t clock_now(void);

/* Test daemon only: set the clock to t (absolute, advance 0) or move it
 * by t seconds (advance 1), then call the change hook. 0, or ERR_INVAL
 * when the daemon is not the test build (err_msg() says so) or the time
 * would go before the epoch. */
int clock_test_set(long long t, int advance);

/* 1 in the test daemon, where clock_test_set() works. */
int clock_testable(void);

/* Called (from the thread that changed it) after every change of the
 * test clock, so that timers re-evaluate what is due: the job loop sets
 * it. NULL: nothing. */
void clock_on_change(void (*fn)(void));

#endif
