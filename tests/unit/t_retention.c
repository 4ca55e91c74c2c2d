/* t_retention.c: the retention engine (common/retention.c): each rule by
 * hand, calendar edges, pins, keep_manual, the floors and max_space; then
 * thousands of random sets checked against ref_decide(), a straightforward
 * model written here with another algorithm (for each bucket, scan every
 * archive; buckets named by strftime()), and the floors checked on each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "retention.h"
#include "tap.h"

#define MAXA 40

/* Seconds since the epoch of a UTC date and time. */
static time_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return timegm(&tm);
}

struct set {
	struct ret_archive a[MAXA];
	char names[MAXA][32];
	struct ret_decision d[MAXA];
	size_t n;
	int over;
};

static void add(struct set *s, const char *prefix, time_t t, int verified,
    int pinned, unsigned long long size)
{
	struct ret_archive *a = &s->a[s->n];

	snprintf(s->names[s->n], sizeof s->names[0], "%s%zu", prefix, s->n);
	a->name = s->names[s->n];
	a->created = t;
	a->kind = retention_kind(a->name);
	a->verified = verified;
	a->pinned = pinned;
	a->size = size;
	s->n++;
}

static int run(struct set *s, const struct ret_policy *p, time_t now)
{
	return retention_decide(s->a, s->n, p, now, s->d, &s->over);
}

/* "1" or "0" per archive, in the set's order. */
static const char *kept(const struct set *s)
{
	static char out[MAXA + 1];

	for (size_t i = 0; i < s->n; i++)
		out[i] = s->d[i].keep ? '1' : '0';
	out[s->n] = '\0';
	return out;
}

static void t_rules(void)
{
	struct ret_policy p;
	struct set s;
	time_t now = utc(2026, 12, 1, 12, 0, 0);

	memset(&s, 0, sizeof s);
	retention_policy_default(&p);
	for (int i = 0; i < 5; i++)
		add(&s, "auto-", now - 3600 * (5 - i), 1, 0, 10);
	ok(run(&s, &p, now) == 0 && !strcmp(kept(&s), "11111") &&
	    !strcmp(s.d[0].why, "no keep_* rule (keeps all)"),
	    "retention: the default policy keeps everything (%s, %s)", kept(&s),
	    s.d[0].why);
	p.keep_last = 2;
	ok(run(&s, &p, now) == 0 && !strcmp(kept(&s), "00011") &&
	    !strcmp(s.d[4].why, "keep_last 1 of 2") &&
	    !strcmp(s.d[0].why, "no rule keeps it"),
	    "retention: keep_last keeps the newest N (%s %s)", kept(&s), s.d[4].why);

	memset(&s, 0, sizeof s);
	retention_policy_default(&p);
	p.keep_daily = 2;
	add(&s, "auto-", utc(2026, 11, 29, 12, 0, 0), 1, 0, 1);
	add(&s, "auto-", utc(2026, 11, 30, 1, 0, 0), 1, 0, 1);
	add(&s, "auto-", utc(2026, 11, 30, 23, 0, 0), 1, 0, 1);
	add(&s, "auto-", utc(2026, 12, 1, 0, 30, 0), 1, 0, 1);
	ok(run(&s, &p, now) == 0 && !strcmp(kept(&s), "0011") &&
	    !strcmp(s.d[2].why, "keep_daily 2026-11-30") &&
	    !strcmp(s.d[3].why, "keep_daily 2026-12-01"),
	    "retention: keep_daily, newest of each UTC day (%s %s)", kept(&s),
	    s.d[2].why);
	p.keep_daily = 0;
	p.keep_hourly = 3;
	ok(run(&s, &p, now) == 0 && !strcmp(kept(&s), "0111") &&
	    !strcmp(s.d[1].why, "keep_hourly 2026-11-30T01"),
	    "retention: keep_hourly (%s %s)", kept(&s), s.d[1].why);
	p.keep_hourly = 0;
	p.keep_within = 36 * 3600;
	ok(run(&s, &p, now) == 0 && !strcmp(kept(&s), "0111") &&
	    !strcmp(s.d[1].why, "keep_within"),
	    "retention: keep_within 36h (%s)", kept(&s));

	/* Month and year edges, one second apart. */
	memset(&s, 0, sizeof s);
	retention_policy_default(&p);
	p.keep_monthly = 2;
	add(&s, "auto-", utc(2026, 12, 31, 23, 59, 58), 1, 0, 1);
	add(&s, "auto-", utc(2026, 12, 31, 23, 59, 59), 1, 0, 1);
	add(&s, "auto-", utc(2027, 1, 1, 0, 0, 0), 1, 0, 1);
	ok(run(&s, &p, now) == 0 && !strcmp(kept(&s), "011") &&
	    !strcmp(s.d[1].why, "keep_monthly 2026-12") &&
	    !strcmp(s.d[2].why, "keep_monthly 2027-01"),
	    "retention: keep_monthly at a year's end (%s)", kept(&s));
	p.keep_monthly = 0;
	p.keep_yearly = 5;
	ok(run(&s, &p, now) == 0 && !strcmp(kept(&s), "011") &&
	    !strcmp(s.d[1].why, "keep_yearly 2026"),
	    "retention: keep_yearly (%s %s)", kept(&s), s.d[1].why);

	/* ISO weeks: Monday 2024-12-30 is 2025-W01; Friday 2027-01-01 is
	 * 2026-W53. */
	memset(&s, 0, sizeof s);
	retention_policy_default(&p);
	p.keep_weekly = 10;
	add(&s, "auto-", utc(2024, 12, 30, 0, 0, 0), 1, 0, 1);
	add(&s, "auto-", utc(2024, 12, 29, 23, 0, 0), 1, 0, 1);
	add(&s, "auto-", utc(2027, 1, 1, 0, 0, 0), 1, 0, 1);
	add(&s, "auto-", utc(2026, 12, 28, 0, 0, 0), 1, 0, 1);
	add(&s, "auto-", utc(2027, 1, 4, 0, 0, 0), 1, 0, 1);
	ok(run(&s, &p, now) == 0 && !strcmp(kept(&s), "11101") &&
	    !strcmp(s.d[0].why, "keep_weekly 2025-W01") &&
	    !strcmp(s.d[1].why, "keep_weekly 2024-W52") &&
	    !strcmp(s.d[2].why, "keep_weekly 2026-W53") &&
	    !strcmp(s.d[4].why, "keep_weekly 2027-W01"),
	    "retention: ISO weeks across years (%s %s %s)", kept(&s), s.d[0].why,
	    s.d[2].why);
}

