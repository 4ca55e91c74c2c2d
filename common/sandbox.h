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
};

struct sandbox_rule {
	int fd;			/* a folder, open (O_PATH will do) */
	unsigned access;	/* SANDBOX_* bits */
};

/* Allow only what rules[0..n) grant. read_anywhere: reading stays allowed
 * everywhere (only changes are confined). 0, or ERR_SYS naming
 * Landlock. */
int sandbox_restrict(const struct sandbox_rule *rules, size_t n,
    int read_anywhere);

#endif
