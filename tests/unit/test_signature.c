/*
 * Unit tests of the SSH signature encoder (hwk_sig_put_blob): the bytes it
 * writes, and signatures OpenSSL checks once decoded back by hand here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "fixture.h"

static const uint8_t data[] = "data to sign";

/* The signature's name and bytes: string alg, string sig, nothing more. */
static struct hwk_buf *
decode(const struct hwk_buf *blob, const char *want_alg)
{
	struct hwk_buf *b = hwk_buf_from(hwk_buf_ptr(blob), hwk_buf_len(blob));
	struct hwk_buf *sig = NULL;
	char *alg = NULL;

	assert_int_equal(hwk_buf_get_cstring(b, &alg, NULL), 0);
	assert_string_equal(alg, want_alg);
	assert_int_equal(hwk_buf_get_stringb(b, &sig), 0);
	assert_int_equal(hwk_buf_len(b), 0);
	hwk_buf_free(&b);
	free(alg);
	return sig;
}

/* mpint r, mpint s back to the DER OpenSSL verifies. */
static uint8_t *
ecdsa_der(struct hwk_buf *sig, int *derlenp)
{
	const uint8_t *r, *s;
	size_t rlen, slen;
	ECDSA_SIG *es = ECDSA_SIG_new();
	uint8_t *der = NULL;

	assert_int_equal(hwk_buf_get_mpint_direct(sig, &r, &rlen), 0);
	assert_int_equal(hwk_buf_get_mpint_direct(sig, &s, &slen), 0);
	assert_int_equal(hwk_buf_len(sig), 0);
	assert_int_equal(ECDSA_SIG_set0(es, BN_bin2bn(r, (int)rlen, NULL),
	    BN_bin2bn(s, (int)slen, NULL)), 1);
	*derlenp = i2d_ECDSA_SIG(es, &der);
	assert_true(*derlenp > 0);
	ECDSA_SIG_free(es);
	return der;
}

static void
verify(EVP_PKEY *key, const EVP_MD *md, const uint8_t *sig, size_t len)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();

	assert_int_equal(EVP_DigestVerifyInit(m, NULL, md, NULL, key), 1);
	assert_int_equal(EVP_DigestVerify(m, sig, len, data, sizeof(data)), 1);
	EVP_MD_CTX_free(m);
}

static uint8_t *
openssl_sign(EVP_PKEY *key, const EVP_MD *md, size_t *lenp)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	uint8_t *sig;

	assert_int_equal(EVP_DigestSignInit(m, NULL, md, NULL, key), 1);
	assert_int_equal(EVP_DigestSign(m, NULL, lenp, data, sizeof(data)), 1);
	sig = malloc(*lenp);
	assert_int_equal(EVP_DigestSign(m, sig, lenp, data, sizeof(data)), 1);
	EVP_MD_CTX_free(m);
	return sig;
}

/* OpenSSL's DER as the r || s a device gives. */
static void
der_to_raw(const uint8_t *der, size_t len, uint8_t *raw, size_t half)
{
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &der, (long)len);
	const BIGNUM *r, *s;

	assert_non_null(es);
	ECDSA_SIG_get0(es, &r, &s);
	assert_int_equal(BN_bn2binpad(r, raw, (int)half), (int)half);
	assert_int_equal(BN_bn2binpad(s, raw + half, (int)half), (int)half);
	ECDSA_SIG_free(es);
}

static void
test_ecdsa_verifies(void **state)
{
	static const char *const groups[] = { "P-256", "P-384", "P-521" };
	static const unsigned bits[] = { 256, 384, 521 };
	struct hwk_buf *blob, *sig;
	EVP_PKEY *key;
	uint8_t *der, raw[132];
	size_t derlen, half;
	char type[32];
	int i, n, len;

	(void)state;
	for (i = 0; i < 3; i++) {
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", groups[i]);
		half = (bits[i] + 7) / 8;
		snprintf(type, sizeof(type), "ecdsa-sha2-nistp%u", bits[i]);
		/* Several, so r or s sometimes has leading zeros. */
		for (n = 0; n < 8; n++) {
			der = openssl_sign(key, hwk_ecdsa_md(bits[i]), &derlen);
			der_to_raw(der, derlen, raw, half);
			free(der);
			blob = hwk_buf_new();
			assert_int_equal(hwk_sig_put_blob(key, n % 2 ? type :
			    NULL, raw, 2 * half, blob), 0);
			sig = decode(blob, type);
			der = ecdsa_der(sig, &len);
			verify(key, hwk_ecdsa_md(bits[i]), der, (size_t)len);
			OPENSSL_free(der);
			hwk_buf_free(&sig);
			hwk_buf_free(&blob);
		}
		EVP_PKEY_free(key);
	}
}

