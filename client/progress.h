/* progress.h: the console's progress line for long work (backup snapshot,
 * backup rollback): "done of total, rate, ETA" on a terminal's standard
 * error, redrawn in place from the daemon's progress frames
 * (docs/control-protocol.md). */
#ifndef NODEBAK_PROGRESS_H
#define NODEBAK_PROGRESS_H
#include <stdint.h>
#include <stdio.h>

struct progress_line {
	FILE *f;		/* where it is drawn: a terminal */
	double start;		/* when the first report came (monotonic s) */
	uint64_t start_done;	/* ... and how far the work was then */
	uint64_t last;		/* the last report's done */
	int shown;		/* a line is on the screen now */
};

void progress_init(struct progress_line *pl, FILE *f);
/* Draw "done of total" (total 0: unknown) over the line shown before;
 * done going back means another stage of the work began: the rate is
 * measured again. */
void progress_show(struct progress_line *pl, uint64_t done, uint64_t total);
/* Erase the line, if one is shown, so that other output starts on a
 * clean line; the next report starts a new measure of the rate. */
void progress_clear(struct progress_line *pl);

#endif
