/*
 * OpenSSL keys in SSH's wire encoding (RFC 4253, 5656, 8709): the public
 * blob of an RSA, ECDSA or Ed25519 key, and the key back from its blob.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"

#define ECDSA_PREFIX	"ecdsa-sha2-"
#define ED25519_LEN	32

/* The NIST curves of RFC 5656, the only ones OpenSSH takes. */
struct curve {
	unsigned	 bits;
	const char	*id;		/* SSH's curve identifier */
	const char	*type;		/* SSH's key type */
	const char	*group;		/* OpenSSL's group name */
	int		 nid;
	size_t		 fieldlen;	/* bytes of a coordinate */
	const EVP_MD	*(*md)(void);	/* the hash signatures use */
};

static const struct curve curves[] = {
	{ 256, "nistp256", ECDSA_PREFIX "nistp256", "P-256",
	    NID_X9_62_prime256v1, 32, EVP_sha256 },
	{ 384, "nistp384", ECDSA_PREFIX "nistp384", "P-384", NID_secp384r1,
	    48, EVP_sha384 },
	{ 521, "nistp521", ECDSA_PREFIX "nistp521", "P-521", NID_secp521r1,
	    66, EVP_sha512 },
	{ 0, NULL, NULL, NULL, 0, 0, NULL },
};

static const struct curve *
curve_by_bits(unsigned bits)
{
	const struct curve *c;

	for (c = curves; c->id != NULL; c++)
		if (c->bits == bits)
			return c;
	return NULL;
}

static const struct curve *
curve_by_id(const char *id)
{
	const struct curve *c;

	for (c = curves; c->id != NULL; c++)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

/* The curve of an EC key; NULL for other keys and other curves. */
static const struct curve *
curve_of(const EVP_PKEY *pkey)
{
	const struct curve *c;
	char name[64];
	size_t len = 0;
	int nid;

	if (pkey == NULL || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC ||
	    !EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
	    name, sizeof(name), &len))
		return NULL;
	if ((nid = OBJ_sn2nid(name)) == NID_undef)
		nid = EC_curve_nist2nid(name);	/* "P-256" */
	for (c = curves; c->id != NULL; c++)
		if (c->nid == nid)
			return c;
	return NULL;
}

const char *
hwk_pkey_ssh_type(const EVP_PKEY *pkey)
{
	const struct curve *c;

	if (pkey == NULL)
		return NULL;
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		return "ssh-rsa";
	case EVP_PKEY_ED25519:
		return "ssh-ed25519";
	case EVP_PKEY_EC:
		return (c = curve_of(pkey)) != NULL ? c->type : NULL;
	}
	return NULL;
}

unsigned
hwk_pkey_bits(const EVP_PKEY *pkey)
{
	if (pkey == NULL)
		return 0;
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		return hwk_rsa_bits(pkey);
	case EVP_PKEY_ED25519:
		return 256;		/* as ssh-keygen -l says */
	case EVP_PKEY_EC:
		return hwk_ecdsa_bits(pkey);
	}
	return 0;
}

unsigned
hwk_ecdsa_bits(const EVP_PKEY *pkey)
{
	const struct curve *c = curve_of(pkey);

	return c != NULL ? c->bits : 0;
}

const EVP_MD *
hwk_ecdsa_md(unsigned bits)
{
	const struct curve *c = curve_by_bits(bits);

	return c != NULL ? c->md() : NULL;
}