/* Every day of 1990..2060 labelled as strftime's %G-W%V says. */
static void t_iso_weeks(void)
{
	struct ret_policy p;
	struct ret_archive a;
	struct ret_decision d;
	char want[64];
	int over, bad = 0;

	retention_policy_default(&p);
	p.keep_weekly = 1;
	memset(&a, 0, sizeof a);
	a.name = "auto-x";
	for (time_t t = utc(1990, 1, 1, 12, 0, 0); t < utc(2060, 1, 1, 0, 0, 0);
	    t += 86400) {
		struct tm tm;
		a.created = t;
		gmtime_r(&t, &tm);
		strftime(want, sizeof want, "keep_weekly %G-W%V", &tm);
		if (retention_decide(&a, 1, &p, t, &d, &over) != 0 ||
		    strcmp(d.why, want)) {
			if (!bad)
				printf("# %s != %s\n", d.why, want);
			bad++;
		}
	}
	ok(bad == 0, "retention: ISO week of every day 1990-2059 (%d wrong)", bad);
}

static void t_pins_manual_floors(void)
{
	struct ret_policy p;
	struct set s;
	time_t now = utc(2026, 12, 1, 12, 0, 0);

	memset(&s, 0, sizeof s);
	retention_policy_default(&p);
	p.keep_last = 1;
	p.keep_manual = 1;
	add(&s, "auto-", now - 9000, 1, 1, 1);		/* pinned */
	add(&s, "nightly-", now - 8000, 1, 0, 1);
	add(&s, "pre-rollback-", now - 7000, 1, 0, 1);
	add(&s, "auto-", now - 6000, 1, 0, 1);
	add(&s, "manual-", now - 5000, 1, 1, 1);	/* pinned manual */
	add(&s, "auto-", now - 100, 1, 0, 1);
	ok(run(&s, &p, now) == 0 && !strcmp(kept(&s), "101011") &&
	    !strcmp(s.d[0].why, "pinned") && !strcmp(s.d[4].why, "pinned") &&
	    !strcmp(s.d[2].why, "manual (keep_manual)") &&
	    !strcmp(s.d[1].why, "manual beyond keep_manual"),
	    "retention: pins, keep_manual over manual and safety (%s)", kept(&s));
	p.keep_manual = -1;
	ok(run(&s, &p, now) == 0 && !strcmp(kept(&s), "111011"),
	    "retention: keep_manual -1 keeps every manual archive (%s)", kept(&s));

	/* The newest is unverified: the newest verified stays; min_keep 3. */
	memset(&s, 0, sizeof s);
	retention_policy_default(&p);
	p.keep_last = 1;
	for (int i = 0; i < 5; i++)
		add(&s, "auto-", now - 1000 * (6 - i), 1, 0, 1);
	add(&s, "auto-", now - 10, 0, 0, 1);
	ok(run(&s, &p, now) == 0 && !strcmp(kept(&s), "000011") &&
	    !strcmp(s.d[4].why, "newest verified"),
	    "retention: the newest verified archive is never deleted (%s)",
	    kept(&s));
	p.min_keep = 3;
	ok(run(&s, &p, now) == 0 && !strcmp(kept(&s), "001111") &&
	    !strcmp(s.d[3].why, "min_keep floor"),
	    "retention: min_keep counts verified archives only (%s)", kept(&s));
}

