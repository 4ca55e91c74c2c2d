/* lineedit.h: the interactive console's line editor: editing keys,
 * history kept in a file and tab completion. The one module that
 * includes libedit; everything else sees this small API. One editor per
 * process (libedit's readline interface keeps global state). */
#ifndef NODEBAK_LINEEDIT_H
#define NODEBAK_LINEEDIT_H

struct buf;

/* Receives one completion candidate (borrowed; copied by the editor). */
typedef void lineedit_add_fn(void *actx, const char *word);
/* Offer the candidates for partial, the word under the cursor; before
 * is the line up to that word. */
typedef void lineedit_complete_fn(void *ctx, const char *before,
    const char *partial, lineedit_add_fn *add, void *actx);

/* Start the editor on the terminal. history_file: read now, written by
 * lineedit_close() with mode 0600 and at most max_history lines (NULL:
 * no history file). complete/ctx: tab completion (complete may be NULL). */
void lineedit_open(const char *history_file, int max_history,
    lineedit_complete_fn *complete, void *ctx);

/* Show prompt and read one edited line into line (without the newline).
 * Returns 1, 0 at end of input (^D on an empty line), or ERR_TOOBIG when
 * the line does not fit line's cap (the line is dropped). */
int lineedit_read(const char *prompt, struct buf *line);

/* Add line, without trailing blanks, to the history (not when it is
 * blank or repeats the last entry). */
void lineedit_remember(const char *line);

/* Write the history file (mode 0600, the newest max_history lines) and
 * release the editor. 0, or a negative ERR_* code with err_msg() naming
 * the file. */
int lineedit_close(void);

#endif
