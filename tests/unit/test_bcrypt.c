/* Unit tests of bcrypt_pbkdf and the Blowfish state computed from pi. */
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
#include "bcrypt_pbkdf.h"
#include "fixture.h"

/* Words of Blowfish's published initial state (Schneier, 1993). */
static void
test_pi_words(void **state)
{
	(void)state;
	assert_int_equal(hwk_blowfish_pi_word(0), 0x243f6a88);	/* P[0] */
	assert_int_equal(hwk_blowfish_pi_word(17), 0x8979fb1b);	/* P[17] */
	assert_int_equal(hwk_blowfish_pi_word(18), 0xd1310ba6);	/* S0[0] */
	assert_int_equal(hwk_blowfish_pi_word(18 + 256), 0x4b7a70e9);
	assert_int_equal(hwk_blowfish_pi_word(1041), 0x3ac372e6); /* S3[255] */
	assert_int_equal(hwk_blowfish_pi_word(1042), 0);
}

static void
unhex(const char *h, struct hwk_buf *out)
{
	unsigned v;

	for (; h[0] != '\0' && h[1] != '\0'; h += 2) {
		assert_int_equal(sscanf(h, "%2x", &v), 1);
		assert_int_equal(hwk_buf_put_u8(out, (uint8_t)v), 0);
	}
}

static void
test_vectors(void **state)
{
	char *text = fixture_read("bcrypt_pbkdf.txt", NULL), *line;
	char pass[512], salt[512], key[512];
	struct hwk_buf *p = hwk_buf_new(), *s = hwk_buf_new(),
	    *k = hwk_buf_new();
	uint8_t out[128];
	unsigned rounds, len;
	int i;

	(void)state;
	for (i = 0; (line = fixture_line(text, i)) != NULL; i++) {
		assert_int_equal(sscanf(line, "%511s %511s %u %u %511s", pass,
		    salt, &rounds, &len, key), 5);
		hwk_buf_reset(p);
		hwk_buf_reset(s);
		hwk_buf_reset(k);
		unhex(pass, p);
		unhex(salt, s);
		unhex(key, k);
		assert_int_equal(hwk_bcrypt_pbkdf((const char *)hwk_buf_ptr(p),
		    hwk_buf_len(p), hwk_buf_ptr(s), hwk_buf_len(s), out, len,
		    rounds), 0);
		assert_int_equal(hwk_buf_len(k), len);
		assert_memory_equal(out, hwk_buf_ptr(k), len);
		free(line);
	}
	assert_true(i >= 5);
	hwk_buf_free(&p);
	hwk_buf_free(&s);
	hwk_buf_free(&k);
	free(text);
}

static void
test_bad_args(void **state)
{
	uint8_t out[32], salt[16] = { 0 };

	(void)state;
	assert_int_equal(hwk_bcrypt_pbkdf("p", 1, salt, 16, out, 32, 0),
	    HWK_ERR_INVALID_ARG);
	assert_int_equal(hwk_bcrypt_pbkdf("p", 0, salt, 16, out, 32, 1),
	    HWK_ERR_INVALID_ARG);
	assert_int_equal(hwk_bcrypt_pbkdf("p", 1, salt, 0, out, 32, 1),
	    HWK_ERR_INVALID_ARG);
	assert_int_equal(hwk_bcrypt_pbkdf("p", 1, salt, 16, out, 0, 1),
	    HWK_ERR_INVALID_ARG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pi_words),
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
