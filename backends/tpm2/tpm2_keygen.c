/*
 * Making a TPM key: whether the TPM can make it (type and size, password
 * length, the parent), the key's template, TPM2_Create, and the stub it
 * leaves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "tpm2_int.h"

/* Says which RSA sizes the TPM makes, when it refused the one asked for. */
static int
bits_refused(struct hwk_ctx *ctx, struct tpm2_conn *c, unsigned bits)
{
	static const unsigned sizes[] = { 2048, 3072, 4096 };
	char list[64] = "";
	size_t i, n = 0;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (sizes[i] != bits && hwk_tpm2_rsa_bits_test(c, sizes[i]) ==
		    TSS2_RC_SUCCESS)
			n += (size_t)snprintf(list + n, sizeof(list) - n,
			    "%s%u", n == 0 ? "" : " and ", sizes[i]);
	hwk_ctx_error(ctx, HWK_ERR_KEY_SIZE, "the TPM at %s cannot make "
	    "RSA-%u keys%s%s", c->name, bits, n > 0 ? "; it makes RSA " : "",
	    list);
	if (n > 0)
		hwk_ctx_hint(ctx, "Use -b with a size the TPM supports (%s), "
		    "or --backend software for a larger key kept in a file.",
		    list);
	else
		hwk_ctx_hint(ctx, "This TPM makes no RSA key of 2048 bits or "
		    "more; use --backend software.");
	return HWK_ERR_KEY_SIZE;
}

/* The passphrase, when known, is short enough to be a TPM password. */
static int
pass_fits(struct hwk_ctx *ctx, const struct hwk_genparams *gp)
{
	size_t plen = gp->passphrase != NULL ? strlen(gp->passphrase) : 0;

	if (plen <= HWK_TPM2_AUTH_MAX)
		return HWK_OK;
	hwk_ctx_error(ctx, HWK_ERR_TOO_LARGE, "the passphrase is %zu "
	    "bytes; a TPM key's password is at most %d (the size of its "
	    "SHA-256 name hash)", plen, HWK_TPM2_AUTH_MAX);
	hwk_ctx_hint(ctx, "Choose a passphrase of at most %d characters; "
	    "the TPM's lockout makes short ones safe.", HWK_TPM2_AUTH_MAX);
	return HWK_ERR_TOO_LARGE;
}

/*
 * The type and size before the TPM is asked whether it makes them.
 * Ed25519, which no TPM makes, is refused here, in words naming what this
 * TPM makes when one answers.
 */
static int
type_check(struct hwk_ctx *ctx, const struct hwk_genparams *gp)
{
	struct tpm2_conn *c = NULL;

	switch (gp->type) {
	case HWK_KEY_RSA:
		return hwk_rsa_bits_check(ctx, gp->bits,
		    HWK_DEVICE_RSA_DEFAULT_BITS);
	case HWK_KEY_ECDSA:
		return hwk_ecdsa_bits_check(ctx, gp->bits);
	case HWK_KEY_ED25519:
		if (hwk_tpm2_keygen_conn_get(ctx, &c) != 0)
			c = NULL;
		return hwk_tpm2_type_refused(ctx, c, gp);
	}
	return hwk_ctx_error(ctx, HWK_ERR_KEY_TYPE, "unknown key type %d",
	    gp->type);
}

/* Asks the TPM whether it makes the size or curve asked for. */
static int
size_check(struct hwk_ctx *ctx, struct tpm2_conn *c,
    const struct hwk_genparams *gp)
{
	TSS2_RC rc;

	if (gp->type == HWK_KEY_ECDSA) {
		if ((rc = hwk_tpm2_ecc_bits_test(c, gp->bits)) ==
		    TSS2_RC_SUCCESS)
			return HWK_OK;
		return rc == TPM2_RC_CURVE ? hwk_tpm2_type_refused(ctx, c, gp) :
		    hwk_tpm2_rc_error(ctx, c, rc,
		    "a question (TPM2_GetCapability)");
	}
	if ((rc = hwk_tpm2_rsa_bits_test(c, gp->bits)) == TSS2_RC_SUCCESS)
		return HWK_OK;
	return hwk_tpm2_rc_is_refusal(rc) ? bits_refused(ctx, c, gp->bits) :
	    hwk_tpm2_rc_error(ctx, c, rc, "a question (TPM2_TestParms)");
}

