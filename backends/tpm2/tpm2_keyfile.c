/*
 * The TSS2 PRIVATE KEY stub: DER by OpenSSL's ASN.1 templates, the TPM
 * structures inside it by the TSS's marshalling, PEM by our buffer.
 */
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <tss2/tss2_mu.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "tpm2_keyfile.h"

/*
 * TPMKey ::= SEQUENCE { type OBJECT IDENTIFIER, emptyAuth [0] EXPLICIT
 * BOOLEAN OPTIONAL, parent INTEGER, pubkey OCTET STRING, privkey OCTET
 * STRING }.  Only these fields: loaders refuse keys with more.
 */
typedef struct {
	ASN1_OBJECT		*type;
	ASN1_BOOLEAN		 empty_auth;	/* -1 when absent */
	ASN1_INTEGER		*parent;
	ASN1_OCTET_STRING	*pubkey;
	ASN1_OCTET_STRING	*privkey;
} HWK_TPMKEY;

ASN1_SEQUENCE(HWK_TPMKEY) = {
	ASN1_SIMPLE(HWK_TPMKEY, type, ASN1_OBJECT),
	ASN1_EXP_OPT(HWK_TPMKEY, empty_auth, ASN1_BOOLEAN, 0),
	ASN1_SIMPLE(HWK_TPMKEY, parent, ASN1_INTEGER),
	ASN1_SIMPLE(HWK_TPMKEY, pubkey, ASN1_OCTET_STRING),
	ASN1_SIMPLE(HWK_TPMKEY, privkey, ASN1_OCTET_STRING),
} static_ASN1_SEQUENCE_END(HWK_TPMKEY)

#define TPMKEY_IT	ASN1_ITEM_rptr(HWK_TPMKEY)

static const char *
why(const char **whyp, const char *s)
{
	if (whyp != NULL)
		*whyp = s;
	return s;
}

void
hwk_tpm2_keyfile_clear(struct hwk_tpm2_keyfile *kf)
{
	explicit_bzero(kf, sizeof(*kf));
}

int
hwk_tpm2_keyfile_to_der(const struct hwk_tpm2_keyfile *kf, uint8_t **derp,
    size_t *lenp)
{
	HWK_TPMKEY *k = NULL;
	uint8_t pub[sizeof(TPM2B_PUBLIC)], priv[sizeof(TPM2B_PRIVATE)];
	uint8_t *der = NULL;
	size_t publen = 0, privlen = 0;
	int n, r = HWK_ERR_FORMAT;

	*derp = NULL;
	*lenp = 0;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&kf->pub, pub, sizeof(pub),
	    &publen) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(&kf->priv, priv, sizeof(priv),
	    &privlen) != TSS2_RC_SUCCESS)
		goto out;
	r = HWK_ERR_CRYPTO;
	if ((k = (HWK_TPMKEY *)ASN1_item_new(TPMKEY_IT)) == NULL ||
	    (k->type = OBJ_txt2obj(HWK_TPM2_OID_LOADABLE, 1)) == NULL ||
	    !ASN1_INTEGER_set_uint64(k->parent, kf->parent) ||
	    !ASN1_OCTET_STRING_set(k->pubkey, pub, (int)publen) ||
	    !ASN1_OCTET_STRING_set(k->privkey, priv, (int)privlen))
		goto out;
	/*
	 * TRUE when the key has no password, else FALSE written out: loaders
	 * such as tpm2-openssl 1.1 take an absent emptyAuth for TRUE.
	 */
	k->empty_auth = kf->empty_auth ? 0xff : 0;
	if ((n = ASN1_item_i2d((ASN1_VALUE *)k, &der, TPMKEY_IT)) <= 0)
		goto out;
	*derp = der;
	*lenp = (size_t)n;
	der = NULL;
	r = HWK_OK;
 out:
	ASN1_item_free((ASN1_VALUE *)k, TPMKEY_IT);
	OPENSSL_free(der);
	explicit_bzero(priv, sizeof(priv));
	ERR_clear_error();
	return r;
}

/* A TSS marshalling error as ours. */
static int
mu_error(TSS2_RC rc)
{
	switch (rc) {
	case TSS2_MU_RC_INSUFFICIENT_BUFFER:
		return HWK_ERR_TRUNCATED;
	case TSS2_MU_RC_BAD_SIZE:
		return HWK_ERR_TOO_LARGE;
	}
	return HWK_ERR_FORMAT;
}

