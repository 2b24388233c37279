/* Unit tests of SSH public keys against what ssh-keygen printed (fixtures). */
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

/* Our "bits fp comment (TYPE)" line and art for a .pub line. */
static char *
lv_of(const char *publine)
{
	struct hwk_pubkey *k = NULL;
	char fp[HWK_FP_LEN], *art = NULL, *out = NULL;
	uint8_t d[32];

	assert_int_equal(hwk_pubkey_from_line(publine, &k), 0);
	assert_int_equal(hwk_fingerprint(k->blob, k->bloblen, fp, d), 0);
	assert_int_equal(hwk_randomart(d, sizeof(d), hwk_pubkey_label(k),
	    k->bits, "SHA256", &art), 0);
	assert_true(asprintf(&out, "%u %s %s (%s)\n%s\n", k->bits, fp,
	    k->comment != NULL ? k->comment : "no comment",
	    hwk_pubkey_label(k), art) > 0);
	free(art);
	hwk_pubkey_free(&k);
	return out;
}

static void
check_fixture(const char *name)
{
	char path[256], *pub, *want, *got, *line;
	struct hwk_pubkey *k = NULL;

	snprintf(path, sizeof(path), "%s.key.pub", name);
	pub = fixture_read(path, NULL);
	snprintf(path, sizeof(path), "%s.lv.out", name);
	want = fixture_read(path, NULL);
	got = lv_of(pub);
	assert_string_equal(got, want);
	/* The line we format is the line ssh-keygen wrote. */
	assert_int_equal(hwk_pubkey_from_line(pub, &k), 0);
	assert_int_equal(hwk_pubkey_format(k, 1, &line), 0);
	pub[strcspn(pub, "\n")] = '\0';
	assert_string_equal(line, pub);
	free(line);
	hwk_pubkey_free(&k);
	free(got);
	free(want);
	free(pub);
}

static void
test_rsa2048(void **state)
{
	(void)state;
	check_fixture("rsa2048");
}

static void
test_rsa3072(void **state)
{
	(void)state;
	check_fixture("rsa3072-enc");
}

static void
test_ed25519(void **state)
{
	(void)state;
	check_fixture("ed25519");
}

static void
test_ecdsa384(void **state)
{
	(void)state;
	check_fixture("ecdsa384");
}

/* ssh-keygen's ECDSA keys on each curve, and keys with a passphrase. */
static void
test_ec_fixtures(void **state)
{
	(void)state;
	check_fixture("ecdsa256");
	check_fixture("ecdsa521");
	check_fixture("ecdsa256-enc");
	check_fixture("ecdsa521-enc");
	check_fixture("ed25519-enc");
}

static void
test_sk_ed25519(void **state)
{
	(void)state;
	check_fixture("sk-ed25519");
}

static void
test_empty_comment(void **state)
{
	char *pub = fixture_read("rsa2048-enc24.key.pub", NULL);
	char *want = fixture_read("rsa2048-enc24.lv.out", NULL);
	char *got = lv_of(pub);

	(void)state;
	assert_string_equal(got, want);	/* "no comment" */
	free(got);
	free(want);
	free(pub);
	pub = fixture_read("ecdsa384-enc.key.pub", NULL);
	want = fixture_read("ecdsa384-enc.lv.out", NULL);
	got = lv_of(pub);
	assert_string_equal(got, want);
	free(got);
	free(want);
	free(pub);
}

/* Keys whose walks pile up: every symbol and the cap at 14. */
static void
test_randomart_corpus(void **state)
{
	char *pubs = fixture_read("randomart.pub", NULL);
	char *want = fixture_read("randomart.lv.out", NULL);
	char *all = calloc(1, 1), *line, *got, *tmp;
	int i;

	(void)state;
	for (i = 0; (line = fixture_line(pubs, i)) != NULL; i++) {
		got = lv_of(line);
		assert_true(asprintf(&tmp, "%s%s", all, got) > 0);
		free(all);
		all = tmp;
		free(got);
		free(line);
	}
	assert_true(i >= 20);
	assert_string_equal(all, want);
	assert_non_null(strchr(want, '^'));	/* the corpus reaches the cap */
	free(all);
	free(pubs);
	free(want);
}

