/* session.h: the session layer: one control connection per console
 * (docs/control-protocol.md): who the peer is, the frames, and how a
 * command talks back to it (a struct ui over the connection). */
#ifndef NODEBAK_SESSION_H
#define NODEBAK_SESSION_H
#include <sys/types.h>

struct node;

/* Serve the accepted control connection fd in a thread of its own, for
 * node n. The peer's credentials give its role: admin for root, the
 * daemon's user and members of group (-1: none); anyone else is refused.
 * Takes fd in every case (closed when refused or when the peer goes). */
void session_start(struct node *n, int fd, gid_t group);

#endif
