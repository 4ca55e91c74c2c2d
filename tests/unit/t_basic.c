/* t_basic.c: buf, names, conf. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "schedule.h"
#include "err.h"
#include "esc.h"
#include "names.h"
#include "run.h"
#include "tap.h"

void t_buf(void)
{
	struct buf b = BUF_INIT(8);

	ok(buf_adds(&b, "abcd") == 0 && b.len == 4, "buf: append within cap");
	ok(buf_adds(&b, "efghi") == ERR_TOOBIG && b.len == 4 &&
	    !strcmp(buf_cstr(&b), "abcd"), "buf: append past cap fails, unchanged");
	ok(buf_addf(&b, "%d", 1234) == 0 && !strcmp(buf_cstr(&b), "abcd1234"),
	    "buf: formatted append up to cap");
	buf_consume(&b, 2);
	ok(!strcmp(buf_cstr(&b), "cd1234") && b.len == 6, "buf: consume");
	buf_free(&b);
	ok(!strcmp(buf_cstr(&b), "") && b.len == 0, "buf: empty after free");
}

void t_err(void)
{
	err_set(ERR_IO, "pg_basebackup failed (status 1): no route");
	ok(err_set(ERR_DB, "%s", err_msg()) == ERR_DB && !strcmp(err_msg(),
	    "pg_basebackup failed (status 1): no route"),
	    "err: err_set() with the current message as its argument keeps it: "
	    "%s", err_msg());
	err_prefix(ERR_DB, "copying from %s", "10.0.0.1");
	ok(!strcmp(err_msg(), "copying from 10.0.0.1: pg_basebackup failed "
	    "(status 1): no route"), "err: err_prefix() after it: %s", err_msg());
}

void t_names(void)
{
	static const char *good[] = { "nightly", "a", "pre-rollback-2026.1_x",
		"0123456789012345678901234567890123456789012345678901234567890123" };
	static const char *bad[] = { "", ".hidden", "a/b", "a b", "x\n", "é",
		"01234567890123456789012345678901234567890123456789012345678901234",
		"..", "a\\b" };
	char out[80];

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ok(name_valid(good[i]), "name valid: '%s'", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(!name_valid(bad[i]), "name refused: bad[%zu]", i);
	ok(name_from_bak("nightly.bak", out, sizeof out) == 0 &&
	    !strcmp(out, "nightly"), "name_from_bak strips .bak");
	ok(name_from_bak("nightly", out, sizeof out) == ERR_INVAL,
	    "name_from_bak wants .bak");
	ok(name_from_bak(".x.bak", out, sizeof out) == ERR_INVAL,
	    "name_from_bak refuses hidden names");
	ok(!strcmp(esc("files/a b.cer"), "files/a b.cer"), "esc keeps printable");
	ok(!strcmp(esc("a\nb\x1b[2J\\\t\r\x7f\xc3\xa9"),
	    "a\\nb\\x1b[2J\\\\\\t\\r\\x7f\\xc3\\xa9"),
	    "esc: newline, ESC, backslash, tab, CR, DEL and high bytes escaped");
	{
		char big[2000];
		memset(big, '\n', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		const char *e = esc(big);
		ok(strlen(e) <= 403 && !strcmp(e + strlen(e) - 3, "..."),
		    "esc cuts a long name with ...");
	}
	ok(!strcmp(esc(NULL), ""), "esc(NULL) is empty");
	{
		char small[8], line[64];
		esc_ctl(line, sizeof line, "u\nv\r\x1b\x7f\\ \xc3\xa9");
		ok(!strcmp(line, "u\\nv\\r\\x1b\\x7f\\ \xc3\xa9"),
		    "esc_ctl: control bytes escaped, backslash and UTF-8 kept: %s",
		    line);
		ok(esc_ctl(small, sizeof small, "ab\n\n\n") == 6 &&
		    !strcmp(small, "ab\\n\\n"), "esc_ctl cuts at a whole escape");
	}
	ok(name_from_bak("a\nb\x1b[2J.bak", out, sizeof out) == ERR_INVAL &&
	    !strchr(err_msg(), '\n') && !strchr(err_msg(), '\x1b') &&
	    strstr(err_msg(), "a\\nb\\x1b[2J.bak"),
	    "name_from_bak's message shows the name escaped");
	ok(node_id_valid("cb496dcf-76cd-4742-8e2a-a808f63409ae"),
	    "node id valid: a uuid_new() id");
	ok(!node_id_valid("CB496DCF-76CD-4742-8E2A-A808F63409AE") &&
	    !node_id_valid("cb496dcf-76cd-4742-8e2a-a808f63409a") &&
	    !node_id_valid("cb496dcf-76cd-4742-8e2a-a808f63409aef") &&
	    !node_id_valid("cb496dcf776cd-4742-8e2a-a808f63409ae") &&
	    !node_id_valid("\x1b[2J\x1b[31mfffffffffffffffffffffffffff"),
	    "node id refused: upper case, short, long, dash missing, ESC");
	ok(name_is_bak_of("nightly.bak", "nightly") &&
	    !name_is_bak_of("nightly.bak", "old") &&
	    !name_is_bak_of("nightly.bak", "night") &&
	    !name_is_bak_of("nightly.bak.bak", "nightly") &&
	    !name_is_bak_of("nightly", "nightly"),
	    "name_is_bak_of: only <snapshot>.bak");
}

static char conf_file[64];

/* Load text from a scratch file (its name left in conf_file). */
static int conf_text(const char *text, struct conf **c)
{
	int fd, r;
	FILE *f;

	snprintf(conf_file, sizeof conf_file, "/tmp/nodebak-unit-conf-XXXXXX");
	fd = mkstemp(conf_file);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	r = conf_load(conf_file, c);
	unlink(conf_file);
	return r;
}

