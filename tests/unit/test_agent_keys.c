/*
 * Unit tests of the keys that change while hwkey-agent runs: certificates
 * beside the stubs (offered, signed with, renewed, removed, refused when
 * they are not a user certificate of the key signed by its CA), add-stub@hwkeygen (all or
 * nothing, every malformed request, secrets checked, kept, expired and
 * forgotten) and REMOVE_IDENTITY / REMOVE_ALL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/secret.h"
#include "hwkey/sshkey.h"
#include "agent.h"
#include "fixture.h"

static struct hwk_agent agent;
static struct hwk_buf *listed;		/* the last IDENTITIES_ANSWER */
static struct hwk_pubkey *pub, *cert;
static char *keypath, *otherpath;
static char pubpath[4096], certpath[4096], otherpub[4096];

static void
write_file(const char *path, const char *text)
{
	FILE *f;

	assert_non_null(f = fopen(path, "w"));
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* A copy of a fixture key with its .pub beside it. */
static char *
key_copy(const char *name, char *pubp, size_t len)
{
	char *path = fixture_private(name), *text, pubname[256];

	snprintf(pubname, sizeof(pubname), "%s.pub", name);
	text = fixture_read(pubname, NULL);
	assert_true(snprintf(pubp, len, "%s.pub", path) < (int)len);
	write_file(pubp, text);
	free(text);
	return path;
}

static int
setup(void **state)
{
	char *text;

	(void)state;
	memset(&agent, 0, sizeof(agent));
	agent.ctx = hwk_ctx_new();
	keypath = key_copy("rsa2048.key", pubpath, sizeof(pubpath));
	otherpath = key_copy("ecdsa384.key", otherpub, sizeof(otherpub));
	snprintf(certpath, sizeof(certpath), "%s-cert.pub", keypath);
	assert_int_equal(hwk_agent_add(&agent, keypath), 0);
	text = fixture_read("rsa2048.key.pub", NULL);
	assert_int_equal(hwk_pubkey_from_line(text, &pub), 0);
	free(text);
	text = fixture_read("rsa2048.key-cert.pub", NULL);
	assert_int_equal(hwk_cert_parse(text, pub, &cert, &(const char *){
	    NULL }), 0);
	free(text);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	hwk_agent_clear(&agent);
	hwk_ctx_free(&agent.ctx);
	hwk_buf_free(&listed);
	hwk_pubkey_free(&pub);
	hwk_pubkey_free(&cert);
	unlink(keypath);
	unlink(pubpath);
	unlink(certpath);
	unlink(otherpath);
	unlink(otherpub);
	free(keypath);
	free(otherpath);
	return 0;
}

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
ask_type(struct hwk_buf *msg)
{
	struct hwk_buf *r = ask(msg);
	uint8_t t = hwk_buf_ptr(r)[0];

	hwk_buf_free(&r);
	hwk_buf_free(&msg);
	return t;
}

/* The blobs of REQUEST_IDENTITIES' answer, counted; [i] is the ith's. */
static uint32_t
list(const uint8_t **blobs, size_t *lens, uint32_t max)
{
	struct hwk_buf *m = hwk_buf_new(), *r;
	uint32_t n, i;
	uint8_t t;

	hwk_buf_free(&listed);
	hwk_buf_put_u8(m, AGENTC_REQUEST_IDENTITIES);
	r = listed = ask(m);
	hwk_buf_free(&m);
	assert_int_equal(hwk_buf_get_u8(r, &t), 0);
	assert_int_equal(t, AGENT_IDENTITIES_ANSWER);
	assert_int_equal(hwk_buf_get_u32(r, &n), 0);
	for (i = 0; i < n; i++) {
		assert_true(i < max);
		assert_int_equal(hwk_buf_get_string_direct(r, &blobs[i],
		    &lens[i]), 0);
		assert_int_equal(hwk_buf_get_string_direct(r, NULL, NULL), 0);
	}
	assert_int_equal(hwk_buf_len(r), 0);
	return n;
}

static struct hwk_buf *
sign_request_flags(const uint8_t *blob, size_t len, uint32_t flags)
{
	struct hwk_buf *m = hwk_buf_new();

	hwk_buf_put_u8(m, AGENTC_SIGN_REQUEST);
	hwk_buf_put_string(m, blob, len);
	hwk_buf_put_cstring(m, "data");
	hwk_buf_put_u32(m, flags);
	return m;
}

static struct hwk_buf *
sign_request(const uint8_t *blob, size_t len)
{
	return sign_request_flags(blob, len, AGENT_RSA_SHA2_256);
}

/* The algorithm of the signature the agent answers with. */
static void
expect_sig_alg(struct hwk_buf *m, const char *alg)
{
	struct hwk_buf *r = ask(m), *sig = NULL;
	char *got = NULL;
	uint8_t t;

	assert_int_equal(hwk_buf_get_u8(r, &t), 0);
	assert_int_equal(t, AGENT_SIGN_RESPONSE);
	assert_int_equal(hwk_buf_get_stringb(r, &sig), 0);
	assert_int_equal(hwk_buf_get_cstring(sig, &got, NULL), 0);
	assert_string_equal(got, alg);
	free(got);
	hwk_buf_free(&sig);
	hwk_buf_free(&r);
	hwk_buf_free(&m);
}

static void
test_cert_parse(void **state)
{
	struct hwk_pubkey *c = NULL;
	const char *why;
	char *text, *bad;
	size_t len;

	(void)state;
	assert_string_equal(cert->type, "ssh-rsa-cert-v01@openssh.com");
	assert_string_equal(cert->comment, "fixture@hwkeygen");
	text = fixture_read("rsa2048-host-cert.pub", NULL);
	assert_int_not_equal(hwk_cert_parse(text, pub, &c, &why), 0);
	assert_null(c);
	assert_string_equal(why, "a host certificate, not a user's");
	free(text);
	text = fixture_read("ecdsa384.key-cert.pub", NULL);
	assert_int_not_equal(hwk_cert_parse(text, pub, &c, &why), 0);
	assert_string_equal(why, "it certifies another key");
	free(text);
	text = fixture_read("rsa4096.key-cert.pub", NULL);	/* same type */
	assert_int_not_equal(hwk_cert_parse(text, pub, &c, &why), 0);
	assert_string_equal(why, "it certifies another key");
	free(text);
	text = fixture_read("rsa2048.key.pub", NULL);
	assert_int_not_equal(hwk_cert_parse(text, pub, &c, &why), 0);
	assert_string_equal(why, "not an OpenSSH certificate");
	free(text);
	assert_int_not_equal(hwk_cert_parse("", pub, &c, &why), 0);
	assert_int_not_equal(hwk_cert_parse("garbage", pub, &c, &why), 0);
	/* The label must say what the blob says. */
	text = fixture_read("rsa2048.key-cert.pub", NULL);
	bad = strdup(text);
	memcpy(bad, "ssh-dss", 7);
	assert_int_not_equal(hwk_cert_parse(bad, pub, &c, &why), 0);
	free(bad);
	/* Every truncation of the base64 (4 chars a step) is refused. */
	len = strcspn(text + 29, " ");
	for (size_t cut = 4; cut < len; cut += 4) {
		bad = strndup(text, 29 + cut);
		assert_int_not_equal(hwk_cert_parse(bad, pub, &c, &why), 0);
		assert_null(c);
		free(bad);
	}
	free(text);
}

/* A certificate line with one byte of its blob (from the end) flipped. */
static char *
tampered(const char *name, size_t from_end)
{
	struct hwk_buf *blob = hwk_buf_new(), *line = hwk_buf_new();
	char *text = fixture_read(name, NULL), *out;
	size_t tlen = strcspn(text, " "), blen;
	uint8_t *p;

	blen = strcspn(text + tlen + 1, " \n");
	assert_int_equal(hwk_base64_decode(text + tlen + 1, blen, blob), 0);
	assert_true(hwk_buf_len(blob) > from_end);
	p = (uint8_t *)hwk_buf_ptr(blob) + hwk_buf_len(blob) - from_end;
	*p ^= 0x01;
	assert_int_equal(hwk_buf_put(line, text, tlen + 1), 0);
	assert_int_equal(hwk_buf_put_base64(line, hwk_buf_ptr(blob),
	    hwk_buf_len(blob), 0), 0);
	assert_int_equal(hwk_buf_put_u8(line, 0), 0);
	out = strdup((const char *)hwk_buf_ptr(line));
	hwk_buf_free(&blob);
	hwk_buf_free(&line);
	free(text);
	return out;
}

/* Every kind of CA signature verifies, and none that was touched. */
static void
test_cert_ca_signature(void **state)
{
	static const char *const names[] = { "rsa2048.key-cert.pub",
	    "rsa2048-ecdsaca-cert.pub", "rsa2048-rsaca-cert.pub",
	    "rsa2048-rsaca256-cert.pub" };
	struct hwk_pubkey *c = NULL;
	const char *why;
	char *text;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		text = fixture_read(names[i], NULL);
		assert_int_equal(hwk_cert_parse(text, pub, &c, &why), 0);
		hwk_pubkey_free(&c);
		free(text);
		/* The signature's last byte, then one in the signed part. */
		text = tampered(names[i], 1);
		assert_int_not_equal(hwk_cert_parse(text, pub, &c, &why), 0);
		assert_null(c);
		assert_string_equal(why, "the CA's signature does not verify");
		free(text);
		text = tampered(names[i], 600);
		assert_int_not_equal(hwk_cert_parse(text, pub, &c, &why), 0);
		free(text);
	}
}

