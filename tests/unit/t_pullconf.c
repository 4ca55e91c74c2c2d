/* t_pullconf.c: pull.conf(5) through the typed-INI engine: a full file,
 * every kind of error as its one line, the [retention] rows it shares
 * with nodebak.conf, and the man page against the table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "err.h"
#include "pullconf.h"
#include "schedule.h"
#include "tap.h"

#define FP "SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
#define PATH_MUST "must be a path (relative to the file's folder)"
#define DUR_MUST "must be a duration from 1s to 1h (digits with s, m, h, d " \
	"or w, several added: 90m, 1h30m, 7d, 2w; digits alone are seconds)"
#define HOST_MUST "must be an IPv4 or IPv6 address or a host name (1 to " \
	"253 of A-Za-z0-9.-)"
#define FP_MUST "must be SHA256: and 43 base64 characters (A-Za-z0-9+/, as " \
	"ssh-keygen -l prints it), or a path to the public key (relative to " \
	"the file's folder), or empty for unset"
#define NAME_MUST "NAME 1 to 64 of A-Za-z0-9._- not starting with a dot"

/* A node section with its required keys, then a pull section. */
#define NODE_A "[node a]\naddress = h\nidentity = i\nsigning_key = s\n"
#define PULL "[pull]\narchive_dir = arch\n"

static char dir[64], file[96];

/* Write text to the scratch folder's pull.conf and load it. */
static int pull_text(const char *text, struct pull_conf **c)
{
	FILE *f = fopen(file, "w");

	*c = NULL;
	if (f == NULL)
		return ERR_SYS;
	fputs(text, f);
	fclose(f);
	return pullconf_load(file, c);
}

/* text is refused with exactly the line FILE + want. */
static int pull_refused(const char *text, const char *want)
{
	struct pull_conf *c;
	size_t n = strlen(file);
	int r = pull_text(text, &c);

	pullconf_free(c);
	return r == ERR_INVAL && !strncmp(err_msg(), file, n) &&
	    !strcmp(err_msg() + n, want);
}

/* nodebak.conf's message for text (after "FILE"), into out. */
static int nodebak_msg(const char *text, char *out, size_t size)
{
	struct conf *c = NULL;
	FILE *f = fopen(file, "w");
	int r;

	if (f == NULL)
		return ERR_SYS;
	fputs(text, f);
	fclose(f);
	r = conf_load(file, &c);
	conf_free(c);
	snprintf(out, size, "%s", r ? err_msg() + strlen(file) : "");
	return r;
}

