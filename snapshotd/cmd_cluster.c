/* cmd_cluster.c: the `database cluster ...` commands: status, certs and
 * localnode (settings that change only while the node is out of the
 * cluster), and initialize, join and remove, which run in the background
 * while status reports them (docs/console.md, docs/cluster.md). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "cluster.h"
#include "cluster_job.h"
#include "cmd.h"
#include "conf.h"
#include "db.h"
#include "err.h"
#include "esc.h"
#include "log.h"
#include "node.h"
#include "pki.h"
#include "ui.h"
#include "banned.h"

/* The name PostgreSQL maps a client certificate to (pg_hba's `cert`). */
#define CLUSTER_CLIENT_CN "postgres"

static void key_line(struct cmdctx *cx, const char *label, const char *name)
{
	ui_out(cx->ui, "  %-22s : %s\n", label, esc(name));
}

/* A certificate with its days left by clock_now(); none when the file is
 * missing or holds no certificate (certs refuses such files). */
static void cert_line(struct cmdctx *cx, const char *label, const char *name)
{
	char words[64] = "";
	time_t na;

	if (*name && pki_not_after(cx->node, name, &na) == 0)
		pki_expiry_words(na, clock_now(), words, sizeof words);
	ui_out(cx->ui, "  %-22s : %s%s%s\n", label, esc(name), *words ? " " : "",
	    words);
}

int cmd_cluster_status(struct cmdctx *cx, int argc, char **argv)
{
	struct node *n = cx->node;
	struct cluster cl;
	const char *addr;

	(void)argc;
	(void)argv;
	if (cluster_load(n->cluster_path, &cl) != 0)
		return cmd_fail(cx, "database cluster status");
	addr = conf_iface(n->conf, cl.interface);
	if (cl.status == CS_ERROR && cl.error[0])
		ui_out(cx->ui, "ERROR : %s\n", esc(cl.error));
	if (cl.status == CS_DISABLING)
		ui_out(cx->ui, "%-24s : Disabling (Started %lld seconds ago)\n",
		    "Status", (long long)(clock_now() - cl.since));
	else
		ui_out(cx->ui, "%-24s : %s\n", "Status",
		    cluster_status_name(cl.status));
	ui_out(cx->ui, "Nodes:\n");
	if (cl.status == CS_ENABLED && addr) {
		/* Every line comes from the servers (docs/cluster.md). */
		struct buf nodes = BUF_INIT(65536);
		if (db_cluster_nodes(n->conf, addr, cl.master, &nodes) != 0)
			ui_out(cx->ui, "    %-20s : %s\n", addr, err_msg());
		else
			ui_out(cx->ui, "%s", buf_cstr(&nodes));
		buf_free(&nodes);
	}
	ui_out(cx->ui, "%-24s : %s\n\n%-24s : %s%s\n\nCertificates\n",
	    "Node in use", cl.node_in_use[0] ? esc(cl.node_in_use) : "None",
	    "Interface", esc(cl.interface), addr ? "" : " (not configured)");
	key_line(cx, "Server Key", cl.server_key);
	cert_line(cx, "Server Certificate", cl.server_cert);
	key_line(cx, "Client Key", cl.client_key);
	cert_line(cx, "Client Certificate", cl.client_cert);
	cert_line(cx, "CA Certificate", cl.ca_cert);
	if (cl.last_command[0] && cl.last_ok == 2)
		ui_out(cx->ui, "\n%-24s : '%s' (In progress, started %lld seconds "
		    "ago)\n", "Last command", esc(cl.last_command),
		    (long long)(clock_now() - cl.since));
	else if (cl.last_command[0])
		ui_out(cx->ui, "\n%-24s : '%s' (%s)\n", "Last command",
		    esc(cl.last_command), cl.last_ok ? "Success" : "Failed");
	return EXIT_OK;
}

/* Settings change only while the node is out of the cluster. */
static int refuse_enabled(struct cmdctx *cx, const struct cluster *cl,
    const char *what)
{
	if (cl->status != CS_ENABLED && cl->status != CS_DISABLING)
		return 0;
	ui_err(cx->ui, "ERROR: Cannot change %s when clustering enabled.\n"
	    "  Disable clustering on this node first\n", what);
	return -1;
}

