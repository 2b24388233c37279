/*
 * SSH signature blobs (RFC 4253 6.6, RFC 5656 3.1.2, RFC 8709 6) made from
 * the raw signatures the backends return (backend.h, the sign op).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"

#define ED25519_SIG_LEN	64

/* RSA's, as long as the modulus with zeros in front, as OpenSSH sends it. */
static int
put_rsa(const EVP_PKEY *pkey, const char *alg, const uint8_t *raw,
    size_t rawlen, struct hwk_buf *b)
{
	size_t i, modlen = (hwk_rsa_bits(pkey) + 7) / 8;
	int r;

	if (alg == NULL || (strcmp(alg, "ssh-rsa") != 0 &&
	    strcmp(alg, "rsa-sha2-256") != 0 &&
	    strcmp(alg, "rsa-sha2-512") != 0))
		return HWK_ERR_INVALID_ARG;
	if (rawlen > modlen)
		return HWK_ERR_INTERNAL;	/* no PKCS#1 signature is */
	if ((r = hwk_buf_put_cstring(b, alg)) != 0 ||
	    (r = hwk_buf_put_u32(b, (uint32_t)modlen)) != 0)
		return r;
	for (i = rawlen; i < modlen; i++)
		if ((r = hwk_buf_put_u8(b, 0)) != 0)
			return r;
	return hwk_buf_put(b, raw, rawlen);
}

/* ECDSA's r || s as the string of two mpints r and s. */
static int
put_ecdsa(const EVP_PKEY *pkey, const char *type, const uint8_t *raw,
    size_t rawlen, struct hwk_buf *b)
{
	struct hwk_buf *rs = NULL;
	size_t half = (hwk_ecdsa_bits(pkey) + 7) / 8;
	int r;

	if (rawlen != 2 * half)
		return HWK_ERR_INTERNAL;	/* not the sign op's form */
	if ((rs = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = hwk_buf_put_mpint(rs, raw, half)) != 0 ||
	    (r = hwk_buf_put_mpint(rs, raw + half, half)) != 0 ||
	    (r = hwk_buf_put_cstring(b, type)) != 0 ||
	    (r = hwk_buf_put_stringb(b, rs)) != 0)
		goto out;
	r = HWK_OK;
 out:
	hwk_buf_free(&rs);
	return r;
}

int
hwk_sig_put_blob(const EVP_PKEY *pkey, const char *alg, const uint8_t *raw,
    size_t rawlen, struct hwk_buf *b)
{
	const char *type;
	int r;

	if ((type = hwk_pkey_ssh_type(pkey)) == NULL)
		return HWK_ERR_KEY_TYPE;
	if (strcmp(type, "ssh-rsa") == 0)
		return put_rsa(pkey, alg, raw, rawlen, b);
	/* ECDSA and Ed25519 sign with one algorithm, named as the key. */
	if (alg != NULL && strcmp(alg, type) != 0)
		return HWK_ERR_INVALID_ARG;
	if (strcmp(type, "ssh-ed25519") != 0)
		return put_ecdsa(pkey, type, raw, rawlen, b);
	if (rawlen != ED25519_SIG_LEN)
		return HWK_ERR_INTERNAL;
	if ((r = hwk_buf_put_cstring(b, type)) != 0 ||
	    (r = hwk_buf_put_string(b, raw, rawlen)) != 0)
		return r;
	return HWK_OK;
}
