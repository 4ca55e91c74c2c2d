/* pins.c: backup pin's records (pins.h): state_dir/pins/<name>.bak,
 * created and removed with the folder synced. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "names.h"
#include "node.h"
#include "pins.h"
#include "banned.h"

#define PINS_DIR "pins"

static char *pins_dir(const struct node *n)
{
	return fs_join(n->conf->state_dir, PINS_DIR);
}

int pins_set(struct node *n, const char *file, int on)
{
	char base[NAME_MAX_LEN + 1], *dir = pins_dir(n), *p = NULL;
	int r, fd;

	if ((r = name_from_bak(file, base, sizeof base)) != 0)
		goto out;
	if ((r = fs_mkdir_p(dir, 0700)) != 0)
		goto out;
	p = fs_join(dir, file);
	if (on) {
		fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 || fsync(fd) != 0) {
			r = err_sys("pin %s", esc(file));
			if (fd >= 0)
				close(fd);
			goto out;
		}
		close(fd);
	} else if (unlink(p) != 0 && errno != ENOENT) {
		r = err_sys("unpin %s", esc(file));
		goto out;
	}
	r = fs_fsync_dir(dir);
out:
	free(p);
	free(dir);
	return r;
}

int pins_has(const struct node *n, const char *file)
{
	char *dir = pins_dir(n), *p = fs_join(dir, file);
	int r = fs_exists(p);

	free(p);
	free(dir);
	return r;
}