/* One line per problem; the count of problems. */
static int problem(struct cmdctx *cx, int r)
{
	if (r == 0)
		return 0;
	ui_err(cx->ui, "database cluster certs: %s\n", err_msg());
	return 1;
}

static int check_pair(struct cmdctx *cx, const char *key, const char *cert,
    const char *ca)
{
	int bad = problem(cx, pki_match(cx->node, key, cert));

	return bad + problem(cx, pki_verify(cx->node, cert, ca));
}

int cmd_cluster_certs(struct cmdctx *cx, int argc, char **argv)
{
	struct node *n = cx->node;
	struct cluster cl;
	char **a = argv, cn[256];
	int bad = 0;

	if (argc == 4) {
		ui_err(cx->ui, "Usage:\n  database cluster certs <server key> <server "
		    "cert> <client key> <client cert> <CA cert>\n  database "
		    "cluster certs <client key> <client cert> <CA cert>\n");
		return EXIT_USAGE;
	}
	if (cluster_load(n->cluster_path, &cl) != 0) {
		ui_err(cx->ui, "database cluster certs: %s\n", err_msg());
		return EXIT_FAIL;
	}
	if (refuse_enabled(cx, &cl, "certificates") != 0)
		return EXIT_FAIL;
	if (argc == 5) {
		bad += check_pair(cx, a[0], a[1], a[4]);
		a += 2;
	}
	bad += check_pair(cx, a[0], a[1], a[2]);
	if (pki_cert_cn(n, a[1], cn, sizeof cn) == 0 &&
	    strcmp(cn, CLUSTER_CLIENT_CN)) {
		ui_err(cx->ui, "database cluster certs: %s: the client certificate's "
		    "CN is '%s'; the cluster's servers accept only CN '%s'\n",
		    a[1], cn, CLUSTER_CLIENT_CN);
		bad++;
	}
	if (bad) {
		ui_err(cx->ui, "Certificates not changed\n");
		return EXIT_FAIL;
	}
	snprintf(cl.server_key, sizeof cl.server_key, "%s", argc == 5 ? argv[0] : "");
	snprintf(cl.server_cert, sizeof cl.server_cert, "%s", argc == 5 ? argv[1] : "");
	snprintf(cl.client_key, sizeof cl.client_key, "%s", a[0]);
	snprintf(cl.client_cert, sizeof cl.client_cert, "%s", a[1]);
	snprintf(cl.ca_cert, sizeof cl.ca_cert, "%s", a[2]);
	if (cluster_save(n->cluster_path, &cl) != 0) {
		ui_err(cx->ui, "database cluster certs: %s\n", err_msg());
		return EXIT_FAIL;
	}
	log_info("database cluster certs: %s %s %s %s %s", cl.server_key,
	    cl.server_cert, cl.client_key, cl.client_cert, cl.ca_cert);
	ui_out(cx->ui, "Certificates updated\n");
	return EXIT_OK;
}

int cmd_cluster_localnode(struct cmdctx *cx, int argc, char **argv)
{
	struct node *n = cx->node;
	struct cluster cl;
	const char *addr = conf_iface(n->conf, argv[0]);

	(void)argc;
	if (cluster_load(n->cluster_path, &cl) != 0) {
		ui_err(cx->ui, "database cluster localnode: %s\n", err_msg());
		return EXIT_FAIL;
	}
	if (refuse_enabled(cx, &cl, "the interface") != 0)
		return EXIT_FAIL;
	if (addr == NULL) {
		ui_err(cx->ui, "database cluster localnode: %s: no such interface "
		    "(set interface_%s in [cluster] of %s)\n", esc(argv[0]),
		    esc(argv[0]), n->conf->file);
		return EXIT_FAIL;
	}
	snprintf(cl.interface, sizeof cl.interface, "%s", argv[0]);
	if (cluster_save(n->cluster_path, &cl) != 0) {
		ui_err(cx->ui, "database cluster localnode: %s\n", err_msg());
		return EXIT_FAIL;
	}
	/* The server listens on the cluster interface's address. */
	if (db_server_stop(n->conf) != 0 ||
	    db_server_start(n->conf, addr) != 0) {
		ui_err(cx->ui, "database cluster localnode: %s\n", err_msg());
		return EXIT_FAIL;
	}
	log_info("database cluster localnode: %s (%s)", argv[0], addr);
	ui_out(cx->ui, "Interface %s (%s) is now this node's cluster interface\n",
	    argv[0], addr);
	return EXIT_OK;
}

