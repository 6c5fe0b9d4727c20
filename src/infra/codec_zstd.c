/* codec_zstd.c - zstd (RFC 8878) for the stream engine.
 *
 * See codec.h for the interface. This is the only file that includes
 * libzstd (one home per library, docs/design.md).
 *
 * Writer (stream mode): one frame with a content checksum, made by
 * ZSTD_compressStream2 with libzstd's own worker threads. Its output is
 * decoded again as it is written (self-check), and at the end the decoded
 * length must equal the input's. A stop request polled between libzstd's
 * calls abandons the stream (see enc_free).
 *
 * Reader: ZSTD_decompressStream over the engine's input buffer; several
 * frames and skippable frames are read as one stream.
 */
#include "infra/codec.h"

#include <stdio.h>
#include <stdlib.h>

#include <zstd.h>
#include <zstd_errors.h>

/* Default zstd level. On the bench's 390 MB asset dump (bench/, 2 threads,
 * 2 MiB jobs) level 1 wrote 125.2 MB in 5.0 s and level 3 130.6 MB in
 * 9.0 s: with 2 MiB jobs level 1 is both smaller and faster, and level 3
 * costs more CPU than two cores have to spare beside the server. */
#define ZSTD_DEFAULT_LEVEL 1
#define ZSTD_JOB_SIZE (2 << 20)

/* ------------------------------------------------------------------------ */
/* Levels and versions.                                                     */

static int zstd_level_check(int level, struct err *e)
{
	if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
		return err_set(e, ERR_INTERNAL, "zstd: level %d not in %d..%d", level,
			       ZSTD_minCLevel(), ZSTD_maxCLevel());
	return 0;
}

static void zstd_lib_versions(char *out, size_t n)
{
	unsigned z = ZSTD_versionNumber();

	snprintf(out, n, "zstd %u.%u.%u", z / 10000, z / 100 % 100, z % 100);
}

/* ------------------------------------------------------------------------ */
/* Writer.                                                                  */

struct codec_enc {
	int level;
	codec_sink_fn sink;
	void *sink_arg;
	int (*stop_fn)(void); /* stream_opts.stop */
	bool abandoned;       /* stopped mid-stream: never wait for libzstd's workers */
	uint64_t raw_bytes;   /* input taken so far */

	ZSTD_CCtx *cctx;
	unsigned char *zbuf;
	size_t zbuf_cap;
	ZSTD_DCtx *zcheck;      /* self-check: decodes what was written */
	unsigned char *zcheck_buf;
	size_t zcheck_cap;
	uint64_t zcheck_raw;    /* bytes it decoded */
	size_t zcheck_left;     /* its last hint: 0 = at the end of a frame */
};

/* The contexts left to the process's exit (enc_free), kept reachable so
 * that LeakSanitizer (make asan) does not report them: they are not lost,
 * only not joined. A stop ends the process, so there are few. */
#define ABANDONED_MAX 8
static ZSTD_CCtx *abandoned_cctx[ABANDONED_MAX];
static size_t n_abandoned;

static void enc_free(struct codec_enc *w)
{
	if (!w)
		return;
	/* ZSTD_freeCCtx (and ZSTD_CCtx_reset) join libzstd's worker threads,
	 * which first finish the job they hold: minutes at levels 19-22. After
	 * a stop request the process is on its way out (exit 128+N), so the
	 * context is left to the exit instead of keeping a stop waiting past
	 * Docker's grace period (then SIGKILL, no manifest). */
	if (!w->abandoned)
		ZSTD_freeCCtx(w->cctx);
	else if (n_abandoned < ABANDONED_MAX)
		abandoned_cctx[n_abandoned++] = w->cctx;
	free(w->zbuf);
	ZSTD_freeDCtx(w->zcheck);
	free(w->zcheck_buf);
	free(w);
}

/* Set up w's contexts for level and threads. Returns 0 or -1 with e set. */
static int enc_setup(struct codec_enc *w, int threads, struct err *e)
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
	if (threads > 1 &&
	    !ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers, threads)))
		/* libzstd's default job (4 windows: 8 MiB at level 3) makes two
		 * workers take ~60 MiB; 2 MiB jobs take ~20 MiB, cost no speed
		 * and compress a plain dump 0.2 % better (390 MB dump, 2 CPUs). */
		(void)ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_jobSize, ZSTD_JOB_SIZE);
	return 0;
}

static int enc_open(struct codec_enc **out, int level, int threads, int (*stop)(void),
		    codec_sink_fn sink, void *sink_arg, struct err *e)
{
	struct codec_enc *w = calloc(1, sizeof *w);

	*out = NULL;
	if (!w)
		return err_set(e, ERR_INTERNAL, "zstd: out of memory");
	w->level = level;
	w->sink = sink;
	w->sink_arg = sink_arg;
	w->stop_fn = stop;
	if (enc_setup(w, threads, e) < 0) {
		enc_free(w);
		return -1;
	}
	*out = w;
	return 0;
}

