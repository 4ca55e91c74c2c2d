/* lockout.c: the listener's table of failed logins per address and per
 * user name (see lockout.h). Linear decay: a count loses one failure per
 * `decay` seconds without failures being older; a full table evicts the
 * entry that matters least (unlocked, lowest count), never a live lock
 * while an unlocked entry remains. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lockout.h"
#include "xmalloc.h"
#include "banned.h"

#define KEY_MAX 64	/* an address (46) or a user name as sent, cut */

struct entry {
	char key[KEY_MAX];
	long count;
	time_t since;		/* when count was last brought up to date */
	time_t until;		/* locked until then */
};

struct side {
	struct entry *e;
	size_t n, cap;
};

struct lockout {
	struct side addr, user;
};

struct lockout *lockout_new(size_t cap)
{
	struct lockout *t = xcalloc(1, sizeof *t);

	if (cap == 0)
		cap = 1;
	t->addr.e = xcalloc(cap, sizeof *t->addr.e);
	t->user.e = xcalloc(cap, sizeof *t->user.e);
	t->addr.cap = t->user.cap = cap;
	return t;
}

void lockout_free(struct lockout *t)
{
	if (t == NULL)
		return;
	free(t->addr.e);
	free(t->user.e);
	free(t);
}

static void decay(struct entry *e, long period, time_t now)
{
	long gone;

	if (period <= 0)
		period = 1;
	if (e->count == 0 || now <= e->since) {
		if (e->count == 0)
			e->since = now;
		return;
	}
	gone = (long)((now - e->since) / period);
	if (gone >= e->count) {
		e->count = 0;
		e->since = now;
	} else {
		e->count -= gone;
		e->since += (time_t)gone * period;
	}
}

static struct entry *find(struct side *s, const char *key, long period,
    time_t now)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strncmp(s->e[i].key, key, KEY_MAX - 1)) {
			decay(&s->e[i], period, now);
			return &s->e[i];
		}
	return NULL;
}

/* The entry for key, made (evicting if need be) when missing. */
static struct entry *get(struct side *s, const char *key, long period,
    time_t now)
{
	struct entry *e = find(s, key, period, now), *victim = NULL;

	if (e)
		return e;
	if (s->n < s->cap)
		e = &s->e[s->n++];
	else {
		victim = &s->e[0];
		decay(victim, period, now);
		for (size_t i = 1; i < s->n; i++) {
			struct entry *c = &s->e[i];
			int c_locked, v_locked;
			decay(c, period, now);
			c_locked = c->until > now;
			v_locked = victim->until > now;
			if ((v_locked && !c_locked) || (v_locked == c_locked &&
			    (c_locked ? c->until < victim->until :
			    c->count < victim->count)))
				victim = c;
		}
		e = victim;
	}
	memset(e, 0, sizeof *e);
	snprintf(e->key, sizeof e->key, "%s", key);
	e->since = now;
	return e;
}

static void state(struct lockout *t, const struct lockout_limits *l,
    const char *addr, const char *user, time_t now, struct lockout_state *st)
{
	struct entry *a = find(&t->addr, addr, l->decay, now);
	struct entry *u = user && *user ? find(&t->user, user, l->decay, now) :
	    NULL;

	memset(st, 0, sizeof *st);
	st->addr_failures = a ? a->count : 0;
	st->user_failures = u ? u->count : 0;
	if (a && a->until > now) {
		st->locked = LOCKOUT_ADDR;
		st->retry = (long)(a->until - now);
	} else if (u && u->until > now) {
		st->locked = LOCKOUT_USER;
		st->retry = (long)(u->until - now);
	}
}

void lockout_check(struct lockout *t, const struct lockout_limits *l,
    const char *addr, const char *user, time_t now, struct lockout_state *st)
{
	state(t, l, addr, user, now, st);
}

enum lockout_what lockout_record(struct lockout *t,
    const struct lockout_limits *l, const char *addr, const char *user,
    int ok, time_t now, struct lockout_state *st)
{
	enum lockout_what started = LOCKOUT_NONE;
	struct entry *e;

	if (!ok) {
		e = get(&t->addr, addr, l->decay, now);
		e->count++;
		if (l->addr_failures > 0 && l->lock_seconds > 0 &&
		    e->count >= l->addr_failures && e->until <= now) {
			e->until = now + l->lock_seconds;
			started = LOCKOUT_ADDR;
		}
		if (user && *user) {
			e = get(&t->user, user, l->decay, now);
			e->count++;
			if (l->user_failures > 0 && l->lock_seconds > 0 &&
			    e->count >= l->user_failures && e->until <= now) {
				e->until = now + l->lock_seconds;
				if (started == LOCKOUT_NONE)
					started = LOCKOUT_USER;
			}
		}
	}
	state(t, l, addr, user, now, st);
	return started;
}

void lockout_lock_addr(struct lockout *t, const struct lockout_limits *l,
    const char *addr, long seconds, time_t now)
{
	struct entry *e;

	if (seconds <= 0)
		return;
	e = get(&t->addr, addr, l->decay, now);
	if (e->until < now + seconds)
		e->until = now + seconds;
}
