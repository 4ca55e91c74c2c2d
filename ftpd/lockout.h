/* lockout.h: failed logins counted per client address and per user name
 * across every connection, FTP and SSH alike, with decay, and the locks
 * they lead to (docs/ftpd.md, "Failed logins and lockout"). The table
 * lives in the listener; sessions ask it through gate.c. Time is passed
 * in (clock_now() in the daemon), so the rules are unit-tested without a
 * clock. */
#ifndef NODEBAK_LOCKOUT_H
#define NODEBAK_LOCKOUT_H
#include <time.h>

struct lockout;

struct lockout_limits {
	long addr_failures;	/* failures that lock an address; 0: no limit */
	long user_failures;	/* failures that lock a user name; 0: no limit */
	long decay;		/* seconds after which one failure is forgotten */
	long lock_seconds;	/* how long a lock lasts; 0: no locks */
};

enum lockout_what { LOCKOUT_NONE, LOCKOUT_ADDR, LOCKOUT_USER };

/* The state of an address and a user name at one moment. */
struct lockout_state {
	enum lockout_what locked;	/* which lock holds, if any (the address's first) */
	long retry;			/* seconds until that lock ends */
	long addr_failures, user_failures;	/* counted, after decay */
};

/* A table of at most cap addresses and cap user names. Never fails
 * (exits on out-of-memory, as the daemon does). */
struct lockout *lockout_new(size_t cap);
void lockout_free(struct lockout *t);

/* The state of addr and user (NULL or "": the address alone) at now. */
void lockout_check(struct lockout *t, const struct lockout_limits *l,
    const char *addr, const char *user, time_t now, struct lockout_state *st);

/* Count one login: a failure adds one to the address and to the user
 * name, and locks either when it reaches its limit; a success counts
 * nothing (the counts only decay, so a login with an account one holds
 * does not wipe the failures against another). *st: the state after.
 * Returns the lock this failure started (LOCKOUT_NONE when none). */
enum lockout_what lockout_record(struct lockout *t,
    const struct lockout_limits *l, const char *addr, const char *user,
    int ok, time_t now, struct lockout_state *st);

/* Lock addr for seconds from now (a connection cut at the per-connection
 * attempt limit). */
void lockout_lock_addr(struct lockout *t, const struct lockout_limits *l,
    const char *addr, long seconds, time_t now);

#endif
