/*
 * Unit tests of the software backend with each key type: keys made, written,
 * loaded and signing, each signature checked by OpenSSL against the public
 * key; ssh-keygen's keys loaded, and its SSHSIG signatures made again.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "backends.h"
#include "fixture.h"

static const struct hwk_backend *const sw = &hwk_backend_software;

static const EVP_MD *
md_of(int alg, unsigned bits)
{
	switch (alg) {
	case HWK_SIG_RSA_SHA1:		return EVP_sha1();
	case HWK_SIG_RSA_SHA256:	return EVP_sha256();
	case HWK_SIG_RSA_SHA512:	return EVP_sha512();
	case HWK_SIG_ECDSA:
		return bits == 256 ? EVP_sha256() : bits == 384 ?
		    EVP_sha384() : EVP_sha512();
	}
	return NULL;
}

/* OpenSSL checks a raw signature of the sign op with the .pub's key. */
static void
verify_raw(const struct hwk_pubkey *pub, int alg, const uint8_t *raw,
    size_t len, const uint8_t *data, size_t datalen)
{
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	ECDSA_SIG *es = NULL;
	uint8_t *der = NULL;
	int derlen = 0;

	assert_int_equal(hwk_pubkey_to_evp(pub, &pk), 0);
	if (alg == HWK_SIG_ECDSA) {
		/* r || s, each as long as the field */
		assert_int_equal(len, 2 * ((pub->bits + 7) / 8));
		es = ECDSA_SIG_new();
		assert_int_equal(ECDSA_SIG_set0(es, BN_bin2bn(raw,
		    (int)len / 2, NULL), BN_bin2bn(raw + len / 2,
		    (int)len / 2, NULL)), 1);
		assert_true((derlen = i2d_ECDSA_SIG(es, &der)) > 0);
		raw = der;
		len = (size_t)derlen;
	} else if (alg == HWK_SIG_ED25519)
		assert_int_equal(len, 64);
	else
		assert_int_equal(len, (pub->bits + 7) / 8);
	assert_int_equal(EVP_DigestVerifyInit(m, NULL, md_of(alg, pub->bits),
	    NULL, pk), 1);
	assert_int_equal(EVP_DigestVerify(m, raw, len, data, datalen), 1);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(pk);
}

static struct hwk_key *
load(struct hwk_ctx *ctx, const uint8_t *stub, size_t len, const char *pass)
{
	struct hwk_key *key = NULL;

	if (pass != NULL)
		assert_int_equal(hwk_ctx_set_opt(ctx, "passphrase", pass), 0);
	assert_int_equal(hwk_backend_load(ctx, sw, stub, len, &key), 0);
	return key;
}

/* Signs with every algorithm: those of the key verify, others refused. */
static void
sign_all(struct hwk_ctx *ctx, struct hwk_key *key, const int *algs)
{
	static const uint8_t data[] = "to be signed";
	struct hwk_pubkey *pub = NULL;
	struct hwk_buf *blob = hwk_buf_new();
	uint8_t *sig = NULL;
	size_t len = 0;
	int alg, i, ok;

	assert_int_equal(hwk_key_pubkey(key, &pub), 0);
	for (alg = HWK_SIG_RSA_SHA1; alg <= HWK_SIG_ED25519 + 1; alg++) {
		for (ok = 0, i = 0; algs[i] != 0; i++)
			ok |= algs[i] == alg;
		if (!ok) {
			assert_int_equal(hwk_key_sign(ctx, key, alg, data,
			    sizeof(data), &sig, &len), HWK_ERR_UNSUPPORTED);
			assert_null(sig);
			continue;
		}
		assert_int_equal(hwk_key_sign(ctx, key, alg, data,
		    sizeof(data), &sig, &len), 0);
		verify_raw(pub, alg, sig, len, data, sizeof(data));
		/* And the SSH encoding takes it. */
		hwk_buf_reset(blob);
		assert_int_equal(hwk_sig_put_blob(key->pkey,
		    alg == HWK_SIG_RSA_SHA512 ? "rsa-sha2-512" :
		    alg == HWK_SIG_RSA_SHA256 ? "rsa-sha2-256" :
		    alg == HWK_SIG_RSA_SHA1 ? "ssh-rsa" : NULL, sig, len,
		    blob), 0);
		free(sig);
		sig = NULL;
	}
	hwk_buf_free(&blob);
	hwk_pubkey_free(&pub);
}

