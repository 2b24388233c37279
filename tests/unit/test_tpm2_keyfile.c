/*
 * Unit tests of the TSS2 PRIVATE KEY stub: round trips, every truncation,
 * wrong tags and OIDs, oversize lengths, emptyAuth, and the TPM public
 * area to OpenSSL key conversion.  No TPM needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "tpm2_keyfile.h"

#define MAX_ELEMS	8

static EVP_PKEY *rsa_key;	/* one real 2048-bit key for all tests */

/* A stub around rsa_key's modulus, as the TPM would return it. */
static void
make_keyfile(struct hwk_tpm2_keyfile *kf, int empty_auth, uint32_t parent)
{
	TPMT_PUBLIC *p = &kf->pub.publicArea;
	BIGNUM *n = NULL;
	size_t i;

	memset(kf, 0, sizeof(*kf));
	kf->empty_auth = empty_auth;
	kf->parent = parent;
	p->type = TPM2_ALG_RSA;
	p->nameAlg = TPM2_ALG_SHA256;
	p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
	    TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_DECRYPT;
	p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	p->parameters.rsaDetail.keyBits = 2048;
	assert_int_equal(EVP_PKEY_get_bn_param(rsa_key, OSSL_PKEY_PARAM_RSA_N,
	    &n), 1);
	assert_int_equal(BN_bn2binpad(n, p->unique.rsa.buffer, 256), 256);
	p->unique.rsa.size = 256;
	BN_free(n);
	kf->pub.size = 1;	/* MU computes the real size */
	kf->priv.size = 150;
	for (i = 0; i < kf->priv.size; i++)
		kf->priv.buffer[i] = (uint8_t)(i * 7 + 1);
}

static int
setup(void **state)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);

	(void)state;
	if (c == NULL || EVP_PKEY_keygen_init(c) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(c, 2048) <= 0 ||
	    EVP_PKEY_generate(c, &rsa_key) <= 0)
		return -1;
	EVP_PKEY_CTX_free(c);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(rsa_key);
	return 0;
}

static void
der_of(const struct hwk_tpm2_keyfile *kf, uint8_t **der, size_t *len)
{
	assert_int_equal(hwk_tpm2_keyfile_to_der(kf, der, len), 0);
	assert_non_null(*der);
	assert_true(*len > 300);
}

/* The TLVs of the outer SEQUENCE, found with OpenSSL's header parser. */
struct elems {
	const uint8_t	*p[MAX_ELEMS];
	size_t		 len[MAX_ELEMS];
	int		 n;
};

static void
split(const uint8_t *der, size_t len, struct elems *e)
{
	const unsigned char *p = der, *q;
	long l;
	int tag, cls;

	memset(e, 0, sizeof(*e));
	assert_int_equal(ASN1_get_object(&p, &l, &tag, &cls, (long)len),
	    V_ASN1_CONSTRUCTED);
	assert_int_equal(tag, V_ASN1_SEQUENCE);
	while (p < der + len) {
		q = p;
		assert_false(ASN1_get_object(&q, &l, &tag, &cls,
		    (long)(der + len - p)) & 0x80);
		assert_true(e->n < MAX_ELEMS);
		e->p[e->n] = p;
		e->len[e->n] = (size_t)(q - p) + (size_t)l;
		p += e->len[e->n];
		e->n++;
	}
}

