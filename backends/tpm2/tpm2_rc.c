/*
 * What the TPM's and the TSS's response codes mean: which kind of failure,
 * the hwk_err for it, and the words that say what to do (lockout, a wrong
 * password, a full TPM, a TPM that stopped answering).
 */
#include <stdint.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>

#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "tpm2_int.h"

/* The response code without its layer and handle/session/parameter number. */
TSS2_RC
hwk_tpm2_rc_base(TSS2_RC rc)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;

	if (layer != TSS2_TPM_RC_LAYER && layer != TSS2_RESMGR_TPM_RC_LAYER)
		return rc;
	rc &= ~TSS2_RC_LAYER_MASK;
	if (rc & TPM2_RC_FMT1)
		return rc & (TPM2_RC_FMT1 | 0x3f);
	return rc;
}

static int
rc_is_tcti(TSS2_RC rc)
{
	return (rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER;
}

/*
 * No answer from the TPM: the command was lost on the way (TCTI) or the
 * TSS refused it (SAPI, ESYS).  After a lost command ESYS refuses every
 * later one ("function called in the wrong order"): the connection is
 * good for nothing but closing.
 */
int
hwk_tpm2_rc_is_lost(TSS2_RC rc)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;

	return rc != TSS2_RC_SUCCESS && (layer == TSS2_TCTI_RC_LAYER ||
	    layer == TSS2_SYS_RC_LAYER || layer == TSS2_ESAPI_RC_LAYER);
}

/* The TPM's own "no" to parameters, as opposed to not answering. */
int
hwk_tpm2_rc_is_refusal(TSS2_RC rc)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;

	return (layer == TSS2_TPM_RC_LAYER ||
	    layer == TSS2_RESMGR_TPM_RC_LAYER) && (rc & TPM2_RC_FMT1);
}

/* A failed command in words; the callers handle the codes they expect. */
int
hwk_tpm2_rc_error(struct hwk_ctx *ctx, const struct tpm2_conn *c, TSS2_RC rc,
    const char *what)
{
	if (rc_is_tcti(rc)) {
		hwk_ctx_error(ctx, HWK_ERR_NO_DEVICE, "lost the TPM at %s "
		    "during %s (%s)", c->name, what, Tss2_RC_Decode(rc));
		hwk_ctx_hint(ctx, "The TPM stopped answering; nothing was "
		    "kept.  Check that it is still there and try again.");
		return HWK_ERR_NO_DEVICE;
	}
	switch (hwk_tpm2_rc_base(rc)) {
	case TPM2_RC_OBJECT_MEMORY:
	case TPM2_RC_SESSION_MEMORY:
	case TPM2_RC_MEMORY:
	case TPM2_RC_SESSION_HANDLES:
	case TPM2_RC_OBJECT_HANDLES:
		hwk_ctx_error(ctx, HWK_ERR_DEVICE_FULL, "the TPM has no room "
		    "for %s (%s)", what, Tss2_RC_Decode(rc));
		hwk_ctx_hint(ctx, "Other programs hold its object or session "
		    "slots: see tpm2_getcap handles-transient; a resource "
		    "manager (device:/dev/tpmrm0) shares them.");
		return HWK_ERR_DEVICE_FULL;
	case TPM2_RC_LOCKOUT:
		hwk_ctx_error(ctx, HWK_ERR_LOCKOUT, "the TPM is in "
		    "dictionary-attack lockout and refused %s", what);
		hwk_ctx_hint(ctx, "Wait for its lockout interval, or have the "
		    "TPM's owner run: tpm2_dictionarylockout --clear-lockout");
		return HWK_ERR_LOCKOUT;
	}
	return hwk_ctx_error(ctx, HWK_ERR_DEVICE, "the TPM at %s refused %s: "
	    "%s", c->name, what, Tss2_RC_Decode(rc));
}

/* The dictionary-attack counters, for messages; 0 on success. */
static int
da_state(struct tpm2_conn *c, uint32_t *failed, uint32_t *max,
    uint32_t *interval)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	const TPMS_TAGGED_PROPERTY *p;
	uint32_t i;

	*failed = *max = *interval = 0;
	if (Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES, TPM2_PT_LOCKOUT_COUNTER, 3,
	    &more, &cap) != TSS2_RC_SUCCESS)
		return -1;
	for (i = 0; i < cap->data.tpmProperties.count &&
	    i < TPM2_MAX_TPM_PROPERTIES; i++) {
		p = &cap->data.tpmProperties.tpmProperty[i];
		if (p->property == TPM2_PT_LOCKOUT_COUNTER)
			*failed = p->value;
		else if (p->property == TPM2_PT_MAX_AUTH_FAIL)
			*max = p->value;
		else if (p->property == TPM2_PT_LOCKOUT_INTERVAL)
			*interval = p->value;
	}
	Esys_Free(cap);
	return 0;
}

/*
 * A wrong password or a lockout, with how many tries are left or how to
 * recover.  A key without a password (emptyAuth) can only meet a lockout
 * that other keys' wrong passwords caused, when it was made without noDA.
 */
int
hwk_tpm2_rc_auth_error(struct hwk_ctx *ctx, struct tpm2_conn *c, TSS2_RC rc,
    int empty_auth)
{
	uint32_t failed, max, interval;
	int known = da_state(c, &failed, &max, &interval) == 0 && max > 0;

	if (hwk_tpm2_rc_base(rc) == TPM2_RC_LOCKOUT) {
		if (empty_auth)
			hwk_ctx_error(ctx, HWK_ERR_LOCKOUT, "the TPM is in "
			    "dictionary-attack lockout, and this key, which "
			    "has no password, was made without noDA, so the "
			    "lockout covers it too");
		else
			hwk_ctx_error(ctx, HWK_ERR_LOCKOUT, "the TPM is in "
			    "dictionary-attack lockout after too many wrong "
			    "passwords: it refuses every password, the right "
			    "one too");
		if (known && interval > 0)
			hwk_ctx_hint(ctx, "It forgets one failure every %u s; "
			    "or the TPM's owner ends the lockout now with: "
			    "tpm2_dictionarylockout --clear-lockout", interval);
		else
			hwk_ctx_hint(ctx, "The TPM's owner ends the lockout "
			    "with: tpm2_dictionarylockout --clear-lockout");
		return HWK_ERR_LOCKOUT;
	}
	hwk_ctx_error(ctx, HWK_ERR_WRONG_PASSPHRASE, "wrong passphrase for "
	    "the TPM key");
	if (known && failed < max)
		hwk_ctx_hint(ctx, "The TPM counts wrong passwords: after %u "
		    "more it locks out (dictionary-attack protection).",
		    max - failed);
	else if (known)
		hwk_ctx_hint(ctx, "That was the TPM's last allowed failure: it "
		    "is now in dictionary-attack lockout "
		    "(tpm2_dictionarylockout --clear-lockout ends it).");
	return HWK_ERR_WRONG_PASSPHRASE;
}
