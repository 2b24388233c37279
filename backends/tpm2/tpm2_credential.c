/*
 * TPM2_MakeCredential done in software, for a verifier with no TPM: the
 * credential protection of TPM 2.0 Part 1, section 24 (KDFa and KDFe of
 * 11.4.10, the seed protected by RSA-OAEP or ECDH as 11.4.3/11.4.9, the
 * credential by AES-CFB and an outer HMAC).  It is written here on top of
 * OpenSSL's primitives because neither OpenSSL nor the TSS libraries we
 * load without a TPM offer it; tests check it against swtpm's
 * TPM2_ActivateCredential and tpm2-tools' tpm2_makecredential.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "tpm2_int.h"

#define SEED_LEN	32	/* the size of a SHA-256 digest: nameAlg's */
#define SYM_LEN		16	/* AES-128, the L templates' symmetric key */

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * KDFa with HMAC-SHA-256 (Part 1, 11.4.10.2): blocks of
 * HMAC(key, counter || label || 0x00 || u || v || bits) until out is full.
 */
int
hwk_tpm2_kdfa(const uint8_t *key, size_t klen, const char *label,
    const uint8_t *u, size_t ulen, const uint8_t *v, size_t vlen,
    uint8_t *out, size_t outlen)
{
	uint8_t msg[4 + 32 + 1 + 2 * 72 + 4], block[32];
	size_t llen = strlen(label) + 1, n, i, done;
	unsigned int blen;

	if (llen > 32 || ulen > 72 || vlen > 72)
		return HWK_ERR_INTERNAL;
	for (i = 1, done = 0; done < outlen; i++) {
		put_be32(msg, (uint32_t)i);
		memcpy(msg + 4, label, llen);
		n = 4 + llen;
		if (ulen > 0)
			memcpy(msg + n, u, ulen);
		n += ulen;
		if (vlen > 0)
			memcpy(msg + n, v, vlen);
		n += vlen;
		put_be32(msg + n, (uint32_t)(outlen * 8));
		n += 4;
		if (HMAC(EVP_sha256(), key, (int)klen, msg, n, block,
		    &blen) == NULL)
			return HWK_ERR_CRYPTO;
		n = outlen - done < blen ? outlen - done : blen;
		memcpy(out + done, block, n);
		done += n;
	}
	explicit_bzero(block, sizeof(block));
	explicit_bzero(msg, sizeof(msg));
	return HWK_OK;
}

/* KDFe with SHA-256 (Part 1, 11.4.10.3), for one block: a seed. */
static int
kdfe(const uint8_t *z, size_t zlen, const char *label, const uint8_t *u,
    size_t ulen, const uint8_t *v, size_t vlen, uint8_t out[SEED_LEN])
{
	EVP_MD_CTX *md;
	uint8_t counter[4];
	int ok;

	put_be32(counter, 1);
	if ((md = EVP_MD_CTX_new()) == NULL)
		return HWK_ERR_NOMEM;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(md, counter, 4) &&
	    EVP_DigestUpdate(md, z, zlen) &&
	    EVP_DigestUpdate(md, label, strlen(label) + 1) &&
	    EVP_DigestUpdate(md, u, ulen) && EVP_DigestUpdate(md, v, vlen) &&
	    EVP_DigestFinal_ex(md, out, NULL);
	EVP_MD_CTX_free(md);
	return ok ? HWK_OK : HWK_ERR_CRYPTO;
}

/* The seed under an RSA EK: RSA-OAEP with SHA-256, label "IDENTITY\0". */
static int
seed_rsa(EVP_PKEY *ek, uint8_t seed[SEED_LEN], TPM2B_ENCRYPTED_SECRET *es)
{
	EVP_PKEY_CTX *pc = NULL;
	char *label = NULL;
	size_t len = sizeof(es->secret);
	int r = HWK_ERR_CRYPTO;

	if (RAND_bytes(seed, SEED_LEN) != 1 ||
	    (pc = EVP_PKEY_CTX_new_from_pkey(NULL, ek, NULL)) == NULL ||
	    EVP_PKEY_encrypt_init(pc) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_sha256()) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()) <= 0 ||
	    (label = OPENSSL_memdup("IDENTITY", 9)) == NULL)
		goto out;
	if (EVP_PKEY_CTX_set0_rsa_oaep_label(pc, label, 9) <= 0)
		goto out;
	label = NULL;	/* owned by pc */
	if (EVP_PKEY_encrypt(pc, es->secret, &len, seed, SEED_LEN) <= 0)
		goto out;
	es->size = (UINT16)len;
	r = HWK_OK;
 out:
	OPENSSL_free(label);
	EVP_PKEY_CTX_free(pc);
	return r;
}

/* x and y of an EC key's point, each as long as the field (P-256: 32). */
static int
ec_point(EVP_PKEY *k, uint8_t x[32], uint8_t y[32])
{
	uint8_t pt[65];
	size_t len = 0;

	if (!EVP_PKEY_get_octet_string_param(k,
	    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt), &len) ||
	    len != 65 || pt[0] != 0x04)
		return HWK_ERR_KEY_TYPE;
	memcpy(x, pt + 1, 32);
	memcpy(y, pt + 33, 32);
	return HWK_OK;
}

/*
 * The seed under an ECC EK (P-256): an ephemeral key e, Z the x of
 * ECDH(e, EK), seed = KDFe(Z, "IDENTITY", x(e), x(EK)); the secret is e's
 * point, as a TPMS_ECC_POINT.
 */
