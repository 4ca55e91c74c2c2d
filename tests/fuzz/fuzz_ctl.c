/* fuzz_ctl.c: libFuzzer target for control frame parsing (ctl_recv). */
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf p = BUF_INIT(CTL_MAX_PAYLOAD);
	char type[CTL_TYPE_MAX + 1];
	struct ctl c;
	int sv[2];

	if (size > 60000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 0;
	if (write(sv[0], data, size) != (ssize_t)size)
		abort();
	close(sv[0]);
	ctl_init(&c, sv[1]);
	while (ctl_recv(&c, type, &p) == 0)
		;
	ctl_free(&c);
	buf_free(&p);
	close(sv[1]);
	return 0;
}
