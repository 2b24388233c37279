/*
 * Using a key on a token: loading it from its stub (and checking it is
 * still the key the file names), and signing, with one more try after
 * the token lost its session, its login or the key's handle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "hwkey/backend.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "backends.h"
#include "pkcs11_impl.h"

/* The public key of pk: its public object, else (logged in) its private one. */
static int
find_public(struct hwk_ctx *ctx, struct p11_key *pk, const char *pin_source,
    EVP_PKEY **pkeyp)
{
	struct p11_conn *c = pk->conn;
	CK_OBJECT_HANDLE h;
	char idhex[2 * HWK_P11_ID_MAX + 1];
	CK_RV rv;
	int r;

	*pkeyp = NULL;
	if ((rv = hwk_p11_find_by_id(c, CKO_PUBLIC_KEY, pk->id, pk->idlen,
	    &pk->pub)) != CKR_OK)
		return hwk_p11_rv_error(ctx, rv, "cannot search token %s",
		    c->name);
	if (pk->pub != CK_INVALID_HANDLE)
		return hwk_p11_pub_read(ctx, c, pk->pub, pkeyp);
	/* Some tokens keep no public object: the private one has n and e. */
	if ((r = hwk_p11_conn_login(ctx, c, CKU_USER, pin_source)) != 0)
		return r;
	if ((rv = hwk_p11_find_by_id(c, CKO_PRIVATE_KEY, pk->id, pk->idlen,
	    &h)) != CKR_OK)
		return hwk_p11_rv_error(ctx, rv, "cannot search token %s",
		    c->name);
	if (h != CK_INVALID_HANDLE) {
		hwk_p11_priv_set(pk, h);
		return hwk_p11_pub_read(ctx, c, pk->priv, pkeyp);
	}
	hwk_p11_id_format(pk->id, pk->idlen, idhex, sizeof(idhex));
	hwk_ctx_error(ctx, HWK_ERR_NOT_FOUND, "token %s has no key with id %s",
	    c->name, idhex);
	hwk_ctx_hint(ctx, "The key was removed from the token, or the file "
	    "names another token with the same label and serial.");
	return HWK_ERR_NOT_FOUND;
}

int
hwk_p11_load(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
    struct hwk_key **keyp)
{
	struct hwk_p11_stub st;
	struct p11_opts o;
	struct p11_tok tok;
	struct p11_key *pk = NULL;
	P11KitUri *uri = NULL;
	EVP_PKEY *pkey = NULL;
	char name[HWK_P11_NAME_MAX];
	int r;

