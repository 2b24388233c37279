/* Base64 and PEM armour on the buffer of buf.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"

int
hwk_buf_put_base64(struct hwk_buf *b, const uint8_t *v, size_t len,
    size_t wrap)
{
	struct hwk_buf *tmp = NULL;
	uint8_t *p;
	size_t enclen, i;
	int n, r;

	if (len > HWK_BUF_MAX / 2)
		return HWK_ERR_TOO_LARGE;
	enclen = 4 * ((len + 2) / 3);
	if ((tmp = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = hwk_buf_reserve(tmp, enclen + 1, &p)) != 0)
		goto out;
	n = EVP_EncodeBlock(p, v, (int)len);
	if (n < 0 || (size_t)n != enclen) {
		r = HWK_ERR_CRYPTO;
		goto out;
	}
	if (wrap == 0) {
		r = hwk_buf_put(b, p, enclen);
		goto out;
	}
	for (i = 0; i < enclen; i += wrap) {
		size_t chunk = enclen - i < wrap ? enclen - i : wrap;

		if ((r = hwk_buf_put(b, p + i, chunk)) != 0 ||
		    (r = hwk_buf_put_u8(b, '\n')) != 0)
			goto out;
	}
	r = HWK_OK;
 out:
	hwk_buf_free(&tmp);
	return r;
}

int
hwk_base64_decode(const char *s, size_t len, struct hwk_buf *out)
{
	struct hwk_buf *clean = NULL;
	uint8_t *p, *dec;
	size_t i, n, pad = 0;
	int dlen, r;

	if ((clean = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isspace(c))
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || !(isalnum(c) || c == '+' || c == '/')) {
			r = HWK_ERR_FORMAT;	/* '=' only at the end */
			goto out;
		}
		if ((r = hwk_buf_put_u8(clean, c)) != 0)
			goto out;
	}
	n = hwk_buf_len(clean);
	if (pad > 2 || n % 4 == 1 || (pad > 0 && (n + pad) % 4 != 0)) {
		r = HWK_ERR_FORMAT;
		goto out;
	}
	/* EVP_DecodeBlock wants whole quads; restore the padding it needs. */
	pad = (4 - n % 4) % 4;
	for (i = 0; i < pad; i++)
		if ((r = hwk_buf_put_u8(clean, '=')) != 0)
			goto out;
	n = hwk_buf_len(clean);
	if (n == 0) {
		r = HWK_OK;
		goto out;
	}
	if ((r = hwk_buf_reserve(out, n / 4 * 3, &dec)) != 0)
		goto out;
	p = (uint8_t *)hwk_buf_ptr(clean);
	dlen = EVP_DecodeBlock(dec, p, (int)n);
	if (dlen < 0 || (size_t)dlen != n / 4 * 3) {
		hwk_buf_consume_end(out, n / 4 * 3);
		r = HWK_ERR_FORMAT;
		goto out;
	}
	r = hwk_buf_consume_end(out, pad);	/* bytes that padding made */
 out:
	hwk_buf_free(&clean);
	return r;
}

int
hwk_pem_encode(struct hwk_buf *out, const char *label, const uint8_t *v,
    size_t len, size_t wrap)
{
	int r;

	if ((r = hwk_buf_putf(out, "-----BEGIN %s-----\n", label)) != 0 ||
	    (r = hwk_buf_put_base64(out, v, len, wrap)) != 0 ||
	    (r = hwk_buf_putf(out, "-----END %s-----\n", label)) != 0)
		return r;
	return HWK_OK;
}

/* Finds needle in the len bytes of hay, which need not be NUL-terminated. */
static const char *
find(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0 || n > len)
		return NULL;
	return memmem(hay, len, needle, n);
}

int
hwk_pem_decode(const char *text, size_t len, const char *label,
    struct hwk_buf *out)
{
	char begin[128], end[128];
	const char *b, *e;
	int n;

	n = snprintf(begin, sizeof(begin), "-----BEGIN %s-----", label);
	if (n < 0 || (size_t)n >= sizeof(begin))
		return HWK_ERR_INVALID_ARG;
	n = snprintf(end, sizeof(end), "-----END %s-----", label);
	if (n < 0 || (size_t)n >= sizeof(end))
		return HWK_ERR_INVALID_ARG;
	if ((b = find(text, len, begin)) == NULL)
		return HWK_ERR_FORMAT;
	b += strlen(begin);
	if ((e = find(b, len - (size_t)(b - text), end)) == NULL)
		return HWK_ERR_TRUNCATED;
	return hwk_base64_decode(b, (size_t)(e - b), out);
}
