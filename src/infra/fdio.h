/* fdio.h - descriptor I/O that survives EINTR and short transfers.
 *
 * Plain read(2)/write(2) loops for files and pipes; no buffering of their
 * own beyond fdio_read_each's one piece. Descriptors are never owned: the
 * caller opens, fsyncs and closes them.
 */
#ifndef VIGIL_FDIO_H
#define VIGIL_FDIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

/* Bytes fdio_read_each reads at a time. */
#define FDIO_PIECE ((size_t)256 << 10)

/* Write all n bytes of buf to fd, retrying EINTR and short writes (write(2)).
 * Returns 0, or -1 with e set: ERR_NOSPACE for ENOSPC/EDQUOT (through
 * err_errno, so the message holds "No space left on device"), ERR_IO for
 * any other error and for a write that returns 0. */
int fdio_write_all(int fd, const void *buf, size_t n, struct err *e);

/* Read up to n bytes into buf, retrying EINTR (read(2)). Returns the count
 * (0 at end of file; may be short) or -1 with e set (ERR_IO, "read: ..."). */
ssize_t fdio_read_some(int fd, void *buf, size_t n, struct err *e);

/* Read fd from its current offset to end of file in FDIO_PIECE pieces and
 * hand each to fn(ctx, piece, length); *bytes (may be NULL) gets the total.
 * what names the caller in error messages ("sha256: read: ..."). Stops
 * between pieces when pid1_stop_requested() says so. Returns 0 or -1 with
 * e set (ERR_IO; ERR_INTERRUPTED with e->signo on a stop request or the
 * deadline; ERR_INTERNAL when out of memory). */
int fdio_read_each(int fd, const char *what, void (*fn)(void *, const unsigned char *, size_t),
		   void *ctx, uint64_t *bytes, struct err *e);

#endif