static void
test_cert_offered_and_signs(void **state)
{
	const uint8_t *blobs[4];
	size_t lens[4];
	char *text;

	(void)state;
	assert_int_equal(list(blobs, lens, 4), 1);
	/* Signing with a certificate not (yet) there is refused. */
	assert_int_equal(ask_type(sign_request(cert->blob, cert->bloblen)),
	    AGENT_FAILURE);
	text = fixture_read("rsa2048.key-cert.pub", NULL);
	write_file(certpath, text);
	free(text);
	assert_int_equal(list(blobs, lens, 4), 2);
	assert_int_equal(lens[0], pub->bloblen);
	assert_memory_equal(blobs[0], pub->blob, pub->bloblen);
	assert_int_equal(lens[1], cert->bloblen);
	assert_memory_equal(blobs[1], cert->blob, cert->bloblen);
	/* An RSA certificate signs as its key: the flags choose the hash. */
	expect_sig_alg(sign_request(cert->blob, cert->bloblen), "rsa-sha2-256");
	expect_sig_alg(sign_request_flags(cert->blob, cert->bloblen,
	    AGENT_RSA_SHA2_512), "rsa-sha2-512");
	assert_int_equal(ask_type(sign_request_flags(cert->blob,
	    cert->bloblen, 0)), AGENT_FAILURE);	/* SHA-1: refused */
	assert_int_equal(agent.ids[0].signatures, 2);
	/* Gone: neither listed nor used. */
	unlink(certpath);
	assert_int_equal(ask_type(sign_request(cert->blob, cert->bloblen)),
	    AGENT_FAILURE);
	assert_int_equal(list(blobs, lens, 4), 1);
}

