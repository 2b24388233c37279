/* Unit tests of the PKCS#11 URIs: key ids in hex, stubs both ways, matching. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "pkcs11_int.h"

static void
token_info(CK_TOKEN_INFO *ti, const char *label, const char *serial)
{
	memset(ti, ' ', sizeof(*ti));
	memcpy(ti->label, label, strlen(label));
	memcpy(ti->serialNumber, serial, strlen(serial));
	memcpy(ti->manufacturerID, "ACME", 4);
	memcpy(ti->model, "Token 9", 7);
	ti->flags = CKF_TOKEN_INITIALIZED;
}

static void
test_id_parse(void **state)
{
	uint8_t id[HWK_P11_ID_MAX];
	char hex[2 * HWK_P11_ID_MAX + 1], big[2 * HWK_P11_ID_MAX + 3];
	static const char *const bad[] = { "", "0", "0g", "g0", ":01", "01:",
	    "01::02", "0x01", " 01", "01 ", NULL };
	size_t len = 99;
	int i;

	(void)state;
	assert_int_equal(hwk_p11_id_parse("01", id, &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(id[0], 1);
	assert_int_equal(hwk_p11_id_parse("7A7b", id, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(id, "\x7a\x7b", 2);
	/* pkcs11-tool prints ids with colons: take them as they are shown. */
	assert_int_equal(hwk_p11_id_parse("00:ff:10", id, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(id, "\x00\xff\x10", 3);
	hwk_p11_id_format(id, len, hex, sizeof(hex));
	assert_string_equal(hex, "00ff10");
	for (i = 0; bad[i] != NULL; i++) {
		len = 99;
		assert_int_equal(hwk_p11_id_parse(bad[i], id, &len),
		    HWK_ERR_USAGE);
		assert_int_equal(len, 0);
	}
	assert_int_equal(hwk_p11_id_parse(NULL, id, &len), HWK_ERR_USAGE);
	/* The longest id fits; one byte more does not. */
	memset(big, 'a', 2 * HWK_P11_ID_MAX);
	big[2 * HWK_P11_ID_MAX] = '\0';
	assert_int_equal(hwk_p11_id_parse(big, id, &len), 0);
	assert_int_equal(len, HWK_P11_ID_MAX);
	strcat(big, "aa");
	assert_int_equal(hwk_p11_id_parse(big, id, &len), HWK_ERR_USAGE);
	/* A buffer too small for the hex truncates at a whole byte. */
	hwk_p11_id_format((const uint8_t *)"\x01\x02\x03", 3, hex, 6);
	assert_string_equal(hex, "0102");
}

static void
test_token_name(void **state)
{
	CK_TOKEN_INFO ti;
	char name[HWK_P11_NAME_MAX];

	(void)state;
	token_info(&ti, "My Token", "00ab12");
	hwk_p11_token_name(&ti, name, sizeof(name));
	assert_string_equal(name, "'My Token' (serial 00ab12)");
	token_info(&ti, "bare", "");
	hwk_p11_token_name(&ti, name, sizeof(name));
	assert_string_equal(name, "'bare'");
	/* A field filled to the brim has no padding and no terminator. */
	memset(ti.label, 'L', sizeof(ti.label));
	hwk_p11_token_name(&ti, name, sizeof(name));
	assert_int_equal(strlen(name), 2 + sizeof(ti.label));
}

static void
test_stub_roundtrip(void **state)
{
	CK_TOKEN_INFO ti;
	struct hwk_p11_stub st;
	P11KitUri *uri = NULL;
	const uint8_t id[] = { 0x00, 0x2f, 0x3b, 0xff };
	const char *label = "me@host; 100% \"odd\" ?label=/é";
	const char *module = "/opt/my modules/lib;pkcs11?.so";
	char *stub = NULL, name[HWK_P11_NAME_MAX];

	(void)state;
	token_info(&ti, "Tok;en=1 2", "SER/1?");
	assert_int_equal(hwk_p11_stub_format(&ti, id, sizeof(id), label,
	    module, &stub), 0);
	/* One line, a URI, naming a private key, no PIN in any form. */
	assert_int_equal(strncmp(stub, "pkcs11:", 7), 0);
	assert_int_equal(stub[strlen(stub) - 1], '\n');
	assert_ptr_equal(strchr(stub, '\n'), stub + strlen(stub) - 1);
	assert_non_null(strstr(stub, "type=private"));
	assert_non_null(strstr(stub, "id=%00%2F%3B%FF"));
	assert_null(strstr(stub, "pin-"));
	/* Only label and serial name the token: a maker may rename models. */
	assert_null(strstr(stub, "manufacturer="));
	assert_null(strstr(stub, "model="));

	assert_int_equal(hwk_p11_stub_parse((const uint8_t *)stub, strlen(stub),
	    &st, &uri), 0);
	assert_int_equal(st.idlen, sizeof(id));
	assert_memory_equal(st.id, id, sizeof(id));
	assert_string_equal(st.label, label);
	assert_string_equal(st.module, module);
	hwk_p11_token_name(&st.token, name, sizeof(name));
	assert_string_equal(name, "'Tok;en=1 2' (serial SER/1?)");
	/* The parsed URI picks out the token it was made from. */
	assert_true(hwk_p11_uri_match(uri, NULL, 7, NULL, &ti));
	token_info(&ti, "Tok;en=1 2", "SER/2?");
	assert_false(hwk_p11_uri_match(uri, NULL, 7, NULL, &ti));
	p11_kit_uri_free(uri);
	hwk_p11_stub_clear(&st);
	free(stub);

	/* No label and no module: both come back NULL. */
	assert_int_equal(hwk_p11_stub_format(&ti, id, 1, NULL, NULL, &stub),
	    0);
	assert_null(strstr(stub, "object="));
	assert_null(strstr(stub, "module-path="));
	assert_int_equal(hwk_p11_stub_parse((const uint8_t *)stub, strlen(stub),
	    &st, NULL), 0);
	assert_null(st.label);
	assert_null(st.module);
	assert_int_equal(st.idlen, 1);
	hwk_p11_stub_clear(&st);
	free(stub);
	assert_int_equal(hwk_p11_stub_format(&ti, id, 0, NULL, NULL, &stub),
	    HWK_ERR_INVALID_ARG);
	assert_null(stub);
}

static void
test_stub_parse_refuses(void **state)
{
	static const char *const bad[] = {
		"",
		"pkcs11",
		"file:///etc/passwd",
		"-----BEGIN OPENSSH PRIVATE KEY-----\n",
		"pkcs11:token=a;type=private",			/* no id */
		"pkcs11:token=a;id=",				/* empty id */
		"pkcs11:token=a;id=%01;type=public",		/* not private */
		"pkcs11:token=a;id=%01;type=cert",
		"pkcs11:token=a;id=%01\npkcs11:token=b;id=%02",	/* two lines */
		"pkcs11:token=a;id=%01;frob=1",			/* unknown part */
		"pkcs11:token=a;id=%0",				/* bad escape */
		NULL,
	};
	struct hwk_p11_stub st;
	char big[HWK_P11_STUB_MAX + 16];
	const char *nul = "pkcs11:token=a;id=%01\0;id=%02";
	int i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		assert_int_not_equal(hwk_p11_stub_parse(
		    (const uint8_t *)bad[i], strlen(bad[i]), &st, NULL), 0);
		assert_int_equal(st.idlen, 0);
		assert_null(st.label);
	}
	assert_int_equal(hwk_p11_stub_parse((const uint8_t *)nul, 29, &st,
	    NULL), HWK_ERR_FORMAT);
	/* An id longer than we keep is refused, not cut. */
	strcpy(big, "pkcs11:id=");
	for (i = 0; i <= HWK_P11_ID_MAX; i++)
		strcat(big, "%01");
	assert_int_equal(hwk_p11_stub_parse((const uint8_t *)big, strlen(big),
	    &st, NULL), HWK_ERR_FORMAT);
	memset(big, 'a', sizeof(big));
	memcpy(big, "pkcs11:id=%01;object=", 21);
	assert_int_equal(hwk_p11_stub_parse((const uint8_t *)big, sizeof(big),
	    &st, NULL), HWK_ERR_FORMAT);
	/* Line ends of any kind, and a missing one, are fine. */
	assert_int_equal(hwk_p11_stub_parse((const uint8_t *)
	    "pkcs11:id=%01\r\n", 15, &st, NULL), 0);
	hwk_p11_stub_clear(&st);
	assert_int_equal(hwk_p11_stub_parse((const uint8_t *)"pkcs11:id=%01",
	    13, &st, NULL), 0);
	assert_int_equal(st.id[0], 1);
	hwk_p11_stub_clear(&st);
}

