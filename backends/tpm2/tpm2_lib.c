/*
 * The TSS libraries (tpm2-tss), opened on the backend's first use rather
 * than linked, so that a program making a software key never maps them.
 * Each function the backend calls is defined here with the TSS's own
 * prototype (its headers are included, so the compiler checks every one)
 * and calls the library's through a pointer set when the library opens.
 * hwk_tpm2_lib_need() and hwk_tpm2_mu_need() say which library is missing
 * before the backend calls any; a call without them fails as the TSS fails.
 */
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_sys.h>
#include <tss2/tss2_tctildr.h>

#include "hwkey/error.h"
#include "backends.h"
#include "tpm2_int.h"

#define SYM(t, f)	{ #f, &t.f }

/* What a function answers when its library did not open. */
#define ESYS_MISSING	TSS2_ESYS_RC_NOT_IMPLEMENTED
#define SYS_MISSING	((TSS2_RC)(TSS2_SYS_RC_LAYER | \
			    TSS2_BASE_RC_NOT_IMPLEMENTED))
#define MU_MISSING	((TSS2_RC)(TSS2_MU_RC_LAYER | \
			    TSS2_BASE_RC_NOT_IMPLEMENTED))
#define TCTI_MISSING	TSS2_TCTI_RC_NOT_IMPLEMENTED

static struct {
	__typeof__(Esys_ActivateCredential)	*Esys_ActivateCredential;
	__typeof__(Esys_Certify)		*Esys_Certify;
	__typeof__(Esys_Create)			*Esys_Create;
	__typeof__(Esys_CreatePrimary)		*Esys_CreatePrimary;
	__typeof__(Esys_Create_Async)		*Esys_Create_Async;
	__typeof__(Esys_Finalize)		*Esys_Finalize;
	__typeof__(Esys_FlushContext)		*Esys_FlushContext;
	__typeof__(Esys_Free)			*Esys_Free;
	__typeof__(Esys_GetCapability)		*Esys_GetCapability;
	__typeof__(Esys_GetSysContext)		*Esys_GetSysContext;
	__typeof__(Esys_Initialize)		*Esys_Initialize;
	__typeof__(Esys_Load)			*Esys_Load;
	__typeof__(Esys_NV_Read)		*Esys_NV_Read;
	__typeof__(Esys_NV_ReadPublic)		*Esys_NV_ReadPublic;
	__typeof__(Esys_PolicySecret)		*Esys_PolicySecret;
	__typeof__(Esys_RSA_Decrypt)		*Esys_RSA_Decrypt;
	__typeof__(Esys_Sign)			*Esys_Sign;
	__typeof__(Esys_StartAuthSession)	*Esys_StartAuthSession;
	__typeof__(Esys_TRSess_SetAttributes)	*Esys_TRSess_SetAttributes;
	__typeof__(Esys_TR_Close)		*Esys_TR_Close;
	__typeof__(Esys_TR_FromTPMPublic)	*Esys_TR_FromTPMPublic;
	__typeof__(Esys_TR_GetTpmHandle)	*Esys_TR_GetTpmHandle;
	__typeof__(Esys_TR_SetAuth)		*Esys_TR_SetAuth;
	__typeof__(Esys_TestParms)		*Esys_TestParms;
} esys;

static const struct hwk_lazysym esys_syms[] = {
	SYM(esys, Esys_ActivateCredential),
	SYM(esys, Esys_Certify),
	SYM(esys, Esys_Create),
	SYM(esys, Esys_CreatePrimary),
	SYM(esys, Esys_Create_Async),
	SYM(esys, Esys_Finalize),
	SYM(esys, Esys_FlushContext),
	SYM(esys, Esys_Free),
	SYM(esys, Esys_GetCapability),
	SYM(esys, Esys_GetSysContext),
	SYM(esys, Esys_Initialize),
	SYM(esys, Esys_Load),
	SYM(esys, Esys_NV_Read),
	SYM(esys, Esys_NV_ReadPublic),
	SYM(esys, Esys_PolicySecret),
	SYM(esys, Esys_RSA_Decrypt),
	SYM(esys, Esys_Sign),
	SYM(esys, Esys_StartAuthSession),
	SYM(esys, Esys_TRSess_SetAttributes),
	SYM(esys, Esys_TR_Close),
	SYM(esys, Esys_TR_FromTPMPublic),
	SYM(esys, Esys_TR_GetTpmHandle),
	SYM(esys, Esys_TR_SetAuth),
	SYM(esys, Esys_TestParms),
	{ NULL, NULL },
};

