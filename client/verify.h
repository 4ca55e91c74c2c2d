/* verify.h: nodebak verify FILE.bak [--key PUBKEY]: an archive checked on
 * this machine, with no daemon (docs/console.md "nodebak verify"). */
#ifndef NODEBAK_VERIFY_H
#define NODEBAK_VERIFY_H

/* argv: the words after "verify". conf_file: -c's argument or NULL (used
 * only without --key). Prints the report or one FAILED line; returns the
 * exit status: 0 verified, 1 not, 2 a usage error. */
int verify_main(const char *conf_file, int argc, char **argv);

#endif
