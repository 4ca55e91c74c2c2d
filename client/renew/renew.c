/* renew.c: the renewal's orchestrator (renew.h): the steps as one table,
 * run across the nodes (in parallel where the table says so), journaled
 * before and after each node's step, and the rollback of a node, or of
 * every node, when a step fails. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bak.h"
#include "buf.h"
#include "certcheck.h"
#include "clock.h"
#include "crypto.h"
#include "err.h"
#include "esc.h"
#include "fetch.h"
#include "fsutil.h"
#include "json.h"
#include "keyfile.h"
#include "renew.h"
#include "rjournal.h"
#include "rnode.h"
#include "sidecar.h"
#include "sshc.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

#define NMAX RJOURNAL_NODES_MAX
#define CERT_MAX (256 * 1024)
/* A snapshot needs room: at least this, and twice the largest archive the
 * node already keeps. */
#define ROOM_MIN ((uint64_t)64 << 20)

struct renew;
typedef int (*step_fn)(struct renew *rw, int i);

enum who { W_ALL, W_REPLICAS, W_MASTER };
enum undo {
	U_STOP,		/* nothing changed yet: a failure stops the renewal */
	U_NODE,		/* roll the node back (the master: every node) */
	U_ALL,		/* roll every node back */
};

struct step {
	const char *name;	/* also the journal's and the kill hook's word */
	enum who who;
	int parallel;		/* across its nodes at once */
	enum undo undo;
	int mutates;		/* a node that started it has been touched */
	step_fn fn;
	const char *plan;	/* what the plan says (%s: the master) */
};

static int st_snapshot(struct renew *, int);
static int st_pull(struct renew *, int);
static int st_remove(struct renew *, int);
static int st_certs(struct renew *, int);
static int st_initialize(struct renew *, int);
static int st_join(struct renew *, int);
static int st_insync(struct renew *, int);

/* The reference procedure, in order (docs/cluster.md). */
static const struct step steps[] = {
	{ "snapshot", W_ALL, 1, U_STOP, 0, st_snapshot,
	  "backup snapshot %s" },
	{ "pull", W_ALL, 1, U_STOP, 0, st_pull,
	  "pull %s.bak off the box and verify it" },
	{ "remove-replicas", W_REPLICAS, 1, U_NODE, 1, st_remove,
	  "database cluster remove" },
	{ "remove-master", W_MASTER, 0, U_NODE, 1, st_remove,
	  "database cluster remove" },
	{ "certs", W_ALL, 1, U_NODE, 1, st_certs,
	  "upload the new certificates; database cluster certs" },
	{ "initialize", W_MASTER, 0, U_ALL, 1, st_initialize,
	  "database cluster initialize" },
	{ "join", W_REPLICAS, 1, U_NODE, 1, st_join,
	  "database cluster join %s" },
	{ "insync", W_REPLICAS, 1, U_NODE, 1, st_insync,
	  "wait for Connected Slave ( In Sync )" },
};
#define NSTEPS ((int)(sizeof steps / sizeof steps[0]))
/* In a node's started bits: its rollback began (--resume finishes it). */
#define ROLLING (1u << 31)