static void t_max_space(void)
{
	struct ret_policy p;
	struct set s;
	time_t now = utc(2026, 12, 1, 12, 0, 0);

	memset(&s, 0, sizeof s);
	retention_policy_default(&p);
	p.keep_last = 5;
	p.max_space = 250;
	add(&s, "manual-", now - 9000, 1, 0, 100);
	for (int i = 0; i < 5; i++)
		add(&s, "auto-", now - 1000 * (6 - i), 1, i == 0, 50);
	ok(run(&s, &p, now) == 0 && !strcmp(kept(&s), "110011") && !s.over &&
	    !strcmp(s.d[2].why, "max_space"),
	    "retention: max_space deletes the oldest unpinned scheduled (%s)",
	    kept(&s));
	p.min_keep = 5;
	ok(run(&s, &p, now) == 0 && !strcmp(kept(&s), "110111") && s.over,
	    "retention: max_space stops at min_keep and alerts (%s, over %d)",
	    kept(&s), s.over);
	p.min_keep = 1;
	p.max_space = 10;
	ok(run(&s, &p, now) == 0 && !strcmp(kept(&s), "110001") && s.over,
	    "retention: manual, pinned and the newest verified outlast max_space "
	    "(%s)", kept(&s));
}

/* The worked example: a year of daily runs at 02:30 UTC under
 * keep_daily=7 keep_weekly=4 keep_monthly=12 (docs/snapshots.md). */
static void t_worked_example(void)
{
	static const char *const want[] = {
		"01-31", "02-28", "03-31", "04-30", "05-31", "06-30", "07-31",
		"08-31", "09-30", "10-31", "11-30", "12-13", "12-20", "12-25",
		"12-26", "12-27", "12-28", "12-29", "12-30", "12-31",
	};
	static struct ret_archive a[365];
	static struct ret_decision d[365];
	static char names[365][40];
	struct ret_policy p;
	size_t nw = 0;
	int over, same = 1;

	retention_policy_default(&p);
	p.keep_daily = 7;
	p.keep_weekly = 4;
	p.keep_monthly = 12;
	for (int i = 0; i < 365; i++) {
		struct tm tm;
		a[i].created = utc(2026, 1, 1, 2, 30, 0) + (time_t)i * 86400;
		gmtime_r(&a[i].created, &tm);
		strftime(names[i], sizeof names[i], "auto-%Y%m%dT%H%M%SZ", &tm);
		a[i].name = names[i];
		a[i].kind = RET_SCHEDULED;
		a[i].verified = 1;
	}
	ok(retention_decide(a, 365, &p, a[364].created + 60, d, &over) == 0,
	    "retention: worked example decided");
	for (int i = 0; i < 365; i++) {
		char md[6];
		if (!d[i].keep)
			continue;
		snprintf(md, sizeof md, "%.2s-%.2s", names[i] + 9, names[i] + 11);
		printf("# worked example keeps %s: %s\n", names[i], d[i].why);
		if (nw >= sizeof want / sizeof want[0] || strcmp(md, want[nw]))
			same = 0;
		nw++;
	}
	ok(same && nw == sizeof want / sizeof want[0],
	    "retention: worked example keeps exactly the 20 documented (%zu)", nw);
}