/* MU says "insufficient buffer" for both ends: tell a size too big apart. */
static int
tpm2b_oversize(const uint8_t *p, size_t len, size_t max)
{
	UINT16 size = 0;

	return Tss2_MU_UINT16_Unmarshal(p, len, NULL, &size) ==
	    TSS2_RC_SUCCESS && size > max;
}

/* The TPM structures out of the two OCTET STRINGs, with nothing left over. */
static int
unmarshal(const HWK_TPMKEY *k, struct hwk_tpm2_keyfile *kf, const char **whyp)
{
	const uint8_t *p;
	size_t off, len;
	TSS2_RC rc;

	p = ASN1_STRING_get0_data(k->pubkey);
	len = (size_t)ASN1_STRING_length(k->pubkey);
	off = 0;
	if (tpm2b_oversize(p, len, sizeof(kf->pub.publicArea))) {
		why(whyp, "the public area is larger than a TPM allows");
		return HWK_ERR_TOO_LARGE;
	}
	if ((rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(p, len, &off,
	    &kf->pub)) != TSS2_RC_SUCCESS) {
		why(whyp, "the public area is damaged");
		return mu_error(rc);
	}
	if (off != len || (size_t)kf->pub.size + 2 != len) {
		why(whyp, "the public area has bytes left over");
		return HWK_ERR_FORMAT;
	}
	p = ASN1_STRING_get0_data(k->privkey);
	len = (size_t)ASN1_STRING_length(k->privkey);
	off = 0;
	if (tpm2b_oversize(p, len, sizeof(kf->priv.buffer))) {
		why(whyp, "the private area is larger than a TPM allows");
		return HWK_ERR_TOO_LARGE;
	}
	if ((rc = Tss2_MU_TPM2B_PRIVATE_Unmarshal(p, len, &off,
	    &kf->priv)) != TSS2_RC_SUCCESS) {
		why(whyp, "the private area is damaged");
		return mu_error(rc);
	}
	if (off != len) {
		why(whyp, "the private area has bytes left over");
		return HWK_ERR_FORMAT;
	}
	if (kf->priv.size == 0) {
		why(whyp, "the private area is empty");
		return HWK_ERR_FORMAT;
	}
	return HWK_OK;
}

/*
 * The parent handle.  Writers that store it through a signed 32-bit long
 * (tpm2-openssl, tpm2-tools with ASN1_INTEGER_set on 32-bit systems) give
 * 0x81000001 as -2130706431: take [INT32_MIN, -1] as the same 32 bits.
 */
static int
parent_handle(const ASN1_INTEGER *ai, uint32_t *hp)
{
	int64_t v;

	if (!ASN1_INTEGER_get_int64(&v, ai) || v < INT32_MIN ||
	    v > (int64_t)UINT32_MAX)
		return -1;
	*hp = (uint32_t)v;	/* modulo 2^32: -1 is 0xffffffff */
	return 0;
}

int
hwk_tpm2_keyfile_from_der(const uint8_t *der, size_t len,
    struct hwk_tpm2_keyfile *kf, const char **whyp)
{
	HWK_TPMKEY *k = NULL;
	ASN1_OBJECT *want = NULL;
	const unsigned char *p = der;
	long olen;
	uint32_t parent;
	int tag, cls, r;

