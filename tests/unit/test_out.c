/* Unit tests of the output encoders: JSON strings and terminal escaping. */
#include <locale.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hwkey/out.h"

/* What hwk_out prints for one string, JSON or text. */
static char *
render(int json, const char *v)
{
	struct hwk_out *o;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	assert_non_null(o = hwk_out_new(json));
	hwk_out_begin_object(o, NULL);
	hwk_out_str(o, "v", v);
	hwk_out_end_object(o);
	assert_non_null(f = open_memstream(&text, &len));
	assert_int_equal(hwk_out_print(o, f), 0);
	fclose(f);
	hwk_out_free(&o);
	return text;
}

static void
json_is(const char *in, const char *want)
{
	char *got = render(1, in), *exp;

	assert_true(asprintf(&exp, "{\n  \"v\": \"%s\"\n}\n", want) > 0);
	assert_string_equal(got, exp);
	free(exp);
	free(got);
}

static void
vis_is(const char *in, const char *want)
{
	char *got = hwk_out_vis(in);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_json_controls(void **state)
{
	(void)state;
	json_is("a\x1b]0;pwned\x07" "b", "a\\u001b]0;pwned\\u0007b");
	json_is("\r\n\t\x01\x1f\x7f", "\\u000d\\u000a\\u0009\\u0001\\u001f"
	    "\\u007f");
	json_is("q\"b\\s/", "q\\\"b\\\\s/");
	json_is("c1\xc2\x80\xc2\x9b" "x", "c1\\u0080\\u009bx");
	json_is("ls\xe2\x80\xa8ps\xe2\x80\xa9", "ls\\u2028ps\\u2029");
}

static void
test_json_utf8_valid(void **state)
{
	(void)state;
	json_is("Jos\xc3\xa9", "Jos\xc3\xa9");
	json_is("\xe4\xb8\xad\xf0\x9f\x98\x80", "\xe4\xb8\xad\xf0\x9f\x98\x80");
	json_is("\xc2\xa0\xef\xbf\xbe\xf4\x8f\xbf\xbf",
	    "\xc2\xa0\xef\xbf\xbe\xf4\x8f\xbf\xbf");
}

#define FFFD	"\xef\xbf\xbd"

/* One U+FFFD per maximal ill-formed subpart, as Unicode (and Python) do. */
static void
test_json_utf8_invalid(void **state)
{
	(void)state;
	json_is("a\xff" "b", "a" FFFD "b");
	json_is("\x80\xbf", FFFD FFFD);			/* lone continuations */
	json_is("\xc0\xaf", FFFD FFFD);			/* overlong '/' */
	json_is("\xc1\xbf", FFFD FFFD);
	json_is("\xe0\x80\xaf", FFFD FFFD FFFD);	/* overlong, 3 bytes */
	json_is("\xf0\x80\x80\xaf", FFFD FFFD FFFD FFFD);
	json_is("\xed\xa0\x80", FFFD FFFD FFFD);	/* lone surrogate */
	json_is("\xed\xbf\xbf" "x", FFFD FFFD FFFD "x");
	json_is("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD); /* > U+10FFFF */
	json_is("\xf5\x80", FFFD FFFD);
	json_is("\xf8\x88\x80\x80\x80", FFFD FFFD FFFD FFFD FFFD);
	json_is("\xe2\x82" "x", FFFD "x");		/* truncated */
	json_is("end\xf0\x9f\x98", "end" FFFD);		/* truncated at end */
	json_is("end\xe2", "end" FFFD);
	json_is("\xc3", FFFD);
}

static void
test_json_keys_and_null(void **state)
{
	struct hwk_out *o;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(o = hwk_out_new(1));
	hwk_out_begin_object(o, NULL);
	hwk_out_str(o, "k\x1b\xff", NULL);
	hwk_out_end_object(o);
	assert_non_null(f = open_memstream(&text, &len));
	assert_int_equal(hwk_out_print(o, f), 0);
	fclose(f);
	assert_string_equal(text, "{\n  \"k\\u001b" FFFD "\": null\n}\n");
	free(text);
	hwk_out_free(&o);
}

static void
test_vis_utf8(void **state)
{
	(void)state;
	assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
	vis_is("plain text, 1 \\ 2 ~", "plain text, 1 \\ 2 ~");
	vis_is("a\x1b]0;pwned\x07" "b", "a\\033]0;pwned\\007b");
	vis_is("\x1b[2J\x1b[H", "\\033[2J\\033[H");
	/* Unlike ssh-keygen: CR and tab could rewrite what is shown. */
	vis_is("x\rSHA256:fake\tz\n", "x\\015SHA256:fake\\011z\\012");
	vis_is("del\x7f", "del\\177");
	vis_is("Jos\xc3\xa9 \xe4\xb8\xad\xf0\x9f\x98\x80",
	    "Jos\xc3\xa9 \xe4\xb8\xad\xf0\x9f\x98\x80");
	vis_is("c1\xc2\x9b" "x", "c1\\302\\233x");
	vis_is("nc\xef\xbf\xbe", "nc\\357\\277\\276");	/* U+FFFE */
	vis_is("\xff\xfe", "\\377\\376");
	vis_is("\xc0\xaf", "\\300\\257");
	vis_is("\xed\xa0\x80", "\\355\\240\\200");
	vis_is("\xf4\x90\x80\x80", "\\364\\220\\200\\200");
	vis_is("\xe2\x82" "x", "\\342\\202x");
	vis_is("end\xf0\x9f\x98", "end\\360\\237\\230");
	vis_is("", "");
}

static void
test_vis_c_locale(void **state)
{
	(void)state;
	assert_non_null(setlocale(LC_CTYPE, "C"));
	vis_is("a\x1b]0;pwned\x07" "b", "a\\033]0;pwned\\007b");
	vis_is("Jos\xc3\xa9", "Jos\\303\\251");
	vis_is("\xf0\x9f\x98\x80", "\\360\\237\\230\\200");
	vis_is("\xff", "\\377");
	assert_null(hwk_out_vis(NULL));
}

static void
test_vis_fputs(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
	assert_non_null(f = open_memstream(&text, &len));
	assert_int_equal(hwk_out_vis_fputs("t\x1b[31m\xc3\xa9", f), 0);
	fclose(f);
	assert_string_equal(text, "t\\033[31m\xc3\xa9");
	free(text);
}

/* --backends for people: a token label cannot drive the terminal. */
static void
test_text_mode_escapes(void **state)
{
	char *got;

	(void)state;
	assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
	got = render(0, "e\x1b]0;pwned\x07\xff\r");
	assert_string_equal(got, "v: e\\033]0;pwned\\007\\377\\015\n");
	free(got);
	got = render(0, NULL);
	assert_string_equal(got, "v: -\n");
	free(got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_controls),
		cmocka_unit_test(test_json_utf8_valid),
		cmocka_unit_test(test_json_utf8_invalid),
		cmocka_unit_test(test_json_keys_and_null),
		cmocka_unit_test(test_vis_utf8),
		cmocka_unit_test(test_vis_c_locale),
		cmocka_unit_test(test_vis_fputs),
		cmocka_unit_test(test_text_mode_escapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
