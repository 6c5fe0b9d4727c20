/* startup.c - see startup.h. */
#include "pipeline/startup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "infra/ca.h"
#include "pipeline/backup.h"

const char *startup_check_name(enum startup_check c)
{
	static const char *const names[SC_N] = { "backup_dir", "log_dir", "media_dir", "ca_bundle" };

	return c < SC_N ? names[c] : "?";
}

/* The fix for a directory this process cannot write, by errno. */
static void write_hint(const char *var, const char *dir, int err, char *out, size_t n)
{
	struct stat st;
	unsigned uid = (unsigned)geteuid(), gid = (unsigned)getegid();
	unsigned dgid = stat(dir, &st) == 0 ? (unsigned)st.st_gid : gid;

	if (err == EROFS)
		snprintf(out, n, "the file system is mounted read-only; hint: remove :ro from the "
			 "volume mounted at %s (%s must be writable)", dir, var);
	else if ((err == EACCES || err == EPERM) && dgid != 0)
		snprintf(out, n, "hint: on the host, chown -R %u:%u the directory mounted at %s; or "
			 "make it group-writable (chmod -R g+w, and 2775 on directories) and run the container as a user of "
			 "its group %u (user: \"%u:%u\"); or run the container as root", uid, gid, dir,
			 dgid, uid, dgid);
	else if (err == EACCES || err == EPERM)
		snprintf(out, n, "hint: on the host, chown -R %u:%u the directory mounted at %s; or "
			 "run the container as root", uid, gid, dir);
	else if (err == ENOSPC || err == EDQUOT)
		snprintf(out, n, "hint: free space on the volume of %s", var);
	else
		snprintf(out, n, "hint: check the volume mounted at %s", dir);
}

/* Create, write, fsync and remove a hidden probe file in dir (created
 * first when missing, with mode); top is the directory the hint names (var's
 * value: dir itself or the one that holds it). 0, or -1 with msg (size n)
 * set. */
static int probe_write(const char *var, const char *dir, const char *top, mode_t mode, char *msg,
		       size_t n)
{
	char p[UTIL_PATH_MAX], owner[96], me[48], hint[400];
	struct stat st;
	struct err e;
	const char *step = "cannot create a file there";
	int fd, err = 0;

	if (stat(dir, &st) < 0 && errno == ENOENT && util_mkdir_p(dir, mode, &e) < 0) {
		util_path_facts(dir, owner, sizeof owner, me, sizeof me);
		snprintf(msg, n, "%s %s does not exist and cannot be created as %s: %s; hint: mount "
			 "a volume there, or create it on the host", var, dir, me, e.msg);
		return -1;
	}
	if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		snprintf(msg, n, "%s %s is not a directory; hint: point %s at a directory", var, dir,
			 var);
		return -1;
	}
	/* One name per process: a probe left by a crash (vigil is PID 1 in a
	 * container, so the name repeats) is removed and the create retried,
	 * and a directory that lets us create but not remove gets one file,
	 * not one per re-check. */
	snprintf(p, sizeof p, "%s/.vigil-probe-%d", dir, (int)getpid());
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST && unlink(p) == 0)
		fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = errno;
	} else {
		step = "cannot write a file there";
		if (write(fd, "v", 1) != 1 || fsync(fd) < 0)
			err = errno ? errno : EIO;
		if (close(fd) < 0 && !err)
			err = errno;
		if (unlink(p) < 0 && !err) {
			step = "cannot remove a file there";
			err = errno;
		}
	}
	if (!err)
		return 0;
	util_path_facts(dir, owner, sizeof owner, me, sizeof me);
	write_hint(var, top, err, hint, sizeof hint);
	snprintf(msg, n, "%s %s%s is not writable as %s: %s: %s; %s", var, dir, owner, me, step,
		 strerror(err), hint);
	return -1;
}

/* What vigil later writes inside dir, when it exists already: the
 * subdirectories (a probe file in each), and the files it reopens for
 * writing (opened O_WRONLY, never created). A directory chown'ed without
 * -R passes the top-level probe but fails every run and hides the run
 * manifests (runs/ unreadable: /healthz would say "ok" with no state).
 * 0, or -1 with msg (size n) set by the first that fails. */
static int probe_read(const char *var, const char *dir, char *msg, size_t n);

static int probe_inside(const char *var, const char *dir, const char *const *subs,
			const char *const *files, mode_t mode, char *msg, size_t n)
{
	char p[UTIL_PATH_MAX], owner[96], me[48], hint[400];
	struct stat st;
	int fd;

	for (; subs && *subs; subs++) {
		snprintf(p, sizeof p, "%s/%s", dir, *subs);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode) &&
		    (probe_write(var, p, dir, mode, msg, n) < 0 || probe_read(var, p, msg, n) < 0))
			return -1;
	}
	for (; files && *files; files++) {
		snprintf(p, sizeof p, "%s/%s", dir, *files);
		fd = open(p, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		if (errno == ENOENT)
			continue;
		{
			int err = errno;
			util_path_facts(p, owner, sizeof owner, me, sizeof me);
			write_hint(var, dir, err, hint, sizeof hint);
			snprintf(msg, n, "%s: %s%s cannot be written as %s: %s; %s", var, p, owner, me,
				 strerror(err), hint);
		}
		return -1;
	}
	return 0;
}

