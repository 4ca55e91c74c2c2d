/* shell.h: the interactive console: the prompt loop, with line editing,
 * history and completion when it runs on a terminal. */
#ifndef NODEBAK_SHELL_H
#define NODEBAK_SHELL_H

struct conf;

/* Read commands from standard input until exit, quit or end of input;
 * without a reachable daemon the session starts anyway (help, user and
 * ssh work; other commands say why they cannot run and try to connect
 * again). role as console_connect(). Returns the last command's exit
 * status. */
int shell_main(const struct conf *c, const char *role);

#endif
