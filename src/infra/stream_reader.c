/* stream_reader.c - the stream engine's reader: a helper thread decoding
 * ahead into a ring of slots.
 *
 * See stream.h for the contract (stream_reader_*) and codec.h for the seam
 * below: the codec decodes from an input buffer (struct codec_in) that this
 * file fills from the descriptor and hashes (digest.c); STREAM_NONE has no
 * codec, its bytes are read as stored. The writer is in stream.c.
 */
#include "infra/stream.h"

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "infra/codec.h"
#include "infra/digest.h"
#include "infra/fdio.h"
#include "infra/stream_int.h"

/*
 * A producer decodes the file into a ring of RD_SLOTS output slots; the
 * caller's stream_read copies out of them. The producer is a helper thread,
 * so that reading, hashing and decompressing overlap with what the caller
 * does with the data (dumpscan, feeding psql, libarchive); when no thread
 * can be started, stream_read runs the producer itself, slot by slot.
 *
 * A codec with a whole-unit decoder (gzip's libdeflate fast path, see
 * codec_gzip.c) decodes every unit that fits straight into a slot, which
 * holds RD_SLOT_CAP: every member vigil writes (one per 1 MiB block) fits.
 * Anything else goes through the codec's streaming decoder, RD_FILL bytes
 * a slot.
 */
#define RD_IN_CAP ((size_t)4 << 20)   /* input buffer */
#define RD_IN_LOW (RD_IN_CAP / 2)     /* the fast path tops it up below this */
#define RD_SLOT_CAP ((size_t)4 << 20) /* slot size = largest member decoded whole */
#define RD_FILL ((size_t)1 << 20)     /* streaming decoders fill a slot up to this */
#define RD_SLOTS 4

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
	const struct codec *c; /* NULL: STREAM_NONE, bytes read as stored */
	int fd;

	/* producer side (the helper thread, or stream_read without one) */
	struct digest *md;
	uint64_t stored_bytes;
	struct codec_in in; /* RD_IN_CAP; in.fill and in.top_up below */
	struct codec_dec *dec;

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

/* The reader whose input buffer in is. */
static struct stream_reader *reader_of(struct codec_in *in)
{
	return (struct stream_reader *)((char *)in - offsetof(struct stream_reader, in));
}

/* Refill the input buffer when it is empty. Returns 0 (possibly at eof) or
 * -1 with e set. */
static int reader_fill(struct codec_in *in, struct err *e)
{
	struct stream_reader *r = reader_of(in);
	ssize_t k;

	if (in->pos < in->len || in->eof)
		return 0;
	k = fdio_read_some(r->fd, in->buf, RD_IN_CAP, e);
	if (k < 0)
		return -1;
	in->pos = 0;
	in->len = (size_t)k;
	if (k == 0) {
		in->eof = true;
		return 0;
	}
	digest_update(r->md, in->buf, (size_t)k);
	r->stored_bytes += (uint64_t)k;
	return 0;
}

/* Move the unread input to the front and read until the buffer is full or
 * the file ends; only when fewer than RD_IN_LOW bytes are buffered, or with
 * full, whenever the buffer is not full. Returns 0 or -1 with e set. */
static int reader_top_up(struct codec_in *in, bool full, struct err *e)
{
	struct stream_reader *r = reader_of(in);
	size_t avail = in->len - in->pos;

	if (in->eof || avail == RD_IN_CAP || (!full && avail >= RD_IN_LOW))
		return 0;
	memmove(in->buf, in->buf + in->pos, avail);
	in->pos = 0;
	in->len = avail;
	while (in->len < RD_IN_CAP) {
		ssize_t k = fdio_read_some(r->fd, in->buf + in->len, RD_IN_CAP - in->len, e);

		if (k < 0)
			return -1;
		if (k == 0) {
			in->eof = true;
			break;
		}
		digest_update(r->md, in->buf + in->len, (size_t)k);
		r->stored_bytes += (uint64_t)k;
		in->len += (size_t)k;
	}
	return 0;
}

/* Decode up to n bytes with the codec's streaming decoder (STREAM_NONE:
 * read them). Returns the count, 0 at the clean end, or -1 with e set. */
static ssize_t reader_decode(struct stream_reader *r, unsigned char *buf, size_t n,
			     struct err *e)
{
	ssize_t k;

	if (r->c)
		return r->c->dec_read(r->dec, &r->in, buf, n, e);
	k = fdio_read_some(r->fd, buf, n, e);
	if (k > 0) {
		digest_update(r->md, buf, (size_t)k);
		r->stored_bytes += (uint64_t)k;
	} else if (k == 0) {
		r->in.eof = true;
	}
	return k;
}

/* Fill slot s with up to RD_FILL bytes (a little more with a whole-unit
 * decoder, which decodes whole members: a slot holds RD_SLOT_CAP); s->end
 * says whether the stream ended (cleanly or not) after them. */
static void produce_slot(struct stream_reader *r, struct rslot *s)
{
	struct err e;

	err_clear(&e);
	s->len = 0;
	s->pos = 0;
	s->end = RD_MORE;
	while (s->len < RD_FILL) {
		ssize_t k;

		if (r->c && r->c->dec_whole) {
			k = r->c->dec_whole(r->dec, &r->in, s->buf + s->len, RD_SLOT_CAP - s->len,
					    s->len > 0, &e);
			if (k >= 0) {
				s->len += (size_t)k;
				continue;
			}
			if (k == CODEC_WHOLE_LATER)
				return; /* the member goes into the next slot */
			if (k == CODEC_WHOLE_ERR) {
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
	const struct codec *c = stream_codec_of(codec);

	*rp = NULL;
	if (!c && codec != STREAM_NONE)
		return err_set(e, ERR_INTERNAL, "stream: unknown codec %d", (int)codec);
	r = calloc(1, sizeof *r);
	if (!r)
		return err_set(e, ERR_INTERNAL, "stream: out of memory");
	r->c = c;
	r->fd = fd;
	r->md = digest_new();
	r->in.buf = malloc(RD_IN_CAP);
	r->in.cap = RD_IN_CAP;
	r->in.fill = reader_fill;
	r->in.top_up = reader_top_up;
	if (!r->md || !r->in.buf)
		goto oom;
	for (size_t i = 0; i < RD_SLOTS; i++) {
		r->slots[i].buf = malloc(RD_SLOT_CAP);
		if (!r->slots[i].buf)
			goto oom;
	}
	if (c) {
		r->dec = c->dec_new();
		if (!r->dec)
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
	if (r->dec)
		r->c->dec_free(r->dec);
	digest_free(r->md);
	for (size_t i = 0; i < RD_SLOTS; i++)
		free(r->slots[i].buf);
	free(r->in.buf);
	free(r);
}
