/* cluster.h: the node's database-cluster settings (state_dir/cluster.conf):
 * the interface, the five certificate file names, status and last command,
 * as `database cluster status` shows them. */
#ifndef NODEBAK_CLUSTER_H
#define NODEBAK_CLUSTER_H
#include <time.h>

#define CLUSTER_FILE "cluster.conf"
#define CLUSTER_MEMBER "cluster/cluster.conf"	/* path in a .bak */
#define CLUSTER_VAL_MAX 256

enum cluster_status { CS_DISABLED, CS_ENABLED, CS_DISABLING, CS_ERROR };

struct cluster {
	char interface[16];
	char server_key[CLUSTER_VAL_MAX], server_cert[CLUSTER_VAL_MAX];
	char client_key[CLUSTER_VAL_MAX], client_cert[CLUSTER_VAL_MAX];
	char ca_cert[CLUSTER_VAL_MAX];
	enum cluster_status status;
	time_t since;			/* when status last changed */
	char error[CLUSTER_VAL_MAX];
	char last_command[CLUSTER_VAL_MAX];
	int last_ok;			/* -1: none, 0: failed, 1: success,
					 * 2: running (since `since`) */
	char node_in_use[64];
	char master[64];		/* master address when joined */
};

void cluster_defaults(struct cluster *cl);
/* Load path; a missing file gives the defaults. ERR_FORMAT names the line. */
int cluster_load(const char *path, struct cluster *cl);
/* Write atomically. */
int cluster_save(const char *path, const struct cluster *cl);
const char *cluster_status_name(enum cluster_status s);

#endif
