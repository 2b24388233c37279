/*
 * The agent protocol (RFC 9987) for hwkey-agent: identities from stubs
 * (and their certificates), signatures through the backends, LOCK/UNLOCK,
 * session-bind; removing and adding stubs (runtime.c); what is not ours
 * goes to the upstream agent when there is one (upstream.c); every other
 * request, and every malformed one, answered with FAILURE.
 */
#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/keyfile.h"
#include "hwkey/sshkey.h"
#include "hwkey/stubfile.h"
#include "agent.h"
#include "conn.h"
#include "upstream.h"

#define LOCK_ITER	10000
#define PASS_ON		1	/* a handler's "not ours": for the upstream */

static void
nolog(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

#define LOG(a, lvl, ...) ((a)->log != NULL ? (a)->log : nolog)(lvl, __VA_ARGS__)

static int
same_blob(const struct hwk_pubkey *a, const struct hwk_pubkey *b)
{
	return a->bloblen == b->bloblen &&
	    memcmp(a->blob, b->blob, a->bloblen) == 0;
}

/* Opens the stub of an identity with its backend, as it is now. */
static int
open_key(struct hwk_agent *a, struct hwk_identity *id, struct hwk_key **keyp)
{
	struct hwk_stubfile *sf = NULL;
	int r;

	*keyp = NULL;
	if ((r = hwk_stubfile_read(a->ctx, id->path, &sf)) != 0)
		return r;
	r = hwk_stubfile_load(a->ctx, sf, keyp);
	hwk_stubfile_free(&sf);
	return r;
}

int
hwk_agent_add(struct hwk_agent *a, const char *path)
{
	size_t i;

	return hwk_agent_add_index(a, path, &i);
}

int
hwk_agent_add_index(struct hwk_agent *a, const char *path, size_t *idxp)
{
	struct hwk_identity id, *nids;
	struct hwk_stubfile *sf = NULL;
	size_t i;
	int r;

	memset(&id, 0, sizeof(id));
	if ((r = hwk_stubfile_read(a->ctx, path, &sf)) != 0)
		goto out;
	if ((id.backend = sf->backend) == NULL) {
		r = hwk_ctx_error(a->ctx, HWK_ERR_FORMAT, "%s is not a key file "
		    "hwkeygen knows", path);
		goto out;
	}
	/* As ssh-add: a key file others can read is not used (stubs may be). */
	if (hwk_stubfile_too_open(sf)) {
		r = hwk_ctx_error(a->ctx, HWK_ERR_INVALID_ARG, "%s: permissions "
		    "0%03o are too open: others can read this private key "
		    "file (chmod 600 %s)", path,
		    (unsigned)(sf->st.st_mode & 0777), path);
		goto out;
	}
	if ((id.path = strdup(path)) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if (sf->info_rc == 0)
		id.protection = sf->info.protection;
	/* The public key: the .pub, else the stub, else the opened key. */
	id.pub = hwk_stubfile_take_pub(sf);
	/* No device is touched here: keys are opened at their first use. */
	if (id.pub == NULL) {
		r = hwk_ctx_error(a->ctx, HWK_ERR_NOT_FOUND, "%s: no public key; "
		    "put it beside the stub (hwkeygen -y -f %s > %s.pub)", path,
		    path, path);
		goto out;
	}
	for (i = 0; i < a->nids; i++)
		if (same_blob(a->ids[i].pub, id.pub)) {
			LOG(a, AGENT_LOG_INFO, "%s: same key as %s, skipped",
			    path, a->ids[i].path);
			*idxp = i;
			r = HWK_OK;
			goto out;
		}
	if ((nids = realloc(a->ids, (a->nids + 1) * sizeof(*nids))) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	a->ids = nids;
	*idxp = a->nids;
	a->ids[a->nids++] = id;
	memset(&id, 0, sizeof(id));
	r = HWK_OK;
 out:
	hwk_pubkey_free(&id.pub);
	free(id.path);
	hwk_stubfile_free(&sf);
	return r;
}

void
hwk_agent_clear(struct hwk_agent *a)
{
	size_t i;

	for (i = 0; i < a->nids; i++)
		hwk_identity_clear(&a->ids[i]);
	free(a->ids);
	a->ids = NULL;
	a->nids = 0;
	explicit_bzero(a->lock_hash, sizeof(a->lock_hash));
	hwk_agent_runtime_free(a);
}

static int
failure(struct hwk_buf *reply)
{
	return hwk_buf_put_u8(reply, AGENT_FAILURE);
}

static int
put_identity(struct hwk_buf *reply, const struct hwk_pubkey *k)
{
	int r;

	if ((r = hwk_buf_put_string(reply, k->blob, k->bloblen)) != 0)
		return r;
	return hwk_buf_put_cstring(reply, k->comment != NULL ? k->comment : "");
}

/* Each key, and after it its certificate when there is one. */
static int
our_identities(struct hwk_agent *a, struct hwk_buf *reply)
{
	const struct hwk_pubkey *c;
	size_t i, n = 0;
	int r;

	if (!a->locked) {
		hwk_agent_rescan(a);
		hwk_agent_certs_refresh(a);
		for (i = 0; i < a->nids; i++)
			n += hwk_identity_cert(&a->ids[i]) != NULL ? 2 : 1;
	}
	if ((r = hwk_buf_put_u8(reply, AGENT_IDENTITIES_ANSWER)) != 0 ||
	    (r = hwk_buf_put_u32(reply, (uint32_t)n)) != 0)
		return r;
	for (i = 0; n > 0 && i < a->nids; i++)
		if ((r = put_identity(reply, a->ids[i].pub)) != 0 ||
		    ((c = hwk_identity_cert(&a->ids[i])) != NULL &&
		    (r = put_identity(reply, c)) != 0))
			return r;
	return HWK_OK;
}

/* Whether the server finishes this connection's requests that wait. */
static int
can_wait(const struct hwk_conn *c)
{
	return c != NULL && c->can_wait;
}

/*
 * Passes a request on for the upstream's sake: our answer (reply from
 * start) stands, and fail is said at level if the upstream did not do it.
 */
static int
tell(struct hwk_agent *a, struct hwk_conn *c, const uint8_t *msg,
    size_t len, struct hwk_buf *reply, size_t start, int level,
    const char *fail)
{
	struct hwk_buf *ours;
	int r;

	if (!can_wait(c)) {
		if (hwk_upstream_tell(a, msg, len) != AGENT_SUCCESS)
			LOG(a, level, "%s", fail);
		return HWK_OK;
	}
	/* Ours is given when the upstream has answered, in order. */
	if ((ours = hwk_buf_new()) == NULL ||
	    (r = hwk_buf_put(ours, hwk_buf_ptr(reply) + start,
	    hwk_buf_len(reply) - start)) != 0) {
		hwk_buf_free(&ours);
		return HWK_ERR_NOMEM;
	}
	hwk_buf_consume_end(reply, hwk_buf_len(reply) - start);
	return hwk_upstream_defer(a, c, msg, len, UP_TELL, ours, level, fail);
}

/* Ours first, then the upstream's that are not ours. */
static int
identities(struct hwk_agent *a, struct hwk_conn *c, struct hwk_buf *reply)
{
	static const uint8_t req = AGENTC_REQUEST_IDENTITIES;
	struct hwk_buf *ours;
	int r;

	if (a->upstream == NULL || a->locked)
		return our_identities(a, reply);
	if ((ours = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = our_identities(a, ours)) == 0 && can_wait(c))
		return hwk_upstream_defer(a, c, &req, 1, UP_MERGE, ours, 0,
		    NULL);
	if (r == 0)
		r = hwk_upstream_identities(a, ours, reply);
	hwk_buf_free(&ours);
	return r;
}

struct hwk_identity *
hwk_agent_find_identity(struct hwk_agent *a, const uint8_t *blob, size_t len)
{
	const struct hwk_pubkey *c;
	size_t i;

	for (i = 0; i < a->nids; i++)
		if (a->ids[i].pub->bloblen == len &&
		    memcmp(a->ids[i].pub->blob, blob, len) == 0)
			return &a->ids[i];
	hwk_agent_certs_refresh(a);	/* a certificate gone signs no more */
	for (i = 0; i < a->nids; i++)
		if ((c = hwk_identity_cert(&a->ids[i])) != NULL &&
		    c->bloblen == len && memcmp(c->blob, blob, len) == 0)
			return &a->ids[i];
	return NULL;
}

/* Opens the identity's key at its first use; it must match its .pub. */
int
hwk_agent_open_identity(struct hwk_agent *a, struct hwk_identity *id)
{
	struct hwk_pubkey *kpub = NULL;
	int r;

	if (id->key != NULL)
		return HWK_OK;
	if ((r = open_key(a, id, &id->key)) != 0 ||
	    (r = hwk_key_pubkey(id->key, &kpub)) != 0)
		goto out;
	if (!same_blob(kpub, id->pub))
		r = hwk_ctx_error(a->ctx, HWK_ERR_FORMAT, "the key does not "
		    "match %s.pub", id->path);
 out:
	hwk_pubkey_free(&kpub);
	return r;
}

static int
lock_hash(const struct hwk_agent *a, const uint8_t *pw, size_t len,
    uint8_t out[32])
{
	return PKCS5_PBKDF2_HMAC((const char *)pw, (int)len, a->lock_salt,
	    sizeof(a->lock_salt), LOCK_ITER, EVP_sha256(), 32, out) == 1 ?
	    HWK_OK : HWK_ERR_CRYPTO;
}

static int
lock(struct hwk_agent *a, int type, struct hwk_buf *req, struct hwk_buf *reply)
{
	const uint8_t *pw;
	uint8_t h[32];
	size_t len;
	struct timespec delay;

	if (hwk_buf_get_string_direct(req, &pw, &len) != 0 ||
	    hwk_buf_len(req) != 0)
		return failure(reply);
	if (type == AGENTC_LOCK) {
		if (a->locked || RAND_bytes(a->lock_salt,
		    sizeof(a->lock_salt)) != 1 ||
		    lock_hash(a, pw, len, a->lock_hash) != 0)
			return failure(reply);
		a->locked = 1;
		LOG(a, AGENT_LOG_INFO, "locked");
		/* As ssh-agent drops its keys' secrets: asked again after. */
		hwk_agent_forget_secrets(a);
		return hwk_buf_put_u8(reply, AGENT_SUCCESS);
	}
	if (!a->locked || lock_hash(a, pw, len, h) != 0)
		return failure(reply);
	if (CRYPTO_memcmp(h, a->lock_hash, sizeof(h)) != 0) {
		explicit_bzero(h, sizeof(h));
		/* Slow down guessing a little, as ssh-agent does. */
		if (a->failed_unlocks < 10)
			a->failed_unlocks++;
		delay.tv_sec = 0;
		delay.tv_nsec = 100000000L * (long)a->failed_unlocks / 2;
		nanosleep(&delay, NULL);
		LOG(a, AGENT_LOG_INFO, "unlock refused: wrong passphrase");
		return failure(reply);
	}
	explicit_bzero(h, sizeof(h));
	explicit_bzero(a->lock_hash, sizeof(a->lock_hash));
	a->locked = 0;
	a->failed_unlocks = 0;
	LOG(a, AGENT_LOG_INFO, "unlocked");
	return hwk_buf_put_u8(reply, AGENT_SUCCESS);
}

/*
 * LOCK and UNLOCK apply upstream too: passed on when they changed ours; an
 * UNLOCK while ours is not locked is the upstream's alone.
 */
static int
lock_upstream(struct hwk_agent *a, struct hwk_conn *c, uint8_t type,
    int was_locked, const uint8_t *msg, size_t len, struct hwk_buf *reply,
    size_t start)
{
	if (a->locked != was_locked)
		return tell(a, c, msg, len, reply, start, AGENT_LOG_INFO,
		    type == AGENTC_LOCK ? "the upstream agent did not lock" :
		    "the upstream agent did not unlock");
	if (type == AGENTC_UNLOCK && !was_locked) {
		hwk_buf_consume_end(reply, hwk_buf_len(reply) - start);
		return PASS_ON;
	}
	return HWK_OK;
}

/*
 * Changes to the keys are a local client's to make: a host the agent is
 * forwarded to may neither name files here nor remove keys.
 */
static int
forwarded(struct hwk_agent *a, const struct hwk_conn *c, unsigned type)
{
	size_t i;

	for (i = 0; c != NULL && i < c->nbinds; i++)
		if (c->binds[i].forwarded) {
			LOG(a, AGENT_LOG_INFO, "refused request %u: it came "
			    "through a forwarded agent", type);
			return 1;
		}
	return 0;
}

static int
extension(struct hwk_agent *a, struct hwk_conn *c, struct hwk_buf *req,
    const uint8_t *msg, size_t msglen, struct hwk_buf *reply)
{
	const uint8_t *name;
	size_t len, start;
	int r;

	if (hwk_buf_get_string_direct(req, &name, &len) != 0)
		return failure(reply);
	if (len == strlen(HWK_ADD_STUB_EXT) &&
	    memcmp(name, HWK_ADD_STUB_EXT, len) == 0)
		return forwarded(a, c, AGENTC_EXTENSION) ? failure(reply) :
		    hwk_agent_add_stub(a, req, reply);
	if (len == strlen("session-bind@openssh.com") &&
	    memcmp(name, "session-bind@openssh.com", len) == 0) {
		if (hwk_bind_session(a, c, req) != 0)
			return failure(reply);
		start = hwk_buf_len(reply);
		if ((r = hwk_buf_put_u8(reply, AGENT_SUCCESS)) != 0 ||
		    a->upstream == NULL || a->locked)
			return r;
		/* The upstream binds its connection to the session too. */
		return tell(a, c, msg, msglen, reply, start, AGENT_LOG_DEBUG,
		    "the upstream agent did not take the session-bind");
	}
	if (a->upstream != NULL)
		return PASS_ON;
	LOG(a, AGENT_LOG_DEBUG, "unsupported extension %.*s",
	    len > 64 ? 64 : (int)len, (const char *)name);
	return failure(reply);
}

/* Ours are removed here (runtime.c), the others are the upstream's. */
static int
remove_identity(struct hwk_agent *a, struct hwk_buf *req,
    struct hwk_buf *reply)
{
	struct hwk_buf *again;
	const uint8_t *blob;
	size_t len;
	int r;

	if (a->upstream == NULL)
		return hwk_agent_remove(a, req, reply);
	if (hwk_buf_get_string_direct(req, &blob, &len) != 0 ||
	    hwk_buf_len(req) != 0)
		return failure(reply);
	if (hwk_agent_find_identity(a, blob, len) == NULL)
		return PASS_ON;
	if ((again = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = hwk_buf_put_string(again, blob, len)) == 0)
		r = hwk_agent_remove(a, again, reply);
	hwk_buf_free(&again);
	return r;
}

/*
 * ssh-add -D: ours, then the upstream's.  The answer is ours: an upstream
 * that is away or refuses is logged, and our keys are gone all the same.
 */
static int
remove_all(struct hwk_agent *a, struct hwk_conn *c, struct hwk_buf *req,
    const uint8_t *msg, size_t len, struct hwk_buf *reply)
{
	size_t start = hwk_buf_len(reply);
	int r;

	if ((r = hwk_agent_remove_all(a, req, reply)) != 0 ||
	    a->upstream == NULL || a->locked)
		return r;
	return tell(a, c, msg, len, reply, start, AGENT_LOG_INFO,
	    "the upstream agent did not remove its keys");
}

/* What is not ours goes upstream, unless we are locked (as ssh-agent). */
static int
pass_on(struct hwk_agent *a, struct hwk_conn *c, const uint8_t *msg,
    size_t len, struct hwk_buf *reply)
{
	if (a->locked) {
		LOG(a, AGENT_LOG_INFO, "request %u refused: the agent is "
		    "locked", msg[0]);
		return failure(reply);
	}
	if (can_wait(c))
		return hwk_upstream_defer(a, c, msg, len, UP_FORWARD, NULL, 0,
		    NULL);
	return hwk_upstream_forward(a, msg, len, reply);
}

int
hwk_agent_dispatch(struct hwk_agent *a, const uint8_t *msg, size_t len,
    struct hwk_buf *reply)
{
	return hwk_agent_dispatch_conn(a, NULL, msg, len, reply);
}

int
hwk_agent_dispatch_conn(struct hwk_agent *a, struct hwk_conn *c,
    const uint8_t *msg, size_t len, struct hwk_buf *reply)
{
	struct hwk_buf *req;
	size_t start = hwk_buf_len(reply);
	uint8_t type;
	int r, was_locked;

	if ((req = hwk_buf_from(msg, len)) == NULL)
		return HWK_ERR_NOMEM;
	hwk_agent_expire(a);	/* a lifetime past is not used once more */
	if (hwk_buf_get_u8(req, &type) != 0) {
		r = failure(reply);
		goto out;
	}
	switch (type) {
	case AGENTC_REQUEST_IDENTITIES:
		r = hwk_buf_len(req) == 0 ? identities(a, c, reply) :
		    failure(reply);
		break;
	case AGENTC_SIGN_REQUEST:
		r = hwk_agent_sign(a, c, req, reply);
		break;
	case AGENTC_LOCK:
	case AGENTC_UNLOCK:
		was_locked = a->locked;
		r = lock(a, type, req, reply);
		if (r == 0 && a->upstream != NULL)
			r = lock_upstream(a, c, type, was_locked, msg, len,
			    reply, start);
		break;
	case AGENTC_EXTENSION:
		r = extension(a, c, req, msg, len, reply);
		break;
	case AGENTC_REMOVE_IDENTITY:
		r = forwarded(a, c, type) ? failure(reply) :
		    remove_identity(a, req, reply);
		break;
	case AGENTC_REMOVE_ALL_IDENTITIES:
		r = forwarded(a, c, type) ? failure(reply) :
		    remove_all(a, c, req, msg, len, reply);
		break;
	case AGENTC_ADD_IDENTITY:
	case AGENTC_ADD_ID_CONSTRAINED:
	case AGENTC_ADD_SMARTCARD_KEY:
	case AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED:
	case AGENTC_REMOVE_SMARTCARD_KEY:
		if (a->upstream != NULL) {
			r = PASS_ON;
			break;
		}
		LOG(a, AGENT_LOG_INFO, "refused request %u: hwkey-agent holds "
		    "no key itself; add stubs with hwkey-agent add", type);
		r = failure(reply);
		break;
	default:
		LOG(a, AGENT_LOG_DEBUG, "unknown request %u", type);
		r = failure(reply);
		break;
	}
	if (r == PASS_ON)
		r = pass_on(a, c, msg, len, reply);
 out:
	hwk_buf_free(&req);
	return r;
}
