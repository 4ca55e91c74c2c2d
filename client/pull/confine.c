/* confine.c: what nodebak-pull may change once it talks to nodes
 * (pull.h): files beneath archive_dir and the metrics file's folder, and
 * nothing else (Landlock, common/sandbox.c); reading stays allowed (its
 * keys, configuration, libraries). Everything it parses from the network
 * (listings, sidecars, archives) is parsed after this. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "pull.h"
#include "pullconf.h"
#include "sandbox.h"
#include "xmalloc.h"
#include "banned.h"

static int open_dir(const char *path)
{
	return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

void pull_confine(const struct pull_conf *c, int writes)
{
	struct sandbox_rule rules[2] = { { -1, 0 }, { -1, 0 } };
	size_t n = 0;
	int r = 0;

	if (writes) {
		if (fs_mkdir_p(c->archive_dir, 0700) != 0 ||
		    (rules[n].fd = open_dir(c->archive_dir)) < 0) {
			fprintf(stderr, "nodebak-pull: %s: %s\n",
			    esc(c->archive_dir), err_msg());
			return;
		}
		rules[n++].access = SANDBOX_READ | SANDBOX_WRITE;
		if (c->metrics_textfile) {
			char *dir = xstrdup(c->metrics_textfile);
			char *slash = strrchr(dir, '/');
			if (slash)
				*slash = '\0';
			if ((rules[n].fd = open_dir(slash ? dir : ".")) >= 0)
				rules[n++].access = SANDBOX_READ | SANDBOX_WRITE;
			free(dir);
		}
	}
	r = sandbox_restrict(rules, n, SANDBOX_READ_ANYWHERE);
	for (size_t i = 0; i < n; i++)
		close(rules[i].fd);
	if (r != 0)
		fprintf(stderr, "nodebak-pull: warning: not confined: %s\n",
		    err_msg());
}
