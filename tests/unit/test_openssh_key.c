/*
 * Unit tests of the openssh-key-v1 reader and writer against keys that
 * ssh-keygen wrote: we read them, and writing them again with the same
 * random parts gives the same file, byte for byte.
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

/* Reads a fixture and writes it back with its salt, rounds and check. */
static void
rewrite(const char *name, const char *pass, const char *comment,
    unsigned rounds)
{
	struct hwk_openssh_info info;
	struct hwk_openssh_opts o;
	struct hwk_buf *out = hwk_buf_new();
	EVP_PKEY *key = NULL;
	char *text, *c = NULL, *pubtext, pubname[256];
	struct hwk_pubkey *pub = NULL;
	size_t len;

	text = fixture_read(name, &len);
	memset(&info, 0, sizeof(info));
	assert_int_equal(hwk_openssh_read((uint8_t *)text, len, pass, &key, &c,
	    &info), 0);
	assert_string_equal(c, comment);
	assert_int_equal(info.rounds, rounds);
	/* The public half is the one ssh-keygen put in the .pub. */
	snprintf(pubname, sizeof(pubname), "%s.pub", name);
	pubtext = fixture_read(pubname, NULL);
	assert_int_equal(hwk_pubkey_from_line(pubtext, &pub), 0);
	assert_int_equal(pub->bloblen, info.pub->bloblen);
	assert_memory_equal(pub->blob, info.pub->blob, pub->bloblen);

	memset(&o, 0, sizeof(o));
	o.passphrase = pass;
	o.rounds = info.rounds;
	o.salt = info.saltlen == HWK_KDF_SALT_LEN ? info.salt : NULL;
	o.fixed_check = 1;
	o.check = info.check;
	assert_int_equal(hwk_openssh_write(key, c, &o, out), 0);
	assert_int_equal(hwk_buf_len(out), len);
	assert_memory_equal(hwk_buf_ptr(out), text, len);

	hwk_openssh_info_clear(&info);
	hwk_pubkey_free(&pub);
	hwk_buf_free(&out);
	EVP_PKEY_free(key);
	free(pubtext);
	free(text);
	free(c);
}

static void
test_plain_byte_for_byte(void **state)
{
	(void)state;
	rewrite("rsa2048.key", NULL, "fixture@hwkeygen", 0);
}

static void
test_encrypted_byte_for_byte(void **state)
{
	(void)state;
	rewrite("rsa3072-enc.key", "fixture passphrase", "encrypted fixture",
	    4);
	rewrite("rsa2048-enc24.key", "pw", "", 24);
}

/* ssh-keygen's ECDSA and Ed25519 keys, written back the same. */
static void
test_ec_plain_byte_for_byte(void **state)
{
	(void)state;
	rewrite("ecdsa256.key", NULL, "ecdsa256 fixture", 0);
	rewrite("ecdsa384.key", NULL, "ecdsa fixture", 0);
	rewrite("ecdsa521.key", NULL, "ecdsa521 fixture", 0);
	rewrite("ed25519.key", NULL, "ed25519 fixture", 0);
}

static void
test_ec_encrypted_byte_for_byte(void **state)
{
	(void)state;
	rewrite("ecdsa256-enc.key", "ec pass", "ecdsa256 encrypted", 3);
	rewrite("ecdsa384-enc.key", "ec pass", "", 2);
	rewrite("ecdsa521-enc.key", "ec pass", "ecdsa521 encrypted", 5);
	rewrite("ed25519-enc.key", "ed pass", "ed25519 encrypted", 4);
}

