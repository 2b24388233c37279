/*
 * The bounds-checked buffer through which every wire and file encoding goes:
 * SSH strings and mpints, key blobs, agent messages, base64 and PEM armour.
 * Writes append at the end, reads consume from the front; every read checks
 * the length first and clears its out-parameters; the memory is wiped when
 * it grows or is freed, because buffers carry private key material.
 */
#ifndef HWKEY_BUF_H
#define HWKEY_BUF_H

#include <stddef.h>
#include <stdint.h>

#define HWK_BUF_MAX		(16 * 1024 * 1024)	/* default size cap */
#define HWK_BIGNUM_MAX_BYTES	(16384 / 8 + 1)		/* 16384-bit mpint */

struct hwk_buf;

struct hwk_buf *hwk_buf_new(void);
/* A read-only buffer over memory the caller keeps alive. */
struct hwk_buf *hwk_buf_from(const void *data, size_t len);
void	hwk_buf_free(struct hwk_buf **bp);
void	hwk_buf_reset(struct hwk_buf *b);
int	hwk_buf_set_max(struct hwk_buf *b, size_t max);

size_t	hwk_buf_len(const struct hwk_buf *b);		/* bytes not yet read */
const uint8_t *hwk_buf_ptr(const struct hwk_buf *b);	/* first unread byte */
/* A NUL-terminated copy of the unread bytes; NULL if they hold a NUL. */
char   *hwk_buf_dup_string(const struct hwk_buf *b);

int	hwk_buf_reserve(struct hwk_buf *b, size_t len, uint8_t **dp);
int	hwk_buf_put(struct hwk_buf *b, const void *v, size_t len);
int	hwk_buf_putb(struct hwk_buf *b, const struct hwk_buf *v);
int	hwk_buf_putf(struct hwk_buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	hwk_buf_put_u8(struct hwk_buf *b, uint8_t v);
int	hwk_buf_put_u32(struct hwk_buf *b, uint32_t v);
int	hwk_buf_put_u64(struct hwk_buf *b, uint64_t v);
int	hwk_buf_put_string(struct hwk_buf *b, const void *v, size_t len);
int	hwk_buf_put_cstring(struct hwk_buf *b, const char *s);
int	hwk_buf_put_stringb(struct hwk_buf *b, const struct hwk_buf *v);
/* An SSH mpint from an unsigned big-endian magnitude. */
int	hwk_buf_put_mpint(struct hwk_buf *b, const uint8_t *v, size_t len);

int	hwk_buf_consume(struct hwk_buf *b, size_t len);
int	hwk_buf_consume_end(struct hwk_buf *b, size_t len);
int	hwk_buf_get(struct hwk_buf *b, void *v, size_t len);
int	hwk_buf_get_u8(struct hwk_buf *b, uint8_t *v);
int	hwk_buf_get_u32(struct hwk_buf *b, uint32_t *v);
int	hwk_buf_get_u64(struct hwk_buf *b, uint64_t *v);
int	hwk_buf_peek_u32(const struct hwk_buf *b, uint32_t *v);
/* A pointer into the buffer, valid until the buffer changes. */
int	hwk_buf_get_string_direct(struct hwk_buf *b, const uint8_t **vp,
	    size_t *lenp);
int	hwk_buf_get_string(struct hwk_buf *b, uint8_t **vp, size_t *lenp);
/* A string that must not hold a NUL, returned NUL-terminated. */
int	hwk_buf_get_cstring(struct hwk_buf *b, char **vp, size_t *lenp);
/* A string copied into a new buffer. */
int	hwk_buf_get_stringb(struct hwk_buf *b, struct hwk_buf **vp);
/* A non-negative mpint as its magnitude, without leading zero bytes. */
int	hwk_buf_get_mpint_direct(struct hwk_buf *b, const uint8_t **vp,
	    size_t *lenp);

/* Base64 of v onto b, a newline every wrap chars (0: none); armour.c. */
int	hwk_buf_put_base64(struct hwk_buf *b, const uint8_t *v, size_t len,
	    size_t wrap);
/* Decodes base64 (whitespace allowed, padding optional at the very end). */
int	hwk_base64_decode(const char *s, size_t len, struct hwk_buf *out);

/* PEM armour: "-----BEGIN label-----", base64 wrapped at wrap, "-----END". */
int	hwk_pem_encode(struct hwk_buf *out, const char *label,
	    const uint8_t *v, size_t len, size_t wrap);
/* Finds the first block of that label in text and decodes it into out. */
int	hwk_pem_decode(const char *text, size_t len, const char *label,
	    struct hwk_buf *out);

void	hwk_freezero(void *p, size_t len);

#endif /* HWKEY_BUF_H */