int
hwk_buf_put_pkey_bn(struct hwk_buf *b, const EVP_PKEY *pkey, const char *name)
{
	BIGNUM *bn = NULL;
	uint8_t *v = NULL;
	size_t len = 0;
	int r;

	if (!EVP_PKEY_get_bn_param(pkey, name, &bn))
		return HWK_ERR_CRYPTO;
	len = (size_t)BN_num_bytes(bn);
	if ((v = malloc(len > 0 ? len : 1)) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	BN_bn2bin(bn, v);
	r = hwk_buf_put_mpint(b, v, len);
 out:
	hwk_freezero(v, len);	/* it may be a private part */
	BN_clear_free(bn);
	return r;
}

int
hwk_rsa_put_blob(const EVP_PKEY *pkey, struct hwk_buf *b)
{
	int r;

	if (pkey == NULL || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA)
		return HWK_ERR_KEY_TYPE;
	if ((r = hwk_buf_put_cstring(b, "ssh-rsa")) != 0 ||
	    (r = hwk_buf_put_pkey_bn(b, pkey, OSSL_PKEY_PARAM_RSA_E)) != 0 ||
	    (r = hwk_buf_put_pkey_bn(b, pkey, OSSL_PKEY_PARAM_RSA_N)) != 0)
		return r;
	return HWK_OK;
}

/* The curve, then Q uncompressed: 04 || X || Y, each padded to the field. */
static int
ecdsa_put_blob(const EVP_PKEY *pkey, const struct curve *c,
    struct hwk_buf *b)
{
	BIGNUM *x = NULL, *y = NULL;
	uint8_t q[1 + 2 * 66];
	size_t qlen = 1 + 2 * c->fieldlen;
	int r = HWK_ERR_CRYPTO;

	if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
	    !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y))
		goto out;
	q[0] = 0x04;
	if (BN_bn2binpad(x, q + 1, (int)c->fieldlen) < 0 ||
	    BN_bn2binpad(y, q + 1 + c->fieldlen, (int)c->fieldlen) < 0)
		goto out;
	if ((r = hwk_buf_put_cstring(b, c->type)) != 0 ||
	    (r = hwk_buf_put_cstring(b, c->id)) != 0 ||
	    (r = hwk_buf_put_string(b, q, qlen)) != 0)
		goto out;
	r = HWK_OK;
 out:
	BN_free(x);
	BN_free(y);
	return r;
}

static int
ed25519_put_blob(const EVP_PKEY *pkey, struct hwk_buf *b)
{
	uint8_t pk[ED25519_LEN];
	size_t len = sizeof(pk);
	int r;

	if (!EVP_PKEY_get_raw_public_key(pkey, pk, &len) || len != sizeof(pk))
		return HWK_ERR_CRYPTO;
	if ((r = hwk_buf_put_cstring(b, "ssh-ed25519")) != 0 ||
	    (r = hwk_buf_put_string(b, pk, sizeof(pk))) != 0)
		return r;
	return HWK_OK;
}

int
hwk_pkey_put_blob(const EVP_PKEY *pkey, struct hwk_buf *b)
{
	const struct curve *c;

	if (pkey == NULL)
		return HWK_ERR_KEY_TYPE;
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		return hwk_rsa_put_blob(pkey, b);
	case EVP_PKEY_ED25519:
		return ed25519_put_blob(pkey, b);
	case EVP_PKEY_EC:
		if ((c = curve_of(pkey)) == NULL)
			break;
		return ecdsa_put_blob(pkey, c, b);
	}
	return HWK_ERR_KEY_TYPE;
}

int
hwk_rsa_from_ne(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen,
    EVP_PKEY **pkeyp)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	int r = HWK_ERR_CRYPTO;

	*pkeyp = NULL;
	if (nlen == 0 || elen == 0 || nlen > HWK_BIGNUM_MAX_BYTES || elen > 8)
		return HWK_ERR_FORMAT;
	if ((bn_n = BN_bin2bn(n, (int)nlen, NULL)) == NULL ||
	    (bn_e = BN_bin2bn(e, (int)elen, NULL)) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, pkeyp, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	r = HWK_OK;
 out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	return r;
}

/* Whether OpenSSL finds the key sound: Q on the curve, and Q = dG. */
static int
ecdsa_check(EVP_PKEY *pkey, int pair)
{
	EVP_PKEY_CTX *ctx;
	int ok;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL)
		return HWK_ERR_NOMEM;
	ok = pair ? EVP_PKEY_check(ctx) : EVP_PKEY_public_check(ctx);
	EVP_PKEY_CTX_free(ctx);
	return ok == 1 ? HWK_OK : HWK_ERR_FORMAT;
}

