/*
 * What a TPM can make: its RSA sizes (one TPM2_TestParms each), its ECC
 * curves (one TPM2_GetCapability per connection, kept), and the words
 * for a key type or curve it cannot make.
 */
#include <stdio.h>
#include <string.h>

#include <tss2/tss2_esys.h>

#include "hwkey/backend.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "tpm2_int.h"

/* The sizes the words about RSA name; 1024 is below what hwkeygen makes. */
static const unsigned rsa_sizes[] = { 2048, 3072, 4096 };
static const unsigned ecc_sizes[] = { 256, 384, 521 };

TSS2_RC
hwk_tpm2_rsa_bits_test(struct tpm2_conn *c, unsigned bits)
{
	TPMT_PUBLIC_PARMS p;

	memset(&p, 0, sizeof(p));
	p.type = TPM2_ALG_RSA;
	p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	p.parameters.rsaDetail.keyBits = (TPMI_RSA_KEY_BITS)bits;
	p.parameters.rsaDetail.exponent = 0;
	return Esys_TestParms(c->esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, &p);
}

/* The bit of a curve in tpm2_conn's ecc_mask: ecc_sizes' order; 0 if none. */
static unsigned
curve_bit(unsigned bits)
{
	size_t i;

	for (i = 0; i < sizeof(ecc_sizes) / sizeof(ecc_sizes[0]); i++)
		if (ecc_sizes[i] == bits)
			return 1u << i;
	return 0;
}

/*
 * The NIST curves the TPM lists, asked once per connection: a keygen
 * asks this one question where an RSA keygen asks TPM2_TestParms.
 */
static TSS2_RC
ecc_curves(struct tpm2_conn *c)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more = TPM2_NO;
	TPM2_ECC_CURVE next = TPM2_ECC_NONE;
	TSS2_RC rc = TSS2_RC_SUCCESS;
	UINT32 i;

	if (c->ecc_known)
		return TSS2_RC_SUCCESS;
	c->ecc_mask = 0;
	do {
		rc = Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE,
		    ESYS_TR_NONE, TPM2_CAP_ECC_CURVES, next,
		    TPM2_MAX_ECC_CURVES, &more, &cap);
		if (rc != TSS2_RC_SUCCESS)
			return rc;
		for (i = 0; i < cap->data.eccCurves.count &&
		    i < TPM2_MAX_ECC_CURVES; i++) {
			c->ecc_mask |= curve_bit(hwk_tpm2_ecc_bits(
			    cap->data.eccCurves.eccCurves[i]));
			next = (TPM2_ECC_CURVE)(cap->data.eccCurves.
			    eccCurves[i] + 1);
		}
		/* A TPM that says "more" but lists nothing would loop. */
		if (cap->data.eccCurves.count == 0)
			more = TPM2_NO;
		Esys_Free(cap);
		cap = NULL;
	} while (more == TPM2_YES);
	c->ecc_known = 1;
	return TSS2_RC_SUCCESS;
}

TSS2_RC
hwk_tpm2_ecc_bits_test(struct tpm2_conn *c, unsigned bits)
{
	TSS2_RC rc;

	if ((rc = ecc_curves(c)) != TSS2_RC_SUCCESS)
		return rc;
	return (c->ecc_mask & curve_bit(bits)) != 0 ?
	    TSS2_RC_SUCCESS : TPM2_RC_CURVE;
}

/*
 * "RSA 2048/3072 and ECDSA 256/384/521": what the TPM makes, for the words
 * of a refusal; "" if it makes nothing hwkeygen asks for.
 */
void
hwk_tpm2_makes(struct tpm2_conn *c, char *text, size_t len)
{
	char rsa[32] = "", ecc[32] = "";
	size_t i, n;

	for (i = n = 0; i < sizeof(rsa_sizes) / sizeof(rsa_sizes[0]); i++)
		if (hwk_tpm2_rsa_bits_test(c, rsa_sizes[i]) ==
		    TSS2_RC_SUCCESS && n < sizeof(rsa))
			n += (size_t)snprintf(rsa + n, sizeof(rsa) - n,
			    "%s%u", n == 0 ? "RSA " : "/", rsa_sizes[i]);
	for (i = n = 0; i < sizeof(ecc_sizes) / sizeof(ecc_sizes[0]); i++)
		if (hwk_tpm2_ecc_bits_test(c, ecc_sizes[i]) ==
		    TSS2_RC_SUCCESS && n < sizeof(ecc))
			n += (size_t)snprintf(ecc + n, sizeof(ecc) - n,
			    "%s%u", n == 0 ? "ECDSA " : "/", ecc_sizes[i]);
	snprintf(text, len, "%s%s%s", rsa, *rsa != '\0' && *ecc != '\0' ?
	    " and " : "", ecc);
}

/*
 * Ed25519, which no TPM makes, or an ECDSA curve this one lacks: the
 * error names what the TPM does make.  c may be NULL when no TPM answered.
 */
int
hwk_tpm2_type_refused(struct hwk_ctx *ctx, struct tpm2_conn *c,
    const struct hwk_genparams *gp)
{
	char makes[80] = "";
	const char *name = c != NULL ? c->name : "";

	if (c != NULL)
		hwk_tpm2_makes(c, makes, sizeof(makes));
	if (gp->type == HWK_KEY_ECDSA) {
		hwk_ctx_error(ctx, HWK_ERR_KEY_SIZE, "the TPM at %s cannot "
		    "make ECDSA-%u keys (its curve P-%u is missing)%s%s%s",
		    name, gp->bits, gp->bits, *makes != '\0' ?
		    "; this TPM makes " : "", makes, *makes != '\0' ?
		    " keys" : "");
		hwk_ctx_hint(ctx, "Use -b with a curve the TPM has, or "
		    "--backend pkcs11 or software for this one.");
		return HWK_ERR_KEY_SIZE;
	}
	if (*makes != '\0')
		hwk_ctx_error(ctx, HWK_ERR_KEY_TYPE, "this TPM makes %s keys; "
		    "Ed25519 keys it cannot make: use --backend pkcs11 or "
		    "software", makes);
	else
		hwk_ctx_error(ctx, HWK_ERR_KEY_TYPE, "a TPM cannot make "
		    "Ed25519 keys: use --backend pkcs11 or software");
	hwk_ctx_hint(ctx, "TPM 2.0 has no Ed25519; -t ecdsa or -t rsa makes "
	    "a key inside the TPM.");
	return HWK_ERR_KEY_TYPE;
}