static struct {
	__typeof__(Tss2_MU_TPM2B_PRIVATE_Marshal) *Tss2_MU_TPM2B_PRIVATE_Marshal;
	__typeof__(Tss2_MU_TPM2B_PRIVATE_Unmarshal)
	    *Tss2_MU_TPM2B_PRIVATE_Unmarshal;
	__typeof__(Tss2_MU_TPM2B_PUBLIC_Marshal) *Tss2_MU_TPM2B_PUBLIC_Marshal;
	__typeof__(Tss2_MU_TPM2B_PUBLIC_Unmarshal)
	    *Tss2_MU_TPM2B_PUBLIC_Unmarshal;
	__typeof__(Tss2_MU_UINT16_Unmarshal)	*Tss2_MU_UINT16_Unmarshal;
	/* Attestation (tpm2_attest.c, tpm2_evidence.c, tpm2_credential.c). */
	__typeof__(Tss2_MU_TPM2B_ATTEST_Marshal)
	    *Tss2_MU_TPM2B_ATTEST_Marshal;
	__typeof__(Tss2_MU_TPM2B_ATTEST_Unmarshal)
	    *Tss2_MU_TPM2B_ATTEST_Unmarshal;
	__typeof__(Tss2_MU_TPM2B_DIGEST_Marshal)
	    *Tss2_MU_TPM2B_DIGEST_Marshal;
	__typeof__(Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal)
	    *Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal;
	__typeof__(Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal)
	    *Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal;
	__typeof__(Tss2_MU_TPM2B_ID_OBJECT_Marshal)
	    *Tss2_MU_TPM2B_ID_OBJECT_Marshal;
	__typeof__(Tss2_MU_TPM2B_ID_OBJECT_Unmarshal)
	    *Tss2_MU_TPM2B_ID_OBJECT_Unmarshal;
	__typeof__(Tss2_MU_TPMS_ATTEST_Unmarshal)
	    *Tss2_MU_TPMS_ATTEST_Unmarshal;
	__typeof__(Tss2_MU_TPMS_ECC_POINT_Marshal)
	    *Tss2_MU_TPMS_ECC_POINT_Marshal;
	__typeof__(Tss2_MU_TPMT_PUBLIC_Marshal)
	    *Tss2_MU_TPMT_PUBLIC_Marshal;
	__typeof__(Tss2_MU_TPMT_SIGNATURE_Marshal)
	    *Tss2_MU_TPMT_SIGNATURE_Marshal;
	__typeof__(Tss2_MU_TPMT_SIGNATURE_Unmarshal)
	    *Tss2_MU_TPMT_SIGNATURE_Unmarshal;
} mu;

static const struct hwk_lazysym mu_syms[] = {
	SYM(mu, Tss2_MU_TPM2B_PRIVATE_Marshal),
	SYM(mu, Tss2_MU_TPM2B_PRIVATE_Unmarshal),
	SYM(mu, Tss2_MU_TPM2B_PUBLIC_Marshal),
	SYM(mu, Tss2_MU_TPM2B_PUBLIC_Unmarshal),
	SYM(mu, Tss2_MU_UINT16_Unmarshal),
	SYM(mu, Tss2_MU_TPM2B_ATTEST_Marshal),
	SYM(mu, Tss2_MU_TPM2B_ATTEST_Unmarshal),
	SYM(mu, Tss2_MU_TPM2B_DIGEST_Marshal),
	SYM(mu, Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal),
	SYM(mu, Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal),
	SYM(mu, Tss2_MU_TPM2B_ID_OBJECT_Marshal),
	SYM(mu, Tss2_MU_TPM2B_ID_OBJECT_Unmarshal),
	SYM(mu, Tss2_MU_TPMS_ATTEST_Unmarshal),
	SYM(mu, Tss2_MU_TPMS_ECC_POINT_Marshal),
	SYM(mu, Tss2_MU_TPMT_PUBLIC_Marshal),
	SYM(mu, Tss2_MU_TPMT_SIGNATURE_Marshal),
	SYM(mu, Tss2_MU_TPMT_SIGNATURE_Unmarshal),
	{ NULL, NULL },
};

