/* digest.h - SHA-256 (FIPS 180-4), the digest of every stored byte.
 *
 * OpenSSL's single home (one home per library, docs/design.md): no other file includes an
 * <openssl/...> header. The CRC-32 that gzip uses lives with zlib and
 * libdeflate in codec_gzip.c (codec_gzip_crc32 in codec.h).
 */
#ifndef VIGIL_DIGEST_H
#define VIGIL_DIGEST_H

#include <stddef.h>
#include <stdint.h>

/* Opaque: one SHA-256 computation in progress. */
struct digest;

/* A new SHA-256 context owned by the caller (released with digest_free),
 * or NULL when out of memory. */
struct digest *digest_new(void);

/* Add n bytes of buf to d. d may be NULL (no-op, for out-of-memory paths);
 * OpenSSL's EVP_DigestUpdate cannot fail for SHA-256 in memory. */
void digest_update(struct digest *d, const void *buf, size_t n);

/* Finish d into 64 lowercase hex digits and a NUL; d can no longer be
 * updated (still free it). With d NULL or on an OpenSSL failure, hex
 * becomes the empty string. */
void digest_final_hex(struct digest *d, char hex[65]);

/* Hex digest of the bytes hashed so far, leaving d usable (a copy of the
 * context is finished). Empty string on failure, as digest_final_hex. */
void digest_peek_hex(const struct digest *d, char hex[65]);

/* Release d. NULL is ok. */
void digest_free(struct digest *d);

#endif
