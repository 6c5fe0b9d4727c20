/* stream.c - compression, decompression and SHA-256 of backup files.
 *
 * See stream.h for the contract. This is the only file that includes zlib,
 * libdeflate and libzstd (STYLE.md habit 2); SHA-256 is digest.c's, the
 * descriptor loops are fdio.c's.
 *
 * gzip writer: the raw input is cut into blocks; every block becomes one
 * complete gzip member (RFC 1952 section 2.2 allows any number of members in
 * a file, and gzip/zcat/Python/libarchive decode them as one stream). Blocks
 * are compressed with libdeflate, either inline (threads == 1) or by a pool
 * of worker threads; the caller's thread writes finished members to the
 * descriptor in order and hashes them there. A fixed ring of slots bounds
 * memory whatever the input size. Blocks that do not compress (photos,
 * archives) are found by an order-0 entropy estimate per 4 KiB chunk plus a
 * level-1 probe, and are then stored with libdeflate level 0, which costs
 * about a copy and a CRC. Every member is decoded again and compared with
 * its input before it is written (the writer self-check below).
 *
 * Readers decode on a helper thread into a ring of slots: vigil's own
 * members with libdeflate in one call each, anything else (foreign,
 * single-member, damaged files) with zlib's streaming inflate; zstd with
 * ZSTD_decompressStream. See "Reader" below.
 */
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libdeflate.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "digest.h"
#include "fdio.h"

/* Default gzip level on libdeflate's 0..12 scale; see stream_default_level().
 * Measured on a 54 MB synthetic plain dump (accented names, numbers, dates,
 * JSON, UUIDs) with 1 MiB members: `gzip -6` 15,949,751 bytes; libdeflate 4
 * 16,408,030 (+2.9%, 111 MB/s/thread); 5 15,827,116 (-0.8%, 96 MB/s/thread);
 * 6 15,454,713 (74 MB/s/thread). 5 is the fastest level not larger. */
#define GZIP_DEFAULT_LEVEL 5
#define GZIP_MAX_LEVEL 12
/* Default zstd level. On the bench's 390 MB asset dump (bench/, 2 threads,
 * 2 MiB jobs) level 1 wrote 125.2 MB in 5.0 s and level 3 130.6 MB in
 * 9.0 s: with 2 MiB jobs level 1 is both smaller and faster, and level 3
 * costs more CPU than two cores have to spare beside the server. */
#define ZSTD_DEFAULT_LEVEL 1
#define ZSTD_JOB_SIZE (2 << 20)

#define BLOCK_DEFAULT ((size_t)1 << 20)
#define BLOCK_MIN ((size_t)4096)
#define BLOCK_MAX ((size_t)256 << 20)
#define THREADS_MAX 1024

/* Incompressible data (photos, archives, PDF streams) is stored, not
 * compressed: a block is classified in CHUNK_LEN pieces by their order-0
 * byte entropy (a histogram: about 1 ns a byte); chunks above
 * ENTROPY_STORE bits per byte are incompressible. Runs of at least
 * STORE_MIN_RUN such chunks whose middle CHUNK_LEN bytes also do not shrink
 * below PROBE_KEEP percent at libdeflate level 1 (so that high-entropy data
 * with long repeats still gets compressed) become gzip members of stored
 * blocks (about a copy and a CRC); everything else is compressed at the
 * configured level. A block is thus one gzip member, or several when it
 * mixes both kinds (a tar stream of photos and text files), which keeps the
 * output within a fraction of a percent of gzip -6's on mixed media. When
 * none of PRESCREEN chunks spread over a block looks random, the block is
 * compressed whole without classifying the rest (text, plain dumps). */
#define CHUNK_LEN ((size_t)4096)
#define ENTROPY_STORE 7.5
#define STORE_MIN_RUN 4
#define PRESCREEN 16
#define PROBE_KEEP 97

/* Writer self-check: every gzip member is decoded again by the worker that
 * made it and compared with its input, and a zstd stream is decoded as it
 * is written (its frame checksum checked), so a file the writer closed
 * without error decodes to exactly the bytes it was given. */

/* The writer starts writeback of its output every WRITEBACK_STEP bytes. */
#define WRITEBACK_STEP ((uint64_t)8 << 20)

/* ------------------------------------------------------------------------ */
/* Digests of data not written, and of whole files (SHA-256: digest.c).     */

/* struct stream_hash is never defined: a stream_hash pointer is a struct
 * digest pointer under stream.h's public name (all pointers to structures
 * convert to each other and back, C11 6.2.5 and 6.3.2.3). */

/* Incremental SHA-256 (FIPS 180-4). Returns a new context owned by the
 * caller (released by stream_hash_final), or NULL when out of memory. */
struct stream_hash *stream_hash_new(void)
{
	return (struct stream_hash *)digest_new();
}

/* Add n bytes of buf to h. h may be NULL (no-op, for OOM paths). */
void stream_hash_update(struct stream_hash *h, const void *buf, size_t n)
{
	digest_update((struct digest *)h, buf, n);
}

/* Write the 64 lowercase hex digits of the digest and a NUL to hex, then free
 * h. With h NULL, hex becomes the empty string. */
void stream_hash_final(struct stream_hash *h, char hex[65])
{
	digest_final_hex((struct digest *)h, hex);
	digest_free((struct digest *)h);
}

static void sha256_piece(void *ctx, const unsigned char *p, size_t n)
{
	digest_update(ctx, p, n);
}

static void crc32_piece(void *ctx, const unsigned char *p, size_t n)
{
	uint32_t *c = ctx;

	*c = libdeflate_crc32(*c, p, n);
}

/* SHA-256 (FIPS 180-4) of everything readable from fd from its current
 * offset to end of file. fd is not owned. hex receives 64 lowercase hex
 * digits and a NUL; *bytes (may be NULL) the byte count. Returns 0, or -1
 * with e set: ERR_IO for read errors, ERR_INTERNAL when out of memory. */
int stream_sha256_fd(int fd, char hex[65], uint64_t *bytes, struct err *e)
{
	struct digest *d = digest_new();
	int rc = -1;

	hex[0] = '\0';
	if (!d)
		return err_set(e, ERR_INTERNAL, "sha256: out of memory");
	if (fdio_read_each(fd, "sha256", sha256_piece, d, bytes, e) == 0) {
		digest_final_hex(d, hex);
		rc = 0;
	}
	digest_free(d);
	return rc;
}

/* See stream.h. n zero bytes (a hole of a sparse file, which can be many
 * GiB) cost O(log n): the CRC of 2^k zeros is squared up by doubling and
 * appended with zlib's crc32_combine (the same CRC-32 as libdeflate's). */
uint32_t stream_crc32(uint32_t crc, const void *buf, uint64_t n)
{
	static const unsigned char zero[1];
	uint32_t pow;
	uint64_t len = 1;

	if (buf)
		return libdeflate_crc32(crc, buf, (size_t)n);
	pow = libdeflate_crc32(0, zero, 1); /* CRC of 2^0 zero bytes */
	while (n > 0) {
		if (n & 1)
			crc = (uint32_t)crc32_combine(crc, pow, (z_off_t)len);
		n >>= 1;
		if (n) {
			pow = (uint32_t)crc32_combine(pow, pow, (z_off_t)len);
			len *= 2;
		}
	}
	return crc;
}