struct renew {
	const struct renew_opts *o;
	struct rnode node[NMAX];
	int n, master;			/* master: index into node[] */
	int alive[NMAX];		/* still being renewed */
	struct rnode_conn conn;
	struct rjournal j;
	char *jpath;
	FILE *log;
	FILE *say;			/* progress: stdout, stderr with --json */
	char snap[80];			/* pre-renew-<stamp> */
	struct buf cert[CERTCHECK_NFILES];
	struct bak_limits lim;
	pthread_mutex_t mu;
	double t0;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void say(struct renew *rw, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(struct renew *rw, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&rw->mu);
	va_start(ap, fmt);
	vfprintf(rw->say, fmt, ap);
	va_end(ap);
	fflush(rw->say);
	if (rw->log) {
		va_start(ap, fmt);
		vfprintf(rw->log, fmt, ap);
		va_end(ap);
		fflush(rw->log);
	}
	pthread_mutex_unlock(&rw->mu);
}

/* Every console command and its output, in the log file. */
static void log_cmd(void *arg, const struct rnode *n, const char *cmd,
    const char *out, int status)
{
	struct renew *rw = arg;
	time_t now = clock_now();
	struct tm tm;
	char ts[32];

	if (rw->log == NULL)
		return;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	pthread_mutex_lock(&rw->mu);
	fprintf(rw->log, "--- %s %s $ %s (exit %d)\n%s%s", ts, n->addr, cmd,
	    status, out, *out && out[strlen(out) - 1] != '\n' ? "\n" : "");
	fflush(rw->log);
	pthread_mutex_unlock(&rw->mu);
}

/* ---- the journal, and the test-only kill hook ---- */

static void journal_save(struct renew *rw)
{
	if (rjournal_save(rw->jpath, &rw->j) != 0) {
		/* Without the journal a crash could not be resumed: stop now,
		 * while the last saved state still tells the truth. */
		fprintf(stderr, "nodebak: cluster renew: cannot write the "
		    "journal: %s\n", err_msg());
		exit(1);
	}
}

/* NODEBAK_RENEW_KILL_AT=STEP (after every node of STEP), STEP@ADDRESS
 * (after that node's STEP) or begin:STEP (once STEP is journaled as
 * started): the orchestrator SIGKILLs itself there. For tests only
 * (tests/cluster-renew.t); docs/cluster.md says so. */
static void kill_hook(const char *where)
{
	const char *at = getenv("NODEBAK_RENEW_KILL_AT");

	if (at && !strcmp(at, where)) {
		fflush(NULL);
		raise(SIGKILL);
	}
}

static void mark(struct renew *rw, int i, int s, int done)
{
	char where[160];

	pthread_mutex_lock(&rw->mu);
	if (done)
		rw->j.node[i].done |= 1u << s;
	else
		rw->j.node[i].started |= 1u << s;
	journal_save(rw);
	pthread_mutex_unlock(&rw->mu);
	snprintf(where, sizeof where, "%s%s%s%s", done ? "" : "begin:",
	    steps[s].name, done ? "@" : "", done ? rw->node[i].addr : "");
	kill_hook(where);
}

static void outcome(struct renew *rw, int i, enum rj_outcome o,
    const char *note)
{
	pthread_mutex_lock(&rw->mu);
	rw->j.node[i].outcome = o;
	snprintf(rw->j.node[i].note, sizeof rw->j.node[i].note, "%s",
	    note ? note : "");
	for (char *p = rw->j.node[i].note; *p; p++)
		if (*p == '\n')
			*p = ' ';
	journal_save(rw);
	pthread_mutex_unlock(&rw->mu);
}

static int touched(const struct renew *rw, int i)
{
	for (int s = 0; s < NSTEPS; s++)
		if (steps[s].mutates && (rw->j.node[i].started & (1u << s)))
			return 1;
	return 0;
}

/* ---- the steps, one node each ---- */

/* Reconnect once when the connection was lost (a node restarted its
 * services, a network hiccup): every step may be run again. */
static int ensure(struct renew *rw, int i)
{
	uint64_t avail;

	/* The SFTP connection answers a cheap request while it lives. */
	if (rw->node[i].c && rnode_avail(&rw->node[i], &avail) == 0)
		return 0;
	return rnode_connect(&rw->node[i], &rw->conn);
}

/* The node's own line of a status text says it takes part: the master
 * connected, or a replica In Sync. */
static int is_member(const struct rnode *n, const char *text)
{
	char want[RNODE_ADDR_MAX + 8];
	const char *p, *e;

	snprintf(want, sizeof want, "%s (me)", n->addr);
	if ((p = strstr(text, want)) == NULL)
		return 0;
	e = strchr(p, '\n');
	for (const char *w = p; w && (!e || w < e); w++)
		if (!strncmp(w, "Connected Master", 16) ||
		    !strncmp(w, "Connected Slave ( In Sync )", 27))
			return 1;
	return 0;
}

static int st_snapshot(struct renew *rw, int i)
{
	struct rnode *n = &rw->node[i];
	struct buf out = BUF_INIT(1 << 20), cmd = BUF_INIT(256),
	    json = BUF_INIT(512);
	int r;

	buf_addf(&json, "/backups/%s.json", rw->snap);
	if (rnode_has(n, buf_cstr(&json))) {
		r = 0;		/* taken before the orchestrator died */
		goto out;
	}
	buf_addf(&cmd, "backup snapshot %s", rw->snap);
	r = rnode_must(n, buf_cstr(&cmd), &out);
out:
	buf_free(&out);
	buf_free(&cmd);
	buf_free(&json);
	return r;
}

/* nodebak-pull's fetch (client/remote/fetch.c): the archive verified as
 * it arrives, against the signing key the node's console shows, and
 * installed in archive_dir/ADDRESS/. */
static int st_pull(struct renew *rw, int i)
{
	struct rnode *n = &rw->node[i];
	struct buf key = BUF_INIT(64 * 1024), json = BUF_INIT(SIDECAR_MAX_BYTES),
	    rjson = BUF_INIT(256), rbak = BUF_INIT(256), file = BUF_INIT(128);
	struct sigkey *sk = NULL;
	struct keyfile_node kn;
	struct fetch_result res;
	struct fetch_ctx f;
	struct sidecar sc;
	char *have = NULL;
	int r;

	buf_addf(&file, "%s.bak", rw->snap);
	buf_addf(&rjson, "/backups/%s.json", rw->snap);
	buf_addf(&rbak, "/backups/%s.bak", rw->snap);
	if ((r = store_prepare(rw->o->archive_dir, n->addr)) != 0)
		goto out;
	have = store_path(rw->o->archive_dir, ST_COPIES, n->addr,
	    buf_cstr(&file));
	if (fs_exists(have))
		goto out;	/* pulled and verified before */
	if ((r = rnode_must(n, "key show", &key)) != 0 ||
	    (r = keyfile_parse(key.p, key.len, "key show", &sk, &kn)) != 0 ||
	    (r = sshc_read_small(n->c, buf_cstr(&rjson), SIDECAR_MAX_BYTES,
	    &json)) != 0 ||
	    (r = sidecar_parse(json.p, json.len, buf_cstr(&file), &sc)) != 0)
		goto out;
	memset(&f, 0, sizeof f);
	f.c = n->c;
	f.archive_dir = rw->o->archive_dir;
	f.node = n->addr;
	f.remote = buf_cstr(&rbak);
	f.file = buf_cstr(&file);
	f.json = json.p;
	f.jsonlen = json.len;
	f.sc = &sc;
	f.key = sk;
	f.node_id = kn.id;
	f.lim = &rw->lim;
	r = fetch_archive(&f, &res);
out:
	sigkey_free(sk);
	free(have);
	buf_free(&key);
	buf_free(&json);
	buf_free(&rjson);
	buf_free(&rbak);
	buf_free(&file);
	return r;
}

static int is_disabled(const struct rnode_status *st)
{
	return !strcmp(st->status, "Disabled");
}

static int st_remove(struct renew *rw, int i)
{
	return rnode_cluster(&rw->node[i], "database cluster remove",
	    rw->o->timeout, is_disabled);
}

static int st_certs(struct renew *rw, int i)
{
	struct rnode *n = &rw->node[i];
	struct buf out = BUF_INIT(1 << 20), cmd = BUF_INIT(1024),
	    name = BUF_INIT(256);
	int r = 0;

	buf_adds(&cmd, "database cluster certs");
	for (int k = 0; k < CERTCHECK_NFILES && r == 0; k++) {
		const char *f = certcheck_files[k];
		size_t l = strlen(f);
		/* Private keys for the node's eyes only. */
		unsigned mode = l > 4 && !strcmp(f + l - 4, ".key") ? 0600 : 0644;
		buf_reset(&name);
		buf_addf(&name, "/%s", f);
		buf_addf(&cmd, " %s", f);
		r = rnode_put(n, buf_cstr(&name), rw->cert[k].p, rw->cert[k].len,
		    mode);
	}
	if (r == 0)
		r = rnode_must(n, buf_cstr(&cmd), &out);
	buf_free(&out);
	buf_free(&cmd);
	buf_free(&name);
	return r;
}

/* NODEBAK_RENEW_FAIL=STEP@ADDRESS: the step runs, then counts as failed
 * on that node (for tests only, as the kill hook: a failure discovered
 * late, after the node changed). */
static int injected(struct renew *rw, int i, const char *step, int r)
{
	const char *f = getenv("NODEBAK_RENEW_FAIL");
	char want[160];

	snprintf(want, sizeof want, "%s@%s", step, rw->node[i].addr);
	if (r == 0 && f && !strcmp(f, want))
		return err_set(ERR_IO, "%s: %s failed (injected by "
		    "NODEBAK_RENEW_FAIL, a test hook)", rw->node[i].addr, step);
	return r;
}

static int st_initialize(struct renew *rw, int i)
{
	return injected(rw, i, "initialize", rnode_cluster(&rw->node[i],
	    "database cluster initialize", rw->o->timeout, NULL));
}

static int st_join(struct renew *rw, int i)
{
	struct buf cmd = BUF_INIT(256);
	int r;

	buf_addf(&cmd, "database cluster join %s", rw->node[rw->master].addr);
	r = rnode_cluster(&rw->node[i], buf_cstr(&cmd), rw->o->timeout, NULL);
	buf_free(&cmd);
	return injected(rw, i, "join", r);
}

static int st_insync(struct renew *rw, int i)
{
	struct rnode *n = &rw->node[i];
	struct buf text = BUF_INIT(1 << 20);
	struct rnode_status st;
	double until = mono() + (double)rw->o->timeout;
	int r;

	for (;;) {
		if ((r = rnode_status(n, &st, &text)) != 0)
			break;
		if (is_member(n, buf_cstr(&text)))
			break;
		if (mono() >= until) {
			r = err_set(ERR_CANCELLED, "%s: not In Sync after %ld s",
			    n->addr, rw->o->timeout);
			break;
		}
		sleep(1);
	}
	buf_free(&text);
	return r;
}

/* ---- rollback ---- */

/* Back to the pre-renew snapshot: out of any cluster first (a rollback is
 * refused while clustering is enabled), then backup rollback. */
static int rollback_node(struct renew *rw, int i)
{
	struct rnode *n = &rw->node[i];
	struct buf out = BUF_INIT(1 << 20), cmd = BUF_INIT(256);
	struct rnode_status st;
	int r;

	/* A step the renewal started before it died may still be running
	 * there (a join): its outcome decides what to undo. */
	if ((r = ensure(rw, i)) != 0 ||
	    (r = rnode_settle(n, rw->o->timeout, &st)) != 0)
		goto out;
	if (!strcmp(st.status, "Error"))
		(void)rnode_must(n, "database cluster clear error", &out);
	if (strcmp(st.status, "Disabled") &&
	    (r = rnode_cluster(n, "database cluster remove", rw->o->timeout,
	    is_disabled)) != 0)
		goto out;
	buf_addf(&cmd, "backup rollback %s.bak --yes", rw->snap);
	r = rnode_must(n, buf_cstr(&cmd), &out);
out:
	buf_free(&out);
	buf_free(&cmd);
	return r;
}

struct par {
	struct renew *rw;
	int i, s, r;
	char msg[1024];
	pthread_t t;
};

static void rollback_one(struct par *p)
{
	struct renew *rw = p->rw;
	struct rnode *n = &rw->node[p->i];
	char note[768];

	say(rw, "%-15s rollback to %s.bak ...\n", n->addr, rw->snap);
	if ((p->r = rollback_node(rw, p->i)) == 0) {
		say(rw, "%-15s rolled back to %s.bak\n", n->addr, rw->snap);
		outcome(rw, p->i, RJ_ROLLED_BACK, NULL);
		return;
	}
	snprintf(note, sizeof note, "rollback failed (%s); on the node run: "
	    "database cluster remove, then backup rollback %s.bak "
	    "(ssh -p %d %s@%s)", err_msg(), rw->snap, n->port, n->user,
	    n->addr);
	say(rw, "%-15s %s\n", n->addr, note);
	outcome(rw, p->i, RJ_ATTENTION, note);
}

static void *rollback_main(void *arg)
{
	rollback_one(arg);
	return NULL;
}

/* Roll back, in parallel, every node in which[] (and mark it done). */
static void rollback_set(struct renew *rw, const int *which)
{
	struct par p[NMAX];

	int threaded[NMAX];

	/* Journaled for all of them at once, before any starts: a resumed
	 * renewal sees the whole set (the master in it: every node). */
	pthread_mutex_lock(&rw->mu);
	for (int i = 0; i < rw->n; i++)
		if (which[i])
			rw->j.node[i].started |= ROLLING;
	journal_save(rw);
	pthread_mutex_unlock(&rw->mu);
	kill_hook("begin:rollback");
	for (int i = 0; i < rw->n; i++) {
		memset(&p[i], 0, sizeof p[i]);
		p[i].rw = rw;
		p[i].i = i;
		threaded[i] = which[i] && pthread_create(&p[i].t, NULL,
		    rollback_main, &p[i]) == 0;
		if (which[i] && !threaded[i])
			rollback_one(&p[i]);
	}
	for (int i = 0; i < rw->n; i++)
		if (threaded[i])
			pthread_join(p[i].t, NULL);
	for (int i = 0; i < rw->n; i++)
		if (which[i])
			rw->alive[i] = 0;
}

/* After every node was rolled back: the old cluster formed again as it
 * was (the reference: restore, then re-initialise or re-join), each node
 * whose status was Enabled before. A rollback leaves a node out of the
 * cluster. A replica whose old certificates have expired cannot join
 * again: it is reported as needing attention, with the command. */
static void reform(struct renew *rw, const int *rolled)
{
	struct rnode *m = &rw->node[rw->master];
	struct buf cmd = BUF_INIT(256);
	char note[768];
	int mok = !rolled[rw->master];

	if (rolled[rw->master] && rw->j.node[rw->master].outcome ==
	    RJ_ROLLED_BACK && rw->j.node[rw->master].member) {
		say(rw, "%-15s database cluster initialize (the old cluster "
		    "again) ...\n", m->addr);
		if (rnode_cluster(m, "database cluster initialize",
		    rw->o->timeout, NULL) == 0)
			mok = 1;
		else {
			snprintf(note, sizeof note, "rolled back, but initialize "
			    "failed (%s): run database cluster initialize on it",
			    err_msg());
			say(rw, "%-15s %s\n", m->addr, note);
			outcome(rw, rw->master, RJ_ATTENTION, note);
		}
	}
	buf_addf(&cmd, "database cluster join %s", m->addr);
	for (int i = 0; i < rw->n; i++) {
		if (i == rw->master || !rolled[i] || !rw->j.node[i].member ||
		    rw->j.node[i].outcome != RJ_ROLLED_BACK)
			continue;
		say(rw, "%-15s %s (the old cluster again) ...\n",
		    rw->node[i].addr, buf_cstr(&cmd));
		if (mok && rnode_cluster(&rw->node[i], buf_cstr(&cmd),
		    rw->o->timeout, NULL) == 0)
			continue;
		snprintf(note, sizeof note, "rolled back, but not joined again "
		    "(%s): run %s on it", mok ? err_msg() : "the master is not "
		    "up", buf_cstr(&cmd));
		say(rw, "%-15s %s\n", rw->node[i].addr, note);
		outcome(rw, i, RJ_ATTENTION, note);
	}
	buf_free(&cmd);
}

/* Every node still pending: roll back the touched ones; the others were
 * not changed. */
static void rollback_all(struct renew *rw, const char *why)
{
	int which[NMAX];

	say(rw, "Rolling back every node: %s\n", why);
	for (int i = 0; i < rw->n; i++) {
		which[i] = rw->j.node[i].outcome != RJ_ROLLED_BACK &&
		    rw->j.node[i].outcome != RJ_UNCHANGED && touched(rw, i);
		if (!which[i] && rw->j.node[i].outcome == RJ_PENDING)
			outcome(rw, i, RJ_UNCHANGED, NULL);
		if (!which[i])
			rw->alive[i] = 0;
	}
	rollback_set(rw, which);
	reform(rw, which);
}

/* Replicas rolled back alone: the master was renewed, their old
 * certificates are not its, so they stay out of the cluster. */
static void rollback_replicas(struct renew *rw, const int *which)
{
	rollback_set(rw, which);
	for (int i = 0; i < rw->n; i++)
		if (which[i] && rw->j.node[i].outcome == RJ_ROLLED_BACK)
			outcome(rw, i, RJ_ROLLED_BACK, "out of the cluster until "
			    "its certificates are renewed (nodebak cluster renew "
			    "again, or by hand: docs/cluster.md)");
}

/* ---- running a step across its nodes ---- */

static int step_wants(const struct renew *rw, int s, int i)
{
	if (!rw->alive[i] || (rw->j.node[i].done & (1u << s)))
		return 0;
	switch (steps[s].who) {
	case W_MASTER: return i == rw->master;
	case W_REPLICAS: return i != rw->master;
	default: return 1;
	}
}

static void run_one(struct par *p)
{
	struct renew *rw = p->rw;
	const struct step *s = &steps[p->s];
	struct rnode *n = &rw->node[p->i];
	double t = mono();

	mark(rw, p->i, p->s, 0);
	say(rw, "%-15s %s ...\n", n->addr, s->name);
	if ((p->r = ensure(rw, p->i)) == 0)
		p->r = s->fn(rw, p->i);
	if (p->r != 0) {
		snprintf(p->msg, sizeof p->msg, "%s", err_msg());
		say(rw, "%-15s %s: FAILED: %s\n", n->addr, s->name, p->msg);
		return;
	}
	say(rw, "%-15s %s: done (%.1f s)\n", n->addr, s->name, mono() - t);
	mark(rw, p->i, p->s, 1);
}

static void *run_main(void *arg)
{
	run_one(arg);
	return NULL;
}

/* Run step s on the nodes that want it; failures are handled by the
 * step's undo. Returns 0 to go on, 1 when the renewal is over. */
static int run_step(struct renew *rw, int s)
{
	struct par p[NMAX];
	int any = 0, failed[NMAX], nfail = 0, started[NMAX];
	double t = mono();

	for (int i = 0; i < rw->n; i++) {
		memset(&p[i], 0, sizeof p[i]);
		p[i].rw = rw;
		p[i].i = i;
		p[i].s = s;
		started[i] = failed[i] = 0;
		if (!step_wants(rw, s, i))
			continue;
		any = 1;
		if (steps[s].parallel &&
		    pthread_create(&p[i].t, NULL, run_main, &p[i]) == 0)
			started[i] = 1;
		else
			run_one(&p[i]);
	}
	for (int i = 0; i < rw->n; i++)
		if (started[i])
			pthread_join(p[i].t, NULL);
	if (!any)
		return 0;
	for (int i = 0; i < rw->n; i++)
		if (step_wants(rw, s, i) && p[i].r != 0) {
			failed[i] = 1;
			nfail++;
		}
	say(rw, "step %s: %.1f s\n", steps[s].name, mono() - t);
	if (nfail == 0) {
		kill_hook(steps[s].name);
		return 0;
	}
	if (steps[s].undo == U_STOP) {
		for (int i = 0; i < rw->n; i++) {
			char note[1100];
			snprintf(note, sizeof note, "%s", failed[i] ? p[i].msg :
			    "another node failed before any change");
			if (rw->j.node[i].outcome == RJ_PENDING)
				outcome(rw, i, failed[i] ? RJ_ATTENTION :
				    RJ_UNCHANGED, failed[i] ? note : NULL);
			rw->alive[i] = 0;
		}
		say(rw, "The renewal stopped before changing any node.\n");
		return 1;
	}
	if (steps[s].undo == U_ALL || failed[rw->master]) {
		rollback_all(rw, failed[rw->master] ? "the master failed" :
		    "a step every node depends on failed");
		return 1;
	}
	rollback_replicas(rw, failed);
	return 0;
}

/* A renewal that died while rolling nodes back: finish those first. 1
 * when that ends the renewal (the master was among them). */
static int resume_rollbacks(struct renew *rw)
{
	int which[NMAX], any = 0;

	for (int i = 0; i < rw->n; i++) {
		which[i] = rw->j.node[i].outcome == RJ_PENDING &&
		    (rw->j.node[i].started & ROLLING);
		any |= which[i];
	}
	if (!any)
		return 0;
	if (which[rw->master]) {
		rollback_all(rw, "the renewal died while rolling back");
		return 1;
	}
	rollback_replicas(rw, which);
	return 0;
}

/* ---- connecting, preflight, plan ---- */

struct pre {
	struct renew *rw;
	int i, full, threaded;
	struct buf problems, status;
	pthread_t t;
};

static void preflight_one(struct pre *p)
{
	struct renew *rw = p->rw;
	struct rnode *n = &rw->node[p->i];
	struct rnode_status st;
	struct buf key = BUF_INIT(64 * 1024);
	struct sigkey *sk = NULL;
	struct keyfile_node kn;
	uint64_t avail, big;

	if (rnode_connect(n, &rw->conn) != 0) {
		buf_addf(&p->problems, "%s: %s\n", n->addr, err_msg());
		goto out;
	}
	if (!p->full)
		goto out;
	if (rnode_status(n, &st, &p->status) != 0)
		buf_addf(&p->problems, "%s: the console does not answer: %s\n",
		    n->addr, err_msg());
	else
		/* In a cluster before the renewal: what re-forming the old
		 * cluster after a rollback of every node gives back. Not "In
		 * Sync": a replica catching up at this moment is a member. */
		rw->j.node[p->i].member = !strcmp(st.status, "Enabled");
	if (rnode_must(n, "key show", &key) != 0 ||
	    keyfile_parse(key.p, key.len, "key show", &sk, &kn) != 0)
		buf_addf(&p->problems, "%s: cannot read its signing key (to "
		    "verify its snapshot): %s\n", n->addr, err_msg());
	if (rnode_avail(n, &avail) != 0 || rnode_largest_bak(n, &big) != 0)
		buf_addf(&p->problems, "%s: cannot learn its free room: %s\n",
		    n->addr, err_msg());
	else if (avail < ROOM_MIN || avail / 2 < big)
		buf_addf(&p->problems, "%s: %llu MiB free beside backups/, not "
		    "enough for a snapshot (its largest archive is %llu MiB)\n",
		    n->addr, (unsigned long long)(avail >> 20),
		    (unsigned long long)(big >> 20));
out:
	sigkey_free(sk);
	buf_free(&key);
}

static void *preflight_main(void *arg)
{
	preflight_one(arg);
	return NULL;
}

/* Connect to every node (and, full, check it). 0, or the count of
 * problems, each printed on one line. */
static int preflight(struct renew *rw, int full)
{
	struct pre p[NMAX];
	struct buf certp = BUF_INIT(64 * 1024);
	int nprob = 0;

	if (full)
		nprob += certcheck_dir(rw->j.certs, rw->o->min_days, clock_now(),
		    &certp);
	for (int i = 0; i < rw->n; i++) {
		memset(&p[i], 0, sizeof p[i]);
		p[i].rw = rw;
		p[i].i = i;
		p[i].full = full;
		p[i].problems = (struct buf)BUF_INIT(64 * 1024);
		p[i].status = (struct buf)BUF_INIT(1 << 20);
		p[i].threaded = pthread_create(&p[i].t, NULL, preflight_main,
		    &p[i]) == 0;
		if (!p[i].threaded)
			preflight_one(&p[i]);
	}
	for (int i = 0; i < rw->n; i++)
		if (p[i].threaded)
			pthread_join(p[i].t, NULL);
	for (int i = 0; i < rw->n; i++) {
		if (full && p[i].status.len)
			say(rw, "%s (%s): database cluster status\n%s", rw->node[i].addr,
			    i == rw->master ? "master" : "replica",
			    buf_cstr(&p[i].status));
	}
	if (certp.len) {
		say(rw, "%s", buf_cstr(&certp));
	}
	for (int i = 0; i < rw->n; i++) {
		for (const char *q = buf_cstr(&p[i].problems); *q;
		    q = strchr(q, '\n') + 1)
			nprob++;
		if (p[i].problems.len)
			say(rw, "%s", buf_cstr(&p[i].problems));
		buf_free(&p[i].problems);
		buf_free(&p[i].status);
	}
	buf_free(&certp);
	return nprob;
}

static void print_plan(struct renew *rw)
{
	say(rw, "Plan: snapshot %s on every node, pulled and verified into "
	    "%s; the steps each node runs, in order:\n", rw->snap,
	    rw->o->archive_dir);
	for (int i = 0; i < rw->n; i++) {
		say(rw, "  %s (%s)\n", rw->node[i].addr, i == rw->master ?
		    "master" : "replica");
		for (int s = 0; s < NSTEPS; s++) {
			char what[256];
			if (!step_wants(rw, s, i))
				continue;
			snprintf(what, sizeof what, steps[s].plan,
			    s < 2 ? rw->snap : rw->node[rw->master].addr);
			say(rw, "    %d. %-16s %s%s\n", s + 1, steps[s].name, what,
			    steps[s].parallel ? " (all nodes at once)" : "");
		}
	}
	say(rw, "A node whose step fails is rolled back to %s.bak; if the "
	    "master fails, every node is.\n", rw->snap);
}

static int confirm(struct renew *rw)
{
	char line[64];

	if (rw->o->yes)
		return 1;
	fprintf(stderr, "Renew the certificates of these %d nodes? (Y/n) ",
	    rw->n);
	fflush(stderr);
	if (fgets(line, sizeof line, stdin) == NULL)
		return 0;
	return !strcmp(line, "Y\n") || !strcmp(line, "Y");
}

/* ---- the report ---- */

static void final_status(struct renew *rw)
{
	struct buf text = BUF_INIT(1 << 20);
	struct rnode_status st;

	for (int i = 0; i < rw->n; i++) {
		if (ensure(rw, i) != 0 ||
		    rnode_status(&rw->node[i], &st, &text) != 0) {
			say(rw, "%s: no status: %s\n", rw->node[i].addr, err_msg());
			continue;
		}
		say(rw, "%s: database cluster status\n%s", rw->node[i].addr,
		    buf_cstr(&text));
	}
	buf_free(&text);
}

static int report(struct renew *rw)
{
	int bad = 0;
	struct buf js = BUF_INIT(1 << 20);

	say(rw, "Result:\n");
	buf_adds(&js, "{");
	json_key_str(&js, "snapshot", rw->snap, 1);
	buf_adds(&js, "\"nodes\":[");
	for (int i = 0; i < rw->n; i++) {
		const struct rj_node *nd = &rw->j.node[i];
		char line[900];

		switch (nd->outcome) {
		case RJ_RENEWED:
			snprintf(line, sizeof line, "renewed, in sync");
			break;
		case RJ_ROLLED_BACK:
			snprintf(line, sizeof line, "rolled back to %s.bak%s%s",
			    rw->snap, nd->note[0] ? "; " : "", nd->note);
			break;
		case RJ_UNCHANGED:
			snprintf(line, sizeof line, "not changed");
			break;
		default:
			snprintf(line, sizeof line, "needs attention: %s",
			    nd->note[0] ? nd->note : "the renewal did not finish: "
			    "nodebak cluster renew --resume (or --abort)");
			break;
		}
		bad |= nd->outcome != RJ_RENEWED;
		say(rw, "  %-15s %s\n", rw->node[i].addr, line);
		buf_adds(&js, i ? ",{" : "{");
		json_key_str(&js, "node", rw->node[i].addr, 1);
		json_key_str(&js, "role", i == rw->master ? "master" : "replica",
		    1);
		json_key_str(&js, "outcome", rjournal_outcome_name(nd->outcome),
		    1);
		json_key_str(&js, "line", line, 1);
		buf_adds(&js, "\"steps_done\":[");
		for (int s = 0, c = 0; s < NSTEPS; s++)
			if (nd->done & (1u << s)) {
				buf_adds(&js, c++ ? "," : "");
				json_str(&js, steps[s].name);
			}
		buf_adds(&js, "]}");
	}
	buf_addf(&js, "],\"ok\":%s,", bad ? "false" : "true");
	json_key_num(&js, "seconds", (long long)(mono() - rw->t0 + 0.5), 1, 0);
	buf_adds(&js, "}\n");
	if (rw->o->json)
		fputs(buf_cstr(&js), stdout);
	buf_free(&js);
	return bad ? 1 : 0;
}

/* ---- setting up ---- */

static int load_certs(struct renew *rw)
{
	for (int k = 0; k < CERTCHECK_NFILES; k++) {
		char *p = fs_join(rw->j.certs, certcheck_files[k]);
		int r;
		rw->cert[k] = (struct buf)BUF_INIT(CERT_MAX);
		r = fs_read_file(p, CERT_MAX, &rw->cert[k]);
		free(p);
		if (r != 0)
			return r;
	}
	return 0;
}

static int setup(struct renew *rw, const struct renew_opts *o)
{
	struct rjournal *j = &rw->j;
	char *logp = NULL;
	int r, fd;

	if ((r = fs_mkdir_p(o->archive_dir, 0700)) != 0)
		return r;
	rw->jpath = fs_join(o->archive_dir, "renew.journal");
	r = rjournal_load(rw->jpath, j);
	if (o->resume || o->abort) {
		if (r != 0)
			return r == ERR_NOTFOUND ? err_set(r, "no renewal to %s "
			    "(%s does not exist)", o->resume ? "resume" : "abort",
			    rw->jpath) : r;
	} else {
		struct tm tm;
		time_t now = clock_now();
		if (r == 0 && !rjournal_finished(j))
			return err_set(ERR_EXISTS, "a renewal (snapshot pre-renew-%s) "
			    "did not finish: nodebak cluster renew --resume, or "
			    "--abort", j->stamp);
		memset(j, 0, sizeof *j);
		gmtime_r(&now, &tm);
		strftime(j->stamp, sizeof j->stamp, "%Y%m%d-%H%M%S", &tm);
		snprintf(j->master, sizeof j->master, "%s", o->master);
		snprintf(j->certs, sizeof j->certs, "%s", o->certs);
		if (o->nspecs > NMAX)
			return err_set(ERR_TOOBIG, "at most %d nodes", NMAX);
		j->n = o->nspecs;
		for (int i = 0; i < o->nspecs; i++)
			snprintf(j->node[i].spec, sizeof j->node[i].spec, "%s",
			    o->specs[i]);
	}
	snprintf(rw->snap, sizeof rw->snap, "pre-renew-%s", j->stamp);
	rw->n = j->n;
	rw->master = -1;
	for (int i = 0; i < rw->n; i++) {
		if ((r = rnode_parse(j->node[i].spec, &rw->node[i])) != 0)
			return r;
		rw->node[i].log = log_cmd;
		rw->node[i].log_arg = rw;
		rw->alive[i] = j->node[i].outcome == RJ_PENDING;
		if (!strcmp(rw->node[i].addr, j->master))
			rw->master = i;
	}
	if (rw->master < 0)
		return err_set(ERR_INVAL, "--master %s is none of the nodes",
		    esc(j->master));
	rw->node[rw->master].master = 1;
	if (o->dry_run)
		return 0;
	logp = xmalloc(strlen(o->archive_dir) + 64);
	snprintf(logp, strlen(o->archive_dir) + 64, "%s/renew-%s.log",
	    o->archive_dir, j->stamp);
	fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0 || (rw->log = fdopen(fd, "a")) == NULL) {
		r = err_sys("%s", logp);
		if (fd >= 0)
			close(fd);
	}
	free(logp);
	return r;
}

