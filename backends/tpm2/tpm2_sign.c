/*
 * Signing with a TPM key: the digest hashed here, RSASSA or ECDSA by
 * TPM2_Sign, or PKCS#1 v1.5 by a raw TPM2_RSA_Decrypt where the TPM lacks
 * the hash, the signature checked before it leaves, and the key loaded
 * again when the TPM lost it.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "tpm2_int.h"

/* The curve's size of an ECC key; 0 for an RSA key. */
static unsigned
key_ecc_bits(const struct tpm2_key *tk)
{
	const TPMT_PUBLIC *p = &tk->kf.pub.publicArea;

	if (p->type != TPM2_ALG_ECC)
		return 0;
	return hwk_tpm2_ecc_bits(p->parameters.eccDetail.curveID);
}

/* The hash of alg; an ECDSA key's is its curve's (RFC 5656, 6.2.1). */
static const EVP_MD *
sig_md(unsigned ecc_bits, int alg, TPMI_ALG_HASH *halg)
{
	if (ecc_bits != 0) {
		if (alg != HWK_SIG_ECDSA)
			return NULL;
		*halg = ecc_bits == 256 ? TPM2_ALG_SHA256 : ecc_bits == 384 ?
		    TPM2_ALG_SHA384 : TPM2_ALG_SHA512;
		return hwk_ecdsa_md(ecc_bits);
	}
	switch (alg) {
	case HWK_SIG_RSA_SHA1:
		*halg = TPM2_ALG_SHA1;
		return EVP_sha1();
	case HWK_SIG_RSA_SHA256:
		*halg = TPM2_ALG_SHA256;
		return EVP_sha256();
	case HWK_SIG_RSA_SHA512:
		*halg = TPM2_ALG_SHA512;
		return EVP_sha512();
	}
	return NULL;
}

/*
 * The TPM refused the digest's size or the scheme's hash: a TPM without
 * that hash (SHA-512 on some chips), or a key whose own scheme is fixed to
 * another one (see scheme_refused).
 */
static int
lacks_hash(TSS2_RC rc)
{
	TSS2_RC b = hwk_tpm2_rc_base(rc);

	if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER &&
	    (rc & TSS2_RC_LAYER_MASK) != TSS2_RESMGR_TPM_RC_LAYER)
		return 0;
	return (rc & TPM2_RC_FMT1) && (rc & TPM2_RC_P) &&
	    (b == TPM2_RC_SIZE || b == TPM2_RC_HASH || b == TPM2_RC_SCHEME ||
	    b == TPM2_RC_VALUE);
}

/* The key or its session is gone from the TPM (reset, or flushed by someone). */
static int
objects_lost(TSS2_RC rc)
{
	TSS2_RC b = hwk_tpm2_rc_base(rc);

	return b == TPM2_RC_REFERENCE_H0 || b == TPM2_RC_REFERENCE_S0 ||
	    b == TPM2_RC_HANDLE || b == TPM2_RC_INITIALIZE;
}

/* The signature as a buffer of exactly the modulus length. */
static int
sig_out(const uint8_t *v, size_t len, size_t k, uint8_t **sigp,
    size_t *siglenp)
{
	uint8_t *s;

	if (len > k || (s = calloc(1, k)) == NULL)
		return len > k ? HWK_ERR_CRYPTO : HWK_ERR_NOMEM;
	memcpy(s + (k - len), v, len);
	*sigp = s;
	*siglenp = k;
	return HWK_OK;
}

/*
 * PKCS#1 v1.5 by raw RSA decryption: EM = 00 01 FF.. 00 || DigestInfo
 * (RFC 8017, 9.2), the DigestInfo encoded by OpenSSL.  For TPMs that lack
 * the hash: a decrypt key's raw private operation on EM is the signature.
 */
