/* scheduled.c: scheduled snapshots, their record and the metrics file (see
 * scheduled.h). Every time of day comes from clock_now() (clock.h); durations
 * from the job loop's monotonic clock. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "bak.h"
#include "bakcheck.h"
#include "buf.h"
#include "certwatch.h"
#include "clock.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "job.h"
#include "json.h"
#include "log.h"
#include "names.h"
#include "node.h"
#include "prune.h"
#include "schedule.h"
#include "scheduled.h"
#include "snapshot.h"
#include "xmalloc.h"
#include "banned.h"

/* Why a run failed: the {reason} label of the failures counter. */
enum reason { R_SPACE, R_SNAPSHOT, R_VERIFY, NREASONS };
static const char *const reason_name[NREASONS] = { "space", "snapshot",
	"verify" };

/* The record of the runs (state_dir/schedule.state). */
struct record {
	long long last_slot;		/* the scheduled time of the last run */
	long long last_start, last_end;	/* clock_now() */
	int result;			/* -1 none yet, 0 success, 1 failure */
	char error[512];
	char last_name[NAME_MAX_LEN + 1];
	long long consecutive, failures[NREASONS];
	long long last_success, last_size, last_duration_ms;
};

static struct {
	pthread_mutex_t lock;	/* guards all below */
	struct record rec;
	struct schedule sc;
	int enabled;
	long long next;		/* the next run, 0: none */
	unsigned run_gen;	/* queued runs of another generation are */
	unsigned metrics_gen;	/* stale (a reload re-planned them): dropped */
} st = { .lock = PTHREAD_MUTEX_INITIALIZER, .rec = { .result = -1 } };

/* ---- the record ---- */

static char *state_path(const struct node *n)
{
	return fs_join(n->conf->state_dir, SCHED_STATE_FILE);
}