static int
seed_ecc(EVP_PKEY *ek, uint8_t seed[SEED_LEN], TPM2B_ENCRYPTED_SECRET *es)
{
	EVP_PKEY *eph = NULL;
	EVP_PKEY_CTX *pc = NULL;
	TPMS_ECC_POINT p;
	uint8_t z[32], ekx[32], eky[32];
	size_t zlen = sizeof(z), off = 0;
	int r = HWK_ERR_CRYPTO;

	memset(&p, 0, sizeof(p));
	if ((r = ec_point(ek, ekx, eky)) != 0)
		return r;
	r = HWK_ERR_CRYPTO;
	if ((eph = EVP_EC_gen("P-256")) == NULL ||
	    (pc = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL)) == NULL ||
	    EVP_PKEY_derive_init(pc) <= 0 ||
	    EVP_PKEY_derive_set_peer(pc, ek) <= 0 ||
	    EVP_PKEY_derive(pc, z, &zlen) <= 0 || zlen != sizeof(z) ||
	    ec_point(eph, p.x.buffer, p.y.buffer) != 0)
		goto out;
	p.x.size = p.y.size = 32;
	if ((r = kdfe(z, zlen, "IDENTITY", p.x.buffer, 32, ekx, 32,
	    seed)) != 0)
		goto out;
	if (Tss2_MU_TPMS_ECC_POINT_Marshal(&p, es->secret, sizeof(es->secret),
	    &off) != TSS2_RC_SUCCESS) {
		r = HWK_ERR_INTERNAL;
		goto out;
	}
	es->size = (UINT16)off;
	r = HWK_OK;
 out:
	explicit_bzero(z, sizeof(z));
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_free(eph);
	return r;
}

/* AES-128-CFB with a zero IV, as credential protection asks. */
static int
aes_cfb(const uint8_t key[SYM_LEN], const uint8_t *in, size_t len,
    uint8_t *out)
{
	static const uint8_t iv[16];
	EVP_CIPHER_CTX *c;
	int n = 0, m = 0, ok;

	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		return HWK_ERR_NOMEM;
	ok = EVP_EncryptInit_ex(c, EVP_aes_128_cfb128(), NULL, key, iv) &&
	    EVP_EncryptUpdate(c, out, &n, in, (int)len) &&
	    EVP_EncryptFinal_ex(c, out + n, &m) && (size_t)(n + m) == len;
	EVP_CIPHER_CTX_free(c);
	return ok ? HWK_OK : HWK_ERR_CRYPTO;
}

/*
 * MakeCredential(EK, name, cred): the blob only the TPM holding ek opens,
 * and only for the object of that name (Part 1, 24.4 to 24.6).
 */
int
hwk_tpm2_make_credential(EVP_PKEY *ek, const uint8_t *name, size_t namelen,
    const uint8_t *cred, size_t credlen, TPM2B_ID_OBJECT *blob,
    TPM2B_ENCRYPTED_SECRET *es)
{
	uint8_t seed[SEED_LEN], sym[SYM_LEN], hkey[32], cv[2 + 64], *enc;
	uint8_t mac[32];
	unsigned int maclen = 0;
	struct hwk_buf *hm = NULL;
	int r;

	memset(blob, 0, sizeof(*blob));
	memset(es, 0, sizeof(*es));
	if (credlen > 64 || namelen > 72)
		return HWK_ERR_INTERNAL;
	r = EVP_PKEY_get_base_id(ek) == EVP_PKEY_RSA ? seed_rsa(ek, seed, es) :
	    seed_ecc(ek, seed, es);
	if (r != 0)
		goto out;
	/* The credential as a TPM2B_DIGEST, encrypted under the seed. */
	cv[0] = (uint8_t)(credlen >> 8);
	cv[1] = (uint8_t)credlen;
	memcpy(cv + 2, cred, credlen);
	enc = blob->credential + 2 + sizeof(mac);
	if ((r = hwk_tpm2_kdfa(seed, SEED_LEN, "STORAGE", name, namelen,
	    NULL, 0, sym, sizeof(sym))) != 0 ||
	    (r = aes_cfb(sym, cv, 2 + credlen, enc)) != 0 ||
	    (r = hwk_tpm2_kdfa(seed, SEED_LEN, "INTEGRITY", NULL, 0, NULL, 0,
	    hkey, sizeof(hkey))) != 0)
		goto out;
	/* The outer HMAC over the encrypted credential and the name. */
	if ((hm = hwk_buf_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if ((r = hwk_buf_put(hm, enc, 2 + credlen)) != 0 ||
	    (r = hwk_buf_put(hm, name, namelen)) != 0)
		goto out;
	if (HMAC(EVP_sha256(), hkey, sizeof(hkey), hwk_buf_ptr(hm),
	    hwk_buf_len(hm), mac, &maclen) == NULL || maclen != sizeof(mac)) {
		r = HWK_ERR_CRYPTO;
		goto out;
	}
	blob->credential[0] = 0;
	blob->credential[1] = sizeof(mac);
	memcpy(blob->credential + 2, mac, sizeof(mac));
	blob->size = (UINT16)(2 + sizeof(mac) + 2 + credlen);
	r = HWK_OK;
 out:
	hwk_buf_free(&hm);
	explicit_bzero(seed, sizeof(seed));
	explicit_bzero(sym, sizeof(sym));
	explicit_bzero(hkey, sizeof(hkey));
	explicit_bzero(cv, sizeof(cv));
	return r;
}