/* ---- initialize, join, remove: confirmed, then run in the background ---- */

static const char *const prompts[] = {
	"WARNING!!!\nAre you sure you wish to initialize this node as a new "
	"database cluster? (Y/n)\nThe contents of this node's database will "
	"become the master version of the database in the new cluster.\nThe "
	"callbridge and web administration will restart at the end of this "
	"procedure.\n",
	"WARNING!!!\nAre you sure you wish to join this node to an existing "
	"database cluster? (Y/n)\nThe contents of this node's database will be "
	"destroyed!\nThe callbridge and web administration will restart at the "
	"end of this procedure.\n",
	"WARNING!!!\nAre you sure you wish to remove this node from the current "
	"cluster? (Y/n)\nThe current contents of this node's database will "
	"become the running local database.\nThis node will lose all knowledge "
	"of the rest of the cluster.\nThe callbridge and web administration will "
	"restart at the end of this procedure.\n",
};

static int job_refused(struct cmdctx *cx, const char *cmd,
    const struct cluster *cl, enum cluster_job_kind k, const char *me)
{
	const struct conf *c = cx->node->conf;

	if (strcmp(c->db_engine, "postgresql")) {
		ui_err(cx->ui, "%s: database clustering needs [database] engine = "
		    "postgresql (this node runs %s)\n", cmd, c->db_engine);
		return 1;
	}
	if (cl->status == CS_DISABLING || cl->last_ok == 2) {
		ui_err(cx->ui, "%s: '%s' is still running (see database cluster "
		    "status)\n", cmd, cl->last_command);
		return 1;
	}
	if (me == NULL) {
		ui_err(cx->ui, "%s: interface %s has no address (database cluster "
		    "localnode)\n", cmd, cl->interface);
		return 1;
	}
	if (k == CLUSTER_JOB_INITIALIZE && (!cl->server_key[0] || !cl->server_cert[0] ||
	    !cl->ca_cert[0])) {
		ui_err(cx->ui, "%s: no server certificate, key or CA certificate: run "
		    "database cluster certs first\n", cmd);
		return 1;
	}
	if (k == CLUSTER_JOB_JOIN && (!cl->client_key[0] || !cl->client_cert[0] ||
	    !cl->ca_cert[0])) {
		ui_err(cx->ui, "%s: no client certificate, key or CA certificate: run "
		    "database cluster certs first\n", cmd);
		return 1;
	}
	if (k == CLUSTER_JOB_REMOVE && cl->status == CS_DISABLED) {
		ui_err(cx->ui, "%s: this node is not in a cluster\n", cmd);
		return 1;
	}
	return 0;
}

/* The arguments of initialize, join and remove: the master's address
 * (join), and --yes, which answers the question for automation (the
 * capital-Y prompt stays the default). 0, or EXIT_USAGE having said why. */
static int job_args(struct cmdctx *cx, const char *cmd, int argc,
    char **argv, int want_master, const char **master, int *yes)
{
	*master = NULL;
	*yes = 0;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--yes") && !*yes)
			*yes = 1;
		else if (want_master && *master == NULL && argv[i][0] != '-')
			*master = argv[i];
		else {
			ui_err(cx->ui, "%s: %s: unexpected argument\nUsage:\n  %s%s "
			    "[--yes]\n", cmd, esc(argv[i]), cmd,
			    want_master ? " <master address>" : "");
			return EXIT_USAGE;
		}
	}
	if (want_master && *master == NULL) {
		ui_err(cx->ui, "Usage:\n  %s <master address> [--yes]\n", cmd);
		return EXIT_USAGE;
	}
	return 0;
}

