/* clock.c: the daemon's one wall clock (see clock.h). What differs in the
 * test daemon lives in fault.c, the one object that differs. */
#include <pthread.h>

#include "clock.h"
#include "err.h"
#include "fault.h"
#include "banned.h"

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*hook)(void);

time_t clock_now(void)
{
	long long t;

	if (fault_clock_get(&t))
		return (time_t)t;
	return time(NULL);
}

int clock_testable(void)
{
	return fault_clock_testable();
}

int clock_test_set(long long t, int advance)
{
	void (*fn)(void);

	if (!fault_clock_testable())
		return err_set(ERR_INVAL, "the test clock exists only in the "
		    "test daemon");
	if (advance)
		t += (long long)clock_now();
	if (t < 0)
		return err_set(ERR_INVAL, "the clock cannot go before 1970");
	fault_clock_put(t);
	pthread_mutex_lock(&hook_lock);
	fn = hook;
	pthread_mutex_unlock(&hook_lock);
	if (fn)
		fn();
	return 0;
}

void clock_on_change(void (*fn)(void))
{
	pthread_mutex_lock(&hook_lock);
	hook = fn;
	pthread_mutex_unlock(&hook_lock);
}
