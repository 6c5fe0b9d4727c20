/* artifact.h - one backup file from temporary name to final name (README
 * "Files on disk"): written under a hidden temporary name in its final directory,
 * fsynced, checked by the caller, renamed without ever replacing an existing
 * name, the directory fsynced, then its `sha256sum -c` compatible
 * "<name>.sha256" written the same way.
 *
 * Temporary names start with ".vigil-tmp-" so a later run, holding the lock,
 * can remove what a killed run left behind (artifact_remove_stale).
 */
#ifndef VIGIL_ARTIFACT_H
#define VIGIL_ARTIFACT_H

#include <sys/types.h>

#include "base/err.h"
#include "infra/stream.h"
#include "base/util.h"

#define ARTIFACT_TMP_PREFIX ".vigil-tmp-"

struct artifact {
	char dir[UTIL_PATH_MAX];
	char base[256];      /* "app_20250505_030000" */
	char suffix[32];     /* ".sql.gz" */
	char tmp_path[UTIL_PATH_MAX];
	char final_name[300];
	char final_path[UTIL_PATH_MAX];
	int fd;
	mode_t mode;
	struct stream_writer *w;
	struct stream_stats st;
};

/* Create dir/.vigil-tmp-<base><suffix>-XXXXXX (mode) and a stream writer
 * on it. Returns 0 or -1 with e set; on failure nothing is left behind. */
int artifact_begin(struct artifact *a, const char *dir, const char *base, const char *suffix,
		   const struct stream_opts *o, mode_t mode, struct err *e);

/* Close the writer (trailer, stats into a->st), fsync the file and, while
 * the fsync runs on a helper thread, read the file back: its length and
 * CRC-32 must equal those of the bytes written (stream_stats.stored_crc32;
 * the SHA-256 of the .sha256 file is computed over the same bytes as they
 * are written). The read comes from the page cache, so it checks what the
 * kernel holds, not the medium. Returns 0 or -1 with e set: ERR_IO (ENOSPC
 * shows up here or in stream_write; a failed fsync), ERR_CORRUPT when the
 * read-back differs. */
int artifact_finish(struct artifact *a, struct err *e);

/* The read-back of artifact_finish: re-read a->tmp_path and compare its
 * length and CRC-32 with a->st (stored_bytes, stored_crc32). A lost or
 * short write, or a file changed under us, is ERR_CORRUPT naming both;
 * ERR_IO when it cannot be read. Returns 0 or -1 with e set. */
int artifact_read_back(const struct artifact *a, struct err *e);

/* Give the checked temporary file its final name: <base><suffix>, or
 * <base>-2<suffix>, -3... when that name (or its .sha256) exists - an
 * existing file is never replaced (B13). fsync the directory, then write
 * <final>.sha256. Returns 0 or -1 with e set; on failure the temporary file
 * is removed and no final name exists. */
int artifact_commit(struct artifact *a, struct err *e);

/* Drop an unfinished artifact: stop the writer, close, unlink the
 * temporary file. Safe to call twice and after commit (then a no-op). */
void artifact_abort(struct artifact *a);

/* Remove ".vigil-tmp-*" files and directories in dir (left by a killed
 * run). Call only while holding the run lock. *removed gets how many were
 * removed. Returns 0, or -1 with e set (ERR_IO) when dir cannot be read or
 * an entry could not be removed: e names the first such path and its errno
 * text, and how many more failed; every other entry was still tried. A
 * missing dir is no error. */
int artifact_remove_stale(const char *dir, int *removed, struct err *e);

/* Check path against its "<path>.sha256" file: one line naming path's base
 * name in a format `sha256sum -c` accepts ("<hex>  <name>", "<hex> *<name>",
 * "SHA256 (<name>) = <hex>", with "\n", "\r\n" or no line end; a bare
 * hash is not one). Returns 0 when it matches,
 * or -1 with e set: ERR_CORRUPT (mismatch, missing or malformed checksum
 * file), ERR_IO. hex (may be NULL) gets the file's actual sha256. */
int artifact_check_sha256(const char *path, char hex[65], struct err *e);

#endif
