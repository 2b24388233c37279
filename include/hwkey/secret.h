/* Secrets: how long they may be, and reading one from a PIN file. */
#ifndef HWKEY_SECRET_H
#define HWKEY_SECRET_H

#include <stddef.h>

/*
 * Room for a secret with its NUL: -N, -P, the prompts and PIN files all
 * take at most HWK_SECRET_MAX - 1 characters, so what one accepts the
 * others read back.
 */
#define HWK_SECRET_MAX	1024

struct hwk_ctx;

/*
 * Reads the first line of an RFC 7512 pin-source ("file:PATH"): a regular
 * file that only its owner can read or write.  On failure the context says
 * why, naming whose secret (a "PIN", an "SO PIN") could not be read.
 */
int	hwk_pin_source_read(struct hwk_ctx *ctx, const char *source,
	    const char *whose, char *buf, size_t len);

#endif /* HWKEY_SECRET_H */