static void
test_cert_replaced(void **state)
{
	const uint8_t *blobs[4];
	size_t lens[4];
	char *text;

	(void)state;
	/* Another key's certificate, then a host one: ignored. */
	text = fixture_read("ecdsa384.key-cert.pub", NULL);
	write_file(certpath, text);
	free(text);
	assert_int_equal(list(blobs, lens, 4), 1);
	text = fixture_read("rsa2048-host-cert.pub", NULL);
	write_file(certpath, text);
	free(text);
	assert_int_equal(list(blobs, lens, 4), 1);
	/* Rewritten in place with the right one: seen at once. */
	text = fixture_read("rsa2048.key-cert.pub", NULL);
	write_file(certpath, text);
	free(text);
	assert_int_equal(list(blobs, lens, 4), 2);
	assert_memory_equal(blobs[1], cert->blob, cert->bloblen);
}

static struct hwk_buf *
remove_request(uint8_t type, const struct hwk_pubkey *k)
{
	struct hwk_buf *m = hwk_buf_new();

	hwk_buf_put_u8(m, type);
	if (k != NULL)
		hwk_buf_put_string(m, k->blob, k->bloblen);
	return m;
}

static void
test_remove(void **state)
{
	const uint8_t *blobs[4];
	size_t lens[4];
	char *text;

	(void)state;
	text = fixture_read("rsa2048.key-cert.pub", NULL);
	write_file(certpath, text);
	free(text);
	/* The certificate alone: hidden, the key stays. */
	assert_int_equal(ask_type(remove_request(AGENTC_REMOVE_IDENTITY,
	    cert)), AGENT_SUCCESS);
	assert_int_equal(list(blobs, lens, 4), 1);
	assert_int_equal(ask_type(sign_request(cert->blob, cert->bloblen)),
	    AGENT_FAILURE);
	/* Malformed: a trailing byte. */
	{
		struct hwk_buf *m = remove_request(AGENTC_REMOVE_IDENTITY, pub);

		hwk_buf_put_u8(m, 0);
		assert_int_equal(ask_type(m), AGENT_FAILURE);
	}
	assert_int_equal(ask_type(remove_request(AGENTC_REMOVE_IDENTITY,
	    pub)), AGENT_SUCCESS);
	assert_int_equal(agent.nids, 0);
	assert_int_equal(ask_type(remove_request(AGENTC_REMOVE_IDENTITY,
	    pub)), AGENT_FAILURE);
	assert_int_equal(ask_type(sign_request(pub->blob, pub->bloblen)),
	    AGENT_FAILURE);
}

