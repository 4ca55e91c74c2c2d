/* retention.c: the retention engine (retention.h). Scheduled archives
 * are ranked newest first; each keep_* rule keeps, restic-style and
 * independently of the others, the newest archive of each of its N most
 * recent UTC calendar buckets; then pins, keep_manual, the floors and
 * max_space. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "conf.h"
#include "retention.h"
#include "xmalloc.h"
#include "banned.h"

void retention_policy_of(const struct conf_retention *c, struct ret_policy *p)
{
	p->keep_last = c->keep_last;
	p->keep_hourly = c->keep_hourly;
	p->keep_daily = c->keep_daily;
	p->keep_weekly = c->keep_weekly;
	p->keep_monthly = c->keep_monthly;
	p->keep_yearly = c->keep_yearly;
	p->keep_within = c->keep_within;
	p->keep_manual = c->keep_manual;
	p->min_keep = c->min_keep;
	p->max_space = (unsigned long long)c->max_space;
}

void retention_policy_default(struct ret_policy *p)
{
	memset(p, 0, sizeof *p);
	p->keep_manual = -1;
	p->min_keep = 1;
}

enum ret_kind retention_kind(const char *name)
{
	if (!strncmp(name, "pre-rollback-", 13))
		return RET_SAFETY;
	if (!strncmp(name, "auto-", 5))
		return RET_SCHEDULED;
	return RET_MANUAL;
}

const char *retention_kind_name(enum ret_kind k)
{
	return k == RET_SCHEDULED ? "scheduled" : k == RET_SAFETY ? "safety" :
	    "manual";
}

/* Newest first: created, then name, descending. */
static int newer_first(const void *x, const void *y)
{
	const struct ret_archive *a = *(const struct ret_archive *const *)x;
	const struct ret_archive *b = *(const struct ret_archive *const *)y;

	if (a->created != b->created)
		return a->created > b->created ? -1 : 1;
	return -strcmp(a->name, b->name);
}

enum bucket { B_HOUR, B_DAY, B_WEEK, B_MONTH, B_YEAR, B_COUNT };
static const char *const rule_name[B_COUNT] = {
	"keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly"
};

static int leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* ISO 8601 week of tm: the week is the year of its Thursday. */
static void iso_week(const struct tm *tm, int *year, int *week)
{
	int y = tm->tm_year + 1900;
	int thu = tm->tm_yday - (tm->tm_wday + 6) % 7 + 3;

	if (thu < 0) {
		y--;
		thu += leap(y) ? 366 : 365;
	} else if (thu >= (leap(y) ? 366 : 365)) {
		thu -= leap(y) ? 366 : 365;
		y++;
	}
	*year = y;
	*week = thu / 7 + 1;
}

/* The bucket of t as a number (equal for the same bucket) and its label. */
static long long bucket_of(time_t t, enum bucket b, char *label, size_t lsz)
{
	struct tm tm;
	int y, w;

	gmtime_r(&t, &tm);
	y = tm.tm_year + 1900;
	switch (b) {
	case B_HOUR:
		snprintf(label, lsz, "%04d-%02d-%02dT%02d", y, tm.tm_mon + 1,
		    tm.tm_mday, tm.tm_hour);
		return (((long long)y * 12 + tm.tm_mon) * 31 + tm.tm_mday) * 24 +
		    tm.tm_hour;
	case B_DAY:
		snprintf(label, lsz, "%04d-%02d-%02d", y, tm.tm_mon + 1, tm.tm_mday);
		return ((long long)y * 12 + tm.tm_mon) * 31 + tm.tm_mday;
	case B_WEEK:
		iso_week(&tm, &y, &w);
		snprintf(label, lsz, "%04d-W%02d", y, w);
		return (long long)y * 100 + w;
	case B_MONTH:
		snprintf(label, lsz, "%04d-%02d", y, tm.tm_mon + 1);
		return (long long)y * 12 + tm.tm_mon;
	default:
		snprintf(label, lsz, "%04d", y);
		return y;
	}
}

static void decide(struct ret_decision *d, int keep, const char *why)
{
	d->keep = keep;
	snprintf(d->why, sizeof d->why, "%s", why);
}

