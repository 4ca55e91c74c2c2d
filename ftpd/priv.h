/* priv.h: who a session process becomes, and giving up everything else
 * (docs/ftpd.md, "Processes and privileges"). Called by the listener
 * (priv_resolve) and by each session before it reads network input
 * (priv_drop); it knows nothing of FTP or SSH. */
#ifndef NODEBAK_PRIV_H
#define NODEBAK_PRIV_H
#include <sys/types.h>

struct priv {
	/* 1: switch to uid/gid; 0: stay uid 0 without any capability (the
	 * files root belongs to root). */
	int switch_user;
	uid_t uid;
	gid_t gid;
};

/* Who sessions run as: the user run_as names when it is set (may be NULL
 * or ""), else the owner of files_dir. 0 and *p, or ERR_INVAL (no such
 * user), ERR_SYS (files_dir cannot be read) or ERR_DENIED (another uid is
 * asked for and we are not root), with err_msg() naming it. */
int priv_resolve(const char *run_as, const char *files_dir, struct priv *p);

/* In a session process: setgroups/setgid/setuid to p's user (and a check
 * that root cannot be regained), or, when p keeps uid 0, drop every
 * capability and lock the securebits; then PR_SET_NO_NEW_PRIVS. 0 or an
 * ERR_* code with err_msg() set; the caller must then end the session. */
int priv_drop(const struct priv *p);

/* In a session process, after priv_drop(): at most nofile open files, at
 * most data_mib MiB of data memory (RLIMIT_DATA: heap and anonymous
 * mappings), no core file; hard limits too, so that the session cannot
 * raise them again. 0 or ERR_SYS. */
int priv_limits(long nofile, long data_mib);

/* An empty folder, root's: the SSH network-facing process's root. */
#define PRIV_EMPTY_DIR "/run/nodebak-ftpd-empty"

/* The user the SSH network-facing process becomes before it reads a byte
 * from the network: [ftpd] privsep_user, or when that is unset (NULL or
 * "") PRIV_PRIVSEP_USER if the system has it, else nobody. It may be
 * neither root nor files_uid, the files root's owner. Also makes
 * PRIV_EMPTY_DIR when missing and checks it (root's, not writable by
 * others, empty). 0 and *p, or ERR_INVAL naming the user or the folder
 * and why. */
#define PRIV_PRIVSEP_USER "nodebak-sshd"
int priv_resolve_privsep(const char *name, uid_t files_uid, struct priv *p);

/* In the SSH network-facing process: chroot to PRIV_EMPTY_DIR, every
 * capability (bounding set too) gone, setgroups/setresgid/setresuid to
 * p's user, not dumpable,
 * PR_SET_NO_NEW_PRIVS and a Landlock sandbox that allows no file at all
 * (nor signals or abstract sockets outside it, where the kernel can).
 * 0 or an ERR_* code; the caller must then end the connection. */
int priv_drop_privsep(const struct priv *p);

#endif
