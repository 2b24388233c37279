/*
 * Unit tests of hwkey-agent's protocol handling, with software keys from
 * the fixtures: answers, signatures of every key type checked with
 * OpenSSL, every truncation
 * and oversize length of a request, LOCK/UNLOCK, what it refuses; and
 * the poll loop over a real socket: who is kept and who is dropped;
 * session-bind (signatures of every host key type, forwarded connections
 * refused, bindings that do not verify) and --confirm.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "agent.h"
#include "conn.h"
#include "fixture.h"

static struct hwk_agent agent;
static struct hwk_pubkey *pub;
static char *keypath;		/* the fixture's private copy */
static char pubpath[4096];	/* and its .pub */

static int
setup(void **state)
{
	char *text;
	FILE *f;

	(void)state;
	memset(&agent, 0, sizeof(agent));
	agent.ctx = hwk_ctx_new();
	/* The agent refuses a key file others can read; git checks out 0644. */
	keypath = fixture_private("rsa2048.key");
	text = fixture_read("rsa2048.key.pub", NULL);
	assert_true(snprintf(pubpath, sizeof(pubpath), "%s.pub", keypath) <
	    (int)sizeof(pubpath));
	assert_non_null(f = fopen(pubpath, "w"));
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(hwk_agent_add(&agent, keypath), 0);
	assert_int_equal(agent.nids, 1);
	assert_int_equal(hwk_pubkey_from_line(text, &pub), 0);
	free(text);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	hwk_agent_clear(&agent);
	hwk_ctx_free(&agent.ctx);
	hwk_pubkey_free(&pub);
	unlink(keypath);
	unlink(pubpath);
	free(keypath);
	keypath = NULL;
	return 0;
}

/* Dispatches msg and returns the reply (type byte first). */
static struct hwk_buf *
ask(const struct hwk_buf *msg)
{
	struct hwk_buf *reply = hwk_buf_new();

	assert_int_equal(hwk_agent_dispatch(&agent, hwk_buf_ptr(msg),
	    hwk_buf_len(msg), reply), 0);
	assert_true(hwk_buf_len(reply) >= 1);
	return reply;
}

static uint8_t
ask_type(const struct hwk_buf *msg)
{
	struct hwk_buf *r = ask(msg);
	uint8_t t = hwk_buf_ptr(r)[0];

	hwk_buf_free(&r);
	return t;
}

static struct hwk_buf *
sign_request(const uint8_t *blob, size_t bloblen, const char *data,
    uint32_t flags)
{
	struct hwk_buf *m = hwk_buf_new();

	assert_int_equal(hwk_buf_put_u8(m, AGENTC_SIGN_REQUEST), 0);
	assert_int_equal(hwk_buf_put_string(m, blob, bloblen), 0);
	assert_int_equal(hwk_buf_put_cstring(m, data), 0);
	assert_int_equal(hwk_buf_put_u32(m, flags), 0);
	return m;
}