static struct {
	__typeof__(Tss2_RC_Decode)		*Tss2_RC_Decode;
	__typeof__(Tss2_Sys_FlushContext)	*Tss2_Sys_FlushContext;
	__typeof__(Tss2_Sys_ReadPublic)		*Tss2_Sys_ReadPublic;
	__typeof__(Tss2_TctiLdr_Finalize)	*Tss2_TctiLdr_Finalize;
	__typeof__(Tss2_TctiLdr_Initialize)	*Tss2_TctiLdr_Initialize;
} tss;

static const struct hwk_lazysym rc_syms[] = {
	SYM(tss, Tss2_RC_Decode),
	{ NULL, NULL },
};

static const struct hwk_lazysym sys_syms[] = {
	SYM(tss, Tss2_Sys_FlushContext),
	SYM(tss, Tss2_Sys_ReadPublic),
	{ NULL, NULL },
};

static const struct hwk_lazysym tctildr_syms[] = {
	SYM(tss, Tss2_TctiLdr_Finalize),
	SYM(tss, Tss2_TctiLdr_Initialize),
	{ NULL, NULL },
};

static struct hwk_lazylib mu_lib = {
	.soname = "libtss2-mu.so.0",
	.package = "libtss2-mu0",
	.syms = mu_syms,
};
static struct hwk_lazylib rc_lib = {
	.soname = "libtss2-rc.so.0",
	.package = "libtss2-rc0",
	.syms = rc_syms,
};
static struct hwk_lazylib tctildr_lib = {
	.soname = "libtss2-tctildr.so.0",
	.package = "libtss2-tctildr0",
	.syms = tctildr_syms,
};
static struct hwk_lazylib sys_lib = {
	.soname = "libtss2-sys.so.1",
	.package = "libtss2-sys1",
	.syms = sys_syms,
};
static struct hwk_lazylib esys_lib = {
	.soname = "libtss2-esys.so.0",
	.package = "libtss2-esys-3.0.2-0",
	.syms = esys_syms,
};

int
hwk_tpm2_lib_need(struct hwk_ctx *ctx)
{
	/* Those the others need first: a missing one is named, not its user. */
	struct hwk_lazylib *const libs[] = {
		&mu_lib, &rc_lib, &tctildr_lib, &sys_lib, &esys_lib,
	};
	size_t i;
	int r;

	for (i = 0; i < sizeof(libs) / sizeof(libs[0]); i++)
		if ((r = hwk_lazylib_need(ctx, libs[i])) != 0)
			return r;
	return HWK_OK;
}

int
hwk_tpm2_mu_need(struct hwk_ctx *ctx)
{
	return hwk_lazylib_need(ctx, &mu_lib);
}

static int
esys_ok(void)
{
	return hwk_lazylib_open(&esys_lib) == 0;
}

TSS2_RC
Esys_Create(ESYS_CONTEXT *e, ESYS_TR parent, ESYS_TR s1, ESYS_TR s2,
    ESYS_TR s3, const TPM2B_SENSITIVE_CREATE *sens, const TPM2B_PUBLIC *pub,
    const TPM2B_DATA *outside, const TPML_PCR_SELECTION *pcr,
    TPM2B_PRIVATE **priv, TPM2B_PUBLIC **pubp, TPM2B_CREATION_DATA **data,
    TPM2B_DIGEST **hash, TPMT_TK_CREATION **ticket)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_Create(e, parent, s1, s2, s3, sens, pub, outside, pcr,
	    priv, pubp, data, hash, ticket);
}

TSS2_RC
Esys_CreatePrimary(ESYS_CONTEXT *e, ESYS_TR hierarchy, ESYS_TR s1,
    ESYS_TR s2, ESYS_TR s3, const TPM2B_SENSITIVE_CREATE *sens,
    const TPM2B_PUBLIC *pub, const TPM2B_DATA *outside,
    const TPML_PCR_SELECTION *pcr, ESYS_TR *handle, TPM2B_PUBLIC **pubp,
    TPM2B_CREATION_DATA **data, TPM2B_DIGEST **hash,
    TPMT_TK_CREATION **ticket)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_CreatePrimary(e, hierarchy, s1, s2, s3, sens, pub,
	    outside, pcr, handle, pubp, data, hash, ticket);
}

