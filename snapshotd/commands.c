/* commands.c: the console's command table and the backup, key, pki and
 * cluster-status commands (docs/console.md). Each entry says which role
 * may run it and whether it mutates the node, so that the checks live in
 * one place (as sftp-server.c's handlers[]). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bak.h"
#include "bakcheck.h"
#include "buf.h"
#include "cluster.h"
#include "cluster_cmd.h"
#include "commands.h"
#include "db.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "log.h"
#include "names.h"
#include "node.h"
#include "pki.h"
#include "rollback.h"
#include "session.h"
#include "snapshot.h"
#include "xmalloc.h"
#include "banned.h"

#define F_ADMIN   1u	/* refused to readonly sessions */
#define F_MUTATES 2u	/* takes the node's operation lock */

struct command {
	const char *w1, *w2, *w3;	/* the command words */
	int min, max;			/* arguments after the words */
	unsigned flags;
	int (*fn)(struct session *s, int argc, char **argv);
	const char *usage;		/* its line in the group's Usage: */
};

static void usage(struct session *s, const char *group);

static int fail(struct session *s, const char *what)
{
	sess_err(s, "%s: %s\n", what, err_msg());
	return EXIT_FAIL;
}

static int cmd_snapshot(struct session *s, int argc, char **argv)
{
	(void)argc;
	if (!name_valid(argv[0])) {
		sess_err(s, "backup snapshot: %s: names are 1 to 64 of "
		    "A-Za-z0-9._- and do not start with a dot\n", esc(argv[0]));
		return EXIT_FAIL;
	}
	if (snapshot_create(s->node, argv[0]) != 0)
		return fail(s, "backup snapshot");
	sess_out(s, "%s.bak ready for download\n", argv[0]);
	return EXIT_OK;
}

static void human(uint64_t n, char *out, size_t outsz)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, outsz, "%llu B", (unsigned long long)n);
	else
		snprintf(out, outsz, "%.1f %s", v, unit[u]);
}

static int is_bak_name(const char *name)
{
	char base[NAME_MAX_LEN + 1];

	return name[0] != '.' && name_from_bak(name, base, sizeof base) == 0;
}

/* One backup list line. Only a verified archive's MANIFEST is shown as
 * fact; otherwise what it claims, as a claim. Names are escaped. */
static void list_line(struct session *s, const char *file)
{
	struct node *n = s->node;
	char *p = node_backup_path(n, file), size[32], ts[21] = "-";
	const char *st_name;
	struct bakcheck c;
	struct stat st;

	human(stat(p, &st) == 0 ? (uint64_t)st.st_size : 0, size, sizeof size);
	free(p);
	if (bakcheck_file(n, file, &c) != 0) {
		sess_out(s, "%-36s %10s  %-20s  %-13s  %s\n", esc(file), size, "-",
		    "unreadable", esc(err_msg()));
		return;
	}
	st_name = bakcheck_status_name(c.status);
	if (c.status == BC_VERIFIED) {
		manifest_time(c.created, ts);
		ts[10] = ' ';
		ts[19] = '\0';
		sess_out(s, "%-36s %10s  %-20s  %-13s  %s / %s (%s)%s%s\n", esc(file),
		    size, ts, st_name, esc(c.node_name), esc(c.key_id),
		    node_key_origin(n, c.key_id), name_is_bak_of(file, c.snapshot) ?
		    "" : "; WARNING: holds snapshot ", name_is_bak_of(file,
		    c.snapshot) ? "" : esc(c.snapshot));
	} else if (c.key_id[0])
		sess_out(s, "%-36s %10s  %-20s  %-13s  claims %s (%s) / %s%s\n",
		    esc(file), size, ts, st_name, esc(c.node_name), esc(c.node_id),
		    esc(c.key_id), c.status == BC_UNTRUSTED ? " (untrusted)" : "");
	else
		sess_out(s, "%-36s %10s  %-20s  %-13s  (no readable MANIFEST)\n",
		    esc(file), size, ts, st_name);
}

