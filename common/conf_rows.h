/* conf_rows.h: the rows of nodebak.conf's table that pull.conf(5) uses
 * too (client/pull/pullconf.c), so that a key means the same in both
 * files: one home for its type, bounds, default and description. */
#ifndef NODEBAK_CONF_ROWS_H
#define NODEBAK_CONF_ROWS_H

#include "ini.h"

/* [retention]: offsets relative to struct conf_retention (conf.h). */
extern const struct ini_key conf_rows_retention[];

/* The verification limits of an accepted archive, at offset off. */
#define CONF_ROW_MAX_MEMBERS(off) \
	{ "max_members", CT_INT, (off), "10000", 4, 1000000, NULL, \
	  "the most members an accepted archive may list" }
#define CONF_ROW_MAX_BYTES(off) \
	{ "max_bytes", CT_SIZE, (off), "64G", 1 << 20, (long long)1 << 50, NULL, \
	  "the most bytes an accepted archive's members may hold" }

#endif
