/* cmd_backup.c: the `backup ...` console commands: snapshot, list, verify,
 * delete, prune, pin, unpin and rollback (docs/console.md). They parse, ask and report; the
 * work is done by the engines (snapshot.c, rollback.c, bakcheck.c,
 * prune.c, pins.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bak.h"
#include "bakcheck.h"
#include "buf.h"
#include "cluster.h"
#include "cmd.h"
#include "db.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "human.h"
#include "json.h"
#include "log.h"
#include "names.h"
#include "node.h"
#include "pins.h"
#include "prune.h"
#include "retention.h"
#include "rollback.h"
#include "scheduled.h"
#include "snapshot.h"
#include "ui.h"
#include "xmalloc.h"
#include "banned.h"

#define ROLLBACK_USAGE "Usage:\n  backup rollback <name>.bak [--yes] " \
	"[--no-safety-snapshot] [--force node|version|schema]... " \
	"[--identity /ABSOLUTE/FILE]\n"

int cmd_backup_snapshot(struct cmdctx *cx, int argc, char **argv)
{
	char base[NAME_MAX_LEN + 1];
	const char *name = argv[0];

	(void)argc;
	/* The name of the file means the snapshot: nightly.bak is nightly. */
	if (name_from_bak(name, base, sizeof base) == 0)
		name = base;
	if (!name_valid(name)) {
		ui_err(cx->ui, "backup snapshot: %s: names are 1 to 64 of "
		    "A-Za-z0-9._- and do not start with a dot\n", esc(argv[0]));
		return EXIT_FAIL;
	}
	if (snapshot_create(cx->node, name, cx->ui) != 0)
		return cmd_fail(cx, "backup snapshot");
	ui_out(cx->ui, "%s.bak ready for download\n", name);
	return EXIT_OK;
}

static int is_bak_name(const char *name)
{
	char base[NAME_MAX_LEN + 1];

	return name[0] != '.' && name_from_bak(name, base, sizeof base) == 0;
}

/* "; encrypted to age1abcd...wxyz, ..." for a sealed archive, "" in
 * clear. The recipients shortened as fingerprints (first 10 and last 4
 * characters); the node's own recovery key as "this node". */
static const char *sealed_note(const struct node *n, const struct bakcheck *c)
{
	static __thread char out[1024];
	char own[AGE_RECIPIENT_MAX], rec[AGE_RECIPIENT_MAX];
	size_t len;

	if (!c->sealed)
		return "";
	node_recipient(n, own);
	len = (size_t)snprintf(out, sizeof out, "; encrypted to");
	for (size_t i = 0; i < c->nrec && len < sizeof out - 40; i++) {
		age_recipient_format(&c->rec[i], rec);
		if (!strcmp(rec, own))
			len += (size_t)snprintf(out + len, sizeof out - len, "%s this node",
			    i ? "," : "");
		else
			len += (size_t)snprintf(out + len, sizeof out - len,
			    "%s %.10s...%s", i ? "," : "", rec, rec + strlen(rec) - 4);
	}
	return out;
}

/* One backup list line. Only a verified archive's MANIFEST is shown as
 * fact; otherwise what it claims, as a claim. Names are escaped. */