static void
test_randomart_title(void **state)
{
	uint8_t d[32];
	char *art;

	(void)state;
	memset(d, 0, sizeof(d));
	/* A title too long for the border falls back to the type alone. */
	assert_int_equal(hwk_randomart(d, sizeof(d), "ECDSA-SK-CERT", 256,
	    "SHA256", &art), 0);
	assert_memory_equal(art, "+-[ECDSA-SK-CERT]-+\n", 20);
	free(art);
}

static void
test_blob_roundtrip(void **state)
{
	struct hwk_pubkey *k = NULL, *k2 = NULL;
	EVP_PKEY *pk = NULL;
	char *pub = fixture_read("rsa2048.key.pub", NULL);

	(void)state;
	assert_int_equal(hwk_pubkey_from_line(pub, &k), 0);
	assert_int_equal(hwk_pubkey_to_evp(k, &pk), 0);
	assert_int_equal(hwk_rsa_bits(pk), 2048);
	assert_int_equal(hwk_pubkey_from_evp(pk, "c", &k2), 0);
	assert_int_equal(k2->bloblen, k->bloblen);
	assert_memory_equal(k2->blob, k->blob, k->bloblen);
	EVP_PKEY_free(pk);
	hwk_pubkey_free(&k);
	hwk_pubkey_free(&k2);
	free(pub);
}

/* .pub line -> OpenSSL key -> blob: the same blob, type and size. */
static void
check_ec_roundtrip(const char *name)
{
	struct hwk_pubkey *k = NULL, *k2 = NULL;
	EVP_PKEY *pk = NULL;
	char *pub = fixture_read(name, NULL);

	assert_int_equal(hwk_pubkey_from_line(pub, &k), 0);
	assert_int_equal(hwk_pubkey_to_evp(k, &pk), 0);
	assert_string_equal(hwk_pkey_ssh_type(pk), k->type);
	assert_int_equal(hwk_pkey_bits(pk), k->bits);
	assert_int_equal(hwk_pubkey_from_evp(pk, "c", &k2), 0);
	assert_string_equal(k2->type, k->type);
	assert_int_equal(k2->bits, k->bits);
	assert_int_equal(k2->bloblen, k->bloblen);
	assert_memory_equal(k2->blob, k->blob, k->bloblen);
	EVP_PKEY_free(pk);
	hwk_pubkey_free(&k);
	hwk_pubkey_free(&k2);
	free(pub);
}

static void
test_ec_blob_roundtrip(void **state)
{
	(void)state;
	check_ec_roundtrip("ecdsa256.key.pub");
	check_ec_roundtrip("ecdsa384.key.pub");
	check_ec_roundtrip("ecdsa521.key.pub");
	check_ec_roundtrip("ed25519.key.pub");
	check_ec_roundtrip("ed25519-enc.key.pub");
	check_ec_roundtrip("rsa2048.key.pub");
}

