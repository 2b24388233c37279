/*
 * ECDSA and Ed25519 keys through the pkcs11 backend on a token as strict
 * as YubiKey's ykcs11 (build/tests/pkcs11_strict.so in front of SoftHSM2):
 * P-256 and P-384 are made in the PIV slots and sign; P-521 and Ed25519,
 * which a PIV slot cannot hold, are refused before any login, in words
 * that say what the token makes, with nothing left on it.  Skipped where
 * SoftHSM2 is missing.
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
#include "hwkey/sshkey.h"
#include "backends.h"
#include "p11token.h"

#define STRICT_SO	"tests/pkcs11_strict.so"
#define MGMKEY		"010203040506070801020304050607080102030405060708"
#define PIN		"87654321"

static int
setup(void **state)
{
	struct p11_token *t;

	setenv("HWK_STRICT_USER_PIN", PIN, 1);
	if (p11_token_setup(state, STRICT_SO, "yk", PIN, MGMKEY) != 0)
		return -1;
	t = *state;	/* ykcs11 makes keys as its SO: the management key */
	if (t->ctx != NULL && hwk_ctx_set_opt(t->ctx, "login", "so") != 0)
		return -1;
	return 0;
}

/* A new key of type and bits in PIV slot id, made and loaded again. */
static struct hwk_key *
make_key(struct p11_token *f, int type, unsigned bits, const char *id)
{
	struct hwk_genparams gp;
	struct hwk_key *key = NULL, *again = NULL;
	struct hwk_buf *stub;

	memset(&gp, 0, sizeof(gp));
	gp.type = type;
	gp.bits = bits;
	gp.bits_given = 1;
	gp.comment = "yk@test";
	assert_int_equal(hwk_ctx_set_opt(f->ctx, "id", id), 0);
	assert_int_equal(hwk_backend_check(f->ctx, f->b, &gp), 0);
	assert_int_equal(hwk_backend_generate(f->ctx, f->b, &gp, &key), 0);
	assert_int_equal(hwk_key_bits(key), bits);
	assert_non_null(stub = hwk_buf_new());
	assert_int_equal(hwk_backend_write_stub(f->ctx, key, &gp, stub), 0);
	/* The label is the slot's, as ykcs11 names its keys. */
	assert_non_null(memmem(hwk_buf_ptr(stub), hwk_buf_len(stub),
	    "object=Private%20key%20for%20", 29));
	assert_int_equal(hwk_backend_load(f->ctx, f->b, hwk_buf_ptr(stub),
	    hwk_buf_len(stub), &again), 0);
	assert_int_equal(EVP_PKEY_eq(key->pkey, again->pkey), 1);
	hwk_key_free(&key);
	hwk_buf_free(&stub);
	return again;
}

static void
test_piv_curves(void **state)
{
	struct p11_token *f = *state;
	const uint8_t data[] = "signed in a PIV slot";
	struct hwk_key *key;
	uint8_t *sig = NULL;
	size_t len;

	p11_token_need(f);
	key = make_key(f, HWK_KEY_ECDSA, 256, "02");
	assert_int_equal(hwk_key_sign(f->ctx, key, HWK_SIG_ECDSA, data,
	    sizeof(data), &sig, &len), 0);
	p11_token_verify(key->pkey, HWK_SIG_ECDSA, data, sizeof(data), sig, len);
	free(sig);
	hwk_key_free(&key);
	key = make_key(f, HWK_KEY_ECDSA, 384, "03");
	assert_int_equal(hwk_key_sign(f->ctx, key, HWK_SIG_ECDSA, data,
	    sizeof(data), &sig, &len), 0);
	p11_token_verify(key->pkey, HWK_SIG_ECDSA, data, sizeof(data), sig, len);
	free(sig);
	hwk_key_free(&key);
	assert_int_equal(p11_token_objects(f, PIN), 4);
}

/* What a PIV slot cannot hold is refused before any login, in words. */
static void
test_refused(void **state)
{
	struct p11_token *f = *state;
	struct hwk_genparams gp;
	struct hwk_key *key = NULL;
	const char *makes = "it makes RSA keys of 1024 to 2048 bits and "
	    "ECDSA keys on P-256, P-384";
	int n;

	p11_token_need(f);
	n = p11_token_objects(f, PIN);
	assert_int_equal(hwk_ctx_set_opt(f->ctx, "id", "04"), 0);
	memset(&gp, 0, sizeof(gp));
	gp.type = HWK_KEY_ECDSA;
	gp.bits = 521;
	gp.bits_given = 1;
	unlink(f->log);
	assert_int_equal(hwk_backend_check(f->ctx, f->b, &gp),
	    HWK_ERR_KEY_SIZE);
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), "cannot make ECDSA "
	    "keys on P-521: "));
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), makes));
	assert_string_equal(hwk_ctx_advice(f->ctx), "Use -b 256 (or another "
	    "curve the token makes).");
	assert_int_equal(hwk_backend_generate(f->ctx, f->b, &gp, &key),
	    HWK_ERR_KEY_SIZE);
	assert_null(key);
	gp.type = HWK_KEY_ED25519;
	gp.bits = 256;
	/* A usage error: the person named the module. */
	assert_int_equal(hwk_backend_check(f->ctx, f->b, &gp),
	    HWK_ERR_USAGE);
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), "no token that can "
	    "make an Ed25519 key (token 'yk' (serial "));
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), "cannot make Ed25519 "
	    "keys ("));
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), makes));
	assert_non_null(strstr(hwk_ctx_advice(f->ctx), "--backend software"));
	assert_int_equal(hwk_backend_generate(f->ctx, f->b, &gp, &key),
	    HWK_ERR_USAGE);
	assert_null(key);
	assert_int_equal(p11_token_log_count(f, "C_Login"), 0);
	assert_int_equal(p11_token_log_count(f, "C_GenerateKeyPair"), 0);
	assert_int_equal(p11_token_objects(f, PIN), n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_piv_curves),
	};

	return cmocka_run_group_tests(tests, setup, p11_token_teardown);
}
