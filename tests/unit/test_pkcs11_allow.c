/* Unit tests of the allowed module files: patterns read as ssh-agent -P's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pkcs11_int.h"

static void
test_default(void **state)
{
	const char *d = HWK_P11_ALLOW_DEFAULT;

	(void)state;
	assert_int_equal(hwk_p11_allow_match(
	    "/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so", d), 1);
	assert_int_equal(hwk_p11_allow_match(
	    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", d), 1);
	assert_int_equal(hwk_p11_allow_match("/usr/lib64/libykcs11.so", d), 1);
	assert_int_equal(hwk_p11_allow_match("/usr/local/lib/libykcs11.so",
	    d), 1);
	/* Anchored at both ends: a folder of the same name elsewhere is not. */
	assert_int_equal(hwk_p11_allow_match("/tmp/usr/lib/evil.so", d), 0);
	assert_int_equal(hwk_p11_allow_match("/home/u/usr/lib/x.so", d), 0);
	assert_int_equal(hwk_p11_allow_match("/opt/token/lib/x.so", d), 0);
	assert_int_equal(hwk_p11_allow_match("/usr/lib", d), 0);
	assert_int_equal(hwk_p11_allow_match("/usr/share/x.so", d), 0);
	assert_int_equal(hwk_p11_allow_match("evil.so", d), 0);
	assert_int_equal(hwk_p11_allow_match("", d), 0);
}

static void
test_wildcards(void **state)
{
	(void)state;
	/* '*' takes any run, '/' included; '?' one character. */
	assert_int_equal(hwk_p11_allow_match("/a/b/c.so", "/a/*"), 1);
	assert_int_equal(hwk_p11_allow_match("/a/b/c.so", "*"), 1);
	assert_int_equal(hwk_p11_allow_match("", "*"), 1);
	assert_int_equal(hwk_p11_allow_match("/a/b.so", "/a/?.so"), 1);
	assert_int_equal(hwk_p11_allow_match("/a/bb.so", "/a/?.so"), 0);
	assert_int_equal(hwk_p11_allow_match("/a/b.so", "/a/b.so"), 1);
	assert_int_equal(hwk_p11_allow_match("/a/b.so", "/a/b.s"), 0);
	assert_int_equal(hwk_p11_allow_match("/a/b.s", "/a/b.so"), 0);
	assert_int_equal(hwk_p11_allow_match("/a/b.so", "/A/B.SO"), 0);
	/* A '*' has to give back what a later part needs. */
	assert_int_equal(hwk_p11_allow_match("/x/lib/y/lib/z.so",
	    "*/lib/*.so"), 1);
	assert_int_equal(hwk_p11_allow_match("aaab", "*a*ab"), 1);
	assert_int_equal(hwk_p11_allow_match("abcabd", "*ab?"), 1);
	assert_int_equal(hwk_p11_allow_match("abcabd", "*abc"), 0);
	assert_int_equal(hwk_p11_allow_match("/a/b.so", "/a/b.so**"), 1);
	/* Brackets and backslashes are plain characters, as in OpenSSH. */
	assert_int_equal(hwk_p11_allow_match("/a/b.so", "/a/[b].so"), 0);
	assert_int_equal(hwk_p11_allow_match("/a/[b].so", "/a/[b].so"), 1);
}

static void
test_lists(void **state)
{
	(void)state;
	assert_int_equal(hwk_p11_allow_match("/opt/t/x.so",
	    "/usr/lib*/*,/opt/t/*"), 1);
	assert_int_equal(hwk_p11_allow_match("/opt/u/x.so",
	    "/usr/lib*/*,/opt/t/*"), 0);
	/* A negated pattern that matches refuses, wherever it stands. */
	assert_int_equal(hwk_p11_allow_match("/usr/lib/evil.so",
	    "/usr/lib*/*,!/usr/lib/evil.so"), -1);
	assert_int_equal(hwk_p11_allow_match("/usr/lib/evil.so",
	    "!/usr/lib/evil.so,/usr/lib*/*"), -1);
	assert_int_equal(hwk_p11_allow_match("/usr/lib/good.so",
	    "/usr/lib*/*,!/usr/lib/evil.so"), 1);
	/* A negation alone allows nothing. */
	assert_int_equal(hwk_p11_allow_match("/usr/lib/good.so",
	    "!/usr/lib/evil.so"), 0);
	/* Empty parts match only an empty path. */
	assert_int_equal(hwk_p11_allow_match("/a.so", ",,"), 0);
	assert_int_equal(hwk_p11_allow_match("/a.so", ",/a.so,"), 1);
	assert_int_equal(hwk_p11_allow_match("/a.so", ""), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_wildcards),
		cmocka_unit_test(test_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