static void list_line(struct cmdctx *cx, const char *file)
{
	struct node *n = cx->node;
	char *p = node_backup_path(n, file), size[32], ts[21] = "-";
	const char *st_name;
	struct bakcheck c;
	struct stat st;

	human_size(stat(p, &st) == 0 ? (unsigned long long)st.st_size : 0, size,
	    sizeof size);
	free(p);
	if (bakcheck_file(n, file, &c) != 0) {
		ui_out(cx->ui, "%-36s %10s  %-20s  %-13s  %s\n", esc(file), size,
		    "-", "unreadable", esc(err_msg()));
		return;
	}
	st_name = bakcheck_status_name(c.status);
	if (c.status == BC_VERIFIED) {
		manifest_time(c.created, ts);
		ts[10] = ' ';
		ts[19] = '\0';
		ui_out(cx->ui, "%-36s %10s  %-20s  %-13s  %s / %s (%s)%s%s%s%s\n",
		    esc(file), size, ts, st_name, esc(c.node_name), esc(c.key_id),
		    node_key_origin(n, c.key_id), name_is_bak_of(file, c.snapshot) ?
		    "" : "; WARNING: holds snapshot ", name_is_bak_of(file,
		    c.snapshot) ? "" : esc(c.snapshot), pins_has(n, file) ?
		    "; pinned" : "", sealed_note(n, &c));
	} else if (c.key_id[0])
		ui_out(cx->ui, "%-36s %10s  %-20s  %-13s  claims %s (%s) / %s%s%s\n",
		    esc(file), size, ts, st_name, esc(c.node_name), esc(c.node_id),
		    esc(c.key_id), c.status == BC_UNTRUSTED ? " (untrusted)" : "",
		    pins_has(n, file) ? "; pinned" : "");
	else
		ui_out(cx->ui, "%-36s %10s  %-20s  %-13s  (no readable MANIFEST)%s\n",
		    esc(file), size, ts, st_name, pins_has(n, file) ? "; pinned" :
		    "");
}

int cmd_backup_list(struct cmdctx *cx, int argc, char **argv)
{
	struct node *n = cx->node;
	char **names;
	size_t count;

	(void)argc;
	(void)argv;
	if (fs_list_sorted(n->backups, is_bak_name, &names, &count) != 0)
		return cmd_fail(cx, "backup list");
	ui_out(cx->ui, "%-36s %10s  %-20s  %-13s  %s\n", "Name", "Size",
	    "Created (UTC)", "Check", "Node / signer");
	for (size_t i = 0; i < count; i++)
		list_line(cx, names[i]);
	fs_list_free(names, count);
	if (count == 0)
		ui_out(cx->ui, "No backups.\n");
	if (node_rollback_pending(n))
		ui_out(cx->ui, "Node state: a rollback is committed but not "
		    "complete; the node is part restored. Any backup, key, pki or "
		    "database cluster command completes it first (or a restart of "
		    "nodebak-snapshotd)\n");
	else {
		pthread_mutex_lock(&n->state_lock);
		if (n->recovery[0])
			ui_out(cx->ui, "Node state: %s\n", n->recovery);
		pthread_mutex_unlock(&n->state_lock);
	}
	return EXIT_OK;
}

/* One archive of backup list --json (docs/console.md): the same facts
 * as its text line, unescaped but JSON-quoted. */
static void list_json_one(struct cmdctx *cx, struct buf *b, const char *file)
{
	struct node *n = cx->node;
	char *p = node_backup_path(n, file), ts[21];
	struct bakcheck c;
	struct stat st;
	int ok, verified;

	json_key_str(b, "name", file, 1);
	json_key_num(b, "size", stat(p, &st) == 0 ? (long long)st.st_size : 0,
	    1, 1);
	free(p);
	ok = bakcheck_file(n, file, &c) == 0;
	verified = ok && c.status == BC_VERIFIED;
	if (verified)
		manifest_time(c.created, ts);
	json_key_num(b, "created", verified ? (long long)c.created : 0,
	    verified, 1);
	json_key_str(b, "created_iso", verified ? ts : NULL, 1);
	json_key_str(b, "check", ok ? bakcheck_status_name(c.status) :
	    "unreadable", 1);
	json_key_str(b, "error", ok ? NULL : err_msg(), 1);
	json_key_str(b, "node_name", ok ? c.node_name : NULL, 1);
	json_key_str(b, "node_id", ok ? c.node_id : NULL, 1);
	json_key_str(b, "key_id", ok ? c.key_id : NULL, 1);
	json_key_str(b, "key_origin", verified ? node_key_origin(n, c.key_id) :
	    NULL, 1);
	json_key_str(b, "snapshot", verified ? c.snapshot : NULL, 1);
	json_key_str(b, "kind", retention_kind_name(retention_kind(file)), 1);
	buf_addf(b, "\"pinned\":%s", pins_has(n, file) ? "true" : "false");
}

