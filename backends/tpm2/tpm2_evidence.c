/*
 * The verifier's side of TPM attestation, with no TPM: KEY.attest checked
 * offline (EK certificate chain, TPM2_Certify by the AK, the certified
 * key), the challenge made for the EK (tpm2_credential.c), and the
 * response compared with its secret.  Every failure says which check.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <tss2/tss2_mu.h>

#include "hwkey/attest.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "tpm2_int.h"

#define CRED_LEN	32	/* the challenge's secret */

/* KEY.attest, parsed. */
struct evidence {
	struct hwk_pubkey *ssh;		/* the SSH key it is for */
	EVP_PKEY	*ssh_pkey;
	TPM2B_PUBLIC	 key;		/* the certified key's public area */
	TPM2B_PUBLIC	 ak;
	TPM2B_ATTEST	 info;		/* the bytes the AK signed */
	TPMS_ATTEST	 att;
	TPMT_SIGNATURE	 sig;
	X509		*ek;		/* the EK certificate to challenge */
	uint32_t	 ek_index;
	STACK_OF(X509)	*others;	/* the other certificates */
};

static void
evidence_free(struct evidence *e)
{
	hwk_pubkey_free(&e->ssh);
	EVP_PKEY_free(e->ssh_pkey);
	X509_free(e->ek);
	sk_X509_pop_free(e->others, X509_free);
	memset(e, 0, sizeof(*e));
}

static int
fail(struct hwk_ctx *ctx, const char *what)
{
	return hwk_ctx_error(ctx, HWK_ERR_FORMAT, "attestation failed: %s",
	    what);
}

/* A TPM structure of a, unmarshalled whole (GET_MU in tpm2_int.h). */
int
hwk_tpm2_attest_mu(const struct hwk_attest *a, const char *name, void *v,
    TSS2_RC (*fn)(const uint8_t *, size_t, size_t *, void *))
{
	struct hwk_buf *b = NULL;
	size_t off = 0;
	int r;

	if ((r = hwk_attest_bytes(a, name, 0, &b)) != 0)
		return HWK_ERR_FORMAT;
	if (fn(hwk_buf_ptr(b), hwk_buf_len(b), &off, v) != TSS2_RC_SUCCESS ||
	    off != hwk_buf_len(b))
		r = HWK_ERR_FORMAT;
	hwk_buf_free(&b);
	return r;
}

/*
 * The EK certificates: the first whose EK hwkeygen can challenge (RSA
 * template L-1, then ECC L-2) is e->ek, the others go with the chain's.
 */
static int
read_certs(struct hwk_ctx *ctx, const struct hwk_attest *ev,
    struct evidence *e)
{
	const struct tpm2_ek_kind *k;
	const char *idx;
	X509 *x;
	size_t i;

	if ((e->others = sk_X509_new_null()) == NULL)
		return HWK_ERR_NOMEM;
	for (i = 0; hwk_attest_str(ev, "ek_cert", i) != NULL; i++) {
		if ((x = hwk_attest_cert(ev, "ek_cert", i)) == NULL ||
		    (idx = hwk_attest_str(ev, "ek_cert_index", i)) == NULL) {
			X509_free(x);
			return fail(ctx, "an EK certificate does not parse");
		}
		k = hwk_tpm2_ek_kind((uint32_t)strtoul(idx, NULL, 16));
		if (e->ek == NULL && k != NULL && k->challengeable &&
		    X509_get0_pubkey(x) != NULL &&
		    EVP_PKEY_get_base_id(X509_get0_pubkey(x)) ==
		    (k->type == TPM2_ALG_RSA ? EVP_PKEY_RSA : EVP_PKEY_EC)) {
			e->ek = x;
			e->ek_index = k->cert_index;
		} else if (!sk_X509_push(e->others, x)) {
			X509_free(x);
			return HWK_ERR_NOMEM;
		}
	}
	for (i = 0; hwk_attest_str(ev, "ek_chain", i) != NULL; i++) {
		if ((x = hwk_attest_cert(ev, "ek_chain", i)) == NULL)
			return fail(ctx, "a certificate of the EK's chain does "
			    "not parse");
		if (!sk_X509_push(e->others, x)) {
			X509_free(x);
			return HWK_ERR_NOMEM;
		}
	}
	if (e->ek == NULL)
		return fail(ctx, "the evidence holds no EK certificate for an "
		    "RSA-2048 (L-1) or ECC P-256 (L-2) EK, which hwkeygen can "
		    "challenge");
	return HWK_OK;
}