int
hwk_tpm2_check(struct hwk_ctx *ctx, const struct hwk_genparams *gp)
{
	struct tpm2_conn *c = NULL;
	uint32_t parent;
	int r;

	/*
	 * A type no TPM makes is refused first; for RSA and ECDSA the
	 * passphrase's length comes before the size, as it always did.
	 */
	if (gp->type != HWK_KEY_RSA && gp->type != HWK_KEY_ECDSA)
		r = type_check(ctx, gp);
	else if ((r = pass_fits(ctx, gp)) != 0 ||
	    (r = type_check(ctx, gp)) != 0 ||
	    (r = hwk_tpm2_parent_option(ctx, &parent)) != 0 ||
	    (r = hwk_tpm2_keygen_conn_get(ctx, &c)) != 0 ||
	    (r = size_check(ctx, c, gp)) != 0)
		;
	else if (parent != TPM2_RH_OWNER)
		r = hwk_tpm2_parent_check(ctx, c, parent);
	/* Kept open for generate only when the keygen goes on. */
	if (r != 0)
		hwk_tpm2_keygen_conn_close();
	return r;
}

/*
 * An ECC signing key on the curve: unrestricted sign only (no ECDH),
 * scheme NULL so that each signature names ECDSA and its hash, as we and
 * tpm2-openssl do; attributes as key_template's.
 */
static void
ecc_template(unsigned bits, int has_password, TPM2B_PUBLIC *t)
{
	memset(t, 0, sizeof(*t));
	t->publicArea.type = TPM2_ALG_ECC;
	t->publicArea.nameAlg = TPM2_ALG_SHA256;
	t->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM |
	    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
	    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT;
	if (!has_password)
		t->publicArea.objectAttributes |= TPMA_OBJECT_NODA;
	t->publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
	t->publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	t->publicArea.parameters.eccDetail.curveID = hwk_tpm2_ecc_curve(bits);
	t->publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
}

/*
 * RSA, SHA-256 names, unrestricted sign|decrypt, scheme NULL.  With a
 * password the TPM's dictionary-attack lockout protects it; without one
 * there is nothing to guess, and noDA keeps a lockout (caused by any
 * other key) from locking the user out of this one.
 */
static void
key_template(const struct hwk_genparams *gp, int has_password,
    TPM2B_PUBLIC *t)
{
	unsigned bits = gp->bits;

	if (gp->type == HWK_KEY_ECDSA) {
		ecc_template(bits, has_password, t);
		return;
	}
	memset(t, 0, sizeof(*t));
	t->publicArea.type = TPM2_ALG_RSA;
	t->publicArea.nameAlg = TPM2_ALG_SHA256;
	t->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM |
	    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
	    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT |
	    TPMA_OBJECT_DECRYPT;
	if (!has_password)
		t->publicArea.objectAttributes |= TPMA_OBJECT_NODA;
	t->publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	t->publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	t->publicArea.parameters.rsaDetail.keyBits = (TPMI_RSA_KEY_BITS)bits;
	t->publicArea.parameters.rsaDetail.exponent = 0;	/* 65537 */
}

/*
 * ESYS keeps a copy of TPM2_Create's inputs, the password among them, in
 * its context until it frees it, unwiped.  A Create that ESYS refuses
 * before sending anything (its parent is no object ESYS knows) stores
 * zeros over that copy.
 */
static void
scrub_create_inputs(struct tpm2_conn *c)
{
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_PUBLIC pub;
	TPM2B_DATA outside;
	TPML_PCR_SELECTION pcrs;

	if (c->esys == NULL)
		return;
	memset(&sens, 0, sizeof(sens));
	memset(&pub, 0, sizeof(pub));
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	(void)Esys_Create_Async(c->esys, (ESYS_TR)0xfffffffeU,
	    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &pub, &outside,
	    &pcrs);
}

/* What generate checks before it says what it makes and asks the TPM. */
static int
gen_params(struct hwk_ctx *ctx, const struct hwk_genparams *gp,
    uint32_t *parent_handlep)
{
	int r;

	if ((r = type_check(ctx, gp)) != 0 ||
	    (r = hwk_tpm2_parent_option(ctx, parent_handlep)) != 0 ||
	    (r = pass_fits(ctx, gp)) != 0)
		return r;
	if (gp->type == HWK_KEY_ECDSA)
		hwk_ctx_notice(ctx, "Making an ECDSA-%u key inside the TPM.",
		    gp->bits);
	else if (!gp->bits_given)
		hwk_ctx_notice(ctx, "Making an RSA-%u key inside the TPM (the "
		    "size every TPM supports; -b 3072 for a larger one).",
		    gp->bits);
	else
		hwk_ctx_notice(ctx, "Making an RSA-%u key inside the TPM.",
		    gp->bits);
	return HWK_OK;
}

