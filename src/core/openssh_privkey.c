/*
 * The key inside an openssh-key-v1 private section (openssh_privkey.h):
 * RSA's n, e, d, iqmp, p, q; ECDSA's curve, Q and d; Ed25519's public key
 * and seed || public key.  A key read is checked whole before it is used.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "openssh_privkey.h"

#define ECDSA_PREFIX	"ecdsa-sha2-"
#define ED25519_LEN	32

static int
put_rsa(struct hwk_buf *b, const EVP_PKEY *key)
{
	int r;

	if ((r = hwk_buf_put_cstring(b, "ssh-rsa")) != 0 ||
	    (r = hwk_buf_put_pkey_bn(b, key, OSSL_PKEY_PARAM_RSA_N)) != 0 ||
	    (r = hwk_buf_put_pkey_bn(b, key, OSSL_PKEY_PARAM_RSA_E)) != 0 ||
	    (r = hwk_buf_put_pkey_bn(b, key, OSSL_PKEY_PARAM_RSA_D)) != 0 ||
	    (r = hwk_buf_put_pkey_bn(b, key,
	    OSSL_PKEY_PARAM_RSA_COEFFICIENT1)) != 0 ||
	    (r = hwk_buf_put_pkey_bn(b, key,
	    OSSL_PKEY_PARAM_RSA_FACTOR1)) != 0 ||
	    (r = hwk_buf_put_pkey_bn(b, key,
	    OSSL_PKEY_PARAM_RSA_FACTOR2)) != 0)
		return r;
	return HWK_OK;
}

/* The public key, then the seed and the public key again in one string. */
static int
put_ed25519(struct hwk_buf *b, const EVP_PKEY *key)
{
	uint8_t sk[2 * ED25519_LEN];
	size_t seedlen = ED25519_LEN, publen = ED25519_LEN;
	int r;

	if ((r = hwk_pkey_put_blob(key, b)) != 0)
		goto out;
	if (!EVP_PKEY_get_raw_private_key(key, sk, &seedlen) ||
	    !EVP_PKEY_get_raw_public_key(key, sk + ED25519_LEN, &publen) ||
	    seedlen != ED25519_LEN || publen != ED25519_LEN) {
		r = HWK_ERR_CRYPTO;
		goto out;
	}
	r = hwk_buf_put_string(b, sk, sizeof(sk));
 out:
	explicit_bzero(sk, sizeof(sk));
	return r;
}

int
hwk_openssh_privkey_put(struct hwk_buf *b, const EVP_PKEY *key)
{
	const char *type = hwk_pkey_ssh_type(key);
	int r;

	if (type == NULL)
		return HWK_ERR_KEY_TYPE;
	if (strcmp(type, "ssh-rsa") == 0)
		return put_rsa(b, key);
	if (strcmp(type, "ssh-ed25519") == 0)
		return put_ed25519(b, key);
	/* ECDSA: the public blob (type, curve, Q), then d. */
	if ((r = hwk_pkey_put_blob(key, b)) != 0)
		return r;
	return hwk_buf_put_pkey_bn(b, key, OSSL_PKEY_PARAM_PRIV_KEY);
}

/* An mpint into a BIGNUM in OpenSSL's secure heap, freed with a wipe. */
static int
get_bn(struct hwk_buf *b, BIGNUM **bnp)
{
	const uint8_t *v;
	size_t len;
	int r;

	*bnp = NULL;
	if ((r = hwk_buf_get_mpint_direct(b, &v, &len)) != 0)
		return r;
	if ((*bnp = BN_secure_new()) == NULL)
		return HWK_ERR_NOMEM;
	if (BN_bin2bn(v, (int)len, *bnp) == NULL) {
		BN_free(*bnp);
		*bnp = NULL;
		return HWK_ERR_CRYPTO;
	}
	return HWK_OK;
}

static int
get_ed25519(struct hwk_buf *b, struct hwk_openssh_privkey *k)
{
	int r;

	if ((r = hwk_buf_get_string_direct(b, &k->pub, &k->publen)) != 0 ||
	    (r = hwk_buf_get_string_direct(b, &k->priv, &k->privlen)) != 0)
		return r;
	if (k->publen != ED25519_LEN || k->privlen != 2 * ED25519_LEN)
		return HWK_ERR_FORMAT;
	return HWK_OK;
}

int
hwk_openssh_privkey_get(struct hwk_buf *b, const char *want,
    struct hwk_openssh_privkey *k)
{
	int r, i;

	memset(k, 0, sizeof(*k));
	if ((r = hwk_buf_get_cstring(b, &k->type, NULL)) != 0)
		return r;
	/* A cut or damaged section, not a key of another type. */
	if (strcmp(k->type, want) != 0)
		return HWK_ERR_FORMAT;
	if (strcmp(k->type, "ssh-rsa") == 0) {
		for (i = 0; i < 6; i++)
			if ((r = get_bn(b, &k->bn[i])) != 0)
				return r;
		return HWK_OK;
	}
	if (strcmp(k->type, "ssh-ed25519") == 0)
		return get_ed25519(b, k);
	if (strncmp(k->type, ECDSA_PREFIX, strlen(ECDSA_PREFIX)) == 0) {
		if ((r = hwk_buf_get_cstring(b, &k->curve, NULL)) != 0 ||
		    (r = hwk_buf_get_string_direct(b, &k->pub,
		    &k->publen)) != 0 ||
		    (r = get_bn(b, &k->bn[0])) != 0)
			return r;
		return HWK_OK;
	}
	return HWK_ERR_KEY_TYPE;
}

