/* stream.h - the byte pipeline under every backup file.
 *
 * A writer takes raw bytes (a pg_dump stream, a tar stream), compresses them
 * (gzip, zstd or none), hashes the *stored* bytes with SHA-256 and writes them
 * to a file descriptor, in one pass. A reader does the reverse for verify and
 * restore: it reads stored bytes from a descriptor, hashes them, decompresses
 * them and fails loudly on any corruption or truncation.
 *
 * zlib, libdeflate, libzstd and the SHA-256 implementation are used only
 * below this module, each in its one home (one home per library, docs/design.md): codec_gzip.c,
 * codec_zstd.c (behind codec.h) and digest.c. The engine is stream.c
 * (writer) and stream_reader.c (reader).
 *
 * Output formats:
 *   gzip: RFC 1952. The writer may emit several members (one per block);
 *         gzip -t, zcat, Python's gzip module and libarchive read them.
 *   zstd: RFC 8878 frames, libzstd's own multithreading.
 *   none: the raw bytes.
 */
#ifndef VIGIL_STREAM_H
#define VIGIL_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

enum stream_codec {
	STREAM_NONE = 0,
	STREAM_GZIP,
	STREAM_ZSTD,
};

struct stream_opts {
	enum stream_codec codec;
	int level;         /* on the codec's own scale; -1 = vigil's default */
	int threads;       /* compression threads, >= 1 */
	size_t block_size; /* bytes per block, 0 = default */
	/* Polled between libzstd's calls while writing and flushing (at high
	 * levels most of the work happens in the flush): a non-zero result (a
	 * signal number) abandons the stream with ERR_INTERRUPTED, e->signo
	 * set, and stream_writer_free then does not wait for libzstd's worker
	 * threads (it leaves that context to the process's exit, which a stop
	 * request leads to). NULL = never. */
	int (*stop)(void);
};

struct stream_stats {
	uint64_t raw_bytes;    /* bytes before compression */
	uint64_t stored_bytes; /* bytes written to / read from the file */
	char sha256[65];       /* lowercase hex of the stored bytes, NUL-ended */
	uint32_t stored_crc32; /* CRC-32 (ISO 3309, as gzip's) of the stored bytes;
				* set by the writer only */
};

struct stream_writer;
struct stream_reader;

/* Open a writer onto fd (not owned: the caller closes and fsyncs it).
 * Memory, fixed for any input size: gzip keeps 2 x threads + 2 slots of
 * about 2 x block_size (input and output) plus a decode buffer per thread,
 * about 16 MiB at 1 MiB blocks and 2 threads; zstd: libzstd's own bounded
 * buffers (2 MiB jobs). Self-check: every gzip member is decoded again
 * before it is written, and zstd's output is decoded again as it is
 * written (the file is a temporary one until the commit), each compared
 * with its input; a mismatch is ERR_INTERNAL. Returns 0, or -1 with e set (ERR_INTERNAL for
 * bad options / no memory). */
int stream_writer_open(struct stream_writer **w, int fd, const struct stream_opts *o,
		       struct err *e);

/* Feed n raw bytes. May block while workers catch up (bounded memory).
 * Returns 0, or -1 with e set: ERR_NOSPACE for ENOSPC/EDQUOT (message
 * contains "No space left on device"), ERR_IO for other write errors. After
 * an error every later call fails too. */
int stream_write(struct stream_writer *w, const void *buf, size_t n, struct err *e);

/* Flush everything, write the codec's trailer, fill *st (may be NULL) and
 * free the writer. Returns 0 or -1 with e set; the writer is freed either
 * way. The caller still fsyncs fd. */
int stream_writer_close(struct stream_writer *w, struct stream_stats *st, struct err *e);

/* Abandon a writer (error paths): stops workers, frees memory. NULL is ok. */
void stream_writer_free(struct stream_writer *w);

/* Open a reader on fd (not owned). It decodes ahead on a helper thread
 * into 4 slots of 4 MiB plus a 4 MiB input buffer (about 20 MiB, fixed).
 * Returns 0, or -1 with e set (ERR_INTERNAL). */
int stream_reader_open(struct stream_reader **r, int fd, enum stream_codec codec,
		       struct err *e);

/* Read up to n decompressed bytes. Returns the count, 0 at the clean end of
 * the stream (every member/frame complete, no trailing garbage), or -1 with
 * e set: ERR_CORRUPT for bad or truncated data (message says which),
 * ERR_IO for read errors. */
ssize_t stream_read(struct stream_reader *r, void *buf, size_t n, struct err *e);

/* Totals so far; after stream_read returned 0 they cover the whole file. */
void stream_reader_stats(const struct stream_reader *r, struct stream_stats *st);

/* Free a reader. NULL is ok. */
void stream_reader_free(struct stream_reader *r);

/* SHA-256 of everything readable from fd (from its current offset).
 * hex receives 64 lowercase hex digits and a NUL; *bytes (may be NULL) the
 * length. Returns 0 or -1 with e set (ERR_IO). */
int stream_sha256_fd(int fd, char hex[65], uint64_t *bytes, struct err *e);

/* CRC-32 (ISO 3309 / ITU-T V.42, the one gzip uses: RFC 1952 section 8)
 * of everything readable from fd from its current offset, through
 * libdeflate_crc32. fd is not owned. *crc gets the CRC, *bytes (may be
 * NULL) the length. Cheap (a read and a carry-less multiply pass), so it is
 * the read-back check of a file just written (stream_stats.stored_crc32).
 * Returns 0 or -1 with e set (ERR_IO; ERR_INTERNAL when out of memory). */
int stream_crc32_fd(int fd, uint32_t *crc, uint64_t *bytes, struct err *e);

/* CRC-32 as stream_crc32_fd computes it, continued over n more bytes of
 * buf (start with crc 0). buf NULL stands for n zero bytes (a hole of a
 * sparse file), hashed without allocating them. Pure. */
uint32_t stream_crc32(uint32_t crc, const void *buf, uint64_t n);

/* Incremental SHA-256 for callers that hash data they do not write. */
struct stream_hash;
struct stream_hash *stream_hash_new(void);
void stream_hash_update(struct stream_hash *h, const void *buf, size_t n);
void stream_hash_final(struct stream_hash *h, char hex[65]); /* also frees h */

/* Codec for a file name by its suffix: ".gz" gzip, ".zst" zstd, else none. */
enum stream_codec stream_codec_for_name(const char *name);

/* "gzip", "zstd", "none". */
const char *stream_codec_name(enum stream_codec c);

/* Default level for a codec when opts.level is -1. */
int stream_default_level(enum stream_codec c);

/* "zlib 1.2.13, libdeflate 1.14, zstd 1.5.4" into out (size n). */
void stream_lib_versions(char *out, size_t n);

#endif