/* MEDIA_DIR can be opened and listed. 0, or -1 with msg set. */
static int probe_read(const char *var, const char *dir, char *msg, size_t n)
{
	char owner[96], me[48];
	DIR *d = opendir(dir);
	int err = 0;

	if (d) {
		errno = 0;
		while (readdir(d))
			;
		err = errno;
		closedir(d);
		if (!err)
			return 0;
	} else {
		err = errno;
	}
	util_path_facts(dir, owner, sizeof owner, me, sizeof me);
	if (err == ENOENT)
		snprintf(msg, n, "%s %s does not exist; hint: mount the media volume there, or "
			 "set MEDIA_DIR to empty for database-only backups", var, dir);
	else if (err == EACCES || err == EPERM)
		snprintf(msg, n, "%s %s%s cannot be read as %s: %s; hint: make it readable "
			 "for that user on the host (a shared group with chmod -R g+rX, or o+rX), or "
			 "run the container as its owner or as root", var, dir, owner, me,
			 strerror(err));
	else
		snprintf(msg, n, "%s %s%s cannot be read as %s: %s", var, dir, owner, me,
			 strerror(err));
	return -1;
}

/* The alert channels that use TLS, as "EMAIL_USE_TLS, BACKUP_WEBHOOK_URL"
 * ("" for none). Offsite copies (S3_ENDPOINT) are not implemented yet;
 * when they are, an https endpoint joins this list. */
static void tls_channels(const struct config *c, char *out, size_t n)
{
	bool mail = c->notify_email && *c->notify_email;

	out[0] = '\0';
	if (mail && (c->email_use_tls || c->email_use_ssl))
		snprintf(out, n, "%s", c->email_use_ssl ? "EMAIL_USE_SSL" : "EMAIL_USE_TLS");
	if (c->webhook_url && strncasecmp(c->webhook_url, "https:", 6) == 0)
		snprintf(out + strlen(out), n - strlen(out), "%sBACKUP_WEBHOOK_URL",
			 out[0] ? ", " : "");
	if (c->ping_url && strncasecmp(c->ping_url, "https:", 6) == 0)
		snprintf(out + strlen(out), n - strlen(out), "%sBACKUP_PING_URL", out[0] ? ", " : "");
}

void startup_check(const struct config *cfg, struct startup_report *r)
{
	static const char *const backup_subs[] = { "db", "media", "runs", NULL };
	static const char *const backup_files[] = { ".vigil.lock", NULL };
	static const char *const log_files[] = { "backup.log", "restore.log", NULL };
	mode_t dm = backup_dir_mode(cfg);
	char chans[128], ca[256];
	struct err e;

	memset(r, 0, sizeof *r);
	for (int c = 0; c < SC_N; c++)
		r->ok[c] = true;
	r->applies[SC_BACKUP_DIR] = r->applies[SC_LOG_DIR] = true;
	r->ok[SC_BACKUP_DIR] = probe_write("BACKUP_DIR", cfg->backup_dir, cfg->backup_dir, dm, r->msg[SC_BACKUP_DIR],
					   sizeof r->msg[0]) == 0;
	r->ok[SC_LOG_DIR] = probe_write("LOG_DIR", cfg->log_dir, cfg->log_dir, dm, r->msg[SC_LOG_DIR],
					sizeof r->msg[0]) == 0;
	if (r->ok[SC_BACKUP_DIR])
		r->ok[SC_BACKUP_DIR] = probe_inside("BACKUP_DIR", cfg->backup_dir, backup_subs,
						    backup_files, dm, r->msg[SC_BACKUP_DIR],
						    sizeof r->msg[0]) == 0;
	if (r->ok[SC_LOG_DIR])
		r->ok[SC_LOG_DIR] = probe_inside("LOG_DIR", cfg->log_dir, NULL, log_files, dm,
						 r->msg[SC_LOG_DIR], sizeof r->msg[0]) == 0;
	if (cfg->media_dir && *cfg->media_dir) {
		r->applies[SC_MEDIA_DIR] = true;
		r->ok[SC_MEDIA_DIR] = probe_read("MEDIA_DIR", cfg->media_dir, r->msg[SC_MEDIA_DIR],
						 sizeof r->msg[0]) == 0;
	}
	tls_channels(cfg, chans, sizeof chans);
	if (chans[0]) {
		r->applies[SC_CA_BUNDLE] = true;
		if (ca_bundle_choose(ca, sizeof ca, &e) < 0) {
			r->ok[SC_CA_BUNDLE] = false;
			snprintf(r->msg[SC_CA_BUNDLE], sizeof r->msg[0], "alerts over TLS (%s) cannot "
				 "be sent: %s", chans, e.msg);
		}
	}
}
