/* rnode.c: one node's console and files over SSH for the renewal
 * (rnode.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "esc.h"
#include "rnode.h"
#include "sshc.h"
#include "xmalloc.h"
#include "banned.h"

/* A console command's output is a few screens at most. */
#define OUT_MAX (1 << 20)
#define POLL_MS 500

/* Deadlines on the monotonic clock: a wall-clock step must not cut a
 * wait short or stretch it. */
static time_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int rnode_parse(const char *spec, struct rnode *n)
{
	const char *at = strchr(spec, '@'), *colon;
	size_t ul, al;
	char *end;
	long port = 22;

	memset(n, 0, sizeof *n);
	if (at == NULL || at == spec)
		return err_set(ERR_INVAL, "%s: expected USER@ADDRESS[:PORT]",
		    esc(spec));
	ul = (size_t)(at - spec);
	colon = strrchr(at + 1, ':');
	al = colon ? (size_t)(colon - at - 1) : strlen(at + 1);
	if (colon) {
		errno = 0;
		port = strtol(colon + 1, &end, 10);
		if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
			return err_set(ERR_INVAL, "%s: bad port", esc(spec));
	}
	if (ul >= sizeof n->user || al == 0 || al >= sizeof n->addr ||
	    strpbrk(spec, " \t\n/"))
		return err_set(ERR_INVAL, "%s: expected USER@ADDRESS[:PORT]",
		    esc(spec));
	memcpy(n->user, spec, ul);
	memcpy(n->addr, at + 1, al);
	n->port = (int)port;
	return 0;
}

static void conn_opts(const struct rnode *n, const struct rnode_conn *o,
    struct sshc_opts *so)
{
	memset(so, 0, sizeof *so);
	so->host = n->addr;
	so->port = n->port;
	so->user = n->user;
	so->identity = o->identity;
	so->known_hosts = o->known_hosts;
	so->timeout = o->timeout;
}

int rnode_connect(struct rnode *n, const struct rnode_conn *o)
{
	struct sshc_opts so;

	rnode_close(n);
	n->conn = o;
	conn_opts(n, o, &so);
	return sshc_connect(&so, &n->c);
}

void rnode_close(struct rnode *n)
{
	sshc_close(n->c);
	n->c = NULL;
}

int rnode_run(struct rnode *n, const char *cmd, struct buf *out,
    int *status)
{
	int r;

	struct sshc_opts so;
	struct sshc *c = NULL;

	buf_reset(out);
	*status = -1;
	if (n->conn == NULL)
		return err_set(ERR_IO, "%s: not connected", esc(n->addr));
	conn_opts(n, n->conn, &so);
	so.no_sftp = 1;
	if ((r = sshc_connect(&so, &c)) == 0)
		r = sshc_exec(c, cmd, OUT_MAX, out, status);
	sshc_close(c);
	if (n->log)
		n->log(n->log_arg, n, cmd, r == 0 ? buf_cstr(out) : err_msg(),
		    r == 0 ? *status : -1);
	return r;
}

static void first_line(const char *s, char *out, size_t outsz)
{
	size_t l = strcspn(s, "\n");

	snprintf(out, outsz, "%.*s", (int)(l < outsz ? l : outsz - 1), s);
}

int rnode_must(struct rnode *n, const char *cmd, struct buf *out)
{
	time_t until = mono_s() + (n->conn ? n->conn->timeout : 0);
	char line[512];
	int st, r;

	/* Busy: an operation of the node's own, or one a renewal that died
	 * left running, holds the node's lock; it is waited for. */
	while ((r = rnode_run(n, cmd, out, &st)) == 0 && st == RNODE_EXIT_BUSY &&
	    mono_s() < until)
		sleep_ms(POLL_MS);
	if (r != 0)
		return r;
	if (st != 0) {
		first_line(buf_cstr(out), line, sizeof line);
		return err_set(ERR_IO, "%s: '%s' failed (exit %d): %s",
		    esc(n->addr), cmd, st, esc(line));
	}
	return 0;
}

/* The value of "NAME<spaces>: VALUE" in text. */
static void field(const char *text, const char *name, char *out,
    size_t outsz)
{
	size_t nl = strlen(name);

	out[0] = '\0';
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		const char *q = p + nl;
		if (strncmp(p, name, nl) || (*q != ' ' && *q != ':'))
			continue;
		while (*q == ' ')
			q++;
		if (*q++ != ':')
			continue;
		while (*q == ' ')
			q++;
		first_line(q, out, outsz);
		return;
	}
}