static void
test_identities(void **state)
{
	struct hwk_buf *m = hwk_buf_new(), *r;
	const uint8_t *blob;
	size_t len;
	uint32_t n;
	uint8_t t;
	char *c;

	(void)state;
	hwk_buf_put_u8(m, AGENTC_REQUEST_IDENTITIES);
	r = ask(m);
	assert_int_equal(hwk_buf_get_u8(r, &t), 0);
	assert_int_equal(t, AGENT_IDENTITIES_ANSWER);
	assert_int_equal(hwk_buf_get_u32(r, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(hwk_buf_get_string_direct(r, &blob, &len), 0);
	assert_int_equal(len, pub->bloblen);
	assert_memory_equal(blob, pub->blob, len);
	assert_int_equal(hwk_buf_get_cstring(r, &c, NULL), 0);
	assert_string_equal(c, "fixture@hwkeygen");
	free(c);
	assert_int_equal(hwk_buf_len(r), 0);
	hwk_buf_free(&r);
	/* A trailing byte makes it malformed. */
	hwk_buf_put_u8(m, 0);
	assert_int_equal(ask_type(m), AGENT_FAILURE);
	hwk_buf_free(&m);
}

/* Checks a SIGN_RESPONSE: algorithm name and a valid PKCS#1 signature. */
static void
check_signature(struct hwk_buf *r, const char *want_alg, const EVP_MD *md,
    const char *data)
{
	struct hwk_buf *sig;
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	const uint8_t *s;
	size_t slen;
	uint8_t t;
	char *alg;

	assert_int_equal(hwk_buf_get_u8(r, &t), 0);
	assert_int_equal(t, AGENT_SIGN_RESPONSE);
	assert_int_equal(hwk_buf_get_stringb(r, &sig), 0);
	assert_int_equal(hwk_buf_len(r), 0);
	assert_int_equal(hwk_buf_get_cstring(sig, &alg, NULL), 0);
	assert_string_equal(alg, want_alg);
	assert_int_equal(hwk_buf_get_string_direct(sig, &s, &slen), 0);
	assert_int_equal(slen, 256);	/* padded to the modulus */
	assert_int_equal(hwk_pubkey_to_evp(pub, &pk), 0);
	assert_int_equal(EVP_DigestVerifyInit(mctx, &pctx, md, NULL, pk), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx,
	    RSA_PKCS1_PADDING), 1);
	assert_int_equal(EVP_DigestVerify(mctx, s, slen, (const uint8_t *)data,
	    strlen(data)), 1);
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(pk);
	free(alg);
	hwk_buf_free(&sig);
}

static void
test_sign(void **state)
{
	struct hwk_buf *m, *r;

	(void)state;
	m = sign_request(pub->blob, pub->bloblen, "to be signed",
	    AGENT_RSA_SHA2_512);
	r = ask(m);
	check_signature(r, "rsa-sha2-512", EVP_sha512(), "to be signed");
	hwk_buf_free(&r);
	hwk_buf_free(&m);
	m = sign_request(pub->blob, pub->bloblen, "other data",
	    AGENT_RSA_SHA2_256);
	r = ask(m);
	check_signature(r, "rsa-sha2-256", EVP_sha256(), "other data");
	hwk_buf_free(&r);
	hwk_buf_free(&m);
	assert_int_equal(agent.ids[0].signatures, 2);
}

static void
test_sha1(void **state)
{
	struct hwk_buf *m, *r;

	(void)state;
	m = sign_request(pub->blob, pub->bloblen, "x", 0);
	assert_int_equal(ask_type(m), AGENT_FAILURE);
	agent.allow_sha1 = 1;
	r = ask(m);
	check_signature(r, "ssh-rsa", EVP_sha1(), "x");
	hwk_buf_free(&r);
	hwk_buf_free(&m);
}

/* ECDSA's SSH signature (mpint r, mpint s) as the DER OpenSSL verifies. */
static void
ecdsa_der(struct hwk_buf *rs, uint8_t **derp, int *derlen)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	const uint8_t *r, *s;
	size_t rlen, slen;

	assert_int_equal(hwk_buf_get_mpint_direct(rs, &r, &rlen), 0);
	assert_int_equal(hwk_buf_get_mpint_direct(rs, &s, &slen), 0);
	assert_int_equal(hwk_buf_len(rs), 0);
	assert_int_equal(ECDSA_SIG_set0(es, BN_bin2bn(r, (int)rlen, NULL),
	    BN_bin2bn(s, (int)slen, NULL)), 1);
	*derp = NULL;
	assert_true((*derlen = i2d_ECDSA_SIG(es, derp)) > 0);
	ECDSA_SIG_free(es);
}

/* Adds the fixture name's key pair, signs with it and checks the answer. */
static void
sign_fixture(const char *name, const EVP_MD *md)
{
	struct hwk_pubkey *k = NULL;
	struct hwk_buf *m, *r, *sig, *rs;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY *pk = NULL;
	uint8_t t, *der = NULL;
	const uint8_t *s;
	size_t slen;
	int derlen;
	char *path, *text, pubname[64], pp[4096], *alg;
	FILE *f;

	snprintf(pubname, sizeof(pubname), "%s.pub", name);
	path = fixture_private(name);
	text = fixture_read(pubname, NULL);
	snprintf(pp, sizeof(pp), "%s.pub", path);
	assert_non_null(f = fopen(pp, "w"));
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(hwk_agent_add(&agent, path), 0);
	assert_int_equal(hwk_pubkey_from_line(text, &k), 0);
	/* RSA's flags ask for nothing here: the key type decides. */
	m = sign_request(k->blob, k->bloblen, "ec data", AGENT_RSA_SHA2_512);
	r = ask(m);
	assert_int_equal(hwk_buf_get_u8(r, &t), 0);
	assert_int_equal(t, AGENT_SIGN_RESPONSE);
	assert_int_equal(hwk_buf_get_stringb(r, &sig), 0);
	assert_int_equal(hwk_buf_get_cstring(sig, &alg, NULL), 0);
	assert_string_equal(alg, k->type);
	assert_int_equal(hwk_pubkey_to_evp(k, &pk), 0);
	assert_int_equal(EVP_DigestVerifyInit(mctx, NULL, md, NULL, pk), 1);
	if (md != NULL) {
		assert_int_equal(hwk_buf_get_stringb(sig, &rs), 0);
		ecdsa_der(rs, &der, &derlen);
		assert_int_equal(EVP_DigestVerify(mctx, der, (size_t)derlen,
		    (const uint8_t *)"ec data", 7), 1);
		hwk_buf_free(&rs);
	} else {
		assert_int_equal(hwk_buf_get_string_direct(sig, &s, &slen), 0);
		assert_int_equal(slen, 64);
		assert_int_equal(EVP_DigestVerify(mctx, s, slen,
		    (const uint8_t *)"ec data", 7), 1);
	}
	assert_int_equal(hwk_buf_len(sig), 0);
	OPENSSL_free(der);
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(pk);
	free(alg);
	hwk_buf_free(&sig);
	hwk_buf_free(&r);
	hwk_buf_free(&m);
	/* Without flags too: SHA-1's refusal is RSA's alone. */
	m = sign_request(k->blob, k->bloblen, "x", 0);
	assert_int_equal(ask_type(m), AGENT_SIGN_RESPONSE);
	hwk_buf_free(&m);
	hwk_pubkey_free(&k);
	unlink(path);
	unlink(pp);
	free(path);
	free(text);
}