TSS2_RC
Esys_Create_Async(ESYS_CONTEXT *e, ESYS_TR parent, ESYS_TR s1, ESYS_TR s2,
    ESYS_TR s3, const TPM2B_SENSITIVE_CREATE *sens, const TPM2B_PUBLIC *pub,
    const TPM2B_DATA *outside, const TPML_PCR_SELECTION *pcr)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_Create_Async(e, parent, s1, s2, s3, sens, pub,
	    outside, pcr);
}

void
Esys_Finalize(ESYS_CONTEXT **e)
{
	if (esys_ok())
		esys.Esys_Finalize(e);
}

TSS2_RC
Esys_FlushContext(ESYS_CONTEXT *e, ESYS_TR handle)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_FlushContext(e, handle);
}

/* Nothing to free opens nothing: it cannot have come from ESYS. */
void
Esys_Free(void *p)
{
	if (p != NULL && esys_ok())
		esys.Esys_Free(p);
}

TSS2_RC
Esys_GetCapability(ESYS_CONTEXT *e, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
    TPM2_CAP cap, UINT32 prop, UINT32 count, TPMI_YES_NO *more,
    TPMS_CAPABILITY_DATA **data)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_GetCapability(e, s1, s2, s3, cap, prop, count, more,
	    data);
}

TSS2_RC
Esys_GetSysContext(ESYS_CONTEXT *e, TSS2_SYS_CONTEXT **sys)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_GetSysContext(e, sys);
}

TSS2_RC
Esys_Initialize(ESYS_CONTEXT **e, TSS2_TCTI_CONTEXT *tcti,
    TSS2_ABI_VERSION *abi)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_Initialize(e, tcti, abi);
}

TSS2_RC
Esys_Load(ESYS_CONTEXT *e, ESYS_TR parent, ESYS_TR s1, ESYS_TR s2,
    ESYS_TR s3, const TPM2B_PRIVATE *priv, const TPM2B_PUBLIC *pub,
    ESYS_TR *handle)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_Load(e, parent, s1, s2, s3, priv, pub, handle);
}

TSS2_RC
Esys_RSA_Decrypt(ESYS_CONTEXT *e, ESYS_TR key, ESYS_TR s1, ESYS_TR s2,
    ESYS_TR s3, const TPM2B_PUBLIC_KEY_RSA *in, const TPMT_RSA_DECRYPT *scheme,
    const TPM2B_DATA *label, TPM2B_PUBLIC_KEY_RSA **out)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_RSA_Decrypt(e, key, s1, s2, s3, in, scheme, label,
	    out);
}

TSS2_RC
Esys_Sign(ESYS_CONTEXT *e, ESYS_TR key, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
    const TPM2B_DIGEST *digest, const TPMT_SIG_SCHEME *scheme,
    const TPMT_TK_HASHCHECK *validation, TPMT_SIGNATURE **sig)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_Sign(e, key, s1, s2, s3, digest, scheme, validation,
	    sig);
}

TSS2_RC
Esys_StartAuthSession(ESYS_CONTEXT *e, ESYS_TR salt, ESYS_TR bind,
    ESYS_TR s1, ESYS_TR s2, ESYS_TR s3, const TPM2B_NONCE *nonce,
    TPM2_SE type, const TPMT_SYM_DEF *sym, TPMI_ALG_HASH hash,
    ESYS_TR *session)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_StartAuthSession(e, salt, bind, s1, s2, s3, nonce,
	    type, sym, hash, session);
}

TSS2_RC
Esys_TRSess_SetAttributes(ESYS_CONTEXT *e, ESYS_TR session,
    TPMA_SESSION flags, TPMA_SESSION mask)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_TRSess_SetAttributes(e, session, flags, mask);
}

TSS2_RC
Esys_TR_Close(ESYS_CONTEXT *e, ESYS_TR *handle)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_TR_Close(e, handle);
}