/* ---- the reference model ---- */

static int newer(const struct ret_archive *x, const struct ret_archive *y)
{
	return x->created != y->created ? x->created > y->created :
	    strcmp(x->name, y->name) > 0;
}

static void ref_decide(const struct ret_archive *a, size_t n,
    const struct ret_policy *p, time_t now, int *keep, int *over)
{
	static const char *const fmt[5] = { "%Y%m%d%H", "%Y%m%d", "%G%V",
	    "%Y%m", "%Y" };
	const long want[5] = { p->keep_hourly, p->keep_daily, p->keep_weekly,
	    p->keep_monthly, p->keep_yearly };
	char key[MAXA][5][16];
	int any = p->keep_last || p->keep_within, newest_v = -1;
	long vkept = 0;
	unsigned long long total = 0;

	for (int r = 0; r < 5; r++)
		any |= want[r] != 0;
	for (size_t i = 0; i < n; i++) {
		struct tm tm;
		gmtime_r(&a[i].created, &tm);
		for (int r = 0; r < 5; r++)
			strftime(key[i][r], sizeof key[i][r], fmt[r], &tm);
		keep[i] = 0;
	}
	for (size_t i = 0; i < n; i++) {
		long rank = 0;		/* newer ones of its kind group */
		int sched = a[i].kind == RET_SCHEDULED;
		for (size_t j = 0; j < n; j++)
			if ((a[j].kind == RET_SCHEDULED) == sched && newer(&a[j], &a[i]) &&
			    (sched || !a[j].pinned))
				rank++;
		if (a[i].pinned)
			keep[i] = 1;
		else if (!sched)
			keep[i] = p->keep_manual < 0 || rank < p->keep_manual;
		else if (!any || rank < p->keep_last ||
		    (p->keep_within && a[i].created > now - p->keep_within))
			keep[i] = 1;
	}
	/* For each rule and each bucket: is the bucket among the N newest
	 * that hold a scheduled archive, and is i the newest in it? */
	for (int r = 0; r < 5; r++)
		for (size_t i = 0; i < n; i++) {
			long newer_buckets = 0;
			int newest = 1;
			if (a[i].kind != RET_SCHEDULED)
				continue;
			for (size_t j = 0; j < n; j++) {
				int dup = 0;
				if (a[j].kind != RET_SCHEDULED)
					continue;
				if (!strcmp(key[j][r], key[i][r]) && newer(&a[j], &a[i]))
					newest = 0;
				if (strcmp(key[j][r], key[i][r]) <= 0)
					continue;
				for (size_t k = 0; k < j; k++)	/* count each key once */
					if (a[k].kind == RET_SCHEDULED &&
					    !strcmp(key[k][r], key[j][r]))
						dup = 1;
				newer_buckets += !dup;
			}
			if (newest && newer_buckets < want[r])
				keep[i] = 1;
		}
	for (size_t i = 0; i < n; i++)
		if (a[i].verified && (newest_v < 0 || newer(&a[i], &a[newest_v])))
			newest_v = (int)i;
	if (newest_v >= 0)
		keep[newest_v] = 1;
	for (size_t i = 0; i < n; i++)
		vkept += keep[i] && a[i].verified;
	while (vkept < p->min_keep) {
		int best = -1;
		for (size_t i = 0; i < n; i++)
			if (a[i].verified && !keep[i] && (best < 0 || newer(&a[i], &a[best])))
				best = (int)i;
		if (best < 0)
			break;
		keep[best] = 1;
		vkept++;
	}
	for (size_t i = 0; i < n; i++)
		total += keep[i] ? a[i].size : 0;
	while (p->max_space && total > p->max_space) {
		int old = -1;
		for (size_t i = 0; i < n; i++)
			if (keep[i] && !a[i].pinned && a[i].kind == RET_SCHEDULED &&
			    (int)i != newest_v && !(a[i].verified && vkept <= p->min_keep) &&
			    (old < 0 || newer(&a[old], &a[i])))
				old = (int)i;
		if (old < 0)
			break;
		keep[old] = 0;
		total -= a[old].size;
		vkept -= a[old].verified;
	}
	*over = p->max_space && total > p->max_space;
}

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static unsigned long rnd(unsigned long n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned long)(rng % n);
}

