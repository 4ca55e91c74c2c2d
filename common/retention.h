/* retention.h: which archives a retention policy keeps (nodebak.conf(5)
 * [retention], docs/snapshots.md "Retention"). Pure: no I/O and no clock;
 * the caller passes the archives, the policy and "now". Used by
 * snapshotd's prune and, later, by the off-box puller. */
#ifndef NODEBAK_RETENTION_H
#define NODEBAK_RETENTION_H
#include <stddef.h>
#include <time.h>

enum ret_kind {
	RET_SCHEDULED,	/* auto-...: the scheduled policy prunes it */
	RET_MANUAL,	/* any other name: keep_manual */
	RET_SAFETY,	/* pre-rollback-...: keep_manual */
};

struct ret_archive {
	const char *name;	/* unique among the set; ties of created */
	time_t created;		/* UTC; from the verified MANIFEST */
	enum ret_kind kind;
	int pinned;		/* backup pin: always kept */
	int verified;		/* only verified archives count for floors */
	unsigned long long size;
};

/* Every count 0 = rule off. When every keep_* rule is off, scheduled
 * archives are all kept (only max_space can then delete). */
struct ret_policy {
	long keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly,
	    keep_yearly;
	long long keep_within;	/* seconds; 0 = off */
	long keep_manual;	/* manual + safety archives kept; -1 = all */
	long min_keep;		/* verified archives that always remain */
	unsigned long long max_space;	/* bytes; 0 = no limit */
};

#define RET_WHY_MAX 64

struct ret_decision {
	int keep;			/* 1 KEEP, 0 DELETE */
	char why[RET_WHY_MAX];		/* "keep_daily 2026-11-30", "pinned" */
};

struct conf_retention;

/* The policy a [retention] section (nodebak.conf or pull.conf) gives. */
void retention_policy_of(const struct conf_retention *c, struct ret_policy *p);
/* The policy when [retention] is absent: keep everything. */
void retention_policy_default(struct ret_policy *p);
/* The kind a name says: "pre-rollback-" safety, "auto-" scheduled, else
 * manual. */
enum ret_kind retention_kind(const char *name);
const char *retention_kind_name(enum ret_kind k);
/* Decide a[0..n) under p at time now: out[i] for a[i]. *over_space is set
 * to 1 when the kept archives still hold more than max_space because the
 * floors and pins forbid more deletion (an alert), else 0. Returns 0, or
 * ERR_NOMEM. */
int retention_decide(const struct ret_archive *a, size_t n,
    const struct ret_policy *p, time_t now, struct ret_decision *out,
    int *over_space);

#endif