static int
encode_emsa(const EVP_MD *md, const uint8_t *dgst, size_t dlen, size_t k,
    TPM2B_PUBLIC_KEY_RSA *em)
{
	X509_SIG *di = NULL;
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *os;
	uint8_t *der = NULL;
	int n, r = HWK_ERR_CRYPTO;

	memset(em, 0, sizeof(*em));
	if ((di = X509_SIG_new()) == NULL)
		goto out;
	X509_SIG_getm(di, &alg, &os);
	if (!X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)),
	    V_ASN1_NULL, NULL) || !ASN1_OCTET_STRING_set(os, dgst, (int)dlen) ||
	    (n = i2d_X509_SIG(di, &der)) <= 0)
		goto out;
	if (k > sizeof(em->buffer) || (size_t)n + 11 > k)
		goto out;
	em->size = (UINT16)k;
	em->buffer[0] = 0x00;
	em->buffer[1] = 0x01;
	memset(em->buffer + 2, 0xff, k - (size_t)n - 3);
	em->buffer[k - (size_t)n - 1] = 0x00;
	memcpy(em->buffer + k - (size_t)n, der, (size_t)n);
	r = HWK_OK;
 out:
	OPENSSL_free(der);
	X509_SIG_free(di);
	return r;
}

static const char *
hash_name(TPMI_ALG_HASH h)
{
	switch (h) {
	case TPM2_ALG_SHA1:
		return "SHA-1";
	case TPM2_ALG_SHA256:
		return "SHA-256";
	case TPM2_ALG_SHA384:
		return "SHA-384";
	case TPM2_ALG_SHA512:
		return "SHA-512";
	}
	return "another hash";
}

/*
 * A key made with a fixed signing scheme signs with that scheme and hash
 * only, whatever the TPM can do: say so when that is why it refused.
 */
static int
scheme_refused(struct hwk_ctx *ctx, const struct tpm2_key *tk,
    TPMI_ALG_HASH halg)
{
	const TPMT_RSA_SCHEME *ks =
	    &tk->kf.pub.publicArea.parameters.rsaDetail.scheme;
	const TPMT_ECC_SCHEME *es =
	    &tk->kf.pub.publicArea.parameters.eccDetail.scheme;

	if (key_ecc_bits(tk) != 0 && es->scheme == TPM2_ALG_ECDSA)
		hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "the TPM key was made "
		    "bound to ECDSA signatures with %s, so it cannot sign "
		    "with %s, the hash SSH uses with its curve",
		    hash_name(es->details.ecdsa.hashAlg), hash_name(halg));
	else if (key_ecc_bits(tk) != 0)
		hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "the TPM key was made "
		    "bound to a signature scheme other than ECDSA, which SSH "
		    "uses");
	else if (ks->scheme == TPM2_ALG_RSASSA)
		hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "the TPM key was made "
		    "bound to RSASSA signatures with %s, so it cannot sign "
		    "with %s", hash_name(ks->details.rsassa.hashAlg),
		    hash_name(halg));
	else
		hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "the TPM key was made "
		    "bound to a signature scheme other than RSASSA (PKCS#1 "
		    "v1.5, which SSH uses)");
	hwk_ctx_hint(ctx, "Ask for the signature the key makes, or use a key "
	    "made without a fixed scheme (as hwkeygen makes them).");
	return HWK_ERR_UNSUPPORTED;
}

/* TPM2_Sign, RSASSA or ECDSA with halg, of a digest hashed here. */
static TSS2_RC
sign_scheme(struct tpm2_key *tk, ESYS_TR auth, TPMI_ALG_SIG_SCHEME alg,
    TPMI_ALG_HASH halg, const uint8_t *dgst, size_t dlen,
    TPMT_SIGNATURE **sigp)
{
	TPMT_SIG_SCHEME scheme;
	TPMT_TK_HASHCHECK ticket;
	TPM2B_DIGEST digest;

	memset(&scheme, 0, sizeof(scheme));
	memset(&ticket, 0, sizeof(ticket));
	memset(&digest, 0, sizeof(digest));
	scheme.scheme = alg;
	scheme.details.any.hashAlg = halg;
	/* Hashed outside the TPM: an unrestricted key needs no ticket. */
	ticket.tag = TPM2_ST_HASHCHECK;
	ticket.hierarchy = TPM2_RH_NULL;
	digest.size = (UINT16)dlen;
	memcpy(digest.buffer, dgst, dlen);
	return Esys_Sign(tk->conn.esys, tk->handle, auth, ESYS_TR_NONE,
	    ESYS_TR_NONE, &digest, &scheme, &ticket, sigp);
}

