/*
 * hwkey-agent's PKCS#11 helper (hwkey-agent --pkcs11-helper): the only
 * process that maps p11-kit and the token modules.  It opens the stubs
 * the agent sends with the pkcs11 backend, keeps the keys (and the token
 * logged in) by handle, signs, and asks the agent for a PIN when the
 * token wants one.  It ends when the agent closes the socket.
 */
#include <sys/prctl.h>
#include <sys/resource.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "p11helper.h"

#define MAX_KEYS	1024

struct helper {
	int		 fd;
	struct hwk_ctx	*ctx;
	const struct hwk_backend *b;
	struct hwk_key	*keys[MAX_KEYS];	/* handle - 1 */
};

/* The PIN prompt, sent to the agent, which asks as it always has. */
static int
ask_agent(void *arg, const char *prompt, char *buf, size_t len)
{
	struct helper *h = arg;
	struct hwk_buf *m = NULL;
	const uint8_t *s;
	uint8_t type;
	uint32_t neg;
	size_t slen;
	char *detail = NULL;
	int r;

	buf[0] = '\0';
	if ((m = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = hwk_buf_put_u8(m, P11H_ASK)) != 0 ||
	    (r = hwk_buf_put_cstring(m, prompt)) != 0 ||
	    (r = p11h_send(h->fd, m, 0)) != 0 ||
	    (r = p11h_recv(h->fd, m, 0)) != 0)
		goto out;
	if (hwk_buf_get_u8(m, &type) != 0 || type != P11H_SECRET ||
	    hwk_buf_get_u32(m, &neg) != 0 ||
	    hwk_buf_get_string_direct(m, &s, &slen) != 0 ||
	    hwk_buf_get_cstring(m, &detail, NULL) != 0) {
		r = HWK_ERR_FORMAT;
		goto out;
	}
	if (neg != 0) {
		r = hwk_ctx_error(h->ctx, -(int)neg, "%s", detail);
		goto out;
	}
	if (slen >= len || memchr(s, '\0', slen) != NULL) {
		r = HWK_ERR_TOO_LARGE;
		goto out;
	}
	memcpy(buf, s, slen);
	buf[slen] = '\0';
	r = HWK_OK;
 out:
	free(detail);
	hwk_buf_free(&m);	/* wipes the PIN */
	return r;
}

static void
notice_agent(void *arg, const char *msg)
{
	struct helper *h = arg;
	struct hwk_buf *m;

	if ((m = hwk_buf_new()) == NULL)
		return;
	/* Answered, so that messages never follow one another unread. */
	if (hwk_buf_put_u8(m, P11H_NOTICE) == 0 &&
	    hwk_buf_put_cstring(m, msg) == 0 && p11h_send(h->fd, m, 0) == 0)
		p11h_recv(h->fd, m, 0);
	hwk_buf_free(&m);
}

/* The answer to a request that failed: the code and the context's words. */
static int
put_err(struct helper *h, int rc, struct hwk_buf *reply)
{
	int r;

	hwk_buf_reset(reply);
	if ((r = hwk_buf_put_u8(reply, P11H_ERR)) != 0 ||
	    (r = hwk_buf_put_u32(reply, (uint32_t)(rc < 0 ? -rc :
	    -HWK_ERR_INTERNAL))) != 0 ||
	    (r = hwk_buf_put_cstring(reply, hwk_ctx_detail(h->ctx))) != 0)
		return r;
	return hwk_buf_put_cstring(reply, hwk_ctx_advice(h->ctx));
}

/* OPTS: the agent's command-line options, for the backend to read. */
static int
take_opts(struct helper *h, struct hwk_buf *req, struct hwk_buf *reply)
{
	char *name = NULL, *value = NULL;
	uint32_t n;
	int r = HWK_OK;

	if (hwk_buf_get_u32(req, &n) != 0)
		return HWK_ERR_FORMAT;
	while (r == 0 && n-- > 0) {
		if (hwk_buf_get_cstring(req, &name, NULL) != 0 ||
		    hwk_buf_get_cstring(req, &value, NULL) != 0)
			r = HWK_ERR_FORMAT;
		else
			r = hwk_ctx_set_opt(h->ctx, name, value);
		free(name);
		if (value != NULL)
			hwk_freezero(value, strlen(value));
		name = value = NULL;
	}
	return r != 0 ? r : hwk_buf_put_u8(reply, P11H_OK);
}

/* LOAD: opens a stub; answers with its handle and public key. */
static int
load(struct helper *h, struct hwk_buf *req, struct hwk_buf *m)
{
	struct hwk_pubkey *pub = NULL;
	struct hwk_key *key = NULL;
	const uint8_t *stub;
	size_t len;
	uint32_t i;
	int r;

	if (hwk_buf_get_string_direct(req, &stub, &len) != 0)
		return HWK_ERR_FORMAT;
	for (i = 0; i < MAX_KEYS && h->keys[i] != NULL; i++)
		;
	if (i == MAX_KEYS)
		return hwk_ctx_error(h->ctx, HWK_ERR_TOO_LARGE, "the PKCS#11 "
		    "helper holds %d keys already", MAX_KEYS);
	/* Only the pkcs11 backend runs here, whatever the stub says. */
	if (hwk_backend_for_stub(stub, len) != h->b)
		return hwk_ctx_error(h->ctx, HWK_ERR_FORMAT, "not a "
		    "pkcs11: stub");
	if ((r = hwk_backend_load(h->ctx, h->b, stub, len, &key)) != 0 ||
	    (r = hwk_key_pubkey(key, &pub)) != 0)
		goto out;
	if ((r = hwk_buf_put_u8(m, P11H_KEY)) != 0 ||
	    (r = hwk_buf_put_u32(m, i + 1)) != 0 ||
	    (r = hwk_buf_put_string(m, pub->blob, pub->bloblen)) != 0 ||
	    (r = hwk_buf_put_cstring(m, pub->comment != NULL ? pub->comment :
	    "")) != 0)
		goto out;
	h->keys[i] = key;
	key = NULL;	/* owned by h */
 out:
	hwk_key_free(&key);
	hwk_pubkey_free(&pub);
	return r;
}