TSS2_RC
Esys_TR_FromTPMPublic(ESYS_CONTEXT *e, TPM2_HANDLE tpm, ESYS_TR s1,
    ESYS_TR s2, ESYS_TR s3, ESYS_TR *object)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_TR_FromTPMPublic(e, tpm, s1, s2, s3, object);
}

TSS2_RC
Esys_TR_GetTpmHandle(ESYS_CONTEXT *e, ESYS_TR handle, TPM2_HANDLE *tpm)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_TR_GetTpmHandle(e, handle, tpm);
}

TSS2_RC
Esys_TR_SetAuth(ESYS_CONTEXT *e, ESYS_TR handle, TPM2B_AUTH const *auth)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_TR_SetAuth(e, handle, auth);
}

TSS2_RC
Esys_TestParms(ESYS_CONTEXT *e, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
    const TPMT_PUBLIC_PARMS *parms)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_TestParms(e, s1, s2, s3, parms);
}

static int
mu_ok(void)
{
	return hwk_lazylib_open(&mu_lib) == 0;
}

TSS2_RC
Tss2_MU_TPM2B_PRIVATE_Marshal(TPM2B_PRIVATE const *src, uint8_t buf[],
    size_t size, size_t *off)
{
	if (!mu_ok())
		return MU_MISSING;
	return mu.Tss2_MU_TPM2B_PRIVATE_Marshal(src, buf, size, off);
}

TSS2_RC
Tss2_MU_TPM2B_PRIVATE_Unmarshal(uint8_t const buf[], size_t size,
    size_t *off, TPM2B_PRIVATE *dest)
{
	if (!mu_ok())
		return MU_MISSING;
	return mu.Tss2_MU_TPM2B_PRIVATE_Unmarshal(buf, size, off, dest);
}

TSS2_RC
Tss2_MU_TPM2B_PUBLIC_Marshal(TPM2B_PUBLIC const *src, uint8_t buf[],
    size_t size, size_t *off)
{
	if (!mu_ok())
		return MU_MISSING;
	return mu.Tss2_MU_TPM2B_PUBLIC_Marshal(src, buf, size, off);
}

TSS2_RC
Tss2_MU_TPM2B_PUBLIC_Unmarshal(uint8_t const buf[], size_t size,
    size_t *off, TPM2B_PUBLIC *dest)
{
	if (!mu_ok())
		return MU_MISSING;
	return mu.Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, size, off, dest);
}

TSS2_RC
Tss2_MU_UINT16_Unmarshal(uint8_t const buf[], size_t size, size_t *off,
    UINT16 *dest)
{
	if (!mu_ok())
		return MU_MISSING;
	return mu.Tss2_MU_UINT16_Unmarshal(buf, size, off, dest);
}

/* The marshalling of attestation's structures, one wrapper each. */
#define MU_MARSHAL(T)							\
TSS2_RC									\
Tss2_MU_##T##_Marshal(T const *src, uint8_t buf[], size_t size,		\
    size_t *off)							\
{									\
	if (!mu_ok())							\
		return MU_MISSING;					\
	return mu.Tss2_MU_##T##_Marshal(src, buf, size, off);		\
}
#define MU_UNMARSHAL(T)							\
TSS2_RC									\
Tss2_MU_##T##_Unmarshal(uint8_t const buf[], size_t size, size_t *off,	\
    T *dest)								\
{									\
	if (!mu_ok())							\
		return MU_MISSING;					\
	return mu.Tss2_MU_##T##_Unmarshal(buf, size, off, dest);	\
}
MU_MARSHAL(TPM2B_ATTEST)
MU_UNMARSHAL(TPM2B_ATTEST)
MU_MARSHAL(TPM2B_DIGEST)
MU_MARSHAL(TPM2B_ENCRYPTED_SECRET)
MU_UNMARSHAL(TPM2B_ENCRYPTED_SECRET)
MU_MARSHAL(TPM2B_ID_OBJECT)
MU_UNMARSHAL(TPM2B_ID_OBJECT)
MU_UNMARSHAL(TPMS_ATTEST)
MU_MARSHAL(TPMS_ECC_POINT)
MU_MARSHAL(TPMT_PUBLIC)
MU_MARSHAL(TPMT_SIGNATURE)
MU_UNMARSHAL(TPMT_SIGNATURE)