static void
test_uri_match(void **state)
{
	struct hwk_ctx *ctx = hwk_ctx_new();
	CK_TOKEN_INFO a, b;
	CK_SLOT_INFO si;
	CK_INFO mi;
	P11KitUri *uri = NULL;

	(void)state;
	token_info(&a, "alpha", "111");
	token_info(&b, "beta", "222");
	memset(&si, ' ', sizeof(si));
	memset(&mi, ' ', sizeof(mi));
	memcpy(mi.manufacturerID, "SoftHSM", 7);
	assert_true(hwk_p11_uri_match(NULL, &mi, 1, &si, &a));

	assert_int_equal(hwk_p11_uri_parse(ctx, "--token", "pkcs11:", &uri), 0);
	assert_true(hwk_p11_uri_match(uri, &mi, 1, &si, &a));
	assert_true(hwk_p11_uri_match(uri, &mi, 2, &si, &b));
	p11_kit_uri_free(uri);

	assert_int_equal(hwk_p11_uri_parse(ctx, "--token",
	    "pkcs11:token=beta", &uri), 0);
	assert_false(hwk_p11_uri_match(uri, &mi, 1, &si, &a));
	assert_true(hwk_p11_uri_match(uri, &mi, 2, &si, &b));
	p11_kit_uri_free(uri);

	assert_int_equal(hwk_p11_uri_parse(ctx, "--token",
	    "pkcs11:serial=111;manufacturer=ACME;model=Token%209", &uri), 0);
	assert_true(hwk_p11_uri_match(uri, &mi, 1, &si, &a));
	assert_false(hwk_p11_uri_match(uri, &mi, 2, &si, &b));
	p11_kit_uri_free(uri);

	assert_int_equal(hwk_p11_uri_parse(ctx, "--token", "pkcs11:slot-id=2",
	    &uri), 0);
	assert_false(hwk_p11_uri_match(uri, &mi, 1, &si, &a));
	assert_true(hwk_p11_uri_match(uri, &mi, 2, &si, &b));
	p11_kit_uri_free(uri);

	assert_int_equal(hwk_p11_uri_parse(ctx, "--token",
	    "pkcs11:library-manufacturer=OpenSC", &uri), 0);
	assert_false(hwk_p11_uri_match(uri, &mi, 1, &si, &a));
	p11_kit_uri_free(uri);

	/* Mistakes are usage errors that say what is wrong. */
	assert_int_equal(hwk_p11_uri_parse(ctx, "--token", "token=alpha",
	    &uri), HWK_ERR_USAGE);
	assert_null(uri);
	assert_non_null(strstr(hwk_ctx_detail(ctx), "not a PKCS#11 URI"));
	assert_int_equal(hwk_p11_uri_parse(ctx, "--token",
	    "pkcs11:tokne=alpha", &uri), HWK_ERR_USAGE);
	assert_non_null(strstr(hwk_ctx_detail(ctx), "does not know"));
	assert_null(uri);

	/* A URI that fails is shown, but never the PIN in it. */
	assert_int_equal(hwk_p11_uri_parse(ctx, "--token",
	    "pkcs11:token=alpha?pin-value=135790&x=%zz", &uri), HWK_ERR_USAGE);
	assert_non_null(strstr(hwk_ctx_detail(ctx), "not a PKCS#11 URI"));
	assert_non_null(strstr(hwk_ctx_detail(ctx),
	    "'pkcs11:token=alpha?...'"));
	assert_null(strstr(hwk_ctx_detail(ctx), "135790"));
	assert_int_equal(hwk_p11_uri_parse(ctx, "--token",
	    "pkcs11:tokne=alpha;PIN-VALUE=135790", &uri), HWK_ERR_USAGE);
	assert_non_null(strstr(hwk_ctx_detail(ctx), "does not know"));
	assert_null(strstr(hwk_ctx_detail(ctx), "135790"));
	assert_int_equal(hwk_p11_uri_parse(ctx, "--token",
	    "pkcs11:tokne=alpha;pin%2Dvalue=135790", &uri), HWK_ERR_USAGE);
	assert_null(strstr(hwk_ctx_detail(ctx), "135790"));
	hwk_ctx_free(&ctx);
}

static void
test_token_uri(void **state)
{
	CK_TOKEN_INFO ti;
	char *s = NULL;
	P11KitUri *uri = p11_kit_uri_new();

	(void)state;
	token_info(&ti, "with space", "9");
	assert_int_equal(hwk_p11_token_uri(&ti, &s), 0);
	assert_non_null(strstr(s, "token=with%20space"));
	assert_non_null(strstr(s, "serial=9"));
	/* What a hint suggests for --token selects that very token. */
	assert_int_equal(p11_kit_uri_parse(s, P11_KIT_URI_FOR_ANY, uri), 0);
	assert_true(hwk_p11_uri_match(uri, NULL, 0, NULL, &ti));
	p11_kit_uri_free(uri);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_parse),
		cmocka_unit_test(test_token_name),
		cmocka_unit_test(test_stub_roundtrip),
		cmocka_unit_test(test_stub_parse_refuses),
		cmocka_unit_test(test_uri_match),
		cmocka_unit_test(test_token_uri),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