/* The header of an encrypted EC key, and its lock. */
static void
check_ec_locked(const char *name, const char *pass, const char *type,
    unsigned bits)
{
	struct hwk_openssh_info info;
	EVP_PKEY *key = (EVP_PKEY *)1;
	char *text, *c = (char *)1;
	size_t len;

	text = fixture_read(name, &len);
	assert_int_equal(hwk_openssh_info((uint8_t *)text, len, &info), 0);
	assert_true(hwk_openssh_encrypted(&info));
	assert_string_equal(info.cipher, "aes256-ctr");
	assert_string_equal(info.pub->type, type);
	assert_int_equal(info.pub->bits, bits);
	hwk_openssh_info_clear(&info);
	assert_int_equal(hwk_openssh_read((uint8_t *)text, len, "wrong", &key,
	    &c, &info), HWK_ERR_WRONG_PASSPHRASE);
	assert_null(key);
	assert_null(c);
	hwk_openssh_info_clear(&info);
	assert_int_equal(hwk_openssh_read((uint8_t *)text, len, NULL, &key,
	    &c, &info), HWK_ERR_WRONG_PASSPHRASE);
	hwk_openssh_info_clear(&info);
	assert_int_equal(hwk_openssh_read((uint8_t *)text, len, pass, &key,
	    NULL, &info), 0);
	assert_int_equal(hwk_pkey_bits(key), bits);
	assert_string_equal(hwk_pkey_ssh_type(key), type);
	EVP_PKEY_free(key);
	hwk_openssh_info_clear(&info);
	free(text);
}

static void
test_ec_wrong_passphrase(void **state)
{
	(void)state;
	check_ec_locked("ecdsa256-enc.key", "ec pass", "ecdsa-sha2-nistp256",
	    256);
	check_ec_locked("ecdsa384-enc.key", "ec pass", "ecdsa-sha2-nistp384",
	    384);
	check_ec_locked("ecdsa521-enc.key", "ec pass", "ecdsa-sha2-nistp521",
	    521);
	check_ec_locked("ed25519-enc.key", "ed pass", "ssh-ed25519", 256);
}

static void
test_gcm_readable(void **state)
{
	struct hwk_openssh_info info;
	EVP_PKEY *key = NULL;
	char *text, *c = NULL;
	size_t len;

	(void)state;
	text = fixture_read("rsa2048-gcm.key", &len);
	assert_int_equal(hwk_openssh_read((uint8_t *)text, len, "pw", &key, &c,
	    &info), 0);
	assert_string_equal(info.cipher, "aes256-gcm@openssh.com");
	assert_string_equal(c, "gcm");
	hwk_openssh_info_clear(&info);
	EVP_PKEY_free(key);
	free(c);
	/* A wrong passphrase fails the GCM tag. */
	assert_int_equal(hwk_openssh_read((uint8_t *)text, len, "px", &key, &c,
	    &info), HWK_ERR_WRONG_PASSPHRASE);
	assert_null(key);
	hwk_openssh_info_clear(&info);
	free(text);
}

static void
test_wrong_passphrase(void **state)
{
	struct hwk_openssh_info info;
	EVP_PKEY *key = (EVP_PKEY *)1;
	char *text, *c = (char *)1;
	size_t len;

	(void)state;
	text = fixture_read("rsa3072-enc.key", &len);
	assert_int_equal(hwk_openssh_read((uint8_t *)text, len, "nope", &key,
	    &c, &info), HWK_ERR_WRONG_PASSPHRASE);
	assert_null(key);
	assert_null(c);
	hwk_openssh_info_clear(&info);
	assert_int_equal(hwk_openssh_read((uint8_t *)text, len, NULL, &key,
	    &c, &info), HWK_ERR_WRONG_PASSPHRASE);
	hwk_openssh_info_clear(&info);
	/* The header alone needs no passphrase. */
	assert_int_equal(hwk_openssh_info((uint8_t *)text, len, &info), 0);
	assert_true(hwk_openssh_encrypted(&info));
	assert_string_equal(info.kdf, "bcrypt");
	assert_int_equal(info.pub->bits, 3072);
	hwk_openssh_info_clear(&info);
	free(text);
}

static void
test_other_key_types(void **state)
{
	struct hwk_openssh_info info;
	EVP_PKEY *key = NULL;
	char *text;
	size_t len;

	(void)state;
	text = fixture_read("dsa.key", &len);
	assert_int_equal(hwk_openssh_info((uint8_t *)text, len, &info), 0);
	assert_string_equal(info.pub->type, "ssh-dss");
	assert_false(hwk_openssh_encrypted(&info));
	hwk_openssh_info_clear(&info);
	assert_int_equal(hwk_openssh_read((uint8_t *)text, len, NULL, &key,
	    NULL, &info), HWK_ERR_KEY_TYPE);
	assert_null(key);
	hwk_openssh_info_clear(&info);
	free(text);
}

