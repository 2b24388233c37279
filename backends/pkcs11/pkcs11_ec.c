/*
 * Elliptic-curve keys on a token: the named curves and their CKA_EC_PARAMS,
 * the public point a token gives (CKA_EC_POINT, DER-wrapped or raw) as an
 * OpenSSL key, and the public key of any key object, whatever its type.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <p11-kit/pkcs11.h>

#include "hwkey/backend.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "pkcs11_impl.h"

#define EC_PARAMS_MAX	64	/* a named curve's OID, or its name */
#define EC_POINT_MAX	(3 + 1 + 2 * 66)	/* P-521, DER-wrapped */

/* DER OIDs: prime256v1, secp384r1, secp521r1 and Ed25519 (RFC 8410). */
static const uint8_t oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07 };
static const uint8_t oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00,
    0x22 };
static const uint8_t oid_p521[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00,
    0x23 };
static const uint8_t oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
/* What OpenSC and PKCS#11 3.0 also allow: the curve's name, printable. */
static const uint8_t name_ed25519[] = { 0x13, 0x0c, 'e', 'd', 'w', 'a',
    'r', 'd', 's', '2', '5', '5', '1', '9' };

static const struct p11_curve curves[] = {
	{ HWK_KEY_ECDSA, 256, "nistp256", oid_p256, sizeof(oid_p256) },
	{ HWK_KEY_ECDSA, 384, "nistp384", oid_p384, sizeof(oid_p384) },
	{ HWK_KEY_ECDSA, 521, "nistp521", oid_p521, sizeof(oid_p521) },
	{ HWK_KEY_ED25519, 256, "ed25519", oid_ed25519, sizeof(oid_ed25519) },
	{ HWK_KEY_ED25519, 256, "ed25519", name_ed25519,
	    sizeof(name_ed25519) },
};
#define NCURVES	(sizeof(curves) / sizeof(curves[0]))

/* The curve of an ECDSA key of bits, or Ed25519's; NULL if none. */
const struct p11_curve *
hwk_p11_curve(int type, unsigned bits)
{
	size_t i;

	for (i = 0; i < NCURVES; i++)
		if (curves[i].type == type && (type == HWK_KEY_ED25519 ||
		    curves[i].bits == bits))
			return &curves[i];
	return NULL;
}

/* The curve of type by its name (PrintableString), if it has one. */
const struct p11_curve *
hwk_p11_curve_named(int type)
{
	size_t i;

	for (i = 0; i < NCURVES; i++)
		if (curves[i].type == type && curves[i].der[0] == 0x13)
			return &curves[i];
	return NULL;
}

/* The curve whose CKA_EC_PARAMS are der, or NULL. */
static const struct p11_curve *
curve_of_params(const uint8_t *der, size_t len)
{
	size_t i;

	for (i = 0; i < NCURVES; i++)
		if (curves[i].derlen == len &&
		    memcmp(curves[i].der, der, len) == 0)
			return &curves[i];
	return NULL;
}

/*
 * The point of CKA_EC_POINT, which PKCS#11 says is a DER OCTET STRING
 * and some tokens give raw: want is the raw length.  NULL if it is
 * neither.
 */
static const uint8_t *
point_unwrap(const uint8_t *v, size_t len, size_t want)
{
	size_t hdr;

	if (len == want && (want == 32 || v[0] == 0x04))
		return v;	/* raw: Ed25519's 32 bytes, or 04 X Y */
	if (len < 2 || v[0] != 0x04)
		return NULL;
	if (v[1] < 0x80)
		hdr = 2;
	else if (v[1] == 0x81 && len >= 3 && v[2] >= 0x80)
		hdr = 3;
	else
		return NULL;
	if (len - hdr != want || (hdr == 2 ? v[1] : v[2]) != want)
		return NULL;
	return v + hdr;
}

