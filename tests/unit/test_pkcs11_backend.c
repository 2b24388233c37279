/*
 * The pkcs11 backend's ops driven directly against a SoftHSM2 token this
 * test makes for itself, through build/tests/pkcs11_fault.so: generate,
 * the stub, load, lazy login, signing with the token's hash-and-sign
 * mechanisms and with raw CKM_RSA_PKCS over a DigestInfo, a session that
 * dies between signatures, destroy.  Skipped where SoftHSM2 is missing.
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

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "backends.h"
#include "p11token.h"

/* Under $HWK_BUILD (make check-asan, check-clang), or build/. */
#define FAULT_SO	"tests/pkcs11_fault.so"
#define PIN		"87654321"

static int
setup(void **state)
{
	return p11_token_setup(state, FAULT_SO, "unit", PIN, PIN);
}

static void
log_reset(struct p11_token *f)
{
	unlink(f->log);
}

static void
verify(EVP_PKEY *pkey, const EVP_MD *md, const uint8_t *data, size_t len,
    const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *p = NULL;

	assert_non_null(m);
	assert_int_equal(EVP_DigestVerifyInit(m, &p, md, NULL, pkey), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_PADDING), 1);
	assert_int_equal(EVP_DigestVerify(m, sig, siglen, data, len), 1);
	EVP_MD_CTX_free(m);
}

/* A new key on the token and the bytes of its stub. */
static struct hwk_key *
make_key(struct p11_token *f, struct hwk_buf **stubp)
{
	struct hwk_genparams gp;
	struct hwk_key *key = NULL;

	memset(&gp, 0, sizeof(gp));
	gp.type = HWK_KEY_RSA;
	gp.bits = 2048;
	gp.comment = "unit@test";
	assert_int_equal(hwk_backend_check(f->ctx, f->b, &gp), 0);
	assert_int_equal(hwk_backend_generate(f->ctx, f->b, &gp, &key), 0);
	assert_non_null(key);
	assert_int_equal(hwk_key_bits(key), 2048);
	*stubp = hwk_buf_new();
	assert_int_equal(hwk_backend_write_stub(f->ctx, key, &gp, *stubp), 0);
	assert_ptr_equal(hwk_backend_for_stub(hwk_buf_ptr(*stubp),
	    hwk_buf_len(*stubp)), f->b);
	return key;
}

/*
 * The stub of a key on the token for the tests that only load it and sign:
 * made once, as an RSA keygen costs SoftHSM2 ~0.15 s of CPU, by the first
 * test that needs it (test_sign_both_ways, which checks its making).
 */
static struct hwk_buf *shared;

static struct hwk_buf *
shared_stub(struct p11_token *f)
{
	struct hwk_key *key = NULL;

	if (shared == NULL) {
		key = make_key(f, &shared);
		/* Closing the generating session logs the token out. */
		hwk_key_free(&key);
	}
	return shared;
}

static int
teardown(void **state)
{
	hwk_buf_free(&shared);
	return p11_token_teardown(state);
}

