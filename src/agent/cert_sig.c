/*
 * The CA's signature on an OpenSSH certificate, checked with OpenSSL as
 * ssh-agent checks it when a certificate is added: Ed25519, ECDSA on the
 * NIST curves, RSA with SHA-2 (or SHA-1 ssh-rsa, which OpenSSH still reads).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "agent.h"

/* ECDSA's mpint r, mpint s as the DER that OpenSSL verifies. */
static int
ecdsa_der(const uint8_t *raw, size_t len, uint8_t **derp, size_t *lenp)
{
	struct hwk_buf *b = NULL;
	const uint8_t *r, *s;
	size_t rlen, slen;
	ECDSA_SIG *sig = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	unsigned char *der = NULL;
	int n, rc = HWK_ERR_FORMAT;

	*derp = NULL;
	if ((b = hwk_buf_from(raw, len)) == NULL)
		return HWK_ERR_NOMEM;
	if (hwk_buf_get_mpint_direct(b, &r, &rlen) != 0 ||
	    hwk_buf_get_mpint_direct(b, &s, &slen) != 0 || hwk_buf_len(b) != 0)
		goto out;
	rc = HWK_ERR_CRYPTO;
	if ((sig = ECDSA_SIG_new()) == NULL ||
	    (br = BN_bin2bn(r, (int)rlen, NULL)) == NULL ||
	    (bs = BN_bin2bn(s, (int)slen, NULL)) == NULL ||
	    ECDSA_SIG_set0(sig, br, bs) != 1)
		goto out;
	br = bs = NULL;		/* owned by sig */
	if ((n = i2d_ECDSA_SIG(sig, &der)) <= 0)
		goto out;
	*derp = der;
	*lenp = (size_t)n;
	rc = HWK_OK;
 out:
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(sig);
	hwk_buf_free(&b);
	return rc;
}

/* The digest for the signature algorithm alg by a CA key of type; NULL
 * with *okp 1 for Ed25519 (none), *okp 0 when they do not go together. */
static const EVP_MD *
sig_md(const char *type, const EVP_PKEY *pkey, const char *alg, int *okp)
{
	*okp = 1;
	if (strcmp(type, "ssh-ed25519") == 0 && strcmp(alg, type) == 0)
		return NULL;
	if (strncmp(type, "ecdsa-sha2-", 11) == 0 && strcmp(alg, type) == 0)
		return hwk_ecdsa_md(hwk_ecdsa_bits(pkey));
	if (strcmp(type, "ssh-rsa") == 0) {
		if (strcmp(alg, "rsa-sha2-256") == 0)
			return EVP_sha256();
		if (strcmp(alg, "rsa-sha2-512") == 0)
			return EVP_sha512();
		if (strcmp(alg, "ssh-rsa") == 0)
			return EVP_sha1();
	}
	*okp = 0;
	return NULL;
}

/*
 * Whether sig (string algorithm, string signature) by the CA key blob ca
 * is good over data; *whyp says what is wrong when it is not.
 */
int
hwk_cert_sig_ok(const uint8_t *ca, size_t calen, const uint8_t *data,
    size_t len, const uint8_t *sig, size_t siglen, const char **whyp)
{
	struct hwk_pubkey *k = NULL;
	struct hwk_buf *b = NULL;
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *md = NULL;
	const EVP_MD *h;
	const uint8_t *raw;
	uint8_t *der = NULL;
	size_t rawlen;
	char *alg = NULL;
	int ok, r = HWK_ERR_FORMAT;

	*whyp = "the CA key is of no type the agent knows";
	if (hwk_pubkey_from_blob(ca, calen, NULL, &k) != 0 ||
	    hwk_pubkey_to_evp(k, &pkey) != 0)
		goto out;
	*whyp = "the CA's signature is malformed";
	if ((b = hwk_buf_from(sig, siglen)) == NULL ||
	    hwk_buf_get_cstring(b, &alg, NULL) != 0 ||
	    hwk_buf_get_string_direct(b, &raw, &rawlen) != 0 ||
	    hwk_buf_len(b) != 0)
		goto out;
	h = sig_md(k->type, pkey, alg, &ok);
	if (!ok || (h == NULL && strcmp(k->type, "ssh-ed25519") != 0))
		goto out;
	if (strncmp(k->type, "ecdsa-sha2-", 11) == 0) {
		if (ecdsa_der(raw, rawlen, &der, &rawlen) != 0)
			goto out;
		raw = der;
	}
	*whyp = "the CA's signature does not verify";
	r = HWK_ERR_CRYPTO;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(md, NULL, h, NULL, pkey) != 1 ||
	    EVP_DigestVerify(md, raw, rawlen, data, len) != 1)
		goto out;
	*whyp = NULL;
	r = HWK_OK;
 out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	EVP_PKEY_free(pkey);
	free(alg);
	hwk_buf_free(&b);
	hwk_pubkey_free(&k);
	return r;
}