int stream_crc32_fd(int fd, uint32_t *crc, uint64_t *bytes, struct err *e)
{
	uint32_t c = 0;

	if (fdio_read_each(fd, "crc32", crc32_piece, &c, bytes, e) < 0)
		return -1;
	*crc = c;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Names and levels.                                                        */

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Codec for a file name by its suffix: ".gz" gzip, ".zst" zstd, anything
 * else (and NULL) none. Case-sensitive, as vigil writes its own names. */
enum stream_codec stream_codec_for_name(const char *name)
{
	if (!name)
		return STREAM_NONE;
	if (has_suffix(name, ".gz"))
		return STREAM_GZIP;
	if (has_suffix(name, ".zst"))
		return STREAM_ZSTD;
	return STREAM_NONE;
}

/* Static name of a codec: "gzip", "zstd" or "none" ("none" for unknown). */
const char *stream_codec_name(enum stream_codec c)
{
	switch (c) {
	case STREAM_GZIP:
		return "gzip";
	case STREAM_ZSTD:
		return "zstd";
	default:
		return "none";
	}
}

/* Default level when stream_opts.level is -1.
 * gzip: 5 on libdeflate's 0..12 scale, the fastest level whose output on a
 *       typical plain SQL dump is no larger than `gzip -6`'s (SPEC section 4;
 *       the measurement is at GZIP_DEFAULT_LEVEL above).
 * zstd: 1 (measured above; libzstd's own default, 3, is slower and larger here).
 * none: 0. */
int stream_default_level(enum stream_codec c)
{
	switch (c) {
	case STREAM_GZIP:
		return GZIP_DEFAULT_LEVEL;
	case STREAM_ZSTD:
		return ZSTD_DEFAULT_LEVEL;
	default:
		return 0;
	}
}

/* ------------------------------------------------------------------------ */
/* Writer.                                                                  */

enum slot_state {
	SLOT_FREE = 0, /* empty, or being filled by the caller */
	SLOT_QUEUED,   /* full, waiting for a worker */
	SLOT_BUSY,     /* a worker compresses it */
	SLOT_DONE,     /* compressed, waiting to be written in order */
};

struct slot {
	enum slot_state state;
	unsigned char *raw; /* block_size bytes */
	size_t raw_len;
	unsigned char *out; /* out_cap bytes */
	size_t out_len;
	bool failed; /* compression failed: see slot.err */
	struct err err;
};

/* Compressors owned by one thread (libdeflate compressors are not shared). */
struct deflater {
	struct libdeflate_compressor *main;   /* the configured level */
	struct libdeflate_compressor *stored; /* level 0: stored blocks only */
	struct libdeflate_compressor *probe;  /* level 1 for probes, or == main */
	struct libdeflate_decompressor *check; /* self-check */
	unsigned char *probe_buf;             /* CHUNK_LEN bytes */
	unsigned char *check_buf;             /* block_size bytes */
};

struct worker {
	pthread_t tid;
	struct stream_writer *w;
	struct deflater d;
};

struct stream_writer {
	enum stream_codec codec;
	int fd;
	int level;
	struct digest *md;
	uint64_t raw_bytes;
	uint64_t stored_bytes;
	uint32_t stored_crc32;  /* CRC-32 of the stored bytes (stream_crc32_fd) */
	uint64_t writeback_at;  /* stored bytes handed to writeback so far */
	bool failed;
	struct err err; /* sticky: the first failure */

	/* gzip */
	size_t block_size;
	size_t out_cap;
	struct slot *slots;
	size_t nslots;
	uint64_t submit_seq;   /* blocks handed to compression */
	uint64_t compress_seq; /* blocks taken by workers */
	uint64_t write_seq;    /* blocks written to fd */
	struct deflater inline_d; /* used when there are no workers */
	struct worker *workers; /* nworkers_alloc entries */
	size_t nworkers_alloc;
	size_t nworkers; /* threads started */
	bool sync_init;
	bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv_work; /* workers wait for queued slots */
	pthread_cond_t cv_done; /* the caller waits for finished slots */

	int (*stop_fn)(void); /* stream_opts.stop */
	bool zstd_abandoned;  /* stopped mid-stream: never wait for libzstd's workers */

	/* zstd */
	ZSTD_CCtx *cctx;
	unsigned char *zbuf;
	size_t zbuf_cap;
	ZSTD_DCtx *zcheck;      /* self-check: decodes what was written */
	unsigned char *zcheck_buf;
	size_t zcheck_cap;
	uint64_t zcheck_raw;    /* bytes it decoded */
	size_t zcheck_left;     /* its last hint: 0 = at the end of a frame */
};

/* Record the first failure and copy it to e. Returns -1. */
static int writer_fail(struct stream_writer *w, struct err *e)
{
	if (!w->failed) {
		w->failed = true;
		w->err = *e;
	}
	return -1;
}

/* Copy the sticky error into e. Returns -1. */
static int writer_sticky(const struct stream_writer *w, struct err *e)
{
	if (e)
		*e = w->err;
	return -1;
}

/* Hash and write stored bytes. Returns 0 or -1 with e set. */
static int emit(struct stream_writer *w, const unsigned char *buf, size_t n, struct err *e)
{
	if (n == 0)
		return 0;
	digest_update(w->md, buf, n);
	w->stored_crc32 = libdeflate_crc32(w->stored_crc32, buf, n);
	if (fdio_write_all(w->fd, buf, n, e) < 0)
		return -1;
	w->stored_bytes += n;
	if (w->stored_bytes - w->writeback_at >= WRITEBACK_STEP) {
		/* Start writeback of what is written so far without waiting for
		 * it (sync_file_range(2), SYNC_FILE_RANGE_WRITE), so the caller's
		 * final fsync has little left to do and the dirty pages of a
		 * large backup do not pile up. Advisory: fsync still decides. */
		(void)sync_file_range(w->fd, (off64_t)w->writeback_at,
				      (off64_t)(w->stored_bytes - w->writeback_at),
				      SYNC_FILE_RANGE_WRITE);
		w->writeback_at = w->stored_bytes;
	}
	return 0;
}

static void deflater_free(struct deflater *d)
{
	if (d->probe != d->main)
		libdeflate_free_compressor(d->probe);
	libdeflate_free_compressor(d->main);
	libdeflate_free_compressor(d->stored);
	libdeflate_free_decompressor(d->check);
	free(d->probe_buf);
	free(d->check_buf);
	memset(d, 0, sizeof *d);
}

static int deflater_init(struct deflater *d, int level, size_t block_size)
{
	memset(d, 0, sizeof *d);
	d->main = libdeflate_alloc_compressor(level);
	d->stored = libdeflate_alloc_compressor(0);
	d->probe = level == 1 ? d->main : libdeflate_alloc_compressor(1);
	d->check = libdeflate_alloc_decompressor();
	d->probe_buf = malloc(CHUNK_LEN);
	d->check_buf = malloc(block_size);
	if (!d->main || !d->stored || !d->probe || !d->check || !d->probe_buf || !d->check_buf) {
		deflater_free(d);
		return -1;
	}
	return 0;
}

/* c * log2(c) for c in 0..CHUNK_LEN, filled once. */
static float clog2c[CHUNK_LEN + 1];
static pthread_once_t clog2c_once = PTHREAD_ONCE_INIT;

/* log2(x) for x >= 1 without libm: x = m * 2^k with m in [1, 2), and
 * ln(m) = 2 atanh((m - 1) / (m + 1)) as its series (|z| <= 1/3). */
static double log2_ge1(double x)
{
	double z, z2, term, ln = 0;
	int k = 0;

	while (x >= 2) {
		x /= 2;
		k++;
	}
	z = (x - 1) / (x + 1);
	z2 = z * z;
	term = z;
	for (int i = 1; i < 40; i += 2) {
		ln += term / i;
		term *= z2;
	}
	return k + 2 * ln / 0.69314718055994530942;
}

static void clog2c_init(void)
{
	for (size_t c = 1; c <= CHUNK_LEN; c++)
		clog2c[c] = (float)((double)c * log2_ge1((double)c));
}

/* True when n (<= CHUNK_LEN) bytes have an order-0 entropy above
 * ENTROPY_STORE bits per byte: n*log2(n) - sum(c*log2(c)) > n*ENTROPY_STORE. */
static bool chunk_random(const unsigned char *p, size_t n)
{
	uint16_t h[4][256];
	float sum = 0;
	size_t i = 0;

	if (n < 256)
		return false;
	memset(h, 0, sizeof h);
	for (; i + 4 <= n; i += 4) {
		h[0][p[i]]++;
		h[1][p[i + 1]]++;
		h[2][p[i + 2]]++;
		h[3][p[i + 3]]++;
	}
	for (; i < n; i++)
		h[0][p[i]]++;
	for (size_t b = 0; b < 256; b++)
		sum += clog2c[h[0][b] + h[1][b] + h[2][b] + h[3][b]];
	return clog2c[n] - sum > (float)n * (float)ENTROPY_STORE;
}

/* Pre-screen: does any of PRESCREEN chunks spread over the block look
 * random? If not, the block is compressed whole without classifying every
 * chunk (text: a plain dump); a random stretch shorter than the spacing may
 * then be compressed, which costs time, never size. */
static bool block_has_random(const unsigned char *p, size_t n)
{
	size_t nchunks = (n + CHUNK_LEN - 1) / CHUNK_LEN;

	if (nchunks <= PRESCREEN)
		return true;
	for (size_t k = 0; k < PRESCREEN; k++) {
		size_t i = (nchunks - 1) * k / (PRESCREEN - 1);
		size_t off = i * CHUNK_LEN;

		if (chunk_random(p + off, n - off < CHUNK_LEN ? n - off : CHUNK_LEN))
			return true;
	}
	return false;
}

/* A run of random-looking chunks is stored unless a level-1 probe of its
 * middle chunk shrinks below PROBE_KEEP percent. */
static bool run_stored(struct deflater *d, const unsigned char *p, size_t n)
{
	size_t len = n < CHUNK_LEN ? n : CHUNK_LEN;
	size_t off = (n - len) / 2;

	return libdeflate_deflate_compress(d->probe, p + off, len, d->probe_buf,
					   len * PROBE_KEEP / 100) == 0;
}

/* Append one gzip member of p[0..n) made by c to s->out. */
static bool add_member(struct stream_writer *w, struct libdeflate_compressor *c,
		       struct slot *s, const unsigned char *p, size_t n)
{
	size_t k = libdeflate_gzip_compress(c, p, n, s->out + s->out_len, w->out_cap - s->out_len);

	s->out_len += k;
	return k > 0;
}

/* Decode s->out (one or more members) and compare it with s->raw. */
static bool slot_self_check(struct deflater *d, const struct slot *s)
{
	size_t in_pos = 0, out_pos = 0;

	while (in_pos < s->out_len) {
		size_t in_used = 0, out_len = 0;

		if (libdeflate_gzip_decompress_ex(d->check, s->out + in_pos, s->out_len - in_pos,
						  d->check_buf + out_pos, s->raw_len - out_pos,
						  &in_used, &out_len) != LIBDEFLATE_SUCCESS)
			return false;
		in_pos += in_used;
		out_pos += out_len;
	}
	return out_pos == s->raw_len && memcmp(d->check_buf, s->raw, s->raw_len) == 0;
}

/* Compress s->raw into s->out: one complete gzip member (RFC 1952), or
 * several when the block mixes random-looking and compressible data. */
static void compress_slot(struct stream_writer *w, struct deflater *d, struct slot *s)
{
	size_t nchunks = (s->raw_len + CHUNK_LEN - 1) / CHUNK_LEN;
	size_t start = 0; /* first chunk not yet emitted */
	bool ok = true;

	s->out_len = 0;
	if (w->level == 0 || s->raw_len == 0) {
		ok = add_member(w, d->main, s, s->raw, s->raw_len);
		goto check;
	}
	pthread_once(&clog2c_once, clog2c_init);
	if (!block_has_random(s->raw, s->raw_len))
		nchunks = 0; /* all compressible: one member below */
	for (size_t i = 0; i < nchunks && ok;) {
		size_t j = i, off = i * CHUNK_LEN, end;

		/* [i, j): a run of random-looking chunks */
		while (j < nchunks &&
		       chunk_random(s->raw + j * CHUNK_LEN,
				    j + 1 < nchunks ? CHUNK_LEN : s->raw_len - j * CHUNK_LEN))
			j++;
		if (j == i) {
			i++;
			continue;
		}
		end = j < nchunks ? j * CHUNK_LEN : s->raw_len;
		if (j - i >= STORE_MIN_RUN && run_stored(d, s->raw + off, end - off)) {
			if (start < i)
				ok = add_member(w, d->main, s, s->raw + start * CHUNK_LEN,
						off - start * CHUNK_LEN);
			if (ok)
				ok = add_member(w, d->stored, s, s->raw + off, end - off);
			start = j;
		}
		i = j;
	}
	if (ok && (nchunks == 0 || start < nchunks))
		ok = add_member(w, d->main, s, s->raw + start * CHUNK_LEN,
				s->raw_len - start * CHUNK_LEN);
check:
	if (!ok) {
		s->failed = true;
		err_set(&s->err, ERR_INTERNAL, "gzip: libdeflate failed on a %zu-byte block",
			s->raw_len);
	} else if (!slot_self_check(d, s)) {
		s->failed = true;
		err_set(&s->err, ERR_INTERNAL, "gzip: a compressed %zu-byte block does not decode "
			"to its input (self-check failed: memory or compressor fault)", s->raw_len);
	}
}

static void *worker_main(void *arg)
{
	struct worker *me = arg;
	struct stream_writer *w = me->w;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct slot *s;

		while (!w->stop && w->compress_seq == w->submit_seq)
			pthread_cond_wait(&w->cv_work, &w->mu);
		if (w->stop)
			break;
		s = &w->slots[w->compress_seq % w->nslots];
		w->compress_seq++;
		s->state = SLOT_BUSY;
		pthread_mutex_unlock(&w->mu);

		compress_slot(w, &me->d, s);

		pthread_mutex_lock(&w->mu);
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&w->cv_done);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Write the oldest unwritten block. With wait, block until it is compressed;
 * without, return 1 when it is not ready. Returns 0 when written, 1 not
 * ready / nothing in flight, -1 on error (sticky). */
static int write_oldest(struct stream_writer *w, bool wait, struct err *e)
{
	struct slot *s;
	int rc;

	if (w->write_seq == w->submit_seq)
		return 1;
	s = &w->slots[w->write_seq % w->nslots];
	if (w->nworkers > 0) {
		pthread_mutex_lock(&w->mu);
		while (wait && s->state != SLOT_DONE)
			pthread_cond_wait(&w->cv_done, &w->mu);
		rc = s->state == SLOT_DONE;
		pthread_mutex_unlock(&w->mu);
		if (!rc)
			return 1;
	}
	if (s->failed) {
		*e = s->err;
		return writer_fail(w, e);
	}
	if (emit(w, s->out, s->out_len, e) < 0) {
		err_prefix(e, "gzip");
		return writer_fail(w, e);
	}
	/* Only the caller's thread touches a slot between DONE and FREE. */
	s->state = SLOT_FREE;
	s->raw_len = 0;
	s->out_len = 0;
	w->write_seq++;
	return 0;
}

/* Hand the slot being filled to compression, then write whatever is ready.
 * Blocks while all slots are in flight. Returns 0 or -1 (sticky). */
static int submit_block(struct stream_writer *w, struct err *e)
{
	struct slot *s = &w->slots[w->submit_seq % w->nslots];
	int rc;

	if (w->nworkers == 0) {
		compress_slot(w, &w->inline_d, s);
		s->state = SLOT_DONE;
		w->submit_seq++;
	} else {
		pthread_mutex_lock(&w->mu);
		s->state = SLOT_QUEUED;
		w->submit_seq++;
		pthread_cond_signal(&w->cv_work);
		pthread_mutex_unlock(&w->mu);
	}
	/* The next slot to fill must be free: wait for the oldest when full. */
	if (w->submit_seq - w->write_seq == w->nslots && write_oldest(w, true, e) < 0)
		return -1;
	while ((rc = write_oldest(w, false, e)) == 0)
		;
	return rc < 0 ? -1 : 0;
}

static int gzip_write(struct stream_writer *w, const unsigned char *p, size_t n,
		      struct err *e)
{
	while (n > 0) {
		struct slot *s = &w->slots[w->submit_seq % w->nslots];
		size_t k = w->block_size - s->raw_len;

		if (k > n)
			k = n;
		memcpy(s->raw + s->raw_len, p, k);
		s->raw_len += k;
		p += k;
		n -= k;
		if (s->raw_len == w->block_size && submit_block(w, e) < 0)
			return -1;
	}
	return 0;
}

/* Submit the partial last block (or an empty member for empty input, so the
 * file is still valid gzip) and write everything. */
static int gzip_finish(struct stream_writer *w, struct err *e)
{
	struct slot *s = &w->slots[w->submit_seq % w->nslots];
	int rc;

	if ((s->raw_len > 0 || w->submit_seq == 0) && submit_block(w, e) < 0)
		return -1;
	while ((rc = write_oldest(w, true, e)) == 0)
		;
	return rc < 0 ? -1 : 0;
}

/* Stop and join workers; safe to call more than once. */
static void stop_workers(struct stream_writer *w)
{
	if (w->nworkers == 0)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv_work);
	pthread_mutex_unlock(&w->mu);
	for (size_t i = 0; i < w->nworkers; i++)
		pthread_join(w->workers[i].tid, NULL);
	w->nworkers = 0;
}

