/* log.c - see log.h. */
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_ROTATE_BYTES (10L * 1024 * 1024)
#define LOG_ROTATE_KEEP 3
/* Room for every secret a configuration can hold: passwords, DATABASE_URL's,
 * and each secret part of the alert URLs (userinfo, every query value,
 * long path segments), each raw and percent-decoded. */
#define MAX_SECRETS 128

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;
static char log_path[4096];
static char *secrets[MAX_SECRETS];
static size_t n_secrets;

static bool progress_on;      /* stderr is a tty and a display is active */
static bool progress_drawn;   /* a progress line is on screen */
static char progress_label[64];
static struct timespec progress_t0, progress_last;

static bool stamp_utc;
static mode_t file_mode = 0600;

void log_set_file_mode(mode_t mode)
{
	file_mode = mode & 0777;
}

/* Open path for appending; a file created here gets file_mode exactly
 * (fchmod: the umask does not narrow it). -1 with errno set. */
static int open_append(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);

	if (fd >= 0) {
		(void)fchmod(fd, file_mode);
		return fd;
	}
	if (errno != EEXIST)
		return -1;
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

void log_stamp_utc(bool utc)
{
	stamp_utc = utc;
}

void log_time_local(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;
	char off[40];
	long gmtoff;

	localtime_r(&tt, &tm);
	gmtoff = tm.tm_gmtoff;
	snprintf(off, sizeof off, "%c%02ld:%02ld", gmtoff < 0 ? '-' : '+',
		 labs(gmtoff) / 3600, (labs(gmtoff) % 3600) / 60);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	strncat(out, off, 31 - strlen(out));
}

void log_time_utc(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void rotate_locked(void)
{
	char from[4200], to[4200];

	for (int i = LOG_ROTATE_KEEP - 1; i >= 1; i--) {
		snprintf(from, sizeof from, "%s.%d", log_path, i);
		snprintf(to, sizeof to, "%s.%d", log_path, i + 1);
		rename(from, to);
	}
	snprintf(to, sizeof to, "%s.1", log_path);
	rename(log_path, to);
	close(log_fd);
	log_fd = open_append(log_path);
}

int log_open_file(const char *path, struct err *e)
{
	int fd = open_append(path);

	if (fd < 0)
		return err_errno(e, ERR_IO, errno, "cannot open log file %s", path);
	pthread_mutex_lock(&log_lock);
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	snprintf(log_path, sizeof log_path, "%s", path);
	pthread_mutex_unlock(&log_lock);
	return 0;
}

void log_close_file(void)
{
	pthread_mutex_lock(&log_lock);
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	log_path[0] = '\0';
	pthread_mutex_unlock(&log_lock);
}

void log_reopen(void)
{
	pthread_mutex_lock(&log_lock);
	if (log_fd >= 0 && log_path[0]) {
		int fd = open_append(log_path);
		if (fd >= 0) {
			close(log_fd);
			log_fd = fd;
		}
	}
	pthread_mutex_unlock(&log_lock);
}

void log_add_secret(const char *secret)
{
	if (!secret || strlen(secret) < 3)
		return;
	pthread_mutex_lock(&log_lock);
	for (size_t i = 0; i < n_secrets; i++)
		if (strcmp(secrets[i], secret) == 0)
			goto out;
	if (n_secrets < MAX_SECRETS) {
		char *s = strdup(secret);
		if (s)
			secrets[n_secrets++] = s;
	} else {
		static bool told;
		if (!told) { /* never silently: this secret would be shown */
			static const char msg[] = "vigil: WARN more secrets than can be masked; "
						  "hint: shorten BACKUP_WEBHOOK_URL's query\n";
			told = true;
			if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
				/* nothing more can be done */
			}
		}
	}
out:
	pthread_mutex_unlock(&log_lock);
}

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Mask the occurrences of s in buf with "***". A secret made only of
 * letters and digits is masked where it stands as a whole word: inside a
 * longer run of letters and digits ("app" in "swapped") it is left, since
 * masking it there garbles the line and gives the secret away by context.
 * A secret with any other character cannot be an ordinary word and is
 * masked wherever it occurs. */
static void redact_one(char *buf, size_t n, const char *s)
{
	size_t sl = strlen(s);
	char *p = buf;
	bool word = true;

	(void)n;
	for (const char *c = s; *c; c++)
		word = word && word_char(*c);
	/* Search on after each replacement, so a secret that contains "***"
	 * (or equals it) cannot make this loop forever. */
	while ((p = strstr(p, s)) != NULL) {
		if (word && ((p > buf && word_char(p[-1])) || word_char(p[sl]))) {
			p++;
			continue;
		}
		size_t rest = strlen(p + sl);
		memcpy(p, "***", 3);
		memmove(p + 3, p + sl, rest + 1);
		p += 3;
	}
}

static void redact_locked(char *buf, size_t n)
{
	for (size_t i = 0; i < n_secrets; i++)
		redact_one(buf, n, secrets[i]);
}

void log_redact(char *buf, size_t n)
{
	pthread_mutex_lock(&log_lock);
	redact_locked(buf, n);
	pthread_mutex_unlock(&log_lock);
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void progress_clear_locked(void)
{
	if (progress_drawn) {
		write_all(2, "\r\033[K", 4);
		progress_drawn = false;
	}
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
	char line[8192], ts[32];
	size_t len;
	va_list ap;
	int n;

	if (level == LOG_DEBUG && !getenv("VIGIL_DEBUG"))
		return;
	if (stamp_utc)
		log_time_utc((int64_t)time(NULL), ts);
	else
		log_time_local((int64_t)time(NULL), ts);
	n = snprintf(line, sizeof line, "%s %s ", ts, names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	pthread_mutex_lock(&log_lock);
	redact_locked(line, sizeof line);
	len = strlen(line);
	line[len++] = '\n';
	line[len] = '\0';
	progress_clear_locked();
	write_all(2, line, len);
	if (log_fd >= 0) {
		struct stat st;
		if (fstat(log_fd, &st) == 0 && st.st_size > LOG_ROTATE_BYTES)
			rotate_locked();
		if (log_fd >= 0)
			write_all(log_fd, line, len);
	}
	pthread_mutex_unlock(&log_lock);
}

void log_progress_start(const char *label)
{
	pthread_mutex_lock(&log_lock);
	progress_on = isatty(2) == 1;
	snprintf(progress_label, sizeof progress_label, "%s", label);
	clock_gettime(CLOCK_MONOTONIC, &progress_t0);
	progress_last.tv_sec = 0;
	progress_last.tv_nsec = 0;
	pthread_mutex_unlock(&log_lock);
}

static double secs_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

void log_progress(uint64_t bytes)
{
	struct timespec now;
	char line[160];
	double el, mib;
	int n;

	if (!progress_on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&log_lock);
	if (progress_last.tv_sec && secs_between(&progress_last, &now) < 0.2)
		goto out;
	progress_last = now;
	el = secs_between(&progress_t0, &now);
	mib = (double)bytes / (1024.0 * 1024.0);
	n = snprintf(line, sizeof line, "\r\033[K%s  %.1f MiB  %.1f MiB/s  %d:%02d", progress_label,
		     mib, el > 0 ? mib / el : 0.0, (int)el / 60, (int)el % 60);
	if (n > 0)
		write_all(2, line, strlen(line));
	progress_drawn = true;
out:
	pthread_mutex_unlock(&log_lock);
}

void log_progress_end(void)
{
	pthread_mutex_lock(&log_lock);
	progress_clear_locked();
	progress_on = false;
	pthread_mutex_unlock(&log_lock);
}
