/* codec_gzip.c - gzip (RFC 1952) for the stream engine, and gzip's CRC-32.
 *
 * See codec.h for the interface. This is the only file that includes zlib
 * and libdeflate (one home per library, docs/design.md).
 *
 * Writer (block mode): every block becomes one complete gzip member (RFC
 * 1952 section 2.2 allows any number of members in a file, and
 * gzip/zcat/Python/libarchive decode them as one stream), compressed with
 * libdeflate. Blocks that do not compress (photos, archives) are found by
 * an order-0 entropy estimate per 4 KiB chunk plus a level-1 probe, and are
 * then stored with libdeflate level 0, which costs about a copy and a CRC.
 * Every member is decoded again and compared with its input before it is
 * handed back (the writer self-check).
 *
 * Reader: a member that lies whole in the input buffer and decodes to at
 * most the room left in a slot (every member vigil writes: one per 1 MiB
 * block) is decoded in one call by libdeflate_gzip_decompress_ex, CRC-32
 * and ISIZE checked, at about three times zlib's speed (dec_whole). Any
 * other member - larger, foreign, damaged or truncated - is decoded by
 * zlib's streaming inflate from its first byte, which also words the errors
 * (dec_read); after RD_FAST_GIVEUP more misses than hits (a foreign
 * single-member file) the fast path is no longer tried.
 */
#include "infra/codec.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>
#include <zlib.h>

/* Default gzip level on libdeflate's 0..12 scale; see stream_default_level().
 * Measured on a 54 MB synthetic plain dump (accented names, numbers, dates,
 * JSON, UUIDs) with 1 MiB members: `gzip -6` 15,949,751 bytes; libdeflate 4
 * 16,408,030 (+2.9%, 111 MB/s/thread); 5 15,827,116 (-0.8%, 96 MB/s/thread);
 * 6 15,454,713 (74 MB/s/thread). 5 is the fastest level not larger. */
#define GZIP_DEFAULT_LEVEL 5
#define GZIP_MAX_LEVEL 12

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

#define RD_FAST_GIVEUP 2

/* ------------------------------------------------------------------------ */
/* CRC-32.                                                                  */

/* See codec.h. n zero bytes (a hole of a sparse file, which can be many
 * GiB) cost O(log n): the CRC of 2^k zeros is squared up by doubling and
 * appended with zlib's crc32_combine (the same CRC-32 as libdeflate's). */
uint32_t codec_gzip_crc32(uint32_t crc, const void *buf, uint64_t n)
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

/* ------------------------------------------------------------------------ */
/* Levels and versions.                                                     */

static int gzip_level_check(int level, struct err *e)
{
	if (level < 0 || level > GZIP_MAX_LEVEL)
		return err_set(e, ERR_INTERNAL, "gzip: level %d not in 0..%d", level,
			       GZIP_MAX_LEVEL);
	return 0;
}

static void gzip_lib_versions(char *out, size_t n)
{
	snprintf(out, n, "zlib %s, libdeflate %s", zlibVersion(), LIBDEFLATE_VERSION_STRING);
}

/* ------------------------------------------------------------------------ */
/* Writer: one thread's compressor.                                         */

/* Compressors owned by one thread (libdeflate compressors are not shared). */
struct codec_block {
	int level;
	struct libdeflate_compressor *main;   /* the configured level */
	struct libdeflate_compressor *stored; /* level 0: stored blocks only */
	struct libdeflate_compressor *probe;  /* level 1 for probes, or == main */
	struct libdeflate_decompressor *check; /* self-check */
	unsigned char *probe_buf;             /* CHUNK_LEN bytes */
	unsigned char *check_buf;             /* block_size bytes */
};

static void block_free(struct codec_block *d)
{
	if (!d)
		return;
	if (d->probe != d->main)
		libdeflate_free_compressor(d->probe);
	libdeflate_free_compressor(d->main);
	libdeflate_free_compressor(d->stored);
	libdeflate_free_decompressor(d->check);
	free(d->probe_buf);
	free(d->check_buf);
	free(d);
}