static int gzip_open(struct stream_writer *w, const struct stream_opts *o, struct err *e)
{
	size_t threads = (size_t)o->threads;

	w->block_size = o->block_size ? o->block_size : BLOCK_DEFAULT;
	/* Several members per block: each adds a header, a trailer and the
	 * bound's per-call slack; a stored member starts after >= 4 chunks. */
	w->out_cap = libdeflate_gzip_compress_bound(NULL, w->block_size) +
		     (w->block_size / (CHUNK_LEN * STORE_MIN_RUN) + 2) * 2 *
			     (libdeflate_gzip_compress_bound(NULL, 0) + 64);
	w->nslots = threads > 1 ? 2 * threads + 2 : 1;
	w->slots = calloc(w->nslots, sizeof *w->slots);
	if (!w->slots)
		goto oom;
	for (size_t i = 0; i < w->nslots; i++) {
		w->slots[i].raw = malloc(w->block_size);
		w->slots[i].out = malloc(w->out_cap);
		if (!w->slots[i].raw || !w->slots[i].out)
			goto oom;
	}
	if (threads == 1) {
		if (deflater_init(&w->inline_d, w->level, w->block_size) < 0)
			goto oom;
		return 0;
	}

	if (pthread_mutex_init(&w->mu, NULL) != 0)
		goto oom;
	if (pthread_cond_init(&w->cv_work, NULL) != 0) {
		pthread_mutex_destroy(&w->mu);
		goto oom;
	}
	if (pthread_cond_init(&w->cv_done, NULL) != 0) {
		pthread_cond_destroy(&w->cv_work);
		pthread_mutex_destroy(&w->mu);
		goto oom;
	}
	w->sync_init = true;
	w->workers = calloc(threads, sizeof *w->workers);
	if (!w->workers)
		goto oom;
	w->nworkers_alloc = threads;
	for (size_t i = 0; i < threads; i++) {
		struct worker *wk = &w->workers[i];
		int rc;

		wk->w = w;
		if (deflater_init(&wk->d, w->level, w->block_size) < 0)
			goto oom;
		rc = pthread_create(&wk->tid, NULL, worker_main, wk);
		if (rc != 0) {
			deflater_free(&wk->d);
			return err_errno(e, ERR_INTERNAL, rc, "gzip: cannot start thread");
		}
		w->nworkers++;
	}
	return 0;
oom:
	return err_set(e, ERR_INTERNAL, "gzip: out of memory (block size %zu, %d threads)",
		       w->block_size, o->threads);
}

