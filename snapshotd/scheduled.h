/* scheduled.h: scheduled snapshots and the node's health ([schedule] and
 * [metrics] in nodebak.conf(5), docs/snapshots.md): a wall-clock timer
 * job on the job loop (job.h) takes, verifies and records each run; the
 * record (state_dir/schedule.state, written atomically) survives
 * restarts; the metrics file is rewritten after every run and hourly. */
#ifndef NODEBAK_SCHEDULED_H
#define NODEBAK_SCHEDULED_H

struct buf;
struct conf;
struct node;

#define SCHED_STATE_FILE "schedule.state"

/* After job_start(): load the record, queue the next run (and, with
 * catch_up, one missed run at once) and the hourly metrics job. 0, or an
 * error (a malformed schedule, which conf_load() already refused). */
int sched_start(struct node *n);

/* After a reload swapped n->conf (old: the configuration before), with
 * the node lock held: a changed [schedule] schedule, timezone or jitter is
 * planned anew from now (no catch-up; a run queued by the old one is
 * dropped), a changed [metrics] textfile is written now and hourly.
 * Errors are logged. */
void sched_reload(struct node *n, const struct conf *old);

/* The health report of backup schedule status, as text (json 0) or as
 * the JSON object of docs/console.md (json 1), appended to out. */
void sched_status(struct node *n, int json, struct buf *out);

#endif
