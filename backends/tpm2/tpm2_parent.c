/*
 * The parent a TPM key is made and loaded under: the owner's standard
 * storage key (SRK), made again from its template each time, or a
 * persistent storage key named by --parent.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_sys.h>

#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "tpm2_int.h"

#define PERSISTENT_FIRST	0x81000000u
#define PERSISTENT_LAST		0x81ffffffu

/* The TCG ECC P-256 storage key (SRK template H-2): what parent 0x40000001 means. */
static const TPM2B_PUBLIC srk_template = {
	.publicArea = {
		.type = TPM2_ALG_ECC,
		.nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = TPMA_OBJECT_FIXEDTPM |
		    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
		    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA |
		    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
		.parameters.eccDetail = {
			.symmetric = {
				.algorithm = TPM2_ALG_AES,
				.keyBits.aes = 128,
				.mode.aes = TPM2_ALG_CFB,
			},
			.scheme.scheme = TPM2_ALG_NULL,
			.curveID = TPM2_ECC_NIST_P256,
			.kdf.scheme = TPM2_ALG_NULL,
		},
	},
};

/* --parent: 0 for the default SRK, else a persistent handle. */
int
hwk_tpm2_parent_option(struct hwk_ctx *ctx, uint32_t *handlep)
{
	const char *s = hwk_ctx_opt(ctx, "parent");
	unsigned long v;
	char *end;

	*handlep = TPM2_RH_OWNER;
	if (s == NULL || strcasecmp(s, "owner") == 0)
		return HWK_OK;
	errno = 0;
	v = strtoul(s, &end, 16);
	if (*s == '\0' || *end != '\0' || errno != 0 || v > UINT32_MAX ||
	    (v != TPM2_RH_OWNER && (v < PERSISTENT_FIRST ||
	    v > PERSISTENT_LAST))) {
		hwk_ctx_error(ctx, HWK_ERR_USAGE, "--parent %s: not a "
		    "persistent key handle (0x81000000 to 0x81ffffff)", s);
		hwk_ctx_hint(ctx, "Leave out --parent to use the TPM's "
		    "standard storage key; tpm2_getcap handles-persistent "
		    "lists the persistent keys.");
		return HWK_ERR_USAGE;
	}
	*handlep = (uint32_t)v;
	return HWK_OK;
}

int
hwk_tpm2_parent_supported(struct hwk_ctx *ctx, uint32_t handle)
{
	if (handle == TPM2_RH_OWNER ||
	    (handle >= PERSISTENT_FIRST && handle <= PERSISTENT_LAST))
		return HWK_OK;
	return hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "the key's parent is "
	    "0x%08x; hwkeygen loads keys under the owner's storage key "
	    "(0x40000001) or a persistent key (0x81xxxxxx)", handle);
}

/* A persistent parent must exist and be a storage key: restricted decrypt. */
int
hwk_tpm2_parent_check(struct hwk_ctx *ctx, struct tpm2_conn *c,
    uint32_t handle)
{
	TSS2_SYS_CONTEXT *sys = NULL;
	TPM2B_PUBLIC pub;
	TPM2B_NAME name, qname;
	TPMA_OBJECT a;
	TSS2_RC rc;

	memset(&pub, 0, sizeof(pub));
	memset(&name, 0, sizeof(name));
	memset(&qname, 0, sizeof(qname));
	if ((rc = Esys_GetSysContext(c->esys, &sys)) != TSS2_RC_SUCCESS)
		return hwk_tpm2_rc_error(ctx, c, rc, "a look at the parent");
	/* Straight through SAPI: one ReadPublic, no ESYS object to close. */
	rc = Tss2_Sys_ReadPublic(sys, handle, NULL, &pub, &name, &qname, NULL);
	if (hwk_tpm2_rc_base(rc) == TPM2_RC_HANDLE) {
		hwk_ctx_error(ctx, HWK_ERR_NOT_FOUND, "there is no persistent "
		    "key 0x%08x in the TPM at %s", handle, c->name);
		hwk_ctx_hint(ctx, "tpm2_getcap handles-persistent lists them; "
		    "leave out --parent to use the TPM's standard storage "
		    "key.");
		return HWK_ERR_NOT_FOUND;
	}
	if (rc != TSS2_RC_SUCCESS)
		return hwk_tpm2_rc_error(ctx, c, rc,
		    "reading the parent (TPM2_ReadPublic)");
	a = pub.publicArea.objectAttributes;
	if ((pub.publicArea.type != TPM2_ALG_ECC &&
	    pub.publicArea.type != TPM2_ALG_RSA) ||
	    !(a & TPMA_OBJECT_RESTRICTED) || !(a & TPMA_OBJECT_DECRYPT) ||
	    (a & TPMA_OBJECT_SIGN_ENCRYPT)) {
		hwk_ctx_error(ctx, HWK_ERR_INVALID_ARG, "the key 0x%08x is not "
		    "a storage key (a restricted decrypt key), so it cannot be "
		    "a parent", handle);
		hwk_ctx_hint(ctx, "Make one with: tpm2_createprimary -C o -G "
		    "ecc -c srk.ctx && tpm2_evictcontrol -c srk.ctx 0x81000001; "
		    "or leave out --parent.");
		return HWK_ERR_INVALID_ARG;
	}
	return HWK_OK;
}

