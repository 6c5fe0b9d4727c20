/* stream.c - the stream engine: threads, slots, order, hashing, the file.
 *
 * See stream.h for the contract and codec.h for the seam below: the gzip
 * and zstd codecs (codec_gzip.c, codec_zstd.c) are the only code that knows
 * zlib, libdeflate or libzstd, digest.c the only code that knows OpenSSL,
 * and fdio.c does the descriptor loops. STREAM_NONE has no codec: its bytes
 * are stored as given.
 *
 * Writer, block codecs (gzip): the raw input is cut into blocks and each is
 * compressed on its own (one or more gzip members), either inline
 * (threads == 1) or by a pool of worker threads; the caller's thread writes
 * finished blocks to the descriptor in input order and hashes them there. A
 * fixed ring of slots bounds memory whatever the input size.
 *
 * Writer, stream codecs (zstd): the library runs its own threads; its
 * output comes back through emit_sink and is hashed and written there.
 *
 * Readers are in stream_reader.c.
 */
#include "infra/stream.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra/codec.h"
#include "infra/digest.h"
#include "infra/fdio.h"
#include "infra/stream_int.h"

#define BLOCK_DEFAULT ((size_t)1 << 20)
#define BLOCK_MIN ((size_t)4096)
#define BLOCK_MAX ((size_t)256 << 20)
#define THREADS_MAX 1024

/* The writer starts writeback of its output every WRITEBACK_STEP bytes. */
#define WRITEBACK_STEP ((uint64_t)8 << 20)

/* ------------------------------------------------------------------------ */
/* Digests of data not written, and of whole files.                         */

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

	*c = codec_gzip_crc32(*c, p, n);
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

