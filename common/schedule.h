/* schedule.h: when scheduled snapshots run ([schedule] in nodebak.conf(5),
 * docs/snapshots.md "Scheduled snapshots"): parsing the schedule, the
 * durations and the name template, and the next run after a time. Pure
 * functions of their arguments; the clock is the caller's (clock.h). */
#ifndef NODEBAK_SCHEDULE_H
#define NODEBAK_SCHEDULE_H
#include <stddef.h>
#include <time.h>

enum schedule_kind { SCHED_HOURLY, SCHED_DAILY, SCHED_WEEKLY, SCHED_EVERY };

struct schedule {
	enum schedule_kind kind;
	int wday;		/* SCHED_WEEKLY: 0 Sunday .. 6 Saturday */
	int hour, min;		/* SCHED_DAILY, SCHED_WEEKLY */
	long long every;	/* SCHED_EVERY: seconds, 60 or more */
	int local;		/* days and times in local time, not UTC */
	long long offset;	/* the node's jitter: seconds after each slot */
};

/* What schedule_parse() accepts, for errors and the man page. */
#define SCHEDULE_ALLOWED "hourly, daily HH:MM, weekly DAY HH:MM (DAY: mon " \
	"to sun) or every DURATION (at least 1m)"
#define DURATION_ALLOWED "a duration: digits with s, m, h, d or w, several " \
	"added (1h30m); digits alone are seconds; 0 for none"

/* Parse "hourly", "daily HH:MM", "weekly DAY HH:MM", "every DURATION"
 * into *out (local and offset zero). 0, or ERR_INVAL. */
int schedule_parse(const char *spec, struct schedule *out);
/* Parse a duration ("90s", "15m", "1h30m", "2d", "2w", "45", "0") into
 * seconds (at most 100 years; callers check their own range). 0, or
 * ERR_INVAL. */
int duration_parse(const char *s, long long *secs);
/* The node's fixed jitter offset: a hash of node_id modulo jitter seconds
 * (0 when jitter is 0). The same id always gets the same offset. */
long long schedule_jitter(const char *node_id, long long jitter);
/* The first run strictly after after. */
time_t schedule_next(const struct schedule *s, time_t after);
/* The most recent run at or before t (catch-up: was one missed?). */
time_t schedule_prev(const struct schedule *s, time_t t);
/* The snapshot name for a run at t: the template's strftime conversions
 * %Y %m %d %H %M %S %j and %% in UTC (only those). 0 and out filled, or
 * ERR_INVAL when the template has another conversion or the name is not
 * a valid snapshot name (names.h). */
int schedule_name(const char *tmpl, time_t t, char *out, size_t outsz);

#endif
