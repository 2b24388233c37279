/* Unit tests of SSH public keys against what ssh-keygen printed (fixtures). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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
		cmocka_unit_test(test_sk_ed25519),
		cmocka_unit_test(test_empty_comment),
		cmocka_unit_test(test_randomart_corpus),
		cmocka_unit_test(test_randomart_title),
		cmocka_unit_test(test_blob_roundtrip),
		cmocka_unit_test(test_bad_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