/* A SEQUENCE of the given TLVs, its header written by OpenSSL. */
static uint8_t *
join(const struct elems *e, size_t *lenp)
{
	size_t body = 0, off;
	uint8_t *out, *p;
	int i;

	for (i = 0; i < e->n; i++)
		body += e->len[i];
	out = malloc(body + 8);
	assert_non_null(out);
	p = out;
	ASN1_put_object(&p, 1, (int)body, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	off = (size_t)(p - out);
	for (i = 0; i < e->n; i++) {
		memcpy(out + off, e->p[i], e->len[i]);
		off += e->len[i];
	}
	*lenp = off;
	return out;
}

static void
test_roundtrip_no_password(void **state)
{
	struct hwk_tpm2_keyfile kf, back;
	struct hwk_buf *pem = hwk_buf_new();
	static const uint8_t empty_true[] = { 0xa0, 0x03, 0x01, 0x01, 0xff };
	const char *why = NULL;
	uint8_t *der = NULL;
	size_t len;

	(void)state;
	make_keyfile(&kf, 1, TPM2_RH_OWNER);
	der_of(&kf, &der, &len);
	/* emptyAuth [0] TRUE, right after the OID. */
	assert_non_null(memmem(der, len, empty_true, sizeof(empty_true)));
	assert_int_equal(hwk_tpm2_keyfile_write(&kf, pem), 0);
	assert_true(hwk_tpm2_keyfile_claims(hwk_buf_ptr(pem),
	    hwk_buf_len(pem)));
	assert_int_equal(hwk_tpm2_keyfile_read(hwk_buf_ptr(pem),
	    hwk_buf_len(pem), &back, &why), 0);
	assert_int_equal(back.empty_auth, 1);
	assert_int_equal(back.parent, TPM2_RH_OWNER);
	assert_int_equal(back.pub.publicArea.type, TPM2_ALG_RSA);
	assert_int_equal(back.pub.publicArea.unique.rsa.size, 256);
	assert_memory_equal(back.pub.publicArea.unique.rsa.buffer,
	    kf.pub.publicArea.unique.rsa.buffer, 256);
	assert_int_equal(back.priv.size, kf.priv.size);
	assert_memory_equal(back.priv.buffer, kf.priv.buffer, kf.priv.size);
	OPENSSL_free(der);
	hwk_buf_free(&pem);
}

static void
test_roundtrip_password_persistent(void **state)
{
	struct hwk_tpm2_keyfile kf, back;
	static const uint8_t empty_false[] = { 0xa0, 0x03, 0x01, 0x01, 0x00 };
	static const uint8_t parent[] = { 0x02, 0x05, 0x00, 0x81, 0x00, 0x00,
	    0x02 };
	uint8_t *der = NULL;
	size_t len;

	(void)state;
	make_keyfile(&kf, 0, 0x81000002);
	der_of(&kf, &der, &len);
	/* emptyAuth FALSE written out; the handle a positive INTEGER. */
	assert_non_null(memmem(der, len, empty_false, sizeof(empty_false)));
	assert_non_null(memmem(der, len, parent, sizeof(parent)));
	assert_int_equal(hwk_tpm2_keyfile_from_der(der, len, &back, NULL), 0);
	assert_int_equal(back.empty_auth, 0);
	assert_int_equal(back.parent, 0x81000002);
	OPENSSL_free(der);
}

static void
test_empty_auth_absent(void **state)
{
	struct hwk_tpm2_keyfile kf, back;
	struct elems e;
	uint8_t *der = NULL, *d2;
	size_t len, len2;

	(void)state;
	make_keyfile(&kf, 1, TPM2_RH_OWNER);
	der_of(&kf, &der, &len);
	split(der, len, &e);
	assert_int_equal(e.n, 5);
	/* Without the [0] field the key is one that needs a password. */
	e.p[1] = e.p[2]; e.len[1] = e.len[2];
	e.p[2] = e.p[3]; e.len[2] = e.len[3];
	e.p[3] = e.p[4]; e.len[3] = e.len[4];
	e.n = 4;
	d2 = join(&e, &len2);
	assert_int_equal(hwk_tpm2_keyfile_from_der(d2, len2, &back, NULL), 0);
	assert_int_equal(back.empty_auth, 0);
	assert_int_equal(back.pub.publicArea.unique.rsa.size, 256);
	free(d2);
	OPENSSL_free(der);
}

static void
test_every_truncation(void **state)
{
	struct hwk_tpm2_keyfile kf, back;
	struct hwk_buf *pem = hwk_buf_new();
	uint8_t *der = NULL;
	size_t len, cut;

	(void)state;
	make_keyfile(&kf, 0, TPM2_RH_OWNER);
	der_of(&kf, &der, &len);
	for (cut = 0; cut < len; cut++) {
		back.parent = 1;
		assert_int_equal(hwk_tpm2_keyfile_from_der(der, cut, &back,
		    NULL), HWK_ERR_TRUNCATED);
		assert_int_equal(back.parent, 0);	/* cleared */
	}
	assert_int_equal(hwk_tpm2_keyfile_write(&kf, pem), 0);
	for (cut = 0; cut < hwk_buf_len(pem) - 1; cut++)
		assert_int_not_equal(hwk_tpm2_keyfile_read(hwk_buf_ptr(pem),
		    cut, &back, NULL), 0);
	assert_int_equal(hwk_tpm2_keyfile_read(hwk_buf_ptr(pem),
	    hwk_buf_len(pem), &back, NULL), 0);
	OPENSSL_free(der);
	hwk_buf_free(&pem);
}

static void
test_wrong_tags(void **state)
{
	struct hwk_tpm2_keyfile kf, back;
	struct elems e;
	uint8_t *der = NULL, *copy;
	size_t len, i;
	int k;

	(void)state;
	make_keyfile(&kf, 1, TPM2_RH_OWNER);
	der_of(&kf, &der, &len);
	split(der, len, &e);
	copy = malloc(len);
	assert_non_null(copy);
	/* The outer SEQUENCE as a SET, then each field's tag changed. */
	memcpy(copy, der, len);
	copy[0] = 0x31;
	assert_int_equal(hwk_tpm2_keyfile_from_der(copy, len, &back, NULL),
	    HWK_ERR_FORMAT);
	for (k = 0; k < e.n; k++) {
		static const uint8_t other[] = { 0x04, 0xa1, 0x04, 0x02, 0x02 };

		i = (size_t)(e.p[k] - der);
		memcpy(copy, der, len);
		copy[i] = other[k];
		assert_int_equal(hwk_tpm2_keyfile_from_der(copy, len, &back,
		    NULL), HWK_ERR_FORMAT);
	}
	free(copy);
	OPENSSL_free(der);
}

static void
test_other_oid(void **state)
{
	struct hwk_tpm2_keyfile kf, back;
	struct elems e;
	ASN1_OBJECT *o = OBJ_txt2obj("2.23.133.10.1.4", 1);	/* importable */
	uint8_t *der = NULL, *oid = NULL, *d2;
	const char *why = NULL;
	size_t len, len2;
	int n;

	(void)state;
	assert_non_null(o);
	assert_true((n = i2d_ASN1_OBJECT(o, &oid)) > 0);
	make_keyfile(&kf, 1, TPM2_RH_OWNER);
	der_of(&kf, &der, &len);
	split(der, len, &e);
	e.p[0] = oid;
	e.len[0] = (size_t)n;
	d2 = join(&e, &len2);
	assert_int_equal(hwk_tpm2_keyfile_from_der(d2, len2, &back, &why),
	    HWK_ERR_UNSUPPORTED);
	assert_non_null(strstr(why, "another kind"));
	free(d2);
	OPENSSL_free(oid);
	OPENSSL_free(der);
	ASN1_OBJECT_free(o);
}

/* Replaces element k with an OCTET STRING holding v. */
static uint8_t *
with_octets(const uint8_t *der, size_t len, int k, const uint8_t *v,
    size_t vlen, size_t *len2)
{
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	struct elems e;
	uint8_t *enc = NULL, *out;
	int n;

	assert_non_null(os);
	assert_int_equal(ASN1_OCTET_STRING_set(os, v, (int)vlen), 1);
	assert_true((n = i2d_ASN1_OCTET_STRING(os, &enc)) > 0);
	split(der, len, &e);
	e.p[k] = enc;
	e.len[k] = (size_t)n;
	out = join(&e, len2);
	OPENSSL_free(enc);
	ASN1_OCTET_STRING_free(os);
	return out;
}

static void
test_oversize_lengths(void **state)
{
	struct hwk_tpm2_keyfile kf, back;
	struct elems e;
	uint8_t *der = NULL, *copy, *d2, buf[600];
	const uint8_t *pub;
	size_t len, len2, publen, big;

	(void)state;
	make_keyfile(&kf, 1, TPM2_RH_OWNER);
	der_of(&kf, &der, &len);
	split(der, len, &e);
	/* The outer length claims more than there is. */
	copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, der, len);
	assert_int_equal(copy[1], 0x82);
	copy[2] = 0x7f;
	assert_int_equal(hwk_tpm2_keyfile_from_der(copy, len, &back, NULL),
	    HWK_ERR_TRUNCATED);
	free(copy);

	/* TPM2B sizes inside the OCTET STRINGs beyond what they hold. */
	assert_int_equal(e.p[3][1], 0x82);
	pub = e.p[3] + 4;		/* 04 82 LL LL */
	publen = e.len[3] - 4;
	assert_true(publen < sizeof(buf));
	memcpy(buf, pub, publen);
	buf[0] = 0x02;			/* 0x02xx: more than is there */
	d2 = with_octets(der, len, 3, buf, publen, &len2);
	assert_int_equal(hwk_tpm2_keyfile_from_der(d2, len2, &back, NULL),
	    HWK_ERR_TRUNCATED);
	free(d2);
	buf[0] = 0xff;			/* beyond any TPMT_PUBLIC */
	buf[1] = 0xff;
	d2 = with_octets(der, len, 3, buf, publen, &len2);
	assert_int_equal(hwk_tpm2_keyfile_from_der(d2, len2, &back, NULL),
	    HWK_ERR_TOO_LARGE);
	free(d2);
	/* A private area larger than TPM2B_PRIVATE can be. */
	big = sizeof(kf.priv.buffer) + 1;
	copy = malloc(2 + big);
	assert_non_null(copy);
	memset(copy, 0x41, 2 + big);
	copy[0] = (uint8_t)(big >> 8);
	copy[1] = (uint8_t)big;
	d2 = with_octets(der, len, 4, copy, 2 + big, &len2);
	assert_int_equal(hwk_tpm2_keyfile_from_der(d2, len2, &back, NULL),
	    HWK_ERR_TOO_LARGE);
	free(d2);
	free(copy);
	/* Bytes left over after the TPM2B inside an OCTET STRING. */
	memcpy(buf, pub, publen);
	buf[publen] = 0;
	d2 = with_octets(der, len, 3, buf, publen + 1, &len2);
	assert_int_equal(hwk_tpm2_keyfile_from_der(d2, len2, &back, NULL),
	    HWK_ERR_FORMAT);
	free(d2);
	/* And far too much input overall. */
	copy = calloc(1, HWK_TPM2_KEYFILE_MAX + 1);
	assert_non_null(copy);
	memcpy(copy, der, len);
	assert_int_equal(hwk_tpm2_keyfile_from_der(copy,
	    HWK_TPM2_KEYFILE_MAX + 1, &back, NULL), HWK_ERR_TOO_LARGE);
	free(copy);
	OPENSSL_free(der);
}

