/*
 * ECDSA (P-256, P-384, P-521) and Ed25519 keys through the pkcs11 backend,
 * driven directly against a SoftHSM2 token this test makes for itself,
 * through build/tests/pkcs11_fault.so: generate, the stub, load, signing
 * checked by OpenSSL, what pkcs11-tool and ssh-keygen -D see of the keys,
 * --backends, and a key removed again when reading it back fails.
 * Skipped where SoftHSM2 is missing.
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/out.h"
#include "hwkey/sshkey.h"
#include "backends.h"
#include "p11token.h"

#define FAULT_SO	"tests/pkcs11_fault.so"
#define PIN		"87654321"

/* The keys made here: type, size, signature algorithm, mechanism. */
static const struct {
	int		 type;
	unsigned	 bits;
	int		 alg;
	const char	*mech;		/* as the fault module logs it */
	const char	*params;	/* CKA_EC_PARAMS as pkcs11-tool shows */
} kinds[] = {
	{ HWK_KEY_ECDSA, 256, HWK_SIG_ECDSA, "mechanism 0x1041\n",
	    "06082a8648ce3d030107" },
	{ HWK_KEY_ECDSA, 384, HWK_SIG_ECDSA, "mechanism 0x1041\n",
	    "06052b81040022" },
	{ HWK_KEY_ECDSA, 521, HWK_SIG_ECDSA, "mechanism 0x1041\n",
	    "06052b81040023" },
	{ HWK_KEY_ED25519, 256, HWK_SIG_ED25519, "mechanism 0x1057\n",
	    "06032b6570" },
};
#define NKINDS	(sizeof(kinds) / sizeof(kinds[0]))

static int
setup(void **state)
{
	return p11_token_setup(state, FAULT_SO, "ec", PIN, PIN);
}

/* A new key of kinds[i] and its stub; its .pub line into pubp. */
static struct hwk_key *
make_key(struct p11_token *f, size_t i, struct hwk_buf **stubp, char **pubp)
{
	struct hwk_genparams gp;
	struct hwk_key *key = NULL;
	struct hwk_pubkey *pub = NULL;

	memset(&gp, 0, sizeof(gp));
	gp.type = kinds[i].type;
	gp.bits = kinds[i].bits;
	gp.bits_given = 1;
	gp.comment = "ec@test";
	assert_int_equal(hwk_backend_check(f->ctx, f->b, &gp), 0);
	assert_int_equal(hwk_backend_generate(f->ctx, f->b, &gp, &key), 0);
	assert_non_null(key);
	assert_int_equal(hwk_key_bits(key), kinds[i].bits);
	*stubp = hwk_buf_new();
	assert_int_equal(hwk_backend_write_stub(f->ctx, key, &gp, *stubp), 0);
	assert_int_equal(hwk_key_pubkey(key, &pub), 0);
	assert_int_equal(hwk_pubkey_format(pub, 0, pubp), 0);
	hwk_pubkey_free(&pub);
	return key;
}

static void
test_make_load_sign(void **state)
{
	struct p11_token *f = *state;
	const uint8_t data[] = "the session hash an SSH server asks to sign";
	struct hwk_buf *stub = NULL;
	struct hwk_key *key = NULL, *a = NULL;
	uint8_t *sig = NULL;
	char *pub = NULL;
	size_t i, len;

	p11_token_need(f);
	for (i = 0; i < NKINDS; i++) {
		key = make_key(f, i, &stub, &pub);
		hwk_key_free(&key);	/* logged out: the signature logs in */
		assert_int_equal(hwk_backend_load(f->ctx, f->b,
		    hwk_buf_ptr(stub), hwk_buf_len(stub), &a), 0);
		unlink(f->log);
		assert_int_equal(hwk_key_sign(f->ctx, a, kinds[i].alg, data,
		    sizeof(data), &sig, &len), 0);
		assert_int_equal(p11_token_log_count(f, kinds[i].mech), 1);
		p11_token_verify(a->pkey, kinds[i].alg, data, sizeof(data), sig, len);
		free(sig);
		/* An algorithm of another type of key is refused. */
		assert_int_equal(hwk_key_sign(f->ctx, a, HWK_SIG_RSA_SHA256,
		    data, sizeof(data), &sig, &len), HWK_ERR_UNSUPPORTED);
		assert_null(sig);
		hwk_key_free(&a);
		hwk_buf_free(&stub);
		free(pub);
	}
}

