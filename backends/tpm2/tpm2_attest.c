/*
 * Attestation on the TPM (docs/attestation.md): the evidence that a key
 * was born in this TPM (its EK certificates, an attestation key and
 * TPM2_Certify of the key by it), and the answer to a verifier's
 * challenge (TPM2_ActivateCredential with the EK).  The AK and the EK are
 * primaries made again from fixed templates each time, never persisted,
 * and flushed on every path.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include "hwkey/attest.h"
#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "tpm2_int.h"

/* The EK certificate chain's NV indices (TCG EK Credential Profile 2.x). */
#define EK_CHAIN_FIRST	0x01c00100
#define EK_CHAIN_LAST	0x01c001ff
#define NV_CHUNK	512	/* every TPM reads this much at once */
#define NV_CERT_MAX	4096

/*
 * The EK certificates' NV indices (TCG EK Credential Profile 2.x, 2.2.1.4
 * and 2.2.1.5), and for those whose EK a verifier may challenge, the
 * template that makes that EK again: L-1 (RSA-2048) and L-2 (ECC P-256),
 * both SHA-256 and AES-128-CFB.
 */
static const struct tpm2_ek_kind ek_kinds[] = {
	{ 0x01c00002, "RSA 2048 (template L-1)", TPM2_ALG_RSA, 2048, 1 },
	{ 0x01c0000a, "ECC NIST P-256 (template L-2)", TPM2_ALG_ECC, 256, 1 },
	{ 0x01c00012, "RSA 2048 (template H-1)", TPM2_ALG_RSA, 2048, 0 },
	{ 0x01c00014, "ECC NIST P-256 (template H-2)", TPM2_ALG_ECC, 256, 0 },
	{ 0x01c00016, "ECC NIST P-384 (template H-3)", TPM2_ALG_ECC, 384, 0 },
	{ 0x01c00018, "ECC NIST P-521 (template H-4)", TPM2_ALG_ECC, 521, 0 },
	{ 0x01c0001a, "ECC SM2 P-256 (template H-5)", TPM2_ALG_ECC, 256, 0 },
	{ 0x01c0001c, "RSA 3072 (template H-6)", TPM2_ALG_RSA, 3072, 0 },
	{ 0x01c0001e, "RSA 4096 (template H-7)", TPM2_ALG_RSA, 4096, 0 },
};