void
hwk_openssh_privkey_clear(struct hwk_openssh_privkey *k)
{
	int i;

	free(k->type);
	free(k->curve);
	for (i = 0; i < 6; i++)
		BN_clear_free(k->bn[i]);
	memset(k, 0, sizeof(*k));
}

/* An RSA key pair from the fields OpenSSH stores; CRT exponents derived. */
static int
rsa_from_parts(BIGNUM *n, BIGNUM *e, BIGNUM *d, BIGNUM *iqmp, BIGNUM *p,
    BIGNUM *q, EVP_PKEY **keyp)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BN_CTX *bnctx = NULL;
	BIGNUM *dmp1 = NULL, *dmq1 = NULL, *t = NULL, *m = NULL;
	int r = HWK_ERR_CRYPTO;

	*keyp = NULL;
	if ((bnctx = BN_CTX_secure_new()) == NULL ||
	    (dmp1 = BN_secure_new()) == NULL ||
	    (dmq1 = BN_secure_new()) == NULL ||
	    (t = BN_secure_new()) == NULL || (m = BN_secure_new()) == NULL)
		goto out;
	BN_set_flags(d, BN_FLG_CONSTTIME);
	r = HWK_ERR_FORMAT;
	/*
	 * A damaged key must not be used to sign: n = pq, d inverts e modulo
	 * p-1 and q-1, and iqmp inverts q modulo p.  (Cheap checks; a full
	 * primality test would take seconds on large keys.)
	 */
	if (BN_is_zero(p) || BN_is_zero(q) || !BN_mul(t, p, q, bnctx) ||
	    BN_cmp(t, n) != 0)
		goto out;
	if (!BN_sub(m, p, BN_value_one()) || !BN_mod(dmp1, d, m, bnctx) ||
	    !BN_mod_mul(t, dmp1, e, m, bnctx) || !BN_is_one(t))
		goto out;
	if (!BN_sub(m, q, BN_value_one()) || !BN_mod(dmq1, d, m, bnctx) ||
	    !BN_mod_mul(t, dmq1, e, m, bnctx) || !BN_is_one(t))
		goto out;
	if (!BN_mod_mul(t, iqmp, q, p, bnctx) || !BN_is_one(t))
		goto out;
	r = HWK_ERR_CRYPTO;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dmp1) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dmq1) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
	    iqmp) || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, keyp, EVP_PKEY_KEYPAIR, params) <= 0)
		goto out;
	r = HWK_OK;
 out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(dmp1);
	BN_clear_free(dmq1);
	BN_clear_free(t);
	BN_clear_free(m);
	BN_CTX_free(bnctx);
	return r;
}

/* The key of the seed, whose public half must be the one stored twice. */
static int
ed25519_from_parts(const struct hwk_openssh_privkey *k, EVP_PKEY **keyp)
{
	EVP_PKEY *key = NULL;
	uint8_t pk[ED25519_LEN];
	size_t len = sizeof(pk);
	int r = HWK_ERR_CRYPTO;

	*keyp = NULL;
	if ((key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
	    k->priv, ED25519_LEN)) == NULL ||
	    !EVP_PKEY_get_raw_public_key(key, pk, &len) || len != sizeof(pk))
		goto out;
	if (CRYPTO_memcmp(pk, k->pub, sizeof(pk)) != 0 ||
	    CRYPTO_memcmp(pk, k->priv + ED25519_LEN, sizeof(pk)) != 0) {
		r = HWK_ERR_FORMAT;
		goto out;
	}
	*keyp = key;
	key = NULL;
	r = HWK_OK;
 out:
	EVP_PKEY_free(key);
	return r;
}

int
hwk_openssh_privkey_to_evp(const struct hwk_openssh_privkey *k,
    EVP_PKEY **keyp)
{
	const char *id;

	*keyp = NULL;
	if (k->type == NULL)
		return HWK_ERR_INVALID_ARG;
	if (strcmp(k->type, "ssh-rsa") == 0)
		return rsa_from_parts(k->bn[0], k->bn[1], k->bn[2], k->bn[3],
		    k->bn[4], k->bn[5], keyp);
	if (strcmp(k->type, "ssh-ed25519") == 0)
		return ed25519_from_parts(k, keyp);
	/* The curve is named twice: in the type and on its own. */
	id = k->type + strlen(ECDSA_PREFIX);
	if (k->curve == NULL || strcmp(id, k->curve) != 0)
		return HWK_ERR_FORMAT;
	return hwk_ecdsa_from_point(k->curve, k->pub, k->publen, k->bn[0],
	    keyp);
}
