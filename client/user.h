/* user.h: the console's `user` commands, which edit the FTP/SFTP users
 * file locally (they need the password prompt). */
#ifndef NODEBAK_USER_H
#define NODEBAK_USER_H

struct conf;

/* argv[0] is "user". Returns the exit status (0, 1 failure, 2 usage). */
int cmd_user(const struct conf *c, int argc, char **argv);

#endif