/* "key value" lines; unknown keys are ignored (newer versions). */
static void record_load(const struct node *n, struct record *r)
{
	struct buf b = BUF_INIT(1 << 16);
	char *path = state_path(n), *line, *save = NULL;

	memset(r, 0, sizeof *r);
	r->result = -1;
	if (fs_read_file(path, 1 << 16, &b) != 0) {
		free(path);
		buf_free(&b);
		return;
	}
	for (line = strtok_r((char *)buf_cstr(&b), "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, ' ');
		long long x;

		if (v == NULL)
			continue;
		*v++ = '\0';
		x = strtoll(v, NULL, 10);
		if (!strcmp(line, "last_slot")) r->last_slot = x;
		else if (!strcmp(line, "last_start")) r->last_start = x;
		else if (!strcmp(line, "last_end")) r->last_end = x;
		else if (!strcmp(line, "result")) r->result = (int)x;
		else if (!strcmp(line, "consecutive_failures")) r->consecutive = x;
		else if (!strcmp(line, "last_success")) r->last_success = x;
		else if (!strcmp(line, "last_size")) r->last_size = x;
		else if (!strcmp(line, "last_duration_ms")) r->last_duration_ms = x;
		else if (!strcmp(line, "error"))
			snprintf(r->error, sizeof r->error, "%s", v);
		else if (!strcmp(line, "last_name"))
			snprintf(r->last_name, sizeof r->last_name, "%s", v);
		else
			for (int i = 0; i < NREASONS; i++)
				if (!strncmp(line, "failures_", 9) &&
				    !strcmp(line + 9, reason_name[i]))
					r->failures[i] = x;
	}
	free(path);
	buf_free(&b);
}

static int record_save(const struct node *n, const struct record *r)
{
	struct buf b = BUF_INIT(1 << 16);
	char *path = state_path(n), err1[sizeof r->error];
	int ret;

	/* One line per key: the error may not break a line. */
	snprintf(err1, sizeof err1, "%s", r->error);
	for (char *p = err1; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	buf_addf(&b, "last_slot %lld\nlast_start %lld\nlast_end %lld\n"
	    "result %d\nconsecutive_failures %lld\nlast_success %lld\n"
	    "last_size %lld\nlast_duration_ms %lld\nlast_name %s\nerror %s\n",
	    r->last_slot, r->last_start, r->last_end, r->result, r->consecutive,
	    r->last_success, r->last_size, r->last_duration_ms, r->last_name,
	    err1);
	for (int i = 0; i < NREASONS; i++)
		buf_addf(&b, "failures_%s %lld\n", reason_name[i], r->failures[i]);
	ret = fs_write_atomic(path, buf_cstr(&b), b.len, 0600);
	free(path);
	buf_free(&b);
	return ret;
}

/* ---- what the backups folder holds ---- */

struct archives {
	long long n_scheduled, n_other, bytes, free_bytes;
	char newest[NAME_MAX_LEN + 8];	/* newest verified .bak, "" none */
	long long newest_created;
	/* Sealed archives whose recipients other than this node are none of
	 * the configured ones any more: off the node, only keys that were
	 * removed open them. */
	long long n_orphaned;
	char orphaned[NAME_MAX_LEN + 8];	/* the newest of them */
	long long orphaned_created;
	size_t nrec;			/* configured recipients, this node's too */
	int rec_error;			/* the configured list does not load */
};

/* 1 when c is sealed to other recipients than this node's, none of them
 * among the nrec in rs. */
static int orphaned(const struct node *n, const struct bakcheck *c,
    const struct age_recipient *rs, size_t nrec)
{
	int others = 0;

	if (!c->sealed)
		return 0;
	for (size_t i = 0; i < c->nrec; i++) {
		if (!memcmp(c->rec[i].pub, n->recovery_id.pub, AGE_KEY_LEN))
			continue;
		others = 1;
		for (size_t j = 0; j < nrec; j++)
			if (!memcmp(c->rec[i].pub, rs[j].pub, AGE_KEY_LEN))
				return 0;
	}
	return others;
}

static int is_bak(const char *name)
{
	char base[NAME_MAX_LEN + 1];

	return name[0] != '.' && name_from_bak(name, base, sizeof base) == 0;
}

/* A scheduled archive's name starts as the template's text before its
 * first conversion (auto- by default). */
static int is_scheduled(const struct node *n, const char *file)
{
	const char *t = n->conf->sched_name;
	size_t len = t ? strcspn(t, "%") : 0;

	return len > 0 && !strncmp(file, t, len);
}

static void archives_scan(struct node *n, struct archives *a)
{
	struct statvfs sv;
	char **names;
	size_t count;

	struct age_recipient *rs = xcalloc(AGE_MAX_RECIPIENTS, sizeof *rs);

	memset(a, 0, sizeof *a);
	a->rec_error = node_recipients(n, rs, &a->nrec) != 0;
	if (statvfs(n->backups, &sv) == 0)
		a->free_bytes = (long long)sv.f_bavail * (long long)sv.f_frsize;
	if (fs_list_sorted(n->backups, is_bak, &names, &count) != 0) {
		free(rs);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		struct bakcheck c;
		struct stat sb;
		char *p = node_backup_path(n, names[i]);

		if (stat(p, &sb) == 0)
			a->bytes += sb.st_size;
		free(p);
		*(is_scheduled(n, names[i]) ? &a->n_scheduled : &a->n_other) += 1;
		if (bakcheck_file(n, names[i], &c) == 0 &&
		    c.status == BC_VERIFIED && (long long)c.created >=
		    a->newest_created) {
			a->newest_created = (long long)c.created;
			snprintf(a->newest, sizeof a->newest, "%s", names[i]);
		}
		if (bakcheck_file(n, names[i], &c) == 0 && !a->rec_error &&
		    orphaned(n, &c, rs, a->nrec)) {
			a->n_orphaned++;
			if ((long long)c.created >= a->orphaned_created) {
				a->orphaned_created = (long long)c.created;
				snprintf(a->orphaned, sizeof a->orphaned, "%s", names[i]);
			}
		}
	}
	fs_list_free(names, count);
	free(rs);
}

/* ---- the metrics file (Prometheus text format 0.0.4) ---- */

static void metric(struct buf *b, const char *name, const char *type,
    const char *help)
{
	buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The metrics file from the record r (the caller's copy). */
static void metrics_write(struct node *n, const struct record *rp)
{
	const char *path = n->conf->metrics_textfile;
	struct buf b = BUF_INIT(1 << 20);
	struct archives a;
	struct record r = *rp;

	if (path == NULL)
		return;
	archives_scan(n, &a);
	metric(&b, "nodebak_snapshot_last_success_timestamp_seconds", "gauge",
	    "When the last scheduled snapshot that verified ended (0: never).");
	buf_addf(&b, "nodebak_snapshot_last_success_timestamp_seconds %lld\n",
	    r.last_success);
	metric(&b, "nodebak_snapshot_last_duration_seconds", "gauge",
	    "How long the last scheduled run took.");
	buf_addf(&b, "nodebak_snapshot_last_duration_seconds %lld.%03lld\n",
	    r.last_duration_ms / 1000, r.last_duration_ms % 1000);
	metric(&b, "nodebak_snapshot_last_size_bytes", "gauge",
	    "The size of the last scheduled snapshot that verified.");
	buf_addf(&b, "nodebak_snapshot_last_size_bytes %lld\n", r.last_size);
	metric(&b, "nodebak_snapshot_consecutive_failures", "gauge",
	    "Scheduled runs that failed since the last success.");
	buf_addf(&b, "nodebak_snapshot_consecutive_failures %lld\n",
	    r.consecutive);
	metric(&b, "nodebak_snapshot_failures_total", "counter",
	    "Scheduled runs that failed, by reason.");
	for (int i = 0; i < NREASONS; i++)
		buf_addf(&b, "nodebak_snapshot_failures_total{reason=\"%s\"} "
		    "%lld\n", reason_name[i], r.failures[i]);
	metric(&b, "nodebak_archives", "gauge",
	    "Archives in the backups folder, by kind.");
	buf_addf(&b, "nodebak_archives{kind=\"scheduled\"} %lld\n"
	    "nodebak_archives{kind=\"other\"} %lld\n", a.n_scheduled, a.n_other);
	metric(&b, "nodebak_archives_bytes", "gauge",
	    "Bytes of the archives in the backups folder.");
	buf_addf(&b, "nodebak_archives_bytes %lld\n", a.bytes);
	metric(&b, "nodebak_backup_filesystem_free_bytes", "gauge",
	    "Bytes free for archives on the backups folder's filesystem.");
	buf_addf(&b, "nodebak_backup_filesystem_free_bytes %lld\n", a.free_bytes);
	certwatch_metrics(n, &b);
	if (fs_write_atomic(path, buf_cstr(&b), b.len, 0644) != 0)
		log_err("metrics: %s: %s", esc(path), err_msg());
	buf_free(&b);
}

/* ---- the runs ---- */

static int run_job(struct node *n, void *arg);

/* A queued run: its scheduled time and the plan it belongs to. */
struct queued {
	time_t slot;
	unsigned gen;
};

static void queue_run(time_t when)
{
	struct queued *q = xmalloc(sizeof *q);

	q->slot = when;
	pthread_mutex_lock(&st.lock);
	st.next = (long long)when;
	q->gen = st.run_gen;
	pthread_mutex_unlock(&st.lock);
	if (job_at_time(when, "scheduled snapshot", run_job, q, free) != 0) {
		log_err("%s", err_msg());
		free(q);
	}
}

/* Verify backups/<name>.bak as backup verify does. */
static int verify(struct node *n, const char *name, long long *size)
{
	struct bak_limits lim;
	struct bak_keys keys;
	struct manifest mf;
	struct stat sb;
	char file[NAME_MAX_LEN + 8], *path;
	int r;

	snprintf(file, sizeof file, "%s.bak", name);
	path = node_backup_path(n, file);
	node_limits(n, &lim);
	node_keys(n, NULL, 0, &keys);
	r = bak_read(path, &keys, &lim, -1, &mf, NULL);
	if (r == 0) {
		if ((r = node_check_claim(n, &mf, file)) == 0)
			r = snapshot_check_sidecar(path, &mf);
		manifest_free(&mf);
	}
	*size = r == 0 && stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
	free(path);
	return r;
}

static int run_job(struct node *n, void *arg)
{
	const struct queued *q = arg;
	time_t slot = q->slot;
	char name[NAME_MAX_LEN + 1];
	struct record r;
	int64_t t0 = job_now();
	int ret, why = R_SNAPSHOT;
	long long size = 0;

	pthread_mutex_lock(&st.lock);
	r = st.rec;
	ret = q->gen != st.run_gen;
	pthread_mutex_unlock(&st.lock);
	if (ret) {
		log_debug("scheduled snapshot of %lld: dropped (the schedule was "
		    "reloaded)", (long long)slot);
		return 0;
	}
	r.last_slot = (long long)slot;
	r.last_start = (long long)clock_now();
	if ((ret = schedule_name(n->conf->sched_name, slot, name,
	    sizeof name)) == 0) {
		log_info("scheduled snapshot %s: started", name);
		if ((ret = snapshot_create(n, name, NULL)) != 0)
			why = errno == ENOSPC || strstr(err_msg(), "No space") ?
			    R_SPACE : R_SNAPSHOT;
		else if ((ret = verify(n, name, &size)) != 0)
			why = R_VERIFY;
	}
	r.last_end = (long long)clock_now();
	r.last_duration_ms = job_now() - t0;
	snprintf(r.last_name, sizeof r.last_name, "%s", ret == 0 ? name : "");
	if (ret == 0) {
		r.result = 0;
		r.error[0] = '\0';
		r.consecutive = 0;
		r.last_success = r.last_end;
		r.last_size = size;
		log_info("scheduled snapshot %s: done, verified, %lld bytes",
		    name, size);
		/* Retention runs only after a verified scheduled snapshot. */
		if (prune_run(n, 0, NULL) != 0)
			log_err("scheduled snapshot %s: prune: %s", name,
			    err_msg());
	} else {
		r.result = 1;
		snprintf(r.error, sizeof r.error, "%s", err_msg());
		r.consecutive++;
		r.failures[why]++;
		log_err("scheduled snapshot %s: failed (%s, %lld in a row): %s",
		    name, reason_name[why], r.consecutive, r.error);
	}
	/* The next run, the state file and the metrics come before the
	 * record is published, so that a status that sees this run's result
	 * sees them too (this loop thread runs the next run, so it cannot
	 * start before we return). */
	queue_run(schedule_next(&st.sc, clock_now()));
	if (record_save(n, &r) != 0)
		log_err("schedule: %s", err_msg());
	metrics_write(n, &r);
	pthread_mutex_lock(&st.lock);
	st.rec = r;
	pthread_mutex_unlock(&st.lock);
	return 0;	/* a failed run is recorded and logged above */
}

/* arg: the metrics generation, as a pointer-sized integer. */
static int metrics_job(struct node *n, void *arg)
{
	struct record r;
	int stale;

	pthread_mutex_lock(&st.lock);
	r = st.rec;
	stale = (uintptr_t)arg != st.metrics_gen;
	pthread_mutex_unlock(&st.lock);
	if (stale)
		return 0;
	metrics_write(n, &r);
	if (job_at_time(clock_now() + 3600, "metrics", metrics_job, arg,
	    NULL) != 0)
		log_err("%s", err_msg());
	return 0;
}

/* Start a new chain of metrics jobs (now, then hourly) when [metrics]
 * textfile is set; the chain before it, if any, ends. */
static int plan_metrics(struct node *n)
{
	uintptr_t gen;

	pthread_mutex_lock(&st.lock);
	gen = ++st.metrics_gen;
	pthread_mutex_unlock(&st.lock);
	if (n->conf->metrics_textfile == NULL)
		return 0;
	return job_at_time(clock_now(), "metrics", metrics_job, (void *)gen,
	    NULL);
}

/* Plan the runs of n->conf's [schedule]: the next run (with catch_up,
 * one missed run at once instead); runs queued by an earlier plan are
 * dropped when they come due. */
static int plan_runs(struct node *n, int catch_up)
{
	const struct conf *c = n->conf;
	time_t now = clock_now(), missed;
	struct schedule sc;
	long long last;
	int r;

	pthread_mutex_lock(&st.lock);
	st.run_gen++;
	st.enabled = c->sched_schedule != NULL;
	st.next = 0;
	last = st.rec.last_slot;
	pthread_mutex_unlock(&st.lock);
	if (c->sched_schedule == NULL)
		return 0;
	if ((r = schedule_parse(c->sched_schedule, &sc)) != 0)
		return r;
	sc.local = !strcmp(c->sched_timezone, "local");
	sc.offset = schedule_jitter(n->id, c->sched_jitter);
	pthread_mutex_lock(&st.lock);
	st.sc = sc;
	pthread_mutex_unlock(&st.lock);
	missed = schedule_prev(&sc, now);
	if (catch_up && !strcmp(c->sched_catch_up, "yes") && last > 0 &&
	    (long long)missed > last) {
		log_info("schedule: the run of %lld was missed; taking it now",
		    (long long)missed);
		queue_run(missed);
	} else
		queue_run(schedule_next(&sc, now));
	return 0;
}

int sched_start(struct node *n)
{
	int r;

	pthread_mutex_lock(&st.lock);
	record_load(n, &st.rec);
	pthread_mutex_unlock(&st.lock);
	if ((r = plan_metrics(n)) != 0)
		return r;
	return plan_runs(n, 1);
}

static int same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

void sched_reload(struct node *n, const struct conf *old)
{
	const struct conf *c = n->conf;

	/* An unchanged schedule keeps its queued run (which may be waiting
	 * for the node right now); the name template is read at each run. */
	if (!same(c->sched_schedule, old->sched_schedule) ||
	    !same(c->sched_timezone, old->sched_timezone) ||
	    c->sched_jitter != old->sched_jitter) {
		if (plan_runs(n, 0) != 0)
			log_err("reload: [schedule]: %s", err_msg());
		else
			log_info("reload: [schedule] schedule = %s",
			    c->sched_schedule ? esc(c->sched_schedule) : "none");
	}
	if (!same(c->metrics_textfile, old->metrics_textfile) &&
	    plan_metrics(n) != 0)
		log_err("reload: [metrics]: %s", err_msg());
}

/* ---- backup schedule status ---- */

static void add_time(struct buf *b, const char *label, long long t)
{
	char ts[21];

	if (t <= 0) {
		buf_addf(b, "%-22s -\n", label);
		return;
	}
	manifest_time((time_t)t, ts);
	buf_addf(b, "%-22s %s\n", label, ts);
}

void sched_status(struct node *n, int json, struct buf *out)
{
	const char *result[] = { "success", "failure" };
	const char *spec = n->conf->sched_schedule;
	struct archives a;
	struct record r;
	long long next, now = (long long)clock_now();
	int enabled;

	archives_scan(n, &a);
	pthread_mutex_lock(&st.lock);
	r = st.rec;
	next = st.next;
	enabled = st.enabled;
	pthread_mutex_unlock(&st.lock);
	if (json) {
		buf_adds(out, "{");
		json_key_str(out, "schedule", enabled ? spec : NULL, 1);
		json_key_num(out, "now", now, 1, 1);
		json_key_num(out, "next_run", next, enabled && next, 1);
		json_key_num(out, "last_start", r.last_start, r.last_start, 1);
		json_key_num(out, "last_end", r.last_end, r.last_end, 1);
		json_key_str(out, "result", r.result >= 0 ?
		    result[r.result] : NULL, 1);
		json_key_str(out, "error", r.result == 1 ? r.error : NULL, 1);
		json_key_str(out, "last_name", r.last_name, 1);
		json_key_num(out, "consecutive_failures", r.consecutive, 1, 1);
		json_key_num(out, "last_success", r.last_success,
		    r.last_success, 1);
		buf_adds(out, "\"newest_verified\":");
		if (a.newest[0]) {
			buf_adds(out, "{");
			json_key_str(out, "name", a.newest, 1);
			json_key_num(out, "created", a.newest_created, 1, 1);
			json_key_num(out, "age_seconds", now - a.newest_created,
			    1, 0);
			buf_adds(out, "},");
		} else
			buf_adds(out, "null,");
		json_key_num(out, "archives_bytes", a.bytes, 1, 1);
		json_key_num(out, "recipients", (long long)a.nrec, !a.rec_error, 1);
		json_key_num(out, "sealed_to_removed_recipients", a.n_orphaned, 1, 1);
		json_key_num(out, "free_bytes", a.free_bytes, 1, 0);
		buf_adds(out, "}\n");
		return;
	}
	buf_addf(out, "%-22s %s\n", "Schedule", enabled ? esc(spec) :
	    "none (no [schedule] schedule)");
	add_time(out, "Next run", enabled ? next : 0);
	add_time(out, "Last start", r.last_start);
	add_time(out, "Last end", r.last_end);
	buf_addf(out, "%-22s %s%s%s\n", "Last result", r.result >= 0 ?
	    result[r.result] : "-", r.result >= 0 && r.last_name[0] ? ": " : "",
	    r.result >= 0 ? esc(r.last_name) : "");
	if (r.result == 1)
		buf_addf(out, "%-22s %s\n", "Last error", esc(r.error));
	buf_addf(out, "%-22s %lld\n", "Consecutive failures", r.consecutive);
	if (a.newest[0])
		buf_addf(out, "%-22s %s (age %lld s)\n", "Newest verified",
		    esc(a.newest), now - a.newest_created);
	else
		buf_addf(out, "%-22s -\n", "Newest verified");
	buf_addf(out, "%-22s %lld bytes\n", "Archives", a.bytes);
	buf_addf(out, "%-22s %lld bytes\n", "Free", a.free_bytes);
	if (a.rec_error)
		buf_addf(out, "%-22s the configured recipients do not load: %s\n",
		    "Encryption", esc(err_msg()));
	else if (a.nrec)
		buf_addf(out, "%-22s sealed to %zu recipient%s and this node\n",
		    "Encryption", a.nrec - 1, a.nrec == 2 ? "" : "s");
	else
		buf_addf(out, "%-22s off: archives in clear ([snapshotd] "
		    "recipients)\n", "Encryption");
	if (a.n_orphaned)
		buf_addf(out, "WARNING: %lld archive%s (newest %s) %s sealed only to "
		    "recipients no longer configured (and this node): off this node "
		    "only the removed keys open %s\n", a.n_orphaned,
		    a.n_orphaned == 1 ? "" : "s", esc(a.orphaned),
		    a.n_orphaned == 1 ? "is" : "are", a.n_orphaned == 1 ? "it" : "them");
}