	*keyp = NULL;
	memset(&st, 0, sizeof(st));
	if ((r = hwk_p11_lib_need(ctx)) != 0)
		return r;
	if ((r = hwk_p11_opts_get(ctx, &o)) != 0)
		return r;
	if ((r = hwk_p11_stub_parse(stub, len, &st, &uri)) != 0) {
		r = hwk_ctx_error(ctx, r, "not a PKCS#11 key stub (one "
		    "pkcs11: URI naming a private key by its id)");
		goto out;
	}
	if ((r = hwk_p11_token_select(ctx, &o, uri, 0, &tok)) != 0) {
		if (r == HWK_ERR_NO_DEVICE) {
			char found[1024];

			snprintf(found, sizeof(found), "%s",
			    hwk_ctx_detail(ctx));
			hwk_p11_token_name(&st.token, name, sizeof(name));
			hwk_ctx_error(ctx, r, "the token that holds this key, "
			    "%s, is not present: %s", name, found);
			hwk_ctx_hint(ctx, "Plug it in, or give --module if "
			    "another module serves it now.");
		}
		goto out;
	}
	if ((pk = calloc(1, sizeof(*pk))) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	pk->pub = pk->priv = CK_INVALID_HANDLE;
	memcpy(pk->id, st.id, st.idlen);
	pk->idlen = st.idlen;
	pk->label = st.label;
	st.label = NULL;
	if ((r = hwk_p11_conn_open(ctx, &tok, 0, &pk->conn)) != 0)
		goto out;
	pk->epoch = pk->conn->epoch;
	if ((r = find_public(ctx, pk, o.pin_source, &pkey)) != 0)
		goto out;
	if ((r = hwk_key_new(&hwk_backend_pkcs11, keyp)) != 0)
		goto out;
	(*keyp)->pkey = pkey;
	(*keyp)->impl = pk;
	pkey = NULL;
	pk = NULL;
 out:
	EVP_PKEY_free(pkey);
	hwk_p11_key_free(&pk);
	p11_kit_uri_free(uri);
	hwk_p11_stub_clear(&st);
	hwk_p11_opts_clear(&o);
	return r;
}

/* Refuses another key under the id: the public object differs from pkey. */
static int
ec_key_matches(struct hwk_ctx *ctx, struct p11_key *pk, const EVP_PKEY *pkey)
{
	struct p11_conn *c = pk->conn;
	CK_OBJECT_HANDLE pub;
	EVP_PKEY *got = NULL;
	char idhex[2 * HWK_P11_ID_MAX + 1];
	CK_RV rv;
	int r;

	if ((rv = hwk_p11_find_by_id(c, CKO_PUBLIC_KEY, pk->id, pk->idlen,
	    &pub)) != CKR_OK)
		return hwk_p11_rv_error(ctx, rv, "cannot search token %s",
		    c->name);
	if (pub == CK_INVALID_HANDLE)
		return HWK_OK;	/* nothing to compare; label and serial match */
	if ((r = hwk_p11_pub_read(ctx, c, pub, &got)) != 0)
		return r;
	if (EVP_PKEY_eq(got, pkey) != 1) {
		hwk_p11_id_format(pk->id, pk->idlen, idhex, sizeof(idhex));
		r = hwk_ctx_error(ctx, HWK_ERR_WRONG_DEVICE, "token %s holds "
		    "another key under id %s than the one named: its public "
		    "key differs", c->name, idhex);
		hwk_ctx_hint(ctx, "The key was replaced on the token, or "
		    "another token with the same label and serial took its "
		    "place; make a new key file for the key that is there.");
	}
	EVP_PKEY_free(got);
	return r;
}

/*
 * Refuses a private key whose modulus is not pkey's: the key found under
 * the id (after a reset, say) is another one.  A token that will not tell
 * a private key's modulus has it on the public object of the same id.
 */
static int
key_matches(struct hwk_ctx *ctx, struct p11_key *pk, const EVP_PKEY *pkey)
{
	struct p11_conn *c = pk->conn;
	CK_OBJECT_HANDLE pub;
	BIGNUM *want = NULL, *got = NULL;
	uint8_t *n = NULL;
	size_t nlen = 0;
	char idhex[2 * HWK_P11_ID_MAX + 1];
	CK_RV rv;
	int r;

	if (hwk_p11_pkey_type(pkey) != HWK_KEY_RSA)
		return ec_key_matches(ctx, pk, pkey);
	if ((r = hwk_p11_attr_read(ctx, c, pk->priv, CKA_MODULUS,
	    "the key's modulus", HWK_P11_RSA_MAX_BYTES + 1, 1, &n,
	    &nlen)) != 0)
		return r;
	if (n == NULL) {
		if ((rv = hwk_p11_find_by_id(c, CKO_PUBLIC_KEY, pk->id,
		    pk->idlen, &pub)) != CKR_OK)
			return hwk_p11_rv_error(ctx, rv, "cannot search "
			    "token %s", c->name);
		if (pub != CK_INVALID_HANDLE && (r = hwk_p11_attr_read(ctx, c,
		    pub, CKA_MODULUS, "the key's modulus",
		    HWK_P11_RSA_MAX_BYTES + 1, 1, &n, &nlen)) != 0)
			return r;
	}
	if (n == NULL)
		return HWK_OK;	/* nothing to compare; label and serial match */
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &want) != 1 ||
	    (got = BN_bin2bn(n, (int)nlen, NULL)) == NULL) {
		r = hwk_ctx_error(ctx, HWK_ERR_CRYPTO, "cannot compare the "
		    "key's modulus");
		goto out;
	}
	if (BN_cmp(want, got) != 0) {
		hwk_p11_id_format(pk->id, pk->idlen, idhex, sizeof(idhex));
		r = hwk_ctx_error(ctx, HWK_ERR_WRONG_DEVICE, "token %s holds "
		    "another key under id %s than the one named: its modulus "
		    "differs", c->name, idhex);
		hwk_ctx_hint(ctx, "The key was replaced on the token, or "
		    "another token with the same label and serial took its "
		    "place; make a new key file for the key that is there.");
		goto out;
	}
	r = HWK_OK;
 out:
	BN_free(want);
	BN_free(got);
	free(n);
	return r;
}

