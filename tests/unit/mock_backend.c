/*
 * The mock backend of the unit tests: it behaves like a device backend
 * (generate, write a stub, roll back, sign) with a fixture key, and each
 * step returns what the test put in `mock`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/openssh_key.h"
#include "hwkey/sshkey.h"
#include "fixture.h"
#include "mock_backend.h"

#define MOCK_MAGIC	"MOCK-SLOT "

struct mock_state mock;

void
mock_reset(void)
{
	memset(&mock, 0, sizeof(mock));
}

/* A fixture key, each read once: a fuzzer opens them thousands of times. */
static EVP_PKEY *
fixture_key(const char *name)
{
	static struct {
		const char	*name;
		EVP_PKEY	*k;
	} cache[8];
	struct hwk_openssh_info info;
	char *text;
	size_t len, i;

	for (i = 0; cache[i].name != NULL && strcmp(cache[i].name, name) != 0;
	    i++)
		assert_true(i + 1 < sizeof(cache) / sizeof(cache[0]));
	if (cache[i].name == NULL) {
		text = fixture_read(name, &len);
		assert_int_equal(hwk_openssh_read((uint8_t *)text, len, NULL,
		    &cache[i].k, NULL, &info), 0);
		hwk_openssh_info_clear(&info);
		free(text);
		cache[i].name = name;
	}
	assert_int_equal(EVP_PKEY_up_ref(cache[i].k), 1);
	return cache[i].k;
}

/* The fixture of the type and size asked for: the key a device would make. */
static EVP_PKEY *
fixture_for(const struct hwk_genparams *gp)
{
	switch (gp->type) {
	case HWK_KEY_ECDSA:
		return fixture_key(gp->bits == 521 ? "ecdsa521.key" :
		    gp->bits == 384 ? "ecdsa384.key" : "ecdsa256.key");
	case HWK_KEY_ED25519:
		return fixture_key("ed25519.key");
	}
	return fixture_key("rsa2048.key");
}

static int
m_probe(struct hwk_ctx *ctx)
{
	mock.probe_calls++;
	if (mock.probe_rc != 0)
		return hwk_ctx_error(ctx, mock.probe_rc, "%s",
		    mock.probe_detail != NULL ? mock.probe_detail : "mock");
	return 0;
}

static int
m_check(struct hwk_ctx *ctx, const struct hwk_genparams *gp)
{
	if (mock.refuse_type != 0 && gp->type == mock.refuse_type)
		return hwk_ctx_error(ctx, HWK_ERR_KEY_TYPE, "mock makes no "
		    "such keys");
	if (mock.check_rc != 0)
		return hwk_ctx_error(ctx, mock.check_rc, "mock refuses %u bits",
		    gp->bits);
	return 0;
}

static int
m_generate(struct hwk_ctx *ctx, const struct hwk_genparams *gp,
    struct hwk_key **keyp)
{
	const char *o = hwk_ctx_opt(ctx, "mock-opt");

	*keyp = NULL;
	mock.generate_calls++;
	mock.seen_bits = gp->bits;
	mock.seen_type = gp->type;
	snprintf(mock.seen_opt, sizeof(mock.seen_opt), "%s",
	    o != NULL ? o : "");
	if (mock.on_generate != NULL)
		mock.on_generate();
	if (mock.generate_rc != 0)
		return hwk_ctx_error(ctx, mock.generate_rc, "mock generate");
	assert_int_equal(hwk_key_new(&hwk_mock_backend, keyp), 0);
	(*keyp)->pkey = fixture_for(gp);
	return 0;
}

static int
m_write_stub(struct hwk_ctx *ctx, const struct hwk_key *key,
    const struct hwk_genparams *gp, struct hwk_buf *out)
{
	(void)key;
	mock.write_calls++;
	if (mock.write_rc != 0)
		return hwk_ctx_error(ctx, mock.write_rc, "mock write");
	return hwk_buf_putf(out, MOCK_MAGIC "%s\n", gp->comment);
}

static int
m_claims(const uint8_t *stub, size_t len)
{
	return len >= strlen(MOCK_MAGIC) &&
	    memcmp(stub, MOCK_MAGIC, strlen(MOCK_MAGIC)) == 0;
}

static int
m_stub_info(const uint8_t *stub, size_t len, struct hwk_stubinfo *info)
{
	(void)stub;
	(void)len;
	memset(info, 0, sizeof(*info));
	info->protection = "mock";
	return 0;
}

static int
m_load(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
    struct hwk_key **keyp)
{
	(void)ctx;
	(void)stub;
	(void)len;
	assert_int_equal(hwk_key_new(&hwk_mock_backend, keyp), 0);
	(*keyp)->pkey = fixture_key("rsa2048.key");
	return 0;
}

/* The length of the sign op's answer for key (backend.h). */
static size_t
raw_sig_len(const struct hwk_key *key)
{
	switch (EVP_PKEY_get_base_id(key->pkey)) {
	case EVP_PKEY_EC:
		return 2 * ((hwk_key_bits(key) + 7) / 8);	/* r || s */
	case EVP_PKEY_ED25519:
		return 64;
	}
	return (hwk_key_bits(key) + 7) / 8;
}

/* Not a signature: bytes of the data, as long as the test wants. */
static int
m_sign(struct hwk_ctx *ctx, struct hwk_key *key, int alg, const uint8_t *data,
    size_t len, uint8_t **sigp, size_t *siglenp)
{
	size_t n = mock.sign_len != 0 ? mock.sign_len : raw_sig_len(key), i;

	*sigp = NULL;
	*siglenp = 0;
	mock.sign_calls++;
	mock.seen_alg = alg;
	if (mock.sign_rc != 0)
		return hwk_ctx_error(ctx, mock.sign_rc, "mock sign");
	if ((*sigp = malloc(n)) == NULL)
		return HWK_ERR_NOMEM;
	for (i = 0; i < n; i++)
		(*sigp)[i] = (uint8_t)(alg ^ (len > 0 ? data[i % len] : 0));
	*siglenp = n;
	return 0;
}

static int
m_destroy(struct hwk_ctx *ctx, struct hwk_key *key)
{
	(void)key;
	mock.destroy_calls++;
	if (mock.destroy_rc != 0)
		return hwk_ctx_error(ctx, mock.destroy_rc, "mock destroy");
	return 0;
}

static const struct hwk_optdesc m_options[] = {
	{ "mock-opt", "VALUE", "an option the mock backend owns",
	    HWK_OPT_BOTH },
	{ NULL, NULL, NULL, 0 },
};

const struct hwk_backend hwk_mock_backend = {
	.name = "mock",
	.summary = "unit-test backend",
	.flags = HWK_BF_DEVICE,
	.default_bits = 2048,
	.options = m_options,
	.probe = m_probe,
	.check = m_check,
	.generate = m_generate,
	.write_stub = m_write_stub,
	.claims = m_claims,
	.stub_info = m_stub_info,
	.load = m_load,
	.sign = m_sign,
	.destroy = m_destroy,
	.free_impl = NULL,
};
