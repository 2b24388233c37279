/*
 * hwkey-agent's stand-in for the pkcs11 backend: the same name, options
 * and stubs, but keys are opened and sign in the PKCS#11 helper
 * (p11client.c), so no module, nor p11-kit, is ever mapped in the agent.
 * A key remembers its stub, to open it again in a helper started since.
 */
#include <sys/mman.h>

#include <stdlib.h>
#include <string.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/secret.h"
#include "hwkey/sshkey.h"
#include "agent.h"
#include "p11helper.h"

#define MAX_BACKENDS	16

/* A key the helper holds: its handle there, and how to open it again. */
struct p11c_key {
	uint32_t	 handle;
	unsigned	 gen;		/* the helper it was opened in */
	uint8_t		*stub;
	size_t		 stublen;
	struct hwk_pubkey *pub;
	char		*pin;		/* hwkey-agent add's, in locked memory */
};

static struct {
	struct hwk_agent *a;
	struct hwk_backend proxy;
	const struct hwk_backend *table[MAX_BACKENDS + 1];
} px;

/* A stub as the agent sees it: claimed, with nothing read from a token. */
static int
proxy_stub_info(const uint8_t *stub, size_t len, struct hwk_stubinfo *info)
{
	(void)stub;
	(void)len;
	memset(info, 0, sizeof(*info));
	info->protection = "token PIN";	/* the .pub holds the public key */
	return HWK_OK;
}

/* The LOAD request of a stub. */
static int
open_req(const uint8_t *stub, size_t len, struct hwk_buf *req)
{
	int r;

	hwk_buf_reset(req);
	if ((r = hwk_buf_put_u8(req, P11H_LOAD)) != 0)
		return r;
	return hwk_buf_put_string(req, stub, len);
}

/* The helper's KEY answer: its handle there and the public key. */
static int
open_answer(struct hwk_ctx *ctx, struct hwk_buf *reply, uint32_t *handlep,
    struct hwk_pubkey **pubp)
{
	const uint8_t *blob;
	char *comment = NULL;
	size_t bloblen;
	int r;

	*pubp = NULL;
	if (hwk_buf_get_u32(reply, handlep) != 0 ||
	    hwk_buf_get_string_direct(reply, &blob, &bloblen) != 0 ||
	    hwk_buf_get_cstring(reply, &comment, NULL) != 0)
		r = hwk_ctx_error(ctx, HWK_ERR_FORMAT, "the PKCS#11 helper "
		    "sent no key");
	else
		r = hwk_pubkey_from_blob(blob, bloblen, *comment != '\0' ?
		    comment : NULL, pubp);
	free(comment);
	return r;
}

/* Opens stub in the helper: its handle there and its public key. */
static int
helper_open(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
    uint32_t *handlep, struct hwk_pubkey **pubp)
{
	struct hwk_buf *req = NULL, *reply = NULL;
	int tries, r;

	*pubp = NULL;
	if ((req = hwk_buf_new()) == NULL || (reply = hwk_buf_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	/* Once more in a new helper if the last one had died idle. */
	for (tries = 0;; tries++) {
		if ((r = p11c_ready(ctx)) != 0 ||
		    (r = open_req(stub, len, req)) != 0)
			goto out;
		r = p11c_call(ctx, req, reply);
		if (r == 0 || tries > 0 || !p11c_gone_idle())
			break;
	}
	if (r == 0)
		r = open_answer(ctx, reply, handlep, pubp);
 out:
	hwk_buf_free(&req);
	hwk_buf_free(&reply);
	return r;
}

static void
p11c_key_free(struct p11c_key **kp)
{
	struct p11c_key *k = *kp;

	if (k == NULL)
		return;
	free(k->stub);
	hwk_pubkey_free(&k->pub);
	if (k->pin != NULL) {
		explicit_bzero(k->pin, HWK_SECRET_MAX);
		munlock(k->pin, HWK_SECRET_MAX);
		free(k->pin);
	}
	free(k);
	*kp = NULL;
}

/* The key of a stub the helper opened: handle, pub (taken) and gen. */
static int
make_key(const uint8_t *stub, size_t len, uint32_t handle,
    struct hwk_pubkey **pubp, struct hwk_key **keyp)
{
	struct p11c_key *k;
	int r;

	*keyp = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->stub = malloc(len)) == NULL) {
		free(k);
		hwk_pubkey_free(pubp);
		return HWK_ERR_NOMEM;
	}
	memcpy(k->stub, stub, len);
	k->stublen = len;
	k->handle = handle;
	k->pub = *pubp;
	*pubp = NULL;
	k->gen = p11c_gen();
	if ((r = hwk_key_new(&px.proxy, keyp)) != 0)
		goto out;
	if ((r = hwk_pubkey_to_evp(k->pub, &(*keyp)->pkey)) != 0 ||
	    (r = hwk_key_set_comment(*keyp, k->pub->comment)) != 0) {
		hwk_key_free(keyp);
		goto out;
	}
	(*keyp)->impl = k;
	k = NULL;	/* owned by the key */
 out:
	p11c_key_free(&k);
	return r;
}