static void
make_and_use(int type, unsigned bits, const char *pass, const int *algs)
{
	struct hwk_ctx *ctx = hwk_ctx_new();
	struct hwk_genparams gp;
	struct hwk_key *key = NULL, *back = NULL;
	struct hwk_pubkey *p1 = NULL, *p2 = NULL;
	struct hwk_buf *stub = hwk_buf_new();
	unsigned want = type == HWK_KEY_ED25519 ? 256 : bits;

	memset(&gp, 0, sizeof(gp));
	gp.type = type;
	gp.bits = bits;
	gp.comment = "made here";
	gp.passphrase = pass;
	gp.kdf_rounds = 1;
	assert_int_equal(hwk_backend_check(ctx, sw, &gp), 0);
	assert_int_equal(hwk_backend_generate(ctx, sw, &gp, &key), 0);
	assert_int_equal(hwk_key_bits(key), want);
	assert_int_equal(hwk_backend_write_stub(ctx, key, &gp, stub), 0);
	back = load(ctx, hwk_buf_ptr(stub), hwk_buf_len(stub), pass);
	assert_string_equal(back->comment, "made here");
	assert_int_equal(hwk_key_bits(back), want);
	assert_int_equal(hwk_key_pubkey(key, &p1), 0);
	assert_int_equal(hwk_key_pubkey(back, &p2), 0);
	assert_int_equal(p1->bits, want);
	assert_int_equal(p1->bloblen, p2->bloblen);
	assert_memory_equal(p1->blob, p2->blob, p1->bloblen);
	sign_all(ctx, key, algs);
	sign_all(ctx, back, algs);
	hwk_pubkey_free(&p1);
	hwk_pubkey_free(&p2);
	hwk_key_free(&key);
	hwk_key_free(&back);
	hwk_buf_free(&stub);
	hwk_ctx_free(&ctx);
}

static void
test_each_type(void **state)
{
	static const int rsa[] = { HWK_SIG_RSA_SHA1, HWK_SIG_RSA_SHA256,
	    HWK_SIG_RSA_SHA512, 0 };
	static const int ecdsa[] = { HWK_SIG_ECDSA, 0 };
	static const int ed25519[] = { HWK_SIG_ED25519, 0 };

	(void)state;
	make_and_use(HWK_KEY_RSA, 2048, NULL, rsa);
	make_and_use(HWK_KEY_ECDSA, 256, NULL, ecdsa);
	make_and_use(HWK_KEY_ECDSA, 384, "pass", ecdsa);
	make_and_use(HWK_KEY_ECDSA, 521, NULL, ecdsa);
	make_and_use(HWK_KEY_ECDSA, 521, "pass", ecdsa);
	make_and_use(HWK_KEY_ED25519, 0, NULL, ed25519);
	/* Ed25519's bits are ignored. */
	make_and_use(HWK_KEY_ED25519, 4096, "pass", ed25519);
}

static void
test_check(void **state)
{
	static const unsigned bad[] = { 0, 192, 255, 257, 512, 522, 2048 };
	struct hwk_ctx *ctx = hwk_ctx_new();
	struct hwk_genparams gp;
	size_t i;

	(void)state;
	memset(&gp, 0, sizeof(gp));
	gp.type = HWK_KEY_ECDSA;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		gp.bits = bad[i];
		assert_int_equal(hwk_backend_check(ctx, sw, &gp),
		    HWK_ERR_KEY_SIZE);
		assert_string_equal(hwk_ctx_detail(ctx), "Invalid ECDSA key "
		    "length: valid lengths are 256, 384 or 521 bits");
		hwk_ctx_clear_error(ctx);
	}
	gp.type = HWK_KEY_RSA;
	gp.bits = 1024;
	assert_int_equal(hwk_backend_check(ctx, sw, &gp), HWK_ERR_KEY_SIZE);
	gp.type = 99;
	gp.bits = 256;
	assert_int_equal(hwk_backend_check(ctx, sw, &gp), HWK_ERR_KEY_TYPE);
	hwk_ctx_free(&ctx);
}