/* PolicySecret(TPM_RH_ENDORSEMENT) in SHA-256: the L templates' policy. */
static const uint8_t ek_policy_a[32] = {
	0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc,
	0x8d, 0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52,
	0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

const struct tpm2_ek_kind *
hwk_tpm2_ek_kind(uint32_t cert_index)
{
	size_t i;

	for (i = 0; i < sizeof(ek_kinds) / sizeof(ek_kinds[0]); i++)
		if (ek_kinds[i].cert_index == cert_index)
			return &ek_kinds[i];
	return NULL;
}

/* The TCG EK template L-1 or L-2 (EK Credential Profile 2.x, B.3.3, B.3.4). */
void
hwk_tpm2_ek_template(const struct tpm2_ek_kind *k, TPM2B_PUBLIC *t)
{
	TPMT_PUBLIC *p = &t->publicArea;

	memset(t, 0, sizeof(*t));
	p->type = k->type;
	p->nameAlg = TPM2_ALG_SHA256;
	p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
	    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
	p->authPolicy.size = sizeof(ek_policy_a);
	memcpy(p->authPolicy.buffer, ek_policy_a, sizeof(ek_policy_a));
	if (k->type == TPM2_ALG_RSA) {
		p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
		p->parameters.rsaDetail.symmetric.keyBits.aes = 128;
		p->parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
		p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
		p->parameters.rsaDetail.keyBits = 2048;
		p->unique.rsa.size = 256;	/* zeros, as the template says */
		return;
	}
	p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
	p->parameters.eccDetail.symmetric.keyBits.aes = 128;
	p->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
	p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	p->unique.ecc.x.size = 32;
	p->unique.ecc.y.size = 32;
}

/*
 * The attestation key: ECC P-256, ECDSA with SHA-256, a restricted signing
 * primary of the endorsement hierarchy, so the same TPM makes the same key
 * again from this template and it signs only what the TPM itself produced.
 */
void
hwk_tpm2_ak_template(TPM2B_PUBLIC *t)
{
	TPMT_PUBLIC *p = &t->publicArea;

	memset(t, 0, sizeof(*t));
	p->type = TPM2_ALG_ECC;
	p->nameAlg = TPM2_ALG_SHA256;
	p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
	    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
	p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
	p->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
	p->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
	p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
}

/* A primary of the endorsement hierarchy from template t. */
static int
endorsement_primary(struct hwk_ctx *ctx, struct tpm2_conn *c,
    const TPM2B_PUBLIC *t, const char *what, ESYS_TR *trp,
    TPM2B_PUBLIC **pubp)
{
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_DATA outside;
	TPML_PCR_SELECTION pcrs;
	TSS2_RC rc;

	memset(&sens, 0, sizeof(sens));
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	rc = Esys_CreatePrimary(c->esys, ESYS_TR_RH_ENDORSEMENT,
	    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, t, &outside,
	    &pcrs, trp, pubp, NULL, NULL, NULL);
	if (rc == TSS2_RC_SUCCESS)
		return HWK_OK;
	*trp = ESYS_TR_NONE;
	if (hwk_tpm2_rc_base(rc) == TPM2_RC_BAD_AUTH ||
	    hwk_tpm2_rc_base(rc) == TPM2_RC_AUTH_FAIL) {
		hwk_ctx_error(ctx, HWK_ERR_DEVICE, "the TPM's endorsement "
		    "hierarchy has a password, so its %s cannot be made", what);
		return HWK_ERR_DEVICE;
	}
	return hwk_tpm2_rc_error(ctx, c, rc, what);
}

/* The bytes of NV index h; the index is its own auth, as EK indices are. */
static int
nv_read(struct tpm2_conn *c, TPM2_HANDLE h, struct hwk_buf *out)
{
	TPM2B_NV_PUBLIC *pub = NULL;
	TPM2B_MAX_NV_BUFFER *data = NULL;
	ESYS_TR tr = ESYS_TR_NONE, auth;
	UINT16 off, n, size;
	int r = HWK_ERR_DEVICE;

	if (Esys_TR_FromTPMPublic(c->esys, h, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, &tr) != TSS2_RC_SUCCESS ||
	    Esys_NV_ReadPublic(c->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, &pub, NULL) != TSS2_RC_SUCCESS)
		goto out;
	size = pub->nvPublic.dataSize;
	auth = (pub->nvPublic.attributes & TPMA_NV_AUTHREAD) ? tr :
	    ESYS_TR_RH_OWNER;
	if (size == 0 || size > NV_CERT_MAX)
		goto out;
	for (off = 0; off < size; off += n) {
		n = size - off > NV_CHUNK ? NV_CHUNK : size - off;
		if (Esys_NV_Read(c->esys, auth, tr, ESYS_TR_PASSWORD,
		    ESYS_TR_NONE, ESYS_TR_NONE, n, off, &data) !=
		    TSS2_RC_SUCCESS || data->size != n)
			goto out;
		if ((r = hwk_buf_put(out, data->buffer, n)) != 0)
			goto out;
		Esys_Free(data);
		data = NULL;
		r = HWK_ERR_DEVICE;
	}
	r = HWK_OK;
 out:
	Esys_Free(data);
	Esys_Free(pub);
	if (tr != ESYS_TR_NONE)
		Esys_TR_Close(c->esys, &tr);
	return r;
}

/* One certificate's DER at index h as a list member name of ev. */
static int
put_nv_cert(struct tpm2_conn *c, TPM2_HANDLE h, const char *name,
    struct hwk_attest *ev)
{
	struct hwk_buf *b;
	char idx[16];
	int r;

	if ((b = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	/* An index that does not read is passed over: others may. */
	if ((r = nv_read(c, h, b)) != 0) {
		hwk_buf_free(&b);
		return r == HWK_ERR_NOMEM ? r : HWK_OK;
	}
	snprintf(idx, sizeof(idx), "0x%08x", h);
	if ((r = hwk_attest_put_bytes(ev, name, 1, hwk_buf_ptr(b),
	    hwk_buf_len(b))) == 0 && strcmp(name, "ek_cert") == 0)
		r = hwk_attest_put_str(ev, "ek_cert_index", 1, idx);
	hwk_buf_free(&b);
	return r;
}

/* The EK certificates and the chain's certificates the TPM keeps in NV. */
static int
put_ek_certs(struct hwk_ctx *ctx, struct tpm2_conn *c, struct hwk_attest *ev)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more = TPM2_YES;
	TPM2_HANDLE h, next = 0x01c00000;
	size_t i;
	int r = HWK_OK;

	while (r == 0 && more && next <= EK_CHAIN_LAST) {
		if (Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE,
		    ESYS_TR_NONE, TPM2_CAP_HANDLES, next, 64, &more, &cap) !=
		    TSS2_RC_SUCCESS)
			return hwk_ctx_error(ctx, HWK_ERR_DEVICE, "cannot list "
			    "the NV indices of the TPM at %s", c->name);
		if (cap->data.handles.count == 0)
			more = TPM2_NO;
		for (i = 0; r == 0 && i < cap->data.handles.count; i++) {
			h = next = cap->data.handles.handle[i];
			if (hwk_tpm2_ek_kind(h) != NULL)
				r = put_nv_cert(c, h, "ek_cert", ev);
			else if (h >= EK_CHAIN_FIRST && h <= EK_CHAIN_LAST)
				r = put_nv_cert(c, h, "ek_chain", ev);
		}
		next++;
		Esys_Free(cap);
		cap = NULL;
	}
	if (r == 0 && hwk_attest_str(ev, "ek_cert", 0) == NULL) {
		hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "the TPM at %s holds "
		    "no EK certificate, so nothing can prove that it is a TPM",
		    c->name);
		hwk_ctx_hint(ctx, "Its maker may publish the certificate "
		    "elsewhere; hwkeygen reads it from the TPM's NV only.");
		return HWK_ERR_UNSUPPORTED;
	}
	return r;
}

