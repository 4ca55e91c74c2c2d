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
/* The longest member path ustar_header() stores (a folder's without its
 * '/'): MANIFEST_PATH_MAX. Paths longer than a ustar header holds go in a
 * pax extended header (docs/bak-format.md, "pax extended header"). */
#define USTAR_PATH_MAX 1024
/* The pax header's fixed name (docs/bak-format.md). */
#define USTAR_PAX_NAME "././@PaxHeader"
/* The largest pax data ustar_header() writes: "NNNN path=<path>/\n" and
 * "NN size=<20 digits>\n". */
#define USTAR_PAX_DATA_MAX (4 + 6 + USTAR_PATH_MAX + 2 + 2 + 6 + 20 + 1)
/* The most bytes ustar_header() writes for one member: the pax header
 * block, its data rounded up to blocks, the ustar header (2560). */
#define USTAR_HDR_MAX (USTAR_BLOCK * (2 + (USTAR_PAX_DATA_MAX + USTAR_BLOCK - 1) / \
    USTAR_BLOCK))

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

/* The header bytes of one member, as the archive writer writes them: when
 * ustar_format() holds the member, exactly its one block; otherwise a
 * deterministic pax extended header (type 'x', named USTAR_PAX_NAME, a
 * "path" record when the path does not fit ustar's name and prefix as
 * ustar_format() uses them, then a "size" record when the size is above
 * 077777777777, NUL-padded to a block), then the ustar header with the
 * path's first 100 bytes in name and, with a size record, 0 in size
 * (docs/bak-format.md). Writes *len bytes (a multiple of 512, at most
 * USTAR_HDR_MAX) to out. Returns 0, or -1 (nothing written) when cap is
 * too small or the member cannot be stored: an empty path or one longer
 * than USTAR_PATH_MAX, a mode above 07777, an mtime outside 0 to 11 octal
 * digits. */
int ustar_header(unsigned char *out, size_t cap, size_t *len,
    const char *path, int is_dir, unsigned mode, uint64_t size,
    int64_t mtime);

/* Check the headers of one member at the start of p (n bytes): its ustar
 * header, or a pax header, its data and its ustar header. Returns NULL
 * when they are byte for byte what ustar_header() makes of the values they
 * hold (*out gets those, *used their length), else what is wrong, worded
 * as ustar_check()'s. */
const char *ustar_parse(const unsigned char *p, size_t n,
    struct ustar_hdr *out, size_t *used);

/* Check h, a block that is not all zeros. Returns NULL when h is byte for
 * byte what ustar_format() makes of the path, type, mode, size and mtime
 * it holds; *out gets those. Otherwise returns what is wrong, worded to
 * follow the member's name: " is a symbolic link (tar type 2): ..." or
 * ": tar header field devmajor is not as nodebak writes it"; out->path
 * then holds as much of the name as could be read (esc() it to print). */
const char *ustar_check(const unsigned char h[USTAR_BLOCK],
    struct ustar_hdr *out);

/* A stream checker: headers (a pax header only as ustar_header() writes
 * it), data, NUL padding to 512, two zero blocks,
 * nothing after them. */
struct ustar_stream {
	const char *what;	/* the archive, for messages */
	int state;
	unsigned char blk[USTAR_BLOCK];
	size_t have;		/* bytes of blk filled */
	unsigned char pax[USTAR_HDR_MAX];	/* a pax header and what follows */
	size_t paxhave, paxwant;
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