/* text is refused with exactly the line "FILE" + want. */
static int conf_refused(const char *text, const char *want)
{
	struct conf *c = NULL;
	size_t n;
	int r = conf_text(text, &c);

	conf_free(c);
	n = strlen(conf_file);
	return r == ERR_INVAL && !strncmp(err_msg(), conf_file, n) &&
	    !strcmp(err_msg() + n, want);
}

/* The new checks: addresses, escaping, and what valid files keep meaning. */
static void t_conf_values(void)
{
	struct conf *c = NULL;

	ok(conf_refused("[cluster]\ninterface_a = 999.1.1.1\n", ":2: [cluster] "
	    "interface_a = 999.1.1.1: must be an IPv4 or IPv6 address"),
	    "conf: interface address checked: %s", err_msg());
	ok(conf_refused("[cluster]\ninterface_B = ::1\n", ":2: [cluster] "
	    "interface_B = ::1: the x of interface_<x> must be 1 to 15 "
	    "lower-case letters"), "conf: interface name rule: %s", err_msg());
	ok(conf_refused("[cluster]\ninterface_a = ::1\ninterface_a = ::2\n",
	    ":3: [cluster] interface_a = ::2: duplicate key (first set on line 2)"),
	    "conf: duplicate interface: %s", err_msg());
	ok(conf_refused("[ftpd]\nsftp_listen = [::1]:22 [::1]:0\n", ":2: [ftpd] "
	    "sftp_listen = [::1]:22 [::1]:0: port 0 is not from 1 to 65535; must "
	    "be space-separated ADDRESS:PORT items (IPv6 as [ADDRESS]:PORT, port "
	    "1 to 65535), or empty for none"),
	    "conf: the bad item of a listen list named: %s", err_msg());
	ok(conf_refused("[ftpd]\nftp_listen = [10.0.0.1]:21\n", ":2: [ftpd] "
	    "ftp_listen = [10.0.0.1]:21: 10.0.0.1 is not an IPv6 address; must "
	    "be space-separated ADDRESS:PORT items (IPv6 as [ADDRESS]:PORT, port "
	    "1 to 65535), or empty for none"),
	    "conf: IPv4 in brackets refused: %s", err_msg());
	ok(conf_refused("[snapshotd]\nservice_stop = stop\x1b[2J\n", ":2: "
	    "[snapshotd] service_stop = stop\\x1b[2J: control character in value; "
	    "must be a shell command, or empty for unset"),
	    "conf: a control byte is escaped in the message: %s", err_msg());
	ok(conf_refused("[node]\nna\nme = x\n", ":2: [node] na: expected KEY = "
	    "VALUE, a [SECTION] header or a # comment"),
	    "conf: line without '=': %s", err_msg());
	ok(conf_refused("[node]\nname = x\n[database]\npgbindir = /opt\n", ":4: "
	    "[database] pgbindir: unknown key (keys of [database]: engine, path, "
	    "pg_port, pg_bindir)"), "conf: the keys of [database]: %s", err_msg());
	ok(conf_refused("[node]\nname = x\n[ftpd]\nmax_bytes = 1G\n", ":4: [ftpd] "
	    "max_bytes: unknown key (keys of [ftpd]: ftp_listen, "
	    "ftps_implicit_listen, sftp_listen, tls, tls_cert, tls_key, host_key, "
	    "pasv_ports, users, run_as, privsep_user, xferlog, max_clients, max_per_address, "
	    "max_line, idle_timeout, data_timeout, login_timeout, "
	    "max_login_attempts, lockout_seconds, lockout_address_failures, "
	    "lockout_user_failures, lockout_decay, login_delay_ms, "
	    "shutdown_timeout, max_handles, umask, session_memory)"),
	    "conf: a key of another section is unknown here: %s", err_msg());
	ok(conf_text("[node]\nname = x\n[cluster]\ninterface_a = 10.0.0.1\n"
	    "interface_ipv = fe80::1\n[snapshotd]\nsocket_mode = 0600\n"
	    "max_bytes = 512M\n[ftpd]\nftp_listen = 0.0.0.0:21 [::]:21 "
	    "[fe80::1%eth0]:2121\nsftp_listen =\npasv_ports = 1024-65535\n", &c)
	    == 0 && c, "conf: valid forms load: %s", err_msg());
	if (c) {
		ok(c->socket_mode == 0600 && c->max_bytes == 512LL << 20 &&
		    c->ftpd.sftp_listen == NULL && !strcmp(c->ftpd.pasv_ports,
		    "1024-65535") && !strcmp(conf_iface(c, "ipv"), "fe80::1"),
		    "conf: their values");
		ok(c->pg_bindir == NULL, "conf: pg_bindir unset by default");
		ok(!strcmp(c->db_engine, "sqlite") && c->pg_port == 5432 &&
		    c->ftpd.max_clients == 256 && c->max_bytes == 512LL << 20 &&
		    !strcmp(c->ftpd.ftps_implicit_listen ? "set" : "", "") &&
		    !strcmp(c->ftpd.tls, "required"), "conf: defaults kept");
		conf_free(c);
	}
}

