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

#define STRICT_SO	"tests/pkcs11_strict.so"
#define MGMKEY		"010203040506070801020304050607080102030405060708"
#define PIN		"87654321"

static const char *const softhsm_paths[] = {
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	NULL,
};

struct fixture {
	char	 dir[64];
	char	 module[PATH_MAX];	/* the strict module, absolute */
	const char *real;		/* SoftHSM2 itself */
	char	 pinsrc[128];
	char	 log[128];
	const struct hwk_backend *b;
	struct hwk_ctx *ctx;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char conf[128], cmd[512], mod[PATH_MAX];
	const char *bdir = getenv("HWK_BUILD");
	FILE *fp;
	int i;

	*state = f;
	for (i = 0; softhsm_paths[i] != NULL && f->real == NULL; i++)
		if (access(softhsm_paths[i], R_OK) == 0)
			f->real = softhsm_paths[i];
	if (f->real == NULL ||
	    system("softhsm2-util --version >/dev/null 2>&1") != 0 ||
	    snprintf(mod, sizeof(mod), "%s/%s", bdir != NULL ? bdir :
	    "build", STRICT_SO) >= (int)sizeof(mod) ||
	    realpath(mod, f->module) == NULL)
		return 0;	/* the tests skip */
	strcpy(f->dir, "/tmp/hwk-p11yk.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", f->dir);
	if ((fp = fopen(conf, "w")) == NULL)
		return -1;
	fprintf(fp, "directories.tokendir = %s\nobjectstore.backend = file\n"
	    "log.level = ERROR\n", f->dir);
	fclose(fp);
	setenv("SOFTHSM2_CONF", conf, 1);
	setenv("HWK_FAKE_REAL", f->real, 1);
	setenv("HWK_STRICT_USER_PIN", PIN, 1);
	snprintf(f->log, sizeof(f->log), "%s/calls.log", f->dir);
	setenv("HWK_FAKE_LOG", f->log, 1);
	snprintf(cmd, sizeof(cmd), "softhsm2-util --init-token --free --label "
	    "yk --pin %s --so-pin 11223344 >/dev/null", PIN);
	if (system(cmd) != 0)
		return -1;
	snprintf(f->pinsrc, sizeof(f->pinsrc), "file:%s/pin", f->dir);
	if ((fp = fopen(f->pinsrc + 5, "w")) == NULL)
		return -1;
	fprintf(fp, "%s\n", MGMKEY);	/* ykcs11's SO PIN */
	fclose(fp);
	if (chmod(f->pinsrc + 5, 0600) != 0)	/* PIN files are private */
		return -1;
	if ((f->b = hwk_backend_find("pkcs11")) == NULL ||
	    (f->ctx = hwk_ctx_new()) == NULL ||
	    hwk_ctx_set_opt(f->ctx, "module", f->module) != 0 ||
	    hwk_ctx_set_opt(f->ctx, "pin-source", f->pinsrc) != 0 ||
	    hwk_ctx_set_opt(f->ctx, "login", "so") != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	if (f->dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
		if (system(cmd) != 0)
			return -1;
	}
	hwk_ctx_free(&f->ctx);
	free(f);
	return 0;
}

static void
need_token(struct fixture *f)
{
	if (f->ctx == NULL)
		skip();
}

/* How many lines of the call log start with prefix. */
static int
log_count(struct fixture *f, const char *prefix)
{
	char line[256];
	FILE *fp;
	int n = 0;

	if ((fp = fopen(f->log, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			n++;
	fclose(fp);
	return n;
}

/* The output of a shell command, NUL-terminated (at most 64 KiB). */
static char * __attribute__((format(printf, 1, 2)))
run(const char *fmt, ...)
{
	char cmd[1024], *out = calloc(1, 65536);
	va_list ap;
	size_t n;
	FILE *p;

	assert_non_null(out);
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_non_null(p = popen(cmd, "r"));
	n = fread(out, 1, 65535, p);
	out[n] = '\0';
	pclose(p);
	return out;
}

/* How many key objects SoftHSM2 itself lists on the token. */
static int
objects(struct fixture *f)
{
	char *out = run("pkcs11-tool --module %s --login --pin %s "
	    "--list-objects 2>/dev/null | grep -c 'Key Object'", f->real, PIN);
	int n = atoi(out);

	free(out);
	return n;
}

/* A raw signature of the backend (r || s, or Ed25519's) checked by OpenSSL. */
static void
verify(EVP_PKEY *pkey, int alg, const uint8_t *data, size_t len,
    const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	ECDSA_SIG *es = NULL;
	unsigned char *der = NULL;
	const EVP_MD *md = NULL;
	int derlen;

	assert_non_null(m);
	if (alg == HWK_SIG_ECDSA) {
		md = hwk_ecdsa_md(hwk_ecdsa_bits(pkey));
		assert_int_equal(siglen, 2 * ((hwk_ecdsa_bits(pkey) + 7) / 8));
		assert_non_null(es = ECDSA_SIG_new());
		assert_int_equal(ECDSA_SIG_set0(es, BN_bin2bn(sig,
		    (int)siglen / 2, NULL), BN_bin2bn(sig + siglen / 2,
		    (int)siglen / 2, NULL)), 1);
		assert_true((derlen = i2d_ECDSA_SIG(es, &der)) > 0);
		sig = der;
		siglen = (size_t)derlen;
	} else
		assert_int_equal(siglen, 64);
	assert_int_equal(EVP_DigestVerifyInit(m, NULL, md, NULL, pkey), 1);
	assert_int_equal(EVP_DigestVerify(m, sig, siglen, data, len), 1);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(m);
}

/* A new key of type and bits in PIV slot id, made and loaded again. */
static struct hwk_key *
make_key(struct fixture *f, int type, unsigned bits, const char *id)
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
	struct fixture *f = *state;
	const uint8_t data[] = "signed in a PIV slot";
	struct hwk_key *key;
	uint8_t *sig = NULL;
	size_t len;

	need_token(f);
	key = make_key(f, HWK_KEY_ECDSA, 256, "02");
	assert_int_equal(hwk_key_sign(f->ctx, key, HWK_SIG_ECDSA, data,
	    sizeof(data), &sig, &len), 0);
	verify(key->pkey, HWK_SIG_ECDSA, data, sizeof(data), sig, len);
	free(sig);
	hwk_key_free(&key);
	key = make_key(f, HWK_KEY_ECDSA, 384, "03");
	assert_int_equal(hwk_key_sign(f->ctx, key, HWK_SIG_ECDSA, data,
	    sizeof(data), &sig, &len), 0);
	verify(key->pkey, HWK_SIG_ECDSA, data, sizeof(data), sig, len);
	free(sig);
	hwk_key_free(&key);
	assert_int_equal(objects(f), 4);
}

/* What a PIV slot cannot hold is refused before any login, in words. */
static void
test_refused(void **state)
{
	struct fixture *f = *state;
	struct hwk_genparams gp;
	struct hwk_key *key = NULL;
	const char *makes = "it makes RSA keys of 1024 to 2048 bits and "
	    "ECDSA keys on P-256, P-384";
	int n;

	need_token(f);
	n = objects(f);
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
	assert_int_equal(log_count(f, "C_Login"), 0);
	assert_int_equal(log_count(f, "C_GenerateKeyPair"), 0);
	assert_int_equal(objects(f), n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_piv_curves),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