/* The file body decoded from its armour. */
static struct hwk_buf *
body_of(const char *text, size_t len)
{
	struct hwk_buf *b = hwk_buf_new();

	assert_int_equal(hwk_pem_decode(text, len, HWK_OPENSSH_LABEL, b), 0);
	return b;
}

static struct hwk_buf *
armour(const uint8_t *v, size_t len)
{
	struct hwk_buf *b = hwk_buf_new();

	assert_int_equal(hwk_pem_encode(b, HWK_OPENSSH_LABEL, v, len, 70), 0);
	return b;
}

static void
test_every_truncation(void **state)
{
	struct hwk_openssh_info info;
	struct hwk_buf *body, *t;
	EVP_PKEY *key = NULL;
	char *text;
	size_t len, cut;

	(void)state;
	text = fixture_read("rsa2048.key", &len);
	body = body_of(text, len);
	for (cut = 0; cut < hwk_buf_len(body); cut++) {
		t = armour(hwk_buf_ptr(body), cut);
		assert_int_not_equal(hwk_openssh_read(hwk_buf_ptr(t),
		    hwk_buf_len(t), NULL, &key, NULL, &info), 0);
		assert_null(key);
		hwk_openssh_info_clear(&info);
		hwk_buf_free(&t);
	}
	/* Cut text: no END line. */
	assert_int_equal(hwk_openssh_read((uint8_t *)text, len - 40, NULL, &key,
	    NULL, &info), HWK_ERR_TRUNCATED);
	hwk_openssh_info_clear(&info);
	hwk_buf_free(&body);
	free(text);
}

static void
test_corruptions(void **state)
{
	struct hwk_openssh_info info;
	struct hwk_buf *body, *t;
	EVP_PKEY *key = NULL;
	uint8_t *mod;
	char *text;
	size_t len, n, i;

	(void)state;
	text = fixture_read("rsa2048.key", &len);
	body = body_of(text, len);
	n = hwk_buf_len(body);
	mod = malloc(n);
	/* One flipped bit anywhere: refused or (comment, padding) harmless. */
	for (i = 0; i < n; i += 7) {
		memcpy(mod, hwk_buf_ptr(body), n);
		mod[i] ^= 0x10;
		t = armour(mod, n);
		if (hwk_openssh_read(hwk_buf_ptr(t), hwk_buf_len(t), NULL, &key,
		    NULL, &info) == 0) {
			/* It can only have hit the comment. */
			assert_non_null(key);
			EVP_PKEY_free(key);
			key = NULL;
		}
		hwk_openssh_info_clear(&info);
		hwk_buf_free(&t);
	}
	/* Trailing bytes after the private section. */
	memcpy(mod, hwk_buf_ptr(body), n);
	t = hwk_buf_new();
	assert_int_equal(hwk_buf_put(t, mod, n), 0);
	assert_int_equal(hwk_buf_put_u8(t, 0), 0);
	hwk_buf_free(&body);
	body = armour(hwk_buf_ptr(t), hwk_buf_len(t));
	assert_int_equal(hwk_openssh_read(hwk_buf_ptr(body), hwk_buf_len(body),
	    NULL, &key, NULL, &info), HWK_ERR_FORMAT);
	hwk_openssh_info_clear(&info);
	hwk_buf_free(&t);
	hwk_buf_free(&body);
	free(mod);
	free(text);
}

/*
 * rsa2048.key with extra blocks of padding, as PuTTY writes them, the
 * count continuing 1, 2, 3, ...; bad: one of the new bytes is wrong.
 */
