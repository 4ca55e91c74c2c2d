/* pullconf.c: pull.conf's schema (pullconf.h, docs/man/pull.conf.5) for
 * the typed-INI engine common/ini.c. The tables below are the one home of
 * every key of the archive host's file; [retention] and the verification
 * limits are nodebak.conf's own rows (conf_rows.h). */
#include <stdlib.h>
#include <string.h>

#include "conf_rows.h"
#include "err.h"
#include "esc.h"
#include "ini.h"
#include "pullconf.h"
#include "xmalloc.h"
#include "banned.h"

#define P(f) offsetof(struct pull_conf, f)
#define N(f) offsetof(struct pull_node, f)

/* In the order the man page and errors list them. */
static const struct ini_key pull_keys[] = {
	{ "archive_dir", CT_PATH, P(archive_dir), NULL, 0, 0, NULL,
	  "where the pulled archives are kept, one folder per node (required)",
	  INI_REQUIRED },
	{ "jobs", CT_INT, P(jobs), "4", 1, 64, NULL,
	  "nodes pulled from at once" },
	{ "bwlimit", CT_SIZE, P(bwlimit), "0", 0, (long long)1 << 40, NULL,
	  "bytes per second for all transfers together (0: no limit)" },
	{ "timeout", CT_DURATION, P(timeout), "60s", 1, 3600, NULL,
	  "how long a connection or transfer may go without progress" },
	{ "metrics_textfile", CT_PATH, P(metrics_textfile), NULL, 0, 0, NULL,
	  "the Prometheus text-format file nodebak-pull keeps up to date" },
	CONF_ROW_MAX_MEMBERS(P(max_members)),
	CONF_ROW_MAX_BYTES(P(max_bytes)),
	{ "store", CT_STR, P(store), NULL, 0, 0, NULL,
	  "s3://BUCKET/PREFIX: an S3 bucket that gets every verified copy too" },
	{ "s3_endpoint", CT_STR, P(s3_endpoint), NULL, 0, 0, NULL,
	  "the object store's URL, http[s]://HOST[:PORT] (required with store)" },
	{ "s3_region", CT_STR, P(s3_region), "us-east-1", 0, 0, NULL,
	  "the region requests are signed for" },
	{ "s3_credentials", CT_PATH, P(s3_credentials), NULL, 0, 0, NULL,
	  "the file (mode 0600) with access_key and secret_key (required with "
	  "store)" },
	{ "s3_path_style", CT_ENUM, P(s3_path_style), "yes", 0, 0, "yes no",
	  "address the bucket as ENDPOINT/BUCKET (yes) or BUCKET.HOST (no)" },
	{ "s3_part_size", CT_SIZE, P(s3_part_size), "16M", 5LL << 20,
	  1LL << 30, NULL,
	  "multipart upload part size; larger archives are sent in parts" },
	{ "s3_object_lock_days", CT_INT, P(s3_object_lock_days), "0", 0, 36500,
	  NULL, "Object Lock retention of new objects in days (0: none)" },
	{ "s3_object_lock_mode", CT_ENUM, P(s3_object_lock_mode), "compliance",
	  0, 0, "compliance governance",
	  "Object Lock mode of that retention" },
	{ "s3_keep_local", CT_ENUM, P(s3_keep_local), "yes", 0, 0, "yes no",
	  "keep the verified copies in archive_dir once stored (no: the store "
	  "only)" },
	{ NULL }
};

static const struct ini_key schedule_keys[] = {
	{ "schedule", CT_SCHED, P(sched_schedule), NULL, 0, 0, NULL,
	  "when nodebak-pull daemon pulls; unset: the daemon refuses to start" },
	{ "timezone", CT_ENUM, P(sched_timezone), "utc", 0, 0, "utc local",
	  "whether the schedule's days and times are UTC or local time" },
	{ "catch_up", CT_ENUM, P(sched_catch_up), "yes", 0, 0, "yes no",
	  "pull once at start when a run was missed" },
	{ NULL }
};

static const struct ini_key node_keys[] = {
	{ "address", CT_HOST, N(address), NULL, 0, 0, NULL,
	  "the node's IPv4 or IPv6 address or DNS name (required)",
	  INI_REQUIRED },
	{ "port", CT_INT, N(port), "22", 1, 65535, NULL,
	  "the node's SSH port" },
	{ "user", CT_USER, N(user), "archiver", 0, 0, NULL,
	  "the user nodebak-pull logs in as" },
	{ "identity", CT_PATH, N(identity), NULL, 0, 0, NULL,
	  "the SSH private key it logs in with (required)", INI_REQUIRED },
	{ "host_key", CT_HOSTKEY, N(host_key), NULL, 0, 0, NULL,
	  "the node's pinned SSH host key: a SHA256 fingerprint or a key file",
	  0, N(host_key_is_fp) },
	{ "signing_key", CT_PATH, N(signing_key), NULL, 0, 0, NULL,
	  "the node's Ed25519 public key its archives must be signed with "
	  "(required)", INI_REQUIRED },
	{ "remote_dir", CT_RELPATH, N(remote_dir), "backups", 0, 0, NULL,
	  "the archives' folder on the node, relative to the login's root" },
	{ NULL }
};

