/* cluster.c: read and write cluster.conf (see cluster.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cluster.h"
#include "err.h"
#include "fsutil.h"
#include "banned.h"

void cluster_defaults(struct cluster *cl)
{
	memset(cl, 0, sizeof *cl);
	snprintf(cl->interface, sizeof cl->interface, "a");
	cl->status = CS_DISABLED;
	cl->last_ok = -1;
}

static const char *const status_names[] = { "Disabled", "Enabled",
	"Disabling", "Error" };

const char *cluster_status_name(enum cluster_status s)
{
	return status_names[s];
}

struct field {
	const char *key;
	size_t off, size;
};

#define FLD(k, f) { k, offsetof(struct cluster, f), sizeof(((struct cluster *)0)->f) }
static const struct field fields[] = {
	FLD("interface", interface),
	FLD("server_key", server_key), FLD("server_cert", server_cert),
	FLD("client_key", client_key), FLD("client_cert", client_cert),
	FLD("ca_cert", ca_cert), FLD("error", error),
	FLD("last_command", last_command), FLD("node_in_use", node_in_use),
	FLD("master", master),
};

static int set(struct cluster *cl, const char *k, const char *v)
{
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		if (strcmp(fields[i].key, k))
			continue;
		if (strlen(v) >= fields[i].size)
			return -1;
		memcpy((char *)cl + fields[i].off, v, strlen(v) + 1);
		return 0;
	}
	if (!strcmp(k, "status")) {
		for (int s = 0; s < 4; s++)
			if (!strcmp(v, status_names[s])) {
				cl->status = (enum cluster_status)s;
				return 0;
			}
		return -1;
	}
	if (!strcmp(k, "since")) {
		char *end;
		cl->since = (time_t)strtoll(v, &end, 10);
		return *end ? -1 : 0;
	}
	if (!strcmp(k, "last_result")) {
		cl->last_ok = !strcmp(v, "Success") ? 1 : !strcmp(v, "Failed") ? 0 :
		    !strcmp(v, "Running") ? 2 : !strcmp(v, "") ? -1 : -2;
		return cl->last_ok == -2 ? -1 : 0;
	}
	return -1;
}

int cluster_load(const char *path, struct cluster *cl)
{
	struct buf b = BUF_INIT(65536);
	char *line, *next;
	int r, lineno = 0;

	cluster_defaults(cl);
	if (!fs_exists(path))
		return 0;
	if ((r = fs_read_file(path, 65536, &b)) != 0)
		return r;
	for (line = b.p; line && *line; line = next) {
		char *eq;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (*line == '\0' || *line == '#')
			continue;
		if ((eq = strstr(line, " = ")) == NULL) {
			eq = strstr(line, " =");
			if (eq == NULL || eq[2] != '\0')
				goto bad;
			eq[0] = '\0';
			if (set(cl, line, "") != 0)
				goto bad;
			continue;
		}
		*eq = '\0';
		if (set(cl, line, eq + 3) != 0)
			goto bad;
	}
	buf_free(&b);
	return 0;
bad:
	buf_free(&b);
	return err_set(ERR_FORMAT, "%s:%d: malformed cluster setting", path,
	    lineno);
}

int cluster_save(const char *path, const struct cluster *cl)
{
	struct buf b = BUF_INIT(65536);
	int r = buf_adds(&b, "# nodebak database-cluster settings; written by "
	    "nodebak-snapshotd\n");

	for (size_t i = 0; r == 0 && i < sizeof fields / sizeof fields[0]; i++)
		r = buf_addf(&b, "%s = %s\n", fields[i].key,
		    (const char *)cl + fields[i].off);
	if (r == 0)
		r = buf_addf(&b, "status = %s\nsince = %lld\nlast_result = %s\n",
		    status_names[cl->status], (long long)cl->since,
		    cl->last_ok == 1 ? "Success" : cl->last_ok == 0 ? "Failed" :
		    cl->last_ok == 2 ? "Running" : "");
	if (r == 0)
		r = fs_write_atomic(path, b.p, b.len, 0600);
	buf_free(&b);
	return r;
}