/*
 * ssh-add -d STUB removes the key, then STUB-cert.pub: the certificate went
 * with the key (even one never listed before), and saying so once is right.
 */
static void
test_remove_key_then_cert(void **state)
{
	char *text;

	(void)state;
	text = fixture_read("rsa2048.key-cert.pub", NULL);
	write_file(certpath, text);
	free(text);
	assert_int_equal(ask_type(remove_request(AGENTC_REMOVE_IDENTITY,
	    pub)), AGENT_SUCCESS);
	assert_int_equal(agent.nids, 0);
	assert_int_equal(ask_type(remove_request(AGENTC_REMOVE_IDENTITY,
	    cert)), AGENT_SUCCESS);
	assert_int_equal(ask_type(remove_request(AGENTC_REMOVE_IDENTITY,
	    cert)), AGENT_FAILURE);
}

static void
test_remove_all(void **state)
{
	struct hwk_buf *m;

	(void)state;
	assert_int_equal(hwk_agent_add(&agent, otherpath), 0);
	assert_int_equal(agent.nids, 2);
	m = remove_request(AGENTC_REMOVE_ALL_IDENTITIES, NULL);
	hwk_buf_put_u8(m, 0);
	assert_int_equal(ask_type(m), AGENT_FAILURE);
	/* Locked: nothing changes. */
	m = hwk_buf_new();
	hwk_buf_put_u8(m, AGENTC_LOCK);
	hwk_buf_put_cstring(m, "pw");
	assert_int_equal(ask_type(m), AGENT_SUCCESS);
	assert_int_equal(ask_type(remove_request(AGENTC_REMOVE_ALL_IDENTITIES,
	    NULL)), AGENT_FAILURE);
	assert_int_equal(ask_type(remove_request(AGENTC_REMOVE_IDENTITY,
	    pub)), AGENT_FAILURE);
	assert_int_equal(agent.nids, 2);
	m = hwk_buf_new();
	hwk_buf_put_u8(m, AGENTC_UNLOCK);
	hwk_buf_put_cstring(m, "pw");
	assert_int_equal(ask_type(m), AGENT_SUCCESS);
	assert_int_equal(ask_type(remove_request(AGENTC_REMOVE_ALL_IDENTITIES,
	    NULL)), AGENT_SUCCESS);
	assert_int_equal(agent.nids, 0);
}