static void
test_sign_ec(void **state)
{
	(void)state;
	sign_fixture("ecdsa256.key", EVP_sha256());
	sign_fixture("ecdsa384.key", EVP_sha384());
	sign_fixture("ecdsa521.key", EVP_sha512());
	sign_fixture("ed25519.key", NULL);
	assert_int_equal(agent.nids, 5);
	assert_int_equal(agent.ids[4].signatures, 2);
}

static void
test_unknown_key(void **state)
{
	struct hwk_buf *m;
	uint8_t *other = malloc(pub->bloblen);

	(void)state;
	memcpy(other, pub->blob, pub->bloblen);
	other[pub->bloblen - 1] ^= 1;
	m = sign_request(other, pub->bloblen, "x", AGENT_RSA_SHA2_256);
	assert_int_equal(ask_type(m), AGENT_FAILURE);
	hwk_buf_free(&m);
	free(other);
}

static void
test_every_truncation(void **state)
{
	struct hwk_buf *m, *cut;
	size_t i;

	(void)state;
	m = sign_request(pub->blob, pub->bloblen, "data", AGENT_RSA_SHA2_256);
	for (i = 0; i < hwk_buf_len(m); i++) {
		cut = hwk_buf_from(hwk_buf_ptr(m), i);
		assert_int_equal(ask_type(cut), AGENT_FAILURE);
		hwk_buf_free(&cut);
	}
	/* The whole request works; one byte more does not. */
	assert_int_equal(ask_type(m), AGENT_SIGN_RESPONSE);
	hwk_buf_put_u8(m, 0);
	assert_int_equal(ask_type(m), AGENT_FAILURE);
	hwk_buf_free(&m);
}

static void
test_oversize_lengths(void **state)
{
	static const uint8_t huge[] = { AGENTC_SIGN_REQUEST,
	    0xff, 0xff, 0xff, 0xff, 'a' };
	static const uint8_t big_data[] = { AGENTC_SIGN_REQUEST,
	    0, 0, 0, 1, 'k', 0x7f, 0xff, 0xff, 0xff, 'd' };
	struct hwk_buf *m;

	(void)state;
	m = hwk_buf_from(huge, sizeof(huge));
	assert_int_equal(ask_type(m), AGENT_FAILURE);
	hwk_buf_free(&m);
	m = hwk_buf_from(big_data, sizeof(big_data));
	assert_int_equal(ask_type(m), AGENT_FAILURE);
	hwk_buf_free(&m);
	m = hwk_buf_from("", 0);
	assert_int_equal(ask_type(m), AGENT_FAILURE);
	hwk_buf_free(&m);
}

static struct hwk_buf *
lock_msg(uint8_t type, const char *pw)
{
	struct hwk_buf *m = hwk_buf_new();

	hwk_buf_put_u8(m, type);
	hwk_buf_put_cstring(m, pw);
	return m;
}

static void
test_lock(void **state)
{
	struct hwk_buf *lk = lock_msg(AGENTC_LOCK, "secret");
	struct hwk_buf *bad = lock_msg(AGENTC_UNLOCK, "wrong");
	struct hwk_buf *good = lock_msg(AGENTC_UNLOCK, "secret");
	struct hwk_buf *ids = hwk_buf_new(), *r, *s;
	uint32_t n;
	uint8_t t;

	(void)state;
	hwk_buf_put_u8(ids, AGENTC_REQUEST_IDENTITIES);
	s = sign_request(pub->blob, pub->bloblen, "x", AGENT_RSA_SHA2_256);
	assert_int_equal(ask_type(good), AGENT_FAILURE);	/* not locked */
	assert_int_equal(ask_type(lk), AGENT_SUCCESS);
	assert_int_equal(ask_type(lk), AGENT_FAILURE);	/* already */
	r = ask(ids);
	assert_int_equal(hwk_buf_get_u8(r, &t), 0);
	assert_int_equal(hwk_buf_get_u32(r, &n), 0);
	assert_int_equal(n, 0);			/* nothing shown while locked */
	hwk_buf_free(&r);
	assert_int_equal(ask_type(s), AGENT_FAILURE);
	assert_int_equal(ask_type(bad), AGENT_FAILURE);
	assert_int_equal(ask_type(good), AGENT_SUCCESS);
	assert_int_equal(ask_type(s), AGENT_SIGN_RESPONSE);
	hwk_buf_free(&lk);
	hwk_buf_free(&bad);
	hwk_buf_free(&good);
	hwk_buf_free(&ids);
	hwk_buf_free(&s);
}

static void
test_read_only(void **state)
{
	/* Removing is tested in test_agent_keys.c. */
	static const uint8_t types[] = { AGENTC_ADD_IDENTITY,
	    AGENTC_ADD_ID_CONSTRAINED, AGENTC_ADD_SMARTCARD_KEY,
	    AGENTC_REMOVE_SMARTCARD_KEY, 9, 1, 200 };
	struct hwk_buf *m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(types); i++) {
		m = hwk_buf_new();
		hwk_buf_put_u8(m, types[i]);
		hwk_buf_put_cstring(m, "whatever");
		assert_int_equal(ask_type(m), AGENT_FAILURE);
		hwk_buf_free(&m);
	}
	assert_int_equal(agent.nids, 1);
}