/* The SRK, made again from its template: the same key every time. */
static int
srk_create(struct hwk_ctx *ctx, struct tpm2_conn *c, ESYS_TR *trp)
{
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_DATA outside;
	TPML_PCR_SELECTION pcrs;
	TSS2_RC rc;

	memset(&sens, 0, sizeof(sens));
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	rc = Esys_CreatePrimary(c->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD,
	    ESYS_TR_NONE, ESYS_TR_NONE, &sens, &srk_template, &outside, &pcrs,
	    trp, NULL, NULL, NULL, NULL);
	if (rc == TSS2_RC_SUCCESS)
		return HWK_OK;
	*trp = ESYS_TR_NONE;
	if (hwk_tpm2_rc_base(rc) == TPM2_RC_BAD_AUTH ||
	    hwk_tpm2_rc_base(rc) == TPM2_RC_AUTH_FAIL) {
		hwk_ctx_error(ctx, HWK_ERR_DEVICE, "the TPM's owner hierarchy "
		    "has a password, so its storage key cannot be made");
		hwk_ctx_hint(ctx, "Make a persistent storage key once "
		    "(tpm2_createprimary -C o -P OWNERPASS -G ecc -c srk.ctx "
		    "&& tpm2_evictcontrol -C o -P OWNERPASS -c srk.ctx "
		    "0x81000001) and give --parent 0x81000001.");
		return HWK_ERR_DEVICE;
	}
	return hwk_tpm2_rc_error(ctx, c, rc, "making the storage key "
	    "(TPM2_CreatePrimary)");
}

/* The parent as an ESYS object: the SRK re-created, or the persistent key. */
int
hwk_tpm2_parent_open(struct hwk_ctx *ctx, struct tpm2_conn *c,
    uint32_t handle, ESYS_TR *trp)
{
	TSS2_RC rc;

	*trp = ESYS_TR_NONE;
	if (handle == TPM2_RH_OWNER)
		return srk_create(ctx, c, trp);
	rc = Esys_TR_FromTPMPublic(c->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, trp);
	if (rc != TSS2_RC_SUCCESS) {
		*trp = ESYS_TR_NONE;
		if (hwk_tpm2_rc_base(rc) == TPM2_RC_HANDLE) {
			hwk_ctx_error(ctx, HWK_ERR_NOT_FOUND, "the parent key "
			    "0x%08x is not in the TPM at %s", handle, c->name);
			hwk_ctx_hint(ctx, "tpm2_getcap handles-persistent lists "
			    "the persistent keys; the key can only be used "
			    "under the parent it was made under.");
			return HWK_ERR_NOT_FOUND;
		}
		return hwk_tpm2_rc_error(ctx, c, rc, "reading the parent key");
	}
	return HWK_OK;
}

/* Drops the parent: the SRK is flushed, a persistent key only forgotten. */
void
hwk_tpm2_parent_close(struct tpm2_conn *c, uint32_t handle, ESYS_TR *trp)
{
	if (*trp == ESYS_TR_NONE || c->esys == NULL)
		return;
	if (handle == TPM2_RH_OWNER)
		hwk_tpm2_conn_flush(c, trp);
	else
		Esys_TR_Close(c->esys, trp);
	*trp = ESYS_TR_NONE;
}