/* [retention]: durations, keep_manual's -1, the defaults (keep all). */
static void t_conf_retention(void)
{
	struct conf *c = NULL;

	ok(conf_text("[node]\nname = x\n", &c) == 0 && c &&
	    c->retention.keep_last == 0 && c->retention.keep_daily == 0 &&
	    c->retention.keep_within == 0 && c->retention.keep_manual == -1 &&
	    c->retention.min_keep == 1 && c->retention.max_space == 0,
	    "conf: no [retention]: every rule off, keep_manual -1, min_keep 1");
	conf_free(c);
	c = NULL;
	ok(conf_text("[node]\nname = x\n[retention]\nkeep_daily = 7\n"
	    "keep_weekly = 4\nkeep_within = 36h\nkeep_manual = 5\n"
	    "min_keep = 2\nmax_space = 20G\n", &c) == 0 && c &&
	    c->retention.keep_daily == 7 && c->retention.keep_weekly == 4 &&
	    c->retention.keep_within == 36 * 3600 && c->retention.keep_manual == 5 &&
	    c->retention.min_keep == 2 && c->retention.max_space == 20LL << 30,
	    "conf: [retention] values load: %s", err_msg());
	conf_free(c);
	c = NULL;
	ok(conf_text("[node]\nname = x\n[retention]\nkeep_within = 2w\n", &c) ==
	    0 && c && c->retention.keep_within == 14 * 86400,
	    "conf: keep_within = 2w is 14 days");
	conf_free(c);
	c = NULL;
	ok(conf_text("[node]\nname = x\n[retention]\nkeep_within = 90\n", &c) ==
	    0 && c && c->retention.keep_within == 90,
	    "conf: a bare duration is seconds");
	conf_free(c);
	ok(conf_refused("[retention]\nkeep_within = 7 days\n", ":2: [retention] "
	    "keep_within = 7 days: must be a duration from 0 to 3650d (digits "
	    "with s, m, h, d or w, several added: 90m, 1h30m, 7d, 2w; digits "
	    "alone are seconds; 0: off)"),
	    "conf: bad duration explained: %s", err_msg());
	ok(conf_refused("[retention]\nkeep_within = 3651d\n", ":2: [retention] "
	    "keep_within = 3651d: must be a duration from 0 to 3650d (digits "
	    "with s, m, h, d or w, several added: 90m, 1h30m, 7d, 2w; digits "
	    "alone are seconds; 0: off)"),
	    "conf: duration over its maximum: %s", err_msg());
	ok(conf_refused("[retention]\nkeep_within = -1h\n", ":2: [retention] "
	    "keep_within = -1h: must be a duration from 0 to 3650d (digits "
	    "with s, m, h, d or w, several added: 90m, 1h30m, 7d, 2w; digits "
	    "alone are seconds; 0: off)"),
	    "conf: negative duration refused: %s", err_msg());
	ok(conf_refused("[retention]\nkeep_manual = -2\n", ":2: [retention] "
	    "keep_manual = -2: must be an integer from -1 to 1000000"),
	    "conf: keep_manual below -1 refused: %s", err_msg());
	ok(conf_refused("[retention]\nkeep_daily = -1\n", ":2: [retention] "
	    "keep_daily = -1: must be an integer from 0 to 1000000"),
	    "conf: a negative count refused: %s", err_msg());
	ok(conf_refused("[retention]\nmin_keep = 0\n", ":2: [retention] "
	    "min_keep = 0: must be an integer from 1 to 1000000"),
	    "conf: min_keep 0 refused: %s", err_msg());
}