static void t_pull_full(void)
{
	struct pull_conf *c;
	const struct pull_node *a = NULL, *b = NULL, *v6 = NULL;
	char want[160];

	ok(pull_text("# the archive host\n[pull]\narchive_dir = arch\njobs = 8\n"
	    "bwlimit = 10M\ntimeout = 2m\nmetrics_textfile = /m/pull.prom\n"
	    "max_members = 500\nmax_bytes = 1G\n[schedule]\nschedule = daily "
	    "03:00\ntimezone = local\ncatch_up = no\n[retention]\nkeep_daily = "
	    "7\nkeep_within = 2d\n[node web1]\naddress = 10.0.0.5\nport = 2222\n"
	    "user = backup\nidentity = keys/id\nhost_key = " FP "\nsigning_key "
	    "= /k/web1.pem\nremote_dir = data/backups\n\n[node db-1]\naddress = "
	    "db-1.example.org\nidentity = /id\nhost_key = known/db1.pub\n"
	    "signing_key = db1.pem\n[node  v6 ]\naddress = fd00::7\nidentity = "
	    "/id\nsigning_key = v6.pem\n", &c) == 0 && c,
	    "pullconf: a full file loads: %s", err_msg());
	if (c == NULL)
		return;
	snprintf(want, sizeof want, "%s/arch", dir);
	ok(!strcmp(c->archive_dir, want) && c->jobs == 8 &&
	    c->bwlimit == 10 << 20 && c->timeout == 120 &&
	    !strcmp(c->metrics_textfile, "/m/pull.prom") &&
	    c->max_members == 500 && c->max_bytes == 1 << 30,
	    "pullconf: [pull] values (archive_dir %s)", c->archive_dir);
	ok(!strcmp(c->sched_schedule, "daily 03:00") &&
	    !strcmp(c->sched_timezone, "local") &&
	    !strcmp(c->sched_catch_up, "no"), "pullconf: [schedule] values");
	ok(c->retention.keep_daily == 7 && c->retention.keep_within == 2 * 86400
	    && c->retention.keep_manual == -1 && c->retention.min_keep == 1,
	    "pullconf: [retention] values and defaults");
	ok(c->n_nodes == 3 && (a = pullconf_node(c, "web1")) != NULL &&
	    (b = pullconf_node(c, "db-1")) != NULL &&
	    (v6 = pullconf_node(c, "v6")) != NULL && !pullconf_node(c, "web"),
	    "pullconf: three nodes, found by name");
	if (c->n_nodes != 3)
		goto out;
	snprintf(want, sizeof want, "%s/keys/id", dir);
	ok(!strcmp(a->address, "10.0.0.5") && a->port == 2222 &&
	    !strcmp(a->user, "backup") && !strcmp(a->identity, want) &&
	    !strcmp(a->host_key, FP) && a->host_key_is_fp &&
	    !strcmp(a->signing_key, "/k/web1.pem") &&
	    !strcmp(a->remote_dir, "data/backups") && a->line == 17,
	    "pullconf: [node web1] values, fingerprint kept as given");
	snprintf(want, sizeof want, "%s/known/db1.pub", dir);
	ok(!strcmp(b->address, "db-1.example.org") && b->port == 22 &&
	    !strcmp(b->user, "archiver") && !strcmp(b->host_key, want) &&
	    !b->host_key_is_fp && !strcmp(b->remote_dir, "backups") &&
	    b->line == 26, "pullconf: [node db-1]: defaults, host key file "
	    "resolved (%s)", b->host_key);
	ok(!strcmp(v6->address, "fd00::7") && v6->host_key == NULL &&
	    !v6->host_key_is_fp, "pullconf: [node v6]: IPv6, no host key");
out:
	pullconf_free(c);
}

static void t_pull_defaults(void)
{
	struct pull_conf *c;

	ok(pull_text(PULL NODE_A, &c) == 0 && c && c->jobs == 4 &&
	    c->bwlimit == 0 && c->timeout == 60 && c->metrics_textfile == NULL &&
	    c->max_members == 10000 && c->max_bytes == 64LL << 30 &&
	    c->sched_schedule == NULL && !strcmp(c->sched_timezone, "utc") &&
	    !strcmp(c->sched_catch_up, "yes") && c->retention.keep_last == 0,
	    "pullconf: the defaults: %s", err_msg());
	pullconf_free(c);
	setenv("NODEBAK_PULL_CONF", "/e/pull.conf", 1);
	ok(!strcmp(pullconf_path("x.conf"), "x.conf") &&
	    !strcmp(pullconf_path(NULL), "/e/pull.conf"),
	    "pullconf: path argument, then $NODEBAK_PULL_CONF");
	unsetenv("NODEBAK_PULL_CONF");
	ok(!strcmp(pullconf_path(""), PULLCONF_DEFAULT_PATH),
	    "pullconf: then " PULLCONF_DEFAULT_PATH);
}

