/* Unit tests of the bounds-checked buffer: encodings, truncations, limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"

static void
test_u32_roundtrip(void **state)
{
	struct hwk_buf *b = hwk_buf_new();
	uint32_t v = 1;
	uint64_t w = 1;

	(void)state;
	assert_non_null(b);
	assert_int_equal(hwk_buf_put_u32(b, 0xdeadbeef), 0);
	assert_int_equal(hwk_buf_put_u64(b, 0x0102030405060708ULL), 0);
	assert_int_equal(hwk_buf_len(b), 12);
	assert_memory_equal(hwk_buf_ptr(b), "\xde\xad\xbe\xef", 4);
	assert_int_equal(hwk_buf_get_u32(b, &v), 0);
	assert_int_equal(v, 0xdeadbeef);
	assert_int_equal(hwk_buf_get_u64(b, &w), 0);
	assert_true(w == 0x0102030405060708ULL);
	/* Empty now: every read fails and clears its out-parameter. */
	assert_int_equal(hwk_buf_get_u32(b, &v), HWK_ERR_TRUNCATED);
	assert_int_equal(v, 0);
	hwk_buf_free(&b);
	assert_null(b);
}

static void
test_string_truncations(void **state)
{
	struct hwk_buf *b = hwk_buf_new(), *r;
	const uint8_t *p;
	size_t len, cut, total;

	(void)state;
	assert_int_equal(hwk_buf_put_cstring(b, "ssh-rsa"), 0);
	total = hwk_buf_len(b);
	assert_int_equal(total, 11);
	/* Every proper prefix of an encoded string is refused as truncated. */
	for (cut = 0; cut < total; cut++) {
		r = hwk_buf_from(hwk_buf_ptr(b), cut);
		assert_non_null(r);
		assert_int_equal(hwk_buf_get_string_direct(r, &p, &len),
		    HWK_ERR_TRUNCATED);
		assert_null(p);
		assert_int_equal(len, 0);
		assert_int_equal(hwk_buf_len(r), cut);	/* nothing consumed */
		hwk_buf_free(&r);
	}
	r = hwk_buf_from(hwk_buf_ptr(b), total);
	assert_int_equal(hwk_buf_get_string_direct(r, &p, &len), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(p, "ssh-rsa", 7);
	hwk_buf_free(&r);
	hwk_buf_free(&b);
}

static void
test_oversize_length(void **state)
{
	static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xf0, 'a', 'b' };
	struct hwk_buf *r = hwk_buf_from(huge, sizeof(huge));
	const uint8_t *p;
	size_t len;
	char *s;

	(void)state;
	assert_int_equal(hwk_buf_get_string_direct(r, &p, &len),
	    HWK_ERR_TOO_LARGE);
	assert_int_equal(hwk_buf_get_cstring(r, &s, NULL), HWK_ERR_TOO_LARGE);
	assert_null(s);
	assert_int_equal(hwk_buf_get_mpint_direct(r, &p, &len),
	    HWK_ERR_TOO_LARGE);
	hwk_buf_free(&r);
}

static void
test_cstring_refuses_nul(void **state)
{
	static const uint8_t v[] = { 0, 0, 0, 3, 'a', 0, 'b' };
	struct hwk_buf *r = hwk_buf_from(v, sizeof(v));
	char *s = (char *)1;

	(void)state;
	assert_int_equal(hwk_buf_get_cstring(r, &s, NULL), HWK_ERR_FORMAT);
	assert_null(s);
	assert_int_equal(hwk_buf_len(r), sizeof(v));
	hwk_buf_free(&r);
}