/* The keys of the table and the .TP tags of nodebak.conf(5)'s [section]
 * parts are the same set: every key documented, nothing documented that
 * the programs do not know. A tag's bold words are keys; a bold word
 * followed by an italic one is a family (".BI interface_ x" is
 * interface_<x>). */
#define MAN_KEYS 128
#define KEY_CHARS "abcdefghijklmnopqrstuvwxyz_0123456789"

/* A man page line such as ".BR tls_cert \", \" tls_key" as its text and
 * the font of each character (B, I or R): .B joins its arguments with
 * spaces, .BR/.BI/.RB/.IR alternate fonts and join them without; \fX
 * switches the font. Returns the length. */
static size_t tag_runs(const char *line, char *text, char *font, size_t size)
{
	const char *p = line + strcspn(line, " ");
	size_t mlen = (size_t)(p - line), t = 0;
	char cur = 'R';

	for (int arg = 0; *p && t + 2 < size; arg++) {
		int quoted;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (mlen == 2 && arg) {
			text[t] = ' ';
			font[t++] = 'R';
		}
		cur = mlen == 2 ? line[1] : line[1 + arg % 2];
		p += quoted = *p == '"';
		while (*p && *p != (quoted ? '"' : ' ') && t + 2 < size) {
			if (p[0] == '\\' && p[1] == 'f' && p[2]) {
				cur = p[2];
				p += 3;
				continue;
			}
			p += p[0] == '\\' && p[1];
			text[t] = *p++;
			font[t++] = cur;
		}
		p += quoted && *p == '"';
	}
	text[t] = '\0';
	return t;
}

/* The keys in a tag: bold words, a bold word followed by an italic one
 * being a family ("interface_" "x" -> "interface_<x>"). */
static int tag_keys(const char *section, const char *line, char keys[][64],
    int n, int max)
{
	char text[1024], font[1024];
	size_t t = tag_runs(line, text, font, sizeof text);

	for (size_t i = 0; i < t && n < max; i++) {
		size_t j = i, k;

		if (font[i] != 'B' || !strchr(KEY_CHARS, text[i]))
			continue;
		while (j < t && font[j] == 'B' && strchr(KEY_CHARS, text[j]))
			j++;
		k = j;
		while (k < t && font[k] == 'I' && strchr(KEY_CHARS, text[k]))
			k++;
		if (k > j)
			snprintf(keys[n++], 64, "%s %.*s<%.*s>", section,
			    (int)(j - i), text + i, (int)(k - j), text + j);
		else
			snprintf(keys[n++], 64, "%s %.*s", section,
			    (int)(j - i), text + i);
		i = k;
	}
	return n;
}