static void
test_trailing_and_extra(void **state)
{
	struct hwk_tpm2_keyfile kf, back;
	struct elems e;
	ASN1_UTF8STRING *s = ASN1_UTF8STRING_new();
	uint8_t *der = NULL, *copy, *d2, *desc = NULL;
	size_t len, len2;
	int n;

	(void)state;
	make_keyfile(&kf, 1, TPM2_RH_OWNER);
	der_of(&kf, &der, &len);
	copy = malloc(len + 1);
	assert_non_null(copy);
	memcpy(copy, der, len);
	copy[len] = 0;
	assert_int_equal(hwk_tpm2_keyfile_from_der(copy, len + 1, &back, NULL),
	    HWK_ERR_FORMAT);
	free(copy);
	/* A sixth field (a description) is not a key every loader reads. */
	assert_int_equal(ASN1_STRING_set(s, "laptop", 6), 1);
	assert_true((n = i2d_ASN1_UTF8STRING(s, &desc)) > 0);
	split(der, len, &e);
	e.p[e.n] = desc;
	e.len[e.n] = (size_t)n;
	e.n++;
	d2 = join(&e, &len2);
	assert_int_equal(hwk_tpm2_keyfile_from_der(d2, len2, &back, NULL),
	    HWK_ERR_FORMAT);
	free(d2);
	OPENSSL_free(desc);
	ASN1_UTF8STRING_free(s);
	OPENSSL_free(der);
}

