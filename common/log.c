/* log.c: one line per event, to stderr (foreground) or syslog. Every
 * control byte in a line is escaped here, whoever formatted it (a user
 * name from a client, a path, an error message): a line feed in a name
 * cannot forge a second line. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "esc.h"
#include "log.h"
#include "banned.h"

static const char *log_ident = "nodebak";
static int log_fg = 1, log_verbose;

void log_open(const char *ident, int foreground, int verbose)
{
	log_ident = ident;
	log_fg = foreground;
	log_verbose = verbose;
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static const char *prio_name(int prio)
{
	switch (prio) {
	case LOG_ERR: return "error";
	case LOG_WARNING: return "warning";
	case LOG_DEBUG: return "debug";
	}
	return "info";
}

void logmsg(int prio, const char *fmt, ...)
{
	char raw[2048], line[2048], ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (prio == LOG_DEBUG && !log_verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	esc_ctl(line, sizeof line, raw);
	if (!log_fg) {
		syslog(prio, "%s", line);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* One fprintf per line keeps lines from threads whole. */
	fprintf(stderr, "%s %s[%ld] %s: %s\n", ts, log_ident, (long)getpid(),
	    prio_name(prio), line);
}