static void
test_sign_both_ways(void **state)
{
	struct p11_token *f = *state;
	struct hwk_buf *stub = NULL;
	struct hwk_key *a = NULL, *b = NULL;
	const uint8_t data[] = "the session hash an SSH server asks to sign";
	uint8_t *s1 = NULL, *s2 = NULL, *s3 = NULL;
	size_t l1, l2, l3;

	p11_token_need(f);
	stub = shared_stub(f);
	log_reset(f);

	/* Load needs no PIN: public objects are readable without login. */
	assert_int_equal(hwk_backend_load(f->ctx, f->b, hwk_buf_ptr(stub),
	    hwk_buf_len(stub), &a), 0);
	assert_int_equal(p11_token_log_count(f, "C_Login"), 0);
	log_reset(f);
	/* The first signature logs in; the second does not again. */
	assert_int_equal(hwk_key_sign(f->ctx, a, HWK_SIG_RSA_SHA256, data,
	    sizeof(data), &s1, &l1), 0);
	assert_int_equal(l1, 256);
	verify(a->pkey, EVP_sha256(), data, sizeof(data), s1, l1);
	assert_int_equal(hwk_key_sign(f->ctx, a, HWK_SIG_RSA_SHA512, data,
	    sizeof(data), &s2, &l2), 0);
	verify(a->pkey, EVP_sha512(), data, sizeof(data), s2, l2);
	assert_int_equal(p11_token_log_count(f, "C_Login"), 1);
	log_reset(f);

	/* A token without hash-and-sign: we hash, it pads a DigestInfo. */
	setenv("HWK_FAKE_NO_HASH_SIGN", "1", 1);
	assert_int_equal(hwk_backend_load(f->ctx, f->b, hwk_buf_ptr(stub),
	    hwk_buf_len(stub), &b), 0);
	assert_int_equal(hwk_key_sign(f->ctx, b, HWK_SIG_RSA_SHA256, data,
	    sizeof(data), &s3, &l3), 0);
	unsetenv("HWK_FAKE_NO_HASH_SIGN");
	assert_int_equal(p11_token_log_count(f, "mechanism 0x1\n"), 1);	/* RSA_PKCS */
	log_reset(f);
	/* PKCS#1 v1.5 is deterministic: the very same signature. */
	assert_int_equal(l3, l1);
	assert_memory_equal(s3, s1, l1);
	free(s3);
	assert_int_equal(hwk_key_sign(f->ctx, b, HWK_SIG_RSA_SHA512, data,
	    sizeof(data), &s3, &l3), 0);
	assert_memory_equal(s3, s2, l2);

	/* Both keys are on one token: they share its session and login. */
	assert_int_equal(p11_token_log_count(f, "C_OpenSession"), 0);
	free(s1);	/* the refused signature below must clear s1 */
	assert_int_equal(hwk_key_sign(f->ctx, a, 99, data, sizeof(data), &s1,
	    &l1), HWK_ERR_UNSUPPORTED);
	assert_null(s1);
	free(s2);
	free(s3);
	hwk_key_free(&a);
	hwk_key_free(&b);
}

static void
test_session_lost(void **state)
{
	struct p11_token *f = *state;
	struct hwk_buf *stub = NULL;
	struct hwk_key *key = NULL, *other = NULL;
	const uint8_t data[] = "x";
	uint8_t *sig = NULL;
	size_t len;

	p11_token_need(f);
	stub = shared_stub(f);
	assert_int_equal(hwk_backend_load(f->ctx, f->b, hwk_buf_ptr(stub),
	    hwk_buf_len(stub), &key), 0);
	assert_int_equal(hwk_key_sign(f->ctx, key, HWK_SIG_RSA_SHA256, data, 1,
	    &sig, &len), 0);
	free(sig);
	log_reset(f);
	/* The token was reset under us: one new session, one new login. */
	setenv("HWK_FAKE_FAIL", "C_SignInit", 1);
	setenv("HWK_FAKE_FAIL_RV", "0xb3", 1);	/* SESSION_HANDLE_INVALID */
	assert_int_equal(hwk_key_sign(f->ctx, key, HWK_SIG_RSA_SHA256, data, 1,
	    &sig, &len), 0);
	unsetenv("HWK_FAKE_FAIL");
	unsetenv("HWK_FAKE_FAIL_RV");
	verify(key->pkey, EVP_sha256(), data, 1, sig, len);
	free(sig);
	assert_int_equal(p11_token_log_count(f, "C_OpenSession"), 1);
	assert_int_equal(p11_token_log_count(f, "C_Login"), 1);
	/* A second key on the token finds its own handles again. */
	assert_int_equal(hwk_backend_load(f->ctx, f->b, hwk_buf_ptr(stub),
	    hwk_buf_len(stub), &other), 0);
	assert_int_equal(hwk_key_sign(f->ctx, other, HWK_SIG_RSA_SHA256, data,
	    1, &sig, &len), 0);
	free(sig);
	assert_int_equal(hwk_key_sign(f->ctx, key, HWK_SIG_RSA_SHA256, data, 1,
	    &sig, &len), 0);
	free(sig);
	setenv("HWK_FAKE_FAIL", "C_SignInit", 1);
	setenv("HWK_FAKE_FAIL_RV", "0xb3", 1);
	assert_int_equal(hwk_key_sign(f->ctx, other, HWK_SIG_RSA_SHA256, data,
	    1, &sig, &len), 0);
	unsetenv("HWK_FAKE_FAIL");
	unsetenv("HWK_FAKE_FAIL_RV");
	free(sig);
	log_reset(f);
	/* The handles the reset made stale are found afresh, not retried. */
	assert_int_equal(hwk_key_sign(f->ctx, key, HWK_SIG_RSA_SHA256, data, 1,
	    &sig, &len), 0);
	free(sig);
	assert_int_equal(p11_token_log_count(f, "C_SignInit 0x0"), 1);
	assert_int_equal(p11_token_log_count(f, "C_SignInit"), 1);
	assert_int_equal(p11_token_log_count(f, "C_OpenSession"), 0);
	hwk_key_free(&other);
	hwk_key_free(&key);
}

