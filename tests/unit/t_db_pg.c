/* t_db_pg.c: the PostgreSQL engine's pure parts: where its programs are
 * found (pg_find_bindir) and the replication slot names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "db_pg.h"
#include "err.h"
#include "fsutil.h"
#include "tap.h"

/* root/<v>/bin/pg_ctl, executable. */
static void fake_version(const char *root, const char *v)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s/bin", root, v);
	fs_mkdir_p(path, 0755);
	snprintf(path, sizeof path, "%s/%s/bin/pg_ctl", root, v);
	if ((f = fopen(path, "w")) != NULL) {
		fputs("#!/bin/sh\nexit 0\n", f);
		fclose(f);
	}
	chmod(path, 0755);
}

static void write_script(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
	chmod(path, 0755);
}

static void t_pgbin(void)
{
	char tmpl[] = "/tmp/nodebak-pgbin-XXXXXX", *root, path[600], *out = NULL;
	char cfg[600], script[700];

	if ((root = mkdtemp(tmpl)) == NULL) {
		ok(0, "pg bindir: scratch folder");
		return;
	}
	/* Versions compared as numbers: 16 > 15 > 9.6; a version folder without
	 * pg_ctl and names that are no version do not count. */
	fake_version(root, "9.6");
	fake_version(root, "15");
	fake_version(root, "16");
	snprintf(path, sizeof path, "%s/17/bin", root);
	fs_mkdir_p(path, 0755);
	fake_version(root, "notaversion");
	snprintf(path, sizeof path, "%s/16/bin", root);
	ok(pg_find_bindir(NULL, "", root, &out) == 0 && out &&
	    !strcmp(out, path), "pg bindir: the highest version with pg_ctl "
	    "(%s)", out ? out : err_msg());
	free(out);
	out = NULL;

	/* The configured folder wins, and is never second-guessed. */
	snprintf(path, sizeof path, "%s/9.6/bin", root);
	ok(pg_find_bindir(path, "", root, &out) == 0 && out &&
	    !strcmp(out, path), "pg bindir: pg_bindir is used when set");
	free(out);
	out = NULL;
	snprintf(path, sizeof path, "%s/17/bin", root);
	ok(pg_find_bindir(path, "", root, &out) == ERR_NOTFOUND && !out &&
	    strstr(err_msg(), "pg_bindir = ") && strstr(err_msg(), "17/bin") &&
	    strstr(err_msg(), "no executable pg_ctl"),
	    "pg bindir: a configured folder without pg_ctl is an error: %s",
	    err_msg());

	/* pg_config --bindir comes before the search. */
	snprintf(cfg, sizeof cfg, "%s/pg_config", root);
	snprintf(script, sizeof script, "#!/bin/sh\n[ \"$1\" = --bindir ] && "
	    "echo %s/15/bin\n", root);
	write_script(cfg, script);
	snprintf(path, sizeof path, "%s/15/bin", root);
	ok(pg_find_bindir(NULL, cfg, root, &out) == 0 && out &&
	    !strcmp(out, path), "pg bindir: pg_config --bindir (%s)",
	    out ? out : err_msg());
	free(out);
	out = NULL;
	/* A pg_config that names a folder without pg_ctl (libpq-dev without
	 * the server) falls through to the search. */
	write_script(cfg, "#!/bin/sh\necho /nonexistent/bin\n");
	snprintf(path, sizeof path, "%s/16/bin", root);
	ok(pg_find_bindir(NULL, cfg, root, &out) == 0 && out &&
	    !strcmp(out, path), "pg bindir: a pg_config without the server "
	    "falls through to the highest version");
	free(out);
	out = NULL;

	/* Nothing anywhere: the error names each place tried. */
	snprintf(path, sizeof path, "%s/empty", root);
	fs_mkdir_p(path, 0755);
	ok(pg_find_bindir(NULL, cfg, path, &out) == ERR_NOTFOUND && !out &&
	    strstr(err_msg(), "pg_bindir unset") &&
	    strstr(err_msg(), "--bindir says \"/nonexistent/bin\"") &&
	    strstr(err_msg(), "/empty/*/bin") && !strchr(err_msg(), '\n'),
	    "pg bindir: the error names what was tried: %s", err_msg());
	ok(pg_find_bindir(NULL, "", path, &out) == ERR_NOTFOUND &&
	    strstr(err_msg(), "no pg_config"), "pg bindir: no pg_config: %s",
	    err_msg());
	fs_rm_rf(root);
}

/* Slot names map both ways, IPv4 and IPv6; names not of ours are refused. */
static void t_slots(void)
{
	static const struct { const char *addr, *slot, *back; } v[] = {
		{ "127.0.0.12", "nodebak_127_0_0_12", "127.0.0.12" },
		{ "10.48.36.118", "nodebak_10_48_36_118", "10.48.36.118" },
		{ "0.0.0.0", "nodebak_0_0_0_0", "0.0.0.0" },
		{ "fd00::12", "nodebak_v6_fd000000000000000000000000000012",
		  "fd00::12" },
		{ "FD00:0:0::12", "nodebak_v6_fd000000000000000000000000000012",
		  "fd00::12" },
		{ "2001:db8:85a3::8a2e:370:7334",
		  "nodebak_v6_20010db885a3000000008a2e03707334",
		  "2001:db8:85a3::8a2e:370:7334" },
		{ "::1", "nodebak_v6_00000000000000000000000000000001", "::1" },
		{ "::ffff:10.0.0.1", "nodebak_v6_00000000000000000000ffff0a000001",
		  "::ffff:10.0.0.1" },
		{ "fe80::1%eth0", "nodebak_v6_fe800000000000000000000000000001",
		  "fe80::1" },
	};
	static const char *const bad_addr[] = { "", "db1.example.com",
		"10.0.0.1%eth0", "127.0.0.1:5432", "[::1]", "%eth0" };
	static const char *const bad_slot[] = { "nodebak_", "nodebak_1_2_3",
		"nodebak_1_2_3_4_5", "nodebak_256_0_0_1", "nodebak_01_2_3_4",
		"nodebak_v6_fd00", "nodebak_v6_fd00000000000000000000000000001g",
		"nodebak_v6_fd0000000000000000000000000000120", "other_1_2_3_4",
		"nodebak_1_2_3_4x" };
	char slot[PG_SLOT_MAX], addr[INET6_ADDRSTRLEN];


	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		int good = pg_slot_name(v[i].addr, slot, sizeof slot) == 0 &&
		    !strcmp(slot, v[i].slot) && strlen(slot) <= 63 &&
		    strspn(slot, "abcdefghijklmnopqrstuvwxyz0123456789_") ==
		    strlen(slot) && pg_slot_addr(slot, addr, sizeof addr) == 0 &&
		    !strcmp(addr, v[i].back);
		ok(good, "slot: %s -> %s -> %s", v[i].addr, slot, addr);

	}
	for (size_t i = 0; i < sizeof bad_addr / sizeof bad_addr[0]; i++)
		ok(pg_slot_name(bad_addr[i], slot, sizeof slot) == ERR_INVAL &&
		    !slot[0], "slot: \"%s\" has no slot name: %s", bad_addr[i],
		    err_msg());
	for (size_t i = 0; i < sizeof bad_slot / sizeof bad_slot[0]; i++)
		ok(pg_slot_addr(bad_slot[i], addr, sizeof addr) == ERR_FORMAT &&
		    !addr[0], "slot: %s is not one of ours: %s", bad_slot[i],
		    err_msg());
}

void t_db_pg(void)
{
	t_pgbin();
	t_slots();
}