/* Marshals a structure with its Tss2_MU function into ev as name. */
#define PUT_MU(ev, name, T, v) put_mu(ev, name, (const void *)(v),	\
	(TSS2_RC (*)(const void *, uint8_t *, size_t, size_t *))	\
	Tss2_MU_##T##_Marshal)

static int
put_mu(struct hwk_attest *ev, const char *name, const void *v,
    TSS2_RC (*fn)(const void *, uint8_t *, size_t, size_t *))
{
	uint8_t buf[4096];
	size_t off = 0;

	if (fn(v, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		return HWK_ERR_INTERNAL;
	return hwk_attest_put_bytes(ev, name, 0, buf, off);
}

/* Who made the TPM and its firmware, as it says (the EK certificate proves). */
static int
put_device(struct tpm2_conn *c, struct hwk_attest *ev)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	uint32_t maker = 0, fw1 = 0, fw2 = 0, v;
	char text[64];
	size_t i;
	int r;

	if (Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES, TPM2_PT_MANUFACTURER, 16,
	    &more, &cap) != TSS2_RC_SUCCESS)
		return HWK_OK;
	for (i = 0; i < cap->data.tpmProperties.count; i++) {
		v = cap->data.tpmProperties.tpmProperty[i].value;
		switch (cap->data.tpmProperties.tpmProperty[i].property) {
		case TPM2_PT_MANUFACTURER: maker = v; break;
		case TPM2_PT_FIRMWARE_VERSION_1: fw1 = v; break;
		case TPM2_PT_FIRMWARE_VERSION_2: fw2 = v; break;
		}
	}
	Esys_Free(cap);
	for (i = 0; i < 4; i++) {
		v = (maker >> (24 - 8 * i)) & 0xff;
		text[i] = v >= 0x20 && v < 0x7f ? (char)v : ' ';
	}
	text[4] = '\0';
	if ((r = hwk_attest_put_str(ev, "tpm_manufacturer", 0, text)) != 0)
		return r;
	snprintf(text, sizeof(text), "%u.%u.%u.%u", fw1 >> 16, fw1 & 0xffff,
	    fw2 >> 16, fw2 & 0xffff);
	return hwk_attest_put_str(ev, "tpm_firmware", 0, text);
}

