/* ustar.h: the tar stream of a .bak exactly as nodebak's writer produces it
 * (docs/bak-format.md, "tar"). bak.c runs every decompressed byte through
 * a ustar_stream before libarchive parses it, so libarchive's leniency (GNU
 * and pax records, types 7 and NUL, spaces in numbers, fields and padding
 * it ignores, bytes after the end) never reaches the reader. The input is
 * hostile: no allocation, every loop bounded by the input. */
#ifndef NODEBAK_USTAR_H
#define NODEBAK_USTAR_H
#include <stddef.h>
#include <stdint.h>

#define USTAR_BLOCK 512
#define USTAR_PATH_MAX 256	/* prefix, '/', name */

struct ustar_hdr {
	char path[USTAR_PATH_MAX + 1];	/* a folder's without its final '/' */
	int is_dir;
	unsigned mode;
	uint64_t size;		/* 0 for a folder */
	int64_t mtime;
};

/* Fill h with the header the writer produces for a member. Returns 0, or
 * -1 (h zeroed) for what the writer never stores: an empty path, or one
 * longer than 100 bytes (a folder's, with its '/', longer than 101), a mode
 * above 07777, a size or mtime beyond 11 octal digits. */
int ustar_format(unsigned char h[USTAR_BLOCK], const char *path, int is_dir,
    unsigned mode, uint64_t size, int64_t mtime);

/* Check h, a block that is not all zeros. Returns NULL when h is byte for
 * byte what ustar_format() makes of the path, type, mode, size and mtime
 * it holds; *out gets those. Otherwise returns what is wrong, worded to
 * follow the member's name: " is a symbolic link (tar type 2): ..." or
 * ": tar header field devmajor is not as nodebak writes it"; out->path
 * then holds as much of the name as could be read (esc() it to print). */
const char *ustar_check(const unsigned char h[USTAR_BLOCK],
    struct ustar_hdr *out);

/* A stream checker: headers, data, NUL padding to 512, two zero blocks,
 * nothing after them. */
struct ustar_stream {
	const char *what;	/* the archive, for messages */
	int state;
	unsigned char blk[USTAR_BLOCK];
	size_t have;		/* bytes of blk filled */
	uint64_t left;		/* data or padding bytes left */
	struct ustar_hdr cur;	/* the last header */
};

void ustar_stream_init(struct ustar_stream *s, const char *what);
/* Check the next n bytes. Returns 0, or ERR_FORMAT with err_msg() naming
 * the archive, the member and what differs from the writer's output; after
 * a failure every call fails. */
int ustar_stream_feed(struct ustar_stream *s, const void *p, size_t n);
/* The bytes ended: 0 when right after the end-of-archive marker, else
 * ERR_FORMAT. */
int ustar_stream_end(struct ustar_stream *s);

#endif