int cmd_backup_list_json(struct cmdctx *cx, int argc, char **argv)
{
	struct buf b = BUF_INIT(64 << 20);
	struct node *n = cx->node;
	char **names;
	size_t count;
	int pending;

	(void)argc;
	(void)argv;
	if (fs_list_sorted(n->backups, is_bak_name, &names, &count) != 0)
		return cmd_fail(cx, "backup list --json");
	buf_adds(&b, "{\"archives\":[");
	for (size_t i = 0; i < count; i++) {
		buf_adds(&b, i ? ",{" : "{");
		list_json_one(cx, &b, names[i]);
		buf_adds(&b, "}");
	}
	fs_list_free(names, count);
	pending = node_rollback_pending(n);
	buf_addf(&b, "],\"rollback_pending\":%s,", pending ? "true" : "false");
	pthread_mutex_lock(&n->state_lock);
	json_key_str(&b, "node_state", pending ? "a rollback is committed but "
	    "not complete; the node is part restored" : n->recovery, 0);
	pthread_mutex_unlock(&n->state_lock);
	buf_adds(&b, "}\n");
	ui_out(cx->ui, "%s", buf_cstr(&b));
	buf_free(&b);
	return EXIT_OK;
}

int cmd_backup_schedule_status(struct cmdctx *cx, int argc, char **argv)
{
	struct buf b = BUF_INIT(1 << 20);
	int json = argc == 1 && !strcmp(argv[0], "--json");

	if (argc == 1 && !json)
		return CMD_GROUP_USAGE;
	sched_status(cx->node, json, &b);
	ui_out(cx->ui, "%s", buf_cstr(&b));
	buf_free(&b);
	return EXIT_OK;
}