/* The stub with its parent INTEGER replaced by v. */
static uint8_t *
with_parent(const uint8_t *der, size_t len, int64_t v, size_t *len2)
{
	ASN1_INTEGER *i = ASN1_INTEGER_new();
	struct elems e;
	uint8_t *enc = NULL, *out;
	int n;

	assert_non_null(i);
	assert_int_equal(ASN1_INTEGER_set_int64(i, v), 1);
	assert_true((n = i2d_ASN1_INTEGER(i, &enc)) > 0);
	split(der, len, &e);
	assert_int_equal(e.p[2][0], V_ASN1_INTEGER);
	e.p[2] = enc;
	e.len[2] = (size_t)n;
	out = join(&e, len2);
	OPENSSL_free(enc);
	ASN1_INTEGER_free(i);
	return out;
}

static void
test_parent_range(void **state)
{
	struct hwk_tpm2_keyfile kf, back;
	uint8_t *der = NULL, *d2;
	size_t len, len2;

	(void)state;
	make_keyfile(&kf, 1, TPM2_RH_OWNER);
	der_of(&kf, &der, &len);
	/* Below INT32_MIN, then wider than a TPM handle. */
	d2 = with_parent(der, len, (int64_t)INT32_MIN - 1, &len2);
	assert_int_equal(hwk_tpm2_keyfile_from_der(d2, len2, &back, NULL),
	    HWK_ERR_FORMAT);
	free(d2);
	d2 = with_parent(der, len, (int64_t)UINT32_MAX + 1, &len2);
	assert_int_equal(hwk_tpm2_keyfile_from_der(d2, len2, &back, NULL),
	    HWK_ERR_FORMAT);
	free(d2);
	/* The edges that are handles. */
	d2 = with_parent(der, len, UINT32_MAX, &len2);
	assert_int_equal(hwk_tpm2_keyfile_from_der(d2, len2, &back, NULL), 0);
	assert_int_equal(back.parent, 0xffffffffu);
	free(d2);
	d2 = with_parent(der, len, 0, &len2);
	assert_int_equal(hwk_tpm2_keyfile_from_der(d2, len2, &back, NULL), 0);
	assert_int_equal(back.parent, 0);
	free(d2);
	OPENSSL_free(der);
}