/* OpenSSL's new keys -> blob -> OpenSSL: the same public key. */
static void
test_evp_roundtrip(void **state)
{
	static const char *const groups[] = { "P-256", "P-384", "P-521", NULL };
	static const unsigned bits[] = { 256, 384, 521 };
	struct hwk_pubkey *k = NULL;
	EVP_PKEY *key, *back = NULL;
	int i;

	(void)state;
	for (i = 0; groups[i] != NULL; i++) {
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", groups[i]);
		assert_non_null(key);
		assert_int_equal(hwk_ecdsa_bits(key), bits[i]);
		assert_int_equal(hwk_pubkey_from_evp(key, NULL, &k), 0);
		assert_int_equal(k->bits, bits[i]);
		/* type, curve, Q = 04 || X || Y */
		assert_int_equal(k->bloblen, 4 + 19 + 4 + 8 + 4 + 1 +
		    2 * ((bits[i] + 7) / 8));
		assert_int_equal(hwk_pubkey_to_evp(k, &back), 0);
		assert_int_equal(EVP_PKEY_eq(key, back), 1);
		EVP_PKEY_free(key);
		EVP_PKEY_free(back);
		hwk_pubkey_free(&k);
	}
	key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_int_equal(hwk_ecdsa_bits(key), 0);
	assert_int_equal(hwk_pkey_bits(key), 256);
	assert_int_equal(hwk_pubkey_from_evp(key, NULL, &k), 0);
	assert_int_equal(k->bloblen, 4 + 11 + 4 + 32);
	assert_int_equal(hwk_pubkey_to_evp(k, &back), 0);
	assert_int_equal(EVP_PKEY_eq(key, back), 1);
	EVP_PKEY_free(key);
	EVP_PKEY_free(back);
	hwk_pubkey_free(&k);
	/* Curves and types SSH has no name for. */
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	assert_null(hwk_pkey_ssh_type(key));
	assert_int_equal(hwk_pubkey_from_evp(key, NULL, &k), HWK_ERR_KEY_TYPE);
	EVP_PKEY_free(key);
	key = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	assert_int_equal(hwk_pubkey_from_evp(key, NULL, &k), HWK_ERR_KEY_TYPE);
	EVP_PKEY_free(key);
}

/* An ECDSA blob of the given parts, as hwk_pubkey (which checks little). */
static int
ec_blob_to_evp(const char *type, const char *curve, const uint8_t *q,
    size_t qlen)
{
	struct hwk_buf *b = hwk_buf_new();
	struct hwk_pubkey *k = NULL;
	EVP_PKEY *pk = (EVP_PKEY *)1;
	int r;

	assert_int_equal(hwk_buf_put_cstring(b, type), 0);
	assert_int_equal(hwk_buf_put_cstring(b, curve), 0);
	assert_int_equal(hwk_buf_put_string(b, q, qlen), 0);
	assert_int_equal(hwk_pubkey_from_blob(hwk_buf_ptr(b), hwk_buf_len(b),
	    NULL, &k), 0);
	r = hwk_pubkey_to_evp(k, &pk);
	if (r == 0)
		EVP_PKEY_free(pk);
	else
		assert_null(pk);
	hwk_pubkey_free(&k);
	hwk_buf_free(&b);
	return r;
}

static void
test_ec_bad_blobs(void **state)
{
	struct hwk_pubkey *k = NULL;
	struct hwk_buf *b;
	const uint8_t *q;
	uint8_t mod[65];
	char *pub = fixture_read("ecdsa256.key.pub", NULL);
	size_t qlen;

	(void)state;
	assert_int_equal(hwk_pubkey_from_line(pub, &k), 0);
	b = hwk_buf_from(k->blob, k->bloblen);
	assert_int_equal(hwk_buf_get_string_direct(b, NULL, NULL), 0);
	assert_int_equal(hwk_buf_get_string_direct(b, NULL, NULL), 0);
	assert_int_equal(hwk_buf_get_string_direct(b, &q, &qlen), 0);
	assert_int_equal(qlen, sizeof(mod));
	assert_int_equal(ec_blob_to_evp("ecdsa-sha2-nistp256", "nistp256", q,
	    qlen), 0);
	/* The curve must be the type's, and one of the three. */
	assert_int_equal(ec_blob_to_evp("ecdsa-sha2-nistp256", "nistp384", q,
	    qlen), HWK_ERR_FORMAT);
	assert_int_equal(ec_blob_to_evp("ecdsa-sha2-nistp256", "nistp255", q,
	    qlen), HWK_ERR_FORMAT);
	/* Q: uncompressed, whole, on the curve. */
	assert_int_equal(ec_blob_to_evp("ecdsa-sha2-nistp256", "nistp256", q,
	    qlen - 1), HWK_ERR_FORMAT);
	memcpy(mod, q, qlen);
	mod[0] = 0x02 | (q[qlen - 1] & 1);
	assert_int_equal(ec_blob_to_evp("ecdsa-sha2-nistp256", "nistp256", mod,
	    33), HWK_ERR_FORMAT);
	memcpy(mod, q, qlen);
	mod[64] ^= 1;
	assert_int_equal(ec_blob_to_evp("ecdsa-sha2-nistp256", "nistp256", mod,
	    qlen), HWK_ERR_FORMAT);
	memset(mod, 0, sizeof(mod));
	mod[0] = 0x04;
	assert_int_equal(ec_blob_to_evp("ecdsa-sha2-nistp256", "nistp256", mod,
	    qlen), HWK_ERR_FORMAT);
	hwk_buf_free(&b);
	hwk_pubkey_free(&k);
	free(pub);
}

