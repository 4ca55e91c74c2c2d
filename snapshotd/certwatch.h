/* certwatch.h: the early warning for the cluster's certificates (the
 * server, client and CA certificates named in state_dir/cluster.conf,
 * docs/cluster.md): a daily wall-clock job logs every one within [pki]
 * warn_days of its notAfter or past it, and the metrics file carries each
 * one's notAfter (docs/snapshots.md, "Metrics"). Days are counted by
 * clock_now() (clock.h). */
#ifndef NODEBAK_CERTWATCH_H
#define NODEBAK_CERTWATCH_H

struct buf;
struct node;

/* After job_start(): check now, then every day at 00:00 UTC. 0, or the
 * job loop's error. */
int certwatch_start(struct node *n);

/* Append nodebak_certificate_not_after_timestamp_seconds{file="..."}
 * (HELP, TYPE and one sample per configured certificate that can be read)
 * to b, in the Prometheus text format. */
void certwatch_metrics(struct node *n, struct buf *b);

#endif