/* TPM2_RSA_Decrypt without padding of the encoded block em. */
static TSS2_RC
sign_decrypt(struct tpm2_key *tk, ESYS_TR auth,
    const TPM2B_PUBLIC_KEY_RSA *em, TPM2B_PUBLIC_KEY_RSA **outp)
{
	TPMT_RSA_DECRYPT dscheme;
	TPM2B_DATA label;

	memset(&dscheme, 0, sizeof(dscheme));
	memset(&label, 0, sizeof(label));
	dscheme.scheme = TPM2_ALG_NULL;
	return Esys_RSA_Decrypt(tk->conn.esys, tk->handle, auth, ESYS_TR_NONE,
	    ESYS_TR_NONE, em, &dscheme, &label, outp);
}

/* Why the TPM refused a signature, in words. */
static int
sign_refused(struct hwk_ctx *ctx, struct tpm2_key *tk, TSS2_RC rc,
    const char *what)
{
	if (hwk_tpm2_rc_base(rc) == TPM2_RC_AUTH_FAIL ||
	    hwk_tpm2_rc_base(rc) == TPM2_RC_BAD_AUTH ||
	    hwk_tpm2_rc_base(rc) == TPM2_RC_LOCKOUT) {
		hwk_tpm2_key_auth_forget(tk);	/* ask again next time */
		return hwk_tpm2_rc_auth_error(ctx, &tk->conn, rc,
		    tk->kf.empty_auth);
	}
	return hwk_tpm2_rc_error(ctx, &tk->conn, rc, what);
}

/*
 * r || s, each zero-padded to the field's k bytes, as the sign op gives
 * ECDSA signatures.  A TPM's r or s longer than the field is a fault.
 */
static int
ecdsa_out(const TPMS_SIGNATURE_ECC *es, size_t k, uint8_t **sigp,
    size_t *siglenp)
{
	const TPM2B_ECC_PARAMETER *r = &es->signatureR, *s = &es->signatureS;
	uint8_t *sig;

	if (r->size > k || s->size > k)
		return HWK_ERR_DEVICE;
	if ((sig = calloc(1, 2 * k)) == NULL)
		return HWK_ERR_NOMEM;
	memcpy(sig + k - r->size, r->buffer, r->size);
	memcpy(sig + 2 * k - s->size, s->buffer, s->size);
	*sigp = sig;
	*siglenp = 2 * k;
	return HWK_OK;
}

/*
 * One ECDSA signature by the loaded key; *rcp keeps the TPM's answer.  A
 * key made with a fixed scheme signs with that scheme and hash only: one
 * that SSH's hash for the curve does not match is refused unasked.
 */
static int
sign_ecdsa(struct hwk_ctx *ctx, struct tpm2_key *tk, TPMI_ALG_HASH halg,
    const uint8_t *dgst, size_t dlen, uint8_t **sigp, size_t *siglenp,
    TSS2_RC *rcp)
{
	const TPMT_ECC_SCHEME *ks =
	    &tk->kf.pub.publicArea.parameters.eccDetail.scheme;
	ESYS_TR auth = tk->kf.empty_auth ? ESYS_TR_PASSWORD : tk->session;
	TPMT_SIGNATURE *sig = NULL;
	TSS2_RC rc = TSS2_RC_SUCCESS;
	int r;

	if (ks->scheme != TPM2_ALG_NULL && (ks->scheme != TPM2_ALG_ECDSA ||
	    ks->details.ecdsa.hashAlg != halg)) {
		r = scheme_refused(ctx, tk, halg);
		goto out;
	}
	if (!(tk->kf.pub.publicArea.objectAttributes &
	    TPMA_OBJECT_SIGN_ENCRYPT)) {
		r = hwk_ctx_error(ctx, HWK_ERR_KEY_TYPE, "the TPM key cannot "
		    "sign");
		goto out;
	}
	rc = sign_scheme(tk, auth, TPM2_ALG_ECDSA, halg, dgst, dlen, &sig);
	if (rc != TSS2_RC_SUCCESS) {
		r = sign_refused(ctx, tk, rc, "the signature (TPM2_Sign)");
		goto out;
	}
	r = sig->sigAlg != TPM2_ALG_ECDSA ? HWK_ERR_DEVICE :
	    ecdsa_out(&sig->signature.ecdsa, (key_ecc_bits(tk) + 7) / 8, sigp,
	    siglenp);
	if (r == HWK_ERR_DEVICE)
		hwk_ctx_error(ctx, r, "the TPM at %s returned a signature that "
		    "is no ECDSA signature on this curve", tk->conn.name);
 out:
	*rcp = rc;
	Esys_Free(sig);
	return r;
}