static int cmd_list(struct session *s, int argc, char **argv)
{
	struct node *n = s->node;
	char **names;
	size_t count;

	(void)argc;
	(void)argv;
	if (fs_list_sorted(n->backups, is_bak_name, &names, &count) != 0)
		return fail(s, "backup list");
	sess_out(s, "%-36s %10s  %-20s  %-13s  %s\n", "Name", "Size",
	    "Created (UTC)", "Check", "Node / signer");
	for (size_t i = 0; i < count; i++)
		list_line(s, names[i]);
	fs_list_free(names, count);
	if (count == 0)
		sess_out(s, "No backups.\n");
	if (node_rollback_pending(n))
		sess_out(s, "Node state: a rollback is committed but not complete; "
		    "the node is part restored. Any backup, key, pki or database "
		    "cluster command completes it first (or a restart of "
		    "nodebak-snapshotd)\n");
	else {
		pthread_mutex_lock(&n->state_lock);
		if (n->recovery[0])
			sess_out(s, "Node state: %s\n", n->recovery);
		pthread_mutex_unlock(&n->state_lock);
	}
	return EXIT_OK;
}

/* argv[0] must name an existing NAME.bak in backups/; *pathp gets it. */
static int bak_arg(struct session *s, const char *cmd, const char *arg,
    char **pathp)
{
	char base[NAME_MAX_LEN + 1];

	*pathp = NULL;
	if (name_from_bak(arg, base, sizeof base) != 0)
		return fail(s, cmd);
	*pathp = node_backup_path(s->node, arg);
	if (!fs_exists(*pathp)) {
		sess_err(s, "%s: %s: no such backup (see backup list)\n", cmd,
		    esc(arg));
		free(*pathp);
		*pathp = NULL;
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int cmd_verify(struct session *s, int argc, char **argv)
{
	struct bak_limits lim;
	struct manifest mf;
	char *path, ts[21];
	int r;

	(void)argc;
	if ((r = bak_arg(s, "backup verify", argv[0], &path)) != EXIT_OK)
		return r;
	node_limits(s->node, &lim);
	r = bak_read(path, node_lookup_key, s->node, &lim, -1, &mf);
	if (r == 0 && ((r = node_check_claim(s->node, &mf, argv[0])) != 0 ||
	    (r = snapshot_check_sidecar(path)) != 0))
		manifest_free(&mf);
	free(path);
	if (r != 0) {
		sess_err(s, "backup verify: FAILED: %s\n", err_msg());
		return EXIT_FAIL;
	}
	manifest_time(mf.created, ts);
	sess_out(s, "%s: OK\n  node %s (%s), snapshot %s taken %s\n  signed by "
	    "key %s (%s)\n  %zu members, %llu bytes, all SHA-256 match\n",
	    esc(argv[0]), esc(mf.node_name), esc(mf.node_id), esc(mf.snapshot),
	    ts, esc(mf.key_id), node_key_origin(s->node, mf.key_id), mf.n,
	    (unsigned long long)manifest_total(&mf));
	if (!name_is_bak_of(argv[0], mf.snapshot))
		sess_out(s, "  WARNING: the file is named %s but holds snapshot %s: "
		    "it was renamed or copied; restoring it restores snapshot %s\n",
		    esc(argv[0]), esc(mf.snapshot), esc(mf.snapshot));
	manifest_free(&mf);
	return EXIT_OK;
}

static int cmd_delete(struct session *s, int argc, char **argv)
{
	char *path, *json;
	size_t n;
	int r;

	(void)argc;
	if ((r = bak_arg(s, "backup delete", argv[0], &path)) != EXIT_OK)
		return r;
	n = strlen(path);		/* ".../NAME.bak" -> ".../NAME.json" */
	json = xmalloc(n + 2);
	memcpy(json, path, n - 4);
	memcpy(json + n - 4, ".json", 6);
	if (unlink(path) != 0) {
		err_sys("%s", esc(argv[0]));
		r = fail(s, "backup delete");
	} else {
		unlink(json);
		fs_fsync_dir(s->node->backups);
		log_info("deleted %s", esc(argv[0]));
		sess_out(s, "%s deleted\n", esc(argv[0]));
	}
	free(path);
	free(json);
	return r;
}

static int cmd_pki_list(struct session *s, int argc, char **argv)
{
	struct buf b = BUF_INIT(1 << 20);

	(void)argc;
	(void)argv;
	if (pki_list(s->node, &b) != 0) {
		buf_free(&b);
		return fail(s, "pki list");
	}
	sess_out(s, "User supplied certificates and keys:\n%s", buf_cstr(&b));
	buf_free(&b);
	return EXIT_OK;
}

static int cmd_pki_inspect(struct session *s, int argc, char **argv)
{
	struct buf b = BUF_INIT(1 << 20);
	int r = EXIT_OK;

	(void)argc;
	if (pki_inspect(s->node, argv[0], &b) != 0)
		r = fail(s, "pki inspect");
	else
		sess_out(s, "%s", buf_cstr(&b));
	buf_free(&b);
	return r;
}

static int cmd_pki_csr(struct session *s, int argc, char **argv)
{
	if (pki_csr(s->node, argv[0], argc - 1, argv + 1) != 0)
		return fail(s, "pki csr");
	log_info("pki csr: created %s.key and %s.csr", esc(argv[0]),
	    esc(argv[0]));
	sess_out(s, "Created key file %s.key and CSR %s.csr\n"
	    "CSR file %s.csr ready for download via SFTP\n", esc(argv[0]),
	    esc(argv[0]), esc(argv[0]));
	return EXIT_OK;
}

static int cmd_pki_verify(struct session *s, int argc, char **argv)
{
	const char *ca = argc > 1 ? argv[1] : NULL;

	if (pki_verify(s->node, argv[0], ca) != 0)
		return fail(s, "pki verify");
	sess_out(s, "%s: OK (verified against %s)\n", esc(argv[0]),
	    ca ? esc(ca) : "the system's trusted CAs");
	return EXIT_OK;
}

static int cmd_pki_match(struct session *s, int argc, char **argv)
{
	(void)argc;
	if (pki_match(s->node, argv[0], argv[1]) != 0)
		return fail(s, "pki match");
	sess_out(s, "%s matches the certificate in %s\n", esc(argv[0]),
	    esc(argv[1]));
	return EXIT_OK;
}

static int cmd_key_show(struct session *s, int argc, char **argv)
{
	struct buf b = BUF_INIT(16384);

	(void)argc;
	(void)argv;
	if (sigkey_public_pem(s->node->key, &b) != 0) {
		buf_free(&b);
		return fail(s, "key show");
	}
	sess_out(s, "Key id    : %s\nAlgorithm : ed25519\nNode      : %s (%s)\n%s",
	    sigkey_id(s->node->key), s->node->conf->node_name, s->node->id,
	    buf_cstr(&b));
	buf_free(&b);
	return EXIT_OK;
}

static int cmd_key_list(struct session *s, int argc, char **argv)
{
	const struct trust *t = node_trust(s->node);

	(void)argc;
	(void)argv;
	sess_out(s, "%s  this node: %s (%s)\n", sigkey_id(s->node->key),
	    esc(s->node->conf->node_name), s->node->id);
	for (size_t i = 0; i < t->n; i++) {
		const struct trusted_key *tk = &t->keys[i];
		sess_out(s, "%s  trusted", sigkey_id(tk->key));
		if (tk->nnodes == 0)
			sess_out(s, ", no node recorded: its archives are refused; "
			    "trust it again (key show on its node, then key trust)");
		for (size_t j = 0; j < tk->nnodes; j++)
			sess_out(s, "%s %s%s%s%s", j ? "," : " for node",
			    tk->nodes[j].name, tk->nodes[j].name[0] ? " (" : "",
			    tk->nodes[j].id, tk->nodes[j].name[0] ? ")" : "");
		sess_out(s, "\n");
	}
	return EXIT_OK;
}

/* key trust FILE [--node ID]. The key comes with the command (the console
 * read the operator's file) or is a file in the files root (uploaded over
 * FTP/SFTP); the node it is trusted for is FILE's Node line (key show's
 * output) or --node. */
static int cmd_key_trust(struct session *s, int argc, char **argv)
{
	struct buf pem = BUF_INIT(1 << 20);	/* pki_read()'s limit */
	struct trusted_node tn;
	char what[420], keyid[KEYID_HEX_LEN + 1];
	const char *node_arg = NULL;
	int r = EXIT_FAIL;

	if (argc == 3 && !strcmp(argv[1], "--node"))
		node_arg = argv[2];
	else if (argc != 1) {
		usage(s, "key");
		return EXIT_USAGE;
	}
	snprintf(what, sizeof what, "%s", esc(argv[0]));
	if (s->has_data) {
		if (buf_add(&pem, s->data.p, s->data.len) != 0)
			goto err;
	} else if (pki_read(s->node, argv[0], &pem) != 0)
		goto err;
	if (node_trust_key(s->node, buf_cstr(&pem), pem.len, node_arg, what, &tn,
	    keyid) != 0)
		goto err;
	log_info("trusted key %s for node %s (%s) from %s", keyid, tn.name, tn.id,
	    what);
	sess_out(s, "Key %s trusted for node %s%s%s%s: its archives that name "
	    "that node are accepted (a rollback still needs --force node)\n",
	    keyid, tn.name, tn.name[0] ? " (" : "", tn.id, tn.name[0] ? ")" : "");
	r = EXIT_OK;
	goto out;
err:
	r = fail(s, "key trust");
out:
	buf_free(&pem);
	return r;
}

static void cert_line(struct session *s, const char *label, const char *name)
{
	sess_out(s, "  %-22s : %s%s\n", label, esc(name),
	    *name && pki_expired(s->node, name) ? " (expired)" : "");
}

static int cmd_cluster_status(struct session *s, int argc, char **argv)
{
	struct cluster cl;
	const char *addr;

	(void)argc;
	(void)argv;
	if (cluster_load(s->node->cluster_path, &cl) != 0)
		return fail(s, "database cluster status");
	addr = conf_iface(s->node->conf, cl.interface);
	if (cl.status == CS_ERROR && cl.error[0])
		sess_out(s, "ERROR : %s\n", esc(cl.error));
	if (cl.status == CS_DISABLING)
		sess_out(s, "%-24s : Disabling (Started %lld seconds ago)\n", "Status",
		    (long long)(time(NULL) - cl.since));
	else
		sess_out(s, "%-24s : %s\n", "Status", cluster_status_name(cl.status));
	sess_out(s, "Nodes:\n");
	if (cl.status == CS_ENABLED && addr) {
		/* Every line comes from the servers (docs/cluster.md). */
		struct buf nodes = BUF_INIT(65536);
		if (db_cluster_nodes(s->node->conf, addr, cl.master, &nodes) != 0)
			sess_out(s, "    %-20s : %s\n", addr, err_msg());
		else
			sess_out(s, "%s", buf_cstr(&nodes));
		buf_free(&nodes);
	}
	sess_out(s, "%-24s : %s\n\n%-24s : %s%s\n\nCertificates\n", "Node in use",
	    cl.node_in_use[0] ? esc(cl.node_in_use) : "None", "Interface",
	    esc(cl.interface), addr ? "" : " (not configured)");
	cert_line(s, "Server Key", cl.server_key);
	cert_line(s, "Server Certificate", cl.server_cert);
	cert_line(s, "Client Key", cl.client_key);
	cert_line(s, "Client Certificate", cl.client_cert);
	cert_line(s, "CA Certificate", cl.ca_cert);
	if (cl.last_command[0] && cl.last_ok == 2)
		sess_out(s, "\n%-24s : '%s' (In progress, started %lld seconds "
		    "ago)\n", "Last command", esc(cl.last_command),
		    (long long)(time(NULL) - cl.since));
	else if (cl.last_command[0])
		sess_out(s, "\n%-24s : '%s' (%s)\n", "Last command",
		    esc(cl.last_command), cl.last_ok ? "Success" : "Failed");
	return EXIT_OK;
}

static int cmd_help(struct session *s, int argc, char **argv);

static const struct command commands[] = {
	{ "backup", "snapshot", NULL, 1, 1, F_ADMIN | F_MUTATES, cmd_snapshot,
	  "backup snapshot <name>" },
	{ "backup", "rollback", NULL, 1, 8, F_ADMIN | F_MUTATES, cmd_rollback,
	  "backup rollback <name>.bak [--yes] [--no-safety-snapshot] "
	  "[--force node|version|schema]..." },
	{ "backup", "list", NULL, 0, 0, 0, cmd_list, "backup list" },
	{ "backup", "verify", NULL, 1, 1, 0, cmd_verify, "backup verify <name>.bak" },
	{ "backup", "delete", NULL, 1, 1, F_ADMIN | F_MUTATES, cmd_delete,
	  "backup delete <name>.bak" },
	{ "pki", "list", NULL, 0, 0, 0, cmd_pki_list, "pki list" },
	{ "pki", "inspect", NULL, 1, 1, 0, cmd_pki_inspect, "pki inspect <file>" },
	{ "pki", "csr", NULL, 2, 8, F_ADMIN | F_MUTATES, cmd_pki_csr,
	  "pki csr <name> CN:<common name> [subjectAltName:<a>,<b>] "
	  "[O:<org>] [OU:<unit>] [L:<city>] [ST:<state>] [C:<country>]" },
	{ "pki", "verify", NULL, 1, 2, 0, cmd_pki_verify,
	  "pki verify <cert> [<CA cert>]" },
	{ "pki", "match", NULL, 2, 2, 0, cmd_pki_match, "pki match <key> <cert>" },
	{ "key", "show", NULL, 0, 0, 0, cmd_key_show, "key show" },
	{ "key", "list", NULL, 0, 0, 0, cmd_key_list, "key list" },
	{ "key", "trust", NULL, 1, 3, F_ADMIN | F_MUTATES, cmd_key_trust,
	  "key trust <key show output of the node> [--node <node id>]" },
	{ "database", "cluster", "status", 0, 0, 0, cmd_cluster_status,
	  "database cluster status" },
	{ "database", "cluster", "initialize", 0, 0, F_ADMIN | F_MUTATES,
	  cmd_cluster_initialize, "database cluster initialize" },
	{ "database", "cluster", "join", 1, 1, F_ADMIN | F_MUTATES,
	  cmd_cluster_join, "database cluster join <master address>" },
	{ "database", "cluster", "remove", 0, 0, F_ADMIN | F_MUTATES,
	  cmd_cluster_remove, "database cluster remove" },
	{ "database", "cluster", "clear", 1, 1, F_ADMIN | F_MUTATES,
	  cmd_cluster_clear_error, "database cluster clear error" },
	{ "database", "cluster", "localnode", 1, 1, F_ADMIN | F_MUTATES,
	  cmd_cluster_localnode, "database cluster localnode <interface>" },
	{ "database", "cluster", "certs", 3, 5, F_ADMIN | F_MUTATES,
	  cmd_cluster_certs, "database cluster certs <server key> <server cert> "
	  "<client key> <client cert> <CA cert>" },
	/* The client-only form: the entry above runs it (dispatch takes the
	 * first match); this one gives it its own Usage: line. */
	{ "database", "cluster", "certs", 3, 3, F_ADMIN | F_MUTATES,
	  cmd_cluster_certs, "database cluster certs <client key> <client cert> "
	  "<CA cert>" },
	{ "help", NULL, NULL, 0, 0, 0, cmd_help, "help" },
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(struct session *s, const char *group)
{
	sess_err(s, "Usage:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].w1, group))
			sess_err(s, "  %s\n", commands[i].usage);
	if (!strcmp(group, "user"))
		sess_err(s, "  (user commands run in the local console)\n");
}

static int cmd_help(struct session *s, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	sess_out(s, "Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		sess_out(s, "  %s%s\n", commands[i].usage,
		    (commands[i].flags & F_ADMIN) ? "  (admin)" : "");
	sess_out(s, "  user add|del|list|key ...  (local console only)\n"
	    "  exit\n");
	return EXIT_OK;
}

static int words_match(const struct command *c, int argc, char **argv,
    int *nwords)
{
	const char *w[3] = { c->w1, c->w2, c->w3 };
	int n = 0;

	for (; n < 3 && w[n]; n++)
		if (n >= argc || strcmp(argv[n], w[n]))
			return 0;
	*nwords = n;
	return 1;
}

int commands_run(struct session *s, int argc, char **argv)
{
	char what[256];
	int nwords = 0, r, known_group = 0;

	if (argc == 0)
		return EXIT_OK;
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct command *c = &commands[i];
		int nargs;
		if (!strcmp(c->w1, argv[0]))
			known_group = 1;
		if (!words_match(c, argc, argv, &nwords))
			continue;
		nargs = argc - nwords;
		if (nargs < c->min || nargs > c->max) {
			usage(s, c->w1);
			return EXIT_USAGE;
		}
		if ((c->flags & F_ADMIN) && s->role < CTL_ADMIN) {
			sess_err(s, "%s: not allowed for a readonly user\n", c->usage);
			return EXIT_FAIL;
		}
		if (c->flags & F_MUTATES) {
			snprintf(what, sizeof what, "%s %s %s", c->w1, c->w2 ? c->w2 : "",
			    nwords < argc ? esc(argv[nwords]) : "");
			if (node_begin(s->node, what) != 0)
				return fail(s, c->usage);
			/* A committed rollback is completed before anything else
			 * changes the node; until it is, nothing else may. */
			if (node_rollback_pending(s->node) &&
			    rollback_resume(s) != 0) {
				node_end(s->node);
				sess_err(s, "%s%s%s%s%s: refused: %s\n", c->w1,
				    c->w2 ? " " : "", c->w2 ? c->w2 : "", c->w3 ? " " : "",
				    c->w3 ? c->w3 : "", err_msg());
				return EXIT_FAIL;
			}
		}
		r = c->fn(s, nargs, argv + nwords);
		if (c->flags & F_MUTATES)
			node_end(s->node);
		return r;
	}
	if (known_group) {
		usage(s, argv[0]);
		return EXIT_USAGE;
	}
	sess_err(s, "%s: unknown command (type help for the list)\n",
	    esc(argv[0]));
	return EXIT_USAGE;
}
