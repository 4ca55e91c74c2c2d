/* certcheck.h: the new cluster certificates checked on the operator's
 * machine before `nodebak cluster renew` changes anything (docs/cluster.md,
 * "Renewing the certificates in one command"), with the X.509 checks of
 * common/x509.h that the nodes make too. */
#ifndef NODEBAK_CERTCHECK_H
#define NODEBAK_CERTCHECK_H
#include <time.h>

struct buf;

/* The five files a node's `database cluster certs` takes, in its order. */
#define CERTCHECK_NFILES 5
extern const char *const certcheck_files[CERTCHECK_NFILES];

/* Check the five files in dir at time now: each parses; the server and
 * client certificates chain to CA.cer; each key matches its certificate;
 * the client certificate's CN is "postgres" (PostgreSQL replication's
 * user); none is expired or not yet valid, and each is valid for at least
 * min_days more. One line per problem is appended to problems. Returns
 * the number of problems (0: all good). */
int certcheck_dir(const char *dir, int min_days, time_t now,
    struct buf *problems);

#endif