int rnode_status(struct rnode *n, struct rnode_status *st, struct buf *text)
{
	struct buf out = BUF_INIT(OUT_MAX);
	char last[320], *q, *e;
	int r;

	memset(st, 0, sizeof *st);
	if ((r = rnode_must(n, "database cluster status", &out)) != 0)
		goto done;
	field(buf_cstr(&out), "Status", st->status, sizeof st->status);
	field(buf_cstr(&out), "ERROR", st->error, sizeof st->error);
	field(buf_cstr(&out), "Last command", last, sizeof last);
	/* 'database cluster join 10.0.0.1' (Success) */
	if (last[0] == '\'' && (q = strrchr(last, '\'')) != last) {
		snprintf(st->last, sizeof st->last, "%.*s", (int)(q - last - 1),
		    last + 1);
		if ((q = strchr(q, '(')) != NULL && (e = strchr(q, ')')) != NULL)
			snprintf(st->result, sizeof st->result, "%.*s",
			    (int)(e - q - 1), q + 1);
	}
	if (text) {
		buf_reset(text);
		r = buf_add(text, out.p, out.len);
	}
done:
	buf_free(&out);
	return r;
}

static int running(const struct rnode_status *st)
{
	return !strncmp(st->result, "In progress", 11);
}

int rnode_settle(struct rnode *n, long timeout, struct rnode_status *st)
{
	time_t until = mono_s() + timeout;
	int r;

	while ((r = rnode_status(n, st, NULL)) == 0 && running(st)) {
		if (mono_s() >= until)
			return err_set(ERR_CANCELLED, "%s: '%s' still in progress "
			    "after %ld s", esc(n->addr), st->last, timeout);
		sleep_ms(POLL_MS);
	}
	return r;
}

int rnode_cluster(struct rnode *n, const char *cmd, long timeout,
    int (*done)(const struct rnode_status *st))
{
	struct buf out = BUF_INIT(OUT_MAX), line = BUF_INIT(512);
	struct rnode_status st;
	time_t until = mono_s() + timeout;
	int r, started = 0;

	if ((r = rnode_status(n, &st, NULL)) != 0)
		goto out;
	/* Another command still running (left by a renewal that died): its
	 * outcome decides what this one must do. */
	if (strcmp(st.last, cmd) && running(&st) &&
	    (r = rnode_settle(n, timeout, &st)) != 0)
		goto out;
	if (!strcmp(st.last, cmd) && running(&st))
		started = 1;	/* a resumed renewal: it is under way */
	else if (!strcmp(st.last, cmd) && !strcmp(st.result, "Success") &&
	    !strcmp(st.status, "Enabled"))
		goto out;	/* it ended well before the orchestrator died */
	else if (done && done(&st))
		goto out;
	if (!started) {
		buf_addf(&line, "%s --yes", cmd);
		if ((r = rnode_must(n, buf_cstr(&line), &out)) != 0)
			goto out;
	}
	for (;;) {
		if ((r = rnode_status(n, &st, NULL)) != 0)
			goto out;
		if (!strcmp(st.last, cmd) && !running(&st))
			break;
		if (mono_s() >= until) {
			r = err_set(ERR_CANCELLED, "%s: '%s' did not finish in %ld "
			    "s", esc(n->addr), cmd, timeout);
			goto out;
		}
		sleep_ms(POLL_MS);
	}
	if (strcmp(st.result, "Success"))
		r = err_set(ERR_IO, "%s: '%s' (%s): %s", esc(n->addr), cmd,
		    st.result, st.error[0] ? st.error : "no ERROR line");
out:
	buf_free(&out);
	buf_free(&line);
	return r;
}

int rnode_put(struct rnode *n, const char *name, const void *p, size_t len,
    unsigned mode)
{
	int r = sshc_put(n->c, name, p, len, mode);

	if (n->log)
		n->log(n->log_arg, n, "(sftp put)", r == 0 ? name : err_msg(),
		    r == 0 ? 0 : 1);
	return r;
}

int rnode_has(struct rnode *n, const char *path)
{
	struct buf b = BUF_INIT(1 << 20);
	int r = sshc_read_small(n->c, path, 1 << 20, &b);

	buf_free(&b);
	return r == 0;
}

int rnode_avail(struct rnode *n, uint64_t *bytes)
{
	return sshc_avail(n->c, "/backups", bytes);
}

int rnode_largest_bak(struct rnode *n, uint64_t *bytes)
{
	struct sshc_entry *e;
	size_t cnt;
	int r;

	*bytes = 0;
	if ((r = sshc_list(n->c, "/backups", 100000, &e, &cnt)) != 0)
		return r;
	for (size_t i = 0; i < cnt; i++) {
		size_t l = strlen(e[i].name);
		if (e[i].regular && l > 4 && !strcmp(e[i].name + l - 4, ".bak") &&
		    e[i].size > *bytes)
			*bytes = e[i].size;
	}
	sshc_entries_free(e, cnt);
	return 0;
}