static void
test_destroy(void **state)
{
	struct p11_token *f = *state;
	struct hwk_buf *stub = NULL;
	struct hwk_key *key = NULL, *again = NULL;

	p11_token_need(f);
	key = make_key(f, &stub);
	log_reset(f);
	assert_int_equal(hwk_key_destroy(f->ctx, key), 0);
	assert_int_equal(p11_token_log_count(f, "C_DestroyObject 0x0"), 2);
	log_reset(f);
	/* Twice is harmless: the handles are gone. */
	assert_int_equal(hwk_key_destroy(f->ctx, key), 0);
	assert_int_equal(p11_token_log_count(f, "C_DestroyObject"), 0);
	hwk_key_free(&key);
	assert_int_equal(hwk_backend_load(f->ctx, f->b, hwk_buf_ptr(stub),
	    hwk_buf_len(stub), &again), HWK_ERR_NOT_FOUND);
	assert_null(again);
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), "has no key with id"));
	hwk_buf_free(&stub);

	/* A module that says CKR_OK and keeps the key is found out. */
	key = make_key(f, &stub);
	setenv("HWK_FAKE_DESTROY_KEEPS", "1", 1);
	log_reset(f);
	assert_int_equal(hwk_key_destroy(f->ctx, key), HWK_ERR_DEVICE);
	assert_int_equal(p11_token_log_count(f, "C_DestroyObject 0x0"), 2);
	assert_int_equal(p11_token_log_count(f, "C_OpenSession 0x0"), 1);
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), "still holds the new "
	    "key's private key"));
	/* Asked again, it says so again; nothing is destroyed twice. */
	log_reset(f);
	assert_int_equal(hwk_key_destroy(f->ctx, key), HWK_ERR_DEVICE);
	assert_int_equal(p11_token_log_count(f, "C_DestroyObject"), 0);
	unsetenv("HWK_FAKE_DESTROY_KEEPS");
	hwk_key_free(&key);
	/* It is there, and the stub still opens it. */
	assert_int_equal(hwk_backend_load(f->ctx, f->b, hwk_buf_ptr(stub),
	    hwk_buf_len(stub), &again), 0);
	hwk_key_free(&again);
	hwk_buf_free(&stub);
}

/* A file path under the fixture's folder holding one line. */
static void
write_file(struct p11_token *f, const char *name, const char *line, char *src,
    size_t len)
{
	FILE *fp;

	snprintf(src, len, "file:%s/%s", f->dir, name);
	assert_non_null(fp = fopen(src + 5, "w"));
	fprintf(fp, "%s\n", line);
	fclose(fp);
	assert_int_equal(chmod(src + 5, 0600), 0);	/* as PIN files must be */
}

