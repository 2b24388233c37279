/* SSH public keys: blobs, .pub lines, fingerprints and randomart (sshkey.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"

struct keytype {
	const char	*name;
	const char	*label;
	int		 shape;
	unsigned	 bits;		/* fixed size, or 0 */
};

enum { SHAPE_RSA, SHAPE_DSA, SHAPE_ECDSA, SHAPE_ED25519, SHAPE_ECDSA_SK,
    SHAPE_ED25519_SK };

static const struct keytype keytypes[] = {
	{ "ssh-rsa", "RSA", SHAPE_RSA, 0 },
	{ "ssh-dss", "DSA", SHAPE_DSA, 0 },
	{ "ecdsa-sha2-nistp256", "ECDSA", SHAPE_ECDSA, 256 },
	{ "ecdsa-sha2-nistp384", "ECDSA", SHAPE_ECDSA, 384 },
	{ "ecdsa-sha2-nistp521", "ECDSA", SHAPE_ECDSA, 521 },
	{ "ssh-ed25519", "ED25519", SHAPE_ED25519, 256 },
	{ "sk-ecdsa-sha2-nistp256@openssh.com", "ECDSA-SK", SHAPE_ECDSA_SK,
	    256 },
	{ "sk-ssh-ed25519@openssh.com", "ED25519-SK", SHAPE_ED25519_SK, 256 },
	{ NULL, NULL, 0, 0 },
};

