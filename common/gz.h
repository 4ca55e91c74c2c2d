/* gz.h: the gzip layer of .bak archives, on zlib. The writer produces one
 * gzip member with no name, no comment, no extra field and a zero
 * timestamp, so output depends only on the input, the level and zlib. The
 * reader accepts exactly one such member and refuses trailing data.
 * The writer compresses on all CPUs (blocks primed with the previous
 * block's tail, as pigz does); its output does not depend on how many. */
#ifndef NODEBAK_GZ_H
#define NODEBAK_GZ_H
#include <stddef.h>
#include <stdint.h>

#include "stream.h"

struct gz_writer;
struct gz_reader;

/* Compress into out; what names the file in errors. */
int gz_writer_new(const struct sink *out, int level, const char *what,
    struct gz_writer **w);
int gz_write(struct gz_writer *w, const void *data, size_t len);
/* A part of a deflate stream for a writer that assembles the gzip file
 * itself (bak.c's snapshot writer): raw deflate blocks, the first one
 * with no dictionary, the last one final; no gzip header or trailer. */
int gz_writer_new_part(const struct sink *out, int level, const char *what,
    struct gz_writer **w);
/* Write the gzip trailer (a part: the final block only). */
int gz_finish(struct gz_writer *w);
/* The CRC-32 and length of what was written so far. */
void gz_writer_sum(const struct gz_writer *w, uint32_t *crc, uint64_t *len);

/* The pieces of a gzip file around deflate blocks: the 10-byte header
 * (as gz_writer_new() writes it for level), the 8-byte trailer. */
#define GZ_HEADER_LEN 10
#define GZ_TRAILER_LEN 8
void gz_file_header(int level, unsigned char hdr[GZ_HEADER_LEN]);
void gz_trailer(uint32_t crc, uint64_t len, unsigned char tr[GZ_TRAILER_LEN]);
/* CRC-32 of p continuing crc (start with 0); of a then b, from both. */
uint32_t gz_crc(uint32_t crc, const void *p, size_t n);
uint32_t gz_crc_combine(uint32_t a, uint32_t b, uint64_t blen);
/* n bytes as stored (uncompressed), non-final deflate blocks, and their
 * length: known before they are written. */
int gz_stored(const struct sink *out, const void *p, size_t n);
uint64_t gz_stored_len(uint64_t n);
void gz_writer_free(struct gz_writer *w);

/* Decompress from in. */
int gz_reader_new(const struct source *in, const char *what,
    struct gz_reader **r);
/* Up to cap decompressed bytes into out; *got = 0 only at the end of the
 * one gzip member, after its CRC and length have been checked and no byte
 * follows it. */
int gz_read(struct gz_reader *r, void *out, size_t cap, size_t *got);
/* Decompress in a thread of its own, a few MiB ahead of gz_read(), so
 * that decompressing overlaps with what the caller does with the bytes.
 * From then on the source is read by that thread only: use it for a
 * source nobody else reads until gz_read() has returned the end or an
 * error, and that does not block for long (a file, not a pipe); a
 * progress callback beneath it is called from that thread. The bytes
 * and errors are the same. Call before the first gz_read(). */
int gz_reader_readahead(struct gz_reader *r);
/* Decompressed bytes returned so far. */
uint64_t gz_total_out(const struct gz_reader *r);
void gz_reader_free(struct gz_reader *r);

/* Inflate the start of a gzip stream held in in[0..n) (a prefix will do)
 * into out: *got bytes. -1 when it is not gzip. For classifying files. */
int gz_peek(const void *in, size_t n, void *out, size_t cap, size_t *got);

#endif
