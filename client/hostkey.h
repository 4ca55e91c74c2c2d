/* hostkey.h: `ssh fingerprint`: the SSH host key's fingerprint, read from
 * the public half beside [ftpd] host_key. */
#ifndef NODEBAK_HOSTKEY_H
#define NODEBAK_HOSTKEY_H

struct conf;

/* argv[0] is "ssh". Returns the exit status. */
int cmd_ssh(const struct conf *c, int argc, char **argv);

#endif
