/*
 * Unit tests of ECDSA and Ed25519 keys in openssh-key-v1 files: keys made
 * by OpenSSL written and read back, and private sections of ssh-keygen's
 * keys cut or damaged in each field of the key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "hwkey/openssh_key.h"
#include "hwkey/sshkey.h"
#include "fixture.h"

static const struct {
	const char	*name;
	const char	*comment;
} plain[] = {
	{ "ecdsa256.key", "ecdsa256 fixture" },
	{ "ecdsa384.key", "ecdsa fixture" },
	{ "ecdsa521.key", "ecdsa521 fixture" },
	{ "ed25519.key", "ed25519 fixture" },
};

/*
 * An unencrypted fixture cut in two around its private section: head runs
 * to the section's length, priv is the section itself.
 */
struct file {
	struct hwk_buf	*body;
	const uint8_t	*priv;
	size_t		 headlen;
	size_t		 privlen;
	size_t		 keystart;	/* after the check words */
	size_t		 keyend;	/* where the comment starts */
};

static void
file_open(struct file *f, const char *name, const char *comment)
{
	struct hwk_buf *b;
	char *text;
	size_t len;
	uint32_t enclen;

	memset(f, 0, sizeof(*f));
	text = fixture_read(name, &len);
	f->body = hwk_buf_new();
	assert_int_equal(hwk_pem_decode(text, len, HWK_OPENSSH_LABEL,
	    f->body), 0);
	free(text);
	b = hwk_buf_from(hwk_buf_ptr(f->body), hwk_buf_len(f->body));
	assert_int_equal(hwk_buf_consume(b, 15), 0);		/* magic */
	assert_int_equal(hwk_buf_get_string_direct(b, NULL, NULL), 0);
	assert_int_equal(hwk_buf_get_string_direct(b, NULL, NULL), 0);
	assert_int_equal(hwk_buf_get_string_direct(b, NULL, NULL), 0);
	assert_int_equal(hwk_buf_consume(b, 4), 0);		/* nkeys */
	assert_int_equal(hwk_buf_get_string_direct(b, NULL, NULL), 0);
	f->headlen = hwk_buf_len(f->body) - hwk_buf_len(b);
	assert_int_equal(hwk_buf_get_u32(b, &enclen), 0);
	assert_int_equal(enclen, hwk_buf_len(b));
	f->priv = hwk_buf_ptr(b);
	f->privlen = enclen;
	f->keystart = 8;
	/* The padding counts itself in its last byte. */
	f->keyend = enclen - f->priv[enclen - 1] - 4 - strlen(comment);
	hwk_buf_free(&b);
}

/* The file with priv in place of the private section, padded again. */
static struct hwk_buf *
file_with(const struct file *f, const uint8_t *priv, size_t len)
{
	struct hwk_buf *t = hwk_buf_new(), *out = hwk_buf_new();
	size_t pad = (8 - len % 8) % 8, i;

	assert_int_equal(hwk_buf_put(t, hwk_buf_ptr(f->body), f->headlen), 0);
	assert_int_equal(hwk_buf_put_u32(t, (uint32_t)(len + pad)), 0);
	assert_int_equal(hwk_buf_put(t, priv, len), 0);
	for (i = 1; i <= pad; i++)
		assert_int_equal(hwk_buf_put_u8(t, (uint8_t)i), 0);
	assert_int_equal(hwk_pem_encode(out, HWK_OPENSSH_LABEL,
	    hwk_buf_ptr(t), hwk_buf_len(t), 70), 0);
	hwk_buf_free(&t);
	return out;
}

/* What a damaged file may give: a length read from padding can be huge. */
static int
damaged(int r)
{
	return r == HWK_ERR_FORMAT || r == HWK_ERR_TRUNCATED ||
	    r == HWK_ERR_TOO_LARGE;
}

static int
read_file(const struct hwk_buf *t)
{
	struct hwk_openssh_info info;
	EVP_PKEY *key = (EVP_PKEY *)1;
	int r;

	r = hwk_openssh_read(hwk_buf_ptr(t), hwk_buf_len(t), NULL, &key, NULL,
	    &info);
	if (r == 0)
		EVP_PKEY_free(key);
	else
		assert_null(key);
	hwk_openssh_info_clear(&info);
	return r;
}

/* Each field of the key cut short: the padding runs into it. */
static void
test_field_truncations(void **state)
{
	struct hwk_buf *t;
	struct file f;
	size_t i, cut;
	int r;

	(void)state;
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		file_open(&f, plain[i].name, plain[i].comment);
		/* The whole section read back is the fixture itself. */
		t = file_with(&f, f.priv, f.keyend + 4 +
		    strlen(plain[i].comment));
		assert_int_equal(read_file(t), 0);
		hwk_buf_free(&t);
		for (cut = f.keystart; cut < f.keyend + 4; cut++) {
			t = file_with(&f, f.priv, cut);
			r = read_file(t);
			if (!damaged(r))
				fail_msg("%s cut at %zu: %d", plain[i].name,
				    cut, r);
			hwk_buf_free(&t);
		}
		hwk_buf_free(&f.body);
	}
}

