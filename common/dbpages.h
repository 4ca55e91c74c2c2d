/* dbpages.h: read an SQLite database's pages as of its last commit straight
 * from the database file and its WAL, without going through SQLite's pager
 * or a temporary copy (docs/snapshots.md, "The database copy"). The
 * caller holds a read transaction on the database for the whole time (so
 * no checkpoint can overwrite a page this reader takes from the database
 * file, and the WAL is not restarted beneath it); db.c does. The files are
 * parsed as hostile: every length and frame is checked. */
#ifndef NODEBAK_DBPAGES_H
#define NODEBAK_DBPAGES_H
#include <stddef.h>
#include <stdint.h>

struct dbpages;

/* Open the database file at path and its WAL (path-wal, when there is
 * one), find the last valid commit in the WAL (salts and checksums, as
 * SQLite does) and which frame holds the newest version of each page up
 * to it. The image is then fixed: npages pages of pgsz bytes. */
int dbpages_open(const char *path, struct dbpages **out);
/* The size of the image in bytes. */
uint64_t dbpages_size(const struct dbpages *p);
/* A struct source read function over the image (ctx: the dbpages): up to
 * cap bytes, in order. A page taken from the WAL is checked again as it is
 * read (its frame header, salts and checksum): a frame that changed under
 * the reader fails with ERR_AGAIN, and the copy must start again. */
int dbpages_read(void *ctx, void *buf, size_t cap, size_t *got);
void dbpages_close(struct dbpages *p);

#endif