/* The "SECTION KEY" of every .TP tag under a .SH "[SECTION]" heading (a
 * named section's heading "[SECTION NAME]" counts as SECTION), or -1 when
 * the file cannot be read. */
int man_keys(const char *file, char keys[][64], int max)
{
	FILE *f = fopen(file, "r");
	char line[1024], section[32] = "";
	int n = 0, tag = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, ".SH", 3)) {
			const char *b = strchr(line, '['), *e = strchr(line, ']');
			section[0] = '\0';
			if (b && e && e > b)
				snprintf(section, sizeof section, "%.*s",
				    (int)strcspn(b + 1, " ]"), b + 1);
		} else if (!strcmp(line, ".TP"))
			tag = 1;
		else if (tag) {
			tag = 0;
			if (section[0])
				n = tag_keys(section, line, keys, n, max);
		}
	}
	fclose(f);
	return n;
}

static void t_conf_schema(void)
{
	static char doc[MAN_KEYS][64];
	struct ini_key_info k;
	char want[64];
	int n = man_keys("docs/man/nodebak.conf.5", doc, MAN_KEYS), all = 1;
	size_t i;

	ok(n > 10, "conf schema: nodebak.conf(5) read, %d keys documented", n);
	for (i = 0; conf_schema_key(i, &k) == 0; i++) {
		int found = 0;
		snprintf(want, sizeof want, "%s %s", k.section, k.key);
		for (int j = 0; j < n; j++)
			found |= !strcmp(doc[j], want);
		all &= found;
		ok(found && k.desc && *k.desc && !strchr(k.desc, '\n'),
		    "conf schema: [%s] %s (%s) is documented in nodebak.conf(5)",
		    k.section, k.key, k.desc ? k.desc : "no description");
	}
	ok(i > 30, "conf schema: %zu keys in the table", i);
	for (int j = 0; j < n; j++) {
		int found = 0;
		for (i = 0; conf_schema_key(i, &k) == 0; i++) {
			snprintf(want, sizeof want, "%s %s", k.section, k.key);
			found |= !strcmp(doc[j], want);
		}
		ok(found, "conf schema: documented key %s is in the table", doc[j]);
	}
	for (i = 1; conf_schema_key(i, &k) == 0; i++) {
		struct ini_key_info prev;
		conf_schema_key(i - 1, &prev);
		if (strcmp(prev.section, k.section)) {
			for (size_t j = 0; j + 1 < i; j++) {
				struct ini_key_info e;
				conf_schema_key(j, &e);
				all &= strcmp(e.section, k.section) != 0;
			}
		}
	}
	ok(all, "conf schema: every key documented; the table grouped by section");
}

