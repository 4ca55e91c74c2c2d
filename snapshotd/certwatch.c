/* certwatch.c: the daily certificate expiry warning and the certificates'
 * metric (see certwatch.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "certwatch.h"
#include "clock.h"
#include "cluster.h"
#include "conf.h"
#include "err.h"
#include "esc.h"
#include "job.h"
#include "log.h"
#include "node.h"
#include "pki.h"
#include "banned.h"

#define DAY 86400

/* The configured certificates: the names in cluster.conf ("" for unset). */
static int configured(const struct node *n, const char *names[3],
    struct cluster *cl)
{
	int r = cluster_load(n->cluster_path, cl);

	names[0] = cl->server_cert;
	names[1] = cl->client_cert;
	names[2] = cl->ca_cert;
	return r;
}

static void warn_one(const struct node *n, const char *name, time_t now)
{
	time_t na;
	long days;

	if (pki_not_after(n, name, &na) != 0) {
		log_warn("pki: %s", err_msg());
		return;
	}
	days = pki_days_left(na, now);
	if (na <= now)
		log_warn("pki: certificate %s expired %ld day%s ago", esc(name),
		    -days, days == -1 ? "" : "s");
	else if (days <= n->conf->pki_warn_days)
		log_warn("pki: certificate %s expires in %ld day%s", esc(name),
		    days, days == 1 ? "" : "s");
}

static int check_job(struct node *n, void *arg)
{
	const char *names[3];
	struct cluster cl;
	time_t now = clock_now();

	(void)arg;
	if (configured(n, names, &cl) != 0)
		log_err("pki: %s", err_msg());
	else
		for (int i = 0; i < 3; i++)
			if (*names[i])
				warn_one(n, names[i], now);
	/* Once a day, at the next midnight UTC of the one clock. */
	if (job_at_time(now - now % DAY + DAY, "certificate check", check_job,
	    NULL, NULL) != 0)
		log_err("%s", err_msg());
	return 0;
}

int certwatch_start(struct node *n)
{
	(void)n;
	return job_at_time(clock_now(), "certificate check", check_job, NULL,
	    NULL);
}

/* A label value in the text format: \, " and newline escaped. */
static void label_value(struct buf *b, const char *s)
{
	for (; *s; s++)
		if (*s == '\\' || *s == '"')
			buf_addf(b, "\\%c", *s);
		else if (*s == '\n')
			buf_adds(b, "\\n");
		else
			buf_addch(b, *s);
}

void certwatch_metrics(struct node *n, struct buf *b)
{
	const char *names[3];
	struct cluster cl;
	time_t na;

	buf_adds(b, "# HELP nodebak_certificate_not_after_timestamp_seconds "
	    "When each configured cluster certificate expires (notAfter).\n"
	    "# TYPE nodebak_certificate_not_after_timestamp_seconds gauge\n");
	if (configured(n, names, &cl) != 0)
		return;
	for (int i = 0; i < 3; i++) {
		if (!*names[i] || pki_not_after(n, names[i], &na) != 0)
			continue;
		buf_adds(b, "nodebak_certificate_not_after_timestamp_seconds"
		    "{file=\"");
		label_value(b, names[i]);
		buf_addf(b, "\"} %lld\n", (long long)na);
	}
}