/* One signature by the loaded key; *rcp keeps the TPM's answer. */
static int
sign_digest(struct hwk_ctx *ctx, struct tpm2_key *tk, const EVP_MD *md,
    TPMI_ALG_HASH halg, const uint8_t *dgst, size_t dlen, uint8_t **sigp,
    size_t *siglenp, TSS2_RC *rcp)
{
	TPMA_OBJECT a = tk->kf.pub.publicArea.objectAttributes;
	const TPMT_RSA_SCHEME *ks =
	    &tk->kf.pub.publicArea.parameters.rsaDetail.scheme;
	size_t k = tk->kf.pub.publicArea.unique.rsa.size;
	ESYS_TR auth = tk->kf.empty_auth ? ESYS_TR_PASSWORD : tk->session;
	const char *what = "the signature (TPM2_Sign)";
	TPM2B_PUBLIC_KEY_RSA em, *out = NULL;
	TPMT_SIGNATURE *sig = NULL;
	TSS2_RC rc = TSS2_RC_SUCCESS;
	int r;

	if (a & TPMA_OBJECT_SIGN_ENCRYPT) {
		rc = sign_scheme(tk, auth, TPM2_ALG_RSASSA, halg, dgst, dlen,
		    &sig);
		if (rc == TSS2_RC_SUCCESS) {
			r = sig_out(sig->signature.rsassa.sig.buffer,
			    sig->signature.rsassa.sig.size, k, sigp, siglenp);
			goto out;
		}
		/* Not the TPM's lack: the key's own scheme is another. */
		if (lacks_hash(rc) && ks->scheme != TPM2_ALG_NULL &&
		    (ks->scheme != TPM2_ALG_RSASSA ||
		    ks->details.rsassa.hashAlg != halg)) {
			r = scheme_refused(ctx, tk, halg);
			goto out;
		}
		if (!(lacks_hash(rc) && (a & TPMA_OBJECT_DECRYPT)))
			goto fail;
	} else if (!(a & TPMA_OBJECT_DECRYPT)) {
		r = hwk_ctx_error(ctx, HWK_ERR_KEY_TYPE, "the TPM key can "
		    "neither sign nor decrypt");
		goto out;
	}
	/* No hash in the TPM, or a decrypt-only key: the raw RSA way. */
	if ((r = encode_emsa(md, dgst, dlen, k, &em)) != 0) {
		hwk_ctx_error(ctx, r, "cannot encode the signature block");
		goto out;
	}
	what = "the signature (TPM2_RSA_Decrypt)";
	rc = sign_decrypt(tk, auth, &em, &out);
	if (rc == TSS2_RC_SUCCESS) {
		r = sig_out(out->buffer, out->size, k, sigp, siglenp);
		goto out;
	}
 fail:
	r = sign_refused(ctx, tk, rc, what);
 out:
	*rcp = rc;
	Esys_Free(sig);
	Esys_Free(out);
	return r;
}

/* ECDSA's r || s as the DER that OpenSSL verifies; NULL on failure. */
static uint8_t *
ecdsa_der(const uint8_t *sig, size_t slen, int *lenp)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	uint8_t *der = NULL;

	*lenp = 0;
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(sig, (int)(slen / 2), NULL)) == NULL ||
	    (s = BN_bin2bn(sig + slen / 2, (int)(slen / 2), NULL)) == NULL ||
	    !ECDSA_SIG_set0(es, r, s))
		goto out;
	r = s = NULL;	/* owned by es */
	if ((*lenp = i2d_ECDSA_SIG(es, &der)) <= 0) {
		der = NULL;
		*lenp = 0;
	}
 out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return der;
}