/* Which hash-and-sign mechanisms the token has, asked once per key. */
static void
sign_mechs(struct p11_key *pk)
{
	CK_FUNCTION_LIST *fn = pk->conn->mod->fn;
	CK_MECHANISM_INFO mi;

	if (pk->mechs_known)
		return;
	pk->has_sha256 = fn->C_GetMechanismInfo(pk->conn->slot,
	    CKM_SHA256_RSA_PKCS, &mi) == CKR_OK && (mi.flags & CKF_SIGN);
	pk->has_sha512 = fn->C_GetMechanismInfo(pk->conn->slot,
	    CKM_SHA512_RSA_PKCS, &mi) == CKR_OK && (mi.flags & CKF_SIGN);
	pk->has_sha1 = fn->C_GetMechanismInfo(pk->conn->slot,
	    CKM_SHA1_RSA_PKCS, &mi) == CKR_OK && (mi.flags & CKF_SIGN);
	pk->mechs_known = 1;
}

/* DER DigestInfo { algorithm, digest } of data, for a raw CKM_RSA_PKCS. */
static int
digest_info(const EVP_MD *md, const uint8_t *data, size_t len,
    uint8_t **dip, size_t *dilen)
{
	X509_SIG *sig = NULL;
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *dg;
	unsigned char h[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned hlen = 0;
	int n, r = HWK_ERR_CRYPTO;

	*dip = NULL;
	*dilen = 0;
	if (EVP_Digest(data, len, h, &hlen, md, NULL) != 1 ||
	    (sig = X509_SIG_new()) == NULL)
		goto out;
	X509_SIG_getm(sig, &alg, &dg);
	if (X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)),
	    V_ASN1_NULL, NULL) != 1 ||
	    ASN1_OCTET_STRING_set(dg, h, (int)hlen) != 1 ||
	    (n = i2d_X509_SIG(sig, &der)) <= 0)
		goto out;
	*dip = der;
	*dilen = (size_t)n;
	r = HWK_OK;
 out:
	X509_SIG_free(sig);
	return r;
}

/* What a failed signature wants before its one more try. */
enum sign_retry {
	RETRY_NONE,
	RETRY_FIND,	/* the key's handle went stale: find the key again */
	RETRY_SESSION,	/* the session, its login or its operation went wrong */
};

/*
 * The retry for a CKR_ from finding the key, C_SignInit or C_Sign.  A login
 * the token lost (another application reset the card) or an operation left
 * hanging needs a new session and a fresh login, never a PIN tried twice; a
 * stale handle needs only the key found again, since a new session would
 * log out every key of the token.
 */
static enum sign_retry
sign_retry_for(CK_RV rv)
{
	switch (rv) {
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_OPERATION_ACTIVE:
		return RETRY_SESSION;
	case CKR_OBJECT_HANDLE_INVALID:
	case CKR_KEY_HANDLE_INVALID:
		return RETRY_FIND;
	}
	return RETRY_NONE;
}

/*
 * Finds pk's private key again when its handle may be stale (a session
 * opened since), and checks that it is still the key of the file.
 */
static int
sign_key_find(struct hwk_ctx *ctx, struct p11_key *pk, const EVP_PKEY *pkey,
    enum sign_retry *retry)
{
	struct p11_conn *c = pk->conn;
	CK_OBJECT_HANDLE h;
	char idhex[2 * HWK_P11_ID_MAX + 1];
	CK_RV rv;
	int r;

	if (pk->epoch != c->epoch) {
		pk->pub = pk->priv = CK_INVALID_HANDLE;
		pk->epoch = c->epoch;
	}
	if (pk->priv != CK_INVALID_HANDLE)
		return HWK_OK;
	if ((rv = hwk_p11_find_by_id(c, CKO_PRIVATE_KEY, pk->id, pk->idlen,
	    &h)) != CKR_OK) {
		*retry = sign_retry_for(rv);
		return hwk_p11_rv_error(ctx, rv, "cannot search token %s",
		    c->name);
	}
	if (h == CK_INVALID_HANDLE) {
		hwk_p11_id_format(pk->id, pk->idlen, idhex, sizeof(idhex));
		return hwk_ctx_error(ctx, HWK_ERR_NOT_FOUND, "token %s has no "
		    "private key with id %s", c->name, idhex);
	}
	hwk_p11_priv_set(pk, h);
	/* The key under the id is the key of the file, still. */
	if ((r = key_matches(ctx, pk, pkey)) != 0)
		pk->priv = CK_INVALID_HANDLE;
	return r;
}

