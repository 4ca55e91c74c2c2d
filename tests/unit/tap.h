/* tap.h: minimal TAP output for the C unit tests. */
#ifndef NODEBAK_TAP_H
#define NODEBAK_TAP_H
#include <stdio.h>

extern int tap_n, tap_failed;

/* cond is evaluated exactly once. */
#define ok(cond, ...) do { \
	int ok_ = !!(cond); \
	tap_n++; \
	printf("%s %d - ", ok_ ? "ok" : "not ok", tap_n); \
	printf(__VA_ARGS__); printf("\n"); \
	if (!ok_) { tap_failed++; printf("#   at %s:%d\n", __FILE__, __LINE__); } \
	fflush(stdout); \
} while (0)

void t_buf(void);
void t_err(void);
void t_names(void);
void t_run(void);
void t_conf(void);
void t_manifest(void);
void t_crypto(void);
void t_gz(void);
void t_ctl(void);
void t_journal(void);
void t_bak(void);
void t_ustar(void);
void t_ftp_parse(void);
void t_cmdtab(void);
void t_keyscan(void);
void t_rootfs(void);
void t_lockout(void);
void t_job(void);
void t_retention(void);
void t_schedule(void);
void t_pki(void);
void t_pullconf(void);
void t_age(void);
void t_renew(void);
void t_sysfilter(void);
void t_db_pg(void);
void t_users(void);
void t_split(void);

/* t_basic.c: the "SECTION KEY" of every .TP tag of a man page's
 * .SH "[SECTION]" parts, or -1 (the schema checks). */
int man_keys(const char *file, char keys[][64], int max);
void t_sidecar(void);

#endif