static void t_pull_structure(void)
{
	ok(pull_refused(PULL "foo = 1\n" NODE_A, ":3: [pull] foo: unknown key "
	    "(keys of [pull]: archive_dir, jobs, bwlimit, timeout, "
	    "metrics_textfile, max_members, max_bytes, store, s3_endpoint, "
	    "s3_region, s3_credentials, s3_path_style, s3_part_size, "
	    "s3_object_lock_days, s3_object_lock_mode, s3_keep_local)"),
	    "pullconf: unknown key: %s", err_msg());
	ok(pull_refused(PULL NODE_A "adress = x\n", ":7: [node a] adress: "
	    "unknown key (keys of [node NAME]: address, port, user, identity, "
	    "host_key, signing_key, remote_dir)"),
	    "pullconf: unknown key in a node: %s", err_msg());
	ok(pull_refused(PULL "[nodes]\n", ":3: [nodes]: unknown section "
	    "(sections: pull, schedule, retention, node NAME)"),
	    "pullconf: unknown section: %s", err_msg());
	ok(pull_refused(PULL "[pull x]\n", ":3: [pull x]: unknown section "
	    "(sections: pull, schedule, retention, node NAME)"),
	    "pullconf: a name after a fixed section: %s", err_msg());
	ok(pull_refused(PULL "[node]\n", ":3: [node]: must be [node NAME], "
	    NAME_MUST), "pullconf: [node] without a NAME: %s", err_msg());
	ok(pull_refused(PULL "[node .x]\n", ":3: [node .x]: must be [node NAME], "
	    NAME_MUST), "pullconf: a bad NAME: %s", err_msg());
	ok(pull_refused(PULL "jobs = 2\n# again\njobs = 3\n" NODE_A, ":5: [pull] "
	    "jobs = 3: duplicate key (first set on line 3)"),
	    "pullconf: duplicate key: %s", err_msg());
	ok(pull_refused(PULL NODE_A "port = 1\nport = 2\n", ":8: [node a] port = "
	    "2: duplicate key (first set on line 7)"),
	    "pullconf: duplicate key in a node: %s", err_msg());
	ok(pull_refused(PULL NODE_A "[pull]\narchive_dir = b\n", ":8: [pull] "
	    "archive_dir = b: duplicate key (first set on line 2)"),
	    "pullconf: duplicate key across a reopened section: %s", err_msg());
	ok(pull_refused(PULL NODE_A "[node b]\naddress = h\nidentity = i\n"
	    "signing_key = s\n" NODE_A, ":11: duplicate section [node a] (first "
	    "on line 3)"), "pullconf: duplicate node: %s", err_msg());
	ok(pull_refused(PULL "[node a]\naddress = h\nidentity = i\n[node b]\n",
	    ":3: [node a] signing_key is required: " PATH_MUST),
	    "pullconf: a node's missing key, at its header line: %s", err_msg());
	ok(pull_refused(PULL "[node a]\nidentity = i\nsigning_key = s\n",
	    ":3: [node a] address is required: " HOST_MUST),
	    "pullconf: missing address at the end of the file: %s", err_msg());
	ok(pull_refused(NODE_A, ": [pull] archive_dir is required: " PATH_MUST),
	    "pullconf: archive_dir required: %s", err_msg());
	ok(pull_refused(PULL "[retention]\nkeep_daily = 3\n", ": [node NAME] is "
	    "required: at least one node to pull from"),
	    "pullconf: no node: %s", err_msg());
	ok(pull_refused("jobs = 1\n", ":1: jobs = 1: key outside of any section "
	    "(sections: pull, schedule, retention, node NAME)"),
	    "pullconf: key outside a section: %s", err_msg());
}