/* Dispatches msg on connection c and returns the reply's type. */
static uint8_t
ask_conn(struct hwk_conn *c, const struct hwk_buf *msg)
{
	struct hwk_buf *reply = hwk_buf_new();
	uint8_t t;

	assert_int_equal(hwk_agent_dispatch_conn(&agent, c, hwk_buf_ptr(msg),
	    hwk_buf_len(msg), reply), 0);
	assert_true(hwk_buf_len(reply) >= 1);
	t = hwk_buf_ptr(reply)[0];
	hwk_buf_free(&reply);
	return t;
}

/* The public blob of an OpenSSL key, as a host sends it. */
static struct hwk_pubkey *
host_pub(EVP_PKEY *pk)
{
	struct hwk_pubkey *k = NULL;

	assert_int_equal(hwk_pubkey_from_evp(pk, NULL, &k), 0);
	return k;
}

/* The SSH signature (alg) a host key makes over a session id. */
static struct hwk_buf *
host_sign(EVP_PKEY *pk, const char *alg, const EVP_MD *md, const void *data,
    size_t len)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	struct hwk_buf *b = hwk_buf_new();
	uint8_t sig[1024], raw[132];
	const uint8_t *p = sig;
	size_t slen = sizeof(sig), half;
	ECDSA_SIG *es;

	assert_int_equal(EVP_DigestSignInit(m, NULL, md, NULL, pk), 1);
	assert_int_equal(EVP_DigestSign(m, sig, &slen, data, len), 1);
	EVP_MD_CTX_free(m);
	if (EVP_PKEY_is_a(pk, "EC")) {
		/* OpenSSL's DER to the r || s the devices give. */
		half = (size_t)(EVP_PKEY_get_bits(pk) + 7) / 8;
		assert_non_null(es = d2i_ECDSA_SIG(NULL, &p, (long)slen));
		assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw,
		    (int)half), (int)half);
		assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + half,
		    (int)half), (int)half);
		ECDSA_SIG_free(es);
		memcpy(sig, raw, 2 * half);
		slen = 2 * half;
	}
	assert_int_equal(hwk_sig_put_blob(pk, alg, sig, slen, b), 0);
	return b;
}

/* A session-bind@openssh.com by host key pk; spoil: a bit of it flipped. */
static struct hwk_buf *
bind_msg(EVP_PKEY *pk, const char *sid, int fwd, int spoil)
{
	struct hwk_pubkey *k = host_pub(pk);
	struct hwk_buf *m = hwk_buf_new(), *sig;

	sig = host_sign(pk, EVP_PKEY_is_a(pk, "RSA") ? "rsa-sha2-256" : NULL,
	    EVP_PKEY_is_a(pk, "EC") ? EVP_sha256() : EVP_PKEY_is_a(pk, "RSA") ?
	    EVP_sha256() : NULL, sid, strlen(sid));
	if (spoil)
		((uint8_t *)hwk_buf_ptr(sig))[hwk_buf_len(sig) - 3] ^= 0x10;
	hwk_buf_put_u8(m, AGENTC_EXTENSION);
	hwk_buf_put_cstring(m, "session-bind@openssh.com");
	hwk_buf_put_string(m, k->blob, k->bloblen);
	hwk_buf_put_cstring(m, sid);
	hwk_buf_put_stringb(m, sig);
	hwk_buf_put_u8(m, fwd ? 1 : 0);
	hwk_buf_free(&sig);
	hwk_pubkey_free(&k);
	return m;
}

static EVP_PKEY *
ed25519_host(void)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	assert_non_null(pk);
	return pk;
}

static void
test_session_bind(void **state)
{
	EVP_PKEY *pk = ed25519_host();
	struct hwk_buf *m = bind_msg(pk, "session id", 0, 0);

	(void)state;
	assert_int_equal(ask_type(m), AGENT_SUCCESS);
	hwk_buf_consume_end(m, 1);	/* no forwarding flag */
	assert_int_equal(ask_type(m), AGENT_FAILURE);
	hwk_buf_reset(m);
	hwk_buf_put_u8(m, AGENTC_EXTENSION);
	hwk_buf_put_cstring(m, "query");
	assert_int_equal(ask_type(m), AGENT_FAILURE);
	hwk_buf_free(&m);
	/* The old test's made-up strings: no host key, no signature. */
	m = hwk_buf_new();
	hwk_buf_put_u8(m, AGENTC_EXTENSION);
	hwk_buf_put_cstring(m, "session-bind@openssh.com");
	hwk_buf_put_cstring(m, "hostkey");
	hwk_buf_put_cstring(m, "session id");
	hwk_buf_put_cstring(m, "signature");
	hwk_buf_put_u8(m, 0);
	assert_int_equal(ask_type(m), AGENT_FAILURE);
	hwk_buf_free(&m);
	EVP_PKEY_free(pk);
}