static int start_job(struct cmdctx *cx, enum cluster_job_kind k,
    const char *master, int yes)
{
	struct node *n = cx->node;
	struct cluster cl;
	char cmd[CLUSTER_VAL_MAX], text[1024];
	const char *me;

	snprintf(cmd, sizeof cmd, "database cluster %s%s%s",
	    k == CLUSTER_JOB_INITIALIZE ? "initialize" :
	    k == CLUSTER_JOB_JOIN ? "join" : "remove",
	    master ? " " : "", master ? master : "");
	if (cluster_load(n->cluster_path, &cl) != 0) {
		ui_err(cx->ui, "%s: %s\n", cmd, err_msg());
		return EXIT_FAIL;
	}
	me = conf_iface(n->conf, cl.interface);
	if (job_refused(cx, cmd, &cl, k, me))
		return EXIT_FAIL;
	snprintf(text, sizeof text, "%s%s", prompts[k], k == CLUSTER_JOB_JOIN &&
	    cl.status == CS_ENABLED ? "NOTE: This node is already in a cluster.\n"
	    "Knowledge of all nodes in the old cluster will be removed\n" : "");
	if (!yes && !ui_confirm(cx->ui, text)) {
		ui_err(cx->ui, "%s: cancelled (only a capital Y proceeds)\n", cmd);
		return EXIT_FAIL;
	}
	ui_out(cx->ui, "Please wait...\n");
	snprintf(cl.last_command, sizeof cl.last_command, "%s", cmd);
	cl.last_ok = 2;
	cl.since = clock_now();
	if (k == CLUSTER_JOB_REMOVE)
		cl.status = CS_DISABLING;
	if (cluster_save(n->cluster_path, &cl) != 0) {
		ui_err(cx->ui, "%s: %s\n", cmd, err_msg());
		return EXIT_FAIL;
	}
	/* The job takes over the lock the dispatcher took for this command. */
	if (cluster_job_start(n, k, master) != 0) {
		ui_err(cx->ui, "%s: %s\n", cmd, err_msg());
		return EXIT_FAIL;
	}
	cx->lock_passed = 1;
	log_info("%s: started", cmd);
	ui_out(cx->ui, "%s started...\n", cluster_job_name(k));
	return EXIT_OK;
}

int cmd_cluster_initialize(struct cmdctx *cx, int argc, char **argv)
{
	const char *master;
	int yes, r;

	if ((r = job_args(cx, "database cluster initialize", argc, argv, 0,
	    &master, &yes)) != 0)
		return r;
	return start_job(cx, CLUSTER_JOB_INITIALIZE, NULL, yes);
}

int cmd_cluster_join(struct cmdctx *cx, int argc, char **argv)
{
	unsigned char a[16];
	const char *master;
	int yes, r;

	if ((r = job_args(cx, "database cluster join", argc, argv, 1, &master,
	    &yes)) != 0)
		return r;
	if (inet_pton(AF_INET, master, a) != 1 &&
	    inet_pton(AF_INET6, master, a) != 1) {
		ui_err(cx->ui, "database cluster join: %s: expected the master's IP "
		    "address\n", esc(master));
		return EXIT_FAIL;
	}
	return start_job(cx, CLUSTER_JOB_JOIN, master, yes);
}

int cmd_cluster_remove(struct cmdctx *cx, int argc, char **argv)
{
	const char *master;
	int yes, r;

	if ((r = job_args(cx, "database cluster remove", argc, argv, 0,
	    &master, &yes)) != 0)
		return r;
	return start_job(cx, CLUSTER_JOB_REMOVE, NULL, yes);
}

int cmd_cluster_clear_error(struct cmdctx *cx, int argc, char **argv)
{
	struct node *n = cx->node;
	struct cluster cl;

	(void)argc;
	if (strcmp(argv[0], "error")) {
		ui_err(cx->ui, "Usage:\n  database cluster clear error\n");
		return EXIT_USAGE;
	}
	if (cluster_load(n->cluster_path, &cl) != 0) {
		ui_err(cx->ui, "database cluster clear error: %s\n", err_msg());
		return EXIT_FAIL;
	}
	if (cl.status != CS_ERROR) {
		ui_out(cx->ui, "No error to clear\n");
		return EXIT_OK;
	}
	/* The error stays in the log; the node is out of the cluster until
	 * it is initialised or joined again. */
	cl.status = CS_DISABLED;
	cl.error[0] = '\0';
	cl.since = clock_now();
	if (cluster_save(n->cluster_path, &cl) != 0) {
		ui_err(cx->ui, "database cluster clear error: %s\n", err_msg());
		return EXIT_FAIL;
	}
	ui_out(cx->ui, "Error cleared\n");
	return EXIT_OK;
}