static int
parse(struct hwk_ctx *ctx, const struct hwk_attest *ev, struct evidence *e)
{
	const char *line = hwk_attest_str(ev, "ssh_key", 0);
	const char *be = hwk_attest_str(ev, "backend", 0);
	size_t off = 0;
	int r;

	memset(e, 0, sizeof(*e));
	if ((r = hwk_tpm2_mu_need(ctx)) != 0)
		return r;
	if (be == NULL || strcmp(be, "tpm2") != 0)
		return fail(ctx, "not TPM evidence");
	if (line == NULL || hwk_pubkey_from_line(line, &e->ssh) != 0 ||
	    hwk_pubkey_to_evp(e->ssh, &e->ssh_pkey) != 0)
		return fail(ctx, "the SSH key of the evidence does not parse");
	if (GET_MU(ev, "key_public", TPM2B_PUBLIC, &e->key) != 0 ||
	    GET_MU(ev, "ak_public", TPM2B_PUBLIC, &e->ak) != 0 ||
	    GET_MU(ev, "certify_info", TPM2B_ATTEST, &e->info) != 0 ||
	    GET_MU(ev, "certify_signature", TPMT_SIGNATURE, &e->sig) != 0)
		return fail(ctx, "a TPM structure of the evidence is missing "
		    "or does not parse");
	if (Tss2_MU_TPMS_ATTEST_Unmarshal(e->info.attestationData,
	    e->info.size, &off, &e->att) != TSS2_RC_SUCCESS ||
	    off != e->info.size)
		return fail(ctx, "the certification (TPMS_ATTEST) does not "
		    "parse");
	return read_certs(ctx, ev, e);
}

/* The EK certificate leads to one of the roots; nothing is fetched. */
static int
check_chain(struct hwk_ctx *ctx, const char *roots, struct evidence *e)
{
	X509_STORE *st = NULL;
	X509_STORE_CTX *sc = NULL;
	int r = HWK_ERR_NOMEM, v;

	if ((st = X509_STORE_new()) == NULL ||
	    (sc = X509_STORE_CTX_new()) == NULL)
		goto out;
	if (X509_STORE_load_file(st, roots) != 1) {
		r = hwk_ctx_error(ctx, HWK_ERR_INVALID_ARG, "--ca %s: no PEM "
		    "certificates to read", roots);
		goto out;
	}
	if (!X509_STORE_CTX_init(sc, st, e->ek, e->others))
		goto out;
	/* An EK certificate is for key encipherment, and names no purpose. */
	if ((v = X509_verify_cert(sc)) != 1) {
		hwk_ctx_error(ctx, HWK_ERR_FORMAT, "attestation failed: the EK "
		    "certificate does not lead to a root of %s (%s)", roots,
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(sc)));
		r = HWK_ERR_FORMAT;
		goto out;
	}
	r = HWK_OK;
 out:
	X509_STORE_CTX_free(sc);
	X509_STORE_free(st);
	return r;
}

