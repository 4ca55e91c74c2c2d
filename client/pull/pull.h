/* pull.h: nodebak-pull's commands (nodebak-pull(1)), each called by
 * main.c with the loaded configuration and its own arguments; each
 * returns the exit status. */
#ifndef NODEBAK_PULL_H
#define NODEBAK_PULL_H

struct pull_conf;

enum {
	PULL_EXIT_OK = 0,	/* everything pulled and verified */
	PULL_EXIT_SOME = 1,	/* some nodes (or copies) failed */
	PULL_EXIT_ALL = 2,	/* every node failed */
	PULL_EXIT_CONFIG = 3,	/* configuration or usage error */
};

int pull_sync(const struct pull_conf *c, int argc, char **argv);
int pull_status(const struct pull_conf *c, int argc, char **argv);
int pull_verify(const struct pull_conf *c, int argc, char **argv);
/* fetch NODE NAME [--to DIR]: a copy back from [pull] store, verified. */
int pull_fetch(const struct pull_conf *c, int argc, char **argv);
int pull_trust(const struct pull_conf *c, int argc, char **argv);
int pull_check(const struct pull_conf *c, int argc, char **argv);
/* Loads (and on SIGHUP reloads) the configuration itself. */
int pull_daemon(const char *conf, int argc, char **argv);
struct sync_opts;
/* Confine the process: from now on it may change files only beneath
 * archive_dir and the metrics file's folder (writes = 1), or nowhere
 * (writes = 0). Reading stays allowed. A kernel without Landlock is left
 * as it is; a failure is a warning on stderr. */
void pull_confine(const struct pull_conf *c, int writes);
/* One sync and the metrics after it (the sync command, the daemon). */
int pull_run_sync(const struct pull_conf *c, const struct sync_opts *o);
/* "nodebak-pull: <fmt with arg>" and the usage on stderr; returns
 * PULL_EXIT_CONFIG (usage.c). */
extern const char pull_usage_text[];
int pull_usage(const char *fmt, const char *arg);

#endif