/* arg must name an existing NAME.bak in backups/; *pathp gets it. */
static int bak_arg(struct cmdctx *cx, const char *cmd, const char *arg,
    char **pathp)
{
	char base[NAME_MAX_LEN + 1];

	*pathp = NULL;
	if (name_from_bak(arg, base, sizeof base) != 0)
		return cmd_fail(cx, cmd);
	*pathp = node_backup_path(cx->node, arg);
	if (!fs_exists(*pathp)) {
		ui_err(cx->ui, "%s: %s: no such backup (see backup list)\n", cmd,
		    esc(arg));
		free(*pathp);
		*pathp = NULL;
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int cmd_backup_verify(struct cmdctx *cx, int argc, char **argv)
{
	struct node *n = cx->node;
	struct bak_limits lim;
	struct manifest mf;
	struct bak_keys keys;
	struct bak_seal *seal = xcalloc(1, sizeof *seal);
	char *path, ts[21], rec[AGE_RECIPIENT_MAX], own[AGE_RECIPIENT_MAX];
	int r;

	(void)argc;
	if ((r = bak_arg(cx, "backup verify", argv[0], &path)) != EXIT_OK) {
		free(seal);
		return r;
	}
	node_limits(n, &lim);
	node_keys(n, NULL, 0, &keys);
	r = bak_read(path, &keys, &lim, -1, &mf, seal);
	if (r == 0 && ((r = node_check_claim(n, &mf, argv[0])) != 0 ||
	    (r = snapshot_check_sidecar(path, &mf)) != 0))
		manifest_free(&mf);
	free(path);
	if (r != 0) {
		ui_err(cx->ui, "backup verify: FAILED: %s\n", err_msg());
		free(seal);
		return EXIT_FAIL;
	}
	manifest_time(mf.created, ts);
	ui_out(cx->ui, "%s: OK\n  node %s (%s), snapshot %s taken %s\n  signed "
	    "by key %s (%s)\n", esc(argv[0]), esc(mf.node_name), esc(mf.node_id),
	    esc(mf.snapshot), ts, esc(mf.key_id), node_key_origin(n, mf.key_id));
	if (seal->sealed) {
		node_recipient(n, own);
		ui_out(cx->ui, "  encrypted to %zu recipient%s:\n", seal->env.nrec,
		    seal->env.nrec == 1 ? "" : "s");
		for (size_t i = 0; i < seal->env.nrec; i++) {
			age_recipient_format(&seal->env.rec[i], rec);
			ui_out(cx->ui, "    %s%s\n", rec, strcmp(rec, own) ? "" :
			    " (this node's recovery key)");
		}
	}
	if (seal->sealed && !seal->opened)
		ui_out(cx->ui, "  not encrypted to this node's recovery key: only the "
		    "signed envelope was checked (payload %llu bytes, SHA-256 "
		    "matches)\n", (unsigned long long)seal->env.payload_size);
	else
		ui_out(cx->ui, "  %zu members, %llu bytes, all SHA-256 match\n", mf.n,
		    (unsigned long long)manifest_total(&mf));
	free(seal);
	if (!name_is_bak_of(argv[0], mf.snapshot))
		ui_out(cx->ui, "  WARNING: the file is named %s but holds snapshot "
		    "%s: it was renamed or copied; restoring it restores snapshot "
		    "%s\n", esc(argv[0]), esc(mf.snapshot), esc(mf.snapshot));
	manifest_free(&mf);
	return EXIT_OK;
}

int cmd_backup_delete(struct cmdctx *cx, int argc, char **argv)
{
	char *path;
	int r;

	(void)argc;
	if ((r = bak_arg(cx, "backup delete", argv[0], &path)) != EXIT_OK)
		return r;
	free(path);
	if (pins_has(cx->node, argv[0])) {
		ui_err(cx->ui, "backup delete: %s is pinned; backup unpin %s first\n",
		    esc(argv[0]), esc(argv[0]));
		return EXIT_FAIL;
	}
	if (prune_delete(cx->node, argv[0]) != 0)
		return cmd_fail(cx, "backup delete");
	log_info("deleted %s", esc(argv[0]));
	ui_out(cx->ui, "%s deleted\n", esc(argv[0]));
	return EXIT_OK;
}

/* ---- backup prune, pin, unpin ---- */

int cmd_backup_prune(struct cmdctx *cx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (prune_run(cx->node, 0, cx->ui) != 0)
		return cmd_fail(cx, "backup prune");
	return EXIT_OK;
}

int cmd_backup_prune_dry_run(struct cmdctx *cx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (prune_run(cx->node, 1, cx->ui) != 0)
		return cmd_fail(cx, "backup prune --dry-run");
	return EXIT_OK;
}

static int pin(struct cmdctx *cx, const char *file, int on)
{
	const char *cmd = on ? "backup pin" : "backup unpin";
	char *path;
	int r;

	/* Unpinning an archive that is gone is allowed: the pin is stale. */
	if (on && (r = bak_arg(cx, cmd, file, &path)) != EXIT_OK)
		return r;
	if (on)
		free(path);
	if (pins_set(cx->node, file, on) != 0)
		return cmd_fail(cx, cmd);
	log_info("%s %s", on ? "pinned" : "unpinned", esc(file));
	ui_out(cx->ui, "%s %s: %s\n", esc(file), on ? "pinned" : "unpinned",
	    on ? "kept for good by backup prune; backup delete refuses it" :
	    "backup prune decides it by the policy again");
	return EXIT_OK;
}

int cmd_backup_pin(struct cmdctx *cx, int argc, char **argv)
{
	(void)argc;
	return pin(cx, argv[0], 1);
}

int cmd_backup_unpin(struct cmdctx *cx, int argc, char **argv)
{
	(void)argc;
	return pin(cx, argv[0], 0);
}

/* ---- backup rollback ---- */

struct opts {
	const char *file;
	const char *identity;		/* an operator's age identity file */
	int yes, no_safety;
	unsigned force;
};

static int parse_opts(struct cmdctx *cx, int argc, char **argv,
    struct opts *o)
{
	memset(o, 0, sizeof *o);
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--yes"))
			o->yes = 1;
		else if (!strcmp(argv[i], "--no-safety-snapshot"))
			o->no_safety = 1;
		else if (!strcmp(argv[i], "--identity") && i + 1 < argc &&
		    !o->identity) {
			o->identity = argv[++i];
			if (o->identity[0] != '/') {
				ui_err(cx->ui, "backup rollback: --identity %s: give the "
				    "identity file's absolute path (the daemon reads it)\n",
				    esc(o->identity));
				return -1;
			}
		}
		else if (!strcmp(argv[i], "--force") && i + 1 < argc) {
			const char *w = argv[++i];
			if (!strcmp(w, "node"))
				o->force |= ROLLBACK_FORCE_NODE;
			else if (!strcmp(w, "version"))
				o->force |= ROLLBACK_FORCE_VERSION;
			else if (!strcmp(w, "schema"))
				o->force |= ROLLBACK_FORCE_SCHEMA;
			else {
				ui_err(cx->ui, "backup rollback: --force takes node, "
				    "version or schema, not %s\n", w);
				return -1;
			}
		} else if (argv[i][0] == '-' || o->file) {
			ui_err(cx->ui, ROLLBACK_USAGE);
			return -1;
		} else
			o->file = argv[i];
	}
	if (o->file == NULL) {
		ui_err(cx->ui, ROLLBACK_USAGE);
		return -1;
	}
	return 0;
}

static int refuse_if_clustered(struct cmdctx *cx)
{
	struct cluster cl;

	if (cluster_load(cx->node->cluster_path, &cl) != 0)
		return -1;
	if (cl.status == CS_ENABLED || cl.status == CS_DISABLING) {
		ui_err(cx->ui, "ERROR: Cannot restore while clustering enabled.\n"
		    "  Disable clustering on this node first\n");
		return -1;
	}
	/* A server still following a master (after a failed join, say) is
	 * read-only: the restore would fail after the commit point. */
	if (db_restore_ready(cx->node->conf) != 0) {
		ui_err(cx->ui, "backup rollback: %s\n", err_msg());
		return -1;
	}
	return 0;
}

/* Ask before restoring, showing what the archive holds: its MANIFEST as
 * bakcheck_file() verified it (seen gets it, for the engine to hold the
 * staged archive to). An archive that does not verify is not asked
 * about: staging will refuse it and say why. */
static int confirm(struct cmdctx *cx, const char *file, struct bakcheck *seen)
{
	char text[2048], about[1100], warn[600] = "", ts[21];

	if (bakcheck_file(cx->node, file, seen) != 0 ||
	    seen->status != BC_VERIFIED)
		return 1;
	manifest_time(seen->created, ts);
	if (!name_is_bak_of(file, seen->snapshot))
		snprintf(warn, sizeof warn, "WARNING: the file is named %s but holds "
		    "snapshot %s: it was renamed or copied from another archive.\n",
		    esc(file), esc(seen->snapshot));
	snprintf(about, sizeof about, "It holds snapshot %s of node %s (%s), "
	    "taken %s, signed by key %s (%s).\n%s", esc(seen->snapshot),
	    esc(seen->node_name), esc(seen->node_id), ts, esc(seen->key_id),
	    node_key_origin(cx->node, seen->key_id), warn);
	snprintf(text, sizeof text, "WARNING!!!\nAre you sure you wish to restore "
	    "this node from %s? (Y/n)\n%sThe node's database, configuration, "
	    "certificates, keys and licence will be replaced by the snapshot's.\n"
	    "The node will be out of the database cluster afterwards: initialize "
	    "or join it again.\nThe node's services will restart at the end of "
	    "this procedure.\n", esc(file), about);
	return ui_confirm(cx->ui, text);
}

static void report(struct cmdctx *cx, const char *file,
    const struct rollback_res *res)
{
	const struct manifest *mf = &res->mf;
	size_t files = 0, dirs = 0;
	char ts[21];

	for (size_t i = 0; i < mf->n; i++)
		if (!strncmp(mf->m[i].path, "files/", 6))
			mf->m[i].is_dir ? dirs++ : files++;
	manifest_time(mf->created, ts);
	if (!name_is_bak_of(file, mf->snapshot))
		ui_out(cx->ui, "WARNING: %s was renamed or copied: it held snapshot "
		    "%s, which is what was restored\n", esc(file), esc(mf->snapshot));
	ui_out(cx->ui, "Restored from %s (snapshot %s of node %s, taken %s):\n"
	    "  Database           : %s (%s%s%s)\n"
	    "  Configuration      : restored\n"
	    "  Cluster settings   : restored; Status now Disabled\n"
	    "  Certificates, keys and licence : %zu files, %zu folders\n",
	    esc(file), esc(mf->snapshot), esc(mf->node_name), ts,
	    db_member(cx->node->conf), res->dbok ? "" : "INTEGRITY CHECK FAILED",
	    !res->dbok && res->dbwhat[0] ? ": " : "", res->dbwhat, files, dirs);
	if (res->safety[0])
		ui_out(cx->ui, "Safety snapshot of the previous state: %s.bak\n",
		    esc(res->safety));
	ui_out(cx->ui, "This node is out of the database cluster: run 'database "
	    "cluster initialize' or 'database cluster join <master>'.\n");
}

int cmd_backup_rollback(struct cmdctx *cx, int argc, char **argv)
{
	struct rollback_req rq;
	struct rollback_res res;
	struct bakcheck seen;
	struct opts o;
	struct age_identity *ids = NULL;
	size_t nids = 0;
	char base[NAME_MAX_LEN + 1], *path;
	int exists, r;

	if (parse_opts(cx, argc, argv, &o) != 0)
		return EXIT_USAGE;
	if (name_from_bak(o.file, base, sizeof base) != 0) {
		ui_err(cx->ui, "backup rollback: %s\n", err_msg());
		return EXIT_FAIL;
	}
	path = node_backup_path(cx->node, o.file);
	exists = fs_exists(path);
	free(path);
	if (!exists) {
		ui_err(cx->ui, "backup rollback: %s: no such backup (see backup "
		    "list)\n", o.file);
		return EXIT_FAIL;
	}
	if (refuse_if_clustered(cx) != 0)
		return EXIT_FAIL;
	if (o.identity && age_identities_load(o.identity, &ids, &nids) != 0) {
		ui_err(cx->ui, "backup rollback: --identity: %s\n", err_msg());
		ui_err(cx->ui, "  The node was not changed.\n");
		return EXIT_FAIL;
	}
	memset(&seen, 0, sizeof seen);
	seen.status = BC_UNVERIFIED;	/* until bakcheck_file() says more */
	if (!o.yes && !confirm(cx, o.file, &seen)) {
		ui_out(cx->ui, "Rollback cancelled; nothing was changed.\n");
		age_identities_free(ids, nids);
		return EXIT_FAIL;
	}
	rq.file = o.file;
	rq.ids = ids;
	rq.nids = nids;
	rq.force = o.force;
	rq.no_safety = o.no_safety;
	rq.seen = o.yes ? NULL : &seen;
	if ((r = rollback_run(cx->node, &rq, cx->ui, &res)) == 0) {
		report(cx, o.file, &res);
		r = res.dbok ? EXIT_OK : EXIT_FAIL;
	} else if (res.committed) {
		ui_err(cx->ui, "backup rollback: %s: %s\n  The rollback is "
		    "committed but not complete: the node is part restored, and no "
		    "other operation may change it until the rollback is completed. "
		    "Fix the cause, then run any backup, key, pki or database "
		    "cluster command, or restart nodebak-snapshotd: either completes "
		    "it.\n", o.file, err_msg());
		r = EXIT_FAIL;
	} else {
		ui_err(cx->ui, "backup rollback: %s\n", err_msg());
		ui_err(cx->ui, "  The node was not changed.\n");
		r = EXIT_FAIL;
	}
	rollback_res_free(&res);
	age_identities_free(ids, nids);
	return r;
}