/*
 * ECDSA's mechanism and input: CKM_ECDSA signs a hash made here, with the
 * curve's hash (RFC 5656); Ed25519's CKM_EDDSA signs the data whole.
 */
static int
sign_input_ec(struct hwk_ctx *ctx, const EVP_PKEY *pkey, int alg,
    const uint8_t *data, size_t len, CK_MECHANISM *mech, uint8_t **dip,
    const uint8_t **inp, size_t *inlenp)
{
	int type = hwk_p11_pkey_type(pkey);
	const EVP_MD *md;
	unsigned hlen = 0;

	if (type == HWK_KEY_ED25519 && alg == HWK_SIG_ED25519) {
		mech->mechanism = CKM_EDDSA;
		return HWK_OK;
	}
	if (type != HWK_KEY_ECDSA || alg != HWK_SIG_ECDSA ||
	    (md = hwk_ecdsa_md(hwk_ecdsa_bits(pkey))) == NULL)
		return hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "signature "
		    "algorithm %d does not suit the key", alg);
	mech->mechanism = CKM_ECDSA;
	if ((*dip = OPENSSL_malloc(EVP_MAX_MD_SIZE)) == NULL)
		return HWK_ERR_NOMEM;
	if (EVP_Digest(data, len, *dip, &hlen, md, NULL) != 1)
		return hwk_ctx_error(ctx, HWK_ERR_CRYPTO, "cannot hash the "
		    "data");
	*inp = *dip;
	*inlenp = hlen;
	return HWK_OK;
}

/*
 * The mechanism for alg into mech, and what to sign with it: the data if
 * the token hashes it, else the DigestInfo of its hash (*dip, to free).
 */
static int
sign_input(struct hwk_ctx *ctx, struct p11_key *pk, const EVP_PKEY *pkey,
    int alg, const uint8_t *data, size_t len, CK_MECHANISM *mech,
    uint8_t **dip, const uint8_t **inp, size_t *inlenp)
{
	const EVP_MD *md;
	int r, hashed;

	*dip = NULL;
	*inp = data;
	*inlenp = len;
	if (hwk_p11_pkey_type(pkey) != HWK_KEY_RSA)
		return sign_input_ec(ctx, pkey, alg, data, len, mech, dip, inp,
		    inlenp);
	sign_mechs(pk);
	switch (alg) {
	case HWK_SIG_RSA_SHA256:
		md = EVP_sha256();
		hashed = pk->has_sha256;
		mech->mechanism = CKM_SHA256_RSA_PKCS;
		break;
	case HWK_SIG_RSA_SHA512:
		md = EVP_sha512();
		hashed = pk->has_sha512;
		mech->mechanism = CKM_SHA512_RSA_PKCS;
		break;
	case HWK_SIG_RSA_SHA1:
		md = EVP_sha1();
		hashed = pk->has_sha1;
		mech->mechanism = CKM_SHA1_RSA_PKCS;
		break;
	default:
		return hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "unknown "
		    "signature algorithm %d", alg);
	}
	if (hashed)
		return HWK_OK;
	/* The token pads, we hash: PKCS#1 v1.5 over a DigestInfo. */
	mech->mechanism = CKM_RSA_PKCS;
	if ((r = digest_info(md, data, len, dip, inlenp)) != 0)
		return hwk_ctx_error(ctx, r, "cannot hash the data");
	*inp = *dip;
	return HWK_OK;
}

/* One signature, no retries; *retry says what a second try would need. */
static int
sign_once(struct hwk_ctx *ctx, struct p11_key *pk, const EVP_PKEY *pkey,
    int alg, const uint8_t *data, size_t len, uint8_t *sig, CK_ULONG *siglen,
    enum sign_retry *retry)
{
	struct p11_conn *c = pk->conn;
	CK_FUNCTION_LIST *fn = c->mod->fn;
	CK_MECHANISM mech = { CKM_RSA_PKCS, NULL, 0 };
	uint8_t *di = NULL;
	const uint8_t *in;
	size_t inlen;
	char *src = NULL;
	int r;
	CK_RV rv;