static void
test_bad_lines(void **state)
{
	struct hwk_pubkey *k = (struct hwk_pubkey *)1;
	char *pub = fixture_read("rsa2048.key.pub", NULL), *b64, *bad;
	struct hwk_buf *blob = hwk_buf_new(), *cut;
	size_t n, i;

	(void)state;
	assert_int_equal(hwk_pubkey_from_line("", &k), HWK_ERR_FORMAT);
	assert_null(k);
	assert_int_equal(hwk_pubkey_from_line("ssh-rsa", &k), HWK_ERR_FORMAT);
	assert_int_equal(hwk_pubkey_from_line("ssh-rsa !!!!", &k),
	    HWK_ERR_FORMAT);
	/* The label must name the blob's type. */
	bad = strdup(pub);
	memcpy(bad, "ssh-dss", 7);
	assert_int_equal(hwk_pubkey_from_line(bad, &k), HWK_ERR_FORMAT);
	free(bad);
	/* Every truncation of the blob is refused. */
	b64 = strchr(pub, ' ') + 1;
	n = strcspn(b64, " ");
	assert_int_equal(hwk_base64_decode(b64, n, blob), 0);
	for (i = 0; i < hwk_buf_len(blob); i++) {
		assert_int_not_equal(hwk_pubkey_from_blob(hwk_buf_ptr(blob), i,
		    NULL, &k), 0);
		assert_null(k);
	}
	/* And trailing bytes. */
	cut = hwk_buf_new();
	assert_int_equal(hwk_buf_putb(cut, blob), 0);
	assert_int_equal(hwk_buf_put_u8(cut, 0), 0);
	assert_int_equal(hwk_pubkey_from_blob(hwk_buf_ptr(cut),
	    hwk_buf_len(cut), NULL, &k), HWK_ERR_FORMAT);
	/* An unknown type. */
	hwk_buf_reset(cut);
	assert_int_equal(hwk_buf_put_cstring(cut, "ssh-foo"), 0);
	assert_int_equal(hwk_pubkey_from_blob(hwk_buf_ptr(cut),
	    hwk_buf_len(cut), NULL, &k), HWK_ERR_KEY_TYPE);
	hwk_buf_free(&cut);
	hwk_buf_free(&blob);
	free(pub);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsa2048),
		cmocka_unit_test(test_rsa3072),
		cmocka_unit_test(test_ed25519),
		cmocka_unit_test(test_ecdsa384),
		cmocka_unit_test(test_ec_fixtures),
		cmocka_unit_test(test_sk_ed25519),
		cmocka_unit_test(test_empty_comment),
		cmocka_unit_test(test_randomart_corpus),
		cmocka_unit_test(test_randomart_title),
		cmocka_unit_test(test_blob_roundtrip),
		cmocka_unit_test(test_ec_blob_roundtrip),
		cmocka_unit_test(test_evp_roundtrip),
		cmocka_unit_test(test_ec_bad_blobs),
		cmocka_unit_test(test_bad_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