/* 32-bit writers store the handle through a signed long: negative. */
static void
test_parent_negative(void **state)
{
	struct hwk_tpm2_keyfile kf, back;
	static const uint8_t positive[] = { 0x02, 0x05, 0x00, 0x81, 0x00, 0x00,
	    0x01 };
	static const uint8_t negative[] = { 0x02, 0x04, 0x81, 0x00, 0x00,
	    0x01 };
	uint8_t *der = NULL, *d2, *again = NULL;
	size_t len, len2, len3;

	(void)state;
	make_keyfile(&kf, 0, 0x81000001);
	der_of(&kf, &der, &len);
	/* 0x81000001 as ASN1_INTEGER_set((long)0x81000001) writes it. */
	d2 = with_parent(der, len, (int32_t)0x81000001, &len2);
	assert_non_null(memmem(d2, len2, negative, sizeof(negative)));
	assert_null(memmem(d2, len2, positive, sizeof(positive)));
	assert_int_equal(hwk_tpm2_keyfile_from_der(d2, len2, &back, NULL), 0);
	assert_int_equal(back.parent, 0x81000001u);
	assert_int_equal(back.empty_auth, 0);
	assert_memory_equal(back.priv.buffer, kf.priv.buffer, kf.priv.size);
	/* Written back, the handle is a positive INTEGER again. */
	assert_int_equal(hwk_tpm2_keyfile_to_der(&back, &again, &len3), 0);
	assert_non_null(memmem(again, len3, positive, sizeof(positive)));
	assert_null(memmem(again, len3, negative, sizeof(negative)));
	OPENSSL_free(again);
	free(d2);
	/* The owner hierarchy too, and the ends of the signed range. */
	d2 = with_parent(der, len, (int32_t)0x40000001, &len2);
	assert_int_equal(hwk_tpm2_keyfile_from_der(d2, len2, &back, NULL), 0);
	assert_int_equal(back.parent, 0x40000001u);
	free(d2);
	d2 = with_parent(der, len, -1, &len2);
	assert_int_equal(hwk_tpm2_keyfile_from_der(d2, len2, &back, NULL), 0);
	assert_int_equal(back.parent, 0xffffffffu);
	free(d2);
	d2 = with_parent(der, len, INT32_MIN, &len2);
	assert_int_equal(hwk_tpm2_keyfile_from_der(d2, len2, &back, NULL), 0);
	assert_int_equal(back.parent, 0x80000000u);
	free(d2);
	OPENSSL_free(der);
}

