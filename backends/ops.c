/*
 * The calls into a backend's ops table.  Nothing else calls an op: here a
 * missing one becomes HWK_ERR_UNSUPPORTED with words for the user, and a
 * missing check (probe, check, check_opts, describe) simply passes.
 */
#include <string.h>

#include "hwkey/backend.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "backends.h"

static int
unsupported(struct hwk_ctx *ctx, const struct hwk_backend *b,
    const char *what)
{
	return hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "the %s backend cannot "
	    "%s", b->name, what);
}

int
hwk_backend_probe(struct hwk_ctx *ctx, const struct hwk_backend *b)
{
	return b->probe != NULL ? b->probe(ctx) : HWK_OK;
}

int
hwk_backend_check(struct hwk_ctx *ctx, const struct hwk_backend *b,
    const struct hwk_genparams *gp)
{
	return b->check != NULL ? b->check(ctx, gp) : HWK_OK;
}

int
hwk_backend_check_opts(struct hwk_ctx *ctx, const struct hwk_backend *b)
{
	return b->check_opts != NULL ? b->check_opts(ctx) : HWK_OK;
}

int
hwk_backend_describe(struct hwk_ctx *ctx, const struct hwk_backend *b,
    struct hwk_out *out)
{
	return b->describe != NULL ? b->describe(ctx, out) : HWK_OK;
}

int
hwk_backend_generate(struct hwk_ctx *ctx, const struct hwk_backend *b,
    const struct hwk_genparams *gp, struct hwk_key **keyp)
{
	*keyp = NULL;
	if (b->generate == NULL)
		return unsupported(ctx, b, "make keys");
	return b->generate(ctx, gp, keyp);
}

int
hwk_backend_write_stub(struct hwk_ctx *ctx, const struct hwk_key *key,
    const struct hwk_genparams *gp, struct hwk_buf *out)
{
	if (key->backend->write_stub == NULL)
		return unsupported(ctx, key->backend, "write key files");
	return key->backend->write_stub(ctx, key, gp, out);
}

int
hwk_backend_claims(const struct hwk_backend *b, const uint8_t *stub,
    size_t len)
{
	return b->claims != NULL && b->claims(stub, len);
}

int
hwk_backend_stub_info(const struct hwk_backend *b, const uint8_t *stub,
    size_t len, struct hwk_stubinfo *info)
{
	memset(info, 0, sizeof(*info));
	if (b->stub_info == NULL)
		return HWK_ERR_UNSUPPORTED;
	return b->stub_info(stub, len, info);
}

int
hwk_backend_load(struct hwk_ctx *ctx, const struct hwk_backend *b,
    const uint8_t *stub, size_t len, struct hwk_key **keyp)
{
	*keyp = NULL;
	if (b->load == NULL)
		return unsupported(ctx, b, "open keys");
	return b->load(ctx, stub, len, keyp);
}

int
hwk_key_sign(struct hwk_ctx *ctx, struct hwk_key *key, int alg,
    const uint8_t *data, size_t len, uint8_t **sigp, size_t *siglenp)
{
	*sigp = NULL;
	*siglenp = 0;
	if (key->backend->sign == NULL)
		return unsupported(ctx, key->backend, "sign");
	return key->backend->sign(ctx, key, alg, data, len, sigp, siglenp);
}

int
hwk_key_attest(struct hwk_ctx *ctx, struct hwk_key *key,
    struct hwk_attest *ev)
{
	if (key->backend->attest == NULL)
		return unsupported(ctx, key->backend, "attest keys");
	return key->backend->attest(ctx, key, ev);
}

int
hwk_backend_attest_able(struct hwk_ctx *ctx, const struct hwk_backend *b)
{
	if (b->attest == NULL)
		return hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "hwkeygen cannot "
		    "attest keys of the %s backend", b->name);
	return HWK_OK;
}

int
hwk_backend_attest_challenge(struct hwk_ctx *ctx, const struct hwk_backend *b,
    const struct hwk_attest *ev, const char *roots, struct hwk_attest *chal,
    struct hwk_attest *secret)
{
	if (b->attest_challenge == NULL)
		return unsupported(ctx, b, "make attestation challenges");
	return b->attest_challenge(ctx, ev, roots, chal, secret);
}

int
hwk_backend_attest_respond(struct hwk_ctx *ctx, const struct hwk_backend *b,
    const struct hwk_attest *chal, struct hwk_attest *resp)
{
	if (b->attest_respond == NULL)
		return unsupported(ctx, b, "answer attestation challenges");
	return b->attest_respond(ctx, chal, resp);
}

int
hwk_backend_attest_verify(struct hwk_ctx *ctx, const struct hwk_backend *b,
    const struct hwk_attest *ev, const char *roots,
    const struct hwk_attest *secret, const struct hwk_attest *resp,
    struct hwk_attest *verdict)
{
	if (b->attest_verify == NULL)
		return unsupported(ctx, b, "verify attestations");
	return b->attest_verify(ctx, ev, roots, secret, resp, verdict);
}

int
hwk_backend_locate(struct hwk_ctx *ctx, const struct hwk_backend *b,
    const uint8_t *stub, size_t len, struct hwk_devkey *where)
{
	memset(where, 0, sizeof(*where));
	if (b->locate == NULL)
		return unsupported(ctx, b, "find keys in a device");
	return b->locate(ctx, stub, len, where);
}

int
hwk_backend_erase(struct hwk_ctx *ctx, const struct hwk_backend *b,
    const uint8_t *stub, size_t len, const struct hwk_pubkey *want)
{
	if (b->erase == NULL)
		return unsupported(ctx, b, "delete keys from a device");
	return b->erase(ctx, stub, len, want);
}

int
hwk_backend_unnamed(struct hwk_ctx *ctx, const struct hwk_backend *b,
    const struct hwk_buf *const *stubs, size_t n,
    void (*found)(void *arg, const struct hwk_devkey *key), void *arg)
{
	if (b->unnamed == NULL)
		return unsupported(ctx, b, "list keys in a device");
	return b->unnamed(ctx, stubs, n, found, arg);
}

void
hwk_devkey_clear(struct hwk_devkey *k)
{
	hwk_pubkey_free(&k->pub);
	memset(k, 0, sizeof(*k));
}

int
hwk_key_destroy(struct hwk_ctx *ctx, struct hwk_key *key)
{
	if (key->backend->destroy == NULL)
		return unsupported(ctx, key->backend, "erase keys");
	return key->backend->destroy(ctx, key);
}

void
hwk_key_free_impl(struct hwk_key *key)
{
	if (key->impl != NULL && key->backend != NULL &&
	    key->backend->free_impl != NULL)
		key->backend->free_impl(key);
}