/* Checks a signature with the public key: a faulty TPM must not get through. */
static int
sig_verify(EVP_PKEY *pkey, const EVP_MD *md, const uint8_t *dgst,
    size_t dlen, const uint8_t *sig, size_t slen)
{
	EVP_PKEY_CTX *pctx;
	uint8_t *der = NULL;
	int ok, ec, derlen = 0;

	ec = EVP_PKEY_is_a(pkey, "EC");
	if (ec && (der = ecdsa_der(sig, slen, &derlen)) == NULL)
		return 0;
	if ((pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL) {
		OPENSSL_free(der);
		return 0;
	}
	ok = EVP_PKEY_verify_init(pctx) == 1 && (ec ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1) &&
	    EVP_PKEY_CTX_set_signature_md(pctx, md) == 1 &&
	    (ec ? EVP_PKEY_verify(pctx, der, (size_t)derlen, dgst, dlen) :
	    EVP_PKEY_verify(pctx, sig, slen, dgst, dlen)) == 1;
	EVP_PKEY_CTX_free(pctx);
	OPENSSL_free(der);
	return ok;
}

/* Loads the key, sets its password, signs, checks; *rcp as sign_digest. */
static int
sign_once(struct hwk_ctx *ctx, struct hwk_key *key, const EVP_MD *md,
    TPMI_ALG_HASH halg, const uint8_t *dgst, size_t dlen, uint8_t **sigp,
    size_t *siglenp, TSS2_RC *rcp)
{
	struct tpm2_key *tk = key->impl;
	int r;

	*rcp = TSS2_RC_SUCCESS;
	if ((r = hwk_tpm2_key_load(ctx, tk, rcp)) != 0 ||
	    (r = hwk_tpm2_key_auth(ctx, tk)) != 0)
		return r;
	if (key_ecc_bits(tk) != 0)
		r = sign_ecdsa(ctx, tk, halg, dgst, dlen, sigp, siglenp, rcp);
	else
		r = sign_digest(ctx, tk, md, halg, dgst, dlen, sigp, siglenp,
		    rcp);
	if (r != 0)
		return r;
	if (!sig_verify(key->pkey, md, dgst, dlen, *sigp, *siglenp)) {
		hwk_freezero(*sigp, *siglenp);
		*sigp = NULL;
		return hwk_ctx_error(ctx, HWK_ERR_DEVICE, "the TPM at %s "
		    "returned a signature that does not verify",
		    tk->conn.name);
	}
	return HWK_OK;
}

int
hwk_tpm2_sign(struct hwk_ctx *ctx, struct hwk_key *key, int alg,
    const uint8_t *data, size_t len, uint8_t **sigp, size_t *siglenp)
{
	struct tpm2_key *tk = key->impl;
	const EVP_MD *md;
	TPMI_ALG_HASH halg = TPM2_ALG_NULL;
	uint8_t dgst[EVP_MAX_MD_SIZE], *sig = NULL;
	unsigned int dlen = 0;
	size_t slen = 0;
	TSS2_RC rc;
	int r, attempt, kept;

	*sigp = NULL;
	*siglenp = 0;
	if (tk == NULL)
		return hwk_ctx_error(ctx, HWK_ERR_INTERNAL, "no TPM key");
	if ((md = sig_md(key_ecc_bits(tk), alg, &halg)) == NULL &&
	    key_ecc_bits(tk) != 0)
		return hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "an ECDSA key "
		    "makes ECDSA signatures only");
	if (md == NULL)
		return hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED,
		    "unknown signature algorithm %d", alg);
	if (EVP_Digest(data, len, dgst, &dlen, md, NULL) != 1)
		return hwk_ctx_error(ctx, HWK_ERR_CRYPTO, "cannot hash the data");
	/*
	 * Load the key once more, on a new connection, when the TPM lost it
	 * (a reset, or someone flushed it), and when the connection of a key
	 * kept loaded since an earlier signature died in between (a laptop
	 * resumed from hibernation, the TPM server restarted).  A command
	 * lost on a connection made just now means the TPM went away: that
	 * fails, and the next signature starts afresh.
	 */
	kept = tk->handle != ESYS_TR_NONE;
	for (attempt = 0; attempt < 2; attempt++) {
		if ((r = sign_once(ctx, key, md, halg, dgst, dlen, &sig, &slen,
		    &rc)) == 0)
			break;
		/* ESYS is no use after a lost command: never use it again. */
		if (hwk_tpm2_rc_is_lost(rc) || objects_lost(rc))
			hwk_tpm2_key_unload(tk);
		if (!(objects_lost(rc) || (hwk_tpm2_rc_is_lost(rc) && kept)))
			break;
		kept = 0;
	}
	/* A raw device admits one process at a time: let go after each. */
	if (tk->conn.esys != NULL && tk->conn.sharing == TPM_EXCLUSIVE)
		hwk_tpm2_key_unload(tk);
	if (r != 0)
		goto out;
	*sigp = sig;
	*siglenp = slen;
	sig = NULL;
 out:
	free(sig);
	explicit_bzero(dgst, sizeof(dgst));
	return r;
}