static void
test_pem_errors(void **state)
{
	static const char other[] = "-----BEGIN OPENSSH PRIVATE KEY-----\n"
	    "AAAA\n-----END OPENSSH PRIVATE KEY-----\n";
	static const char nobody[] = "\n  -----BEGIN TSS2 PRIVATE KEY-----\n"
	    "MIIB\n";
	static const char badb64[] = "-----BEGIN TSS2 PRIVATE KEY-----\n"
	    "MI*B\n-----END TSS2 PRIVATE KEY-----\n";
	struct hwk_tpm2_keyfile back;

	(void)state;
	assert_false(hwk_tpm2_keyfile_claims((const uint8_t *)other,
	    strlen(other)));
	assert_false(hwk_tpm2_keyfile_claims((const uint8_t *)"", 0));
	assert_int_equal(hwk_tpm2_keyfile_read((const uint8_t *)other,
	    strlen(other), &back, NULL), HWK_ERR_FORMAT);
	/* Leading blank lines are fine; a missing END is a truncation. */
	assert_true(hwk_tpm2_keyfile_claims((const uint8_t *)nobody,
	    strlen(nobody)));
	assert_int_equal(hwk_tpm2_keyfile_read((const uint8_t *)nobody,
	    strlen(nobody), &back, NULL), HWK_ERR_TRUNCATED);
	assert_int_equal(hwk_tpm2_keyfile_read((const uint8_t *)badb64,
	    strlen(badb64), &back, NULL), HWK_ERR_FORMAT);
}

static unsigned long
exponent_of(EVP_PKEY *pkey)
{
	BIGNUM *e = NULL;
	unsigned long v;

	assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E,
	    &e), 1);
	v = BN_get_word(e);
	BN_free(e);
	return v;
}

static void
test_pub_to_evp(void **state)
{
	struct hwk_tpm2_keyfile kf;
	TPMT_PUBLIC *p = &kf.pub.publicArea;
	EVP_PKEY *pkey = NULL;
	const char *why = NULL;

	(void)state;
	make_keyfile(&kf, 1, TPM2_RH_OWNER);
	/* Exponent 0 is the TPM's 65537; the modulus is the key's. */
	assert_int_equal(hwk_tpm2_pub_to_evp(p, &pkey, &why), 0);
	assert_int_equal(EVP_PKEY_get_bits(pkey), 2048);
	assert_int_equal(exponent_of(pkey), 65537);
	assert_int_equal(EVP_PKEY_eq(pkey, rsa_key), 1);
	EVP_PKEY_free(pkey);
	pkey = NULL;
	p->parameters.rsaDetail.exponent = 3;
	assert_int_equal(hwk_tpm2_pub_to_evp(p, &pkey, NULL), 0);
	assert_int_equal(exponent_of(pkey), 3);
	EVP_PKEY_free(pkey);
	pkey = NULL;
	/* What is not an RSA public key of the size it claims is refused. */
	p->parameters.rsaDetail.exponent = 4;
	assert_int_equal(hwk_tpm2_pub_to_evp(p, &pkey, &why), HWK_ERR_FORMAT);
	assert_null(pkey);
	p->parameters.rsaDetail.exponent = 0;
	p->parameters.rsaDetail.keyBits = 3072;
	assert_int_equal(hwk_tpm2_pub_to_evp(p, &pkey, &why), HWK_ERR_FORMAT);
	p->parameters.rsaDetail.keyBits = 2048;
	p->unique.rsa.size = 0;
	assert_int_equal(hwk_tpm2_pub_to_evp(p, &pkey, &why), HWK_ERR_FORMAT);
	p->unique.rsa.size = 256;
	p->type = TPM2_ALG_ECC;
	assert_int_equal(hwk_tpm2_pub_to_evp(p, &pkey, &why),
	    HWK_ERR_KEY_TYPE);
	assert_null(pkey);
}