void t_conf(void)
{
	struct conf *c = NULL;

	ok(conf_text("[node]\nname = n1\nstate_dir = st\n[database]\nengine = sqlite\n"
	    "[cluster]\ninterface_a = 127.0.0.1\n", &c) == 0 && c,
	    "conf: minimal file loads");
	if (c) {
		ok(!strcmp(c->node_name, "n1"), "conf: node name");
		ok(!strcmp(c->state_dir, "/tmp/st"), "conf: relative path resolved "
		    "against the file's folder (%s)", c->state_dir);
		ok(c->compression_level == 6, "conf: default compression level");
		ok(conf_iface(c, "a") && !strcmp(conf_iface(c, "a"), "127.0.0.1"),
		    "conf: interface_a");
		conf_free(c);
	}
	ok(conf_refused("[node]\nname = n1\nbogus = 1\n", ":3: [node] bogus: "
	    "unknown key (keys of [node]: name, state_dir, files_dir)"),
	    "conf: unknown key named, with the section's keys: %s", err_msg());
	ok(conf_refused("[node]\nname = n1\n[nodes]\n", ":3: [nodes]: unknown "
	    "section (sections: node, database, snapshotd, retention, cluster, schedule, metrics, pki, ftpd)"),
	    "conf: unknown section named, with the sections: %s", err_msg());
	ok(conf_refused("[node]\nname = n1\n[schedule]\nschedule = daily 25:00\n",
	    ":4: [schedule] schedule = daily 25:00: must be " SCHEDULE_ALLOWED
	    ", or empty for unset"), "conf: bad schedule: %s", err_msg());
	ok(conf_refused("[node]\nname = n1\n[schedule]\njitter = 5x\n",
	    ":4: [schedule] jitter = 5x: must be a duration from 0 to 1d (digits "
	    "with s, m, h, d or w, several added: 90m, 1h30m, 7d, 2w; digits "
	    "alone are seconds; 0: off)"),
	    "conf: bad jitter: %s", err_msg());
	ok(conf_refused("[node]\nname = n1\n[schedule]\nname = .x%Y\n",
	    ":4: [schedule] name = .x%Y: must be a snapshot name (1 to 64 of "
	    "A-Za-z0-9._- not starting with a dot) with %Y %m %d %H %M %S %j %% "
	    "for the UTC time of the run"), "conf: bad name template: %s",
	    err_msg());
	ok(conf_text("[node]\nname = n1\n[schedule]\nschedule = weekly sun "
	    "03:30\njitter = 1h30m\n", &c) == 0 && c && c->sched_jitter == 5400 &&
	    !strcmp(c->sched_schedule, "weekly sun 03:30") &&
	    !strcmp(c->sched_catch_up, "yes") && c->pki_warn_days == 30,
	    "conf: a schedule, its jitter and the defaults");
	conf_free(c);
	c = NULL;
	ok(conf_refused("[node]\nname = n1\nname = n2\n", ":3: [node] name = n2: "
	    "duplicate key (first set on line 2)"), "conf: duplicate key: %s",
	    err_msg());
	ok(conf_refused("[node]\nname = n1\n[snapshotd]\ncompression_level = 11\n",
	    ":4: [snapshotd] compression_level = 11: must be an integer from 1 "
	    "to 9"), "conf: out-of-range number: %s", err_msg());
	ok(conf_refused("[node]\nname = .bad\n", ":2: [node] name = .bad: must be "
	    "1 to 64 of A-Za-z0-9._- not starting with a dot"),
	    "conf: bad node name: %s", err_msg());
	ok(conf_refused("[database]\nengine = oracle\n[node]\nname=x\n", ":2: "
	    "[database] engine = oracle: must be one of sqlite, postgresql"),
	    "conf: bad enum: %s", err_msg());
	ok(conf_refused("[database]\nengine =\n", ":2: [database] engine is "
	    "empty: must be one of sqlite, postgresql"),
	    "conf: empty enum refused (it used to loop): %s", err_msg());
	ok(conf_refused("[ftpd]\nftp_listen = 127.0.0.1\n[node]\nname=x\n",
	    ":2: [ftpd] ftp_listen = 127.0.0.1: 127.0.0.1 is not ADDRESS:PORT; "
	    "must be space-separated ADDRESS:PORT items (IPv6 as [ADDRESS]:PORT, "
	    "port 1 to 65535), or empty for none"),
	    "conf: listen without port: %s", err_msg());
	ok(conf_refused("[ftpd]\npasv_ports = 50000-40000\n[node]\nname=x\n",
	    ":2: [ftpd] pasv_ports = 50000-40000: must be LOW-HIGH with 1024 <= "
	    "LOW <= HIGH <= 65535"), "conf: inverted port range: %s", err_msg());
	ok(conf_refused("[node]\nstate_dir = /x\n", ": [node] name is required: "
	    "must be 1 to 64 of A-Za-z0-9._- not starting with a dot"),
	    "conf: name required: %s", err_msg());
	ok(conf_refused("name = x\n", ":1: name = x: key outside of any section "
	    "(sections: node, database, snapshotd, retention, cluster, schedule, metrics, pki, ftpd)"),
	    "conf: key outside section: %s", err_msg());
	ok(conf_load("conf/nodebak.conf", &c) == 0, "conf: the shipped example "
	    "conf/nodebak.conf loads (%s)", err_msg());
	conf_free(c);
	c = NULL;
	ok(conf_load("/nonexistent/nodebak.conf", &c) != 0 &&
	    strstr(err_msg(), "/nonexistent/nodebak.conf"),
	    "conf: missing file named: %s", err_msg());
	t_conf_values();
	t_conf_retention();
	t_conf_schema();
}