static int zstd_open(struct stream_writer *w, const struct stream_opts *o, struct err *e)
{
	size_t r;

	w->cctx = ZSTD_createCCtx();
	w->zbuf_cap = ZSTD_CStreamOutSize();
	w->zbuf = malloc(w->zbuf_cap);
	w->zcheck = ZSTD_createDCtx();
	w->zcheck_cap = ZSTD_DStreamOutSize();
	w->zcheck_buf = malloc(w->zcheck_cap);
	if (!w->cctx || !w->zbuf || !w->zcheck || !w->zcheck_buf)
		return err_set(e, ERR_INTERNAL, "zstd: out of memory");
	r = ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, w->level);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
	if (ZSTD_isError(r))
		return err_set(e, ERR_INTERNAL, "zstd: level %d: %s", w->level,
			       ZSTD_getErrorName(r));
	/* A libzstd built without multithreading refuses workers: compress in
	 * the caller's thread then, the output is the same format. */
	if (o->threads > 1 &&
	    !ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers, o->threads)))
		/* libzstd's default job (4 windows: 8 MiB at level 3) makes two
		 * workers take ~60 MiB; 2 MiB jobs take ~20 MiB, cost no speed
		 * and compress a plain dump 0.2 % better (390 MB dump, 2 CPUs). */
		(void)ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_jobSize, ZSTD_JOB_SIZE);
	return 0;
}

/* Self-check: decode n bytes just written (output discarded; libzstd
 * checks each frame's content checksum at its end). */
static int zstd_check(struct stream_writer *w, const unsigned char *p, size_t n, struct err *e)
{
	ZSTD_inBuffer in = { p, n, 0 };

	for (;;) {
		ZSTD_outBuffer out = { w->zcheck_buf, w->zcheck_cap, 0 };
		size_t r = ZSTD_decompressStream(w->zcheck, &out, &in);

		if (ZSTD_isError(r))
			return err_set(e, ERR_INTERNAL, "zstd: the stream written does not decode "
				       "(self-check: %s)", ZSTD_getErrorName(r));
		w->zcheck_raw += out.pos;
		w->zcheck_left = r;
		/* r == 0: a frame is complete and flushed. Calling again with no
		 * input would start the next frame (r = its header size) and read
		 * as "not complete" when the frame ended exactly as out filled. */
		if (in.pos == in.size && (out.pos < out.size || r == 0))
			return 0;
	}
}