static void *add_node(void *conf, const char *name, int line);

static const struct ini_section schema[] = {
	{ "pull", pull_keys, 0, NULL },
	{ "schedule", schedule_keys, 0, NULL },
	{ "retention", conf_rows_retention, P(retention), NULL },
	{ "node", node_keys, 0, add_node },
	{ NULL }
};

/* A new [node NAME] at the end of c->nodes (earlier ones may move). */
static void *add_node(void *conf, const char *name, int line)
{
	struct pull_conf *c = conf;
	struct pull_node *n;

	c->nodes = xreallocarray(c->nodes, c->n_nodes + 1, sizeof *c->nodes);
	n = &c->nodes[c->n_nodes++];
	memset(n, 0, sizeof *n);
	n->name = xstrdup(name);
	n->line = line;
	return n;
}

const char *pullconf_path(const char *path)
{
	const char *env;

	if (path && *path)
		return path;
	if ((env = getenv("NODEBAK_PULL_CONF")) != NULL && *env)
		return env;
	return PULLCONF_DEFAULT_PATH;
}

static int store_chars_ok(const char *p, const char *allowed)
{
	for (; *p; p++)
		if (!strchr(allowed, *p) && !(*p >= 'a' && *p <= 'z') &&
		    !(*p >= '0' && *p <= '9'))
			return 0;
	return 1;
}

/* [pull] store = s3://BUCKET/PREFIX and the keys it needs. */
static int check_store(struct pull_conf *c, const char *path)
{
	const char *b, *slash;
	size_t blen;

	if (c->store == NULL)
		return 0;
	if (strncmp(c->store, "s3://", 5))
		goto bad;
	b = c->store + 5;
	slash = strchr(b, '/');
	blen = slash ? (size_t)(slash - b) : strlen(b);
	if (blen < 3 || blen > 63)
		goto bad;
	c->store_bucket = xstrndup(b, blen);
	c->store_prefix = xstrdup(slash ? slash + 1 : "");
	{
		size_t n = strlen(c->store_prefix);
		while (n && c->store_prefix[n - 1] == '/')
			c->store_prefix[--n] = '\0';
	}
	if (!store_chars_ok(c->store_bucket, ".-") ||
	    !store_chars_ok(c->store_prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZ._-/") ||
	    c->store_prefix[0] == '/' || strstr(c->store_prefix, "//") ||
	    strstr(c->store_prefix, ".."))
		goto bad;
	if (c->s3_endpoint == NULL || (strncmp(c->s3_endpoint, "http://", 7) &&
	    strncmp(c->s3_endpoint, "https://", 8)))
		return err_set(ERR_INVAL, "%s: [pull] s3_endpoint: must be "
		    "http[s]://HOST[:PORT] when store is set", esc(path));
	if (c->s3_credentials == NULL)
		return err_set(ERR_INVAL, "%s: [pull] s3_credentials: must name "
		    "the credentials file when store is set", esc(path));
	return 0;
bad:
	return err_set(ERR_INVAL, "%s: [pull] store = %s: must be "
	    "s3://BUCKET/PREFIX (BUCKET 3 to 63 of a-z0-9.-, PREFIX of "
	    "A-Za-z0-9._-/)", esc(path), esc(c->store));
}

int pullconf_load(const char *path, struct pull_conf **out)
{
	struct pull_conf *c;
	int r;

	*out = NULL;
	path = pullconf_path(path);
	c = xcalloc(1, sizeof *c);
	if ((r = ini_load(schema, path, c, &c->file)) == 0 && c->n_nodes == 0)
		r = err_set(ERR_INVAL, "%s: [node NAME] is required: at least one "
		    "node to pull from", esc(path));
	if (r == 0)
		r = check_store(c, path);
	if (r != 0) {
		pullconf_free(c);
		return r;
	}
	*out = c;
	return 0;
}

void pullconf_free(struct pull_conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_nodes; i++) {
		ini_free_keys(node_keys, &c->nodes[i]);
		free(c->nodes[i].name);
	}
	free(c->nodes);
	free(c->store_bucket);
	free(c->store_prefix);
	ini_free(schema, c);
	free(c->file);
	free(c);
}

const struct pull_node *pullconf_node(const struct pull_conf *c,
    const char *name)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		if (!strcmp(c->nodes[i].name, name))
			return &c->nodes[i];
	return NULL;
}

int pullconf_schema_key(size_t i, struct ini_key_info *out)
{
	return ini_key_info(schema, i, out);
}
