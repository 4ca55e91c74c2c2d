/* fault.c: crash points (see fault.h). */
#include "fault.h"

#ifdef NODEBAK_FAULT_INJECTION
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned long fault_count;

void fault_point(const char *where)
{
	const char *at = getenv("NODEBAK_FAULT_AT");
	const char *trace = getenv("NODEBAK_FAULT_TRACE");
	unsigned long n = __atomic_add_fetch(&fault_count, 1, __ATOMIC_SEQ_CST);

	if (trace) {
		char line[256];
		int fd = open(trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		int len = snprintf(line, sizeof line, "%lu %s\n", n, where);
		if (fd >= 0) {
			if (write(fd, line, (size_t)len) < 0) {
				/* best effort */
			}
			close(fd);
		}
	}
	if (at && strtoul(at, NULL, 10) == n)
		raise(SIGKILL);
	/* NODEBAK_FAULT_HOLD=NAME:FILE: at point NAME, wait while FILE exists
	 * (at most 60 s), so a test can act while an operation is mid-way. */
	if ((at = getenv("NODEBAK_FAULT_HOLD")) != NULL) {
		const char *colon = strchr(at, ':');
		if (colon && strlen(where) == (size_t)(colon - at) &&
		    !strncmp(at, where, (size_t)(colon - at)))
			for (int i = 0; i < 6000 && access(colon + 1, F_OK) == 0; i++)
				usleep(10000);
	}
}

/* The test clock: -1 until set (or read from $NODEBAK_TEST_CLOCK). */
static long long test_clock = -1;
static int test_clock_init;

int fault_clock_get(long long *t)
{
	long long v;

	if (!__atomic_load_n(&test_clock_init, __ATOMIC_ACQUIRE)) {
		const char *env = getenv("NODEBAK_TEST_CLOCK");
		long long start = env && *env ? strtoll(env, NULL, 10) : -1;
		long long unset = -1;

		__atomic_compare_exchange_n(&test_clock, &unset, start, 0,
		    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		__atomic_store_n(&test_clock_init, 1, __ATOMIC_RELEASE);
	}
	v = __atomic_load_n(&test_clock, __ATOMIC_SEQ_CST);
	if (v < 0)
		return 0;
	*t = v;
	return 1;
}

void fault_clock_put(long long t)
{
	__atomic_store_n(&test_clock_init, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&test_clock, t, __ATOMIC_SEQ_CST);
}

int fault_clock_testable(void)
{
	return 1;
}
#else
void fault_point(const char *where)
{
	(void)where;
}

int fault_clock_get(long long *t)
{
	(void)t;
	return 0;
}

void fault_clock_put(long long t)
{
	(void)t;
}

int fault_clock_testable(void)
{
	return 0;
}
#endif
