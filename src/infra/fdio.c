/* fdio.c - descriptor I/O that survives EINTR and short transfers.
 * See fdio.h.
 */
#include "infra/fdio.h"

#include "infra/pid1.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

int fdio_write_all(int fd, const void *data, size_t n, struct err *e)
{
	const unsigned char *buf = data;

	while (n > 0) {
		size_t chunk = n > (size_t)SSIZE_MAX ? (size_t)SSIZE_MAX : n;
		ssize_t k = write(fd, buf, chunk);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return err_errno(e, ERR_IO, errno, "write");
		}
		if (k == 0) /* not expected from a file; do not spin */
			return err_errno(e, ERR_IO, EIO, "write returned 0");
		buf += k;
		n -= (size_t)k;
	}
	return 0;
}

ssize_t fdio_read_some(int fd, void *buf, size_t n, struct err *e)
{
	for (;;) {
		ssize_t k = read(fd, buf, n);

		if (k >= 0)
			return k;
		if (errno != EINTR)
			return err_errno(e, ERR_IO, errno, "read");
	}
}

int fdio_read_each(int fd, const char *what, void (*fn)(void *, const unsigned char *, size_t),
		   void *ctx, uint64_t *bytes, struct err *e)
{
	unsigned char *buf = malloc(FDIO_PIECE);
	uint64_t total = 0;

	if (!buf)
		return err_set(e, ERR_INTERNAL, "%s: out of memory", what);
	for (;;) {
		ssize_t k = fdio_read_some(fd, buf, FDIO_PIECE, e);

		if (k < 0) {
			free(buf);
			err_prefix(e, "%s", what);
			return -1;
		}
		if (k == 0)
			break;
		if (pid1_stop_requested()) {
			/* A whole-file pass over a large backup must not outlive a stop
			 * request (the daemon's 5 s) or the run's deadline. */
			int sig = pid1_stop_requested();
			free(buf);
			err_set(e, ERR_INTERRUPTED, "%s: stopped by signal %d", what, sig);
			if (e)
				e->signo = sig;
			return -1;
		}
		fn(ctx, buf, (size_t)k);
		total += (uint64_t)k;
	}
	free(buf);
	if (bytes)
		*bytes = total;
	return 0;
}