static int
proxy_load(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
    struct hwk_key **keyp)
{
	struct hwk_pubkey *pub = NULL;
	uint32_t handle;
	int r;

	*keyp = NULL;
	if ((r = helper_open(ctx, stub, len, &handle, &pub)) != 0)
		return r;
	return make_key(stub, len, handle, &pub, keyp);
}

/* The key again in a helper started since it was opened, the same key. */
static int
proxy_reopen(struct hwk_ctx *ctx, struct p11c_key *k)
{
	struct hwk_pubkey *pub = NULL;
	uint32_t handle;
	int r;

	/*
	 * The token logs in again with the PIN add gave, if it gave one, as
	 * it opens the key or at its signature (proxy_sign lets go of it).
	 */
	p11c_give_pin(k->pin);
	if ((r = helper_open(ctx, k->stub, k->stublen, &handle, &pub)) != 0)
		return r;
	if (pub->bloblen != k->pub->bloblen ||
	    memcmp(pub->blob, k->pub->blob, pub->bloblen) != 0)
		r = hwk_ctx_error(ctx, HWK_ERR_WRONG_DEVICE, "the token now "
		    "holds another key under this stub's id");
	else {
		k->handle = handle;
		k->gen = p11c_gen();
	}
	hwk_pubkey_free(&pub);
	return r;
}

/* The SIGN request of a key, for the helper's current handle of it. */
static int
sign_req(struct p11c_key *k, int alg, const uint8_t *data, size_t len,
    struct hwk_buf *req)
{
	int r;

	hwk_buf_reset(req);
	if ((r = hwk_buf_put_u8(req, P11H_SIGN)) != 0 ||
	    (r = hwk_buf_put_u32(req, k->handle)) != 0 ||
	    (r = hwk_buf_put_u32(req, (uint32_t)alg)) != 0)
		return r;
	return hwk_buf_put_string(req, data, len);
}