/* What the judges see: pkcs11-tool's curves, ssh-keygen -D's keys. */
static void
test_judges(void **state)
{
	struct p11_token *f = *state;
	struct hwk_buf *stub = NULL;
	struct hwk_key *key = NULL;
	char *pub[NKINDS], *out, needle[64];
	size_t i;

	p11_token_need(f);
	for (i = 0; i < NKINDS; i++) {
		key = make_key(f, i, &stub, &pub[i]);
		hwk_key_free(&key);
		hwk_buf_free(&stub);
	}
	out = p11_token_run("pkcs11-tool --module %s --list-objects --type pubkey "
	    "2>/dev/null", f->real);
	for (i = 0; i < NKINDS; i++) {
		snprintf(needle, sizeof(needle), "EC_PARAMS:  %s",
		    kinds[i].params);
		assert_non_null(strstr(out, needle));
	}
	free(out);
	/* OpenSSH 9.2 shows token ECDSA keys, not Ed25519 ones. */
	out = p11_token_run("ssh-keygen -D %s 2>/dev/null | cut -d' ' -f1,2", f->real);
	for (i = 0; i < NKINDS; i++) {
		if (kinds[i].type == HWK_KEY_ECDSA)
			assert_non_null(strstr(out, pub[i]));
		free(pub[i]);
	}
	free(out);
}

/* Reading the new key back fails: it is removed, and the error says so. */
static void
test_rollback(void **state)
{
	struct p11_token *f = *state;
	struct hwk_genparams gp;
	struct hwk_key *key = NULL;
	int n;

	p11_token_need(f);
	memset(&gp, 0, sizeof(gp));
	gp.type = HWK_KEY_ECDSA;
	gp.bits = 384;
	n = p11_token_objects(f, PIN);
	setenv("HWK_FAKE_FAIL", "C_GetAttributeValue", 1);
	setenv("HWK_FAKE_FAIL_AFTER", "C_GenerateKeyPair", 1);
	assert_int_equal(hwk_backend_generate(f->ctx, f->b, &gp, &key),
	    HWK_ERR_DEVICE);
	unsetenv("HWK_FAKE_FAIL");
	unsetenv("HWK_FAKE_FAIL_AFTER");
	assert_null(key);
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), "the new key was "
	    "removed from the token"));
	assert_int_equal(p11_token_objects(f, PIN), n);
}

/* A token that knows Ed25519 by its name only is asked again by name. */
static void
test_ed25519_by_name(void **state)
{
	struct p11_token *f = *state;
	const uint8_t data[] = "x";
	struct hwk_buf *stub = NULL;
	struct hwk_key *key = NULL, *a = NULL;
	uint8_t *sig = NULL;
	char *pub = NULL, *out;
	size_t len;

	p11_token_need(f);
	setenv("HWK_FAKE_FAIL", "C_GenerateKeyPair", 1);
	setenv("HWK_FAKE_FAIL_RV", "0x140", 1);	/* CURVE_NOT_SUPPORTED */
	setenv("HWK_FAKE_FAIL_GEN", "by-name", 1);
	unlink(f->log);
	key = make_key(f, NKINDS - 1, &stub, &pub);
	unsetenv("HWK_FAKE_FAIL");
	unsetenv("HWK_FAKE_FAIL_RV");
	unsetenv("HWK_FAKE_FAIL_GEN");
	assert_int_equal(p11_token_log_count(f, "C_GenerateKeyPair 0x140"), 1);
	assert_int_equal(p11_token_log_count(f, "C_GenerateKeyPair 0x0"), 1);
	hwk_key_free(&key);
	out = p11_token_run("pkcs11-tool --module %s --list-objects --type pubkey "
	    "2>/dev/null", f->real);
	assert_non_null(strstr(out, "EC_PARAMS:  130c6564776172647332353531"
	    "39"));
	free(out);
	/* And it loads and signs as any other. */
	assert_int_equal(hwk_backend_load(f->ctx, f->b, hwk_buf_ptr(stub),
	    hwk_buf_len(stub), &a), 0);
	assert_int_equal(hwk_key_sign(f->ctx, a, HWK_SIG_ED25519, data, 1,
	    &sig, &len), 0);
	p11_token_verify(a->pkey, HWK_SIG_ED25519, data, 1, sig, len);
	free(sig);
	free(pub);
	hwk_key_free(&a);
	hwk_buf_free(&stub);
}

