/* codec.h - the compression seam under the stream engine.
 *
 * stream.c runs the engine: threads, slots, output order, hashing and the
 * descriptor. A codec turns raw bytes into stored bytes and back and is the
 * only code that knows its library: codec_gzip.c (zlib and libdeflate),
 * codec_zstd.c (libzstd). STREAM_NONE has no codec: the engine copies.
 *
 * Writers come in one of two modes; the engine tells them apart by which
 * functions are set (the others are NULL):
 *   block mode (gzip): the engine cuts the input into blocks and hands each
 *     to block_compress on one of its threads, every thread with its own
 *     struct codec_block. Each block's output stands on its own (complete
 *     gzip members) and the engine writes them in input order; there is no
 *     trailer. A block codec always gets at least one block, so that an
 *     empty input still makes a valid file.
 *   stream mode (zstd): the library runs its own threads. The engine hands
 *     every write to enc_write and ends with enc_finish; the encoder pushes
 *     its output to the engine's sink as it comes.
 * Either way the codec decodes its output again and compares it with its
 * input before handing it on (the writer self-check of stream.h), so its
 * own errors are ERR_INTERNAL.
 *
 * Readers are one decoder over the engine's input buffer (struct codec_in),
 * which the engine fills from the file, hashing every byte it reads.
 */
#ifndef VIGIL_CODEC_H
#define VIGIL_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

/* Where a stream-mode encoder's output goes: the engine hashes and writes
 * it. Returns 0, or -1 with e set (ERR_NOSPACE, ERR_IO). */
typedef int (*codec_sink_fn)(void *arg, const unsigned char *buf, size_t n, struct err *e);

/* The reader's input, owned by the engine: stored bytes read from the file
 * (each hashed as it is read). A decoder consumes buf[pos..len) by
 * advancing pos and asks for more through fill or top_up. */
struct codec_in {
	unsigned char *buf; /* cap bytes */
	size_t cap;
	size_t pos, len;
	bool eof; /* the file ended after buf[len) */
	/* When buf[pos..len) is empty and the file has not ended, read more
	 * (pos becomes 0). Returns 0 (possibly with eof now set) or -1 with e
	 * set (ERR_IO). */
	int (*fill)(struct codec_in *in, struct err *e);
	/* Move the unread bytes to the front and read until buf is full or
	 * the file ends; only when fewer than cap / 2 bytes are unread, or,
	 * with full, whenever buf is not full. Returns 0 or -1 with e set. */
	int (*top_up)(struct codec_in *in, bool full, struct err *e);
};

/* dec_whole's results other than a length. */
#define CODEC_WHOLE_NO (-1)    /* does not apply: dec_read decodes the unit */
#define CODEC_WHOLE_ERR (-2)   /* read error, e set */
#define CODEC_WHOLE_LATER (-3) /* larger than cap: try again with an empty out */

struct codec_block; /* one thread's block compressor (block mode) */
struct codec_enc;   /* a stream-mode encoder */
struct codec_dec;   /* a decoder */

struct codec {
	const char *name;  /* "gzip", "zstd": also the prefix of messages */
	int default_level; /* stream_default_level() */
	/* 0 when level is on the codec's scale, else -1 with e set to
	 * ERR_INTERNAL ("gzip: level 13 not in 0..12"). */
	int (*level_check)(int level, struct err *e);
	/* The libraries' names and versions ("zlib 1.2.13, libdeflate 1.14")
	 * into out (size n, always NUL-ended). */
	void (*lib_versions)(char *out, size_t n);

	/* Writer, block mode. block_out_cap: bytes of output one block of
	 * block_size raw bytes may take. block_new: a compressor for blocks of
	 * at most block_size bytes at level, owned by the caller; NULL when
	 * out of memory. block_compress: raw[0..n) into out (cap bytes, at
	 * least block_out_cap), *out_len its length; 0, or -1 with e set
	 * (ERR_INTERNAL: the library failed or the self-check did not match).
	 * block_free: NULL is ok. */
	size_t (*block_out_cap)(size_t block_size);
	struct codec_block *(*block_new)(int level, size_t block_size);
	int (*block_compress)(struct codec_block *b, const unsigned char *raw, size_t n,
			      unsigned char *out, size_t cap, size_t *out_len, struct err *e);
	void (*block_free)(struct codec_block *b);

	/* Writer, stream mode. enc_open: a new encoder into *enc (caller-owned)
	 * at level with threads compression threads; its output goes to
	 * sink(sink_arg, ...); stop (may be NULL) is polled between the
	 * library's calls as stream_opts.stop says. Returns 0, or -1 with e
	 * set (ERR_INTERNAL) and nothing to free. enc_write: n raw bytes;
	 * enc_finish: end the stream (trailer) and check that the self-check
	 * decoded all of it. Both return 0, or -1 with e set: the sink's
	 * errors, ERR_INTERNAL, or ERR_INTERRUPTED with e->signo when stop
	 * returned a signal. enc_free: NULL is ok; after a stop it leaves the
	 * library's threads to the process's exit instead of waiting. */
	int (*enc_open)(struct codec_enc **enc, int level, int threads, int (*stop)(void),
			codec_sink_fn sink, void *sink_arg, struct err *e);
	int (*enc_write)(struct codec_enc *enc, const void *buf, size_t n, struct err *e);
	int (*enc_finish)(struct codec_enc *enc, struct err *e);
	void (*enc_free)(struct codec_enc *enc);

	/* Reader. dec_new: a decoder owned by the caller, or NULL when out of
	 * memory. dec_read: decode up to n bytes from in into buf; returns the
	 * count (> 0), 0 at the clean end of the stream (every unit complete,
	 * nothing after the last), or -1 with e set (ERR_CORRUPT naming what
	 * is wrong: bad magic, empty file, bad data, truncation, trailing
	 * garbage; ERR_IO from in; ERR_INTERNAL). dec_whole (NULL: none): when
	 * the decoder is between units, decode the next unit whole into out
	 * (cap bytes); partial says out already follows other data. Returns
	 * its length (>= 0) with in advanced past it, or CODEC_WHOLE_*.
	 * dec_free: NULL is ok. */
	struct codec_dec *(*dec_new)(void);
	ssize_t (*dec_read)(struct codec_dec *d, struct codec_in *in, unsigned char *buf,
			    size_t n, struct err *e);
	ssize_t (*dec_whole)(struct codec_dec *d, struct codec_in *in, unsigned char *out,
			     size_t cap, bool partial, struct err *e);
	void (*dec_free)(struct codec_dec *d);
};

/* gzip (RFC 1952), block mode, in codec_gzip.c. */
extern const struct codec codec_gzip;

/* zstd (RFC 8878), stream mode, in codec_zstd.c. */
extern const struct codec codec_zstd;

/* CRC-32 (ISO 3309 / ITU-T V.42, gzip's: RFC 1952 section 8) continued
 * over n more bytes of buf (start with crc 0), through libdeflate_crc32.
 * buf NULL stands for n zero bytes (a hole of a sparse file), hashed in
 * O(log n) without allocating them. Pure. In codec_gzip.c, zlib's and
 * libdeflate's home. */
uint32_t codec_gzip_crc32(uint32_t crc, const void *buf, uint64_t n);

#endif