static int
proxy_sign(struct hwk_ctx *ctx, struct hwk_key *key, int alg,
    const uint8_t *data, size_t len, uint8_t **sigp, size_t *siglenp)
{
	struct p11c_key *k = key->impl;
	struct hwk_buf *req = NULL, *reply = NULL;
	int tries, r;

	if ((req = hwk_buf_new()) == NULL || (reply = hwk_buf_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	/* Once more, the key opened again, if the helper had died idle. */
	for (tries = 0;; tries++) {
		if ((r = p11c_ready(ctx)) != 0 ||
		    (k->gen != p11c_gen() && (r = proxy_reopen(ctx, k)) != 0) ||
		    (r = sign_req(k, alg, data, len, req)) != 0)
			goto out;
		r = p11c_call(ctx, req, reply);
		if (r == 0 || tries > 0 || !p11c_gone_idle())
			break;
	}
	if (r == 0)
		r = hwk_agent_p11_sign_end(ctx, reply, sigp, siglenp);
 out:
	p11c_give_pin(NULL);
	hwk_buf_free(&req);
	hwk_buf_free(&reply);
	return r;
}

/* Lets the helper close what it holds for the key, if it still runs. */
static void
proxy_free_impl(struct hwk_key *key)
{
	struct p11c_key *k = key->impl;
	struct hwk_buf *req = NULL, *reply = NULL;

	key->impl = NULL;
	if (k == NULL)
		return;
	if (k->gen == p11c_gen() &&
	    (req = hwk_buf_new()) != NULL && (reply = hwk_buf_new()) != NULL &&
	    hwk_buf_put_u8(req, P11H_FREE) == 0 &&
	    hwk_buf_put_u32(req, k->handle) == 0)
		p11c_call(px.a != NULL ? px.a->ctx : NULL, req, reply);
	hwk_buf_free(&req);
	hwk_buf_free(&reply);
	p11c_key_free(&k);
}

/*
 * The backend's own check of its options, run in a helper when any is
 * given (a --token URI takes p11-kit to read); that helper is stopped, so
 * that the agent does not take it along when it goes to the background.
 */
static int
proxy_check_opts(struct hwk_ctx *ctx)
{
	struct hwk_buf *req = NULL, *reply = NULL;
	const struct hwk_optdesc *o;
	int r;

	for (o = px.proxy.options; o != NULL && o->name != NULL; o++)
		if (hwk_ctx_opt(ctx, o->name) != NULL)
			break;
	if (o == NULL || o->name == NULL)
		return HWK_OK;
	if ((req = hwk_buf_new()) == NULL || (reply = hwk_buf_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if ((r = p11c_ready(ctx)) == 0 &&
	    (r = hwk_buf_put_u8(req, P11H_CHECK)) == 0)
		r = p11c_call(ctx, req, reply);
	p11c_stop(0);
 out:
	hwk_buf_free(&req);
	hwk_buf_free(&reply);
	return r;
}

int
hwk_agent_p11_owns(const struct hwk_backend *b)
{
	return b != NULL && b == &px.proxy;
}

int
hwk_agent_p11_busy(void)
{
	uint64_t t;

	return p11c_waiting(&t) != -1;
}

int
hwk_agent_p11_sign_start(struct hwk_ctx *ctx, struct hwk_key *key, int alg,
    const uint8_t *data, size_t len)
{
	struct p11c_key *k;
	struct hwk_buf *req;
	int r;

	/* Only a key open in the helper that runs, idle: else as before. */
	if (key == NULL || key->backend != &px.proxy ||
	    (k = key->impl) == NULL || k->gen == 0 || k->gen != p11c_gen() ||
	    hwk_agent_p11_busy())
		return 1;
	if ((req = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = sign_req(k, alg, data, len, req)) == 0)
		r = p11c_start(ctx, req);
	hwk_buf_free(&req);
	/* Died idle: the usual way starts a new one and opens the key again. */
	return r != 0 && p11c_gone_idle() ? 1 : r;
}

int
hwk_agent_p11_open_start(struct hwk_ctx *ctx, const uint8_t *stub,
    size_t len)
{
	struct hwk_buf *req;
	int tries, r;

	if (hwk_agent_p11_busy())
		return 1;
	if ((req = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	/* Once more in a new helper if the last one had died idle. */
	for (tries = 0;; tries++) {
		if ((r = p11c_ready(ctx)) != 0 ||
		    (r = open_req(stub, len, req)) != 0)
			break;
		r = p11c_start(ctx, req);
		if (r == 0 || tries > 0 || !p11c_gone_idle())
			break;
	}
	hwk_buf_free(&req);
	return r;
}

int
hwk_agent_p11_open_end(struct hwk_ctx *ctx, struct hwk_buf *reply,
    const uint8_t *stub, size_t len, struct hwk_key **keyp)
{
	struct hwk_pubkey *pub = NULL;
	uint32_t handle;
	int r;

	*keyp = NULL;
	if ((r = open_answer(ctx, reply, &handle, &pub)) != 0)
		return r;
	return make_key(stub, len, handle, &pub, keyp);
}

int
hwk_agent_p11_sign_end(struct hwk_ctx *ctx, struct hwk_buf *reply,
    uint8_t **sigp, size_t *siglenp)
{
	const uint8_t *sig;
	size_t siglen;

	*sigp = NULL;
	*siglenp = 0;
	if (hwk_buf_get_string_direct(reply, &sig, &siglen) != 0 ||
	    (*sigp = malloc(siglen != 0 ? siglen : 1)) == NULL)
		return hwk_ctx_error(ctx, HWK_ERR_FORMAT, "the PKCS#11 helper "
		    "sent no signature");
	memcpy(*sigp, sig, siglen);
	*siglenp = siglen;
	return HWK_OK;
}

int
hwk_agent_p11_keep_pin(struct hwk_key *key, const char *pin)
{
	struct p11c_key *k;
	size_t len = strlen(pin);

	if (key == NULL || key->backend != &px.proxy ||
	    (k = key->impl) == NULL)
		return HWK_OK;
	if (len >= HWK_SECRET_MAX)
		return HWK_ERR_TOO_LARGE;
	if (k->pin == NULL) {
		if ((k->pin = calloc(1, HWK_SECRET_MAX)) == NULL)
			return HWK_ERR_NOMEM;
		(void)mlock(k->pin, HWK_SECRET_MAX);	/* never swapped */
	}
	explicit_bzero(k->pin, HWK_SECRET_MAX);
	memcpy(k->pin, pin, len);
	return HWK_OK;
}

int
hwk_agent_p11_reopens(const struct hwk_key *key)
{
	const struct p11c_key *k;

	if (key == NULL || key->backend != &px.proxy ||
	    (k = key->impl) == NULL)
		return 0;
	return k->gen != p11c_gen();
}

int
hwk_agent_p11_isolate(struct hwk_agent *a)
{
	const struct hwk_backend *const *b;
	const struct hwk_backend *p11;
	size_t n = 0;

	hwk_backends_override(NULL);	/* the real table, even if run twice */
	px.a = a;
	p11c_init(a, hwk_backends());
	if ((p11 = hwk_backend_find("pkcs11")) == NULL)
		return HWK_OK;
	/* The same name, options and stubs; the work done elsewhere. */
	memset(&px.proxy, 0, sizeof(px.proxy));
	px.proxy.name = p11->name;
	px.proxy.summary = p11->summary;
	px.proxy.flags = p11->flags;
	px.proxy.default_bits = p11->default_bits;
	px.proxy.options = p11->options;
	px.proxy.claims = p11->claims;	/* a prefix: no library needed */
	px.proxy.stub_info = proxy_stub_info;
	px.proxy.load = proxy_load;
	px.proxy.sign = proxy_sign;
	px.proxy.free_impl = proxy_free_impl;
	px.proxy.check_opts = proxy_check_opts;
	for (b = hwk_backends(); *b != NULL && n < MAX_BACKENDS; b++)
		px.table[n++] = *b == p11 ? &px.proxy : *b;
	px.table[n] = NULL;
	hwk_backends_override(px.table);
	return HWK_OK;
}

void
hwk_agent_p11_end(void)
{
	p11c_stop(0);
}
