/* sandbox.h: Landlock (Linux 5.13+), the one home of its system calls:
 * after sandbox_restrict() the calling process (all its threads, and its
 * children) can change files only beneath the folders it was given,
 * whatever path a bug or an attacker makes it name. Kernels without
 * Landlock are left as they are (the call succeeds): a second wall, never
 * the only one. */
#ifndef NODEBAK_SANDBOX_H
#define NODEBAK_SANDBOX_H
#include <stddef.h>

enum sandbox_access {
	SANDBOX_READ = 1,	/* read files, list folders */
	SANDBOX_WRITE = 2,	/* create, write, rename, remove regular files
				 * and folders (no devices, FIFOs, sockets,
				 * symlinks, no execution) */
	SANDBOX_EXEC = 4,	/* run programs (and read them) */
};

/* sandbox_restrict()'s flags. */
enum sandbox_flags {
	SANDBOX_READ_ANYWHERE = 1,	/* only changes are confined */
	/* Also no signals to, and no abstract Unix sockets of, processes
	 * outside this sandbox (Landlock ABI 6, Linux 6.12; older kernels
	 * get the file rules alone). */
	SANDBOX_SCOPED = 2,
};

struct sandbox_rule {
	int fd;			/* a folder or a file, open (O_PATH will do);
				 * a file gets only the file rights of access */
	unsigned access;	/* SANDBOX_* bits */
};

/* Allow only what rules[0..n) grant (n may be 0: no file at all).
 * flags: SANDBOX_* flags above. Each call adds a layer: a process can
 * only narrow what it has. 0, or ERR_SYS naming Landlock. */
int sandbox_restrict(const struct sandbox_rule *rules, size_t n,
    unsigned flags);

#endif
