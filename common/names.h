/* names.h: the naming rules for snapshots and nodes. */
#ifndef NODEBAK_NAMES_H
#define NODEBAK_NAMES_H
#include <stddef.h>

#define NAME_MAX_LEN 64

/* 1 when s is 1 to 64 of A-Za-z0-9._- and does not start with a dot. */
int name_valid(const char *s);
/* "nightly.bak" -> "nightly" in out (size outsz). 0, or ERR_INVAL with a
 * message saying what is wrong. */
int name_from_bak(const char *file, char *out, size_t outsz);
/* 1 when file is "<snapshot>.bak": the file still has the name its
 * snapshot was taken under (a renamed or copied archive does not). */
int name_is_bak_of(const char *file, const char *snapshot);
/* 1 when s is a node id as uuid_new() writes it: 36 characters, lower-case
 * hex digits in groups of 8-4-4-4-12 separated by '-'. */
int node_id_valid(const char *s);

#endif