/* nameAlg || H(TPMT_PUBLIC): the name of an object (Part 1, 16). */
int
hwk_tpm2_name(const TPMT_PUBLIC *p, uint8_t *name, size_t *lenp)
{
	uint8_t buf[sizeof(TPMT_PUBLIC)];
	const EVP_MD *md;
	unsigned int dlen = 0;
	size_t off = 0;

	md = p->nameAlg == TPM2_ALG_SHA256 ? EVP_sha256() :
	    p->nameAlg == TPM2_ALG_SHA384 ? EVP_sha384() :
	    p->nameAlg == TPM2_ALG_SHA512 ? EVP_sha512() :
	    p->nameAlg == TPM2_ALG_SHA1 ? EVP_sha1() : NULL;
	if (md == NULL || Tss2_MU_TPMT_PUBLIC_Marshal(p, buf, sizeof(buf),
	    &off) != TSS2_RC_SUCCESS)
		return HWK_ERR_FORMAT;
	name[0] = (uint8_t)(p->nameAlg >> 8);
	name[1] = (uint8_t)p->nameAlg;
	if (!EVP_Digest(buf, off, name + 2, &dlen, md, NULL))
		return HWK_ERR_CRYPTO;
	*lenp = 2 + dlen;
	return HWK_OK;
}

/* The AK's signature over the TPMS_ATTEST bytes. */
static int
check_signature(struct hwk_ctx *ctx, struct evidence *e)
{
	const TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED |
	    TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN;
	const TPMS_SIGNATURE_ECC *es = &e->sig.signature.ecdsa;
	EVP_PKEY *ak = NULL;
	EVP_PKEY_CTX *pc = NULL;
	ECDSA_SIG *sig = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	uint8_t *der = NULL, dgst[32];
	const char *why = NULL;
	int derlen, r;

	/* Only a restricted key's signature says the TPM made the data. */
	if ((e->ak.publicArea.objectAttributes & need) != need ||
	    (e->ak.publicArea.objectAttributes & TPMA_OBJECT_DECRYPT))
		return fail(ctx, "the attestation key is not a restricted "
		    "signing key of the TPM");
	if (e->sig.sigAlg != TPM2_ALG_ECDSA ||
	    es->hash != TPM2_ALG_SHA256 ||
	    e->ak.publicArea.type != TPM2_ALG_ECC)
		return fail(ctx, "the certification is not signed with "
		    "ECDSA-SHA256 by an ECC attestation key");
	if ((r = hwk_tpm2_pub_to_evp(&e->ak.publicArea, &ak, &why)) != 0)
		return fail(ctx, "the attestation key does not parse");
	r = HWK_ERR_CRYPTO;
	if ((sig = ECDSA_SIG_new()) == NULL ||
	    (br = BN_bin2bn(es->signatureR.buffer, es->signatureR.size,
	    NULL)) == NULL ||
	    (bs = BN_bin2bn(es->signatureS.buffer, es->signatureS.size,
	    NULL)) == NULL || !ECDSA_SIG_set0(sig, br, bs))
		goto out;
	br = bs = NULL;	/* owned by sig */
	if ((derlen = i2d_ECDSA_SIG(sig, &der)) <= 0 ||
	    !EVP_Digest(e->info.attestationData, e->info.size, dgst, NULL,
	    EVP_sha256(), NULL) ||
	    (pc = EVP_PKEY_CTX_new_from_pkey(NULL, ak, NULL)) == NULL ||
	    EVP_PKEY_verify_init(pc) <= 0)
		goto out;
	if (EVP_PKEY_verify(pc, der, (size_t)derlen, dgst, sizeof(dgst)) !=
	    1) {
		r = fail(ctx, "the attestation key's signature of the "
		    "certification does not verify");
		goto out;
	}
	r = HWK_OK;
 out:
	BN_free(br);
	BN_free(bs);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_free(ak);
	return r;
}