/* Feed in to libzstd with the given directive and write what it produces.
 * With ZSTD_e_end, loop until the frame is complete, then check that the
 * self-check decoded the whole frame. */
static int zstd_pump(struct stream_writer *w, const void *buf, size_t n,
		     ZSTD_EndDirective mode, struct err *e)
{
	ZSTD_inBuffer in = { buf, n, 0 };

	for (;;) {
		ZSTD_outBuffer out = { w->zbuf, w->zbuf_cap, 0 };
		size_t left = ZSTD_compressStream2(w->cctx, &out, &in, mode);

		if (ZSTD_isError(left))
			return err_set(e, ERR_INTERNAL, "zstd: %s", ZSTD_getErrorName(left));
		if (emit(w, w->zbuf, out.pos, e) < 0) {
			err_prefix(e, "zstd");
			return -1;
		}
		if (out.pos && zstd_check(w, w->zbuf, out.pos, e) < 0)
			return -1;
		if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
			break;
		if (w->stop_fn) {
			/* With workers a call may wait for a job to finish. */
			int sig = w->stop_fn();
			if (sig) {
				w->zstd_abandoned = true;
				err_set(e, ERR_INTERRUPTED, "stopped by signal %d", sig);
				e->signo = sig;
				return -1;
			}
		}
	}
	if (mode == ZSTD_e_end &&
	    (w->zcheck_left != 0 || w->zcheck_raw != w->raw_bytes + n))
		return err_set(e, ERR_INTERNAL, "zstd: self-check decoded %llu of %llu bytes%s",
			       (unsigned long long)w->zcheck_raw,
			       (unsigned long long)(w->raw_bytes + n),
			       w->zcheck_left ? " and the frame is not complete" : "");
	return 0;
}

/* Open a writer for o->codec onto fd (not owned: the caller closes and fsyncs
 * it). Levels are on the codec's scale: gzip 0..12 (libdeflate's; 1..9 are
 * comparable to gzip's), zstd ZSTD_minCLevel()..ZSTD_maxCLevel(); -1 means
 * stream_default_level(). threads >= 1; block_size 0 means 1 MiB, else
 * 4 KiB..256 MiB (gzip only). gzip memory is about (2*threads+2) * 2 *
 * block_size. Returns 0 with *w set, or -1 with e set (ERR_INTERNAL for bad
 * options, out of memory or a thread that cannot start). */
int stream_writer_open(struct stream_writer **wp, int fd, const struct stream_opts *o,
		       struct err *e)
{
	struct stream_writer *w = NULL;
	int level;

	*wp = NULL;
	if (!o || fd < 0 || o->threads < 1 || o->threads > THREADS_MAX ||
	    (o->block_size && (o->block_size < BLOCK_MIN || o->block_size > BLOCK_MAX)))
		return err_set(e, ERR_INTERNAL,
			       "stream: bad options (fd %d, threads %d, block size %zu)", fd,
			       o ? o->threads : 0, o ? o->block_size : 0);
	level = o->level == -1 ? stream_default_level(o->codec) : o->level;
	switch (o->codec) {
	case STREAM_NONE:
		break;
	case STREAM_GZIP:
		if (level < 0 || level > GZIP_MAX_LEVEL)
			return err_set(e, ERR_INTERNAL, "gzip: level %d not in 0..%d", level,
				       GZIP_MAX_LEVEL);
		break;
	case STREAM_ZSTD:
		if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
			return err_set(e, ERR_INTERNAL, "zstd: level %d not in %d..%d", level,
				       ZSTD_minCLevel(), ZSTD_maxCLevel());
		break;
	default:
		return err_set(e, ERR_INTERNAL, "stream: unknown codec %d", (int)o->codec);
	}

	w = calloc(1, sizeof *w);
	if (!w)
		return err_set(e, ERR_INTERNAL, "stream: out of memory");
	w->codec = o->codec;
	w->fd = fd;
	w->level = level;
	w->stop_fn = o->stop;
	w->md = digest_new();
	if (!w->md) {
		err_set(e, ERR_INTERNAL, "stream: out of memory");
		goto fail;
	}
	if (o->codec == STREAM_GZIP && gzip_open(w, o, e) < 0)
		goto fail;
	if (o->codec == STREAM_ZSTD && zstd_open(w, o, e) < 0)
		goto fail;
	*wp = w;
	return 0;
fail:
	stream_writer_free(w);
	return -1;
}

/* Feed n raw bytes from buf (not retained). May block while workers catch
 * up. Returns 0, or -1 with e set: ERR_NOSPACE for ENOSPC/EDQUOT (message
 * contains "No space left on device"), ERR_IO for other write errors,
 * ERR_INTERNAL for compressor failures. After an error, every later call
 * returns the same error. */
int stream_write(struct stream_writer *w, const void *buf, size_t n, struct err *e)
{
	struct err local;
	int rc = 0;

	if (!e)
		e = &local;
	if (w->failed)
		return writer_sticky(w, e);
	if (n == 0)
		return 0;
	switch (w->codec) {
	case STREAM_GZIP:
		rc = gzip_write(w, buf, n, e);
		break;
	case STREAM_ZSTD:
		rc = zstd_pump(w, buf, n, ZSTD_e_continue, e);
		break;
	default:
		rc = emit(w, buf, n, e);
		break;
	}
	if (rc < 0)
		return writer_fail(w, e);
	w->raw_bytes += n;
	return 0;
}

/* Flush all blocks / end the zstd frame, fill *st (may be NULL; zeroed on
 * error) and free w. Returns 0, or -1 with e set as for stream_write; w is
 * freed either way. The caller still fsyncs and closes fd. */
int stream_writer_close(struct stream_writer *w, struct stream_stats *st, struct err *e)
{
	struct err local;
	int rc = -1;

	if (!e)
		e = &local;
	if (st)
		memset(st, 0, sizeof *st);
	if (!w)
		return err_set(e, ERR_INTERNAL, "stream: close of a NULL writer");
	if (w->failed) {
		writer_sticky(w, e);
		goto out;
	}
	if (w->codec == STREAM_GZIP && gzip_finish(w, e) < 0)
		goto out;
	if (w->codec == STREAM_ZSTD && zstd_pump(w, NULL, 0, ZSTD_e_end, e) < 0)
		goto out;
	if (st) {
		st->raw_bytes = w->raw_bytes;
		st->stored_bytes = w->stored_bytes;
		st->stored_crc32 = w->stored_crc32;
		digest_final_hex(w->md, st->sha256);
	}
	rc = 0;
out:
	stream_writer_free(w);
	return rc;
}

/* Abandon a writer: stop and join workers, free everything. fd is left
 * alone. NULL is ok. */
void stream_writer_free(struct stream_writer *w)
{
	if (!w)
		return;
	stop_workers(w);
	if (w->workers) {
		for (size_t i = 0; i < w->nworkers_alloc; i++)
			deflater_free(&w->workers[i].d);
		free(w->workers);
	}
	if (w->sync_init) {
		pthread_cond_destroy(&w->cv_done);
		pthread_cond_destroy(&w->cv_work);
		pthread_mutex_destroy(&w->mu);
	}
	deflater_free(&w->inline_d);
	for (size_t i = 0; w->slots && i < w->nslots; i++) {
		free(w->slots[i].raw);
		free(w->slots[i].out);
	}
	free(w->slots);
	/* ZSTD_freeCCtx (and ZSTD_CCtx_reset) join libzstd's worker threads,
	 * which first finish the job they hold: minutes at levels 19-22. After
	 * a stop request the process is on its way out (exit 128+N), so the
	 * context is left to the exit instead of keeping a stop waiting past
	 * Docker's grace period (then SIGKILL, no manifest). */
	if (!w->zstd_abandoned)
		ZSTD_freeCCtx(w->cctx);
	free(w->zbuf);
	ZSTD_freeDCtx(w->zcheck);
	free(w->zcheck_buf);
	digest_free(w->md);
	free(w);
}

