/* prune.h: backup prune: the [retention] policy (common/retention.c)
 * applied to the archives in backups/, and the crash-safe deletion of an
 * archive with its .json, which backup delete uses too. Engine layer. */
#ifndef NODEBAK_PRUNE_H
#define NODEBAK_PRUNE_H

struct node;
struct ui;

/* The name an archive is renamed to while it is deleted: hidden (an
 * internal name) and removed by recovery after a crash. */
#define PRUNE_DEL_PREFIX ".nodebak-del-"

/* Decide every archive in backups/ under the node's [retention] policy
 * and print one line each on ui (may be NULL): KEEP or DELETE, kind, and
 * the rule that decided it; unless dry_run, delete the DELETE ones (each
 * logged). Says so when the kept archives are still over max_space. The
 * caller holds the node lock unless dry_run. 0, or the error of the
 * first deletion that failed (the ones before it are done). */
int prune_run(struct node *n, int dry_run, const struct ui *ui);

/* Delete backups/<file> (a NAME.bak) and NAME.json so that a crash at
 * any moment leaves the pair whole or hidden: the .bak is renamed to
 * PRUNE_DEL_PREFIX<file> first (the archive is gone from every listing at
 * once), then the .json and the renamed file are removed. 0, or an
 * error naming the file. */
int prune_delete(struct node *n, const char *file);

#endif
