/* pullconf.h: the archive host's configuration file, pull.conf(5): the
 * same INI conventions, typed table and one-line errors as nodebak.conf
 * ("FILE:LINE: [section] key = value: must be ..."), read by the same
 * engine (common/ini.h). */
#ifndef NODEBAK_PULLCONF_H
#define NODEBAK_PULLCONF_H
#include <stddef.h>

#include "conf.h"

#define PULLCONF_DEFAULT_PATH "/etc/nodebak/pull.conf"

/* One [node NAME] section: a node the archive host pulls from. */
struct pull_node {
	char *name;		/* NAME: 1 to 64 of A-Za-z0-9._-, no leading dot */
	char *address;		/* IPv4, IPv6 or a DNS name (required) */
	long port;		/* SSH port, default 22 */
	char *user;		/* default "archiver" */
	char *identity;		/* SSH private key file (required) */
	/* The pinned host key: "SHA256:<43 base64 characters>" as
	 * ssh-keygen -l prints it, or a path (relative: to the file's
	 * folder) to the key in OpenSSH public key format; NULL: the file
	 * archive_dir/.hostkeys/NAME.pub that `nodebak-pull trust` writes. */
	char *host_key;
	int host_key_is_fp;	/* host_key is a SHA256: fingerprint */
	char *signing_key;	/* the node's Ed25519 public key, PEM (required) */
	char *remote_dir;	/* the archives' folder on the node: "backups" */
	int line;		/* the line of the [node NAME] header */
};

struct pull_conf {
	char *file;		/* the file this came from (realpath) */
	/* [pull] */
	char *archive_dir;	/* required */
	long jobs;		/* nodes pulled at once, 1 to 64, default 4 */
	long long bwlimit;	/* bytes per second, all transfers; 0: none */
	long long timeout;	/* seconds without progress, default 60 */
	char *metrics_textfile;	/* NULL: none */
	long max_members;	/* verification limits, as nodebak.conf's */
	long long max_bytes;
	/* The object store (docs/pull.md "Object storage"); store NULL: none */
	char *store;		/* s3://BUCKET/PREFIX as written */
	char *store_bucket;	/* ... split by pullconf_load() */
	char *store_prefix;	/* no leading or trailing '/'; may be "" */
	char *s3_endpoint;
	char *s3_region;
	char *s3_credentials;
	char *s3_path_style;	/* yes | no */
	long long s3_part_size;
	long s3_object_lock_days;	/* 0: no Object Lock header */
	char *s3_object_lock_mode;	/* compliance | governance */
	char *s3_keep_local;		/* yes | no: drop copies once stored */
	/* [schedule]: `nodebak-pull daemon` (schedule.h) */
	char *sched_schedule;	/* NULL: daemon refuses to start */
	char *sched_timezone;	/* utc | local */
	char *sched_catch_up;	/* yes | no */
	/* [retention]: the same keys, table rows and meaning as
	 * nodebak.conf's (docs/snapshots.md), applied per node */
	struct conf_retention retention;
	/* [node NAME] sections, in file order; at least one */
	struct pull_node *nodes;
	size_t n_nodes;
};

/* Load path (NULL: $NODEBAK_PULL_CONF, then PULLCONF_DEFAULT_PATH). On
 * failure ERR_INVAL (or the error opening the file) and err_msg() is one
 * line naming the file, line, section, key, the value and what is
 * allowed. Relative paths are resolved against the file's folder. */
int pullconf_load(const char *path, struct pull_conf **out);
void pullconf_free(struct pull_conf *c);
const char *pullconf_path(const char *path);
/* The node called name, or NULL. */
const struct pull_node *pullconf_node(const struct pull_conf *c,
    const char *name);
/* The i-th key of pull.conf's table (as conf_schema_key()), for the
 * check that pull.conf(5) documents every key. */
int pullconf_schema_key(size_t i, struct ini_key_info *out);

#endif