int renew_run(const struct renew_opts *o)
{
	struct renew *rw = xcalloc(1, sizeof *rw);
	int rc = 1, r;

	rw->o = o;
	rw->t0 = mono();
	rw->say = o->json ? stderr : stdout;
	pthread_mutex_init(&rw->mu, NULL);
	rw->conn.identity = o->identity;
	rw->conn.known_hosts = o->known_hosts;
	rw->conn.timeout = o->timeout;
	rw->lim.max_members = 10000;
	rw->lim.max_bytes = (uint64_t)64 << 30;
	if ((r = setup(rw, o)) != 0) {
		fprintf(stderr, "nodebak: cluster renew: %s\n", err_msg());
		goto out;
	}
	if ((o->resume || o->abort) && rjournal_finished(&rw->j)) {
		say(rw, "The renewal %s has finished; nothing to %s.\n", rw->snap,
		    o->resume ? "resume" : "abort");
		rc = report(rw);
		goto out;
	}
	if (o->abort) {
		r = preflight(rw, 0);
		rollback_all(rw, "--abort");
		rc = report(rw);
		goto out;
	}
	if ((r = preflight(rw, !o->resume)) != 0) {
		say(rw, "nodebak: cluster renew: %d problem%s: nothing was "
		    "changed\n", r, r == 1 ? "" : "s");
		if (o->json)
			printf("{\"snapshot\":null,\"ok\":false,\"stage\":"
			    "\"preflight\",\"problems\":%d}\n", r);
		goto out;
	}
	if (load_certs(rw) != 0) {
		fprintf(stderr, "nodebak: cluster renew: %s\n", err_msg());
		goto out;
	}
	print_plan(rw);
	if (o->dry_run) {
		say(rw, "Dry run: nothing was changed.\n");
		rc = 0;
		goto out;
	}
	if (!o->resume && !confirm(rw)) {
		say(rw, "Nothing was changed.\n");
		goto out;
	}
	journal_save(rw);
	if (!resume_rollbacks(rw))
		for (int s = 0; s < NSTEPS; s++)
			if (run_step(rw, s))
				break;
	for (int i = 0; i < rw->n; i++)
		if (rw->alive[i] && rw->j.node[i].outcome == RJ_PENDING)
			outcome(rw, i, RJ_RENEWED, NULL);
	final_status(rw);
	rc = report(rw);
out:
	for (int i = 0; i < rw->n; i++)
		rnode_close(&rw->node[i]);
	for (int k = 0; k < CERTCHECK_NFILES; k++)
		buf_free_secret(&rw->cert[k]);
	if (rw->log)
		fclose(rw->log);
	free(rw->jpath);
	free(rw);
	return rc;
}