static const struct keytype *
keytype_find(const char *name)
{
	const struct keytype *t;

	for (t = keytypes; t->name != NULL; t++)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

/* Bits in an unsigned big-endian magnitude without leading zeros. */
static unsigned
magnitude_bits(const uint8_t *v, size_t len)
{
	unsigned bits;
	uint8_t top;

	if (len == 0)
		return 0;
	bits = (unsigned)(len - 1) * 8;
	for (top = v[0]; top != 0; top >>= 1)
		bits++;
	return bits;
}

void
hwk_pubkey_free(struct hwk_pubkey **kp)
{
	struct hwk_pubkey *k;

	if (kp == NULL || (k = *kp) == NULL)
		return;
	free(k->type);
	free(k->blob);
	free(k->comment);
	free(k);
	*kp = NULL;
}

/* Walks a blob of a known type; sets the size in bits. */
static int
blob_parse(const struct keytype *t, struct hwk_buf *b, unsigned *bitsp)
{
	const uint8_t *p;
	size_t len;
	int r, i;

	*bitsp = t->bits;
	switch (t->shape) {
	case SHAPE_RSA:		/* e, n */
		if ((r = hwk_buf_get_mpint_direct(b, &p, &len)) != 0 ||
		    (r = hwk_buf_get_mpint_direct(b, &p, &len)) != 0)
			return r;
		if (len == 0)
			return HWK_ERR_FORMAT;
		*bitsp = magnitude_bits(p, len);
		break;
	case SHAPE_DSA:		/* p, q, g, y */
		if ((r = hwk_buf_get_mpint_direct(b, &p, &len)) != 0)
			return r;
		*bitsp = magnitude_bits(p, len);
		for (i = 0; i < 3; i++)
			if ((r = hwk_buf_get_mpint_direct(b, &p, &len)) != 0)
				return r;
		break;
	case SHAPE_ECDSA:	/* curve, point */
	case SHAPE_ED25519_SK:	/* key, application */
		if ((r = hwk_buf_get_string_direct(b, NULL, NULL)) != 0 ||
		    (r = hwk_buf_get_string_direct(b, NULL, NULL)) != 0)
			return r;
		break;
	case SHAPE_ED25519:
		if ((r = hwk_buf_get_string_direct(b, &p, &len)) != 0)
			return r;
		if (len != 32)
			return HWK_ERR_FORMAT;
		break;
	case SHAPE_ECDSA_SK:	/* curve, point, application */
		for (i = 0; i < 3; i++)
			if ((r = hwk_buf_get_string_direct(b, NULL, NULL)) != 0)
				return r;
		break;
	default:
		return HWK_ERR_KEY_TYPE;
	}
	return hwk_buf_len(b) == 0 ? HWK_OK : HWK_ERR_FORMAT;
}

int
hwk_pubkey_from_blob(const uint8_t *blob, size_t len, const char *comment,
    struct hwk_pubkey **kp)
{
	struct hwk_buf *b = NULL;
	struct hwk_pubkey *k = NULL;
	const struct keytype *t;
	int r;

	*kp = NULL;
	if ((b = hwk_buf_from(blob, len)) == NULL ||
	    (k = calloc(1, sizeof(*k))) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if ((r = hwk_buf_get_cstring(b, &k->type, NULL)) != 0)
		goto out;
	if ((t = keytype_find(k->type)) == NULL) {
		r = HWK_ERR_KEY_TYPE;
		goto out;
	}
	if ((r = blob_parse(t, b, &k->bits)) != 0)
		goto out;
	if ((k->blob = malloc(len)) == NULL ||
	    (comment != NULL && (k->comment = strdup(comment)) == NULL)) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	memcpy(k->blob, blob, len);
	k->bloblen = len;
	*kp = k;
	k = NULL;
	r = HWK_OK;
 out:
	hwk_buf_free(&b);
	hwk_pubkey_free(&k);
	return r;
}

int
hwk_pubkey_from_line(const char *line, struct hwk_pubkey **kp)
{
	struct hwk_buf *blob = NULL;
	const char *type, *b64, *cmt, *end;
	char *comment = NULL, *tname = NULL;
	size_t typelen, b64len;
	int r;

	*kp = NULL;
	for (type = line; *type == ' ' || *type == '\t'; type++)
		;
	typelen = strcspn(type, " \t\r\n");
	for (b64 = type + typelen; *b64 == ' ' || *b64 == '\t'; b64++)
		;
	b64len = strcspn(b64, " \t\r\n");
	if (typelen == 0 || b64len == 0)
		return HWK_ERR_FORMAT;
	for (cmt = b64 + b64len; *cmt == ' ' || *cmt == '\t'; cmt++)
		;
	end = cmt + strcspn(cmt, "\r\n");
	while (end > cmt && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end > cmt && (comment = strndup(cmt, (size_t)(end - cmt))) == NULL)
		return HWK_ERR_NOMEM;
	if ((blob = hwk_buf_new()) == NULL ||
	    (tname = strndup(type, typelen)) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if ((r = hwk_base64_decode(b64, b64len, blob)) != 0)
		goto out;
	if ((r = hwk_pubkey_from_blob(hwk_buf_ptr(blob), hwk_buf_len(blob),
	    comment, kp)) != 0)
		goto out;
	if (strcmp((*kp)->type, tname) != 0) {	/* label and blob disagree */
		hwk_pubkey_free(kp);
		r = HWK_ERR_FORMAT;
		goto out;
	}
	r = HWK_OK;
 out:
	free(comment);
	free(tname);
	hwk_buf_free(&blob);
	return r;
}

const char *
hwk_pubkey_label(const struct hwk_pubkey *k)
{
	const struct keytype *t;

	if ((t = keytype_find(k->type)) == NULL)
		return "unknown";
	return t->label;
}

int
hwk_pubkey_format(const struct hwk_pubkey *k, int with_comment, char **linep)
{
	struct hwk_buf *b = NULL;
	int r;

	*linep = NULL;
	if ((b = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = hwk_buf_putf(b, "%s ", k->type)) != 0 ||
	    (r = hwk_buf_put_base64(b, k->blob, k->bloblen, 0)) != 0)
		goto out;
	if (with_comment && k->comment != NULL &&
	    (r = hwk_buf_putf(b, " %s", k->comment)) != 0)
		goto out;
	if ((*linep = hwk_buf_dup_string(b)) == NULL)
		r = HWK_ERR_NOMEM;
 out:
	hwk_buf_free(&b);
	return r;
}

int
hwk_fingerprint(const uint8_t *blob, size_t len, char fp[HWK_FP_LEN],
    uint8_t digest[32])
{
	uint8_t d[32];
	unsigned char b64[48];
	unsigned int dlen = 0;
	int n;

	fp[0] = '\0';
	if (!EVP_Digest(blob, len, d, &dlen, EVP_sha256(), NULL) ||
	    dlen != sizeof(d))
		return HWK_ERR_CRYPTO;
	n = EVP_EncodeBlock(b64, d, (int)sizeof(d));
	if (n != 44)
		return HWK_ERR_CRYPTO;
	/* OpenSSH drops the base64 padding. */
	snprintf(fp, HWK_FP_LEN, "SHA256:%.43s", (const char *)b64);
	if (digest != NULL)
		memcpy(digest, d, sizeof(d));
	return HWK_OK;
}

#define ART_W	17
#define ART_H	9

/* Border of the picture with a title centred in it. */
static void
art_border(char **pp, const char *title)
{
	char *p = *pp;
	size_t tlen = strlen(title), i;

	*p++ = '+';
	for (i = 0; i < (ART_W - tlen) / 2; i++)
		*p++ = '-';
	memcpy(p, title, tlen);
	p += tlen;
	for (i += tlen; i < ART_W; i++)
		*p++ = '-';
	*p++ = '+';
	*pp = p;
}

int
hwk_randomart(const uint8_t *digest, size_t len, const char *label,
    unsigned bits, const char *alg, char **artp)
{
	/* A cell visited more often gets a denser symbol; S, E mark the ends. */
	static const char sym[] = " .o+=*BOX@%&#/^SE";
	const int top = (int)sizeof(sym) - 2;	/* index of 'E' */
	uint8_t field[ART_W][ART_H];
	char title[ART_W], hash[ART_W], *art, *p;
	int x = ART_W / 2, y = ART_H / 2, n;
	size_t i;
	unsigned step, in;

	*artp = NULL;
	memset(field, 0, sizeof(field));
	for (i = 0; i < len; i++) {
		in = digest[i];
		for (step = 0; step < 4; step++, in >>= 2) {
			x += (in & 1) ? 1 : -1;
			y += (in & 2) ? 1 : -1;
			x = x < 0 ? 0 : (x > ART_W - 1 ? ART_W - 1 : x);
			y = y < 0 ? 0 : (y > ART_H - 1 ? ART_H - 1 : y);
			if (field[x][y] < top - 2)
				field[x][y]++;
		}
	}
	field[ART_W / 2][ART_H / 2] = (uint8_t)(top - 1);
	field[x][y] = (uint8_t)top;

	/* The title keeps its size only if "[type bits]" fits the border. */
	n = snprintf(title, sizeof(title), "[%s %u]", label, bits);
	if (n < 0 || n > (int)sizeof(title))
		snprintf(title, sizeof(title), "[%s]", label);
	snprintf(hash, sizeof(hash), "[%s]", alg);

	if ((art = malloc((ART_W + 3) * (ART_H + 2) + 1)) == NULL)
		return HWK_ERR_NOMEM;
	p = art;
	art_border(&p, title);
	*p++ = '\n';
	for (y = 0; y < ART_H; y++) {
		*p++ = '|';
		for (x = 0; x < ART_W; x++)
			*p++ = sym[field[x][y]];
		*p++ = '|';
		*p++ = '\n';
	}
	art_border(&p, hash);
	*p = '\0';
	*artp = art;
	return HWK_OK;
}