/* ------------------------------------------------------------------------ */
/* Reader.                                                                  */
/*
 * A producer decodes the file into a ring of RD_SLOTS output slots; the
 * caller's stream_read copies out of them. The producer is a helper thread,
 * so that reading, hashing and decompressing overlap with what the caller
 * does with the data (dumpscan, feeding psql, libarchive); when no thread
 * can be started, stream_read runs the producer itself, slot by slot.
 *
 * gzip fast path: a member that lies whole in the input buffer and decodes
 * to at most RD_SLOT_CAP bytes (every member vigil writes: one per 1 MiB
 * block) is decoded in one call by libdeflate_gzip_decompress_ex straight
 * into a slot, CRC-32 and ISIZE checked, at about three times zlib's speed.
 * Any other member - larger, foreign, damaged or truncated - is decoded by
 * zlib's streaming inflate from its first byte, which also words the errors;
 * after RD_FAST_GIVEUP more misses than hits (a foreign single-member file)
 * the fast path is no longer tried.
 */
#define RD_IN_CAP ((size_t)4 << 20)   /* input buffer */
#define RD_IN_LOW (RD_IN_CAP / 2)     /* the fast path tops it up below this */
#define RD_SLOT_CAP ((size_t)4 << 20) /* slot size = largest member decoded whole */
#define RD_FILL ((size_t)1 << 20)     /* streaming decoders fill a slot up to this */
#define RD_SLOTS 4
#define RD_FAST_GIVEUP 2

enum { RD_MORE = 0, RD_EOF, RD_ERR };

struct rslot {
	unsigned char *buf; /* RD_SLOT_CAP bytes */
	size_t len, pos;
	int end;          /* RD_MORE, or after the data: RD_EOF (clean end), RD_ERR */
	struct err err;   /* RD_ERR */
};

/* Synchronisation with the helper thread (separate, so that the const
 * reader of stream_reader_stats can still take the lock). */
struct reader_sync {
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv_prod; /* the producer waits for a free slot / unpause */
	pthread_cond_t cv_cons; /* the consumer waits for a slot / for !busy */
	bool stop;  /* stream_reader_free: producer, quit */
	bool pause; /* stream_reader_stats: producer, do not start a slot */
	bool busy;  /* the producer is filling a slot (owns md, counters) */
};

struct stream_reader {
	enum stream_codec codec;
	int fd;

	/* producer side (the helper thread, or stream_read without one) */
	struct digest *md;
	uint64_t stored_bytes;
	unsigned char *in; /* RD_IN_CAP */
	size_t in_pos, in_len;
	bool eof; /* read() returned 0 */
	/* Between members/frames (true at start): the next input byte, if
	 * any, begins a new one. */
	bool between;
	uint64_t members; /* members/frames started */
	z_stream zs;
	bool zs_init;
	ZSTD_DCtx *dctx;
	struct libdeflate_decompressor *ld;
	bool fast; /* try libdeflate on the next gzip member */
	uint64_t fast_hits, fast_misses;

	/* the ring: slot i is published when prod_seq > i, back when cons_seq > i */
	struct rslot slots[RD_SLOTS];
	uint64_t prod_seq, cons_seq;
	struct reader_sync *sy; /* NULL: no helper thread */

	/* consumer side (stream_read) */
	uint64_t raw_bytes;
	bool finished; /* clean end reported */
	bool failed;
	struct err err;
};

/* Refill the input buffer when it is empty. Returns 0 (possibly at eof) or
 * -1 with e set. */
static int reader_fill(struct stream_reader *r, struct err *e)
{
	ssize_t k;

	if (r->in_pos < r->in_len || r->eof)
		return 0;
	k = fdio_read_some(r->fd, r->in, RD_IN_CAP, e);
	if (k < 0)
		return -1;
	r->in_pos = 0;
	r->in_len = (size_t)k;
	if (k == 0) {
		r->eof = true;
		return 0;
	}
	digest_update(r->md, r->in, (size_t)k);
	r->stored_bytes += (uint64_t)k;
	return 0;
}

/* Move the unread input to the front and read until the buffer is full or
 * the file ends; only when fewer than RD_IN_LOW bytes are buffered, or with
 * full, whenever the buffer is not full. Returns 0 or -1 with e set. */
static int reader_top_up(struct stream_reader *r, bool full, struct err *e)
{
	size_t avail = r->in_len - r->in_pos;

	if (r->eof || avail == RD_IN_CAP || (!full && avail >= RD_IN_LOW))
		return 0;
	memmove(r->in, r->in + r->in_pos, avail);
	r->in_pos = 0;
	r->in_len = avail;
	while (r->in_len < RD_IN_CAP) {
		ssize_t k = fdio_read_some(r->fd, r->in + r->in_len, RD_IN_CAP - r->in_len, e);

		if (k < 0)
			return -1;
		if (k == 0) {
			r->eof = true;
			break;
		}
		digest_update(r->md, r->in + r->in_len, (size_t)k);
		r->stored_bytes += (uint64_t)k;
		r->in_len += (size_t)k;
	}
	return 0;
}

/* Common end-of-input decision at a member/frame boundary. */
static ssize_t reader_at_boundary_eof(struct stream_reader *r, struct err *e)
{
	if (r->members == 0)
		return err_set(e, ERR_CORRUPT, "empty file, not a %s stream",
			       stream_codec_name(r->codec));
	return 0;
}

/* The gzip fast path: decode the member starting at the next input byte
 * whole into out (cap bytes). Returns its length (0 for an empty member)
 * with the input advanced past it; -1 when it does not apply (no member
 * starts here, it is larger than cap or than the input buffer, or it is
 * damaged: zlib decodes it then); -3 when it is larger than cap but would
 * fit an empty slot (only with partial: out already follows other data);
 * -2 on a read error, e set. */
static ssize_t gzip_fast_member(struct stream_reader *r, unsigned char *out, size_t cap,
				bool partial, struct err *e)
{
	enum libdeflate_result res;
	size_t in_used = 0, out_len = 0;

	if (reader_top_up(r, false, e) < 0)
		return -2;
	if (r->in_pos == r->in_len || r->in[r->in_pos] != 0x1f)
		return -1;
	res = libdeflate_gzip_decompress_ex(r->ld, r->in + r->in_pos, r->in_len - r->in_pos, out,
					    cap, &in_used, &out_len);
	if (res == LIBDEFLATE_INSUFFICIENT_SPACE && partial)
		return -3;
	if (res != LIBDEFLATE_SUCCESS && res != LIBDEFLATE_INSUFFICIENT_SPACE && !r->eof &&
	    r->in_len - r->in_pos < RD_IN_CAP) {
		/* Perhaps the member runs past the buffered input. */
		if (reader_top_up(r, true, e) < 0)
			return -2;
		res = libdeflate_gzip_decompress_ex(r->ld, r->in + r->in_pos,
						    r->in_len - r->in_pos, out, cap, &in_used,
						    &out_len);
		if (res == LIBDEFLATE_INSUFFICIENT_SPACE && partial)
			return -3;
	}
	if (res != LIBDEFLATE_SUCCESS) {
		if (++r->fast_misses > r->fast_hits + RD_FAST_GIVEUP)
			r->fast = false;
		return -1;
	}
	r->fast_hits++;
	r->in_pos += in_used;
	r->members++;
	return (ssize_t)out_len;
}