/* r and s as mpints: leading zeros dropped, a zero before a high bit. */
static void
test_ecdsa_bytes(void **state)
{
	static const uint8_t want[] = {
		0, 0, 0, 42,			/* the string */
		0, 0, 0, 31, 0, 0x80,		/* r: 30 bytes and a zero */
		0, 0, 0, 3, 0x7f, 0x01, 0x02,	/* s: 3 bytes */
	};
	struct hwk_buf *blob = hwk_buf_new(), *sig;
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	uint8_t raw[64];

	(void)state;
	memset(raw, 0, sizeof(raw));
	raw[2] = 0x80;
	memset(raw + 3, 0x55, 29);
	raw[61] = 0x7f;
	raw[62] = 0x01;
	raw[63] = 0x02;
	assert_int_equal(hwk_sig_put_blob(key, "ecdsa-sha2-nistp256", raw,
	    sizeof(raw), blob), 0);
	sig = decode(blob, "ecdsa-sha2-nistp256");
	assert_int_equal(hwk_buf_len(sig), 4 + 31 + 4 + 3);
	assert_memory_equal(hwk_buf_ptr(blob) + 4 + 19, want, 10);
	assert_memory_equal(hwk_buf_ptr(sig) + 4 + 31, want + 10, 7);
	hwk_buf_free(&sig);
	hwk_buf_free(&blob);
	/* Only the sign op's form: both halves as long as the field. */
	blob = hwk_buf_new();
	assert_int_equal(hwk_sig_put_blob(key, NULL, raw, 63, blob),
	    HWK_ERR_INTERNAL);
	assert_int_equal(hwk_sig_put_blob(key, NULL, raw, 0, blob),
	    HWK_ERR_INTERNAL);
	assert_int_equal(hwk_sig_put_blob(key, "ecdsa-sha2-nistp384", raw, 64,
	    blob), HWK_ERR_INVALID_ARG);
	assert_int_equal(hwk_sig_put_blob(key, "rsa-sha2-256", raw, 64, blob),
	    HWK_ERR_INVALID_ARG);
	hwk_buf_free(&blob);
	EVP_PKEY_free(key);
}

static void
test_ed25519(void **state)
{
	struct hwk_buf *blob = hwk_buf_new(), *sig;
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	uint8_t *raw;
	size_t len;

	(void)state;
	raw = openssl_sign(key, NULL, &len);
	assert_int_equal(len, 64);
	assert_int_equal(hwk_sig_put_blob(key, NULL, raw, len, blob), 0);
	assert_int_equal(hwk_buf_len(blob), 4 + 11 + 4 + 64);
	sig = decode(blob, "ssh-ed25519");
	verify(key, NULL, hwk_buf_ptr(sig), hwk_buf_len(sig));
	hwk_buf_free(&sig);
	hwk_buf_reset(blob);
	assert_int_equal(hwk_sig_put_blob(key, "ssh-ed25519", raw, len, blob),
	    0);
	assert_int_equal(hwk_sig_put_blob(key, NULL, raw, 63, blob),
	    HWK_ERR_INTERNAL);
	assert_int_equal(hwk_sig_put_blob(key, "ssh-rsa", raw, len, blob),
	    HWK_ERR_INVALID_ARG);
	free(raw);
	hwk_buf_free(&blob);
	EVP_PKEY_free(key);
}

/* RSA as the agent sends it: zeros in front up to the modulus's length. */
static void
test_rsa(void **state)
{
	struct hwk_pubkey *pub = NULL;
	struct hwk_buf *blob = hwk_buf_new(), *sig;
	EVP_PKEY *key = NULL;
	char *line = fixture_read("rsa2048.key.pub", NULL);
	uint8_t raw[257];

	(void)state;
	assert_int_equal(hwk_pubkey_from_line(line, &pub), 0);
	assert_int_equal(hwk_pubkey_to_evp(pub, &key), 0);
	memset(raw, 0xa5, sizeof(raw));
	assert_int_equal(hwk_sig_put_blob(key, "rsa-sha2-512", raw, 255, blob),
	    0);
	sig = decode(blob, "rsa-sha2-512");
	assert_int_equal(hwk_buf_len(sig), 256);
	assert_int_equal(hwk_buf_ptr(sig)[0], 0);
	assert_memory_equal(hwk_buf_ptr(sig) + 1, raw, 255);
	hwk_buf_free(&sig);
	assert_int_equal(hwk_sig_put_blob(key, "rsa-sha2-256", raw, 257, blob),
	    HWK_ERR_INTERNAL);
	assert_int_equal(hwk_sig_put_blob(key, NULL, raw, 256, blob),
	    HWK_ERR_INVALID_ARG);
	assert_int_equal(hwk_sig_put_blob(key, "ssh-ed25519", raw, 256, blob),
	    HWK_ERR_INVALID_ARG);
	EVP_PKEY_free(key);
	/* A key SSH has no signature for. */
	key = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	assert_int_equal(hwk_sig_put_blob(key, NULL, raw, 32, blob),
	    HWK_ERR_KEY_TYPE);
	EVP_PKEY_free(key);
	hwk_pubkey_free(&pub);
	hwk_buf_free(&blob);
	free(line);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ecdsa_verifies),
		cmocka_unit_test(test_ecdsa_bytes),
		cmocka_unit_test(test_ed25519),
		cmocka_unit_test(test_rsa),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
