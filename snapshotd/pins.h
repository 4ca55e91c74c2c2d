/* pins.h: archives kept for good (backup pin / backup unpin): one empty
 * file state_dir/pins/<name>.bak each, so that a pin survives restarts
 * and a crash leaves either the pin or none. Engine layer. */
#ifndef NODEBAK_PINS_H
#define NODEBAK_PINS_H

struct node;

/* Pin (on = 1) or unpin backups/<file> (a NAME.bak). Creating an existing
 * pin or removing a missing one is not an error. 0, or an error saying
 * what failed. The caller checks that the archive exists. */
int pins_set(struct node *n, const char *file, int on);
/* 1 when file is pinned, else 0. */
int pins_has(const struct node *n, const char *file);

#endif