/* The EC or Ed25519 public key of obj, a public key object. */
static int
ec_read(struct hwk_ctx *ctx, struct p11_conn *c, CK_OBJECT_HANDLE obj,
    int type, EVP_PKEY **pkeyp)
{
	const struct p11_curve *cv;
	uint8_t *params = NULL, *pt = NULL;
	const uint8_t *q;
	size_t plen, qlen, want;
	int r;

	if ((r = hwk_p11_attr_read(ctx, c, obj, CKA_EC_PARAMS, "the key's "
	    "curve (CKA_EC_PARAMS)", EC_PARAMS_MAX, 0, &params, &plen)) != 0)
		goto out;
	if ((cv = curve_of_params(params, plen)) == NULL || cv->type != type) {
		r = hwk_ctx_error(ctx, HWK_ERR_KEY_TYPE, "token %s holds a key "
		    "on a curve SSH does not use (NIST P-256, P-384, P-521 "
		    "and Ed25519 only)", c->name);
		goto out;
	}
	if ((r = hwk_p11_attr_read(ctx, c, obj, CKA_EC_POINT, "the key's "
	    "public point (CKA_EC_POINT)", EC_POINT_MAX, 0, &pt, &qlen)) != 0)
		goto out;
	want = type == HWK_KEY_ED25519 ? 32 : 1 + 2 * ((cv->bits + 7) / 8);
	if ((q = point_unwrap(pt, qlen, want)) == NULL) {
		r = hwk_ctx_error(ctx, HWK_ERR_FORMAT, "token %s gave a public "
		    "point that is not an uncompressed %s point", c->name,
		    cv->ssh_id);
		goto out;
	}
	if (type == HWK_KEY_ED25519)
		r = (*pkeyp = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519,
		    NULL, q, want)) != NULL ? HWK_OK : HWK_ERR_CRYPTO;
	else
		r = hwk_ecdsa_from_point(cv->ssh_id, q, want, NULL, pkeyp);
	if (r != 0)
		r = hwk_ctx_error(ctx, r, "token %s gave a public key that "
		    "OpenSSL refuses", c->name);
 out:
	free(params);
	free(pt);
	return r;
}

/* The public key of obj: RSA, ECDSA or Ed25519, as its CKA_KEY_TYPE says. */
int
hwk_p11_pub_read(struct hwk_ctx *ctx, struct p11_conn *c, CK_OBJECT_HANDLE obj,
    EVP_PKEY **pkeyp)
{
	CK_KEY_TYPE kt = CKK_RSA;
	CK_ATTRIBUTE a = { CKA_KEY_TYPE, &kt, sizeof(kt) };
	CK_RV rv;

	*pkeyp = NULL;
	rv = c->mod->fn->C_GetAttributeValue(c->sess, obj, &a, 1);
	if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID &&
	    rv != CKR_ATTRIBUTE_SENSITIVE)
		return hwk_p11_rv_error(ctx, rv, "cannot read the public key "
		    "from token %s", c->name);
	/* A module that will not tell the type has always meant RSA here. */
	if (rv != CKR_OK || a.ulValueLen != sizeof(kt))
		kt = CKK_RSA;
	switch (kt) {
	case CKK_RSA:
		return hwk_p11_rsa_read(ctx, c, obj, pkeyp);
	case CKK_EC:
		return ec_read(ctx, c, obj, HWK_KEY_ECDSA, pkeyp);
	case CKK_EC_EDWARDS:
		return ec_read(ctx, c, obj, HWK_KEY_ED25519, pkeyp);
	}
	return hwk_ctx_error(ctx, HWK_ERR_KEY_TYPE, "token %s holds a key of "
	    "a type SSH does not use (CKK 0x%lx)", c->name, (unsigned long)kt);
}

/* The HWK_KEY_ type of an OpenSSL key, 0 for none of ours. */
int
hwk_p11_pkey_type(const EVP_PKEY *pkey)
{
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		return HWK_KEY_RSA;
	case EVP_PKEY_EC:
		return HWK_KEY_ECDSA;
	case EVP_PKEY_ED25519:
		return HWK_KEY_ED25519;
	}
	return 0;
}