void t_run(void)
{
	struct buf out = BUF_INIT(1 << 16), tail = BUF_INIT(1 << 16),
	    small = BUF_INIT(16);
	const char *const echo[] = { "/bin/sh", "-c",
		"echo out; echo line1 >&2; echo 'the last line' >&2; exit 3", NULL };
	const char *const ok0[] = { "/bin/sh", "-c", "printf '%s' \"$PATH|$HOME\"",
		NULL };
	const char *const fds[] = { "/bin/sh", "-c", "ls /proc/self/fd | wc -l",
		NULL };
	const char *const missing[] = { "/nonexistent/prog", NULL };
	const char *const sleeper[] = { "/bin/sleep", "30", NULL };
	const char *const big[] = { "/bin/sh", "-c", "head -c 100000 /dev/zero",
		NULL };
	const char *const killed[] = { "/bin/sh", "-c", "kill -TERM $$", NULL };
	const char *const deaf[] = { "/bin/sh", "-c",
		"trap '' TERM; exec /bin/sleep 30", NULL };
	struct child c;
	int st = 0;

	memset(&c, 0, sizeof c);
	c.argv = echo;
	ok(run_capture(&c, &out, &tail, 1024, 0) == ERR_IO &&
	    !strcmp(err_msg(), "sh failed (status 3): the last line") &&
	    !strcmp(buf_cstr(&out), "out\n") && strstr(buf_cstr(&tail), "line1"),
	    "run: exit status and the last error line in one line (%s)",
	    err_msg());
	buf_reset(&out);
	memset(&c, 0, sizeof c);
	c.argv = ok0;
	ok(run_capture(&c, &out, NULL, 1024, 0) == 0 &&
	    !strcmp(buf_cstr(&out), "/usr/sbin:/usr/bin:/sbin:/bin|"),
	    "run: the environment is scrubbed (%s)", buf_cstr(&out));
	buf_reset(&out);
	memset(&c, 0, sizeof c);
	c.argv = fds;
	ok(run_capture(&c, &out, NULL, 1024, 0) == 0 &&
	    strtol(buf_cstr(&out), NULL, 10) == 4, "run: the child has only 0, 1, 2 (and "
	    "ls's own): %s", buf_cstr(&out));
	memset(&c, 0, sizeof c);
	c.argv = missing;
	ok(run_capture(&c, NULL, NULL, 1024, 0) != 0 &&
	    strstr(err_msg(), "cannot run /nonexistent/prog: No such file"),
	    "run: a program that cannot start is said so (%s)", err_msg());
	memset(&c, 0, sizeof c);
	c.argv = sleeper;
	ok(run_capture(&c, NULL, NULL, 1024, 200) == ERR_IO &&
	    strstr(err_msg(), "sleep did not finish within 1 s (killed)"),
	    "run: a timeout kills the child (%s)", err_msg());
	memset(&c, 0, sizeof c);
	c.argv = big;
	ok(run_capture(&c, &small, NULL, 1024, 0) == ERR_TOOBIG,
	    "run: output over the cap is an error (%s)", err_msg());
	memset(&c, 0, sizeof c);
	c.argv = killed;
	ok(run_start(&c) == 0 && run_finish(&c, &st) == ERR_IO &&
	    WIFSIGNALED(st) && !strcmp(err_msg(), "sh failed (killed by signal "
	    "TERM)"), "run: a signal is named (%s)", err_msg());
	memset(&c, 0, sizeof c);
	c.argv = sleeper;
	ok(run_start(&c) == 0 && run_stop(&c, 5000, &st) == ERR_IO &&
	    WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM && c.pid == -1 &&
	    !strcmp(err_msg(), "sleep failed (killed by signal TERM)"),
	    "run: run_stop ends a child with SIGTERM (%s)", err_msg());
	memset(&c, 0, sizeof c);
	c.argv = deaf;
	ok(run_start(&c) == 0 && usleep(300000) == 0 &&
	    run_stop(&c, 200, &st) == ERR_IO && WIFSIGNALED(st) &&
	    WTERMSIG(st) == SIGKILL, "run: run_stop kills a child that ignores "
	    "SIGTERM after the grace time (%s)", err_msg());
	buf_free(&out);
	buf_free(&tail);
	buf_free(&small);
}
