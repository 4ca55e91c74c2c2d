/* t_schedule.c: schedule.c's parsing, next/previous runs, jitter and
 * names, and the test clock's refusal in the shipped build. */
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "schedule.h"
#include "tap.h"

/* 2026-03-04 (a Wednesday) 10:17:23 UTC */
#define T0 ((time_t)1772619443)

static time_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
		.tm_hour = h, .tm_min = mi, .tm_sec = s };
	return timegm(&tm);
}

void t_schedule(void)
{
	struct schedule s;
	long long d;
	char name[65];
	const char *bad[] = { "", "daily", "daily 24:00", "daily 9:00",
		"weekly sunday 01:00", "every 30s", "every", "every 1x",
		"hourly now", "monthly 01:00", NULL };
	int all = 1;

	ok(utc(2026, 3, 4, 10, 17, 23) == T0, "schedule: test epoch");
	ok(duration_parse("1h30m", &d) == 0 && d == 5400 &&
	    duration_parse("0", &d) == 0 && d == 0 &&
	    duration_parse("2d", &d) == 0 && d == 172800 &&
	    duration_parse("2w", &d) == 0 && d == 1209600 &&
	    duration_parse("10", &d) == 0 && d == 10 &&
	    duration_parse("m", &d) != 0 && duration_parse("1x", &d) != 0 &&
	    duration_parse("", &d) != 0 && duration_parse("5300w", &d) != 0,
	    "schedule: durations (units added, w, digits alone seconds, 100 "
	    "years at most)");
	ok(schedule_parse("every 367d", &s) != 0 &&
	    schedule_parse("every 366d", &s) == 0,
	    "schedule: every at most 366 days");
	for (int i = 0; bad[i]; i++)
		all &= schedule_parse(bad[i], &s) != 0;
	ok(all, "schedule: malformed schedules refused");

	ok(schedule_parse("hourly", &s) == 0 &&
	    schedule_next(&s, T0) == utc(2026, 3, 4, 11, 0, 0) &&
	    schedule_prev(&s, T0) == utc(2026, 3, 4, 10, 0, 0),
	    "schedule: hourly next and previous");
	ok(schedule_next(&s, utc(2026, 3, 4, 11, 0, 0)) ==
	    utc(2026, 3, 4, 12, 0, 0), "schedule: next is strictly after");
	ok(schedule_parse("daily 03:30", &s) == 0 &&
	    schedule_next(&s, T0) == utc(2026, 3, 5, 3, 30, 0) &&
	    schedule_prev(&s, T0) == utc(2026, 3, 4, 3, 30, 0) &&
	    schedule_next(&s, utc(2026, 3, 4, 3, 29, 59)) ==
	    utc(2026, 3, 4, 3, 30, 0), "schedule: daily");
	ok(schedule_parse("daily 03:30", &s) == 0 &&
	    schedule_next(&s, utc(2026, 12, 31, 4, 0, 0)) ==
	    utc(2027, 1, 1, 3, 30, 0), "schedule: daily across a year's end");
	ok(schedule_parse("weekly sun 01:00", &s) == 0 &&
	    schedule_next(&s, T0) == utc(2026, 3, 8, 1, 0, 0) &&
	    schedule_prev(&s, T0) == utc(2026, 3, 1, 1, 0, 0) &&
	    schedule_next(&s, utc(2026, 3, 8, 1, 0, 0)) ==
	    utc(2026, 3, 15, 1, 0, 0), "schedule: weekly");
	ok(schedule_parse("weekly wed 10:17", &s) == 0 &&
	    schedule_next(&s, T0) == utc(2026, 3, 11, 10, 17, 0) &&
	    schedule_prev(&s, T0) == utc(2026, 3, 4, 10, 17, 0),
	    "schedule: weekly on the same day, just passed");
	ok(schedule_parse("every 15m", &s) == 0 &&
	    schedule_next(&s, T0) == utc(2026, 3, 4, 10, 30, 0),
	    "schedule: every 15m falls on quarter hours");

	ok(schedule_jitter("3f0c", 600) == schedule_jitter("3f0c", 600) &&
	    schedule_jitter("3f0c", 600) < 600 && schedule_jitter("x", 0) == 0 &&
	    schedule_jitter("3f0c", 600) != schedule_jitter("3f0d", 600),
	    "schedule: jitter is fixed per node id and below the bound");
	schedule_parse("hourly", &s);
	s.offset = 420;
	ok(schedule_next(&s, T0) == utc(2026, 3, 4, 11, 7, 0) &&
	    schedule_next(&s, utc(2026, 3, 4, 10, 5, 0)) ==
	    utc(2026, 3, 4, 10, 7, 0) && schedule_prev(&s, T0) ==
	    utc(2026, 3, 4, 10, 7, 0), "schedule: the offset moves every slot");

	ok(schedule_name("auto-%Y%m%dT%H%M%SZ", T0, name, sizeof name) == 0 &&
	    !strcmp(name, "auto-20260304T101723Z"), "schedule: default name (%s)",
	    name);
	ok(schedule_name("d%j-%%", T0, name, sizeof name) == ERR_INVAL,
	    "schedule: %%%% gives a percent sign, not a valid name character");
	ok(schedule_name("x%a", T0, name, sizeof name) != 0 &&
	    schedule_name(".h%H", T0, name, sizeof name) != 0,
	    "schedule: other conversions and invalid names refused");
	ok(schedule_name("day%j", T0, name, sizeof name) == 0 &&
	    !strcmp(name, "day063"), "schedule: day of the year");

	ok(clock_testable() == 0 && clock_test_set(0, 1) == ERR_INVAL &&
	    strstr(err_msg(), "only in the test daemon") != NULL,
	    "clock: the shipped build refuses to set the clock");
	ok(clock_now() >= time(NULL) - 1 && clock_now() <= time(NULL) + 1,
	    "clock: the shipped build's clock is the real one");
}