/* ssh-keygen's keys: the public half its .pub has, and signatures. */
static void
load_fixture(const char *name, const char *pass, const char *type)
{
	static const int ecdsa[] = { HWK_SIG_ECDSA, 0 };
	static const int ed25519[] = { HWK_SIG_ED25519, 0 };
	struct hwk_ctx *ctx = hwk_ctx_new();
	struct hwk_stubinfo info;
	struct hwk_pubkey *want = NULL, *got = NULL;
	struct hwk_key *key;
	char pubname[128], *text, *line;
	size_t len;

	text = fixture_read(name, &len);
	snprintf(pubname, sizeof(pubname), "%s.pub", name);
	line = fixture_read(pubname, NULL);
	assert_int_equal(hwk_pubkey_from_line(line, &want), 0);
	assert_int_equal(hwk_backend_stub_info(sw, (uint8_t *)text, len,
	    &info), 0);
	assert_string_equal(info.pub->type, type);
	assert_string_equal(info.protection, pass != NULL ? "passphrase" :
	    "none");
	hwk_stubinfo_clear(&info);
	if (pass != NULL) {
		assert_int_equal(hwk_ctx_set_opt(ctx, "passphrase", "wrong"),
		    0);
		assert_int_equal(hwk_backend_load(ctx, sw, (uint8_t *)text,
		    len, &key), HWK_ERR_WRONG_PASSPHRASE);
		assert_null(key);
	}
	key = load(ctx, (uint8_t *)text, len, pass);
	assert_int_equal(hwk_key_pubkey(key, &got), 0);
	assert_int_equal(got->bloblen, want->bloblen);
	assert_memory_equal(got->blob, want->blob, want->bloblen);
	assert_int_equal(hwk_key_bits(key), want->bits);
	sign_all(ctx, key, strcmp(type, "ssh-ed25519") == 0 ? ed25519 : ecdsa);
	hwk_key_free(&key);
	hwk_pubkey_free(&want);
	hwk_pubkey_free(&got);
	hwk_ctx_free(&ctx);
	free(line);
	free(text);
}

static void
test_ssh_keygen_keys(void **state)
{
	struct hwk_ctx *ctx = hwk_ctx_new();
	struct hwk_key *key = NULL;
	char *text;
	size_t len;

	(void)state;
	load_fixture("ecdsa256.key", NULL, "ecdsa-sha2-nistp256");
	load_fixture("ecdsa384.key", NULL, "ecdsa-sha2-nistp384");
	load_fixture("ecdsa521.key", NULL, "ecdsa-sha2-nistp521");
	load_fixture("ed25519.key", NULL, "ssh-ed25519");
	load_fixture("ecdsa256-enc.key", "ec pass", "ecdsa-sha2-nistp256");
	load_fixture("ecdsa384-enc.key", "ec pass", "ecdsa-sha2-nistp384");
	load_fixture("ecdsa521-enc.key", "ec pass", "ecdsa-sha2-nistp521");
	load_fixture("ed25519-enc.key", "ed pass", "ssh-ed25519");
	/* A type hwkeygen does not use says which. */
	text = fixture_read("dsa.key", &len);
	assert_int_equal(hwk_backend_load(ctx, sw, (uint8_t *)text, len,
	    &key), HWK_ERR_KEY_TYPE);
	assert_non_null(strstr(hwk_ctx_detail(ctx), "ssh-dss"));
	hwk_ctx_free(&ctx);
	free(text);
}