/* zlib's streaming inflate. With the fast path on, it returns at the end
 * of a member that produced data, so that the next member is tried fast. */
static ssize_t gzip_read(struct stream_reader *r, unsigned char *buf, size_t n,
			 struct err *e)
{
	z_stream *zs = &r->zs;
	uInt want = n > UINT_MAX ? UINT_MAX : (uInt)n;

	zs->next_out = buf;
	zs->avail_out = want;
	while (zs->avail_out == want) {
		uInt before_in, before_out;
		int ret;

		if (reader_fill(r, e) < 0)
			return -1;
		if (r->between) {
			if (r->in_pos == r->in_len)
				return reader_at_boundary_eof(r, e);
			if (r->in[r->in_pos] != 0x1f) {
				if (r->members == 0)
					return err_set(e, ERR_CORRUPT,
						       "not a gzip stream (bad magic)");
				return err_set(e, ERR_CORRUPT,
					       "trailing garbage after gzip member %llu",
					       (unsigned long long)r->members);
			}
			if (inflateReset(zs) != Z_OK)
				return err_set(e, ERR_INTERNAL, "gzip: inflateReset failed");
			r->between = false;
			r->members++;
		}
		zs->next_in = r->in + r->in_pos;
		zs->avail_in = (uInt)(r->in_len - r->in_pos);
		before_in = zs->avail_in;
		before_out = zs->avail_out;
		ret = inflate(zs, Z_NO_FLUSH);
		r->in_pos = r->in_len - zs->avail_in;
		switch (ret) {
		case Z_STREAM_END:
			r->between = true;
			if (r->fast && zs->avail_out != want)
				return (ssize_t)(want - zs->avail_out);
			break;
		case Z_OK:
			break;
		case Z_BUF_ERROR: /* no progress possible */
			break;
		case Z_MEM_ERROR:
			return err_set(e, ERR_INTERNAL, "gzip: out of memory");
		case Z_NEED_DICT:
			return err_set(e, ERR_CORRUPT,
				       "corrupt gzip data in member %llu: needs a dictionary",
				       (unsigned long long)r->members);
		default:
			return err_set(e, ERR_CORRUPT, "corrupt gzip data in member %llu: %s",
				       (unsigned long long)r->members,
				       zs->msg ? zs->msg : "invalid data");
		}
		if (ret != Z_STREAM_END && zs->avail_in == before_in &&
		    zs->avail_out == before_out && r->in_pos == r->in_len && r->eof)
			return err_set(e, ERR_CORRUPT,
				       "truncated gzip stream: input ends inside member %llu",
				       (unsigned long long)r->members);
	}
	return (ssize_t)(want - zs->avail_out);
}

static ssize_t zstd_read(struct stream_reader *r, unsigned char *buf, size_t n,
			 struct err *e)
{
	ZSTD_outBuffer out = { buf, n, 0 };

	while (out.pos == 0) {
		ZSTD_inBuffer in;
		size_t ret, before_out = out.pos;

		if (reader_fill(r, e) < 0)
			return -1;
		if (r->between) {
			if (r->in_pos == r->in_len)
				return reader_at_boundary_eof(r, e);
			r->between = false;
			r->members++;
		}
		in.src = r->in;
		in.size = r->in_len;
		in.pos = r->in_pos;
		ret = ZSTD_decompressStream(r->dctx, &out, &in);
		if (ZSTD_isError(ret)) {
			if (ZSTD_getErrorCode(ret) == ZSTD_error_prefix_unknown && r->members == 1)
				return err_set(e, ERR_CORRUPT, "not a zstd stream (bad magic)");
			if (ZSTD_getErrorCode(ret) == ZSTD_error_prefix_unknown)
				return err_set(e, ERR_CORRUPT,
					       "trailing garbage after zstd frame %llu",
					       (unsigned long long)(r->members - 1));
			return err_set(e, ERR_CORRUPT, "corrupt zstd data in frame %llu: %s",
				       (unsigned long long)r->members, ZSTD_getErrorName(ret));
		}
		if (ret == 0) {
			r->between = true;
			r->in_pos = in.pos;
			continue;
		}
		if (in.pos == r->in_pos && out.pos == before_out && r->eof &&
		    in.pos == in.size)
			return err_set(e, ERR_CORRUPT,
				       "truncated zstd stream: input ends inside frame %llu",
				       (unsigned long long)r->members);
		r->in_pos = in.pos;
	}
	return (ssize_t)out.pos;
}

/* Decode up to n bytes with the codec's streaming decoder. Returns the
 * count, 0 at the clean end, or -1 with e set. */
static ssize_t reader_decode(struct stream_reader *r, unsigned char *buf, size_t n,
			     struct err *e)
{
	ssize_t k;

	switch (r->codec) {
	case STREAM_GZIP:
		return gzip_read(r, buf, n, e);
	case STREAM_ZSTD:
		return zstd_read(r, buf, n, e);
	default:
		k = fdio_read_some(r->fd, buf, n, e);
		if (k > 0) {
			digest_update(r->md, buf, (size_t)k);
			r->stored_bytes += (uint64_t)k;
		} else if (k == 0) {
			r->eof = true;
		}
		return k;
	}
}

/* Fill slot s with up to RD_FILL bytes (a little more on the gzip fast
 * path, which decodes whole members: a slot holds RD_SLOT_CAP); s->end says
 * whether the stream ended (cleanly or not) after them. */
static void produce_slot(struct stream_reader *r, struct rslot *s)
{
	struct err e;

	err_clear(&e);
	s->len = 0;
	s->pos = 0;
	s->end = RD_MORE;
	while (s->len < RD_FILL) {
		ssize_t k;

		if (r->fast && r->between) {
			k = gzip_fast_member(r, s->buf + s->len, RD_SLOT_CAP - s->len, s->len > 0,
					     &e);
			if (k >= 0) {
				s->len += (size_t)k;
				continue;
			}
			if (k == -3)
				return; /* the member goes into the next slot */
			if (k == -2) {
				s->end = RD_ERR;
				s->err = e;
				return;
			}
		}
		k = reader_decode(r, s->buf + s->len, RD_FILL - s->len, &e);
		if (k < 0) {
			s->end = RD_ERR;
			s->err = e;
			return;
		}
		if (k == 0) {
			s->end = RD_EOF;
			return;
		}
		s->len += (size_t)k;
	}
}

static void *reader_main(void *arg)
{
	struct stream_reader *r = arg;
	struct reader_sync *sy = r->sy;

	pthread_mutex_lock(&sy->mu);
	for (;;) {
		struct rslot *s;

		while (!sy->stop && (sy->pause || r->prod_seq - r->cons_seq == RD_SLOTS))
			pthread_cond_wait(&sy->cv_prod, &sy->mu);
		if (sy->stop)
			break;
		s = &r->slots[r->prod_seq % RD_SLOTS];
		sy->busy = true;
		pthread_mutex_unlock(&sy->mu);

		produce_slot(r, s);

		pthread_mutex_lock(&sy->mu);
		sy->busy = false;
		r->prod_seq++;
		pthread_cond_broadcast(&sy->cv_cons);
		if (s->end != RD_MORE)
			break;
	}
	pthread_mutex_unlock(&sy->mu);
	return NULL;
}