static void
test_mpint(void **state)
{
	struct hwk_buf *b = hwk_buf_new();
	const uint8_t *p;
	size_t len;
	static const uint8_t high[] = { 0x00, 0x00, 0x80, 0x01 };
	static const uint8_t low[] = { 0x7f };
	static const uint8_t neg[] = { 0, 0, 0, 1, 0x80 };
	struct hwk_buf *r;

	(void)state;
	/* Leading zeros dropped, a zero byte added when the top bit is set. */
	assert_int_equal(hwk_buf_put_mpint(b, high, sizeof(high)), 0);
	assert_int_equal(hwk_buf_len(b), 7);
	assert_memory_equal(hwk_buf_ptr(b), "\0\0\0\3\0\x80\x01", 7);
	assert_int_equal(hwk_buf_put_mpint(b, low, sizeof(low)), 0);
	assert_int_equal(hwk_buf_put_mpint(b, NULL, 0), 0);	/* zero */
	assert_int_equal(hwk_buf_get_mpint_direct(b, &p, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(p, "\x80\x01", 2);
	assert_int_equal(hwk_buf_get_mpint_direct(b, &p, &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(hwk_buf_get_mpint_direct(b, &p, &len), 0);
	assert_int_equal(len, 0);
	hwk_buf_free(&b);
	r = hwk_buf_from(neg, sizeof(neg));
	assert_int_equal(hwk_buf_get_mpint_direct(r, &p, &len),
	    HWK_ERR_FORMAT);
	hwk_buf_free(&r);
}

static void
test_base64(void **state)
{
	struct hwk_buf *b = hwk_buf_new(), *d = hwk_buf_new();
	char *s;

	(void)state;
	assert_int_equal(hwk_buf_put_base64(b, (const uint8_t *)"hello!?", 7,
	    4), 0);
	s = hwk_buf_dup_string(b);
	assert_string_equal(s, "aGVs\nbG8h\nPw==\n");
	free(s);
	/* Whitespace anywhere, padding optional; junk and late data refused. */
	assert_int_equal(hwk_base64_decode("aGVs bG8h\nPw", 12, d), 0);
	assert_int_equal(hwk_buf_len(d), 7);
	assert_memory_equal(hwk_buf_ptr(d), "hello!?", 7);
	hwk_buf_reset(d);
	assert_int_equal(hwk_base64_decode("aGVs*G8h", 8, d), HWK_ERR_FORMAT);
	assert_int_equal(hwk_base64_decode("Pw==Pw==", 8, d), HWK_ERR_FORMAT);
	assert_int_equal(hwk_base64_decode("P", 1, d), HWK_ERR_FORMAT);
	assert_int_equal(hwk_base64_decode("Pw===", 5, d), HWK_ERR_FORMAT);
	assert_int_equal(hwk_buf_len(d), 0);
	hwk_buf_free(&b);
	hwk_buf_free(&d);
}

static void
test_pem(void **state)
{
	struct hwk_buf *b = hwk_buf_new(), *d = hwk_buf_new();
	const char *text;

	(void)state;
	assert_int_equal(hwk_pem_encode(b, "TEST KEY", (const uint8_t *)"abc",
	    3, 64), 0);
	text = (const char *)hwk_buf_ptr(b);
	assert_int_equal(hwk_pem_decode(text, hwk_buf_len(b), "TEST KEY", d),
	    0);
	assert_memory_equal(hwk_buf_ptr(d), "abc", 3);
	hwk_buf_reset(d);
	assert_int_equal(hwk_pem_decode(text, hwk_buf_len(b), "OTHER", d),
	    HWK_ERR_FORMAT);
	/* Cut before the END line: truncated. */
	assert_int_equal(hwk_pem_decode(text, hwk_buf_len(b) - 10, "TEST KEY",
	    d), HWK_ERR_TRUNCATED);
	hwk_buf_free(&b);
	hwk_buf_free(&d);
}

static void
test_size_cap(void **state)
{
	struct hwk_buf *b = hwk_buf_new();
	uint8_t *p;

	(void)state;
	assert_int_equal(hwk_buf_set_max(b, 16), 0);
	assert_int_equal(hwk_buf_reserve(b, 16, &p), 0);
	assert_int_equal(hwk_buf_put_u8(b, 1), HWK_ERR_TOO_LARGE);
	assert_int_equal(hwk_buf_reserve(b, SIZE_MAX, &p), HWK_ERR_TOO_LARGE);
	assert_null(p);
	/* Reading frees room again. */
	assert_int_equal(hwk_buf_consume(b, 8), 0);
	assert_int_equal(hwk_buf_reserve(b, 8, &p), 0);
	assert_int_equal(hwk_buf_len(b), 16);
	hwk_buf_free(&b);
}

static void
test_readonly(void **state)
{
	struct hwk_buf *r = hwk_buf_from("abcd", 4);

	(void)state;
	assert_int_equal(hwk_buf_put_u8(r, 1), HWK_ERR_INVALID_ARG);
	assert_int_equal(hwk_buf_consume_end(r, 1), 0);
	assert_int_equal(hwk_buf_len(r), 3);
	assert_int_equal(hwk_buf_consume(r, 4), HWK_ERR_TRUNCATED);
	hwk_buf_free(&r);
}

/* Dropping nothing from a buffer that never held anything is no error. */
static void
test_consume_end_empty(void **state)
{
	struct hwk_buf *b = hwk_buf_new();

	(void)state;
	assert_non_null(b);
	assert_int_equal(hwk_buf_consume_end(b, 0), 0);
	assert_int_equal(hwk_buf_consume_end(b, 1), HWK_ERR_TRUNCATED);
	assert_int_equal(hwk_buf_len(b), 0);
	hwk_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u32_roundtrip),
		cmocka_unit_test(test_string_truncations),
		cmocka_unit_test(test_oversize_length),
		cmocka_unit_test(test_cstring_refuses_nul),
		cmocka_unit_test(test_mpint),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_pem),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_consume_end_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