/* A PKCS#8 PEM file of key, as openssl genpkey writes it. */
static struct hwk_buf *
pem_of(EVP_PKEY *key)
{
	struct hwk_buf *b = hwk_buf_new();
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;

	assert_int_equal(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0,
	    NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &p);
	assert_int_equal(hwk_buf_put(b, p, (size_t)n), 0);
	BIO_free(bio);
	return b;
}

static void
test_pem_keys(void **state)
{
	static const int ecdsa[] = { HWK_SIG_ECDSA, 0 };
	static const int ed25519[] = { HWK_SIG_ED25519, 0 };
	struct hwk_ctx *ctx = hwk_ctx_new();
	struct hwk_key *key = NULL;
	struct hwk_buf *pem;
	EVP_PKEY *k;

	(void)state;
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	pem = pem_of(k);
	key = load(ctx, hwk_buf_ptr(pem), hwk_buf_len(pem), NULL);
	assert_int_equal(hwk_key_bits(key), 384);
	sign_all(ctx, key, ecdsa);
	hwk_key_free(&key);
	hwk_buf_free(&pem);
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	pem = pem_of(k);
	key = load(ctx, hwk_buf_ptr(pem), hwk_buf_len(pem), NULL);
	sign_all(ctx, key, ed25519);
	hwk_key_free(&key);
	hwk_buf_free(&pem);
	EVP_PKEY_free(k);
	/* Curves SSH does not name are refused. */
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	pem = pem_of(k);
	assert_int_equal(hwk_backend_load(ctx, sw, hwk_buf_ptr(pem),
	    hwk_buf_len(pem), &key), HWK_ERR_KEY_TYPE);
	assert_null(key);
	hwk_buf_free(&pem);
	EVP_PKEY_free(k);
	hwk_ctx_free(&ctx);
}

/*
 * An SSHSIG file of ssh-keygen -Y sign: the data it signed (its PROTOCOL.
 * sshsig) and the signature blob.
 */
static void
sshsig_parse(const char *name, struct hwk_buf *tbs, struct hwk_buf **sigp)
{
	struct hwk_buf *body = hwk_buf_new(), *b;
	const uint8_t *ns, *res, *halg;
	size_t nslen, reslen, halglen;
	uint8_t magic[6], h[64];
	uint32_t version;
	char *text = fixture_read(name, NULL), *msg;
	size_t msglen;
	unsigned int hlen;

	assert_int_equal(hwk_pem_decode(text, strlen(text), "SSH SIGNATURE",
	    body), 0);
	b = body;
	assert_int_equal(hwk_buf_get(b, magic, 6), 0);
	assert_memory_equal(magic, "SSHSIG", 6);
	assert_int_equal(hwk_buf_get_u32(b, &version), 0);
	assert_int_equal(hwk_buf_get_string_direct(b, NULL, NULL), 0);
	assert_int_equal(hwk_buf_get_string_direct(b, &ns, &nslen), 0);
	assert_int_equal(hwk_buf_get_string_direct(b, &res, &reslen), 0);
	assert_int_equal(hwk_buf_get_string_direct(b, &halg, &halglen), 0);
	assert_memory_equal(halg, "sha512", 6);
	msg = fixture_read("sshsig.msg", &msglen);
	assert_int_equal(EVP_Digest(msg, msglen, h, &hlen, EVP_sha512(),
	    NULL), 1);
	assert_int_equal(hwk_buf_put(tbs, "SSHSIG", 6), 0);
	assert_int_equal(hwk_buf_put_string(tbs, ns, nslen), 0);
	assert_int_equal(hwk_buf_put_string(tbs, res, reslen), 0);
	assert_int_equal(hwk_buf_put_string(tbs, halg, halglen), 0);
	assert_int_equal(hwk_buf_put_string(tbs, h, hlen), 0);
	assert_int_equal(hwk_buf_get_stringb(b, sigp), 0);
	assert_int_equal(hwk_buf_len(b), 0);
	hwk_buf_free(&body);
	free(msg);
	free(text);
}