/* An ECC key in a TPM stub is named as what it is, its point checked. */
static void
test_ecc_pubkey(void **state)
{
	struct hwk_tpm2_keyfile kf;
	TPMT_PUBLIC *p = &kf.pub.publicArea;
	struct hwk_pubkey *pub = NULL;
	EVP_PKEY *ec, *pkey = NULL;
	BIGNUM *x = NULL, *y = NULL;
	uint8_t pt[65];
	size_t ptlen = 0;
	const char *why = NULL;

	(void)state;
	assert_non_null(ec = EVP_EC_gen("P-256"));
	assert_int_equal(EVP_PKEY_get_bn_param(ec, OSSL_PKEY_PARAM_EC_PUB_X,
	    &x), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(ec, OSSL_PKEY_PARAM_EC_PUB_Y,
	    &y), 1);
	assert_int_equal(EVP_PKEY_get_octet_string_param(ec,
	    OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &ptlen), 1);
	assert_int_equal(ptlen, 65);
	memset(&kf, 0, sizeof(kf));
	p->type = TPM2_ALG_ECC;
	p->nameAlg = TPM2_ALG_SHA256;
	p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	/* The TPM may drop leading zero bytes of a coordinate. */
	p->unique.ecc.x.size = (UINT16)BN_num_bytes(x);
	BN_bn2bin(x, p->unique.ecc.x.buffer);
	p->unique.ecc.y.size = (UINT16)BN_num_bytes(y);
	BN_bn2bin(y, p->unique.ecc.y.buffer);

	assert_int_equal(hwk_tpm2_pub_to_pubkey(p, &pub, &why), 0);
	assert_string_equal(pub->type, "ecdsa-sha2-nistp256");
	assert_int_equal(pub->bits, 256);
	assert_string_equal(hwk_pubkey_label(pub), "ECDSA");
	/* string type, string "nistp256", string point: the point last. */
	assert_true(pub->bloblen > 65);
	assert_memory_equal(pub->blob + pub->bloblen - 65, pt, 65);
	hwk_pubkey_free(&pub);

	/* The signing paths take it too: the same key OpenSSL made. */
	assert_int_equal(hwk_tpm2_pub_to_evp(p, &pkey, &why), 0);
	assert_int_equal(EVP_PKEY_eq(pkey, ec), 1);
	EVP_PKEY_free(pkey);
	pkey = NULL;
	/* A point off the curve, a curve SSH lacks: refused. */
	p->unique.ecc.y.buffer[p->unique.ecc.y.size - 1] ^= 1;
	assert_int_equal(hwk_tpm2_pub_to_pubkey(p, &pub, &why),
	    HWK_ERR_FORMAT);
	assert_null(pub);
	p->unique.ecc.y.buffer[p->unique.ecc.y.size - 1] ^= 1;
	p->parameters.eccDetail.curveID = TPM2_ECC_BN_P256;
	assert_int_equal(hwk_tpm2_pub_to_pubkey(p, &pub, &why),
	    HWK_ERR_KEY_TYPE);
	assert_null(pub);
	assert_int_equal(hwk_tpm2_pub_to_evp(p, &pkey, &why),
	    HWK_ERR_KEY_TYPE);
	assert_null(pkey);
	assert_non_null(strstr(why, "curve SSH does not use"));
	BN_free(x);
	BN_free(y);
	EVP_PKEY_free(ec);
}