	memset(kf, 0, sizeof(*kf));
	why(whyp, "");
	if (len > HWK_TPM2_KEYFILE_MAX) {
		why(whyp, "it is far larger than a TPM key file");
		return HWK_ERR_TOO_LARGE;
	}
	/* An outer length beyond the data is a file cut short. */
	if (ASN1_get_object(&p, &olen, &tag, &cls, (long)len) & 0x80) {
		why(whyp, "it is truncated");
		r = HWK_ERR_TRUNCATED;
		goto out;
	}
	p = der;
	if ((k = (HWK_TPMKEY *)ASN1_item_d2i(NULL, &p, (long)len,
	    TPMKEY_IT)) == NULL) {
		why(whyp, "it is not a TPMKey structure");
		r = HWK_ERR_FORMAT;
		goto out;
	}
	if (p != der + len) {
		why(whyp, "it has bytes after the key");
		r = HWK_ERR_FORMAT;
		goto out;
	}
	if ((want = OBJ_txt2obj(HWK_TPM2_OID_LOADABLE, 1)) == NULL) {
		r = HWK_ERR_CRYPTO;
		goto out;
	}
	if (OBJ_cmp(k->type, want) != 0) {
		why(whyp, "it is a TPM key file of another kind (not a "
		    "loadable key, OID " HWK_TPM2_OID_LOADABLE ")");
		r = HWK_ERR_UNSUPPORTED;
		goto out;
	}
	if (parent_handle(k->parent, &parent) != 0) {
		why(whyp, "its parent is not a TPM handle");
		r = HWK_ERR_FORMAT;
		goto out;
	}
	if ((r = unmarshal(k, kf, whyp)) != 0)
		goto out;
	kf->parent = parent;
	/* Absent or FALSE both mean the key has a password. */
	kf->empty_auth = k->empty_auth != -1 && k->empty_auth != 0;
	r = HWK_OK;
 out:
	if (r != HWK_OK)
		hwk_tpm2_keyfile_clear(kf);
	ASN1_item_free((ASN1_VALUE *)k, TPMKEY_IT);
	ASN1_OBJECT_free(want);
	ERR_clear_error();
	return r;
}

int
hwk_tpm2_keyfile_write(const struct hwk_tpm2_keyfile *kf, struct hwk_buf *out)
{
	uint8_t *der = NULL;
	size_t len = 0;
	int r;

	if ((r = hwk_tpm2_keyfile_to_der(kf, &der, &len)) != 0)
		return r;
	r = hwk_pem_encode(out, HWK_TPM2_PEM_LABEL, der, len, 64);
	OPENSSL_clear_free(der, len);
	return r;
}

int
hwk_tpm2_keyfile_read(const uint8_t *text, size_t len,
    struct hwk_tpm2_keyfile *kf, const char **whyp)
{
	struct hwk_buf *der = NULL;
	int r;