/* One bad value per type: line 7 of PULL NODE_A + line. */
static void t_pull_values(void)
{
	static const struct { const char *line, *want; } cases[] = {
		{ "[pull]\njobs = 0", "[pull] jobs = 0: must be an integer from 1 "
		  "to 64" },
		{ "[pull]\njobs = four", "[pull] jobs = four: must be an integer "
		  "from 1 to 64" },
		{ "[pull]\nbwlimit = 5X", "[pull] bwlimit = 5X: must be a size from "
		  "0 to 1T (digits with an optional K, M, G or T)" },
		{ "[pull]\ntimeout = 0", "[pull] timeout = 0: " DUR_MUST },
		{ "[pull]\ntimeout = 61m", "[pull] timeout = 61m: " DUR_MUST },
		{ "[pull]\nmax_bytes = 1K", "[pull] max_bytes = 1K: must be a size "
		  "from 1M to 1024T (digits with an optional K, M, G or T)" },
		{ "[pull]\nmetrics_textfile = a\x1b", "[pull] metrics_textfile = "
		  "a\\x1b: control character in value; must be a path (relative to "
		  "the file's folder), or empty for unset" },
		{ "[schedule]\nschedule = often", "[schedule] schedule = often: "
		  "must be " SCHEDULE_ALLOWED ", or empty for unset" },
		{ "[schedule]\ntimezone = mars", "[schedule] timezone = mars: must "
		  "be one of utc, local" },
		{ "[schedule]\ncatch_up =", "[schedule] catch_up is empty: must be "
		  "one of yes, no" },
		{ "[node a]\naddress = h_1", "[node a] address = h_1: " HOST_MUST },
		{ "[node a]\naddress = 10.0.0.1:22", "[node a] address = "
		  "10.0.0.1:22: " HOST_MUST },
		{ "[node a]\nport = 65536", "[node a] port = 65536: must be an "
		  "integer from 1 to 65535" },
		{ "[node a]\nuser = Root", "[node a] user = Root: must be a user "
		  "name (1 to 32 of a-z0-9._-, starting with a letter)" },
		{ "[node a]\nidentity =", "[node a] identity is empty: " PATH_MUST },
		{ "[node a]\nremote_dir = /srv", "[node a] remote_dir = /srv: must "
		  "be a relative path without .. components" },
		{ "[node a]\nremote_dir = a/../../b", "[node a] remote_dir = "
		  "a/../../b: must be a relative path without .. components" },
		{ "[node a]\nremote_dir = ..", "[node a] remote_dir = ..: must be "
		  "a relative path without .. components" },
		{ "[node a]\nhost_key = SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
		  "KLMNOP", "[node a] host_key = SHA256:abcdefghijklmnopqrstuvwxyz"
		  "ABCDEFGHIJKLMNOP: " FP_MUST },
		{ "[node a]\nhost_key = SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
		  "KLMNOP=", "[node a] host_key = SHA256:abcdefghijklmnopqrstuvwxyz"
		  "ABCDEFGHIJKLMNOP=: " FP_MUST },
		{ "[node a]\nhost_key = SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
		  "KLMN-PQ", "[node a] host_key = SHA256:abcdefghijklmnopqrstuvwxyz"
		  "ABCDEFGHIJKLMN-PQ: " FP_MUST },
	};
	char text[512], want[512], host[300];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* [node a] is reopened as a duplicate; a fresh name instead. */
		const char *l = cases[i].line;
		int node = !strncmp(l, "[node a]", 8);
		snprintf(text, sizeof text, PULL "%s%s\n%s", node ? "" : NODE_A, l,
		    node ? "address = h\nidentity = i\nsigning_key = s\n" : "");
		snprintf(want, sizeof want, ":%d: %s", node ? 4 : 8, cases[i].want);
		ok(pull_refused(text, want), "pullconf: bad value %s: %s",
		    strchr(l, '\n') + 1, err_msg());
	}
	memset(host, 'h', 254);
	host[254] = '\0';
	snprintf(text, sizeof text, PULL "[node a]\naddress = %s\n", host);
	snprintf(want, sizeof want, ":4: [node a] address = %s: " HOST_MUST, host);
	ok(pull_refused(text, want), "pullconf: a 254-character host name");
}

/* The same [retention] rows: the same values, defaults and errors. */
static void t_pull_retention(void)
{
	static const char *const lines[] = {
		"keep_manual = -2", "keep_within = 7 days", "min_keep = 0",
		"max_space = 2P", "keep_hourly = x", "keep_weekly",
	};
	struct ini_key_info k, n;
	char text[256], theirs[512];
	size_t i, j, shared = 0;

	for (i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		snprintf(text, sizeof text, "[retention]\n%s\n[node]\nname = x\n",
		    lines[i]);
		nodebak_msg(text, theirs, sizeof theirs);
		snprintf(text, sizeof text, "[retention]\n%s\n" PULL NODE_A,
		    lines[i]);
		ok(*theirs && pull_refused(text, theirs), "pullconf: [retention] %s "
		    "refused as in nodebak.conf: %s", lines[i], err_msg());
	}
	/* Shared, not copied: the very same rows (the same strings). */
	for (i = 0; pullconf_schema_key(i, &k) == 0; i++) {
		if (strcmp(k.section, "retention"))
			continue;
		for (j = 0; conf_schema_key(j, &n) == 0; j++)
			shared += !strcmp(n.section, "retention") && k.key == n.key &&
			    k.desc == n.desc && k.dflt == n.dflt;
	}
	ok(shared == 10, "pullconf: the 10 [retention] rows are nodebak.conf's "
	    "(%zu)", shared);
	for (i = shared = 0; pullconf_schema_key(i, &k) == 0; i++)
		for (j = 0; conf_schema_key(j, &n) == 0; j++)
			shared += !strcmp(k.section, "pull") &&
			    !strcmp(k.key, n.key) && !strcmp(n.section, "snapshotd") &&
			    !strcmp(k.desc, n.desc) && !strcmp(k.dflt, n.dflt);
	ok(shared == 2, "pullconf: max_members and max_bytes as [snapshotd]'s");
}

