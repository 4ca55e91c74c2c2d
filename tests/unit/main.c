/* main.c: runs every unit test module and prints TAP. */
#include <stdio.h>

#include "tap.h"

int tap_n, tap_failed;

int main(void)
{
	t_buf();
	t_err();
	t_names();
	t_run();
	t_conf();
	t_manifest();
	t_crypto();
	t_gz();
	t_ctl();
	t_journal();
	t_bak();
	t_ustar();
	t_ftp_parse();
	t_cmdtab();
	t_keyscan();
	t_rootfs();
	t_lockout();
	t_job();
	t_retention();
	t_schedule();
	t_pki();
	t_pullconf();
	t_sidecar();
	t_age();
	t_sysfilter();
	t_users();
	t_split();
	t_db_pg();
	t_renew();
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
