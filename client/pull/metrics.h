/* metrics.h: the puller's Prometheus text-format file ([pull]
 * metrics_textfile, for node_exporter's textfile collector), written
 * atomically after every sync: per node, the newest verified copy's time,
 * the last success, bytes, resumes, verification failures and
 * consecutive failures (docs/pull.md "Metrics"). */
#ifndef NODEBAK_PULL_METRICS_H
#define NODEBAK_PULL_METRICS_H

struct pull_conf;

/* Nothing when no file is configured. */
int pull_metrics_write(const struct pull_conf *c);

#endif
