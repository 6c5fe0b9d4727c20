/* digest.c - SHA-256 (FIPS 180-4) through OpenSSL's EVP interface.
 *
 * See digest.h. This is the only file that includes OpenSSL (one home per library,
 * docs/design.md).
 */
#include "infra/digest.h"

#include <stdlib.h>

#include <openssl/evp.h>

struct digest {
	EVP_MD_CTX *ctx;
};

static void hex_encode(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Finish ctx into 64 hex digits; ctx can no longer be updated. */
static void md_final_hex(EVP_MD_CTX *ctx, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!ctx || EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != 32) {
		hex[0] = '\0';
		return;
	}
	hex_encode(md, len, hex);
}

/* A new SHA-256 context, or NULL when out of memory. */
static EVP_MD_CTX *md_new(void)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

struct digest *digest_new(void)
{
	struct digest *d = calloc(1, sizeof *d);

	if (!d)
		return NULL;
	d->ctx = md_new();
	if (!d->ctx) {
		free(d);
		return NULL;
	}
	return d;
}

void digest_update(struct digest *d, const void *buf, size_t n)
{
	if (d && n)
		EVP_DigestUpdate(d->ctx, buf, n);
}

void digest_final_hex(struct digest *d, char hex[65])
{
	md_final_hex(d ? d->ctx : NULL, hex);
}

void digest_peek_hex(const struct digest *d, char hex[65])
{
	EVP_MD_CTX *copy = EVP_MD_CTX_new();

	hex[0] = '\0';
	if (copy && d && EVP_MD_CTX_copy_ex(copy, d->ctx) == 1)
		md_final_hex(copy, hex);
	EVP_MD_CTX_free(copy);
}

void digest_free(struct digest *d)
{
	if (!d)
		return;
	EVP_MD_CTX_free(d->ctx);
	free(d);
}