/* Sizes the backend never makes are refused before the token is asked. */
static void
test_refused(void **state)
{
	struct p11_token *f = *state;
	struct hwk_genparams gp;

	p11_token_need(f);
	memset(&gp, 0, sizeof(gp));
	gp.type = HWK_KEY_ECDSA;
	gp.bits = 512;
	unlink(f->log);
	assert_int_equal(hwk_backend_check(f->ctx, f->b, &gp),
	    HWK_ERR_KEY_SIZE);
	assert_string_equal(hwk_ctx_detail(f->ctx), "Invalid ECDSA key "
	    "length: valid lengths are 256, 384 or 521 bits");
	assert_int_equal(p11_token_log_count(f, "C_"), 0);
	gp.type = 99;
	assert_int_equal(hwk_backend_check(f->ctx, f->b, &gp),
	    HWK_ERR_KEY_TYPE);
	/* A token without the mechanism: its words say what it makes. */
	setenv("HWK_FAKE_FAIL", "C_GetMechanismInfo", 1);
	setenv("HWK_FAKE_FAIL_NTH", "0", 1);
	setenv("HWK_FAKE_FAIL_RV", "0x70", 1);	/* MECHANISM_INVALID */
	gp.type = HWK_KEY_ED25519;
	unlink(f->log);
	/* A usage error: the person named the module. */
	assert_int_equal(hwk_backend_check(f->ctx, f->b, &gp),
	    HWK_ERR_USAGE);
	unsetenv("HWK_FAKE_FAIL");
	unsetenv("HWK_FAKE_FAIL_NTH");
	unsetenv("HWK_FAKE_FAIL_RV");
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), "no token that can "
	    "make an Ed25519 key (token 'ec' (serial "));
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), "cannot make Ed25519 "
	    "keys (it makes no keys SSH can use)"));
	assert_int_equal(p11_token_log_count(f, "C_Login"), 0);
}

/* --backends lists the curves and Ed25519 beside RSA's sizes. */
static void
test_describe(void **state)
{
	struct p11_token *f = *state;
	struct hwk_out *out;
	char *text = NULL;
	size_t len = 0, i, j;
	FILE *fp;

	p11_token_need(f);
	assert_non_null(out = hwk_out_new(1));
	hwk_out_begin_object(out, NULL);
	assert_int_equal(hwk_backend_describe(f->ctx, f->b, out), 0);
	hwk_out_end_object(out);
	assert_non_null(fp = open_memstream(&text, &len));
	assert_int_equal(hwk_out_print(out, fp), 0);
	fclose(fp);
	/* Without the layout's blanks. */
	for (i = j = 0; text[i] != '\0'; i++)
		if (text[i] != ' ' && text[i] != '\n')
			text[j++] = text[i];
	text[j] = '\0';
	assert_non_null(strstr(text, "\"can_make_rsa_keys\":true"));
	assert_non_null(strstr(text, "\"ecdsa_bits\":[256,384,521]"));
	assert_non_null(strstr(text, "\"ed25519\":true"));
	free(text);
	hwk_out_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_make_load_sign),
		cmocka_unit_test(test_judges),
		cmocka_unit_test(test_rollback),
		cmocka_unit_test(test_ed25519_by_name),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, setup, p11_token_teardown);
}
