/* gate.c: the session <-> listener questions about logins (see gate.h):
 * fixed-size messages on a SOCK_SEQPACKET socketpair. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "esc.h"
#include "gate.h"
#include "log.h"
#include "banned.h"

#define GATE_USER_MAX 64
#define GATE_WAIT_MS 10000	/* the listener answers at once; this is a bound */
#define DELAY_STEPS 5		/* failures that each add delay_ms */

enum { OP_ASK = 1, OP_OK, OP_FAIL };

struct req {
	int32_t op;
	char user[GATE_USER_MAX];
};

struct rep {
	int32_t refused, what;
	int64_t retry, delay_ms, addr_failures, user_failures;
};

static int exchange(int fd, int op, const char *user, struct gate_answer *a)
{
	struct req q;
	struct rep p;
	struct pollfd pf = { fd, POLLIN, 0 };
	ssize_t n;

	memset(a, 0, sizeof *a);
	if (fd < 0)
		return 0;
	memset(&q, 0, sizeof q);
	q.op = op;
	snprintf(q.user, sizeof q.user, "%s", user ? user : "");
	while ((n = send(fd, &q, sizeof q, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof q)
		return err_set(ERR_IO, "login check: the listener is gone");
	while ((n = poll(&pf, 1, GATE_WAIT_MS)) < 0 && errno == EINTR)
		;
	if (n <= 0)
		return err_set(ERR_IO, "login check: no answer from the listener");
	while ((n = recv(fd, &p, sizeof p, 0)) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof p)
		return err_set(ERR_IO, "login check: no answer from the listener");
	a->refused = p.refused != 0;
	a->what = (enum lockout_what)p.what;
	a->retry = (long)p.retry;
	a->delay_ms = (long)p.delay_ms;
	a->addr_failures = (long)p.addr_failures;
	a->user_failures = (long)p.user_failures;
	return 0;
}

int gate_ask(int fd, const char *user, struct gate_answer *a)
{
	return exchange(fd, OP_ASK, user, a);
}

int gate_report(int fd, const char *user, int ok, struct gate_answer *a)
{
	return exchange(fd, ok ? OP_OK : OP_FAIL, user, a);
}

void gate_delay(const struct gate_answer *a)
{
	struct timespec ts = { a->delay_ms / 1000, (a->delay_ms % 1000) * 1000000L };

	while (a->delay_ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void gate_why(const struct gate_answer *a, const char *addr, const char *user,
    char *out, size_t outsz)
{
	if (a->what == LOCKOUT_USER)
		snprintf(out, outsz, "too many failed logins for user %s; try "
		    "again in %ld s", esc(user), a->retry);
	else
		snprintf(out, outsz, "too many failed logins from %s; try again "
		    "in %ld s", addr, a->retry);
}

static void lock_logged(enum lockout_what w, const struct gate_policy *p,
    const char *addr, const char *user, const struct lockout_state *st)
{
	if (w == LOCKOUT_ADDR)
		log_warn("%s: locked out for %ld s after %ld failed logins from it "
		    "(lockout_address_failures)", addr, p->limits.lock_seconds,
		    st->addr_failures);
	else if (w == LOCKOUT_USER)
		log_warn("user %s: locked out for %ld s after %ld failed logins "
		    "(lockout_user_failures; last from %s)", esc(user),
		    p->limits.lock_seconds, st->user_failures, addr);
}

int gate_serve(int fd, const struct gate_policy *p, const char *addr,
    int *logged_in, char *user, size_t usersz)
{
	struct lockout_state st;
	struct req q;
	struct rep r;
	ssize_t n;
	long steps;

	while ((n = recv(fd, &q, sizeof q, MSG_DONTWAIT)) < 0 && errno == EINTR)
		;
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n != (ssize_t)sizeof q || q.op < OP_ASK || q.op > OP_FAIL)
		return ERR_IO;
	q.user[sizeof q.user - 1] = '\0';
	if (q.op == OP_ASK)
		lockout_check(p->table, &p->limits, addr, q.user, clock_now(), &st);
	else
		lock_logged(lockout_record(p->table, &p->limits, addr, q.user,
		    q.op == OP_OK, clock_now(), &st), p, addr, q.user, &st);
	if (q.op == OP_OK) {
		*logged_in = 1;
		snprintf(user, usersz, "%s", q.user);
	}
	memset(&r, 0, sizeof r);
	r.refused = st.locked != LOCKOUT_NONE;
	r.what = (int32_t)st.locked;
	r.retry = st.retry;
	steps = st.addr_failures < DELAY_STEPS ? st.addr_failures : DELAY_STEPS;
	r.delay_ms = (int64_t)steps * p->delay_ms;
	if (r.delay_ms > p->max_delay_ms)
		r.delay_ms = p->max_delay_ms;
	r.addr_failures = st.addr_failures;
	r.user_failures = st.user_failures;
	if (send(fd, &r, sizeof r, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof r)
		return ERR_IO;
	return 0;
}