static struct hwk_buf *
padded(const char *text, size_t len, size_t blocks, int bad)
{
	struct hwk_buf *body = body_of(text, len), *t = hwk_buf_new(), *out;
	const uint8_t *v = hwk_buf_ptr(body);
	size_t n = hwk_buf_len(body), k, i;
	uint32_t enclen = 0;

	/* "none": the section ends the file and its last byte counts it. */
	k = v[n - 1];
	/* Its length is the u32 whose section runs exactly to the end. */
	for (i = 0; i + 4 <= n; i++) {
		enclen = (uint32_t)v[i] << 24 | (uint32_t)v[i + 1] << 16 |
		    (uint32_t)v[i + 2] << 8 | v[i + 3];
		if (i + 4 + enclen == n)
			break;
	}
	assert_true(i + 4 <= n);
	assert_int_equal(hwk_buf_put(t, v, i), 0);
	assert_int_equal(hwk_buf_put_u32(t, enclen + 8 * (uint32_t)blocks), 0);
	assert_int_equal(hwk_buf_put(t, v + i + 4, enclen), 0);
	for (i = 1; i <= 8 * blocks; i++)
		assert_int_equal(hwk_buf_put_u8(t, (uint8_t)((k + i) ^
		    (bad && i == 5 ? 0x40 : 0))), 0);
	out = armour(hwk_buf_ptr(t), hwk_buf_len(t));
	hwk_buf_free(&t);
	hwk_buf_free(&body);
	return out;
}

static void
test_long_padding(void **state)
{
	struct hwk_openssh_info info;
	struct hwk_buf *t;
	EVP_PKEY *key = NULL;
	char *text, *c = NULL;
	size_t len, blocks;

	(void)state;
	text = fixture_read("rsa2048.key", &len);
	/* Past one block, and past 255 bytes where the count wraps. */
	for (blocks = 1; blocks <= 40; blocks += 39) {
		t = padded(text, len, blocks, 0);
		assert_int_equal(hwk_openssh_read(hwk_buf_ptr(t),
		    hwk_buf_len(t), NULL, &key, &c, &info), 0);
		assert_non_null(key);
		assert_non_null(c);
		EVP_PKEY_free(key);
		key = NULL;
		free(c);
		c = NULL;
		hwk_openssh_info_clear(&info);
		hwk_buf_free(&t);
	}
	t = padded(text, len, 2, 1);
	assert_int_equal(hwk_openssh_read(hwk_buf_ptr(t), hwk_buf_len(t),
	    NULL, &key, NULL, &info), HWK_ERR_FORMAT);
	assert_null(key);
	hwk_openssh_info_clear(&info);
	hwk_buf_free(&t);
	free(text);
}

static void
test_roundtrip_new_key(void **state)
{
	struct hwk_openssh_opts o;
	struct hwk_openssh_info info;
	struct hwk_buf *out = hwk_buf_new();
	EVP_PKEY *key = NULL, *back = NULL;
	char *text, *c = NULL;
	size_t len;

	(void)state;
	text = fixture_read("rsa2048.key", &len);
	assert_int_equal(hwk_openssh_read((uint8_t *)text, len, NULL, &key,
	    NULL, &info), 0);
	hwk_openssh_info_clear(&info);
	memset(&o, 0, sizeof(o));
	o.passphrase = "new pass";
	o.rounds = 2;
	assert_int_equal(hwk_openssh_write(key, "round trip", &o, out), 0);
	assert_int_equal(hwk_openssh_read(hwk_buf_ptr(out), hwk_buf_len(out),
	    "new pass", &back, &c, &info), 0);
	assert_string_equal(info.cipher, "aes256-ctr");
	assert_string_equal(info.kdf, "bcrypt");
	assert_int_equal(info.rounds, 2);
	assert_int_equal(info.saltlen, 16);
	assert_string_equal(c, "round trip");
	assert_int_equal(EVP_PKEY_eq(key, back), 1);
	hwk_openssh_info_clear(&info);
	EVP_PKEY_free(key);
	EVP_PKEY_free(back);
	hwk_buf_free(&out);
	free(text);
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_byte_for_byte),
		cmocka_unit_test(test_encrypted_byte_for_byte),
		cmocka_unit_test(test_ec_plain_byte_for_byte),
		cmocka_unit_test(test_ec_encrypted_byte_for_byte),
		cmocka_unit_test(test_ec_wrong_passphrase),
		cmocka_unit_test(test_gcm_readable),
		cmocka_unit_test(test_wrong_passphrase),
		cmocka_unit_test(test_other_key_types),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_corruptions),
		cmocka_unit_test(test_long_padding),
		cmocka_unit_test(test_roundtrip_new_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
