/* media_int.h - what the media_*.c files share with each other and with
 * nobody else (media.h is the public side): sizes, the small helpers of
 * media_util.c, the reading loop's state (media_read.c), the archive's
 * listing and the per-entry extraction (media_extract.c), the staged swap
 * (media_swap.c). media_restore.c drives the last three. Each function is
 * described where it is defined.
 */
#ifndef VIGIL_MEDIA_INT_H
#define VIGIL_MEDIA_INT_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "base/err.h"
#include "pipeline/media.h"
#include "infra/stream.h"
#include "infra/tar.h"

#define IO_BUF         (1024u * 1024u) /* file reads and stream reads */
#define PROGRESS_EVERY (16ull << 20)
#define REL_MAX        65536u           /* cap on a relative path */
#define SHOW_MAX       200              /* bytes of a name in a message */

/* ---- media_util.c: small helpers ---- */

struct names {
	char **v;
	size_t n, cap;
};

char *media_path_join(const char *a, const char *b);
const char *media_show(const char *in, char out[SHOW_MAX + 4]);
void media_names_free(struct names *ns);
int media_names_read(DIR *d, struct names *ns);
int media_rm_tree_at(int dfd, const char *name, char **bad);
int media_stop_now(const struct media_opts *o, struct err *e);
int media_progress_or_stop(const struct media_opts *o, uint64_t bytes, struct err *e);
uint64_t media_str_hash(const char *s, size_t n);

/* ---- media_read.c: the reading loop shared by check and restore ---- */

/* Set of strings (open addressing, FNV-1a): names of symlink entries. */
struct strset {
	char **slot;
	size_t cap, n;
};

struct rd {
	struct tar_reader *tr;
	struct stream_reader *r;
	struct err *e;
	const struct media_opts *o; /* restore only: progress, warn */
	struct media_stats *st;
	unsigned char *buf;         /* IO_BUF bytes */
	uint64_t total;             /* tar bytes read from the stream */
	uint64_t last_nz;           /* offset just past the last non-zero byte */
	uint64_t end_pos;           /* offset just past the last entry */
	uint64_t last_progress;
	int cb_failed;              /* e holds the stream's error */
	int at_end;                 /* stream_read returned 0 */
	struct strset links;        /* normalised names of symlink entries */
};

/* What media_rd_run does with each entry once its names passed the checks:
 * extract it (restore: media_ext_entry, ctx a struct ext), or, when NULL,
 * skip its data (check). Returns 0 or -1 with c->e set. */
typedef int (*media_entry_fn)(struct rd *c, void *ctx, const struct tar_entry *te,
			      const char *norm, const char *normlink);

int media_rd_run(struct rd *c, media_entry_fn each, void *ctx);
int media_rd_fail(struct rd *c, const char *what, const char *name);
void media_rd_free(struct rd *c);

/* ---- media_extract.c: the archive's listing, extraction into the stage ---- */

/* One entry as the archive lists it and as it was handed to the disk
 * writer; the staged tree must match it before anything live moves. */
struct want {
	char *name;    /* normalised member name (the key), never "" */
	mode_t type;   /* S_IFREG, S_IFDIR, S_IFLNK, ... */
	uint64_t size; /* regular files: content bytes */
	uint32_t crc;  /* regular files: CRC-32 of the bytes handed to the writer */
	bool crc_ok;   /* crc covers the content (not when a hard link entry
			* wrote data into the file too) */
	bool hard;     /* a hard link entry; link is its normalised target */
	char *link;    /* symlink target or hard link target, else NULL */
	dev_t rdev;    /* devices */
	bool seen;
};

/* The listing: open addressing on the name (media_str_hash). */
struct wants {
	struct want **slot;
	size_t cap, n;
};

/* Restore's extraction state: media_ext_entry's ctx. */
struct ext {
	struct tar_disk *disk;
	const char *stage; /* absolute, symlink-free */
	struct wants wants;
	int root_seen;
	mode_t root_perm;
	int64_t root_uid, root_gid;
	int root_mtime_set;
	struct timespec root_mtime;
};

struct want *media_wants_find(const struct wants *ws, const char *k);
void media_wants_free(struct wants *ws);
int media_ext_entry(struct rd *c, void *ctx, const struct tar_entry *te, const char *norm,
		    const char *normlink);
int media_ext_fail(struct rd *c, const char *what, const char *norm);

/* ---- media_swap.c: swapping the staged tree into place ---- */

struct move {
	char *from, *to;
};

struct prot {
	dev_t dev;
	ino_t ino;
	char *rel; /* path relative to root when below it, else NULL */
};

struct dtimes {
	char *path;
	struct timespec ts[2];
};

struct fixmeta {
	char *path;
	struct stat st;
};

struct sw {
	const struct media_opts *o;
	struct media_stats *st;
	struct err *e;
	const char *root;  /* realpath of o->root */
	const char *stage; /* root/.vigil-restore-XXXXXX */
	char *old;         /* root/.vigil-old-XXXXXX, made on first use */
	struct move *mv;
	size_t n_mv, cap_mv;
	struct prot *prot;
	size_t n_prot;
	struct dtimes *dt; /* directories changed in place, for a rollback */
	size_t n_dt, cap_dt;
	struct fixmeta *fx; /* kept directories: metadata from the archive */
	size_t n_fx, cap_fx;
	bool stuck; /* a rollback left live entries in old */
};

int media_sw_init(struct sw *s, const struct media_opts *o, struct media_stats *st,
		  struct err *e, const char *root);
int media_sw_run(struct sw *s);
void media_sw_finish(struct sw *s);
void media_sw_abandon(struct sw *s);
void media_sw_free(struct sw *s);
void media_apply_meta(struct sw *s, const char *path, const char *rel, uid_t uid, gid_t gid,
		      mode_t perm, const struct timespec *mtime);
int media_mounts_below(const char *root, const struct media_opts *o, struct err *e);

#endif