/* See stream.h: the CRC-32 is gzip's, computed in codec_gzip.c. */
uint32_t stream_crc32(uint32_t crc, const void *buf, uint64_t n)
{
	return codec_gzip_crc32(crc, buf, n);
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

/* See stream_int.h. */
const struct codec *stream_codec_of(enum stream_codec c)
{
	switch (c) {
	case STREAM_GZIP:
		return &codec_gzip;
	case STREAM_ZSTD:
		return &codec_zstd;
	default:
		return NULL;
	}
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
 *       typical plain SQL dump is no larger than `gzip -6`'s (README "Configuration";
 *       the measurement is at GZIP_DEFAULT_LEVEL in codec_gzip.c).
 * zstd: 1 (measured in codec_zstd.c; libzstd's own default, 3, is slower and larger here).
 * none: 0. */
int stream_default_level(enum stream_codec c)
{
	const struct codec *k = stream_codec_of(c);

	return k ? k->default_level : 0;
}

/* "zlib 1.2.13, libdeflate 1.14, zstd 1.5.4": each codec names its own. */
void stream_lib_versions(char *out, size_t n)
{
	char gz[128], zs[64];

	codec_gzip.lib_versions(gz, sizeof gz);
	codec_zstd.lib_versions(zs, sizeof zs);
	snprintf(out, n, "%s, %s", gz, zs);
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

struct worker {
	pthread_t tid;
	struct stream_writer *w;
	struct codec_block *b; /* this thread's compressor */
};

struct stream_writer {
	const struct codec *c; /* NULL: STREAM_NONE, bytes stored as given */
	int fd;
	int level;
	struct digest *md;
	uint64_t raw_bytes;
	uint64_t stored_bytes;
	uint32_t stored_crc32;  /* CRC-32 of the stored bytes (stream_crc32_fd) */
	uint64_t writeback_at;  /* stored bytes handed to writeback so far */
	bool failed;
	struct err err; /* sticky: the first failure */

	/* block codecs */
	size_t block_size;
	size_t out_cap;
	struct slot *slots;
	size_t nslots;
	uint64_t submit_seq;   /* blocks handed to compression */
	uint64_t compress_seq; /* blocks taken by workers */
	uint64_t write_seq;    /* blocks written to fd */
	struct codec_block *inline_b; /* used when there are no workers */
	struct worker *workers; /* nworkers_alloc entries */
	size_t nworkers_alloc;
	size_t nworkers; /* threads started */
	bool sync_init;
	bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv_work; /* workers wait for queued slots */
	pthread_cond_t cv_done; /* the caller waits for finished slots */

	/* stream codecs */
	struct codec_enc *enc;
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
	w->stored_crc32 = codec_gzip_crc32(w->stored_crc32, buf, n);
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

/* emit() as a stream codec's sink. */
static int emit_sink(void *arg, const unsigned char *buf, size_t n, struct err *e)
{
	return emit(arg, buf, n, e);
}

/* Compress slot s with compressor b; a failure is kept in the slot. */
static void compress_slot(struct stream_writer *w, struct codec_block *b, struct slot *s)
{
	s->out_len = 0;
	if (w->c->block_compress(b, s->raw, s->raw_len, s->out, w->out_cap, &s->out_len,
				 &s->err) < 0)
		s->failed = true;
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

		compress_slot(w, me->b, s);

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
		err_prefix(e, "%s", w->c->name);
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
		compress_slot(w, w->inline_b, s);
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

static int blocks_write(struct stream_writer *w, const unsigned char *p, size_t n,
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

/* Submit the partial last block (or an empty block for empty input, so the
 * file is still valid: an empty gzip member) and write everything. */
static int blocks_finish(struct stream_writer *w, struct err *e)
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

/* Start threads workers, each with its own compressor. Returns 0, 1 when
 * out of memory, or -1 with e set (a thread that cannot start). */
static int start_workers(struct stream_writer *w, size_t threads, struct err *e)
{
	if (pthread_mutex_init(&w->mu, NULL) != 0)
		return 1;
	if (pthread_cond_init(&w->cv_work, NULL) != 0) {
		pthread_mutex_destroy(&w->mu);
		return 1;
	}
	if (pthread_cond_init(&w->cv_done, NULL) != 0) {
		pthread_cond_destroy(&w->cv_work);
		pthread_mutex_destroy(&w->mu);
		return 1;
	}
	w->sync_init = true;
	w->workers = calloc(threads, sizeof *w->workers);
	if (!w->workers)
		return 1;
	w->nworkers_alloc = threads;
	for (size_t i = 0; i < threads; i++) {
		struct worker *wk = &w->workers[i];
		int rc;

		wk->w = w;
		wk->b = w->c->block_new(w->level, w->block_size);
		if (!wk->b)
			return 1;
		rc = pthread_create(&wk->tid, NULL, worker_main, wk);
		if (rc != 0) {
			w->c->block_free(wk->b);
			wk->b = NULL;
			return err_errno(e, ERR_INTERNAL, rc, "%s: cannot start thread", w->c->name);
		}
		w->nworkers++;
	}
	return 0;
}

/* Set up a block codec: the ring of slots, and the compressor inline or on
 * workers. Returns 0 or -1 with e set. */
static int blocks_open(struct stream_writer *w, const struct stream_opts *o, struct err *e)
{
	size_t threads = (size_t)o->threads;
	int rc;

	w->block_size = o->block_size ? o->block_size : BLOCK_DEFAULT;
	w->out_cap = w->c->block_out_cap(w->block_size);
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
		w->inline_b = w->c->block_new(w->level, w->block_size);
		if (!w->inline_b)
			goto oom;
		return 0;
	}
	rc = start_workers(w, threads, e);
	if (rc <= 0)
		return rc;
oom:
	return err_set(e, ERR_INTERNAL, "%s: out of memory (block size %zu, %d threads)",
		       w->c->name, w->block_size, o->threads);
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
	const struct codec *c;
	int level;

	*wp = NULL;
	if (!o || fd < 0 || o->threads < 1 || o->threads > THREADS_MAX ||
	    (o->block_size && (o->block_size < BLOCK_MIN || o->block_size > BLOCK_MAX)))
		return err_set(e, ERR_INTERNAL,
			       "stream: bad options (fd %d, threads %d, block size %zu)", fd,
			       o ? o->threads : 0, o ? o->block_size : 0);
	level = o->level == -1 ? stream_default_level(o->codec) : o->level;
	c = stream_codec_of(o->codec);
	if (!c && o->codec != STREAM_NONE)
		return err_set(e, ERR_INTERNAL, "stream: unknown codec %d", (int)o->codec);
	if (c && c->level_check(level, e) < 0)
		return -1;

	w = calloc(1, sizeof *w);
	if (!w)
		return err_set(e, ERR_INTERNAL, "stream: out of memory");
	w->c = c;
	w->fd = fd;
	w->level = level;
	w->md = digest_new();
	if (!w->md) {
		err_set(e, ERR_INTERNAL, "stream: out of memory");
		goto fail;
	}
	if (c && c->block_compress && blocks_open(w, o, e) < 0)
		goto fail;
	if (c && c->enc_open && c->enc_open(&w->enc, level, o->threads, o->stop, emit_sink, w, e) < 0)
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
	if (!w->c)
		rc = emit(w, buf, n, e);
	else if (w->c->block_compress)
		rc = blocks_write(w, buf, n, e);
	else
		rc = w->c->enc_write(w->enc, buf, n, e);
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
	if (w->c && w->c->block_compress && blocks_finish(w, e) < 0)
		goto out;
	if (w->c && w->c->enc_finish && w->c->enc_finish(w->enc, e) < 0)
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

/* Abandon a writer: stop and join workers (a stream codec stopped by
 * stream_opts.stop leaves its library's threads to the process's exit, see
 * codec.h), free everything. fd is left alone. NULL is ok. */
void stream_writer_free(struct stream_writer *w)
{
	if (!w)
		return;
	stop_workers(w);
	if (w->workers) {
		for (size_t i = 0; i < w->nworkers_alloc; i++)
			w->c->block_free(w->workers[i].b);
		free(w->workers);
	}
	if (w->sync_init) {
		pthread_cond_destroy(&w->cv_done);
		pthread_cond_destroy(&w->cv_work);
		pthread_mutex_destroy(&w->mu);
	}
	if (w->c && w->c->block_free)
		w->c->block_free(w->inline_b);
	for (size_t i = 0; w->slots && i < w->nslots; i++) {
		free(w->slots[i].raw);
		free(w->slots[i].out);
	}
	free(w->slots);
	if (w->enc)
		w->c->enc_free(w->enc);
	digest_free(w->md);
	free(w);
}