/* Self-check: decode n bytes just written (output discarded; libzstd
 * checks each frame's content checksum at its end). */
static int zstd_check(struct codec_enc *w, const unsigned char *p, size_t n, struct err *e)
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
static int zstd_pump(struct codec_enc *w, const void *buf, size_t n, ZSTD_EndDirective mode,
		     struct err *e)
{
	ZSTD_inBuffer in = { buf, n, 0 };

	for (;;) {
		ZSTD_outBuffer out = { w->zbuf, w->zbuf_cap, 0 };
		size_t left = ZSTD_compressStream2(w->cctx, &out, &in, mode);

		if (ZSTD_isError(left))
			return err_set(e, ERR_INTERNAL, "zstd: %s", ZSTD_getErrorName(left));
		if (out.pos && w->sink(w->sink_arg, w->zbuf, out.pos, e) < 0) {
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
				w->abandoned = true;
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

static int enc_write(struct codec_enc *w, const void *buf, size_t n, struct err *e)
{
	if (zstd_pump(w, buf, n, ZSTD_e_continue, e) < 0)
		return -1;
	w->raw_bytes += n;
	return 0;
}

static int enc_finish(struct codec_enc *w, struct err *e)
{
	return zstd_pump(w, NULL, 0, ZSTD_e_end, e);
}

/* ------------------------------------------------------------------------ */
/* Reader.                                                                  */

struct codec_dec {
	ZSTD_DCtx *dctx;
	/* Between frames (true at start): the next input byte, if any, begins
	 * a new one. */
	bool between;
	uint64_t members; /* frames started */
};

static void dec_free(struct codec_dec *d)
{
	if (!d)
		return;
	ZSTD_freeDCtx(d->dctx);
	free(d);
}

static struct codec_dec *dec_new(void)
{
	struct codec_dec *d = calloc(1, sizeof *d);

	if (!d)
		return NULL;
	d->between = true;
	d->dctx = ZSTD_createDCtx();
	if (!d->dctx) {
		free(d);
		return NULL;
	}
	return d;
}

/* The error of a ZSTD_decompressStream result: bad magic at the start,
 * trailing garbage after a frame, or corrupt data. Returns -1. */
static ssize_t read_error(const struct codec_dec *d, size_t ret, struct err *e)
{
	if (ZSTD_getErrorCode(ret) == ZSTD_error_prefix_unknown && d->members == 1)
		return err_set(e, ERR_CORRUPT, "not a zstd stream (bad magic)");
	if (ZSTD_getErrorCode(ret) == ZSTD_error_prefix_unknown)
		return err_set(e, ERR_CORRUPT, "trailing garbage after zstd frame %llu",
			       (unsigned long long)(d->members - 1));
	return err_set(e, ERR_CORRUPT, "corrupt zstd data in frame %llu: %s",
		       (unsigned long long)d->members, ZSTD_getErrorName(ret));
}

static ssize_t dec_read(struct codec_dec *d, struct codec_in *src, unsigned char *buf,
			size_t n, struct err *e)
{
	ZSTD_outBuffer out = { buf, n, 0 };

	while (out.pos == 0) {
		ZSTD_inBuffer in;
		size_t ret, before_out = out.pos;

		if (src->fill(src, e) < 0)
			return -1;
		if (d->between) {
			if (src->pos == src->len) {
				if (d->members == 0)
					return err_set(e, ERR_CORRUPT,
						       "empty file, not a zstd stream");
				return 0;
			}
			d->between = false;
			d->members++;
		}
		in.src = src->buf;
		in.size = src->len;
		in.pos = src->pos;
		ret = ZSTD_decompressStream(d->dctx, &out, &in);
		if (ZSTD_isError(ret))
			return read_error(d, ret, e);
		if (ret == 0) {
			d->between = true;
			src->pos = in.pos;
			continue;
		}
		if (in.pos == src->pos && out.pos == before_out && src->eof &&
		    in.pos == in.size)
			return err_set(e, ERR_CORRUPT,
				       "truncated zstd stream: input ends inside frame %llu",
				       (unsigned long long)d->members);
		src->pos = in.pos;
	}
	return (ssize_t)out.pos;
}

const struct codec codec_zstd = {
	.name = "zstd",
	.default_level = ZSTD_DEFAULT_LEVEL,
	.level_check = zstd_level_check,
	.lib_versions = zstd_lib_versions,
	.enc_open = enc_open,
	.enc_write = enc_write,
	.enc_finish = enc_finish,
	.enc_free = enc_free,
	.dec_new = dec_new,
	.dec_read = dec_read,
	.dec_free = dec_free,
};