/* One bit flipped in any byte of the key: never a key. */
static void
test_field_corruptions(void **state)
{
	struct hwk_buf *t;
	struct file f;
	uint8_t *mod;
	size_t i, at;
	int r;

	(void)state;
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		file_open(&f, plain[i].name, plain[i].comment);
		mod = malloc(f.privlen);
		for (at = f.keystart; at < f.keyend; at++) {
			memcpy(mod, f.priv, f.privlen);
			mod[at] ^= (uint8_t)(1u << (at % 8));
			t = file_with(&f, mod, f.privlen);
			r = read_file(t);
			if (!damaged(r))
				fail_msg("%s bit flipped at %zu: %d",
				    plain[i].name, at, r);
			hwk_buf_free(&t);
		}
		free(mod);
		hwk_buf_free(&f.body);
	}
}

/* A key of the header's type but another key: refused. */
static void
test_other_key_inside(void **state)
{
	struct hwk_buf *t;
	struct file a, b;

	(void)state;
	file_open(&a, "ecdsa256.key", "ecdsa256 fixture");
	file_open(&b, "ecdsa384.key", "ecdsa fixture");
	/* 384's section under 256's header. */
	t = file_with(&a, b.priv, b.privlen);
	assert_int_equal(read_file(t), HWK_ERR_FORMAT);
	hwk_buf_free(&t);
	hwk_buf_free(&a.body);
	hwk_buf_free(&b.body);
}

static EVP_PKEY *
new_key(const char *type)
{
	EVP_PKEY *k;

	if (strcmp(type, "ED25519") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", type);
	assert_non_null(k);
	return k;
}

static void
roundtrip(const char *type, const char *pass, unsigned bits)
{
	struct hwk_openssh_opts o;
	struct hwk_openssh_info info;
	struct hwk_buf *out = hwk_buf_new(), *again = hwk_buf_new();
	EVP_PKEY *key = new_key(type), *back = NULL;
	char *c = NULL;

	memset(&o, 0, sizeof(o));
	o.passphrase = pass;
	o.rounds = 1;
	assert_int_equal(hwk_openssh_write(key, "new key", &o, out), 0);
	assert_int_equal(hwk_openssh_read(hwk_buf_ptr(out), hwk_buf_len(out),
	    pass, &back, &c, &info), 0);
	assert_string_equal(c, "new key");
	assert_string_equal(info.cipher, pass != NULL ? "aes256-ctr" : "none");
	assert_int_equal(info.pub->bits, bits);
	assert_int_equal(hwk_pkey_bits(back), bits);
	assert_int_equal(EVP_PKEY_eq(key, back), 1);
	/* The private half too: written again, the same file. */
	o.salt = info.saltlen == HWK_KDF_SALT_LEN ? info.salt : NULL;
	o.fixed_check = 1;
	o.check = info.check;
	assert_int_equal(hwk_openssh_write(back, c, &o, again), 0);
	assert_int_equal(hwk_buf_len(again), hwk_buf_len(out));
	assert_memory_equal(hwk_buf_ptr(again), hwk_buf_ptr(out),
	    hwk_buf_len(out));
	hwk_openssh_info_clear(&info);
	EVP_PKEY_free(key);
	EVP_PKEY_free(back);
	hwk_buf_free(&out);
	hwk_buf_free(&again);
	free(c);
}

static void
test_roundtrip_new_keys(void **state)
{
	(void)state;
	roundtrip("P-256", NULL, 256);
	roundtrip("P-384", NULL, 384);
	roundtrip("P-521", NULL, 521);
	roundtrip("ED25519", NULL, 256);
	roundtrip("P-256", "pass", 256);
	roundtrip("P-384", "pass", 384);
	roundtrip("P-521", "pass", 521);
	roundtrip("ED25519", "pass", 256);
}

/* Keys SSH has no name for, or public halves only, are not written. */
static void
test_write_refused(void **state)
{
	struct hwk_openssh_opts o;
	struct hwk_buf *out = hwk_buf_new();
	struct hwk_pubkey *pub = NULL;
	EVP_PKEY *k, *pk = NULL;

	(void)state;
	memset(&o, 0, sizeof(o));
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	assert_non_null(k);
	assert_int_equal(hwk_openssh_write(k, "c", &o, out), HWK_ERR_KEY_TYPE);
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	assert_non_null(k);
	assert_int_equal(hwk_openssh_write(k, "c", &o, out), HWK_ERR_KEY_TYPE);
	EVP_PKEY_free(k);
	k = new_key("P-256");
	assert_int_equal(hwk_pubkey_from_evp(k, NULL, &pub), 0);
	assert_int_equal(hwk_pubkey_to_evp(pub, &pk), 0);
	assert_int_not_equal(hwk_openssh_write(pk, "c", &o, out), 0);
	EVP_PKEY_free(k);
	EVP_PKEY_free(pk);
	hwk_pubkey_free(&pub);
	hwk_buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_field_truncations),
		cmocka_unit_test(test_field_corruptions),
		cmocka_unit_test(test_other_key_inside),
		cmocka_unit_test(test_roundtrip_new_keys),
		cmocka_unit_test(test_write_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