static struct codec_block *block_new(int level, size_t block_size)
{
	struct codec_block *d = calloc(1, sizeof *d);

	if (!d)
		return NULL;
	d->level = level;
	d->main = libdeflate_alloc_compressor(level);
	d->stored = libdeflate_alloc_compressor(0);
	d->probe = level == 1 ? d->main : libdeflate_alloc_compressor(1);
	d->check = libdeflate_alloc_decompressor();
	d->probe_buf = malloc(CHUNK_LEN);
	d->check_buf = malloc(block_size);
	if (!d->main || !d->stored || !d->probe || !d->check || !d->probe_buf || !d->check_buf) {
		block_free(d);
		return NULL;
	}
	return d;
}

/* Several members per block: each adds a header, a trailer and the bound's
 * per-call slack; a stored member starts after >= 4 chunks. */
static size_t block_out_cap(size_t block_size)
{
	return libdeflate_gzip_compress_bound(NULL, block_size) +
	       (block_size / (CHUNK_LEN * STORE_MIN_RUN) + 2) * 2 *
		       (libdeflate_gzip_compress_bound(NULL, 0) + 64);
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
static bool run_stored(struct codec_block *d, const unsigned char *p, size_t n)
{
	size_t len = n < CHUNK_LEN ? n : CHUNK_LEN;
	size_t off = (n - len) / 2;

	return libdeflate_deflate_compress(d->probe, p + off, len, d->probe_buf,
					   len * PROBE_KEEP / 100) == 0;
}

/* The output of one block being made: out[0..len) of cap bytes. */
struct member_out {
	unsigned char *buf;
	size_t cap, len;
};

/* Append one gzip member of p[0..n) made by c to o. */
static bool add_member(struct member_out *o, struct libdeflate_compressor *c,
		       const unsigned char *p, size_t n)
{
	size_t k = libdeflate_gzip_compress(c, p, n, o->buf + o->len, o->cap - o->len);

	o->len += k;
	return k > 0;
}

/* Decode o (one or more members) and compare it with raw[0..n). */
static bool self_check(struct codec_block *d, const struct member_out *o,
		       const unsigned char *raw, size_t n)
{
	size_t in_pos = 0, out_pos = 0;

	while (in_pos < o->len) {
		size_t in_used = 0, out_len = 0;

		if (libdeflate_gzip_decompress_ex(d->check, o->buf + in_pos, o->len - in_pos,
						  d->check_buf + out_pos, n - out_pos,
						  &in_used, &out_len) != LIBDEFLATE_SUCCESS)
			return false;
		in_pos += in_used;
		out_pos += out_len;
	}
	return out_pos == n && memcmp(d->check_buf, raw, n) == 0;
}

/* Add the members of raw[0..n) to o: one compressed member, or several
 * when the block mixes random-looking and compressible data. */
static bool add_members(struct codec_block *d, struct member_out *o, const unsigned char *raw,
			size_t n)
{
	size_t nchunks = (n + CHUNK_LEN - 1) / CHUNK_LEN;
	size_t start = 0; /* first chunk not yet emitted */
	bool ok = true;

	if (d->level == 0 || n == 0)
		return add_member(o, d->main, raw, n);
	pthread_once(&clog2c_once, clog2c_init);
	if (!block_has_random(raw, n))
		nchunks = 0; /* all compressible: one member below */
	for (size_t i = 0; i < nchunks && ok;) {
		size_t j = i, off = i * CHUNK_LEN, end;

		/* [i, j): a run of random-looking chunks */
		while (j < nchunks &&
		       chunk_random(raw + j * CHUNK_LEN,
				    j + 1 < nchunks ? CHUNK_LEN : n - j * CHUNK_LEN))
			j++;
		if (j == i) {
			i++;
			continue;
		}
		end = j < nchunks ? j * CHUNK_LEN : n;
		if (j - i >= STORE_MIN_RUN && run_stored(d, raw + off, end - off)) {
			if (start < i)
				ok = add_member(o, d->main, raw + start * CHUNK_LEN,
						off - start * CHUNK_LEN);
			if (ok)
				ok = add_member(o, d->stored, raw + off, end - off);
			start = j;
		}
		i = j;
	}
	if (ok && (nchunks == 0 || start < nchunks))
		ok = add_member(o, d->main, raw + start * CHUNK_LEN, n - start * CHUNK_LEN);
	return ok;
}

/* Compress raw[0..n) into out: one complete gzip member (RFC 1952), or
 * several when the block mixes random-looking and compressible data; then
 * decode it again and compare (self-check). */
static int block_compress(struct codec_block *d, const unsigned char *raw, size_t n,
			  unsigned char *out, size_t cap, size_t *out_len, struct err *e)
{
	struct member_out o = { out, cap, 0 };
	bool ok = add_members(d, &o, raw, n);

	*out_len = o.len;
	if (!ok)
		return err_set(e, ERR_INTERNAL, "gzip: libdeflate failed on a %zu-byte block", n);
	if (!self_check(d, &o, raw, n))
		return err_set(e, ERR_INTERNAL, "gzip: a compressed %zu-byte block does not decode "
			       "to its input (self-check failed: memory or compressor fault)", n);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Reader.                                                                  */

struct codec_dec {
	z_stream zs;
	bool zs_init;
	struct libdeflate_decompressor *ld;
	bool fast; /* try libdeflate on the next member */
	uint64_t fast_hits, fast_misses;
	/* Between members (true at start): the next input byte, if any,
	 * begins a new one. */
	bool between;
	uint64_t members; /* members started */
};

static void dec_free(struct codec_dec *d)
{
	if (!d)
		return;
	if (d->zs_init)
		inflateEnd(&d->zs);
	libdeflate_free_decompressor(d->ld);
	free(d);
}

static struct codec_dec *dec_new(void)
{
	struct codec_dec *d = calloc(1, sizeof *d);

	if (!d)
		return NULL;
	d->between = true;
	/* 15 + 16: gzip wrapper only, largest window (zlib.h). */
	if (inflateInit2(&d->zs, 15 + 16) != Z_OK) {
		free(d);
		return NULL;
	}
	d->zs_init = true;
	d->ld = libdeflate_alloc_decompressor();
	d->fast = d->ld != NULL;
	return d;
}

/* The fast path: decode the member starting at the next input byte whole
 * into out (cap bytes). Returns its length (0 for an empty member) with the
 * input advanced past it; CODEC_WHOLE_NO when it does not apply (not
 * between members, the fast path is off, no member starts here, it is
 * larger than cap or than the input buffer, or it is damaged: zlib decodes
 * it then); CODEC_WHOLE_LATER when it is larger than cap but would fit an
 * empty slot (only with partial: out already follows other data);
 * CODEC_WHOLE_ERR on a read error, e set. */
static ssize_t dec_whole(struct codec_dec *d, struct codec_in *in, unsigned char *out,
			 size_t cap, bool partial, struct err *e)
{
	enum libdeflate_result res;
	size_t in_used = 0, out_len = 0;

	if (!d->fast || !d->between)
		return CODEC_WHOLE_NO;
	if (in->top_up(in, false, e) < 0)
		return CODEC_WHOLE_ERR;
	if (in->pos == in->len || in->buf[in->pos] != 0x1f)
		return CODEC_WHOLE_NO;
	res = libdeflate_gzip_decompress_ex(d->ld, in->buf + in->pos, in->len - in->pos, out,
					    cap, &in_used, &out_len);
	if (res == LIBDEFLATE_INSUFFICIENT_SPACE && partial)
		return CODEC_WHOLE_LATER;
	if (res != LIBDEFLATE_SUCCESS && res != LIBDEFLATE_INSUFFICIENT_SPACE && !in->eof &&
	    in->len - in->pos < in->cap) {
		/* Perhaps the member runs past the buffered input. */
		if (in->top_up(in, true, e) < 0)
			return CODEC_WHOLE_ERR;
		res = libdeflate_gzip_decompress_ex(d->ld, in->buf + in->pos, in->len - in->pos,
						    out, cap, &in_used, &out_len);
		if (res == LIBDEFLATE_INSUFFICIENT_SPACE && partial)
			return CODEC_WHOLE_LATER;
	}
	if (res != LIBDEFLATE_SUCCESS) {
		if (++d->fast_misses > d->fast_hits + RD_FAST_GIVEUP)
			d->fast = false;
		return CODEC_WHOLE_NO;
	}
	d->fast_hits++;
	in->pos += in_used;
	d->members++;
	return (ssize_t)out_len;
}

/* At a member boundary with no input left: the clean end, unless no member
 * was seen at all. */
static ssize_t boundary_eof(const struct codec_dec *d, struct err *e)
{
	if (d->members == 0)
		return err_set(e, ERR_CORRUPT, "empty file, not a gzip stream");
	return 0;
}

/* Start the member at the next input byte (d->between, input not empty):
 * check its magic, reset inflate. Returns 0 or -1 with e set. */
static int member_start(struct codec_dec *d, const struct codec_in *in, struct err *e)
{
	if (in->buf[in->pos] != 0x1f) {
		if (d->members == 0)
			return err_set(e, ERR_CORRUPT, "not a gzip stream (bad magic)");
		return err_set(e, ERR_CORRUPT, "trailing garbage after gzip member %llu",
			       (unsigned long long)d->members);
	}
	if (inflateReset(&d->zs) != Z_OK)
		return err_set(e, ERR_INTERNAL, "gzip: inflateReset failed");
	d->between = false;
	d->members++;
	return 0;
}

/* zlib's streaming inflate. With the fast path on, it returns at the end
 * of a member that produced data, so that the next member is tried fast. */
static ssize_t dec_read(struct codec_dec *d, struct codec_in *in, unsigned char *buf, size_t n,
			struct err *e)
{
	z_stream *zs = &d->zs;
	uInt want = n > UINT_MAX ? UINT_MAX : (uInt)n;

	zs->next_out = buf;
	zs->avail_out = want;
	while (zs->avail_out == want) {
		uInt before_in, before_out;
		int ret;

		if (in->fill(in, e) < 0)
			return -1;
		if (d->between) {
			if (in->pos == in->len)
				return boundary_eof(d, e);
			if (member_start(d, in, e) < 0)
				return -1;
		}
		zs->next_in = in->buf + in->pos;
		zs->avail_in = (uInt)(in->len - in->pos);
		before_in = zs->avail_in;
		before_out = zs->avail_out;
		ret = inflate(zs, Z_NO_FLUSH);
		in->pos = in->len - zs->avail_in;
		switch (ret) {
		case Z_STREAM_END:
			d->between = true;
			if (d->fast && zs->avail_out != want)
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
				       (unsigned long long)d->members);
		default:
			return err_set(e, ERR_CORRUPT, "corrupt gzip data in member %llu: %s",
				       (unsigned long long)d->members,
				       zs->msg ? zs->msg : "invalid data");
		}
		if (ret != Z_STREAM_END && zs->avail_in == before_in &&
		    zs->avail_out == before_out && in->pos == in->len && in->eof)
			return err_set(e, ERR_CORRUPT,
				       "truncated gzip stream: input ends inside member %llu",
				       (unsigned long long)d->members);
	}
	return (ssize_t)(want - zs->avail_out);
}

const struct codec codec_gzip = {
	.name = "gzip",
	.default_level = GZIP_DEFAULT_LEVEL,
	.level_check = gzip_level_check,
	.lib_versions = gzip_lib_versions,
	.block_out_cap = block_out_cap,
	.block_new = block_new,
	.block_compress = block_compress,
	.block_free = block_free,
	.dec_new = dec_new,
	.dec_read = dec_read,
	.dec_whole = dec_whole,
	.dec_free = dec_free,
};