static void
test_pin_refused(void **state)
{
	struct p11_token *f = *state;
	struct hwk_buf *stub = NULL;
	struct hwk_key *a = NULL;
	const uint8_t data[] = "x";
	uint8_t *sig = NULL;
	size_t len;
	char bad[160];

	p11_token_need(f);
	/* Its keys freed, the token is logged out: the next sign logs in. */
	stub = shared_stub(f);
	write_file(f, "badpin", "00000000", bad, sizeof(bad));
	assert_int_equal(hwk_ctx_set_opt(f->ctx, "pin-source", bad), 0);
	log_reset(f);
	assert_int_equal(hwk_backend_load(f->ctx, f->b, hwk_buf_ptr(stub),
	    hwk_buf_len(stub), &a), 0);
	assert_int_equal(hwk_key_sign(f->ctx, a, HWK_SIG_RSA_SHA256, data, 1,
	    &sig, &len), HWK_ERR_PIN_INCORRECT);
	assert_int_equal(p11_token_log_count(f, "C_Login"), 1);
	/* The file says the same again: it is not sent again. */
	assert_int_equal(hwk_key_sign(f->ctx, a, HWK_SIG_RSA_SHA256, data, 1,
	    &sig, &len), HWK_ERR_PIN_INCORRECT);
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), "was refused by token "
	    "'unit'"));
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), "fix the file and "
	    "restart"));
	assert_int_equal(p11_token_log_count(f, "C_Login"), 1);
	/* Nor after the key and its session are gone and opened anew. */
	hwk_key_free(&a);
	assert_int_equal(hwk_backend_load(f->ctx, f->b, hwk_buf_ptr(stub),
	    hwk_buf_len(stub), &a), 0);
	assert_int_equal(hwk_key_sign(f->ctx, a, HWK_SIG_RSA_SHA256, data, 1,
	    &sig, &len), HWK_ERR_PIN_INCORRECT);
	assert_int_equal(p11_token_log_count(f, "C_Login"), 1);
	assert_null(sig);
	/* Another source is another PIN: it is tried. */
	assert_int_equal(hwk_ctx_set_opt(f->ctx, "pin-source", f->pinsrc), 0);
	assert_int_equal(hwk_key_sign(f->ctx, a, HWK_SIG_RSA_SHA256, data, 1,
	    &sig, &len), 0);
	assert_int_equal(p11_token_log_count(f, "C_Login"), 2);
	free(sig);
	hwk_key_free(&a);
}

static void
test_always_auth(void **state)
{
	struct p11_token *f = *state;
	struct hwk_buf *stub = NULL;
	struct hwk_key *key = NULL, *a = NULL;
	const uint8_t data[] = "x";
	uint8_t *sig = NULL;
	size_t len;

	p11_token_need(f);
	/* A key that wants the PIN at each signature (YubiKey slot 9c). */
	setenv("HWK_FAKE_ALWAYS_AUTH", PIN, 1);
	key = make_key(f, &stub);
	log_reset(f);
	assert_int_equal(hwk_key_sign(f->ctx, key, HWK_SIG_RSA_SHA256, data, 1,
	    &sig, &len), 0);
	verify(key->pkey, EVP_sha256(), data, 1, sig, len);
	free(sig);
	assert_int_equal(p11_token_log_count(f, "login context"), 1);
	hwk_key_free(&key);

	/* No public object: load finds the private key and must ask too. */
	setenv("HWK_FAKE_NO_PUBKEY", "1", 1);
	log_reset(f);
	assert_int_equal(hwk_backend_load(f->ctx, f->b, hwk_buf_ptr(stub),
	    hwk_buf_len(stub), &a), 0);
	assert_int_equal(p11_token_log_count(f, "C_Login"), 1);	/* to read n and e */
	assert_int_equal(hwk_key_sign(f->ctx, a, HWK_SIG_RSA_SHA256, data, 1,
	    &sig, &len), 0);
	verify(a->pkey, EVP_sha256(), data, 1, sig, len);
	free(sig);
	assert_int_equal(hwk_key_sign(f->ctx, a, HWK_SIG_RSA_SHA512, data, 1,
	    &sig, &len), 0);
	verify(a->pkey, EVP_sha512(), data, 1, sig, len);
	free(sig);
	assert_int_equal(p11_token_log_count(f, "login context"), 2);
	assert_int_equal(p11_token_log_count(f, "C_Sign 0x0"), 2);
	assert_int_equal(p11_token_log_count(f, "C_Sign 0x101"), 0);
	unsetenv("HWK_FAKE_NO_PUBKEY");
	unsetenv("HWK_FAKE_ALWAYS_AUTH");
	hwk_key_free(&a);
	hwk_buf_free(&stub);
}

/* One signature of key with call failing once with rv; its result. */
static int
sign_failing(struct p11_token *f, struct hwk_key *key, const char *call,
    const char *rv, const char *gen)
{
	const uint8_t data[] = "y";
	uint8_t *sig = NULL;
	size_t len;
	int r;

	setenv("HWK_FAKE_FAIL", call, 1);
	setenv("HWK_FAKE_FAIL_RV", rv, 1);
	setenv("HWK_FAKE_FAIL_GEN", gen, 1);
	log_reset(f);
	r = hwk_key_sign(f->ctx, key, HWK_SIG_RSA_SHA256, data, 1, &sig, &len);
	unsetenv("HWK_FAKE_FAIL");
	unsetenv("HWK_FAKE_FAIL_RV");
	if (r == 0)
		verify(key->pkey, EVP_sha256(), data, 1, sig, len);
	else
		assert_null(sig);
	free(sig);
	return r;
}