/* The man page's paragraph for section's key, as plain text (font
 * escapes and macros dropped), into out; 0, or -1 when not found. */
static int man_para(const char *man, const char *section, const char *key,
    char *out, size_t size)
{
	FILE *f = fopen(man, "r");
	char line[1024], sec[32] = "";
	size_t n = 0;
	int tag = 0, in = 0;

	if (f == NULL)
		return -1;
	out[0] = '\0';
	while (fgets(line, sizeof line, f) != NULL && n + 2 < size) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, ".SH", 3) || !strcmp(line, ".TP")) {
			if (in)
				break;
			const char *b = strchr(line, '[');
			tag = line[1] == 'T';
			if (line[1] == 'S')
				snprintf(sec, sizeof sec, "%.*s", b ? (int)strcspn(b +
				    1, " ]") : 0, b ? b + 1 : "");
			continue;
		}
		if (tag && !strcmp(sec, section)) {
			const char *w = strstr(line, key);
			char after = w ? w[strlen(key)] : 'x';
			in = w && (w == line || w[-1] == ' ') && (after == '\0' ||
			    !strchr("abcdefghijklmnopqrstuvwxyz_", after));
		}
		tag = 0;
		if (!in)
			continue;
		for (const char *p = line[0] == '.' ? line + strcspn(line, " ") :
		    line; *p && n + 2 < size; p++) {
			if (p[0] == '\\' && p[1] == 'f' && p[2]) {
				p += 2;
				continue;
			}
			if (*p == '"' || (p[0] == '\\' && p[1] == '-'))
				continue;
			out[n++] = *p;
		}
		out[n++] = ' ';
		out[n] = '\0';
	}
	fclose(f);
	return in ? 0 : -1;
}

/* pull.conf(5) documents every key of the table, with its default, and
 * nothing the table does not have (as t_conf_schema for nodebak.conf). */
static void t_pull_schema(void)
{
	static char doc[64][64];
	struct ini_key_info k;
	char want[64], para[2048];
	int n = man_keys("docs/man/pull.conf.5", doc, 64);
	size_t i;

	ok(n > 10, "pullconf schema: pull.conf(5) read, %d keys documented", n);
	for (i = 0; pullconf_schema_key(i, &k) == 0; i++) {
		int found = 0;
		snprintf(want, sizeof want, "%s %s", k.section, k.key);
		for (int j = 0; j < n; j++)
			found |= !strcmp(doc[j], want);
		ok(found && k.desc && *k.desc && !strchr(k.desc, '\n'),
		    "pullconf schema: [%s] %s is documented in pull.conf(5)",
		    k.section, k.key);
		if (k.dflt == NULL)
			continue;
		snprintf(want, sizeof want, "default %s", k.dflt);
		ok(man_para("docs/man/pull.conf.5", k.section, k.key, para,
		    sizeof para) == 0 && strstr(para, want),
		    "pullconf schema: [%s] %s says \"%s\"", k.section, k.key, want);
	}
	ok(i > 20, "pullconf schema: %zu keys in the table", i);
	for (int j = 0; j < n; j++) {
		int found = 0;
		for (i = 0; pullconf_schema_key(i, &k) == 0; i++) {
			snprintf(want, sizeof want, "%s %s", k.section, k.key);
			found |= !strcmp(doc[j], want);
		}
		ok(found, "pullconf schema: documented key %s is in the table",
		    doc[j]);
	}
}