static struct hwk_key **
key_slot(struct helper *h, uint32_t handle)
{
	if (handle == 0 || handle > MAX_KEYS || h->keys[handle - 1] == NULL)
		return NULL;
	return &h->keys[handle - 1];
}

/* SIGN: the raw signature of the data, as the backend's sign op gives. */
static int
sign(struct helper *h, struct hwk_buf *req, struct hwk_buf *m)
{
	struct hwk_key **kp;
	const uint8_t *data;
	uint8_t *sig = NULL;
	size_t len, siglen = 0;
	uint32_t handle, alg;
	int r;

	if (hwk_buf_get_u32(req, &handle) != 0 ||
	    hwk_buf_get_u32(req, &alg) != 0 ||
	    hwk_buf_get_string_direct(req, &data, &len) != 0)
		return HWK_ERR_FORMAT;
	if ((kp = key_slot(h, handle)) == NULL)
		return hwk_ctx_error(h->ctx, HWK_ERR_INVALID_ARG, "no key "
		    "%u in the PKCS#11 helper", handle);
	if ((r = hwk_key_sign(h->ctx, *kp, (int)alg, data, len, &sig,
	    &siglen)) != 0)
		goto out;
	if ((r = hwk_buf_put_u8(m, P11H_SIG)) == 0)
		r = hwk_buf_put_string(m, sig, siglen);
 out:
	free(sig);
	return r;
}

static int
drop(struct helper *h, struct hwk_buf *req, struct hwk_buf *reply)
{
	struct hwk_key **kp;
	uint32_t handle;

	if (hwk_buf_get_u32(req, &handle) != 0)
		return HWK_ERR_FORMAT;
	if ((kp = key_slot(h, handle)) != NULL)
		hwk_key_free(kp);	/* closes what the token holds for it */
	return hwk_buf_put_u8(reply, P11H_OK);
}

/* One request, answered whatever happens: the agent waits for it. */
static int
request(struct helper *h, struct hwk_buf *req, struct hwk_buf *reply)
{
	uint8_t type;
	int r;

	hwk_ctx_clear_error(h->ctx);
	hwk_buf_reset(reply);
	if (hwk_buf_get_u8(req, &type) != 0)
		return HWK_ERR_FORMAT;
	switch (type) {
	case P11H_OPTS:
		r = take_opts(h, req, reply);
		break;
	case P11H_CHECK:
		if ((r = hwk_backend_check_opts(h->ctx, h->b)) == 0)
			r = hwk_buf_put_u8(reply, P11H_OK);
		break;
	case P11H_LOAD:
		r = load(h, req, reply);
		break;
	case P11H_SIGN:
		r = sign(h, req, reply);
		break;
	case P11H_FREE:
		r = drop(h, req, reply);
		break;
	default:
		r = HWK_ERR_FORMAT;
		break;
	}
	if (r != 0 && (r = put_err(h, r, reply)) != 0)
		return r;
	return p11h_send(h->fd, reply, 0);
}

void
hwk_p11helper_main(int fd)
{
	struct hwk_ui ui = { ask_agent, notice_agent, NULL };
	struct rlimit rl = { 0, 0 };
	struct helper h;
	struct hwk_buf *req = NULL, *reply = NULL;
	size_t i;
	int r;

	/* It holds PINs a moment and the token's session: no core, no ptrace. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	setrlimit(RLIMIT_CORE, &rl);
	signal(SIGPIPE, SIG_IGN);
	memset(&h, 0, sizeof(h));
	h.fd = fd;
	ui.arg = &h;
	if ((h.ctx = hwk_ctx_new()) == NULL || (req = hwk_buf_new()) == NULL ||
	    (reply = hwk_buf_new()) == NULL || (h.b = hwk_backend_find("pkcs11")) == NULL)
		_exit(1);
	hwk_buf_set_max(req, P11H_MAX_MSG);
	hwk_ctx_set_ui(h.ctx, &ui);
	do {
		r = p11h_recv(fd, req, 0);
		if (r == 0)
			r = request(&h, req, reply);
	} while (r == 0);
	/* The agent went away: close every session. */
	for (i = 0; i < MAX_KEYS; i++)
		hwk_key_free(&h.keys[i]);
	hwk_buf_free(&req);
	hwk_buf_free(&reply);
	hwk_ctx_free(&h.ctx);
	_exit(r == HWK_ERR_NO_DEVICE ? 0 : 1);
}