static void
test_sign_failures(void **state)
{
	struct p11_token *f = *state;
	struct hwk_buf *stub = NULL;
	struct hwk_key *key = NULL;
	const uint8_t data[] = "z";
	uint8_t *sig = NULL;
	size_t len;

	p11_token_need(f);
	stub = shared_stub(f);
	assert_int_equal(hwk_backend_load(f->ctx, f->b, hwk_buf_ptr(stub),
	    hwk_buf_len(stub), &key), 0);
	assert_int_equal(hwk_key_sign(f->ctx, key, HWK_SIG_RSA_SHA256, data, 1,
	    &sig, &len), 0);
	free(sig);

	/* Another application reset the card: C_Sign finds us logged out. */
	setenv("HWK_FAKE_FAIL_LOGOUT", "1", 1);
	assert_int_equal(sign_failing(f, key, "C_Sign", "0x101", "a"), 0);
	unsetenv("HWK_FAKE_FAIL_LOGOUT");
	assert_int_equal(p11_token_log_count(f, "C_Sign 0x101"), 1);
	assert_int_equal(p11_token_log_count(f, "C_Sign 0x0"), 1);
	assert_int_equal(p11_token_log_count(f, "C_OpenSession"), 1);	/* afresh */
	assert_int_equal(p11_token_log_count(f, "C_Login 0x0"), 1);	/* one login */

	/* An operation left hanging: a new session, a fresh login. */
	assert_int_equal(sign_failing(f, key, "C_Sign", "0x90", "b"), 0);
	assert_int_equal(p11_token_log_count(f, "C_OpenSession"), 1);
	assert_int_equal(p11_token_log_count(f, "C_Login 0x0"), 1);
	assert_int_equal(p11_token_log_count(f, "C_Sign 0x0"), 1);

	/* A stale handle: found again, in the same session, no login. */
	assert_int_equal(sign_failing(f, key, "C_SignInit", "0x60", "c"), 0);
	assert_int_equal(p11_token_log_count(f, "C_OpenSession"), 0);
	assert_int_equal(p11_token_log_count(f, "C_Login"), 0);
	assert_int_equal(p11_token_log_count(f, "C_FindObjectsInit"), 1);
	assert_int_equal(p11_token_log_count(f, "C_SignInit 0x0"), 1);
	assert_int_equal(sign_failing(f, key, "C_SignInit", "0x82", "d"), 0);
	assert_int_equal(p11_token_log_count(f, "C_OpenSession"), 0);
	assert_int_equal(p11_token_log_count(f, "C_Login"), 0);
	assert_int_equal(p11_token_log_count(f, "C_FindObjectsInit"), 1);

	/* Any other C_Sign failure fails, once; the login is asked again. */
	assert_int_equal(sign_failing(f, key, "C_Sign", "0x30", "e"),
	    HWK_ERR_DEVICE);
	assert_int_equal(p11_token_log_count(f, "C_Sign 0x"), 1);
	assert_int_equal(p11_token_log_count(f, "C_OpenSession"), 0);
	log_reset(f);
	assert_int_equal(hwk_key_sign(f->ctx, key, HWK_SIG_RSA_SHA256, data, 1,
	    &sig, &len), 0);
	free(sig);
	assert_int_equal(p11_token_log_count(f, "C_GetSessionInfo 0x0"), 1);
	assert_int_equal(p11_token_log_count(f, "C_Login"), 0);	/* still logged in */
	/* And when the login went with it, it is made again, no new session. */
	setenv("HWK_FAKE_FAIL_LOGOUT", "1", 1);
	assert_int_equal(sign_failing(f, key, "C_Sign", "0x30", "f"),
	    HWK_ERR_DEVICE);
	unsetenv("HWK_FAKE_FAIL_LOGOUT");
	log_reset(f);
	assert_int_equal(hwk_key_sign(f->ctx, key, HWK_SIG_RSA_SHA256, data, 1,
	    &sig, &len), 0);
	free(sig);
	assert_int_equal(p11_token_log_count(f, "C_Login 0x0"), 1);
	assert_int_equal(p11_token_log_count(f, "C_OpenSession"), 0);
	/* (SoftHSM2 drops private handles at logout: found again, too.) */
	assert_int_equal(p11_token_log_count(f, "C_SignInit 0x0"), 1);
	unsetenv("HWK_FAKE_FAIL_GEN");
	hwk_key_free(&key);
}

