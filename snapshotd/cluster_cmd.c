/* cluster_cmd.c: `database cluster certs` and `database cluster localnode`:
 * the settings that may change only while this node is out of the
 * cluster (docs/console.md, docs/cluster.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cluster.h"
#include "cluster_cmd.h"
#include "commands.h"
#include "conf.h"
#include "db.h"
#include "err.h"
#include "log.h"
#include "node.h"
#include "pki.h"
#include "session.h"
#include "banned.h"

/* The name PostgreSQL maps a client certificate to (pg_hba's `cert`). */
#define CLUSTER_CLIENT_CN "postgres"

/* Settings change only while the node is out of the cluster. */
static int refuse_enabled(struct session *s, const struct cluster *cl,
    const char *what)
{
	if (cl->status != CS_ENABLED && cl->status != CS_DISABLING)
		return 0;
	sess_err(s, "ERROR: Cannot change %s when clustering enabled.\n"
	    "  Disable clustering on this node first\n", what);
	return -1;
}

/* One line per problem; the count of problems. */
static int problem(struct session *s, int r)
{
	if (r == 0)
		return 0;
	sess_err(s, "database cluster certs: %s\n", err_msg());
	return 1;
}

static int check_pair(struct session *s, const char *key, const char *cert,
    const char *ca)
{
	int bad = problem(s, pki_match(s->node, key, cert));

	return bad + problem(s, pki_verify(s->node, cert, ca));
}

int cmd_cluster_certs(struct session *s, int argc, char **argv)
{
	struct node *n = s->node;
	struct cluster cl;
	char **a = argv, cn[256];
	int bad = 0;

	if (argc == 4) {
		sess_err(s, "Usage:\n  database cluster certs <server key> <server "
		    "cert> <client key> <client cert> <CA cert>\n  database "
		    "cluster certs <client key> <client cert> <CA cert>\n");
		return EXIT_USAGE;
	}
	if (cluster_load(n->cluster_path, &cl) != 0) {
		sess_err(s, "database cluster certs: %s\n", err_msg());
		return EXIT_FAIL;
	}
	if (refuse_enabled(s, &cl, "certificates") != 0)
		return EXIT_FAIL;
	if (argc == 5) {
		bad += check_pair(s, a[0], a[1], a[4]);
		a += 2;
	}
	bad += check_pair(s, a[0], a[1], a[2]);
	if (pki_cert_cn(n, a[1], cn, sizeof cn) == 0 &&
	    strcmp(cn, CLUSTER_CLIENT_CN)) {
		sess_err(s, "database cluster certs: %s: the client certificate's "
		    "CN is '%s'; the cluster's servers accept only CN '%s'\n",
		    a[1], cn, CLUSTER_CLIENT_CN);
		bad++;
	}
	if (bad) {
		sess_err(s, "Certificates not changed\n");
		return EXIT_FAIL;
	}
	snprintf(cl.server_key, sizeof cl.server_key, "%s", argc == 5 ? argv[0] : "");
	snprintf(cl.server_cert, sizeof cl.server_cert, "%s", argc == 5 ? argv[1] : "");
	snprintf(cl.client_key, sizeof cl.client_key, "%s", a[0]);
	snprintf(cl.client_cert, sizeof cl.client_cert, "%s", a[1]);
	snprintf(cl.ca_cert, sizeof cl.ca_cert, "%s", a[2]);
	if (cluster_save(n->cluster_path, &cl) != 0) {
		sess_err(s, "database cluster certs: %s\n", err_msg());
		return EXIT_FAIL;
	}
	log_info("database cluster certs: %s %s %s %s %s", cl.server_key,
	    cl.server_cert, cl.client_key, cl.client_cert, cl.ca_cert);
	sess_out(s, "Certificates updated\n");
	return EXIT_OK;
}

int cmd_cluster_localnode(struct session *s, int argc, char **argv)
{
	struct node *n = s->node;
	struct cluster cl;
	const char *addr = conf_iface(n->conf, argv[0]);

	(void)argc;
	if (cluster_load(n->cluster_path, &cl) != 0) {
		sess_err(s, "database cluster localnode: %s\n", err_msg());
		return EXIT_FAIL;
	}
	if (refuse_enabled(s, &cl, "the interface") != 0)
		return EXIT_FAIL;
	if (addr == NULL) {
		sess_err(s, "database cluster localnode: %s: no such interface "
		    "(set interface_%s in [cluster] of %s)\n", argv[0], argv[0],
		    n->conf->file);
		return EXIT_FAIL;
	}
	snprintf(cl.interface, sizeof cl.interface, "%s", argv[0]);
	if (cluster_save(n->cluster_path, &cl) != 0) {
		sess_err(s, "database cluster localnode: %s\n", err_msg());
		return EXIT_FAIL;
	}
	/* The server listens on the cluster interface's address. */
	if (db_server_stop(n->conf) != 0 ||
	    db_server_start(n->conf, addr) != 0) {
		sess_err(s, "database cluster localnode: %s\n", err_msg());
		return EXIT_FAIL;
	}
	log_info("database cluster localnode: %s (%s)", argv[0], addr);
	sess_out(s, "Interface %s (%s) is now this node's cluster interface\n",
	    argv[0], addr);
	return EXIT_OK;
}
