/* The bounds-checked buffer of buf.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"

struct hwk_buf {
	uint8_t		*d;
	const uint8_t	*cd;		/* what reads see: d, or foreign memory */
	size_t		 off;		/* first unread byte */
	size_t		 size;		/* end of data */
	size_t		 alloc;
	size_t		 max;
	int		 readonly;
};

void
hwk_freezero(void *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

struct hwk_buf *
hwk_buf_new(void)
{
	struct hwk_buf *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->max = HWK_BUF_MAX;
	return b;
}

struct hwk_buf *
hwk_buf_from(const void *data, size_t len)
{
	struct hwk_buf *b;

	if ((data == NULL && len != 0) || len > HWK_BUF_MAX)
		return NULL;
	if ((b = hwk_buf_new()) == NULL)
		return NULL;
	b->cd = data;
	b->size = len;
	b->readonly = 1;
	return b;
}

void
hwk_buf_free(struct hwk_buf **bp)
{
	struct hwk_buf *b;

	if (bp == NULL || (b = *bp) == NULL)
		return;
	if (!b->readonly)
		hwk_freezero(b->d, b->alloc);
	free(b);
	*bp = NULL;
}

void
hwk_buf_reset(struct hwk_buf *b)
{
	if (b->readonly) {
		b->off = b->size = 0;
		return;
	}
	if (b->d != NULL)
		explicit_bzero(b->d, b->alloc);
	b->off = b->size = 0;
}

int
hwk_buf_set_max(struct hwk_buf *b, size_t max)
{
	if (max > HWK_BUF_MAX || max < b->size)
		return HWK_ERR_INVALID_ARG;
	b->max = max;
	return HWK_OK;
}

size_t
hwk_buf_len(const struct hwk_buf *b)
{
	return b->size - b->off;
}

const uint8_t *
hwk_buf_ptr(const struct hwk_buf *b)
{
	return b->cd == NULL ? NULL : b->cd + b->off;
}

char *
hwk_buf_dup_string(const struct hwk_buf *b)
{
	size_t len = hwk_buf_len(b);
	char *s;

	if (len > 0 && memchr(hwk_buf_ptr(b), '\0', len) != NULL)
		return NULL;
	if ((s = malloc(len + 1)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(s, hwk_buf_ptr(b), len);
	s[len] = '\0';
	return s;
}

/* Moves unread data to the front when that makes room. */
static void
buf_pack(struct hwk_buf *b)
{
	if (b->off == 0 || b->readonly)
		return;
	memmove(b->d, b->d + b->off, b->size - b->off);
	explicit_bzero(b->d + b->size - b->off, b->off);
	b->size -= b->off;
	b->off = 0;
}

int
hwk_buf_reserve(struct hwk_buf *b, size_t len, uint8_t **dp)
{
	size_t need, nalloc;
	uint8_t *nd;

	if (dp != NULL)
		*dp = NULL;
	if (b->readonly)
		return HWK_ERR_INVALID_ARG;
	if (len > b->max || b->size - b->off > b->max - len)
		return HWK_ERR_TOO_LARGE;
	if (b->alloc - b->size < len)
		buf_pack(b);
	need = b->size + len;
	if (need > b->alloc || b->d == NULL) {
		nalloc = b->alloc < 256 ? 256 : b->alloc;
		while (nalloc < need)
			nalloc = nalloc > b->max / 2 ? b->max : nalloc * 2;
		/* Grow by copy so the old block can be wiped, not abandoned. */
		if ((nd = malloc(nalloc)) == NULL)
			return HWK_ERR_NOMEM;
		if (b->d != NULL) {
			memcpy(nd, b->d, b->size);
			hwk_freezero(b->d, b->alloc);
		}
		b->d = nd;
		b->cd = nd;
		b->alloc = nalloc;
	}
	if (dp != NULL)
		*dp = b->d + b->size;
	b->size += len;
	return HWK_OK;
}

int
hwk_buf_put(struct hwk_buf *b, const void *v, size_t len)
{
	uint8_t *p;
	int r;

	if ((r = hwk_buf_reserve(b, len, &p)) != 0)
		return r;
	if (len > 0)
		memcpy(p, v, len);
	return HWK_OK;
}

int
hwk_buf_putb(struct hwk_buf *b, const struct hwk_buf *v)
{
	return hwk_buf_put(b, hwk_buf_ptr(v), hwk_buf_len(v));
}

int
hwk_buf_putf(struct hwk_buf *b, const char *fmt, ...)
{
	va_list ap;
	uint8_t *p;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return HWK_ERR_INVALID_ARG;
	if ((r = hwk_buf_reserve(b, (size_t)n + 1, &p)) != 0)
		return r;
	va_start(ap, fmt);
	vsnprintf((char *)p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return hwk_buf_consume_end(b, 1);	/* drop the NUL */
}

int
hwk_buf_put_u8(struct hwk_buf *b, uint8_t v)
{
	return hwk_buf_put(b, &v, 1);
}

int
hwk_buf_put_u32(struct hwk_buf *b, uint32_t v)
{
	uint8_t p[4] = { v >> 24, v >> 16, v >> 8, v };

	return hwk_buf_put(b, p, sizeof(p));
}

int
hwk_buf_put_u64(struct hwk_buf *b, uint64_t v)
{
	int r;

	if ((r = hwk_buf_put_u32(b, (uint32_t)(v >> 32))) != 0)
		return r;
	return hwk_buf_put_u32(b, (uint32_t)v);
}

int
hwk_buf_put_string(struct hwk_buf *b, const void *v, size_t len)
{
	uint8_t *p;
	int r;

	if (len > b->max - 4)
		return HWK_ERR_TOO_LARGE;
	if ((r = hwk_buf_reserve(b, len + 4, &p)) != 0)
		return r;
	p[0] = (uint8_t)(len >> 24);
	p[1] = (uint8_t)(len >> 16);
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	if (len > 0)
		memcpy(p + 4, v, len);
	return HWK_OK;
}

int
hwk_buf_put_cstring(struct hwk_buf *b, const char *s)
{
	return hwk_buf_put_string(b, s, s == NULL ? 0 : strlen(s));
}

int
hwk_buf_put_stringb(struct hwk_buf *b, const struct hwk_buf *v)
{
	return hwk_buf_put_string(b, hwk_buf_ptr(v), hwk_buf_len(v));
}

int
hwk_buf_put_mpint(struct hwk_buf *b, const uint8_t *v, size_t len)
{
	uint8_t *p;
	size_t pad;
	int r;

	while (len > 0 && *v == 0) {	/* minimal encoding */
		v++;
		len--;
	}
	if (len > HWK_BIGNUM_MAX_BYTES)
		return HWK_ERR_TOO_LARGE;
	pad = (len > 0 && (v[0] & 0x80) != 0) ? 1 : 0;	/* stay positive */
	if ((r = hwk_buf_reserve(b, 4 + pad + len, &p)) != 0)
		return r;
	p[0] = (uint8_t)((len + pad) >> 24);
	p[1] = (uint8_t)((len + pad) >> 16);
	p[2] = (uint8_t)((len + pad) >> 8);
	p[3] = (uint8_t)(len + pad);
	if (pad)
		p[4] = 0;
	if (len > 0)
		memcpy(p + 4 + pad, v, len);
	return HWK_OK;
}

int
hwk_buf_consume(struct hwk_buf *b, size_t len)
{
	if (len > hwk_buf_len(b))
		return HWK_ERR_TRUNCATED;
	b->off += len;
	if (b->off == b->size && !b->readonly)
		b->off = b->size = 0;
	return HWK_OK;
}

int
hwk_buf_consume_end(struct hwk_buf *b, size_t len)
{
	if (len > hwk_buf_len(b))
		return HWK_ERR_TRUNCATED;
	b->size -= len;
	/* An empty buffer may have no memory yet: d + 0 on NULL is UB. */
	if (!b->readonly && len > 0)
		explicit_bzero(b->d + b->size, len);
	return HWK_OK;
}

int
hwk_buf_get(struct hwk_buf *b, void *v, size_t len)
{
	if (len > hwk_buf_len(b))
		return HWK_ERR_TRUNCATED;
	if (v != NULL && len > 0)
		memcpy(v, hwk_buf_ptr(b), len);
	return hwk_buf_consume(b, len);
}

int
hwk_buf_get_u8(struct hwk_buf *b, uint8_t *v)
{
	*v = 0;
	return hwk_buf_get(b, v, 1);
}

int
hwk_buf_peek_u32(const struct hwk_buf *b, uint32_t *v)
{
	const uint8_t *p = hwk_buf_ptr(b);

	*v = 0;
	if (hwk_buf_len(b) < 4)
		return HWK_ERR_TRUNCATED;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
	return HWK_OK;
}

int
hwk_buf_get_u32(struct hwk_buf *b, uint32_t *v)
{
	int r;

	if ((r = hwk_buf_peek_u32(b, v)) != 0)
		return r;
	return hwk_buf_consume(b, 4);
}

int
hwk_buf_get_u64(struct hwk_buf *b, uint64_t *v)
{
	uint32_t hi, lo;
	int r;

	*v = 0;
	if (hwk_buf_len(b) < 8)
		return HWK_ERR_TRUNCATED;
	if ((r = hwk_buf_get_u32(b, &hi)) != 0 ||
	    (r = hwk_buf_get_u32(b, &lo)) != 0)
		return r;
	*v = (uint64_t)hi << 32 | lo;
	return HWK_OK;
}

int
hwk_buf_get_string_direct(struct hwk_buf *b, const uint8_t **vp, size_t *lenp)
{
	uint32_t len;
	const uint8_t *p;
	int r;

	if (vp != NULL)
		*vp = NULL;
	if (lenp != NULL)
		*lenp = 0;
	if ((r = hwk_buf_peek_u32(b, &len)) != 0)
		return r;
	if (len > hwk_buf_len(b) - 4)
		return len > b->max ? HWK_ERR_TOO_LARGE : HWK_ERR_TRUNCATED;
	p = hwk_buf_ptr(b) + 4;
	if ((r = hwk_buf_consume(b, 4 + (size_t)len)) != 0)
		return r;
	if (vp != NULL)
		*vp = p;
	if (lenp != NULL)
		*lenp = len;
	return HWK_OK;
}

int
hwk_buf_get_string(struct hwk_buf *b, uint8_t **vp, size_t *lenp)
{
	const uint8_t *p;
	size_t len;
	int r;

	*vp = NULL;
	if (lenp != NULL)
		*lenp = 0;
	if ((r = hwk_buf_get_string_direct(b, &p, &len)) != 0)
		return r;
	/* One spare NUL so text callers are safe. */
	if ((*vp = malloc(len + 1)) == NULL)
		return HWK_ERR_NOMEM;
	if (len > 0)
		memcpy(*vp, p, len);
	(*vp)[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return HWK_OK;
}

int
hwk_buf_get_cstring(struct hwk_buf *b, char **vp, size_t *lenp)
{
	const uint8_t *p;
	size_t len;
	uint32_t plen;
	int r;

	*vp = NULL;
	if (lenp != NULL)
		*lenp = 0;
	/* Check for a NUL before consuming anything. */
	if ((r = hwk_buf_peek_u32(b, &plen)) != 0)
		return r;
	if (plen <= hwk_buf_len(b) - 4 && plen > 0 &&
	    memchr(hwk_buf_ptr(b) + 4, '\0', plen) != NULL)
		return HWK_ERR_FORMAT;
	if ((r = hwk_buf_get_string_direct(b, &p, &len)) != 0)
		return r;
	if ((*vp = malloc(len + 1)) == NULL)
		return HWK_ERR_NOMEM;
	if (len > 0)
		memcpy(*vp, p, len);
	(*vp)[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return HWK_OK;
}

int
hwk_buf_get_stringb(struct hwk_buf *b, struct hwk_buf **vp)
{
	const uint8_t *p;
	size_t len;
	struct hwk_buf *v;
	int r;

	*vp = NULL;
	if ((r = hwk_buf_get_string_direct(b, &p, &len)) != 0)
		return r;
	if ((v = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = hwk_buf_put(v, p, len)) != 0) {
		hwk_buf_free(&v);
		return r;
	}
	*vp = v;
	return HWK_OK;
}

int
hwk_buf_get_mpint_direct(struct hwk_buf *b, const uint8_t **vp, size_t *lenp)
{
	const uint8_t *p;
	size_t len;
	uint32_t plen;
	int r;

	*vp = NULL;
	*lenp = 0;
	if ((r = hwk_buf_peek_u32(b, &plen)) != 0)
		return r;
	if (plen > HWK_BIGNUM_MAX_BYTES + 1)
		return HWK_ERR_TOO_LARGE;
	if (plen > hwk_buf_len(b) - 4)
		return HWK_ERR_TRUNCATED;
	p = hwk_buf_ptr(b) + 4;
	len = plen;
	if (len > 0 && (p[0] & 0x80) != 0)
		return HWK_ERR_FORMAT;		/* negative */
	while (len > 0 && *p == 0) {
		p++;
		len--;
	}
	if (len > HWK_BIGNUM_MAX_BYTES)
		return HWK_ERR_TOO_LARGE;
	if ((r = hwk_buf_consume(b, 4 + (size_t)plen)) != 0)
		return r;
	*vp = p;
	*lenp = len;
	return HWK_OK;
}