/* The EXAMPLE of pull.conf(5) (its .nf block) loads, with its nodes. */
static void t_pull_example(void)
{
	FILE *man = fopen("docs/man/pull.conf.5", "r");
	struct buf text = BUF_INIT(1 << 16);
	struct pull_conf *c;
	char line[1024];
	int in = 0;

	while (man && fgets(line, sizeof line, man) != NULL) {
		if (!strcmp(line, ".SH EXAMPLE\n"))
			in = 1;
		else if (in && line[0] == '.')
			in = strcmp(line, ".fi\n") ? in : 0;
		else if (in)
			buf_adds(&text, line);
	}
	if (man)
		fclose(man);
	ok(pull_text(buf_cstr(&text), &c) == 0 && c && c->n_nodes == 3 &&
	    pullconf_node(c, "files.example.org") && c->nodes[0].host_key_is_fp,
	    "pullconf: the example of pull.conf(5) loads: %s", err_msg());
	pullconf_free(c);
	buf_free(&text);
}

/* text is refused with a line that holds want. */
static int pull_refused_with(const char *text, const char *want)
{
	struct pull_conf *c;
	int r = pull_text(text, &c);

	pullconf_free(c);
	return r == ERR_INVAL && strstr(err_msg(), want) != NULL;
}

/* [pull] store = s3://BUCKET/PREFIX: split, and the keys it needs. */
static void t_pull_store(void)
{
	struct pull_conf *c = NULL;

	ok(pull_text(PULL "store = s3://copies/site-1/eu/\ns3_endpoint = "
	    "http://127.0.0.1:7480\ns3_credentials = cred\n" NODE_A, &c) == 0 &&
	    !strcmp(c->store_bucket, "copies") &&
	    !strcmp(c->store_prefix, "site-1/eu") &&
	    !strcmp(c->s3_region, "us-east-1") && c->s3_part_size == 16 << 20 &&
	    c->s3_object_lock_days == 0 && !strcmp(c->s3_path_style, "yes"),
	    "pullconf: store split into bucket and prefix, s3 defaults: %s",
	    err_msg());
	pullconf_free(c);
	ok(pull_refused_with(PULL "store = s3://Up/x\n" NODE_A, "[pull] store = "
	    "s3://Up/x: must be s3://BUCKET/PREFIX"),
	    "pullconf: a bad bucket name: %s", err_msg());
	ok(pull_refused_with(PULL "store = s3://copies/a/../b\ns3_endpoint = "
	    "http://h\ns3_credentials = c\n" NODE_A, "must be s3://BUCKET/PREFIX"),
	    "pullconf: .. in the prefix: %s", err_msg());
	ok(pull_refused_with(PULL "store = s3://copies\ns3_credentials = c\n"
	    NODE_A, "[pull] s3_endpoint: must be http[s]://HOST[:PORT] when "
	    "store is set"), "pullconf: store needs s3_endpoint: %s", err_msg());
	ok(pull_refused_with(PULL "store = s3://copies\ns3_endpoint = https://h\n"
	    NODE_A, "[pull] s3_credentials: must name the credentials file"),
	    "pullconf: store needs s3_credentials: %s", err_msg());
	ok(pull_refused_with(PULL "s3_part_size = 1M\n" NODE_A, "[pull] "
	    "s3_part_size = 1M: must be"),
	    "pullconf: s3_part_size at least 5M: %s", err_msg());
}

void t_pullconf(void)
{
	snprintf(dir, sizeof dir, "/tmp/nodebak-unit-pull-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		ok(0, "pullconf: scratch folder");
		return;
	}
	snprintf(file, sizeof file, "%s/pull.conf", dir);
	t_pull_full();
	t_pull_defaults();
	t_pull_structure();
	t_pull_values();
	t_pull_retention();
	t_pull_schema();
	t_pull_store();
	t_pull_example();
	unlink(file);
	rmdir(dir);
}