static struct hwk_buf *
add_request(uint32_t flags, uint32_t count, const char **paths, size_t n)
{
	struct hwk_buf *m = hwk_buf_new();
	size_t i;

	hwk_buf_put_u8(m, AGENTC_EXTENSION);
	hwk_buf_put_cstring(m, HWK_ADD_STUB_EXT);
	hwk_buf_put_u32(m, flags);
	hwk_buf_put_u32(m, count);
	for (i = 0; i < n; i++)
		hwk_buf_put_cstring(m, paths[i]);
	return m;
}

/* The reason of an extension failure, which add prints. */
static void
expect_refusal(struct hwk_buf *m, const char *words)
{
	struct hwk_buf *r = ask(m);
	uint8_t t;
	char *why = NULL;

	assert_int_equal(hwk_buf_get_u8(r, &t), 0);
	assert_int_equal(t, AGENT_EXTENSION_FAILURE);
	assert_int_equal(hwk_buf_get_cstring(r, &why, NULL), 0);
	assert_non_null(strstr(why, words));
	free(why);
	hwk_buf_free(&r);
	hwk_buf_free(&m);
	assert_int_equal(agent.nids, 1);
}

static void
test_add_stub(void **state)
{
	const char *paths[3] = { NULL, "/nonexistent/stub", "relative" };
	const uint8_t *blobs[4];
	size_t lens[4];
	struct hwk_buf *m;

	(void)state;
	paths[0] = otherpath;
	/* All or nothing: the first is taken back when the second fails. */
	expect_refusal(add_request(0, 2, paths, 2), "/nonexistent/stub");
	paths[1] = paths[2];
	expect_refusal(add_request(0, 2, paths, 2), "not an absolute path");
	paths[1] = pubpath;	/* a .pub is no stub */
	expect_refusal(add_request(0, 2, paths, 2), pubpath);
	expect_refusal(add_request(0x80, 1, paths, 1), "unknown flags");
	/* Malformed: no paths, too many, fewer than said, a byte after. */
	assert_int_equal(ask_type(add_request(0, 0, paths, 0)), AGENT_FAILURE);
	assert_int_equal(ask_type(add_request(0, HWK_ADD_STUB_MAX + 1, paths,
	    1)), AGENT_FAILURE);
	assert_int_equal(ask_type(add_request(0, 2, paths, 1)), AGENT_FAILURE);
	m = add_request(0, 1, paths, 1);
	hwk_buf_put_u8(m, 0);
	assert_int_equal(ask_type(m), AGENT_FAILURE);
	assert_int_equal(agent.nids, 1);
	/* The same stub twice, and one already served: fine. */
	paths[1] = otherpath;
	paths[2] = keypath;
	assert_int_equal(ask_type(add_request(0, 3, paths, 3)), AGENT_SUCCESS);
	assert_int_equal(agent.nids, 2);
	assert_int_equal(list(blobs, lens, 4), 2);
	assert_string_equal(agent.ids[1].path, otherpath);
}

/* add-stub with one path and its secret (len bytes), life unless 0. */
static struct hwk_buf *
secret_request(uint32_t flags, uint32_t life, const char *path,
    const char *secret, size_t len)
{
	struct hwk_buf *m = hwk_buf_new();

	hwk_buf_put_u8(m, AGENTC_EXTENSION);
	hwk_buf_put_cstring(m, HWK_ADD_STUB_EXT);
	hwk_buf_put_u32(m, flags);
	if (flags & HWK_ADD_LIFETIME)
		hwk_buf_put_u32(m, life);
	hwk_buf_put_u32(m, 1);
	hwk_buf_put_cstring(m, path);
	if (secret != NULL)
		hwk_buf_put_string(m, secret, len);
	return m;
}

#define S(s)	(s), sizeof(s) - 1

