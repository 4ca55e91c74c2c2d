/* progress.h: nodebak-pull's progress on a terminal: one line per node
 * (archive, bytes done and total, rate, time left), redrawn in place on
 * stderr. When stderr is not a terminal nothing is drawn: sync.c writes
 * plain log lines instead. */
#ifndef NODEBAK_PROGRESS_H
#define NODEBAK_PROGRESS_H
#include <stddef.h>

struct node_report;

struct progress {
	int on;
	size_t drawn;		/* lines on screen to go back over */
	double last;		/* when they were drawn */
};

void progress_init(struct progress *p, int on);
/* Redraw the lines of reps[0..n): at most 5 times a second, unless
 * force (the final state). */
void progress_draw(struct progress *p, const struct node_report *reps,
    size_t n, double now, int force);

#endif