/* Start the helper thread; without one, stream_read produces slots itself. */
static void reader_start_thread(struct stream_reader *r)
{
	struct reader_sync *sy = calloc(1, sizeof *sy);

	if (!sy)
		return;
	if (pthread_mutex_init(&sy->mu, NULL) != 0)
		goto fail;
	if (pthread_cond_init(&sy->cv_prod, NULL) != 0)
		goto fail_mu;
	if (pthread_cond_init(&sy->cv_cons, NULL) != 0)
		goto fail_prod;
	r->sy = sy;
	if (pthread_create(&sy->tid, NULL, reader_main, r) == 0)
		return;
	r->sy = NULL;
	pthread_cond_destroy(&sy->cv_cons);
fail_prod:
	pthread_cond_destroy(&sy->cv_prod);
fail_mu:
	pthread_mutex_destroy(&sy->mu);
fail:
	free(sy);
}

/* Open a reader of codec on fd (not owned; read from its current offset).
 * Returns 0 with *r set, or -1 with e set (ERR_INTERNAL: out of memory or
 * unknown codec). */
int stream_reader_open(struct stream_reader **rp, int fd, enum stream_codec codec,
		       struct err *e)
{
	struct stream_reader *r = NULL;

	*rp = NULL;
	if (codec != STREAM_NONE && codec != STREAM_GZIP && codec != STREAM_ZSTD)
		return err_set(e, ERR_INTERNAL, "stream: unknown codec %d", (int)codec);
	r = calloc(1, sizeof *r);
	if (!r)
		return err_set(e, ERR_INTERNAL, "stream: out of memory");
	r->codec = codec;
	r->fd = fd;
	r->between = true;
	r->md = digest_new();
	r->in = malloc(RD_IN_CAP);
	if (!r->md || !r->in)
		goto oom;
	for (size_t i = 0; i < RD_SLOTS; i++) {
		r->slots[i].buf = malloc(RD_SLOT_CAP);
		if (!r->slots[i].buf)
			goto oom;
	}
	if (codec == STREAM_GZIP) {
		/* 15 + 16: gzip wrapper only, largest window (zlib.h). */
		if (inflateInit2(&r->zs, 15 + 16) != Z_OK)
			goto oom;
		r->zs_init = true;
		r->ld = libdeflate_alloc_decompressor();
		r->fast = r->ld != NULL;
	}
	if (codec == STREAM_ZSTD) {
		r->dctx = ZSTD_createDCtx();
		if (!r->dctx)
			goto oom;
	}
	reader_start_thread(r);
	*rp = r;
	return 0;
oom:
	stream_reader_free(r);
	return err_set(e, ERR_INTERNAL, "stream: out of memory");
}

/* Read up to n decompressed bytes into buf. Returns the count (> 0), 0 at
 * the clean end of the stream (every gzip member / zstd frame complete and
 * checked, nothing after the last one) or when n is 0, or -1 with e set:
 * ERR_CORRUPT for bad magic, an empty file, bad data, CRC/length/checksum
 * mismatches, truncation ("truncated") and trailing garbage; ERR_IO for
 * read errors. Errors are sticky. Formats: RFC 1952 (gzip, multi-member as
 * gzip -d accepts), RFC 8878 (zstd, several frames, skippable frames). */
ssize_t stream_read(struct stream_reader *r, void *buf, size_t n, struct err *e)
{
	struct err local;

	if (!e)
		e = &local;
	if (r->failed) {
		*e = r->err;
		return -1;
	}
	if (r->finished || n == 0)
		return 0;
	if (n > (size_t)SSIZE_MAX)
		n = (size_t)SSIZE_MAX;
	for (;;) {
		struct rslot *s = &r->slots[r->cons_seq % RD_SLOTS];

		if (r->sy) {
			pthread_mutex_lock(&r->sy->mu);
			while (r->prod_seq == r->cons_seq)
				pthread_cond_wait(&r->sy->cv_cons, &r->sy->mu);
			pthread_mutex_unlock(&r->sy->mu);
		} else if (r->prod_seq == r->cons_seq) {
			produce_slot(r, s);
			r->prod_seq++;
		}
		if (s->pos < s->len) {
			size_t k = s->len - s->pos < n ? s->len - s->pos : n;

			memcpy(buf, s->buf + s->pos, k);
			s->pos += k;
			r->raw_bytes += (uint64_t)k;
			return (ssize_t)k;
		}
		if (s->end == RD_EOF) {
			r->finished = true;
			return 0;
		}
		if (s->end == RD_ERR) {
			r->failed = true;
			r->err = s->err;
			*e = s->err;
			return -1;
		}
		/* Drained: give the slot back to the producer. */
		if (r->sy) {
			pthread_mutex_lock(&r->sy->mu);
			r->cons_seq++;
			pthread_cond_signal(&r->sy->cv_prod);
			pthread_mutex_unlock(&r->sy->mu);
		} else {
			r->cons_seq++;
		}
	}
}

/* Totals so far: raw = decompressed bytes returned; stored = bytes read
 * and sha256 of them (the helper thread reads a few MiB ahead of what was
 * returned). After stream_read returned 0 they cover the whole file. */
void stream_reader_stats(const struct stream_reader *r, struct stream_stats *st)
{
	struct reader_sync *sy = r->sy;

	memset(st, 0, sizeof *st);
	st->raw_bytes = r->raw_bytes;
	if (sy) {
		/* Let the producer finish its slot and start no other meanwhile:
		 * it owns md and stored_bytes while busy. */
		pthread_mutex_lock(&sy->mu);
		sy->pause = true;
		while (sy->busy)
			pthread_cond_wait(&sy->cv_cons, &sy->mu);
	}
	st->stored_bytes = r->stored_bytes;
	digest_peek_hex(r->md, st->sha256);
	if (sy) {
		sy->pause = false;
		pthread_cond_broadcast(&sy->cv_prod);
		pthread_mutex_unlock(&sy->mu);
	}
}

/* Free a reader (stops its helper thread); fd is left alone. NULL is ok. */
void stream_reader_free(struct stream_reader *r)
{
	if (!r)
		return;
	if (r->sy) {
		pthread_mutex_lock(&r->sy->mu);
		r->sy->stop = true;
		pthread_cond_broadcast(&r->sy->cv_prod);
		pthread_mutex_unlock(&r->sy->mu);
		pthread_join(r->sy->tid, NULL);
		pthread_cond_destroy(&r->sy->cv_cons);
		pthread_cond_destroy(&r->sy->cv_prod);
		pthread_mutex_destroy(&r->sy->mu);
		free(r->sy);
	}
	if (r->zs_init)
		inflateEnd(&r->zs);
	libdeflate_free_decompressor(r->ld);
	ZSTD_freeDCtx(r->dctx);
	digest_free(r->md);
	for (size_t i = 0; i < RD_SLOTS; i++)
		free(r->slots[i].buf);
	free(r->in);
	free(r);
}

void stream_lib_versions(char *out, size_t n)
{
	unsigned z = ZSTD_versionNumber();

	snprintf(out, n, "zlib %s, libdeflate %s, zstd %u.%u.%u", zlibVersion(), LIBDEFLATE_VERSION_STRING,
		 z / 10000, z / 100 % 100, z % 100);
}
