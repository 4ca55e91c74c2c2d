/* cmdtab.h: the console's vocabulary: every command's words, its Usage:
 * line and what its arguments name, for `help` (which needs no daemon)
 * and for tab completion. The daemon's table (snapshotd/commands.c) is
 * what runs; tests/console-tty.t checks that this one lists every line
 * of the daemon's own help. */
#ifndef NODEBAK_CMDTAB_H
#define NODEBAK_CMDTAB_H
#include <stdio.h>

/* Print to f the list of every command (argc 0), or the Usage: lines of
 * the commands whose words start with argv's (`help backup`, `help backup
 * rollback`). Returns the exit status: 0, or 2 having said on stderr that
 * no command starts so. */
int cmdtab_help(FILE *f, int argc, char **argv);

/* Called once per completion candidate; the candidate is only borrowed. */
typedef void cmdtab_add_fn(void *ctx, const char *word);

/* The candidates for the word being typed after the complete words argv:
 * the next command words, or, where a command takes an archive or a file
 * of the files root, the names in files_dir/backups or files_dir (NULL:
 * none); a partial word starting with '-' gets the command's options.
 * After `help`, the words of a command. Candidates not starting
 * with partial are left out; they may repeat. */
void cmdtab_complete(const char *files_dir, int argc, char **argv,
    const char *partial, cmdtab_add_fn *add, void *ctx);

#endif