/*
 * TPM2_Certify of the loaded key by the AK, qualifying data the SHA-256 of
 * the SSH public key blob, so the evidence names the SSH key it is for.
 */
static int
certify(struct hwk_ctx *ctx, struct hwk_key *key, struct tpm2_key *tk,
    ESYS_TR ak, struct hwk_attest *ev)
{
	struct hwk_buf *blob = NULL;
	TPM2B_DATA qd;
	TPMT_SIG_SCHEME scheme;
	TPM2B_ATTEST *info = NULL;
	TPMT_SIGNATURE *sig = NULL;
	unsigned int dlen = 0;
	TSS2_RC rc;
	int r;

	memset(&qd, 0, sizeof(qd));
	memset(&scheme, 0, sizeof(scheme));
	scheme.scheme = TPM2_ALG_NULL;	/* the AK's own: ECDSA-SHA256 */
	if ((blob = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = hwk_pkey_put_blob(key->pkey, blob)) != 0)
		goto out;
	if (!EVP_Digest(hwk_buf_ptr(blob), hwk_buf_len(blob), qd.buffer, &dlen,
	    EVP_sha256(), NULL)) {
		r = HWK_ERR_CRYPTO;
		goto out;
	}
	qd.size = (UINT16)dlen;
	rc = Esys_Certify(tk->conn.esys, tk->handle, ak, tk->kf.empty_auth ?
	    ESYS_TR_PASSWORD : tk->session, ESYS_TR_PASSWORD, ESYS_TR_NONE, &qd,
	    &scheme, &info, &sig);
	if (rc != TSS2_RC_SUCCESS) {
		if (hwk_tpm2_rc_base(rc) == TPM2_RC_AUTH_FAIL ||
		    hwk_tpm2_rc_base(rc) == TPM2_RC_BAD_AUTH ||
		    hwk_tpm2_rc_base(rc) == TPM2_RC_LOCKOUT) {
			hwk_tpm2_key_auth_forget(tk);
			r = hwk_tpm2_rc_auth_error(ctx, &tk->conn, rc,
			    tk->kf.empty_auth);
		} else
			r = hwk_tpm2_rc_error(ctx, &tk->conn, rc,
			    "certifying the key (TPM2_Certify)");
		goto out;
	}
	if ((r = PUT_MU(ev, "certify_info", TPM2B_ATTEST, info)) == 0)
		r = PUT_MU(ev, "certify_signature", TPMT_SIGNATURE, sig);
 out:
	Esys_Free(info);
	Esys_Free(sig);
	hwk_buf_free(&blob);
	return r;
}

/* The op attest: the evidence for a TPM key (KEY.attest's members). */
int
hwk_tpm2_attest(struct hwk_ctx *ctx, struct hwk_key *key,
    struct hwk_attest *ev)
{
	struct tpm2_key *tk = key->impl;
	TPM2B_PUBLIC akt, *akpub = NULL;
	ESYS_TR ak = ESYS_TR_NONE;
	TSS2_RC rc = 0;
	int r;