/* verify(pk, alg, md): good, spoiled, other data, and a wrong alg name. */
static void
verify_host(EVP_PKEY *pk, const char *alg, const EVP_MD *md,
    const char *wrong_alg)
{
	struct hwk_pubkey *k = host_pub(pk);
	struct hwk_buf *sig = host_sign(pk, alg, md, "sid", 3), *w;
	uint8_t *s;
	size_t len = hwk_buf_len(sig), i;

	assert_int_equal(hwk_bind_verify(k->blob, k->bloblen,
	    hwk_buf_ptr(sig), len, (const uint8_t *)"sid", 3), 0);
	assert_int_not_equal(hwk_bind_verify(k->blob, k->bloblen,
	    hwk_buf_ptr(sig), len, (const uint8_t *)"sie", 3), 0);
	s = malloc(len);
	memcpy(s, hwk_buf_ptr(sig), len);
	s[len - 1] ^= 1;
	assert_int_not_equal(hwk_bind_verify(k->blob, k->bloblen, s, len,
	    (const uint8_t *)"sid", 3), 0);
	s[len - 1] ^= 1;
	/* Every truncation, and a byte more. */
	for (i = 0; i < len; i++)
		assert_int_not_equal(hwk_bind_verify(k->blob, k->bloblen, s, i,
		    (const uint8_t *)"sid", 3), 0);
	free(s);
	w = hwk_buf_new();
	hwk_buf_putb(w, sig);
	hwk_buf_put_u8(w, 0);
	assert_int_not_equal(hwk_bind_verify(k->blob, k->bloblen,
	    hwk_buf_ptr(w), hwk_buf_len(w), (const uint8_t *)"sid", 3), 0);
	/* The same signature under another algorithm's name. */
	hwk_buf_reset(w);
	hwk_buf_put_cstring(w, wrong_alg);
	hwk_buf_consume(sig, 4 + strlen(hwk_buf_len(sig) > 0 && alg != NULL ?
	    alg : k->type));
	hwk_buf_putb(w, sig);
	assert_int_not_equal(hwk_bind_verify(k->blob, k->bloblen,
	    hwk_buf_ptr(w), hwk_buf_len(w), (const uint8_t *)"sid", 3), 0);
	hwk_buf_free(&w);
	hwk_buf_free(&sig);
	hwk_pubkey_free(&k);
}

/* An OpenSSH certificate of an Ed25519 key, as a host may send its key. */
static void
verify_cert(EVP_PKEY *pk)
{
	struct hwk_pubkey *k = host_pub(pk);
	struct hwk_buf *cert = hwk_buf_new(), *in = hwk_buf_from(k->blob,
	    k->bloblen), *sig = host_sign(pk, NULL, NULL, "sid", 3);
	const uint8_t *q;
	size_t qlen;

	hwk_buf_get_string_direct(in, NULL, NULL);
	assert_int_equal(hwk_buf_get_string_direct(in, &q, &qlen), 0);
	hwk_buf_put_cstring(cert, "ssh-ed25519-cert-v01@openssh.com");
	hwk_buf_put_cstring(cert, "nonce");
	hwk_buf_put_string(cert, q, qlen);
	hwk_buf_put_u64(cert, 1);		/* serial; the rest is ssh's */
	hwk_buf_put_u32(cert, 2);
	assert_int_equal(hwk_bind_verify(hwk_buf_ptr(cert), hwk_buf_len(cert),
	    hwk_buf_ptr(sig), hwk_buf_len(sig), (const uint8_t *)"sid", 3), 0);
	assert_int_not_equal(hwk_bind_verify(hwk_buf_ptr(cert),
	    hwk_buf_len(cert), hwk_buf_ptr(sig), hwk_buf_len(sig),
	    (const uint8_t *)"sie", 3), 0);
	hwk_buf_free(&cert);
	hwk_buf_free(&in);
	hwk_buf_free(&sig);
	hwk_pubkey_free(&k);
}

static void
test_bind_verify(void **state)
{
	EVP_PKEY *ed = ed25519_host();
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *ec5 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);

	(void)state;
	assert_non_null(ec);
	assert_non_null(ec5);
	assert_non_null(rsa);
	verify_host(ed, NULL, NULL, "ssh-rsa");
	verify_host(ec, NULL, EVP_sha256(), "ssh-ed25519");
	verify_host(ec5, NULL, EVP_sha512(), "ecdsa-sha2-nistp256");
	verify_host(rsa, "rsa-sha2-256", EVP_sha256(), "rsa-sha2-512");
	verify_host(rsa, "rsa-sha2-512", EVP_sha512(), "rsa-sha2-256");
	verify_host(rsa, "ssh-rsa", EVP_sha1(), "rsa-sha2-256");
	verify_cert(ed);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ec5);
	EVP_PKEY_free(rsa);
}