/* What the AK certified: this SSH key, born in the TPM, never to leave it. */
static int
check_certified(struct hwk_ctx *ctx, struct evidence *e)
{
	const TPMA_OBJECT need = TPMA_OBJECT_FIXEDTPM |
	    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN;
	const TPMA_OBJECT a = e->key.publicArea.objectAttributes;
	const TPM2B_NAME *cn = &e->att.attested.certify.name;
	uint8_t name[2 + 64], dgst[32];
	EVP_PKEY *k = NULL;
	const char *why = NULL;
	unsigned int dlen = 0;
	size_t nlen = 0;
	int eq;

	if (e->att.magic != TPM2_GENERATED_VALUE ||
	    e->att.type != TPM2_ST_ATTEST_CERTIFY)
		return fail(ctx, "the certification is not a TPM2_Certify "
		    "made by a TPM (magic or type)");
	if (!EVP_Digest(e->ssh->blob, e->ssh->bloblen, dgst, &dlen,
	    EVP_sha256(), NULL))
		return HWK_ERR_CRYPTO;
	if (e->att.extraData.size != dlen ||
	    CRYPTO_memcmp(e->att.extraData.buffer, dgst, dlen) != 0)
		return fail(ctx, "the certification was not made for this SSH "
		    "key (qualifying data)");
	if (hwk_tpm2_name(&e->key.publicArea, name, &nlen) != 0 ||
	    cn->size != nlen || memcmp(cn->name, name, nlen) != 0)
		return fail(ctx, "the certified name is not the name of the "
		    "key's public area");
	if (hwk_tpm2_pub_to_evp(&e->key.publicArea, &k, &why) != 0)
		return fail(ctx, "the certified key is not an RSA or ECDSA "
		    "key");
	eq = EVP_PKEY_eq(k, e->ssh_pkey);
	EVP_PKEY_free(k);
	if (eq != 1)
		return fail(ctx, "the certified key is not the SSH key");
	if ((a & need) != need)
		return fail(ctx, (a & TPMA_OBJECT_SENSITIVEDATAORIGIN) == 0 ?
		    "the key was not born in the TPM (no sensitiveDataOrigin: "
		    "it was imported)" : "the key may leave its TPM or parent "
		    "(fixedTPM or fixedParent not set)");
	if (a & TPMA_OBJECT_RESTRICTED)
		return fail(ctx, "the key is restricted, no SSH key");
	return HWK_OK;
}

/* Everything the evidence proves by itself. */
static int
check_offline(struct hwk_ctx *ctx, const struct hwk_attest *ev,
    const char *roots, struct evidence *e)
{
	int r;

	if ((r = parse(ctx, ev, e)) != 0 ||
	    (r = check_chain(ctx, roots, e)) != 0 ||
	    (r = check_signature(ctx, e)) != 0 ||
	    (r = check_certified(ctx, e)) != 0)
		return r;
	return HWK_OK;
}

