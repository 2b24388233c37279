/*
 * Unit tests of attestation's pieces that need no TPM: the files' JSON
 * (written, read back, and every malformed form refused) and KDFa, the
 * key derivation of TPM credential protection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hwkey/attest.h"
#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "tpm2_int.h"

static int
parse(const char *text, struct hwk_attest *a)
{
	return hwk_attest_read((const uint8_t *)text, strlen(text), a);
}

static void
test_roundtrip(void **state)
{
	struct hwk_attest a, b;
	struct hwk_buf *out = hwk_buf_new(), *bytes = NULL;
	const uint8_t bin[] = { 0, 1, 2, 0xff, 0xfe };

	(void)state;
	memset(&a, 0, sizeof(a));
	assert_int_equal(hwk_attest_put_str(&a, "format", 0, "f-1"), 0);
	assert_int_equal(hwk_attest_put_bytes(&a, "cert", 1, bin, 5), 0);
	assert_int_equal(hwk_attest_put_str(&a, "text", 0,
	    "a \"quoted\" \\ line\n\t\x01"), 0);
	assert_int_equal(hwk_attest_put_bytes(&a, "cert", 1, bin, 2), 0);
	assert_int_equal(hwk_attest_write(&a, out), 0);
	assert_int_equal(hwk_attest_read(hwk_buf_ptr(out), hwk_buf_len(out),
	    &b), 0);
	/* A list is written whole where its first member is. */
	assert_int_equal(b.n, 4);
	assert_string_equal(hwk_attest_str(&b, "format", 0), "f-1");
	assert_string_equal(hwk_attest_str(&b, "text", 0),
	    "a \"quoted\" \\ line\n\t\x01");
	assert_int_equal(hwk_attest_bytes(&b, "cert", 1, &bytes), 0);
	assert_int_equal(hwk_buf_len(bytes), 2);
	assert_memory_equal(hwk_buf_ptr(bytes), bin, 2);
	hwk_buf_free(&bytes);
	assert_int_equal(hwk_attest_bytes(&b, "cert", 0, &bytes), 0);
	assert_memory_equal(hwk_buf_ptr(bytes), bin, 5);
	hwk_buf_free(&bytes);
	assert_null(hwk_attest_str(&b, "cert", 2));
	assert_int_equal(hwk_attest_bytes(&b, "none", 0, &bytes),
	    HWK_ERR_NOT_FOUND);
	assert_int_equal(hwk_attest_bytes(&b, "text", 0, &bytes),
	    HWK_ERR_FORMAT);
	hwk_attest_clear(&a);
	hwk_attest_clear(&b);
	assert_int_equal(b.n, 0);
	hwk_buf_free(&out);
}

static void
test_accepts(void **state)
{
	struct hwk_attest a;

	(void)state;
	assert_int_equal(parse(" {} ", &a), 0);
	assert_int_equal(a.n, 0);
	assert_int_equal(parse("{\"a\":[],\"b\":\"\\u0041\\/\"}", &a), 0);
	assert_int_equal(a.n, 1);
	assert_string_equal(hwk_attest_str(&a, "b", 0), "A/");
	hwk_attest_clear(&a);
}

static void
test_refuses(void **state)
{
	static const char *const bad[] = {
		"", "{", "[]", "{\"a\"}", "{\"a\":}", "{\"a\":1}",
		"{\"a\":true}", "{\"a\":{\"b\":\"c\"}}", "{\"a\":[1]}",
		"{\"a\":[\"b\",]}", "{\"a\":\"b\",}", "{\"a\":\"b\"} x",
		"{\"a\":\"b\" \"c\":\"d\"}", "{\"a\":\"b\",\"a\":\"c\"}",
		"{\"a\":\"\\u00e9\"}", "{\"a\":\"\\u0000\"}", "{\"a\":\"\\x\"}",
		"{\"a\":\"\\u12\"}", "{\"a\":\"line\nbreak\"}", "{\"a\":\"b",
		"{\"a\":\"b\\", "{\"abcdefghijabcdefghijabcdefghijab\":\"\"}",
	};
	struct hwk_attest a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a.n = 99;
		if (parse(bad[i], &a) != HWK_ERR_FORMAT)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(a.n, 0);
	}
}

static void
test_limits(void **state)
{
	struct hwk_attest a;
	struct hwk_buf *b = hwk_buf_new();
	size_t i;

	(void)state;
	/* More members than the container holds. */
	assert_int_equal(hwk_buf_put(b, "{\"a\":[", 6), 0);
	for (i = 0; i <= HWK_ATTEST_ITEMS_MAX; i++)
		assert_int_equal(hwk_buf_putf(b, "%s\"x\"", i ? "," : ""), 0);
	assert_int_equal(hwk_buf_put(b, "]}", 2), 0);
	assert_int_equal(hwk_attest_read(hwk_buf_ptr(b), hwk_buf_len(b), &a),
	    HWK_ERR_TOO_LARGE);
	hwk_buf_reset(b);
	/* A file over the size cap is refused unread. */
	assert_int_equal(hwk_attest_read(hwk_buf_ptr(b),
	    HWK_ATTEST_FILE_MAX + 1, &a), HWK_ERR_TOO_LARGE);
	/* Every proper prefix of a good file is refused. */
	memset(&a, 0, sizeof(a));
	assert_int_equal(hwk_attest_put_str(&a, "format", 0, "x"), 0);
	assert_int_equal(hwk_attest_put_str(&a, "l", 1, "y"), 0);
	assert_int_equal(hwk_attest_write(&a, b), 0);
	hwk_attest_clear(&a);
	for (i = 0; i + 1 < hwk_buf_len(b); i++)
		if (hwk_attest_read(hwk_buf_ptr(b), i, &a) == 0)
			fail_msg("accepted a prefix of %zu bytes", i);
	hwk_buf_free(&b);
}

static void
hex(const char *h, uint8_t *out)
{
	size_t i;

	for (i = 0; h[2 * i] != '\0'; i++)
		sscanf(h + 2 * i, "%2hhx", &out[i]);
}

/* Values from a separate implementation of Part 1, 11.4.10.2. */
static void
test_kdfa(void **state)
{
	uint8_t key[32], name[34], out[65], want[65];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	memset(name, 0, sizeof(name));
	name[1] = 0x0b;
	assert_int_equal(hwk_tpm2_kdfa(key, 32, "STORAGE", name, 34, NULL, 0,
	    out, 16), 0);
	hex("4535165c7f0dc2bd1abef241c5893af0", want);
	assert_memory_equal(out, want, 16);
	assert_int_equal(hwk_tpm2_kdfa(key, 32, "INTEGRITY", NULL, 0, NULL, 0,
	    out, 32), 0);
	hex("bacf689f634ece301e1f1b15b072d9c87db6a69585db42b1a0cb8f73ebe2692e",
	    want);
	assert_memory_equal(out, want, 32);
	/* Three blocks, the last one cut. */
	assert_int_equal(hwk_tpm2_kdfa((const uint8_t *)"k", 1, "L",
	    (const uint8_t *)"u", 1, (const uint8_t *)"v", 1, out, 65), 0);
	hex("7e6644f79783091b1c84c9ace92af323df309ac6bc40730cfbf19339f011bb08"
	    "f1398b11c9146fc3335c019c00da1f55254252ecd1bc9c0b75a7c51096c49be4"
	    "dd", want);
	assert_memory_equal(out, want, 65);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_refuses),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_kdfa),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
