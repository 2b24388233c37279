/*
 * What a token can make: whether it makes keys at all, which types and
 * sizes (from its mechanisms: RSA's sizes, the NIST curves, Ed25519), in
 * words for messages, and whether a key asked for is one of them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "hwkey/backend.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "pkcs11_impl.h"

/* The curves' sizes, as the bits of p11_tok's ec_curves. */
static const unsigned ec_sizes[] = { 256, 384, 521 };
#define NSIZES	(sizeof(ec_sizes) / sizeof(ec_sizes[0]))

/* Nonzero if a token can make no key at all (uninitialised, ...). */
int
hwk_p11_token_unfit(const struct p11_tok *t, const struct p11_opts *o,
    char *why, size_t len)
{
	if (!(t->ti.flags & CKF_TOKEN_INITIALIZED))
		snprintf(why, len, "is not initialised");
	else if (t->ti.flags & CKF_WRITE_PROTECTED)
		snprintf(why, len, "is read-only");
	else if (o->login == CKU_USER && (t->ti.flags & CKF_LOGIN_REQUIRED) &&
	    !(t->ti.flags & CKF_USER_PIN_INITIALIZED))
		snprintf(why, len, "has no user PIN set");
	else
		return 0;
	return 1;
}

/*
 * Nonzero if a token cannot make RSA keys; why says why: 2 if it lacks the
 * mechanism, 1 if it would not say.
 */
static int
rsa_unfit(struct p11_tok *t, char *why, size_t len)
{
	CK_MECHANISM_INFO mi;
	char nb[48];
	CK_RV rv;

	memset(&mi, 0, sizeof(mi));
	rv = t->mod->fn->C_GetMechanismInfo(t->slot,
	    CKM_RSA_PKCS_KEY_PAIR_GEN, &mi);
	if (rv == CKR_MECHANISM_INVALID ||
	    (rv == CKR_OK && !(mi.flags & CKF_GENERATE_KEY_PAIR))) {
		snprintf(why, len, "cannot make RSA keys");
		return 2;
	} else if (rv != CKR_OK)
		snprintf(why, len, "would not say if it makes RSA keys "
		    "(%s)", hwk_p11_rv_name(rv, nb, sizeof(nb)));
	else {
		t->min_bits = mi.ulMinKeySize;
		t->max_bits = mi.ulMaxKeySize;
		return 0;
	}
	return 1;
}

/*
 * Nonzero if a token cannot make keys of type (HWK_KEY_*, or P11_KEYGEN_ANY:
 * of some type); why says why: 2 if it makes keys, only not of this type.
 */
int
hwk_p11_keygen_unfit(struct p11_tok *t, const struct p11_opts *o, int type,
    char *why, size_t len)
{
	char makes[160];
	int r;

	if (hwk_p11_token_unfit(t, o, why, len))
		return 1;
	if (type == HWK_KEY_RSA && (r = rsa_unfit(t, why, len)) != 2)
		return r;
	hwk_p11_tok_caps(t);
	if ((type == HWK_KEY_ECDSA && t->ec_curves != 0) ||
	    (type == HWK_KEY_ED25519 && t->has_ed25519) ||
	    (type == P11_KEYGEN_ANY && (t->has_rsa || t->ec_curves != 0 ||
	    t->has_ed25519)))
		return 0;
	/*
	 * A token that makes no key at all: rsa_unfit's words for RSA, and
	 * unfit whatever the type for the probe.
	 */
	if (!t->has_rsa && t->ec_curves == 0 && !t->has_ed25519 &&
	    (type == HWK_KEY_RSA || type == P11_KEYGEN_ANY)) {
		if (type == P11_KEYGEN_ANY)
			snprintf(why, len, "makes no keys SSH can use");
		return 1;
	}
	hwk_p11_tok_makes(t, makes, sizeof(makes));
	snprintf(why, len, "cannot make %s keys (it makes %s)",
	    type == HWK_KEY_RSA ? "RSA" : type == HWK_KEY_ECDSA ? "ECDSA" :
	    type == HWK_KEY_ED25519 ? "Ed25519" : "such", makes);
	return 2;
}

/*
 * What the token of t can make into t: RSA's sizes, the NIST curves
 * CKM_EC_KEY_PAIR_GEN covers by name, and Ed25519.  A module that will
 * not answer for a mechanism does not have it.
 */
void
hwk_p11_tok_caps(struct p11_tok *t)
{
	CK_FUNCTION_LIST *fn = t->mod->fn;
	CK_MECHANISM_INFO mi;
	size_t i;

	if (t->caps_known)
		return;
	t->caps_known = 1;
	memset(&mi, 0, sizeof(mi));
	if (fn->C_GetMechanismInfo(t->slot, CKM_RSA_PKCS_KEY_PAIR_GEN, &mi) ==
	    CKR_OK && (mi.flags & CKF_GENERATE_KEY_PAIR)) {
		t->has_rsa = 1;
		t->min_bits = mi.ulMinKeySize;
		t->max_bits = mi.ulMaxKeySize;
	}
	memset(&mi, 0, sizeof(mi));
	/*
	 * A token that names the forms of curve it takes must take named
	 * curves; one that names none (older modules) is taken at its word.
	 */
	if (fn->C_GetMechanismInfo(t->slot, CKM_EC_KEY_PAIR_GEN, &mi) ==
	    CKR_OK && (mi.flags & CKF_GENERATE_KEY_PAIR) &&
	    (!(mi.flags & (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS |
	    CKF_EC_COMPRESS)) || (mi.flags & CKF_EC_NAMEDCURVE)))
		for (i = 0; i < NSIZES; i++)
			if (mi.ulMinKeySize <= ec_sizes[i] &&
			    (mi.ulMaxKeySize == 0 ||
			    mi.ulMaxKeySize >= ec_sizes[i]))
				t->ec_curves |= 1u << i;
	memset(&mi, 0, sizeof(mi));
	t->has_ed25519 = fn->C_GetMechanismInfo(t->slot,
	    CKM_EC_EDWARDS_KEY_PAIR_GEN, &mi) == CKR_OK &&
	    (mi.flags & CKF_GENERATE_KEY_PAIR) &&
	    (mi.ulMaxKeySize == 0 || mi.ulMaxKeySize >= 255);
}

