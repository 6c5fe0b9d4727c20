/* lock.c - see lock.h. */
#include "infra/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/util.h"

int lock_take(const char *backup_dir, struct err *e)
{
	char path[UTIL_PATH_MAX];
	int fd;

	if (util_fmt(path, sizeof path, e, "%s/.vigil.lock", backup_dir) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return err_errno(e, ERR_IO, errno, "cannot open the run lock %s", path);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int saved = errno;
		if (saved == EINTR)
			continue;
		close(fd);
		if (saved == EWOULDBLOCK)
			return err_set(e, ERR_LOCKED, "another run is in progress (%s is held)", path);
		return err_errno(e, ERR_IO, saved, "cannot lock %s", path);
	}
	return fd;
}

void lock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
