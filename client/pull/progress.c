/* progress.c: progress lines on a terminal (progress.h). */
#include <stdio.h>
#include <string.h>

#include "esc.h"
#include "human.h"
#include "progress.h"
#include "pullconf.h"
#include "sync.h"
#include "banned.h"

void progress_init(struct progress *p, int on)
{
	memset(p, 0, sizeof *p);
	p->on = on;
}

static void line(const struct node_report *r, double now)
{
	char done[32], total[32], rate[32];
	double secs = now - r->started, bps;

	if (r->finished) {
		fprintf(stderr, "%-16.16s %s: %ld new, %ld already here, %ld "
		    "failed\033[K\n", r->node->name, r->ok ? "done" : "FAILED",
		    r->n_new, r->n_skipped, r->n_failed);
		return;
	}
	if (r->current[0] == '\0') {
		fprintf(stderr, "%-16.16s ...\033[K\n", r->node->name);
		return;
	}
	bps = secs > 0.2 ? (double)r->done / secs : 0;
	human_size(r->done, done, sizeof done);
	human_size(r->total, total, sizeof total);
	human_size((unsigned long long)bps, rate, sizeof rate);
	fprintf(stderr, "%-16.16s %s  %s / %s  %s/s", r->node->name,
	    esc(r->current), done, total, rate);
	if (bps > 0 && r->total > r->done)
		fprintf(stderr, "  ETA %.0fs", (double)(r->total - r->done) / bps);
	fputs("\033[K\n", stderr);
}

void progress_draw(struct progress *p, const struct node_report *reps,
    size_t n, double now, int force)
{
	if (!p->on || (p->drawn && !force && now - p->last < 0.2))
		return;
	if (p->drawn)
		fprintf(stderr, "\033[%zuA", p->drawn);
	for (size_t i = 0; i < n; i++)
		line(&reps[i], now);
	p->drawn = n;
	p->last = now;
	fflush(stderr);
}