/* Nonzero if the token of t makes ECDSA keys on the curve of bits. */
int
hwk_p11_tok_has_curve(const struct p11_tok *t, unsigned bits)
{
	size_t i;

	for (i = 0; i < NSIZES; i++)
		if (ec_sizes[i] == bits)
			return (t->ec_curves & (1u << i)) != 0;
	return 0;
}

/* Appends to the string in buf; a part that does not fit is left out. */
static void __attribute__((format(printf, 4, 5)))
add(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(buf + *n, len - *n, fmt, ap);
	va_end(ap);
	if (k >= 0 && (size_t)k < len - *n)
		*n += (size_t)k;
	else
		buf[*n] = '\0';
}

/* "RSA keys of 1024 to 2048 bits and ECDSA keys on P-256, P-384". */
void
hwk_p11_tok_makes(const struct p11_tok *t, char *buf, size_t len)
{
	const char *sep = "";
	size_t i, n = 0;

	*buf = '\0';
	if (t->has_rsa) {
		add(buf, len, &n, "RSA keys of %lu to %lu bits",
		    (unsigned long)t->min_bits, (unsigned long)t->max_bits);
		sep = t->has_ed25519 && t->ec_curves ? ", " : " and ";
	}
	if (t->ec_curves) {
		add(buf, len, &n, "%sECDSA keys on", sep);
		for (i = 0; i < NSIZES; i++)
			if (t->ec_curves & (1u << i))
				add(buf, len, &n, "%sP-%u", (t->ec_curves &
				    ((1u << i) - 1)) ? ", " : " ",
				    ec_sizes[i]);
		sep = " and ";
	}
	if (t->has_ed25519)
		add(buf, len, &n, "%sEd25519 keys", sep);
	if (n == 0)
		snprintf(buf, len, "no keys SSH can use");
}

/* An RSA size the token makes. */
static int
bits_fit(struct hwk_ctx *ctx, const struct p11_tok *t, unsigned bits)
{
	if ((t->min_bits != 0 && bits < t->min_bits) ||
	    (t->max_bits != 0 && bits > t->max_bits)) {
		hwk_ctx_error(ctx, HWK_ERR_KEY_SIZE, "token %s makes RSA keys of "
		    "%lu to %lu bits, not %u", t->name,
		    (unsigned long)t->min_bits, (unsigned long)t->max_bits,
		    bits);
		hwk_ctx_hint(ctx, "Use -b %lu (or another size the token "
		    "makes).", (unsigned long)(t->max_bits >= 2048 &&
		    t->min_bits <= 2048 ? 2048 : t->max_bits));
		return HWK_ERR_KEY_SIZE;
	}
	return HWK_OK;
}

/* The size of gp is one the token makes (Ed25519 has one size). */
int
hwk_p11_size_fits(struct hwk_ctx *ctx, struct p11_tok *t,
    const struct hwk_genparams *gp)
{
	char makes[160];

	if (gp->type == HWK_KEY_RSA)
		return bits_fit(ctx, t, gp->bits);
	if (gp->type != HWK_KEY_ECDSA)
		return HWK_OK;
	hwk_p11_tok_caps(t);
	if (hwk_p11_tok_has_curve(t, gp->bits))
		return HWK_OK;
	hwk_p11_tok_makes(t, makes, sizeof(makes));
	hwk_ctx_error(ctx, HWK_ERR_KEY_SIZE, "token %s cannot make ECDSA keys "
	    "on P-%u: it makes %s", t->name, gp->bits, makes);
	hwk_ctx_hint(ctx, "Use -b %u (or another curve the token makes).",
	    hwk_p11_tok_has_curve(t, 256) ? 256 :
	    hwk_p11_tok_has_curve(t, 384) ? 384 : 521);
	return HWK_ERR_KEY_SIZE;
}

/* The type and size of gp are ones hwkeygen makes on a token. */
int
hwk_p11_params_check(struct hwk_ctx *ctx, const struct hwk_genparams *gp)
{
	switch (gp->type) {
	case HWK_KEY_RSA:
		return hwk_rsa_bits_check(ctx, gp->bits,
		    HWK_DEVICE_RSA_DEFAULT_BITS);
	case HWK_KEY_ECDSA:
		return hwk_ecdsa_bits_check(ctx, gp->bits);
	case HWK_KEY_ED25519:
		return HWK_OK;		/* one size */
	}
	return hwk_ctx_error(ctx, HWK_ERR_KEY_TYPE, "unknown key type %d",
	    gp->type);
}
