/* log.h: daemon logging, to stderr in the foreground or to syslog. */
#ifndef NODEBAK_LOG_H
#define NODEBAK_LOG_H
#include <syslog.h>

/* ident: program name; foreground: 1 logs to stderr with a timestamp. */
void log_open(const char *ident, int foreground, int verbose);
void logmsg(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define log_err(...)	logmsg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	logmsg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)	logmsg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	logmsg(LOG_DEBUG, __VA_ARGS__)

#endif
