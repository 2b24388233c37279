/*
 * Unit tests of hwkey-agent's protocol handling, with software keys from
 * the fixtures: answers, signatures of every key type checked with
 * OpenSSL, every truncation
 * and oversize length of a request, LOCK/UNLOCK, what it refuses; and
 * the poll loop over a real socket: who is kept and who is dropped.
 */
#include <sys/socket.h>
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

static void
test_session_bind(void **state)
{
	struct hwk_buf *m = hwk_buf_new();

	(void)state;
	hwk_buf_put_u8(m, AGENTC_EXTENSION);
	hwk_buf_put_cstring(m, "session-bind@openssh.com");
	hwk_buf_put_cstring(m, "hostkey");
	hwk_buf_put_cstring(m, "session id");
	hwk_buf_put_cstring(m, "signature");
	hwk_buf_put_u8(m, 0);
	assert_int_equal(ask_type(m), AGENT_SUCCESS);
	hwk_buf_consume_end(m, 1);	/* no forwarding flag */
	assert_int_equal(ask_type(m), AGENT_FAILURE);
	hwk_buf_reset(m);
	hwk_buf_put_u8(m, AGENTC_EXTENSION);
	hwk_buf_put_cstring(m, "query");
	assert_int_equal(ask_type(m), AGENT_FAILURE);
	hwk_buf_free(&m);
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
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_serve_keeps_idle_drops_nonreader, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
