/* ca.h - which CA bundle TLS peers are verified with (README "Alerts").
 *
 * vigil chooses the bundle itself and hands it to libcurl
 * (curl.c, CURLOPT_CAINFO) on every call: a static libcurl has no CA path
 * built in, and libcurl alone never reads SSL_CERT_FILE. The daemon's
 * start-up checks (pipeline/startup.c) ask the same function, so a missing
 * bundle shows at start, not with the first alert.
 */
#ifndef VIGIL_CA_H
#define VIGIL_CA_H

#include <stddef.h>

#include "base/err.h"

/* Choose the CA bundle: SSL_CERT_FILE when set and non-empty (it must be a
 * readable, non-empty regular file, else that is the error: no fallback to
 * another bundle), else the first readable non-empty regular file of the
 * well-known places of Debian/Ubuntu, Fedora/RHEL, openSUSE and Alpine
 * (the list Go's crypto/x509 searches on Linux). Writes the path to out
 * (size n). Returns 0, or -1 with e set (ERR_CONFIG): the message names
 * SSL_CERT_FILE or every path tried, and says to install ca-certificates
 * or set SSL_CERT_FILE. Reads only the file system and the environment. */
int ca_bundle_choose(char *out, size_t n, struct err *e);

#endif
