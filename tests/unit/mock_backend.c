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

/* The fixture key, read once: a fuzzer opens it thousands of times. */
static EVP_PKEY *
fixture_key(void)
{
	static EVP_PKEY *k;
	struct hwk_openssh_info info;
	char *text;
	size_t len;

	if (k == NULL) {
		text = fixture_read("rsa2048.key", &len);
		assert_int_equal(hwk_openssh_read((uint8_t *)text, len, NULL,
		    &k, NULL, &info), 0);
		hwk_openssh_info_clear(&info);
		free(text);
	}
	assert_int_equal(EVP_PKEY_up_ref(k), 1);
	return k;
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
	snprintf(mock.seen_opt, sizeof(mock.seen_opt), "%s",
	    o != NULL ? o : "");
	if (mock.on_generate != NULL)
		mock.on_generate();
	if (mock.generate_rc != 0)
		return hwk_ctx_error(ctx, mock.generate_rc, "mock generate");
	assert_int_equal(hwk_key_new(&hwk_mock_backend, keyp), 0);
	(*keyp)->pkey = fixture_key();
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
	(*keyp)->pkey = fixture_key();
	return 0;
}

/* Not a signature: bytes of the data, as long as the test wants. */
static int
m_sign(struct hwk_ctx *ctx, struct hwk_key *key, int alg, const uint8_t *data,
    size_t len, uint8_t **sigp, size_t *siglenp)
{
	size_t n = mock.sign_len != 0 ? mock.sign_len :
	    (hwk_key_bits(key) + 7) / 8, i;

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