static void
test_token_swapped(void **state)
{
	struct p11_token *f = *state;
	struct hwk_buf *stub = NULL;
	struct hwk_key *key = NULL, *a = NULL, *b = NULL;
	const uint8_t data[] = "w";
	uint8_t *sig = NULL;
	size_t len;

	p11_token_need(f);
	key = make_key(f, &stub);
	assert_int_equal(hwk_key_sign(f->ctx, key, HWK_SIG_RSA_SHA256, data, 1,
	    &sig, &len), 0);
	free(sig);
	/* Reset, and the slot holds the backup: same label, new serial. */
	setenv("HWK_FAKE_NEW_SERIAL", "backup99", 1);
	assert_int_equal(sign_failing(f, key, "C_SignInit", "0xb3", "g"),
	    HWK_ERR_NO_DEVICE);
	unsetenv("HWK_FAKE_NEW_SERIAL");
	unsetenv("HWK_FAKE_FAIL_GEN");
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), "now holds token "
	    "'unit' (serial backup99), not token 'unit' (serial "));
	assert_int_equal(p11_token_log_count(f, "C_OpenSession"), 0);
	assert_int_equal(p11_token_log_count(f, "C_Login"), 0);
	hwk_key_free(&key);
	hwk_buf_free(&stub);

	/* Another key made under the id of a loaded one: not signed with. */
	assert_int_equal(hwk_ctx_set_opt(f->ctx, "id", "7e"), 0);
	key = make_key(f, &stub);
	assert_int_equal(hwk_backend_load(f->ctx, f->b, hwk_buf_ptr(stub),
	    hwk_buf_len(stub), &a), 0);
	assert_int_equal(hwk_key_sign(f->ctx, a, HWK_SIG_RSA_SHA256, data, 1,
	    &sig, &len), 0);
	free(sig);
	assert_int_equal(hwk_key_destroy(f->ctx, key), 0);
	hwk_key_free(&key);
	hwk_buf_free(&stub);
	b = make_key(f, &stub);
	assert_int_equal(hwk_ctx_set_opt(f->ctx, "id", NULL), 0);
	assert_int_equal(hwk_key_sign(f->ctx, a, HWK_SIG_RSA_SHA256, data, 1,
	    &sig, &len), HWK_ERR_WRONG_DEVICE);
	assert_null(sig);
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), "holds another key "
	    "under id 7e"));
	/* The new key itself signs, of course. */
	assert_int_equal(hwk_key_sign(f->ctx, b, HWK_SIG_RSA_SHA256, data, 1,
	    &sig, &len), 0);
	free(sig);
	assert_int_equal(hwk_key_destroy(f->ctx, b), 0);
	hwk_key_free(&a);
	hwk_key_free(&b);
	hwk_buf_free(&stub);
}

static void
test_slot_info(void **state)
{
	struct p11_token *f = *state;
	struct hwk_stubinfo si;
	const char *stub = "pkcs11:token=t;id=%01;type=private\n";

	(void)f;
	assert_int_equal(hwk_backend_stub_info(hwk_backend_find("pkcs11"),
	    (const uint8_t *)stub, strlen(stub), &si), 0);
	assert_null(si.pub);
	assert_string_equal(si.protection, "token PIN");
	hwk_stubinfo_clear(&si);
	assert_int_not_equal(hwk_backend_stub_info(hwk_backend_find("pkcs11"),
	    (const uint8_t *)"pkcs11:token=t", 14, &si), 0);
	assert_false(hwk_backend_claims(hwk_backend_find("pkcs11"),
	    (const uint8_t *)"-----BEGIN", 10));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot_info),
		cmocka_unit_test(test_sign_both_ways),
		cmocka_unit_test(test_session_lost),
		cmocka_unit_test(test_destroy),
		cmocka_unit_test(test_pin_refused),
		cmocka_unit_test(test_always_auth),
		cmocka_unit_test(test_sign_failures),
		cmocka_unit_test(test_token_swapped),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