int
hwk_ecdsa_from_point(const char *curve_id, const uint8_t *q, size_t qlen,
    const BIGNUM *d, EVP_PKEY **pkeyp)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	const struct curve *c;
	int r = HWK_ERR_CRYPTO;

	*pkeyp = NULL;
	if ((c = curve_by_id(curve_id)) == NULL)
		return HWK_ERR_KEY_TYPE;
	/* Uncompressed only, as OpenSSH writes and reads it. */
	if (qlen != 1 + 2 * c->fieldlen || q[0] != 0x04)
		return HWK_ERR_FORMAT;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    c->group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q,
	    qlen) || (d != NULL &&
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d)) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0)
		goto out;
	/* OpenSSL refuses a point off the curve: the input is wrong. */
	if (EVP_PKEY_fromdata(ctx, pkeyp, d != NULL ? EVP_PKEY_KEYPAIR :
	    EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		r = HWK_ERR_FORMAT;
		goto out;
	}
	r = ecdsa_check(*pkeyp, d != NULL);
 out:
	if (r != 0) {
		EVP_PKEY_free(*pkeyp);
		*pkeyp = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);	/* wipes a secure d */
	OSSL_PARAM_BLD_free(bld);
	return r;
}

int
hwk_pubkey_from_evp(const EVP_PKEY *pkey, const char *comment,
    struct hwk_pubkey **kp)
{
	struct hwk_buf *b = NULL;
	int r;

	*kp = NULL;
	if ((b = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = hwk_pkey_put_blob(pkey, b)) == 0)
		r = hwk_pubkey_from_blob(hwk_buf_ptr(b), hwk_buf_len(b),
		    comment, kp);
	hwk_buf_free(&b);
	return r;
}

/* The rest of an ssh-rsa blob: e, n. */
static int
rsa_from_blob(struct hwk_buf *b, EVP_PKEY **pkeyp)
{
	const uint8_t *e, *n;
	size_t elen, nlen;
	int r;

	if ((r = hwk_buf_get_mpint_direct(b, &e, &elen)) != 0 ||
	    (r = hwk_buf_get_mpint_direct(b, &n, &nlen)) != 0)
		return r;
	return hwk_rsa_from_ne(n, nlen, e, elen, pkeyp);
}

/* The rest of an ecdsa-sha2-* blob: the curve, which the type names, and Q. */
static int
ecdsa_from_blob(const char *type, struct hwk_buf *b, EVP_PKEY **pkeyp)
{
	const struct curve *c;
	const uint8_t *q;
	char *id = NULL;
	size_t qlen;
	int r;

	if ((r = hwk_buf_get_cstring(b, &id, NULL)) != 0 ||
	    (r = hwk_buf_get_string_direct(b, &q, &qlen)) != 0)
		goto out;
	if ((c = curve_by_id(id)) == NULL || strcmp(c->type, type) != 0) {
		r = HWK_ERR_FORMAT;
		goto out;
	}
	r = hwk_ecdsa_from_point(id, q, qlen, NULL, pkeyp);
 out:
	free(id);
	return r;
}

static int
ed25519_from_blob(struct hwk_buf *b, EVP_PKEY **pkeyp)
{
	const uint8_t *pk;
	size_t len;
	int r;

	if ((r = hwk_buf_get_string_direct(b, &pk, &len)) != 0)
		return r;
	if (len != ED25519_LEN)
		return HWK_ERR_FORMAT;
	if ((*pkeyp = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk,
	    len)) == NULL)
		return HWK_ERR_CRYPTO;
	return HWK_OK;
}

int
hwk_pubkey_to_evp(const struct hwk_pubkey *k, EVP_PKEY **pkeyp)
{
	struct hwk_buf *b = NULL;
	int r;

	*pkeyp = NULL;
	if (strcmp(k->type, "ssh-rsa") != 0 &&
	    strcmp(k->type, "ssh-ed25519") != 0 &&
	    strncmp(k->type, ECDSA_PREFIX, strlen(ECDSA_PREFIX)) != 0)
		return HWK_ERR_KEY_TYPE;
	if ((b = hwk_buf_from(k->blob, k->bloblen)) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = hwk_buf_get_string_direct(b, NULL, NULL)) != 0)
		goto out;
	if (strcmp(k->type, "ssh-rsa") == 0)
		r = rsa_from_blob(b, pkeyp);
	else if (strcmp(k->type, "ssh-ed25519") == 0)
		r = ed25519_from_blob(b, pkeyp);
	else
		r = ecdsa_from_blob(k->type, b, pkeyp);
 out:
	hwk_buf_free(&b);
	return r;
}

unsigned
hwk_rsa_bits(const EVP_PKEY *pkey)
{
	int bits = EVP_PKEY_get_bits(pkey);

	return bits > 0 ? (unsigned)bits : 0;
}