	memset(kf, 0, sizeof(*kf));
	if (!hwk_tpm2_keyfile_claims(text, len)) {
		why(whyp, "it is not a PEM \"" HWK_TPM2_PEM_LABEL "\" file");
		return HWK_ERR_FORMAT;
	}
	if ((der = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	r = hwk_pem_decode((const char *)text, len, HWK_TPM2_PEM_LABEL, der);
	if (r == HWK_ERR_TRUNCATED)
		why(whyp, "it is truncated (no END line)");
	else if (r != 0)
		why(whyp, "its base64 is damaged");
	else
		r = hwk_tpm2_keyfile_from_der(hwk_buf_ptr(der),
		    hwk_buf_len(der), kf, whyp);
	hwk_buf_free(&der);
	return r;
}

int
hwk_tpm2_keyfile_claims(const uint8_t *text, size_t len)
{
	static const char begin[] = "-----BEGIN " HWK_TPM2_PEM_LABEL "-----";
	size_t skip = 0;

	while (skip < len && (text[skip] == ' ' || text[skip] == '\t' ||
	    text[skip] == '\r' || text[skip] == '\n'))
		skip++;
	return len - skip >= sizeof(begin) - 1 &&
	    memcmp(text + skip, begin, sizeof(begin) - 1) == 0;
}

/* The NIST curves a TPM names, as SSH names them. */
struct ecc_curve {
	TPMI_ECC_CURVE	 id;
	unsigned	 bits;
	const char	*ssh;		/* the blob's curve identifier */
	size_t		 len;		/* bytes of a coordinate */
};

static const struct ecc_curve ecc_curves[] = {
	{ TPM2_ECC_NIST_P256, 256, "nistp256", 32 },
	{ TPM2_ECC_NIST_P384, 384, "nistp384", 48 },
	{ TPM2_ECC_NIST_P521, 521, "nistp521", 66 },
	{ 0, 0, NULL, 0 },
};

unsigned
hwk_tpm2_ecc_bits(TPMI_ECC_CURVE id)
{
	const struct ecc_curve *c;

	for (c = ecc_curves; c->ssh != NULL; c++)
		if (c->id == id)
			return c->bits;
	return 0;
}

TPMI_ECC_CURVE
hwk_tpm2_ecc_curve(unsigned bits)
{
	const struct ecc_curve *c;

	for (c = ecc_curves; c->ssh != NULL; c++)
		if (c->bits == bits)
			return c->id;
	return TPM2_ECC_NONE;
}

static const struct ecc_curve *
ecc_find(const TPMT_PUBLIC *pub)
{
	const struct ecc_curve *c;

	for (c = ecc_curves; c->ssh != NULL; c++)
		if (c->id == pub->parameters.eccDetail.curveID)
			return c;
	return NULL;
}

/* 0x04 || x || y, each coordinate left-padded to the field size. */
static int
ecc_point(const TPMT_PUBLIC *pub, const struct ecc_curve *c, uint8_t *pt)
{
	const TPM2B_ECC_PARAMETER *x = &pub->unique.ecc.x;
	const TPM2B_ECC_PARAMETER *y = &pub->unique.ecc.y;

	if (x->size == 0 || y->size == 0 || x->size > c->len ||
	    y->size > c->len)
		return HWK_ERR_FORMAT;
	memset(pt, 0, 1 + 2 * c->len);
	pt[0] = 0x04;
	memcpy(pt + 1 + c->len - x->size, x->buffer, x->size);
	memcpy(pt + 1 + 2 * c->len - y->size, y->buffer, y->size);
	return HWK_OK;
}

/* The OpenSSL key of an ECC public area; OpenSSL checks Q is on its curve. */
static int
ecc_to_evp(const TPMT_PUBLIC *pub, EVP_PKEY **pkeyp, const char **whyp)
{
	const struct ecc_curve *c;
	uint8_t pt[1 + 2 * 66];
	int r;

	if ((c = ecc_find(pub)) == NULL) {
		why(whyp, "it is an ECC key on a curve SSH does not use");
		return HWK_ERR_KEY_TYPE;
	}
	if ((r = ecc_point(pub, c, pt)) == 0)
		r = hwk_ecdsa_from_point(c->ssh, pt, 1 + 2 * c->len, NULL,
		    pkeyp);
	if (r == HWK_ERR_FORMAT)
		why(whyp, "its public point is not on its curve");
	else if (r != 0)
		why(whyp, "OpenSSL refused its public key");
	ERR_clear_error();
	return r;
}

int
hwk_tpm2_pub_to_evp(const TPMT_PUBLIC *pub, EVP_PKEY **pkeyp,
    const char **whyp)
{
	const TPM2B_PUBLIC_KEY_RSA *n = &pub->unique.rsa;
	uint32_t e = pub->parameters.rsaDetail.exponent;
	uint8_t eb[4];
	size_t skip = 0;

	*pkeyp = NULL;
	why(whyp, "");
	if (pub->type == TPM2_ALG_ECC)
		return ecc_to_evp(pub, pkeyp, whyp);
	if (pub->type != TPM2_ALG_RSA) {
		why(whyp, "it is neither an RSA nor an ECC key");
		return HWK_ERR_KEY_TYPE;
	}
	if (n->size == 0 || n->size > sizeof(n->buffer) ||
	    (n->buffer[0] & 0x80) == 0 ||
	    pub->parameters.rsaDetail.keyBits != n->size * 8u) {
		why(whyp, "its modulus does not match its size");
		return HWK_ERR_FORMAT;
	}
	if (e == 0)
		e = 65537;		/* the TPM's way of saying the default */
	if (e < 3 || (e & 1) == 0) {
		why(whyp, "its public exponent is not valid");
		return HWK_ERR_FORMAT;
	}
	eb[0] = (uint8_t)(e >> 24);
	eb[1] = (uint8_t)(e >> 16);
	eb[2] = (uint8_t)(e >> 8);
	eb[3] = (uint8_t)e;
	while (eb[skip] == 0)
		skip++;
	if (hwk_rsa_from_ne(n->buffer, n->size, eb + skip, sizeof(eb) - skip,
	    pkeyp) != 0) {
		why(whyp, "OpenSSL refused its public key");
		return HWK_ERR_CRYPTO;
	}
	return HWK_OK;
}

int
hwk_tpm2_pub_to_pubkey(const TPMT_PUBLIC *pub, struct hwk_pubkey **kp,
    const char **whyp)
{
	EVP_PKEY *pkey = NULL;
	int r;

	*kp = NULL;
	why(whyp, "");
	if ((r = hwk_tpm2_pub_to_evp(pub, &pkey, whyp)) == 0)
		r = hwk_pubkey_from_evp(pkey, NULL, kp);
	EVP_PKEY_free(pkey);
	return r;
}