TSS2_RC
Esys_ActivateCredential(ESYS_CONTEXT *e, ESYS_TR activate, ESYS_TR key,
    ESYS_TR s1, ESYS_TR s2, ESYS_TR s3, const TPM2B_ID_OBJECT *blob,
    const TPM2B_ENCRYPTED_SECRET *secret, TPM2B_DIGEST **info)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_ActivateCredential(e, activate, key, s1, s2, s3, blob,
	    secret, info);
}

TSS2_RC
Esys_Certify(ESYS_CONTEXT *e, ESYS_TR object, ESYS_TR signer, ESYS_TR s1,
    ESYS_TR s2, ESYS_TR s3, const TPM2B_DATA *qualifying,
    const TPMT_SIG_SCHEME *scheme, TPM2B_ATTEST **info,
    TPMT_SIGNATURE **sig)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_Certify(e, object, signer, s1, s2, s3, qualifying,
	    scheme, info, sig);
}

TSS2_RC
Esys_NV_Read(ESYS_CONTEXT *e, ESYS_TR auth, ESYS_TR index, ESYS_TR s1,
    ESYS_TR s2, ESYS_TR s3, UINT16 size, UINT16 offset,
    TPM2B_MAX_NV_BUFFER **data)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_NV_Read(e, auth, index, s1, s2, s3, size, offset,
	    data);
}

TSS2_RC
Esys_NV_ReadPublic(ESYS_CONTEXT *e, ESYS_TR index, ESYS_TR s1, ESYS_TR s2,
    ESYS_TR s3, TPM2B_NV_PUBLIC **pub, TPM2B_NAME **name)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_NV_ReadPublic(e, index, s1, s2, s3, pub, name);
}

TSS2_RC
Esys_PolicySecret(ESYS_CONTEXT *e, ESYS_TR auth, ESYS_TR session, ESYS_TR s1,
    ESYS_TR s2, ESYS_TR s3, const TPM2B_NONCE *nonce,
    const TPM2B_DIGEST *cphash, const TPM2B_NONCE *ref, INT32 expiration,
    TPM2B_TIMEOUT **timeout, TPMT_TK_AUTH **ticket)
{
	if (!esys_ok())
		return ESYS_MISSING;
	return esys.Esys_PolicySecret(e, auth, session, s1, s2, s3, nonce,
	    cphash, ref, expiration, timeout, ticket);
}

const char *
Tss2_RC_Decode(TSS2_RC rc)
{
	if (hwk_lazylib_open(&rc_lib) != 0)
		return "no libtss2-rc to decode the response code";
	return tss.Tss2_RC_Decode(rc);
}

TSS2_RC
Tss2_Sys_FlushContext(TSS2_SYS_CONTEXT *sys, TPMI_DH_CONTEXT handle)
{
	if (hwk_lazylib_open(&sys_lib) != 0)
		return SYS_MISSING;
	return tss.Tss2_Sys_FlushContext(sys, handle);
}

TSS2_RC
Tss2_Sys_ReadPublic(TSS2_SYS_CONTEXT *sys, TPMI_DH_OBJECT handle,
    TSS2L_SYS_AUTH_COMMAND const *cmd, TPM2B_PUBLIC *pub, TPM2B_NAME *name,
    TPM2B_NAME *qname, TSS2L_SYS_AUTH_RESPONSE *rsp)
{
	if (hwk_lazylib_open(&sys_lib) != 0)
		return SYS_MISSING;
	return tss.Tss2_Sys_ReadPublic(sys, handle, cmd, pub, name, qname,
	    rsp);
}

void
Tss2_TctiLdr_Finalize(TSS2_TCTI_CONTEXT **tcti)
{
	if (hwk_lazylib_open(&tctildr_lib) == 0)
		tss.Tss2_TctiLdr_Finalize(tcti);
}

TSS2_RC
Tss2_TctiLdr_Initialize(const char *conf, TSS2_TCTI_CONTEXT **tcti)
{
	if (hwk_lazylib_open(&tctildr_lib) != 0)
		return TCTI_MISSING;
	return tss.Tss2_TctiLdr_Initialize(conf, tcti);
}