	*retry = RETRY_NONE;
	if ((r = hwk_p11_pin_source_get(ctx, NULL, &src)) != 0)
		goto out;
	if ((r = hwk_p11_conn_login(ctx, c, CKU_USER, src)) != 0) {
		if (c->gone)
			*retry = RETRY_SESSION;
		goto out;
	}
	if ((r = sign_key_find(ctx, pk, pkey, retry)) != 0 ||
	    (r = sign_input(ctx, pk, pkey, alg, data, len, &mech, &di, &in,
	    &inlen)) != 0)
		goto out;
	if ((rv = fn->C_SignInit(c->sess, &mech, pk->priv)) != CKR_OK) {
		*retry = sign_retry_for(rv);
		r = hwk_p11_rv_error(ctx, rv, "token %s cannot start signing",
		    c->name);
		goto out;
	}
	/* A key that asks every time (YubiKey slot 9c) wants the PIN now. */
	if (pk->always_auth && (r = hwk_p11_conn_login(ctx, c,
	    CKU_CONTEXT_SPECIFIC, src)) != 0) {
		/* PKCS#11 2.40 cannot cancel C_SignInit: a new session can. */
		hwk_p11_sess_restart(c);
		goto out;
	}
	if ((rv = fn->C_Sign(c->sess, (CK_BYTE *)in, inlen, sig, siglen)) !=
	    CKR_OK) {
		/* The login may be gone with it: ask the token next time. */
		c->user = HWK_P11_NO_USER;
		*retry = sign_retry_for(rv);
		r = hwk_p11_rv_error(ctx, rv, "token %s could not sign",
		    c->name);
		goto out;
	}
	r = HWK_OK;
 out:
	OPENSSL_free(di);
	free(src);
	return r;
}

int
hwk_p11_sign(struct hwk_ctx *ctx, struct hwk_key *key, int alg,
    const uint8_t *data, size_t len, uint8_t **sigp, size_t *siglenp)
{
	struct p11_key *pk = key->impl;
	uint8_t *sig = NULL;
	size_t modlen;
	CK_ULONG siglen;
	enum sign_retry retry;
	int r;

	*sigp = NULL;
	*siglenp = 0;
	if (pk == NULL || key->pkey == NULL)
		return hwk_ctx_error(ctx, HWK_ERR_INVALID_ARG, "not a key on "
		    "a token");
	/* RSA's as long as the modulus; ECDSA's r || s; Ed25519's 64. */
	switch (hwk_p11_pkey_type(key->pkey)) {
	case HWK_KEY_ECDSA:
		modlen = 2 * ((hwk_ecdsa_bits(key->pkey) + 7) / 8);
		break;
	case HWK_KEY_ED25519:
		modlen = 64;
		break;
	default:
		modlen = (hwk_rsa_bits(key->pkey) + 7) / 8;
		break;
	}
	if (modlen == 0 || (sig = calloc(1, modlen)) == NULL)
		return HWK_ERR_NOMEM;
	siglen = modlen;
	r = sign_once(ctx, pk, key->pkey, alg, data, len, sig, &siglen,
	    &retry);
	if (r != 0 && retry == RETRY_FIND) {
		/* The handle went stale (the token dropped it): find it. */
		pk->pub = pk->priv = CK_INVALID_HANDLE;
		siglen = modlen;
		r = sign_once(ctx, pk, key->pkey, alg, data, len, sig, &siglen,
		    &retry);
	} else if (r != 0 && retry == RETRY_SESSION) {
		/* Token reset, or pulled and put back: once more, afresh. */
		siglen = modlen;
		if ((r = hwk_p11_conn_reopen(ctx, pk->conn)) == 0)
			r = sign_once(ctx, pk, key->pkey, alg, data, len, sig,
			    &siglen, &retry);
	}
	if (r != 0)
		goto out;
	if (siglen > modlen) {
		r = hwk_ctx_error(ctx, HWK_ERR_DEVICE, "token %s gave a "
		    "signature longer than the key", pk->conn->name);
		goto out;
	}
	/* r and s each fill half: a short one has lost its place. */
	if (siglen < modlen && hwk_p11_pkey_type(key->pkey) != HWK_KEY_RSA) {
		r = hwk_ctx_error(ctx, HWK_ERR_DEVICE, "token %s gave a "
		    "signature of %lu bytes, not %zu", pk->conn->name,
		    (unsigned long)siglen, modlen);
		goto out;
	}
	/* The agent protocol wants the signature as long as the modulus. */
	if (siglen < modlen) {
		memmove(sig + (modlen - siglen), sig, siglen);
		memset(sig, 0, modlen - siglen);
	}
	*sigp = sig;
	*siglenp = modlen;
	sig = NULL;
 out:
	free(sig);
	return r;
}