static void
test_add_secret(void **state)
{
	char encpub[4096], *enc, *big;
	struct hwk_identity *id;
	struct hwk_buf *m;

	(void)state;
	/* No way to ask but the secret add gives. */
	unsetenv("DISPLAY");
	unsetenv("WAYLAND_DISPLAY");
	unsetenv("SSH_ASKPASS_REQUIRE");
	enc = key_copy("ecdsa384-enc.key", encpub, sizeof(encpub));
	/* Malformed: no secret after the path, a NUL in it, one too long. */
	assert_int_equal(ask_type(secret_request(HWK_ADD_SECRETS, 0, enc,
	    NULL, 0)), AGENT_FAILURE);
	assert_int_equal(ask_type(secret_request(HWK_ADD_SECRETS, 0, enc,
	    S("ec\0pass"))), AGENT_FAILURE);
	big = calloc(1, HWK_SECRET_MAX);
	memset(big, 'a', HWK_SECRET_MAX);
	assert_int_equal(ask_type(secret_request(HWK_ADD_SECRETS, 0, enc,
	    big, HWK_SECRET_MAX)), AGENT_FAILURE);
	free(big);
	/* A lifetime of 0, of too long, or cut off. */
	assert_int_equal(ask_type(secret_request(HWK_ADD_SECRETS |
	    HWK_ADD_LIFETIME, 0, enc, S("ec pass"))), AGENT_FAILURE);
	assert_int_equal(ask_type(secret_request(HWK_ADD_SECRETS |
	    HWK_ADD_LIFETIME, HWK_ADD_LIFETIME_MAX + 1, enc, S("ec pass"))),
	    AGENT_FAILURE);
	m = hwk_buf_new();
	hwk_buf_put_u8(m, AGENTC_EXTENSION);
	hwk_buf_put_cstring(m, HWK_ADD_STUB_EXT);
	hwk_buf_put_u32(m, HWK_ADD_LIFETIME);
	assert_int_equal(ask_type(m), AGENT_FAILURE);
	expect_refusal(secret_request(0x04, 0, enc, NULL, 0), "unknown flags");
	/* A wrong secret: refused, said so, not added. */
	expect_refusal(secret_request(HWK_ADD_SECRETS, 0, enc, S("nope")),
	    "the secret was not accepted");
	/* "": added, nothing opened; the right one: opened and kept. */
	assert_int_equal(ask_type(secret_request(HWK_ADD_SECRETS, 0, enc,
	    S(""))), AGENT_SUCCESS);
	assert_int_equal(agent.nids, 2);
	id = &agent.ids[1];
	assert_true(id->key == NULL && !id->unlocked);
	assert_string_equal(id->protection, "passphrase");
	assert_int_equal(ask_type(secret_request(HWK_ADD_SECRETS |
	    HWK_ADD_LIFETIME, 60, enc, S("ec pass"))), AGENT_SUCCESS);
	assert_int_equal(agent.nids, 2);
	assert_true(id->key != NULL && id->unlocked && id->unlock_until > 0);
	/* Not yet expired; then its time is up, and it is let go. */
	hwk_agent_expire(&agent);
	assert_non_null(id->key);
	id->unlock_until = 1;
	hwk_agent_expire(&agent);
	assert_true(id->key == NULL && !id->unlocked);
	/* Without a lifetime it stays until the agent is locked. */
	assert_int_equal(ask_type(secret_request(HWK_ADD_SECRETS, 0, enc,
	    S("ec pass"))), AGENT_SUCCESS);
	assert_true(id->key != NULL && id->unlock_until == 0);
	hwk_agent_expire(&agent);
	assert_non_null(id->key);
	m = hwk_buf_new();
	hwk_buf_put_u8(m, AGENTC_LOCK);
	hwk_buf_put_cstring(m, "lock");
	assert_int_equal(ask_type(m), AGENT_SUCCESS);
	assert_true(id->key == NULL && !id->unlocked);
	unlink(enc);
	unlink(encpub);
	free(enc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cert_parse, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cert_ca_signature, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cert_offered_and_signs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_replaced, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_key_then_cert,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_all, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_add_stub, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_secret, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
