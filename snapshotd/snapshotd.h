/* snapshotd.h: the snapshot daemon's service loop. */
#ifndef NODEBAK_SNAPSHOTD_H
#define NODEBAK_SNAPSHOTD_H

struct node;

/* Bind the control socket of n's configuration. Returns the listening fd
 * or a negative ERR_* code. */
int snapshotd_listen(struct node *n);
/* Serve the control socket until SIGTERM/SIGINT; SIGHUP reloads the
 * configuration. Returns 0 on a clean exit. */
int snapshotd_run(struct node *n, int lfd);

#endif