/* P-384 and P-521 too, and a coordinate longer than its field refused. */
static void
test_ecc_curves(void **state)
{
	static const struct {
		const char	*group;
		unsigned	 bits;
		TPMI_ECC_CURVE	 id;
		const char	*type;
	} t[] = {
		{ "P-384", 384, TPM2_ECC_NIST_P384, "ecdsa-sha2-nistp384" },
		{ "P-521", 521, TPM2_ECC_NIST_P521, "ecdsa-sha2-nistp521" },
	};
	struct hwk_tpm2_keyfile kf;
	TPMT_PUBLIC *p = &kf.pub.publicArea;
	struct hwk_pubkey *pub = NULL;
	EVP_PKEY *ec, *pkey = NULL;
	BIGNUM *x = NULL, *y = NULL;
	size_t i;

	(void)state;
	assert_int_equal(hwk_tpm2_ecc_curve(256), TPM2_ECC_NIST_P256);
	assert_int_equal(hwk_tpm2_ecc_bits(TPM2_ECC_NIST_P256), 256);
	assert_int_equal(hwk_tpm2_ecc_curve(224), TPM2_ECC_NONE);
	assert_int_equal(hwk_tpm2_ecc_bits(TPM2_ECC_BN_P256), 0);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(hwk_tpm2_ecc_curve(t[i].bits), t[i].id);
		assert_int_equal(hwk_tpm2_ecc_bits(t[i].id), t[i].bits);
		assert_non_null(ec = EVP_EC_gen(t[i].group));
		assert_int_equal(EVP_PKEY_get_bn_param(ec,
		    OSSL_PKEY_PARAM_EC_PUB_X, &x), 1);
		assert_int_equal(EVP_PKEY_get_bn_param(ec,
		    OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
		memset(&kf, 0, sizeof(kf));
		p->type = TPM2_ALG_ECC;
		p->nameAlg = TPM2_ALG_SHA256;
		p->parameters.eccDetail.curveID = t[i].id;
		p->unique.ecc.x.size = (UINT16)BN_num_bytes(x);
		BN_bn2bin(x, p->unique.ecc.x.buffer);
		p->unique.ecc.y.size = (UINT16)BN_num_bytes(y);
		BN_bn2bin(y, p->unique.ecc.y.buffer);
		assert_int_equal(hwk_tpm2_pub_to_pubkey(p, &pub, NULL), 0);
		assert_string_equal(pub->type, t[i].type);
		assert_int_equal(pub->bits, t[i].bits);
		hwk_pubkey_free(&pub);
		assert_int_equal(hwk_tpm2_pub_to_evp(p, &pkey, NULL), 0);
		assert_int_equal(EVP_PKEY_eq(pkey, ec), 1);
		EVP_PKEY_free(pkey);
		pkey = NULL;
		/* One byte more than the field: not a point of this curve. */
		p->unique.ecc.x.size = (UINT16)((t[i].bits + 7) / 8 + 1);
		assert_int_equal(hwk_tpm2_pub_to_evp(p, &pkey, NULL),
		    HWK_ERR_FORMAT);
		assert_null(pkey);
		BN_free(x);
		BN_free(y);
		x = y = NULL;
		EVP_PKEY_free(ec);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_no_password),
		cmocka_unit_test(test_ecc_pubkey),
		cmocka_unit_test(test_ecc_curves),
		cmocka_unit_test(test_roundtrip_password_persistent),
		cmocka_unit_test(test_empty_auth_absent),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_wrong_tags),
		cmocka_unit_test(test_other_oid),
		cmocka_unit_test(test_oversize_lengths),
		cmocka_unit_test(test_trailing_and_extra),
		cmocka_unit_test(test_parent_range),
		cmocka_unit_test(test_parent_negative),
		cmocka_unit_test(test_pem_errors),
		cmocka_unit_test(test_pub_to_evp),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