static long rcount(void)
{
	return rnd(3) == 0 ? 0 : (long)rnd(6);
}

static void t_model(void)
{
	static const char *const prefix[] = { "auto-", "auto-", "auto-", "man-",
	    "pre-rollback-" };
	int diff = 0, floors = 0, runs = 5000;

	for (int t = 0; t < runs; t++) {
		struct ret_policy p;
		struct set s;
		int ref[MAXA], over, n = (int)rnd(MAXA), nv = 0, vk = 0, newest_v = -1;
		/* Spans from hours to years, with ties of created time. */
		long span = rnd(4) == 0 ? 86400L * 800 : rnd(2) ? 86400L * 60 : 86400L * 2;
		time_t now = utc(2026, 1, 1, 0, 0, 0) + (time_t)rnd(86400 * 400);

		memset(&s, 0, sizeof s);
		for (int i = 0; i < n; i++) {
			time_t off = (time_t)rnd((unsigned long)span);
			if (rnd(3) == 0)	/* on the hour: ties and edges */
				off -= off % 3600;
			add(&s, prefix[rnd(5)], now - off, rnd(5) != 0, rnd(10) == 0,
			    rnd(100) + 1);
		}
		retention_policy_default(&p);
		p.keep_last = rcount();
		p.keep_hourly = rcount();
		p.keep_daily = rcount();
		p.keep_weekly = rcount();
		p.keep_monthly = rcount();
		p.keep_yearly = rcount();
		p.keep_within = rnd(3) == 0 ? (long long)rnd(86400 * 30) : 0;
		p.keep_manual = (long)rnd(5) - 1;
		p.min_keep = (long)rnd(5);
		p.max_space = rnd(2) ? rnd(3000) : 0;
		if (run(&s, &p, now) != 0) {
			diff++;
			continue;
		}
		ref_decide(s.a, s.n, &p, now, ref, &over);
		for (int i = 0; i < n; i++)
			if (ref[i] != s.d[i].keep || (!s.d[i].keep &&
			    (s.a[i].pinned || !strcmp(s.d[i].why, "pinned")))) {
				if (!diff) {
					printf("# run %d: %s engine %d (%s) model %d\n", t,
					    s.a[i].name, s.d[i].keep, s.d[i].why, ref[i]);
					printf("# policy last %ld h %ld d %ld w %ld m %ld y %ld within %lld manual %ld min %ld space %llu now %ld\n", p.keep_last, p.keep_hourly, p.keep_daily, p.keep_weekly, p.keep_monthly, p.keep_yearly, p.keep_within, p.keep_manual, p.min_keep, p.max_space, (long)now);
					for (int j = 0; j < n; j++)
						printf("#  %s %ld v%d p%d %llu: %d %s / %d\n", s.a[j].name, (long)s.a[j].created, s.a[j].verified, s.a[j].pinned, s.a[j].size, s.d[j].keep, s.d[j].why, ref[j]);
				}
				diff++;
				break;
			}
		if (over != s.over)
			diff++;
		for (int i = 0; i < n; i++) {
			if (!s.a[i].verified)
				continue;
			nv++;
			vk += s.d[i].keep;
			if (newest_v < 0 || newer(&s.a[i], &s.a[newest_v]))
				newest_v = i;
		}
		if ((newest_v >= 0 && !s.d[newest_v].keep) ||
		    vk < (nv < p.min_keep ? nv : p.min_keep))
			floors++;
		if (!s.over && p.max_space) {
			unsigned long long total = 0;
			for (int i = 0; i < n; i++)
				total += s.d[i].keep ? s.a[i].size : 0;
			if (total > p.max_space)
				floors++;
		}
	}
	ok(diff == 0, "retention: %d random sets decided as the model (%d differ)",
	    runs, diff);
	ok(floors == 0, "retention: floors hold in every random set (%d broken)",
	    floors);
}

void t_retention(void)
{
	t_rules();
	t_iso_weeks();
	t_pins_manual_floors();
	t_max_space();
	t_worked_example();
	t_model();
}
