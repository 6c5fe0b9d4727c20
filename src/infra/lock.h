/* lock.h - the run lock, BACKUP_DIR/.vigil.lock (README "A backup run" step 1).
 *
 * flock(2) on an open descriptor: the kernel drops it when the holder exits
 * however it died, so it never goes stale. The descriptor is O_CLOEXEC so
 * children (pg_dump) never inherit, and never keep, the lock.
 */
#ifndef VIGIL_LOCK_H
#define VIGIL_LOCK_H

#include "base/err.h"

/* Take the lock without waiting. Returns the descriptor (>= 0) or -1 with e
 * set: ERR_LOCKED "another run is in progress" when held, ERR_IO otherwise. */
int lock_take(const char *backup_dir, struct err *e);

/* Release (close) the lock; -1 is ignored. */
void lock_release(int fd);

#endif
