/* t_lockout.c: ftpd/lockout.c's rules with time passed in: counts per
 * address and per user name, limits, decay, lock length, eviction. */
#include <stdio.h>
#include <string.h>

#include "lockout.h"
#include "tap.h"

static const struct lockout_limits L = { 5, 3, 10, 60 };

static void t_counts(void)
{
	struct lockout *t = lockout_new(16);
	struct lockout_state st;
	enum lockout_what w = LOCKOUT_NONE;
	time_t now = 1000;

	lockout_check(t, &L, "10.0.0.1", "ro", now, &st);
	ok(st.locked == LOCKOUT_NONE && st.addr_failures == 0 &&
	    st.user_failures == 0, "lockout: a new address and name count 0");
	for (int i = 0; i < 4; i++)
		w = lockout_record(t, &L, "10.0.0.1", i < 2 ? "a" : "b", 0, now, &st);
	ok(w == LOCKOUT_NONE && st.addr_failures == 4 && st.user_failures == 2,
	    "lockout: 4 failures from one address, 2 per name: nothing locked");
	w = lockout_record(t, &L, "10.0.0.1", "c", 0, now, &st);
	ok(w == LOCKOUT_ADDR && st.locked == LOCKOUT_ADDR && st.retry == 60,
	    "lockout: the 5th failure locks the address for lock_seconds");
	lockout_check(t, &L, "10.0.0.1", NULL, now + 59, &st);
	ok(st.locked == LOCKOUT_ADDR && st.retry == 1,
	    "lockout: still locked a second before the end");
	lockout_record(t, &L, "10.0.0.1", "ro", 1, now + 59, &st);
	lockout_check(t, &L, "10.0.0.1", NULL, now + 60, &st);
	ok(st.locked == LOCKOUT_NONE && st.addr_failures == 0,
	    "lockout: unlocked after lock_seconds; 60 s decayed its 5 failures "
	    "(%ld left)",
	    st.addr_failures);
	lockout_check(t, &L, "10.0.0.2", NULL, now, &st);
	ok(st.locked == LOCKOUT_NONE, "lockout: another address is not locked");
	lockout_free(t);
}

static void t_users_and_decay(void)
{
	struct lockout *t = lockout_new(16);
	struct lockout_state st;
	enum lockout_what w;
	char addr[32];

	for (int i = 0; i < 2; i++) {
		snprintf(addr, sizeof addr, "10.0.1.%d", i);
		lockout_record(t, &L, addr, "admin", 0, 100, &st);
	}
	w = lockout_record(t, &L, "10.0.1.9", "admin", 0, 100, &st);
	ok(w == LOCKOUT_USER && st.user_failures == 3,
	    "lockout: 3 failures for a name from 3 addresses lock the name");
	lockout_check(t, &L, "10.0.2.1", "admin", 101, &st);
	ok(st.locked == LOCKOUT_USER, "lockout: the name is locked from a new address");
	lockout_check(t, &L, "10.0.2.1", "ro", 101, &st);
	ok(st.locked == LOCKOUT_NONE, "lockout: another name is not");
	lockout_record(t, &L, "10.0.3.1", "x", 0, 200, &st);
	lockout_record(t, &L, "10.0.3.1", "y", 0, 200, &st);
	lockout_check(t, &L, "10.0.3.1", NULL, 209, &st);
	ok(st.addr_failures == 2, "lockout: no decay before one period");
	lockout_check(t, &L, "10.0.3.1", NULL, 210, &st);
	ok(st.addr_failures == 1, "lockout: one failure forgotten per period");
	lockout_check(t, &L, "10.0.3.1", NULL, 235, &st);
	ok(st.addr_failures == 0, "lockout: all forgotten, never below 0");
	lockout_record(t, &L, "10.0.3.1", "z", 1, 236, &st);
	ok(st.addr_failures == 0, "lockout: a success counts nothing");
	lockout_lock_addr(t, &L, "10.0.3.1", 30, 240);
	lockout_check(t, &L, "10.0.3.1", NULL, 269, &st);
	ok(st.locked == LOCKOUT_ADDR && st.retry == 1,
	    "lockout: lockout_lock_addr (attempt limit) locks for its seconds");
	lockout_free(t);
}

static void t_eviction(void)
{
	struct lockout *t = lockout_new(4);
	struct lockout_state st;
	char addr[32];

	for (int i = 0; i < 5; i++)
		lockout_record(t, &L, "10.9.9.9", NULL, 0, 10, &st);
	ok(st.locked == LOCKOUT_ADDR, "lockout: eviction case: one address locked");
	for (int i = 0; i < 50; i++) {
		snprintf(addr, sizeof addr, "10.8.0.%d", i);
		lockout_record(t, &L, addr, NULL, 0, 11, &st);
	}
	lockout_check(t, &L, "10.9.9.9", NULL, 12, &st);
	ok(st.locked == LOCKOUT_ADDR,
	    "lockout: a full table evicts unlocked entries, not the live lock");
	lockout_free(t);
}

void t_lockout(void)
{
	t_counts();
	t_users_and_decay();
	t_eviction();
}