/* The keep_* rules over the scheduled archives, order[] newest first. */
static void scheduled_rules(const struct ret_archive *a, const size_t *order,
    size_t n, const struct ret_policy *p, time_t now, struct ret_decision *out)
{
	const long want[B_COUNT] = { p->keep_hourly, p->keep_daily,
	    p->keep_weekly, p->keep_monthly, p->keep_yearly };
	long count[B_COUNT] = { 0 }, last_n = 0;
	long long last[B_COUNT];
	int seen[B_COUNT] = { 0 }, any = p->keep_last || p->keep_within;
	char label[32], why[RET_WHY_MAX];

	for (int b = 0; b < B_COUNT; b++)
		any |= want[b] != 0;
	for (size_t k = 0; k < n; k++) {
		size_t i = order[k];
		struct ret_decision *d = &out[i];
		if (a[i].kind != RET_SCHEDULED)
			continue;
		if (!any) {
			decide(d, 1, "no keep_* rule (keeps all)");
			continue;
		}
		if (last_n < p->keep_last) {
			last_n++;
			snprintf(why, sizeof why, "keep_last %ld of %ld", last_n,
			    p->keep_last);
			if (!d->keep)
				decide(d, 1, why);
		}
		for (int b = 0; b < B_COUNT; b++) {
			long long key = bucket_of(a[i].created, (enum bucket)b, label,
			    sizeof label);
			if (seen[b] && key == last[b])
				continue;	/* an older one of the same bucket */
			seen[b] = 1;
			last[b] = key;
			if (count[b] >= want[b])
				continue;
			count[b]++;
			snprintf(why, sizeof why, "%s %s", rule_name[b], label);
			if (!d->keep)
				decide(d, 1, why);
		}
		if (p->keep_within && a[i].created > now - p->keep_within &&
		    !d->keep)
			decide(d, 1, "keep_within");
	}
}

/* keep_manual over manual and safety archives together, newest first. */
static void manual_rule(const struct ret_archive *a, const size_t *order,
    size_t n, const struct ret_policy *p, struct ret_decision *out)
{
	long kept = 0;

	for (size_t k = 0; k < n; k++) {
		size_t i = order[k];
		if (a[i].kind == RET_SCHEDULED || a[i].pinned)
			continue;
		if (p->keep_manual < 0)
			decide(&out[i], 1, "manual (keep_manual)");
		else if (kept < p->keep_manual) {
			kept++;
			decide(&out[i], 1, "manual (keep_manual)");
		}
	}
}

/* Whether deleting i would break a floor: i is the newest verified, or
 * one of too few verified archives kept. */
static int floor_holds(const struct ret_archive *a, size_t i, size_t newest_v,
    long verified_kept, const struct ret_policy *p)
{
	if (i == newest_v)
		return 1;
	return a[i].verified && verified_kept <= p->min_keep;
}

int retention_decide(const struct ret_archive *a, size_t n,
    const struct ret_policy *p, time_t now, struct ret_decision *out,
    int *over_space)
{
	const struct ret_archive **sorted;
	size_t *order, newest_v = (size_t)-1;
	long verified_kept = 0;
	unsigned long long total = 0;

	*over_space = 0;
	for (size_t i = 0; i < n; i++)
		decide(&out[i], 0, a[i].kind == RET_SCHEDULED ? "no rule keeps it" :
		    "manual beyond keep_manual");
	if (n == 0)
		return 0;
	if ((sorted = nmalloc(n * sizeof *sorted)) == NULL)
		return err_set(ERR_NOMEM, "retention: out of memory");
	if ((order = nmalloc(n * sizeof *order)) == NULL) {
		free(sorted);
		return err_set(ERR_NOMEM, "retention: out of memory");
	}
	for (size_t i = 0; i < n; i++)
		sorted[i] = &a[i];
	qsort(sorted, n, sizeof *sorted, newer_first);
	for (size_t k = 0; k < n; k++)
		order[k] = (size_t)(sorted[k] - a);
	free(sorted);

	scheduled_rules(a, order, n, p, now, out);
	manual_rule(a, order, n, p, out);
	for (size_t k = 0; k < n; k++) {
		size_t i = order[k];
		if (a[i].pinned)
			decide(&out[i], 1, "pinned");
		if (a[i].verified && newest_v == (size_t)-1) {
			newest_v = i;
			if (!out[i].keep)
				decide(&out[i], 1, "newest verified");
		}
		if (a[i].verified && out[i].keep)
			verified_kept++;
	}
	/* min_keep: the newest verified archives the policy let go. */
	for (size_t k = 0; k < n && verified_kept < p->min_keep; k++) {
		size_t i = order[k];
		if (a[i].verified && !out[i].keep) {
			decide(&out[i], 1, "min_keep floor");
			verified_kept++;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (out[i].keep)
			total += a[i].size;
	/* max_space: oldest unpinned scheduled archives first. */
	for (size_t k = n; p->max_space && total > p->max_space && k-- > 0; ) {
		size_t i = order[k];
		if (!out[i].keep || a[i].pinned || a[i].kind != RET_SCHEDULED ||
		    floor_holds(a, i, newest_v, verified_kept, p))
			continue;
		decide(&out[i], 0, "max_space");
		total -= a[i].size;
		verified_kept -= a[i].verified;
	}
	*over_space = p->max_space && total > p->max_space;
	free(order);
	return 0;
}