/* The op attest_challenge: the evidence checked, a challenge for its EK. */
int
hwk_tpm2_attest_challenge(struct hwk_ctx *ctx, const struct hwk_attest *ev,
    const char *roots, struct hwk_attest *chal, struct hwk_attest *secret)
{
	struct evidence e;
	TPM2B_ID_OBJECT blob;
	TPM2B_ENCRYPTED_SECRET es;
	uint8_t cred[CRED_LEN], name[2 + 64], buf[sizeof(TPM2B_ID_OBJECT) +
	    sizeof(TPM2B_ENCRYPTED_SECRET)], *spki = NULL;
	char idx[16];
	size_t nlen = 0, off = 0, off2;
	int r, spkilen;

	if ((r = check_offline(ctx, ev, roots, &e)) != 0)
		goto out;
	if ((r = hwk_tpm2_name(&e.ak.publicArea, name, &nlen)) != 0)
		goto out;
	if (RAND_bytes(cred, sizeof(cred)) != 1) {
		r = HWK_ERR_CRYPTO;
		goto out;
	}
	if ((r = hwk_tpm2_make_credential(X509_get0_pubkey(e.ek), name, nlen,
	    cred, sizeof(cred), &blob, &es)) != 0)
		goto out;
	if (Tss2_MU_TPM2B_ID_OBJECT_Marshal(&blob, buf, sizeof(buf), &off) !=
	    TSS2_RC_SUCCESS || (off2 = off,
	    Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(&es, buf, sizeof(buf),
	    &off) != TSS2_RC_SUCCESS)) {
		r = HWK_ERR_INTERNAL;
		goto out;
	}
	/* The EK's key, so that another TPM can say at once it is not it. */
	if ((spkilen = i2d_PUBKEY(X509_get0_pubkey(e.ek), &spki)) <= 0) {
		r = HWK_ERR_CRYPTO;
		goto out;
	}
	snprintf(idx, sizeof(idx), "0x%08x", e.ek_index);
	if ((r = hwk_attest_put_str(chal, "ek_cert_index", 0, idx)) != 0 ||
	    (r = hwk_attest_put_bytes(chal, "ek_public", 0, spki,
	    (size_t)spkilen)) != 0 ||
	    (r = hwk_attest_put_bytes(chal, "credential_blob", 0, buf,
	    off2)) != 0 ||
	    (r = hwk_attest_put_bytes(chal, "encrypted_secret", 0, buf + off2,
	    off - off2)) != 0 ||
	    (r = hwk_attest_put_bytes(secret, "ak_name", 0, name, nlen)) != 0)
		goto out;
	r = hwk_attest_put_bytes(secret, "secret", 0, cred, sizeof(cred));
 out:
	explicit_bzero(cred, sizeof(cred));
	OPENSSL_free(spki);
	evidence_free(&e);
	return r;
}

/*
 * Who made the TPM, as its EK certificate says: the TCG attributes
 * (2.23.133.2.1 manufacturer, .2 model, .3 version) of the directory name
 * in its subjectAltName.
 */
static void
ek_device(X509 *ek, char *out, size_t len)
{
	static const char *const oids[] = { "2.23.133.2.1", "2.23.133.2.2",
	    "2.23.133.2.3" };
	static const char *const words[] = { "manufacturer", "model",
	    "version" };
	GENERAL_NAMES *gens;
	GENERAL_NAME *g;
	ASN1_OBJECT *o;
	X509_NAME_ENTRY *ent;
	const unsigned char *s;
	size_t used = 0;
	int i, j, k;

	snprintf(out, len, "TPM 2.0");
	used = strlen(out);
	if ((gens = X509_get_ext_d2i(ek, NID_subject_alt_name, NULL,
	    NULL)) == NULL)
		return;
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_DIRNAME)
			continue;
		for (k = 0; k < 3; k++) {
			if ((o = OBJ_txt2obj(oids[k], 1)) == NULL)
				continue;
			j = X509_NAME_get_index_by_OBJ(g->d.dirn, o, -1);
			ASN1_OBJECT_free(o);
			if (j < 0)
				continue;
			ent = X509_NAME_get_entry(g->d.dirn, j);
			s = ASN1_STRING_get0_data(X509_NAME_ENTRY_get_data(ent));
			if (used < len)
				used += (size_t)snprintf(out + used, len - used,
				    ", %s %.*s", words[k], ASN1_STRING_length(
				    X509_NAME_ENTRY_get_data(ent)), s);
		}
	}
	GENERAL_NAMES_free(gens);
	for (s = (const unsigned char *)out; *s != '\0'; s++)
		if (*s < 0x20 || *s >= 0x7f)
			out[(const char *)s - out] = '?';
}

/* What the checks proved, as the members of the verdict. */
static int
verdict(const struct hwk_attest *ev, struct evidence *e,
    struct hwk_attest *v)
{
	const TPMA_OBJECT a = e->key.publicArea.objectAttributes;
	const char *s;
	char fp[HWK_FP_LEN], text[512];
	uint8_t dgst[32];
	int r;

