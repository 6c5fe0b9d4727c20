/* ca.c - see ca.h. */
#include "infra/ca.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where distributions keep their PEM bundle (Go's crypto/x509,
 * root_linux.go): Debian/Ubuntu/Gentoo (ca-certificates), Fedora/RHEL 6,
 * openSUSE, OpenELEC, CentOS/RHEL 7, Alpine. */
static const char *const known[] = {
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/tls/cacert.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
};

/* 0 when the first 64 KiB read from fd hold a PEM certificate line
 * ("-----BEGIN CERTIFICATE-----" or "-----BEGIN TRUSTED CERTIFICATE-----",
 * RFC 7468 section 5), else EILSEQ (or the read's errno). A garbage file
 * is found at start, not as "certificate not trusted" at every alert. */
static int pem_certificate_in(int fd)
{
	char buf[65536 + 1];
	size_t got = 0;
	ssize_t r;

	while (got < sizeof buf - 1 && (r = read(fd, buf + got, sizeof buf - 1 - got)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	return memmem(buf, got, "CERTIFICATE-----", 16) && memmem(buf, got, "-----BEGIN ", 11)
		       ? 0
		       : EILSEQ;
}

/* 0 when path opens for reading and is a non-empty regular file; else the
 * errno that says why (EISDIR for a directory, ENODATA for an empty file,
 * EILSEQ for a file with no PEM certificate). */
static int readable_bundle(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return errno;
	if (fstat(fd, &st) < 0)
		err = errno;
	else if (S_ISDIR(st.st_mode))
		err = EISDIR;
	else if (!S_ISREG(st.st_mode) || st.st_size == 0)
		err = ENODATA;
	else
		err = pem_certificate_in(fd);
	close(fd);
	return err;
}

int ca_bundle_choose(char *out, size_t n, struct err *e)
{
	const char *env = getenv("SSL_CERT_FILE");
	char tried[600] = "";
	int why;

	out[0] = '\0';
	if (env && *env) {
		why = readable_bundle(env);
		if (why == 0) {
			snprintf(out, n, "%s", env);
			return 0;
		}
		return err_set(e, ERR_CONFIG, "SSL_CERT_FILE=%s is not a readable CA bundle: %s; "
			       "hint: point it at a PEM bundle (the ca-certificates package "
			       "installs /etc/ssl/certs/ca-certificates.crt), or unset it to use "
			       "the system's; TLS verification is never turned off", env,
			       why == ENODATA	? "an empty or special file"
			       : why == EILSEQ	? "no PEM certificate in it"
						: strerror(why));
	}
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		if (readable_bundle(known[i]) == 0) {
			snprintf(out, n, "%s", known[i]);
			return 0;
		}
		snprintf(tried + strlen(tried), sizeof tried - strlen(tried), "%s%s", i ? ", " : "",
			 known[i]);
	}
	return err_set(e, ERR_CONFIG, "no CA bundle found (SSL_CERT_FILE is unset; tried %s): TLS "
		       "servers cannot be verified; hint: install the ca-certificates package "
		       "(apt-get install ca-certificates), or mount a PEM bundle and set "
		       "SSL_CERT_FILE to it; TLS verification is never turned off", tried);
}
