/* recovery.h: at start, finish or discard what a crash interrupted. */
#ifndef NODEBAK_RECOVERY_H
#define NODEBAK_RECOVERY_H

struct node;

/* Complete a committed rollback (the journal exists), discard an
 * uncommitted one, remove a snapshot's temporary files. Records what it
 * did in n->recovery and the log. */
int recovery_run(struct node *n);

#endif