/* ECDSA: ssh-keygen's r and s as the raw r || s of the sign op. */
static void
ecdsa_raw_of(const struct hwk_buf *sig, size_t half, uint8_t *raw)
{
	struct hwk_buf *b = hwk_buf_from(hwk_buf_ptr(sig), hwk_buf_len(sig));
	struct hwk_buf *rs = NULL;
	const uint8_t *r, *s;
	size_t rlen, slen;

	assert_int_equal(hwk_buf_get_string_direct(b, NULL, NULL), 0);
	assert_int_equal(hwk_buf_get_stringb(b, &rs), 0);
	assert_int_equal(hwk_buf_get_mpint_direct(rs, &r, &rlen), 0);
	assert_int_equal(hwk_buf_get_mpint_direct(rs, &s, &slen), 0);
	assert_true(rlen <= half && slen <= half);
	memset(raw, 0, 2 * half);
	memcpy(raw + half - rlen, r, rlen);
	memcpy(raw + 2 * half - slen, s, slen);
	hwk_buf_free(&rs);
	hwk_buf_free(&b);
}

static void
check_sshsig(const char *key_name, int alg, const char *alg_name)
{
	struct hwk_ctx *ctx = hwk_ctx_new();
	struct hwk_buf *tbs = hwk_buf_new(), *theirs = NULL, *ours;
	struct hwk_pubkey *pub = NULL;
	struct hwk_key *key;
	char name[64], *text;
	uint8_t *sig = NULL, raw[132];
	size_t len, slen, half;

	snprintf(name, sizeof(name), "%s.sshsig", key_name);
	sshsig_parse(name, tbs, &theirs);
	snprintf(name, sizeof(name), "%s.key", key_name);
	text = fixture_read(name, &len);
	key = load(ctx, (uint8_t *)text, len, NULL);
	assert_int_equal(hwk_key_pubkey(key, &pub), 0);
	assert_int_equal(hwk_key_sign(ctx, key, alg, hwk_buf_ptr(tbs),
	    hwk_buf_len(tbs), &sig, &slen), 0);
	verify_raw(pub, alg, sig, slen, hwk_buf_ptr(tbs), hwk_buf_len(tbs));
	if (alg == HWK_SIG_ECDSA) {
		/* Random: ssh-keygen's own r and s, encoded here. */
		half = slen / 2;
		ecdsa_raw_of(theirs, half, raw);
		verify_raw(pub, alg, raw, 2 * half, hwk_buf_ptr(tbs),
		    hwk_buf_len(tbs));
		memcpy(sig, raw, 2 * half);
	}
	ours = hwk_buf_new();
	assert_int_equal(hwk_sig_put_blob(key->pkey, alg_name, sig, slen,
	    ours), 0);
	assert_int_equal(hwk_buf_len(ours), hwk_buf_len(theirs));
	assert_memory_equal(hwk_buf_ptr(ours), hwk_buf_ptr(theirs),
	    hwk_buf_len(ours));
	free(sig);
	free(text);
	hwk_key_free(&key);
	hwk_pubkey_free(&pub);
	hwk_buf_free(&ours);
	hwk_buf_free(&theirs);
	hwk_buf_free(&tbs);
	hwk_ctx_free(&ctx);
}

static void
test_sshsig_as_ssh_keygen(void **state)
{
	(void)state;
	/* Deterministic: our signature is ssh-keygen's, byte for byte. */
	check_sshsig("rsa2048", HWK_SIG_RSA_SHA512, "rsa-sha2-512");
	check_sshsig("ed25519", HWK_SIG_ED25519, NULL);
	check_sshsig("ecdsa256", HWK_SIG_ECDSA, "ecdsa-sha2-nistp256");
	check_sshsig("ecdsa384", HWK_SIG_ECDSA, NULL);
	check_sshsig("ecdsa521", HWK_SIG_ECDSA, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_type),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_ssh_keygen_keys),
		cmocka_unit_test(test_pem_keys),
		cmocka_unit_test(test_sshsig_as_ssh_keygen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