	if ((r = hwk_tpm2_key_load(ctx, tk, &rc)) != 0 ||
	    (r = hwk_tpm2_key_auth(ctx, tk)) != 0)
		goto out;
	if ((r = hwk_attest_put_str(ev, "backend", 0, "tpm2")) != 0 ||
	    (r = put_device(&tk->conn, ev)) != 0 ||
	    (r = put_ek_certs(ctx, &tk->conn, ev)) != 0)
		goto out;
	hwk_tpm2_ak_template(&akt);
	if ((r = endorsement_primary(ctx, &tk->conn, &akt, "attestation key "
	    "(TPM2_CreatePrimary)", &ak, &akpub)) != 0)
		goto out;
	if ((r = PUT_MU(ev, "ak_public", TPM2B_PUBLIC, akpub)) != 0 ||
	    (r = PUT_MU(ev, "key_public", TPM2B_PUBLIC, &tk->kf.pub)) != 0)
		goto out;
	r = certify(ctx, key, tk, ak, ev);
 out:
	Esys_Free(akpub);
	hwk_tpm2_conn_flush(&tk->conn, &ak);
	/* Nothing stays: the key, its session and the connection go too. */
	hwk_tpm2_key_unload(tk);
	return r;
}

/* The EK's policy satisfied: PolicySecret of the endorsement hierarchy. */
static int
ek_session(struct hwk_ctx *ctx, struct tpm2_conn *c, ESYS_TR *sessp)
{
	TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_NULL };
	TSS2_RC rc;

	rc = Esys_StartAuthSession(c->esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_POLICY,
	    &sym, TPM2_ALG_SHA256, sessp);
	if (rc != TSS2_RC_SUCCESS) {
		*sessp = ESYS_TR_NONE;
		return hwk_tpm2_rc_error(ctx, c, rc, "a policy session "
		    "(TPM2_StartAuthSession)");
	}
	rc = Esys_PolicySecret(c->esys, ESYS_TR_RH_ENDORSEMENT, *sessp,
	    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, NULL, NULL, NULL, 0,
	    NULL, NULL);
	if (rc != TSS2_RC_SUCCESS)
		return hwk_tpm2_rc_error(ctx, c, rc, "the EK's policy "
		    "(TPM2_PolicySecret)");
	return HWK_OK;
}

/* TPM2_ActivateCredential: only the TPM of that EK opens the blob. */
static int
activate(struct hwk_ctx *ctx, struct tpm2_conn *c, ESYS_TR ak, ESYS_TR ek,
    ESYS_TR sess, const TPM2B_ID_OBJECT *blob,
    const TPM2B_ENCRYPTED_SECRET *secret, struct hwk_attest *resp)
{
	TPM2B_DIGEST *out = NULL;
	TSS2_RC rc;
	int r;

	rc = Esys_ActivateCredential(c->esys, ak, ek, ESYS_TR_PASSWORD, sess,
	    ESYS_TR_NONE, blob, secret, &out);
	if (rc != TSS2_RC_SUCCESS) {
		if (!hwk_tpm2_rc_is_refusal(rc) || hwk_tpm2_rc_is_lost(rc))
			return hwk_tpm2_rc_error(ctx, c, rc, "answering the "
			    "challenge (TPM2_ActivateCredential)");
		hwk_ctx_error(ctx, HWK_ERR_WRONG_DEVICE, "the TPM at %s cannot "
		    "open this challenge: it was made for another TPM (%s)",
		    c->name, Tss2_RC_Decode(rc));
		hwk_ctx_hint(ctx, "Answer it on the machine whose KEY.attest "
		    "the verifier checked.");
		return HWK_ERR_WRONG_DEVICE;
	}
	r = hwk_attest_put_str(resp, "format", 0, HWK_ATTEST_RESPONSE);
	if (r == 0)
		r = hwk_attest_put_str(resp, "backend", 0, "tpm2");
	if (r == 0)
		r = hwk_attest_put_bytes(resp, "secret", 0, out->buffer,
		    out->size);
	explicit_bzero(out->buffer, out->size);
	Esys_Free(out);
	return r;
}