/* Forwarded: the keys are listed, a signature is refused unless allowed. */
static void
test_bind_forwarded(void **state)
{
	EVP_PKEY *a = ed25519_host(), *b = ed25519_host();
	struct hwk_conn *c = hwk_conn_new(getpid());
	struct hwk_buf *ids = hwk_buf_new(), *s, *r, *m;
	uint32_t n;
	uint8_t t;

	(void)state;
	hwk_buf_put_u8(ids, AGENTC_REQUEST_IDENTITIES);
	s = sign_request(pub->blob, pub->bloblen, "x", AGENT_RSA_SHA2_256);
	m = bind_msg(a, "hop 1", 1, 0);
	assert_int_equal(ask_conn(c, m), AGENT_SUCCESS);
	assert_int_equal(ask_conn(c, m), AGENT_SUCCESS);	/* the same again */
	assert_int_equal(c->nbinds, 1);
	hwk_buf_free(&m);
	r = hwk_buf_new();
	assert_int_equal(hwk_agent_dispatch_conn(&agent, c, hwk_buf_ptr(ids),
	    hwk_buf_len(ids), r), 0);
	assert_int_equal(hwk_buf_get_u8(r, &t), 0);
	assert_int_equal(t, AGENT_IDENTITIES_ANSWER);
	assert_int_equal(hwk_buf_get_u32(r, &n), 0);
	assert_int_equal(n, 1);
	hwk_buf_free(&r);
	assert_int_equal(ask_conn(c, s), AGENT_FAILURE);
	/* A second hop, a login from the host forwarded to: still refused. */
	m = bind_msg(b, "hop 2", 0, 0);
	assert_int_equal(ask_conn(c, m), AGENT_SUCCESS);
	assert_int_equal(ask_conn(c, s), AGENT_FAILURE);
	agent.allow_forwarded = 1;
	assert_int_equal(ask_conn(c, s), AGENT_SIGN_RESPONSE);
	agent.allow_forwarded = 0;
	/* Nothing binds after a login's binding. */
	assert_int_equal(ask_conn(c, m), AGENT_FAILURE);
	hwk_buf_free(&m);
	/* Without a connection (hwk_agent_dispatch) nothing is kept. */
	assert_int_equal(ask_type(s), AGENT_SIGN_RESPONSE);
	hwk_conn_free(&c);
	assert_null(c);
	hwk_buf_free(&ids);
	hwk_buf_free(&s);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

/* A login's binding signs; a binding that does not verify ends that. */
static void
test_bind_login_and_bad(void **state)
{
	EVP_PKEY *h = ed25519_host();
	struct hwk_conn *c = hwk_conn_new(getpid());
	struct hwk_buf *s, *m;
	char sid[CONN_MAX_SID + 2];

	(void)state;
	s = sign_request(pub->blob, pub->bloblen, "x", AGENT_RSA_SHA2_256);
	m = bind_msg(h, "login", 0, 0);
	assert_int_equal(ask_conn(c, m), AGENT_SUCCESS);
	assert_int_equal(ask_conn(c, s), AGENT_SIGN_RESPONSE);
	/* Refused by the rules, not by its signature: still signs. */
	assert_int_equal(ask_conn(c, m), AGENT_FAILURE);
	assert_int_equal(ask_conn(c, s), AGENT_SIGN_RESPONSE);
	hwk_buf_free(&m);
	hwk_conn_free(&c);

	c = hwk_conn_new(getpid());
	m = bind_msg(h, "login", 1, 1);
	assert_int_equal(ask_conn(c, m), AGENT_FAILURE);
	assert_int_equal(c->nbinds, 0);
	assert_int_equal(ask_conn(c, s), AGENT_FAILURE);
	hwk_buf_free(&m);
	/* A good one after it does not undo that. */
	m = bind_msg(h, "login", 0, 0);
	assert_int_equal(ask_conn(c, m), AGENT_SUCCESS);
	assert_int_equal(ask_conn(c, s), AGENT_FAILURE);
	hwk_buf_free(&m);
	hwk_conn_free(&c);

	/* A session id over ssh-agent's 128 bytes. */
	c = hwk_conn_new(getpid());
	memset(sid, 'i', sizeof(sid) - 1);
	sid[sizeof(sid) - 1] = '\0';
	m = bind_msg(h, sid, 0, 0);
	assert_int_equal(ask_conn(c, m), AGENT_FAILURE);
	assert_int_equal(ask_conn(c, s), AGENT_FAILURE);
	hwk_buf_free(&m);
	hwk_conn_free(&c);
	hwk_buf_free(&s);
	EVP_PKEY_free(h);
}

/* At most 16 hops; a session id is never bound to two host keys. */
static void
test_bind_too_many(void **state)
{
	EVP_PKEY *h = ed25519_host(), *o = ed25519_host();
	struct hwk_conn *c = hwk_conn_new(0);
	struct hwk_buf *m, *s;
	char sid[32];
	int i;

	(void)state;
	s = sign_request(pub->blob, pub->bloblen, "x", AGENT_RSA_SHA2_256);
	for (i = 0; i < CONN_MAX_BINDS; i++) {
		snprintf(sid, sizeof(sid), "hop %d", i);
		m = bind_msg(h, sid, 1, 0);
		assert_int_equal(ask_conn(c, m), AGENT_SUCCESS);
		hwk_buf_free(&m);
		if (i != 3)
			continue;
		m = bind_msg(o, "hop 3", 1, 0);
		assert_int_equal(ask_conn(c, m), AGENT_FAILURE);
		hwk_buf_free(&m);
	}
	m = bind_msg(h, "hop 16", 1, 0);
	assert_int_equal(ask_conn(c, m), AGENT_FAILURE);
	hwk_buf_free(&m);
	m = bind_msg(h, "hop 3", 1, 0);
	assert_int_equal(ask_conn(c, m), AGENT_SUCCESS);
	hwk_buf_free(&m);
	assert_int_equal(c->nbinds, CONN_MAX_BINDS);
	agent.allow_forwarded = 1;
	assert_int_equal(ask_conn(c, s), AGENT_SIGN_RESPONSE);
	agent.allow_forwarded = 0;
	hwk_conn_free(&c);
	hwk_buf_free(&s);
	EVP_PKEY_free(h);
	EVP_PKEY_free(o);
}

/* The words for the user: the program, and the hosts by known_hosts. */
static void
test_who(void **state)
{
	EVP_PKEY *h = ed25519_host(), *o = ed25519_host();
	struct hwk_pubkey *hk = host_pub(h), *ok = host_pub(o);
	struct hwk_conn *c = hwk_conn_new(getpid());
	struct hwk_buf *m;
	char dir[] = "/tmp/hwk-who.XXXXXX", path[128], *line = NULL;
	char who[1024], want[1024], fp[HWK_FP_LEN], comm[64], *home;
	FILE *f;

	(void)state;
	/* Our name as /proc has it (not argv[0] under valgrind). */
	assert_non_null(f = fopen("/proc/self/comm", "r"));
	assert_non_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	hwk_conn_who(c, who, sizeof(who));
	snprintf(want, sizeof(want), "Requested by %s (pid %d).", comm,
	    (int)getpid());
	assert_string_equal(who, want);
	m = bind_msg(h, "hop", 1, 0);
	assert_int_equal(ask_conn(c, m), AGENT_SUCCESS);
	hwk_buf_free(&m);
	m = bind_msg(o, "login", 0, 0);
	assert_int_equal(ask_conn(c, m), AGENT_SUCCESS);
	hwk_buf_free(&m);
	/* Hashed names, markers, other keys are no name for it. */
	assert_non_null(mkdtemp(dir));
	home = getenv("HOME") != NULL ? strdup(getenv("HOME")) : NULL;
	setenv("HOME", dir, 1);
	snprintf(path, sizeof(path), "%s/.ssh", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/.ssh/known_hosts", dir);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(hwk_pubkey_format(hk, 0, &line), 0);
	fprintf(f, "# a comment\n|1|c2FsdA==|aGFzaA== %s\n"
	    "@cert-authority *.example %s\nother.example %s x\n"
	    "  jump.example,10.0.0.1 %s\n", line, line, "ssh-ed25519 AAAA",
	    line);
	free(line);
	assert_int_equal(fclose(f), 0);
	hwk_conn_who(c, who, sizeof(who));
	assert_int_equal(hwk_fingerprint(hk->blob, hk->bloblen, fp, NULL), 0);
	snprintf(want, sizeof(want), "Requested by %s (pid %d).\nThrough the "
	    "agent forwarded to host jump.example (%s).\n", comm,
	    (int)getpid(), fp);
	assert_int_equal(hwk_fingerprint(ok->blob, ok->bloblen, fp, NULL), 0);
	snprintf(want + strlen(want), sizeof(want) - strlen(want),
	    "For a login to host %s.", fp);
	assert_string_equal(who, want);
	unlink(path);
	snprintf(path, sizeof(path), "%s/.ssh", dir);
	rmdir(path);
	rmdir(dir);
	if (home != NULL)
		setenv("HOME", home, 1);
	else
		unsetenv("HOME");
	free(home);
	hwk_conn_free(&c);
	hwk_pubkey_free(&hk);
	hwk_pubkey_free(&ok);
	EVP_PKEY_free(h);
	EVP_PKEY_free(o);
}

/* --confirm: the askpass's exit and answer decide each signature. */
static void
test_confirm(void **state)
{
	struct hwk_conn *c = hwk_conn_new(getpid());
	struct hwk_buf *s;

	(void)state;
	s = sign_request(pub->blob, pub->bloblen, "x", AGENT_RSA_SHA2_256);
	agent.confirm = 1;
	setenv("SSH_ASKPASS_REQUIRE", "force", 1);
	setenv("SSH_ASKPASS", "/bin/true", 1);		/* empty: yes */
	assert_int_equal(ask_conn(c, s), AGENT_SIGN_RESPONSE);
	setenv("SSH_ASKPASS", "/bin/false", 1);
	assert_int_equal(ask_conn(c, s), AGENT_FAILURE);
	setenv("SSH_ASKPASS", "/bin/echo", 1);		/* the question back */
	assert_int_equal(ask_conn(c, s), AGENT_FAILURE);
	setenv("SSH_ASKPASS_REQUIRE", "never", 1);
	setenv("SSH_ASKPASS", "/bin/true", 1);
	assert_int_equal(ask_conn(c, s), AGENT_FAILURE);
	agent.confirm = 0;
	assert_int_equal(ask_conn(c, s), AGENT_SIGN_RESPONSE);
	unsetenv("SSH_ASKPASS_REQUIRE");
	unsetenv("SSH_ASKPASS");
	hwk_conn_free(&c);
	hwk_buf_free(&s);
}

static void
test_garbage(void **state)
{
	uint8_t msg[64];
	struct hwk_buf *m, *r;
	unsigned seed = 1;
	int i, j;

	(void)state;
	for (i = 0; i < 2000; i++) {
		for (j = 0; j < (int)sizeof(msg); j++) {
			seed = seed * 1103515245 + 12345;
			msg[j] = (uint8_t)(seed >> 16);
		}
		msg[0] = (uint8_t)(i % 30);	/* every request type */
		m = hwk_buf_from(msg, 1 + (size_t)i % (sizeof(msg) - 1));
		r = ask(m);
		hwk_buf_free(&r);
		hwk_buf_free(&m);
	}
}

/* The poll loop on a socket in a temp dir, run in a thread. */
struct served {
	char		 dir[64];
	struct sockaddr_un sun;
	int		 lfd;
	volatile int	 stop;
	pthread_t	 thread;
};

static void *
serve_thread(void *arg)
{
	struct served *sv = arg;

	hwk_agent_serve(&agent, sv->lfd, &sv->stop);
	return NULL;
}

static void
serve_start(struct served *sv)
{
	memset(sv, 0, sizeof(*sv));
	snprintf(sv->dir, sizeof(sv->dir), "/tmp/hwk-agent-test.XXXXXX");
	assert_non_null(mkdtemp(sv->dir));
	sv->sun.sun_family = AF_UNIX;
	snprintf(sv->sun.sun_path, sizeof(sv->sun.sun_path), "%s/s", sv->dir);
	sv->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(sv->lfd >= 0);
	assert_int_equal(bind(sv->lfd, (struct sockaddr *)&sv->sun,
	    sizeof(sv->sun)), 0);
	assert_int_equal(listen(sv->lfd, 16), 0);
	assert_int_equal(pthread_create(&sv->thread, NULL, serve_thread, sv),
	    0);
}

static void
serve_stop(struct served *sv)
{
	sv->stop = 1;
	assert_int_equal(pthread_join(sv->thread, NULL), 0);
	close(sv->lfd);
	unlink(sv->sun.sun_path);
	rmdir(sv->dir);
}

static int
client(struct served *sv)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sv->sun,
	    sizeof(sv->sun)), 0);
	return fd;
}

