/* The SoftHSM2 token the PKCS#11 unit tests share (see p11token.h). */
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
#include "hwkey/ctx.h"
#include "hwkey/sshkey.h"
#include "p11token.h"

static const char *const softhsm_paths[] = {
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	NULL,
};

/* SoftHSM2 and the test module, or 0 (the tests skip). */
static int
find_modules(struct p11_token *t, const char *module)
{
	const char *bdir = getenv("HWK_BUILD");
	char path[PATH_MAX];
	int i;

	for (i = 0; softhsm_paths[i] != NULL && t->real == NULL; i++)
		if (access(softhsm_paths[i], R_OK) == 0)
			t->real = softhsm_paths[i];
	return t->real != NULL &&
	    system("softhsm2-util --version >/dev/null 2>&1") == 0 &&
	    snprintf(path, sizeof(path), "%s/%s", bdir != NULL ? bdir :
	    "build", module) < (int)sizeof(path) &&
	    realpath(path, t->module) != NULL;
}

/* The token folder and its configuration, read through SOFTHSM2_CONF. */
static int
make_config(struct p11_token *t)
{
	char conf[128];
	FILE *fp;

	strcpy(t->dir, "/tmp/hwk-p11unit.XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", t->dir);
	if ((fp = fopen(conf, "w")) == NULL)
		return -1;
	fprintf(fp, "directories.tokendir = %s\nobjectstore.backend = file\n"
	    "log.level = ERROR\n", t->dir);
	fclose(fp);
	setenv("SOFTHSM2_CONF", conf, 1);
	setenv("HWK_FAKE_REAL", t->real, 1);
	snprintf(t->log, sizeof(t->log), "%s/calls.log", t->dir);
	setenv("HWK_FAKE_LOG", t->log, 1);
	return 0;
}

int
p11_token_setup(void **state, const char *module, const char *label,
    const char *pin, const char *secret)
{
	struct p11_token *t = calloc(1, sizeof(*t));
	char cmd[512];
	FILE *fp;

	if ((*state = t) == NULL)
		return -1;
	if (!find_modules(t, module))
		return 0;	/* the tests skip */
	if (make_config(t) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "softhsm2-util --init-token --free --label "
	    "%s --pin %s --so-pin 11223344 >/dev/null", label, pin);
	if (system(cmd) != 0)
		return -1;
	snprintf(t->pinsrc, sizeof(t->pinsrc), "file:%s/pin", t->dir);
	if ((fp = fopen(t->pinsrc + 5, "w")) == NULL)
		return -1;
	fprintf(fp, "%s\n", secret);
	fclose(fp);
	if (chmod(t->pinsrc + 5, 0600) != 0)	/* PIN files are private */
		return -1;
	if ((t->b = hwk_backend_find("pkcs11")) == NULL ||
	    (t->ctx = hwk_ctx_new()) == NULL ||
	    hwk_ctx_set_opt(t->ctx, "module", t->module) != 0 ||
	    hwk_ctx_set_opt(t->ctx, "pin-source", t->pinsrc) != 0)
		return -1;
	return 0;
}

int
p11_token_teardown(void **state)
{
	struct p11_token *t = *state;
	char cmd[128];

	if (t == NULL)
		return 0;
	if (t->dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
		if (system(cmd) != 0)
			return -1;
	}
	hwk_ctx_free(&t->ctx);
	free(t);
	return 0;
}

void
p11_token_need(struct p11_token *t)
{
	if (t->ctx == NULL)
		skip();
}

int
p11_token_log_count(struct p11_token *t, const char *prefix)
{
	char line[256];
	FILE *fp;
	int n = 0;

	if ((fp = fopen(t->log, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			n++;
	fclose(fp);
	return n;
}

char *
p11_token_run(const char *fmt, ...)
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

int
p11_token_objects(struct p11_token *t, const char *pin)
{
	char *out = p11_token_run("pkcs11-tool --module %s --login --pin %s "
	    "--list-objects 2>/dev/null | grep -c 'Key Object'", t->real, pin);
	int n = atoi(out);

	free(out);
	return n;
}

void
p11_token_verify(EVP_PKEY *pkey, int alg, const uint8_t *data, size_t len,
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