/* The EK made here is the one the challenge is for, or it is another TPM. */
static int
same_ek(struct hwk_ctx *ctx, struct tpm2_conn *c,
    const struct hwk_attest *chal, const TPM2B_PUBLIC *ek)
{
	struct hwk_buf *b = NULL;
	const unsigned char *p;
	EVP_PKEY *want = NULL, *got = NULL;
	const char *why = NULL;
	int r = HWK_ERR_FORMAT;

	if (hwk_attest_bytes(chal, "ek_public", 0, &b) != 0)
		goto out;
	p = hwk_buf_ptr(b);
	if ((want = d2i_PUBKEY(NULL, &p, (long)hwk_buf_len(b))) == NULL)
		goto out;
	if (hwk_tpm2_pub_to_evp(&ek->publicArea, &got, &why) != 0 ||
	    EVP_PKEY_eq(want, got) != 1) {
		hwk_ctx_error(ctx, HWK_ERR_WRONG_DEVICE, "the TPM at %s cannot "
		    "answer this challenge: it was made for another TPM (its "
		    "EK is not this one's)", c->name);
		hwk_ctx_hint(ctx, "Answer it on the machine whose KEY.attest "
		    "the verifier checked.");
		r = HWK_ERR_WRONG_DEVICE;
		goto out;
	}
	r = HWK_OK;
 out:
	if (r == HWK_ERR_FORMAT)
		hwk_ctx_error(ctx, r, "not a TPM challenge that hwkeygen can "
		    "answer (no EK key)");
	EVP_PKEY_free(want);
	EVP_PKEY_free(got);
	hwk_buf_free(&b);
	return r;
}

/* The op attest_respond: the answer of this TPM to a challenge. */
int
hwk_tpm2_attest_respond(struct hwk_ctx *ctx, const struct hwk_attest *chal,
    struct hwk_attest *resp)
{
	const struct tpm2_ek_kind *kind;
	const char *idx = hwk_attest_str(chal, "ek_cert_index", 0);
	TPM2B_ID_OBJECT blob;
	TPM2B_ENCRYPTED_SECRET secret;
	TPM2B_PUBLIC ekt, akt, *ekpub = NULL;
	struct tpm2_conn c;
	ESYS_TR ek = ESYS_TR_NONE, ak = ESYS_TR_NONE, sess = ESYS_TR_NONE;
	int r;

	memset(&c, 0, sizeof(c));
	memset(&blob, 0, sizeof(blob));
	memset(&secret, 0, sizeof(secret));
	if ((r = hwk_tpm2_mu_need(ctx)) != 0)
		return r;
	if (idx == NULL || (kind = hwk_tpm2_ek_kind((uint32_t)strtoul(idx,
	    NULL, 16))) == NULL || !kind->challengeable ||
	    GET_MU(chal, "credential_blob", TPM2B_ID_OBJECT, &blob) != 0 ||
	    GET_MU(chal, "encrypted_secret", TPM2B_ENCRYPTED_SECRET,
	    &secret) != 0)
		return hwk_ctx_error(ctx, HWK_ERR_FORMAT, "not a TPM challenge "
		    "that hwkeygen can answer");
	if ((r = hwk_tpm2_conn_open(ctx, &c)) != 0)
		return r;
	hwk_tpm2_ek_template(kind, &ekt);
	hwk_tpm2_ak_template(&akt);
	if ((r = endorsement_primary(ctx, &c, &ekt, "endorsement key "
	    "(TPM2_CreatePrimary)", &ek, &ekpub)) != 0 ||
	    (r = same_ek(ctx, &c, chal, ekpub)) != 0 ||
	    (r = endorsement_primary(ctx, &c, &akt, "attestation key "
	    "(TPM2_CreatePrimary)", &ak, NULL)) != 0 ||
	    (r = ek_session(ctx, &c, &sess)) != 0)
		goto out;
	r = activate(ctx, &c, ak, ek, sess, &blob, &secret, resp);
 out:
	Esys_Free(ekpub);
	hwk_tpm2_conn_flush(&c, &sess);
	hwk_tpm2_conn_flush(&c, &ak);
	hwk_tpm2_conn_flush(&c, &ek);
	hwk_tpm2_conn_close(&c);
	return r;
}