/* Sends REQUEST_IDENTITIES and returns the answer's type, or -1. */
static int
identities(int fd)
{
	static const uint8_t req[] = { 0, 0, 0, 1, AGENTC_REQUEST_IDENTITIES };
	uint8_t head[5], body[4096];
	uint32_t len;

	if (write(fd, req, sizeof(req)) != (ssize_t)sizeof(req) ||
	    recv(fd, head, sizeof(head), MSG_WAITALL) != (ssize_t)sizeof(head))
		return -1;
	len = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 |
	    (uint32_t)head[2] << 8 | head[3];
	if (len < 1 || len - 1 > sizeof(body) || (len > 1 &&
	    recv(fd, body, len - 1, MSG_WAITALL) != (ssize_t)(len - 1)))
		return -1;
	return head[4];
}

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Idle, or slow to finish a request, longer than answers may wait: kept.
 * Not reading answers for that long: dropped, while others are served.
 */
static void
test_serve_keeps_idle_drops_nonreader(void **state)
{
	static const uint8_t req[] = { 0, 0, 0, 1, AGENTC_REQUEST_IDENTITIES };
	uint8_t *flood;
	struct pollfd pfd;
	struct served sv;
	int idle, half, hog, other;
	double t0, dropped;
	size_t i, n = 2000;

	(void)state;
	agent.write_timeout = 1;
	serve_start(&sv);
	idle = client(&sv);
	half = client(&sv);
	hog = client(&sv);
	assert_int_equal(write(half, req, 3), 3);
	/* Answers to these fill the socket and a good part of 1 MiB. */
	flood = malloc(n * sizeof(req));
	assert_non_null(flood);
	for (i = 0; i < n; i++)
		memcpy(flood + i * sizeof(req), req, sizeof(req));
	assert_int_equal(write(hog, flood, n * sizeof(req)),
	    (ssize_t)(n * sizeof(req)));
	free(flood);
	t0 = seconds();

	other = client(&sv);
	assert_int_equal(identities(other), AGENT_IDENTITIES_ANSWER);
	pfd.fd = hog;
	pfd.events = POLLRDHUP;
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_true(pfd.revents & (POLLHUP | POLLRDHUP));
	dropped = seconds() - t0;
	assert_true(dropped >= 1.0);
	assert_int_equal(identities(other), AGENT_IDENTITIES_ANSWER);

	/* Well past the 1 s an answer may wait: the others are kept. */
	while (seconds() - t0 < 2.5)
		usleep(100000);
	assert_int_equal(identities(idle), AGENT_IDENTITIES_ANSWER);
	assert_int_equal(write(half, req + 3, 2), 2);
	assert_int_equal(identities(half), AGENT_IDENTITIES_ANSWER);
	assert_int_equal(identities(half), AGENT_IDENTITIES_ANSWER);
	close(idle);
	close(half);
	close(hog);
	close(other);
	serve_stop(&sv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sha1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_ec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_every_truncation, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_oversize_lengths, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_bind, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bind_verify, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bind_forwarded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bind_login_and_bad, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bind_too_many, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_who, setup, teardown),
		cmocka_unit_test_setup_teardown(test_confirm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_serve_keeps_idle_drops_nonreader, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
