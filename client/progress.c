/* progress.c: the console's progress line (progress.h). */
#include <stdio.h>
#include <time.h>

#include "human.h"
#include "progress.h"
#include "banned.h"

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void progress_init(struct progress_line *pl, FILE *f)
{
	pl->f = f;
	pl->start = 0;
	pl->start_done = 0;
	pl->last = 0;
	pl->shown = 0;
}

/* "1:02:03" or "2:03"; "--:--" when not known. */
static void eta_text(double secs, char *out, size_t outsz)
{
	unsigned long s;

	if (secs < 0 || secs > 360000) {
		snprintf(out, outsz, "--:--");
		return;
	}
	s = (unsigned long)(secs + 0.5);
	if (s >= 3600)
		snprintf(out, outsz, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60,
		    s % 60);
	else
		snprintf(out, outsz, "%lu:%02lu", s / 60, s % 60);
}

void progress_show(struct progress_line *pl, uint64_t done, uint64_t total)
{
	char d[32], t[32], rate[32], eta[32];
	double now = mono(), secs, bps = 0;

	if (pl->start == 0 || done < pl->last) {
		pl->start = now;
		pl->start_done = done;
	}
	pl->last = done;
	secs = now - pl->start;
	if (secs > 0.2 && done > pl->start_done)
		bps = (double)(done - pl->start_done) / secs;
	human_size(done, d, sizeof d);
	human_size(total, t, sizeof t);
	if (bps > 0)
		human_size((unsigned long long)bps, rate, sizeof rate);
	else
		snprintf(rate, sizeof rate, "-");
	eta_text(bps > 0 && total >= done ? (double)(total - done) / bps : -1,
	    eta, sizeof eta);
	if (total)
		fprintf(pl->f, "\r%s of %s (%d%%)  %s/s  ETA %s\033[K", d, t,
		    (int)(done * 100 / total), rate, eta);
	else
		fprintf(pl->f, "\r%s  %s/s\033[K", d, rate);
	fflush(pl->f);
	pl->shown = 1;
}

void progress_clear(struct progress_line *pl)
{
	if (pl->shown) {
		fputs("\r\033[K", pl->f);
		fflush(pl->f);
	}
	pl->shown = 0;
	pl->start = 0;
}
