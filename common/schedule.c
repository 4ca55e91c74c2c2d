/* schedule.c: scheduled snapshot times (see schedule.h). */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "names.h"
#include "schedule.h"
#include "banned.h"

static const char *const wdays[] = { "sun", "mon", "tue", "wed", "thu",
	"fri", "sat" };

int duration_parse(const char *s, long long *secs)
{
	long long total = 0;
	const char *p = s;

	*secs = 0;
	if (*s == '\0')
		return err_set(ERR_INVAL, "empty duration");
	/* Digits alone are seconds ("0" is none). */
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '\0' && p - s <= 12) {
		*secs = strtoll(s, NULL, 10);
		return 0;
	}
	while (*s) {
		long long n = 0, unit;
		int digits = 0;

		while (isdigit((unsigned char)*s) && digits < 9) {
			n = n * 10 + (*s++ - '0');
			digits++;
		}
		switch (*s++) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 604800; break;
		default: return err_set(ERR_INVAL, "not a duration");
		}
		if (digits == 0)
			return err_set(ERR_INVAL, "not a duration");
		total += n * unit;
		if (total > 100LL * 366 * 86400)
			return err_set(ERR_INVAL, "duration over 100 years");
	}
	*secs = total;
	return 0;
}

/* "HH:MM" exactly. */
static int parse_hhmm(const char *s, int *h, int *m)
{
	if (strlen(s) != 5 || !isdigit((unsigned char)s[0]) ||
	    !isdigit((unsigned char)s[1]) || s[2] != ':' ||
	    !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
		return -1;
	*h = (s[0] - '0') * 10 + (s[1] - '0');
	*m = (s[3] - '0') * 10 + (s[4] - '0');
	return *h < 24 && *m < 60 ? 0 : -1;
}

int schedule_parse(const char *spec, struct schedule *out)
{
	char w[3][16];
	int nw = 0;
	const char *p = spec;

	memset(out, 0, sizeof *out);
	while (*p) {
		size_t len;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		len = strcspn(p, " \t");
		if (nw == 3 || len >= sizeof w[0])
			return err_set(ERR_INVAL, "not a schedule");
		memcpy(w[nw], p, len);
		w[nw++][len] = '\0';
		p += len;
	}
	if (nw == 1 && !strcmp(w[0], "hourly")) {
		out->kind = SCHED_HOURLY;
		return 0;
	}
	if (nw == 2 && !strcmp(w[0], "daily") &&
	    parse_hhmm(w[1], &out->hour, &out->min) == 0) {
		out->kind = SCHED_DAILY;
		return 0;
	}
	if (nw == 3 && !strcmp(w[0], "weekly") &&
	    parse_hhmm(w[2], &out->hour, &out->min) == 0)
		for (int i = 0; i < 7; i++)
			if (!strcmp(w[1], wdays[i])) {
				out->kind = SCHED_WEEKLY;
				out->wday = i;
				return 0;
			}
	if (nw == 2 && !strcmp(w[0], "every") &&
	    duration_parse(w[1], &out->every) == 0 && out->every >= 60 &&
	    out->every <= 366LL * 86400) {
		out->kind = SCHED_EVERY;
		return 0;
	}
	memset(out, 0, sizeof *out);
	return err_set(ERR_INVAL, "not a schedule");
}

long long schedule_jitter(const char *node_id, long long jitter)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	if (jitter <= 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)node_id; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (long long)(h % (uint64_t)jitter);
}

/* The calendar slot (DAILY, WEEKLY) of the day or week holding t, in
 * UTC or local time: mktime() normalises days past the month's end and
 * finds the local offset of that day (DST included). */
static time_t slot_of(const struct schedule *s, time_t t, int day_shift)
{
	struct tm tm;

	if (s->local)
		localtime_r(&t, &tm);
	else
		gmtime_r(&t, &tm);
	if (s->kind == SCHED_WEEKLY)
		tm.tm_mday -= (tm.tm_wday - s->wday + 7) % 7;
	tm.tm_mday += day_shift;
	tm.tm_hour = s->hour;
	tm.tm_min = s->min;
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return s->local ? mktime(&tm) : timegm(&tm);
}

/* The base slots, without the offset: the last at or before t. */
static time_t base_prev(const struct schedule *s, time_t t)
{
	long long step;
	time_t x;

	switch (s->kind) {
	case SCHED_HOURLY:
	case SCHED_EVERY:
		step = s->kind == SCHED_HOURLY ? 3600 : s->every;
		return (time_t)(((long long)t - (((long long)t % step) + step) %
		    step));
	case SCHED_DAILY:
	case SCHED_WEEKLY:
		step = s->kind == SCHED_DAILY ? 1 : 7;
		x = slot_of(s, t, 0);
		if (x > t)
			x = slot_of(s, t, (int)-step);
		return x;
	}
	return t;
}

static time_t base_next(const struct schedule *s, time_t t)
{
	time_t x;

	switch (s->kind) {
	case SCHED_HOURLY:
	case SCHED_EVERY:
		return base_prev(s, t) + (s->kind == SCHED_HOURLY ? 3600 :
		    (time_t)s->every);
	case SCHED_DAILY:
	case SCHED_WEEKLY:
		x = slot_of(s, t, 0);
		if (x <= t)
			x = slot_of(s, t, s->kind == SCHED_DAILY ? 1 : 7);
		return x;
	}
	return t;
}

time_t schedule_next(const struct schedule *s, time_t after)
{
	return base_next(s, after - (time_t)s->offset) + (time_t)s->offset;
}

time_t schedule_prev(const struct schedule *s, time_t t)
{
	return base_prev(s, t - (time_t)s->offset) + (time_t)s->offset;
}

int schedule_name(const char *tmpl, time_t t, char *out, size_t outsz)
{
	char name[NAME_MAX_LEN + 1], conv[3] = "%x";
	size_t len = 0;
	struct tm tm;

	gmtime_r(&t, &tm);
	if (outsz)
		out[0] = '\0';
	for (const char *p = tmpl; *p; p++) {
		char piece[32];
		size_t n;

		if (*p != '%') {
			piece[0] = *p;
			piece[1] = '\0';
		} else if (p[1] && strchr("YmdHMSj%", p[1])) {
			conv[1] = *++p;
			strftime(piece, sizeof piece, conv, &tm);
		} else
			return err_set(ERR_INVAL, "only %%Y %%m %%d %%H %%M %%S "
			    "%%j and %%%% may be used");
		n = strlen(piece);
		if (len + n >= sizeof name)
			return err_set(ERR_INVAL, "the name is over %d characters",
			    NAME_MAX_LEN);
		memcpy(name + len, piece, n);
		len += n;
	}
	name[len] = '\0';
	if (!name_valid(name))
		return err_set(ERR_INVAL, "the name is not 1 to 64 of "
		    "A-Za-z0-9._- not starting with a dot");
	if (strlen(name) >= outsz)
		return err_set(ERR_INVAL, "name too long");
	memcpy(out, name, len + 1);
	return 0;
}