	if ((r = hwk_fingerprint(e->ssh->blob, e->ssh->bloblen, fp,
	    dgst)) != 0)
		return r;
	snprintf(text, sizeof(text), "%s", e->ssh->type);
	if ((r = hwk_attest_put_str(v, "fingerprint", 0, fp)) != 0 ||
	    (r = hwk_attest_put_str(v, "key_type", 0, text)) != 0)
		return r;
	ek_device(e->ek, text, sizeof(text));
	if ((r = hwk_attest_put_str(v, "device", 0, text)) != 0)
		return r;
	if ((s = hwk_attest_str(ev, "tpm_firmware", 0)) != NULL &&
	    strlen(s) < 64) {
		snprintf(text, sizeof(text), "%s, firmware %s (as the TPM "
		    "reports)", hwk_attest_str(ev, "tpm_manufacturer", 0) ?
		    hwk_attest_str(ev, "tpm_manufacturer", 0) : "?", s);
		if (strlen(text) < 120 &&
		    (r = hwk_attest_put_str(v, "device_reported", 0, text)) != 0)
			return r;
	}
	snprintf(text, sizeof(text), "born in the TPM and bound to it "
	    "(sensitiveDataOrigin, fixedTPM, fixedParent)%s%s",
	    (a & TPMA_OBJECT_USERWITHAUTH) ? "; used with its password, if "
	    "it has one" : "; usable only through a policy",
	    (a & TPMA_OBJECT_NODA) ? "; no dictionary-attack lockout (noDA)" :
	    "; the TPM's dictionary-attack lockout guards it");
	if ((r = hwk_attest_put_str(v, "protection", 0, text)) != 0)
		return r;
	snprintf(text, sizeof(text), "0x%08x", e->ek_index);
	return hwk_attest_put_str(v, "ek_cert_index", 0, text);
}

/*
 * The op attest_verify: the evidence again, and the device's answer to
 * the challenge, which only the TPM of the EK could give for that AK.
 */
int
hwk_tpm2_attest_verify(struct hwk_ctx *ctx, const struct hwk_attest *ev,
    const char *roots, const struct hwk_attest *secret,
    const struct hwk_attest *resp, struct hwk_attest *v)
{
	struct evidence e;
	struct hwk_buf *want = NULL, *got = NULL, *akn = NULL;
	uint8_t name[2 + 64];
	size_t nlen = 0;
	int r;

	if ((r = check_offline(ctx, ev, roots, &e)) != 0)
		goto out;
	if (secret == NULL || resp == NULL) {
		r = hwk_ctx_error(ctx, HWK_ERR_USAGE, "a TPM's evidence needs "
		    "its challenge and response: --challenge and --response");
		goto out;
	}
	if (hwk_attest_bytes(secret, "secret", 0, &want) != 0 ||
	    hwk_attest_bytes(secret, "ak_name", 0, &akn) != 0) {
		r = fail(ctx, "the challenge's secret file does not parse");
		goto out;
	}
	if ((r = hwk_tpm2_name(&e.ak.publicArea, name, &nlen)) != 0 ||
	    hwk_buf_len(akn) != nlen ||
	    memcmp(hwk_buf_ptr(akn), name, nlen) != 0) {
		r = fail(ctx, "the challenge was made for another attestation "
		    "key than this evidence's");
		goto out;
	}
	if (hwk_attest_bytes(resp, "secret", 0, &got) != 0 ||
	    hwk_buf_len(got) != hwk_buf_len(want) ||
	    CRYPTO_memcmp(hwk_buf_ptr(got), hwk_buf_ptr(want),
	    hwk_buf_len(want)) != 0) {
		r = fail(ctx, "the response does not answer the challenge: "
		    "it did not come from the TPM that holds the EK of the "
		    "evidence");
		goto out;
	}
	r = verdict(ev, &e, v);
 out:
	hwk_buf_free(&want);	/* wipes */
	hwk_buf_free(&got);
	hwk_buf_free(&akn);
	evidence_free(&e);
	return r;
}