/* Why TPM2_Create refused, in words. */
static int
create_refused(struct hwk_ctx *ctx, struct tpm2_conn *c, TSS2_RC rc,
    const struct hwk_genparams *gp, uint32_t parent_handle)
{
	if (gp->type == HWK_KEY_ECDSA && (hwk_tpm2_rc_base(rc) ==
	    TPM2_RC_CURVE || hwk_tpm2_rc_base(rc) == TPM2_RC_VALUE))
		return hwk_tpm2_type_refused(ctx, c, gp);
	if (hwk_tpm2_rc_base(rc) == TPM2_RC_KEY_SIZE ||
	    hwk_tpm2_rc_base(rc) == TPM2_RC_VALUE)
		return bits_refused(ctx, c, gp->bits);
	if (hwk_tpm2_rc_base(rc) == TPM2_RC_AUTH_FAIL ||
	    hwk_tpm2_rc_base(rc) == TPM2_RC_BAD_AUTH)
		return hwk_ctx_error(ctx, HWK_ERR_DEVICE, "the parent key "
		    "0x%08x has a password; hwkeygen uses parents without one",
		    parent_handle);
	return hwk_tpm2_rc_error(ctx, c, rc, "making the key (TPM2_Create)");
}

/*
 * TPM2_Create under the open parent.  The password travels in
 * inSensitive: encrypt it with a session salted to the parent, which only
 * this TPM can unwrap.  With continueSession clear the TPM ends the
 * session itself.
 */
static int
gen_create(struct hwk_ctx *ctx, struct tpm2_conn *c, ESYS_TR parent,
    uint32_t parent_handle, const struct hwk_genparams *gp,
    TPM2B_PRIVATE **privp, TPM2B_PUBLIC **pubp)
{
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_PUBLIC tmpl;
	TPM2B_DATA outside;
	TPML_PCR_SELECTION pcrs;
	ESYS_TR session = ESYS_TR_NONE;
	size_t plen;
	TSS2_RC rc;
	int r;

	memset(&sens, 0, sizeof(sens));
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	plen = gp->passphrase != NULL ? strlen(gp->passphrase) : 0;
	key_template(gp, plen > 0, &tmpl);
	if (plen > 0) {
		if ((r = hwk_tpm2_session_start(ctx, c, parent, parent, 1,
		    &session, &rc)) != 0)
			goto out;
		sens.sensitive.userAuth.size = (UINT16)plen;
		memcpy(sens.sensitive.userAuth.buffer, gp->passphrase, plen);
	}
	rc = Esys_Create(c->esys, parent, session != ESYS_TR_NONE ? session :
	    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
	    &outside, &pcrs, privp, pubp, NULL, NULL, NULL);
	if (plen > 0)
		scrub_create_inputs(c);
	if (rc != TSS2_RC_SUCCESS) {
		r = create_refused(ctx, c, rc, gp, parent_handle);
		goto out;
	}
	/* The TPM ended the session with the command (continueSession clear). */
	if (session != ESYS_TR_NONE)
		Esys_TR_Close(c->esys, &session);
	session = ESYS_TR_NONE;
	r = HWK_OK;
 out:
	explicit_bzero(&sens, sizeof(sens));
	hwk_tpm2_conn_flush(c, &session);
	return r;
}

int
hwk_tpm2_generate(struct hwk_ctx *ctx, const struct hwk_genparams *gp,
    struct hwk_key **keyp)
{
	struct tpm2_conn *c = NULL;
	struct tpm2_key *tk = NULL;
	TPM2B_PUBLIC *pub = NULL;
	TPM2B_PRIVATE *priv = NULL;
	ESYS_TR parent = ESYS_TR_NONE;
	uint32_t parent_handle;
	int r;

	*keyp = NULL;
	parent_handle = TPM2_RH_OWNER;
	if ((r = gen_params(ctx, gp, &parent_handle)) != 0)
		goto out;
	if ((tk = hwk_tpm2_key_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if ((r = hwk_tpm2_keygen_conn_get(ctx, &c)) != 0 ||
	    (r = hwk_tpm2_parent_open(ctx, c, parent_handle, &parent)) != 0 ||
	    (r = gen_create(ctx, c, parent, parent_handle, gp, &priv,
	    &pub)) != 0)
		goto out;
	tk->kf.empty_auth = gp->passphrase == NULL || *gp->passphrase == '\0';
	tk->kf.parent = parent_handle;
	tk->kf.pub = *pub;
	tk->kf.priv = *priv;
	r = hwk_tpm2_key_wrap(ctx, tk, keyp);
	tk = NULL;	/* owned by *keyp, or freed */
 out:
	if (c != NULL)
		hwk_tpm2_parent_close(c, parent_handle, &parent);
	hwk_tpm2_keygen_conn_close();
	Esys_Free(pub);
	Esys_Free(priv);
	free(tk);
	return r;
}

int
hwk_tpm2_write_stub(struct hwk_ctx *ctx, const struct hwk_key *key,
    const struct hwk_genparams *gp, struct hwk_buf *out)
{
	const struct tpm2_key *tk = key->impl;
	int r;

	(void)gp;
	if (tk == NULL)
		return hwk_ctx_error(ctx, HWK_ERR_INTERNAL, "no TPM key");
	if ((r = hwk_tpm2_keyfile_write(&tk->kf, out)) != 0)
		return hwk_ctx_error(ctx, r, "cannot encode the TPM key file: "
		    "%s", hwk_strerror(r));
	return HWK_OK;
}
